//! Installing a wheel without running any of its code (PEP 427, PEP 491).
//!
//! Every member is checked against RECORD (a missing, extra or mismatched
//! file is an error naming it) before anything is written; members may not
//! escape the target or be symlinks. `.data/` subdirectories go to their
//! scheme paths, `#!python` scripts get the target interpreter, entry points
//! become small scripts, and INSTALLER, REQUESTED and a new RECORD are
//! written. The same wheel always gives the same files.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::names::{DistFile, parse_filename};

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
fn entry_points(text: &str) -> Vec<(String, String, String)> {
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
/// takes a path under the layout and its bytes.
pub trait Sink {
    /// Writes one file; a path written twice is an error.
    fn write(&mut self, path: &Path, bytes: &[u8], executable: bool) -> Result<(), String>;

    /// [`Sink::write`] of bytes whose SHA-256 (lowercase hex) the caller
    /// computed: a content-addressed sink need not hash them again.
    fn write_hashed(&mut self, path: &Path, bytes: &[u8], executable: bool, sha256: &str) -> Result<(), String> {
        let _ = sha256;
        self.write(path, bytes, executable)
    }
}

/// Writes files into the file system; remembers the directories known to
/// exist (a wheel has thousands of files in a few directories: each is
/// created once).
#[derive(Default)]
pub struct DirSink {
    dirs: BTreeSet<PathBuf>,
}

impl Sink for DirSink {
    fn write(&mut self, path: &Path, bytes: &[u8], executable: bool) -> Result<(), String> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        if let Some(parent) = path.parent()
            && !self.dirs.contains(parent)
        {
            fs::create_dir_all(parent).map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
            self.dirs.insert(parent.to_path_buf());
        }
        let mode = if executable { 0o755 } else { 0o644 };
        let mut file = fs::File::options()
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
        file.write_all(bytes)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        // The umask may have taken bits away.
        if file
            .metadata()
            .map(|m| m.permissions().mode() & 0o777 != mode)
            .unwrap_or(true)
        {
            file.set_permissions(fs::Permissions::from_mode(mode))
                .map_err(|e| format!("cannot set the mode of {}: {e}", path.display()))?;
        }
        Ok(())
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
    install_wheel_into(file_name, wheel, layout, python, &mut DirSink::default())
}

/// Installs the wheel called `file_name` (its name and tags come from it)
/// stored at `wheel`, which may be a cache path with another name, into
/// `sink`, at the paths of `layout`. Nothing is written unless every member
/// matches RECORD.
pub fn install_wheel_into(
    file_name: &str,
    wheel: &Path,
    layout: &Layout,
    python: &str,
    sink: &mut dyn Sink,
) -> Result<Installed, InstallError> {
    let w = file_name;
    let Some(DistFile::Wheel { name, version, .. }) = parse_filename(w) else {
        return Err(fail(w, "not a wheel file name"));
    };
    let file = fs::File::open(wheel).map_err(|e| fail(w, e))?;
    let archive = zip::ZipArchive::new(file).map_err(|e| fail(w, format!("not a zip archive: {e}")))?;
    // Read (inflate) and hash every member first, on every core for large
    // wheels: nothing is written unless all is well.
    let count = archive.len();
    drop(archive);
    let workers = if count > 256 {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .min(8)
    } else {
        1
    };
    let results: Vec<Result<Vec<Member>, InstallError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|worker| scope.spawn(move || read_members(wheel, w, worker, workers)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err(fail(w, "a reader thread panicked"))))
            .collect()
    });
    let mut members: BTreeMap<String, (Vec<u8>, bool, String)> = BTreeMap::new();
    let mut digests: BTreeMap<String, String> = BTreeMap::new();
    for result in results {
        for member in result? {
            digests.insert(member.name.clone(), member.sha256);
            if members
                .insert(member.name.clone(), (member.bytes, member.executable, member.hash))
                .is_some()
            {
                return Err(fail(w, format!("member '{}' appears twice", member.name)));
            }
        }
    }

    let dist_infos: BTreeSet<&str> = members
        .keys()
        .filter_map(|m| m.split('/').next())
        .filter(|top| top.ends_with(".dist-info"))
        .collect();
    let dist_info = match dist_infos.len() {
        1 => dist_infos.into_iter().next().expect("one").to_string(),
        0 => return Err(fail(w, "there is no .dist-info directory")),
        _ => return Err(fail(w, "there is more than one .dist-info directory")),
    };
    let data_dir = format!("{}.data", dist_info.trim_end_matches(".dist-info"));
    let record_name = format!("{dist_info}/RECORD");
    let record_text = members
        .get(&record_name)
        .map(|(bytes, _, _)| String::from_utf8_lossy(bytes).into_owned())
        .ok_or_else(|| fail(w, format!("{record_name} is missing")))?;
    let wheel_meta = members
        .get(&format!("{dist_info}/WHEEL"))
        .map(|(b, _, _)| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default();
    let root_is_purelib = !wheel_meta
        .lines()
        .any(|l| l.replace(' ', "").eq_ignore_ascii_case("Root-Is-Purelib:false"));

    // Check every member against RECORD, and RECORD against the members.
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
    for (member, (bytes, _, actual)) in &members {
        if *member == record_name || member.ends_with("/RECORD.jws") || member.ends_with("/RECORD.p7s") {
            continue;
        }
        let Some((hash, size)) = recorded.get(member) else {
            return Err(fail(w, format!("'{member}' is not listed in RECORD")));
        };
        if hash.is_empty() {
            return Err(fail(w, format!("'{member}' has no hash in RECORD")));
        }
        if hash != actual {
            return Err(fail(
                w,
                format!("'{member}' does not match RECORD: expected {hash}, got {actual}"),
            ));
        }
        if !size.is_empty() && size.parse::<usize>().ok() != Some(bytes.len()) {
            return Err(fail(
                w,
                format!("'{member}' has {} bytes, RECORD says {size}", bytes.len()),
            ));
        }
    }
    for path in recorded.keys() {
        if !members.contains_key(path) && *path != record_name {
            return Err(fail(
                w,
                format!("'{path}' is listed in RECORD but missing from the wheel"),
            ));
        }
    }

    let root = if root_is_purelib {
        &layout.purelib
    } else {
        &layout.platlib
    };
    let mut record_rows: Vec<(PathBuf, String, usize)> = Vec::new();
    for (member, (bytes, executable, hash)) in &members {
        if *member == record_name {
            continue;
        }
        let (destination, is_script) = match member.strip_prefix(&format!("{data_dir}/")) {
            Some(rest) => {
                let (scheme, inner) = rest
                    .split_once('/')
                    .ok_or_else(|| fail(w, format!("'{member}' is not in a .data scheme directory")))?;
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
            None => (root.join(member_path(member).map_err(|e| fail(w, e))?), false),
        };
        // Only `#!python` scripts change; everything else is written as it
        // is, with the hash already checked against RECORD.
        let exec = *executable || is_script;
        if is_script && bytes.starts_with(b"#!python") {
            let rest = bytes
                .iter()
                .position(|b| *b == b'\n')
                .map(|i| &bytes[i + 1..])
                .unwrap_or_default();
            let mut content = format!("#!{python}\n").into_bytes();
            content.extend_from_slice(rest);
            sink.write(&destination, &content, exec).map_err(|e| fail(w, e))?;
            record_rows.push((destination, record_hash(&content), content.len()));
        } else {
            // One hash pass per file: RECORD's check gave the digest the
            // artifact cache names the file by.
            sink.write_hashed(&destination, bytes, exec, &digests[member])
                .map_err(|e| fail(w, e))?;
            record_rows.push((destination, hash.clone(), bytes.len()));
        }
    }

    if let Some((text, _, _)) = members.get(&format!("{dist_info}/entry_points.txt")) {
        for (script, module, attr) in entry_points(&String::from_utf8_lossy(text)) {
            if script.contains('/') || script.is_empty() {
                return Err(fail(w, format!("entry point name '{script}' is not a file name")));
            }
            let content = entry_point_script(python, &module, &attr);
            let path = layout.scripts.join(&script);
            sink.write(&path, content.as_bytes(), true).map_err(|e| fail(w, e))?;
            record_rows.push((path, record_hash(content.as_bytes()), content.len()));
        }
    }

    let info_dir = root.join(&dist_info);
    for (extra, content) in [("INSTALLER", "forge\n"), ("REQUESTED", "")] {
        let path = info_dir.join(extra);
        sink.write(&path, content.as_bytes(), false).map_err(|e| fail(w, e))?;
        record_rows.push((path, record_hash(content.as_bytes()), content.len()));
    }
    // RECORD lists paths relative to the site-packages directory.
    let mut lines: Vec<String> = record_rows
        .iter()
        .map(|(path, hash, size)| format!("{},{hash},{size}", csv_quote(&relative_to(root, path))))
        .collect();
    lines.push(format!("{},,", csv_quote(&format!("{dist_info}/RECORD"))));
    lines.sort();
    let record_path = info_dir.join("RECORD");
    sink.write(&record_path, (lines.join("\n") + "\n").as_bytes(), false)
        .map_err(|e| fail(w, e))?;
    Ok(Installed {
        name,
        version,
        // Every file written has a row, and RECORD has none.
        files: record_rows.len() + 1,
    })
}

/// A member read from a wheel, with its RECORD-style hash.
struct Member {
    name: String,
    bytes: Vec<u8>,
    executable: bool,
    hash: String,
    /// Its SHA-256, lowercase hex.
    sha256: String,
}

/// Reads and hashes the members `worker`, `worker + workers`, ... of the
/// wheel at `path`, each reader with its own handle on the file.
fn read_members(path: &Path, w: &str, worker: usize, workers: usize) -> Result<Vec<Member>, InstallError> {
    let file = fs::File::open(path).map_err(|e| fail(w, e))?;
    let mut archive = zip::ZipArchive::new(file).map_err(|e| fail(w, format!("not a zip archive: {e}")))?;
    let mut out = Vec::new();
    for i in (worker..archive.len()).step_by(workers) {
        let mut member = archive.by_index(i).map_err(|e| fail(w, e))?;
        let name = member
            .name()
            .map_err(|e| fail(w, format!("unreadable member name: {e}")))?
            .to_string();
        if member.is_dir() {
            member_path(name.trim_end_matches('/')).map_err(|e| fail(w, e))?;
            continue;
        }
        member_path(&name).map_err(|e| fail(w, e))?;
        let mode = member.unix_mode().unwrap_or(0o644);
        if mode & 0o170000 == 0o120000 {
            return Err(fail(
                w,
                format!("member '{name}' is a symlink; wheels may not hold symlinks"),
            ));
        }
        let mut bytes = Vec::with_capacity(member.size() as usize);
        member
            .read_to_end(&mut bytes)
            .map_err(|e| fail(w, format!("cannot read '{name}': {e}")))?;
        let digest = Sha256::digest(&bytes);
        out.push(Member {
            name,
            bytes,
            executable: mode & 0o111 != 0,
            hash: record_hash_of(&digest),
            sha256: hex(&digest),
        });
    }
    Ok(out)
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
        let base: &[(&str, &[u8])] = &[
            ("demo/__init__.py", b"X = 1\n"),
            ("demo-1.0.dist-info/WHEEL", b"Root-Is-Purelib: true\n"),
        ];
        let wheel = make_wheel(dir.path(), base, Some("demo/__init__.py"));
        let err = install_wheel(&wheel, &layout(&dir.path().join("r1")), "/p").unwrap_err();
        assert!(err.0.contains("'demo/__init__.py' does not match RECORD"), "{err}");
        assert!(!dir.path().join("r1").exists(), "nothing written");

        // A member not in RECORD.
        let path = dir.path().join("demo-1.0-py3-none-any.whl");
        let mut zip = zip::ZipWriter::new(fs::File::create(&path).unwrap());
        let options = zip::write::SimpleFileOptions::default();
        zip.start_file("demo/extra.py", options).unwrap();
        zip.write_all(b"x").unwrap();
        zip.start_file("demo-1.0.dist-info/RECORD", options).unwrap();
        zip.write_all(b"demo/missing.py,sha256=abc,1\n").unwrap();
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
}
