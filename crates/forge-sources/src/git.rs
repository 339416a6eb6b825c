//! `git`: a repository at an exact commit. `track` names the branch or tag
//! that `forge track` follows; `ref` is the commit (40 hex digits, or
//! BuildStream's `git describe` form `<tag>-<n>-g<commit>`).

use forge_project::{KeyContext, LoadError, Project, Source, SourceKind};
use forge_yaml::Node;
use serde_json::{Value, json};

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use forge_project::UrlPurpose;
use forge_yaml::edit::NewValue;
use git2::{Oid, Repository};

use crate::checks::{check_url, optional_bool, optional_str, required_str, span_of};
use crate::runtime::{COMMITS_LISTED, SourceContext, SourceError, SourceRuntime, Tracked};

/// The `git` kind.
pub struct Git;

/// The commit of a ref in either form.
pub fn commit_of(reference: &str) -> Option<&str> {
    let commit = match reference.rfind("-g") {
        Some(at) if reference.len() - at - 2 == 40 => &reference[at + 2..],
        _ => reference,
    };
    (commit.len() == 40 && commit.bytes().all(|b| b.is_ascii_hexdigit())).then_some(commit)
}

impl SourceKind for Git {
    fn name(&self) -> &'static str {
        "git"
    }
    fn config_keys(&self) -> &'static [&'static str] {
        &[
            "url",
            "track",
            "ref",
            "ref-format",
            "checkout-submodules",
            "submodules",
            "track-tags",
            "tags",
            "version",
            "version-guess-pattern",
        ]
    }
    fn validate(&self, source: &Source, project: &Project) -> Result<(), LoadError> {
        check_url(source, project)?;
        let reference = optional_str(source, "ref")?;
        if reference.is_none() && optional_str(source, "track")?.is_none() {
            return Err(
                LoadError::at(&source.span, "a git source needs a 'ref', a 'track', or both")
                    .with_hint("set 'track: main' and run `forge track` to pin the commit"),
            );
        }
        if let Some(reference) = reference
            && commit_of(reference).is_none()
        {
            return Err(LoadError::at(
                span_of(source, "ref"),
                format!("'ref' must be a full commit id (40 hex digits) or '<tag>-<n>-g<commit>', not '{reference}'"),
            )
            .with_hint("branch and tag names go in 'track'; `forge track` writes the commit"));
        }
        if let Some(format) = optional_str(source, "ref-format")?
            && format != "sha1"
            && format != "git-describe"
        {
            return Err(
                LoadError::at(span_of(source, "ref-format"), format!("invalid ref-format '{format}'"))
                    .with_hint("use sha1 or git-describe"),
            );
        }
        optional_bool(source, "checkout-submodules")?;
        optional_bool(source, "track-tags")?;
        if let Some(submodules) = source.get("submodules") {
            let map = submodules
                .as_map()
                .ok_or_else(|| LoadError::at(&submodules.span, "'submodules' must map paths to {url, checkout}"))?;
            for (_, sub) in map.iter() {
                let sub_map = sub
                    .as_map()
                    .ok_or_else(|| LoadError::at(&sub.span, "a submodule entry must be a mapping"))?;
                forge_project::error::check_keys(sub_map, &["url", "checkout"], "a submodule")?;
                if let Some(url) = sub_map.get("url").and_then(Node::as_str) {
                    project.check_url_alias(url, &sub.span)?;
                }
            }
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
        git_key(source)
    }
}

/// A git source's key: it needs nothing but the source.
fn git_key(source: &Source) -> Result<Option<Value>, LoadError> {
    let Some(reference) = optional_str(source, "ref")? else {
        return Ok(None);
    };
    let commit = commit_of(reference).unwrap_or(reference).to_ascii_lowercase();
    let mut key = json!({ "url": required_str(source, "url")?, "commit": commit });
    if let Some(false) = optional_bool(source, "checkout-submodules")? {
        key["checkout-submodules"] = json!(false);
    }
    for extra in ["submodules", "tags"] {
        if let Some(node) = source.get(extra) {
            key[extra] = forge_project::keys::node_to_json(node);
        }
    }
    Ok(Some(key))
}

fn err(message: impl Into<String>) -> SourceError {
    SourceError::new(message)
}

/// The pinned commit of a source.
fn pinned_commit(source: &Source) -> Option<Oid> {
    let reference = optional_str(source, "ref").ok().flatten()?;
    commit_of(reference).and_then(|c| Oid::from_str(c).ok())
}

/// Opens (creating if needed) the bare mirror of `url`.
fn open_mirror(path: &Path) -> Result<Repository, SourceError> {
    match Repository::open_bare(path) {
        Ok(repo) => Ok(repo),
        Err(_) => {
            fs::create_dir_all(path).map_err(|e| err(format!("cannot create {}: {e}", path.display())))?;
            Repository::init_bare(path)
                .map_err(|e| err(format!("cannot create a git mirror in {}: {e}", path.display())))
        }
    }
}

pub(crate) fn has_commit(repo: &Repository, commit: Oid) -> bool {
    repo.find_commit(commit).is_ok()
}

/// Fetches every branch and tag of `url` into the mirror. Local URLs use
/// libgit2 in-process; network URLs use the host's `git`, whose output is
/// checked by commit id like everything else.
pub(crate) fn fetch_all(repo: &Repository, url: &str) -> Result<(), String> {
    let refspecs = ["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"];
    let local = url.starts_with("file://") || url.starts_with('/') || url.starts_with("git://");
    if local {
        let mut remote = repo.remote_anonymous(url).map_err(|e| e.message().to_string())?;
        let mut options = git2::FetchOptions::new();
        options.download_tags(git2::AutotagOption::All);
        remote
            .fetch(&refspecs, Some(&mut options), None)
            .map_err(|e| e.message().to_string())
    } else {
        let output = Command::new("git")
            .arg("--git-dir")
            .arg(repo.path())
            .args(["fetch", "--quiet", "--prune", "--no-write-fetch-head", url])
            .args(refspecs)
            .env("GIT_TERMINAL_PROMPT", "0")
            .output()
            .map_err(|e| format!("cannot run the host's git for {url} (needed for network git URLs): {e}"))?;
        if output.status.success() {
            Ok(())
        } else {
            Err(format!(
                "git fetch failed:{}",
                forge_project::error::quoted_output(&String::from_utf8_lossy(&output.stderr))
            ))
        }
    }
}

/// The URL of a submodule: `.gitmodules` URLs may be relative to the
/// superproject's.
fn submodule_url(parent: &str, url: &str) -> String {
    if !(url.starts_with("./") || url.starts_with("../")) {
        return url.to_string();
    }
    let mut base: Vec<&str> = parent.trim_end_matches('/').split('/').collect();
    for part in url.split('/') {
        match part {
            "." => {}
            ".." => {
                base.pop();
            }
            other => base.push(other),
        }
    }
    base.join("/")
}

/// One submodule at a commit: its path, URL and pinned commit.
struct Submodule {
    path: String,
    url: String,
    commit: Oid,
    checkout: bool,
}

/// The submodules of `commit`, from `.gitmodules` and the gitlinks of its
/// tree, with the source's `submodules:` overrides.
fn submodules(
    repo: &Repository,
    commit: Oid,
    parent_url: &str,
    source: &Source,
) -> Result<Vec<Submodule>, SourceError> {
    let tree = repo
        .find_commit(commit)
        .and_then(|c| c.tree())
        .map_err(|e| err(e.message().to_string()))?;
    let Ok(entry) = tree.get_path(Path::new(".gitmodules")) else {
        return Ok(Vec::new());
    };
    let blob = repo.find_blob(entry.id()).map_err(|e| err(e.message().to_string()))?;
    let text = String::from_utf8_lossy(blob.content()).into_owned();
    let default_checkout = optional_bool(source, "checkout-submodules")
        .map_err(|e| err(e.to_string()))?
        .unwrap_or(true);
    let overrides = source.get("submodules").and_then(forge_yaml::Node::as_map);
    let mut out = Vec::new();
    let (mut path, mut url): (Option<String>, Option<String>) = (None, None);
    let mut flush = |path: &mut Option<String>, url: &mut Option<String>| -> Result<(), SourceError> {
        if let (Some(p), Some(u)) = (path.take(), url.take()) {
            let Ok(link) = tree.get_path(Path::new(&p)) else {
                return Ok(());
            };
            if link.kind() != Some(git2::ObjectType::Commit) {
                return Ok(());
            }
            let over = overrides.and_then(|o| o.get(&p)).and_then(forge_yaml::Node::as_map);
            let checkout = match over.and_then(|o| o.get("checkout")).and_then(forge_yaml::Node::as_str) {
                Some(v) => matches!(v, "True" | "true" | "1"),
                None => default_checkout,
            };
            let url = over
                .and_then(|o| o.get("url"))
                .and_then(forge_yaml::Node::as_str)
                .map(str::to_string)
                .unwrap_or(u);
            out.push(Submodule {
                path: p,
                url: submodule_url(parent_url, &url),
                commit: link.id(),
                checkout,
            });
        }
        Ok(())
    };
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with("[submodule") {
            flush(&mut path, &mut url)?;
        } else if let Some((key, value)) = line.split_once('=') {
            match key.trim() {
                "path" => path = Some(value.trim().to_string()),
                "url" => url = Some(value.trim().to_string()),
                _ => {}
            }
        }
    }
    flush(&mut path, &mut url)?;
    Ok(out)
}

/// Makes sure `commit` is in the mirror of `url`, fetching from the URL's
/// candidates (mirrors first) if not; then the same for its submodules.
/// Opens the cache's mirror of `url` for writing, under its lock (held as
/// long as the returned file lives).
pub(crate) fn lock_mirror(ctx: &SourceContext<'_>, url: &str) -> Result<(Repository, std::fs::File), SourceError> {
    let mirror = ctx.cache.git_mirror(url);
    let lock = ctx
        .cache
        .lock(&format!(
            "git-{}",
            mirror.file_name().and_then(|n| n.to_str()).unwrap_or("repo")
        ))
        .map_err(|e| err(format!("cannot lock the source cache: {e}")))?;
    Ok((open_mirror(&mirror)?, lock))
}

/// Makes sure the cache's mirror of `url` has what `done` looks for,
/// fetching every branch and tag from the URL's candidates (mirrors first)
/// until it does. Returns the mirror, still locked.
pub(crate) fn fetch_until(
    ctx: &SourceContext<'_>,
    url: &str,
    wanted: &str,
    done: impl Fn(&Repository) -> bool,
) -> Result<(Repository, std::fs::File), SourceError> {
    let (repo, lock) = lock_mirror(ctx, url)?;
    if done(&repo) {
        return Ok((repo, lock));
    }
    let mut attempts = Vec::new();
    for candidate in ctx.project.source_urls(url, UrlPurpose::Fetch, ctx.default_mirror()) {
        let id = ctx.progress.start(url, &candidate, None);
        let result = fetch_all(&repo, &candidate);
        ctx.progress.finish(id);
        match result {
            Ok(()) if done(&repo) => {
                ctx.report_served(url, &candidate);
                return Ok((repo, lock));
            }
            Ok(()) => attempts.push(format!("{candidate}: does not have {wanted}")),
            Err(why) => attempts.push(format!("{candidate}: {why}")),
        }
    }
    Err(SourceError {
        message: format!("cannot fetch {wanted} of {url}"),
        details: attempts,
        refused: false,
    })
}

/// Fetches every branch and tag of `url` from upstream first (the order
/// of tracking), returning the mirror, still locked.
pub(crate) fn fetch_for_track(ctx: &SourceContext<'_>, url: &str) -> Result<(Repository, std::fs::File), SourceError> {
    let (repo, lock) = lock_mirror(ctx, url)?;
    let mut attempts = Vec::new();
    for candidate in ctx.project.source_urls(url, UrlPurpose::Track, ctx.default_mirror()) {
        let id = ctx.progress.start(url, &candidate, None);
        let result = fetch_all(&repo, &candidate);
        ctx.progress.finish(id);
        match result {
            Ok(()) => {
                ctx.report_served(url, &candidate);
                return Ok((repo, lock));
            }
            Err(why) => attempts.push(format!("{candidate}: {why}")),
        }
    }
    Err(SourceError {
        message: format!("cannot track {url}"),
        details: attempts,
        refused: false,
    })
}

fn ensure_commit(
    ctx: &SourceContext<'_>,
    source: &Source,
    url: &str,
    commit: Oid,
    depth: usize,
) -> Result<(), SourceError> {
    if depth > 16 {
        return Err(err(format!("{url}: submodules nest more than 16 deep")));
    }
    let (repo, lock) = fetch_until(ctx, url, &format!("commit {commit}"), |repo| has_commit(repo, commit))?;
    drop(lock);
    for sub in submodules(&repo, commit, url, source)? {
        if sub.checkout {
            ensure_commit(ctx, source, &sub.url, sub.commit, depth + 1)?;
        }
    }
    Ok(())
}

fn commit_cached(cache: &crate::SourceCache, source: &Source, url: &str, commit: Oid, depth: usize) -> bool {
    let Ok(repo) = Repository::open_bare(cache.git_mirror(url)) else {
        return false;
    };
    if !has_commit(&repo, commit) || depth > 16 {
        return false;
    }
    match submodules(&repo, commit, url, source) {
        Ok(subs) => subs
            .iter()
            .filter(|s| s.checkout)
            .all(|s| commit_cached(cache, source, &s.url, s.commit, depth + 1)),
        Err(_) => false,
    }
}

/// Writes the tree of `commit` into `dir`, then its submodules.
fn checkout(ctx: &SourceContext<'_>, source: &Source, url: &str, commit: Oid, dir: &Path) -> Result<(), SourceError> {
    let repo = open_cached(ctx, url)?;
    write_tree(&repo, commit, url, dir)?;
    for sub in submodules(&repo, commit, url, source)? {
        if sub.checkout {
            checkout(ctx, source, &sub.url, sub.commit, &dir.join(&sub.path))?;
        }
    }
    Ok(())
}

/// The cache's mirror of `url`, which must exist.
pub(crate) fn open_cached(ctx: &SourceContext<'_>, url: &str) -> Result<Repository, SourceError> {
    Repository::open_bare(ctx.cache.git_mirror(url)).map_err(|e| {
        err(format!(
            "{url} is not in the source cache ({}); run `forge fetch`",
            e.message()
        ))
    })
}

/// Writes the files of `commit`'s tree into `dir` (submodules become empty
/// directories).
pub(crate) fn write_tree(repo: &Repository, commit: Oid, url: &str, dir: &Path) -> Result<(), SourceError> {
    let tree = repo.find_commit(commit).and_then(|c| c.tree()).map_err(|_| {
        err(format!(
            "commit {commit} of {url} is not in the source cache; run `forge fetch`"
        ))
    })?;
    let mut failure: Option<String> = None;
    tree.walk(git2::TreeWalkMode::PreOrder, |root, entry| {
        let Ok(name) = entry.name() else {
            return git2::TreeWalkResult::Skip;
        };
        let path: PathBuf = dir.join(root).join(name);
        let result = (|| -> Result<(), String> {
            match entry.kind() {
                Some(git2::ObjectType::Tree) => fs::create_dir_all(&path).map_err(|e| e.to_string()),
                Some(git2::ObjectType::Blob) => {
                    let blob = repo.find_blob(entry.id()).map_err(|e| e.message().to_string())?;
                    if entry.filemode() == 0o120000 {
                        let target = String::from_utf8_lossy(blob.content()).into_owned();
                        std::os::unix::fs::symlink(target, &path).map_err(|e| e.to_string())
                    } else {
                        fs::write(&path, blob.content()).map_err(|e| e.to_string())?;
                        let mode = if entry.filemode() == 0o100755 { 0o755 } else { 0o644 };
                        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).map_err(|e| e.to_string())
                    }
                }
                // Submodules are staged from their own mirrors, if at all.
                _ => fs::create_dir_all(&path).map_err(|e| e.to_string()),
            }
        })();
        match result {
            Ok(()) => git2::TreeWalkResult::Ok,
            Err(why) => {
                failure = Some(format!("{}: {why}", path.display()));
                git2::TreeWalkResult::Abort
            }
        }
    })
    .map_err(|e| err(e.message().to_string()))?;
    match failure {
        Some(why) => Err(err(format!("cannot stage {url}: {why}"))),
        None => Ok(()),
    }
}

/// `git describe --tags --long --abbrev=40` of `commit`.
pub(crate) fn describe(repo: &Repository, commit: Oid) -> Option<String> {
    let object = repo.find_object(commit, None).ok()?;
    let description = object.describe(git2::DescribeOptions::new().describe_tags()).ok()?;
    description
        .format(Some(
            git2::DescribeFormatOptions::new()
                .abbreviated_size(40)
                .always_use_long_format(true),
        ))
        .ok()
}

/// A git source's checked-out tree (with the submodules it checks out) on
/// source cache servers, named by its cache key: URL as written, commit,
/// submodule settings (see `staged_tree`).
fn staged_tree(source: &Source) -> Option<crate::staged_tree::StagedTree> {
    crate::staged_tree::StagedTree::of("git", git_key(source).ok()?)
}

impl SourceRuntime for Git {
    fn is_cached(&self, source: &Source, cache: &crate::SourceCache) -> bool {
        let (Some(commit), Ok(url)) = (pinned_commit(source), required_str(source, "url")) else {
            return false;
        };
        commit_cached(cache, source, url, commit, 0) || staged_tree(source).is_some_and(|tree| tree.is_kept(cache))
    }

    fn fetch(&self, source: &Source, ctx: &SourceContext<'_>) -> Result<(), SourceError> {
        let url = required_str(source, "url").map_err(|e| err(e.to_string()))?;
        let commit = pinned_commit(source).ok_or_else(|| err(format!("{url} has no ref: run `forge track` first")))?;
        let tree = staged_tree(source);
        if !commit_cached(ctx.cache, source, url, commit, 0)
            && tree.as_ref().is_some_and(|tree| tree.fetch_before_upstream(ctx))
        {
            return Ok(());
        }
        ensure_commit(ctx, source, url, commit, 0)?;
        if let Some(tree) = tree {
            tree.offer(ctx, url, |staging| checkout(ctx, source, url, commit, staging));
        }
        // BuildStream's ref-not-in-track: the pin should be on the branch
        // or tag that track follows.
        if let (Some(track), Ok(repo)) = (
            optional_str(source, "track").ok().flatten(),
            Repository::open_bare(ctx.cache.git_mirror(url)),
        ) {
            let tip = [format!("refs/heads/{track}"), format!("refs/tags/{track}")]
                .iter()
                .find_map(|name| repo.revparse_single(name).ok().and_then(|o| o.peel_to_commit().ok()))
                .map(|c| c.id());
            if let Some(tip) = tip
                && tip != commit
                && !repo.graph_descendant_of(tip, commit).unwrap_or(false)
            {
                ctx.progress
                    .warn(&format!("{url}: ref-not-in-track: commit {commit} is not on '{track}'"));
            }
        }
        Ok(())
    }

    fn track(&self, source: &Source, ctx: &SourceContext<'_>) -> Result<Option<Tracked>, SourceError> {
        let url = required_str(source, "url").map_err(|e| err(e.to_string()))?;
        let Some(track) = optional_str(source, "track").map_err(|e| err(e.to_string()))? else {
            return Err(err(format!("{url} has no 'track' (the branch or tag to follow)")));
        };
        let (repo, _lock) = fetch_for_track(ctx, url)?;
        let new = [
            format!("refs/heads/{track}"),
            format!("refs/tags/{track}"),
            track.to_string(),
        ]
        .iter()
        .find_map(|name| repo.revparse_single(name).ok().and_then(|o| o.peel_to_commit().ok()))
        .ok_or_else(|| err(format!("{url} has no branch or tag '{track}'")))?
        .id();
        let old = pinned_commit(source);
        let commits = match old {
            Some(old) if old != new && has_commit(&repo, old) => commit_range(&repo, old, new),
            _ => Vec::new(),
        };
        let (note, warning) = match old {
            None => (None, None),
            Some(old) if old == new => (Some("unchanged".to_string()), None),
            Some(old) if has_commit(&repo, old) => {
                let (ahead, behind) = repo.graph_ahead_behind(new, old).unwrap_or((0, 0));
                if repo.graph_descendant_of(new, old).unwrap_or(false) {
                    (
                        Some(format!("{ahead} commit{} ahead", if ahead == 1 { "" } else { "s" })),
                        None,
                    )
                } else {
                    (
                        Some(format!("{ahead} ahead, {behind} behind")),
                        Some(format!(
                            "the old commit {old} is not an ancestor of the new one: '{track}' was rewritten (force-push?)"
                        )),
                    )
                }
            }
            Some(old) => (None, Some(format!("the old commit {old} is no longer in {url}"))),
        };
        let describe_form = optional_str(source, "ref-format").ok().flatten() == Some("git-describe")
            || optional_str(source, "ref").ok().flatten().is_some_and(|r| r.len() > 40);
        let new_text = if describe_form {
            describe(&repo, new).unwrap_or_else(|| new.to_string())
        } else {
            new.to_string()
        };
        drop(_lock);
        Ok(Some(Tracked {
            new_ref: NewValue::Scalar(new_text.clone()),
            new_display: new_text,
            old_display: optional_str(source, "ref").ok().flatten().map(str::to_string),
            note,
            warning,
            commits,
        }))
    }

    fn stage(&self, source: &Source, ctx: &SourceContext<'_>, dir: &Path) -> Result<(), SourceError> {
        let url = required_str(source, "url").map_err(|e| err(e.to_string()))?;
        let commit = pinned_commit(source).ok_or_else(|| err(format!("{url} has no ref")))?;
        if !commit_cached(ctx.cache, source, url, commit, 0)
            && let Some(tree) = staged_tree(source)
            && tree.stage(ctx, dir)?
        {
            // From a source cache server: the tarball of the same tree.
            return Ok(());
        }
        checkout(ctx, source, url, commit, dir)
    }

    fn stage_workspace(&self, source: &Source, ctx: &SourceContext<'_>, dir: &Path) -> Result<(), SourceError> {
        self.stage(source, ctx, dir)?;
        let url = required_str(source, "url").map_err(|e| err(e.to_string()))?;
        let commit = pinned_commit(source).ok_or_else(|| err(format!("{url} has no ref")))?;
        if !commit_cached(ctx.cache, source, url, commit, 0) {
            // Staged from a source cache server's tarball: no history here.
            return Ok(());
        }
        workspace_repository(ctx, url, commit, dir).map_err(|e| {
            err(format!(
                "cannot make the workspace a repository of {url}: {}",
                e.message()
            ))
        })
    }
}

/// Makes `dir`, which holds `commit`'s files, a clone of `url` at that
/// commit, as bst's workspaces are: the mirror's branches as `origin`'s,
/// its tags, HEAD detached at the commit and the index at its tree, so
/// `git status` is clean and `git diff` shows the edits.
fn workspace_repository(ctx: &SourceContext<'_>, url: &str, commit: Oid, dir: &Path) -> Result<(), git2::Error> {
    let mirror = ctx.cache.git_mirror(url);
    let repo = Repository::init(dir)?;
    {
        let mut local = repo.remote_anonymous(&mirror.to_string_lossy())?;
        local.fetch(
            &["+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"],
            None,
            None,
        )?;
        if repo.find_commit(commit).is_err() {
            // Pinned off every branch and tag: fetched by its id.
            local.fetch(&[format!("+{commit}:refs/forge/pinned")], None, None)?;
        }
    }
    repo.remote("origin", url)?;
    // The workspace's marker is not the project's: git leaves it out.
    let exclude = repo.path().join("info/exclude");
    let mut excluded = fs::read_to_string(&exclude).unwrap_or_default();
    excluded.push_str(&format!("/{}\n", forge_project::workspaces::MARKER));
    fs::create_dir_all(repo.path().join("info"))
        .and_then(|()| fs::write(&exclude, excluded))
        .map_err(|e| git2::Error::from_str(&format!("cannot write {}: {e}", exclude.display())))?;
    repo.set_head_detached(commit)?;
    repo.reset(&repo.find_object(commit, None)?, git2::ResetType::Mixed, None)?;
    Ok(())
}

/// The commits `new` has and `old` has not, newest first, as
/// `abc1234 subject` lines: at most [`COMMITS_LISTED`], then a count of
/// the rest.
fn commit_range(repo: &Repository, old: Oid, new: Oid) -> Vec<String> {
    let Ok(mut walk) = repo.revwalk() else {
        return Vec::new();
    };
    if walk.push(new).is_err() || walk.hide(old).is_err() {
        return Vec::new();
    }
    let ids: Vec<Oid> = walk.filter_map(Result::ok).collect();
    let mut lines: Vec<String> = ids
        .iter()
        .take(COMMITS_LISTED)
        .filter_map(|id| repo.find_commit(*id).ok())
        .map(|c| {
            let id = c.id().to_string();
            format!("{} {}", &id[..12], c.summary().ok().flatten().unwrap_or(""))
        })
        .collect();
    if ids.len() > COMMITS_LISTED {
        lines.push(format!("… and {} more", ids.len() - COMMITS_LISTED));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_in_both_forms() {
        let sha = "0123456789abcdef0123456789abcdef01234567";
        assert_eq!(commit_of(sha), Some(sha));
        assert_eq!(commit_of(&format!("v1.2-3-g{sha}")), Some(sha));
        assert_eq!(commit_of(&format!("my-tag-g1-0-g{sha}")), Some(sha));
        assert_eq!(commit_of("main"), None);
        assert_eq!(commit_of("v1.2-3-gabc"), None);
    }

    #[test]
    fn relative_submodule_urls() {
        assert_eq!(
            submodule_url("file:///srv/git/app.git", "../lib.git"),
            "file:///srv/git/lib.git"
        );
        assert_eq!(submodule_url("file:///srv/git/app", "./sub"), "file:///srv/git/app/sub");
        assert_eq!(submodule_url("file:///srv/app", "https://x/y.git"), "https://x/y.git");
    }
}
