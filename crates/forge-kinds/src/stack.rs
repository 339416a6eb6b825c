//! `stack`: an empty artifact that gathers its dependencies.

use forge_project::{Element, ElementKind, LoadError};
use std::path::PathBuf;

use crate::build::{Assemble, BuildContext, BuildError};
use serde_json::{Value, json};

use crate::checks::no_sources;

/// The `stack` kind.
pub struct Stack;

impl ElementKind for Stack {
    fn name(&self) -> &'static str {
        "stack"
    }
    fn runs_commands(&self, _element: &Element) -> bool {
        false
    }
    fn config_keys(&self) -> &'static [&'static str] {
        &[]
    }
    fn checks_config_keys(&self) -> bool {
        false
    }
    fn produces_artifact(&self) -> bool {
        false
    }
    fn validate(&self, element: &Element) -> Result<(), LoadError> {
        no_sources(element)?;
        if let Some(dep) = element.dependencies.iter().find(|d| !(d.build && d.runtime)) {
            return Err(LoadError::at(
                &dep.span,
                format!(
                    "all dependencies of 'stack' elements must be both build and runtime dependencies: '{}' is not",
                    dep.name
                ),
            )
            .with_hint("declare it in the 'depends' list, without a 'type'"));
        }
        Ok(())
    }
    fn unique_key(&self, _element: &Element) -> Value {
        json!(1)
    }
}

impl Assemble for Stack {
    fn assemble(&self, ctx: &mut BuildContext<'_>) -> Result<PathBuf, BuildError> {
        ctx.dir("output")
    }
}
