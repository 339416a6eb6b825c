//! forge's source kinds.
//!
//! Each kind is one file implementing [`forge_project::SourceKind`]: the
//! keys it accepts, the checks on them, and its unique key (the pin, never a
//! mirror or an alias value). [`register`] adds them all to a registry.

use std::sync::Arc;

use forge_project::KindRegistry;

mod checks;
mod git;
pub mod local;
mod patch;
mod remote;
mod tar;

/// Adds every source kind forge knows to `registry`.
pub fn register(registry: &mut KindRegistry) {
    registry.add_source(Arc::new(local::Local));
    registry.add_source(Arc::new(remote::Remote));
    registry.add_source(Arc::new(tar::Tar));
    registry.add_source(Arc::new(git::Git));
    registry.add_source(Arc::new(patch::Patch));
}
