//! Sources fetched into forge's git mirrors (`git`, `git_repo`,
//! `git_module`) on source cache servers: what staging one writes into an
//! empty directory, as one deterministic tarball (`tree_tar`) named by
//! the source's key, `urn:fdc:forge.build:2026:source:{kind}-tree:{sha256
//! of the key}`. It is pushed after a fetch from upstream, pulled before
//! upstream by a machine whose mirror lacks the pin, and staged from when
//! the mirror lacks it.

use std::path::Path;

use serde_json::Value;

use crate::runtime::{SourceContext, SourceError};
use crate::tree_tar::Kept;

/// The staged tree of one source.
pub struct StagedTree {
    kind: &'static str,
    name: String,
}

impl StagedTree {
    /// The tree of a source of `kind` whose key is `key`; `None` without a
    /// key (an unpinned source).
    pub fn of(kind: &'static str, key: Option<Value>) -> Option<StagedTree> {
        Some(StagedTree {
            kind,
            name: forge_project::keys::hash_json(&key?),
        })
    }

    fn urn(&self) -> String {
        format!("urn:fdc:forge.build:2026:source:{}-tree:{}", self.kind, self.name)
    }

    fn kept<'c>(&self, cache: &'c crate::SourceCache) -> Kept<'c> {
        Kept::new(cache, &format!("{}-trees", self.kind), &self.name)
    }

    /// Whether the source cache holds the tree.
    pub fn is_kept(&self, cache: &crate::SourceCache) -> bool {
        self.kept(cache).sha256().is_some()
    }

    /// For a fetch whose mirror lacks the pin: whether the tree is held
    /// (offered as it is when the run pushes what it holds) or came from
    /// a source cache server (which doubles as a mirror, asked before
    /// upstream).
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

    /// After a fetch from upstream: stages the source with `stage` into a
    /// scratch directory, keeps that as the tree and pushes it, when a
    /// server takes pushes. A failure is a warning naming `url`: the fetch
    /// succeeded.
    pub fn offer(&self, ctx: &SourceContext<'_>, url: &str, stage: impl FnOnce(&Path) -> Result<(), SourceError>) {
        let Some(servers) = ctx.servers.filter(|servers| servers.pushes()) else {
            return;
        };
        let staging =
            ctx.cache
                .root()
                .join("tmp")
                .join(format!("{}-tree-{}-{}", self.kind, std::process::id(), self.name));
        let _ = std::fs::remove_dir_all(&staging);
        let result = std::fs::create_dir_all(&staging)
            .map_err(|e| SourceError::new(format!("cannot stage: {e}")))
            .and_then(|()| stage(&staging))
            .and_then(|()| {
                self.kept(ctx.cache)
                    .keep(&staging)
                    .map_err(|e| SourceError::new(format!("cannot archive the staged source: {e}")))
            });
        let _ = std::fs::remove_dir_all(&staging);
        match result {
            Ok(sha) => servers.push_named(ctx.cache, &self.urn(), &sha, ctx.progress),
            Err(e) => ctx
                .progress
                .warn(&format!("{url}: not pushed to the source cache: {}", e.message)),
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
