//! `cpan` (buildstream-plugins-community): the distribution of a Perl
//! module from a CPAN mirror, pinned by `suffix` (its path under the
//! mirror, `authors/id/…`) and `sha256sum`, which sit on the source itself.
//! `forge track` looks the module up in the mirror's
//! `modules/02packages.details.txt.gz`. Staged unpacked, without its top
//! directory.

use std::io::{BufRead, BufReader};
use std::path::Path;

use forge_project::{KeyContext, LoadError, Project, Source, SourceKind, UrlPurpose};
use forge_yaml::edit::NewValue;
use serde_json::{Value, json};

use crate::checks::{is_sha256, optional_str, required_str, span_of};
use crate::pypi_community::stage_archive;
use crate::runtime::{SourceContext, SourceError, SourceRuntime, Tracked};

/// The `cpan` kind.
pub struct Cpan;

/// The mirror asked when `index` is not given.
pub const DEFAULT_INDEX: &str = "https://cpan.metacpan.org/";
const PACKAGES: &str = "modules/02packages.details.txt.gz";

fn err(message: impl Into<String>) -> SourceError {
    SourceError::new(message)
}

fn index(source: &Source) -> &str {
    optional_str(source, "index").ok().flatten().unwrap_or(DEFAULT_INDEX)
}

fn pin(source: &Source) -> Option<(String, String)> {
    let suffix = optional_str(source, "suffix").ok().flatten()?;
    let sha = optional_str(source, "sha256sum").ok().flatten()?;
    Some((suffix.to_string(), sha.to_ascii_lowercase()))
}

impl SourceKind for Cpan {
    fn name(&self) -> &'static str {
        "cpan"
    }
    fn config_keys(&self) -> &'static [&'static str] {
        &[
            "name",
            "suffix",
            "sha256sum",
            "index",
            "version",
            "version-guess-pattern",
        ]
    }
    fn validate(&self, source: &Source, project: &Project) -> Result<(), LoadError> {
        required_str(source, "name")?;
        if let Some(url) = optional_str(source, "index")? {
            project.check_url_alias(url, span_of(source, "index"))?;
        }
        optional_str(source, "suffix")?;
        if let Some(sha) = optional_str(source, "sha256sum")?
            && !is_sha256(sha)
        {
            return Err(LoadError::at(
                span_of(source, "sha256sum"),
                format!("'sha256sum' must be 64 hex digits, not '{sha}'"),
            ));
        }
        Ok(())
    }
    fn info(&self, source: &Source, project: &Project, _ctx: &KeyContext<'_>) -> Vec<forge_project::SourceInfo> {
        match pin(source) {
            Some((suffix, sha)) => vec![crate::checks::file_info(
                source,
                project,
                &format!("{}{suffix}", index(source)),
                &sha,
                None,
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
        optional_str(source, "index").ok().flatten().into_iter().collect()
    }
}

/// The path of `module`'s distribution in a `02packages.details.txt`
/// listing: after the header (up to the first empty line), lines of
/// `package version path`.
pub fn find_in_packages(listing: impl BufRead, module: &str) -> std::io::Result<Option<String>> {
    let mut lines = listing.lines();
    for line in lines.by_ref() {
        if line?.trim_end().is_empty() {
            break;
        }
    }
    for line in lines {
        let line = line?;
        let mut fields = line.split_whitespace();
        if let (Some(package), Some(_), Some(path)) = (fields.next(), fields.next(), fields.next())
            && package == module
        {
            return Ok(Some(path.to_string()));
        }
    }
    Ok(None)
}

impl SourceRuntime for Cpan {
    fn is_cached(&self, source: &Source, cache: &crate::SourceCache) -> bool {
        pin(source).is_some_and(|(_, sha)| cache.has_file(&sha))
    }

    fn fetch(&self, source: &Source, ctx: &SourceContext<'_>) -> Result<(), SourceError> {
        let name = required_str(source, "name").map_err(|e| err(e.to_string()))?;
        let (suffix, sha) =
            pin(source).ok_or_else(|| err(format!("{name} has no suffix and sha256sum: run `forge track` first")))?;
        if ctx.cache.has_file(&sha) {
            ctx.offer_held(&sha);
            return Ok(());
        }
        let url = format!("{}{suffix}", index(source));
        let label = suffix.rsplit('/').next().unwrap_or(&suffix).to_string();
        ctx.download(&url, UrlPurpose::Fetch, &label, Some(&sha))
            .map(|_| ())
            .map_err(|failure| failure.into_error(format!("cannot fetch {url} (sha256 {sha})")))
    }

    fn track(&self, source: &Source, ctx: &SourceContext<'_>) -> Result<Option<Tracked>, SourceError> {
        let name = required_str(source, "name").map_err(|e| err(e.to_string()))?;
        let listing_url = format!("{}{PACKAGES}", index(source));
        let listing = ctx
            .download(&listing_url, UrlPurpose::Track, "02packages.details.txt.gz", None)
            .map_err(|failure| failure.into_error(format!("cannot read the package list {listing_url}")))?;
        let file = std::fs::File::open(ctx.cache.file_path(&listing.sha256))
            .map_err(|e| err(format!("cannot read the package list: {e}")))?;
        let reader = BufReader::new(flate2::read::MultiGzDecoder::new(file));
        let path = find_in_packages(reader, name)
            .map_err(|e| err(format!("{listing_url}: {e}")))?
            .ok_or_else(|| err(format!("\"{name}\" not found in {}", index(source))))?;
        let suffix = format!("authors/id/{path}");
        let url = format!("{}{suffix}", index(source));
        let label = suffix.rsplit('/').next().unwrap_or(&suffix).to_string();
        let done = ctx
            .download(&url, UrlPurpose::Track, &label, None)
            .map_err(|failure| failure.into_error(format!("cannot track {url}")))?;
        let old = pin(source);
        let note = (old.as_ref().map(|(_, s)| s.as_str()) == Some(done.sha256.as_str())).then(|| "unchanged".into());
        Ok(Some(Tracked {
            new_ref: NewValue::Fields(vec![
                ("suffix".into(), suffix.clone()),
                ("sha256sum".into(), done.sha256.clone()),
            ]),
            new_display: format!("{label} {}", &done.sha256[..12]),
            old_display: old.map(|(s, sha)| format!("{} {}", s.rsplit('/').next().unwrap_or(&s), &sha[..12])),
            note,
            warning: None,
            commits: Vec::new(),
        }))
    }

    fn stage(&self, source: &Source, ctx: &SourceContext<'_>, dir: &Path) -> Result<(), SourceError> {
        let (suffix, sha) = pin(source).ok_or_else(|| err("the source has no suffix and sha256sum"))?;
        stage_archive(&ctx.cache.file_path(&sha), &suffix, dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_modules_after_the_header() {
        let listing = "File: 02packages.details.txt\nLine-Count: 2\n\nAcme::Foo 1.0 A/AU/AUTHOR/Acme-Foo-1.0.tar.gz\nXML::Parser 2.47 T/TO/TODDR/XML-Parser-2.47.tar.gz\n";
        assert_eq!(
            find_in_packages(listing.as_bytes(), "XML::Parser").unwrap().as_deref(),
            Some("T/TO/TODDR/XML-Parser-2.47.tar.gz")
        );
        assert_eq!(find_in_packages(listing.as_bytes(), "File:").unwrap(), None);
        assert_eq!(find_in_packages(listing.as_bytes(), "Nope").unwrap(), None);
    }
}
