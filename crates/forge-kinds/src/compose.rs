//! `compose`: the staged build dependencies, integrated, filtered by split
//! domains.

use forge_project::{Element, ElementKind, LoadError};
use serde_json::{Value, json};

use crate::checks::{config_bool, config_list, no_runtime_deps, no_sources};

/// The `compose` kind.
pub struct Compose;

impl ElementKind for Compose {
    fn name(&self) -> &'static str {
        "compose"
    }
    fn defaults(&self) -> &'static str {
        include_str!("../data/compose.yaml")
    }
    fn runs_commands(&self, element: &Element) -> bool {
        // Only integration commands run, and only when asked for.
        config_bool(element, "integrate").unwrap_or(true)
    }
    fn config_keys(&self) -> &'static [&'static str] {
        &[
            "integrate",
            "include",
            "exclude",
            "include-orphans",
            "filter-whilst-staging",
        ]
    }
    fn validate(&self, element: &Element) -> Result<(), LoadError> {
        no_sources(element)?;
        no_runtime_deps(element)?;
        config_bool(element, "integrate")?;
        config_bool(element, "include-orphans")?;
        config_list(element, "include")?;
        config_list(element, "exclude")?;
        Ok(())
    }
    fn unique_key(&self, element: &Element) -> Value {
        let sorted = |key| {
            let mut list = config_list(element, key).unwrap_or_default();
            list.sort();
            list
        };
        let mut key = json!({
            "integrate": config_bool(element, "integrate").unwrap_or(true),
            "include": sorted("include"),
            "orphans": config_bool(element, "include-orphans").unwrap_or(true),
        });
        let exclude = sorted("exclude");
        if !exclude.is_empty() {
            key["exclude"] = json!(exclude);
        }
        key
    }
}
