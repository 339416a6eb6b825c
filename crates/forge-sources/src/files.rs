//! What `remote`, `tar` and `zip` share: one file pinned by sha256,
//! fetched through the URL's mirrors into the cache; and what the two
//! archive kinds share besides.

use forge_project::{LoadError, Project, Source, UrlPurpose};
use forge_yaml::edit::NewValue;
use serde_json::{Value, json};

use crate::checks::{check_sha256_ref, check_url, optional_str, required_str};

/// The keys of an archive source (`tar`, `zip`).
pub const ARCHIVE_KEYS: &[&str] = &["url", "ref", "base-dir", "version", "version-guess-pattern"];

/// Checks an archive source: its URL, its sha256 pin and `base-dir`.
pub fn validate_archive(source: &Source, project: &Project) -> Result<(), LoadError> {
    check_url(source, project)?;
    check_sha256_ref(source)?;
    optional_str(source, "base-dir")?;
    Ok(())
}

/// An archive source's key: URL, sha256 and the directory it stages.
pub fn archive_key(source: &Source) -> Result<Option<Value>, LoadError> {
    let Some(reference) = optional_str(source, "ref")? else {
        return Ok(None);
    };
    Ok(Some(json!({
        "url": required_str(source, "url")?,
        "sha256": reference.to_ascii_lowercase(),
        "base-dir": optional_str(source, "base-dir")?.unwrap_or("*"),
    })))
}
use crate::runtime::{SourceContext, SourceError, Tracked};

/// The pin of a file source, if it has one.
pub fn pin(source: &Source) -> Option<String> {
    optional_str(source, "ref")
        .ok()
        .flatten()
        .map(|r| r.to_ascii_lowercase())
}

fn label(url: &str) -> &str {
    url.rsplit('/').find(|p| !p.is_empty()).unwrap_or(url)
}

/// Whether the pinned file is cached.
pub fn is_cached(source: &Source, cache: &crate::SourceCache) -> bool {
    pin(source).is_some_and(|sha| cache.has_file(&sha))
}

/// Fetches the pinned file unless it is cached.
pub fn fetch(source: &Source, ctx: &SourceContext<'_>) -> Result<(), SourceError> {
    let url = required_str(source, "url").map_err(|e| SourceError::new(e.to_string()))?;
    let sha = pin(source).ok_or_else(|| SourceError::new(format!("{url} has no ref: run `forge track` first")))?;
    if ctx.cache.has_file(&sha) {
        ctx.offer_held(&sha);
        return Ok(());
    }
    // One process downloads a given file at a time; the others find it done.
    let _lock = ctx
        .cache
        .lock(&format!("file-{sha}"))
        .map_err(|e| SourceError::new(format!("cannot lock the source cache: {e}")))?;
    if ctx.cache.has_file(&sha) {
        return Ok(());
    }
    ctx.download(url, UrlPurpose::Fetch, label(url), Some(&sha))
        .map(|_| ())
        .map_err(|failure| failure.into_error(format!("cannot fetch {url} (sha256 {sha})")))
}

/// Downloads what the URL serves now and pins its sha256.
pub fn track(source: &Source, ctx: &SourceContext<'_>) -> Result<Option<Tracked>, SourceError> {
    let url = required_str(source, "url").map_err(|e| SourceError::new(e.to_string()))?;
    let done = ctx
        .download(url, UrlPurpose::Track, label(url), None)
        .map_err(|failure| failure.into_error(format!("cannot track {url}")))?;
    Ok(Some(Tracked {
        new_ref: NewValue::Scalar(done.sha256.clone()),
        new_display: done.sha256,
        old_display: pin(source),
        note: Some(format!("{} bytes from {}", done.size, done.url)),
        warning: None,
        commits: Vec::new(),
    }))
}
