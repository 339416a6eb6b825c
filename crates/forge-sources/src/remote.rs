//! `remote`: one file downloaded from a URL, pinned by its sha256.

use forge_project::{KeyContext, LoadError, Project, Source, SourceKind};
use serde_json::{Value, json};

use crate::checks::{check_sha256_ref, check_url, optional_bool, optional_str, required_str, span_of};

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
