//! `junction`: an element that names another project, whose elements this
//! project can use. It has sources (the subproject) and configuration
//! (options passed down, overrides, alias mapping) but no dependencies and
//! no artifact: it is loaded and keyed like any element, never built.

use std::path::PathBuf;

use forge_project::{Element, ElementKind, LoadError};
use serde_json::Value;

use crate::build::{Assemble, BuildContext, BuildError};
use crate::checks::config_str;

/// The `junction` kind.
pub struct Junction;

const MAPPINGS: [&str; 3] = ["options", "overrides", "aliases"];

impl ElementKind for Junction {
    fn name(&self) -> &'static str {
        "junction"
    }
    fn runs_commands(&self, _element: &Element) -> bool {
        false
    }
    fn config_keys(&self) -> &'static [&'static str] {
        &["path", "options", "overrides", "aliases", "map-aliases"]
    }
    fn is_junction(&self) -> bool {
        true
    }
    fn validate(&self, element: &Element) -> Result<(), LoadError> {
        if let Some(dep) = element.dependencies.first() {
            return Err(LoadError::at(
                &dep.span,
                format!("junction elements cannot have dependencies: '{}' is one", dep.name),
            )
            .with_hint("a junction only names a subproject; depend on its elements as 'junction.bst:element.bst'"));
        }
        if element.config_value("path").is_some() {
            config_str(element, "path")?;
        }
        for key in MAPPINGS {
            if let Some(node) = element.config_value(key) {
                let map = node
                    .as_map()
                    .ok_or_else(|| LoadError::at(&node.span, format!("'{key}' must be a mapping")))?;
                for (name, value) in map.iter() {
                    if value.as_str().is_none() {
                        return Err(LoadError::at(
                            &value.span,
                            format!("'{key}: {}' must be a string, not {}", name.name, value.type_name()),
                        ));
                    }
                }
            }
        }
        if let Some(node) = element.config_value("map-aliases") {
            match node.as_str() {
                Some("none" | "identity") => {}
                _ => {
                    return Err(LoadError::at(&node.span, "'map-aliases' must be 'none' or 'identity'"));
                }
            }
        }
        Ok(())
    }
    fn unique_key(&self, element: &Element) -> Value {
        // The subproject's own elements carry their keys; the junction's
        // is its configuration (the sources enter every element's key).
        forge_project::keys::node_to_json(&element.config)
    }
}

impl Assemble for Junction {
    fn assemble(&self, ctx: &mut BuildContext<'_>) -> Result<PathBuf, BuildError> {
        Err(BuildError(format!(
            "{} is a junction: it names a subproject and is never built; build the subproject's elements instead",
            ctx.element.name
        )))
    }
}
