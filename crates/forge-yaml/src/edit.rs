//! In-place edits: set one key of one mapping in a YAML text, changing only
//! the characters of that value (or inserting one line), so comments,
//! quoting, indentation and key order stay byte for byte.

use crate::emit::write_scalar;
use crate::load::parse_str;
use crate::node::{Node, Value};

/// Why an edit could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct EditError(pub String);

/// How to write a new value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NewValue {
    /// A scalar string.
    Scalar(String),
    /// A mapping of scalars, written as a block under the key
    /// (`ref:` of a pypi source, say).
    Mapping(Vec<(String, String)>),
    /// A list of mappings (`ref:` of a cargo2 source: one entry per
    /// crate) whose values are scalars or mappings of scalars, written as a
    /// block that replaces the old value whole.
    List(Vec<Vec<(String, NewValue)>>),
    /// Scalars set on the source itself rather than under `ref:` (a cpan
    /// source keeps its pin in `suffix` and `sha256sum`). Callers write
    /// each with [`set_value`] as a [`NewValue::Scalar`].
    Fields(Vec<(String, String)>),
}

/// The block text of a list value, each line starting with `indent`.
fn list_block(items: &[Vec<(String, NewValue)>], indent: &str) -> String {
    let mut out = String::new();
    for item in items {
        for (i, (k, v)) in item.iter().enumerate() {
            let lead = if i == 0 { "- " } else { "  " };
            match v {
                NewValue::Mapping(entries) => {
                    out.push_str(&format!("\n{indent}{lead}{k}:"));
                    for (sub, value) in entries {
                        out.push_str(&format!("\n{indent}    {sub}: {}", write_scalar(value)));
                    }
                }
                NewValue::Scalar(value) => out.push_str(&format!("\n{indent}{lead}{k}: {}", write_scalar(value))),
                NewValue::List(_) | NewValue::Fields(_) => {
                    out.push_str(&format!("\n{indent}{lead}{k}: {{}}"));
                }
            }
        }
        if item.is_empty() {
            out.push_str(&format!("\n{indent}- {{}}"));
        }
    }
    out
}

/// Sets `key` in the mapping that starts at byte `mapping_start` of `text`.
///
/// An existing scalar value is replaced in place, keeping its quote style;
/// an existing block mapping value has its scalar entries replaced the same
/// way. A missing key is inserted as one line (or one block) after the
/// mapping's first entry, at the indentation of its siblings.
pub fn set_value(
    text: &str,
    file: &str,
    mapping_start: usize,
    key: &str,
    value: &NewValue,
) -> Result<String, EditError> {
    let root = parse_str(file, text).map_err(|e| EditError(format!("cannot parse {file}: {e}")))?;
    let mapping = find_mapping(&root, mapping_start).ok_or_else(|| {
        EditError(format!(
            "{file}: the source entry is no longer where it was loaded from"
        ))
    })?;
    let map = mapping.as_map().expect("find_mapping returns mappings");
    let flow = text[mapping.span.start..].starts_with('{');

    if let NewValue::Fields(_) = value {
        return Err(EditError(format!(
            "{file}: fields are set one by one, each as a scalar"
        )));
    }
    if let (NewValue::List(items), Some((existing_key, existing))) = (value, map.get_entry(key)) {
        if flow {
            return Err(EditError(format!(
                "{file}:{}: cannot write a list into a flow mapping",
                existing_key.span.line
            )));
        }
        // The old value goes whole, up to the end of the line where its
        // last scalar ends (a block node's own span runs on to the next
        // token, comments included).
        let last = content_end(existing).max(existing_key.span.end);
        let end = text[last..].find('\n').map(|i| i + last).unwrap_or(text.len());
        let end = text[..end].trim_end().len().max(last);
        let indent = " ".repeat(existing_key.span.col as usize - 1);
        let block = if items.is_empty() {
            format!("{key}: []")
        } else {
            format!("{key}:{}", list_block(items, &indent))
        };
        return Ok(format!("{}{block}{}", &text[..existing_key.span.start], &text[end..]));
    }
    if let Some((existing_key, existing)) = map.get_entry(key) {
        return match (value, &existing.value) {
            (NewValue::Scalar(new), Value::Str(_)) => replace_scalar(text, existing_key.span.end, existing, new),
            (NewValue::Mapping(entries), Value::Map(old)) => {
                // Replace scalar by scalar, from the last to keep offsets valid.
                let mut edits: Vec<(usize, &Node, &str)> = Vec::new();
                for (k, v) in entries {
                    match old.get_entry(k) {
                        Some((sub_key, node)) if node.as_str().is_some() => edits.push((sub_key.span.end, node, v)),
                        _ => return Err(EditError(format!("{file}: '{key}' has no scalar '{k}' to update"))),
                    }
                }
                edits.sort_by_key(|(_, n, _)| std::cmp::Reverse(n.span.start));
                let mut out = text.to_string();
                for (key_end, node, new) in edits {
                    out = replace_scalar(&out, key_end, node, new)?;
                }
                Ok(out)
            }
            _ => Err(EditError(format!(
                "{file}:{}: '{key}' is {}, which forge does not rewrite; replace it by hand",
                existing.span.line,
                existing.type_name()
            ))),
        };
    }

    let (first_key, first_value) = map
        .iter()
        .next()
        .ok_or_else(|| EditError(format!("{file}: cannot add '{key}' to an empty mapping")))?;
    if flow {
        let NewValue::Scalar(new) = value else {
            return Err(EditError(format!(
                "{file}:{}: cannot add a mapping to a flow mapping",
                first_key.span.line
            )));
        };
        let close = find_flow_close(text, mapping.span.start)
            .ok_or_else(|| EditError(format!("{file}: unterminated flow mapping")))?;
        let mut out = String::with_capacity(text.len() + key.len() + new.len() + 4);
        let before = text[..close].trim_end_matches([' ', '\t']);
        out.push_str(before);
        out.push_str(&format!(", {key}: {}", write_scalar(new)));
        out.push_str(&text[before.len()..]);
        return Ok(out);
    }
    // Insert after the line where the first entry ends; its value must be a
    // single line (`kind: remote`).
    if text[first_key.span.start..first_value.span.end.max(first_key.span.end)].contains('\n')
        && !matches!(first_value.value, Value::Str(_))
    {
        return Err(EditError(format!(
            "{file}:{}: cannot place '{key}' here",
            first_key.span.line
        )));
    }
    let line_end = text[first_value.span.end.max(first_key.span.end)..]
        .find('\n')
        .map(|i| i + first_value.span.end.max(first_key.span.end))
        .unwrap_or(text.len());
    let indent = " ".repeat(first_key.span.col as usize - 1);
    let mut insertion = String::new();
    match value {
        NewValue::Scalar(new) => insertion.push_str(&format!("\n{indent}{key}: {}", write_scalar(new))),
        NewValue::Mapping(entries) => {
            insertion.push_str(&format!("\n{indent}{key}:"));
            for (k, v) in entries {
                insertion.push_str(&format!("\n{indent}  {k}: {}", write_scalar(v)));
            }
        }
        NewValue::List(items) if items.is_empty() => insertion.push_str(&format!("\n{indent}{key}: []")),
        NewValue::List(items) => {
            insertion.push_str(&format!("\n{indent}{key}:"));
            insertion.push_str(&list_block(items, &indent));
        }
        NewValue::Fields(_) => unreachable!("refused above"),
    }
    let mut out = String::with_capacity(text.len() + insertion.len() + 1);
    out.push_str(&text[..line_end]);
    out.push_str(&insertion);
    if line_end == text.len() {
        out.push('\n');
    }
    out.push_str(&text[line_end..]);
    Ok(out)
}

/// Where the last scalar (or key) inside `node` ends.
fn content_end(node: &Node) -> usize {
    let mut end = 0;
    let mut stack = vec![node];
    while let Some(node) = stack.pop() {
        match &node.value {
            Value::Str(_) => end = end.max(node.span.end),
            Value::Map(map) => {
                for (key, value) in map.iter() {
                    end = end.max(key.span.end);
                    stack.push(value);
                }
            }
            Value::List(items) => stack.extend(items.iter()),
        }
    }
    end
}

/// The mapping node whose text starts at `start`.
fn find_mapping(node: &Node, start: usize) -> Option<&Node> {
    let mut stack = vec![node];
    while let Some(node) = stack.pop() {
        match &node.value {
            Value::Map(map) => {
                if node.span.start == start {
                    return Some(node);
                }
                stack.extend(map.iter().map(|(_, v)| v));
            }
            Value::List(items) => stack.extend(items.iter()),
            Value::Str(_) => {}
        }
    }
    None
}

/// Replaces a scalar's text, keeping its quoting style. `key_end` is where
/// its key ends: the value's own span does not say whether it is a block
/// scalar, and an empty value has no text to replace.
fn replace_scalar(text: &str, key_end: usize, node: &Node, new: &str) -> Result<String, EditError> {
    let colon = text[key_end..].find(':').map(|i| key_end + i + 1).unwrap_or(key_end);
    let after_colon = text[colon..].trim_start_matches([' ', '\t']);
    if after_colon.starts_with(['|', '>']) {
        return Err(EditError(format!(
            "line {}: the value is a block scalar, which forge does not rewrite; make it a plain value",
            node.span.line
        )));
    }
    if after_colon.is_empty() || after_colon.starts_with(['\n', '#', '\r']) {
        // An empty value (`ref:`): write it after the colon.
        return Ok(format!("{} {}{}", &text[..colon], write_scalar(new), &text[colon..]));
    }
    let start = node.span.start;
    let (end, replacement) = match text.as_bytes().get(start) {
        Some(b'\'') => (
            quoted_end(text, start, b'\'')?,
            format!("'{}'", new.replace('\'', "''")),
        ),
        Some(b'"') => (
            quoted_end(text, start, b'"')?,
            format!("\"{}\"", new.replace('\\', "\\\\").replace('"', "\\\"")),
        ),
        _ => {
            // Plain scalars: the span may run over trailing blanks.
            let raw = &text[start..node.span.end.max(start)];
            (start + raw.trim_end().len(), write_scalar(new))
        }
    };
    let mut out = String::with_capacity(text.len() + replacement.len());
    out.push_str(&text[..start]);
    out.push_str(&replacement);
    out.push_str(&text[end..]);
    Ok(out)
}

/// The byte just past the closing quote of a quoted scalar at `start`
/// (the parser's own span can run over a trailing comment).
fn quoted_end(text: &str, start: usize, quote: u8) -> Result<usize, EditError> {
    let bytes = text.as_bytes();
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if quote == b'"' => i += 2,
            b if b == quote => {
                if quote == b'\'' && bytes.get(i + 1) == Some(&b'\'') {
                    i += 2;
                } else {
                    return Ok(i + 1);
                }
            }
            _ => i += 1,
        }
    }
    Err(EditError("unterminated quoted value".into()))
}

/// The position of the `}` closing the flow mapping at `start`.
fn find_flow_close(text: &str, start: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut i = start;
    while i < bytes.len() {
        match bytes[i] {
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            b'\'' | b'"' => i = quoted_end(text, i, bytes[i]).ok()? - 1,
            _ => {}
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source_start(text: &str, index: usize) -> usize {
        let root = parse_str("e.bst", text).unwrap();
        let sources = root.as_map().unwrap().get("sources").unwrap().as_list().unwrap();
        sources[index].span.start
    }

    fn set(text: &str, index: usize, value: &str) -> String {
        set_value(
            text,
            "e.bst",
            source_start(text, index),
            "ref",
            &NewValue::Scalar(value.into()),
        )
        .unwrap()
    }

    #[test]
    fn replaces_only_the_value_characters() {
        let text = "kind: import   # keep me\nsources:\n-   kind: remote\n    url: up:x.tgz   # url comment\n    ref: aaaa   # old pin\n";
        let out = set(text, 0, "bbbb");
        assert_eq!(out, text.replace("ref: aaaa", "ref: bbbb"));
    }

    #[test]
    fn keeps_quote_styles() {
        let text = "sources:\n- kind: remote\n  ref: 'aaaa'  # c\n- kind: remote\n  ref: \"aaaa\"  # 'x'\n";
        let out = set(text, 0, "bb'b");
        assert_eq!(
            out,
            "sources:\n- kind: remote\n  ref: 'bb''b'  # c\n- kind: remote\n  ref: \"aaaa\"  # 'x'\n"
        );
        let out = set(&out, 1, "cc\"c");
        assert_eq!(
            out,
            "sources:\n- kind: remote\n  ref: 'bb''b'  # c\n- kind: remote\n  ref: \"cc\\\"c\"  # 'x'\n"
        );
    }

    #[test]
    fn inserts_one_line_with_sibling_indentation() {
        let text = "kind: import\nsources:\n# a comment\n-   kind: tar   # trailing\n    url: up:x.tgz\n\n    base-dir: ''\nconfig: {}\n";
        let out = set(text, 0, "abcd");
        assert_eq!(
            out,
            "kind: import\nsources:\n# a comment\n-   kind: tar   # trailing\n    ref: abcd\n    url: up:x.tgz\n\n    base-dir: ''\nconfig: {}\n"
        );
    }

    #[test]
    fn inserts_at_the_end_of_a_file_without_newline() {
        let text = "sources:\n- kind: tar";
        assert_eq!(set(text, 0, "abcd"), "sources:\n- kind: tar\n  ref: abcd\n");
    }

    #[test]
    fn flow_mappings() {
        let text = "sources:\n- {kind: remote, url: 'up:x', ref: old}  # c\n- {kind: tar, url: up:y}\n";
        let out = set(text, 0, "new");
        assert_eq!(
            out,
            "sources:\n- {kind: remote, url: 'up:x', ref: new}  # c\n- {kind: tar, url: up:y}\n"
        );
        let out = set(&out, 1, "pin");
        assert_eq!(
            out,
            "sources:\n- {kind: remote, url: 'up:x', ref: new}  # c\n- {kind: tar, url: up:y, ref: pin}\n"
        );
    }

    #[test]
    fn empty_values_and_non_ascii() {
        let text = "description: ünïcode\nsources:\n- kind: remote\n  ref:\n  url: x\n";
        assert_eq!(
            set(text, 0, "abc"),
            "description: ünïcode\nsources:\n- kind: remote\n  ref: abc\n  url: x\n"
        );
    }

    #[test]
    fn block_scalars_are_refused() {
        let text = "sources:\n- kind: remote\n  ref: |\n    aaaa\n";
        let err = set_value(
            text,
            "e.bst",
            source_start(text, 0),
            "ref",
            &NewValue::Scalar("b".into()),
        )
        .unwrap_err();
        assert!(err.0.contains("block scalar"), "{err}");
    }

    #[test]
    fn list_values_replace_the_old_list_whole() {
        let text = "sources:\n- kind: cargo2\n  ref:\n  - kind: registry\n    name: a\n    version: '1'\n  # a comment\n  url: crates:x\n";
        let s = |v: &str| NewValue::Scalar(v.into());
        let value = NewValue::List(vec![
            vec![
                ("kind".into(), s("registry")),
                ("name".into(), s("a")),
                ("version".into(), s("2")),
            ],
            vec![
                ("kind".into(), s("registry")),
                ("name".into(), s("b")),
                ("version".into(), s("1.0")),
            ],
        ]);
        let out = set_value(text, "e.bst", source_start(text, 0), "ref", &value).unwrap();
        assert_eq!(
            out,
            "sources:\n- kind: cargo2\n  ref:\n  - kind: registry\n    name: a\n    version: 2\n  - kind: registry\n    name: b\n    version: 1.0\n  # a comment\n  url: crates:x\n"
        );
        let text = "sources:\n- kind: cargo2\n  url: crates:x\n";
        let out = set_value(text, "e.bst", source_start(text, 0), "ref", &value).unwrap();
        assert!(
            out.starts_with("sources:\n- kind: cargo2\n  ref:\n  - kind: registry\n    name: a\n"),
            "{out}"
        );
        assert_eq!(
            parse_str("e.bst", &out)
                .unwrap()
                .as_map()
                .unwrap()
                .get("sources")
                .unwrap()
                .as_list()
                .unwrap()[0]
                .as_map()
                .unwrap()
                .get("ref")
                .unwrap()
                .as_list()
                .unwrap()
                .len(),
            2
        );
        let empty = set_value(&out, "e.bst", source_start(&out, 0), "ref", &NewValue::List(Vec::new())).unwrap();
        assert_eq!(empty, "sources:\n- kind: cargo2\n  ref: []\n  url: crates:x\n");
    }

    #[test]
    fn mapping_values() {
        let text = "sources:\n- kind: pypi\n  name: x\n  ref:\n    version: '1.0'\n    sha256: aaaa\n";
        let value = NewValue::Mapping(vec![("version".into(), "2.0".into()), ("sha256".into(), "bbbb".into())]);
        let out = set_value(text, "e.bst", source_start(text, 0), "ref", &value).unwrap();
        assert_eq!(
            out,
            "sources:\n- kind: pypi\n  name: x\n  ref:\n    version: '2.0'\n    sha256: bbbb\n"
        );
        let text = "sources:\n- kind: pypi\n  name: x\n";
        let out = set_value(text, "e.bst", source_start(text, 0), "ref", &value).unwrap();
        assert_eq!(
            out,
            "sources:\n- kind: pypi\n  ref:\n    version: 2.0\n    sha256: bbbb\n  name: x\n"
        );
    }
}
