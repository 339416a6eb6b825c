//! Loading BuildStream-format projects.
//!
//! Everything here is pure data work on files already read: YAML nodes are
//! composed in BuildStream's order, directives and options are applied,
//! variables are expanded, and elements come out fully resolved, with every
//! error pointing at file, line and column. Nothing here runs project code
//! or touches the network.

pub mod compose;
pub mod directives;
pub mod error;
pub mod expr;
pub mod options;
pub mod variables;

pub use error::LoadError;
