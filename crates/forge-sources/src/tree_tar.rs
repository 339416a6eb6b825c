//! A tree as a deterministic tarball (sorted, owner 0, one mtime, modes
//! 0644/0755), so that the same tree always gives the same bytes: one
//! sha256 names it on a source cache server, and images rebuild to the
//! same digest.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Writes the tree at `dir` to `out`: entries sorted by path, owner
/// root (0), every mtime `mtime`, modes 0644/0755 (directories 0755,
/// symlinks 0777). OCI layers, tarball images, checkouts and source
/// cache trees are all written by it.
pub fn write(dir: &Path, out: impl Write, mtime: u64) -> io::Result<()> {
    let mut entries = Vec::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(relative) = pending.pop() {
        for entry in fs::read_dir(dir.join(&relative))? {
            let entry = entry?;
            let path = relative.join(entry.file_name());
            if entry.file_type()?.is_dir() {
                pending.push(path.clone());
            }
            entries.push(path);
        }
    }
    entries.sort();
    let mut builder = tar::Builder::new(out);
    for relative in entries {
        let full = dir.join(&relative);
        let meta = fs::symlink_metadata(&full)?;
        let mut header = tar::Header::new_gnu();
        header.set_mtime(mtime);
        header.set_uid(0);
        header.set_gid(0);
        header.set_username("root")?;
        header.set_groupname("root")?;
        if meta.is_dir() {
            header.set_entry_type(tar::EntryType::Directory);
            header.set_mode(0o755);
            header.set_size(0);
            builder.append_data(&mut header, &relative, io::empty())?;
        } else if meta.file_type().is_symlink() {
            header.set_entry_type(tar::EntryType::Symlink);
            header.set_mode(0o777);
            header.set_size(0);
            builder.append_link(&mut header, &relative, fs::read_link(&full)?)?;
        } else {
            header.set_entry_type(tar::EntryType::Regular);
            header.set_mode(if meta.permissions().mode() & 0o100 != 0 {
                0o755
            } else {
                0o644
            });
            header.set_size(meta.len());
            builder.append_data(&mut header, &relative, fs::File::open(&full)?)?;
        }
    }
    builder.into_inner()?.flush()
}

/// Trees kept in the source cache as tarballs of [`write`] (a git
/// commit's, an OSTree commit's), each found by a record naming its
/// sha256: `<source cache>/<kind>/<name>`. Source cache servers hold the
/// same tarballs.
pub struct Kept<'a> {
    cache: &'a crate::SourceCache,
    record: PathBuf,
}

impl<'a> Kept<'a> {
    /// The tree recorded as `name` among the trees of `kind`.
    pub fn new(cache: &'a crate::SourceCache, kind: &str, name: &str) -> Kept<'a> {
        Kept {
            cache,
            record: cache.root().join(kind).join(name),
        }
    }

    /// The sha256 of its tarball, if the cache holds it.
    pub fn sha256(&self) -> Option<String> {
        let sha = fs::read_to_string(&self.record).ok()?;
        let sha = sha.trim().to_string();
        self.cache.has_file(&sha).then_some(sha)
    }

    /// Records the tarball `sha` (in the cache) as this tree.
    pub fn record(&self, sha: &str) -> io::Result<()> {
        fs::create_dir_all(self.record.parent().expect("records have parents"))?;
        let temporary = self.record.with_extension(format!("tmp-{}", std::process::id()));
        fs::write(&temporary, format!("{sha}\n"))?;
        fs::rename(&temporary, &self.record)
    }

    /// Archives the tree at `dir` into the cache and records it: the
    /// tarball's sha256.
    pub fn keep(&self, dir: &Path) -> io::Result<String> {
        let mut partial = self.cache.partial()?;
        write(dir, &mut partial, 0)?;
        let sha = self
            .cache
            .commit(partial, None)?
            .map_err(|m| io::Error::other(format!("the archive changed while written ({})", m.actual)))?;
        self.record(&sha)?;
        Ok(sha)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_same_tree_gives_the_same_bytes_and_extracts_back() {
        let dir = tempfile::tempdir().unwrap();
        let tree = dir.path().join("tree");
        std::fs::create_dir_all(tree.join("b/c")).unwrap();
        std::fs::write(tree.join("a.txt"), "a").unwrap();
        std::fs::write(tree.join("b/c/tool"), "#!/bin/sh\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(tree.join("b/c/tool"), std::fs::Permissions::from_mode(0o700)).unwrap();
        std::os::unix::fs::symlink("c/tool", tree.join("b/link")).unwrap();
        let (mut one, mut two) = (Vec::new(), Vec::new());
        super::write(&tree, &mut one, 0).unwrap();
        std::fs::write(tree.join("a.txt"), "a").unwrap(); // a new mtime
        super::write(&tree, &mut two, 0).unwrap();
        assert_eq!(one, two);
        let back = dir.path().join("back");
        std::fs::create_dir(&back).unwrap();
        crate::extract::extract_tar(&one[..], &back).unwrap();
        assert_eq!(std::fs::read_to_string(back.join("b/c/tool")).unwrap(), "#!/bin/sh\n");
        assert_eq!(
            std::fs::read_link(back.join("b/link")).unwrap(),
            std::path::Path::new("c/tool")
        );
        let mode = std::fs::metadata(back.join("b/c/tool")).unwrap().permissions().mode();
        assert_eq!(mode & 0o111, 0o111);
    }
}
