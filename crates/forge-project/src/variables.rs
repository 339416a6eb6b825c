//! `%{name}` variables: resolution with cycle and undefined-name errors, and
//! expansion into config, environment, public data and sources.
//!
//! As in BuildStream, every variable is resolved eagerly (an unused broken
//! variable is still an error), `$VAR` is left to the shell, and a `%{` that
//! does not open a valid name stays literal.

use indexmap::IndexMap;

use forge_yaml::{Mapping, Node, Span, Value};

use crate::error::{LoadError, did_you_mean};

/// Variables that only forge may set.
pub const PROTECTED: [&str; 3] = ["project-name", "element-name", "max-jobs"];

/// A piece of a variable value: literal text or a reference.
#[derive(Debug, PartialEq)]
enum Piece<'a> {
    Text(&'a str),
    Ref(&'a str),
}

/// Splits `text` into literal runs and `%{name}` references.
fn pieces(text: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = text;
    let mut literal_start = 0;
    let mut offset = 0;
    while let Some(found) = rest.find("%{") {
        let after = &rest[found + 2..];
        let name_len = reference_name_len(after);
        if name_len > 0 && after[name_len..].starts_with('}') {
            let start = offset + found;
            if start > literal_start {
                out.push(Piece::Text(&text[literal_start..start]));
            }
            out.push(Piece::Ref(&after[..name_len]));
            let consumed = found + 2 + name_len + 1;
            offset += consumed;
            literal_start = offset;
            rest = &rest[consumed..];
        } else {
            offset += found + 2;
            rest = &rest[found + 2..];
        }
    }
    if literal_start < text.len() {
        out.push(Piece::Text(&text[literal_start..]));
    }
    out
}

/// The variable names `text` refers to, in order.
pub fn references(text: &str) -> impl Iterator<Item = &str> {
    pieces(text).into_iter().filter_map(|p| match p {
        Piece::Ref(name) => Some(name),
        Piece::Text(_) => None,
    })
}

/// Length of a valid variable name at the start of `s`: `[a-zA-Z][a-zA-Z0-9_-]*`.
fn reference_name_len(s: &str) -> usize {
    let bytes = s.as_bytes();
    if !bytes.first().is_some_and(u8::is_ascii_alphabetic) {
        return 0;
    }
    bytes
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_' || **b == b'-')
        .count()
}

/// An element's resolved variables.
#[derive(Clone, Debug, Default)]
pub struct Variables {
    values: IndexMap<String, String>,
}

impl Variables {
    /// Resolves every variable in `defs` (name → string node).
    pub fn resolve(defs: &Mapping) -> Result<Variables, LoadError> {
        let mut raw: IndexMap<&str, (&str, &Span)> = IndexMap::with_capacity(defs.len());
        for (key, node) in defs.iter() {
            let value = node.as_str().ok_or_else(|| {
                LoadError::at(
                    &node.span,
                    format!("variable '{}' must be a string, not {}", key.name, node.type_name()),
                )
            })?;
            raw.insert(key.name.as_str(), (value, &node.span));
        }
        let mut resolved: Vec<Option<String>> = vec![None; raw.len()];
        let mut in_progress = vec![false; raw.len()];
        for root in 0..raw.len() {
            if resolved[root].is_some() {
                continue;
            }
            // Iterative depth-first resolution: the stack holds variables
            // whose references are not all resolved yet.
            let mut stack = vec![root];
            in_progress[root] = true;
            while let Some(&current) = stack.last() {
                let (value, span) = raw[current];
                let mut waiting_on = None;
                for piece in pieces(value) {
                    let Piece::Ref(name) = piece else { continue };
                    let Some(index) = raw.get_index_of(name) else {
                        return Err(undefined(name, span, raw.keys().copied()));
                    };
                    if resolved[index].is_some() {
                        continue;
                    }
                    if in_progress[index] {
                        return Err(cycle(&raw, &stack, index));
                    }
                    waiting_on = Some(index);
                    break;
                }
                match waiting_on {
                    Some(index) => {
                        in_progress[index] = true;
                        stack.push(index);
                    }
                    None => {
                        let mut text = String::with_capacity(value.len());
                        for piece in pieces(value) {
                            match piece {
                                Piece::Text(t) => text.push_str(t),
                                Piece::Ref(name) => {
                                    let index = raw.get_index_of(name).expect("checked above");
                                    text.push_str(resolved[index].as_deref().expect("resolved"));
                                }
                            }
                        }
                        resolved[current] = Some(text);
                        in_progress[current] = false;
                        stack.pop();
                    }
                }
            }
        }
        let values = raw
            .keys()
            .zip(resolved)
            .map(|(name, value)| (name.to_string(), value.expect("every variable resolved")))
            .collect();
        Ok(Variables { values })
    }

    /// Resolves only the variables that the strings in `nodes` need, and
    /// what those need in turn: aliases and mirrors use project variables,
    /// and a project variable that only elements can resolve (one that uses
    /// `%{element-name}`, say) must not stop them.
    pub fn resolve_needed(defs: &Mapping, nodes: &[&Node]) -> Result<Variables, LoadError> {
        let mut wanted: Vec<&str> = Vec::new();
        let mut strings: Vec<&Node> = nodes.to_vec();
        while let Some(node) = strings.pop() {
            match &node.value {
                Value::Str(text) => wanted.extend(references(text)),
                Value::Map(m) => strings.extend(m.iter().map(|(_, v)| v)),
                Value::List(l) => strings.extend(l.iter()),
            }
        }
        let mut needed = Mapping::default();
        while let Some(name) = wanted.pop() {
            if needed.contains_key(name) {
                continue;
            }
            if let Some((key, value)) = defs.get_entry(name) {
                if let Some(text) = value.as_str() {
                    wanted.extend(references(text));
                }
                needed.insert(key.clone(), value.clone());
            }
        }
        Variables::resolve(&needed)
    }

    /// The value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// All variables in definition order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.values.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Expands the references in `text`, found at `span`.
    pub fn expand(&self, text: &str, span: &Span) -> Result<String, LoadError> {
        if !text.contains("%{") {
            return Ok(text.to_string());
        }
        let mut out = String::with_capacity(text.len());
        for piece in pieces(text) {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Ref(name) => match self.values.get(name) {
                    Some(value) => out.push_str(value),
                    None => return Err(undefined(name, span, self.values.keys().map(String::as_str))),
                },
            }
        }
        Ok(out)
    }

    /// Expands every string in `node` (mapping keys are left alone).
    pub fn expand_node(&self, node: &mut Node) -> Result<(), LoadError> {
        let mut stack = vec![node];
        while let Some(node) = stack.pop() {
            match &mut node.value {
                Value::Str(s) => {
                    if s.contains("%{") {
                        *s = self.expand(s, &node.span)?;
                    }
                }
                Value::Map(m) => stack.extend(m.iter_mut().map(|(_, v)| v)),
                Value::List(l) => stack.extend(l.iter_mut()),
            }
        }
        Ok(())
    }
}

fn undefined<'a>(name: &str, span: &Span, known: impl Iterator<Item = &'a str>) -> LoadError {
    let err = LoadError::at(span, format!("reference to undefined variable '{name}'"));
    match did_you_mean(name, known) {
        Some(near) => err.with_hint(format!("did you mean '%{{{near}}}'?")),
        None => err.with_hint(format!(
            "define '{name}' under 'variables:' in the element or in project.conf"
        )),
    }
}

fn cycle(raw: &IndexMap<&str, (&str, &Span)>, stack: &[usize], back_to: usize) -> LoadError {
    let name = |i: usize| *raw.get_index(i).expect("index").0;
    let start = stack.iter().position(|&i| i == back_to).unwrap_or(0);
    let chain = &stack[start..];
    let mut err = LoadError::at(
        raw[back_to].1,
        format!("circular dependency detected on variable '{}'", name(back_to)),
    );
    for (i, &var) in chain.iter().enumerate() {
        let next = chain.get(i + 1).copied().unwrap_or(back_to);
        err = err.with_detail(format!(
            "{}: variable '{}' refers to variable '{}'",
            raw[var].1,
            name(var),
            name(next)
        ));
    }
    err
}

#[cfg(test)]
mod tests {
    use super::*;
    use forge_yaml::parse_str;

    fn resolve(text: &str) -> Result<Variables, LoadError> {
        let node = parse_str("e.bst", text).unwrap();
        Variables::resolve(node.as_map().unwrap())
    }

    #[test]
    fn splits_references() {
        assert_eq!(
            pieces("a%{b}c"),
            vec![Piece::Text("a"), Piece::Ref("b"), Piece::Text("c")]
        );
        assert_eq!(pieces("100%{"), vec![Piece::Text("100%{")]);
        assert_eq!(pieces("%{1x}"), vec![Piece::Text("%{1x}")]);
        assert_eq!(pieces("%%{a}"), vec![Piece::Text("%"), Piece::Ref("a")]);
        assert_eq!(pieces("%{a-b_c}%{d}"), vec![Piece::Ref("a-b_c"), Piece::Ref("d")]);
    }

    #[test]
    fn resolves_chains_in_any_order() {
        let vars =
            resolve("bindir: '%{exec_prefix}/bin'\nexec_prefix: '%{prefix}'\nprefix: /usr\npct: '100%{'\n").unwrap();
        assert_eq!(vars.get("bindir"), Some("/usr/bin"));
        assert_eq!(vars.get("pct"), Some("100%{"));
        let span = Span::synthetic("t");
        assert_eq!(
            vars.expand("$HOME%{prefix}%%{prefix}", &span).unwrap(),
            "$HOME/usr%/usr"
        );
    }

    #[test]
    fn undefined_variable_points_at_the_value() {
        let err = resolve("a: x\nunused: '%{nope}'\n").unwrap_err();
        assert_eq!(err.span.as_ref().map(|s| (s.line, s.col)), Some((2, 9)));
        assert_eq!(err.message, "reference to undefined variable 'nope'");
        let err = resolve("prefix: /usr\nb: '%{prefx}'\n").unwrap_err();
        assert_eq!(err.hint.as_deref(), Some("did you mean '%{prefix}'?"));
    }

    #[test]
    fn cycles_are_reported_with_the_chain() {
        let err = resolve("a: '%{b}'\nb: '%{c}'\nc: '%{a}'\n").unwrap_err();
        assert_eq!(err.message, "circular dependency detected on variable 'a'");
        assert_eq!(
            err.details,
            vec![
                "e.bst:1:4: variable 'a' refers to variable 'b'",
                "e.bst:2:4: variable 'b' refers to variable 'c'",
                "e.bst:3:4: variable 'c' refers to variable 'a'",
            ]
        );
        let err = resolve("a: '%{a}'\n").unwrap_err();
        assert_eq!(err.details, vec!["e.bst:1:4: variable 'a' refers to variable 'a'"]);
    }

    #[test]
    fn long_chains_do_not_recurse() {
        let mut text = String::from("v0: base\n");
        for i in 1..10_000 {
            text.push_str(&format!("v{i}: '%{{v{}}}x'\n", i - 1));
        }
        let vars = resolve(&text).unwrap();
        assert_eq!(vars.get("v9999").unwrap().len(), 4 + 9_999);
    }

    #[test]
    fn only_what_is_needed_is_resolved() {
        let node = parse_str(
            "p.conf",
            "root: /srv\nbuild-root: '/b/%{element-name}'\nurl: 'file://%{root}/t/'\n",
        )
        .unwrap();
        let wanted = parse_str("p.conf", "alias: '%{url}'\n").unwrap();
        let vars = Variables::resolve_needed(node.as_map().unwrap(), &[&wanted]).unwrap();
        assert_eq!(vars.get("url"), Some("file:///srv/t/"));
        assert_eq!(vars.get("build-root"), None);
        assert!(Variables::resolve(node.as_map().unwrap()).is_err());
    }

    #[test]
    fn non_string_variables_are_errors() {
        let err = resolve("a: [x]\n").unwrap_err();
        assert!(err.message.contains("must be a string"), "{err}");
    }
}
