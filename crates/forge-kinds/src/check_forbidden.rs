//! `check_forbidden` (buildstream-plugins-community): fails the build when
//! any of the listed elements is in the runtime closure of a dependency,
//! naming the chain that pulls it in. Its artifact is empty.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use forge_project::{Element, ElementKind, LoadError};
use serde_json::{Value, json};

use crate::build::{Assemble, BuildContext, BuildError};
use crate::checks::{config_list, sorted_config_list};

/// The `check_forbidden` kind.
pub struct CheckForbidden;

impl ElementKind for CheckForbidden {
    fn name(&self) -> &'static str {
        "check_forbidden"
    }
    fn runs_commands(&self, _element: &Element) -> bool {
        true
    }
    fn config_keys(&self) -> &'static [&'static str] {
        &["forbidden"]
    }
    fn validate(&self, element: &Element) -> Result<(), LoadError> {
        config_list(element, "forbidden").map(|_| ())
    }
    fn unique_key(&self, element: &Element) -> Value {
        let mut forbidden = sorted_config_list(element, "forbidden");
        forbidden.dedup();
        json!({ "forbidden": forbidden })
    }
}

impl Assemble for CheckForbidden {
    fn assemble(&self, ctx: &mut BuildContext<'_>) -> Result<PathBuf, BuildError> {
        let forbidden: HashSet<String> = config_list(ctx.element, "forbidden")
            .unwrap_or_default()
            .into_iter()
            .collect();
        // The staged set is the runtime closure of the dependencies, which
        // is what the plugin walks.
        let by_name: HashMap<&str, &Element> = ctx.deps.iter().map(|d| (d.element.name.as_str(), d.element)).collect();
        let mut reports = Vec::new();
        let mut bad: HashMap<&str, bool> = HashMap::new();
        // Depth-first over runtime edges, iteratively, remembering which
        // elements lead to a forbidden one.
        let roots: Vec<&str> = ctx.element.dependencies.iter().map(|d| d.name.as_str()).collect();
        for root in roots {
            let mut stack: Vec<(&str, usize)> = vec![(root, 0)];
            while let Some((name, next)) = stack.pop() {
                if next == 0 && bad.contains_key(name) {
                    continue;
                }
                if forbidden.contains(name) {
                    bad.insert(name, true);
                    continue;
                }
                let children: Vec<&str> = by_name
                    .get(name)
                    .map(|e| {
                        e.dependencies
                            .iter()
                            .filter(|d| d.runtime)
                            .map(|d| d.name.as_str())
                            .collect()
                    })
                    .unwrap_or_default();
                if let Some(child) = children.get(next) {
                    stack.push((name, next + 1));
                    if !bad.contains_key(child) {
                        stack.push((child, 0));
                    }
                } else {
                    let mut is_bad = false;
                    for child in &children {
                        if bad.get(child).copied().unwrap_or(false) {
                            reports.push(format!("{} depends on {}", normal(name), normal(child)));
                            is_bad = true;
                        }
                    }
                    bad.insert(name, is_bad);
                }
            }
        }
        for line in &reports {
            ctx.log(&format!("warning: {line}"));
        }
        let found: Vec<&str> = ctx
            .element
            .dependencies
            .iter()
            .map(|d| d.name.as_str())
            .filter(|d| bad.get(d).copied().unwrap_or(false))
            .collect();
        if !found.is_empty() {
            let mut message = String::from("some elements were forbidden");
            for line in reports {
                message.push_str(&format!("\n  {line}"));
            }
            return Err(BuildError(message));
        }
        ctx.dir("output")
    }
}

fn normal(name: &str) -> String {
    forge_project::element::normal_name(name)
}
