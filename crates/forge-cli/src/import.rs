//! `forge import python FILE`: pinned elements from a lock file.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use forge_project::UrlPurpose;
use forge_python::lockfile::{LockedFile, parse, read_requirements};
use forge_python::names::{DistFile, normalize, parse_filename};
use forge_python::tags::{compatible_tags, rank};
use forge_sources::Progress as _;
use forge_yaml::write_scalar;

use crate::cli::{ImportDebArgs, ImportPythonArgs};
use crate::exit::Failure;
use crate::session::Session;
use crate::track::write_atomically;

fn best_file<'a>(files: &'a [LockedFile], tags: &[(String, String, String)]) -> Option<&'a LockedFile> {
    files
        .iter()
        .filter_map(|f| match parse_filename(&f.filename)? {
            DistFile::Wheel {
                python, abi, platform, ..
            } => rank(&python, &abi, &platform, tags).map(|r| (r, f)),
            DistFile::Sdist { .. } => None,
        })
        .min_by_key(|(r, _)| *r)
        .map(|(_, f)| f)
}

/// How every file `forge import python` and `forge lock` write begins
/// (`# written by forge import python from …`): the files they may
/// rewrite or prune are those, and no others.
const IMPORT_MARK: &str = "# written by forge ";

/// Runs `forge import python`.
pub fn run(session: &Session, args: &ImportPythonArgs) -> Result<(), Failure> {
    let project = &session.project;
    let file_name = args
        .file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let lock = if file_name.ends_with(".toml") || file_name.ends_with("uv.lock") {
        let text = std::fs::read_to_string(&args.file)
            .map_err(|e| Failure::usage(format!("cannot read {}: {e}", args.file.display())))?;
        parse(&file_name, &text).map_err(|e| Failure::usage(format!("{}: {e}", args.file.display())))?
    } else {
        // Requirements files may include others (`-r`).
        read_requirements(&args.file).map_err(Failure::usage)?
    };
    let indexes = indexes_for(
        project,
        args.index.as_deref(),
        lock.index.as_deref(),
        &lock.extra_indexes,
    )?;
    let target = python_target(project)?;
    let tags = compatible_tags(target.as_ref());
    let destination = Destination::new(project, &file_name, args.into.clone())?;
    let downloader = session.downloader()?;
    let progress = crate::progress::BarProgress::new();
    let ctx = session.source_context(&downloader, &progress);
    let mut written = Vec::new();
    let mut problems = Vec::new();
    let marker_env = marker_env(target.as_ref());
    let mut skipped = Vec::new();
    let min_age = project_min_release_age(project)?;
    let mut refused = Vec::new();
    // uv.lock: only what the project's dependencies reach on this target.
    let needed = forge_python::lockfile::needed(&lock, &marker_env).map_err(Failure::usage)?;
    for (package, needed) in lock.packages.iter().zip(needed) {
        if !needed {
            skipped.push(format!(
                "{} (reached only through markers that do not hold)",
                package.name
            ));
            continue;
        }
        match forge_sources::pypi::typo_squat_gate(&package.name, |key| pypi_config(project, key)) {
            Ok(Some(warning)) => progress.warn(&warning),
            Ok(None) => {}
            Err(refusal) => {
                refused.push(refusal);
                continue;
            }
        }
        if let Some((marker, at)) = &package.marker {
            match forge_python::markers::evaluate(marker, &marker_env) {
                Ok(true) => {}
                Ok(false) => {
                    skipped.push(format!("{} ({marker})", package.name));
                    continue;
                }
                Err(why) => {
                    problems.push(format!(
                        "{at}: {}: the marker `{marker}` cannot be evaluated: {why}",
                        package.name
                    ));
                    continue;
                }
            }
        }
        // The index the element names: the one that lists the package.
        let mut index = indexes[0].clone();
        let chosen: Option<LockedFile> = if !package.files.is_empty() {
            best_file(&package.files, &tags).cloned()
        } else {
            // requirements.txt: ask the index which files the hashes are.
            let (listed_by, listed) =
                match forge_sources::pypi::find_project(&ctx, &indexes, &package.name, UrlPurpose::Track) {
                    Ok(found) => found,
                    Err(e) if e.refused => {
                        refused.push(format!("{} {}: {e}", package.name, package.version));
                        continue;
                    }
                    Err(e) => {
                        problems.push(format!("{} {}: {e}", package.name, package.version));
                        continue;
                    }
                };
            index = listed_by;
            let wanted: BTreeSet<&str> = package.hashes.iter().map(String::as_str).collect();
            let listed_count = listed.len();
            let pinned: Vec<_> = listed
                .into_iter()
                .filter(|f| f.sha256.as_deref().is_some_and(|s| wanted.contains(s)))
                .collect();
            // The cool-down holds for imported pins too, where the index
            // says when the file was uploaded.
            let now = forge_sources::pypi::now_seconds();
            let too_young: Vec<String> = pinned
                .iter()
                .filter_map(|f| forge_sources::pypi::held_back(f, min_age?, now))
                .collect();
            if !too_young.is_empty() {
                refused.push(format!(
                    "{} {}: younger than min-release-age: {}",
                    package.name,
                    package.version,
                    too_young.join(", ")
                ));
                continue;
            }
            let files: Vec<LockedFile> = pinned
                .into_iter()
                .map(|f| LockedFile {
                    filename: f.filename,
                    url: Some(f.url),
                    sha256: f.sha256.unwrap_or_default(),
                })
                .collect();
            if files.is_empty() {
                problems.push(format!(
                    "{} {}: no file the index lists for it ({listed_count} listed) has any of its --hash values",
                    package.name, package.version
                ));
                continue;
            }
            best_file(&files, &tags).cloned()
        };
        let Some(file) = chosen else {
            problems.push(format!(
                "{} {}: no wheel among its pinned files suits the project's Python target",
                package.name, package.version
            ));
            continue;
        };
        let name = normalize(&package.name);
        // What it requires (its METADATA, markers for the target) wires it
        // to the packages of the lock it runs with.
        let requires = match file.url.as_deref() {
            Some(url) => match ctx.download(url, UrlPurpose::Fetch, &file.filename, Some(&file.sha256)) {
                Ok(done) => {
                    forge_python::metadata::wheel_requires(&session.sources.file_path(&done.sha256), &marker_env)
                        .map_err(|e| Failure::fetch(format!("{}: {e}", file.filename)))?
                }
                Err(failure) => {
                    problems.push(
                        failure
                            .into_error(format!("cannot fetch {}", file.filename))
                            .to_string(),
                    );
                    continue;
                }
            },
            None => {
                progress.warn(&format!(
                    "{}: the lock file gives no URL, so its dependencies are not wired",
                    file.filename
                ));
                Vec::new()
            }
        };
        let element = pip_element(
            &index,
            &package.name,
            &format!("=={}", package.version),
            &package.version,
            &file.filename,
            &file.sha256,
        );
        written.push(Imported {
            name,
            element,
            requires,
        });
    }
    if !refused.is_empty() {
        return Err(Failure::trust(format!(
            "nothing was written:\n  {}",
            refused.join("\n  ")
        )));
    }
    if !problems.is_empty() {
        return Err(Failure::fetch(format!(
            "nothing was written:\n  {}",
            problems.join("\n  ")
        )));
    }
    let output = Output {
        file_name: &file_name,
        verb: "import python",
        app: args.app.as_deref().zip(args.base.as_deref()),
        prune: args.prune,
    };
    write_elements(project, &destination, &output, &written, &skipped, &progress)
}

/// Where the elements of a lock go: the folder as given, on disk, and
/// inside the element path.
pub struct Destination {
    shown: PathBuf,
    into: PathBuf,
    prefix: String,
}

impl Destination {
    /// `into`, or by default a folder named after the lock file
    /// (requirements.txt: elements/requirements/), never one that holds
    /// other elements.
    pub fn new(
        project: &forge_project::Project,
        file_name: &str,
        into: Option<PathBuf>,
    ) -> Result<Destination, Failure> {
        let shown = into.unwrap_or_else(|| {
            let stem = file_name
                .split('.')
                .next()
                .filter(|s| !s.is_empty())
                .unwrap_or("python");
            Path::new(&project.element_path_display).join(file_safe(stem))
        });
        let into = project.dir.join(&shown);
        let relative = into.strip_prefix(&project.element_path).map_err(|_| {
            Failure::usage(format!(
                "{} is not inside the element path ({})",
                shown.display(),
                project.element_path_display
            ))
        })?;
        let prefix = relative.to_string_lossy().trim_end_matches('/').to_string();
        Ok(Destination { shown, into, prefix })
    }
}

/// `text` with every character but ASCII letters, digits, `-` and `_`
/// made `-`: a name for files and elements.
pub fn file_safe(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// The indexes to look packages up on: the one given, else the file's
/// `--index-url`, else project.conf's `sources: pypi: config: indexes:`,
/// else the `pypi` alias, else the public index; then the file's
/// `--extra-index-url`s. With more than one, a package on two is refused
/// as dependency confusion. Each ends in `/`.
pub fn indexes_for(
    project: &forge_project::Project,
    given: Option<&str>,
    from_file: Option<&str>,
    extra: &[String],
) -> Result<Vec<String>, Failure> {
    let slash = forge_sources::pypi::with_slash;
    let mut indexes = match (given.or(from_file), pypi_config(project, "indexes")) {
        (Some(index), _) => vec![slash(index)],
        (None, Some(node)) => forge_sources::pypi::index_list(node)?,
        (None, None) if project.aliases.contains_key("pypi") => vec!["pypi:simple/".to_string()],
        (None, None) => vec![forge_sources::pypi::DEFAULT_INDEX.to_string()],
    };
    for url in extra.iter().map(|u| slash(u)) {
        if !indexes.contains(&url) {
            indexes.push(url);
        }
    }
    Ok(indexes)
}

/// `sources: pypi: config: min-release-age:` of project.conf, in seconds.
pub fn project_min_release_age(project: &forge_project::Project) -> Result<Option<i64>, Failure> {
    let text = pypi_config(project, "min-release-age").and_then(|n| n.as_str().map(str::to_string));
    text.map(|t| {
        forge_sources::pypi::parse_age(&t).ok_or_else(|| {
            Failure::usage(format!(
                "project.conf: min-release-age '{t}' is not an age; write 7d, 12h, 30m or 3600s"
            ))
        })
    })
    .transpose()
}

/// The project's Python target, if `sources: pypi: config: target:`
/// declares one.
pub fn python_target(project: &forge_project::Project) -> Result<Option<forge_python::tags::Target>, Failure> {
    let target = pypi_config(project, "target");
    Ok(target.map(forge_sources::pypi::target_from_node).transpose()?)
}

/// `key` of `sources: pypi: config:` in project.conf.
pub fn pypi_config<'p>(project: &'p forge_project::Project, key: &str) -> Option<&'p forge_yaml::Node> {
    project
        .source_overrides
        .get("pypi")
        .and_then(|n| n.as_map())
        .and_then(|m| m.get("config"))
        .and_then(|c| c.as_map())
        .and_then(|c| c.get(key))
}

/// Markers are evaluated for the project's target, never the host.
pub fn marker_env(target: Option<&forge_python::tags::Target>) -> forge_python::markers::MarkerEnv {
    forge_python::markers::MarkerEnv {
        python: target.map(|t| t.version),
        machine: target
            .and_then(|t| t.platforms.last())
            .and_then(|p| p.strip_prefix("linux_"))
            .map(str::to_string),
        extra: None,
    }
}

/// The element of one pinned file.
pub fn pip_element(index: &str, name: &str, specifier: &str, version: &str, filename: &str, sha256: &str) -> String {
    format!(
        "kind: pip\nsources:\n- kind: pypi\n  url: {}\n  name: {}\n  version: {}\n  ref:\n    version: {}\n    filename: {}\n    sha256: {}\n",
        write_scalar(index),
        write_scalar(name),
        write_scalar(specifier),
        write_scalar(version),
        write_scalar(filename),
        sha256
    )
}

/// One package's element, before it is written.
pub struct Imported {
    /// Its normalized name (the element's file name).
    pub name: String,
    /// The element, without the header and its dependencies.
    pub element: String,
    /// The names of the packages it requires.
    pub requires: Vec<String>,
}

/// How a set of elements is written.
pub struct Output<'a> {
    /// The lock file's name, in the header and the stack's description.
    pub file_name: &'a str,
    /// `import` or `lock`, in the report.
    pub verb: &'a str,
    /// `--app NAME --base ELEMENT`.
    pub app: Option<(&'a str, &'a str)>,
    /// `--prune`.
    pub prune: bool,
}

/// The version an element's ref pins.
fn pinned_version(element: &str) -> Option<&str> {
    let after_ref = &element[element.find("\n  ref:\n")?..];
    after_ref.lines().find_map(|l| l.strip_prefix("    version: "))
}

impl Output<'_> {
    /// The command, to begin its report's lines with.
    fn command(&self) -> &str {
        self.verb.split(' ').next().unwrap_or(self.verb)
    }
}

/// Writes the elements (and the stack gathering them, and the application
/// element), leaving everything not written by an import alone, and says
/// what was added, changed and left.
pub fn write_elements(
    project: &forge_project::Project,
    destination: &Destination,
    output: &Output<'_>,
    written: &[Imported],
    skipped: &[String],
    progress: &dyn forge_sources::Progress,
) -> Result<(), Failure> {
    let (into, into_arg, prefix) = (&destination.into, &destination.shown, &destination.prefix);
    let file_name = output.file_name;
    std::fs::create_dir_all(into).map_err(|e| Failure::internal(format!("cannot create {}: {e}", into.display())))?;
    let header = format!("{IMPORT_MARK}{} from {}\n", output.verb, write_scalar(file_name));
    // What an earlier import wrote here (marked by its header), to say
    // what changes and to leave everything else alone.
    let mut earlier: std::collections::BTreeMap<String, String> = std::collections::BTreeMap::new();
    for entry in std::fs::read_dir(into).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let (Some(stem), Ok(text)) = (name.strip_suffix(".bst"), std::fs::read_to_string(entry.path()))
            && text.starts_with(IMPORT_MARK)
        {
            earlier.insert(stem.to_string(), text);
        }
    }
    // Never over a file of someone else's (one without the header).
    let stack_path: PathBuf = Path::new(&project.element_path).join(format!("{prefix}.bst"));
    let app = match output.app {
        Some((name, base)) => {
            let name = name.trim_end_matches(".bst");
            if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
                return Err(Failure::usage(format!("--app {name}: an element name, such as 'tool'")));
            }
            if !project.element_path.join(base).is_file() {
                return Err(Failure::usage(format!(
                    "--base {base}: there is no element {base} (the element that provides the interpreter)"
                )));
            }
            Some((
                Path::new(&project.element_path).join(format!("{name}.bst")),
                base.to_string(),
            ))
        }
        None => None,
    };
    let targets = written
        .iter()
        .map(|imported| into.join(format!("{}.bst", imported.name)))
        .chain([stack_path.clone()])
        .chain(app.iter().map(|(path, _)| path.clone()));
    for target in targets {
        if let Ok(text) = std::fs::read_to_string(&target)
            && !text.starts_with(IMPORT_MARK)
        {
            return Err(Failure::usage(format!(
                "{} exists and was not written by forge import or forge lock; nothing was written (move it, or write --into another folder)",
                target.strip_prefix(&project.dir).unwrap_or(&target).display()
            )));
        }
    }
    // The interpreter the packages build-depend on: --base, else the one an
    // earlier run of this folder wrote (a re-lock keeps the first choice).
    let interpreter: Option<String> = app.as_ref().map(|(_, base)| write_scalar(base)).or_else(|| {
        earlier.values().find_map(|text| {
            let after = &text[text.find("\nbuild-depends:\n- ")? + "\nbuild-depends:\n- ".len()..];
            after.lines().next().map(str::to_string)
        })
    });
    let mut stack = format!("{header}kind: stack\ndescription: the Python packages of ");
    stack.push_str(&write_scalar(file_name));
    stack.push_str("\ndepends:\n");
    let (mut added, mut changed, mut unchanged) = (Vec::new(), Vec::new(), 0);
    let imported: BTreeSet<&str> = written.iter().map(|i| i.name.as_str()).collect();
    let mut unpinned_requirements = Vec::new();
    for Imported {
        name,
        element,
        requires,
    } in written
    {
        let mut text = format!("{header}{element}");
        if let Some(base) = &interpreter {
            // The interpreter, for `compile-bytecode` (nothing else of it
            // is staged to install a wheel).
            text.push_str(&format!("build-depends:\n- {base}\n"));
        }
        let wired: Vec<&String> = requires
            .iter()
            .filter(|r| r.as_str() != name.as_str() && imported.contains(r.as_str()))
            .collect();
        if !wired.is_empty() {
            text.push_str("runtime-depends:\n");
            for dep in wired {
                text.push_str(&format!("- {prefix}/{dep}.bst\n"));
            }
        }
        unpinned_requirements.extend(
            requires
                .iter()
                .filter(|r| !imported.contains(r.as_str()))
                .map(|r| format!("{name} requires {r}")),
        );
        match earlier.remove(name) {
            Some(old) if old == text => unchanged += 1,
            Some(old) => changed.push(match (pinned_version(&old), pinned_version(&text)) {
                (Some(from), Some(to)) if from != to => format!("{name}.bst ({from} -> {to})"),
                _ => format!("{name}.bst"),
            }),
            None => added.push(format!("{name}.bst")),
        }
        write_atomically(&into.join(format!("{name}.bst")), &text).map_err(|e| Failure::internal(e.to_string()))?;
        stack.push_str(&format!("- {prefix}/{name}.bst\n"));
    }
    write_atomically(&stack_path, &stack).map_err(|e| Failure::internal(e.to_string()))?;
    if let Some((path, base)) = &app {
        let text = format!(
            "{header}kind: stack\ndescription: the interpreter and the Python packages of {}\ndepends:\n- {}\n- {prefix}.bst\n",
            write_scalar(file_name),
            write_scalar(base)
        );
        write_atomically(path, &text).map_err(|e| Failure::internal(e.to_string()))?;
    }
    let stale: Vec<String> = earlier.into_keys().map(|name| format!("{name}.bst")).collect();
    if output.prune {
        for name in &stale {
            std::fs::remove_file(into.join(name))
                .map_err(|e| Failure::internal(format!("cannot remove {name}: {e}")))?;
        }
    }
    for package in skipped {
        eprintln!("  skipped {package}: not for this target");
    }
    if !unpinned_requirements.is_empty() {
        progress.warn(&format!(
            "the lock file pins no package for: {} (is it the whole closure?)",
            unpinned_requirements.join(", ")
        ));
    }
    for (mark, names) in [
        ("+", &added),
        ("~", &changed),
        (if output.prune { "-" } else { "?" }, &stale),
    ] {
        for name in names.iter() {
            eprintln!("  {mark} {prefix}/{name}");
        }
    }
    let stale_note = match (stale.len(), output.prune) {
        (0, _) => String::new(),
        (n, true) => format!(", {n} removed"),
        (n, false) => format!(", {n} no longer in the lock file (kept; --prune removes them)"),
    };
    eprintln!(
        "{}: {} pip elements in {}/ ({} added, {} changed, {unchanged} unchanged{stale_note}), gathered by {prefix}.bst",
        output.command(),
        written.len(),
        into_arg.display(),
        added.len(),
        changed.len(),
    );
    if let Some((path, _)) = &app {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        eprintln!(
            "{}: {name} puts the interpreter and the packages together: `forge build {name}`, then `forge shell {name} -- COMMAND`",
            output.command()
        );
    }
    Ok(())
}

/// Runs `forge import deb`.
pub fn debs(session: &Session, args: &ImportDebArgs) -> Result<(), Failure> {
    use std::collections::{BTreeMap, HashMap};

    use forge_debian::control::parse_depends;
    use forge_sources::deb::Archive;

    let project = &session.project;
    let keyring = project.dir.join(&args.keyring);
    let url = if args.url.ends_with('/') || args.url.ends_with(':') {
        args.url.clone()
    } else {
        format!("{}/", args.url)
    };
    let archive = Archive {
        url: url.clone(),
        suite: &args.suite,
        component: &args.component,
        arch: &args.arch,
        keyring,
    };
    let downloader = session.downloader()?;
    let progress = crate::progress::BarProgress::new();
    let ctx = session.source_context(&downloader, &progress);
    let packages = archive.packages(&ctx).map_err(|e| Failure::fetch(e.to_string()))?;
    let mut providers: HashMap<String, Vec<String>> = HashMap::new();
    for paragraph in packages.iter() {
        let Some(name) = paragraph.get("Package") else { continue };
        for provided in paragraph
            .get("Provides")
            .map(parse_depends)
            .unwrap_or_default()
            .into_iter()
            .flatten()
        {
            providers.entry(provided.name).or_default().push(name.to_string());
        }
    }
    let resolve = |name: &str| -> Option<String> {
        if packages.newest(name).is_some() {
            return Some(name.to_string());
        }
        providers.get(name).and_then(|p| p.iter().min().cloned())
    };
    let mut chosen: BTreeMap<String, (String, String, String)> = BTreeMap::new();
    let mut pending: Vec<String> = Vec::new();
    let mut missing = Vec::new();
    for name in &args.packages {
        match resolve(name) {
            Some(found) => pending.push(found),
            None => missing.push(name.clone()),
        }
    }
    if !missing.is_empty() {
        return Err(Failure::fetch(format!(
            "{} has no package {}",
            args.suite,
            missing.join(", ")
        )));
    }
    while let Some(name) = pending.pop() {
        if chosen.contains_key(&name) {
            continue;
        }
        let paragraph = packages.newest(&name).expect("resolved names exist");
        let field = |f: &str| paragraph.get(f).unwrap_or_default().to_string();
        chosen.insert(
            name.clone(),
            (
                field("Version"),
                field("Filename"),
                field("SHA256").to_ascii_lowercase(),
            ),
        );
        for key in ["Pre-Depends", "Depends"] {
            for alternatives in paragraph.get(key).map(parse_depends).unwrap_or_default() {
                // The first alternative that exists, as apt would pick.
                if let Some(found) = alternatives.iter().find_map(|r| resolve(&r.name)) {
                    if !chosen.contains_key(&found) {
                        pending.push(found);
                    }
                } else {
                    missing.push(format!(
                        "{} (needed by {name})",
                        alternatives
                            .iter()
                            .map(|r| r.name.as_str())
                            .collect::<Vec<_>>()
                            .join(" | ")
                    ));
                }
            }
        }
    }
    if !missing.is_empty() {
        return Err(Failure::fetch(format!(
            "unresolvable dependencies: {}",
            missing.join(", ")
        )));
    }
    let mut text = format!(
        "kind: deb\ndescription: {}\nsources:\n",
        write_scalar(&format!(
            "{} and their dependencies from Debian {} ({})",
            args.packages.join(", "),
            args.suite,
            args.arch
        ))
    );
    for (name, (version, filename, sha256)) in &chosen {
        text.push_str(&format!(
            "- kind: deb\n  url: {}\n  suite: {}\n  component: {}\n  arch: {}\n  keyring: {}\n  package: {}\n  ref:\n    version: {}\n    filename: {}\n    sha256: {sha256}\n",
            write_scalar(&url),
            write_scalar(&args.suite),
            write_scalar(&args.component),
            write_scalar(&args.arch),
            write_scalar(&args.keyring),
            write_scalar(name),
            write_scalar(version),
            write_scalar(filename),
        ));
    }
    let target = project.dir.join(&args.into);
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent).map_err(|e| Failure::internal(e.to_string()))?;
    }
    write_atomically(&target, &text).map_err(|e| Failure::internal(e.to_string()))?;
    eprintln!("import: {} packages pinned in {}", chosen.len(), args.into.display());
    Ok(())
}
