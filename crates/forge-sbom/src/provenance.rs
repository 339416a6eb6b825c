//! Build provenance: an in-toto Statement v1 whose SLSA Provenance v1
//! predicate says which artifact a build made (its REAPI root digest),
//! from which pins (every source of the build closure) and by which
//! builder; wrapped in a DSSE envelope signed with an SSH key by OpenSSH
//! itself (`ssh-keygen -Y sign`), and verified against an
//! `allowed_signers` file (`ssh-keygen -Y verify`), offline.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};

use crate::Bom;

/// The DSSE payload type of in-toto statements.
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// The SSH signature namespace: a signature made for forge's provenance
/// is not valid for anything else (git commits, files).
pub const NAMESPACE: &str = "forge-provenance";

/// What a build made, as a statement names it.
pub struct Subject {
    /// `PROJECT/ELEMENT`, or an image's reference.
    pub name: String,
    /// Its SHA-256.
    pub sha256: String,
    /// What the digest is of, and other facts.
    pub annotations: Value,
}

impl Subject {
    /// The artifact: its root REAPI `Directory` (`size` bytes).
    pub fn artifact(name: &str, root: &str, size: u64) -> Subject {
        Subject {
            name: name.to_string(),
            sha256: root.to_string(),
            annotations: json!({ "digestOf": "the root REAPI v2 Directory of the artifact", "sizeBytes": size }),
        }
    }

    /// An OCI image manifest the artifact holds (an image layout), named
    /// `name` (`PROJECT/ELEMENT:TAG`): the digest registries and signers
    /// know an image by.
    pub fn oci_manifest(name: &str, sha256: &str) -> Subject {
        Subject {
            name: name.to_string(),
            sha256: sha256.to_string(),
            annotations: json!({ "digestOf": "an OCI image manifest in the artifact", "mediaType": OCI_MANIFEST }),
        }
    }
}

/// The media type of an OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// The image manifests an OCI image layout's `index.json` names:
/// (reference name or `None`, SHA-256), in its order. Anything else in it
/// is left alone.
pub fn oci_manifests(index_json: &[u8]) -> Vec<(Option<String>, String)> {
    let Ok(index) = serde_json::from_slice::<Value>(index_json) else {
        return Vec::new();
    };
    index["manifests"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["mediaType"] == OCI_MANIFEST)
        .filter_map(|m| {
            let sha256 = m["digest"].as_str()?.strip_prefix("sha256:")?;
            let valid = sha256.len() == 64 && sha256.bytes().all(|b| b.is_ascii_hexdigit());
            valid.then(|| {
                let name = m["annotations"]["org.opencontainers.image.ref.name"]
                    .as_str()
                    .map(str::to_string);
                (name, sha256.to_ascii_lowercase())
            })
        })
        .collect()
}

/// The statement that `bom`'s target was built into `subjects` (the
/// artifact first); `bom` lists the whole build closure.
pub fn statement(bom: &Bom, subjects: &[Subject], forge_version: &str) -> Value {
    let target = &bom.elements[bom.target];
    let mut resolved = Vec::new();
    for element in &bom.elements {
        for source in &element.sources {
            let mut dependency = serde_json::Map::new();
            dependency.insert("name".into(), json!(source.name));
            if let Some(url) = &source.url {
                let uri = if source.commit.is_some() {
                    format!("git+{url}")
                } else {
                    url.clone()
                };
                dependency.insert("uri".into(), json!(uri));
            }
            match (&source.commit, &source.sha256) {
                (Some(commit), _) => {
                    dependency.insert("digest".into(), json!({ "gitCommit": commit }));
                }
                (None, Some(sha256)) => {
                    dependency.insert("digest".into(), json!({ "sha256": sha256 }));
                }
                (None, None) => {}
            }
            if !dependency.contains_key("uri") && !dependency.contains_key("digest") {
                // A local directory: named by its path and content.
                dependency.insert("uri".into(), json!(format!("file:{}", source.name)));
            }
            dependency.insert(
                "annotations".into(),
                json!({ "element": element.name, "kind": source.kind, "version": source.version }),
            );
            resolved.push(serde_json::Value::Object(dependency));
        }
    }
    json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": subjects
            .iter()
            .map(|s| json!({ "name": s.name, "digest": { "sha256": s.sha256 }, "annotations": s.annotations }))
            .collect::<Vec<_>>(),
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {
            "buildDefinition": {
                "buildType": "https://forge.build/provenance/element/v1",
                "externalParameters": { "project": bom.project, "element": target.name },
                "internalParameters": {
                    "cacheKey": target.key,
                    "sandbox": "bubblewrap: no network, no host home, no host environment",
                },
                "resolvedDependencies": resolved,
            },
            "runDetails": {
                "builder": {
                    "id": "https://forge.build/builder/local",
                    "version": { "forge": forge_version },
                },
                "metadata": { "invocationId": target.key },
            },
        },
    })
}

/// DSSE's pre-authentication encoding of `payload`: what is signed.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!("DSSEv1 {} {payload_type} {} ", payload_type.len(), payload.len()).into_bytes();
    out.extend_from_slice(payload);
    out
}

/// Runs `ssh-keygen` with `args`, `input` on its standard input.
fn ssh_keygen(args: &[&std::ffi::OsStr], input: &[u8]) -> Result<Vec<u8>, String> {
    let mut child = Command::new("ssh-keygen")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run ssh-keygen (OpenSSH 8.2 or newer signs and verifies): {e}"))?;
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(input)
        .map_err(|e| format!("ssh-keygen: {e}"))?;
    let out = child.wait_with_output().map_err(|e| format!("ssh-keygen: {e}"))?;
    if out.status.success() {
        Ok(out.stdout)
    } else {
        // ssh-keygen says why on stderr, or only that it failed on stdout.
        let said = [&out.stderr, &out.stdout]
            .into_iter()
            .map(|bytes| String::from_utf8_lossy(bytes).trim().replace('\n', "; "))
            .find(|text| !text.is_empty());
        Err(said.unwrap_or_else(|| "failed".to_string()))
    }
}

/// `statement` in a DSSE envelope signed with the SSH private key at
/// `key`; the signature's key id is the key's SHA-256 fingerprint.
pub fn sign(statement: &Value, key: &Path) -> Result<Value, String> {
    let payload = serde_json::to_vec(statement).map_err(|e| e.to_string())?;
    let armored = ssh_keygen(
        &[
            "-Y".as_ref(),
            "sign".as_ref(),
            "-q".as_ref(),
            "-f".as_ref(),
            key.as_os_str(),
            "-n".as_ref(),
            NAMESPACE.as_ref(),
        ],
        &pae(PAYLOAD_TYPE, &payload),
    )
    .map_err(|e| format!("cannot sign with {}: {e}", key.display()))?;
    let armored = String::from_utf8_lossy(&armored);
    let body: String = armored
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .map(str::trim)
        .collect();
    let fingerprint = ssh_keygen(&["-l".as_ref(), "-f".as_ref(), key.as_os_str()], b"")
        .map_err(|e| format!("cannot read the fingerprint of {}: {e}", key.display()))?;
    let keyid = String::from_utf8_lossy(&fingerprint)
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_string();
    Ok(json!({
        "payloadType": PAYLOAD_TYPE,
        "payload": BASE64.encode(&payload),
        "signatures": [{ "keyid": keyid, "sig": body }],
    }))
}

/// The statement of `envelope` once one of its signatures verifies for
/// `identity` in the `allowed_signers` file; an error says why none does.
pub fn verify(envelope: &Value, allowed_signers: &Path, identity: &str) -> Result<Value, String> {
    if envelope["payloadType"] != PAYLOAD_TYPE {
        return Err(format!(
            "not an in-toto envelope: payloadType is {}",
            envelope["payloadType"]
        ));
    }
    let payload = envelope["payload"]
        .as_str()
        .and_then(|p| BASE64.decode(p).ok())
        .ok_or("the envelope has no base64 payload")?;
    let signatures = envelope["signatures"]
        .as_array()
        .filter(|s| !s.is_empty())
        .ok_or("the envelope is not signed")?;
    let signed = pae(PAYLOAD_TYPE, &payload);
    let mut why = Vec::new();
    for signature in signatures {
        let Some(body) = signature["sig"].as_str() else {
            why.push("a signature without 'sig'".to_string());
            continue;
        };
        let mut armored = String::from("-----BEGIN SSH SIGNATURE-----\n");
        for chunk in body.as_bytes().chunks(70) {
            armored.push_str(&String::from_utf8_lossy(chunk));
            armored.push('\n');
        }
        armored.push_str("-----END SSH SIGNATURE-----\n");
        let file = std::env::temp_dir().join(format!("forge-provenance-{}-{}.sig", std::process::id(), why.len()));
        std::fs::write(&file, armored).map_err(|e| format!("cannot write {}: {e}", file.display()))?;
        let result = ssh_keygen(
            &[
                "-Y".as_ref(),
                "verify".as_ref(),
                "-f".as_ref(),
                allowed_signers.as_os_str(),
                "-I".as_ref(),
                identity.as_ref(),
                "-n".as_ref(),
                NAMESPACE.as_ref(),
                "-s".as_ref(),
                file.as_os_str(),
            ],
            &signed,
        );
        let _ = std::fs::remove_file(&file);
        match result {
            Ok(_) => return serde_json::from_slice(&payload).map_err(|e| format!("the payload is not JSON: {e}")),
            Err(e) => why.push(e),
        }
    }
    Err(format!(
        "no signature verifies for {identity}: {} (the key that signed must be {identity}'s in the allowed_signers file)",
        why.join("; ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_manifests_are_read_from_an_index_and_nothing_else() {
        let digest = "ab".repeat(32);
        let index = json!({ "schemaVersion": 2, "manifests": [
            { "mediaType": OCI_MANIFEST, "digest": format!("sha256:{digest}"),
              "annotations": { "org.opencontainers.image.ref.name": "latest" } },
            { "mediaType": "application/vnd.oci.image.index.v1+json", "digest": format!("sha256:{digest}") },
            { "mediaType": OCI_MANIFEST, "digest": "sha256:../../etc" },
        ]});
        assert_eq!(
            oci_manifests(index.to_string().as_bytes()),
            [(Some("latest".to_string()), digest)]
        );
        assert!(oci_manifests(b"not json").is_empty());
    }

    #[test]
    fn pae_is_as_dsse_writes_it() {
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
    }
}
