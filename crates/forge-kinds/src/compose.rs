//! `compose`: the staged build dependencies, integrated, filtered by split
//! domains.

use forge_project::{Element, ElementKind, LoadError};
use std::collections::HashSet;
use std::path::PathBuf;

use forge_cas::StageMode;

use crate::build::{Assemble, BuildContext, BuildError, config_flag, config_strings, select_split, split_rules};
use serde_json::{Value, json};

use crate::checks::{config_bool, config_list, no_runtime_deps, no_sources, sorted_config_list};

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
        let sorted = |key| sorted_config_list(element, key);
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

impl Assemble for Compose {
    fn assemble(&self, ctx: &mut BuildContext<'_>) -> Result<PathBuf, BuildError> {
        let root = ctx.dir("root")?;
        ctx.stage_deps(&root, StageMode::Copy)?;
        let include = config_strings(ctx.element, "include");
        let exclude = config_strings(ctx.element, "exclude");
        let orphans = config_flag(ctx.element, "include-orphans", true);
        if config_flag(ctx.element, "integrate", true) && ctx.has_integration() {
            ctx.integrate(&root)?;
        }
        // Mount points made for the sandbox are not part of the output.
        for dir in ["dev", "proc", "tmp"] {
            let _ = std::fs::remove_dir(root.join(dir));
        }
        if include.is_empty() && exclude.is_empty() && orphans {
            return Ok(root);
        }
        let mut staged: HashSet<String> = HashSet::new();
        let mut kept: HashSet<String> = HashSet::new();
        for dep in &ctx.deps {
            let rules = split_rules(&dep.record.public);
            staged.extend(dep.manifest()?.entries.iter().map(|e| e.path.clone()));
            kept.extend(select_split(dep.manifest()?, &rules, &include, &exclude, orphans));
        }
        // Files from the dependencies that the split rules do not keep are
        // removed; files that integration added stay.
        for path in staged.difference(&kept) {
            let full = root.join(path);
            if std::fs::symlink_metadata(&full).is_ok_and(|m| !m.is_dir()) {
                std::fs::remove_file(&full).map_err(|e| BuildError(format!("cannot drop {path}: {e}")))?;
            }
        }
        Ok(root)
    }
}
