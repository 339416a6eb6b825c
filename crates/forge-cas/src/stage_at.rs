//! Hardlink staging relative to open directories. Staging a closure links
//! tens of thousands of files; with whole paths the kernel walks every
//! component of both the object's path and the target's for each link,
//! which was most of the time a `forge shell` took. Here each target
//! directory and each object shard is opened once (`O_PATH`, never
//! following a symlink), and links and directories are made by name
//! relative to them. Anything unusual (something in the way, a parent
//! not opened) is left to the path-based code, which handles it.

use std::collections::HashMap;
use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::objects_at::ShardDirs;

/// Open directories are dropped past this many (all but the parents of
/// the next one).
const OPEN_LIMIT: usize = 256;

/// Open directories of one staging: the target's (by relative path, "" the
/// target itself); the object store's shards are the store's own.
pub struct AtStager<'s> {
    dirs: HashMap<String, OwnedFd>,
    shards: &'s ShardDirs,
    target: OwnedFd,
}

/// Opens directory `name` (relative to `dir`) as an `O_PATH` descriptor,
/// never following a symlink.
pub(crate) fn open_path(dir: libc::c_int, name: &CString) -> io::Result<OwnedFd> {
    // SAFETY: `name` is a valid C string; the returned descriptor, if any,
    // is owned by the OwnedFd.
    let fd = unsafe {
        libc::openat(
            dir,
            name.as_ptr(),
            libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        Err(io::Error::last_os_error())
    } else {
        // SAFETY: `fd` was just opened and is not owned elsewhere.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }
}

fn c_name(name: &str) -> Option<CString> {
    CString::new(name).ok()
}

impl AtStager<'_> {
    /// For staging from the store whose shards are `shards` into `target`.
    pub fn new<'s>(shards: &'s ShardDirs, target: &Path) -> io::Result<AtStager<'s>> {
        let name = CString::new(target.as_os_str().as_bytes())?;
        Ok(AtStager {
            dirs: HashMap::new(),
            shards,
            target: open_path(libc::AT_FDCWD, &name)?,
        })
    }

    fn parent_of<'p>(&self, path: &'p str) -> Option<(libc::c_int, &'p str)> {
        let (parent, name) = path.rsplit_once('/').unwrap_or(("", path));
        let fd = if parent.is_empty() {
            self.target.as_raw_fd()
        } else {
            self.dirs.get(parent)?.as_raw_fd()
        };
        Some((fd, name))
    }

    /// Makes directory `path` (relative to the target) and keeps it open;
    /// false when that could not be done this way (something else is in
    /// the way, or its parent is not open).
    pub fn dir(&mut self, path: &str) -> bool {
        let Some((parent, name)) = self.parent_of(path) else {
            return false;
        };
        let Some(cname) = c_name(name) else { return false };
        // SAFETY: valid descriptor and C string.
        let made = unsafe { libc::mkdirat(parent, cname.as_ptr(), 0o777) } == 0;
        if !made && io::Error::last_os_error().raw_os_error() != Some(libc::EEXIST) {
            return false;
        }
        // A symlink or a file in the way fails here (O_NOFOLLOW,
        // O_DIRECTORY): the caller replaces it.
        match open_path(parent, &cname) {
            Ok(fd) => {
                self.remember(path, fd);
                true
            }
            Err(_) => false,
        }
    }

    /// Records `path` as open (after the caller made it another way).
    pub fn opened(&mut self, root: &Path, path: &str) {
        if let Ok(name) = CString::new(root.join(path).as_os_str().as_bytes())
            && let Ok(fd) = open_path(libc::AT_FDCWD, &name)
        {
            self.remember(path, fd);
        }
    }

    fn remember(&mut self, path: &str, fd: OwnedFd) {
        if self.dirs.len() >= OPEN_LIMIT {
            // Entries come sorted by path: what comes next is mostly under
            // `path` or its parents, so those stay open.
            self.dirs.retain(|dir, _| {
                path.strip_prefix(dir.as_str())
                    .is_some_and(|rest| rest.starts_with('/'))
            });
        }
        self.dirs.insert(path.to_string(), fd);
    }

    /// Links object `digest` (`exec`: its executable copy) at `path`;
    /// false when that could not be done this way.
    pub fn link(&mut self, digest: &str, exec: bool, path: &str) -> bool {
        let Some((shard, rest)) = self.shards.shard_of(digest) else {
            return false;
        };
        let (Some(source), Some((parent, name))) = (crate::objects_at::object_name(rest, exec), self.parent_of(path))
        else {
            return false;
        };
        let Some(target) = c_name(name) else { return false };
        // SAFETY: valid descriptors and C strings.
        unsafe { libc::linkat(shard, source.as_ptr(), parent, target.as_ptr(), 0) == 0 }
    }
}
