//! Images: the runtime closure of an element as a deterministic tarball
//! (`tar-image`) or an OCI image layout (`oci-image`). Same inputs, same
//! bytes: entries sorted, owner 0, fixed mtime, gzip without a timestamp.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use forge_cas::StageMode;
use forge_project::{Element, ElementKind, LoadError};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::build::{Assemble, BuildContext, BuildError, config_strings};
use crate::checks::{config_bool, config_list, config_str, no_runtime_deps, no_sources};

/// The mtime of every entry (BuildStream's arbitrary timestamp,
/// 2011-11-11 11:11:11 UTC).
pub const TAR_MTIME: u64 = 1_321_009_871;

/// Writes the tree `dir` as a tar stream: see [`forge_sources::tree_tar`],
/// with every mtime [`TAR_MTIME`].
pub fn write_tar(dir: &Path, out: impl Write) -> std::io::Result<()> {
    forge_sources::tree_tar::write(dir, out, TAR_MTIME)
}

/// gzip with no name and no timestamp, so the bytes depend on the content.
fn gzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes)?;
    encoder.finish()
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Stages the element's build dependencies (with their runtime closure)
/// into a root and runs their integration commands.
fn staged_root(ctx: &mut BuildContext<'_>) -> Result<PathBuf, BuildError> {
    let root = ctx.dir("root")?;
    ctx.stage_deps(&root, StageMode::Copy)?;
    if ctx.has_integration() {
        ctx.integrate(&root)?;
        for dir in ["dev", "proc", "tmp"] {
            let _ = fs::remove_dir(root.join(dir));
        }
    }
    Ok(root)
}

fn check_image(element: &Element) -> Result<(), LoadError> {
    no_sources(element)?;
    no_runtime_deps(element)
}

/// The `tar-image` kind.
pub struct TarImage;

impl ElementKind for TarImage {
    fn name(&self) -> &'static str {
        "tar-image"
    }
    fn defaults(&self) -> &'static str {
        "config:\n  filename: image.tar.gz\n  compress: True\n"
    }
    fn runs_commands(&self, _element: &Element) -> bool {
        true
    }
    fn config_keys(&self) -> &'static [&'static str] {
        &["filename", "compress"]
    }
    fn validate(&self, element: &Element) -> Result<(), LoadError> {
        check_image(element)?;
        config_bool(element, "compress")?;
        let name = config_str(element, "filename")?;
        if name.contains('/') || name.is_empty() {
            return Err(LoadError::at(
                &element.kind_span,
                format!("'filename' must be a file name, not '{name}'"),
            ));
        }
        Ok(())
    }
    fn unique_key(&self, element: &Element) -> Value {
        json!({ "filename": config_str(element, "filename").unwrap_or(""), "compress": crate::build::config_flag(element, "compress", true), "mtime": TAR_MTIME })
    }
}

impl Assemble for TarImage {
    fn assemble(&self, ctx: &mut BuildContext<'_>) -> Result<PathBuf, BuildError> {
        let root = staged_root(ctx)?;
        let mut tar = Vec::new();
        write_tar(&root, &mut tar).map_err(|e| BuildError(format!("cannot write the image: {e}")))?;
        let bytes = if crate::build::config_flag(ctx.element, "compress", true) {
            gzip(&tar).map_err(|e| BuildError(e.to_string()))?
        } else {
            tar
        };
        let output = ctx.dir("output")?;
        let name = config_str(ctx.element, "filename")
            .unwrap_or("image.tar.gz")
            .to_string();
        fs::write(output.join(name), bytes).map_err(|e| BuildError(e.to_string()))?;
        Ok(output)
    }
}

/// The `oci-image` kind.
pub struct OciImage;

impl ElementKind for OciImage {
    fn name(&self) -> &'static str {
        "oci-image"
    }
    fn defaults(&self) -> &'static str {
        "config:\n  entrypoint: []\n  cmd: []\n  env: []\n  workdir: /\n  tag: latest\n  architecture: amd64\n"
    }
    fn runs_commands(&self, _element: &Element) -> bool {
        true
    }
    fn config_keys(&self) -> &'static [&'static str] {
        &["entrypoint", "cmd", "env", "workdir", "tag", "architecture"]
    }
    fn validate(&self, element: &Element) -> Result<(), LoadError> {
        check_image(element)?;
        for list in ["entrypoint", "cmd", "env"] {
            config_list(element, list)?;
        }
        for env in config_list(element, "env")? {
            if !env.contains('=') {
                return Err(LoadError::at(
                    &element.kind_span,
                    format!("'env' entries are NAME=VALUE, not '{env}'"),
                ));
            }
        }
        config_str(element, "workdir")?;
        config_str(element, "tag")?;
        config_str(element, "architecture")?;
        Ok(())
    }
    fn unique_key(&self, element: &Element) -> Value {
        json!({
            "entrypoint": config_strings(element, "entrypoint"),
            "cmd": config_strings(element, "cmd"),
            "env": config_strings(element, "env"),
            "workdir": config_str(element, "workdir").unwrap_or("/"),
            "tag": config_str(element, "tag").unwrap_or("latest"),
            "architecture": config_str(element, "architecture").unwrap_or("amd64"),
            "mtime": TAR_MTIME,
        })
    }
}

impl Assemble for OciImage {
    fn assemble(&self, ctx: &mut BuildContext<'_>) -> Result<PathBuf, BuildError> {
        let root = staged_root(ctx)?;
        let mut tar = Vec::new();
        write_tar(&root, &mut tar).map_err(|e| BuildError(format!("cannot write the layer: {e}")))?;
        let layer = gzip(&tar).map_err(|e| BuildError(e.to_string()))?;
        let element = ctx.element;
        let config = json!({
            "architecture": config_str(element, "architecture").unwrap_or("amd64"),
            "os": "linux",
            "config": {
                "Env": config_strings(element, "env"),
                "Entrypoint": config_strings(element, "entrypoint"),
                "Cmd": config_strings(element, "cmd"),
                "WorkingDir": config_str(element, "workdir").unwrap_or("/"),
            },
            "rootfs": { "type": "layers", "diff_ids": [format!("sha256:{}", sha256_hex(&tar))] },
            "history": [{ "created_by": format!("forge {}: {}", env!("CARGO_PKG_VERSION"), element.name) }],
        });
        let config_bytes = serde_json::to_vec(&config).map_err(|e| BuildError(e.to_string()))?;
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": format!("sha256:{}", sha256_hex(&config_bytes)), "size": config_bytes.len() },
            "layers": [{ "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": format!("sha256:{}", sha256_hex(&layer)), "size": layer.len() }],
        });
        let manifest_bytes = serde_json::to_vec(&manifest).map_err(|e| BuildError(e.to_string()))?;
        let index = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [{
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": format!("sha256:{}", sha256_hex(&manifest_bytes)),
                "size": manifest_bytes.len(),
                "annotations": { "org.opencontainers.image.ref.name": config_str(element, "tag").unwrap_or("latest") },
            }],
        });
        let output = ctx.dir("output")?;
        let blobs = output.join("blobs/sha256");
        fs::create_dir_all(&blobs).map_err(|e| BuildError(e.to_string()))?;
        for bytes in [&layer, &config_bytes, &manifest_bytes] {
            fs::write(blobs.join(sha256_hex(bytes)), bytes).map_err(|e| BuildError(e.to_string()))?;
        }
        fs::write(output.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)
            .map_err(|e| BuildError(e.to_string()))?;
        fs::write(
            output.join("index.json"),
            serde_json::to_vec(&index).map_err(|e| BuildError(e.to_string()))?,
        )
        .map_err(|e| BuildError(e.to_string()))?;
        ctx.log(&format!(
            "# OCI image: layer {} bytes, manifest sha256:{}",
            layer.len(),
            sha256_hex(&manifest_bytes)
        ));
        Ok(output)
    }
}
