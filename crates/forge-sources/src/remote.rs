//! `remote`: one file downloaded from a URL, pinned by its sha256.

use forge_project::{KeyContext, LoadError, Project, Source, SourceKind};
use serde_json::{Value, json};

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::checks::{check_sha256_ref, check_url, optional_bool, optional_str, required_str, span_of};
use crate::files;
use crate::runtime::{SourceContext, SourceError, SourceRuntime, Tracked};

/// The `remote` kind.
pub struct Remote;

impl SourceKind for Remote {
    fn name(&self) -> &'static str {
        "remote"
    }
    fn config_keys(&self) -> &'static [&'static str] {
        &[
            "url",
            "ref",
            "filename",
            "executable",
            "version",
            "version-guess-pattern",
        ]
    }
    fn validate(&self, source: &Source, project: &Project) -> Result<(), LoadError> {
        check_url(source, project)?;
        check_sha256_ref(source)?;
        optional_bool(source, "executable")?;
        if let Some(name) = optional_str(source, "filename")?
            && (name.contains('/') || name.is_empty() || name == "." || name == "..")
        {
            return Err(LoadError::at(
                span_of(source, "filename"),
                format!("'filename' must be a plain file name, not '{name}'"),
            ));
        }
        Ok(())
    }
    fn unique_key(&self, source: &Source, _ctx: &KeyContext<'_>) -> Result<Option<Value>, LoadError> {
        let Some(reference) = optional_str(source, "ref")? else {
            return Ok(None);
        };
        let url = required_str(source, "url")?;
        let filename = match optional_str(source, "filename")? {
            Some(name) => name.to_string(),
            None => url.rsplit('/').next().unwrap_or(url).to_string(),
        };
        Ok(Some(json!({
            "url": url,
            "sha256": reference.to_ascii_lowercase(),
            "filename": filename,
            "executable": optional_bool(source, "executable")?.unwrap_or(false),
        })))
    }
}

fn filename(source: &Source) -> Result<String, SourceError> {
    if let Some(name) = optional_str(source, "filename").map_err(|e| SourceError::new(e.to_string()))? {
        return Ok(name.to_string());
    }
    let url = required_str(source, "url").map_err(|e| SourceError::new(e.to_string()))?;
    Ok(url.rsplit(['/', ':']).next().unwrap_or(url).to_string())
}

impl SourceRuntime for Remote {
    fn is_cached(&self, source: &Source, cache: &crate::SourceCache) -> bool {
        files::is_cached(source, cache)
    }
    fn fetch(&self, source: &Source, ctx: &SourceContext<'_>) -> Result<(), SourceError> {
        files::fetch(source, ctx)
    }
    fn track(&self, source: &Source, ctx: &SourceContext<'_>) -> Result<Option<Tracked>, SourceError> {
        files::track(source, ctx)
    }
    fn stage(&self, source: &Source, ctx: &SourceContext<'_>, dir: &Path) -> Result<(), SourceError> {
        let sha = files::pin(source).ok_or_else(|| SourceError::new("the source has no ref"))?;
        let cached = ctx.cache.file_path(&sha);
        let name = filename(source)?;
        let target = dir.join(&name);
        fs::copy(&cached, &target).map_err(|e| {
            SourceError::new(format!(
                "cannot stage {name} from the cache ({}): {e}; run `forge fetch`",
                cached.display()
            ))
        })?;
        let executable = optional_bool(source, "executable")
            .map_err(|e| SourceError::new(e.to_string()))?
            .unwrap_or(false);
        let mode = if executable { 0o755 } else { 0o644 };
        fs::set_permissions(&target, fs::Permissions::from_mode(mode))
            .map_err(|e| SourceError::new(format!("cannot set the mode of {name}: {e}")))
    }
}
