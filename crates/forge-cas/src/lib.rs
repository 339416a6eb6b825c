//! forge's artifact cache.
//!
//! Files are stored once, by the blake3 digest of their content (and their
//! exec bit, so an object can be hardlinked with the right mode), read-only.
//! An artifact is a [`Manifest`] — sorted entries of path, type, exec bit,
//! size, digest, symlink target; no times, no owners — plus an
//! [`ArtifactRecord`] naming it under `project/element/key`. Every write goes
//! to a temporary name and is renamed into place: a crash leaves the old
//! state or the new one.

mod manifest;
mod store;

pub use manifest::{Entry, EntryKind, Manifest};
pub use store::{ArtifactRecord, Cas, StageMode, TreeWriter, VerifyReport};
