//! deb822 paragraphs and dependency fields.

/// One paragraph: fields in order, continuation lines joined with `\n`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Paragraph {
    fields: Vec<(String, String)>,
}

impl Paragraph {
    /// The value of `name` (field names compare case-insensitively).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Parses deb822 text into paragraphs.
pub fn parse(text: &str) -> Vec<Paragraph> {
    let mut out = Vec::new();
    let mut current = Paragraph::default();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !current.fields.is_empty() {
                out.push(std::mem::take(&mut current));
            }
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = current.fields.last_mut() {
                value.push('\n');
                value.push_str(line.trim());
            }
            continue;
        }
        if let Some((name, value)) = line.split_once(':') {
            current.fields.push((name.trim().to_string(), value.trim().to_string()));
        }
    }
    if !current.fields.is_empty() {
        out.push(current);
    }
    out
}

/// One alternative of a dependency: a package name (architecture
/// qualifier dropped) and its version relation, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Relation {
    /// The package.
    pub name: String,
    /// `(operator, version)`, such as `(">=", "2.36")`.
    pub version: Option<(String, String)>,
}

/// Parses `Depends`: a list of alternatives (`a | b (>= 1), c`).
pub fn parse_depends(field: &str) -> Vec<Vec<Relation>> {
    field
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|dep| {
            dep.split('|')
                .map(str::trim)
                .map(|alt| {
                    let (name_part, version) = match alt.split_once('(') {
                        Some((n, rest)) => {
                            let inner = rest.trim_end_matches(')').trim();
                            let op_len = inner.find(|c: char| !"<>=".contains(c)).unwrap_or(inner.len());
                            (
                                n.trim(),
                                Some((inner[..op_len].trim().to_string(), inner[op_len..].trim().to_string())),
                            )
                        }
                        None => (alt, None),
                    };
                    let name = name_part
                        .split_whitespace()
                        .next()
                        .unwrap_or("")
                        .split(':')
                        .next()
                        .unwrap_or("")
                        .to_string();
                    Relation { name, version }
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paragraphs_and_dependencies() {
        let text = "Package: a\nVersion: 1.0\nDescription: short\n long line\n\nPackage: b\nDepends: libc6 (>= 2.36), x | y:any, z [amd64]\n";
        let paragraphs = parse(text);
        assert_eq!(paragraphs.len(), 2);
        assert_eq!(paragraphs[0].get("description"), Some("short\nlong line"));
        let deps = parse_depends(paragraphs[1].get("Depends").unwrap());
        assert_eq!(
            deps[0][0],
            Relation {
                name: "libc6".into(),
                version: Some((">=".into(), "2.36".into()))
            }
        );
        assert_eq!(deps[1].iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), ["x", "y"]);
        assert_eq!(deps[2][0].name, "z");
    }
}
