//! Composition: laying one YAML node over another, BuildStream's way.
//!
//! Mappings merge key by key, scalars and plain lists replace, and a mapping
//! made only of `(<)`, `(>)` and `(=)` is a list directive that prepends,
//! appends or replaces. Conditional lists `(?)` laid over each other append,
//! so every condition is still evaluated later.

use forge_yaml::{Mapping, Node, Value};

use crate::error::LoadError;

const PREPEND: &str = "(<)";
const APPEND: &str = "(>)";
const REPLACE: &str = "(=)";
/// The key of conditional lists, which accumulate rather than replace.
pub const CONDITIONALS: &str = "(?)";

/// Whether `node` is a list directive mapping (checked for mixed keys).
pub fn is_list_directive(node: &Node) -> Result<bool, LoadError> {
    let Some(map) = node.as_map() else {
        return Ok(false);
    };
    let directives = map.keys().filter(|k| matches!(*k, PREPEND | APPEND | REPLACE)).count();
    if directives == 0 {
        return Ok(false);
    }
    if directives != map.len() {
        return Err(LoadError::at(
            &node.span,
            "list directives (<), (>) and (=) cannot be mixed with other keys in one mapping",
        ));
    }
    for (key, value) in map.iter() {
        if value.as_list().is_none() {
            return Err(LoadError::at(
                &value.span,
                format!(
                    "the list directive '{}' needs a list, not {}",
                    key.name,
                    value.type_name()
                ),
            ));
        }
    }
    Ok(true)
}

/// Composes `source` over `target` (mappings): `source` wins.
pub fn compose(target: &mut Node, source: Node) -> Result<(), LoadError> {
    let target_span = target.span.clone();
    let (Some(target_map), Value::Map(source_map)) = (target.as_map_mut(), source.value) else {
        return Err(LoadError::at(&target_span, "only mappings can be composed together"));
    };
    compose_maps(target_map, source_map)
}

fn compose_maps(target: &mut Mapping, source: Mapping) -> Result<(), LoadError> {
    for (key, value) in source.into_entries() {
        match target.get_mut(&key.name) {
            None => target.insert(key, value),
            Some(existing) => compose_value(&key.name, existing, value)?,
        }
    }
    Ok(())
}

fn compose_value(key: &str, target: &mut Node, source: Node) -> Result<(), LoadError> {
    if is_list_directive(&source)? {
        if target.as_list().is_some() {
            return apply_directive(target, source);
        }
        if is_list_directive(target)? {
            merge_directives(target, source);
            return Ok(());
        }
        return Err(LoadError::at(
            &source.span,
            format!(
                "a list directive cannot apply to '{key}', which is {} (defined at {})",
                target.type_name(),
                target.span
            ),
        ));
    }
    let target_is_directive = is_list_directive(target)?;
    match (&mut target.value, source.value) {
        (Value::Map(t), Value::Map(s)) => compose_maps(t, s),
        (Value::List(t), Value::List(mut s)) if key == CONDITIONALS => {
            t.append(&mut s);
            Ok(())
        }
        (Value::List(_), value @ Value::List(_)) | (Value::Str(_), value @ Value::Str(_)) => {
            target.value = value;
            target.span = source.span;
            Ok(())
        }
        // A plain list replaces a pending directive outright.
        (Value::Map(_), value @ Value::List(_)) if target_is_directive => {
            target.value = value;
            target.span = source.span;
            Ok(())
        }
        (_, value) => Err(LoadError::at(
            &source.span,
            format!(
                "cannot compose {} onto '{key}', which is {} (defined at {})",
                value.type_name(),
                target.type_name(),
                target.span
            ),
        )),
    }
}

fn take_list(map: &mut Mapping, key: &str) -> Option<Vec<Node>> {
    map.remove(key).and_then(|(_, n)| match n.value {
        Value::List(l) => Some(l),
        _ => None,
    })
}

/// Applies a directive to a real list: `(=)` replaces, then `(<)` and `(>)`
/// add in front and behind.
fn apply_directive(target: &mut Node, directive: Node) -> Result<(), LoadError> {
    let Value::Map(mut d) = directive.value else {
        return Ok(());
    };
    let list = target.as_list_mut().expect("checked by the caller");
    if let Some(replacement) = take_list(&mut d, REPLACE) {
        *list = replacement;
    }
    if let Some(mut front) = take_list(&mut d, PREPEND) {
        front.append(list);
        *list = front;
    }
    if let Some(mut back) = take_list(&mut d, APPEND) {
        list.append(&mut back);
    }
    Ok(())
}

/// Lays a directive over a directive that has not met its list yet:
/// prefixes accumulate in front, suffixes behind, and `(=)` starts over.
fn merge_directives(target: &mut Node, source: Node) {
    let Value::Map(mut s) = source.value else {
        return;
    };
    if s.contains_key(REPLACE) {
        target.value = Value::Map(s);
        target.span = source.span;
        return;
    }
    let t = target.as_map_mut().expect("checked by the caller");
    if let Some((key, node)) = s.remove(PREPEND) {
        let mut front = match node.value {
            Value::List(l) => l,
            _ => Vec::new(),
        };
        if let Some(mut old) = take_list(t, PREPEND) {
            front.append(&mut old);
        }
        t.insert(key, Node::list(front, node.span));
    }
    if let Some((key, node)) = s.remove(APPEND) {
        let mut back = take_list(t, APPEND).unwrap_or_default();
        if let Value::List(mut l) = node.value {
            back.append(&mut l);
        }
        t.insert(key, Node::list(back, node.span));
    }
}

/// Checks what is left once every layer is composed: a directive that never
/// met a list is an error, as in BuildStream.
pub fn finish(node: &mut Node) -> Result<(), LoadError> {
    let mut stack: Vec<&mut Node> = vec![node];
    while let Some(node) = stack.pop() {
        if is_list_directive(node)? {
            let (key, _) = node
                .as_map()
                .and_then(|m| m.iter().next())
                .expect("a directive has a key");
            return Err(LoadError::at(
                &key.span,
                format!("the list directive '{}' has no list to apply to", key.name),
            )
            .with_hint("(<), (>) and (=) change a list defined in a lower layer (defaults, project.conf or an include); write a plain list here instead"));
        }
        match &mut node.value {
            Value::Map(m) => stack.extend(m.iter_mut().map(|(_, v)| v)),
            Value::List(l) => stack.extend(l.iter_mut()),
            Value::Str(_) => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use forge_yaml::{parse_str, to_yaml_string};

    fn composed(base: &str, over: &str) -> Result<String, LoadError> {
        let mut target = parse_str("base.yml", base).unwrap();
        let source = parse_str("over.yml", over).unwrap();
        compose(&mut target, source)?;
        finish(&mut target)?;
        Ok(to_yaml_string(&target))
    }

    #[test]
    fn mappings_merge_and_scalars_replace() {
        let out = composed("a: 1\nb:\n  c: 2\n  d: 3\n", "b:\n  d: 4\n  e: 5\nf: 6\n").unwrap();
        assert_eq!(out, "a: 1\nb:\n  c: 2\n  d: 4\n  e: 5\nf: 6\n");
    }

    #[test]
    fn plain_lists_replace() {
        assert_eq!(composed("l: [a, b]\n", "l: [c]\n").unwrap(), "l:\n- c\n");
    }

    #[test]
    fn directives_prepend_append_replace() {
        let out = composed("l: [b]\n", "l:\n  (<): [a]\n  (>): [c]\n").unwrap();
        assert_eq!(out, "l:\n- a\n- b\n- c\n");
        let out = composed("l: [b]\n", "l:\n  (=): [x]\n  (>): [w]\n").unwrap();
        assert_eq!(out, "l:\n- x\n- w\n");
    }

    #[test]
    fn directives_on_directives_accumulate() {
        let mut base = parse_str("b", "l: [m]\n").unwrap();
        let mut mid = parse_str("m", "l: {(<): [b], (>): [w]}\n").unwrap();
        let top = parse_str("t", "l: {(<): [a], (>): [z]}\n").unwrap();
        compose(&mut mid, top).unwrap();
        compose(&mut base, mid).unwrap();
        assert_eq!(to_yaml_string(&base), "l:\n- a\n- b\n- m\n- w\n- z\n");
    }

    #[test]
    fn conditionals_append() {
        let out = composed("(?):\n- a: {x: 1}\n", "(?):\n- b: {x: 2}\n").unwrap();
        assert_eq!(out, "(?):\n- a:\n    x: 1\n- b:\n    x: 2\n");
    }

    #[test]
    fn dangling_directive_is_an_error() {
        let err = composed("a: 1\n", "l:\n  (>): [x]\n").unwrap_err();
        assert_eq!(err.span.as_ref().unwrap().line, 2);
        assert!(err.message.contains("has no list to apply to"), "{err}");
    }

    #[test]
    fn mixed_directive_keys_are_an_error() {
        let err = composed("l: [a]\n", "l:\n  (>): [x]\n  other: 1\n").unwrap_err();
        assert!(err.message.contains("cannot be mixed"), "{err}");
    }

    #[test]
    fn type_mismatch_is_an_error_with_both_positions() {
        let err = composed("a:\n  b: 1\n", "a: scalar\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "over.yml:1:4: cannot compose a string onto 'a', which is a mapping (defined at base.yml:2:3)"
        );
    }
}
