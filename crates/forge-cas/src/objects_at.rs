//! Objects written relative to open shard directories, as unnamed files
//! given their name once complete. A cold build stores tens of thousands
//! of objects; by whole paths each one cost a lookup of the object, a
//! temporary's creation and a rename, every one walking the seven
//! components of the path, which was a fifth of the build's time. Here
//! each of the 256 shards is opened once; an object is looked up by its
//! name in it, written as an `O_TMPFILE` and linked under its name when
//! complete, so a crash or a failed write leaves nothing behind and a
//! half-written object is never visible. Where the filesystem or the
//! system refuses any of it, [`ShardDirs::put`] says so and the caller
//! uses the path-based code.

use std::ffi::CString;
use std::fs;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, Ordering};

/// How a finished unnamed file is given its name, found on first use:
/// `linkat(AT_EMPTY_PATH)` needs a capability most users lack, the
/// `/proc/self/fd` form needs /proc.
const LINK_UNKNOWN: u8 = 0;
const LINK_EMPTY_PATH: u8 = 1;
const LINK_PROC: u8 = 2;
const LINK_NONE: u8 = 3;

/// The open shard directories of one store's `objects/`.
#[derive(Debug)]
pub(crate) struct ShardDirs {
    objects: PathBuf,
    shards: Box<[OnceLock<Option<OwnedFd>>]>,
    link: AtomicU8,
}

/// What [`ShardDirs::put`] did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Put {
    /// The object is now stored.
    Stored,
    /// It was there already (its time was set to now).
    Present,
    /// This way is not open here: use the path-based code.
    Unavailable,
}

/// The name in its shard of the object whose digest ends in `rest` (its
/// executable copy: `.x` added).
pub(crate) fn object_name(rest: &str, exec: bool) -> Option<CString> {
    CString::new(if exec { format!("{rest}.x") } else { rest.to_string() }).ok()
}

fn last_error() -> io::Error {
    io::Error::last_os_error()
}

impl ShardDirs {
    pub(crate) fn new(objects: PathBuf) -> ShardDirs {
        ShardDirs {
            objects,
            shards: (0..256).map(|_| OnceLock::new()).collect(),
            link: AtomicU8::new(LINK_UNKNOWN),
        }
    }

    /// The open shard of `digest` (made if missing) and the object's name
    /// in it, without the exec suffix.
    pub(crate) fn shard_of<'d>(&self, digest: &'d str) -> Option<(libc::c_int, &'d str)> {
        let index = digest.get(..2).and_then(|s| usize::from_str_radix(s, 16).ok())?;
        let fd = self.shards[index].get_or_init(|| {
            let dir = self.objects.join(format!("{index:02x}"));
            fs::create_dir_all(&dir).ok()?;
            let name = CString::new(dir.as_os_str().as_bytes()).ok()?;
            crate::stage_at::open_path(libc::AT_FDCWD, &name).ok()
        });
        Some((fd.as_ref()?.as_raw_fd(), &digest[2..]))
    }

    /// Stores `bytes` as object `digest` (lowercase hex, checked by the
    /// caller) with `mode`. `look_first`: an object already there is
    /// left as it is (and marked used) without writing anything.
    pub(crate) fn put(&self, digest: &str, exec: bool, bytes: &[u8], mode: u32, look_first: bool) -> io::Result<Put> {
        if self.link.load(Ordering::Relaxed) == LINK_NONE {
            return Ok(Put::Unavailable);
        }
        let Some((shard, rest)) = self.shard_of(digest) else {
            return Ok(Put::Unavailable);
        };
        let Some(name) = object_name(rest, exec) else {
            return Ok(Put::Unavailable);
        };
        if look_first && present(shard, &name) {
            return Ok(Put::Present);
        }
        // SAFETY: valid descriptor and C string; the descriptor is owned below.
        let fd = unsafe {
            libc::openat(
                shard,
                c".".as_ptr(),
                libc::O_TMPFILE | libc::O_WRONLY | libc::O_CLOEXEC,
                mode as libc::c_uint,
            )
        };
        if fd < 0 {
            let err = last_error();
            return match err.raw_os_error() {
                // No O_TMPFILE on this filesystem, or a shard removed
                // under us: the path-based code copes.
                Some(libc::EOPNOTSUPP | libc::EISDIR | libc::EINVAL | libc::ENOENT) => Ok(Put::Unavailable),
                _ => Err(err),
            };
        }
        // SAFETY: just opened, owned by nothing else.
        let mut file = fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
        file.write_all(bytes)?;
        if crate::store::umask_narrows(mode) {
            file.set_permissions(fs::Permissions::from_mode(mode))?;
        }
        match self.link(&file, shard, &name) {
            Ok(true) => Ok(Put::Stored),
            // Another process stored the same bytes meanwhile.
            Ok(false) => Ok(Put::Present),
            Err(err) if err.kind() == io::ErrorKind::Unsupported => Ok(Put::Unavailable),
            Err(err) => Err(err),
        }
    }

    /// The size of object `digest` (`Some(None)`: not stored), looked up
    /// in its open shard; `None` where the shard cannot be opened, for
    /// the path-based code to answer.
    pub(crate) fn size(&self, digest: &str, exec: bool) -> Option<Option<u64>> {
        let (shard, rest) = self.shard_of(digest)?;
        if !rest.bytes().all(|b| b.is_ascii_hexdigit()) {
            // Not a digest, so not an object (and never a path to follow).
            return Some(None);
        }
        let name = object_name(rest, exec)?;
        let mut stat = std::mem::MaybeUninit::<libc::stat>::uninit();
        // SAFETY: valid descriptor, C string and buffer for one stat.
        let found = unsafe { libc::fstatat(shard, name.as_ptr(), stat.as_mut_ptr(), 0) } == 0;
        // SAFETY: fstatat filled it when it succeeded.
        Some(found.then(|| unsafe { stat.assume_init() }.st_size as u64))
    }

    /// Names the unnamed `file` `name` in `shard`: Ok(false) if the name
    /// is taken, `Unsupported` if neither way works here.
    fn link(&self, file: &fs::File, shard: libc::c_int, name: &CString) -> io::Result<bool> {
        let fd = file.as_raw_fd();
        let by_empty_path = || {
            // SAFETY: valid descriptors and C strings.
            unsafe { libc::linkat(fd, c"".as_ptr(), shard, name.as_ptr(), libc::AT_EMPTY_PATH) }
        };
        let by_proc = || {
            let Ok(path) = CString::new(format!("/proc/self/fd/{fd}")) else {
                return -1;
            };
            // SAFETY: valid descriptors and C strings.
            unsafe {
                libc::linkat(
                    libc::AT_FDCWD,
                    path.as_ptr(),
                    shard,
                    name.as_ptr(),
                    libc::AT_SYMLINK_FOLLOW,
                )
            }
        };
        let outcome = |result: libc::c_int| -> Option<io::Result<bool>> {
            if result == 0 {
                return Some(Ok(true));
            }
            let err = last_error();
            match err.raw_os_error() {
                Some(libc::EEXIST) => Some(Ok(false)),
                // The way itself is refused (no capability, no /proc).
                Some(libc::ENOENT | libc::EPERM | libc::EACCES | libc::EINVAL) => None,
                _ => Some(Err(err)),
            }
        };
        let known = self.link.load(Ordering::Relaxed);
        let refused = || io::Error::new(io::ErrorKind::Unsupported, "cannot name unnamed files here");
        if known != LINK_PROC {
            if let Some(done) = outcome(by_empty_path()) {
                self.link.store(LINK_EMPTY_PATH, Ordering::Relaxed);
                return done;
            }
            if known == LINK_EMPTY_PATH {
                return Err(refused());
            }
        }
        if let Some(done) = outcome(by_proc()) {
            self.link.store(LINK_PROC, Ordering::Relaxed);
            return done;
        }
        if known == LINK_UNKNOWN {
            self.link.store(LINK_NONE, Ordering::Relaxed);
        }
        Err(refused())
    }
}

/// Whether object `name` is in `shard`; if so its time is set to now, as
/// if just stored: `gc` spares recent objects while builds run, and a
/// build may be about to name this one in a new artifact.
fn present(shard: libc::c_int, name: &CString) -> bool {
    // SAFETY: valid descriptor and C string; a null `times` means now.
    unsafe { libc::utimensat(shard, name.as_ptr(), std::ptr::null(), libc::AT_SYMLINK_NOFOLLOW) == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    const DIGEST: &str = "ab00000000000000000000000000000000000000000000000000000000000001";

    fn each_way(test: impl Fn(&ShardDirs, &std::path::Path)) {
        for way in [LINK_UNKNOWN, LINK_PROC] {
            let dir = tempfile::tempdir().unwrap();
            let shards = ShardDirs::new(dir.path().join("objects"));
            shards.link.store(way, Ordering::Relaxed);
            test(&shards, dir.path());
        }
    }

    #[test]
    fn objects_appear_whole_under_their_name_and_once() {
        each_way(|shards, root| {
            let object = root.join("objects/ab").join(&DIGEST[2..]);
            assert_eq!(shards.size(DIGEST, false), Some(None));
            assert_eq!(shards.put(DIGEST, false, b"content", 0o444, true).unwrap(), Put::Stored);
            assert_eq!(shards.size(DIGEST, false), Some(Some(7)));
            assert_eq!(
                shards.size(DIGEST, true),
                Some(None),
                "the plain copy is not the executable one"
            );
            assert_eq!(shards.size(&format!("ab/../{}", &DIGEST[8..]), false), Some(None));
            assert_eq!(fs::read(&object).unwrap(), b"content");
            assert_eq!(fs::metadata(&object).unwrap().mode() & 0o777, 0o444);
            // Nothing else is left in the shard: the file had no name
            // until it was complete.
            assert_eq!(fs::read_dir(root.join("objects/ab")).unwrap().count(), 1);
            // Looked for first: found, not written.
            assert_eq!(shards.put(DIGEST, false, b"other", 0o444, true).unwrap(), Put::Present);
            // Not looked for (a pull): the name is taken, the first copy stays.
            assert_eq!(shards.put(DIGEST, false, b"other", 0o444, false).unwrap(), Put::Present);
            assert_eq!(fs::read(&object).unwrap(), b"content");
            // The executable copy is its own object.
            assert_eq!(shards.put(DIGEST, true, b"content", 0o555, true).unwrap(), Put::Stored);
            let exec = root.join("objects/ab").join(format!("{}.x", &DIGEST[2..]));
            assert_eq!(fs::metadata(exec).unwrap().mode() & 0o777, 0o555);
        });
    }

    #[test]
    fn a_store_it_cannot_open_is_left_to_the_path_code() {
        let dir = tempfile::tempdir().unwrap();
        // `objects` is a file: no shard can be made under it.
        fs::write(dir.path().join("objects"), b"").unwrap();
        let shards = ShardDirs::new(dir.path().join("objects"));
        assert_eq!(shards.put(DIGEST, false, b"x", 0o444, true).unwrap(), Put::Unavailable);
        assert_eq!(shards.put("zz", false, b"x", 0o444, true).unwrap(), Put::Unavailable);
        assert_eq!(shards.size(DIGEST, false), None);
    }
}
