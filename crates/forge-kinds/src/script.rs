//! `script`: commands run over staged dependencies, each dependency at its
//! `location:`.

use forge_project::{Element, ElementKind, LoadError};
use serde_json::{Value, json};

use crate::checks::{check_locations, config_bool, config_list, layout_key, no_runtime_deps, no_sources};

/// The `script` kind.
pub struct Script;

impl ElementKind for Script {
    fn name(&self) -> &'static str {
        "script"
    }
    fn defaults(&self) -> &'static str {
        include_str!("../data/script.yaml")
    }
    fn runs_commands(&self, _element: &Element) -> bool {
        true
    }
    fn config_keys(&self) -> &'static [&'static str] {
        &["commands", "root-read-only"]
    }
    fn accepts_dependency_config(&self) -> bool {
        true
    }
    fn validate(&self, element: &Element) -> Result<(), LoadError> {
        no_sources(element)?;
        no_runtime_deps(element)?;
        config_list(element, "commands")?;
        config_bool(element, "root-read-only")?;
        check_locations(element)
    }
    fn unique_key(&self, element: &Element) -> Value {
        json!({
            "commands": config_list(element, "commands").unwrap_or_default(),
            "cwd": element.variables.get("cwd").unwrap_or("/"),
            "install-root": element.variables.get("install-root").unwrap_or("/buildstream-install"),
            "layout": Value::Object(layout_key(element)),
            "root-read-only": config_bool(element, "root-read-only").unwrap_or(false),
        })
    }
}
