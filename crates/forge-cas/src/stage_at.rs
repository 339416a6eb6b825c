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

use crate::manifest::{Entry, EntryKind};
use crate::objects_at::ShardDirs;

/// Open directories are dropped past this many (all but the parents of
/// the next one): a quarter of the process's descriptor limit, within
/// these bounds.
const OPEN_MIN: usize = 64;
const OPEN_MAX: usize = 4096;

/// Fewer links than this are made on the calling thread: a thread costs
/// about as much to start as a few links.
const PARALLEL_FROM: usize = 64;

/// How many directories a staging keeps open.
pub(crate) fn open_limit() -> usize {
    static LIMIT: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *LIMIT.get_or_init(|| {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: a valid buffer for one rlimit.
        let soft = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0 {
            limit.rlim_cur as usize
        } else {
            1024
        };
        (soft / 4).clamp(OPEN_MIN, OPEN_MAX)
    })
}

/// Open directories of one staging: the target's (by relative path, "" the
/// target itself); the object store's shards are the store's own.
pub struct AtStager<'s> {
    dirs: HashMap<String, OwnedFd>,
    /// How many `dirs` may hold.
    limit: usize,
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
    /// For staging from the store whose shards are `shards` into `target`,
    /// keeping up to `limit` directories open.
    pub fn new<'s>(shards: &'s ShardDirs, target: &Path, limit: usize) -> io::Result<AtStager<'s>> {
        let name = CString::new(target.as_os_str().as_bytes())?;
        Ok(AtStager {
            dirs: HashMap::new(),
            limit,
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

    /// Whether the next directory opened drops others (so links waiting
    /// for their directories should be made first).
    pub fn is_full(&self) -> bool {
        self.dirs.len() >= self.limit
    }

    fn remember(&mut self, path: &str, fd: OwnedFd) {
        if self.is_full() {
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
    pub fn link(&self, digest: &str, exec: bool, path: &str) -> bool {
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

    /// Links the file entries `files`, on several threads when there are
    /// many: a link is almost all kernel time, and links into different
    /// directories do not wait for each other. Returns the entries that
    /// could not be linked this way, in their order.
    pub fn link_all<'e>(&self, files: &[&'e Entry]) -> Vec<&'e Entry> {
        let unlinked = |part: &[&'e Entry]| -> Vec<&'e Entry> {
            part.iter()
                .copied()
                .filter(|entry| match &entry.kind {
                    EntryKind::File { digest, exec, .. } => !self.link(digest, *exec, &entry.path),
                    _ => true,
                })
                .collect()
        };
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .min(4);
        if threads < 2 || files.len() < PARALLEL_FROM {
            return unlinked(files);
        }
        // Contiguous parts: entries are sorted by path, so each thread
        // mostly links into directories of its own.
        let part = files.len().div_ceil(threads);
        std::thread::scope(|scope| {
            let handles: Vec<_> = files
                .chunks(part)
                .map(|part| scope.spawn(move || unlinked(part)))
                .collect();
            handles
                .into_iter()
                .flat_map(|handle| handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
                .collect()
        })
    }
}
