//! `import`: the element's sources become its artifact, optionally moved
//! from a sub-directory to a target directory.

use forge_project::{Element, ElementKind, LoadError};
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
