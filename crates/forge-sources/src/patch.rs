//! `patch`: a project file applied to the sources staged before it.

use forge_project::{KeyContext, LoadError, Project, Source, SourceKind};
use serde_json::{Value, json};

use std::fs;
use std::path::{Component, Path};

use diffy::patch_set::{FileOperation, ParseOptions, PatchSet};

use crate::checks::{check_project_path, optional_str, required_str, span_of};
use crate::local::tree_digest;
use crate::runtime::{HereAlready, SourceContext, SourceError};

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
    fn info(&self, source: &Source, _project: &Project, ctx: &KeyContext<'_>) -> Vec<forge_project::SourceInfo> {
        let Ok(path) = required_str(source, "path") else {
            return Vec::new();
        };
        let digest = tree_digest(&ctx.project_dir.join(path), ctx.file_hashes).unwrap_or_default();
        vec![crate::checks::local_info(source, path, digest)]
    }
    fn unique_key(&self, source: &Source, ctx: &KeyContext<'_>) -> Result<Option<Value>, LoadError> {
        let path = required_str(source, "path")?;
        let digest = tree_digest(&ctx.project_dir.join(path), ctx.file_hashes)
            .map_err(|e| LoadError::at(span_of(source, "path"), format!("cannot read '{path}': {e}")))?;
        Ok(Some(
            json!({ "path": path, "digest": digest, "strip-level": strip_level(source)? }),
        ))
    }
    fn needs_fetch(&self) -> bool {
        false
    }
}

impl HereAlready for Patch {
    fn stage_here(&self, source: &Source, ctx: &SourceContext<'_>, dir: &Path) -> Result<(), SourceError> {
        let path = required_str(source, "path").map_err(|e| SourceError::new(e.to_string()))?;
        let level = strip_level(source).map_err(|e| SourceError::new(e.to_string()))? as usize;
        let text = fs::read_to_string(ctx.project.dir.join(path))
            .map_err(|e| SourceError::new(format!("cannot read the patch '{path}': {e}")))?;
        apply_patch(&text, level, dir).map_err(|why| SourceError::new(format!("cannot apply '{path}': {why}")))
    }
}

/// Applies a unified or git diff to the files under `dir`, stripping
/// `level` leading components from the paths it names.
pub fn apply_patch(text: &str, level: usize, dir: &Path) -> Result<(), String> {
    if fs::read_dir(dir).map(|mut d| d.next().is_none()).unwrap_or(true) {
        return Err("there are no sources staged before it to patch".into());
    }
    let options = if text.lines().any(|l| l.starts_with("diff --git ")) {
        ParseOptions::gitdiff()
    } else {
        ParseOptions::unidiff()
    };
    let mut applied = 0;
    for file in PatchSet::parse(text, options) {
        let file = file.map_err(|e| format!("not a patch: {e}"))?;
        let patch = file.patch().as_text().ok_or("binary patches are not supported")?;
        let target = |name: &str| -> Result<std::path::PathBuf, String> {
            let stripped: std::path::PathBuf = Path::new(name).components().skip(level).collect();
            if stripped.as_os_str().is_empty() || stripped.components().any(|c| !matches!(c, Component::Normal(_))) {
                return Err(format!(
                    "the patch names '{name}', which is not a path inside the sources"
                ));
            }
            Ok(dir.join(stripped))
        };
        match file.operation() {
            FileOperation::Create(name) => {
                let path = target(name)?;
                let new = diffy::apply("", patch).map_err(|e| format!("{name}: {e}"))?;
                if let Some(parent) = path.parent() {
                    fs::create_dir_all(parent).map_err(|e| e.to_string())?;
                }
                fs::write(&path, new).map_err(|e| format!("{name}: {e}"))?;
            }
            FileOperation::Delete(name) => {
                let path = target(name)?;
                fs::remove_file(&path).map_err(|e| format!("{name}: {e}"))?;
            }
            FileOperation::Modify { original, modified } => {
                let from = target(original)?;
                let to = target(modified)?;
                let meta =
                    fs::symlink_metadata(&from).map_err(|_| format!("{original}: no such file in the sources"))?;
                if meta.file_type().is_symlink() {
                    return Err(format!(
                        "{original} is a symlink; forge does not patch through symlinks"
                    ));
                }
                let old = fs::read_to_string(&from).map_err(|e| format!("{original}: {e}"))?;
                let new = diffy::apply(&old, patch).map_err(|e| format!("{original}: {e}"))?;
                fs::write(&to, new).map_err(|e| format!("{modified}: {e}"))?;
                if from != to {
                    fs::remove_file(&from).map_err(|e| format!("{original}: {e}"))?;
                }
            }
            FileOperation::Rename { from, .. } | FileOperation::Copy { from, .. } => {
                return Err(format!("{from}: renames and copies in git patches are not supported"));
            }
        }
        applied += 1;
    }
    if applied == 0 {
        return Err("the file holds no patch".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applies_multi_file_patches_with_strip_level() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("src")).unwrap();
        fs::write(dir.path().join("src/a.c"), "one\ntwo\nthree\n").unwrap();
        fs::write(dir.path().join("README"), "hello\n").unwrap();
        let patch = "--- a/src/a.c\n+++ b/src/a.c\n@@ -1,3 +1,3 @@\n one\n-two\n+TWO\n three\n--- a/README\n+++ b/README\n@@ -1 +1,2 @@\n hello\n+world\n--- /dev/null\n+++ b/NEW\n@@ -0,0 +1 @@\n+new file\n";
        apply_patch(patch, 1, dir.path()).unwrap();
        assert_eq!(
            fs::read_to_string(dir.path().join("src/a.c")).unwrap(),
            "one\nTWO\nthree\n"
        );
        assert_eq!(fs::read_to_string(dir.path().join("README")).unwrap(), "hello\nworld\n");
        assert_eq!(fs::read_to_string(dir.path().join("NEW")).unwrap(), "new file\n");
    }

    #[test]
    fn refuses_bad_patches() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("a"), "x\n").unwrap();
        let escape = "--- a/../evil\n+++ b/../evil\n@@ -1 +1 @@\n-x\n+y\n";
        assert!(
            apply_patch(escape, 1, dir.path())
                .unwrap_err()
                .contains("not a path inside")
        );
        let mismatch = "--- a/a\n+++ b/a\n@@ -1 +1 @@\n-nope\n+y\n";
        assert!(apply_patch(mismatch, 1, dir.path()).is_err());
        let empty = tempfile::tempdir().unwrap();
        assert!(
            apply_patch(mismatch, 1, empty.path())
                .unwrap_err()
                .contains("no sources staged")
        );
    }
}
