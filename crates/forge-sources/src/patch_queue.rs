//! `patch_queue` (buildstream-plugins-community): every file of a project
//! directory, in name order, applied as a patch (strip level 1, as `git
//! apply`) to the sources staged before it.

use std::fs;
use std::path::{Path, PathBuf};

use forge_project::{KeyContext, LoadError, Project, Source, SourceKind};
use serde_json::{Value, json};

use crate::checks::{check_project_path, required_str, span_of};
use crate::local::tree_digest;
use crate::patch::apply_patch;
use crate::runtime::{HereAlready, SourceContext, SourceError};

/// The `patch_queue` kind.
pub struct PatchQueue;

/// The patches of the queue in `dir`, in the order they apply.
fn patches(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    files.sort();
    Ok(files)
}

impl SourceKind for PatchQueue {
    fn name(&self) -> &'static str {
        "patch_queue"
    }
    fn config_keys(&self) -> &'static [&'static str] {
        &["path"]
    }
    fn validate(&self, source: &Source, project: &Project) -> Result<(), LoadError> {
        check_project_path(source, project, "path")?;
        let path = required_str(source, "path")?;
        if !project.dir.join(path).is_dir() {
            return Err(LoadError::at(
                span_of(source, "path"),
                format!("the patch queue '{path}' must be a directory"),
            ));
        }
        Ok(())
    }
    fn info(&self, source: &Source, _project: &Project, ctx: &KeyContext<'_>) -> Vec<forge_project::SourceInfo> {
        let Ok(path) = required_str(source, "path") else {
            return Vec::new();
        };
        patches(&ctx.project_dir.join(path))
            .unwrap_or_default()
            .iter()
            .map(|patch| {
                let name = patch
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let digest = tree_digest(patch, ctx.file_hashes).unwrap_or_default();
                crate::checks::local_info(source, &format!("{path}/{name}"), digest)
            })
            .collect()
    }
    fn unique_key(&self, source: &Source, ctx: &KeyContext<'_>) -> Result<Option<Value>, LoadError> {
        let path = required_str(source, "path")?;
        let dir = ctx.project_dir.join(path);
        let fail = |e: std::io::Error| LoadError::at(span_of(source, "path"), format!("cannot read '{path}': {e}"));
        let mut digests = Vec::new();
        for patch in patches(&dir).map_err(fail)? {
            digests.push(tree_digest(&patch, ctx.file_hashes).map_err(fail)?);
        }
        Ok(Some(json!({ "path": path, "patches": digests })))
    }
    fn needs_fetch(&self) -> bool {
        false
    }
}

impl HereAlready for PatchQueue {
    fn stage_here(&self, source: &Source, ctx: &SourceContext<'_>, dir: &Path) -> Result<(), SourceError> {
        let path = required_str(source, "path").map_err(|e| SourceError::new(e.to_string()))?;
        let queue = patches(&ctx.project.dir.join(path))
            .map_err(|e| SourceError::new(format!("cannot read the patch queue '{path}': {e}")))?;
        for patch in queue {
            let name = patch
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let text =
                fs::read_to_string(&patch).map_err(|e| SourceError::new(format!("cannot read {path}/{name}: {e}")))?;
            apply_patch(&text, 1, dir)
                .map_err(|why| SourceError::new(format!("failed to apply patches from {path}: {name}: {why}")))?;
        }
        Ok(())
    }
}
