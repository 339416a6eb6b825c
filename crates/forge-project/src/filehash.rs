//! A cache of file content digests between runs, keyed by path, size,
//! modification and change times and inode: a file whose metadata has not
//! changed is not read again. Used by sources that live in the project
//! (`local`, `patch`), so a large tree is hashed once, not on every command.

use std::collections::HashMap;
use std::fs::Metadata;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Clone, PartialEq, Eq)]
struct Stamp {
    size: u64,
    mtime_ns: i128,
    ctime_ns: i128,
    inode: u64,
}

impl Stamp {
    fn of(meta: &Metadata) -> Stamp {
        Stamp {
            size: meta.len(),
            mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
            ctime_ns: i128::from(meta.ctime()) * 1_000_000_000 + i128::from(meta.ctime_nsec()),
            inode: meta.ino(),
        }
    }
}

struct Entry {
    stamp: Stamp,
    digest: String,
    used: bool,
}

/// A tree digest computed once per run, shared by every caller.
type TreeDigest = Arc<OnceLock<Result<String, (std::io::ErrorKind, String)>>>;

/// Digests of files by path, valid while their metadata is unchanged.
pub struct FileHashCache {
    file: Option<PathBuf>,
    entries: Mutex<HashMap<PathBuf, Entry>>,
    changed: Mutex<bool>,
    /// Digests of whole trees in this run: several junctions of one
    /// project name the same directories, and a command keys them twice.
    trees: Mutex<HashMap<PathBuf, TreeDigest>>,
}

impl FileHashCache {
    /// A cache that remembers nothing between runs.
    pub fn disabled() -> FileHashCache {
        FileHashCache {
            file: None,
            entries: Mutex::default(),
            changed: Mutex::new(false),
            trees: Mutex::default(),
        }
    }

    /// Loads the cache kept in `file` (empty if it does not exist or is
    /// unreadable: it is only a cache).
    pub fn load(file: PathBuf) -> FileHashCache {
        let mut entries = HashMap::new();
        if let Ok(text) = std::fs::read_to_string(&file) {
            for line in text.lines() {
                let mut fields = line.splitn(6, ' ');
                let (Some(digest), Some(size), Some(mtime), Some(ctime), Some(inode), Some(path)) = (
                    fields.next(),
                    fields.next(),
                    fields.next(),
                    fields.next(),
                    fields.next(),
                    fields.next(),
                ) else {
                    continue;
                };
                let (Ok(size), Ok(mtime_ns), Ok(ctime_ns), Ok(inode)) =
                    (size.parse(), mtime.parse(), ctime.parse(), inode.parse())
                else {
                    continue;
                };
                entries.insert(
                    PathBuf::from(path),
                    Entry {
                        stamp: Stamp {
                            size,
                            mtime_ns,
                            ctime_ns,
                            inode,
                        },
                        digest: digest.to_string(),
                        used: false,
                    },
                );
            }
        }
        FileHashCache {
            file: Some(file),
            entries: Mutex::new(entries),
            changed: Mutex::new(false),
            trees: Mutex::default(),
        }
    }

    /// The digest of `path` if it was hashed with the same metadata.
    pub fn lookup(&self, path: &Path, meta: &Metadata) -> Option<String> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let entry = entries.get_mut(path)?;
        if entry.stamp != Stamp::of(meta) {
            return None;
        }
        entry.used = true;
        Some(entry.digest.clone())
    }

    /// Remembers the digest of `path`. Files modified in the last two
    /// seconds are not remembered: a change within the same timestamp
    /// tick would go unnoticed.
    pub fn insert(&self, path: &Path, meta: &Metadata, digest: &str) {
        let now_ns = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as i128)
            .unwrap_or(0);
        let stamp = Stamp::of(meta);
        if now_ns - stamp.mtime_ns < 2_000_000_000 {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.insert(
            path.to_path_buf(),
            Entry {
                stamp,
                digest: digest.to_string(),
                used: true,
            },
        );
        *self.changed.lock().unwrap_or_else(|e| e.into_inner()) = true;
    }

    /// The digest of the tree at `path`, computed by `compute` the first
    /// time this run asks for it (callers asking meanwhile wait for it).
    pub fn tree_once(&self, path: &Path, compute: impl FnOnce() -> std::io::Result<String>) -> std::io::Result<String> {
        let slot = self
            .trees
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(path.to_path_buf())
            .or_default()
            .clone();
        slot.get_or_init(|| compute().map_err(|e| (e.kind(), e.to_string())))
            .clone()
            .map_err(|(kind, message)| std::io::Error::new(kind, message))
    }

    /// Writes the entries used in this run back, atomically.
    pub fn save(&self) -> std::io::Result<()> {
        let Some(file) = &self.file else { return Ok(()) };
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        // Rewrite only when something was learnt, or entries went unused
        // (files gone or outside this run): a no-op run writes nothing.
        let inserted = *self.changed.lock().unwrap_or_else(|e| e.into_inner());
        if !inserted && entries.values().all(|e| e.used) {
            return Ok(());
        }
        let mut text = String::new();
        for (path, entry) in entries.iter().filter(|(_, e)| e.used) {
            let Some(path) = path.to_str().filter(|p| !p.contains('\n')) else {
                continue;
            };
            let s = &entry.stamp;
            text.push_str(&format!(
                "{} {} {} {} {} {path}\n",
                entry.digest, s.size, s.mtime_ns, s.ctime_ns, s.inode
            ));
        }
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let temporary = file.with_extension(format!("tmp-{}", std::process::id()));
        let mut out = std::fs::File::create(&temporary)?;
        out.write_all(text.as_bytes())?;
        drop(out);
        std::fs::rename(&temporary, file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_until_metadata_changes() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, "x").unwrap();
        // Make the file look old enough to be cached.
        let old = std::fs::FileTimes::new().set_modified(SystemTime::now() - std::time::Duration::from_secs(60));
        std::fs::File::options()
            .write(true)
            .open(&file)
            .unwrap()
            .set_times(old)
            .unwrap();
        let store = dir.path().join("hashes");
        let cache = FileHashCache::load(store.clone());
        let meta = std::fs::metadata(&file).unwrap();
        assert_eq!(cache.lookup(&file, &meta), None);
        cache.insert(&file, &meta, "digest-of-x");
        cache.save().unwrap();

        let again = FileHashCache::load(store.clone());
        assert_eq!(again.lookup(&file, &meta).as_deref(), Some("digest-of-x"));
        std::fs::write(&file, "changed").unwrap();
        assert_eq!(again.lookup(&file, &std::fs::metadata(&file).unwrap()), None);
    }

    #[test]
    fn trees_are_computed_once_per_run() {
        let cache = FileHashCache::disabled();
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let compute = || {
            calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Ok("d".to_string())
        };
        assert_eq!(cache.tree_once(Path::new("/a"), compute).unwrap(), "d");
        assert_eq!(cache.tree_once(Path::new("/a"), compute).unwrap(), "d");
        assert_eq!(calls.load(std::sync::atomic::Ordering::Relaxed), 1);
        let failing = || Err(std::io::Error::new(std::io::ErrorKind::NotFound, "gone"));
        let err = cache.tree_once(Path::new("/b"), failing).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
        assert_eq!(
            cache.tree_once(Path::new("/b"), compute).unwrap_err().to_string(),
            "gone"
        );
    }

    #[test]
    fn fresh_files_are_not_remembered() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, "x").unwrap();
        let cache = FileHashCache::load(dir.path().join("hashes"));
        let meta = std::fs::metadata(&file).unwrap();
        cache.insert(&file, &meta, "d");
        assert_eq!(cache.lookup(&file, &meta), None);
    }
}
