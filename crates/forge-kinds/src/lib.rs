//! forge's element kinds.
//!
//! Each kind is one file implementing [`forge_project::ElementKind`]: its
//! defaults (the YAML a BuildStream plugin ships), the checks on its
//! configuration and dependencies, and its unique key, and [`Assemble`]:
//! how it builds. [`register`] adds them all to a registry; [`assembler`]
//! finds the build step by name.

use std::sync::Arc;

use forge_project::KindRegistry;

pub use build::{Assemble, BuildContext, BuildError, StagedDep, assembler};
pub use pip::wheel_dependencies;

pub mod build;
mod checks;
mod compose;
mod deb;
mod filter;
pub mod image;
mod import;
mod manual;
mod pip;
mod pyproject;
mod script;
mod stack;

/// Adds every element kind forge knows to `registry`.
pub fn register(registry: &mut KindRegistry) {
    registry.add_element(Arc::new(import::Import));
    registry.add_element(Arc::new(stack::Stack));
    registry.add_element(Arc::new(compose::Compose));
    registry.add_element(Arc::new(filter::Filter));
    registry.add_element(Arc::new(manual::Manual));
    registry.add_element(Arc::new(script::Script));
    registry.add_element(Arc::new(pip::Pip));
    registry.add_element(Arc::new(pyproject::Pyproject));
    registry.add_element(Arc::new(deb::Deb));
    registry.add_element(Arc::new(image::TarImage));
    registry.add_element(Arc::new(image::OciImage));
}
