//! A source kind forge loads, checks and keys as BuildStream does, but
//! cannot fetch yet: freedesktop-sdk's local `ostree_mirror` (whole
//! OSTree repositories mirrored into the staging directory). A project
//! that declares it loads and shows; `forge fetch`, `track` and `build` of
//! an element that uses one fail with an error saying so (docs/format.md
//! lists it).

use std::path::Path;

use forge_project::{KeyContext, LoadError, Project, Source, SourceKind};
use serde_json::{Value, json};

use crate::checks::{check_project_path, optional_str, span_of};
use crate::runtime::{SourceContext, SourceError, SourceRuntime, Tracked};

fn not_yet(source: &Source, what: &str) -> SourceError {
    let why = "pulling from OSTree repositories";
    SourceError::new(format!(
        "forge cannot {what} '{}' sources yet: it does not implement {why}; build this element with bst, \
         or replace the source by a pinned tar or remote source",
        source.kind
    ))
}

/// Refuses every runtime operation of a kind forge cannot fetch.
macro_rules! no_runtime {
    ($kind:ty) => {
        impl SourceRuntime for $kind {
            fn is_cached(&self, _source: &Source, _cache: &crate::SourceCache) -> bool {
                false
            }
            fn fetch(&self, source: &Source, _ctx: &SourceContext<'_>) -> Result<(), SourceError> {
                Err(not_yet(source, "fetch"))
            }
            fn track(&self, source: &Source, _ctx: &SourceContext<'_>) -> Result<Option<Tracked>, SourceError> {
                Err(not_yet(source, "track"))
            }
            fn stage(&self, source: &Source, _ctx: &SourceContext<'_>, _dir: &Path) -> Result<(), SourceError> {
                Err(not_yet(source, "stage"))
            }
        }
    };
}

/// freedesktop-sdk's local `ostree_mirror`.
pub struct OstreeMirror;

impl SourceKind for OstreeMirror {
    fn name(&self) -> &'static str {
        "ostree_mirror"
    }
    fn config_keys(&self) -> &'static [&'static str] {
        &["match", "path", "url", "ref", "gpg"]
    }
    fn validate(&self, source: &Source, project: &Project) -> Result<(), LoadError> {
        match optional_str(source, "url")? {
            Some(url) => project.check_url_alias(url, span_of(source, "url"))?,
            None => check_project_path(source, project, "path")?,
        }
        check_project_path(source, project, "gpg")?;
        optional_str(source, "match")?;
        if let Some(list) = source.get("ref") {
            let items = list
                .as_list()
                .ok_or_else(|| LoadError::at(&list.span, "'ref' is a list of {ref, checksum}"))?;
            for item in items {
                let map = item
                    .as_map()
                    .ok_or_else(|| LoadError::at(&item.span, "a ref entry is a mapping of ref and checksum"))?;
                forge_project::error::check_keys(map, &["ref", "checksum"], "an ostree_mirror ref")?;
            }
        }
        Ok(())
    }
    fn unique_key(&self, source: &Source, _ctx: &KeyContext<'_>) -> Result<Option<Value>, LoadError> {
        let url = optional_str(source, "url")?.or(optional_str(source, "path")?);
        let refs = source.get("ref").map(forge_project::keys::node_to_json);
        Ok(Some(json!([url, refs])))
    }
}

no_runtime!(OstreeMirror);
