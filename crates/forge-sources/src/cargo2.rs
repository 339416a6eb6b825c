//! `cargo2` (buildstream-plugins-community): the crates a `Cargo.lock`
//! (staged by an earlier source) names, vendored for an offline `cargo
//! build`. `ref` lists each crate: registry crates by name, version and
//! the sha256 of the `.crate` file (Cargo.lock's checksum), git crates by
//! repository and commit. `forge track` reads the lock file; `forge fetch`
//! downloads `<url><name>/<name>-<version>.crate` and checks its sha256.
//! Staging unpacks every crate under `vendor-dir`, with the
//! `.cargo-checksum.json` cargo wants, and writes `.cargo/config.toml`.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use forge_project::{KeyContext, LoadError, Project, Source, SourceKind, UrlPurpose};
use forge_yaml::edit::NewValue;
use forge_yaml::{Mapping, Node};
use git2::{Oid, Repository};
use serde_json::{Value, json};

use crate::checks::{is_sha256, optional_str, span_of};
use crate::extract::{extract_tar, open_compressed};
use crate::git::{fetch_until, has_commit, open_cached, write_tree};
use crate::runtime::{SourceContext, SourceError, SourceRuntime, Tracked};

/// The `cargo2` kind.
pub struct Cargo2;

/// Where crates are downloaded from when `url` is not given.
pub const DEFAULT_URL: &str = "https://static.crates.io/crates";

const CRATE_KEYS: [&str; 8] = [
    "kind",
    "name",
    "version",
    "sha",
    "repo",
    "commit",
    "query",
    "provenance",
];

/// One crate of the ref.
#[derive(Clone, Debug, PartialEq)]
pub enum Crate {
    /// From the registry, by the sha256 of its `.crate` file (`None` until
    /// tracked).
    Registry {
        name: String,
        version: String,
        sha: Option<String>,
    },
    /// From a git repository at a commit.
    Git {
        name: String,
        version: String,
        repo: String,
        commit: String,
        query: Vec<(String, String)>,
    },
}

fn err(message: impl Into<String>) -> SourceError {
    SourceError::new(message)
}

fn load_err(e: LoadError) -> SourceError {
    err(e.to_string())
}

/// The crate URL prefix, ending in `/` (or `:`, for a bare alias).
fn base_url(source: &Source) -> String {
    let url = optional_str(source, "url").ok().flatten().unwrap_or(DEFAULT_URL);
    if url.ends_with('/') || url.ends_with(':') {
        url.to_string()
    } else {
        format!("{url}/")
    }
}

fn vendor_dir(source: &Source) -> &str {
    optional_str(source, "vendor-dir")
        .ok()
        .flatten()
        .unwrap_or(".vendored-crates")
}

fn cargo_lock(source: &Source) -> &str {
    optional_str(source, "cargo-lock")
        .ok()
        .flatten()
        .unwrap_or("Cargo.lock")
}

fn text<'a>(map: &'a Mapping, key: &str, span: &forge_yaml::Span) -> Result<&'a str, LoadError> {
    map.get(key)
        .ok_or_else(|| LoadError::at(span, format!("a crate entry needs '{key}'")))?
        .as_str()
        .ok_or_else(|| LoadError::at(span, format!("'{key}' of a crate must be a string")))
}

/// The crates of a source's ref.
pub fn crates(source: &Source) -> Result<Option<Vec<Crate>>, LoadError> {
    let Some(node) = source.get("ref") else {
        return Ok(None);
    };
    let items = node
        .as_list()
        .ok_or_else(|| LoadError::at(&node.span, "'ref' of a cargo2 source is a list of crates"))?;
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let map = item
            .as_map()
            .ok_or_else(|| LoadError::at(&item.span, "a crate entry must be a mapping"))?;
        forge_project::error::check_keys(map, &CRATE_KEYS, "a crate entry")?;
        let name = text(map, "name", &item.span)?.to_string();
        let version = text(map, "version", &item.span)?.to_string();
        match map.get("kind").and_then(Node::as_str).unwrap_or("registry") {
            "registry" => {
                let sha = map.get("sha").and_then(Node::as_str).map(str::to_ascii_lowercase);
                if let Some(sha) = &sha
                    && !is_sha256(sha)
                {
                    return Err(LoadError::at(
                        &item.span,
                        format!("the sha of crate {name} {version} must be 64 hex digits"),
                    ));
                }
                out.push(Crate::Registry { name, version, sha });
            }
            "git" => {
                let query = match map.get("query") {
                    None => Vec::new(),
                    Some(q) => q
                        .as_map()
                        .ok_or_else(|| LoadError::at(&q.span, "'query' must be a mapping"))?
                        .iter()
                        .map(|(k, v)| (k.name.clone(), v.as_str().unwrap_or_default().to_string()))
                        .collect(),
                };
                out.push(Crate::Git {
                    repo: text(map, "repo", &item.span)?.to_string(),
                    commit: text(map, "commit", &item.span)?.to_string(),
                    name,
                    version,
                    query,
                });
            }
            other => {
                return Err(LoadError::at(
                    &item.span,
                    format!("unknown crate kind '{other}' (registry or git)"),
                ));
            }
        }
    }
    Ok(Some(out))
}

impl SourceKind for Cargo2 {
    fn name(&self) -> &'static str {
        "cargo2"
    }
    fn config_keys(&self) -> &'static [&'static str] {
        &["url", "ref", "cargo-lock", "vendor-dir", "git-mirrors"]
    }
    fn validate(&self, source: &Source, project: &Project) -> Result<(), LoadError> {
        if let Some(url) = optional_str(source, "url")? {
            project.check_url_alias(url, span_of(source, "url"))?;
        }
        optional_str(source, "cargo-lock")?;
        optional_str(source, "vendor-dir")?;
        if let Some(mirrors) = source.get("git-mirrors") {
            let map = mirrors
                .as_map()
                .ok_or_else(|| LoadError::at(&mirrors.span, "'git-mirrors' maps URL prefixes to aliases"))?;
            for (_, value) in map.iter() {
                let url = value
                    .as_str()
                    .ok_or_else(|| LoadError::at(&value.span, "a git mirror must be a URL prefix"))?;
                project.check_url_alias(url, &value.span)?;
            }
        }
        for krate in crates(source)?.unwrap_or_default() {
            if let Crate::Git { repo, .. } = &krate {
                project.check_url_alias(repo, &source.span)?;
            }
        }
        Ok(())
    }
    fn info(&self, source: &Source, project: &Project, _ctx: &KeyContext<'_>) -> Vec<forge_project::SourceInfo> {
        crates(source)
            .ok()
            .flatten()
            .unwrap_or_default()
            .iter()
            .map(|krate| match krate {
                Crate::Registry { name, version, sha } => {
                    let mut info = crate::checks::file_info(
                        source,
                        project,
                        &crate_url(source, name, version),
                        sha.as_deref().unwrap_or_default(),
                        Some("crates.io"),
                    );
                    info.version_guess = Some(version.clone());
                    info
                }
                Crate::Git {
                    name,
                    version,
                    repo,
                    commit,
                    ..
                } => {
                    let mut info = crate::checks::git_info(source, project, repo, commit);
                    info.version_guess = Some(version.clone());
                    info.extra.insert(0, ("crate-name".to_string(), name.clone()));
                    info
                }
            })
            .collect()
    }
    fn unique_key(&self, source: &Source, _ctx: &KeyContext<'_>) -> Result<Option<Value>, LoadError> {
        let Some(list) = crates(source)? else {
            return Ok(None);
        };
        if list.iter().any(|c| matches!(c, Crate::Registry { sha: None, .. })) {
            return Ok(None);
        }
        let crates: Vec<Value> = list
            .iter()
            .map(|c| match c {
                Crate::Registry { name, version, sha } => json!(["registry", name, version, sha]),
                Crate::Git {
                    name,
                    version,
                    repo,
                    commit,
                    query,
                } => json!(["git", name, version, repo, commit, query]),
            })
            .collect();
        Ok(Some(json!({
            "url": optional_str(source, "url")?.unwrap_or(DEFAULT_URL),
            "cargo-lock": cargo_lock(source),
            "vendor-dir": vendor_dir(source),
            "crates": crates,
        })))
    }
    fn urls<'a>(&self, source: &'a Source) -> Vec<&'a str> {
        optional_str(source, "url").ok().flatten().into_iter().collect()
    }
}

fn crate_url(source: &Source, name: &str, version: &str) -> String {
    format!("{}{name}/{name}-{version}.crate", base_url(source))
}

/// A git URL with the source's `git-mirrors` applied: the longest matching
/// prefix is replaced by its alias.
fn mirrored_git_url(source: &Source, url: &str) -> String {
    let Some(mirrors) = source.get("git-mirrors").and_then(Node::as_map) else {
        return url.to_string();
    };
    mirrors
        .iter()
        .filter(|(prefix, _)| url.starts_with(prefix.name.as_str()))
        .max_by_key(|(prefix, _)| prefix.name.len())
        .and_then(|(prefix, alias)| alias.as_str().map(|a| format!("{a}{}", &url[prefix.name.len()..])))
        .unwrap_or_else(|| url.to_string())
}

/// The crates a `Cargo.lock` names, as the plugin lists them: those with a
/// `source`, sorted by name, version, repository and commit.
pub fn crates_of_lock(source: &Source, lock: &str) -> Result<Vec<Crate>, String> {
    let table: toml::Table = lock.parse().map_err(|e| format!("malformed Cargo.lock: {e}"))?;
    let packages = table
        .get("package")
        .and_then(toml::Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut out = Vec::new();
    for package in &packages {
        let get = |k: &str| package.get(k).and_then(toml::Value::as_str).map(str::to_string);
        let Some(origin) = get("source") else { continue };
        let name = get("name").ok_or("a package of Cargo.lock has no name")?;
        let version = get("version").ok_or_else(|| format!("package {name} of Cargo.lock has no version"))?;
        let (kind, url) = origin
            .split_once('+')
            .ok_or_else(|| format!("unknown source '{origin}' of crate {name}"))?;
        match kind {
            "registry" => out.push(Crate::Registry {
                name,
                version,
                sha: get("checksum").map(|c| c.to_ascii_lowercase()),
            }),
            "git" => {
                let (without_fragment, commit) = url.split_once('#').unwrap_or((url, ""));
                let (repo, query) = without_fragment.split_once('?').unwrap_or((without_fragment, ""));
                let query = query
                    .split('&')
                    .filter(|p| !p.is_empty())
                    .map(|p| {
                        let (k, v) = p.split_once('=').unwrap_or((p, ""));
                        (k.to_string(), v.to_string())
                    })
                    .collect();
                out.push(Crate::Git {
                    name,
                    version,
                    repo: mirrored_git_url(source, repo),
                    commit: commit.to_string(),
                    query,
                });
            }
            other => return Err(format!("unknown source kind '{other}' for crate {name}")),
        }
    }
    let sort_key = |c: &Crate| match c {
        Crate::Registry { name, version, .. } => (name.clone(), version.clone(), String::new(), String::new()),
        Crate::Git {
            name,
            version,
            repo,
            commit,
            ..
        } => (name.clone(), version.clone(), repo.clone(), commit.clone()),
    };
    out.sort_by_key(sort_key);
    Ok(out)
}

fn as_ref_value(crates: &[Crate]) -> NewValue {
    let s = |v: &str| NewValue::Scalar(v.to_string());
    NewValue::List(
        crates
            .iter()
            .map(|c| match c {
                Crate::Registry { name, version, sha } => vec![
                    ("kind".into(), s("registry")),
                    ("name".into(), s(name)),
                    ("version".into(), s(version)),
                    ("sha".into(), s(sha.as_deref().unwrap_or_default())),
                ],
                Crate::Git {
                    name,
                    version,
                    repo,
                    commit,
                    query,
                } => {
                    let mut entry = vec![
                        ("kind".into(), s("git")),
                        ("name".into(), s(name)),
                        ("version".into(), s(version)),
                        ("repo".into(), s(repo)),
                        ("commit".into(), s(commit)),
                    ];
                    if !query.is_empty() {
                        entry.push(("query".into(), NewValue::Mapping(query.clone())));
                    }
                    entry
                }
            })
            .collect(),
    )
}

fn git_commit(commit: &str, name: &str) -> Result<Oid, SourceError> {
    Oid::from_str(commit).map_err(|_| err(format!("crate {name}: '{commit}' is not a commit")))
}

impl SourceRuntime for Cargo2 {
    fn is_cached(&self, source: &Source, cache: &crate::SourceCache) -> bool {
        let Ok(Some(list)) = crates(source) else {
            return false;
        };
        list.iter().all(|c| match c {
            Crate::Registry { sha: Some(sha), .. } => cache.has_file(sha),
            Crate::Registry { sha: None, .. } => false,
            Crate::Git { repo, commit, .. } => Oid::from_str(commit)
                .is_ok_and(|oid| Repository::open_bare(cache.git_mirror(repo)).is_ok_and(|r| has_commit(&r, oid))),
        })
    }

    fn fetch(&self, source: &Source, ctx: &SourceContext<'_>) -> Result<(), SourceError> {
        let list = crates(source)
            .map_err(load_err)?
            .ok_or_else(|| err("the source has no ref: run `forge track` first"))?;
        for krate in &list {
            match krate {
                Crate::Registry { name, version, sha } => {
                    let sha = sha
                        .as_deref()
                        .ok_or_else(|| err(format!("crate {name} {version} has no sha: run `forge track`")))?;
                    if ctx.cache.has_file(sha) {
                        ctx.offer_held(sha);
                        continue;
                    }
                    let url = crate_url(source, name, version);
                    ctx.download(&url, UrlPurpose::Fetch, &format!("{name}-{version}.crate"), Some(sha))
                        .map_err(|failure| {
                            failure.into_error(format!("cannot fetch crate {name} {version} from {url}"))
                        })?;
                }
                Crate::Git { name, repo, commit, .. } => {
                    let oid = git_commit(commit, name)?;
                    fetch_until(ctx, repo, &format!("commit {commit} of crate {name}"), |r| {
                        has_commit(r, oid)
                    })?;
                }
            }
        }
        Ok(())
    }

    fn track(&self, _source: &Source, _ctx: &SourceContext<'_>) -> Result<Option<Tracked>, SourceError> {
        Err(err(
            "a cargo2 source is tracked from the Cargo.lock of the sources staged before it",
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
        let lock_path = cargo_lock(source);
        let lock = fs::read_to_string(previous.join(lock_path)).map_err(|_| {
            err(format!(
                "failed to find a Cargo.lock file at '{lock_path}': the cargo2 source reads it from the sources staged before it"
            ))
        })?;
        let mut list = crates_of_lock(source, &lock).map_err(err)?;
        // Registry crates without a checksum are downloaded to pin them.
        for krate in &mut list {
            if let Crate::Registry { name, version, sha } = krate
                && sha.is_none()
            {
                let url = crate_url(source, name, version);
                let done = ctx
                    .download(&url, UrlPurpose::Track, &format!("{name}-{version}.crate"), None)
                    .map_err(|failure| failure.into_error(format!("cannot download crate {name} {version}")))?;
                *sha = Some(done.sha256);
            }
        }
        let old = crates(source).ok().flatten();
        let note = match &old {
            Some(old) if *old == list => Some("unchanged".to_string()),
            Some(old) => Some(format!("{} crates, were {}", list.len(), old.len())),
            None => Some(format!("{} crates", list.len())),
        };
        Ok(Some(Tracked {
            new_display: format!("{} crates from {lock_path}", list.len()),
            old_display: old.as_ref().map(|o| format!("{} crates from {lock_path}", o.len())),
            new_ref: as_ref_value(&list),
            note,
            warning: None,
            commits: Vec::new(),
        }))
    }

    fn stage(&self, source: &Source, ctx: &SourceContext<'_>, dir: &Path) -> Result<(), SourceError> {
        let list = crates(source)
            .map_err(load_err)?
            .ok_or_else(|| err("the source has no ref"))?;
        let vendor = dir.join(vendor_dir(source));
        fs::create_dir_all(&vendor).map_err(|e| err(format!("cannot create {}: {e}", vendor.display())))?;
        let mut git_sections = Vec::new();
        for krate in &list {
            match krate {
                Crate::Registry { name, version, sha } => {
                    let sha = sha.as_deref().ok_or_else(|| err(format!("crate {name} has no sha")))?;
                    stage_registry_crate(&ctx.cache.file_path(sha), name, version, sha, &vendor)?;
                }
                Crate::Git {
                    name,
                    version,
                    repo,
                    commit,
                    query,
                } => {
                    stage_git_crate(ctx, name, version, repo, &git_commit(commit, name)?, &vendor)?;
                    git_sections.push((ctx.project.translate_url(repo), query.clone()));
                }
            }
        }
        let config = cargo_config(
            &ctx.project.translate_url(&base_url(source)),
            &git_sections,
            vendor_dir(source),
        );
        let conf_dir = dir.join(".cargo");
        fs::create_dir_all(&conf_dir)
            .and_then(|_| fs::write(conf_dir.join("config.toml"), config))
            .map_err(|e| err(format!("cannot write .cargo/config.toml: {e}")))
    }
}

fn busy(name: &str, version: &str) -> SourceError {
    err(format!(
        "this project requests crate {name} {version} from multiple sources, which is incompatible with vendoring \
         since cargo does not support it"
    ))
}

fn stage_registry_crate(
    archive: &Path,
    name: &str,
    version: &str,
    sha: &str,
    vendor: &Path,
) -> Result<(), SourceError> {
    let target = vendor.join(format!("{name}-{version}"));
    if target.exists() {
        return Err(busy(name, version));
    }
    let fail = |e: std::io::Error| err(format!("cannot stage crate {name} {version}: {e}; run `forge fetch`"));
    let reader = open_compressed(archive).map_err(fail)?;
    extract_tar(reader, vendor).map_err(fail)?;
    if !target.is_dir() {
        return Err(err(format!(
            "the crate file of {name} {version} has no directory {name}-{version}"
        )));
    }
    let checksum = format!("{{\"package\": \"{sha}\", \"files\": {{}}}}");
    fs::write(target.join(".cargo-checksum.json"), checksum).map_err(fail)
}

fn stage_git_crate(
    ctx: &SourceContext<'_>,
    name: &str,
    version: &str,
    repo: &str,
    commit: &Oid,
    vendor: &Path,
) -> Result<(), SourceError> {
    let target = vendor.join(format!("{name}-{version}"));
    let scratch = vendor.join(format!("{name}-{version}-tmp"));
    if target.exists() || scratch.exists() {
        return Err(busy(name, version));
    }
    let fail = |e: std::io::Error| err(format!("cannot stage crate {name} {version}: {e}"));
    fs::create_dir_all(&scratch).map_err(fail)?;
    let mirror = open_cached(ctx, repo)?;
    write_tree(&mirror, *commit, repo, &scratch)?;
    let found = find_crate(&scratch, name).map_err(err)?;
    fs::rename(&found, &target).map_err(fail)?;
    let _ = fs::remove_dir_all(&scratch);
    fs::write(
        target.join(".cargo-checksum.json"),
        "{\"files\": {}, \"package\": null}",
    )
    .map_err(fail)
}

/// The directory of crate `name` in a checked-out repository: the root, or
/// a workspace member, whose `Cargo.toml` is rewritten with what it
/// inherits from the workspace.
fn find_crate(root: &Path, name: &str) -> Result<PathBuf, String> {
    let read = |dir: &Path| -> Result<toml::Table, String> {
        let text = fs::read_to_string(dir.join("Cargo.toml")).map_err(|e| format!("{}: {e}", dir.display()))?;
        text.parse().map_err(|e| format!("{}/Cargo.toml: {e}", dir.display()))
    };
    let root_toml = read(root)?;
    let package_name = |t: &toml::Table| {
        t.get("package")
            .and_then(|p| p.get("name"))
            .and_then(toml::Value::as_str)
            .map(str::to_string)
    };
    let Some(workspace) = root_toml.get("workspace").and_then(toml::Value::as_table) else {
        return match package_name(&root_toml) {
            Some(n) if n == name => Ok(root.to_path_buf()),
            _ => Err(format!(
                "crate '{name}' not found in the root manifest, which has no workspace"
            )),
        };
    };
    if package_name(&root_toml).as_deref() == Some(name) {
        return Ok(root.to_path_buf());
    }
    let members: Vec<String> = workspace
        .get("members")
        .and_then(toml::Value::as_array)
        .map(|m| m.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    for member in members {
        for dir in expand_member(root, &member) {
            let Ok(mut manifest) = read(&dir) else { continue };
            if package_name(&manifest).as_deref() != Some(name) {
                continue;
            }
            inherit_workspace(&mut manifest, workspace)?;
            let text = toml::to_string(&manifest).map_err(|e| e.to_string())?;
            fs::write(dir.join("Cargo.toml"), text).map_err(|e| e.to_string())?;
            return Ok(dir);
        }
    }
    Err(format!(
        "crate '{name}' found neither in the root manifest nor in the workspace's members"
    ))
}

/// The directories a workspace member pattern names (`crates/*` or a path).
fn expand_member(root: &Path, member: &str) -> Vec<PathBuf> {
    match member.strip_suffix("/*") {
        Some(parent) => {
            let mut dirs: Vec<PathBuf> = fs::read_dir(root.join(parent))
                .map(|d| {
                    d.filter_map(Result::ok)
                        .map(|e| e.path())
                        .filter(|p| p.is_dir())
                        .collect()
                })
                .unwrap_or_default();
            dirs.sort();
            dirs
        }
        None => vec![root.join(member)],
    }
}

/// Replaces `workspace = true` entries with the workspace's values: package
/// fields, dependencies (features added up), lints.
fn inherit_workspace(manifest: &mut toml::Table, workspace: &toml::Table) -> Result<(), String> {
    let inherits = |v: &toml::Value| v.get("workspace").and_then(toml::Value::as_bool) == Some(true);
    if let Some(package) = manifest.get_mut("package").and_then(toml::Value::as_table_mut) {
        let shared = workspace.get("package").and_then(toml::Value::as_table);
        for (key, value) in package.iter_mut() {
            if inherits(value) {
                *value = shared
                    .and_then(|s| s.get(key))
                    .cloned()
                    .ok_or_else(|| format!("failed to inherit 'package.{key}': the workspace has no value"))?;
            }
        }
    }
    let shared_deps = workspace.get("dependencies").and_then(toml::Value::as_table);
    let mut tables: Vec<&mut toml::Table> = Vec::new();
    let (mut main, mut rest): (Vec<_>, Vec<_>) = (Vec::new(), Vec::new());
    for (key, value) in manifest.iter_mut() {
        match key.as_str() {
            "dependencies" | "dev-dependencies" | "build-dependencies" => main.push(value),
            "target" => rest.push(value),
            _ => {}
        }
    }
    for value in main {
        if let Some(t) = value.as_table_mut() {
            tables.push(t);
        }
    }
    for value in rest {
        if let Some(targets) = value.as_table_mut() {
            for (_, target) in targets.iter_mut() {
                if let Some(t) = target.get_mut("dependencies").and_then(toml::Value::as_table_mut) {
                    tables.push(t);
                }
            }
        }
    }
    for deps in tables {
        for (crate_name, details) in deps.iter_mut() {
            if !inherits(details) {
                continue;
            }
            let shared = shared_deps
                .and_then(|s| s.get(crate_name))
                .ok_or_else(|| format!("failed to inherit dependency '{crate_name}': the workspace has no value"))?;
            let mut merged = match shared {
                toml::Value::Table(t) => t.clone(),
                other => {
                    let mut t = toml::Table::new();
                    t.insert("version".into(), other.clone());
                    t
                }
            };
            if let Some(table) = details.as_table() {
                let mut features: Vec<toml::Value> = merged
                    .get("features")
                    .and_then(toml::Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                for (k, v) in table {
                    match k.as_str() {
                        "workspace" => {}
                        "features" => features.extend(v.as_array().cloned().unwrap_or_default()),
                        _ => {
                            merged.insert(k.clone(), v.clone());
                        }
                    }
                }
                if !features.is_empty() {
                    merged.insert("features".into(), toml::Value::Array(features));
                }
            }
            *details = toml::Value::Table(merged);
        }
    }
    if manifest.get("lints").is_some_and(inherits)
        && let Some(lints) = workspace.get("lints")
    {
        manifest.insert("lints".into(), lints.clone());
    }
    Ok(())
}

fn toml_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `.cargo/config.toml`: crates.io and each git source replaced by the
/// vendored directory.
fn cargo_config(registry: &str, git: &[(String, Vec<(String, String)>)], vendor_dir: &str) -> String {
    let mut out = format!(
        "[source.crates-io]\nregistry = {}\nreplace-with = \"vendored-sources\"\n",
        toml_string(registry)
    );
    let mut seen = BTreeMap::new();
    for (url, query) in git {
        let suffix = if query.is_empty() {
            String::new()
        } else {
            let pairs: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("?{}", pairs.join("&"))
        };
        let id = format!("git+{url}{suffix}");
        if seen.insert(id.clone(), ()).is_some() {
            continue;
        }
        out.push_str(&format!(
            "\n[source.{}]\ngit = {}\nreplace-with = \"vendored-sources\"\n",
            toml_string(&id),
            toml_string(url)
        ));
        for (k, v) in query {
            out.push_str(&format!("{k} = {}\n", toml_string(v)));
        }
    }
    out.push_str(&format!(
        "\n[source.vendored-sources]\ndirectory = {}\n",
        toml_string(vendor_dir)
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_replaces_every_source() {
        let text = cargo_config(
            "https://static.crates.io/crates/",
            &[("https://github.com/x/y".into(), vec![("branch".into(), "main".into())])],
            ".vendored-crates",
        );
        let parsed: toml::Table = text.parse().unwrap();
        let sources = parsed["source"].as_table().unwrap();
        assert_eq!(sources["crates-io"]["replace-with"].as_str(), Some("vendored-sources"));
        assert_eq!(
            sources["git+https://github.com/x/y?branch=main"]["git"].as_str(),
            Some("https://github.com/x/y")
        );
        assert_eq!(
            sources["git+https://github.com/x/y?branch=main"]["branch"].as_str(),
            Some("main")
        );
        assert_eq!(
            sources["vendored-sources"]["directory"].as_str(),
            Some(".vendored-crates")
        );
    }

    #[test]
    fn workspace_values_are_inherited() {
        let workspace: toml::Table = "[package]\nversion = '1.2.0'\n[dependencies]\nserde = { version = '1', features = ['derive'] }\nlog = '0.4'\n[lints.rust]\nunsafe_code = 'forbid'\n".parse().unwrap();
        let mut member: toml::Table = "[package]\nname = 'm'\nversion.workspace = true\n[dependencies]\nserde = { workspace = true, features = ['rc'] }\nlog.workspace = true\n[lints]\nworkspace = true\n".parse().unwrap();
        inherit_workspace(&mut member, &workspace).unwrap();
        assert_eq!(member["package"]["version"].as_str(), Some("1.2.0"));
        assert_eq!(member["dependencies"]["log"]["version"].as_str(), Some("0.4"));
        let features: Vec<&str> = member["dependencies"]["serde"]["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(features, ["derive", "rc"]);
        assert_eq!(member["lints"]["rust"]["unsafe_code"].as_str(), Some("forbid"));
    }
}
