//! What forge checks before it trusts a pin: advisories, and what a pin
//! change brings ([`review`]).
//!
//! An advisory snapshot is a set of OSV records read from pinned files
//! (OSV JSON, the PyPA advisory database's YAML, OSV export zips, the
//! Debian security tracker's JSON); [`Snapshot::findings`] matches one
//! pinned package against it as the OSV schema says (ranges in the
//! ecosystem's own version order, `versions` lists, withdrawn records
//! skipped) and merges records that are aliases of each other into one
//! finding. Pure functions over pins and files: no network, no clock.

pub mod cvss;
mod debian_tracker;
pub mod osv;
pub mod review;
pub mod snapshot;

pub use osv::{Ecosystem, Record};
pub use snapshot::{Finding, Package, Severity, Snapshot, SnapshotError};
