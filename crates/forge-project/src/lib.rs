//! Loading BuildStream-format projects.
//!
//! Everything here is pure data work on the project's files: YAML nodes are
//! composed in BuildStream's order, directives and options are applied,
//! variables are expanded, elements come out fully resolved with every error
//! pointing at file, line and column, and the dependency graph and cache
//! keys are computed iteratively. Nothing here runs project code or touches
//! the network; element and source kinds plug in through [`kind`].

pub mod compose;
pub mod directives;
pub mod element;
pub mod error;
pub mod expr;
pub mod filehash;
pub mod graph;
pub mod junctions;
pub mod keys;
pub mod kind;
pub mod options;
pub mod parallel;
pub mod parsecache;
pub mod plugins;
pub mod project;
pub mod pysort;
pub mod refs;
pub mod variables;
pub mod workspaces;

pub use element::{Dependency, Element, Source};
pub use error::LoadError;
pub use graph::{Graph, Scope};
pub use keys::CacheKeys;
pub use kind::{ElementKind, KeyContext, KindRegistry, ProjectKinds, Provider, SourceInfo, SourceKind, guess_version};
pub use project::{LoadServices, LoadSettings, Project, UrlPurpose};
