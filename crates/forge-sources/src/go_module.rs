//! `go_module` (buildstream-plugins-community): one Go module of the
//! `go.sum` of the sources staged before it, vendored from its git
//! repository at `ref: {go-version, git-ref, subdirectory?}` into
//! `vendor/<module>`, with its line in `vendor/modules.txt`, so that `go
//! build -mod=vendor` works offline.

use std::fs;
use std::io::Write;
use std::path::Path;

use forge_project::{KeyContext, LoadError, Project, Source, SourceKind};
use forge_yaml::Node;
use forge_yaml::edit::NewValue;
use git2::{Oid, Repository};
use serde_json::{Value, json};

use crate::checks::{check_url, required_str};
use crate::git::{describe, fetch_for_track, fetch_until, has_commit, open_cached, write_tree};
use crate::git_repo::parse_ref;
use crate::runtime::{SourceContext, SourceError, SourceRuntime, Tracked};

/// The `go_module` kind.
pub struct GoModule;

fn err(message: impl Into<String>) -> SourceError {
    SourceError::new(message)
}

/// The source's `ref:`.
#[derive(Clone, Debug, PartialEq)]
struct GoRef {
    go_version: String,
    git_ref: String,
    subdirectory: Option<String>,
}

fn go_ref(source: &Source) -> Result<Option<GoRef>, LoadError> {
    let Some(node) = source.get("ref") else {
        return Ok(None);
    };
    let map = node
        .as_map()
        .ok_or_else(|| LoadError::at(&node.span, "'ref' is a mapping: go-version, git-ref"))?;
    forge_project::error::check_keys(
        map,
        &["go-version", "git-ref", "explicit", "subdirectory"],
        "a go_module ref",
    )?;
    let get = |k: &str| map.get(k).and_then(Node::as_str).map(str::to_string);
    let (Some(go_version), Some(git_ref)) = (get("go-version"), get("git-ref")) else {
        return Err(LoadError::at(&node.span, "'ref' needs 'go-version' and 'git-ref'"));
    };
    if parse_ref(&git_ref).is_none() {
        return Err(LoadError::at(
            &node.span,
            format!("'git-ref' {git_ref} is not in the expected format"),
        ));
    }
    Ok(Some(GoRef {
        go_version,
        git_ref,
        subdirectory: get("subdirectory"),
    }))
}

/// The tag and commit of a git ref.
fn pinned(reference: &str) -> Result<(Option<String>, Oid), SourceError> {
    let (tag, commit) =
        parse_ref(reference).ok_or_else(|| err(format!("ref {reference} is not in the expected format")))?;
    let oid = Oid::from_str(commit).map_err(|e| err(e.message().to_string()))?;
    Ok((tag.map(|(t, _)| t.to_string()), oid))
}

fn has_pin(repo: &Repository, tag: Option<&str>, commit: Oid) -> bool {
    has_commit(repo, commit) && tag.is_none_or(|t| repo.find_reference(&format!("refs/tags/{t}")).is_ok())
}

impl SourceKind for GoModule {
    fn name(&self) -> &'static str {
        "go_module"
    }
    fn config_keys(&self) -> &'static [&'static str] {
        &["ref", "url", "module"]
    }
    fn validate(&self, source: &Source, project: &Project) -> Result<(), LoadError> {
        check_url(source, project)?;
        required_str(source, "module")?;
        go_ref(source)?;
        Ok(())
    }
    fn info(&self, source: &Source, project: &Project, _ctx: &KeyContext<'_>) -> Vec<forge_project::SourceInfo> {
        match (required_str(source, "url").ok(), go_ref(source).ok().flatten()) {
            (Some(url), Some(reference)) => vec![crate::checks::git_info(source, project, url, &reference.git_ref)],
            _ => Vec::new(),
        }
    }
    fn unique_key(&self, source: &Source, _ctx: &KeyContext<'_>) -> Result<Option<Value>, LoadError> {
        let Some(reference) = go_ref(source)? else {
            return Ok(None);
        };
        Ok(Some(json!({
            "module": required_str(source, "module")?,
            "go-version": reference.go_version,
            "git-ref": reference.git_ref,
            "subdirectory": reference.subdirectory,
        })))
    }
}

/// A semantic version as Go writes it (`v1.2.3`, `v2.0.0-rc.1+meta`):
/// its major part (`v2`) and the tag without build metadata.
fn semver(version: &str) -> Option<(&str, &str)> {
    let rest = version.strip_prefix('v')?;
    let tag_end = rest.find('+').map_or(version.len(), |i| i + 1);
    let tag = &version[..tag_end];
    let core = tag[1..].split('-').next()?;
    let numbers: Vec<&str> = core.split('.').collect();
    let number = |n: &str| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) && (n == "0" || !n.starts_with('0'));
    if numbers.len() != 3 || !numbers.iter().all(|n| number(n)) {
        return None;
    }
    Some((&version[..numbers[0].len() + 1], tag))
}

/// The short commit of a pseudo-version (`v0.0.0-20200101120000-abcdef123456`).
fn pseudo_commit(version: &str) -> Option<&str> {
    let last = version.rsplit('-').next()?;
    let before = &version[..version.len() - last.len()];
    let timestamp = before.trim_end_matches('-').rsplit(['-', '.']).next()?;
    (last.len() >= 7
        && last.bytes().all(|b| b.is_ascii_hexdigit())
        && timestamp.len() == 14
        && timestamp.bytes().all(|b| b.is_ascii_digit()))
    .then_some(last)
}

/// The module's version in `go.sum` (lines `module version hash`, skipping
/// the `/go.mod` ones).
fn version_in_go_sum(go_sum: &str, module: &str) -> Option<String> {
    go_sum.lines().find_map(|line| {
        let mut fields = line.split_whitespace();
        let (name, version) = (fields.next()?, fields.next()?);
        (name == module && !version.ends_with("/go.mod") && !version.ends_with("/go.sum")).then(|| version.to_string())
    })
}

/// Where the module lives in its repository: for github.com, what follows
/// `github.com/owner/repo`; elsewhere what follows the `go-import` root the
/// module's page declares.
fn module_subdirectory(ctx: &SourceContext<'_>, module: &str) -> Result<String, SourceError> {
    if module.starts_with("github.com/") {
        return Ok(module.split('/').skip(3).collect::<Vec<_>>().join("/"));
    }
    let page = format!("https://{module}?go-get=1");
    let (_, body, _) = ctx
        .downloader
        .get_text(std::slice::from_ref(&page), "text/html")
        .map_err(|failure| failure.into_error(format!("cannot ask {page} where {module} lives")))?;
    Ok(go_import_root(&body)
        .and_then(|root| {
            module
                .strip_prefix(root.as_str())
                .map(|s| s.trim_start_matches('/').to_string())
        })
        .unwrap_or_default())
}

/// The module root of the first `<meta name="go-import" content="root vcs url">`.
fn go_import_root(html: &str) -> Option<String> {
    let at = html.find("go-import")?;
    let rest = &html[at..];
    let content = rest.find("content=")?;
    let value = &rest[content + 8..];
    let quote = value.chars().next()?;
    let end = value[1..].find(quote)?;
    value[1..=end].split_whitespace().next().map(str::to_string)
}

impl SourceRuntime for GoModule {
    fn is_cached(&self, source: &Source, cache: &crate::SourceCache) -> bool {
        let (Ok(Some(reference)), Ok(url)) = (go_ref(source), required_str(source, "url")) else {
            return false;
        };
        let Ok((tag, commit)) = pinned(&reference.git_ref) else {
            return false;
        };
        Repository::open_bare(cache.git_mirror(url)).is_ok_and(|repo| has_pin(&repo, tag.as_deref(), commit))
    }

    fn on_source_caches(&self) -> bool {
        // Fetched into forge's git mirrors only, so far: its staging adds
        // a line to the `vendor/modules.txt` of the sources before it, so
        // a tarball of what it writes alone would not stage it.
        false
    }

    fn fetch(&self, source: &Source, ctx: &SourceContext<'_>) -> Result<(), SourceError> {
        let url = required_str(source, "url").map_err(|e| err(e.to_string()))?;
        let reference = go_ref(source)
            .map_err(|e| err(e.to_string()))?
            .ok_or_else(|| err(format!("{url} has no ref: run `forge track` first")))?;
        let (tag, commit) = pinned(&reference.git_ref)?;
        fetch_until(ctx, url, &reference.git_ref, |repo| {
            has_pin(repo, tag.as_deref(), commit)
        })
        .map(|_| ())
    }

    fn track(&self, _source: &Source, _ctx: &SourceContext<'_>) -> Result<Option<Tracked>, SourceError> {
        Err(err(
            "a go_module source is tracked from the go.sum of the sources staged before it",
        ))
    }

    fn tracks_from_previous_sources(&self) -> bool {
        true
    }

    fn track_from(
        &self,
        source: &Source,
        ctx: &SourceContext<'_>,
        previous: &Path,
    ) -> Result<Option<Tracked>, SourceError> {
        let url = required_str(source, "url").map_err(|e| err(e.to_string()))?;
        let module = required_str(source, "module").map_err(|e| err(e.to_string()))?;
        let go_sum = fs::read_to_string(previous.join("go.sum"))
            .map_err(|e| err(format!("cannot read go.sum in the sources staged before this one: {e}")))?;
        let version =
            version_in_go_sum(&go_sum, module).ok_or_else(|| err(format!("go.sum does not list {module}")))?;
        let mut subdirectory = module_subdirectory(ctx, module)?;
        let (repo, lock) = fetch_for_track(ctx, url)?;
        let git_ref = if let Some(short) = pseudo_commit(&version) {
            let odb = repo.odb().map_err(|e| err(e.message().to_string()))?;
            let found = Oid::from_str(short)
                .ok()
                .and_then(|prefix| odb.exists_prefix(prefix, short.len()).ok())
                .ok_or_else(|| err(format!("failed to find {short} in {url}")))?;
            describe(&repo, found).unwrap_or_else(|| found.to_string())
        } else {
            let (major, tag) =
                semver(&version).ok_or_else(|| err(format!("version string {version} not recognized")))?;
            subdirectory = subdirectory.trim_end_matches(major).trim_end_matches('/').to_string();
            let name = if subdirectory.is_empty() {
                tag.to_string()
            } else {
                format!("{subdirectory}/{tag}")
            };
            let commit = repo
                .revparse_single(&format!("refs/tags/{name}"))
                .and_then(|o| o.peel_to_commit())
                .map_err(|_| err(format!("{url} has no tag {name} for {module} {version}")))?
                .id();
            format!("{name}-0-g{commit}")
        };
        drop(lock);
        let mut entries = vec![
            ("go-version".to_string(), version.clone()),
            ("git-ref".to_string(), git_ref.clone()),
        ];
        if !subdirectory.is_empty() {
            entries.push(("subdirectory".to_string(), subdirectory));
        }
        let old = go_ref(source).ok().flatten();
        let note = old
            .as_ref()
            .filter(|o| o.git_ref == git_ref)
            .map(|_| "unchanged".to_string());
        Ok(Some(Tracked {
            new_ref: NewValue::Mapping(entries),
            new_display: format!("{version} ({git_ref})"),
            old_display: old.map(|o| format!("{} ({})", o.go_version, o.git_ref)),
            note,
            warning: None,
            commits: Vec::new(),
        }))
    }

    fn stage(&self, source: &Source, ctx: &SourceContext<'_>, dir: &Path) -> Result<(), SourceError> {
        let url = required_str(source, "url").map_err(|e| err(e.to_string()))?;
        let module = required_str(source, "module").map_err(|e| err(e.to_string()))?;
        let reference = go_ref(source)
            .map_err(|e| err(e.to_string()))?
            .ok_or_else(|| err("the source has no ref"))?;
        let (_, commit) = pinned(&reference.git_ref)?;
        let mirror = open_cached(ctx, url)?;
        let scratch = crate::tar::tempdir_in(dir).map_err(|e| err(format!("cannot stage {module}: {e}")))?;
        let result = (|| {
            write_tree(&mirror, commit, url, &scratch)?;
            let mut module_dir = match &reference.subdirectory {
                Some(sub) => scratch.join(sub),
                None => scratch.clone(),
            };
            if let Some((major, _)) = semver(&reference.go_version)
                && major[1..].parse::<u64>().is_ok_and(|m| m >= 2)
                && module_dir.join(major).is_dir()
            {
                module_dir = module_dir.join(major);
            }
            let vendor = dir.join("vendor").join(module);
            crate::extract::merge_into(&module_dir, &vendor)
                .map_err(|e| err(format!("cannot vendor {module}: {e}")))?;
            append_modules_txt(dir, module, &reference.go_version)
                .map_err(|e| err(format!("cannot write vendor/modules.txt: {e}")))
        })();
        let _ = fs::remove_dir_all(&scratch);
        result
    }
}

/// A module at a version.
type ModuleVersion = (String, String);

/// The modules the main `go.mod` requires directly (`module vX` lines),
/// and its `replace old v => new v` directives, new → old.
fn parse_go_mod(text: &str) -> (Vec<String>, Vec<(ModuleVersion, ModuleVersion)>) {
    let mut explicit = Vec::new();
    let mut replacements = Vec::new();
    for line in text.lines() {
        let parts: Vec<&str> = line.split_whitespace().collect();
        if parts.len() > 1 && parts[1].starts_with('v') {
            explicit.push(parts[0].to_string());
        }
        if parts.len() == 6 && parts[0] == "replace" {
            replacements.push((
                (parts[4].to_string(), parts[5].to_string()),
                (parts[1].to_string(), parts[2].to_string()),
            ));
        }
    }
    (explicit, replacements)
}

/// Appends the module's entry to `vendor/modules.txt` as `go mod vendor`
/// writes it: `# module version`, `## explicit; go X` for direct
/// requirements, then each package directory holding Go files.
fn append_modules_txt(dir: &Path, module: &str, version: &str) -> std::io::Result<()> {
    let go_mod = fs::read_to_string(dir.join("go.mod")).unwrap_or_default();
    let (explicit, replacements) = parse_go_mod(&go_mod);
    let key = (module.to_string(), version.to_string());
    let (orig_module, orig_version) = replacements
        .iter()
        .find(|(new, _)| *new == key)
        .map(|(_, old)| old.clone())
        .unwrap_or_else(|| key.clone());
    let vendor = dir.join("vendor");
    let module_dir = vendor.join(&orig_module);
    let go_directive = fs::read_to_string(module_dir.join("go.mod"))
        .ok()
        .and_then(|t| t.lines().find(|l| l.starts_with("go ")).map(str::to_string));
    let mut out = String::new();
    if explicit.contains(&orig_module) {
        if (orig_module.as_str(), orig_version.as_str()) != (module, version) {
            out.push_str(&format!("# {orig_module} {orig_version} => {module} {version}\n"));
        } else {
            out.push_str(&format!("# {module} {version}\n"));
        }
        match go_directive {
            Some(go) => out.push_str(&format!("## explicit; {go}\n")),
            None => out.push_str("## explicit\n"),
        }
    } else {
        out.push_str(&format!("# {module}\n"));
    }
    // Package directories, top-down, in name order, `.git` skipped.
    let mut pending = vec![module_dir.clone()];
    while let Some(current) = pending.pop() {
        let mut entries: Vec<_> = fs::read_dir(&current)?.filter_map(Result::ok).collect();
        entries.sort_by_key(|e| e.file_name());
        let has_go = entries.iter().any(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name == "go.mod" || name.ends_with(".go")
        });
        if has_go && let Ok(relative) = current.strip_prefix(&vendor) {
            out.push_str(&format!("{}\n", relative.display()));
        }
        let mut subdirs: Vec<_> = entries
            .iter()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()) && e.file_name() != ".git")
            .map(|e| e.path())
            .collect();
        subdirs.reverse();
        pending.extend(subdirs);
    }
    fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(vendor.join("modules.txt"))?
        .write_all(out.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_as_go_writes_them() {
        assert_eq!(semver("v2.1.0"), Some(("v2", "v2.1.0")));
        assert_eq!(semver("v1.2.3-rc.1+incompatible"), Some(("v1", "v1.2.3-rc.1")));
        assert_eq!(semver("v1.2"), None);
        assert_eq!(semver("1.2.3"), None);
        assert_eq!(
            pseudo_commit("v0.0.0-20200101120000-abcdef123456"),
            Some("abcdef123456")
        );
        assert_eq!(
            pseudo_commit("v1.2.4-0.20200101120000-abcdef123456"),
            Some("abcdef123456")
        );
        assert_eq!(pseudo_commit("v2.1.0"), None);
    }

    #[test]
    fn go_sum_and_go_mod() {
        let sum =
            "github.com/x/y v1.0.0 h1:abc=\ngithub.com/x/y v1.0.0/go.mod h1:def=\ngithub.com/z/w v0.1.0/go.mod h1:x=\n";
        assert_eq!(version_in_go_sum(sum, "github.com/x/y").as_deref(), Some("v1.0.0"));
        assert_eq!(version_in_go_sum(sum, "github.com/z/w"), None);
        let (explicit, replace) = parse_go_mod(
            "module a\n\ngo 1.21\n\nrequire (\n\tgithub.com/x/y v1.0.0\n)\nreplace github.com/old v1 => github.com/new v2\n",
        );
        assert_eq!(explicit, vec!["github.com/x/y".to_string()]);
        assert_eq!(
            replace,
            vec![(
                ("github.com/new".into(), "v2".into()),
                ("github.com/old".into(), "v1".into())
            )]
        );
        assert_eq!(
            go_import_root(
                "<meta name=\"go-import\" content=\"golang.org/x/net git https://go.googlesource.com/net\">"
            )
            .as_deref(),
            Some("golang.org/x/net")
        );
    }

    #[test]
    fn modules_txt_lists_package_directories() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join("go.mod"),
            "module app\ngo 1.21\nrequire (\n\tgithub.com/x/y v1.0.0\n)\n",
        )
        .unwrap();
        let module = dir.path().join("vendor/github.com/x/y");
        fs::create_dir_all(module.join("sub/deeper")).unwrap();
        fs::create_dir_all(module.join("docs")).unwrap();
        fs::write(module.join("go.mod"), "module github.com/x/y\ngo 1.20\n").unwrap();
        fs::write(module.join("y.go"), "package y\n").unwrap();
        fs::write(module.join("sub/deeper/d.go"), "package d\n").unwrap();
        append_modules_txt(dir.path(), "github.com/x/y", "v1.0.0").unwrap();
        assert_eq!(
            fs::read_to_string(dir.path().join("vendor/modules.txt")).unwrap(),
            "# github.com/x/y v1.0.0\n## explicit; go 1.20\ngithub.com/x/y\ngithub.com/x/y/sub/deeper\n"
        );
    }
}
