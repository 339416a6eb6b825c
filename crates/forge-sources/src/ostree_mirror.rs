//! freedesktop-sdk's local `ostree_mirror`: several commits of an OSTree
//! repository (`ref`: a list of `{ref, checksum}`), staged as an OSTree
//! repository of their own in `archive` mode holding those commits under
//! their refs, as the plugin's `stage` makes it (flatpak builds read it).
//!
//! `url` (aliased) or `path` (inside the project) names the repository;
//! `gpg` is the keyring every commit must be signed by, as the plugin's
//! remote verifies; `track` lists the repository's refs from its
//! `summary` and keeps those matching `match` (Python's `fnmatch`: `*`
//! crosses `/`). Every object is checked as the `ostree` source checks it
//! and kept as the repository stores it; the objects of all the commits
//! are kept in the source cache as one tarball.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use forge_project::{KeyContext, LoadError, Project, Source, SourceKind};
use forge_yaml::Node;
use forge_yaml::edit::NewValue;
use serde_json::{Value, json};

use crate::checks::{check_project_path, optional_str, required_str, span_of};
use crate::git_repo::fnmatch;
use crate::ostree::{Repo, is_checksum, read_summary, unique_files, walk};
use crate::runtime::{SourceContext, SourceError, SourceRuntime, Tracked};

/// File objects downloaded at once.
const PARALLEL: usize = 8;

fn err(message: impl Into<String>) -> SourceError {
    SourceError::new(message)
}

/// freedesktop-sdk's local `ostree_mirror`.
pub struct OstreeMirror;

impl SourceKind for OstreeMirror {
    fn name(&self) -> &'static str {
        "ostree_mirror"
    }
    fn config_keys(&self) -> &'static [&'static str] {
        &["match", "path", "url", "ref", "gpg"]
    }
    fn validate(&self, source: &Source, project: &Project) -> Result<(), LoadError> {
        match optional_str(source, "url")? {
            Some(url) => project.check_url_alias(url, span_of(source, "url"))?,
            None => check_project_path(source, project, "path")?,
        }
        check_project_path(source, project, "gpg")?;
        optional_str(source, "match")?;
        refs(source)?;
        Ok(())
    }
    fn unique_key(&self, source: &Source, _ctx: &KeyContext<'_>) -> Result<Option<Value>, LoadError> {
        let url = optional_str(source, "url")?.or(optional_str(source, "path")?);
        let refs = source.get("ref").map(forge_project::keys::node_to_json);
        Ok(Some(json!([url, refs])))
    }
}

/// The pinned refs, `(ref, checksum)`, sorted by ref; `None` without a
/// `ref` list.
fn refs(source: &Source) -> Result<Option<Vec<(String, String)>>, LoadError> {
    let Some(list) = source.get("ref") else {
        return Ok(None);
    };
    let items = list
        .as_list()
        .ok_or_else(|| LoadError::at(&list.span, "'ref' is a list of {ref, checksum}"))?;
    let mut refs = Vec::with_capacity(items.len());
    for item in items {
        let map = item
            .as_map()
            .ok_or_else(|| LoadError::at(&item.span, "a ref entry is a mapping of ref and checksum"))?;
        forge_project::error::check_keys(map, &["ref", "checksum"], "an ostree_mirror ref")?;
        let field = |key: &str| {
            map.get(key)
                .and_then(Node::as_str)
                .ok_or_else(|| LoadError::at(&item.span, format!("a ref entry needs '{key}'")))
        };
        let (name, checksum) = (field("ref")?, field("checksum")?);
        if !is_ref_name(name) {
            return Err(LoadError::at(
                &item.span,
                format!(
                    "'{}' is not an OSTree ref name (components of letters, digits, '-', '_' and '.', separated by '/')",
                    forge_project::error::printable_line(name)
                ),
            ));
        }
        if !is_checksum(checksum) {
            return Err(LoadError::at(
                &item.span,
                format!(
                    "the checksum of {name} must be an OSTree commit checksum (64 hex digits), not '{}'",
                    forge_project::error::printable_line(checksum)
                ),
            ));
        }
        refs.push((name.to_string(), checksum.to_string()));
    }
    refs.sort();
    Ok(Some(refs))
}

/// A ref name as OSTree accepts it: `[\w\d][-._\w\d]*` components
/// separated by `/`.
fn is_ref_name(name: &str) -> bool {
    !name.is_empty()
        && name.split('/').all(|part| {
            part.chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        })
}

/// The repository's URL: `url`, else `file://` and the project's `path`.
fn repository_url(source: &Source, ctx: &SourceContext<'_>) -> Result<String, SourceError> {
    match optional_str(source, "url").map_err(|e| err(e.to_string()))? {
        Some(url) => Ok(url.to_string()),
        None => {
            let path = required_str(source, "path").map_err(|e| err(e.to_string()))?;
            Ok(format!("file://{}", ctx.project.dir.join(path).display()))
        }
    }
}

fn pinned(source: &Source) -> Result<Vec<(String, String)>, SourceError> {
    refs(source)
        .map_err(|e| err(e.to_string()))?
        .ok_or_else(|| err("no refs: run `forge track` first"))
}

/// The objects of the pinned commits, in the source cache and on source
/// cache servers, named by the hash of the pinned refs.
fn staged_tree(refs: &[(String, String)]) -> crate::staged_tree::StagedTree {
    crate::staged_tree::StagedTree::named("ostree-mirror", &forge_project::keys::hash_json(&json!(refs)))
}

/// Pulls the objects of every commit of `refs`, as the repository stores
/// them, into `objects/` under `staging`.
fn pull_objects(
    repo: &Repo<'_>,
    refs: &[(String, String)],
    keyring: &Path,
    staging: &Path,
) -> Result<usize, SourceError> {
    let write = |checksum: &str, extension: &str, bytes: &[u8]| -> Result<(), SourceError> {
        let path = staging.join(Repo::object_path(checksum, extension));
        fs::create_dir_all(path.parent().expect("objects have parents"))
            .and_then(|()| fs::write(&path, bytes))
            .map_err(|e| err(format!("cannot stage {}: {e}", path.display())))
    };
    let mut files = 0;
    for (_, commit) in refs {
        let walked = walk(repo, commit, Some(keyring))?;
        write(commit, "commit", &walked.commit)?;
        if let Some(meta) = &walked.commitmeta {
            write(commit, "commitmeta", meta)?;
        }
        for (checksum, extension, bytes) in &walked.metadata {
            write(checksum, extension, bytes)?;
        }
        let missing: Vec<(&str, PathBuf)> = unique_files(&walked)
            .into_iter()
            .map(|(checksum, _)| (checksum.as_str(), staging.join(Repo::object_path(checksum, "filez"))))
            .filter(|(_, path)| !path.exists())
            .collect();
        for (_, path) in &missing {
            fs::create_dir_all(path.parent().expect("objects have parents")).map_err(|e| err(e.to_string()))?;
        }
        let results =
            forge_project::parallel::map_on(PARALLEL, &missing, |(checksum, path)| repo.raw_file(checksum, path));
        results.into_iter().collect::<Result<Vec<()>, SourceError>>()?;
        files += walked.files.len();
    }
    Ok(files)
}

impl SourceRuntime for OstreeMirror {
    fn is_cached(&self, source: &Source, cache: &crate::SourceCache) -> bool {
        pinned(source).is_ok_and(|refs| staged_tree(&refs).is_kept(cache))
    }

    fn fetch(&self, source: &Source, ctx: &SourceContext<'_>) -> Result<(), SourceError> {
        let refs = pinned(source)?;
        let tree = staged_tree(&refs);
        if tree.fetch_before_upstream(ctx) {
            return Ok(());
        }
        let url = repository_url(source, ctx)?;
        let keyring = ctx
            .project
            .dir
            .join(required_str(source, "gpg").map_err(|e| err(e.to_string()))?);
        let repo = Repo { ctx, url: &url };
        let files = tree.keep(ctx, &url, |staging| pull_objects(&repo, &refs, &keyring, staging))?;
        ctx.progress.detail(&forge_project::error::printable_line(&format!(
            "{url}: {} commits, {files} files",
            refs.len()
        )));
        Ok(())
    }

    fn track(&self, source: &Source, ctx: &SourceContext<'_>) -> Result<Option<Tracked>, SourceError> {
        let url = repository_url(source, ctx)?;
        let pattern = optional_str(source, "match").map_err(|e| err(e.to_string()))?;
        let repo = Repo { ctx, url: &url };
        let mut listed = read_summary(&repo)?;
        listed.retain(|(name, _)| pattern.is_none_or(|p| fnmatch(p, name)));
        listed.retain(|(name, checksum)| is_ref_name(name) && is_checksum(checksum));
        listed.sort();
        let display = |refs: &[(String, String)]| {
            refs.iter()
                .map(|(name, checksum)| format!("{name}={}", &checksum[..12]))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let old = refs(source).ok().flatten();
        Ok(Some(Tracked {
            new_ref: NewValue::List(
                listed
                    .iter()
                    .map(|(name, checksum)| {
                        vec![
                            ("ref".to_string(), NewValue::Scalar(name.clone())),
                            ("checksum".to_string(), NewValue::Scalar(checksum.clone())),
                        ]
                    })
                    .collect(),
            ),
            new_display: display(&listed),
            old_display: old.map(|old| display(&old)),
            note: Some(format!("{} refs", listed.len())),
            warning: None,
            commits: Vec::new(),
        }))
    }

    fn stage(&self, source: &Source, ctx: &SourceContext<'_>, dir: &Path) -> Result<(), SourceError> {
        let refs = pinned(source)?;
        let failed = |e: io::Error| err(format!("cannot stage the repository: {e}"));
        if !staged_tree(&refs).stage(ctx, dir)? {
            return Err(err("the pinned commits are not in the source cache; run `forge fetch`"));
        }
        // The rest of what `ostree init --mode=archive` makes, and the refs.
        fs::write(dir.join("config"), "[core]\nrepo_version=1\nmode=archive-z2\n").map_err(failed)?;
        for empty in [
            "refs/heads",
            "refs/mirrors",
            "refs/remotes",
            "state",
            "tmp",
            "extensions",
        ] {
            fs::create_dir_all(dir.join(empty)).map_err(failed)?;
        }
        for (name, checksum) in &refs {
            let path = dir.join("refs/heads").join(name);
            fs::create_dir_all(path.parent().expect("refs have parents")).map_err(failed)?;
            fs::write(&path, format!("{checksum}\n")).map_err(failed)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn match_is_pythons_fnmatch() {
        assert!(fnmatch("app/*", "app/org.example.App/x86_64/stable"));
        assert!(fnmatch("*/x86_64/*", "runtime/org.example.Platform/x86_64/23.08"));
        assert!(!fnmatch("*/aarch64/*", "runtime/org.example.Platform/x86_64/23.08"));
        assert!(fnmatch(
            "runtime/org.example.?latform/*",
            "runtime/org.example.Platform/x"
        ));
        assert!(fnmatch("[ar]*", "app/x") && fnmatch("[!r]*", "app/x") && !fnmatch("[!a]*", "app/x"));
        assert!(fnmatch("[a-c]pp/*", "bpp/y"));
        assert!(fnmatch("*", "") && !fnmatch("?", ""));
        assert!(fnmatch("a*b*c", "aXXbYYbc") && !fnmatch("a*b*c", "aXXbYY"));
    }

    #[test]
    fn ref_names_are_ostree_s() {
        assert!(is_ref_name("app/org.example.App/x86_64/stable"));
        for bad in ["", "/app", "app//x", "app/../x", "app/.x", "a b", "app/x/"] {
            assert!(!is_ref_name(bad), "{bad}");
        }
    }
}
