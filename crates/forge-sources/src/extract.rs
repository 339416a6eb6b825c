//! Safe extraction of tar archives (plain, gz, xz, bz2, zstd).
//!
//! Nothing may land outside the target: absolute paths and `..` are
//! refused, so are symlinks that lead out and hardlinks to outside, and no
//! entry is ever written through a symlink. Device nodes and FIFOs are
//! skipped with a warning. Modes are normalised as BuildStream does: files
//! 0644, or 0755 when the owner may execute; directories 0755; no setuid,
//! setgid or sticky bits.

use std::fs::{self, File};
use std::io::{self, BufReader, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

/// What extraction did besides writing files.
#[derive(Debug, Default)]
pub struct ExtractReport {
    /// Entries skipped, and why.
    pub warnings: Vec<String>,
}

/// Opens `archive` with the decompressor its first bytes call for.
pub fn open_compressed(archive: &Path) -> io::Result<Box<dyn Read>> {
    let mut file = File::open(archive)?;
    let mut magic = [0u8; 6];
    let n = read_fully(&mut file, &mut magic)?;
    decoder(&magic[..n], BufReader::new(File::open(archive)?))
}

/// Reads `bytes` with the decompressor their first bytes call for.
pub fn decompressed(bytes: &[u8]) -> io::Result<Box<dyn Read + '_>> {
    decoder(&bytes[..bytes.len().min(6)], bytes)
}

/// Reads `reader` with the decompressor its first bytes call for, without
/// reading ahead more than they are.
pub fn decompress_stream<'a, R: io::BufRead + 'a>(mut reader: R) -> io::Result<Box<dyn Read + 'a>> {
    let magic = reader.fill_buf()?;
    let magic = magic[..magic.len().min(6)].to_vec();
    decoder(&magic, reader)
}

fn decoder<'a, R: io::BufRead + 'a>(magic: &[u8], reader: R) -> io::Result<Box<dyn Read + 'a>> {
    Ok(match magic {
        [0x1f, 0x8b, ..] => Box::new(flate2::bufread::MultiGzDecoder::new(reader)),
        [0xfd, b'7', b'z', b'X', b'Z', 0x00] => Box::new(liblzma::bufread::XzDecoder::new_multi_decoder(reader)),
        [b'B', b'Z', b'h', ..] => Box::new(bzip2::bufread::MultiBzDecoder::new(reader)),
        [0x28, 0xb5, 0x2f, 0xfd, ..] => Box::new(zstd::stream::read::Decoder::with_buffer(reader)?),
        _ => Box::new(reader),
    })
}

fn read_fully(file: &mut File, buffer: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match file.read(&mut buffer[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// The entry path as a clean relative path, or an error for `..` and
/// absolute paths.
fn clean_relative(raw: &Path, what: &str) -> io::Result<PathBuf> {
    let mut clean = PathBuf::new();
    for component in raw.components() {
        match component {
            Component::Normal(part) => clean.push(part),
            Component::CurDir => {}
            Component::ParentDir => return Err(invalid(format!("{what} '{}' climbs out with '..'", shown(raw)))),
            Component::RootDir | Component::Prefix(_) => {
                return Err(invalid(format!("{what} '{}' is an absolute path", shown(raw))));
            }
        }
    }
    Ok(clean)
}

/// Refuses a path whose parent directories include a symlink: writing
/// there could land anywhere.
fn check_no_symlink_parents(root: &Path, relative: &Path) -> io::Result<()> {
    let mut current = root.to_path_buf();
    let parent = relative.parent().unwrap_or(Path::new(""));
    for component in parent.components() {
        current.push(component);
        match fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(invalid(format!(
                    "entry '{}' would be written through the symlink '{}'",
                    shown(relative),
                    shown(current.strip_prefix(root).unwrap_or(&current))
                )));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Whether a symlink at `link` (relative to the root) with `target` stays
/// inside the root.
fn symlink_stays_inside(link: &Path, target: &Path) -> bool {
    if target.is_absolute() {
        // Absolute links are kept as links (they are never followed here);
        // BuildStream keeps them too.
        return true;
    }
    let mut depth: i64 = link.parent().map(|p| p.components().count() as i64).unwrap_or(0);
    for component in target.components() {
        match component {
            Component::ParentDir => depth -= 1,
            Component::Normal(_) => depth += 1,
            _ => {}
        }
        if depth < 0 {
            return false;
        }
    }
    true
}

/// A path from an archive as it may be printed: control characters escaped.
fn shown(path: &Path) -> String {
    forge_project::error::printable_line(&path.to_string_lossy())
}

fn remove_existing(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(_) => fs::remove_file(path),
        Err(_) => Ok(()),
    }
}

/// Extracts `reader` (a tar stream) into `target`, which must exist.
pub fn extract_tar(reader: impl Read, target: &Path) -> io::Result<ExtractReport> {
    extract_tar_but(reader, target, |_| false)
}

/// [`extract_tar`], leaving out the entries whose clean relative path
/// `skip` accepts.
pub fn extract_tar_but(
    reader: impl Read,
    target: &Path,
    mut skip: impl FnMut(&Path) -> bool,
) -> io::Result<ExtractReport> {
    let mut report = ExtractReport::default();
    let mut archive = tar::Archive::new(reader);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let raw_path = entry.path()?.into_owned();
        let relative = clean_relative(&raw_path, "entry")?;
        if relative.as_os_str().is_empty() || skip(&relative) {
            continue;
        }
        check_no_symlink_parents(target, &relative)?;
        let destination = target.join(&relative);
        let kind = entry.header().entry_type();
        let mode = entry.header().mode().unwrap_or(0o644);
        if let Some(parent) = destination.parent() {
            fs::create_dir_all(parent)?;
        }
        match kind {
            tar::EntryType::Directory => {
                remove_existing(&destination)?;
                fs::create_dir_all(&destination)?;
                fs::set_permissions(&destination, fs::Permissions::from_mode(0o755))?;
            }
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                remove_existing(&destination)?;
                let mut file = File::options().write(true).create_new(true).open(&destination)?;
                io::copy(&mut entry, &mut file)?;
                let normalised = if mode & 0o100 != 0 { 0o755 } else { 0o644 };
                fs::set_permissions(&destination, fs::Permissions::from_mode(normalised))?;
            }
            tar::EntryType::Symlink => {
                let link_target = entry
                    .link_name()?
                    .ok_or_else(|| invalid(format!("symlink '{}' has no target", shown(&relative))))?
                    .into_owned();
                if !symlink_stays_inside(&relative, &link_target) {
                    return Err(invalid(format!(
                        "symlink '{}' points outside the archive ('{}')",
                        shown(&relative),
                        shown(&link_target)
                    )));
                }
                if fs::symlink_metadata(&destination).is_ok_and(|m| m.is_dir()) {
                    return Err(invalid(format!(
                        "entry '{}' is a symlink where an earlier entry made a directory: forge does not replace a directory by a symlink, so the archive is refused",
                        shown(&relative)
                    )));
                }
                remove_existing(&destination)?;
                std::os::unix::fs::symlink(&link_target, &destination)
                    .map_err(|e| io::Error::new(e.kind(), format!("entry '{}': {e}", shown(&relative))))?;
            }
            tar::EntryType::Link => {
                let link_target = entry
                    .link_name()?
                    .ok_or_else(|| invalid(format!("hardlink '{}' has no target", shown(&relative))))?
                    .into_owned();
                let source_relative = clean_relative(&link_target, "hardlink target")?;
                check_no_symlink_parents(target, &source_relative)?;
                let source = target.join(&source_relative);
                let meta = fs::symlink_metadata(&source).map_err(|_| {
                    invalid(format!(
                        "hardlink '{}' names '{}', which is not earlier in the archive",
                        shown(&relative),
                        shown(&link_target)
                    ))
                })?;
                if !meta.is_file() {
                    return Err(invalid(format!(
                        "hardlink '{}' must name a regular file",
                        shown(&relative)
                    )));
                }
                remove_existing(&destination)?;
                fs::copy(&source, &destination)?;
            }
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                report
                    .warnings
                    .push(format!("skipped device node or FIFO '{}'", shown(&relative)));
            }
            tar::EntryType::XGlobalHeader
            | tar::EntryType::XHeader
            | tar::EntryType::GNULongName
            | tar::EntryType::GNULongLink => {}
            other => report
                .warnings
                .push(format!("skipped '{}' of unsupported type {other:?}", shown(&relative))),
        }
    }
    Ok(report)
}

/// Removes what is at `relative` under `target` (a directory with all it
/// holds; with `contents_only`, what it holds only), never through a
/// symlink, except the paths `keep` accepts (and the directories that
/// lead to them). Nothing there is no error.
pub fn remove_inside(
    target: &Path,
    relative: &Path,
    contents_only: bool,
    keep: &dyn Fn(&Path) -> bool,
) -> io::Result<()> {
    let relative = clean_relative(relative, "path")?;
    check_no_symlink_parents(target, &relative)?;
    if contents_only {
        remove_children(target, &relative, keep)
    } else {
        remove_one(target, &relative, keep)
    }
}

fn remove_one(target: &Path, relative: &Path, keep: &dyn Fn(&Path) -> bool) -> io::Result<()> {
    let path = target.join(relative);
    let Ok(meta) = fs::symlink_metadata(&path) else {
        return Ok(());
    };
    if !meta.is_dir() {
        return if keep(relative) { Ok(()) } else { fs::remove_file(&path) };
    }
    remove_children(target, relative, keep)?;
    if keep(relative) {
        Ok(())
    } else {
        // Emptied unless it leads to something kept.
        fs::remove_dir(&path).or_else(|e| {
            if e.kind() == io::ErrorKind::DirectoryNotEmpty {
                Ok(())
            } else {
                Err(e)
            }
        })
    }
}

fn remove_children(target: &Path, relative: &Path, keep: &dyn Fn(&Path) -> bool) -> io::Result<()> {
    let Ok(entries) = fs::read_dir(target.join(relative)) else {
        return Ok(());
    };
    for entry in entries {
        remove_one(target, &relative.join(entry?.file_name()), keep)?;
    }
    Ok(())
}

/// Extracts a zip archive into `target`, which must exist, with the same
/// refusals as [`extract_tar`]. Modes are those of BuildStream's `zip`
/// source: directories 0755, files 0644 (zip archives do not say reliably
/// what is executable), symlinks kept.
pub fn extract_zip(archive: &Path, target: &Path) -> io::Result<ExtractReport> {
    let file = File::open(archive)?;
    let mut zip = zip::ZipArchive::new(BufReader::new(file)).map_err(|e| invalid(format!("not a zip archive: {e}")))?;
    let mut seen = std::collections::HashSet::new();
    for index in 0..zip.len() {
        let mut entry = zip
            .by_index(index)
            .map_err(|e| invalid(format!("bad zip entry: {e}")))?;
        let raw = PathBuf::from(
            entry
                .name()
                .map_err(|e| invalid(format!("bad zip entry name: {e}")))?
                .as_ref(),
        );
        let relative = clean_relative(&raw, "entry")?;
        if relative.as_os_str().is_empty() {
            continue;
        }
        if !seen.insert(relative.clone()) {
            return Err(invalid(format!("the archive holds '{}' twice", shown(&relative))));
        }
        check_no_symlink_parents(target, &relative)?;
        let destination = target.join(&relative);
        if let Some(parent) = destination.parent() {
            fs::create_dir_all(parent)?;
        }
        let is_symlink = entry.unix_mode().is_some_and(|m| m & 0o170000 == 0o120000);
        if entry.is_dir() {
            remove_existing(&destination)?;
            fs::create_dir_all(&destination)?;
            fs::set_permissions(&destination, fs::Permissions::from_mode(0o755))?;
        } else if is_symlink {
            let mut link = String::new();
            entry.by_ref().take(4096).read_to_string(&mut link)?;
            let link_target = PathBuf::from(link);
            if !symlink_stays_inside(&relative, &link_target) {
                return Err(invalid(format!(
                    "symlink '{}' points outside the archive ('{}')",
                    shown(&relative),
                    shown(&link_target)
                )));
            }
            remove_existing(&destination)?;
            std::os::unix::fs::symlink(&link_target, &destination)?;
        } else {
            remove_existing(&destination)?;
            let mut out = File::options().write(true).create_new(true).open(&destination)?;
            io::copy(&mut entry, &mut out)?;
            fs::set_permissions(&destination, fs::Permissions::from_mode(0o644))?;
        }
    }
    Ok(ExtractReport::default())
}

/// Moves the contents of every top-level directory of `from` into `to`,
/// dropping top-level files: the community plugins' "strip the top
/// directory" staging of sdists and CPAN archives.
pub fn strip_top_dir(from: &Path, to: &Path) -> io::Result<()> {
    let mut tops: Vec<PathBuf> = fs::read_dir(from)?
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect();
    tops.sort();
    for top in tops {
        merge_into(&top, to)?;
    }
    Ok(())
}

/// Moves everything in `from` into `to`, merging directories and replacing
/// other entries.
pub fn merge_into(from: &Path, to: &Path) -> io::Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let source = entry.path();
        let target = to.join(entry.file_name());
        let meta = fs::symlink_metadata(&source)?;
        match fs::symlink_metadata(&target) {
            Ok(existing) if existing.is_dir() && meta.is_dir() => merge_into(&source, &target)?,
            Ok(existing) if existing.is_dir() => {
                fs::remove_dir_all(&target)?;
                fs::rename(&source, &target)?;
            }
            Ok(_) => {
                fs::remove_file(&target)?;
                fs::rename(&source, &target)?;
            }
            Err(_) => fs::rename(&source, &target)?,
        }
    }
    Ok(())
}

/// The directory a `base-dir` glob selects: the first match in sorted
/// order among the extracted directories (`*` does not cross `/`).
pub fn find_base_dir(root: &Path, pattern: &str) -> io::Result<PathBuf> {
    if pattern.is_empty() {
        return Ok(root.to_path_buf());
    }
    let mut dirs = Vec::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(root.join(&dir))? {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                let relative = dir.join(entry.file_name());
                pending.push(relative.clone());
                dirs.push(relative);
            }
        }
    }
    dirs.sort();
    dirs.into_iter()
        .find(|d| glob_matches(pattern, &d.to_string_lossy()))
        .map(|d| root.join(d))
        .ok_or_else(|| invalid(format!("no directory in the archive matches base-dir '{pattern}'")))
}

/// Shell-style matching where `*` and `?` stay within one path component
/// and `**` crosses them.
pub fn glob_matches(pattern: &str, text: &str) -> bool {
    fn matches(p: &[u8], t: &[u8]) -> bool {
        match p.first() {
            None => t.is_empty(),
            Some(b'*') if p.get(1) == Some(&b'*') => (0..=t.len()).any(|i| matches(&p[2..], &t[i..])),
            Some(b'*') => (0..=t.len())
                .take_while(|&i| i == 0 || t[i - 1] != b'/')
                .any(|i| matches(&p[1..], &t[i..])),
            Some(b'?') => t.first().is_some_and(|c| *c != b'/') && matches(&p[1..], &t[1..]),
            Some(b'[') => {
                let Some(close) = p.iter().position(|c| *c == b']') else {
                    return t.first() == Some(&b'[') && matches(&p[1..], &t[1..]);
                };
                let (negate, set) = match p.get(1) {
                    Some(b'!') => (true, &p[2..close]),
                    _ => (false, &p[1..close]),
                };
                let Some(c) = t.first() else { return false };
                let mut found = false;
                let mut i = 0;
                while i < set.len() {
                    if i + 2 < set.len() && set[i + 1] == b'-' {
                        found |= set[i] <= *c && *c <= set[i + 2];
                        i += 3;
                    } else {
                        found |= set[i] == *c;
                        i += 1;
                    }
                }
                found != negate && *c != b'/' && matches(&p[close + 1..], &t[1..])
            }
            Some(c) => t.first() == Some(c) && matches(&p[1..], &t[1..]),
        }
    }
    matches(pattern.as_bytes(), text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_matches("*", "hello-2.10"));
        assert!(!glob_matches("*", "a/b"));
        assert!(glob_matches("*/src", "a/src"));
        assert!(glob_matches("**/src", "a/b/src"));
        assert!(glob_matches("hello-?.*", "hello-2.10"));
        assert!(glob_matches("[a-c]x", "bx") && !glob_matches("[!a-c]x", "bx"));
        assert!(glob_matches("/usr/lib/lib*.so*", "/usr/lib/libc.so.6"));
        assert!(!glob_matches("/usr/lib/lib*.so*", "/usr/lib/x/libc.so"));
    }

    #[test]
    fn every_compression_is_recognised() {
        use std::io::Write;
        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(5);
        header.set_mode(0o755);
        builder.append_data(&mut header, "top/hello", &b"hello"[..]).unwrap();
        let plain = builder.into_inner().unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&plain).unwrap();
        let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
        bz.write_all(&plain).unwrap();
        let mut xz = liblzma::write::XzEncoder::new(Vec::new(), 6);
        xz.write_all(&plain).unwrap();
        let zst = zstd::encode_all(&plain[..], 3).unwrap();
        let archives = [
            ("plain", plain.clone()),
            ("gz", gz.finish().unwrap()),
            ("bz2", bz.finish().unwrap()),
            ("xz", xz.finish().unwrap()),
            ("zst", zst),
        ];
        for (name, bytes) in archives {
            let dir = tempfile::tempdir().unwrap();
            let archive = dir.path().join(name);
            fs::write(&archive, bytes).unwrap();
            let target = dir.path().join("out");
            fs::create_dir(&target).unwrap();
            extract_tar(open_compressed(&archive).unwrap(), &target).unwrap();
            assert_eq!(fs::read(target.join("top/hello")).unwrap(), b"hello", "{name}");
            let mode = fs::metadata(target.join("top/hello")).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o755, "{name}");
        }
    }

    #[test]
    fn a_symlink_over_a_directory_is_refused_by_name() {
        let mut builder = tar::Builder::new(Vec::new());
        let mut dir = tar::Header::new_gnu();
        dir.set_entry_type(tar::EntryType::Directory);
        dir.set_mode(0o755);
        dir.set_size(0);
        builder.append_data(&mut dir, "top/lib", &b""[..]).unwrap();
        let mut link = tar::Header::new_gnu();
        link.set_entry_type(tar::EntryType::Symlink);
        link.set_size(0);
        builder.append_link(&mut link, "top/lib", "elsewhere").unwrap();
        let bytes = builder.into_inner().unwrap();
        let out = tempfile::tempdir().unwrap();
        let err = extract_tar(&bytes[..], out.path()).unwrap_err().to_string();
        assert!(
            err.contains("entry 'top/lib' is a symlink where an earlier entry made a directory"),
            "{err}"
        );
        assert_eq!(shown(Path::new("a\u{1b}[2Jb")), "a\\u{1b}[2Jb");
    }

    #[test]
    fn symlink_escape_detection() {
        assert!(symlink_stays_inside(Path::new("a/link"), Path::new("../b")));
        assert!(!symlink_stays_inside(Path::new("a/link"), Path::new("../../b")));
        assert!(!symlink_stays_inside(Path::new("link"), Path::new("x/../../etc")));
        assert!(symlink_stays_inside(Path::new("link"), Path::new("/etc/passwd")));
    }
}
