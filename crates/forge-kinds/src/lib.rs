//! forge's element kinds.
//!
//! Each kind is one file implementing [`forge_project::ElementKind`]: its
//! defaults (the YAML a BuildStream plugin ships), the checks on its
//! configuration and dependencies, and its unique key, and [`Assemble`]:
//! how it builds. [`register`] adds them all to a registry; [`assembler`]
//! finds the build step by implementation id.
//!
//! Three families: BuildStream's core kinds, forge's own (`pip`, `deb`,
//! images), and forge's implementations of BuildStream plugins
//! (buildstream-plugins' `autotools`, `cmake`, `meson` …, the community
//! package's `pyproject`, `flatpak_image` …), which a project gets by
//! declaring them in project.conf.

use std::sync::Arc;

use forge_project::{ElementKind, KindRegistry, Provider};

pub use advisories::{advisory_paths, load_snapshot};
pub use build::{Assemble, BuildContext, BuildError, StagedDep, assembler};
pub use pip::wheel_dependencies;

mod advisories;
pub mod build;
mod build_element;
mod check_forbidden;
mod checks;
mod collect_initial_scripts;
mod collect_integration;
mod collect_manifest;
mod compose;
mod deb;
mod filter;
mod flatpak_image;
mod flatpak_repo;
pub mod image;
mod import;
pub mod input_tree;
mod junction;
mod link;
mod pip;
mod pyproject;
mod remote_build;
mod script;
mod stack;
pub mod workspace_build;

const COMMUNITY: Provider = Provider::Plugin("buildstream-plugins-community");

/// Adds every element kind forge knows to `registry`.
pub fn register(registry: &mut KindRegistry) {
    let core: [Arc<dyn ElementKind>; 7] = [
        Arc::new(import::Import),
        Arc::new(stack::Stack),
        Arc::new(compose::Compose),
        Arc::new(filter::Filter),
        Arc::new(script::Script),
        Arc::new(junction::Junction),
        Arc::new(link::Link),
    ];
    for kind in core {
        registry.add_element(kind, Provider::Core);
    }
    let own: [Arc<dyn ElementKind>; 6] = [
        Arc::new(advisories::Advisories),
        Arc::new(pip::Pip),
        Arc::new(pyproject::Pyproject),
        Arc::new(deb::Deb),
        Arc::new(image::TarImage),
        Arc::new(image::OciImage),
    ];
    for kind in own {
        registry.add_element(kind, Provider::Forge);
    }
    for kind in &build_element::BUILD_ELEMENTS {
        registry.add_element(Arc::new(kind.clone()), kind.provider);
    }
    let community: [Arc<dyn ElementKind>; 5] = [
        Arc::new(check_forbidden::CheckForbidden),
        Arc::new(collect_integration::CollectIntegration),
        Arc::new(collect_manifest::CollectManifest),
        Arc::new(flatpak_image::FlatpakImage),
        Arc::new(flatpak_repo::FlatpakRepo),
    ];
    for kind in community {
        registry.add_element(kind, COMMUNITY);
    }
    registry.add_element(
        Arc::new(collect_initial_scripts::CollectInitialScripts),
        Provider::Plugin(forge_project::plugins::LOCAL_PLUGINS),
    );
}
