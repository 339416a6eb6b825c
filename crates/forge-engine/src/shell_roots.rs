//! Read-only roots of runtime closures, kept for the next `forge shell`.
//!
//! A closure without integration commands is staged as hardlinks into the
//! cache and mounted read-only, so the same closure always gives the same
//! tree: it is kept under `shell-roots/<id>` (the id hashes each element's
//! name and artifact tree) and the next shell of that closure mounts it as
//! it is, linking nothing. A shared lock on `<id>.lease` marks a root in
//! use; only the newest few are kept, and a root is removed only when no
//! shell holds it.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// How many roots are kept besides the one in use.
const KEEP: usize = 4;

/// A kept root, held (shared lock) until dropped.
pub struct KeptRoot {
    /// The root to mount read-only.
    pub path: PathBuf,
    _lease: File,
}

/// The directory of kept roots in a cache directory.
pub fn dir(cache_dir: &Path) -> PathBuf {
    cache_dir.join("shell-roots")
}

/// The id of a closure: each element's name and artifact tree digest.
pub fn id(elements: &[(&str, &str)]) -> String {
    let id = forge_project::keys::hash_json(&serde_json::json!(["forge shell root 1", elements]));
    id[..32].to_string()
}

/// The kept root `id`, made with `make` (into an empty directory) when it
/// is not there yet; older roots beyond [`KEEP`] that no shell holds are
/// removed.
pub fn kept_root(
    cache_dir: &Path,
    id: &str,
    make: impl FnOnce(&Path) -> Result<(), String>,
) -> Result<KeptRoot, String> {
    let dir = dir(cache_dir);
    fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let lease_path = dir.join(format!("{id}.lease"));
    let lease = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lease_path)
        .map_err(|e| format!("cannot open {}: {e}", lease_path.display()))?;
    lease
        .lock_shared()
        .map_err(|e| format!("cannot lock {}: {e}", lease_path.display()))?;
    // The lease's time says when the root was last used.
    let _ = lease.set_modified(SystemTime::now());
    let path = dir.join(id);
    if !path.is_dir() {
        let partial = dir.join(format!(".partial-{id}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&partial);
        fs::create_dir_all(&partial).map_err(|e| format!("cannot create {}: {e}", partial.display()))?;
        if let Err(e) = make(&partial) {
            let _ = fs::remove_dir_all(&partial);
            return Err(e);
        }
        // Another shell may have made it meanwhile: theirs is as good.
        if fs::rename(&partial, &path).is_err() {
            let _ = fs::remove_dir_all(&partial);
            if !path.is_dir() {
                return Err(format!("cannot keep the shell root in {}", dir.display()));
            }
        }
    }
    prune(&dir, id, KEEP);
    Ok(KeptRoot { path, _lease: lease })
}

/// Removes the roots no shell holds: beyond the newest `keep` (and never
/// `current`), or all of them with `keep` 0. Partial roots of processes
/// that are gone go too. Returns how many were removed.
pub fn prune(dir: &Path, current: &str, keep: usize) -> usize {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    let mut leases: Vec<(SystemTime, String)> = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(rest) = name.strip_prefix(".partial-") {
            let pid = rest.rsplit('-').next().unwrap_or("");
            if !Path::new("/proc").join(pid).exists() {
                let _ = fs::remove_dir_all(entry.path());
            }
        } else if let Some(id) = name.strip_suffix(".lease")
            && id != current
        {
            let used = entry
                .metadata()
                .and_then(|m| m.modified())
                .unwrap_or(SystemTime::UNIX_EPOCH);
            leases.push((used, id.to_string()));
        }
    }
    leases.sort_by(|a, b| b.cmp(a));
    let mut removed = 0;
    for (_, id) in leases.into_iter().skip(keep) {
        let lease_path = dir.join(format!("{id}.lease"));
        let Ok(lease) = File::options().write(true).open(&lease_path) else {
            continue;
        };
        // Held by a running shell: leave it.
        if lease.try_lock().is_err() {
            continue;
        }
        if fs::remove_dir_all(dir.join(&id)).is_ok() || !dir.join(&id).exists() {
            let _ = fs::remove_file(&lease_path);
            removed += 1;
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closure_is_staged_once_and_old_roots_go_when_free() {
        let cache = tempfile::tempdir().unwrap();
        let mut made = 0;
        for _ in 0..2 {
            let root = kept_root(cache.path(), "a", |dir| {
                made += 1;
                fs::write(dir.join("file"), "x").map_err(|e| e.to_string())
            })
            .unwrap();
            assert_eq!(fs::read_to_string(root.path.join("file")).unwrap(), "x");
        }
        assert_eq!(made, 1, "the second shell mounts the kept root");
        let held = kept_root(cache.path(), "b", |_| Ok(())).unwrap();
        // With nothing kept, the free root goes and the held one stays.
        assert_eq!(prune(&dir(cache.path()), "", 0), 1);
        assert!(!dir(cache.path()).join("a").exists());
        assert!(held.path.is_dir());
        drop(held);
        assert_eq!(prune(&dir(cache.path()), "", 0), 1);
        // A failed make leaves nothing behind.
        assert!(kept_root(cache.path(), "c", |_| Err("no".into())).is_err());
        assert!(!dir(cache.path()).join("c").exists());
    }
}
