//! What a pin change brings: the files a new wheel adds, removes and
//! changes against the old one, and the changes a person should read
//! before trusting it — `.pth` files (run at every interpreter start),
//! console scripts (and those named like common commands), native
//! binaries, and dependencies added or removed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use forge_python::install::entry_points;
use forge_python::metadata::requires_dist_values;
use forge_python::wheel_zip::{WheelZip, WholeReader};

/// Commands a console script should not quietly replace.
const COMMON_COMMANDS: &[&str] = &[
    "apt",
    "apt-get",
    "awk",
    "bash",
    "bst",
    "cat",
    "cc",
    "chmod",
    "chown",
    "cp",
    "curl",
    "docker",
    "dpkg",
    "env",
    "find",
    "forge",
    "gcc",
    "git",
    "gpg",
    "grep",
    "gzip",
    "kill",
    "kubectl",
    "ld",
    "less",
    "ls",
    "make",
    "mv",
    "node",
    "npm",
    "openssl",
    "pip",
    "pip3",
    "ps",
    "python",
    "python3",
    "rm",
    "scp",
    "sed",
    "sh",
    "ssh",
    "su",
    "sudo",
    "systemctl",
    "tar",
    "uv",
    "vi",
    "vim",
    "wget",
    "which",
];

/// What a wheel or an sdist holds, as far as a review reads it.
#[derive(Debug, Default)]
pub struct DistContents {
    /// An sdist's PEP 517 build backend (`setuptools.build_meta` when its
    /// pyproject.toml names none).
    backend: Option<String>,
    /// File → its RECORD hash (the central directory's size when RECORD
    /// lists none).
    files: BTreeMap<String, String>,
    /// `Requires-Dist` values.
    requires: BTreeSet<String>,
    /// Console and GUI script names → what they run.
    scripts: BTreeMap<String, String>,
}

impl DistContents {
    /// Reads the wheel (`.whl`) or sdist (`.tar.gz`) at `path`; `None`
    /// for other files.
    pub fn read(path: &Path, name: &str) -> Result<Option<DistContents>, String> {
        if name.ends_with(".whl") {
            DistContents::read_wheel(path).map(Some)
        } else if name.ends_with(".tar.gz") {
            DistContents::read_sdist(path).map(Some)
        } else {
            Ok(None)
        }
    }

    /// Reads an sdist: its files (by sha256, the top directory left out,
    /// so that two versions compare) and its build backend.
    fn read_sdist(path: &Path) -> Result<DistContents, String> {
        use sha2::Digest;
        use std::io::Read;
        let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(std::io::BufReader::new(file)));
        let mut contents = DistContents::default();
        let mut pyproject = None;
        for entry in archive.entries().map_err(|e| format!("not a tar.gz: {e}"))? {
            let mut entry = entry.map_err(|e| format!("not a tar.gz: {e}"))?;
            if !entry.header().entry_type().is_file() {
                continue;
            }
            let path = entry.path().map_err(|e| e.to_string())?.to_string_lossy().into_owned();
            let Some((_, inner)) = path.split_once('/') else {
                continue;
            };
            let inner = inner.to_string();
            let mut hasher = sha2::Sha256::new();
            let mut buffer = vec![0u8; 64 << 10];
            let mut kept = Vec::new();
            loop {
                let n = entry.read(&mut buffer).map_err(|e| format!("{path}: {e}"))?;
                if n == 0 {
                    break;
                }
                hasher.update(&buffer[..n]);
                if inner == "pyproject.toml" && kept.len() < 1 << 20 {
                    kept.extend_from_slice(&buffer[..n]);
                }
            }
            if inner == "pyproject.toml" {
                pyproject = Some(String::from_utf8_lossy(&kept).into_owned());
            }
            let digest: [u8; 32] = hasher.finalize().into();
            contents
                .files
                .insert(inner, digest.iter().map(|b| format!("{b:02x}")).collect());
        }
        let backend = pyproject
            .and_then(|text| text.parse::<toml::Table>().ok())
            .and_then(|t| {
                t.get("build-system")?
                    .get("build-backend")?
                    .as_str()
                    .map(str::to_string)
            });
        contents.backend = Some(backend.unwrap_or_else(|| "setuptools.build_meta".into()));
        Ok(contents)
    }

    /// Reads a wheel.
    fn read_wheel(path: &Path) -> Result<DistContents, String> {
        let wheel = WheelZip::open(path)?;
        let mut reader = WholeReader::default();
        let mut contents = DistContents::default();
        let mut record = String::new();
        for member in wheel.members().iter().filter(|m| !m.is_dir) {
            contents
                .files
                .insert(member.name.clone(), format!("size={}", member.size));
            let in_info = member.name.matches('/').count() == 1 && member.name.contains(".dist-info/");
            let read = |reader: &mut WholeReader| -> Result<String, String> {
                let bytes = wheel
                    .read_whole(member, reader)
                    .map_err(|e| format!("{}: {e}", member.name))?;
                Ok(String::from_utf8_lossy(bytes).into_owned())
            };
            if in_info && member.name.ends_with("/RECORD") {
                record = read(&mut reader)?;
            } else if in_info && member.name.ends_with("/METADATA") {
                let text = read(&mut reader)?;
                contents
                    .requires
                    .extend(requires_dist_values(&text).map(str::to_string));
            } else if in_info && member.name.ends_with("/entry_points.txt") {
                // The scripts an installation writes, as it reads them.
                for (name, module, attr) in entry_points(&read(&mut reader)?) {
                    contents.scripts.insert(name, format!("{module}:{attr}"));
                }
            }
        }
        for line in record.lines() {
            let mut fields = line.rsplitn(3, ',');
            let (_size, hash, name) = (fields.next(), fields.next(), fields.next());
            if let (Some(name), Some(hash)) = (name, hash)
                && !hash.is_empty()
                && let Some(entry) = contents.files.get_mut(name)
            {
                *entry = hash.to_string();
            }
        }
        Ok(contents)
    }
}

/// What a reviewer should look at in a change.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Concern {
    /// A `.pth` file is new: Python runs its `import` lines at every start.
    NewPth(String),
    /// A `.pth` file changed.
    ChangedPth(String),
    /// A console script is new; `shadows` when it is named like a
    /// common command.
    NewScript {
        name: String,
        target: String,
        shadows: bool,
    },
    /// A console script now runs something else.
    ChangedScript { name: String, target: String },
    /// A native binary (`.so`, `.pyd`, `.dylib`, `.dll`) is new or changed.
    NativeBinary(String),
    /// An sdist's `setup.py` is new or changed: code that runs when the
    /// package is built (in forge's sandbox, but its output is installed).
    InstallTimeCode(String),
    /// An sdist is built by another PEP 517 backend.
    BuildBackend { from: String, to: String },
    /// A dependency is new.
    DependencyAdded(String),
    /// A dependency is gone.
    DependencyRemoved(String),
}

impl Concern {
    /// Whether `--review strict` refuses the change until it is accepted:
    /// it adds code that runs without being imported, or at build time.
    pub fn needs_acceptance(&self) -> bool {
        matches!(
            self,
            Concern::NewPth(_) | Concern::ChangedPth(_) | Concern::InstallTimeCode(_) | Concern::BuildBackend { .. }
        )
    }

    /// One line for people.
    pub fn describe(&self) -> String {
        match self {
            Concern::NewPth(path) => format!("new .pth file {path} (runs at every interpreter start)"),
            Concern::ChangedPth(path) => format!("changed .pth file {path} (runs at every interpreter start)"),
            Concern::NewScript { name, target, shadows } => format!(
                "new console script '{name}' → {target}{}",
                if *shadows { " (named like a common command)" } else { "" }
            ),
            Concern::ChangedScript { name, target } => format!("console script '{name}' now runs {target}"),
            Concern::NativeBinary(path) => format!("native binary {path}"),
            Concern::InstallTimeCode(path) => format!("new or changed {path} (runs when the package is built)"),
            Concern::BuildBackend { from, to } => format!("build backend {from} → {to}"),
            Concern::DependencyAdded(what) => format!("new dependency: {what}"),
            Concern::DependencyRemoved(what) => format!("dependency removed: {what}"),
        }
    }
}

/// The difference between two wheels (or one and nothing, for a first
/// pin).
#[derive(Debug, Default)]
pub struct Review {
    /// Files only in the new wheel.
    pub added: usize,
    /// Files only in the old one.
    pub removed: usize,
    /// Files in both whose content differs.
    pub changed: usize,
    /// What to read, sorted.
    pub concerns: Vec<Concern>,
}

fn is_native(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    [".pyd", ".dylib", ".dll"].iter().any(|e| name.ends_with(e)) || name.ends_with(".so") || name.contains(".so.")
}

fn is_pth(path: &str) -> bool {
    // Only top-level .pth files of site-packages are read by Python.
    !path.contains('/') && path.ends_with(".pth")
}

/// Compares `old` (nothing, for a first pin) with `new`.
pub fn compare(old: Option<&DistContents>, new: &DistContents) -> Review {
    let empty = DistContents::default();
    let old = old.unwrap_or(&empty);
    let mut review = Review::default();
    // RECORD and the dist-info directory name change with every version.
    let comparable = |path: &str| !path.contains(".dist-info/");
    let is_setup = |path: &str| new.backend.is_some() && path == "setup.py";
    for (path, hash) in &new.files {
        let changed = old.files.get(path).is_none_or(|before| before != hash);
        if changed && is_setup(path) {
            review.concerns.push(Concern::InstallTimeCode(path.clone()));
        }
        match old.files.get(path) {
            None => {
                if comparable(path) {
                    review.added += 1;
                }
                if is_pth(path) {
                    review.concerns.push(Concern::NewPth(path.clone()));
                } else if is_native(path) {
                    review.concerns.push(Concern::NativeBinary(path.clone()));
                }
            }
            Some(before) if before != hash => {
                review.changed += 1;
                if is_pth(path) {
                    review.concerns.push(Concern::ChangedPth(path.clone()));
                } else if is_native(path) {
                    review.concerns.push(Concern::NativeBinary(path.clone()));
                }
            }
            Some(_) => {}
        }
    }
    review.removed = old
        .files
        .keys()
        .filter(|p| comparable(p) && !new.files.contains_key(*p))
        .count();
    if let (Some(from), Some(to)) = (&old.backend, &new.backend)
        && from != to
    {
        review.concerns.push(Concern::BuildBackend {
            from: from.clone(),
            to: to.clone(),
        });
    }
    for (name, target) in &new.scripts {
        match old.scripts.get(name) {
            None => review.concerns.push(Concern::NewScript {
                name: name.clone(),
                target: target.clone(),
                shadows: COMMON_COMMANDS.contains(&name.as_str()),
            }),
            Some(before) if before != target => review.concerns.push(Concern::ChangedScript {
                name: name.clone(),
                target: target.clone(),
            }),
            Some(_) => {}
        }
    }
    for added in new.requires.difference(&old.requires) {
        review.concerns.push(Concern::DependencyAdded(added.clone()));
    }
    for removed in old.requires.difference(&new.requires) {
        review.concerns.push(Concern::DependencyRemoved(removed.clone()));
    }
    review.concerns.sort();
    review
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contents(files: &[(&str, &str)], requires: &[&str], scripts: &[(&str, &str)]) -> DistContents {
        DistContents {
            backend: None,
            files: files.iter().map(|(p, h)| (p.to_string(), h.to_string())).collect(),
            requires: requires.iter().map(|s| s.to_string()).collect(),
            scripts: scripts.iter().map(|(n, t)| (n.to_string(), t.to_string())).collect(),
        }
    }

    #[test]
    fn a_new_pth_a_shadowing_script_and_new_dependencies_are_named() {
        let old = contents(
            &[
                ("lib/__init__.py", "a"),
                ("lib/x.py", "b"),
                ("lib-1.0.dist-info/RECORD", ""),
            ],
            &["idna>=2"],
            &[("lib", "lib:main")],
        );
        let new = contents(
            &[
                ("lib/__init__.py", "a2"),
                ("lib_init.pth", "c"),
                ("lib/_speed.cpython-311-x86_64-linux-gnu.so", "d"),
                ("lib-2.0.dist-info/RECORD", ""),
            ],
            &["idna>=2", "requests"],
            &[("lib", "lib:main"), ("ls", "lib.steal:run")],
        );
        let review = compare(Some(&old), &new);
        assert_eq!((review.added, review.removed, review.changed), (2, 1, 1));
        assert_eq!(
            review.concerns,
            [
                Concern::NewPth("lib_init.pth".into()),
                Concern::NewScript {
                    name: "ls".into(),
                    target: "lib.steal:run".into(),
                    shadows: true
                },
                Concern::NativeBinary("lib/_speed.cpython-311-x86_64-linux-gnu.so".into()),
                Concern::DependencyAdded("requests".into()),
            ]
        );
        assert!(review.concerns[0].needs_acceptance());
        assert!(!review.concerns[1].needs_acceptance());
        // Nothing changed: nothing to read.
        let same = compare(Some(&new), &new);
        assert_eq!(
            (same.added, same.removed, same.changed, same.concerns.len()),
            (0, 0, 0, 0)
        );
    }
}

/// Text files larger than this are compared by size only.
const MAX_TEXT_DIFF: u64 = 1 << 20;

/// A unified diff of the trees `old` and `new` (either may be absent:
/// everything added or removed), file by file in name order; files that
/// are not UTF-8 text, or larger than 1 MiB, are named with their sizes.
pub fn tree_diff(old: Option<&Path>, new: Option<&Path>) -> std::io::Result<String> {
    let mut files: BTreeSet<std::path::PathBuf> = BTreeSet::new();
    for root in [old, new].into_iter().flatten() {
        collect(root, root, &mut files)?;
    }
    let mut out = String::new();
    for relative in files {
        let read = |root: Option<&Path>| -> std::io::Result<Option<Content>> {
            let Some(root) = root else { return Ok(None) };
            Content::read(&root.join(&relative))
        };
        let (before, after) = (read(old)?, read(new)?);
        if before == after {
            continue;
        }
        let name = relative.display().to_string();
        let (from, to) = (
            if before.is_some() {
                format!("a/{name}")
            } else {
                "/dev/null".into()
            },
            if after.is_some() {
                format!("b/{name}")
            } else {
                "/dev/null".into()
            },
        );
        match (&before, &after) {
            (None | Some(Content::Text(_)), None | Some(Content::Text(_))) => {
                let text = |c: &Option<Content>| match c {
                    Some(Content::Text(t)) => t.clone(),
                    _ => String::new(),
                };
                let (a, b) = (text(&before), text(&after));
                let patch = diffy::DiffOptions::new()
                    .set_original_filename(from)
                    .set_modified_filename(to)
                    .create_patch(&a, &b);
                out.push_str(&patch.to_string());
            }
            _ => {
                let describe = |c: &Option<Content>| match c {
                    None => "absent".to_string(),
                    Some(c) => c.describe(),
                };
                out.push_str(&format!(
                    "--- {from}\n+++ {to}\n~ {name}: {} → {}\n",
                    describe(&before),
                    describe(&after)
                ));
            }
        }
    }
    Ok(out)
}

#[derive(PartialEq)]
enum Content {
    Text(String),
    Binary { size: u64, digest: [u8; 32] },
    Link(std::path::PathBuf),
}

impl Content {
    fn read(path: &Path) -> std::io::Result<Option<Content>> {
        let meta = match std::fs::symlink_metadata(path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        if meta.file_type().is_symlink() {
            return Ok(Some(Content::Link(std::fs::read_link(path)?)));
        }
        if meta.len() <= MAX_TEXT_DIFF {
            let bytes = std::fs::read(path)?;
            if !bytes.contains(&0)
                && let Ok(text) = std::str::from_utf8(&bytes)
            {
                return Ok(Some(Content::Text(text.to_string())));
            }
            return Ok(Some(Content::Binary {
                size: meta.len(),
                digest: digest(&mut &bytes[..])?,
            }));
        }
        Ok(Some(Content::Binary {
            size: meta.len(),
            digest: digest(&mut std::fs::File::open(path)?)?,
        }))
    }

    fn describe(&self) -> String {
        match self {
            Content::Text(t) => format!("text, {} bytes", t.len()),
            Content::Binary { size, .. } => format!("binary, {size} bytes"),
            Content::Link(target) => format!("symlink to {}", target.display()),
        }
    }
}

fn digest(reader: &mut dyn std::io::Read) -> std::io::Result<[u8; 32]> {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    let mut buffer = vec![0u8; 64 << 10];
    loop {
        match reader.read(&mut buffer)? {
            0 => break,
            n => hasher.update(&buffer[..n]),
        }
    }
    Ok(hasher.finalize().into())
}

fn collect(root: &Path, dir: &Path, out: &mut BTreeSet<std::path::PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            collect(root, &path, out)?;
        } else {
            out.insert(path.strip_prefix(root).expect("under its root").to_path_buf());
        }
    }
    Ok(())
}

#[cfg(test)]
mod diff_tests {
    use super::*;

    #[test]
    fn trees_diff_file_by_file() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        std::fs::write(a.path().join("same.txt"), "x\n").unwrap();
        std::fs::write(b.path().join("same.txt"), "x\n").unwrap();
        std::fs::write(a.path().join("code.py"), "a = 1\nb = 2\n").unwrap();
        std::fs::write(b.path().join("code.py"), "a = 1\nb = 3\n").unwrap();
        std::fs::create_dir(b.path().join("pkg")).unwrap();
        std::fs::write(b.path().join("pkg/new.pth"), "import evil\n").unwrap();
        std::fs::write(a.path().join("blob.so"), [0u8, 1, 2]).unwrap();
        let diff = tree_diff(Some(a.path()), Some(b.path())).unwrap();
        assert!(
            diff.contains("--- a/code.py\n+++ b/code.py\n@@ -1,2 +1,2 @@\n a = 1\n-b = 2\n+b = 3\n"),
            "{diff}"
        );
        assert!(
            diff.contains("--- /dev/null\n+++ b/pkg/new.pth\n@@ -0,0 +1 @@\n+import evil\n"),
            "{diff}"
        );
        assert!(diff.contains("~ blob.so: binary, 3 bytes → absent"), "{diff}");
        assert!(!diff.contains("same.txt"), "{diff}");
    }
}

#[cfg(test)]
mod sdist_tests {
    use super::*;

    fn sdist(dir: &Path, name: &str, files: &[(&str, &str)]) -> std::path::PathBuf {
        let path = dir.join(name);
        let gz = flate2::write::GzEncoder::new(std::fs::File::create(&path).unwrap(), flate2::Compression::fast());
        let mut builder = tar::Builder::new(gz);
        let top = name.trim_end_matches(".tar.gz");
        for (file, text) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(text.len() as u64);
            header.set_mode(0o644);
            header.set_entry_type(tar::EntryType::Regular);
            builder
                .append_data(&mut header, format!("{top}/{file}"), text.as_bytes())
                .unwrap();
        }
        builder.into_inner().unwrap().finish().unwrap();
        path
    }

    #[test]
    fn an_sdist_with_new_setup_code_or_backend_needs_acceptance() {
        let dir = tempfile::tempdir().unwrap();
        let old = sdist(
            dir.path(),
            "lib-1.0.tar.gz",
            &[
                (
                    "pyproject.toml",
                    "[build-system]\nbuild-backend = \"flit_core.buildapi\"\n",
                ),
                ("lib.py", "A = 1\n"),
            ],
        );
        let new = sdist(
            dir.path(),
            "lib-2.0.tar.gz",
            &[
                ("pyproject.toml", "[build-system]\n"),
                ("lib.py", "A = 1\n"),
                ("setup.py", "import os\n"),
            ],
        );
        let old = DistContents::read(&old, "lib-1.0.tar.gz").unwrap().unwrap();
        let new = DistContents::read(&new, "lib-2.0.tar.gz").unwrap().unwrap();
        let review = compare(Some(&old), &new);
        assert_eq!((review.added, review.removed, review.changed), (1, 0, 1));
        assert_eq!(
            review.concerns,
            [
                Concern::InstallTimeCode("setup.py".into()),
                Concern::BuildBackend {
                    from: "flit_core.buildapi".into(),
                    to: "setuptools.build_meta".into()
                },
            ]
        );
        assert!(review.concerns.iter().all(Concern::needs_acceptance));
        assert!(
            DistContents::read(&dir.path().join("x"), "notes.txt")
                .unwrap()
                .is_none()
        );
    }
}
