//! Sources that are not one pinned file (`git`, `git_repo`, `git_module`
//! checkouts, an `ostree` commit's tree, an `ostree_mirror`'s objects), in
//! the source cache and on source cache servers: what staging one writes
//! into an empty directory, as one deterministic tarball (`tree_tar`),
//! named `urn:fdc:forge.build:2026:source:{what}:{name}` on the servers
//! and recorded as `<source cache>/{what}s/{name}` here (`git-tree` and
//! the sha256 of a git source's key, `ostree-commit` and a commit, …).
//! It is pulled before upstream by a machine that lacks the source, kept
//! and pushed after a fetch from upstream, and staged from.

use std::path::Path;

use serde_json::Value;

use crate::runtime::{SourceContext, SourceError};
use crate::tree_tar::Kept;

/// The staged tree of one source.
pub struct StagedTree {
    what: String,
    name: String,
}

impl StagedTree {
    /// The checkout of a source of `kind` (`git`, `git-repo`, …) whose key
    /// is `key`, named `{kind}-tree` and the key's sha256; `None` without
    /// a key (an unpinned source).
    pub fn of(kind: &str, key: Option<Value>) -> Option<StagedTree> {
        Some(StagedTree::named(
            &format!("{kind}-tree"),
            &forge_project::keys::hash_json(&key?),
        ))
    }

    /// The tree named `what` and `name` (`ostree-commit` and a commit).
    pub fn named(what: &str, name: &str) -> StagedTree {
        StagedTree {
            what: what.to_string(),
            name: name.to_string(),
        }
    }

    fn urn(&self) -> String {
        format!("urn:fdc:forge.build:2026:source:{}:{}", self.what, self.name)
    }

    fn kept<'c>(&self, cache: &'c crate::SourceCache) -> Kept<'c> {
        Kept::new(cache, &format!("{}s", self.what), &self.name)
    }

    /// Whether the source cache holds the tree.
    pub fn is_kept(&self, cache: &crate::SourceCache) -> bool {
        self.kept(cache).sha256().is_some()
    }

    /// For a fetch that lacks the source upstream's way: whether the tree
    /// is held (offered as it is when the run pushes what it holds) or
    /// came from a source cache server (which doubles as a mirror, asked
    /// before upstream).
    pub fn fetch_before_upstream(&self, ctx: &SourceContext<'_>) -> bool {
        let kept = self.kept(ctx.cache);
        if let Some(sha) = kept.sha256() {
            ctx.offer_held_named(&self.urn(), &sha);
            return true;
        }
        match ctx.servers {
            Some(servers) => servers
                .pull_named(ctx.cache, &self.urn(), ctx.progress)
                .is_some_and(|sha| kept.record(&sha).is_ok()),
            None => false,
        }
    }

    /// Stages the source with `stage` into a scratch directory, keeps that
    /// as the tree and offers it to the servers that take pushes; what
    /// `stage` returned. Errors name `url`.
    pub fn keep<T>(
        &self,
        ctx: &SourceContext<'_>,
        url: &str,
        stage: impl FnOnce(&Path) -> Result<T, SourceError>,
    ) -> Result<T, SourceError> {
        let staging = ctx
            .cache
            .root()
            .join("tmp")
            .join(format!("{}-{}-{}", self.what, std::process::id(), self.name));
        let _ = std::fs::remove_dir_all(&staging);
        let result = std::fs::create_dir_all(&staging)
            .map_err(|e| SourceError::new(format!("cannot stage {url}: {e}")))
            .and_then(|()| stage(&staging))
            .and_then(|staged| {
                let sha = self
                    .kept(ctx.cache)
                    .keep(&staging)
                    .map_err(|e| SourceError::new(format!("cannot archive {url}: {e}")))?;
                Ok((staged, sha))
            });
        let _ = std::fs::remove_dir_all(&staging);
        let (staged, sha) = result?;
        if let Some(servers) = ctx.servers {
            servers.push_named(ctx.cache, &self.urn(), &sha, ctx.progress);
        }
        Ok(staged)
    }

    /// After a fetch into a git mirror: [`StagedTree::keep`] when a server
    /// takes pushes (nothing else needs the tarball). A failure is a
    /// warning naming `url`: the fetch succeeded.
    pub fn offer(&self, ctx: &SourceContext<'_>, url: &str, stage: impl FnOnce(&Path) -> Result<(), SourceError>) {
        if !ctx.servers.is_some_and(|servers| servers.pushes()) {
            return;
        }
        if let Err(e) = self.keep(ctx, url, stage) {
            ctx.progress
                .warn(&format!("{url}: not pushed to the source cache: {}", e.message));
        }
    }

    /// Stages the kept tree into `dir`; `false` when it is not kept.
    pub fn stage(&self, ctx: &SourceContext<'_>, dir: &Path) -> Result<bool, SourceError> {
        let Some(sha) = self.kept(ctx.cache).sha256() else {
            return Ok(false);
        };
        let reader = std::fs::File::open(ctx.cache.file_path(&sha)).map_err(|e| SourceError::new(e.to_string()))?;
        crate::extract::extract_tar(reader, dir)
            .map_err(|e| SourceError::new(format!("cannot stage the tree from the source cache: {e}")))?;
        Ok(true)
    }
}
