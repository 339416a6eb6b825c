//! The `(@)` include, `(?)` conditional and `(!)` assertion directives.
//!
//! They may stand in any mapping. A mapping is processed until it holds no
//! directive of its own (an include or a conditional may bring new ones),
//! then its children are processed.

use forge_yaml::{Node, Value};

use crate::compose::{CONDITIONALS, compose};
use crate::error::LoadError;
use crate::expr::{ExprValue, evaluate};

const INCLUDE: &str = "(@)";
const ASSERT: &str = "(!)";

/// What directive processing needs from its surroundings.
pub trait DirectiveContext {
    /// Reads and parses a project-relative include file.
    fn include(&self, path: &str, at: &forge_yaml::Span) -> Result<Node, LoadError>;
    /// The value of an option, for conditions.
    fn option(&self, name: &str) -> Option<ExprValue>;
}

/// Processes every directive in `node` and below.
pub fn process(node: &mut Node, ctx: &dyn DirectiveContext) -> Result<(), LoadError> {
    let mut include_chain = Vec::new();
    process_node(node, ctx, &mut include_chain, true)
}

/// Processes only the `(@)` includes (project.conf's first pass, before
/// the options that conditions need are known).
pub fn process_includes(node: &mut Node, ctx: &dyn DirectiveContext) -> Result<(), LoadError> {
    let mut include_chain = Vec::new();
    process_node(node, ctx, &mut include_chain, false)
}

fn process_node(
    node: &mut Node,
    ctx: &dyn DirectiveContext,
    include_chain: &mut Vec<String>,
    conditions: bool,
) -> Result<(), LoadError> {
    if node.as_map().is_some() {
        while process_own_directives(node, ctx, include_chain, conditions)? {}
    }
    match &mut node.value {
        Value::Map(map) => {
            for (_, child) in map.iter_mut() {
                process_node(child, ctx, include_chain, conditions)?;
            }
        }
        Value::List(items) => {
            for item in items {
                process_node(item, ctx, include_chain, conditions)?;
            }
        }
        Value::Str(_) => {}
    }
    Ok(())
}

/// Handles the directives of one mapping; returns whether it did anything.
fn process_own_directives(
    node: &mut Node,
    ctx: &dyn DirectiveContext,
    include_chain: &mut Vec<String>,
    conditions: bool,
) -> Result<bool, LoadError> {
    let map = node.as_map_mut().expect("called on mappings");
    if !conditions {
        if let Some((_, includes)) = map.remove(INCLUDE) {
            include(node, includes, ctx, include_chain, conditions)?;
            return Ok(true);
        }
        return Ok(false);
    }
    if let Some(assertion) = map.get(ASSERT) {
        let message = assertion.as_str().unwrap_or("assertion failed").trim().to_string();
        return Err(LoadError::at(&assertion.span, message));
    }
    if let Some((_, includes)) = map.remove(INCLUDE) {
        include(node, includes, ctx, include_chain, conditions)?;
        return Ok(true);
    }
    if let Some((_, conditions)) = map.remove(CONDITIONALS) {
        let items = conditions
            .as_list()
            .ok_or_else(|| LoadError::at(&conditions.span, "(?) takes a list of `- condition: {...}` entries"))?;
        for item in items {
            let entry = item.as_map().filter(|m| m.len() == 1).ok_or_else(|| {
                LoadError::at(
                    &item.span,
                    "each (?) entry must be a mapping with exactly one condition",
                )
            })?;
            let (expression, fragment) = entry.iter().next().expect("one entry");
            let lookup = |name: &str| ctx.option(name);
            let applies = evaluate(&expression.name, &lookup).map_err(|why| {
                LoadError::at(
                    &expression.span,
                    format!("cannot evaluate condition '{}': {why}", expression.name),
                )
            })?;
            if fragment.as_map().is_none() {
                return Err(LoadError::at(
                    &fragment.span,
                    format!("a (?) condition must lead to a mapping, not {}", fragment.type_name()),
                ));
            }
            if applies {
                compose(node, fragment.clone())?;
            }
        }
        return Ok(true);
    }
    Ok(false)
}

/// Composes the files named by an `(@)` value under `node`.
fn include(
    node: &mut Node,
    includes: Node,
    ctx: &dyn DirectiveContext,
    include_chain: &mut Vec<String>,
    conditions: bool,
) -> Result<(), LoadError> {
    let paths: Vec<Node> = match includes.value {
        Value::Str(_) => vec![includes],
        Value::List(items) => items,
        Value::Map(_) => {
            return Err(LoadError::at(
                &includes.span,
                "(@) takes a file name or a list of file names, not a mapping",
            ));
        }
    };
    // The last include has the highest priority: compose them under the
    // mapping from last to first, so earlier ones only fill gaps.
    for path_node in paths.iter().rev() {
        let path = path_node
            .as_str()
            .ok_or_else(|| LoadError::at(&path_node.span, "(@) entries must be file names"))?;
        if include_chain.iter().any(|p| p == path) {
            return Err(
                LoadError::at(&path_node.span, format!("trying to recursively include '{path}'"))
                    .with_detail(format!("include chain: {} -> {path}", include_chain.join(" -> "))),
            );
        }
        let mut included = ctx.include(path, &path_node.span)?;
        include_chain.push(path.to_string());
        let result = process_node(&mut included, ctx, include_chain, conditions);
        include_chain.pop();
        result?;
        let over = std::mem::replace(node, included);
        let own_keys: Vec<String> = over
            .as_map()
            .map(|m| m.keys().map(str::to_string).collect())
            .unwrap_or_default();
        compose(node, over)?;
        // As BuildStream: the including mapping keeps its key order,
        // keys only the include brings follow.
        if let Some(map) = node.as_map_mut() {
            map.order_first(&own_keys);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use forge_yaml::{Span, parse_str, to_yaml_string};
    use std::collections::HashMap;

    struct Fixture {
        files: HashMap<&'static str, &'static str>,
        arch: &'static str,
        debug: bool,
    }

    impl DirectiveContext for Fixture {
        fn include(&self, path: &str, at: &Span) -> Result<Node, LoadError> {
            let text = self
                .files
                .get(path)
                .ok_or_else(|| LoadError::at(at, format!("included file '{path}' not found")))?;
            Ok(parse_str(path, text)?)
        }
        fn option(&self, name: &str) -> Option<ExprValue> {
            match name {
                "arch" => Some(ExprValue::Str(self.arch.into())),
                "debug" => Some(ExprValue::Bool(self.debug)),
                _ => None,
            }
        }
    }

    fn fixture(files: &[(&'static str, &'static str)]) -> Fixture {
        Fixture {
            files: files.iter().copied().collect(),
            arch: "x86-64",
            debug: false,
        }
    }

    fn run(ctx: &Fixture, text: &str) -> Result<String, LoadError> {
        let mut node = parse_str("e.bst", text)?;
        process(&mut node, ctx)?;
        Ok(to_yaml_string(&node))
    }

    #[test]
    fn includes_compose_underneath() {
        let ctx = fixture(&[("a.yml", "x: from-a\nw: from-a\n"), ("b.yml", "w: from-b\nz: from-b\n")]);
        let out = run(&ctx, "(@): [a.yml, b.yml]\nz: local\n").unwrap();
        // The including mapping keeps its key order; included keys follow.
        assert_eq!(out, "z: local\nw: from-b\nx: from-a\n");
    }

    #[test]
    fn includes_nest_and_work_below_the_top() {
        let ctx = fixture(&[("a.yml", "(@): b.yml\nfrom-a: '1'\n"), ("b.yml", "from-b: '2'\n")]);
        let out = run(&ctx, "variables:\n  (@): a.yml\n").unwrap();
        assert_eq!(out, "variables:\n  from-a: 1\n  from-b: 2\n");
    }

    #[test]
    fn recursive_include_is_an_error() {
        let ctx = fixture(&[("a.yml", "(@): b.yml\n"), ("b.yml", "(@): a.yml\n")]);
        let err = run(&ctx, "(@): a.yml\n").unwrap_err();
        assert!(err.message.contains("trying to recursively include 'a.yml'"), "{err}");
        assert_eq!(err.span.unwrap().file.as_ref(), "b.yml");
    }

    #[test]
    fn conditionals_apply_in_order() {
        let mut ctx = fixture(&[]);
        ctx.debug = true;
        let text = "v: base\nl: [a]\n(?):\n- arch == 'x86-64':\n    v: x86\n- debug:\n    l:\n      (>): [dbg]\n- arch == 'aarch64':\n    v: arm\n";
        assert_eq!(run(&ctx, text).unwrap(), "v: x86\nl:\n- a\n- dbg\n");
    }

    #[test]
    fn nested_conditionals_and_assertions() {
        let ctx = fixture(&[]);
        let text = "(?):\n- arch == 'x86-64':\n    (?):\n    - not debug:\n        deep: yes\n";
        assert_eq!(run(&ctx, text).unwrap(), "deep: yes\n");
        let text = "(?):\n- arch == 'x86-64':\n    (!): this project does not build on x86-64\n";
        let err = run(&ctx, text).unwrap_err();
        assert_eq!(err.to_string(), "e.bst:3:10: this project does not build on x86-64");
    }

    #[test]
    fn condition_errors_point_at_the_condition() {
        let ctx = fixture(&[]);
        let err = run(&ctx, "(?):\n- bogus == 1:\n    a: b\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "e.bst:2:3: cannot evaluate condition 'bogus == 1': 'bogus' is undefined"
        );
        let err = run(&ctx, "(?):\n- debug: [a]\n").unwrap_err();
        assert!(err.message.contains("must lead to a mapping"), "{err}");
        let err = run(&ctx, "(?):\n- debug: {a: b}\n  arch: {a: b}\n").unwrap_err();
        assert!(err.message.contains("exactly one condition"), "{err}");
    }
}
