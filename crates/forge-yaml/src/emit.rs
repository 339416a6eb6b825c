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
        // ruamel writes `key:` but `- ` for an empty string.
        Value::Str(s) if s.is_empty() && in_list => out.push_str(" \n"),
        Value::Str(s) if s.is_empty() => out.push('\n'),
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

/// Writes a scalar the way ruamel writes BuildStream's all-string YAML:
/// plain where the text reads back unchanged, single-quoted where YAML
/// syntax gets in the way, double-quoted with escapes for control
/// characters, newlines and a leading single quote. Empty is written as
/// nothing at all.
pub fn write_scalar(s: &str) -> String {
    if s.chars().any(|c| c.is_control()) || s.starts_with('\'') {
        return double_quoted(s);
    }
    if needs_quotes(s) {
        // ruamel picks double quotes over doubling a single quote.
        if s.contains('\'') {
            return double_quoted(s);
        }
        return format!("'{}'", s.replace('\'', "''"));
    }
    s.to_string()
}

fn double_quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn needs_quotes(s: &str) -> bool {
    if s != s.trim() {
        return true;
    }
    let mut chars = s.chars();
    let first = chars.next().unwrap_or('a');
    let second = chars.next().unwrap_or(' ');
    if "#%*&!|>@`{}[],\"".contains(first) {
        return true;
    }
    if "-?:".contains(first) && second == ' ' {
        return true;
    }
    s.contains(": ") || s.contains(" #") || s.ends_with(':')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_str;

    #[test]
    fn scalars_are_quoted_as_ruamel_does() {
        let cases = [
            ("/usr/bin", "/usr/bin"),
            ("2", "2"),
            ("True", "True"),
            ("", ""),
            ("it's", "it's"),
            ("'q", "\"'q\""),
            ("  --root '/usr'", "\"  --root '/usr'\""),
            ("a: 'b'", "\"a: 'b'\""),
            ("a: b", "'a: b'"),
            ("x #y", "'x #y'"),
            ("x:", "'x:'"),
            ("%x", "'%x'"),
            ("*.so", "'*.so'"),
            ("- x", "'- x'"),
            ("-x", "-x"),
            (" lead", "' lead'"),
            ("line1\nline2", "\"line1\\nline2\""),
            ("a\tb", "\"a\\tb\""),
            ("sh -c \"x\"", "sh -c \"x\""),
            ("x,y", "x,y"),
            ("é", "é"),
        ];
        for (input, expected) in cases {
            assert_eq!(write_scalar(input), expected, "{input:?}");
        }
    }

    #[test]
    fn block_output_reads_back_the_same() {
        let text = "a: x\nb:\n  c: 1\n  d:\n  - e\n  - f: g\n    h: i\n  - - nested\nm: \"two\\nlines\"\nblank:\nempty: []\nnone: {}\n";
        let node = parse_str("t", text).unwrap();
        let out = to_yaml_string(&node);
        assert_eq!(out, text);
        let again = parse_str("t", &out).unwrap();
        assert_eq!(to_yaml_string(&again), out);
    }
}
