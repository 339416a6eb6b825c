//! `project.refs`: where pins live when project.conf says
//! `ref-storage: project.refs`, laid out as BuildStream writes it:
//! `projects: <project>: <element>: [ {ref: ...}, {}, ... ]`, one entry per
//! source of the element.

use std::collections::BTreeMap;
use std::path::Path;

use forge_yaml::edit::NewValue;
use forge_yaml::{Node, Span, Value, parse_str, to_yaml_string};

use crate::error::LoadError;

/// element → one optional pin per source.
pub type Refs = BTreeMap<String, Vec<Option<NewValue>>>;

/// Reads `project.refs` in `dir` (empty when it does not exist).
pub fn load(dir: &Path, project: &str) -> Result<Refs, LoadError> {
    let path = dir.join("project.refs");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(Refs::new());
    };
    let root = parse_str("project.refs", &text)?;
    let mut refs = Refs::new();
    let Some(ours) = root
        .as_map()
        .and_then(|m| m.get("projects"))
        .and_then(Node::as_map)
        .and_then(|p| p.get(project))
    else {
        return Ok(refs);
    };
    let elements = ours
        .as_map()
        .ok_or_else(|| LoadError::at(&ours.span, "project.refs: a project's refs must be a mapping"))?;
    for (element, sources) in elements.iter() {
        let list = sources.as_list().ok_or_else(|| {
            LoadError::at(
                &sources.span,
                "project.refs: an element's refs must be a list, one entry per source",
            )
        })?;
        let mut pins = Vec::with_capacity(list.len());
        for entry in list {
            let map = entry
                .as_map()
                .ok_or_else(|| LoadError::at(&entry.span, "project.refs: each entry is a mapping"))?;
            let scalars = |m: &forge_yaml::Mapping| -> Vec<(String, String)> {
                m.iter()
                    .map(|(k, v)| (k.name.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect()
            };
            pins.push(match map.get("ref") {
                None if map.is_empty() => None,
                // A pin kept in fields of its own (cpan's suffix and sha256sum).
                None => Some(NewValue::Fields(scalars(map))),
                Some(node) => Some(match &node.value {
                    Value::Str(s) => NewValue::Scalar(s.clone()),
                    Value::Map(m) => NewValue::Mapping(scalars(m)),
                    Value::List(items) => NewValue::List(
                        items
                            .iter()
                            .map(|item| {
                                item.as_map()
                                    .map(|m| {
                                        m.iter()
                                            .map(|(k, v)| {
                                                let value = match &v.value {
                                                    Value::Map(sub) => NewValue::Mapping(scalars(sub)),
                                                    _ => NewValue::Scalar(v.as_str().unwrap_or_default().to_string()),
                                                };
                                                (k.name.clone(), value)
                                            })
                                            .collect()
                                    })
                                    .unwrap_or_default()
                            })
                            .collect(),
                    ),
                }),
            });
        }
        refs.insert(element.name.clone(), pins);
    }
    Ok(refs)
}

fn scalar_map(entries: &[(String, String)], span: &Span) -> Node {
    let mut node = Node::map(span.clone());
    let map = node.as_map_mut().expect("mapping");
    for (k, v) in entries {
        map.insert_str_key(k, Node::string(v.clone(), span.clone()));
    }
    node
}

/// A pin as a node, for composing into a source under `ref` (fields are
/// set beside it, see [`set_pin`]).
pub fn to_node(value: &NewValue) -> Node {
    let span = Span::synthetic("project.refs");
    match value {
        NewValue::Scalar(s) => Node::string(s.clone(), span),
        NewValue::Mapping(entries) | NewValue::Fields(entries) => scalar_map(entries, &span),
        NewValue::List(items) => Node::list(
            items
                .iter()
                .map(|item| {
                    let mut node = Node::map(span.clone());
                    let map = node.as_map_mut().expect("mapping");
                    for (k, v) in item {
                        map.insert_str_key(k, to_node(v));
                    }
                    node
                })
                .collect(),
            span.clone(),
        ),
    }
}

/// Puts a pin into a source's configuration: under `ref`, or as its own
/// fields.
pub fn set_pin(config: &mut forge_yaml::Mapping, value: &NewValue) {
    match value {
        NewValue::Fields(fields) => {
            for (k, v) in fields {
                config.insert_str_key(k, Node::string(v.clone(), Span::synthetic("project.refs")));
            }
        }
        other => config.insert_str_key("ref", to_node(other)),
    }
}

/// The text of `project.refs` holding `refs`.
pub fn render(project: &str, refs: &Refs) -> String {
    let span = Span::synthetic("project.refs");
    let mut elements = Node::map(span.clone());
    for (element, pins) in refs {
        let entries = pins
            .iter()
            .map(|pin| {
                let mut entry = Node::map(span.clone());
                if let Some(pin) = pin {
                    set_pin(entry.as_map_mut().expect("mapping"), pin);
                }
                entry
            })
            .collect();
        elements
            .as_map_mut()
            .expect("mapping")
            .insert_str_key(element, Node::list(entries, span.clone()));
    }
    let mut projects = Node::map(span.clone());
    projects
        .as_map_mut()
        .expect("mapping")
        .insert_str_key(project, elements);
    let mut root = Node::map(span.clone());
    root.as_map_mut().expect("mapping").insert_str_key("projects", projects);
    to_yaml_string(&root)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_and_load_round_trip() {
        let mut refs = Refs::new();
        refs.insert("a.bst".into(), vec![None, Some(NewValue::Scalar("abc".into()))]);
        refs.insert(
            "p.bst".into(),
            vec![Some(NewValue::Mapping(vec![
                ("version".into(), "1.0".into()),
                ("sha256".into(), "ff".into()),
            ]))],
        );
        let text = render("proj", &refs);
        assert_eq!(
            text,
            "projects:\n  proj:\n    a.bst:\n    - {}\n    - ref: abc\n    p.bst:\n    - ref:\n        version: 1.0\n        sha256: ff\n"
        );
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("project.refs"), &text).unwrap();
        assert_eq!(load(dir.path(), "proj").unwrap(), refs);
        assert!(load(dir.path(), "other").unwrap().is_empty());
    }
}
