//! buildstream-plugins' `docker`: the file system of a container image,
//! pinned by the sha256 of its manifest, pulled from a registry with the
//! OCI distribution API (anonymous bearer tokens answered as registries
//! ask), every layer checked against the digest the pinned manifest names.
//!
//! `track` asks the registry for the manifest of the `track` tag and, for
//! a multi-platform index, picks the image of `architecture` and `os`
//! (default: this machine's, as the plugin does). `stage` unpacks the
//! layers in order: a layer's whiteouts (`.wh.NAME`, `.wh..wh..opq`)
//! remove what earlier layers put there, and, as with the plugin, device
//! nodes and everything under `dev/` are left out.

use std::io::Write;
use std::path::{Path, PathBuf};

use forge_project::{KeyContext, LoadError, Project, Source, SourceKind, UrlPurpose};
use forge_yaml::edit::NewValue;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::checks::{hex, optional_str, span_of};
use crate::download::BearerToken;
use crate::runtime::{SourceContext, SourceError, SourceRuntime, Tracked};

const DOCKER_HUB: &str = "https://registry.hub.docker.com";

const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// Layer media types forge unpacks: gzipped or plain tars.
const LAYER_TYPES: &[&str] = &[
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.oci.image.layer.v1.tar",
];

/// buildstream-plugins' `docker`.
pub struct Docker;

impl SourceKind for Docker {
    fn name(&self) -> &'static str {
        "docker"
    }
    fn config_keys(&self) -> &'static [&'static str] {
        &[
            "architecture",
            "registry-url",
            "image",
            "os",
            "ref",
            "track",
            "url",
            "version",
        ]
    }
    fn validate(&self, source: &Source, project: &Project) -> Result<(), LoadError> {
        let has = |k: &str| source.get(k).is_some();
        if has("url") && (has("image") || has("registry-url")) {
            return Err(LoadError::at(
                &source.span,
                "a docker source may specify either 'url', or 'image' and 'registry-url'",
            ));
        }
        if !has("url") && !has("image") {
            return Err(LoadError::at(
                &source.span,
                "a docker source must define either 'url' or 'image'",
            ));
        }
        for key in ["url", "registry-url"] {
            if let Some(url) = optional_str(source, key)? {
                project.check_url_alias(url, span_of(source, key))?;
            }
        }
        for key in ["image", "track", "architecture", "os", "version"] {
            optional_str(source, key)?;
        }
        if let Some(reference) = optional_str(source, "ref")?
            && !crate::checks::is_sha256(reference)
        {
            return Err(LoadError::at(
                span_of(source, "ref"),
                format!("'ref' of a docker source is the sha256 of the image manifest, not '{reference}'"),
            ));
        }
        Ok(())
    }
    fn unique_key(&self, source: &Source, _ctx: &KeyContext<'_>) -> Result<Option<Value>, LoadError> {
        let Some(digest) = optional_str(source, "ref")? else {
            return Ok(None);
        };
        Ok(Some(match optional_str(source, "url")? {
            Some(url) => json!([url, digest, optional_str(source, "version")?]),
            None => json!([
                optional_str(source, "registry-url")?.unwrap_or(DOCKER_HUB),
                optional_str(source, "image")?,
                digest,
                optional_str(source, "version")?
            ]),
        }))
    }
    fn info(&self, source: &Source, project: &Project, _ctx: &KeyContext<'_>) -> Vec<forge_project::SourceInfo> {
        let Ok(Some(reference)) = optional_str(source, "ref") else {
            return Vec::new();
        };
        // The upstream registry, as bst reports it: aliases expanded, no mirror.
        let Some(image) = Image::located(source, |url| vec![project.translate_url(url)])
            .ok()
            .and_then(|i| i.candidates.into_iter().next())
        else {
            return Vec::new();
        };
        vec![forge_project::SourceInfo {
            kind: source.kind.clone(),
            medium: "oci-image",
            url: image.registry,
            version_type: "oci-digest",
            version: format!("sha256:{reference}"),
            version_guess: optional_str(source, "version").ok().flatten().map(str::to_string),
            extra: vec![("image-name".into(), image.name.trim_start_matches('/').to_string())],
        }]
    }
    fn urls<'a>(&self, source: &'a Source) -> Vec<&'a str> {
        ["url", "registry-url"]
            .iter()
            .filter_map(|k| optional_str(source, k).ok().flatten())
            .collect()
    }
}

/// Where an image is: a registry and the image's name in it, through each
/// of the registry's mirrors first.
struct Image {
    candidates: Vec<Located>,
    /// For messages: the image as written.
    shown: String,
}

#[derive(Clone)]
struct Located {
    registry: String,
    name: String,
}

impl Located {
    fn url(&self, kind: &str, reference: &str) -> String {
        format!(
            "{}/v2/{}/{kind}/{reference}",
            self.registry.trim_end_matches('/'),
            self.name.trim_matches('/')
        )
    }
}

/// `scheme://host[:port]` and the path of a URL.
fn split_url(url: &str) -> Option<(String, String)> {
    let (scheme, rest) = url.split_once("://")?;
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    Some((format!("{scheme}://{host}"), path.to_string()))
}

impl Image {
    /// The image through the registry alias's mirrors for `purpose`.
    fn of(source: &Source, ctx: &SourceContext<'_>, purpose: UrlPurpose) -> Result<Image, String> {
        Image::located(source, |url| {
            ctx.project.source_urls(url, purpose, ctx.default_mirror())
        })
    }

    /// The image at each URL `expand` makes of the registry URL as written.
    fn located(source: &Source, expand: impl Fn(&str) -> Vec<String>) -> Result<Image, String> {
        let text = |key: &str| optional_str(source, key).map_err(|e| e.to_string());
        match (text("url")?, text("image")?) {
            (Some(url), _) => Ok(Image {
                candidates: expand(url)
                    .iter()
                    .filter_map(|u| split_url(u))
                    .map(|(registry, name)| Located { registry, name })
                    .collect(),
                shown: url.to_string(),
            }),
            (None, Some(image)) => {
                let registry = text("registry-url")?.unwrap_or(DOCKER_HUB);
                Ok(Image {
                    candidates: expand(registry)
                        .into_iter()
                        .map(|registry| Located {
                            registry,
                            name: image.to_string(),
                        })
                        .collect(),
                    shown: format!("{image} from {registry}"),
                })
            }
            (None, None) => Err("a docker source must define either 'url' or 'image'".into()),
        }
    }

    fn urls(&self, kind: &str, reference: &str) -> Vec<String> {
        self.candidates.iter().map(|c| c.url(kind, reference)).collect()
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// `sha256:HEX` → `HEX`, checked.
fn digest_hex(digest: &str) -> Result<&str, String> {
    match digest.strip_prefix("sha256:") {
        Some(hex) if crate::checks::is_sha256(hex) => Ok(hex),
        _ => Err(format!(
            "digest '{}' is not a sha256 digest",
            forge_project::error::printable_line(digest)
        )),
    }
}

/// The machine as the plugin names it by default.
fn default_architecture() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    }
}

/// A manifest as the registry served it, checked against its digest.
struct Served {
    body: Vec<u8>,
    sha256: String,
    json: Value,
}

/// Asks for the manifest `reference` (a tag or `sha256:HEX`) and checks
/// what comes back: valid JSON, schema 2, and the digest the registry
/// claims, if it claims one, is that of the bytes.
fn get_manifest(
    ctx: &SourceContext<'_>,
    image: &Image,
    reference: &str,
    token: &BearerToken,
) -> Result<Served, SourceError> {
    let accept = [DOCKER_MANIFEST, DOCKER_LIST, OCI_MANIFEST, OCI_INDEX].join(", ");
    let document = ctx
        .downloader
        .get_from_registry(&image.urls("manifests", reference), &accept, token)
        .map_err(|failure| {
            failure.into_error(format!(
                "cannot get the manifest {reference} of {}",
                forge_project::error::printable_line(&image.shown)
            ))
        })?;
    let bad = |why: String| {
        SourceError::new(format!(
            "{} served a bad manifest for {reference}: {why}",
            forge_project::error::printable_line(&document.url)
        ))
    };
    let sha256 = sha256_hex(&document.body);
    if let Some(claimed) = &document.digest
        && claimed != &format!("sha256:{sha256}")
    {
        return Err(bad(format!(
            "it says its digest is {} but its bytes hash to sha256:{sha256}",
            forge_project::error::printable_line(claimed)
        )));
    }
    let json: Value = serde_json::from_slice(&document.body).map_err(|e| bad(format!("not JSON: {e}")))?;
    match json.get("schemaVersion").and_then(Value::as_i64) {
        Some(2) => {}
        Some(1) => return Err(bad("schema version 1 is not supported".into())),
        _ => return Err(bad("no schemaVersion 2".into())),
    }
    Ok(Served {
        body: document.body,
        sha256,
        json,
    })
}

/// The media type of a manifest: its own field, else what it holds.
fn media_type(json: &Value) -> &str {
    json.get("mediaType").and_then(Value::as_str).unwrap_or_else(|| {
        if json.get("manifests").is_some() {
            OCI_INDEX
        } else {
            OCI_MANIFEST
        }
    })
}

fn is_index(json: &Value) -> bool {
    matches!(media_type(json), DOCKER_LIST | OCI_INDEX)
}

/// The layers of an image manifest: `(sha256, media type)`, in order.
fn layers(json: &Value) -> Result<Vec<(String, String)>, String> {
    let list = json
        .get("layers")
        .and_then(Value::as_array)
        .ok_or("the manifest lists no layers")?;
    list.iter()
        .map(|layer| {
            let kind = layer.get("mediaType").and_then(Value::as_str).unwrap_or_default();
            if !LAYER_TYPES.contains(&kind) {
                return Err(format!(
                    "layer type '{}' is not one forge unpacks ({})",
                    forge_project::error::printable_line(kind),
                    LAYER_TYPES.join(", ")
                ));
            }
            let digest = layer.get("digest").and_then(Value::as_str).unwrap_or_default();
            Ok((digest_hex(digest)?.to_string(), kind.to_string()))
        })
        .collect()
}

/// The pinned manifest from the source cache, checked again.
fn cached_manifest(ctx_cache: &crate::SourceCache, reference: &str) -> Option<Value> {
    let bytes = std::fs::read(ctx_cache.file_path(reference)).ok()?;
    (sha256_hex(&bytes) == reference).then(|| serde_json::from_slice(&bytes).ok())?
}

fn pinned(source: &Source) -> Result<String, SourceError> {
    optional_str(source, "ref")
        .map_err(|e| SourceError::new(e.to_string()))?
        .map(str::to_ascii_lowercase)
        .ok_or_else(|| SourceError::new("the docker source has no ref: run `forge track` first"))
}

/// Brings the file `sha256` into the cache: from a source cache server,
/// else from the registry.
fn fetch_blob(ctx: &SourceContext<'_>, image: &Image, sha256: &str, token: &BearerToken) -> Result<(), SourceError> {
    if ctx.cache.has_file(sha256) {
        ctx.offer_held(sha256);
        return Ok(());
    }
    if let Some(servers) = ctx.servers
        && servers.pull(ctx.cache, sha256, ctx.progress)
    {
        return Ok(());
    }
    let label = format!("layer {}", &sha256[..12]);
    let done = ctx
        .downloader
        .fetch_from_registry(
            ctx.cache,
            &label,
            &image.urls("blobs", &format!("sha256:{sha256}")),
            sha256,
            token,
            ctx.progress,
        )
        .map_err(|failure| failure.into_error(format!("cannot fetch layer sha256:{sha256}")))?;
    ctx.progress.detail(&forge_project::error::printable_line(&format!(
        "{label}: {} bytes from {}",
        done.size, done.url
    )));
    if let Some(servers) = ctx.servers {
        servers.push(ctx.cache, sha256, ctx.progress);
    }
    Ok(())
}

impl SourceRuntime for Docker {
    fn is_cached(&self, source: &Source, cache: &crate::SourceCache) -> bool {
        let Ok(reference) = pinned(source) else {
            return false;
        };
        cached_manifest(cache, &reference)
            .and_then(|json| layers(&json).ok())
            .is_some_and(|layers| layers.iter().all(|(sha, _)| cache.has_file(sha)))
    }

    fn fetch(&self, source: &Source, ctx: &SourceContext<'_>) -> Result<(), SourceError> {
        let reference = pinned(source)?;
        let image = Image::of(source, ctx, UrlPurpose::Fetch).map_err(SourceError::new)?;
        let _lock = ctx
            .cache
            .lock(&format!("docker-{reference}"))
            .map_err(|e| SourceError::new(format!("cannot lock the source cache: {e}")))?;
        let token = BearerToken::default();
        let manifest = match cached_manifest(ctx.cache, &reference) {
            Some(json) => {
                ctx.offer_held(&reference);
                json
            }
            None => {
                if let Some(servers) = ctx.servers {
                    servers.pull(ctx.cache, &reference, ctx.progress);
                }
                match cached_manifest(ctx.cache, &reference) {
                    Some(json) => json,
                    None => store_manifest(ctx, &image, &reference, &token)?,
                }
            }
        };
        let layers =
            layers(&manifest).map_err(|why| SourceError::new(format!("manifest sha256:{reference}: {why}")))?;
        for (sha256, _) in &layers {
            fetch_blob(ctx, &image, sha256, &token)?;
        }
        Ok(())
    }

    fn track(&self, source: &Source, ctx: &SourceContext<'_>) -> Result<Option<Tracked>, SourceError> {
        let Some(tag) = optional_str(source, "track").map_err(|e| SourceError::new(e.to_string()))? else {
            return Ok(None);
        };
        let image = Image::of(source, ctx, UrlPurpose::Track).map_err(SourceError::new)?;
        let architecture = optional_str(source, "architecture")
            .ok()
            .flatten()
            .unwrap_or(default_architecture());
        let os = optional_str(source, "os")
            .ok()
            .flatten()
            .unwrap_or(std::env::consts::OS);
        let token = BearerToken::default();
        let mut served = get_manifest(ctx, &image, tag, &token)?;
        let mut note = format!("{tag} of {}", image.shown);
        if is_index(&served.json) {
            let entries = served.json["manifests"].as_array().cloned().unwrap_or_default();
            let chosen = entries
                .iter()
                .find(|entry| {
                    entry["platform"]["architecture"].as_str() == Some(architecture)
                        && entry["platform"]["os"].as_str() == Some(os)
                })
                .and_then(|entry| entry["digest"].as_str())
                .ok_or_else(|| {
                    SourceError::new(format!(
                        "{tag} of {} has no image for {architecture}/{os} (set 'architecture' and 'os')",
                        forge_project::error::printable_line(&image.shown)
                    ))
                })?
                .to_string();
            served = get_manifest(ctx, &image, &chosen, &token)?;
            if format!("sha256:{}", served.sha256) != chosen {
                return Err(SourceError::new(format!(
                    "the registry served a manifest hashing to sha256:{} for {chosen}",
                    served.sha256
                )));
            }
            note.push_str(&format!(", {architecture}/{os}"));
        }
        layers(&served.json).map_err(|why| SourceError::new(format!("{note}: {why}")))?;
        Ok(Some(Tracked {
            new_ref: NewValue::Scalar(served.sha256.clone()),
            new_display: served.sha256,
            old_display: optional_str(source, "ref").ok().flatten().map(str::to_string),
            note: Some(note),
            warning: None,
            commits: Vec::new(),
        }))
    }

    fn stage(&self, source: &Source, ctx: &SourceContext<'_>, dir: &Path) -> Result<(), SourceError> {
        let reference = pinned(source)?;
        let manifest = cached_manifest(ctx.cache, &reference).ok_or_else(|| {
            SourceError::new(format!(
                "image sha256:{reference} is not in the source cache; run `forge fetch`"
            ))
        })?;
        let layers =
            layers(&manifest).map_err(|why| SourceError::new(format!("manifest sha256:{reference}: {why}")))?;
        for (sha256, _) in &layers {
            let path = ctx.cache.file_path(sha256);
            unpack_layer(&path, dir).map_err(|e| SourceError::new(format!("layer sha256:{sha256}: {e}")))?;
        }
        Ok(())
    }
}

/// Fetches the pinned manifest, checks it and keeps it in the cache;
/// returns it.
fn store_manifest(
    ctx: &SourceContext<'_>,
    image: &Image,
    reference: &str,
    token: &BearerToken,
) -> Result<Value, SourceError> {
    let served = get_manifest(ctx, image, &format!("sha256:{reference}"), token)?;
    if served.sha256 != reference {
        return Err(SourceError::new(format!(
            "the registry served a manifest hashing to sha256:{} for the pinned sha256:{reference}; nothing was cached",
            served.sha256
        )));
    }
    if is_index(&served.json) {
        return Err(SourceError::new(format!(
            "sha256:{reference} is a multi-platform index, not an image: pin the manifest of one platform (`forge track` picks it by 'architecture' and 'os')"
        )));
    }
    layers(&served.json).map_err(|why| SourceError::new(format!("manifest sha256:{reference}: {why}")))?;
    let failed = |e: std::io::Error| SourceError::new(format!("cannot write to the source cache: {e}"));
    let mut partial = ctx.cache.partial().map_err(failed)?;
    partial.write_all(&served.body).map_err(failed)?;
    match ctx.cache.commit(partial, Some(reference)).map_err(failed)? {
        Ok(_) => {}
        Err(mismatch) => {
            return Err(SourceError::new(format!(
                "the manifest changed while it was stored (sha256 {})",
                mismatch.actual
            )));
        }
    }
    if let Some(servers) = ctx.servers {
        servers.push(ctx.cache, reference, ctx.progress);
    }
    Ok(served.json)
}

/// Whether a layer entry is a whiteout (`.wh.NAME`, `.wh..wh..opq`).
fn whiteout_of(path: &Path) -> Option<PathBuf> {
    let name = path.file_name()?.to_str()?;
    let parent = path.parent().unwrap_or(Path::new(""));
    if name == ".wh..wh..opq" {
        return Some(parent.to_path_buf());
    }
    name.strip_prefix(".wh.").map(|hidden| parent.join(hidden))
}

/// Unpacks one layer over what earlier layers unpacked into `dir`, in one
/// pass: its files are written as they come, then its whiteouts remove
/// what they name of the layers below (never what this layer wrote: a
/// whiteout hides lower layers only, wherever it sits in the layer).
fn unpack_layer(path: &Path, dir: &Path) -> std::io::Result<()> {
    let mut written: std::collections::HashSet<PathBuf> = std::collections::HashSet::new();
    let mut whiteouts: Vec<(PathBuf, bool)> = Vec::new();
    crate::extract::extract_tar_but(crate::extract::open_compressed(path)?, dir, |entry| {
        if let Some(hidden) = whiteout_of(entry) {
            let opaque = entry.file_name().is_some_and(|n| n == ".wh..wh..opq");
            whiteouts.push((hidden, opaque));
            return true;
        }
        if entry.starts_with("dev") {
            return true;
        }
        // The entry and the directories that lead to it are this layer's.
        let mut at = entry.to_path_buf();
        while !at.as_os_str().is_empty() && written.insert(at.clone()) {
            at.pop();
        }
        false
    })?;
    let mine = |path: &Path| written.contains(path);
    for (hidden, opaque) in whiteouts {
        crate::extract::remove_inside(dir, &hidden, opaque, &mine)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whiteouts_name_what_they_hide() {
        assert_eq!(whiteout_of(Path::new("etc/.wh.motd")), Some(PathBuf::from("etc/motd")));
        assert_eq!(whiteout_of(Path::new("var/.wh..wh..opq")), Some(PathBuf::from("var")));
        assert_eq!(whiteout_of(Path::new(".wh..wh..opq")), Some(PathBuf::new()));
        assert_eq!(whiteout_of(Path::new("etc/motd")), None);
    }

    #[test]
    fn registry_urls_split_into_host_and_image() {
        assert_eq!(
            split_url("https://registry.example:5000/library/alpine"),
            Some(("https://registry.example:5000".into(), "library/alpine".into()))
        );
        let located = Located {
            registry: "http://127.0.0.1:9/".into(),
            name: "/team/app".into(),
        };
        assert_eq!(
            located.url("manifests", "latest"),
            "http://127.0.0.1:9/v2/team/app/manifests/latest"
        );
    }
}
