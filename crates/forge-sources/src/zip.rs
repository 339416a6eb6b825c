//! `zip` (buildstream-plugins-community): a zip archive downloaded from a
//! URL, pinned by the sha256 of the archive, extracted from `base-dir`.

use std::fs;
use std::path::Path;

use forge_project::{KeyContext, LoadError, Project, Source, SourceKind};
use serde_json::Value;

use crate::checks::{optional_str, required_str};
use crate::extract::{extract_zip, find_base_dir};
use crate::files;
use crate::runtime::{SourceContext, SourceError, SourceRuntime, Tracked};
use crate::tar::{move_contents, tempdir_in};

/// The `zip` kind.
pub struct Zip;

impl SourceKind for Zip {
    fn name(&self) -> &'static str {
        "zip"
    }
    fn config_keys(&self) -> &'static [&'static str] {
        files::ARCHIVE_KEYS
    }
    fn validate(&self, source: &Source, project: &Project) -> Result<(), LoadError> {
        files::validate_archive(source, project)
    }
    fn unique_key(&self, source: &Source, _ctx: &KeyContext<'_>) -> Result<Option<Value>, LoadError> {
        files::archive_key(source)
    }
}

impl SourceRuntime for Zip {
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
        let url = required_str(source, "url").map_err(|e| SourceError::new(e.to_string()))?;
        let fail = |what: &str, e: std::io::Error| SourceError::new(format!("cannot {what} {url}: {e}"));
        let scratch = tempdir_in(dir).map_err(|e| fail("stage", e))?;
        let result = (|| {
            extract_zip(&ctx.cache.file_path(&sha), &scratch).map_err(|e| fail("extract", e))?;
            let pattern = optional_str(source, "base-dir")
                .map_err(|e| SourceError::new(e.to_string()))?
                .unwrap_or("*");
            let base = find_base_dir(&scratch, pattern).map_err(|e| fail("stage", e))?;
            move_contents(&base, dir, &scratch).map_err(|e| fail("stage", e))
        })();
        let _ = fs::remove_dir_all(&scratch);
        result
    }
}
