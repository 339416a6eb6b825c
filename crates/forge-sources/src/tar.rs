//! `tar`: an archive downloaded from a URL, pinned by the sha256 of the
//! archive file, extracted from `base-dir`.

use forge_project::{KeyContext, LoadError, Project, Source, SourceKind};
use serde_json::{Value, json};

use crate::checks::{check_sha256_ref, check_url, optional_str, required_str};

/// The `tar` kind.
pub struct Tar;

impl SourceKind for Tar {
    fn name(&self) -> &'static str {
        "tar"
    }
    fn config_keys(&self) -> &'static [&'static str] {
        &["url", "ref", "base-dir", "version", "version-guess-pattern"]
    }
    fn validate(&self, source: &Source, project: &Project) -> Result<(), LoadError> {
        check_url(source, project)?;
        check_sha256_ref(source)?;
        optional_str(source, "base-dir")?;
        Ok(())
    }
    fn unique_key(&self, source: &Source, _ctx: &KeyContext<'_>) -> Result<Option<Value>, LoadError> {
        let Some(reference) = optional_str(source, "ref")? else {
            return Ok(None);
        };
        Ok(Some(json!({
            "url": required_str(source, "url")?,
            "sha256": reference.to_ascii_lowercase(),
            "base-dir": optional_str(source, "base-dir")?.unwrap_or("*"),
        })))
    }
}
