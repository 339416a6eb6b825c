//! Installing a wheel without running any of its code (PEP 427, PEP 491).
//!
//! Every member is checked against RECORD (a missing, extra or mismatched
//! file is an error naming it) and never written unless it matches;
//! members may not escape the target or be symlinks, and are read in
//! bounded memory whatever their size (see [`crate::wheel_zip`]). `.data/` subdirectories go to their
//! scheme paths, `#!python` scripts get the target interpreter, entry points
//! become small scripts, and INSTALLER, REQUESTED and a new RECORD are
//! written. The same wheel always gives the same files.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use std::io::Read;

use sha2::{Digest, Sha256};

use crate::Version;
use crate::names::{DistFile, parse_filename};
use crate::wheel_zip::{Member, MemberStream, PooledReader, WheelZip, WholeReader};

/// Where the parts of a wheel go.
#[derive(Clone, Debug)]
pub struct Layout {
    /// Pure-Python modules (site-packages).
    pub purelib: PathBuf,
    /// Compiled modules (site-packages too, on Debian-like layouts).
    pub platlib: PathBuf,
    /// Scripts and entry points (`bin`).
    pub scripts: PathBuf,
    /// C headers; the project name is appended.
    pub headers: PathBuf,
    /// Data files (`prefix`).
    pub data: PathBuf,
}

/// What was installed.
#[derive(Clone, Debug)]
pub struct Installed {
    /// Project name (as in the wheel).
    pub name: String,
    /// Version.
    pub version: String,
    /// How many files were written (RECORD included).
    pub files: usize,
}

/// Why a wheel could not be installed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstallError(pub String);

impl std::fmt::Display for InstallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn fail(wheel: &str, message: impl std::fmt::Display) -> InstallError {
    InstallError(format!("{wheel}: {message}"))
}

/// `sha256=` + urlsafe base64 without padding, as RECORD writes hashes.
pub fn record_hash(bytes: &[u8]) -> String {
    record_hash_of(&Sha256::digest(bytes))
}

/// [`record_hash`] of a SHA-256 already computed.
fn record_hash_of(digest: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::from("sha256=");
    for chunk in digest.chunks(3) {
        let n = chunk.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)) << (8 * (3 - chunk.len()));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Splits one CSV line (RECORD quotes paths that hold commas).
fn csv_fields(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(std::mem::take(&mut field)),
            c => field.push(c),
        }
    }
    fields.push(field);
    fields
}

fn csv_quote(field: &str) -> String {
    if field.contains([',', '"', '\n']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

/// A member name as a clean relative path, or why it is refused.
fn member_path(name: &str) -> Result<PathBuf, String> {
    if name.contains('\\') {
        return Err(format!("member '{name}' uses backslashes"));
    }
    let path = Path::new(name);
    let mut clean = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => clean.push(part),
            Component::CurDir => {}
            _ => return Err(format!("member '{name}' would be written outside the target")),
        }
    }
    if clean.as_os_str().is_empty() {
        return Err(format!("member '{name}' has no name"));
    }
    Ok(clean)
}

/// The console and GUI scripts of `entry_points.txt`: (name, module, attr).
pub fn entry_points(text: &str) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let mut section = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') && line.ends_with(']') {
            section = line[1..line.len() - 1].trim().to_string();
            continue;
        }
        if section != "console_scripts" && section != "gui_scripts" {
            continue;
        }
        let Some((name, target)) = line.split_once('=') else {
            continue;
        };
        // Drop extras (`module:attr [extra]`).
        let target = target.split('[').next().unwrap_or("").trim();
        if let Some((module, attr)) = target.split_once(':') {
            out.push((
                name.trim().to_string(),
                module.trim().to_string(),
                attr.trim().to_string(),
            ));
        }
    }
    out
}

/// The script pip writes for an entry point (distlib's template).
pub fn entry_point_script(python: &str, module: &str, attr: &str) -> String {
    let import_name = attr.split('.').next().unwrap_or(attr);
    format!(
        "#!{python}\n# -*- coding: utf-8 -*-\nimport re\nimport sys\nfrom {module} import {import_name}\nif __name__ == '__main__':\n    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n    sys.exit({attr}())\n"
    )
}

/// Where installed files go: a directory tree ([`DirSink`]) or, for a
/// caller that stores them elsewhere (an artifact cache), anything that
/// takes a path under the layout and its bytes. Members are written from
/// several threads at once.
pub trait Sink: Sync {
    /// Writes one file; a path written twice is an error. `sha256` is the
    /// SHA-256 (lowercase hex) when the caller computed it from `bytes`:
    /// a content-addressed sink need not hash them again.
    fn write(&self, path: &Path, bytes: &[u8], executable: bool, sha256: Option<&str>) -> Result<(), String>;

    /// Writes a file too large to hold in memory, read from `content` to
    /// its end; the file may become visible only once
    /// [`StreamedFile::verify`] accepts it (an error from `verify` is
    /// returned as it is).
    fn write_stream(&self, path: &Path, content: &mut StreamedFile<'_>, executable: bool) -> Result<(), String>;
}

/// A large member's content for [`Sink::write_stream`], hashed as it is
/// read.
pub struct StreamedFile<'z> {
    stream: MemberStream<'z>,
    expected: &'z Expected,
}

impl Read for StreamedFile<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.stream.read(buf)
    }
}

impl StreamedFile<'_> {
    /// Once read to the end: its SHA-256 (lowercase hex), if it is the
    /// content the archive and RECORD say.
    pub fn verify(&mut self) -> Result<String, String> {
        let name = &self.expected.member;
        let digest = self.stream.finish().map_err(|e| format!("cannot read '{name}': {e}"))?;
        // RECORD's signatures cannot be listed in it: nothing to compare.
        if !self.expected.hash.is_empty() {
            self.expected.check(&digest, self.stream.bytes_read())?;
        }
        Ok(hex(&digest))
    }
}

/// What RECORD says of a member.
struct Expected {
    member: String,
    hash: String,
    size: String,
}

impl Expected {
    fn check(&self, digest: &[u8; 32], size: u64) -> Result<(), String> {
        let member = &self.member;
        let actual = record_hash_of(digest);
        if self.hash != actual {
            return Err(format!(
                "'{member}' does not match RECORD: expected {}, got {actual}",
                self.hash
            ));
        }
        if !self.size.is_empty() && self.size.parse::<u64>().ok() != Some(size) {
            return Err(format!("'{member}' has {size} bytes, RECORD says {}", self.size));
        }
        Ok(())
    }
}

/// Writes files into the file system; remembers the directories known to
/// exist (a wheel has thousands of files in a few directories: each is
/// created once).
#[derive(Default)]
pub struct DirSink {
    dirs: std::sync::Mutex<BTreeSet<PathBuf>>,
}

impl DirSink {
    fn make_parent(&self, path: &Path) -> Result<(), String> {
        let Some(parent) = path.parent() else {
            return Ok(());
        };
        let mut dirs = self.dirs.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if !dirs.contains(parent) {
            fs::create_dir_all(parent).map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
            dirs.insert(parent.to_path_buf());
        }
        Ok(())
    }

    fn create(path: &Path, executable: bool) -> Result<fs::File, String> {
        use std::os::unix::fs::OpenOptionsExt;
        let mode = if executable { 0o755 } else { 0o644 };
        let file = fs::File::options()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(path)
            .map_err(|e| {
                if e.kind() == std::io::ErrorKind::AlreadyExists {
                    format!("{} is installed twice", path.display())
                } else {
                    format!("cannot write {}: {e}", path.display())
                }
            })?;
        // The umask may have taken bits away.
        if file
            .metadata()
            .map(|m| m.permissions().mode() & 0o777 != mode)
            .unwrap_or(true)
        {
            file.set_permissions(fs::Permissions::from_mode(mode))
                .map_err(|e| format!("cannot set the mode of {}: {e}", path.display()))?;
        }
        Ok(file)
    }
}

impl Sink for DirSink {
    fn write(&self, path: &Path, bytes: &[u8], executable: bool, _sha256: Option<&str>) -> Result<(), String> {
        use std::io::Write;
        self.make_parent(path)?;
        Self::create(path, executable)?
            .write_all(bytes)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))
    }

    fn write_stream(&self, path: &Path, content: &mut StreamedFile<'_>, executable: bool) -> Result<(), String> {
        self.make_parent(path)?;
        if path.symlink_metadata().is_ok() {
            return Err(format!("{} is installed twice", path.display()));
        }
        // Written beside its place, renamed in once verified.
        let name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
        let temporary = path.with_file_name(format!(".{name}.forge-partial"));
        let written = (|| {
            let mut file = Self::create(&temporary, executable)?;
            std::io::copy(content, &mut file).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            content.verify()?;
            fs::rename(&temporary, path).map_err(|e| format!("cannot write {}: {e}", path.display()))
        })();
        if written.is_err() {
            let _ = fs::remove_file(&temporary);
        }
        written
    }
}

/// Installs `wheel` into `layout`; scripts get `python` as interpreter.
pub fn install_wheel(wheel: &Path, layout: &Layout, python: &str) -> Result<Installed, InstallError> {
    let file_name = wheel
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("wheel")
        .to_string();
    install_wheel_named(&file_name, wheel, layout, python)
}

/// Installs the wheel called `file_name` stored at `wheel` into the file
/// system.
pub fn install_wheel_named(
    file_name: &str,
    wheel: &Path,
    layout: &Layout,
    python: &str,
) -> Result<Installed, InstallError> {
    install_wheel_into(file_name, wheel, layout, python, &DirSink::default())
}

/// The largest `#!python` script rewritten (in memory).
const SCRIPT_LIMIT: u64 = crate::wheel_zip::WHOLE_MEMBER_LIMIT;

/// A member to install and where.
struct Planned<'z> {
    member: &'z Member,
    destination: PathBuf,
    is_script: bool,
    expected: Expected,
}

/// Installs the wheel called `file_name` (its name and tags come from it)
/// stored at `wheel`, which may be a cache path with another name, into
/// `sink`, at the paths of `layout`.
///
/// Every name is checked first (RECORD lists every member and every
/// listed member exists, nothing escapes, the metadata is sound), then
/// members are read, checked against their CRC-32 and RECORD and written
/// one by one in bounded memory, on several cores for large wheels. A
/// member that fails is never written; members written before it stay,
/// so callers install into a place they discard on error (a build's
/// output; objects no tree names).
pub fn install_wheel_into(
    file_name: &str,
    wheel: &Path,
    layout: &Layout,
    python: &str,
    sink: &dyn Sink,
) -> Result<Installed, InstallError> {
    let w = file_name;
    let Some(DistFile::Wheel { name, version, .. }) = parse_filename(w) else {
        return Err(fail(w, "not a wheel file name"));
    };
    let archive = WheelZip::open(wheel).map_err(|e| fail(w, e))?;
    let mut files: BTreeMap<&str, &Member> = BTreeMap::new();
    for member in archive.members() {
        if member.is_dir {
            member_path(member.name.trim_end_matches('/')).map_err(|e| fail(w, e))?;
        } else {
            member_path(&member.name).map_err(|e| fail(w, e))?;
            files.insert(&member.name, member);
        }
    }

    let dist_infos: BTreeSet<&str> = files
        .keys()
        .filter_map(|m| m.split('/').next())
        .filter(|top| top.ends_with(".dist-info"))
        .collect();
    let dist_info = match dist_infos.len() {
        1 => dist_infos.into_iter().next().expect("one").to_string(),
        0 => return Err(fail(w, "there is no .dist-info directory")),
        _ => return Err(fail(w, "there is more than one .dist-info directory")),
    };
    check_dist_info_name(&dist_info, &name, &version).map_err(|e| fail(w, e))?;
    let mut whole = PooledReader::take();
    let mut read_metadata = |file: &str| -> Result<Option<String>, InstallError> {
        let path = format!("{dist_info}/{file}");
        let Some(member) = files.get(path.as_str()) else {
            return Ok(None);
        };
        // Bounded by what is read whole (WHOLE_MEMBER_LIMIT).
        let bytes = archive
            .read_whole(member, &mut whole)
            .map_err(|e| fail(w, format!("cannot read '{path}': {e}")))?;
        Ok(Some(String::from_utf8_lossy(bytes).into_owned()))
    };
    let record_name = format!("{dist_info}/RECORD");
    let record_text = read_metadata("RECORD")?.ok_or_else(|| fail(w, format!("{record_name} is missing")))?;
    let wheel_meta = read_metadata("WHEEL")?.ok_or_else(|| fail(w, format!("{dist_info}/WHEEL is missing")))?;
    check_wheel_version(&wheel_meta).map_err(|e| fail(w, format!("{dist_info}/WHEEL: {e}")))?;
    let entry_points_text = read_metadata("entry_points.txt")?;
    let root_is_purelib = !wheel_meta
        .lines()
        .any(|l| l.replace(' ', "").eq_ignore_ascii_case("Root-Is-Purelib:false"));

    let mut recorded: BTreeMap<String, (String, String)> = BTreeMap::new();
    for line in record_text.lines().filter(|l| !l.trim().is_empty()) {
        let fields = csv_fields(line);
        let path = fields.first().cloned().unwrap_or_default();
        recorded.insert(
            path,
            (
                fields.get(1).cloned().unwrap_or_default(),
                fields.get(2).cloned().unwrap_or_default(),
            ),
        );
    }

    let data_dir = format!("{}.data", dist_info.trim_end_matches(".dist-info"));
    let root = if root_is_purelib {
        &layout.purelib
    } else {
        &layout.platlib
    };
    // RECORD against the members, by name, before any member is read.
    let mut planned = Vec::with_capacity(files.len());
    for (&member_name, &member) in &files {
        if member_name == record_name {
            continue;
        }
        let expected = if member_name.ends_with("/RECORD.jws") || member_name.ends_with("/RECORD.p7s") {
            // Signatures of RECORD cannot be listed in it.
            Expected {
                member: member_name.to_string(),
                hash: String::new(),
                size: String::new(),
            }
        } else {
            let Some((hash, size)) = recorded.get(member_name) else {
                return Err(fail(w, format!("'{member_name}' is not listed in RECORD")));
            };
            if hash.is_empty() {
                return Err(fail(w, format!("'{member_name}' has no hash in RECORD")));
            }
            Expected {
                member: member_name.to_string(),
                hash: hash.clone(),
                size: size.clone(),
            }
        };
        let (destination, is_script) = match member_name.strip_prefix(&format!("{data_dir}/")) {
            Some(rest) => {
                let (scheme, inner) = rest
                    .split_once('/')
                    .ok_or_else(|| fail(w, format!("'{member_name}' is not in a .data scheme directory")))?;
                let base = match scheme {
                    "purelib" => layout.purelib.clone(),
                    "platlib" => layout.platlib.clone(),
                    "scripts" => layout.scripts.clone(),
                    "headers" => layout.headers.join(&name),
                    "data" => layout.data.clone(),
                    other => return Err(fail(w, format!("unknown .data scheme '{other}'"))),
                };
                (
                    base.join(member_path(inner).map_err(|e| fail(w, e))?),
                    scheme == "scripts",
                )
            }
            None => (root.join(member_path(member_name).map_err(|e| fail(w, e))?), false),
        };
        if is_script && member.size > SCRIPT_LIMIT {
            return Err(fail(
                w,
                format!(
                    "script '{member_name}' holds {} bytes, more than the {SCRIPT_LIMIT} forge rewrites",
                    member.size
                ),
            ));
        }
        planned.push(Planned {
            member,
            destination,
            is_script,
            expected,
        });
    }

    for path in recorded.keys() {
        if !files.contains_key(path.as_str()) && *path != record_name {
            return Err(fail(
                w,
                format!("'{path}' is listed in RECORD but missing from the wheel"),
            ));
        }
    }

    // Read, check and write, on every core for large wheels.
    let workers = if planned.len() > 256 {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .min(8)
    } else {
        1
    };
    let results: Vec<Result<Vec<RecordRow>, InstallError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|worker| {
                let (archive, planned) = (&archive, &planned);
                scope.spawn(move || {
                    let mut whole = PooledReader::take();
                    planned
                        .iter()
                        .skip(worker)
                        .step_by(workers)
                        .map(|plan| install_member(archive, plan, &mut whole, python, sink).map_err(|e| fail(w, e)))
                        .collect()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(fail(w, "an installer thread panicked")))
            })
            .collect()
    });
    let mut record_rows: Vec<RecordRow> = Vec::with_capacity(planned.len() + 4);
    for rows in results {
        record_rows.extend(rows?);
    }

    if let Some(text) = entry_points_text {
        for (script, module, attr) in entry_points(&text) {
            if script.contains('/') || script.is_empty() {
                return Err(fail(w, format!("entry point name '{script}' is not a file name")));
            }
            let content = entry_point_script(python, &module, &attr);
            let path = layout.scripts.join(&script);
            sink.write(&path, content.as_bytes(), true, None)
                .map_err(|e| fail(w, e))?;
            record_rows.push((path, record_hash(content.as_bytes()), content.len() as u64));
        }
    }

    let info_dir = root.join(&dist_info);
    for (extra, content) in [("INSTALLER", "forge\n"), ("REQUESTED", "")] {
        let path = info_dir.join(extra);
        sink.write(&path, content.as_bytes(), false, None)
            .map_err(|e| fail(w, e))?;
        record_rows.push((path, record_hash(content.as_bytes()), content.len() as u64));
    }
    // RECORD lists paths relative to the site-packages directory.
    let mut lines: Vec<String> = record_rows
        .iter()
        .map(|(path, hash, size)| format!("{},{hash},{size}", csv_quote(&relative_to(root, path))))
        .collect();
    lines.push(format!("{},,", csv_quote(&format!("{dist_info}/RECORD"))));
    lines.sort();
    let record_path = info_dir.join("RECORD");
    sink.write(&record_path, (lines.join("\n") + "\n").as_bytes(), false, None)
        .map_err(|e| fail(w, e))?;
    Ok(Installed {
        name,
        version,
        // Every file written has a row, and RECORD has none.
        files: record_rows.len() + 1,
    })
}

/// A row of the RECORD written: path, hash, size.
type RecordRow = (PathBuf, String, u64);

/// Reads one member, checks it and writes it: whole when it is small, so
/// it is hashed once from memory; streamed otherwise.
fn install_member(
    archive: &WheelZip,
    plan: &Planned<'_>,
    whole: &mut WholeReader,
    python: &str,
    sink: &dyn Sink,
) -> Result<RecordRow, String> {
    let member = plan.member;
    let name = &member.name;
    let exec = member.executable || plan.is_script;
    let signature = plan.expected.hash.is_empty();
    if member.fits_in_memory() || plan.is_script {
        let bytes = archive
            .read_whole(member, whole)
            .map_err(|e| format!("cannot read '{name}': {e}"))?;
        let digest: [u8; 32] = Sha256::digest(bytes).into();
        if !signature {
            plan.expected.check(&digest, bytes.len() as u64)?;
        }
        // Only `#!python` scripts change; everything else is written as it
        // is, with the hash already checked against RECORD.
        if plan.is_script && bytes.starts_with(b"#!python") {
            let rest = bytes
                .iter()
                .position(|b| *b == b'\n')
                .map(|i| &bytes[i + 1..])
                .unwrap_or_default();
            let mut content = format!("#!{python}\n").into_bytes();
            content.extend_from_slice(rest);
            sink.write(&plan.destination, &content, exec, None)?;
            return Ok((plan.destination.clone(), record_hash(&content), content.len() as u64));
        }
        // One hash pass per file: RECORD's check gave the digest the
        // artifact cache names the file by.
        sink.write(&plan.destination, bytes, exec, Some(&hex(&digest)))?;
        return Ok((plan.destination.clone(), record_hash_of(&digest), bytes.len() as u64));
    }
    let stream = archive
        .stream(member)
        .map_err(|e| format!("cannot read '{name}': {e}"))?;
    let mut content = StreamedFile {
        stream,
        expected: &plan.expected,
    };
    sink.write_stream(&plan.destination, &mut content, exec)?;
    Ok((plan.destination.clone(), plan.expected.hash.clone(), member.size))
}

/// The `.dist-info` directory must be the wheel's own: its project name
/// and version, normalized, are the file name's.
fn check_dist_info_name(dist_info: &str, name: &str, version: &str) -> Result<(), String> {
    let stem = dist_info.trim_end_matches(".dist-info");
    let matches = stem.rsplit_once('-').is_some_and(|(project, dir_version)| {
        crate::names::normalize(project) == crate::names::normalize(name)
            && match (dir_version.parse::<Version>(), version.parse::<Version>()) {
                (Ok(a), Ok(b)) => a == b,
                _ => dir_version == version,
            }
    });
    if matches {
        Ok(())
    } else {
        Err(format!(
            "{dist_info} is not the metadata of {name} {version} (the file name's project and version)"
        ))
    }
}

/// PEP 427: installers refuse a `Wheel-Version` major they do not know.
fn check_wheel_version(wheel_meta: &str) -> Result<(), String> {
    let value = wheel_meta
        .lines()
        .find_map(|l| {
            let (key, value) = l.split_once(':')?;
            key.trim().eq_ignore_ascii_case("Wheel-Version").then(|| value.trim())
        })
        .ok_or("there is no Wheel-Version")?;
    match value.split('.').next().map(str::parse::<u32>) {
        Some(Ok(1)) => Ok(()),
        _ => Err(format!(
            "Wheel-Version {value} is not supported (forge installs Wheel-Version 1.x, as PEP 427 says installers must)"
        )),
    }
}

/// `path` relative to `base`, with `..` where it lies outside.
fn relative_to(base: &Path, path: &Path) -> String {
    let base: Vec<_> = base.components().collect();
    let path_parts: Vec<_> = path.components().collect();
    let common = base.iter().zip(&path_parts).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = std::iter::repeat_n("..".to_string(), base.len() - common).collect();
    parts.extend(
        path_parts[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn record_hashes_are_urlsafe_base64_without_padding() {
        assert_eq!(record_hash(b""), "sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU");
        assert_eq!(
            record_hash(b"hello"),
            "sha256=LPJNul-wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ"
        );
    }

    #[test]
    fn csv_round_trip() {
        assert_eq!(csv_fields("\"a,b.py\",sha256=x,3"), vec!["a,b.py", "sha256=x", "3"]);
        assert_eq!(csv_quote("a,b"), "\"a,b\"");
    }

    fn make_wheel(dir: &Path, files: &[(&str, &[u8])], tamper: Option<&str>) -> PathBuf {
        let path = dir.join("demo-1.0-py3-none-any.whl");
        let mut zip = zip::ZipWriter::new(fs::File::create(&path).unwrap());
        let options = zip::write::SimpleFileOptions::default().unix_permissions(0o644);
        let mut record = String::new();
        for (name, bytes) in files {
            zip.start_file(*name, options).unwrap();
            let content: &[u8] = if tamper == Some(*name) { b"tampered" } else { bytes };
            zip.write_all(content).unwrap();
            record.push_str(&format!("{name},{},{}\n", record_hash(bytes), bytes.len()));
        }
        record.push_str("demo-1.0.dist-info/RECORD,,\n");
        zip.start_file("demo-1.0.dist-info/RECORD", options).unwrap();
        zip.write_all(record.as_bytes()).unwrap();
        zip.finish().unwrap();
        path
    }

    const WHEEL: &[u8] = b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\n";

    fn layout(root: &Path) -> Layout {
        let site = root.join("lib/python3.11/site-packages");
        Layout {
            purelib: site.clone(),
            platlib: site,
            scripts: root.join("bin"),
            headers: root.join("include/python3.11"),
            data: root.to_path_buf(),
        }
    }

    #[test]
    fn installs_modules_scripts_and_entry_points() {
        let dir = tempfile::tempdir().unwrap();
        let wheel = make_wheel(
            dir.path(),
            &[
                ("demo/__init__.py", b"X = 1\n"),
                ("demo-1.0.data/scripts/tool", b"#!python\nprint('tool')\n"),
                ("demo-1.0.data/data/share/demo/file", b"data"),
                (
                    "demo-1.0.dist-info/WHEEL",
                    b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\n",
                ),
                ("demo-1.0.dist-info/METADATA", b"Name: demo\nVersion: 1.0\n"),
                (
                    "demo-1.0.dist-info/entry_points.txt",
                    b"[console_scripts]\ndemo = demo.cli:main.run\n",
                ),
            ],
            None,
        );
        let root = dir.path().join("root");
        install_wheel(&wheel, &layout(&root), "/usr/bin/python3").unwrap();
        let site = root.join("lib/python3.11/site-packages");
        assert_eq!(fs::read_to_string(site.join("demo/__init__.py")).unwrap(), "X = 1\n");
        assert_eq!(
            fs::read_to_string(root.join("bin/tool")).unwrap(),
            "#!/usr/bin/python3\nprint('tool')\n"
        );
        assert_eq!(
            fs::metadata(root.join("bin/tool")).unwrap().permissions().mode() & 0o777,
            0o755
        );
        assert_eq!(fs::read_to_string(root.join("share/demo/file")).unwrap(), "data");
        let script = fs::read_to_string(root.join("bin/demo")).unwrap();
        assert!(
            script.starts_with("#!/usr/bin/python3\n")
                && script.contains("from demo.cli import main\n")
                && script.contains("sys.exit(main.run())"),
            "{script}"
        );
        assert_eq!(
            fs::read_to_string(site.join("demo-1.0.dist-info/INSTALLER")).unwrap(),
            "forge\n"
        );
        let record = fs::read_to_string(site.join("demo-1.0.dist-info/RECORD")).unwrap();
        assert!(record.contains("../../../bin/demo,sha256="), "{record}");
        assert!(record.contains("demo-1.0.dist-info/RECORD,,"), "{record}");
    }

    #[test]
    fn refuses_tampered_missing_extra_and_escaping_members() {
        let dir = tempfile::tempdir().unwrap();
        let base: &[(&str, &[u8])] = &[("demo/__init__.py", b"X = 1\n"), ("demo-1.0.dist-info/WHEEL", WHEEL)];
        let wheel = make_wheel(dir.path(), base, Some("demo/__init__.py"));
        let err = install_wheel(&wheel, &layout(&dir.path().join("r1")), "/p").unwrap_err();
        assert!(err.0.contains("'demo/__init__.py' does not match RECORD"), "{err}");
        let site = dir.path().join("r1/lib/python3.11/site-packages");
        assert!(
            !site.join("demo/__init__.py").exists(),
            "the tampered member is not written"
        );
        assert!(
            !site.join("demo-1.0.dist-info/RECORD").exists(),
            "no RECORD for a failed install"
        );

        // A member not in RECORD.
        let path = dir.path().join("demo-1.0-py3-none-any.whl");
        let mut zip = zip::ZipWriter::new(fs::File::create(&path).unwrap());
        let options = zip::write::SimpleFileOptions::default();
        zip.start_file("demo/extra.py", options).unwrap();
        zip.write_all(b"x").unwrap();
        zip.start_file("demo-1.0.dist-info/WHEEL", options).unwrap();
        zip.write_all(WHEEL).unwrap();
        zip.start_file("demo-1.0.dist-info/RECORD", options).unwrap();
        zip.write_all(
            format!(
                "demo/missing.py,sha256=abc,1\ndemo-1.0.dist-info/WHEEL,{},{}\n",
                record_hash(WHEEL),
                WHEEL.len()
            )
            .as_bytes(),
        )
        .unwrap();
        zip.finish().unwrap();
        let err = install_wheel(&path, &layout(&dir.path().join("r2")), "/p").unwrap_err();
        assert!(err.0.contains("'demo/extra.py' is not listed in RECORD"), "{err}");

        let mut zip = zip::ZipWriter::new(fs::File::create(&path).unwrap());
        zip.start_file("../escape.py", options).unwrap();
        zip.write_all(b"x").unwrap();
        zip.finish().unwrap();
        let err = install_wheel(&path, &layout(&dir.path().join("r3")), "/p").unwrap_err();
        assert!(err.0.contains("would be written outside the target"), "{err}");
        assert!(!dir.path().join("escape.py").exists());
    }

    /// Replaces the `occurrence`-th (0-based) appearance of `from` in the
    /// file with `to` (same length): a zip's names appear once in the
    /// local header and once in the central directory.
    fn patch(path: &Path, from: &[u8], to: &[u8], occurrence: usize) {
        assert_eq!(from.len(), to.len());
        let mut bytes = fs::read(path).unwrap();
        let at = (0..bytes.len() - from.len())
            .filter(|&i| bytes[i..i + from.len()] == *from)
            .nth(occurrence)
            .expect("the bytes to patch");
        bytes[at..at + to.len()].copy_from_slice(to);
        fs::write(path, bytes).unwrap();
    }

    /// Sets the uncompressed size the central directory declares for
    /// `name`.
    fn patch_declared_size(path: &Path, name: &str, size: u32) {
        let mut bytes = fs::read(path).unwrap();
        let at = (0..bytes.len() - 46 - name.len())
            .find(|&i| bytes[i..i + 4] == *b"PK\x01\x02" && bytes[i + 46..i + 46 + name.len()] == *name.as_bytes())
            .expect("the central directory entry");
        bytes[at + 24..at + 28].copy_from_slice(&size.to_le_bytes());
        fs::write(path, bytes).unwrap();
    }

    fn site(root: &Path) -> PathBuf {
        root.join("lib/python3.11/site-packages")
    }

    #[test]
    fn large_members_are_streamed_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        // Larger than what is read whole, and not all alike.
        let big: Vec<u8> = (0..(crate::wheel_zip::WHOLE_MEMBER_LIMIT as usize + 12345))
            .map(|i| (i % 251) as u8 ^ (i >> 16) as u8)
            .collect();
        let files: &[(&str, &[u8])] = &[("demo/big.bin", &big), ("demo-1.0.dist-info/WHEEL", WHEEL)];
        let wheel = make_wheel(dir.path(), files, None);
        let root = dir.path().join("ok");
        install_wheel(&wheel, &layout(&root), "/p").unwrap();
        assert!(fs::read(site(&root).join("demo/big.bin")).unwrap() == big);
        let record = fs::read_to_string(site(&root).join("demo-1.0.dist-info/RECORD")).unwrap();
        assert!(
            record.contains(&format!("demo/big.bin,{},{}", record_hash(&big), big.len())),
            "{record}"
        );

        let wheel = make_wheel(dir.path(), files, Some("demo/big.bin"));
        let root = dir.path().join("tampered");
        let err = install_wheel(&wheel, &layout(&root), "/p").unwrap_err();
        assert!(err.0.contains("'demo/big.bin' does not match RECORD"), "{err}");
        let left = fs::read_dir(site(&root).join("demo")).map(|d| d.count()).unwrap_or(0);
        assert_eq!(left, 0, "no file or partial file is left");
    }

    #[test]
    fn refuses_archives_that_tools_would_read_differently() {
        let dir = tempfile::tempdir().unwrap();
        let files: &[(&str, &[u8])] = &[
            ("demo/a.py", b"A = 1\n"),
            ("demo/b.py", b"B = 2\n"),
            ("demo-1.0.dist-info/WHEEL", WHEEL),
        ];
        // Two central-directory entries with one name.
        let wheel = make_wheel(dir.path(), files, None);
        patch(&wheel, b"demo/b.py", b"demo/a.py", 1);
        let err = install_wheel(&wheel, &layout(&dir.path().join("r1")), "/p").unwrap_err();
        assert!(err.0.contains("appears twice"), "{err}");

        // A local header that names another file than the directory does.
        let wheel = make_wheel(dir.path(), files, None);
        patch(&wheel, b"demo/b.py", b"demo/c.py", 0);
        let err = install_wheel(&wheel, &layout(&dir.path().join("r2")), "/p").unwrap_err();
        assert!(
            err.0
                .contains("cannot read 'demo/b.py': its local header names another file"),
            "{err}"
        );

        // Sizes that lie, both ways.
        let wheel = make_wheel(dir.path(), files, None);
        patch_declared_size(&wheel, "demo/a.py", 3);
        let err = install_wheel(&wheel, &layout(&dir.path().join("r3")), "/p").unwrap_err();
        assert!(
            err.0
                .contains("cannot read 'demo/a.py': it inflates to more than the 3 bytes it claims"),
            "{err}"
        );
        let wheel = make_wheel(dir.path(), files, None);
        patch_declared_size(&wheel, "demo/a.py", 4_000_000);
        let err = install_wheel(&wheel, &layout(&dir.path().join("r4")), "/p").unwrap_err();
        assert!(err.0.contains("more than deflate can expand"), "{err}");
    }

    #[test]
    fn members_with_long_local_extra_fields_are_read_whole() {
        // Header and data are read together when the local extra field is
        // short; a long one (as some zip tools write) is read again.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("demo-1.0-py3-none-any.whl");
        let mut zip = zip::ZipWriter::new(fs::File::create(&path).unwrap());
        let body = b"VALUE = 'x'\n".repeat(40);
        let files: [(&str, &[u8], usize); 3] = [
            ("demo/long.py", &body, 900),
            ("demo/short.py", b"S = 1\n", 12),
            ("demo-1.0.dist-info/WHEEL", WHEEL, 0),
        ];
        let mut record = String::new();
        for (name, bytes, extra) in files {
            let mut options = zip::write::FullFileOptions::default().unix_permissions(0o644);
            if extra > 0 {
                options.add_extra_field(0x6666, vec![7u8; extra], false).unwrap();
            }
            zip.start_file(name, options).unwrap();
            zip.write_all(bytes).unwrap();
            record.push_str(&format!("{name},{},{}\n", record_hash(bytes), bytes.len()));
        }
        record.push_str("demo-1.0.dist-info/RECORD,,\n");
        zip.start_file("demo-1.0.dist-info/RECORD", zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(record.as_bytes()).unwrap();
        zip.finish().unwrap();
        let root = dir.path().join("root");
        install_wheel(&path, &layout(&root), "/p").unwrap();
        assert_eq!(fs::read(site(&root).join("demo/long.py")).unwrap(), body);
        assert_eq!(fs::read(site(&root).join("demo/short.py")).unwrap(), b"S = 1\n");
    }

    #[test]
    fn refuses_unknown_wheel_versions_and_foreign_metadata() {
        let dir = tempfile::tempdir().unwrap();
        let wheel = make_wheel(
            dir.path(),
            &[(
                "demo-1.0.dist-info/WHEEL",
                b"Wheel-Version: 9.0\nRoot-Is-Purelib: true\n",
            )],
            None,
        );
        let err = install_wheel(&wheel, &layout(&dir.path().join("r1")), "/p").unwrap_err();
        assert!(err.0.contains("Wheel-Version 9.0 is not supported"), "{err}");

        let wheel = make_wheel(
            dir.path(),
            &[("demo-1.0.dist-info/WHEEL", b"Root-Is-Purelib: true\n")],
            None,
        );
        let err = install_wheel(&wheel, &layout(&dir.path().join("r2")), "/p").unwrap_err();
        assert!(err.0.contains("there is no Wheel-Version"), "{err}");

        // The metadata of another project, in demo's wheel.
        let path = dir.path().join("demo-1.0-py3-none-any.whl");
        let mut zip = zip::ZipWriter::new(fs::File::create(&path).unwrap());
        let options = zip::write::SimpleFileOptions::default();
        zip.start_file("other-1.0.dist-info/WHEEL", options).unwrap();
        zip.write_all(WHEEL).unwrap();
        zip.finish().unwrap();
        let err = install_wheel(&path, &layout(&dir.path().join("r3")), "/p").unwrap_err();
        assert!(
            err.0.contains("other-1.0.dist-info is not the metadata of demo 1.0"),
            "{err}"
        );

        // Names and versions compare normalized.
        assert!(check_dist_info_name("Demo_Pkg-1.0.0.dist-info", "demo.pkg", "1.0").is_ok());
        assert!(check_dist_info_name("demo_pkg-1.1.dist-info", "demo-pkg", "1.0").is_err());
    }
}
