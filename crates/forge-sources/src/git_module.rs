//! `git_module` (buildstream-plugins-community): a submodule of a
//! superproject staged by an earlier source, at `path`, pinned to a commit.
//! `forge track` reads the commit the superproject records for `path`.
//! Staged as files plus a `.git` holding the commit (the plugin stages a
//! full clone; forge stages what `git describe`-free builds need and what
//! keeps artifacts small).

use std::path::{Component, Path};

use forge_project::{KeyContext, LoadError, Project, Source, SourceKind};
use forge_yaml::edit::NewValue;
use git2::{Oid, Repository};
use serde_json::{Value, json};

use crate::checks::{check_url, optional_bool, optional_str, required_str, span_of};
use crate::git::{fetch_until, has_commit, open_cached, write_tree};
use crate::git_repo::parse_ref;
use crate::runtime::{SourceContext, SourceError, SourceRuntime, Tracked};

/// The `git_module` kind.
pub struct GitModule;

fn err(message: impl Into<String>) -> SourceError {
    SourceError::new(message)
}

/// `path` as a relative path (the plugin makes absolute paths relative).
fn module_path(source: &Source) -> Result<String, LoadError> {
    let path = required_str(source, "path")?;
    let relative = path.trim_start_matches('/');
    if relative.is_empty()
        || Path::new(relative)
            .components()
            .any(|c| !matches!(c, Component::Normal(_)))
    {
        return Err(LoadError::at(
            span_of(source, "path"),
            format!("'path' must be a path inside the sources, not '{path}'"),
        ));
    }
    Ok(relative.to_string())
}

fn pinned(source: &Source) -> Result<Oid, SourceError> {
    let reference = optional_str(source, "ref")
        .map_err(|e| err(e.to_string()))?
        .ok_or_else(|| err("the source has no ref: run `forge track` first"))?;
    let (_, commit) = parse_ref(reference).ok_or_else(|| err(format!("ref {reference} is not a commit")))?;
    Oid::from_str(commit).map_err(|e| err(e.message().to_string()))
}

impl SourceKind for GitModule {
    fn name(&self) -> &'static str {
        "git_module"
    }
    fn config_keys(&self) -> &'static [&'static str] {
        &[
            "url",
            "ref",
            "path",
            "full-clone",
            "use-lfs",
            "version",
            "version-guess-pattern",
        ]
    }
    fn validate(&self, source: &Source, project: &Project) -> Result<(), LoadError> {
        check_url(source, project)?;
        module_path(source)?;
        optional_bool(source, "full-clone")?;
        optional_bool(source, "use-lfs")?;
        if let Some(reference) = optional_str(source, "ref")?
            && parse_ref(reference).is_none()
        {
            return Err(LoadError::at(
                span_of(source, "ref"),
                format!("'ref' must be the submodule's commit (40 hex digits), not '{reference}'"),
            )
            .with_hint("`forge track` reads it from the superproject"));
        }
        Ok(())
    }
    fn info(&self, source: &Source, project: &Project, _ctx: &KeyContext<'_>) -> Vec<forge_project::SourceInfo> {
        match (
            optional_str(source, "url").ok().flatten(),
            optional_str(source, "ref").ok().flatten(),
        ) {
            (Some(url), Some(reference)) => vec![crate::checks::git_info(source, project, url, reference)],
            _ => Vec::new(),
        }
    }
    fn unique_key(&self, source: &Source, _ctx: &KeyContext<'_>) -> Result<Option<Value>, LoadError> {
        module_key(source)
    }
}

fn module_key(source: &Source) -> Result<Option<Value>, LoadError> {
    let Some(reference) = optional_str(source, "ref")? else {
        return Ok(None);
    };
    let mut key = json!({
        "url": required_str(source, "url")?,
        "ref": reference,
        "path": module_path(source)?,
    });
    if optional_bool(source, "use-lfs")? == Some(true) {
        key["use-lfs"] = json!(true);
    }
    crate::guess::augment_key(source, &mut key)?;
    Ok(Some(key))
}

/// What staging the source writes (the submodule at its path), on source
/// cache servers.
fn staged_tree(source: &Source) -> Option<crate::staged_tree::StagedTree> {
    crate::staged_tree::StagedTree::of("git-module", module_key(source).ok()?)
}

fn in_mirror(source: &Source, cache: &crate::SourceCache) -> bool {
    let (Ok(commit), Ok(url)) = (pinned(source), required_str(source, "url")) else {
        return false;
    };
    Repository::open_bare(cache.git_mirror(url)).is_ok_and(|repo| has_commit(&repo, commit))
}

/// Stages the pinned submodule from the mirror, at its path in `dir`.
fn stage_from_mirror(source: &Source, ctx: &SourceContext<'_>, dir: &Path) -> Result<(), SourceError> {
    let url = required_str(source, "url").map_err(|e| err(e.to_string()))?;
    let path = module_path(source).map_err(|e| err(e.to_string()))?;
    let commit = pinned(source)?;
    let mirror = open_cached(ctx, url)?;
    let target = dir.join(&path);
    std::fs::create_dir_all(&target).map_err(|e| err(format!("cannot create {path}: {e}")))?;
    write_tree(&mirror, commit, url, &target)?;
    crate::git_repo::write_history(&mirror, commit, None, &target).map_err(|e| err(format!("cannot stage {url}: {e}")))
}

impl SourceRuntime for GitModule {
    fn is_cached(&self, source: &Source, cache: &crate::SourceCache) -> bool {
        in_mirror(source, cache) || staged_tree(source).is_some_and(|tree| tree.is_kept(cache))
    }

    fn fetch(&self, source: &Source, ctx: &SourceContext<'_>) -> Result<(), SourceError> {
        if optional_bool(source, "use-lfs").ok().flatten() == Some(true) {
            return Err(err("git LFS objects are not supported by forge yet (use-lfs: true)"));
        }
        let url = required_str(source, "url").map_err(|e| err(e.to_string()))?;
        let commit = pinned(source)?;
        let tree = staged_tree(source);
        if !in_mirror(source, ctx.cache) && tree.as_ref().is_some_and(|tree| tree.fetch_before_upstream(ctx)) {
            return Ok(());
        }
        fetch_until(ctx, url, &format!("commit {commit}"), |repo| has_commit(repo, commit))?;
        if let Some(tree) = tree {
            tree.offer(ctx, url, |staging| stage_from_mirror(source, ctx, staging));
        }
        Ok(())
    }

    fn track(&self, _source: &Source, _ctx: &SourceContext<'_>) -> Result<Option<Tracked>, SourceError> {
        Err(err("a git_module source is tracked from the sources staged before it"))
    }

    fn tracks_from_previous_sources(&self) -> bool {
        true
    }

    fn track_from(
        &self,
        source: &Source,
        _ctx: &SourceContext<'_>,
        previous: &Path,
    ) -> Result<Option<Tracked>, SourceError> {
        let path = module_path(source).map_err(|e| err(e.to_string()))?;
        let missing = || {
            err(format!(
                "could not find a submodule at '{path}' in the sources staged before this one; check that the \
                 superproject records it (git submodule add)"
            ))
        };
        let repo = Repository::open(previous).map_err(|_| missing())?;
        let tree = repo
            .head()
            .and_then(|h| h.peel_to_tree())
            .map_err(|e| err(format!("the staged superproject has no HEAD tree: {}", e.message())))?;
        let entry = tree.get_path(Path::new(&path)).map_err(|_| missing())?;
        if entry.kind() != Some(git2::ObjectType::Commit) {
            return Err(missing());
        }
        let new = entry.id().to_string();
        let old = optional_str(source, "ref")
            .map_err(|e| err(e.to_string()))?
            .map(str::to_string);
        let note = (old.as_deref() == Some(new.as_str())).then(|| "unchanged".to_string());
        Ok(Some(Tracked {
            new_ref: NewValue::Scalar(new.clone()),
            new_display: new,
            old_display: old,
            note,
            warning: None,
            commits: Vec::new(),
        }))
    }

    fn stage(&self, source: &Source, ctx: &SourceContext<'_>, dir: &Path) -> Result<(), SourceError> {
        if !in_mirror(source, ctx.cache)
            && let Some(tree) = staged_tree(source)
            && tree.stage(ctx, dir)?
        {
            return Ok(());
        }
        stage_from_mirror(source, ctx, dir)
    }
}
