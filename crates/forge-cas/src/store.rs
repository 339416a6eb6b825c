//! The on-disk store: objects, artifact records, staging, verify, gc.

use std::collections::HashSet;
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::manifest::{Entry, EntryKind, Manifest};
use crate::objects_at::Put;

/// The artifact cache under `<cache-dir>/cas`.
#[derive(Clone, Debug)]
pub struct Cas {
    root: PathBuf,
    shards: std::sync::Arc<crate::objects_at::ShardDirs>,
}

/// What an artifact is: its files and what forge knows about its build.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ArtifactRecord {
    /// The element name.
    pub element: String,
    /// The cache key.
    pub key: String,
    /// Whether the build succeeded (failed builds are recorded too).
    pub success: bool,
    /// SHA-256 of the root `Directory` of the artifact's tree (an empty
    /// tree for failures).
    pub manifest: String,
    /// Its size (with the hash, its REAPI digest).
    #[serde(default)]
    pub manifest_size: u64,
    /// SHA-256 of the build log object.
    pub log: String,
    /// Its size.
    #[serde(default)]
    pub log_size: u64,
    /// The element's public data, for dependents (split rules,
    /// integration commands).
    pub public: Json,
    /// The build dependencies it was built against: `[name, key]`.
    pub dependencies: Vec<(String, String)>,
    /// The forge version that built it.
    pub forge_version: String,
}

/// How to put files into a staging directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StageMode {
    /// Hardlinks to the read-only objects: only for trees mounted
    /// read-only, so nothing can modify the cache through them.
    Hardlink,
    /// Copies.
    Copy,
}

/// See [`Cas::object_writer`].
pub struct ObjectWriter<'c> {
    cas: &'c Cas,
    file: Option<io::BufWriter<fs::File>>,
    temporary: PathBuf,
    exec: bool,
}

impl ObjectWriter<'_> {
    /// Appends bytes.
    pub fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.file.as_mut().expect("written before commit").write_all(bytes)
    }

    /// Stores what was written under `sha256`, which the caller computed
    /// from those bytes (a wrong one is found by `verify`).
    pub fn commit(mut self, sha256: &str) -> io::Result<()> {
        let file = self.file.take().expect("committed once");
        let stored = (|| {
            let digest = crate::reapi::checked_hash(sha256)?;
            let file = file.into_inner().map_err(|e| e.into_error())?;
            let mode = object_mode(self.exec);
            if umask_narrows(mode) {
                file.set_permissions(fs::Permissions::from_mode(mode))?;
            }
            drop(file);
            let object = self.cas.object_path(&digest, self.exec);
            fs::create_dir_all(object.parent().expect("objects have parents"))?;
            fs::rename(&self.temporary, &object)
        })();
        if stored.is_err() {
            let _ = fs::remove_file(&self.temporary);
        }
        stored
    }
}

impl Drop for ObjectWriter<'_> {
    fn drop(&mut self) {
        if self.file.is_some() {
            self.file = None;
            let _ = fs::remove_file(&self.temporary);
        }
    }
}

/// Files written one by one into the store, from any number of threads;
/// [`TreeWriter::finish`] gives the manifest `import_dir` would give for
/// the same tree.
pub struct TreeWriter<'c> {
    cas: &'c Cas,
    entries: std::sync::Mutex<std::collections::BTreeMap<String, EntryKind>>,
}

impl TreeWriter<'_> {
    /// Adds the file at `path` (relative, `/`-separated), and its parent
    /// directories. A path added twice is an `AlreadyExists` error.
    pub fn add_file(&self, path: &str, bytes: &[u8], exec: bool) -> io::Result<()> {
        self.add_file_hashed(path, bytes, exec, None)
    }

    /// [`TreeWriter::add_file`] of bytes whose SHA-256 (lowercase hex) the
    /// caller computed from them (`None`: hash them here).
    pub fn add_file_hashed(&self, path: &str, bytes: &[u8], exec: bool, sha256: Option<&str>) -> io::Result<()> {
        check_tree_path(path)?;
        let digest = match sha256 {
            Some(known) => self.cas.put_file_as(bytes, exec, known)?,
            None => self.cas.put_file(bytes, exec)?,
        };
        self.add_stored(path, digest, bytes.len() as u64, exec)
    }

    /// [`TreeWriter::add_file`] of content too large to hold in memory:
    /// see [`Cas::put_stream`].
    pub fn add_stream<R: Read>(
        &self,
        path: &str,
        content: &mut R,
        exec: bool,
        digest: impl FnOnce(&mut R) -> io::Result<String>,
    ) -> io::Result<()> {
        check_tree_path(path)?;
        let (digest, size) = self.cas.put_stream(content, exec, digest)?;
        self.add_stored(path, digest, size, exec)
    }

    /// Records a stored object at `path` (checked by the caller).
    fn add_stored(&self, path: &str, digest: String, size: u64, exec: bool) -> io::Result<()> {
        let mut entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if entries.contains_key(path) {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{path} is written twice"),
            ));
        }
        let mut parents = Vec::new();
        let mut parent = path;
        while let Some((dir, _)) = parent.rsplit_once('/') {
            match entries.get(dir) {
                Some(EntryKind::Dir) => break,
                Some(_) => {
                    return Err(io::Error::new(
                        io::ErrorKind::AlreadyExists,
                        format!("{dir} is a file, not a directory"),
                    ));
                }
                None => parents.push(dir),
            }
            parent = dir;
        }
        for dir in parents {
            entries.insert(dir.to_string(), EntryKind::Dir);
        }
        entries.insert(path.to_string(), EntryKind::File { digest, size, exec });
        Ok(())
    }

    /// The manifest of what was added.
    pub fn finish(self) -> Manifest {
        Manifest {
            entries: self
                .entries
                .into_inner()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .into_iter()
                .map(|(path, kind)| Entry { path, kind })
                .collect(),
        }
    }
}

/// A path a tree may hold: relative, `/`-separated, no `.` or `..`.
fn check_tree_path(path: &str) -> io::Result<()> {
    if !safe_relative(path) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("'{path}' is not a relative path"),
        ));
    }
    Ok(())
}

/// What `verify` found.
#[derive(Debug, Default)]
pub struct VerifyReport {
    /// Objects checked.
    pub objects: usize,
    /// Objects whose content did not match their name (removed).
    pub corrupt: Vec<String>,
    /// Artifact records dropped because an object they need is gone.
    pub dropped_artifacts: Vec<String>,
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

fn temp_name(dir: &Path) -> PathBuf {
    // getpid is a system call; a build names tens of thousands of these.
    static PID: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    let pid = *PID.get_or_init(std::process::id);
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    dir.join(format!(".tmp-{pid}-{n}"))
}

/// Writes an object through a temporary and a rename, read-only from the
/// start. Objects are never synced one by one (a build stores tens of
/// thousands): `verify` finds one that a crash left corrupt, and records,
/// which name them, are synced.
fn write_object(object: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = object.parent().expect("objects have parents");
    let temporary = temp_name(dir);
    let open = || {
        fs::File::options()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&temporary)
    };
    let mut file = match open() {
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            fs::create_dir_all(dir)?;
            open()?
        }
        other => other?,
    };
    file.write_all(bytes)?;
    // The umask may have taken bits away.
    if umask_narrows(mode) {
        file.set_permissions(fs::Permissions::from_mode(mode))?;
    }
    drop(file);
    fs::rename(&temporary, object)
}

/// The mode of an object: read-only, executable or not.
fn object_mode(exec: bool) -> u32 {
    if exec { 0o555 } else { 0o444 }
}

/// Whether the process umask clears any of `mode`'s bits. Read once from
/// /proc (setting it to read it would race with other threads); where it
/// cannot be read, assume it does.
pub(crate) fn umask_narrows(mode: u32) -> bool {
    static UMASK: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    let umask = *UMASK.get_or_init(|| {
        fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|status| {
                let line = status.lines().find(|l| l.starts_with("Umask:"))?;
                u32::from_str_radix(line["Umask:".len()..].trim(), 8).ok()
            })
            .unwrap_or(0o777)
    });
    umask & mode != 0
}

/// Writes `bytes` to `path` through a temporary file and a rename,
/// waiting for the disk before the rename.
fn write_atomically(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    write_through_temporary(path, bytes, mode, true)
}

/// [`write_atomically`] without waiting for the disk, for what can be
/// told apart from a file torn by a crash and made again.
fn write_replacing(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    write_through_temporary(path, bytes, mode, false)
}

/// Writes `bytes` with `mode` to a temporary file beside `path` (synced
/// when `durable`), then renames it over `path`; a failure leaves no
/// temporary behind.
fn write_through_temporary(path: &Path, bytes: &[u8], mode: u32, durable: bool) -> io::Result<()> {
    let dir = path.parent().expect("paths in the cache have parents");
    fs::create_dir_all(dir)?;
    let temporary = temp_name(dir);
    let written = (|| {
        let mut file = fs::File::create(&temporary)?;
        file.write_all(bytes)?;
        if durable {
            file.sync_all()?;
        }
        drop(file);
        fs::set_permissions(&temporary, fs::Permissions::from_mode(mode))?;
        fs::rename(&temporary, path)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    written
}

/// Sets an existing object's mtime to now, as if just stored: `gc` spares
/// recent objects while builds run, and a build may be about to name this
/// one in a new artifact.
fn mark_used(object: &Path) {
    if let Ok(file) = fs::File::open(object) {
        let _ = file.set_modified(std::time::SystemTime::now());
    }
}

/// The layout of `cas/`, written to `cas/format`: a cache without it, or
/// with another, is from an older forge and is cleared on open.
pub const FORMAT: &str = "forge-cas 2: objects by sha256, trees as REAPI Directory messages\n";

/// SHA-256 of a file's content.
fn digest_file(path: &Path) -> io::Result<String> {
    use sha2::Digest as _;
    let mut hasher = sha2::Sha256::new();
    let mut file = fs::File::open(path)?;
    // Most artifact files are small: size the buffer to the file (a large
    // zeroed buffer per file costs more than hashing it).
    let size = file.metadata().map(|m| m.len() as usize).unwrap_or(0);
    let mut buffer = Vec::with_capacity(size.min(1 << 20) + 1);
    loop {
        buffer.clear();
        let n = (&mut file).take(1 << 20).read_to_end(&mut buffer)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer);
    }
    Ok(crate::reapi::hex(&hasher.finalize()))
}

/// A name that is safe as one path component of the refs tree.
fn safe_component(text: &str) -> bool {
    !text.is_empty() && text != "." && text != ".." && !text.contains('/') && !text.contains('\0')
}

impl Cas {
    /// The cache in `cache_dir`.
    pub fn new(cache_dir: &Path) -> Cas {
        let root = cache_dir.join("cas");
        Cas {
            shards: std::sync::Arc::new(crate::objects_at::ShardDirs::new(root.join("objects"))),
            root,
        }
    }

    /// The root of the store.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Makes sure the store has this forge's layout: a store from an older
    /// forge (objects by another hash) is moved aside and removed, never
    /// misread. Returns a notice when it did so.
    pub fn ensure_format(&self) -> io::Result<Option<String>> {
        let marker = self.root.join("format");
        match fs::read_to_string(&marker) {
            Ok(text) if text == FORMAT => return Ok(None),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let had_content = fs::read_dir(&self.root).is_ok_and(|mut d| d.next().is_some());
        if had_content {
            let old = self.root.with_extension(format!("old-{}", std::process::id()));
            fs::rename(&self.root, &old)?;
            fs::remove_dir_all(&old)?;
        }
        fs::create_dir_all(&self.root)?;
        write_atomically(&marker, FORMAT.as_bytes(), 0o644)?;
        Ok(had_content.then(|| {
            format!(
                "the artifact cache {} was in an older format and has been cleared",
                self.root.display()
            )
        }))
    }

    /// Where the object with `digest` lives (executable objects apart, so
    /// a hardlink carries the right mode).
    pub fn object_path(&self, digest: &str, exec: bool) -> PathBuf {
        let name = if exec {
            format!("{}.x", &digest[2..])
        } else {
            digest[2..].to_string()
        };
        self.root.join("objects").join(&digest[..2]).join(name)
    }

    /// A fresh directory for temporary work on the same filesystem.
    pub fn temp_dir(&self, label: &str) -> io::Result<PathBuf> {
        let base = self.root.join("tmp");
        fs::create_dir_all(&base)?;
        let dir = temp_name(&base).with_extension(label);
        fs::create_dir(&dir)?;
        Ok(dir)
    }

    /// Stores bytes (a log, a manifest) and returns their digest.
    pub fn put_blob(&self, bytes: &[u8]) -> io::Result<String> {
        let digest = crate::reapi::sha256_hex(bytes);
        self.store_object(&digest, false, bytes, true)?;
        Ok(digest)
    }

    /// Stores the content of a file as an object (read-only, executable
    /// or not) and returns its digest. Written through a temporary and a
    /// rename, as files moved in by `import_dir` are: never synced one by
    /// one, and `verify` finds an object that a crash left corrupt.
    pub fn put_file(&self, bytes: &[u8], exec: bool) -> io::Result<String> {
        self.put_file_as(bytes, exec, &crate::reapi::sha256_hex(bytes))
    }

    /// [`Cas::put_file`] of bytes whose SHA-256 the caller computed from
    /// them (a wrong one is found by `verify`).
    pub fn put_file_as(&self, bytes: &[u8], exec: bool, sha256: &str) -> io::Result<String> {
        let digest = crate::reapi::checked_hash(sha256)?;
        self.store_object(&digest, exec, bytes, true)?;
        Ok(digest)
    }

    /// Stores `bytes` as object `digest` (checked); `look_first`: one
    /// already there is kept (and marked used) rather than written again.
    fn store_object(&self, digest: &str, exec: bool, bytes: &[u8], look_first: bool) -> io::Result<()> {
        let mode = object_mode(exec);
        match self.shards.put(digest, exec, bytes, mode, look_first)? {
            Put::Stored | Put::Present => Ok(()),
            Put::Unavailable => {
                let object = self.object_path(digest, exec);
                if look_first && object.exists() {
                    mark_used(&object);
                    return Ok(());
                }
                write_object(&object, bytes, mode)
            }
        }
    }

    /// [`Cas::put_file_as`] for a caller that has just found the object
    /// missing (a pull): written without looking again. Should another
    /// process have stored it meanwhile, the copy already there is kept.
    pub fn put_missing_file(&self, bytes: &[u8], exec: bool, sha256: &str) -> io::Result<()> {
        let digest = crate::reapi::checked_hash(sha256)?;
        self.store_object(&digest, exec, bytes, false)
    }

    /// An object written piece by piece (a blob arriving in chunks), held
    /// under a temporary name until [`ObjectWriter::commit`] names it; one
    /// dropped uncommitted leaves nothing behind.
    pub fn object_writer(&self, exec: bool) -> io::Result<ObjectWriter<'_>> {
        use std::os::unix::fs::OpenOptionsExt;
        let dir = self.root.join("tmp");
        fs::create_dir_all(&dir)?;
        let temporary = temp_name(&dir);
        let mode = object_mode(exec);
        let file = fs::File::options()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&temporary)?;
        Ok(ObjectWriter {
            cas: self,
            file: Some(io::BufWriter::with_capacity(256 << 10, file)),
            temporary,
            exec,
        })
    }

    /// Stores content read from `content` to its end, for files too large
    /// to hold in memory. Once it is read, `digest(content)` gives its
    /// SHA-256 (the reader computed it while reading, so the content is
    /// hashed once) or refuses it: then nothing is stored. Returns the
    /// digest and size.
    pub fn put_stream<R: Read>(
        &self,
        content: &mut R,
        exec: bool,
        digest: impl FnOnce(&mut R) -> io::Result<String>,
    ) -> io::Result<(String, u64)> {
        use std::os::unix::fs::OpenOptionsExt;
        let dir = self.root.join("tmp");
        fs::create_dir_all(&dir)?;
        let temporary = temp_name(&dir);
        let mode = object_mode(exec);
        let stored = (|| {
            let mut file = fs::File::options()
                .write(true)
                .create_new(true)
                .mode(mode)
                .open(&temporary)?;
            // Large reads and writes: the content is large by definition.
            let size = io::copy(&mut io::BufReader::with_capacity(256 << 10, &mut *content), &mut file)?;
            if umask_narrows(mode) {
                file.set_permissions(fs::Permissions::from_mode(mode))?;
            }
            drop(file);
            let digest = crate::reapi::checked_hash(&digest(content)?)?;
            let object = self.object_path(&digest, exec);
            if object.exists() {
                mark_used(&object);
                fs::remove_file(&temporary)?;
            } else {
                fs::create_dir_all(object.parent().expect("objects have parents"))?;
                fs::rename(&temporary, &object)?;
            }
            Ok((digest, size))
        })();
        if stored.is_err() {
            let _ = fs::remove_file(&temporary);
        }
        stored
    }

    /// A tree built file by file straight into the store, with no
    /// directory to import: see [`TreeWriter`].
    pub fn tree_writer(&self) -> TreeWriter<'_> {
        TreeWriter {
            cas: self,
            entries: std::sync::Mutex::new(std::collections::BTreeMap::new()),
        }
    }

    /// Reads a stored blob.
    pub fn get_blob(&self, digest: &str) -> io::Result<Vec<u8>> {
        if digest.len() < 3 {
            return Err(io::Error::new(io::ErrorKind::NotFound, "no such object"));
        }
        fs::read(self.object_path(digest, false))
    }

    /// Moves the contents of `dir` into the store (files are renamed into
    /// place, so `dir` is consumed) and returns its manifest. Files are
    /// hashed on every core.
    pub fn import_dir(&self, dir: &Path) -> io::Result<Manifest> {
        manifest_of(dir, |full, exec| self.store_file(full, exec))
    }

    /// Moves one file into the store under its digest; returns the digest.
    fn store_file(&self, full: &Path, exec: bool) -> io::Result<String> {
        let digest = digest_file(full)?;
        let object = self.object_path(&digest, exec);
        if object.exists() {
            mark_used(&object);
            fs::remove_file(full)?;
        } else {
            let parent = object.parent().expect("objects have parents");
            if !parent.is_dir() {
                fs::create_dir_all(parent)?;
            }
            fs::set_permissions(full, fs::Permissions::from_mode(object_mode(exec)))?;
            if fs::rename(full, &object).is_err() {
                // Another filesystem: copy through a temporary.
                let bytes = fs::read(full)?;
                write_atomically(&object, &bytes, object_mode(exec))?;
            }
        }
        Ok(digest)
    }

    /// Stores a manifest as `Directory` messages and returns the SHA-256
    /// of the root one.
    pub fn put_manifest(&self, manifest: &Manifest) -> io::Result<String> {
        let (root, blobs) = crate::reapi::encode_tree(manifest);
        for (_, bytes) in blobs {
            self.put_blob(&bytes)?;
        }
        Ok(root.hash)
    }

    /// Reads a manifest from its root `Directory`.
    pub fn get_manifest(&self, digest: &str) -> io::Result<Manifest> {
        // A tree of thousands of directories is read once: what it decodes
        // to is kept by its digest (staging a closure read 10,000 directory
        // blobs each time). What is read back is checked for safe paths.
        let kept = self.root.join("manifests").join(crate::reapi::checked_hash(digest)?);
        if let Ok(bytes) = fs::read(kept)
            && let Some(manifest) = Manifest::decode(&bytes)
            && manifest.entries.iter().all(|e| safe_relative(&e.path))
        {
            return Ok(manifest);
        }
        let manifest = crate::reapi::decode_tree(digest, |hash| self.get_blob(hash))?;
        self.keep_decoded(digest, &manifest);
        Ok(manifest)
    }

    /// Keeps `manifest`, the tree under the root `Directory` `digest` as
    /// the caller decoded it, for [`Cas::get_manifest`] (a pull has just
    /// decoded and checked the tree: the checkout after it need not read
    /// its directories again). Only saves reads, so a failure is ignored.
    pub fn keep_decoded(&self, digest: &str, manifest: &Manifest) {
        if let (Ok(digest), Some(bytes)) = (crate::reapi::checked_hash(digest), manifest.encode()) {
            let _ = write_replacing(&self.root.join("manifests").join(digest), &bytes, 0o444);
        }
    }

    /// The digests of the `Directory` messages of a stored tree, the root's
    /// first.
    pub fn tree_directories(&self, root: &str) -> io::Result<Vec<crate::reapi::Digest>> {
        use prost::Message as _;
        let mut out = Vec::new();
        let mut pending = vec![root.to_string()];
        let mut seen = HashSet::new();
        while let Some(hash) = pending.pop() {
            if !seen.insert(hash.clone()) {
                continue;
            }
            let bytes = self.get_blob(&hash)?;
            let dir = crate::reapi::Directory::decode(bytes.as_slice())
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("directory {hash}: {e}")))?;
            for child in dir.directories.iter().filter_map(|d| d.digest.as_ref()) {
                pending.push(crate::reapi::checked_hash(&child.hash)?);
            }
            out.push(crate::reapi::Digest {
                hash,
                size_bytes: bytes.len() as i64,
            });
        }
        Ok(out)
    }

    /// The size of a stored object, if present.
    pub fn object_size(&self, digest: &str, exec: bool) -> Option<u64> {
        if digest.len() <= 2 {
            return None;
        }
        // Relative to the open shard: a pull asks this of every file.
        self.shards
            .size(digest, exec)
            .unwrap_or_else(|| fs::metadata(self.object_path(digest, exec)).ok().map(|m| m.len()))
    }

    /// Writes the files of `manifest` under `target`. Returns the paths
    /// that replaced an existing file (overlaps).
    pub fn stage(&self, manifest: &Manifest, target: &Path, mode: StageMode) -> io::Result<Vec<String>> {
        self.stage_keeping(manifest, target, mode, crate::stage_at::open_limit())
    }

    /// `stage`, keeping up to `open_limit` directories open.
    fn stage_keeping(
        &self,
        manifest: &Manifest,
        target: &Path,
        mode: StageMode,
        open_limit: usize,
    ) -> io::Result<Vec<String>> {
        let mut overlaps = Vec::new();
        // Hardlinks are made relative to open directories where that
        // works (see stage_at): directories as they come, files in batches
        // once their directories are open; the path-based code does the
        // rest, files last (their directories exist by then).
        let mut at = match mode {
            StageMode::Hardlink => crate::stage_at::AtStager::new(&self.shards, target, open_limit).ok(),
            StageMode::Copy => None,
        };
        let mut waiting: Vec<&Entry> = Vec::new();
        let mut by_path: Vec<&Entry> = Vec::new();
        for entry in &manifest.entries {
            if let Some(at) = at.as_mut() {
                match &entry.kind {
                    EntryKind::File { .. } => {
                        waiting.push(entry);
                        continue;
                    }
                    EntryKind::Dir => {
                        if at.is_full() {
                            by_path.extend(at.link_all(&waiting));
                            waiting.clear();
                        }
                        if at.dir(&entry.path) {
                            continue;
                        }
                    }
                    EntryKind::Symlink { .. } => {}
                }
            }
            self.stage_by_path(entry, target, mode, at.as_mut(), &mut overlaps)?;
        }
        if let Some(at) = at.as_ref() {
            by_path.extend(at.link_all(&waiting));
        }
        for entry in by_path {
            self.stage_by_path(entry, target, mode, None, &mut overlaps)?;
        }
        Ok(overlaps)
    }

    /// Stages one entry by its whole path, replacing what is in the way.
    fn stage_by_path(
        &self,
        entry: &Entry,
        target: &Path,
        mode: StageMode,
        at: Option<&mut crate::stage_at::AtStager>,
        overlaps: &mut Vec<String>,
    ) -> io::Result<()> {
        let path = target.join(&entry.path);
        match &entry.kind {
            // Made first and looked at only when in the way: a checkout
            // into an empty directory never has anything in the way.
            EntryKind::Dir => {
                match fs::create_dir(&path) {
                    Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {
                        if !fs::symlink_metadata(&path)?.is_dir() {
                            fs::remove_file(&path)?;
                            fs::create_dir(&path)?;
                        }
                    }
                    Err(err) if err.kind() == io::ErrorKind::NotFound => fs::create_dir_all(&path)?,
                    other => other?,
                }
                if let Some(at) = at {
                    at.opened(target, &entry.path);
                }
            }
            EntryKind::File { digest, exec, .. } => {
                let object = self.object_path(digest, *exec);
                if mode == StageMode::Hardlink {
                    match fs::hard_link(&object, &path) {
                        Ok(()) => return Ok(()),
                        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {
                            remove_existing(&path)?;
                            overlaps.push(entry.path.clone());
                            if fs::hard_link(&object, &path).is_ok() {
                                return Ok(());
                            }
                        }
                        // Another filesystem, say: copied.
                        Err(_) => {}
                    }
                }
                if remove_existing(&path)? {
                    overlaps.push(entry.path.clone());
                }
                fs::copy(&object, &path)?;
                fs::set_permissions(&path, fs::Permissions::from_mode(if *exec { 0o755 } else { 0o644 }))?;
            }
            EntryKind::Symlink { target: link } => {
                if remove_existing(&path)? {
                    overlaps.push(entry.path.clone());
                }
                std::os::unix::fs::symlink(link, &path)?;
            }
        }
        Ok(())
    }

    fn ref_path(&self, project: &str, element: &str, key: &str) -> Option<PathBuf> {
        (safe_component(project) && safe_component(element) && safe_component(key))
            .then(|| self.root.join("refs").join(project).join(element).join(key))
    }

    /// Records an artifact under `project/element/key` (element: the
    /// normal name).
    pub fn put_artifact(&self, project: &str, element: &str, record: &ArtifactRecord) -> io::Result<()> {
        let path = self
            .ref_path(project, element, &record.key)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "invalid artifact name"))?;
        let mut record = record.clone();
        if record.manifest_size == 0 {
            record.manifest_size = self.object_size(&record.manifest, false).unwrap_or(0);
        }
        if record.log_size == 0 {
            record.log_size = self.object_size(&record.log, false).unwrap_or(0);
        }
        let bytes = serde_json::to_vec_pretty(&record).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        write_atomically(&path, &bytes, 0o644)
    }

    /// The bytes of an artifact record as it is stored and exchanged with
    /// remote caches (canonical JSON).
    pub fn record_bytes(record: &ArtifactRecord) -> Vec<u8> {
        serde_json::to_vec(record).expect("records serialise")
    }

    /// The artifact recorded under `project/element/key`, if any and if
    /// every object it needs is present.
    pub fn get_artifact(&self, project: &str, element: &str, key: &str) -> Option<ArtifactRecord> {
        let path = self.ref_path(project, element, key)?;
        let bytes = fs::read(&path).ok()?;
        let record: ArtifactRecord = serde_json::from_slice(&bytes).ok()?;
        self.object_path(&record.manifest, false).exists().then_some(record)
    }

    /// Removes an artifact record (its objects stay until `gc`).
    pub fn delete_artifact(&self, project: &str, element: &str, key: &str) -> io::Result<bool> {
        match self.ref_path(project, element, key) {
            Some(path) if path.exists() => fs::remove_file(path).map(|_| true),
            _ => Ok(false),
        }
    }

    /// Every recorded artifact as `(project, element, key)`.
    pub fn list_artifacts(&self) -> Vec<(String, String, String)> {
        let mut out = Vec::new();
        let refs = self.root.join("refs");
        for project in read_names(&refs) {
            for element in read_names(&refs.join(&project)) {
                for key in read_names(&refs.join(&project).join(&element)) {
                    if !key.starts_with(".tmp") {
                        out.push((project.clone(), element.clone(), key));
                    }
                }
            }
        }
        out.sort();
        out
    }

    fn record_at(&self, project: &str, element: &str, key: &str) -> Option<ArtifactRecord> {
        let bytes = fs::read(self.ref_path(project, element, key)?).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Re-hashes every object, removes those that do not match their
    /// name, and drops artifact records that need a missing object.
    pub fn verify(&self) -> io::Result<VerifyReport> {
        let mut report = VerifyReport::default();
        let objects = self.root.join("objects");
        for prefix in read_names(&objects) {
            for name in read_names(&objects.join(&prefix)) {
                if name.starts_with(".tmp") {
                    let _ = fs::remove_file(objects.join(&prefix).join(&name));
                    continue;
                }
                report.objects += 1;
                let path = objects.join(&prefix).join(&name);
                let expected = format!("{prefix}{}", name.trim_end_matches(".x"));
                if digest_file(&path).ok().as_deref() != Some(expected.as_str()) {
                    fs::remove_file(&path)?;
                    report.corrupt.push(expected);
                }
            }
        }
        for (project, element, key) in self.list_artifacts() {
            let Some(record) = self.record_at(&project, &element, &key) else {
                self.delete_artifact(&project, &element, &key)?;
                report.dropped_artifacts.push(format!("{project}/{element}/{key}"));
                continue;
            };
            if !self.artifact_complete(&record) {
                self.delete_artifact(&project, &element, &key)?;
                report.dropped_artifacts.push(format!("{project}/{element}/{key}"));
            }
        }
        Ok(report)
    }

    /// Whether every object of an artifact is present.
    fn artifact_complete(&self, record: &ArtifactRecord) -> bool {
        if !self.object_path(&record.log, false).exists() {
            return false;
        }
        match self.get_manifest(&record.manifest) {
            Ok(manifest) => manifest.entries.iter().all(|e| match &e.kind {
                EntryKind::File { digest, exec, .. } => self.object_path(digest, *exec).exists(),
                _ => true,
            }),
            Err(_) => false,
        }
    }

    /// Removes least recently used artifacts until the objects take at most
    /// `keep` bytes, never those in `protected` (`project/element/key`), then
    /// every object no remaining artifact needs, except those modified after
    /// `spare_newer_than` (set while builds run: their new objects are
    /// stored before the artifact that needs them). Returns bytes freed.
    pub fn gc(
        &self,
        keep: u64,
        protected: &HashSet<String>,
        spare_newer_than: Option<std::time::SystemTime>,
    ) -> io::Result<u64> {
        let mut artifacts: Vec<(std::time::SystemTime, String, String, String)> = self
            .list_artifacts()
            .into_iter()
            .filter_map(|(p, e, k)| {
                let used = fs::metadata(self.ref_path(&p, &e, &k)?)
                    .and_then(|m| m.accessed().or(m.modified()))
                    .ok()?;
                Some((used, p, e, k))
            })
            .collect();
        artifacts.sort();
        // Decoded trees are kept only to save reads: they go, and come back
        // when next needed.
        let _ = fs::remove_dir_all(self.root.join("manifests"));
        let before = self.objects_size();
        // Objects no artifact needs (deleted artifacts, failed builds) go
        // first; then artifacts, least recently used first.
        let mut total = self.sweep(spare_newer_than)?;
        for (_, project, element, key) in artifacts {
            if total <= keep {
                break;
            }
            if protected.contains(&format!("{project}/{element}/{key}")) {
                continue;
            }
            self.delete_artifact(&project, &element, &key)?;
            total = self.sweep(spare_newer_than)?;
        }
        Ok(before.saturating_sub(total))
    }

    fn objects_size(&self) -> u64 {
        let objects = self.root.join("objects");
        let mut total = 0;
        for prefix in read_names(&objects) {
            for name in read_names(&objects.join(&prefix)) {
                total += fs::metadata(objects.join(&prefix).join(name))
                    .map(|m| m.len())
                    .unwrap_or(0);
            }
        }
        total
    }

    /// Removes objects no artifact refers to; returns the size left.
    /// Removes the objects no artifact needs (but those modified after
    /// `spare_newer_than`); returns the size of the objects left.
    fn sweep(&self, spare_newer_than: Option<std::time::SystemTime>) -> io::Result<u64> {
        let mut live: HashSet<PathBuf> = HashSet::new();
        for (project, element, key) in self.list_artifacts() {
            let Some(record) = self.record_at(&project, &element, &key) else {
                continue;
            };
            live.insert(self.object_path(&record.log, false));
            for dir in self.tree_directories(&record.manifest).unwrap_or_default() {
                live.insert(self.object_path(&dir.hash, false));
            }
            if let Ok(manifest) = self.get_manifest(&record.manifest) {
                for entry in manifest.entries {
                    if let EntryKind::File { digest, exec, .. } = entry.kind {
                        live.insert(self.object_path(&digest, exec));
                    }
                }
            }
        }
        let objects = self.root.join("objects");
        let mut left = 0;
        for prefix in read_names(&objects) {
            for name in read_names(&objects.join(&prefix)) {
                let path = objects.join(&prefix).join(&name);
                let meta = fs::symlink_metadata(&path);
                let spared = spare_newer_than.is_some_and(|since| {
                    meta.as_ref()
                        .ok()
                        .and_then(|m| m.modified().ok())
                        .is_none_or(|modified| modified > since)
                });
                if live.contains(&path) || spared {
                    left += meta.map(|m| m.len()).unwrap_or(0);
                } else {
                    let _ = fs::remove_file(&path);
                }
            }
        }
        Ok(left)
    }
}

/// A relative path of names, none of them empty, `.` or `..`.
fn safe_relative(path: &str) -> bool {
    !path.contains('\0')
        && path
            .split('/')
            .all(|name| !name.is_empty() && name != "." && name != "..")
}

fn remove_existing(path: &Path) -> io::Result<bool> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => {
            fs::remove_dir_all(path)?;
            Ok(true)
        }
        Ok(_) => {
            fs::remove_file(path)?;
            Ok(true)
        }
        Err(_) => Ok(false),
    }
}

fn read_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.file_name().to_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// The manifest of the tree at `dir`, each file's digest given by
/// `file_digest` (path, executable), asked on several threads.
fn manifest_of(dir: &Path, file_digest: impl Fn(&Path, bool) -> io::Result<String> + Sync) -> io::Result<Manifest> {
    let mut entries = Vec::new();
    let mut files: Vec<(usize, PathBuf, bool, u64)> = Vec::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(relative) = pending.pop() {
        for entry in fs::read_dir(dir.join(&relative))? {
            let entry = entry?;
            let rel = relative.join(entry.file_name());
            let path_text = rel
                .to_str()
                .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, format!("{} is not UTF-8", rel.display())))?;
            let full = entry.path();
            let meta = fs::symlink_metadata(&full)?;
            let kind = if meta.is_dir() {
                pending.push(rel.clone());
                EntryKind::Dir
            } else if meta.file_type().is_symlink() {
                let target = fs::read_link(&full)?;
                EntryKind::Symlink {
                    target: target.to_string_lossy().into_owned(),
                }
            } else if meta.is_file() {
                let exec = meta.permissions().mode() & 0o100 != 0;
                files.push((entries.len(), full, exec, meta.len()));
                EntryKind::File {
                    digest: String::new(),
                    size: meta.len(),
                    exec,
                }
            } else {
                // Sockets, FIFOs, devices: artifacts hold none.
                continue;
            };
            entries.push(Entry {
                path: path_text.to_string(),
                kind,
            });
        }
    }
    let workers = if files.len() > 64 {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .min(8)
    } else {
        1
    };
    let stored: Vec<io::Result<Vec<(usize, String)>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|worker| {
                let (files, file_digest) = (&files, &file_digest);
                scope.spawn(move || {
                    files
                        .iter()
                        .skip(worker)
                        .step_by(workers)
                        .map(|(index, full, exec, _)| file_digest(full, *exec).map(|digest| (*index, digest)))
                        .collect::<io::Result<Vec<_>>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(io::Error::other("a hashing thread panicked")))
            })
            .collect()
    });
    for batch in stored {
        for (index, digest) in batch? {
            if let EntryKind::File { digest: slot, .. } = &mut entries[index].kind {
                *slot = digest;
            }
        }
    }
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(Manifest { entries })
}

/// The manifest of the tree at `dir`, its files hashed, nothing stored:
/// what a checkout holds, to compare with an artifact's digest.
pub fn describe_dir(dir: &Path) -> io::Result<Manifest> {
    manifest_of(dir, |full, _| digest_file(full))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(dir: &Path) {
        fs::create_dir_all(dir.join("usr/bin")).unwrap();
        fs::write(dir.join("usr/bin/tool"), "#!/bin/sh\n").unwrap();
        fs::set_permissions(dir.join("usr/bin/tool"), fs::Permissions::from_mode(0o755)).unwrap();
        fs::write(dir.join("usr/data"), "data").unwrap();
        std::os::unix::fs::symlink("bin/tool", dir.join("usr/link")).unwrap();
    }

    fn record(cas: &Cas, manifest: &Manifest, key: &str) -> ArtifactRecord {
        ArtifactRecord {
            element: "e.bst".into(),
            key: key.into(),
            success: true,
            manifest: cas.put_manifest(manifest).unwrap(),
            log: cas.put_blob(b"log").unwrap(),
            log_size: 0,
            manifest_size: 0,
            public: Json::Null,
            dependencies: Vec::new(),
            forge_version: "test".into(),
        }
    }

    #[test]
    fn import_stage_round_trip_without_times_or_owners() {
        let dir = tempfile::tempdir().unwrap();
        let cas = Cas::new(&dir.path().join("cache"));
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        tree(&a);
        tree(&b);
        let ma = cas.import_dir(&a).unwrap();
        let mb = cas.import_dir(&b).unwrap();
        assert_eq!(ma, mb, "same content, same manifest");
        assert_eq!(
            ma.entries.iter().map(|e| e.path.as_str()).collect::<Vec<_>>(),
            ["usr", "usr/bin", "usr/bin/tool", "usr/data", "usr/link"]
        );
        let out = dir.path().join("out");
        fs::create_dir(&out).unwrap();
        cas.stage(&ma, &out, StageMode::Copy).unwrap();
        assert_eq!(fs::read_to_string(out.join("usr/data")).unwrap(), "data");
        assert_eq!(
            fs::metadata(out.join("usr/bin/tool")).unwrap().permissions().mode() & 0o777,
            0o755
        );
        assert_eq!(fs::read_link(out.join("usr/link")).unwrap(), Path::new("bin/tool"));
        // Copies are not the objects: writing them leaves the cache alone.
        fs::write(out.join("usr/data"), "changed").unwrap();
        let report = cas.verify().unwrap();
        assert!(report.corrupt.is_empty());
    }

    #[test]
    fn streamed_objects_are_stored_only_once_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let cas = Cas::new(&dir.path().join("cache"));
        let content = b"streamed content".to_vec();
        let sha = crate::reapi::sha256_hex(&content);
        let tree = cas.tree_writer();
        let mut reader = &content[..];
        tree.add_stream("big", &mut reader, true, |_| Ok(sha.clone())).unwrap();
        assert_eq!(fs::read(cas.object_path(&sha, true)).unwrap(), content);
        let manifest = tree.finish();
        assert_eq!(
            manifest.entries[0].kind,
            EntryKind::File {
                digest: sha.clone(),
                size: content.len() as u64,
                exec: true
            }
        );

        // Refused once read: nothing stored, no temporary left.
        let other = b"refused".to_vec();
        let mut reader = &other[..];
        let refused = cas.put_stream(&mut reader, false, |_| {
            Err(io::Error::new(io::ErrorKind::InvalidData, "not what RECORD says"))
        });
        assert_eq!(refused.unwrap_err().to_string(), "not what RECORD says");
        assert!(!cas.object_path(&crate::reapi::sha256_hex(&other), false).exists());
        assert_eq!(fs::read_dir(cas.root().join("tmp")).unwrap().count(), 0);
    }

    #[test]
    fn an_object_written_in_pieces_is_named_only_on_commit() {
        let dir = tempfile::tempdir().unwrap();
        let cas = Cas::new(&dir.path().join("cache"));
        let sha = crate::reapi::sha256_hex(b"one two");
        let mut writer = cas.object_writer(true).unwrap();
        writer.write_all(b"one ").unwrap();
        writer.write_all(b"two").unwrap();
        assert!(!cas.object_path(&sha, true).exists());
        writer.commit(&sha).unwrap();
        let object = cas.object_path(&sha, true);
        assert_eq!(fs::read(&object).unwrap(), b"one two");
        assert_eq!(fs::metadata(&object).unwrap().permissions().mode() & 0o777, 0o555);

        // Dropped uncommitted (its bytes did not match): nothing stays.
        let mut writer = cas.object_writer(false).unwrap();
        writer.write_all(&[7; 300_000]).unwrap();
        drop(writer);
        assert_eq!(fs::read_dir(cas.root().join("tmp")).unwrap().count(), 0);
        assert_eq!(cas.verify().unwrap().objects, 1);
    }

    #[test]
    fn tree_writer_gives_the_manifest_of_the_same_tree_imported() {
        let dir = tempfile::tempdir().unwrap();
        let cas = Cas::new(&dir.path().join("cache"));
        let a = dir.path().join("a");
        fs::create_dir_all(a.join("usr/bin")).unwrap();
        fs::write(a.join("usr/bin/tool"), "#!/bin/sh\n").unwrap();
        fs::set_permissions(a.join("usr/bin/tool"), fs::Permissions::from_mode(0o755)).unwrap();
        fs::write(a.join("usr/data"), "data").unwrap();
        let imported = cas.import_dir(&a).unwrap();

        let other = Cas::new(&dir.path().join("other"));
        let writer = other.tree_writer();
        writer.add_file("usr/data", b"data", false).unwrap();
        writer.add_file("usr/bin/tool", b"#!/bin/sh\n", true).unwrap();
        let twice = writer.add_file("usr/data", b"again", false).unwrap_err();
        assert_eq!(twice.kind(), io::ErrorKind::AlreadyExists);
        assert!(
            writer.add_file("usr/data/inside", b"x", false).is_err(),
            "a file is no directory"
        );
        assert!(writer.add_file("../escape", b"x", false).is_err());
        assert!(writer.add_file("/abs", b"x", false).is_err());
        assert_eq!(writer.finish(), imported);

        let out = dir.path().join("out");
        fs::create_dir(&out).unwrap();
        other.stage(&imported, &out, StageMode::Copy).unwrap();
        assert_eq!(fs::read_to_string(out.join("usr/bin/tool")).unwrap(), "#!/bin/sh\n");
        assert_eq!(
            fs::metadata(out.join("usr/bin/tool")).unwrap().permissions().mode() & 0o777,
            0o755
        );
        assert!(other.verify().unwrap().corrupt.is_empty());
    }

    #[test]
    fn hardlink_staging_of_many_directories_links_every_file_and_reports_what_it_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let cas = Cas::new(&dir.path().join("cache"));
        let a = dir.path().join("a");
        for d in 0..40 {
            for f in 0..4 {
                let path = a.join(format!("usr/d{d:02}/sub/f{f}"));
                fs::create_dir_all(path.parent().unwrap()).unwrap();
                fs::write(&path, format!("{d} {f}")).unwrap();
            }
        }
        let manifest = cas.import_dir(&a).unwrap();
        let out = dir.path().join("out");
        fs::create_dir_all(out.join("usr/d07/sub")).unwrap();
        fs::write(out.join("usr/d07/sub/f1"), "in the way").unwrap();
        fs::create_dir_all(out.join("usr/d33/sub")).unwrap();
        std::os::unix::fs::symlink("/nowhere", out.join("usr/d33/sub/f3")).unwrap();
        let linked = |root: &Path| {
            for d in 0..40 {
                for f in 0..4 {
                    let path = root.join(format!("usr/d{d:02}/sub/f{f}"));
                    assert_eq!(fs::read_to_string(&path).unwrap(), format!("{d} {f}"));
                    assert!(
                        std::os::unix::fs::MetadataExt::nlink(&fs::symlink_metadata(&path).unwrap()) >= 2,
                        "{} is a link to its object",
                        path.display()
                    );
                }
            }
        };
        // The 160 links in one batch, on several threads where there are
        // cores; those in the way are replaced after.
        let overlaps = cas.stage(&manifest, &out, StageMode::Hardlink).unwrap();
        assert_eq!(overlaps, ["usr/d07/sub/f1", "usr/d33/sub/f3"]);
        linked(&out);
        // Five open directories at most: the 121 directories are dropped
        // and reopened many times over, the links made before each drop.
        let fresh = dir.path().join("fresh");
        fs::create_dir(&fresh).unwrap();
        assert!(
            cas.stage_keeping(&manifest, &fresh, StageMode::Hardlink, 5)
                .unwrap()
                .is_empty()
        );
        linked(&fresh);
        // Staged again over itself: every file replaces its own link.
        let again = cas.stage_keeping(&manifest, &out, StageMode::Hardlink, 5).unwrap();
        assert_eq!(again.len(), 160);
        assert!(again.windows(2).all(|w| w[0] < w[1]), "in manifest order");
    }

    #[test]
    fn a_decoded_tree_is_kept_and_a_tampered_copy_is_not_believed() {
        let dir = tempfile::tempdir().unwrap();
        let cas = Cas::new(&dir.path().join("cache"));
        let a = dir.path().join("a");
        tree(&a);
        let manifest = cas.import_dir(&a).unwrap();
        let digest = cas.put_manifest(&manifest).unwrap();
        assert_eq!(cas.get_manifest(&digest).unwrap(), manifest);
        let kept = cas.root().join("manifests").join(&digest);
        assert!(kept.is_file(), "kept by its digest");
        // Read from the kept copy: the directory blobs are not needed.
        let mut escaping = manifest.clone();
        escaping.entries[0].path = "../outside".into();
        fs::set_permissions(&kept, fs::Permissions::from_mode(0o644)).unwrap();
        fs::write(&kept, escaping.encode().unwrap()).unwrap();
        assert_eq!(
            cas.get_manifest(&digest).unwrap(),
            manifest,
            "an unsafe path: decoded again"
        );
        // Hardlink staging (relative to open directories) gives the tree.
        let out = dir.path().join("out");
        fs::create_dir(&out).unwrap();
        fs::create_dir(out.join("usr")).unwrap();
        std::os::unix::fs::symlink("/", out.join("usr/bin")).unwrap();
        cas.stage(&manifest, &out, StageMode::Hardlink).unwrap();
        assert!(
            fs::symlink_metadata(out.join("usr/bin")).unwrap().is_dir(),
            "the symlink in the way is replaced"
        );
        assert_eq!(fs::read_to_string(out.join("usr/data")).unwrap(), "data");
        // Links to the read-only objects: the executable copy for tools.
        assert_eq!(
            fs::metadata(out.join("usr/bin/tool")).unwrap().permissions().mode() & 0o777,
            0o555
        );
        assert_eq!(fs::read_link(out.join("usr/link")).unwrap(), Path::new("bin/tool"));
    }

    #[test]
    fn verify_removes_corrupt_objects_and_their_artifacts() {
        let dir = tempfile::tempdir().unwrap();
        let cas = Cas::new(&dir.path().join("cache"));
        let a = dir.path().join("a");
        tree(&a);
        let manifest = cas.import_dir(&a).unwrap();
        cas.put_artifact("p", "e", &record(&cas, &manifest, "k1")).unwrap();
        assert!(cas.get_artifact("p", "e", "k1").is_some());
        let digest = match &manifest.entries[3].kind {
            EntryKind::File { digest, .. } => digest.clone(),
            _ => unreachable!(),
        };
        let object = cas.object_path(&digest, false);
        fs::set_permissions(&object, fs::Permissions::from_mode(0o644)).unwrap();
        fs::write(&object, "tampered").unwrap();
        let report = cas.verify().unwrap();
        assert_eq!(report.corrupt, vec![digest]);
        assert_eq!(report.dropped_artifacts, vec!["p/e/k1"]);
        assert!(cas.get_artifact("p", "e", "k1").is_none());
    }

    #[test]
    fn gc_keeps_protected_and_frees_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let cas = Cas::new(&dir.path().join("cache"));
        for key in ["old", "new"] {
            let d = dir.path().join(key);
            fs::create_dir_all(&d).unwrap();
            fs::write(d.join("f"), key.repeat(1000)).unwrap();
            let manifest = cas.import_dir(&d).unwrap();
            cas.put_artifact("p", "e", &record(&cas, &manifest, key)).unwrap();
        }
        let protected: HashSet<String> = ["p/e/new".to_string()].into();
        let freed = cas.gc(0, &protected, None).unwrap();
        assert!(freed >= 3000, "freed {freed}");
        assert!(cas.get_artifact("p", "e", "old").is_none());
        assert!(cas.get_artifact("p", "e", "new").is_some());
        assert!(cas.verify().unwrap().dropped_artifacts.is_empty());
    }

    #[test]
    fn gc_removes_unneeded_objects_even_under_the_limit_but_spares_new_ones() {
        let dir = tempfile::tempdir().unwrap();
        let cas = Cas::new(&dir.path().join("cache"));
        let kept = cas.put_file(b"needed", false).unwrap();
        let tree = cas.tree_writer();
        tree.add_file("f", b"needed", false).unwrap();
        cas.put_artifact("p", "e", &record(&cas, &tree.finish(), "k")).unwrap();
        // Stored by a build that failed, or whose artifact was deleted.
        let orphan = cas.put_file(b"orphan", true).unwrap();
        // While builds run, what is newer than they are stays.
        let a_minute_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
        assert_eq!(cas.gc(u64::MAX, &HashSet::new(), Some(a_minute_ago)).unwrap(), 0);
        assert!(cas.object_path(&orphan, true).exists());
        // Storing it again (a build naming it) makes it recent again.
        let path = cas.object_path(&orphan, true);
        let an_hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        fs::File::open(&path).unwrap().set_modified(an_hour_ago).unwrap();
        assert_eq!(cas.gc(u64::MAX, &HashSet::new(), Some(a_minute_ago)).unwrap(), 6);
        cas.put_file(b"orphan", true).unwrap();
        fs::File::open(&path).unwrap().set_modified(an_hour_ago).unwrap();
        cas.put_file(b"orphan", true).unwrap();
        assert_eq!(cas.gc(u64::MAX, &HashSet::new(), Some(a_minute_ago)).unwrap(), 0);
        let freed = cas.gc(u64::MAX, &HashSet::new(), None).unwrap();
        assert_eq!(freed, 6);
        assert!(!cas.object_path(&orphan, true).exists());
        assert!(cas.object_path(&kept, false).exists());
        assert!(cas.get_artifact("p", "e", "k").is_some());
    }
}
