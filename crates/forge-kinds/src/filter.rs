//! `filter`: part of one dependency's artifact, selected by split domains.

use forge_project::{Element, ElementKind, LoadError};
use serde_json::{Value, json};

use crate::checks::{config_bool, config_list, no_sources};

/// The `filter` kind.
pub struct Filter;

impl ElementKind for Filter {
    fn name(&self) -> &'static str {
        "filter"
    }
    fn defaults(&self) -> &'static str {
        include_str!("../data/filter.yaml")
    }
    fn version(&self) -> u32 {
        1
    }
    fn runs_commands(&self, _element: &Element) -> bool {
        false
    }
    fn config_keys(&self) -> &'static [&'static str] {
        &["include", "exclude", "include-orphans", "pass-integration"]
    }
    fn validate(&self, element: &Element) -> Result<(), LoadError> {
        no_sources(element)?;
        let build: Vec<_> = element.dependencies.iter().filter(|d| d.build).collect();
        if build.len() != 1 {
            let names: Vec<&str> = build.iter().map(|d| d.name.as_str()).collect();
            return Err(LoadError::at(
                &element.kind_span,
                format!(
                    "a filter element must have exactly 1 build dependency, this one has {}",
                    build.len()
                ),
            )
            .with_detail(format!("build dependencies: [{}]", names.join(", "))));
        }
        if build[0].runtime {
            return Err(LoadError::at(
                &build[0].span,
                format!(
                    "the build dependency of a filter element must not also be a runtime dependency: '{}'",
                    build[0].name
                ),
            )
            .with_hint("list it under 'build-depends'"));
        }
        config_list(element, "include")?;
        config_list(element, "exclude")?;
        config_bool(element, "include-orphans")?;
        config_bool(element, "pass-integration")?;
        Ok(())
    }
    fn unique_key(&self, element: &Element) -> Value {
        let sorted = |key| {
            let mut list = config_list(element, key).unwrap_or_default();
            list.sort();
            list
        };
        json!({
            "include": sorted("include"),
            "exclude": sorted("exclude"),
            "orphans": config_bool(element, "include-orphans").unwrap_or(false),
        })
    }
}
