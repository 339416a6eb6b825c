//! PEP 508 requirements by name: `name[extra,…] specifiers ; marker`, as
//! `Requires-Dist`, `requirements.in` lines and `[project.dependencies]`
//! write them. Requirements by URL (`name @ https://…`) are refused: a
//! URL pins nothing.

use std::str::FromStr;

use crate::VersionSpecifiers;
use crate::names::normalize;

/// One requirement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requirement {
    /// The project name, normalized (PEP 503).
    pub name: String,
    /// The extras asked for, normalized.
    pub extras: Vec<String>,
    /// The versions allowed (empty: any).
    pub specifiers: VersionSpecifiers,
    /// The environment marker after `;`, if any.
    pub marker: Option<String>,
}

impl std::fmt::Display for Requirement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)?;
        if !self.extras.is_empty() {
            write!(f, "[{}]", self.extras.join(","))?;
        }
        if !self.specifiers.is_empty() {
            write!(f, "{}", self.specifiers)?;
        }
        Ok(())
    }
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-_.".contains(c)
}

/// Reads one requirement.
pub fn parse(text: &str) -> Result<Requirement, String> {
    let (spec, marker) = match text.split_once(';') {
        Some((spec, marker)) if !marker.trim().is_empty() => (spec, Some(marker.trim().to_string())),
        Some(_) => return Err("nothing follows ';' (a marker was expected)".into()),
        None => (text, None),
    };
    let spec = spec.trim();
    let name: String = spec.chars().take_while(|&c| is_name_char(c)).collect();
    if name.is_empty() || !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(format!("'{spec}' does not start with a project name"));
    }
    let mut rest = spec[name.len()..].trim_start();
    let mut extras = Vec::new();
    if let Some(after) = rest.strip_prefix('[') {
        let (list, tail) = after
            .split_once(']')
            .ok_or_else(|| format!("'{spec}': the list of extras has no closing ']'"))?;
        for extra in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            if !extra.chars().all(is_name_char) {
                return Err(format!("'{spec}': '{extra}' is not an extra's name"));
            }
            extras.push(normalize(extra));
        }
        rest = tail.trim_start();
    }
    if rest.starts_with('@') {
        return Err(format!(
            "'{spec}' names a URL, which pins nothing; name a version (and let the index give the file)"
        ));
    }
    let versions = rest
        .strip_prefix('(')
        .map(|r| {
            r.strip_suffix(')')
                .ok_or_else(|| format!("'{spec}': '(' is not closed"))
        })
        .transpose()?
        .unwrap_or(rest)
        .trim();
    let specifiers = VersionSpecifiers::from_str(versions).map_err(|e| format!("'{spec}': {e}"))?;
    Ok(Requirement {
        name: normalize(&name),
        extras,
        specifiers,
        marker,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_extras_specifiers_and_markers() {
        let r = parse("Black[D, jupyter] >=23.1,<25 ; python_version >= '3.9'").unwrap();
        assert_eq!(r.name, "black");
        assert_eq!(r.extras, ["d", "jupyter"]);
        assert_eq!(r.specifiers.to_string(), ">=23.1, <25");
        assert_eq!(r.marker.as_deref(), Some("python_version >= '3.9'"));
        assert_eq!(r.to_string(), "black[d,jupyter]>=23.1, <25");

        let r = parse("zope.interface (>=5)").unwrap();
        assert_eq!(
            (r.name.as_str(), r.specifiers.to_string()),
            ("zope-interface", ">=5".into())
        );
        assert!(parse("requests").unwrap().specifiers.is_empty());
    }

    #[test]
    fn urls_and_malformed_lines_are_refused() {
        assert!(
            parse("demo @ https://example.com/demo.whl")
                .unwrap_err()
                .contains("pins nothing")
        );
        assert!(parse(">=1.0").unwrap_err().contains("project name"));
        assert!(parse("demo[x").unwrap_err().contains("no closing"));
        assert!(parse("demo >=1.0 ;").unwrap_err().contains("marker"));
        assert!(parse("demo >=one").is_err());
    }
}
