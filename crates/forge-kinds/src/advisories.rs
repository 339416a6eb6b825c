//! `advisories`: an advisory snapshot as a pinned element. Its sources
//! are OSV data (an export zip, a git repository of records such as the
//! PyPA advisory database, the Debian security tracker's JSON), pinned
//! like any other source, so that `forge audit` answers the same on
//! every machine and `forge track` refreshes it reviewably. Building it
//! checks that every record reads and keeps the files read as its
//! artifact.

use std::path::{Path, PathBuf};

use forge_project::{Element, ElementKind, LoadError};
use serde_json::{Value, json};

use crate::build::{Assemble, BuildContext, BuildError, host_path, move_contents};
use crate::checks::config_list;

/// The `advisories` kind.
pub struct Advisories;

/// The paths of the staged sources an advisories element reads.
pub fn advisory_paths(element: &Element) -> Vec<String> {
    config_list(element, "paths").unwrap_or_else(|_| vec!["/".into()])
}

/// Adds the records of `staged`, the element's staged sources, to
/// `snapshot`.
pub fn load_snapshot(element: &Element, staged: &Path, snapshot: &mut forge_trust::Snapshot) -> Result<(), String> {
    for path in advisory_paths(element) {
        let at = host_path(staged, &path);
        if !at.exists() {
            return Err(format!(
                "{}: 'paths' names '{path}', which is not in its staged sources",
                element.name
            ));
        }
        snapshot
            .add_path(&at)
            .map_err(|e| format!("{}: {}: {}", element.name, relative(staged, &e.file), e.message))?;
    }
    Ok(())
}

fn relative(root: &Path, file: &Path) -> String {
    file.strip_prefix(root).unwrap_or(file).display().to_string()
}

impl ElementKind for Advisories {
    fn name(&self) -> &'static str {
        "advisories"
    }
    fn defaults(&self) -> &'static str {
        include_str!("../data/advisories.yaml")
    }
    fn runs_commands(&self, _element: &Element) -> bool {
        false
    }
    fn config_keys(&self) -> &'static [&'static str] {
        &["paths"]
    }
    fn validate(&self, element: &Element) -> Result<(), LoadError> {
        config_list(element, "paths")?;
        if element.sources.is_empty() {
            return Err(LoadError::at(
                &element.kind_span,
                "an advisories element needs sources: the OSV data it holds",
            ));
        }
        Ok(())
    }
    fn unique_key(&self, element: &Element) -> Value {
        json!({ "paths": advisory_paths(element) })
    }
}

impl Assemble for Advisories {
    fn assemble(&self, ctx: &mut BuildContext<'_>) -> Result<PathBuf, BuildError> {
        let input = ctx.dir("input")?;
        ctx.stage_sources(&input)?;
        load_snapshot(ctx.element, &input, &mut forge_trust::Snapshot::new()).map_err(BuildError)?;
        let output = ctx.dir("output")?;
        for path in advisory_paths(ctx.element) {
            let from = host_path(&input, &path);
            let to = host_path(&output, &path);
            if from.is_dir() {
                move_contents(&from, &to)?;
            } else if from.exists() {
                if let Some(parent) = to.parent() {
                    std::fs::create_dir_all(parent).map_err(|e| BuildError(e.to_string()))?;
                }
                std::fs::rename(&from, &to).map_err(|e| BuildError(e.to_string()))?;
            }
        }
        Ok(output)
    }
}
