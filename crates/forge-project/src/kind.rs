//! The traits element kinds and source kinds implement to take part in
//! loading, and the registry that finds them by name.
//!
//! Loading only needs what decides *what* is built: a kind's defaults, the
//! checks on its configuration, and its unique key. What a kind *does*
//! (fetching, staging, assembling) lives in the crates that own it.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde_json::Value as Json;

use crate::element::{Element, Source};
use crate::error::{LoadError, did_you_mean};
use crate::project::Project;

/// An element kind as loading sees it.
pub trait ElementKind: Send + Sync {
    /// The name written after `kind:`.
    fn name(&self) -> &'static str;
    /// The kind's default YAML (`variables`, `environment`, `config`,
    /// `public`, `sandbox`), as a BuildStream plugin's `.yaml` file.
    fn defaults(&self) -> &'static str {
        ""
    }
    /// Bumped whenever the kind's output changes for the same input; enters
    /// every cache key of this kind.
    fn version(&self) -> u32 {
        0
    }
    /// Whether the kind runs commands in a sandbox: then the environment and
    /// the sandbox settings enter its cache key.
    fn runs_commands(&self, element: &Element) -> bool;
    /// The keys allowed under `config:`.
    fn config_keys(&self) -> &'static [&'static str];
    /// Whether dependencies may carry `config:` (such as `location:`).
    fn accepts_dependency_config(&self) -> bool {
        false
    }
    /// Further checks of the resolved element: dependency shapes, sources,
    /// value types in `config`.
    fn validate(&self, _element: &Element) -> Result<(), LoadError> {
        Ok(())
    }
    /// The part of the element's configuration that decides its output.
    fn unique_key(&self, element: &Element) -> Json;
}

/// What a source kind may look at to compute its key.
pub struct KeyContext<'a> {
    /// The project's root directory (local paths are relative to it).
    pub project_dir: &'a Path,
    /// Digests of project files from earlier runs.
    pub file_hashes: &'a crate::filehash::FileHashCache,
}

/// A source kind as loading sees it.
pub trait SourceKind: Send + Sync {
    /// The name written after `kind:`.
    fn name(&self) -> &'static str;
    /// The keys allowed in a source entry besides `kind`, `directory` and
    /// `provenance`.
    fn config_keys(&self) -> &'static [&'static str];
    /// Checks the source's configuration (required keys, value forms, URL
    /// aliases).
    fn validate(&self, source: &Source, project: &Project) -> Result<(), LoadError>;
    /// The source's unique key: its pin as stable data, never a mirror or an
    /// alias value. `None` when the source has no pin yet (`no reference`).
    fn unique_key(&self, source: &Source, ctx: &KeyContext<'_>) -> Result<Option<Json>, LoadError>;
    /// Whether the source needs a fetch before it can be staged (local
    /// sources live in the project and never do).
    fn needs_fetch(&self) -> bool {
        true
    }
}

/// The element and source kinds forge knows, by name.
#[derive(Clone, Default)]
pub struct KindRegistry {
    elements: BTreeMap<&'static str, Arc<dyn ElementKind>>,
    sources: BTreeMap<&'static str, Arc<dyn SourceKind>>,
}

impl KindRegistry {
    /// Adds an element kind.
    pub fn add_element(&mut self, kind: Arc<dyn ElementKind>) {
        self.elements.insert(kind.name(), kind);
    }

    /// Adds a source kind.
    pub fn add_source(&mut self, kind: Arc<dyn SourceKind>) {
        self.sources.insert(kind.name(), kind);
    }

    /// The element kind called `name`.
    pub fn element(&self, name: &str) -> Option<&Arc<dyn ElementKind>> {
        self.elements.get(name)
    }

    /// The source kind called `name`.
    pub fn source(&self, name: &str) -> Option<&Arc<dyn SourceKind>> {
        self.sources.get(name)
    }

    /// Every element kind.
    pub fn element_kinds(&self) -> impl Iterator<Item = &Arc<dyn ElementKind>> {
        self.elements.values()
    }

    /// The error for an unknown kind, with the nearest known name.
    pub fn unknown_kind(&self, what: &str, name: &str, span: &forge_yaml::Span) -> LoadError {
        let known: Vec<&str> = if what == "element" {
            self.elements.keys().copied().collect()
        } else {
            self.sources.keys().copied().collect()
        };
        let err = LoadError::at(span, format!("unknown {what} kind '{name}'"));
        match did_you_mean(name, known.iter().copied()) {
            Some(near) => err.with_hint(format!("did you mean '{near}'?")),
            None => err.with_hint(format!("forge knows these {what} kinds: {}", known.join(", "))),
        }
    }
}
