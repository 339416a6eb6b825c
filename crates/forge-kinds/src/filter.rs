//! `filter`: part of one dependency's artifact, selected by split domains.

use forge_project::{Element, ElementKind, LoadError};
use std::path::PathBuf;

use crate::build::{Assemble, BuildContext, BuildError, config_flag, config_strings, split_manifest, split_rules};
use serde_json::{Value, json};

use crate::checks::{config_bool, config_list, no_sources, sorted_config_list};

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
    fn validate_dependencies(
        &self,
        element: &Element,
        dependencies: &[(&Element, &dyn ElementKind)],
    ) -> Result<(), LoadError> {
        let parent = element.dependencies.iter().zip(dependencies).find(|(d, _)| d.build);
        if let Some((declared, (dep, kind))) = parent
            && !kind.produces_artifact()
        {
            return Err(LoadError::at(
                &declared.span,
                format!(
                    "the build dependency of a filter element must produce an artifact: {} does not",
                    dep.name
                ),
            )
            .with_detail(format!(
                "{} is a '{}' element, so there is nothing to filter",
                dep.name, dep.kind
            )));
        }
        Ok(())
    }
    fn unique_key(&self, element: &Element) -> Value {
        let sorted = |key| sorted_config_list(element, key);
        json!({
            "include": sorted("include"),
            "exclude": sorted("exclude"),
            "orphans": config_bool(element, "include-orphans").unwrap_or(false),
        })
    }
}

impl Assemble for Filter {
    fn assemble(&self, ctx: &mut BuildContext<'_>) -> Result<PathBuf, BuildError> {
        let parent_name = ctx
            .element
            .dependencies
            .iter()
            .find(|d| d.build)
            .map(|d| d.name.clone())
            .ok_or_else(|| BuildError("a filter element needs one build dependency".into()))?;
        let dep = ctx
            .deps
            .iter()
            .find(|d| d.element.name == parent_name)
            .ok_or_else(|| BuildError(format!("{parent_name} is not staged")))?;
        let rules = split_rules(&dep.record.public);
        let include = config_strings(ctx.element, "include");
        let exclude = config_strings(ctx.element, "exclude");
        for domain in include.iter().chain(&exclude) {
            if !rules.iter().any(|(d, _)| d == domain) {
                return Err(BuildError(format!("{parent_name} has no split domain '{domain}'")));
            }
        }
        let manifest = split_manifest(
            dep.manifest()?,
            &rules,
            &include,
            &exclude,
            config_flag(ctx.element, "include-orphans", false),
        );
        let output = ctx.dir("output")?;
        ctx.cas
            .stage(&manifest, &output, forge_cas::StageMode::Copy)
            .map_err(|e| BuildError(format!("cannot stage {parent_name}: {e}")))?;
        Ok(output)
    }
}
