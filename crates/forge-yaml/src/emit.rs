//! Writing nodes back out as block-style YAML, as `bst show` prints them.

use crate::node::{Node, Value};

/// Renders a node as block YAML (mappings `key: value`, lists `- item`
/// at the indentation of their key, as ruamel writes them).
/// The result ends with a newline unless it is a single flow value.
pub fn to_yaml_string(node: &Node) -> String {
    let mut out = String::new();
    match &node.value {
        Value::Str(s) => {
            out.push_str(&write_scalar(s));
            out.push('\n');
        }
        Value::Map(m) if m.is_empty() => out.push_str("{}\n"),
        Value::List(l) if l.is_empty() => out.push_str("[]\n"),
        _ => write_block(&mut out, node, 0),
    }
    out
}

fn write_block(out: &mut String, node: &Node, indent: usize) {
    let pad = " ".repeat(indent);
    match &node.value {
        Value::Map(map) => {
            for (key, value) in map.iter() {
                out.push_str(&pad);
                out.push_str(&write_scalar(&key.name));
                out.push(':');
                write_child(out, value, indent, false);
            }
        }
        Value::List(items) => {
            for item in items {
                out.push_str(&pad);
                out.push('-');
                write_child(out, item, indent, true);
            }
        }
        Value::Str(s) => {
            out.push_str(&pad);
            out.push_str(&write_scalar(s));
            out.push('\n');
        }
    }
}

/// Writes the value after `key:` or `-`.
fn write_child(out: &mut String, value: &Node, indent: usize, in_list: bool) {
    match &value.value {
        Value::Str(s) if s.contains('\n') => {
            out.push_str(" |-\n");
            let pad = " ".repeat(indent + 2);
            for line in s.split('\n') {
                if !line.is_empty() {
                    out.push_str(&pad);
                    out.push_str(line);
                }
                out.push('\n');
            }
        }
        Value::Str(s) => {
            out.push(' ');
            out.push_str(&write_scalar(s));
            out.push('\n');
        }
        Value::Map(m) if m.is_empty() => out.push_str(" {}\n"),
        Value::List(l) if l.is_empty() => out.push_str(" []\n"),
        Value::Map(_) if in_list => {
            // `- key: v` with the following keys aligned under the first.
            let mut nested = String::new();
            write_block(&mut nested, value, indent + 2);
            out.push(' ');
            out.push_str(&nested[indent + 2..]);
        }
        Value::Map(_) => {
            out.push('\n');
            write_block(out, value, indent + 2);
        }
        Value::List(_) if in_list => {
            let mut nested = String::new();
            write_block(&mut nested, value, indent + 2);
            out.push(' ');
            out.push_str(&nested[indent + 2..]);
        }
        Value::List(_) => {
            out.push('\n');
            write_block(out, value, indent);
        }
    }
}

/// Writes a single-line scalar: plain where YAML would read it back as the
/// same string, single-quoted otherwise (numbers, booleans, nulls and text
/// with YAML indicators are quoted, as ruamel does).
pub fn write_scalar(s: &str) -> String {
    if needs_quotes(s) {
        if s.contains('\n') || s.chars().any(|c| c.is_control() && c != '\t') {
            return double_quoted(s);
        }
        format!("'{}'", s.replace('\'', "''"))
    } else {
        s.to_string()
    }
}

fn double_quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn needs_quotes(s: &str) -> bool {
    if s.is_empty() || s != s.trim() {
        return true;
    }
    let first = s.chars().next().unwrap_or(' ');
    if "-?:,[]{}#&*!|>'\"%@`".contains(first) {
        // `-x` and `:x` are plain-safe in YAML, but quoting them is harmless
        // and avoids the corner cases ("- ", "? ", ": ").
        return true;
    }
    if s.contains(": ") || s.contains(" #") || s.ends_with(':') {
        return true;
    }
    if s.chars().any(|c| c.is_control()) {
        return true;
    }
    looks_typed(s)
}

/// Whether a YAML 1.1 reader would take this plain text as a non-string.
fn looks_typed(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n" | "null" | "~" | ".nan" | ".inf"
            | "-.inf" | "+.inf"
    ) {
        return true;
    }
    let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
    !digits.is_empty()
        && digits.chars().next().is_some_and(|c| c.is_ascii_digit() || c == '.')
        && digits
            .chars()
            .all(|c| c.is_ascii_hexdigit() || matches!(c, '.' | '_' | 'x' | 'o' | 'e' | 'E' | '+' | '-' | ':'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_str;

    #[test]
    fn scalars_are_quoted_only_when_needed() {
        assert_eq!(write_scalar("/usr/bin"), "/usr/bin");
        assert_eq!(write_scalar("%{prefix}/bin"), "'%{prefix}/bin'");
        assert_eq!(write_scalar("2"), "'2'");
        assert_eq!(write_scalar("True"), "'True'");
        assert_eq!(write_scalar(""), "''");
        assert_eq!(write_scalar("it's"), "it's");
        assert_eq!(write_scalar("'x"), "'''x'");
        assert_eq!(write_scalar("a: b"), "'a: b'");
        assert_eq!(write_scalar("x86-64"), "x86-64");
        assert_eq!(write_scalar("1321009871"), "'1321009871'");
    }

    #[test]
    fn block_output_reads_back_the_same() {
        let text = "a: x\nb:\n  c: '1'\n  d:\n  - e\n  - f: g\n    h: i\n  - - nested\nm: |-\n  two\n  lines\nempty: []\nnone: {}\n";
        let node = parse_str("t", text).unwrap();
        let out = to_yaml_string(&node);
        assert_eq!(out, text);
        let again = parse_str("t", &out).unwrap();
        assert_eq!(to_yaml_string(&again), out);
    }
}
