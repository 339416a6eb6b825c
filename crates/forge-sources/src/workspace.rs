//! `workspace`: the source that stands for all of an element's sources
//! while a workspace is open on it (`forge workspace open`): a directory
//! the user edits, keyed by its content like a `local` directory, its git
//! repositories (`.git`) left out: builds see the sources as they would
//! from the pins. Loading makes it; an element file cannot name it.

use std::path::Path;

use forge_project::{KeyContext, LoadError, Project, Source, SourceKind};
use serde_json::{Value, json};

use crate::checks::required_str;
use crate::local::{copy_tree_but, is_workspace_private, workspace_digest};
use crate::runtime::{HereAlready, SourceContext, SourceError};

/// The `workspace` kind.
pub struct Workspace;

fn gone(path: &str, err: std::io::Error) -> String {
    format!(
        "the workspace directory {path} cannot be read ({err}); reopen it with `forge workspace open --force`, or close it"
    )
}

impl SourceKind for Workspace {
    fn name(&self) -> &'static str {
        forge_project::workspaces::SOURCE_KIND
    }
    fn config_keys(&self) -> &'static [&'static str] {
        &["path"]
    }
    fn validate(&self, source: &Source, _project: &Project) -> Result<(), LoadError> {
        Err(LoadError::at(
            &source.span,
            "the 'workspace' source kind stands for an open workspace and cannot be written in an element",
        )
        .with_hint("to edit an element's sources, run `forge workspace open ELEMENT`"))
    }
    fn info(&self, source: &Source, _project: &Project, ctx: &KeyContext<'_>) -> Vec<forge_project::SourceInfo> {
        let Ok(path) = required_str(source, "path") else {
            return Vec::new();
        };
        let digest = workspace_digest(Path::new(path), ctx.file_hashes).unwrap_or_default();
        let mut info = crate::checks::local_info(source, path, digest);
        info.medium = "workspace";
        vec![info]
    }
    fn unique_key(&self, source: &Source, ctx: &KeyContext<'_>) -> Result<Option<Value>, LoadError> {
        let path = required_str(source, "path")?;
        let digest = workspace_digest(Path::new(path), ctx.file_hashes).map_err(|e| LoadError::new(gone(path, e)))?;
        Ok(Some(json!({ "digest": digest })))
    }
    fn needs_fetch(&self) -> bool {
        false
    }
}

impl HereAlready for Workspace {
    fn stage_here(&self, source: &Source, _ctx: &SourceContext<'_>, dir: &Path) -> Result<(), SourceError> {
        let path = required_str(source, "path").map_err(|e| SourceError::new(e.to_string()))?;
        copy_tree_but(Path::new(path), dir, is_workspace_private).map_err(|e| SourceError::new(gone(path, e)))
    }
}
