//! `pypi`: one distribution file of a Python project, pinned by the sha256
//! the index publishes. `forge track` asks the index (PEP 691 JSON, else
//! PEP 503 HTML) for the newest version matching `version`, skips yanked
//! files, and picks the best wheel for the project's Python target (only
//! pure-Python wheels when no target is declared); an sdist only with
//! `allow-sdist: true`.

use std::fs;
use std::path::Path;
use std::str::FromStr;

use forge_project::{KeyContext, LoadError, Project, Source, SourceKind, UrlPurpose};
use forge_python::index::{ACCEPT, IndexFile, parse_html, parse_json};
use forge_python::names::{DistFile, normalize, parse_filename};
use forge_python::tags::{Target, compatible_tags, manylinux_platforms, rank};
use forge_python::{Version, VersionSpecifiers};
use forge_yaml::Node;
use forge_yaml::edit::NewValue;
use serde_json::{Value, json};

use crate::checks::{checked_file_pin, file_pin, optional_bool, optional_str, required_str, span_of};
use crate::runtime::{SourceContext, SourceError, SourceRuntime, Tracked, Withdrawn};

/// The index used when a source names none.
pub const DEFAULT_INDEX: &str = "https://pypi.org/simple/";

/// The `pypi` kind.
pub struct Pypi;

/// `url` ending in `/`, as index roots and alias values are joined.
pub fn with_slash(url: &str) -> String {
    if url.ends_with('/') {
        url.to_string()
    } else {
        format!("{url}/")
    }
}

/// Where a source's project is looked up: the index its `url` names
/// (then no other is asked, and there is nothing to confuse it with), else
/// each of the configured `indexes`, else PyPI. Each ends in `/`.
fn source_indexes(source: &Source) -> Result<Vec<String>, LoadError> {
    if let Some(url) = optional_str(source, "url")? {
        return Ok(vec![with_slash(url)]);
    }
    match source.get("indexes") {
        Some(node) => index_list(node),
        None => Ok(vec![DEFAULT_INDEX.to_string()]),
    }
}

/// `indexes: [URL, ...]`: a non-empty list of index roots.
pub fn index_list(node: &Node) -> Result<Vec<String>, LoadError> {
    let items = node
        .as_list()
        .filter(|l| !l.is_empty())
        .ok_or_else(|| LoadError::at(&node.span, "'indexes' must be a non-empty list of index URLs"))?;
    items
        .iter()
        .map(|item| {
            item.as_str()
                .map(with_slash)
                .ok_or_else(|| LoadError::at(&item.span, "an index must be a URL (such as pypi:simple/)"))
        })
        .collect()
}

/// The Python target of a source (`target:`; the project's default comes
/// from `sources: pypi: config: target:`).
/// `min-release-age: 7d` (also `12h`, `30m`, `3600s`): track picks no
/// file uploaded more recently than that. Seconds.
fn min_release_age(source: &Source) -> Result<Option<i64>, LoadError> {
    let Some(text) = optional_str(source, "min-release-age")? else {
        return Ok(None);
    };
    match parse_age(text) {
        Some(seconds) => Ok(Some(seconds)),
        None => Err(
            LoadError::at(span_of(source, "min-release-age"), format!("'{text}' is not an age"))
                .with_hint("write a number of days, hours, minutes or seconds: 7d, 12h, 30m, 3600s"),
        ),
    }
}

/// `7d`, `12h`, `30m`, `3600s`: seconds.
pub fn parse_age(text: &str) -> Option<i64> {
    let (number, unit) = text.trim().split_at(text.trim().len().saturating_sub(1));
    let n = number.parse::<i64>().ok()?;
    match unit {
        "d" => Some(n * 86_400),
        "h" => Some(n * 3_600),
        "m" => Some(n * 60),
        "s" => Some(n),
        _ => None,
    }
}

/// Now, in seconds since 1970, as upload times are compared with it.
pub fn now_seconds() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Why the cool-down holds `file` back (`min_age` seconds at `now`):
/// `name (uploaded 3 h ago)`, or that the index gives no upload time;
/// `None` when it is old enough.
pub fn held_back(file: &IndexFile, min_age: i64, now: i64) -> Option<String> {
    match file.upload_time {
        Some(uploaded) if now - uploaded >= min_age => None,
        Some(uploaded) => Some(format!("{} (uploaded {} ago)", file.filename, age_text(now - uploaded))),
        None => Some(format!("{} (the index gives no upload time)", file.filename)),
    }
}

fn one_of(source: &Source, key: &str, allowed: &[&str]) -> Result<(), LoadError> {
    match optional_str(source, key)? {
        Some(value) if !allowed.contains(&value) => Err(LoadError::at(
            span_of(source, key),
            format!("'{key}' must be one of {}, not '{value}'", allowed.join(", ")),
        )),
        _ => Ok(()),
    }
}

/// Whether changes of this source's pin are reviewed strictly
/// (`review: strict`, per source or under `sources: pypi: config:`).
pub fn strict_review(source: &Source) -> bool {
    source.get("review").and_then(Node::as_str) == Some("strict")
}

/// The typo-squat gate for project `name`, under the pypi config `get`
/// reads (a source's, or project.conf's `sources: pypi: config:`):
/// `typo-squats: warn` (the default) gives a warning for a near miss of a
/// popular name, `error` a refusal (`Err`), `off` nothing; names in
/// `typo-squats-allow` never warn.
pub fn typo_squat_gate<'n>(name: &str, get: impl Fn(&str) -> Option<&'n Node>) -> Result<Option<String>, String> {
    let mode = get("typo-squats").and_then(Node::as_str).unwrap_or("warn");
    let allowed = get("typo-squats-allow").and_then(Node::as_list).is_some_and(|list| {
        list.iter()
            .filter_map(Node::as_str)
            .any(|a| normalize(a) == normalize(name))
    });
    if mode == "off" || allowed {
        return Ok(None);
    }
    match forge_python::typosquat::near_miss(name) {
        None => Ok(None),
        Some(near) if mode == "error" => Err(format!(
            "{} (typo-squats: error; if it is the one you mean, list it under typo-squats-allow)",
            near.warning(name)
        )),
        Some(near) => Ok(Some(near.warning(name))),
    }
}

fn target(source: &Source) -> Result<Option<Target>, LoadError> {
    source.get("target").map(target_from_node).transpose()
}

/// Reads a Python target: `python: '3.11'`, `implementation` (default
/// `cp`), and `platforms`, or `glibc` and `arch` for the manylinux list.
pub fn target_from_node(node: &Node) -> Result<Target, LoadError> {
    let map = node
        .as_map()
        .ok_or_else(|| LoadError::at(&node.span, "'target' must be a mapping"))?;
    forge_project::error::check_keys(
        map,
        &["python", "implementation", "glibc", "arch", "platforms"],
        "a Python target",
    )?;
    let text = |k: &str| map.get(k).and_then(Node::as_str);
    let major_minor = |value: &str, what: &str| -> Result<(u32, u32), LoadError> {
        value
            .split_once('.')
            .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
            .ok_or_else(|| LoadError::at(&node.span, format!("'{what}' must be MAJOR.MINOR, not '{value}'")))
    };
    let python =
        text("python").ok_or_else(|| LoadError::at(&node.span, "a Python target needs 'python' (such as 3.11)"))?;
    let version = major_minor(python, "python")?;
    let platforms = match (map.get("platforms"), text("glibc"), text("arch")) {
        (Some(list), _, _) => list
            .as_list()
            .ok_or_else(|| LoadError::at(&list.span, "'platforms' must be a list"))?
            .iter()
            .filter_map(|n| n.as_str().map(str::to_string))
            .collect(),
        (None, Some(glibc), Some(arch)) => manylinux_platforms(major_minor(glibc, "glibc")?, arch),
        _ => {
            return Err(LoadError::at(
                &node.span,
                "a Python target needs 'platforms', or 'glibc' and 'arch'",
            ));
        }
    };
    Ok(Target {
        version,
        implementation: text("implementation").unwrap_or("cp").to_string(),
        platforms,
    })
}

impl SourceKind for Pypi {
    fn name(&self) -> &'static str {
        "pypi"
    }
    fn config_keys(&self) -> &'static [&'static str] {
        &[
            "url",
            "indexes",
            "name",
            "version",
            "ref",
            "target",
            "allow-sdist",
            "min-release-age",
            "review",
            "typo-squats",
            "typo-squats-allow",
        ]
    }
    fn validate(&self, source: &Source, project: &Project) -> Result<(), LoadError> {
        let name = required_str(source, "name")?;
        if let Some(url) = optional_str(source, "url")? {
            project.check_url_alias(url, span_of(source, "url"))?;
        }
        if let Some(node) = source.get("indexes") {
            for (url, item) in index_list(node)?.iter().zip(node.as_list().into_iter().flatten()) {
                project.check_url_alias(url, &item.span)?;
            }
        }
        if let Some(spec) = optional_str(source, "version")? {
            VersionSpecifiers::from_str(spec).map_err(|e| {
                LoadError::at(
                    span_of(source, "version"),
                    format!("invalid version specifier '{spec}': {e}"),
                )
                .with_hint("write a PEP 440 specifier such as '>=2.31,<3' or '==1.4.2'")
            })?;
        }
        optional_bool(source, "allow-sdist")?;
        target(source)?;
        min_release_age(source)?;
        one_of(source, "review", &["show", "strict"])?;
        one_of(source, "typo-squats", &["warn", "error", "off"])?;
        if let Some(node) = source.get("typo-squats-allow")
            && node.as_list().is_none_or(|l| l.iter().any(|n| n.as_str().is_none()))
        {
            return Err(LoadError::at(
                &node.span,
                "'typo-squats-allow' must be a list of project names",
            ));
        }
        if let Some((pin, node)) = checked_file_pin(source)? {
            match parse_filename(&pin.filename) {
                Some(file) if normalize(file.name()) == normalize(name) => {}
                _ => {
                    return Err(LoadError::at(
                        &node.span,
                        format!("'{}' is not a wheel or sdist of '{name}'", pin.filename),
                    ));
                }
            }
        }
        Ok(())
    }
    fn unique_key(&self, source: &Source, _ctx: &KeyContext<'_>) -> Result<Option<Value>, LoadError> {
        let name = normalize(required_str(source, "name")?);
        Ok(file_pin(source)
            .map(|p| json!({ "name": name, "version": p.version, "filename": p.filename, "sha256": p.sha256 })))
    }
    /// The pinned file, as the project page of the first configured index
    /// lists it (the file's own URL is read from that page at fetch).
    fn info(&self, source: &Source, project: &Project, _ctx: &KeyContext<'_>) -> Vec<forge_project::SourceInfo> {
        let (Some(name), Some(pin)) = (source.get_str("name"), file_pin(source)) else {
            return Vec::new();
        };
        let Some(index) = source_indexes(source).ok().and_then(|i| i.into_iter().next()) else {
            return Vec::new();
        };
        vec![forge_project::SourceInfo {
            kind: source.kind.clone(),
            medium: "remote-file",
            url: format!("{}{}/", project.translate_url(&index), normalize(name)),
            version_type: "sha256",
            version: pin.sha256,
            version_guess: Some(pin.version),
            extra: vec![
                ("name".to_string(), normalize(name)),
                ("filename".to_string(), pin.filename),
            ],
        }]
    }
}

fn err(message: impl Into<String>) -> SourceError {
    SourceError::new(message)
}

/// The files `index` lists for project `name`; `None` when the index has
/// no such project (every URL tried answered 404/410).
pub fn read_page(
    ctx: &SourceContext<'_>,
    index: &str,
    name: &str,
    purpose: UrlPurpose,
) -> Result<Option<Vec<IndexFile>>, SourceError> {
    let page = format!("{index}{}/", normalize(name));
    let urls = ctx.project.source_urls(&page, purpose, ctx.default_mirror());
    let (url, body, kind) = match ctx.downloader.get_text(&urls, ACCEPT) {
        Ok(answer) => answer,
        Err(failure) if failure.is_absent() => return Ok(None),
        Err(failure) => return Err(failure.into_error(format!("cannot read the index page of '{name}'"))),
    };
    let files = if kind.contains("json") {
        parse_json(&body, &url).map_err(|e| err(format!("{url}: {e}")))?
    } else {
        parse_html(&body, &url)
    };
    Ok(Some(files))
}

/// The index that serves project `name`, of `indexes`, and its files.
///
/// With one index, that index. With several, every one is asked, and a
/// project listed by more than one is an error: that is dependency
/// confusion (whoever publishes your private name on the public index
/// would otherwise choose what you pin). An index that does not answer is
/// an error too, as it cannot be ruled out.
pub fn find_project(
    ctx: &SourceContext<'_>,
    indexes: &[String],
    name: &str,
    purpose: UrlPurpose,
) -> Result<(String, Vec<IndexFile>), SourceError> {
    if let [index] = indexes {
        return match read_page(ctx, index, name, purpose)? {
            Some(files) => Ok((index.clone(), files)),
            None => Err(err(format!("{index} has no project '{name}'"))),
        };
    }
    let mut found = Vec::new();
    for index in indexes {
        if let Some(files) = read_page(ctx, index, name, purpose)?
            && !files.is_empty()
        {
            found.push((index.clone(), files));
        }
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(err(format!(
            "none of the configured indexes has a project '{name}' ({})",
            indexes.join(", ")
        ))),
        _ => {
            let on: Vec<&str> = found.iter().map(|(i, _)| i.as_str()).collect();
            Err(SourceError::refusal(
                format!(
                    "dependency confusion: '{name}' is on {} of the configured indexes ({}), so which one answers \
                     would choose what is pinned",
                    on.len(),
                    on.join(", ")
                ),
                vec![format!(
                    "name the index to trust in the source (`url: {}`), after checking who publishes '{name}' there",
                    on[0]
                )],
            ))
        }
    }
}

/// The first listing of the pinned file `filename` on the configured
/// `indexes`, asked in order, and the errors of those whose page could not
/// be read on the way.
fn find_pinned_file(
    ctx: &SourceContext<'_>,
    indexes: &[String],
    name: &str,
    filename: &str,
    purpose: UrlPurpose,
) -> (Option<IndexFile>, Vec<SourceError>) {
    let mut unreadable = Vec::new();
    for index in indexes {
        match read_page(ctx, index, name, purpose) {
            Ok(files) => {
                if let Some(file) = files.into_iter().flatten().find(|f| f.filename == filename) {
                    return (Some(file), unreadable);
                }
            }
            Err(e) => unreadable.push(e),
        }
    }
    (None, unreadable)
}

/// The files the source's index lists for its project.
fn index_files(source: &Source, ctx: &SourceContext<'_>, purpose: UrlPurpose) -> Result<Vec<IndexFile>, SourceError> {
    let name = required_str(source, "name").map_err(|e| err(e.to_string()))?;
    let indexes = source_indexes(source).map_err(|e| err(e.to_string()))?;
    Ok(find_project(ctx, &indexes, name, purpose)?.1)
}

impl SourceRuntime for Pypi {
    fn is_cached(&self, source: &Source, cache: &crate::SourceCache) -> bool {
        file_pin(source).is_some_and(|p| cache.has_file(&p.sha256))
    }

    fn pinned_package(
        &self,
        source: &Source,
        _cache: &crate::SourceCache,
    ) -> Result<Option<forge_trust::Package>, SourceError> {
        let name = required_str(source, "name").map_err(|e| err(e.to_string()))?;
        Ok(file_pin(source).map(|pin| forge_trust::Package {
            ecosystem: forge_trust::Ecosystem::PyPI,
            name: normalize(name),
            version: pin.version,
        }))
    }

    fn cached_file(&self, source: &Source, cache: &crate::SourceCache) -> Option<(String, std::path::PathBuf)> {
        let pin = file_pin(source)?;
        cache
            .has_file(&pin.sha256)
            .then(|| (pin.filename.clone(), cache.file_path(&pin.sha256)))
    }

    fn package_facts(&self, source: &Source, cache: &crate::SourceCache) -> Option<crate::runtime::PackageFacts> {
        let (filename, path) = self.cached_file(source, cache)?;
        // An sdist's metadata is only known once built.
        filename.ends_with(".whl").then_some(())?;
        let metadata = forge_python::metadata::wheel_metadata(&path).ok()?;
        Some(crate::runtime::PackageFacts {
            supplier: forge_python::metadata::supplier(&metadata),
            license: forge_python::metadata::header_values(&metadata, "License-Expression")
                .next()
                .map(str::to_string),
        })
    }

    fn withdrawn(&self, source: &Source, ctx: &SourceContext<'_>) -> Result<Option<Withdrawn>, SourceError> {
        let name = required_str(source, "name").map_err(|e| err(e.to_string()))?;
        let Some(pin) = file_pin(source) else {
            return Ok(None);
        };
        let indexes = source_indexes(source).map_err(|e| err(e.to_string()))?;
        match find_pinned_file(ctx, &indexes, name, &pin.filename, UrlPurpose::Track) {
            (Some(file), _) => Ok(file.yanked.then_some(Withdrawn::Yanked(file.yanked_reason))),
            // Unlisted only if every index could be read.
            (None, mut unreadable) if !unreadable.is_empty() => Err(unreadable.remove(0)),
            (None, _) => Ok(Some(Withdrawn::Unlisted)),
        }
    }

    fn fetch(&self, source: &Source, ctx: &SourceContext<'_>) -> Result<(), SourceError> {
        let name = required_str(source, "name").map_err(|e| err(e.to_string()))?;
        let pin = file_pin(source).ok_or_else(|| err(format!("'{name}' has no ref: run `forge track` first")))?;
        if ctx.cache.has_file(&pin.sha256) {
            ctx.offer_held(&pin.sha256);
            return Ok(());
        }
        let _lock = ctx
            .cache
            .lock(&format!("file-{}", pin.sha256))
            .map_err(|e| err(format!("cannot lock the source cache: {e}")))?;
        if ctx.cache.has_file(&pin.sha256) {
            return Ok(());
        }
        // The pin's sha256 decides the bytes, so any configured index that
        // lists the file will do (confusion is a question for track).
        let indexes = source_indexes(source).map_err(|e| err(e.to_string()))?;
        let (listed, mut unreadable) = find_pinned_file(ctx, &indexes, name, &pin.filename, UrlPurpose::Fetch);
        let Some(file) = listed else {
            if indexes.len() == 1
                && let Some(e) = unreadable.pop()
            {
                return Err(e);
            }
            return Err(SourceError {
                message: format!("no configured index lists {} any more", pin.filename),
                details: unreadable.iter().map(|e| e.to_string()).collect(),
                refused: false,
            });
        };
        ctx.downloader
            .fetch(
                ctx.cache,
                &pin.filename,
                std::slice::from_ref(&file.url),
                Some(&pin.sha256),
                ctx.progress,
            )
            .map(|_| ())
            .map_err(|failure| failure.into_error(format!("cannot fetch {} (sha256 {})", pin.filename, pin.sha256)))
    }

    fn track(&self, source: &Source, ctx: &SourceContext<'_>) -> Result<Option<Tracked>, SourceError> {
        let name = required_str(source, "name").map_err(|e| err(e.to_string()))?;
        let spec = match optional_str(source, "version").map_err(|e| err(e.to_string()))? {
            Some(text) => Some(VersionSpecifiers::from_str(text).map_err(|e| err(e.to_string()))?),
            None => None,
        };
        let allow_sdist = optional_bool(source, "allow-sdist")
            .map_err(|e| err(e.to_string()))?
            .unwrap_or(false);
        let target = target(source).map_err(|e| err(e.to_string()))?;
        let tags = compatible_tags(target.as_ref());
        // With a target, files whose Requires-Python excludes it are skipped.
        let python = target
            .as_ref()
            .and_then(|t| Version::from_str(&format!("{}.{}", t.version.0, t.version.1)).ok());
        let near_miss = typo_squat_gate(name, |key| source.get(key))
            .map_err(|refusal| SourceError::refusal(refusal, Vec::new()))?;
        let files = index_files(source, ctx, UrlPurpose::Track)?;
        // A cool-down: releases younger than this are not picked yet.
        let min_age = min_release_age(source).map_err(|e| err(e.to_string()))?;
        let now = now_seconds();
        let mut too_young: Vec<String> = Vec::new();
        // Candidates: (version, preference (lower is better), file).
        let mut best: Option<(Version, usize, &IndexFile)> = None;
        for file in files.iter().filter(|f| !f.yanked) {
            let Some(dist) = parse_filename(&file.filename) else {
                continue;
            };
            if normalize(dist.name()) != normalize(name) {
                continue;
            }
            let Ok(version) = Version::from_str(dist.version()) else {
                continue;
            };
            if let Some(spec) = &spec {
                if !spec.contains(&version) {
                    continue;
                }
            } else if version.any_prerelease() {
                continue;
            }
            let Some(preference) = preference(&dist, file, python.as_ref(), &tags, allow_sdist) else {
                continue;
            };
            if let Some(why) = min_age.and_then(|min_age| held_back(file, min_age, now)) {
                too_young.push(why);
                continue;
            }
            let better = match &best {
                None => true,
                Some((v, p, _)) => version > *v || (version == *v && preference < *p),
            };
            if better {
                best = Some((version, preference, file));
            }
        }
        let skipped = (!too_young.is_empty()).then(|| {
            format!(
                "min-release-age {}: not picked yet: {}",
                optional_str(source, "min-release-age").ok().flatten().unwrap_or(""),
                too_young.join(", ")
            )
        });
        let (version, _, file) = best.ok_or_else(|| {
            err(format!(
                "the index has no {} of '{name}' matching '{}' for this target{}{}",
                if allow_sdist { "file" } else { "wheel" },
                spec.as_ref()
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "any version".into()),
                if allow_sdist {
                    ""
                } else {
                    " (sdists need allow-sdist: true)"
                },
                skipped.as_ref().map(|s| format!("; {s}")).unwrap_or_default()
            ))
        })?;
        let done = ctx
            .downloader
            .fetch(
                ctx.cache,
                &file.filename,
                std::slice::from_ref(&file.url),
                file.sha256.as_deref(),
                ctx.progress,
            )
            .map_err(|failure| failure.into_error(format!("cannot download {}", file.filename)))?;
        if file.sha256.is_none() {
            ctx.progress.warn(&format!(
                "the index publishes no sha256 for {}: pinned what it served",
                file.filename
            ));
        }
        let old = file_pin(source).map(|p| format!("{} {}", p.version, &p.sha256[..12]));
        let new_display = format!("{version} {}", &done.sha256[..12]);
        Ok(Some(Tracked {
            new_ref: NewValue::Mapping(vec![
                ("version".into(), version.to_string()),
                ("filename".into(), file.filename.clone()),
                ("sha256".into(), done.sha256.clone()),
            ]),
            old_display: old,
            note: Some(file.filename.clone()),
            new_display,
            warning: [near_miss, skipped]
                .into_iter()
                .flatten()
                .reduce(|a, b| format!("{a}; {b}")),
            commits: Vec::new(),
        }))
    }

    fn stage(&self, source: &Source, ctx: &SourceContext<'_>, dir: &Path) -> Result<(), SourceError> {
        let pin = file_pin(source).ok_or_else(|| err("the source has no ref"))?;
        let cached = ctx.cache.file_path(&pin.sha256);
        if pin.filename.contains('/') {
            return Err(err(format!("'{}' is not a file name", pin.filename)));
        }
        fs::copy(&cached, dir.join(&pin.filename)).map(|_| ()).map_err(|e| {
            err(format!(
                "cannot stage {} from the cache: {e}; run `forge fetch`",
                pin.filename
            ))
        })
    }
}

/// How much a file of `dist` suits the target (lower is better), or
/// `None` when it cannot be used there: its `Requires-Python` excludes
/// the target's Python, or no tag of a wheel is compatible. An sdist
/// comes last, and only with `allow_sdist`.
pub fn preference(
    dist: &DistFile,
    file: &IndexFile,
    python: Option<&Version>,
    tags: &[(String, String, String)],
    allow_sdist: bool,
) -> Option<usize> {
    if let (Some(python), Some(requires)) = (python, &file.requires_python)
        && VersionSpecifiers::from_str(requires).is_ok_and(|r| !r.contains(python))
    {
        return None;
    }
    match dist {
        DistFile::Wheel {
            python, abi, platform, ..
        } => rank(python, abi, platform, tags),
        DistFile::Sdist { .. } => allow_sdist.then_some(usize::MAX),
    }
}

/// `3 h`, `2 d`: how old, roughly.
fn age_text(seconds: i64) -> String {
    match seconds {
        s if s < 3_600 => format!("{} min", s / 60),
        s if s < 86_400 => format!("{} h", s / 3_600),
        s => format!("{} d", s / 86_400),
    }
}
