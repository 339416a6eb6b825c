//! Reading pinned Python dependency sets: `requirements.txt` with hashes
//! (pip-compile output), `pylock.toml` (PEP 751) and `uv.lock`.

/// A file a lock file names for a package.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockedFile {
    /// The file name (wheel or sdist).
    pub filename: String,
    /// Where the lock file says it is, if it says.
    pub url: Option<String>,
    /// Its sha256.
    pub sha256: String,
}

/// One pinned package.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockedPackage {
    /// Its name as written.
    pub name: String,
    /// The exact version.
    pub version: String,
    /// Files with names (pylock, uv.lock).
    pub files: Vec<LockedFile>,
    /// Hashes without file names (requirements.txt): the index tells
    /// which files they are.
    pub hashes: Vec<String>,
    /// Its PEP 508 environment marker, if it has one (requirements.txt),
    /// with where it is written (`file:line`).
    pub marker: Option<(String, String)>,
}

/// A lock file read: the packages and the index it names, if any.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LockFile {
    /// The packages.
    pub packages: Vec<LockedPackage>,
    /// `--index-url` of a requirements file, or a registry of uv.lock.
    pub index: Option<String>,
    /// `--extra-index-url`s of a requirements file: every index is asked
    /// for the files of the hashes, and a package on more than one is
    /// refused (dependency confusion).
    pub extra_indexes: Vec<String>,
    /// uv.lock's dependency graph, whose markers decide which packages a
    /// target needs (see [`needed`]); `None` for the other formats, whose
    /// packages carry their own markers.
    pub graph: Option<LockGraph>,
}

/// A dependency edge of uv.lock: a package by name (and version, when
/// several are locked), under a marker, with extras.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LockDep {
    /// The package's normalized name.
    pub name: String,
    /// Its version, when the lock names one.
    pub version: Option<String>,
    /// The PEP 508 marker under which the edge holds.
    pub marker: Option<String>,
    /// The extras asked of the package.
    pub extras: Vec<String>,
}

/// uv.lock's graph over [`LockFile::packages`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LockGraph {
    /// The project's own dependencies (not its dev group or extras).
    pub roots: Vec<LockDep>,
    /// Each package's dependencies, by its index in `packages`.
    pub dependencies: Vec<Vec<LockDep>>,
    /// Each package's extras and what they add.
    pub optional: Vec<std::collections::BTreeMap<String, Vec<LockDep>>>,
}

/// Which packages of `lock` a target with `env` needs: all of them for a
/// lock without a graph (their own markers are evaluated by the caller);
/// for uv.lock, those reached from the project's dependencies along edges
/// whose markers hold.
pub fn needed(lock: &LockFile, env: &crate::markers::MarkerEnv) -> Result<Vec<bool>, String> {
    let Some(graph) = &lock.graph else {
        return Ok(vec![true; lock.packages.len()]);
    };
    let mut needed = vec![false; lock.packages.len()];
    let names: Vec<String> = lock.packages.iter().map(|p| crate::names::normalize(&p.name)).collect();
    let mut seen = std::collections::BTreeSet::new();
    let mut pending: Vec<&LockDep> = graph.roots.iter().collect();
    while let Some(dep) = pending.pop() {
        if let Some(marker) = &dep.marker
            && !crate::markers::evaluate(marker, env).map_err(|e| format!("uv.lock: the marker `{marker}`: {e}"))?
        {
            continue;
        }
        for (i, package) in lock.packages.iter().enumerate() {
            if names[i] != dep.name || dep.version.as_ref().is_some_and(|v| *v != package.version) {
                continue;
            }
            needed[i] = true;
            if seen.insert((i, None)) {
                pending.extend(&graph.dependencies[i]);
            }
            for extra in &dep.extras {
                if seen.insert((i, Some(extra.clone()))) {
                    pending.extend(graph.optional[i].get(extra).into_iter().flatten());
                }
            }
        }
    }
    Ok(needed)
}

/// The dependency entries of a uv.lock table (`dependencies = [...]`).
fn uv_deps(list: Option<&toml::Value>) -> Vec<LockDep> {
    list.and_then(|l| l.as_array())
        .into_iter()
        .flatten()
        .filter_map(|d| {
            Some(LockDep {
                name: crate::names::normalize(d.get("name")?.as_str()?),
                version: d.get("version").and_then(|v| v.as_str()).map(str::to_string),
                marker: d.get("marker").and_then(|m| m.as_str()).map(str::to_string),
                extras: d
                    .get("extra")
                    .and_then(|e| e.as_array())
                    .into_iter()
                    .flatten()
                    .filter_map(|e| e.as_str().map(str::to_string))
                    .collect(),
            })
        })
        .collect()
}

fn basename(url: &str) -> String {
    url.split(['#', '?'])
        .next()
        .unwrap_or(url)
        .rsplit('/')
        .next()
        .unwrap_or(url)
        .to_string()
}

fn sha_of(hash: &str) -> Option<String> {
    hash.strip_prefix("sha256:")
        .or_else(|| hash.strip_prefix("sha256="))
        .map(|h| h.to_ascii_lowercase())
}

/// Reads `text`; `file_name` decides the format.
pub fn parse(file_name: &str, text: &str) -> Result<LockFile, String> {
    if file_name.ends_with("uv.lock") {
        parse_uv(text)
    } else if file_name.ends_with(".toml") {
        parse_pylock(text)
    } else {
        parse_requirements(text)
    }
}

/// pip-compile output: `name==version --hash=sha256:...` (continued over
/// lines with `\`). Requirements without `==` or without a hash are
/// refused, each named. `-r FILE` is refused here (there is no file to
/// read it beside): see [`read_requirements`].
pub fn parse_requirements(text: &str) -> Result<LockFile, String> {
    let mut no_files = |name: &str| -> Result<(String, String), String> {
        Err(format!(
            "-r {name}: includes are read only from a requirements file on disk"
        ))
    };
    parse_requirements_from(text, "requirements", &mut no_files, 0)
}

/// Reads the requirements file at `path`, with the files its `-r` lines
/// include (relative to the file that names them, at most 8 deep).
pub fn read_requirements(path: &std::path::Path) -> Result<LockFile, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let base = path.parent().map(std::path::Path::to_path_buf).unwrap_or_default();
    let mut include = |name: &str| -> Result<(String, String), String> {
        let included = base.join(name);
        std::fs::read_to_string(&included)
            .map(|text| (included.display().to_string(), text))
            .map_err(|e| format!("cannot read {}: {e}", included.display()))
    };
    parse_requirements_from(&text, &path.display().to_string(), &mut include, 0)
}

/// Options pip takes in a requirements file that forge does not honour,
/// and why.
const REFUSED_OPTIONS: &[(&str, &str)] = &[
    (
        "-e",
        "editable installs run a local project's build; build it with a pyproject element",
    ),
    (
        "--editable",
        "editable installs run a local project's build; build it with a pyproject element",
    ),
    (
        "-c",
        "constraints files are for resolvers; a lock file pins everything already",
    ),
    (
        "--constraint",
        "constraints files are for resolvers; a lock file pins everything already",
    ),
    ("-f", "forge takes every file from the index, not from links"),
    ("--find-links", "forge takes every file from the index, not from links"),
];

/// Reads an included requirements file by the name a `-r` line gives:
/// what to call it in messages, and its text.
type Include<'a> = dyn FnMut(&str) -> Result<(String, String), String> + 'a;

fn parse_requirements_from(
    text: &str,
    origin: &str,
    include: &mut Include<'_>,
    depth: usize,
) -> Result<LockFile, String> {
    if depth > 8 {
        return Err(format!("{origin}: -r includes nest more than 8 deep"));
    }
    // Logical lines (joined over trailing backslashes), with the number of
    // the line each starts on.
    let mut logical: Vec<(usize, String)> = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (i, raw) in text.lines().enumerate() {
        let (start, mut line) = pending.take().unwrap_or((i + 1, String::new()));
        let raw = raw.trim_end_matches('\r');
        match raw.strip_suffix('\\') {
            Some(head) => {
                line.push_str(head);
                line.push(' ');
                pending = Some((start, line));
            }
            None => {
                line.push_str(raw);
                logical.push((start, line));
            }
        }
    }
    logical.extend(pending);

    let mut lock = LockFile::default();
    let mut unpinned = Vec::new();
    for (number, raw) in logical {
        let at = format!("{origin}:{number}");
        let line = raw.split(" #").next().unwrap_or("").trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut words = line.split_whitespace();
        let first = words.next().unwrap_or("");
        if first.starts_with('-') {
            let (option, inline) = match first.split_once('=') {
                Some((option, value)) => (option, Some(value)),
                None => (first, None),
            };
            let mut value = || inline.map(str::to_string).or_else(|| words.next().map(str::to_string));
            match option {
                "--index-url" | "-i" => {
                    lock.index = Some(value().ok_or_else(|| format!("{at}: {option} needs a URL"))?);
                }
                "--extra-index-url" => {
                    let url = value().ok_or_else(|| format!("{at}: {option} needs a URL"))?;
                    crate::index::add_extra_index(&mut lock.extra_indexes, &url);
                }
                "-r" | "--requirement" => {
                    let name = value().ok_or_else(|| format!("{at}: {option} needs a file"))?;
                    let (included, text) = include(&name).map_err(|e| format!("{at}: {e}"))?;
                    let inner = parse_requirements_from(&text, &included, include, depth + 1)?;
                    lock.packages.extend(inner.packages);
                    if lock.index.is_none() {
                        lock.index = inner.index;
                    }
                    for url in &inner.extra_indexes {
                        crate::index::add_extra_index(&mut lock.extra_indexes, url);
                    }
                }
                _ => {
                    let why = REFUSED_OPTIONS
                        .iter()
                        .find(|(o, _)| *o == option)
                        .map(|(_, why)| *why)
                        .unwrap_or("forge does not know what it would change, so it does not guess");
                    return Err(format!("{at}: `{option}` is not supported: {why}"));
                }
            }
            continue;
        }
        let requirement = first.split(';').next().unwrap_or(first);
        let hashes: Vec<String> = line
            .split_whitespace()
            .filter_map(|w| w.strip_prefix("--hash="))
            .filter_map(sha_of)
            .collect();
        // `name==1.0 ; sys_platform == "win32" --hash=...`
        let marker = line.split_once(';').map(|(_, rest)| {
            let end = rest.find("--hash").unwrap_or(rest.len());
            (rest[..end].trim().to_string(), at.clone())
        });
        match requirement.split_once("==") {
            Some((name, version)) if !hashes.is_empty() && !version.contains(['*', ',']) => {
                let name = name.split('[').next().unwrap_or(name).trim().to_string();
                lock.packages.push(LockedPackage {
                    name,
                    version: version.trim().to_string(),
                    files: Vec::new(),
                    hashes,
                    marker,
                });
            }
            Some(_) if hashes.is_empty() => unpinned.push(format!("{requirement} (no --hash, line {number})")),
            _ => unpinned.push(format!(
                "{requirement} (not pinned with ==, or no --hash, line {number})"
            )),
        }
    }
    if !unpinned.is_empty() {
        return Err(format!(
            "{origin}: these requirements are not pinned by hash: {}\n  hint: generate the file with `pip-compile --generate-hashes` or `uv pip compile --generate-hashes`",
            unpinned.join(", ")
        ));
    }
    Ok(lock)
}

fn toml_files(package: &toml::Value, key: &str, hash_of: &dyn Fn(&toml::Value) -> Option<String>) -> Vec<LockedFile> {
    let entries: Vec<&toml::Value> = match package.get(key) {
        Some(toml::Value::Array(items)) => items.iter().collect(),
        Some(table @ toml::Value::Table(_)) => vec![table],
        _ => Vec::new(),
    };
    entries
        .into_iter()
        .filter_map(|entry| {
            let url = entry.get("url").and_then(|u| u.as_str()).map(str::to_string);
            let filename = entry
                .get("name")
                .and_then(|n| n.as_str())
                .map(str::to_string)
                .or_else(|| url.as_deref().map(basename))
                .or_else(|| entry.get("path").and_then(|p| p.as_str()).map(basename))?;
            Some(LockedFile {
                filename,
                url,
                sha256: hash_of(entry)?,
            })
        })
        .collect()
}

/// Adds a package of a TOML lock file with its files (wheels and sdist,
/// whose hashes `hash` reads), or records why it is not pinned.
fn add_locked(
    lock: &mut LockFile,
    unpinned: &mut Vec<String>,
    package: &toml::Value,
    name: String,
    version: &str,
    hash: &dyn Fn(&toml::Value) -> Option<String>,
    marker: Option<(String, String)>,
) -> bool {
    let mut files = toml_files(package, "wheels", hash);
    files.extend(toml_files(package, "sdist", hash));
    if files.is_empty() {
        unpinned.push(format!("{name} (no file with a sha256)"));
        return false;
    }
    lock.packages.push(LockedPackage {
        name,
        version: version.to_string(),
        files,
        hashes: Vec::new(),
        marker,
    });
    true
}

/// The result, or the list of what is not pinned.
fn finish(lock: LockFile, unpinned: Vec<String>) -> Result<LockFile, String> {
    if unpinned.is_empty() {
        Ok(lock)
    } else {
        Err(format!(
            "these packages are not pinned by hash: {}",
            unpinned.join(", ")
        ))
    }
}

/// PEP 751 `pylock.toml`.
pub fn parse_pylock(text: &str) -> Result<LockFile, String> {
    let doc: toml::Value = toml::from_str(text).map_err(|e| format!("not a pylock.toml: {e}"))?;
    let packages = doc
        .get("packages")
        .and_then(|p| p.as_array())
        .ok_or("pylock.toml has no [[packages]]")?;
    let hash = |entry: &toml::Value| {
        entry
            .get("hashes")
            .and_then(|h| h.get("sha256"))
            .and_then(|s| s.as_str())
            .map(|s| s.to_ascii_lowercase())
    };
    let mut lock = LockFile::default();
    let mut unpinned = Vec::new();
    for package in packages {
        let name = package
            .get("name")
            .and_then(|n| n.as_str())
            .ok_or("a package has no name")?
            .to_string();
        let Some(version) = package.get("version").and_then(|v| v.as_str()) else {
            unpinned.push(format!("{name} (no version)"));
            continue;
        };
        // PEP 751: a package is installed only where its marker holds.
        let marker = package
            .get("marker")
            .and_then(|m| m.as_str())
            .map(|m| (m.to_string(), format!("pylock.toml: [[packages]] {name}")));
        add_locked(&mut lock, &mut unpinned, package, name, version, &hash, marker);
    }
    finish(lock, unpinned)
}

/// `uv.lock`.
pub fn parse_uv(text: &str) -> Result<LockFile, String> {
    let doc: toml::Value = toml::from_str(text).map_err(|e| format!("not a uv.lock: {e}"))?;
    let packages = doc
        .get("package")
        .and_then(|p| p.as_array())
        .ok_or("uv.lock has no [[package]]")?;
    let hash = |entry: &toml::Value| entry.get("hash").and_then(|h| h.as_str()).and_then(sha_of);
    let mut lock = LockFile::default();
    let mut unpinned = Vec::new();
    let mut graph = LockGraph::default();
    let mut has_project = false;
    for package in packages {
        let name = package
            .get("name")
            .and_then(|n| n.as_str())
            .ok_or("a package has no name")?
            .to_string();
        let source = package.get("source");
        // The project itself and path or git dependencies have no registry.
        let Some(registry) = source.and_then(|s| s.get("registry")).and_then(|r| r.as_str()) else {
            if source.is_some_and(|s| s.get("editable").is_none() && s.get("virtual").is_none()) {
                unpinned.push(format!("{name} (not from a registry)"));
            } else {
                // The project: what it depends on is what is needed.
                has_project = true;
                graph.roots.extend(uv_deps(package.get("dependencies")));
            }
            continue;
        };
        lock.index.get_or_insert_with(|| registry.to_string());
        let version = package
            .get("version")
            .and_then(|v| v.as_str())
            .ok_or(format!("{name} has no version"))?;
        if add_locked(&mut lock, &mut unpinned, package, name, version, &hash, None) {
            graph.dependencies.push(uv_deps(package.get("dependencies")));
            graph.optional.push(
                package
                    .get("optional-dependencies")
                    .and_then(|o| o.as_table())
                    .into_iter()
                    .flatten()
                    .map(|(extra, list)| (extra.clone(), uv_deps(Some(list))))
                    .collect(),
            );
        }
    }
    // Without the project's own entry there is nothing to start from:
    // every package is taken.
    lock.graph = has_project.then_some(graph);
    finish(lock, unpinned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requirements_with_hashes() {
        let text = "--index-url https://mirror/simple\n# via flask\nclick==8.1.7 \\\n    --hash=sha256:AE74 \\\n    --hash=sha256:ca9\nitsdangerous==2.2.0 ; python_version >= \"3.8\" --hash=sha256:c615\n";
        let lock = parse_requirements(text).unwrap();
        assert_eq!(lock.index.as_deref(), Some("https://mirror/simple"));
        assert_eq!(lock.packages[0].name, "click");
        assert_eq!(lock.packages[0].hashes, vec!["ae74", "ca9"]);
        assert_eq!(lock.packages[1].version, "2.2.0");
        let err = parse_requirements("flask>=2\nclick==8.1.7\nrich==13 --hash=sha256:ab\n").unwrap_err();
        assert!(
            err.contains("flask>=2 (not pinned with ==, or no --hash, line 1), click==8.1.7 (no --hash, line 2)"),
            "{err}"
        );
    }

    #[test]
    fn requirement_options_are_honoured_or_refused_with_their_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/base.txt"), "attrs==24.2.0 --hash=sha256:aa\n").unwrap();
        std::fs::write(
            dir.path().join("req.txt"),
            "-r sub/base.txt\nclick==8.1.7 \\\n    --hash=sha256:bb\n",
        )
        .unwrap();
        let lock = read_requirements(&dir.path().join("req.txt")).unwrap();
        let names: Vec<&str> = lock.packages.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["attrs", "click"]);

        for (line, option) in [
            ("-e ./local", "-e"),
            ("--find-links=./wheels", "--find-links"),
            ("-c constraints.txt", "-c"),
            ("--no-such-option", "--no-such-option"),
        ] {
            let text = format!("click==8.1.7 \\\n  --hash=sha256:bb\n{line}\n");
            let err = parse_requirements(&text).unwrap_err();
            assert!(
                err.starts_with(&format!("requirements:3: `{option}` is not supported")),
                "{err}"
            );
        }
        std::fs::write(dir.path().join("loop.txt"), "-r loop.txt\n").unwrap();
        let err = read_requirements(&dir.path().join("loop.txt")).unwrap_err();
        assert!(err.contains("nest more than 8 deep"), "{err}");
        let err = read_requirements(&dir.path().join("nosuch.txt")).unwrap_err();
        assert!(err.contains("cannot read"), "{err}");
    }

    #[test]
    fn pylock_and_uv_lock() {
        let pylock = r#"
lock-version = "1.0"
[[packages]]
name = "click"
version = "8.1.7"
wheels = [{ url = "https://files/click-8.1.7-py3-none-any.whl", hashes = { sha256 = "AB" } }]
[[packages]]
name = "attrs"
version = "24.2.0"
sdist = { name = "attrs-24.2.0.tar.gz", hashes = { sha256 = "cd" } }
"#;
        let lock = parse_pylock(pylock).unwrap();
        assert_eq!(lock.packages[0].files[0].filename, "click-8.1.7-py3-none-any.whl");
        assert_eq!(lock.packages[0].files[0].sha256, "ab");
        assert_eq!(lock.packages[1].files[0].filename, "attrs-24.2.0.tar.gz");

        let uv = r#"
version = 1
[[package]]
name = "app"
version = "0.1.0"
source = { editable = "." }
[[package]]
name = "click"
version = "8.1.7"
source = { registry = "https://pypi.org/simple" }
sdist = { url = "https://files/click-8.1.7.tar.gz", hash = "sha256:ca", size = 10 }
wheels = [{ url = "https://files/click-8.1.7-py3-none-any.whl", hash = "sha256:ae", size = 9 }]
"#;
        let lock = parse_uv(uv).unwrap();
        assert_eq!(lock.index.as_deref(), Some("https://pypi.org/simple"));
        assert_eq!(lock.packages.len(), 1);
        assert_eq!(lock.packages[0].files.len(), 2);
        assert_eq!(lock.packages[0].files[0].filename, "click-8.1.7-py3-none-any.whl");
    }

    #[test]
    fn uv_lock_markers_and_extras_decide_what_a_target_needs() {
        let wheel = |name: &str, version: &str| {
            format!(
                "source = {{ registry = \"https://pypi.org/simple\" }}\nwheels = [{{ url = \"https://files/{name}-{version}-py3-none-any.whl\", hash = \"sha256:aa\" }}]\n"
            )
        };
        let uv = format!(
            r#"version = 1
[[package]]
name = "app"
version = "0.1.0"
source = {{ virtual = "." }}
dependencies = [{{ name = "requests", extra = ["socks"] }}, {{ name = "click" }}]
[package.dev-dependencies]
dev = [{{ name = "pytest" }}]
[[package]]
name = "click"
version = "8.1.7"
{}dependencies = [{{ name = "colorama", marker = "sys_platform == 'win32'" }}]
[[package]]
name = "colorama"
version = "0.4.6"
{}[[package]]
name = "requests"
version = "2.32.3"
{}[package.optional-dependencies]
socks = [{{ name = "pysocks" }}]
security = [{{ name = "pyopenssl" }}]
[[package]]
name = "pysocks"
version = "1.7.1"
{}[[package]]
name = "pyopenssl"
version = "24.0.0"
{}[[package]]
name = "pytest"
version = "8.0.0"
{}"#,
            wheel("click", "8.1.7"),
            wheel("colorama", "0.4.6"),
            wheel("requests", "2.32.3"),
            wheel("pysocks", "1.7.1"),
            wheel("pyopenssl", "24.0.0"),
            wheel("pytest", "8.0.0"),
        );
        let lock = parse_uv(&uv).unwrap();
        let linux = crate::markers::MarkerEnv {
            python: Some((3, 11)),
            machine: Some("x86_64".into()),
            ..Default::default()
        };
        let needed = needed(&lock, &linux).unwrap();
        let names: Vec<&str> = lock
            .packages
            .iter()
            .zip(&needed)
            .filter(|(_, n)| **n)
            .map(|(p, _)| p.name.as_str())
            .collect();
        // Not colorama (Windows), not the extra nobody asked for, not the
        // dev group.
        assert_eq!(names, ["click", "requests", "pysocks"]);

        let pylock = "lock-version = \"1.0\"\n[[packages]]\nname = \"colorama\"\nversion = \"0.4.6\"\nmarker = \"sys_platform == 'win32'\"\nwheels = [{ url = \"https://f/colorama-0.4.6-py3-none-any.whl\", hashes = { sha256 = \"ab\" } }]\n";
        let lock = parse_pylock(pylock).unwrap();
        assert_eq!(
            lock.packages[0].marker.as_ref().map(|m| m.0.as_str()),
            Some("sys_platform == 'win32'")
        );
    }
}
