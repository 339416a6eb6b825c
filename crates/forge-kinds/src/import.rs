//! `import`: the element's sources become its artifact, optionally moved
//! from a sub-directory to a target directory.

use forge_project::{Element, ElementKind, LoadError};
use std::path::PathBuf;

use crate::build::{Assemble, BuildContext, BuildError, host_path, move_contents};
use serde_json::{Value, json};

use crate::checks::config_str;

/// The `import` kind.
pub struct Import;

impl ElementKind for Import {
    fn name(&self) -> &'static str {
        "import"
    }
    fn defaults(&self) -> &'static str {
        include_str!("../data/import.yaml")
    }
    fn runs_commands(&self, _element: &Element) -> bool {
        false
    }
    fn config_keys(&self) -> &'static [&'static str] {
        &["source", "target"]
    }
    fn validate(&self, element: &Element) -> Result<(), LoadError> {
        config_str(element, "source")?;
        config_str(element, "target")?;
        if element.sources.is_empty() {
            return Err(LoadError::at(
                &element.kind_span,
                "an import element needs at least one source",
            ));
        }
        Ok(())
    }
    fn unique_key(&self, element: &Element) -> Value {
        json!({
            "source": config_str(element, "source").unwrap_or("/"),
            "target": config_str(element, "target").unwrap_or("/"),
        })
    }
}

impl Assemble for Import {
    fn assemble(&self, ctx: &mut BuildContext<'_>) -> Result<PathBuf, BuildError> {
        let input = ctx.dir("input")?;
        ctx.stage_sources(&input)?;
        let source = config_str(ctx.element, "source").unwrap_or("/").to_string();
        let target = config_str(ctx.element, "target").unwrap_or("/").to_string();
        let from = host_path(&input, &source);
        if !from.is_dir() {
            return Err(BuildError(format!(
                "no files were found inside directory '{source}' of the sources"
            )));
        }
        let output = ctx.dir("output")?;
        move_contents(&from, &host_path(&output, &target))?;
        Ok(output)
    }
}
