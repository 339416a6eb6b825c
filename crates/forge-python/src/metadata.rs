//! Core metadata (`METADATA` in a wheel's `.dist-info`): what a package
//! requires.

use crate::markers::{MarkerEnv, evaluate};
use crate::names::normalize;
use crate::wheel_zip::{WheelZip, WholeReader};

/// A `Requires-Dist` entry: the (normalized) project name and its marker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requirement {
    /// The name, normalized (PEP 503).
    pub name: String,
    /// The environment marker after `;`, if any.
    pub marker: Option<String>,
}

/// The values of the `field` fields of a METADATA text's header (the
/// body, after the first empty line, is the description).
pub fn header_values<'m>(metadata: &'m str, field: &'m str) -> impl Iterator<Item = &'m str> {
    metadata
        .lines()
        .take_while(|line| !line.trim().is_empty())
        .filter_map(move |line| {
            let (key, value) = line.split_once(':')?;
            key.trim().eq_ignore_ascii_case(field).then(|| value.trim())
        })
}

/// The values of the `Requires-Dist` fields of a METADATA text's header.
pub fn requires_dist_values(metadata: &str) -> impl Iterator<Item = &str> {
    header_values(metadata, "Requires-Dist")
}

/// Who supplies the package, as its METADATA says: the maintainer, else
/// the author, as `Name <email>` where both are given (the first of a
/// list of addresses).
pub fn supplier(metadata: &str) -> Option<String> {
    let first = |field: &'static str| header_values(metadata, field).find(|v| !v.is_empty() && *v != "UNKNOWN");
    for (name, email) in [("Maintainer", "Maintainer-email"), ("Author", "Author-email")] {
        let email = first(email).map(|list| list.split(',').next().unwrap_or(list).trim());
        match (first(name), email) {
            (Some(name), Some(email)) if !email.contains('<') => return Some(format!("{name} <{email}>")),
            (_, Some(email)) => return Some(email.to_string()),
            (Some(name), None) => return Some(name.to_string()),
            (None, None) => {}
        }
    }
    None
}

/// The `Requires-Dist` entries of a METADATA text (its header part).
pub fn requires_dist(metadata: &str) -> Vec<Requirement> {
    requires_dist_values(metadata)
        .filter_map(|value| {
            let (spec, marker) = match value.split_once(';') {
                Some((spec, marker)) => (spec, Some(marker.trim().to_string())),
                None => (value, None),
            };
            let name: String = spec
                .trim()
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
                .collect();
            (!name.is_empty()).then(|| Requirement {
                name: normalize(&name),
                marker,
            })
        })
        .collect()
}

/// The core metadata (`.dist-info/METADATA`) of the wheel at `path`.
pub fn wheel_metadata(path: &std::path::Path) -> Result<String, String> {
    let archive = WheelZip::open(path)?;
    let member = archive
        .members()
        .iter()
        .find(|m| m.name.ends_with(".dist-info/METADATA") && m.name.matches('/').count() == 1)
        .ok_or("the wheel has no .dist-info/METADATA")?;
    let mut reader = WholeReader::default();
    let bytes = archive
        .read_whole(member, &mut reader)
        .map_err(|e| format!("cannot read {}: {e}", member.name))?;
    Ok(String::from_utf8_lossy(bytes).into_owned())
}

/// The `Requires-Dist` entries of a METADATA text in full (extras,
/// specifiers, markers); one that does not read is an error naming it.
pub fn requirements(metadata: &str) -> Result<Vec<crate::requirement::Requirement>, String> {
    requires_dist_values(metadata)
        .map(|value| crate::requirement::parse(value).map_err(|e| format!("Requires-Dist: {e}")))
        .collect()
}

/// What the wheel at `path` requires on `env`: names (normalized) whose
/// marker holds or has none; a marker that cannot be evaluated counts as
/// holding (the dependency is kept, never dropped on a guess).
pub fn wheel_requires(path: &std::path::Path, env: &MarkerEnv) -> Result<Vec<String>, String> {
    let metadata = wheel_metadata(path)?;
    let mut names: Vec<String> = requires_dist(&metadata)
        .into_iter()
        .filter(|r| r.marker.as_deref().is_none_or(|m| evaluate(m, env).unwrap_or(true)))
        .map(|r| r.name)
        .collect();
    names.sort();
    names.dedup();
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_supplier_is_the_maintainer_else_the_author() {
        let text = "Metadata-Version: 2.1\nName: x\nAuthor: Armin\nAuthor-email: armin@example.com\n\nMaintainer: not in the header\n";
        assert_eq!(supplier(text).as_deref(), Some("Armin <armin@example.com>"));
        let text = "Name: x\nAuthor-email: Pallets <contact@example.com>, Other <o@example.com>\nMaintainer: UNKNOWN\n";
        assert_eq!(supplier(text).as_deref(), Some("Pallets <contact@example.com>"));
        assert_eq!(supplier("Name: x\nMaintainer: The Team\n").as_deref(), Some("The Team"));
        assert_eq!(supplier("Name: x\n"), None);
    }

    #[test]
    fn requires_dist_with_markers_and_extras() {
        let text = "Metadata-Version: 2.1\nName: httpie\nRequires-Dist: requests[socks] (>=2.22.0)\nRequires-Dist: Pygments>=2.5.2\nRequires-Dist: colorama>=0.2.4; sys_platform == \"win32\"\nRequires-Dist: pytest; extra == 'test'\n\nRequires-Dist: in-the-body\n";
        let all = requires_dist(text);
        let names: Vec<&str> = all.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["requests", "pygments", "colorama", "pytest"]);
        let env = MarkerEnv {
            python: Some((3, 11)),
            machine: Some("x86_64".into()),
            ..Default::default()
        };
        let kept: Vec<&str> = all
            .iter()
            .filter(|r| r.marker.as_deref().is_none_or(|m| evaluate(m, &env).unwrap()))
            .map(|r| r.name.as_str())
            .collect();
        assert_eq!(kept, ["requests", "pygments"]);
    }
}
