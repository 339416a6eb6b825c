//! `local`: a file or directory of the project. No pin: its key is a digest
//! of its content (names, contents, exec bits, symlink targets).

use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use forge_project::filehash::FileHashCache;

use forge_project::{KeyContext, LoadError, Project, Source, SourceKind};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::checks::{check_project_path, hex, required_str, span_of};
use crate::runtime::{HereAlready, SourceContext, SourceError};

/// The `local` kind.
pub struct Local;

impl SourceKind for Local {
    fn name(&self) -> &'static str {
        "local"
    }
    fn config_keys(&self) -> &'static [&'static str] {
        &["path"]
    }
    fn validate(&self, source: &Source, project: &Project) -> Result<(), LoadError> {
        check_project_path(source, project, "path")
    }
    fn info(&self, source: &Source, _project: &Project, ctx: &KeyContext<'_>) -> Vec<forge_project::SourceInfo> {
        let Ok(path) = required_str(source, "path") else {
            return Vec::new();
        };
        let digest = tree_digest(&ctx.project_dir.join(path), ctx.file_hashes).unwrap_or_default();
        vec![crate::checks::local_info(source, path, digest)]
    }
    fn unique_key(&self, source: &Source, ctx: &KeyContext<'_>) -> Result<Option<Value>, LoadError> {
        let path = required_str(source, "path")?;
        let digest = tree_digest(&ctx.project_dir.join(path), ctx.file_hashes)
            .map_err(|e| LoadError::at(span_of(source, "path"), format!("cannot read '{path}': {e}")))?;
        Ok(Some(json!({ "digest": digest })))
    }
    fn needs_fetch(&self) -> bool {
        false
    }
}

impl HereAlready for Local {
    fn stage_here(&self, source: &Source, ctx: &SourceContext<'_>, dir: &Path) -> Result<(), SourceError> {
        let path = required_str(source, "path").map_err(|e| SourceError::new(e.to_string()))?;
        let from = ctx.project.dir.join(path);
        let meta = fs::symlink_metadata(&from).map_err(|e| SourceError::new(format!("cannot read '{path}': {e}")))?;
        let result = if meta.is_dir() {
            copy_tree(&from, dir)
        } else {
            let name = from.file_name().map(|n| dir.join(n)).unwrap_or_else(|| dir.join(path));
            copy_entry(&from, &name, &meta)
        };
        result.map_err(|e| SourceError::new(format!("cannot stage '{path}': {e}")))
    }
}

/// Copies a file or symlink, normalising the mode to 0644 or 0755.
pub fn copy_entry(from: &Path, to: &Path, meta: &fs::Metadata) -> std::io::Result<()> {
    if let Ok(existing) = fs::symlink_metadata(to) {
        if existing.is_dir() {
            fs::remove_dir_all(to)?;
        } else {
            fs::remove_file(to)?;
        }
    }
    if meta.file_type().is_symlink() {
        std::os::unix::fs::symlink(fs::read_link(from)?, to)
    } else {
        fs::copy(from, to)?;
        let mode = if meta.permissions().mode() & 0o100 != 0 {
            0o755
        } else {
            0o644
        };
        fs::set_permissions(to, fs::Permissions::from_mode(mode))
    }
}

/// Copies the contents of directory `from` into `to`, without following
/// symlinks.
pub fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    copy_tree_but(from, to, |_| false)
}

/// Whether an entry of a workspace is the developer's, not the build's: a
/// git repository's own (`.git`, a directory or a worktree's file) and
/// the workspace's marker. Builds never see them.
pub fn is_workspace_private(name: &std::ffi::OsStr) -> bool {
    name == ".git" || name == forge_project::workspaces::MARKER
}

/// [`copy_tree`], leaving out entries whose name `skip` accepts.
pub fn copy_tree_but(from: &Path, to: &Path, skip: impl Fn(&std::ffi::OsStr) -> bool) -> std::io::Result<()> {
    let mut pending = vec![(from.to_path_buf(), to.to_path_buf())];
    while let Some((source, target)) = pending.pop() {
        fs::create_dir_all(&target)?;
        fs::set_permissions(&target, fs::Permissions::from_mode(0o755))?;
        for entry in fs::read_dir(&source)? {
            let entry = entry?;
            if skip(&entry.file_name()) {
                continue;
            }
            let meta = fs::symlink_metadata(entry.path())?;
            let destination = target.join(entry.file_name());
            if meta.is_dir() {
                pending.push((entry.path(), destination));
            } else {
                copy_entry(&entry.path(), &destination, &meta)?;
            }
        }
    }
    Ok(())
}

/// A digest of a file or a directory tree: entries sorted by name, each
/// with its type, exec bit and content digest or link target, hashed
/// bottom-up so a directory's digest covers everything below it. File
/// contents are hashed on every core, and not at all when `hashes` knows
/// the file unchanged.
pub fn tree_digest(path: &Path, hashes: &FileHashCache) -> std::io::Result<String> {
    hashes.tree_once(path, || walk_digest(path, hashes, |_| false))
}

/// [`tree_digest`] of a workspace: what is the developer's left out (see
/// [`is_workspace_private`]).
pub fn workspace_digest(path: &Path, hashes: &FileHashCache) -> std::io::Result<String> {
    walk_digest(path, hashes, is_workspace_private)
}

fn walk_digest(path: &Path, hashes: &FileHashCache, skip: fn(&std::ffi::OsStr) -> bool) -> std::io::Result<String> {
    let meta = fs::symlink_metadata(path)?;
    if !meta.is_dir() {
        return entry_digest(path, &meta, hashes);
    }
    // Every directory below `path` (index 0 is `path`), with its parent.
    let mut dirs: Vec<(PathBuf, Option<usize>)> = vec![(path.to_path_buf(), None)];
    // (directory index, name, path, metadata) of every non-directory.
    let mut files: Vec<(usize, String, PathBuf, fs::Metadata)> = Vec::new();
    let mut subdirs: Vec<(usize, String, usize)> = Vec::new();
    let mut next = 0;
    while next < dirs.len() {
        let dir = dirs[next].0.clone();
        for entry in fs::read_dir(&dir)? {
            let entry = entry?;
            if skip(&entry.file_name()) {
                continue;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            let entry_meta = fs::symlink_metadata(entry.path())?;
            if entry_meta.is_dir() {
                subdirs.push((next, name, dirs.len()));
                dirs.push((entry.path(), Some(next)));
            } else {
                files.push((next, name, entry.path(), entry_meta));
            }
        }
        next += 1;
    }
    let digests = forge_project::parallel::map(&files, |(_, _, path, meta)| entry_digest(path, meta, hashes));
    let mut listings: Vec<Vec<(String, String)>> = vec![Vec::new(); dirs.len()];
    for ((dir, name, _, _), digest) in files.into_iter().zip(digests) {
        listings[dir].push((name, digest?));
    }
    // Children always come after their parent in `dirs`: hash backwards.
    let mut dir_digests: Vec<Option<String>> = vec![None; dirs.len()];
    let mut children: Vec<Vec<(String, usize)>> = vec![Vec::new(); dirs.len()];
    for (parent, name, child) in subdirs {
        children[parent].push((name, child));
    }
    for index in (0..dirs.len()).rev() {
        let mut listing = std::mem::take(&mut listings[index]);
        for (name, child) in &children[index] {
            listing.push((
                name.clone(),
                dir_digests[*child].take().expect("children are hashed first"),
            ));
        }
        listing.sort();
        let mut hasher = Sha256::new();
        hasher.update(b"dir\0");
        for (name, digest) in &listing {
            hasher.update(name.as_bytes());
            hasher.update(b"\0");
            hasher.update(digest.as_bytes());
            hasher.update(b"\n");
        }
        dir_digests[index] = Some(hex(&hasher.finalize()));
    }
    Ok(dir_digests[0].take().expect("the root is hashed"))
}

fn entry_digest(path: &Path, meta: &fs::Metadata, hashes: &FileHashCache) -> std::io::Result<String> {
    let mut hasher = Sha256::new();
    if meta.file_type().is_symlink() {
        hasher.update(b"symlink\0");
        hasher.update(fs::read_link(path)?.as_os_str().as_encoded_bytes());
        return Ok(hex(&hasher.finalize()));
    }
    let executable = meta.permissions().mode() & 0o100 != 0;
    hasher.update(if executable { b"exec\0" as &[u8] } else { b"file\0" });
    let content = match hashes.lookup(path, meta) {
        Some(known) => known,
        None => {
            let digest = content_digest(path, meta)?;
            hashes.insert(path, meta, &digest);
            digest
        }
    };
    hasher.update(content.as_bytes());
    Ok(hex(&hasher.finalize()))
}

/// The sha256 of a file's bytes.
fn content_digest(path: &Path, meta: &fs::Metadata) -> std::io::Result<String> {
    let mut file = fs::File::open(path)?;
    // Most project files are small: one read, no large buffer to zero.
    let mut buffer = Vec::with_capacity((meta.len() as usize).min(1 << 20) + 1);
    let mut hasher = Sha256::new();
    loop {
        buffer.clear();
        let n = (&mut file).take(1 << 20).read_to_end(&mut buffer)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer);
    }
    Ok(hex(&hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_follows_content_names_modes_and_links() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("tree");
        fs::create_dir_all(root.join("sub/deeper")).unwrap();
        fs::write(root.join("a.txt"), "a").unwrap();
        fs::write(root.join("sub/deeper/b.txt"), "b").unwrap();
        let first = tree_digest(&root, &FileHashCache::disabled()).unwrap();
        assert_eq!(first, tree_digest(&root, &FileHashCache::disabled()).unwrap());

        fs::write(root.join("sub/deeper/b.txt"), "B").unwrap();
        let changed = tree_digest(&root, &FileHashCache::disabled()).unwrap();
        assert_ne!(first, changed);

        let mut perms = fs::metadata(root.join("a.txt")).unwrap().permissions();
        perms.set_mode(0o755);
        fs::set_permissions(root.join("a.txt"), perms).unwrap();
        let exec = tree_digest(&root, &FileHashCache::disabled()).unwrap();
        assert_ne!(changed, exec);

        std::os::unix::fs::symlink("a.txt", root.join("link")).unwrap();
        let linked = tree_digest(&root, &FileHashCache::disabled()).unwrap();
        assert_ne!(exec, linked);

        fs::rename(root.join("a.txt"), root.join("c.txt")).unwrap();
        assert_ne!(linked, tree_digest(&root, &FileHashCache::disabled()).unwrap());
    }

    #[test]
    fn a_copy_has_the_same_digest() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["one", "two"] {
            let root = dir.path().join(name);
            fs::create_dir_all(root.join("x")).unwrap();
            fs::write(root.join("x/f"), "same").unwrap();
        }
        assert_eq!(
            tree_digest(&dir.path().join("one"), &FileHashCache::disabled()).unwrap(),
            tree_digest(&dir.path().join("two"), &FileHashCache::disabled()).unwrap()
        );
    }
}
