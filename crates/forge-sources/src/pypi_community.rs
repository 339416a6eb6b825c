//! `pypi` of buildstream-plugins-community (id `bst:pypi`): the newest
//! source distribution of a Python project, pinned by `ref: {suffix,
//! sha256sum}` where the suffix is the file's path under the storage root
//! (`url`, by default files.pythonhosted.org). Staged unpacked, without its
//! top directory. forge's own `pypi` (wheels for a declared target) keeps
//! the name where project.conf does not declare this one, and is always
//! `forge-pypi`.

use std::fs;
use std::path::Path;
use std::str::FromStr;

use forge_project::{KeyContext, LoadError, Project, Source, SourceKind, UrlPurpose};
use forge_python::Version;
use forge_python::index::{ACCEPT, parse_json};
use forge_python::names::{DistFile, parse_filename};
use forge_yaml::Node;
use forge_yaml::edit::NewValue;
use serde_json::{Value, json};

use crate::checks::{is_sha256, optional_bool, optional_str, required_str, span_of};
use crate::extract::{extract_tar, extract_zip, open_compressed, strip_top_dir};
use crate::git_repo::fnmatch;
use crate::runtime::{SourceContext, SourceError, SourceRuntime, Tracked};
use crate::tar::tempdir_in;

/// The community `pypi` kind.
pub struct CommunityPypi;

/// Where the plugin's files live when `url` is not given.
pub const STORAGE_ROOT: &str = "https://files.pythonhosted.org/packages/";
/// The index the plugin asks (a user configuration's `pypi-index` replaces it).
pub const SIMPLE_API: &str = "https://pypi.org/simple/";

fn err(message: impl Into<String>) -> SourceError {
    SourceError::new(message)
}

fn load_err(e: LoadError) -> SourceError {
    err(e.to_string())
}

fn base_url(source: &Source) -> &str {
    optional_str(source, "url").ok().flatten().unwrap_or(STORAGE_ROOT)
}

/// `ref: {suffix, sha256sum}`, if complete.
fn pin(source: &Source) -> Option<(String, String)> {
    let map = source.get("ref")?.as_map()?;
    let get = |k: &str| map.get(k).and_then(Node::as_str).map(str::to_string);
    Some((get("suffix")?, get("sha256sum")?.to_ascii_lowercase()))
}

fn string_list(source: &Source, key: &str) -> Result<Vec<String>, LoadError> {
    let Some(node) = source.get(key) else {
        return Ok(Vec::new());
    };
    let items = node
        .as_list()
        .ok_or_else(|| LoadError::at(&node.span, format!("'{key}' must be a list of version globs")))?;
    items
        .iter()
        .map(|i| {
            i.as_str()
                .map(str::to_string)
                .ok_or_else(|| LoadError::at(&i.span, format!("'{key}' must be a list of version globs")))
        })
        .collect()
}

impl SourceKind for CommunityPypi {
    fn name(&self) -> &'static str {
        "pypi"
    }
    fn id(&self) -> &'static str {
        "bst:pypi"
    }
    fn config_keys(&self) -> &'static [&'static str] {
        &[
            "url",
            "name",
            "ref",
            "prereleases",
            "include",
            "exclude",
            "version",
            "version-guess-pattern",
        ]
    }
    fn validate(&self, source: &Source, project: &Project) -> Result<(), LoadError> {
        required_str(source, "name")?;
        if let Some(url) = optional_str(source, "url")? {
            project.check_url_alias(url, span_of(source, "url"))?;
        }
        optional_bool(source, "prereleases")?;
        string_list(source, "include")?;
        string_list(source, "exclude")?;
        if let Some(node) = source.get("ref") {
            let map = node
                .as_map()
                .ok_or_else(|| LoadError::at(&node.span, "'ref' is a mapping: suffix, sha256sum"))?;
            forge_project::error::check_keys(map, &["suffix", "sha256sum"], "a pypi ref")?;
            let (Some(_), Some(sha)) = (
                map.get("suffix").and_then(Node::as_str),
                map.get("sha256sum").and_then(Node::as_str),
            ) else {
                return Err(LoadError::at(&node.span, "'ref' needs 'suffix' and 'sha256sum'"));
            };
            if !is_sha256(sha) {
                return Err(LoadError::at(
                    &node.span,
                    format!("'sha256sum' must be 64 hex digits, not '{sha}'"),
                ));
            }
        }
        Ok(())
    }
    fn info(&self, source: &Source, project: &Project, _ctx: &KeyContext<'_>) -> Vec<forge_project::SourceInfo> {
        match pin(source) {
            Some((suffix, sha)) => vec![crate::checks::file_info(
                source,
                project,
                &format!("{}{suffix}", base_url(source)),
                &sha,
                Some("PyPI"),
            )],
            None => Vec::new(),
        }
    }
    fn unique_key(&self, source: &Source, _ctx: &KeyContext<'_>) -> Result<Option<Value>, LoadError> {
        let Some((suffix, sha)) = pin(source) else {
            return Ok(None);
        };
        let mut key = json!({ "suffix": suffix, "sha256": sha });
        crate::guess::augment_key(source, &mut key)?;
        Ok(Some(key))
    }
    fn urls<'a>(&self, source: &'a Source) -> Vec<&'a str> {
        optional_str(source, "url").ok().flatten().into_iter().collect()
    }
}

/// The files of `name` the plugin would consider: sdists, not yanked,
/// prereleases only when asked, whose version matches every `include` glob
/// and no `exclude` glob; the newest wins.
fn newest_sdist<'a>(
    files: &'a [forge_python::index::IndexFile],
    prereleases: bool,
    include: &[String],
    exclude: &[String],
) -> Option<(Version, &'a forge_python::index::IndexFile)> {
    files
        .iter()
        .filter(|f| !f.yanked)
        .filter_map(|f| match parse_filename(&f.filename)? {
            DistFile::Sdist { version, .. } => Some((Version::from_str(&version).ok()?, f)),
            DistFile::Wheel { .. } => None,
        })
        .filter(|(v, _)| prereleases || !v.any_prerelease())
        .filter(|(v, _)| {
            let text = v.to_string();
            include.iter().all(|p| fnmatch(p, &text)) && !exclude.iter().any(|p| fnmatch(p, &text))
        })
        .max_by(|a, b| a.0.cmp(&b.0))
}

impl SourceRuntime for CommunityPypi {
    fn is_cached(&self, source: &Source, cache: &crate::SourceCache) -> bool {
        pin(source).is_some_and(|(_, sha)| cache.has_file(&sha))
    }

    fn pinned_package(
        &self,
        source: &Source,
        _cache: &crate::SourceCache,
    ) -> Result<Option<forge_trust::Package>, SourceError> {
        let name = required_str(source, "name").map_err(load_err)?;
        let Some((suffix, _)) = pin(source) else {
            return Ok(None);
        };
        // The ref names the file; the file's name carries the version.
        let file = suffix.rsplit('/').next().unwrap_or(&suffix);
        let parsed = forge_python::names::parse_filename(file)
            .ok_or_else(|| err(format!("{name}: '{file}' is not a wheel or sdist name")))?;
        Ok(Some(forge_trust::Package {
            ecosystem: forge_trust::Ecosystem::PyPI,
            name: forge_python::names::normalize(name),
            version: parsed.version().to_string(),
        }))
    }

    fn fetch(&self, source: &Source, ctx: &SourceContext<'_>) -> Result<(), SourceError> {
        let name = required_str(source, "name").map_err(load_err)?;
        let (suffix, sha) = pin(source).ok_or_else(|| err(format!("{name} has no ref: run `forge track` first")))?;
        if ctx.cache.has_file(&sha) {
            ctx.offer_held(&sha);
            return Ok(());
        }
        let url = format!("{}{suffix}", base_url(source));
        let urls = ctx.project.source_urls(&url, UrlPurpose::Fetch, ctx.default_mirror());
        let label = suffix.rsplit('/').next().unwrap_or(&suffix).to_string();
        ctx.downloader
            .fetch(ctx.cache, &label, &urls, Some(&sha), ctx.progress)
            .map(|_| ())
            .map_err(|failure| failure.into_error(format!("cannot fetch {url} (sha256 {sha})")))
    }

    fn track(&self, source: &Source, ctx: &SourceContext<'_>) -> Result<Option<Tracked>, SourceError> {
        let name = required_str(source, "name").map_err(load_err)?;
        let index = ctx.project.pypi_index.as_deref().unwrap_or(SIMPLE_API);
        let page = format!(
            "{}{name}",
            if index.ends_with('/') {
                index.to_string()
            } else {
                format!("{index}/")
            }
        );
        let (page_url, body, _) = ctx
            .downloader
            .get_text(std::slice::from_ref(&page), ACCEPT)
            .map_err(|failure| failure.into_error(format!("cannot read the index page of {name}")))?;
        let files = parse_json(&body, &page_url).map_err(|e| err(format!("{page_url}: {e}")))?;
        if files.is_empty() {
            return Err(err(format!(
                "cannot find any tracking for {name}: {page_url} lists no files"
            )));
        }
        let prereleases = optional_bool(source, "prereleases").map_err(load_err)?.unwrap_or(false);
        let include = string_list(source, "include").map_err(load_err)?;
        let exclude = string_list(source, "exclude").map_err(load_err)?;
        let Some((version, file)) = newest_sdist(&files, prereleases, &include, &exclude) else {
            ctx.progress
                .warn(&format!("{name}: no matching release found on {page_url}"));
            return Ok(None);
        };
        let sha = file
            .sha256
            .clone()
            .ok_or_else(|| err(format!("{page_url} publishes no sha256 for {}", file.filename)))?;
        let suffix = file.url.strip_prefix(STORAGE_ROOT).unwrap_or(&file.url).to_string();
        let old = pin(source);
        let note = match &old {
            Some((_, old_sha)) if *old_sha == sha => Some("unchanged".to_string()),
            _ => Some(file.filename.clone()),
        };
        Ok(Some(Tracked {
            new_ref: NewValue::Mapping(vec![("sha256sum".into(), sha.clone()), ("suffix".into(), suffix)]),
            new_display: format!("{version} {}", &sha[..12]),
            old_display: old.map(|(s, sha)| format!("{} {}", s.rsplit('/').next().unwrap_or(&s), &sha[..12])),
            note,
            warning: None,
            commits: Vec::new(),
        }))
    }

    fn stage(&self, source: &Source, ctx: &SourceContext<'_>, dir: &Path) -> Result<(), SourceError> {
        let (suffix, sha) = pin(source).ok_or_else(|| err("the source has no ref"))?;
        stage_archive(&ctx.cache.file_path(&sha), &suffix, dir)
    }
}

/// Unpacks a cached sdist or CPAN archive into `dir` without its top
/// directory: a zip when the name says so, else a tar.
pub fn stage_archive(archive: &Path, name: &str, dir: &Path) -> Result<(), SourceError> {
    let fail = |what: &str, e: std::io::Error| err(format!("cannot {what} {name}: {e}; run `forge fetch`"));
    let scratch = tempdir_in(dir).map_err(|e| fail("stage", e))?;
    let result = (|| {
        if name.ends_with(".zip") {
            extract_zip(archive, &scratch).map_err(|e| fail("extract", e))?;
        } else {
            let reader = open_compressed(archive).map_err(|e| fail("open", e))?;
            extract_tar(reader, &scratch).map_err(|e| fail("extract", e))?;
        }
        strip_top_dir(&scratch, dir).map_err(|e| fail("stage", e))
    })();
    let _ = fs::remove_dir_all(&scratch);
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use forge_python::index::IndexFile;

    fn file(name: &str, yanked: bool) -> IndexFile {
        IndexFile {
            filename: name.into(),
            url: format!("{STORAGE_ROOT}ab/cd/{name}"),
            sha256: Some("0".repeat(64)),
            yanked,
            yanked_reason: None,
            requires_python: None,
            upload_time: None,
        }
    }

    #[test]
    fn the_newest_matching_sdist_wins() {
        let files = vec![
            file("foo-1.0.tar.gz", false),
            file("foo-1.2.tar.gz", false),
            file("foo-1.3.tar.gz", true),
            file("foo-2.0rc1.tar.gz", false),
            file("foo-1.9-py3-none-any.whl", false),
            file("foo-1.10.zip", false),
        ];
        let pick = |pre, inc: &[&str], exc: &[&str]| {
            let inc: Vec<String> = inc.iter().map(|s| s.to_string()).collect();
            let exc: Vec<String> = exc.iter().map(|s| s.to_string()).collect();
            newest_sdist(&files, pre, &inc, &exc).map(|(_, f)| f.filename.clone())
        };
        assert_eq!(pick(false, &[], &[]).as_deref(), Some("foo-1.10.zip"));
        assert_eq!(pick(true, &[], &[]).as_deref(), Some("foo-2.0rc1.tar.gz"));
        assert_eq!(pick(false, &["1.?"], &[]).as_deref(), Some("foo-1.2.tar.gz"));
        assert_eq!(pick(false, &[], &["1.1*"]).as_deref(), Some("foo-1.2.tar.gz"));
        assert_eq!(pick(false, &["3.*"], &[]), None);
    }
}
