//! forge's source kinds.
//!
//! Each kind is one file implementing [`forge_project::SourceKind`] (the
//! keys it accepts, the checks on them, its unique key: the pin, never a
//! mirror or an alias value) and [`SourceRuntime`] (fetch into the
//! [`SourceCache`], track upstream, stage offline). [`register`] adds them
//! all to a registry; [`runtime`] finds the runtime side by name.

use std::sync::Arc;

use forge_project::KindRegistry;

pub mod cache;
mod checks;
pub mod deb;
pub mod download;
pub mod extract;
mod files;
mod git;
pub mod local;
mod patch;
pub mod pypi;
mod remote;
pub mod runtime;
mod tar;

pub use cache::SourceCache;
pub use download::{Downloader, NoProgress, Progress};
pub use runtime::{SourceContext, SourceError, SourceRuntime, Tracked, runtime};

/// Adds every source kind forge knows to `registry`.
pub fn register(registry: &mut KindRegistry) {
    registry.add_source(Arc::new(local::Local));
    registry.add_source(Arc::new(remote::Remote));
    registry.add_source(Arc::new(tar::Tar));
    registry.add_source(Arc::new(git::Git));
    registry.add_source(Arc::new(patch::Patch));
    registry.add_source(Arc::new(pypi::Pypi));
    registry.add_source(Arc::new(deb::Deb));
}
