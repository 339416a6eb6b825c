//! forge's artifact cache.
//!
//! Files are stored once, by the SHA-256 of their content (and their exec
//! bit, so an object can be hardlinked with the right mode), read-only.
//! An artifact's tree is a [`Manifest`] — sorted entries of path, type,
//! exec bit, size, digest, symlink target; no times, no owners — stored as
//! REAPI `Directory` messages, so the objects are exactly the blobs a
//! remote REAPI cache holds; an [`ArtifactRecord`] names it under
//! `project/element/key`. Every write goes to an unnamed file (or a
//! temporary name) and is given its name once complete: a crash leaves
//! the old state or the new one.

mod manifest;
mod objects_at;
pub mod reapi;
mod stage_at;
mod store;

pub use manifest::{Entry, EntryKind, Manifest};
pub use store::{ArtifactRecord, Cas, FORMAT, ObjectWriter, StageMode, TreeWriter, VerifyReport, describe_dir};
