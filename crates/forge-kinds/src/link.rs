//! `link`: a name that stands for another element (or junction), maybe in
//! a subproject (`target: sdk.bst:components/zlib.bst`). Loading replaces
//! every use of the link by its target; a link is never built.

use std::path::PathBuf;

use forge_project::{Element, ElementKind, LoadError};
use forge_yaml::Node;
use serde_json::Value;

use crate::build::{Assemble, BuildContext, BuildError};
use crate::checks::{config_str, no_sources};

/// The `link` kind.
pub struct Link;

impl ElementKind for Link {
    fn name(&self) -> &'static str {
        "link"
    }
    fn runs_commands(&self, _element: &Element) -> bool {
        false
    }
    fn config_keys(&self) -> &'static [&'static str] {
        &["target"]
    }
    fn is_junction(&self) -> bool {
        // Links load in BuildStream's first pass, as junctions do.
        false
    }
    fn first_pass(&self) -> bool {
        true
    }
    fn link_target(&self, config: &Node) -> Option<String> {
        config.as_map()?.get("target")?.as_str().map(str::to_string)
    }
    fn validate(&self, element: &Element) -> Result<(), LoadError> {
        no_sources(element)?;
        if let Some(dep) = element.dependencies.first() {
            return Err(LoadError::at(
                &dep.span,
                format!("link elements cannot have dependencies: '{}' is one", dep.name),
            ));
        }
        let target = config_str(element, "target")?;
        forge_project::element::check_element_name(target, element.config_value("target").map(|n| &n.span))
    }
    fn unique_key(&self, element: &Element) -> Value {
        serde_json::json!({ "target": config_str(element, "target").unwrap_or_default() })
    }
}

impl Assemble for Link {
    fn assemble(&self, ctx: &mut BuildContext<'_>) -> Result<PathBuf, BuildError> {
        Err(BuildError(format!("{} is a link and is never built", ctx.element.name)))
    }
}
