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
use crate::runtime::{SourceContext, SourceError, SourceRuntime, Tracked};

/// The index used when a source names none.
pub const DEFAULT_INDEX: &str = "https://pypi.org/simple/";

/// The `pypi` kind.
pub struct Pypi;

fn index_url(source: &Source) -> String {
    let url = optional_str(source, "url").ok().flatten().unwrap_or(DEFAULT_INDEX);
    if url.ends_with('/') {
        url.to_string()
    } else {
        format!("{url}/")
    }
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
            "name",
            "version",
            "ref",
            "target",
            "allow-sdist",
            "min-release-age",
        ]
    }
    fn validate(&self, source: &Source, project: &Project) -> Result<(), LoadError> {
        let name = required_str(source, "name")?;
        if let Some(url) = optional_str(source, "url")? {
            project.check_url_alias(url, span_of(source, "url"))?;
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
}

fn err(message: impl Into<String>) -> SourceError {
    SourceError::new(message)
}

/// The files the index lists for the source's project.
fn index_files(source: &Source, ctx: &SourceContext<'_>, purpose: UrlPurpose) -> Result<Vec<IndexFile>, SourceError> {
    let name = required_str(source, "name").map_err(|e| err(e.to_string()))?;
    let page = format!("{}{}/", index_url(source), normalize(name));
    let urls = ctx.project.source_urls(&page, purpose, ctx.default_mirror());
    let (url, body, kind) = ctx
        .downloader
        .get_text(&urls, ACCEPT)
        .map_err(|failure| failure.into_error(format!("cannot read the index page of '{name}'")))?;
    if kind.contains("json") {
        parse_json(&body, &url).map_err(|e| err(format!("{url}: {e}")))
    } else {
        Ok(parse_html(&body, &url))
    }
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

    fn fetch(&self, source: &Source, ctx: &SourceContext<'_>) -> Result<(), SourceError> {
        let name = required_str(source, "name").map_err(|e| err(e.to_string()))?;
        let pin = file_pin(source).ok_or_else(|| err(format!("'{name}' has no ref: run `forge track` first")))?;
        if ctx.cache.has_file(&pin.sha256) {
            return Ok(());
        }
        let _lock = ctx
            .cache
            .lock(&format!("file-{}", pin.sha256))
            .map_err(|e| err(format!("cannot lock the source cache: {e}")))?;
        if ctx.cache.has_file(&pin.sha256) {
            return Ok(());
        }
        let files = index_files(source, ctx, UrlPurpose::Fetch)?;
        let file = files
            .iter()
            .find(|f| f.filename == pin.filename)
            .ok_or_else(|| err(format!("the index no longer lists {}", pin.filename)))?;
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
        let files = index_files(source, ctx, UrlPurpose::Track)?;
        // A cool-down: releases younger than this are not picked yet.
        let min_age = min_release_age(source).map_err(|e| err(e.to_string()))?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
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
            if let Some(min_age) = min_age {
                match file.upload_time {
                    Some(uploaded) if now - uploaded >= min_age => {}
                    Some(uploaded) => {
                        too_young.push(format!("{} (uploaded {} ago)", file.filename, age_text(now - uploaded)));
                        continue;
                    }
                    None => {
                        too_young.push(format!("{} (the index gives no upload time)", file.filename));
                        continue;
                    }
                }
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
            warning: [
                forge_python::typosquat::near_miss(name).map(|m| m.warning(name)),
                skipped,
            ]
            .into_iter()
            .flatten()
            .reduce(|a, b| format!("{a}; {b}")),
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
