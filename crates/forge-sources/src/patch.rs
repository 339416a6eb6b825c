//! `patch`: a project file applied to the sources staged before it.

use forge_project::{KeyContext, LoadError, Project, Source, SourceKind};
use serde_json::{Value, json};

use crate::checks::{check_project_path, optional_str, required_str, span_of};
use crate::local::tree_digest;

/// The `patch` kind.
pub struct Patch;

fn strip_level(source: &Source) -> Result<u32, LoadError> {
    match optional_str(source, "strip-level")? {
        None => Ok(1),
        Some(text) => text.parse().map_err(|_| {
            LoadError::at(
                span_of(source, "strip-level"),
                format!("'strip-level' must be a number, not '{text}'"),
            )
        }),
    }
}

impl SourceKind for Patch {
    fn name(&self) -> &'static str {
        "patch"
    }
    fn config_keys(&self) -> &'static [&'static str] {
        &["path", "strip-level"]
    }
    fn validate(&self, source: &Source, project: &Project) -> Result<(), LoadError> {
        check_project_path(source, project, "path")?;
        let path = required_str(source, "path")?;
        if !project.dir.join(path).is_file() {
            return Err(LoadError::at(
                span_of(source, "path"),
                format!("the patch '{path}' must be a regular file"),
            ));
        }
        strip_level(source)?;
        Ok(())
    }
    fn unique_key(&self, source: &Source, ctx: &KeyContext<'_>) -> Result<Option<Value>, LoadError> {
        let path = required_str(source, "path")?;
        let digest = tree_digest(&ctx.project_dir.join(path))
            .map_err(|e| LoadError::at(span_of(source, "path"), format!("cannot read '{path}': {e}")))?;
        Ok(Some(
            json!({ "path": path, "digest": digest, "strip-level": strip_level(source)? }),
        ))
    }
    fn needs_fetch(&self) -> bool {
        false
    }
}
