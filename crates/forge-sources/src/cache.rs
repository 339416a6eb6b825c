//! The source cache: downloaded files by sha256, git mirrors by URL.
//!
//! Every file is written to a locked partial file, hashed while it is
//! written, and renamed into place only when its hash is the one expected:
//! the cache never holds a file whose name is not its hash. Two forge
//! processes may fetch at once; a partial file left by a crash is removed
//! by the next fetch (its lock is free).

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};

use crate::checks::hex;

/// The source cache under `<cache-dir>/sources`.
#[derive(Clone, Debug)]
pub struct SourceCache {
    root: PathBuf,
}

/// A file being written into the cache.
pub struct Partial {
    file: File,
    path: PathBuf,
    hasher: Sha256,
    written: u64,
}

impl Write for Partial {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl Partial {
    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        // Committed partials have been renamed away; this removes the rest.
        let _ = fs::remove_file(&self.path);
    }
}

/// A stored file whose hash was not the one expected.
#[derive(Debug)]
pub struct HashMismatch {
    /// The sha256 of what was received.
    pub actual: String,
    /// Its size.
    pub size: u64,
}

static PARTIAL_COUNTER: AtomicU64 = AtomicU64::new(0);

impl SourceCache {
    /// The cache in `cache_dir` (created on first write).
    pub fn new(cache_dir: &Path) -> SourceCache {
        SourceCache {
            root: cache_dir.join("sources"),
        }
    }

    /// Where a file with this sha256 lives.
    pub fn file_path(&self, sha256: &str) -> PathBuf {
        let sha = sha256.to_ascii_lowercase();
        self.root.join("files/sha256").join(&sha[..2]).join(&sha[2..])
    }

    /// Whether the file with this sha256 is cached.
    pub fn has_file(&self, sha256: &str) -> bool {
        sha256.len() == 64 && self.file_path(sha256).is_file()
    }

    /// The bare mirror directory for a git URL (as written, alias included).
    pub fn git_mirror(&self, url: &str) -> PathBuf {
        let digest = hex(&Sha256::digest(url.as_bytes()));
        let readable: String = url
            .rsplit(['/', ':'])
            .find(|p| !p.is_empty())
            .unwrap_or("repo")
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .take(40)
            .collect();
        self.root.join("git").join(format!("{readable}-{}", &digest[..16]))
    }

    /// Takes an exclusive lock named `name`, held until the file is dropped.
    pub fn lock(&self, name: &str) -> io::Result<File> {
        let dir = self.root.join("locks");
        fs::create_dir_all(&dir)?;
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(name))?;
        file.lock()?;
        Ok(file)
    }

    /// Starts a new partial file.
    pub fn partial(&self) -> io::Result<Partial> {
        let dir = self.root.join("tmp");
        fs::create_dir_all(&dir)?;
        let n = PARTIAL_COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("{}-{n}-{}", std::process::id(), nanos());
        // Created under another name and locked before it is a `.part`:
        // another forge's `discard_stale_partials` takes an unlocked
        // `.part` for a dead one and removes it.
        let opening = dir.join(format!("{name}.opening"));
        let file = File::options().create_new(true).write(true).open(&opening)?;
        file.lock()?;
        let path = dir.join(format!("{name}.part"));
        fs::rename(&opening, &path)?;
        Ok(Partial {
            file,
            path,
            hasher: Sha256::new(),
            written: 0,
        })
    }

    /// Moves a partial file into place if its hash is `expected` (or any
    /// hash, when `expected` is `None`); returns its sha256.
    pub fn commit(&self, partial: Partial, expected: Option<&str>) -> io::Result<Result<String, HashMismatch>> {
        let mut partial = partial;
        partial.file.flush()?;
        let actual = hex(&std::mem::take(&mut partial.hasher).finalize());
        if let Some(expected) = expected
            && !actual.eq_ignore_ascii_case(expected)
        {
            return Ok(Err(HashMismatch {
                actual,
                size: partial.written,
            }));
        }
        partial.file.sync_all()?;
        let target = self.file_path(&actual);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent)?;
        }
        if !target.is_file() {
            fs::rename(&partial.path, &target)?;
        }
        Ok(Ok(actual))
    }

    /// Removes partial files that no running forge holds.
    pub fn discard_stale_partials(&self) {
        let Ok(entries) = fs::read_dir(self.root.join("tmp")) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let stale = match path.extension().and_then(|e| e.to_str()) {
                Some("part") => true,
                // Being opened (see `partial`), unless a crash left it long ago.
                Some("opening") => entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age.as_secs() > 60),
                _ => false,
            };
            if stale
                && let Ok(file) = File::options().write(true).open(&path)
                && file.try_lock().is_ok()
            {
                let _ = fs::remove_file(&path);
            }
        }
    }

    /// The root of the source cache.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

fn nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HELLO: &str = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";

    #[test]
    fn commit_only_matching_content() {
        let dir = tempfile::tempdir().unwrap();
        let cache = SourceCache::new(dir.path());
        let mut partial = cache.partial().unwrap();
        partial.write_all(b"hello").unwrap();
        let wrong = cache.commit(partial, Some(&"0".repeat(64))).unwrap().unwrap_err();
        assert_eq!(wrong.actual, HELLO);
        assert!(!cache.has_file(HELLO));
        assert_eq!(
            fs::read_dir(cache.root().join("tmp")).unwrap().count(),
            0,
            "the partial is gone"
        );

        let mut partial = cache.partial().unwrap();
        partial.write_all(b"hello").unwrap();
        assert_eq!(cache.commit(partial, Some(HELLO)).unwrap().unwrap(), HELLO);
        assert_eq!(fs::read(cache.file_path(HELLO)).unwrap(), b"hello");
    }

    #[test]
    fn stale_partials_are_discarded_live_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let cache = SourceCache::new(dir.path());
        let live = cache.partial().unwrap();
        let stale = cache.root().join("tmp/crashed.part");
        fs::write(&stale, b"half").unwrap();
        cache.discard_stale_partials();
        assert!(!stale.exists());
        assert!(live.path.exists());
    }

    #[test]
    fn git_mirrors_are_per_url() {
        let cache = SourceCache::new(Path::new("/c"));
        let a = cache.git_mirror("gitlab:group/repo.git");
        assert!(a.to_string_lossy().starts_with("/c/sources/git/repo.git-"));
        assert_ne!(a, cache.git_mirror("github:group/repo.git"));
    }
}
