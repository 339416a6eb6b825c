//! Python packaging for forge.
//!
//! Names (PEP 503), file names of wheels and sdists, compatibility tags,
//! PEP 440 versions and specifiers (through `pep440_rs`), simple index
//! pages (PEP 691 JSON and PEP 503 HTML), and installing a wheel without
//! running any of its code: RECORD checked file by file, `.data` routed,
//! entry points written, deterministic output.

pub mod index;
pub mod install;
pub mod intent;
pub mod lockfile;
pub mod markers;
pub mod metadata;
pub mod names;
pub mod requirement;
pub mod resolve;
pub mod tags;
pub mod typosquat;
pub mod wheel_zip;

pub use pep440_rs::{Version, VersionSpecifiers};
