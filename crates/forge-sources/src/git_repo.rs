//! `git_repo` (buildstream-plugins-community): a repository at an exact
//! commit, BuildStream's most used source. `ref` is the commit, or
//! `<tag>-<n>-g<commit>`; `track` is a glob over branches and tags (the
//! highest version wins) with `exclude` globs. Staging writes the files
//! and a small `.git` (the commits from the tag to the ref, their trees,
//! the tag) so that `git describe` works in the build, as the plugin does.
//! Submodules are separate `git_module` sources.
//!
//! With source cache servers, what staging writes (files and `.git`) is
//! kept as one tarball named by the source's key, pushed after a fetch and
//! pulled, before upstream, by a machine whose mirror lacks the pin.

use std::cmp::Ordering;
use std::path::Path;

use forge_project::{KeyContext, LoadError, Project, Source, SourceKind};
use forge_yaml::edit::NewValue;
use git2::{Oid, Repository};
use serde_json::{Value, json};

use crate::checks::{check_url, optional_str, required_str, span_of};
use crate::git::{describe, fetch_for_track, fetch_until, has_commit, open_cached, write_tree};
use crate::runtime::{SourceContext, SourceError, SourceRuntime, Tracked};

/// The `git_repo` kind.
pub struct GitRepo;

/// A ref split as the plugin reads it: an optional tag and distance, then
/// the 40-hex commit. `None` when the text does not start that way.
pub fn parse_ref(reference: &str) -> Option<(Option<(&str, u64)>, &str)> {
    let is_commit = |s: &str| s.len() == 40 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if reference.len() >= 40 && is_commit(&reference[..40]) {
        return Some((None, &reference[..40]));
    }
    // `<tag>-<n>-g<commit>`: the last `-<digits>-g` followed by a commit.
    let mut search = reference.len();
    while let Some(at) = reference[..search].rfind("-g") {
        search = at;
        let commit = reference.get(at + 2..at + 42)?;
        if !is_commit(commit) {
            continue;
        }
        let before = &reference[..at];
        let Some(dash) = before.rfind('-') else { continue };
        let Ok(distance) = before[dash + 1..].parse::<u64>() else {
            continue;
        };
        return Some((Some((&before[..dash], distance)), commit));
    }
    None
}

/// Python's `fnmatch`: `*` and `?` match any characters, `/` included;
/// `[...]` and `[!...]` are classes. The whole text must match.
pub fn fnmatch(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    // Iterative matching with one backtrack point per `*`.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some((pi, ti));
                    pi += 1;
                    continue;
                }
                '?' => {
                    pi += 1;
                    ti += 1;
                    continue;
                }
                '[' => {
                    if let Some((matched, next)) = class_match(&p, pi, t[ti]) {
                        if matched {
                            pi = next;
                            ti += 1;
                            continue;
                        }
                    } else if t[ti] == '[' {
                        pi += 1;
                        ti += 1;
                        continue;
                    }
                }
                c if c == t[ti] => {
                    pi += 1;
                    ti += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((sp, st)) => {
                pi = sp + 1;
                ti = st + 1;
                star = Some((sp, st + 1));
            }
            None => return false,
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Matches `c` against the class starting at `p[start] == '['`: whether it
/// matched and where the pattern goes on; `None` if the class never closes.
fn class_match(p: &[char], start: usize, c: char) -> Option<(bool, usize)> {
    let mut i = start + 1;
    let negate = matches!(p.get(i), Some('!'));
    if negate {
        i += 1;
    }
    let first = i;
    let mut matched = false;
    while i < p.len() && (p[i] != ']' || i == first) {
        if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
            matched |= p[i] <= c && c <= p[i + 2];
            i += 3;
        } else {
            matched |= p[i] == c;
            i += 1;
        }
    }
    (i < p.len()).then_some((matched != negate, i + 1))
}

/// Whether `pattern` matches a full ref name: patterns that do not start
/// with `refs/` match under `refs/heads/` and `refs/tags/`.
pub fn ref_matches(pattern: &str, name: &str) -> bool {
    if pattern.starts_with("refs/") {
        return fnmatch(pattern, name);
    }
    ["refs/heads/", "refs/tags/"]
        .iter()
        .any(|prefix| name.strip_prefix(prefix).is_some_and(|rest| fnmatch(pattern, rest)))
}

#[derive(Debug, PartialEq, Eq)]
enum Part<'a> {
    Alpha(&'a str),
    Number(&'a str),
}

impl Ord for Part<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Part::Alpha(a), Part::Alpha(b)) => a.cmp(b),
            (Part::Alpha(_), Part::Number(_)) => Ordering::Less,
            (Part::Number(_), Part::Alpha(_)) => Ordering::Greater,
            (Part::Number(a), Part::Number(b)) => {
                let (a, b) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
                a.len().cmp(&b.len()).then_with(|| a.cmp(b))
            }
        }
    }
}

impl PartialOrd for Part<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The plugin's version order: runs of letters and of digits, letters
/// before numbers (`1.beta` < `1.0`), separators ignored.
fn version_parts(name: &str) -> Vec<Part<'_>> {
    let mut parts = Vec::new();
    let bytes = name.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        if bytes[i].is_ascii_alphabetic() {
            while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
                i += 1;
            }
            parts.push(Part::Alpha(&name[start..i]));
        } else if bytes[i].is_ascii_digit() {
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            parts.push(Part::Number(&name[start..i]));
        } else {
            i += 1;
        }
    }
    parts
}

/// The ref among `names` that `track` and `exclude` pick: the highest by
/// the plugin's version order.
pub fn pick_ref<'a>(names: impl Iterator<Item = &'a str>, track: &str, exclude: &[String]) -> Option<&'a str> {
    names
        .filter(|n| ref_matches(track, n) && !exclude.iter().any(|e| ref_matches(e, n)))
        .max_by(|a, b| version_parts(a).cmp(&version_parts(b)))
}

fn err(message: impl Into<String>) -> SourceError {
    SourceError::new(message)
}

fn load_err(e: LoadError) -> SourceError {
    err(e.to_string())
}

fn exclude(source: &Source) -> Vec<String> {
    source
        .get("exclude")
        .and_then(forge_yaml::Node::as_list)
        .map(|l| l.iter().filter_map(|n| n.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

impl SourceKind for GitRepo {
    fn name(&self) -> &'static str {
        "git_repo"
    }
    fn config_keys(&self) -> &'static [&'static str] {
        &[
            "url",
            "track",
            "exclude",
            "ref",
            "ref-format",
            "version",
            "version-guess-pattern",
        ]
    }
    fn validate(&self, source: &Source, project: &Project) -> Result<(), LoadError> {
        check_url(source, project)?;
        optional_str(source, "track")?;
        if let Some(reference) = optional_str(source, "ref")?
            && parse_ref(reference).is_none()
        {
            return Err(LoadError::at(
                span_of(source, "ref"),
                format!("ref {reference} is not in the expected format"),
            )
            .with_hint("a 40-hex commit, or '<tag>-<n>-g<commit>'; `forge track` writes it"));
        }
        if let Some(list) = source.get("exclude") {
            let items = list
                .as_list()
                .ok_or_else(|| LoadError::at(&list.span, "'exclude' must be a list of ref globs"))?;
            if let Some(bad) = items.iter().find(|i| i.as_str().is_none()) {
                return Err(LoadError::at(&bad.span, "'exclude' must be a list of ref globs"));
            }
        }
        match optional_str(source, "ref-format")? {
            None | Some("sha1" | "git-describe") => Ok(()),
            Some(other) => Err(
                LoadError::at(span_of(source, "ref-format"), format!("invalid ref-format '{other}'"))
                    .with_hint("use sha1 or git-describe"),
            ),
        }
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
        repo_key(source)
    }
}

fn repo_key(source: &Source) -> Result<Option<Value>, LoadError> {
    let Some(reference) = optional_str(source, "ref")? else {
        return Ok(None);
    };
    // The tag is part of what is staged (the `.git`), so the whole ref
    // is the key; the URL is not (a mirror or a moved repository
    // serves the same commit).
    let mut key = json!({ "ref": reference });
    crate::guess::augment_key(source, &mut key)?;
    Ok(Some(key))
}

/// What staging the source writes, on source cache servers.
fn staged_tree(source: &Source) -> Option<crate::staged_tree::StagedTree> {
    crate::staged_tree::StagedTree::of("git-repo", repo_key(source).ok()?)
}

fn in_mirror(source: &Source, cache: &crate::SourceCache) -> bool {
    let (Ok((tag, commit)), Ok(url)) = (pinned(source), required_str(source, "url")) else {
        return false;
    };
    Repository::open_bare(cache.git_mirror(url)).is_ok_and(|repo| has_pin(&repo, tag.as_deref(), commit))
}

/// Stages the pinned source from the mirror.
fn stage_from_mirror(source: &Source, ctx: &SourceContext<'_>, dir: &Path) -> Result<(), SourceError> {
    let url = required_str(source, "url").map_err(load_err)?;
    let (tag, commit) = pinned(source)?;
    let mirror = open_cached(ctx, url)?;
    write_tree(&mirror, commit, url, dir)?;
    write_history(&mirror, commit, tag.as_deref(), dir).map_err(|e| err(format!("cannot stage {url}: {e}")))
}

/// The tag and commit of a source's ref.
fn pinned(source: &Source) -> Result<(Option<String>, Oid), SourceError> {
    let reference = optional_str(source, "ref")
        .map_err(load_err)?
        .ok_or_else(|| err("the source has no ref: run `forge track` first"))?;
    let (tag, commit) =
        parse_ref(reference).ok_or_else(|| err(format!("ref {reference} is not in the expected format")))?;
    let oid = Oid::from_str(commit).map_err(|e| err(e.message().to_string()))?;
    Ok((tag.map(|(t, _)| t.to_string()), oid))
}

fn has_pin(repo: &Repository, tag: Option<&str>, commit: Oid) -> bool {
    has_commit(repo, commit) && tag.is_none_or(|t| repo.find_reference(&format!("refs/tags/{t}")).is_ok())
}

impl SourceRuntime for GitRepo {
    fn is_cached(&self, source: &Source, cache: &crate::SourceCache) -> bool {
        in_mirror(source, cache) || staged_tree(source).is_some_and(|tree| tree.is_kept(cache))
    }

    fn fetch(&self, source: &Source, ctx: &SourceContext<'_>) -> Result<(), SourceError> {
        let url = required_str(source, "url").map_err(load_err)?;
        let (tag, commit) = pinned(source)?;
        let tree = staged_tree(source);
        if !in_mirror(source, ctx.cache) && tree.as_ref().is_some_and(|tree| tree.fetch_before_upstream(ctx)) {
            return Ok(());
        }
        let wanted = match &tag {
            Some(tag) => format!("commit {commit} and tag {tag}"),
            None => format!("commit {commit}"),
        };
        fetch_until(ctx, url, &wanted, |repo| has_pin(repo, tag.as_deref(), commit))?;
        if let Some(tree) = tree {
            tree.offer(ctx, url, |staging| stage_from_mirror(source, ctx, staging));
        }
        Ok(())
    }

    fn track(&self, source: &Source, ctx: &SourceContext<'_>) -> Result<Option<Tracked>, SourceError> {
        let url = required_str(source, "url").map_err(load_err)?;
        let Some(track) = optional_str(source, "track").map_err(load_err)? else {
            return Ok(None);
        };
        let (repo, lock) = fetch_for_track(ctx, url)?;
        let new_text = resolve_track(
            &repo,
            url,
            track,
            &exclude(source),
            optional_str(source, "ref-format").map_err(load_err)? == Some("git-describe"),
        )?;
        drop(lock);
        let old = optional_str(source, "ref").map_err(load_err)?.map(str::to_string);
        let note = (old.as_deref() == Some(new_text.as_str())).then(|| "unchanged".to_string());
        Ok(Some(Tracked {
            new_ref: NewValue::Scalar(new_text.clone()),
            new_display: new_text,
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

/// The ref `track` picks in the mirror, in the source's ref format: the
/// commit, `<tag>-0-g<commit>` for a tag, or `git describe` of a branch.
pub fn resolve_track(
    repo: &Repository,
    url: &str,
    track: &str,
    exclude: &[String],
    describe_form: bool,
) -> Result<String, SourceError> {
    let names: Vec<String> = repo
        .references()
        .map_err(|e| err(e.message().to_string()))?
        .filter_map(|r| r.ok().and_then(|r| r.name().ok().map(str::to_string)))
        .collect();
    let picked = pick_ref(names.iter().map(String::as_str), track, exclude)
        .ok_or_else(|| err(format!("{url} has no branch or tag matching '{track}'")))?;
    let commit = repo
        .revparse_single(picked)
        .and_then(|o| o.peel_to_commit())
        .map_err(|e| err(format!("{url}: {picked}: {}", e.message())))?
        .id();
    Ok(if !describe_form {
        commit.to_string()
    } else if let Some(tag) = picked.strip_prefix("refs/tags/") {
        format!("{tag}-0-g{commit}")
    } else {
        describe(repo, commit).unwrap_or_else(|| commit.to_string())
    })
}

/// Writes `dir/.git`: HEAD detached at `commit`, the commits from the
/// tag's commit (or the commit alone), their trees and symlink targets,
/// the tag, a shallow list, and an index of the checked-out tree.
pub(crate) fn write_history(mirror: &Repository, commit: Oid, tag: Option<&str>, dir: &Path) -> Result<(), String> {
    let message = |e: git2::Error| e.message().to_string();
    let mut commits = vec![commit];
    let mut tag_objects = Vec::new();
    let mut tag_ref = None;
    if let Some(tag) = tag {
        let reference = mirror
            .find_reference(&format!("refs/tags/{tag}"))
            .map_err(|_| format!("tag {tag} is not in the mirror; run `forge fetch`"))?;
        let target = reference.target().ok_or("the tag is a symbolic ref")?;
        tag_ref = Some((format!("refs/tags/{tag}"), target));
        let mut object = mirror.find_object(target, None).map_err(message)?;
        while let Some(tag) = object.as_tag() {
            tag_objects.push(tag.id());
            object = tag.target().map_err(message)?;
        }
        let base = object.peel_to_commit().map_err(message)?;
        let mut walk = mirror.revwalk().map_err(message)?;
        walk.push(commit).map_err(message)?;
        for parent in base.parent_ids() {
            if has_commit(mirror, parent) {
                walk.hide(parent).map_err(message)?;
            }
        }
        commits = walk.collect::<Result<Vec<_>, _>>().map_err(message)?;
    }
    let dest = Repository::init(dir).map_err(message)?;
    let (source_odb, dest_odb) = (mirror.odb().map_err(message)?, dest.odb().map_err(message)?);
    let copy = |oid: Oid| -> Result<(), String> {
        let object = source_odb.read(oid).map_err(message)?;
        dest_odb
            .write(object.kind(), object.data())
            .map_err(message)
            .map(|_| ())
    };
    let included: std::collections::HashSet<Oid> = commits.iter().copied().collect();
    let mut shallow = Vec::new();
    let mut trees = Vec::new();
    for &id in &commits {
        let object = mirror.find_commit(id).map_err(message)?;
        if object.parent_ids().any(|p| !included.contains(&p)) {
            shallow.push(id);
        }
        trees.push(object.tree_id());
        copy(id)?;
    }
    let mut seen = std::collections::HashSet::new();
    while let Some(tree_id) = trees.pop() {
        if !seen.insert(tree_id) {
            continue;
        }
        copy(tree_id)?;
        let tree = mirror.find_tree(tree_id).map_err(message)?;
        for entry in tree.iter() {
            match entry.kind() {
                Some(git2::ObjectType::Tree) => trees.push(entry.id()),
                Some(git2::ObjectType::Blob) if entry.filemode() == 0o120000 => copy(entry.id())?,
                _ => {}
            }
        }
    }
    for id in tag_objects {
        copy(id)?;
    }
    if let Some((name, target)) = tag_ref {
        dest.reference(&name, target, true, "forge: staged tag")
            .map_err(message)?;
    }
    shallow.sort();
    let list: String = shallow.iter().map(|id| format!("{id}\n")).collect();
    std::fs::write(dest.path().join("shallow"), list).map_err(|e| e.to_string())?;
    dest.set_head_detached(commit).map_err(message)?;
    let tree = dest.find_commit(commit).and_then(|c| c.tree()).map_err(message)?;
    let mut index = dest.index().map_err(message)?;
    index.read_tree(&tree).map_err(message)?;
    index.write().map_err(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "79649529cffb695d0d22195ed9a4910c80ca6907";

    #[test]
    fn refs_in_the_plugin_forms() {
        assert_eq!(parse_ref(SHA), Some((None, SHA)));
        assert_eq!(parse_ref(&format!("2.5.0-0-g{SHA}")), Some((Some(("2.5.0", 0)), SHA)));
        assert_eq!(
            parse_ref(&format!("freedesktop-sdk-26.08rc.1-20-g{SHA}")),
            Some((Some(("freedesktop-sdk-26.08rc.1", 20)), SHA))
        );
        assert_eq!(parse_ref(&format!("v1-g2-3-g{SHA}")), Some((Some(("v1-g2", 3)), SHA)));
        assert_eq!(parse_ref("main"), None);
        assert_eq!(parse_ref(&format!("v1-x-g{SHA}")), None);
        assert_eq!(parse_ref(&SHA.to_uppercase()), None);
    }

    #[test]
    fn globs_as_python_fnmatch() {
        assert!(fnmatch("*.*.*", "2.5.0"));
        assert!(fnmatch("*", "a/b"));
        assert!(fnmatch("freedesktop-sdk-26.08*", "freedesktop-sdk-26.08.3"));
        assert!(!fnmatch("*dev*", "2.5.0"));
        assert!(fnmatch("*dev*", "2.6.dev1"));
        assert!(fnmatch("v[0-9]*", "v1.2"));
        assert!(!fnmatch("v[!0-9]*", "v1.2"));
        assert!(fnmatch("a?c", "abc"));
        assert!(!fnmatch("a?c", "abbc"));
        assert!(ref_matches("*.*.*", "refs/tags/2.5.0"));
        assert!(ref_matches("main", "refs/heads/main"));
        assert!(!ref_matches("main", "refs/remotes/origin/main"));
        assert!(ref_matches("refs/tags/v*", "refs/tags/v1"));
    }

    #[test]
    fn the_highest_version_wins() {
        let refs = [
            "refs/tags/2.5.0",
            "refs/tags/2.10.0",
            "refs/tags/2.9.1",
            "refs/tags/2.11.dev0",
            "refs/heads/main",
        ];
        let exclude = vec!["*dev*".to_string()];
        assert_eq!(
            pick_ref(refs.iter().copied(), "*.*.*", &exclude),
            Some("refs/tags/2.10.0")
        );
        assert_eq!(
            pick_ref(refs.iter().copied(), "*.*.*", &[]),
            Some("refs/tags/2.11.dev0")
        );
        // Letters sort before numbers: a beta is older than the release.
        assert_eq!(
            pick_ref(["refs/tags/1.beta", "refs/tags/1.0"].into_iter(), "1.*", &[]),
            Some("refs/tags/1.0")
        );
        assert_eq!(pick_ref(refs.iter().copied(), "nope*", &[]), None);
    }
}
