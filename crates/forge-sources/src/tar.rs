//! `tar`: an archive downloaded from a URL, pinned by the sha256 of the
//! archive file, extracted from `base-dir`.

use forge_project::{KeyContext, LoadError, Project, Source, SourceKind};
use serde_json::Value;

use std::fs;
use std::path::Path;

use crate::checks::{optional_str, required_str};
use crate::extract::{extract_tar, find_base_dir, open_compressed};
use crate::files;
use crate::runtime::{SourceContext, SourceError, SourceRuntime, Tracked};

/// The `tar` kind.
pub struct Tar;

impl SourceKind for Tar {
    fn name(&self) -> &'static str {
        "tar"
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

impl SourceRuntime for Tar {
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
        let archive = ctx.cache.file_path(&sha);
        let url = required_str(source, "url").map_err(|e| SourceError::new(e.to_string()))?;
        let fail = |what: &str, e: std::io::Error| SourceError::new(format!("cannot {what} {url}: {e}"));
        let reader = open_compressed(&archive).map_err(|e| fail("open the cached archive of", e))?;
        // Extract beside the target, then move the base directory's
        // contents in: the archive's layout never decides where files land.
        let scratch = tempdir_in(dir).map_err(|e| fail("stage", e))?;
        let result = (|| {
            let report = extract_tar(reader, &scratch).map_err(|e| fail("extract", e))?;
            for warning in report.warnings {
                ctx.progress.warn(&format!("{url}: {warning}"));
            }
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

pub(crate) fn tempdir_in(dir: &Path) -> std::io::Result<std::path::PathBuf> {
    for n in 0..1000 {
        let candidate = dir.join(format!(".forge-extract-{}-{n}", std::process::id()));
        match fs::create_dir(&candidate) {
            Ok(()) => return Ok(candidate),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other("cannot make a scratch directory"))
}

/// Moves everything in `from` into `to`, merging directories; `skip` (the
/// scratch directory itself) is left alone.
pub(crate) fn move_contents(from: &Path, to: &Path, skip: &Path) -> std::io::Result<()> {
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let source = entry.path();
        let target = to.join(entry.file_name());
        if target == skip {
            continue;
        }
        let meta = fs::symlink_metadata(&source)?;
        match fs::symlink_metadata(&target) {
            Ok(existing) if existing.is_dir() && meta.is_dir() => move_contents(&source, &target, skip)?,
            Ok(existing) if existing.is_dir() => {
                fs::remove_dir_all(&target)?;
                fs::rename(&source, &target)?;
            }
            Ok(_) => {
                fs::remove_file(&target)?;
                fs::rename(&source, &target)?;
            }
            Err(_) => fs::rename(&source, &target)?,
        }
    }
    Ok(())
}
