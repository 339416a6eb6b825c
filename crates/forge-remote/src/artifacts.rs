//! Artifacts on a server: the record (canonical JSON) as a blob named by a
//! URN, referring to the tree and the log.

use std::collections::HashSet;

use forge_cas::reapi::{self, Digest};
use forge_cas::{ArtifactRecord, Cas, EntryKind};

use crate::{Remote, RemoteError};

/// The URN under which an artifact is named on a server:
/// `urn:fdc:forge.build:2026:artifact:{project}/{element}/{key}` with the
/// element's normal name (its path with `/` as `-`, without `.bst`) and
/// forge's cache key. BuildStream's artifacts live under
/// `urn:fdc:buildstream.build:2020:artifact:…` on the same servers; the
/// keys differ, so the two never collide.
pub fn artifact_urn(project: &str, element: &str, key: &str) -> String {
    format!("urn:fdc:forge.build:2026:artifact:{project}/{element}/{key}")
}

/// The largest `Directory` message a pull accepts.
const MAX_DIRECTORY_SIZE: i64 = 128 << 20;

/// What a push did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PushOutcome {
    /// Blobs the server lacked and was sent.
    pub blobs_sent: usize,
    /// Their bytes.
    pub bytes_sent: u64,
    /// The server already had the artifact under its name.
    pub already_there: bool,
}

/// What a pull did.
#[derive(Clone, Debug, PartialEq)]
pub enum PullOutcome {
    /// The server does not have it.
    NotThere,
    /// Pulled and recorded locally.
    Pulled {
        /// The record now in the local cache.
        record: Box<ArtifactRecord>,
        /// Blobs received.
        blobs: usize,
        /// Their bytes.
        bytes: u64,
    },
}

fn io_err(remote: &Remote, what: String) -> RemoteError {
    RemoteError::new(&remote.spec.url, what)
}

/// Sends the artifact `project/element/key` of `cas` (all of it: tree,
/// files, log, record) to `remote`, only the blobs it lacks, then names it.
pub fn push_artifact(
    remote: &Remote,
    cas: &Cas,
    project: &str,
    element: &str,
    key: &str,
) -> Result<PushOutcome, RemoteError> {
    let record = cas
        .get_artifact(project, element, key)
        .ok_or_else(|| io_err(remote, format!("{project}/{element}/{key} is not in the local cache")))?;
    let record_bytes = Cas::record_bytes(&record);
    let record_digest = Digest::of(&record_bytes);
    let urn = artifact_urn(project, element, key);
    if remote.resolve(&urn)?.as_ref() == Some(&record_digest) {
        return Ok(PushOutcome {
            already_there: true,
            ..Default::default()
        });
    }
    cas.put_blob(&record_bytes)
        .map_err(|e| io_err(remote, format!("cannot store the record: {e}")))?;

    // One walk of the tree gives its files and its directories' digests.
    let mut directories = Vec::new();
    let manifest = reapi::decode_tree(&record.manifest, |hash| {
        let bytes = cas.get_blob(hash)?;
        directories.push(Digest {
            hash: hash.to_string(),
            size_bytes: bytes.len() as i64,
        });
        Ok(bytes)
    })
    .map_err(|e| io_err(remote, format!("cannot read the tree of {element}: {e}")))?;
    // Which local object holds each blob (files may be stored executable).
    let mut exec_only: HashSet<String> = HashSet::new();
    let mut blobs: Vec<Digest> = Vec::new();
    let mut seen = HashSet::new();
    for entry in &manifest.entries {
        if let EntryKind::File { digest, size, exec } = &entry.kind
            && seen.insert(digest.clone())
        {
            if *exec && cas.object_size(digest, false).is_none() {
                exec_only.insert(digest.clone());
            }
            blobs.push(Digest {
                hash: digest.clone(),
                size_bytes: *size as i64,
            });
        }
    }
    let log = Digest {
        hash: record.log.clone(),
        size_bytes: record.log_size as i64,
    };
    for digest in directories.into_iter().chain([log.clone(), record_digest.clone()]) {
        if seen.insert(digest.hash.clone()) {
            blobs.push(digest);
        }
    }

    let missing = remote.find_missing(&blobs)?;
    let read = |d: &Digest| -> std::io::Result<Vec<u8>> {
        std::fs::read(cas.object_path(&d.hash, exec_only.contains(&d.hash)))
    };
    let bytes_sent = remote.upload(&missing, &read)?;
    let root = Digest {
        hash: record.manifest.clone(),
        size_bytes: record.manifest_size as i64,
    };
    remote.publish(&urn, &record_digest, &[root], &[log])?;
    Ok(PushOutcome {
        blobs_sent: missing.len(),
        bytes_sent,
        already_there: false,
    })
}

/// Brings the artifact `project/element/key` from `remote` into `cas`:
/// every blob is checked against its digest as it arrives, and the
/// artifact is recorded (visible) only once all of it is stored.
pub fn pull_artifact(
    remote: &Remote,
    cas: &Cas,
    project: &str,
    element: &str,
    key: &str,
) -> Result<PullOutcome, RemoteError> {
    let urn = artifact_urn(project, element, key);
    let Some(record_digest) = remote.resolve(&urn)? else {
        return Ok(PullOutcome::NotThere);
    };
    if record_digest.size_bytes > 64 << 20 {
        return Err(io_err(
            remote,
            format!(
                "names {urn} by a blob of {} bytes: too large for a record",
                record_digest.size_bytes
            ),
        ));
    }
    let fetched = std::sync::Mutex::new(Vec::new());
    let mut bytes = remote.download(std::slice::from_ref(&record_digest), &|_, data| {
        fetched.lock().unwrap_or_else(|e| e.into_inner()).push(data);
        Ok(())
    })?;
    let record_bytes = fetched.into_inner().unwrap_or_default().pop().unwrap_or_default();
    let record: ArtifactRecord = serde_json::from_slice(&record_bytes).map_err(|e| {
        io_err(
            remote,
            format!("names {urn} by a blob that is not an artifact record: {e}"),
        )
    })?;
    if record.key != key {
        return Err(io_err(
            remote,
            format!("names {urn} by the record of another key ({})", record.key),
        ));
    }
    reapi::checked_hash(&record.manifest).map_err(|e| io_err(remote, format!("{urn}: {e}")))?;
    reapi::checked_hash(&record.log).map_err(|e| io_err(remote, format!("{urn}: {e}")))?;
    let mut blobs = 1;

    // The tree, one level at a time: directories are small and name the
    // next level.
    let mut level = vec![Digest {
        hash: record.manifest.clone(),
        size_bytes: record.manifest_size as i64,
    }];
    let store_dir = |_: &Digest, data: Vec<u8>| cas.put_blob(&data).map(|_| ()).map_err(|e| e.to_string());
    let mut seen_dirs = HashSet::new();
    while !level.is_empty() {
        level.retain(|d| seen_dirs.insert(d.hash.clone()));
        let wanted: Vec<Digest> = level
            .iter()
            .filter(|d| cas.object_size(&d.hash, false).is_none())
            .cloned()
            .collect();
        // A directory of a million entries is some 100 MB; a server that
        // claims more is not believed (blobs are held whole until checked).
        if let Some(huge) = wanted.iter().find(|d| d.size_bytes > MAX_DIRECTORY_SIZE) {
            return Err(io_err(
                remote,
                format!(
                    "names a directory of {} bytes in {urn}: too large to be one",
                    huge.size_bytes
                ),
            ));
        }
        bytes += remote.download(&wanted, &store_dir)?;
        blobs += wanted.len();
        let mut next = Vec::new();
        for dir in &level {
            let data = cas
                .get_blob(&dir.hash)
                .map_err(|e| io_err(remote, format!("cannot read directory {dir}: {e}")))?;
            let decoded = <reapi::Directory as prost::Message>::decode(data.as_slice())
                .map_err(|e| io_err(remote, format!("sent directory {dir} that does not decode: {e}")))?;
            for child in decoded.directories.iter().filter_map(|d| d.digest.clone()) {
                reapi::checked_hash(&child.hash).map_err(|e| io_err(remote, e.to_string()))?;
                next.push(child);
            }
        }
        level = next;
    }
    // Checks names and shape of the whole tree before any file is fetched.
    let manifest = cas
        .get_manifest(&record.manifest)
        .map_err(|e| io_err(remote, format!("sent an invalid tree for {urn}: {e}")))?;

    let mut files: Vec<(Digest, bool)> = Vec::new();
    let mut seen = HashSet::new();
    for entry in &manifest.entries {
        if let EntryKind::File { digest, size, exec } = &entry.kind
            && seen.insert((digest.clone(), *exec))
            && cas.object_size(digest, *exec).is_none()
        {
            files.push((
                Digest {
                    hash: digest.clone(),
                    size_bytes: *size as i64,
                },
                *exec,
            ));
        }
    }
    let log = Digest {
        hash: record.log.clone(),
        size_bytes: record.log_size as i64,
    };
    let mut wanted: Vec<Digest> = files.iter().map(|(d, _)| d.clone()).collect();
    if cas.object_size(&log.hash, false).is_none() {
        wanted.push(log.clone());
    }
    let mut unique = HashSet::new();
    wanted.retain(|d| unique.insert(d.hash.clone()));
    // Which copies each blob needs: plain, executable or both.
    let mut copies: std::collections::HashMap<&str, (bool, bool)> = std::collections::HashMap::new();
    for (digest, exec) in &files {
        let slot = copies.entry(digest.hash.as_str()).or_default();
        if *exec {
            slot.1 = true;
        } else {
            slot.0 = true;
        }
    }
    copies.entry(log.hash.as_str()).or_default().0 = true;
    let store_file = |d: &Digest, data: Vec<u8>| -> Result<(), String> {
        let (plain, exec) = copies.get(d.hash.as_str()).copied().unwrap_or((true, false));
        // Already checked against its digest: not hashed again.
        if plain {
            cas.put_file_as(&data, false, &d.hash).map_err(|e| e.to_string())?;
        }
        if exec {
            cas.put_file_as(&data, true, &d.hash).map_err(|e| e.to_string())?;
        }
        Ok(())
    };
    bytes += remote.download(&wanted, &store_file)?;
    blobs += wanted.len();
    cas.put_artifact(project, element, &record)
        .map_err(|e| io_err(remote, format!("cannot record {urn}: {e}")))?;
    Ok(PullOutcome::Pulled {
        record: Box::new(record),
        blobs,
        bytes,
    })
}
