//! forge's source kinds.
//!
//! Each kind is one file implementing [`forge_project::SourceKind`] (the
//! keys it accepts, the checks on them, its unique key: the pin, never a
//! mirror or an alias value) and [`SourceRuntime`] (fetch into the
//! [`SourceCache`], track upstream, stage offline). [`register`] adds them
//! all to a registry; [`runtime`] finds the runtime side by implementation
//! id.
//!
//! BuildStream's core sources (`local`, `remote`, `tar`), forge's own
//! (`git`, `patch`, `pypi`, `deb`; `git` and `patch` are also what a
//! declaration of buildstream-plugins' plugins of those names gets),
//! buildstream-plugins' `docker`, forge's implementations of the community
//! plugins (`git_repo`, `git_module`, `patch_queue`, `zip`, `cargo2`,
//! `go_module`, `cpan`, `pypi`, `ostree`), freedesktop-sdk's local
//! `ostree_mirror`, and `workspace`, which stands for the sources of an
//! element with an open workspace.

use std::sync::Arc;

use forge_project::{KindRegistry, Provider, SourceKind};

pub mod cache;
mod cargo2;
mod checks;
mod cpan;
pub mod deb;
mod docker;
pub mod download;
pub mod extract;
mod files;
mod git;
mod git_module;
pub mod git_repo;
mod go_module;
mod guess;
mod gvariant;
pub mod local;
mod ostree;
mod ostree_mirror;
mod patch;
mod patch_queue;
pub mod pypi;
mod pypi_community;
pub mod pypi_index;
mod remote;
pub mod runtime;
mod staged_tree;
mod tar;
pub mod tree_tar;
mod workspace;
mod zip;

pub use cache::{Partial, SourceCache};
pub use download::{Downloader, NoProgress, Progress};
pub use runtime::{
    RunCache, SourceContext, SourceError, SourceRuntime, SourceServers, Tracked, Withdrawn, runtime, stage_sources,
    stage_workspace,
};

/// Adds every source kind forge knows to `registry`.
pub fn register(registry: &mut KindRegistry) {
    let core: [Arc<dyn SourceKind>; 4] = [
        Arc::new(local::Local),
        Arc::new(remote::Remote),
        Arc::new(tar::Tar),
        Arc::new(workspace::Workspace),
    ];
    for kind in core {
        registry.add_source(kind, Provider::Core);
    }
    let own: [Arc<dyn SourceKind>; 4] = [
        Arc::new(git::Git),
        Arc::new(patch::Patch),
        Arc::new(pypi::Pypi),
        Arc::new(deb::Deb),
    ];
    for kind in own {
        registry.add_source(kind, Provider::Forge);
    }
    let plugins = Provider::Plugin("buildstream-plugins");
    registry.add_source(Arc::new(git::Git), plugins);
    registry.add_source(Arc::new(patch::Patch), plugins);
    registry.add_source(Arc::new(docker::Docker), plugins);
    let community: [Arc<dyn SourceKind>; 10] = [
        Arc::new(git_repo::GitRepo),
        Arc::new(git_module::GitModule),
        Arc::new(patch_queue::PatchQueue),
        Arc::new(zip::Zip),
        Arc::new(cargo2::Cargo2),
        Arc::new(go_module::GoModule),
        Arc::new(cpan::Cpan),
        Arc::new(pypi_community::CommunityPypi),
        Arc::new(ostree::Ostree),
        Arc::new(ostree_mirror::OstreeMirror),
    ];
    for kind in community {
        registry.add_source(kind, Provider::Plugin("buildstream-plugins-community"));
    }
}
