//! Artifacts on a server: the record (canonical JSON) as a blob named by a
//! URN, referring to the tree and the log.

use std::collections::{HashMap, HashSet};

use forge_cas::reapi::{self, Digest};
use forge_cas::{ArtifactRecord, Cas, EntryKind};

use crate::client::{BlobSink, MemorySink, PartialBlob};
use crate::{Remote, RemoteError, Route};

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
/// The most bytes of directories one `GetTree` may send.
const MAX_TREE_SIZE: u64 = 512 << 20;

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
/// files, log, record) to the route's storage, only the blobs it lacks,
/// then names it in the route's index.
pub fn push_artifact(
    route: Route<'_>,
    cas: &Cas,
    project: &str,
    element: &str,
    key: &str,
) -> Result<PushOutcome, RemoteError> {
    let remote = route.storage;
    let record = cas
        .get_artifact(project, element, key)
        .ok_or_else(|| io_err(remote, format!("{project}/{element}/{key} is not in the local cache")))?;
    let record_bytes = Cas::record_bytes(&record);
    let record_digest = Digest::of(&record_bytes);
    let urn = artifact_urn(project, element, key);
    if route.index.resolve(&urn)?.as_ref() == Some(&record_digest) {
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
    let bytes_sent = remote.upload(&missing, &read)? + route.give_index(&record_digest, &read)?;
    let root = Digest {
        hash: record.manifest.clone(),
        size_bytes: record.manifest_size as i64,
    };
    route.index.publish(&urn, &record_digest, &[root], &[log])?;
    Ok(PushOutcome {
        blobs_sent: missing.len(),
        bytes_sent,
        already_there: false,
    })
}

/// Brings the artifact `project/element/key` that the route's index names
/// from its storage into `cas`: every blob is checked against its digest
/// as it arrives, and the artifact is recorded (visible) only once all of
/// it is stored.
pub fn pull_artifact(
    route: Route<'_>,
    cas: &Cas,
    project: &str,
    element: &str,
    key: &str,
) -> Result<PullOutcome, RemoteError> {
    let urn = artifact_urn(project, element, key);
    let Some(record_digest) = route.index.resolve(&urn)? else {
        return Ok(PullOutcome::NotThere);
    };
    let remote = route.storage;
    if record_digest.size_bytes > 64 << 20 {
        return Err(io_err(
            route.index,
            format!(
                "names {urn} by a blob of {} bytes: too large for a record",
                record_digest.size_bytes
            ),
        ));
    }
    let records = MemorySink::default();
    let mut bytes = remote.download(std::slice::from_ref(&record_digest), &records)?;
    let record_bytes = records.take(&record_digest.hash).unwrap_or_default();
    let record: ArtifactRecord = serde_json::from_slice(&record_bytes).map_err(|e| {
        io_err(
            route.index,
            format!("names {urn} by a blob that is not an artifact record: {e}"),
        )
    })?;
    if record.key != key {
        return Err(io_err(
            route.index,
            format!("names {urn} by the record of another key ({})", record.key),
        ));
    }
    reapi::checked_hash(&record.manifest).map_err(|e| io_err(remote, format!("{urn}: {e}")))?;
    reapi::checked_hash(&record.log).map_err(|e| io_err(remote, format!("{urn}: {e}")))?;
    let mut blobs = 1;

    // The tree, one level at a time: directories are small and name the
    // next level. They are held in memory (those the cache has are read)
    // and stored only once the whole tree has been checked.
    let mut tree: HashMap<String, Vec<u8>> = HashMap::new();
    let mut pulled_dirs = Vec::new();
    let arrived = MemorySink::default();
    let root = Digest {
        hash: record.manifest.clone(),
        size_bytes: record.manifest_size as i64,
    };
    // All of a tree the cache lacks in one call where the server can: a
    // directory that came this way is used once its bytes match the
    // digest its parent names (so the root's digest vouches for all); what
    // did not come, or came otherwise encoded, is asked for by digest.
    let mut offered: HashMap<String, Vec<u8>> = HashMap::new();
    if cas.object_size(&root.hash, false).is_none() {
        for bytes in remote.tree(&root, MAX_TREE_SIZE)?.unwrap_or_default() {
            offered.insert(reapi::sha256_hex(&bytes), bytes);
        }
    }
    let mut level = vec![root];
    while !level.is_empty() {
        level.retain(|d| !tree.contains_key(&d.hash));
        level.sort();
        level.dedup();
        let mut wanted = Vec::new();
        for dir in &level {
            if let Some(data) = offered.remove(&dir.hash).filter(|d| d.len() as i64 == dir.size_bytes) {
                bytes += data.len() as u64;
                blobs += 1;
                tree.insert(dir.hash.clone(), data);
                pulled_dirs.push(dir.hash.clone());
                continue;
            }
            match cas.get_blob(&dir.hash) {
                Ok(data) => {
                    tree.insert(dir.hash.clone(), data);
                }
                Err(_) => wanted.push(dir.clone()),
            }
        }
        // A directory of a million entries is some 100 MB; a server that
        // claims more is not believed (directories are held whole).
        if let Some(huge) = wanted.iter().find(|d| d.size_bytes > MAX_DIRECTORY_SIZE) {
            return Err(io_err(
                remote,
                format!(
                    "names a directory of {} bytes in {urn}: too large to be one",
                    huge.size_bytes
                ),
            ));
        }
        bytes += remote.download(&wanted, &arrived)?;
        blobs += wanted.len();
        for dir in wanted {
            let data = arrived
                .take(&dir.hash)
                .ok_or_else(|| io_err(remote, format!("did not send directory {dir}")))?;
            tree.insert(dir.hash.clone(), data);
            pulled_dirs.push(dir.hash);
        }
        let mut next = Vec::new();
        for dir in &level {
            let decoded = <reapi::Directory as prost::Message>::decode(tree[&dir.hash].as_slice())
                .map_err(|e| io_err(remote, format!("sent directory {dir} that does not decode: {e}")))?;
            for child in decoded.directories.into_iter().filter_map(|d| d.digest) {
                reapi::checked_hash(&child.hash).map_err(|e| io_err(remote, e.to_string()))?;
                next.push(child);
            }
        }
        level = next;
    }
    // Checks names and shape of the whole tree before any of it is kept.
    let manifest = reapi::decode_tree(&record.manifest, |hash| {
        tree.get(hash)
            .cloned()
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, format!("directory {hash} is missing")))
    })
    .map_err(|e| io_err(remote, format!("sent an invalid tree for {urn}: {e}")))?;
    for hash in &pulled_dirs {
        cas.put_missing_file(&tree[hash], false, hash)
            .map_err(|e| io_err(remote, format!("cannot store directory {hash}: {e}")))?;
    }

    let files = manifest.entries.iter().filter_map(|entry| match &entry.kind {
        EntryKind::File { digest, size, exec } => Some((digest.as_str(), *size, *exec)),
        _ => None,
    });
    let log = (record.log.as_str(), record.log_size, false);
    let missing = MissingFiles::of(cas, files.chain(std::iter::once(log)));
    bytes += missing.download(remote, cas)?;
    blobs += missing.wanted.len();
    cas.keep_decoded(&record.manifest, &manifest);
    cas.put_artifact(project, element, &record)
        .map_err(|e| io_err(remote, format!("cannot record {urn}: {e}")))?;
    Ok(PullOutcome::Pulled {
        record: Box::new(record),
        blobs,
        bytes,
    })
}

/// The files of a tree the local cache lacks, with the copies each needs.
pub(crate) struct MissingFiles {
    /// One digest per missing blob.
    pub(crate) wanted: Vec<Digest>,
    copies: HashMap<String, Copies>,
}

impl MissingFiles {
    /// Those of `files` (digest, size, executable) that `cas` lacks.
    pub(crate) fn of<'f>(cas: &Cas, files: impl Iterator<Item = (&'f str, u64, bool)>) -> MissingFiles {
        let mut copies: HashMap<String, Copies> = HashMap::new();
        let mut wanted = Vec::new();
        // A file that appears many times (an empty `__init__.py`) is
        // looked for once.
        let mut seen = HashSet::new();
        for (hash, size, exec) in files {
            if !seen.insert((hash, exec)) || cas.object_size(hash, exec).is_some() {
                continue;
            }
            let slot = copies.entry(hash.to_string()).or_insert_with(|| {
                wanted.push(Digest {
                    hash: hash.to_string(),
                    size_bytes: size as i64,
                });
                Copies::default()
            });
            if exec {
                slot.exec = true;
            } else {
                slot.plain = true;
            }
        }
        MissingFiles { wanted, copies }
    }

    /// Brings them from `remote` into `cas`, each checked: the bytes.
    pub(crate) fn download(&self, remote: &Remote, cas: &Cas) -> Result<u64, RemoteError> {
        remote.download(
            &self.wanted,
            &FileSink {
                cas,
                copies: &self.copies,
            },
        )
    }
}

/// The copies of a blob a pull stores: plain, executable or both (each is
/// its own object, so a hardlink carries the right mode).
#[derive(Clone, Copy, Default)]
struct Copies {
    plain: bool,
    exec: bool,
}

impl Copies {
    fn modes(self) -> impl Iterator<Item = bool> {
        [(self.plain, false), (self.exec, true)]
            .into_iter()
            .filter_map(|(wanted, exec)| wanted.then_some(exec))
    }
}

/// Pulled files, into the cache: only blobs found missing are asked for,
/// so they are written without looking again.
struct FileSink<'a> {
    cas: &'a Cas,
    copies: &'a HashMap<String, Copies>,
}

impl FileSink<'_> {
    fn copies(&self, digest: &Digest) -> Copies {
        self.copies.get(&digest.hash).copied().unwrap_or(Copies {
            plain: true,
            exec: false,
        })
    }
}

impl BlobSink for FileSink<'_> {
    fn store(&self, digest: &Digest, bytes: &[u8]) -> Result<(), String> {
        for exec in self.copies(digest).modes() {
            self.cas
                .put_missing_file(bytes, exec, &digest.hash)
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    fn open(&self, digest: &Digest) -> Result<Box<dyn PartialBlob + '_>, String> {
        let writers = self
            .copies(digest)
            .modes()
            .map(|exec| self.cas.object_writer(exec))
            .collect::<std::io::Result<Vec<_>>>()
            .map_err(|e| e.to_string())?;
        Ok(Box::new(PartialObjects {
            writers,
            hash: digest.hash.clone(),
        }))
    }
}

/// A large blob on its way into the cache, as one object per copy.
struct PartialObjects<'c> {
    writers: Vec<forge_cas::ObjectWriter<'c>>,
    hash: String,
}

impl PartialBlob for PartialObjects<'_> {
    fn append(&mut self, bytes: &[u8]) -> Result<(), String> {
        for writer in &mut self.writers {
            writer.write_all(bytes).map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    fn keep(self: Box<Self>) -> Result<(), String> {
        for writer in self.writers {
            writer.commit(&self.hash).map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}
