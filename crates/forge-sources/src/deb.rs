//! `deb`: one Debian package, pinned by the sha256 the archive's signed
//! index lists. `forge track` reads `dists/<suite>/InRelease`, checks its
//! signature against the project's keyring, takes the `Packages` index
//! whose hash the Release lists (checking it), and pins the newest version
//! of the package: version, path in the pool and sha256. Nothing is pinned
//! when any of these checks fails.

use std::fs;
use std::io::Read;
use std::path::Path;

use forge_debian::control::{Paragraph, parse};
use forge_debian::release::{index_entries, packages_entry, verify, verify_detached};
use forge_debian::version::compare;
use forge_project::{KeyContext, LoadError, Project, Source, SourceKind, UrlPurpose};
use forge_yaml::edit::NewValue;
use serde_json::{Value, json};

use crate::checks::{check_project_path, checked_file_pin, file_pin, optional_str, required_str, span_of};
use crate::runtime::{SourceContext, SourceError, SourceRuntime, Tracked};

/// The `deb` kind.
pub struct Deb;

fn archive_url(source: &Source) -> Result<String, SourceError> {
    let url = required_str(source, "url").map_err(|e| SourceError::new(e.to_string()))?;
    Ok(if url.ends_with('/') || url.ends_with(':') {
        url.to_string()
    } else {
        format!("{url}/")
    })
}

/// Where a Debian archive is and which part of it a source reads.
pub struct Archive<'a> {
    /// The archive root (alias-able), ending in `/` or `:`.
    pub url: String,
    /// `bookworm`.
    pub suite: &'a str,
    /// `main`.
    pub component: &'a str,
    /// `amd64`.
    pub arch: &'a str,
    /// The keyring the Release must be signed with, absolute.
    pub keyring: std::path::PathBuf,
}

impl<'a> Archive<'a> {
    /// The archive a source reads.
    pub fn of(source: &'a Source, project: &Project) -> Result<Archive<'a>, SourceError> {
        let text = |k: &str, default: &'a str| -> Result<&'a str, SourceError> {
            Ok(optional_str(source, k)
                .map_err(|e| SourceError::new(e.to_string()))?
                .unwrap_or(default))
        };
        let keyring = required_str(source, "keyring").map_err(|e| SourceError::new(e.to_string()))?;
        Ok(Archive {
            url: archive_url(source)?,
            suite: required_str(source, "suite").map_err(|e| SourceError::new(e.to_string()))?,
            component: text("component", "main")?,
            arch: text("arch", "amd64")?,
            keyring: project.dir.join(keyring),
        })
    }

    /// The verified `Packages` index of the archive: the Release signature
    /// is checked, then the index against the hash the Release lists.
    /// Once per run for each archive, suite, component and architecture.
    pub fn packages(&self, ctx: &SourceContext<'_>) -> Result<std::sync::Arc<PackageIndex>, SourceError> {
        let key = format!(
            "{}\n{}\n{}\n{}\n{}\n{}",
            ctx.project.name,
            self.url,
            self.suite,
            self.component,
            self.arch,
            self.keyring.display()
        );
        ctx.run
            .debian_packages(key, || self.read_packages(ctx).map(PackageIndex::new))
    }

    fn read_packages(&self, ctx: &SourceContext<'_>) -> Result<Vec<Paragraph>, SourceError> {
        let inrelease = format!("{}dists/{}/InRelease", self.url, self.suite);
        let urls = ctx
            .project
            .source_urls(&inrelease, UrlPurpose::Track, ctx.default_mirror());
        let release = match ctx.downloader.get_text(&urls, "*/*") {
            Ok((from, text, _)) => {
                verify(text.as_bytes(), &self.keyring).map_err(|why| SourceError::new(format!("{from}: {why}")))?
            }
            // Archives without InRelease publish Release and Release.gpg.
            Err(inrelease_failure) => {
                let release_url = format!("{}dists/{}/Release", self.url, self.suite);
                let fetch = |url: &str| {
                    let urls = ctx.project.source_urls(url, UrlPurpose::Track, ctx.default_mirror());
                    ctx.downloader.get_text(&urls, "*/*")
                };
                match (fetch(&release_url), fetch(&format!("{release_url}.gpg"))) {
                    (Ok((from, release, _)), Ok((_, signature, _))) => {
                        verify_detached(release.as_bytes(), signature.as_bytes(), &self.keyring)
                            .map_err(|why| SourceError::new(format!("{from}: {why}")))?
                    }
                    _ => {
                        return Err(inrelease_failure
                            .into_error(format!("cannot read {inrelease} (nor Release with Release.gpg)")));
                    }
                }
            }
        };
        let entries = index_entries(&release);
        let entry = packages_entry(&entries, self.component, self.arch).ok_or_else(|| {
            SourceError::new(format!(
                "the {} Release lists no Packages index for {}/{}",
                self.suite, self.component, self.arch
            ))
        })?;
        let index_url = format!("{}dists/{}/{}", self.url, self.suite, entry.path);
        let done = ctx
            .download(&index_url, UrlPurpose::Track, &entry.path, Some(&entry.sha256))
            .map_err(|failure| {
                failure.into_error(format!(
                    "the Packages index does not match the signed Release ({index_url})"
                ))
            })?;
        let reader = crate::extract::open_compressed(&ctx.cache.file_path(&done.sha256))
            .map_err(|e| SourceError::new(format!("cannot open the Packages index: {e}")))?;
        let bytes = forge_debian::deb::read_all(reader)
            .map_err(|e| SourceError::new(format!("cannot read the Packages index: {e}")))?;
        Ok(parse(&String::from_utf8_lossy(&bytes)))
    }
}

/// A verified `Packages` index, with its paragraphs found by name.
pub struct PackageIndex {
    paragraphs: Vec<Paragraph>,
    by_name: std::collections::HashMap<String, Vec<usize>>,
}

impl PackageIndex {
    fn new(paragraphs: Vec<Paragraph>) -> PackageIndex {
        let mut by_name: std::collections::HashMap<String, Vec<usize>> = std::collections::HashMap::new();
        for (i, paragraph) in paragraphs.iter().enumerate() {
            if let Some(name) = paragraph.get("Package") {
                by_name.entry(name.to_string()).or_default().push(i);
            }
        }
        PackageIndex { paragraphs, by_name }
    }

    /// Every paragraph, in the index's order.
    pub fn iter(&self) -> impl Iterator<Item = &Paragraph> {
        self.paragraphs.iter()
    }

    /// The newest paragraph of `package`.
    pub fn newest(&self, package: &str) -> Option<&Paragraph> {
        self.by_name
            .get(package)?
            .iter()
            .map(|&i| &self.paragraphs[i])
            .max_by(|a, b| compare(a.get("Version").unwrap_or(""), b.get("Version").unwrap_or("")))
    }
}

impl SourceKind for Deb {
    fn name(&self) -> &'static str {
        "deb"
    }
    fn config_keys(&self) -> &'static [&'static str] {
        &["url", "suite", "component", "arch", "package", "keyring", "ref"]
    }
    fn validate(&self, source: &Source, project: &Project) -> Result<(), LoadError> {
        let url = required_str(source, "url")?;
        project.check_url_alias(url, span_of(source, "url"))?;
        required_str(source, "suite")?;
        required_str(source, "package")?;
        check_project_path(source, project, "keyring").map_err(|e| {
            e.with_hint("name the archive's keyring in the project, such as keys/debian-archive-keyring.gpg")
        })?;
        if let Some((pin, node)) = checked_file_pin(source)?
            && (pin.filename.starts_with('/') || pin.filename.split('/').any(|p| p == ".."))
        {
            return Err(LoadError::at(
                &node.span,
                format!("'filename' must be a path in the archive, not '{}'", pin.filename),
            ));
        }
        Ok(())
    }
    fn unique_key(&self, source: &Source, _ctx: &KeyContext<'_>) -> Result<Option<Value>, LoadError> {
        let package = required_str(source, "package")?;
        Ok(file_pin(source).map(|p| json!({ "package": package, "version": p.version, "sha256": p.sha256 })))
    }
    /// The pinned `.deb` in its archive, with the package, architecture
    /// and suite.
    fn info(&self, source: &Source, project: &Project, _ctx: &KeyContext<'_>) -> Vec<forge_project::SourceInfo> {
        let (Some(package), Some(pin), Ok(archive)) =
            (source.get_str("package"), file_pin(source), archive_url(source))
        else {
            return Vec::new();
        };
        let mut extra = vec![("package".to_string(), package.to_string())];
        for key in ["arch", "suite"] {
            if let Some(value) = source.get_str(key) {
                extra.push((key.to_string(), value.to_string()));
            }
        }
        vec![forge_project::SourceInfo {
            kind: source.kind.clone(),
            medium: "remote-file",
            url: project.translate_url(&format!("{archive}{}", pin.filename)),
            version_type: "sha256",
            version: pin.sha256,
            version_guess: Some(pin.version),
            extra,
        }]
    }
}

impl SourceRuntime for Deb {
    fn is_cached(&self, source: &Source, cache: &crate::SourceCache) -> bool {
        file_pin(source).is_some_and(|p| cache.has_file(&p.sha256))
    }

    fn cached_file(&self, source: &Source, cache: &crate::SourceCache) -> Option<(String, std::path::PathBuf)> {
        let pin = file_pin(source)?;
        let name = pin.filename.rsplit('/').next().unwrap_or(&pin.filename).to_string();
        cache
            .has_file(&pin.sha256)
            .then(|| (name, cache.file_path(&pin.sha256)))
    }

    fn fetch(&self, source: &Source, ctx: &SourceContext<'_>) -> Result<(), SourceError> {
        let package = required_str(source, "package").map_err(|e| SourceError::new(e.to_string()))?;
        let pin = file_pin(source)
            .ok_or_else(|| SourceError::new(format!("'{package}' has no ref: run `forge track` first")))?;
        if ctx.cache.has_file(&pin.sha256) {
            ctx.offer_held(&pin.sha256);
            return Ok(());
        }
        let _lock = ctx
            .cache
            .lock(&format!("file-{}", pin.sha256))
            .map_err(|e| SourceError::new(format!("cannot lock the source cache: {e}")))?;
        if ctx.cache.has_file(&pin.sha256) {
            return Ok(());
        }
        let url = format!("{}{}", archive_url(source)?, pin.filename);
        let label = pin.filename.rsplit('/').next().unwrap_or(&pin.filename);
        ctx.download(&url, UrlPurpose::Fetch, label, Some(&pin.sha256))
            .map(|_| ())
            .map_err(|failure| {
                failure.into_error(format!(
                    "cannot fetch {package} {} (sha256 {})",
                    pin.version, pin.sha256
                ))
            })
    }

    fn track(&self, source: &Source, ctx: &SourceContext<'_>) -> Result<Option<Tracked>, SourceError> {
        let package = required_str(source, "package").map_err(|e| SourceError::new(e.to_string()))?;
        let archive = Archive::of(source, ctx.project)?;
        let packages = archive.packages(ctx)?;
        let paragraph = packages.newest(package).ok_or_else(|| {
            SourceError::new(format!(
                "{}/{} of {} has no package '{package}'",
                archive.component, archive.arch, archive.suite
            ))
        })?;
        let field = |name: &str| {
            paragraph
                .get(name)
                .map(str::to_string)
                .ok_or_else(|| SourceError::new(format!("'{package}' has no {name} in the index")))
        };
        let (version, filename, sha256) = (
            field("Version")?,
            field("Filename")?,
            field("SHA256")?.to_ascii_lowercase(),
        );
        let url = format!("{}{filename}", archive.url);
        let label = filename.rsplit('/').next().unwrap_or(&filename).to_string();
        ctx.download(&url, UrlPurpose::Track, &label, Some(&sha256))
            .map_err(|failure| failure.into_error(format!("cannot download {package} {version}")))?;
        Ok(Some(Tracked {
            new_ref: NewValue::Mapping(vec![
                ("version".into(), version.clone()),
                ("filename".into(), filename.clone()),
                ("sha256".into(), sha256.clone()),
            ]),
            new_display: format!("{version} {}", &sha256[..12]),
            old_display: file_pin(source).map(|p| format!("{} {}", p.version, &p.sha256[..12])),
            note: Some(label),
            warning: None,
            commits: Vec::new(),
        }))
    }

    fn pinned_package(
        &self,
        source: &Source,
        cache: &crate::SourceCache,
    ) -> Result<Option<forge_trust::Package>, SourceError> {
        let package = required_str(source, "package").map_err(|e| SourceError::new(e.to_string()))?;
        let suite = required_str(source, "suite").map_err(|e| SourceError::new(e.to_string()))?;
        let Some(pin) = file_pin(source) else {
            return Ok(None);
        };
        let (_, cached) = self.cached_file(source, cache).ok_or_else(|| {
            SourceError::new(format!(
                "{package} {} is not in the source cache (its control names the source package); run `forge fetch`",
                pin.version
            ))
        })?;
        let (name, version) =
            source_package(&cached).map_err(|e| SourceError::new(format!("{package} {}: {e}", pin.version)))?;
        Ok(Some(forge_trust::Package {
            ecosystem: forge_trust::Ecosystem::Debian(forge_trust::Ecosystem::debian_release(suite)),
            name: name.unwrap_or_else(|| package.to_string()),
            version: version.unwrap_or(pin.version),
        }))
    }

    fn package_facts(&self, source: &Source, cache: &crate::SourceCache) -> Option<crate::runtime::PackageFacts> {
        let (_, cached) = self.cached_file(source, cache)?;
        let paragraph = control_paragraph(&cached).ok()?;
        Some(crate::runtime::PackageFacts {
            supplier: paragraph.get("Maintainer").map(|m| m.trim().to_string()),
            // A .deb's license is in its copyright file, not its control.
            license: paragraph.get("Package").and_then(|package| {
                let sha = file_pin(source)?.sha256;
                remembered_license(cache, &sha, &cached, package.trim())
            }),
        })
    }

    fn stage(&self, source: &Source, ctx: &SourceContext<'_>, dir: &Path) -> Result<(), SourceError> {
        let (name, cached) = self
            .cached_file(source, ctx.cache)
            .ok_or_else(|| SourceError::new("the package is not in the source cache; run `forge fetch`"))?;
        fs::copy(&cached, dir.join(&name))
            .map(|_| ())
            .map_err(|e| SourceError::new(format!("cannot stage {name}: {e}")))
    }
}

/// The license a .deb's machine-readable copyright file
/// (`usr/share/doc/PACKAGE/copyright`, DEP-5) declares: the `License:` of
/// every `Files:` paragraph, joined with AND, as an SPDX expression where
/// each Debian name maps to an SPDX identifier, else as Debian writes it.
/// `None` without such a file. The data is streamed, at most 1 MiB of the
/// file read.
fn copyright_license(deb: &Path, package: &str) -> Option<String> {
    let file = fs::File::open(deb).ok()?;
    let (_, data) = forge_debian::deb::data_reader(std::io::BufReader::new(file)).ok()?;
    let reader = crate::extract::decompress_stream(std::io::BufReader::new(data)).ok()?;
    let wanted = format!("usr/share/doc/{package}/copyright");
    let mut archive = tar::Archive::new(reader);
    for entry in archive.entries().ok()? {
        let entry = entry.ok()?;
        let path = entry
            .path()
            .ok()?
            .to_string_lossy()
            .trim_start_matches("./")
            .to_string();
        if path != wanted || !entry.header().entry_type().is_file() {
            continue;
        }
        let mut text = String::new();
        entry.take(1 << 20).read_to_string(&mut text).ok()?;
        return dep5_license(&text);
    }
    None
}

/// [`copyright_license`], remembered in the source cache beside the
/// package (`facts/SHA256.license`, empty for none): the package never
/// changes under its digest, and reading it means inflating all its data.
fn remembered_license(cache: &crate::SourceCache, sha: &str, deb: &Path, package: &str) -> Option<String> {
    let kept = cache.root().join("facts").join(format!("{sha}.license"));
    if let Ok(text) = fs::read_to_string(&kept) {
        return (!text.is_empty()).then_some(text);
    }
    let license = copyright_license(deb, package);
    let temporary = kept.with_extension(format!("license.{}", std::process::id()));
    let _ = fs::create_dir_all(kept.parent()?)
        .and_then(|()| fs::write(&temporary, license.as_deref().unwrap_or_default()))
        .and_then(|()| fs::rename(&temporary, &kept));
    license
}

/// The license of a DEP-5 copyright file (see [`copyright_license`]).
fn dep5_license(text: &str) -> Option<String> {
    let paragraphs = parse(text);
    let format = paragraphs.first()?.get("Format")?;
    if !format.contains("copyright-format") {
        return None;
    }
    let mut licenses: Vec<String> = Vec::new();
    for paragraph in paragraphs.iter().filter(|p| p.get("Files").is_some()) {
        let Some(first) = paragraph.get("License").and_then(|l| l.lines().next()) else {
            continue;
        };
        let first = first.trim().to_string();
        if !first.is_empty() && !licenses.contains(&first) {
            licenses.push(first);
        }
    }
    if licenses.is_empty() {
        return None;
    }
    let spdx: Option<Vec<String>> = licenses.iter().map(|l| spdx_of_debian(l)).collect();
    let parts = spdx.unwrap_or(licenses);
    let several = parts.len() > 1;
    Some(
        parts
            .iter()
            .map(|p| {
                if several && p.contains(" OR ") {
                    format!("({p})")
                } else {
                    p.clone()
                }
            })
            .collect::<Vec<_>>()
            .join(" AND "),
    )
}

/// A Debian license expression (`GPL-2+ or Artistic`) as SPDX, when every
/// name in it has an SPDX identifier.
fn spdx_of_debian(expression: &str) -> Option<String> {
    let mut out = Vec::new();
    for word in expression.split_whitespace() {
        out.push(match word.to_ascii_lowercase().as_str() {
            "or" => "OR".to_string(),
            "and" => "AND".to_string(),
            _ => spdx_name(word)?,
        });
    }
    let valid = !out.is_empty()
        && out.iter().step_by(2).all(|w| w != "OR" && w != "AND")
        && out.iter().skip(1).step_by(2).all(|w| w == "OR" || w == "AND");
    valid.then(|| out.join(" "))
}

/// One Debian license name as an SPDX identifier.
fn spdx_name(name: &str) -> Option<String> {
    let lower = name.trim_end_matches(',').to_ascii_lowercase();
    let fixed = match lower.as_str() {
        "expat" | "mit" => "MIT",
        "apache-2.0" | "apache-2" => "Apache-2.0",
        "artistic-2.0" => "Artistic-2.0",
        "bsd-2-clause" => "BSD-2-Clause",
        "bsd-3-clause" => "BSD-3-Clause",
        "bsl-1.0" => "BSL-1.0",
        "cc0-1.0" | "cc0" => "CC0-1.0",
        "isc" => "ISC",
        "mpl-2.0" => "MPL-2.0",
        "zlib" => "Zlib",
        "0bsd" => "0BSD",
        "psf-2" | "psf-2.0" => "PSF-2.0",
        "python-2.0" => "Python-2.0",
        "unlicense" => "Unlicense",
        "hpnd" => "HPND",
        _ => "",
    };
    if !fixed.is_empty() {
        return Some(fixed.to_string());
    }
    // The GNU licenses: `GPL-2`, `GPL-2+`, `LGPL-2.1+`, `AGPL-3.0`.
    let (base, later) = match lower.strip_suffix('+') {
        Some(base) => (base, true),
        None => (lower.as_str(), false),
    };
    let (family, version) = base.split_once('-')?;
    let family = match family {
        "gpl" => "GPL",
        "lgpl" => "LGPL",
        "agpl" => "AGPL",
        _ => return None,
    };
    let version = match version {
        "1" | "1.0" => "1.0",
        "2" | "2.0" => "2.0",
        "2.1" => "2.1",
        "3" | "3.0" => "3.0",
        _ => return None,
    };
    Some(format!(
        "{family}-{version}-{}",
        if later { "or-later" } else { "only" }
    ))
}

/// The `Source:` of a .deb's control file: the source package's name and,
/// when it differs from the binary's (a binNMU), its version. `None` for
/// what the control leaves out (then the binary's name or version is
/// the source's).
fn source_package(deb: &Path) -> Result<(Option<String>, Option<String>), String> {
    let paragraph = control_paragraph(deb)?;
    let Some(field) = paragraph.get("Source") else {
        return Ok((None, None));
    };
    // `Source: glibc (2.36-9+deb12u4)` when the versions differ.
    Ok(match field.split_once('(') {
        Some((name, version)) => (
            Some(name.trim().to_string()),
            Some(version.trim_end_matches(')').trim().to_string()),
        ),
        None => (Some(field.trim().to_string()), None),
    })
}

/// The `control` paragraph of the `.deb` at `deb`, read in bounded memory.
fn control_paragraph(deb: &Path) -> Result<Paragraph, String> {
    let file = fs::File::open(deb).map_err(|e| e.to_string())?;
    let (_, control) = forge_debian::deb::control_member(std::io::BufReader::new(file), 16 << 20)?;
    let reader = crate::extract::decompressed(&control).map_err(|e| e.to_string())?;
    let mut archive = tar::Archive::new(reader.take(64 << 20));
    for entry in archive.entries().map_err(|e| format!("control.tar: {e}"))? {
        let entry = entry.map_err(|e| format!("control.tar: {e}"))?;
        let path = entry.path().map_err(|e| e.to_string())?.into_owned();
        if path.as_os_str() != "./control" && path.as_os_str() != "control" {
            continue;
        }
        let mut text = String::new();
        entry
            .take(1 << 20)
            .read_to_string(&mut text)
            .map_err(|e| format!("control: {e}"))?;
        return parse(&text)
            .into_iter()
            .next()
            .ok_or_else(|| "its control file is empty".to_string());
    }
    Err("its control.tar has no control file".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debian_license_names_become_spdx_where_they_have_one() {
        assert_eq!(spdx_of_debian("GPL-2+").as_deref(), Some("GPL-2.0-or-later"));
        assert_eq!(spdx_of_debian("LGPL-2.1").as_deref(), Some("LGPL-2.1-only"));
        assert_eq!(
            spdx_of_debian("GPL-1+ or Artistic"),
            None,
            "Artistic has no one identifier"
        );
        assert_eq!(
            spdx_of_debian("Expat or Apache-2.0").as_deref(),
            Some("MIT OR Apache-2.0")
        );
        assert_eq!(spdx_of_debian("GPL-2+ with OpenSSL exception"), None);
        assert_eq!(spdx_of_debian("or"), None);
        let dep5 = |body: &str| {
            dep5_license(&format!(
                "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\n{body}"
            ))
        };
        assert_eq!(
            dep5("Files: *\nLicense: BSD-3-clause\n\nFiles: a/*\nLicense: Expat or ISC\n").as_deref(),
            Some("BSD-3-Clause AND (MIT OR ISC)")
        );
        assert_eq!(
            dep5("Files: *\nLicense: GPL-2+\n\nFiles: b/*\nLicense: public-domain\n").as_deref(),
            Some("GPL-2+ AND public-domain"),
            "kept as Debian writes it when a name has no identifier"
        );
        assert_eq!(dep5("Upstream-Name: x\n"), None);
        assert_eq!(dep5_license("This is free software.\n"), None, "not machine-readable");
    }
}
