//! Checks shared by source kinds.

use std::path::{Component, Path};

use forge_project::{LoadError, Project, Source};
use forge_yaml::Node;

/// A required string key.
pub fn required_str<'a>(source: &'a Source, key: &str) -> Result<&'a str, LoadError> {
    match source.get(key) {
        Some(node) => node.as_str().ok_or_else(|| {
            LoadError::at(
                &node.span,
                format!("'{key}' must be a string, not {}", node.type_name()),
            )
        }),
        None => Err(LoadError::at(
            &source.span,
            format!("a {} source needs '{key}'", source.kind),
        )),
    }
}

/// An optional string key.
pub fn optional_str<'a>(source: &'a Source, key: &str) -> Result<Option<&'a str>, LoadError> {
    match source.get(key) {
        Some(node) => node.as_str().map(Some).ok_or_else(|| {
            LoadError::at(
                &node.span,
                format!("'{key}' must be a string, not {}", node.type_name()),
            )
        }),
        None => Ok(None),
    }
}

/// An optional boolean key.
pub fn optional_bool(source: &Source, key: &str) -> Result<Option<bool>, LoadError> {
    match source.get(key) {
        None => Ok(None),
        Some(node) => match node.as_str() {
            Some("True" | "true" | "1") => Ok(Some(true)),
            Some("False" | "false" | "0") => Ok(Some(false)),
            _ => Err(LoadError::at(&node.span, format!("'{key}' must be True or False"))),
        },
    }
}

/// The node of a key, for error positions.
pub fn span_of<'a>(source: &'a Source, key: &str) -> &'a forge_yaml::Span {
    source.get(key).map(|n: &Node| &n.span).unwrap_or(&source.span)
}

/// Checks a URL and its alias.
pub fn check_url(source: &Source, project: &Project) -> Result<(), LoadError> {
    let url = required_str(source, "url")?;
    project.check_url_alias(url, span_of(source, "url"))
}

/// Checks an optional `ref` is a sha256 in hex.
pub fn check_sha256_ref(source: &Source) -> Result<(), LoadError> {
    if let Some(reference) = optional_str(source, "ref")?
        && !is_sha256(reference)
    {
        return Err(LoadError::at(
            span_of(source, "ref"),
            format!(
                "'ref' of a {} source must be the sha256 of the file (64 hex digits), not '{reference}'",
                source.kind
            ),
        )
        .with_hint("run `forge track` to fill it in"));
    }
    Ok(())
}

/// Whether `text` is 64 lowercase-or-uppercase hex digits.
pub fn is_sha256(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Checks a project-relative path stays inside the project and exists.
pub fn check_project_path(source: &Source, project: &Project, key: &str) -> Result<(), LoadError> {
    let path = required_str(source, key)?;
    let span = span_of(source, key);
    let relative = Path::new(path);
    if relative.is_absolute() || relative.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(
            LoadError::at(span, format!("'{key}' must be a path inside the project, not '{path}'"))
                .with_hint("paths are relative to the directory of project.conf and may not use '..'"),
        );
    }
    let full = project.dir.join(relative);
    match std::fs::symlink_metadata(&full) {
        Err(_) => Err(LoadError::at(span, format!("'{path}' does not exist in the project"))),
        Ok(meta) if meta.file_type().is_symlink() => Err(LoadError::at(
            span,
            format!("'{path}' is a symlink; name the file or directory it points to"),
        )),
        Ok(_) => Ok(()),
    }
}

/// SHA-256 as lowercase hex.
pub fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The `ref` of a source pinned to one file of an index: version, file
/// name (or path in the archive) and sha256.
pub struct FilePin {
    /// The version.
    pub version: String,
    /// The file name, or path in the archive.
    pub filename: String,
    /// Its sha256, lowercase.
    pub sha256: String,
}

/// The `ref: {version, filename, sha256}` of a source, if complete.
pub fn file_pin(source: &Source) -> Option<FilePin> {
    let map = source.get("ref")?.as_map()?;
    let get = |k: &str| map.get(k).and_then(Node::as_str).map(str::to_string);
    Some(FilePin {
        version: get("version")?,
        filename: get("filename")?,
        sha256: get("sha256")?.to_ascii_lowercase(),
    })
}

/// Checks the `ref:` of a source pinned to one file of an index, when it
/// has one: a mapping of exactly version, filename and sha256, the sha256
/// 64 hex digits. Returns the pin and where `ref` is written, for the
/// kind's own checks of the file name.
pub fn checked_file_pin(source: &Source) -> Result<Option<(FilePin, &Node)>, LoadError> {
    let Some(node) = source.get("ref") else {
        return Ok(None);
    };
    let map = node.as_map().ok_or_else(|| {
        LoadError::at(
            &node.span,
            format!(
                "'ref' of a {} source is a mapping: version, filename, sha256",
                source.kind
            ),
        )
        .with_hint("run `forge track` to fill it in")
    })?;
    forge_project::error::check_keys(
        map,
        &["version", "filename", "sha256"],
        &format!("a {} ref", source.kind),
    )?;
    let pin = file_pin(source).ok_or_else(|| LoadError::at(&node.span, "'ref' needs version, filename and sha256"))?;
    if !is_sha256(&pin.sha256) {
        return Err(LoadError::at(
            &node.span,
            format!("'sha256' must be 64 hex digits, not '{}'", pin.sha256),
        ));
    }
    Ok(Some((pin, node)))
}

/// The source info of a git commit: the URL with its alias expanded, the
/// commit, and the tag and distance of a `<tag>-<n>-g<commit>` ref.
pub fn git_info(source: &Source, project: &Project, url: &str, reference: &str) -> forge_project::SourceInfo {
    let (tag, commit) = match crate::git_repo::parse_ref(reference) {
        Some((tag, commit)) => (tag, commit),
        None => (None, reference),
    };
    let mut extra = Vec::new();
    if let Some((name, distance)) = tag {
        extra.push(("tag-name".to_string(), name.to_string()));
        extra.push(("commit-offset".to_string(), distance.to_string()));
    }
    extra.push(("ecosystem".to_string(), "GIT".to_string()));
    forge_project::SourceInfo {
        kind: source.kind.clone(),
        medium: "git",
        url: project.translate_url(url),
        version_type: "commit",
        version: commit.to_string(),
        version_guess: tag.and_then(|(name, _)| forge_project::guess_version(name)),
        extra,
    }
}

/// The source info of a file the source downloads from `url`.
pub fn file_info(
    source: &Source,
    project: &Project,
    url: &str,
    sha256: &str,
    ecosystem: Option<&str>,
) -> forge_project::SourceInfo {
    forge_project::SourceInfo {
        kind: source.kind.clone(),
        medium: "remote-file",
        url: project.translate_url(url),
        version_type: "sha256",
        version: sha256.to_string(),
        version_guess: forge_project::guess_version(url),
        extra: ecosystem
            .map(|e| vec![("ecosystem".to_string(), e.to_string())])
            .unwrap_or_default(),
    }
}

/// The source info of a project file or directory.
pub fn local_info(source: &Source, path: &str, digest: String) -> forge_project::SourceInfo {
    forge_project::SourceInfo {
        kind: source.kind.clone(),
        medium: "local",
        url: path.to_string(),
        version_type: "cas-digest",
        version: digest,
        version_guess: None,
        extra: Vec::new(),
    }
}
