//! Commands on built artifacts: checkout, shell, artifact and cache
//! maintenance.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use forge_cas::{ArtifactRecord, Cas, StageMode};
use forge_project::{CacheKeys, Graph, Scope};
use forge_sandbox::{Mount, SandboxCommand};

use crate::checkout::write_tar;
use crate::cli::{ArtifactCommand, CacheCommand, CheckoutArgs, DepsSelection, ShellArgs};
use crate::exit::{ExitClass, Failure, printable};
use crate::session::Session;
use crate::show::select;

fn build_failure(message: impl Into<String>) -> Failure {
    Failure {
        message: message.into(),
        code: ExitClass::Build,
    }
}

/// Element `e`'s successful artifact under its current key, if the cache
/// has one.
pub(crate) fn built_record(cas: &Cas, graph: &Graph, keys: &CacheKeys, e: usize) -> Option<ArtifactRecord> {
    let element = &graph.elements[e];
    keys.keys[e]
        .as_deref()
        .and_then(|key| cas.get_artifact(&element.project.name, &element.normal_name(), key))
        .filter(|r| r.success)
}

/// Brings the artifacts of `elements` the local cache lacks from the
/// artifact servers, when some are configured (as bst's checkout and shell
/// do); what no server has is left for [`artifacts`] to name.
fn pull_missing(
    session: &Session,
    cas: &Cas,
    graph: &Graph,
    keys: &CacheKeys,
    elements: &[usize],
) -> Result<(), Failure> {
    if session.remote_specs("artifacts")?.is_empty() {
        return Ok(());
    }
    let missing: Vec<usize> = elements
        .iter()
        .copied()
        .filter(|&e| {
            !graph.elements[e].junction && keys.keys[e].is_some() && built_record(cas, graph, keys, e).is_none()
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let servers = session.artifact_servers()?;
    let report = crate::build::LineReport::new();
    let moved = forge_engine::Transfers::default();
    forge_engine::pipeline::pull(servers, graph, keys, cas, &missing, &report, &moved);
    report.close();
    Ok(())
}

/// The successful artifacts of `elements` (pulled first where the cache
/// lacks them and a server has them), or an error naming the first that is
/// not built and the command that builds what `target` needs.
fn artifacts(
    session: &Session,
    cas: &Cas,
    graph: &Graph,
    target: usize,
    elements: &[usize],
) -> Result<Vec<(usize, ArtifactRecord)>, Failure> {
    let keys = session.cache_keys(graph)?;
    pull_missing(session, cas, graph, &keys, elements)?;
    let wanted = &graph.elements[target].name;
    elements
        .iter()
        .map(|&e| {
            let element = &graph.elements[e];
            let name = &element.name;
            let needed = if e == target {
                String::new()
            } else {
                format!(" (needed by {wanted})")
            };
            let key = keys.keys[e].as_deref().ok_or_else(|| {
                Failure::fetch(format!(
                    "{name}{needed} has unpinned sources; run `{}`",
                    session.suggest(&format!("track {name}"))
                ))
            })?;
            match cas.get_artifact(&element.project.name, &element.normal_name(), key) {
                Some(r) if r.success => Ok((e, r)),
                Some(_) => Err(build_failure(format!(
                    "the build of {name}{needed} failed; see `{}`",
                    session.suggest(&format!("artifact log {name}"))
                ))),
                None => Err(build_failure(format!(
                    "{name}{needed} is not built; run `{}`",
                    session.suggest(&format!("build {wanted}"))
                ))),
            }
        })
        .collect()
}

/// Stages artifacts into `root` in order, then runs the integration
/// commands of those that have some, each with its element's environment.
fn stage_and_integrate(
    cas: &Cas,
    graph: &Graph,
    staged: &[(usize, ArtifactRecord)],
    root: &Path,
    mode: StageMode,
    integrate: bool,
) -> Result<(), Failure> {
    for (e, record) in staged {
        let manifest = cas
            .get_manifest(&record.manifest)
            .map_err(|err| Failure::internal(format!("cannot read an artifact: {err}")))?;
        cas.stage(&manifest, root, mode)
            .map_err(|err| Failure::internal(format!("cannot stage {}: {err}", graph.elements[*e].name)))?;
    }
    if !integrate {
        return Ok(());
    }
    let mut ran = false;
    for (e, record) in staged {
        let element = &graph.elements[*e];
        for command in forge_kinds::build::integration_commands(&record.public) {
            ran = true;
            let env: Vec<(String, String)> = element
                .environment
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let path = element
                .environment
                .get("PATH")
                .map(String::as_str)
                .unwrap_or("/usr/bin:/bin");
            if !forge_sandbox::find_program(root, path, "sh") {
                return Err(build_failure(format!(
                    "the integration commands of {} need a shell, and what is staged has none; stage its runtime dependencies (--deps run) or pass --no-integrate",
                    element.name
                )));
            }
            let sandbox = SandboxCommand {
                root: root.to_path_buf(),
                root_writable: true,
                mounts: Vec::new(),
                cwd: "/".into(),
                env,
                network: false,
                argv: vec!["sh".into(), "-e".into(), "-c".into(), command.clone()],
            };
            let status = sandbox
                .run_interactive()
                .map_err(|err| build_failure(err.to_string()))?;
            if !status.success() {
                return Err(build_failure(format!(
                    "integration command of {} failed: {command}",
                    element.name
                )));
            }
        }
    }
    if ran {
        for dir in ["dev", "proc", "tmp"] {
            let _ = fs::remove_dir(root.join(dir));
        }
    }
    Ok(())
}

pub(crate) fn scope(deps: DepsSelection) -> Scope {
    match deps {
        DepsSelection::None => Scope::None,
        DepsSelection::Run => Scope::Run,
        DepsSelection::Build => Scope::Build,
        DepsSelection::All => Scope::All,
    }
}

/// Sets every mtime under `root` to `epoch`, without following symlinks.
fn set_mtimes(root: &Path, epoch: u64) {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(epoch);
    let mut pending = vec![root.to_path_buf()];
    let mut dirs = Vec::new();
    while let Some(dir) = pending.pop() {
        let Ok(entries) = fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            match entry.file_type() {
                Ok(t) if t.is_dir() => pending.push(path),
                Ok(t) if t.is_file() => {
                    if let Ok(file) = fs::File::options().write(true).open(&path) {
                        let _ = file.set_modified(time);
                    } else if let Ok(file) = fs::File::open(&path) {
                        let _ = file.set_modified(time);
                    }
                }
                _ => {}
            }
        }
        dirs.push(dir);
    }
    // Directories last: setting file times does not touch them, but
    // creating files above did.
    for dir in dirs.iter().rev() {
        if let Ok(file) = fs::File::open(dir) {
            let _ = file.set_modified(time);
        }
    }
}

/// Runs `forge checkout`.
pub fn checkout(session: &Session, args: &CheckoutArgs) -> Result<(), Failure> {
    let (graph, _) = select(
        &session.project,
        std::slice::from_ref(&args.target),
        DepsSelection::None,
    )?;
    let elements = graph.walk(&graph.targets, scope(args.deps));
    let cas = session.cas();
    let staged = artifacts(session, &cas, &graph, graph.targets[0], &elements)?;
    let integrate = !args.no_integrate && !args.hardlinks;
    let (target, temporary) = match (&args.destination, &args.tar) {
        (_, Some(_)) => {
            let dir = cas
                .temp_dir("checkout")
                .map_err(|e| Failure::internal(format!("cannot create a directory: {e}")))?;
            (dir.clone(), Some(dir))
        }
        (Some(dir), None) => {
            if dir.exists() && fs::read_dir(dir).map(|mut d| d.next().is_some()).unwrap_or(true) {
                return Err(Failure::usage(format!("{} exists and is not empty", dir.display())));
            }
            fs::create_dir_all(dir).map_err(|e| Failure::usage(format!("cannot create {}: {e}", dir.display())))?;
            (dir.clone(), None)
        }
        (None, None) => return Err(Failure::usage("give a directory or --tar FILE")),
    };
    let mode = if args.hardlinks {
        StageMode::Hardlink
    } else {
        StageMode::Copy
    };
    let result = stage_and_integrate(&cas, &graph, &staged, &target, mode, integrate).and_then(|()| {
        if !args.hardlinks {
            let target_element = &graph.elements[graph.targets[0]];
            let epoch = target_element
                .environment
                .get("SOURCE_DATE_EPOCH")
                .and_then(|v| v.parse().ok())
                .unwrap_or(1_321_009_871);
            set_mtimes(&target, epoch);
        }
        match &args.tar {
            Some(tar) => {
                write_tar(&target, tar).map_err(|e| Failure::internal(format!("cannot write {}: {e}", tar.display())))
            }
            None => Ok(()),
        }
    });
    if let Some(dir) = temporary {
        let _ = fs::remove_dir_all(dir);
    }
    result
}

/// Runs `forge shell`; exits with the command's status.
pub fn shell(session: &Session, args: &ShellArgs) -> Result<(), Failure> {
    let (graph, _) = select(
        &session.project,
        std::slice::from_ref(&args.target),
        DepsSelection::None,
    )?;
    let target = graph.targets[0];
    let element = &graph.elements[target];
    let cas = session.cas();
    let workdir = cas
        .temp_dir("shell")
        .map_err(|e| Failure::internal(format!("cannot create a directory: {e}")))?;
    let mut root = workdir.join("root");
    fs::create_dir_all(&root).map_err(|e| Failure::internal(e.to_string()))?;
    // A kept read-only root, held while the shell runs.
    let mut _kept = None;
    let argv = if args.command.is_empty() {
        vec!["sh".to_string(), "-i".to_string()]
    } else {
        args.command.clone()
    };
    let result = (|| -> Result<i32, Failure> {
        let mut mounts = Vec::new();
        let mut cwd = "/".to_string();
        let mut root_read_only = false;
        if args.build {
            let staging: Vec<usize> = graph
                .build_deps(target)
                .flat_map(|d| graph.walk(&[d], Scope::Run))
                .collect::<Vec<_>>();
            let mut seen = HashSet::new();
            let staging: Vec<usize> = staging.into_iter().filter(|e| seen.insert(*e)).collect();
            let staged = artifacts(session, &cas, &graph, target, &staging)?;
            stage_and_integrate(&cas, &graph, &staged, &root, StageMode::Copy, true)?;
            let build = workdir.join("build");
            let install = workdir.join("install");
            fs::create_dir_all(&build)
                .and_then(|()| fs::create_dir_all(&install))
                .map_err(|e| Failure::internal(e.to_string()))?;
            let downloader = session.downloader()?;
            let progress = crate::progress::BarProgress::new();
            let ctx = session.source_context(&downloader, &progress);
            forge_sources::stage_sources(&element.sources, &ctx.for_project(&element.project), &build)
                .map_err(|e| Failure::fetch(format!("{}: {e}; run `forge fetch`", element.name)))?;
            let build_root = element
                .variables
                .get("build-root")
                .unwrap_or("/buildstream/build")
                .to_string();
            mounts.push(Mount {
                host: build,
                target: build_root.clone(),
                writable: true,
            });
            mounts.push(Mount {
                host: install,
                target: element
                    .variables
                    .get("install-root")
                    .unwrap_or("/buildstream-install")
                    .to_string(),
                writable: true,
            });
            cwd = build_root;
        } else {
            let elements = graph.walk(&[target], Scope::Run);
            let staged = artifacts(session, &cas, &graph, target, &elements)?;
            // Without integration commands nothing writes into the root:
            // it is made of links into the cache and mounted read-only
            // (only /tmp is writable), so opening a shell copies nothing.
            let integrates = staged
                .iter()
                .any(|(_, record)| !forge_kinds::build::integration_commands(&record.public).is_empty());
            if integrates {
                stage_and_integrate(&cas, &graph, &staged, &root, StageMode::Copy, true)?;
            } else {
                // The same closure gives the same tree: the one staged for
                // an earlier shell is mounted again (see shell_roots).
                root_read_only = true;
                let names: Vec<(&str, &str)> = staged
                    .iter()
                    .map(|(e, record)| (graph.elements[*e].name.as_str(), record.manifest.as_str()))
                    .collect();
                let kept = forge_engine::shell_roots::kept_root(
                    &session.cache_dir,
                    &forge_engine::shell_roots::id(&names),
                    |dir| {
                        stage_and_integrate(&cas, &graph, &staged, dir, StageMode::Hardlink, true)
                            .map_err(|f| f.message)
                    },
                )
                .map_err(Failure::internal)?;
                root = kept.path.clone();
                _kept = Some(kept);
            }
        }
        // bwrap's own message would be `execvp x: No such file or directory`.
        // (Paths may point into the mounted build directory: only PATH
        // lookups are checked.)
        let path = element
            .environment
            .get("PATH")
            .map(String::as_str)
            .unwrap_or("/usr/bin:/bin");
        if !argv[0].contains('/') && !forge_sandbox::find_program(&root, path, &argv[0]) {
            let staged = if args.build {
                "the build dependencies of"
            } else {
                "the runtime closure of"
            };
            return Err(build_failure(format!(
                "{}: not found in {staged} {} (PATH={}); add the element that provides it as a {} dependency",
                printable(&argv[0]),
                element.name,
                printable(path),
                if args.build { "build" } else { "runtime" }
            )));
        }
        let (user_mounts, made) = user_mounts(&args.mount, &root)?;
        mounts.extend(user_mounts);
        let sandbox = SandboxCommand {
            root: root.clone(),
            root_writable: !root_read_only,
            mounts,
            cwd,
            env: element
                .environment
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            network: args.network,
            argv,
        };
        let status = sandbox.run_interactive();
        // A kept root stays as it was: the mount points made for this
        // shell go (deepest first; only while empty).
        for path in made.iter().rev() {
            let _ = fs::remove_dir(path).or_else(|_| match fs::metadata(path) {
                Ok(meta) if meta.is_file() && meta.len() == 0 => fs::remove_file(path),
                _ => Ok(()),
            });
        }
        let status = status.map_err(|e| build_failure(e.to_string()))?;
        Ok(status.code().unwrap_or(128))
    })();
    let _ = fs::remove_dir_all(&workdir);
    let code = result?;
    std::process::exit(code);
}

/// The `--mount HOST PATH` pairs as writable mounts, and the paths in
/// `root` that do not exist yet (bubblewrap makes them as mount points).
fn user_mounts(pairs: &[String], root: &Path) -> Result<(Vec<Mount>, Vec<PathBuf>), Failure> {
    let mut mounts = Vec::new();
    let mut made = Vec::new();
    for pair in pairs.chunks(2) {
        let [host, target] = pair else {
            return Err(Failure::usage("--mount takes a HOST path and a PATH in the sandbox"));
        };
        let host_path =
            fs::canonicalize(host).map_err(|e| Failure::usage(format!("--mount {}: {e}", printable(host))))?;
        let inside = Path::new(target);
        if !inside.is_absolute()
            || inside
                .components()
                .any(|c| !matches!(c, std::path::Component::Normal(_) | std::path::Component::RootDir))
            || inside == Path::new("/")
        {
            return Err(Failure::usage(format!(
                "--mount {} {}: the path in the sandbox must be absolute, without '..', and not /",
                printable(host),
                printable(target)
            )));
        }
        let mut at = root.to_path_buf();
        for part in inside.components().skip(1) {
            at.push(part);
            if fs::symlink_metadata(&at).is_err() && !made.contains(&at) {
                made.push(at.clone());
            }
        }
        mounts.push(Mount {
            host: host_path,
            target: target.clone(),
            writable: true,
        });
    }
    Ok((mounts, made))
}

/// Runs `forge artifact ...`.
pub fn artifact(session: &Session, command: &ArtifactCommand) -> Result<(), Failure> {
    let cas = session.cas();
    match command {
        ArtifactCommand::List => {
            for (project, element, key) in cas.list_artifacts() {
                let state = match cas.get_artifact(&project, &element, &key) {
                    Some(r) if r.success => "cached",
                    Some(_) => "failed",
                    None => "incomplete",
                };
                println!("{state:>10} {project}/{element}/{key}");
            }
            Ok(())
        }
        ArtifactCommand::Log { element } => {
            let (graph, _) = select(&session.project, std::slice::from_ref(element), DepsSelection::None)?;
            let keys = session.cache_keys(&graph)?;
            let target = graph.targets[0];
            let key = keys.keys[target]
                .as_deref()
                .ok_or_else(|| build_failure(format!("{element} has no cache key yet")))?;
            let owner = &graph.elements[target];
            let record = cas
                .get_artifact(&owner.project.name, &owner.normal_name(), key)
                .ok_or_else(|| build_failure(format!("{element} has not been built with its current key")))?;
            let log = cas
                .get_blob(&record.log)
                .map_err(|e| Failure::internal(format!("cannot read the log: {e}")))?;
            let text = String::from_utf8_lossy(&log);
            // Raw into a pipe or a file, as `cat` would; on a terminal,
            // nothing the build printed may drive it.
            if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
                print!("{}", printable(&text));
            } else {
                print!("{text}");
            }
            Ok(())
        }
        ArtifactCommand::Show { targets, deps } => {
            let (graph, selected) = select(&session.project, targets, *deps)?;
            let selected: Vec<usize> = selected.into_iter().filter(|&e| !graph.elements[e].junction).collect();
            let keys = session.cache_keys(&graph)?;
            let available = crate::show::downloadable(session, &cas, &graph, &keys, &selected);
            for &e in &selected {
                let element = &graph.elements[e];
                let record = keys.keys[e]
                    .as_deref()
                    .and_then(|key| cas.get_artifact(&element.project.name, &element.normal_name(), key));
                let state = match record {
                    Some(r) if r.success => "cached",
                    Some(_) => "failed",
                    None if available[e] => "available",
                    None => "not cached",
                };
                println!("{state:>12} {}", printable(&element.name));
            }
            Ok(())
        }
        ArtifactCommand::ListContents { targets, long } => {
            let (graph, _) = select(&session.project, targets, DepsSelection::None)?;
            let keys = session.cache_keys(&graph)?;
            let mut text = String::new();
            for &target in &graph.targets {
                let element = &graph.elements[target];
                let Some(record) = built_record(&cas, &graph, &keys, target) else {
                    continue;
                };
                let manifest = cas
                    .get_manifest(&record.manifest)
                    .map_err(|e| Failure::internal(format!("cannot read the artifact of {}: {e}", element.name)))?;
                text.push_str(&format!("  {}:", printable(&element.name)));
                if manifest.entries.is_empty() {
                    text.push_str("\n\tThis element has no associated artifacts");
                }
                for entry in &manifest.entries {
                    text.push_str("\n\t");
                    text.push_str(&printable(&content_line(entry, *long)));
                }
                text.push('\n');
            }
            if text.is_empty() {
                return Err(build_failure("none of the specified artifacts are cached".to_string()));
            }
            println!("{text}");
            Ok(())
        }
        ArtifactCommand::Push(args) => transfer(session, args, true),
        ArtifactCommand::Pull(args) => transfer(session, args, false),
        ArtifactCommand::Checkout(args) => checkout(session, args),
        ArtifactCommand::Delete { elements } => {
            let (graph, _) = select(&session.project, elements, DepsSelection::None)?;
            let keys = session.cache_keys(&graph)?;
            for &target in &graph.targets {
                let owner = &graph.elements[target];
                let name = &owner.name;
                let deleted = match keys.keys[target].as_deref() {
                    Some(key) => cas
                        .delete_artifact(&owner.project.name, &owner.normal_name(), key)
                        .map_err(|e| Failure::internal(e.to_string()))?,
                    None => false,
                };
                println!("{}: {}", name, if deleted { "deleted" } else { "not in the cache" });
            }
            Ok(())
        }
    }
}

/// One entry of `artifact list-contents`: its path, or with `long` bst's
/// columns (mode, type, size) before it.
fn content_line(entry: &forge_cas::Entry, long: bool) -> String {
    use forge_cas::EntryKind;
    if !long {
        return entry.path.clone();
    }
    let (mode, kind, size, shown) = match &entry.kind {
        EntryKind::Dir => ("drwxr-xr-x", "dir ", 0, entry.path.clone()),
        EntryKind::Symlink { target } => (
            "lrwxrwxrwx",
            "link",
            target.len() as u64,
            format!("{} -> {target}", entry.path),
        ),
        EntryKind::File { size, exec: true, .. } => ("-rwxr-xr-x", "exe ", *size, entry.path.clone()),
        EntryKind::File { size, .. } => ("-rw-r--r--", "reg ", *size, entry.path.clone()),
    };
    format!("{mode}  {kind}   {size:<11} {shown}")
}

/// `forge artifact push|pull`.
fn transfer(session: &Session, args: &crate::cli::TransferArgs, push: bool) -> Result<(), Failure> {
    use std::sync::atomic::Ordering;
    let started = std::time::Instant::now();
    let specs = session.remote_specs("artifacts")?;
    if specs.is_empty() {
        return Err(Failure::usage(
            "no artifact servers are configured: add `artifacts: servers: [{url: ...}]` to the user configuration",
        ));
    }
    use forge_remote::Role;
    let index_takes_pushes = specs.iter().any(|s| s.push && s.role != Role::Storage);
    let storage_takes_pushes = specs.iter().any(|s| s.push && s.role != Role::Index);
    if push && !(index_takes_pushes && storage_takes_pushes) {
        return Err(Failure::usage(
            "no artifact server takes pushes: set `push: true` on one in the user configuration \
             (on an index and a storage server, where they are split)",
        ));
    }
    let servers = session.artifact_servers()?;
    if servers.is_empty() {
        return Err(Failure::fetch("no artifact server answered (see the warnings above)"));
    }
    if let Some(missing) = servers.lacks() {
        return Err(Failure::fetch(format!(
            "the artifact servers that answered lack {missing}"
        )));
    }
    let (graph, selected) = select(&session.project, &args.targets, args.deps)?;
    let selected: Vec<usize> = selected.into_iter().filter(|&e| !graph.elements[e].junction).collect();
    let tainted = graph.from_workspaces();
    for &e in selected.iter().filter(|&&e| tainted[e]) {
        eprintln!(
            "warning: {}",
            forge_project::error::printable_line(&format!(
                "{} is built from an open workspace: its artifact stays local",
                graph.elements[e].name
            ))
        );
    }
    let selected: Vec<usize> = selected.into_iter().filter(|&e| !tainted[e]).collect();
    let keys = session.cache_keys(&graph)?;
    let cas = session.cas();
    let moved = forge_engine::Transfers::default();
    // The build's report: a line per artifact, a transfer bar on a terminal.
    let report = crate::build::LineReport::new();
    let here = |e: &usize| built_record(&cas, &graph, &keys, *e).is_some();
    let (verb, not_done) = if push {
        let missing: Vec<&str> = selected
            .iter()
            .filter(|e| !here(e))
            .map(|&e| graph.elements[e].name.as_str())
            .collect();
        forge_engine::pipeline::push(servers, &graph, &keys, &cas, &selected, &report, &moved);
        ("pushed", missing)
    } else {
        let wanted: Vec<usize> = selected.iter().copied().filter(|e| !here(e)).collect();
        let pulled = forge_engine::pipeline::pull(servers, &graph, &keys, &cas, &wanted, &report, &moved);
        let missing = wanted
            .iter()
            .filter(|e| !pulled.contains(e))
            .map(|&e| graph.elements[e].name.as_str())
            .collect();
        ("pulled", missing)
    };
    report.close();
    let count = moved.artifacts.load(Ordering::Relaxed);
    let failed = moved.failed.load(Ordering::Relaxed);
    eprintln!(
        "artifact: {count} {verb} ({} blobs, {}), {} not available, {failed} failed, in {:.1} s",
        moved.blobs.load(Ordering::Relaxed),
        crate::remotes::size(moved.bytes.load(Ordering::Relaxed)),
        not_done.len(),
        started.elapsed().as_secs_f64()
    );
    if failed > 0 {
        return Err(Failure::fetch(format!(
            "{failed} artifact transfer(s) failed (see the warnings above)"
        )));
    }
    if !not_done.is_empty() {
        let why = if push { "not built here" } else { "on no server" };
        return Err(Failure::fetch(format!("{why}: {}", not_done.join(", "))));
    }
    Ok(())
}

fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let (number, multiplier) = match text.chars().last()? {
        'K' | 'k' => (&text[..text.len() - 1], 1u64 << 10),
        'M' | 'm' => (&text[..text.len() - 1], 1 << 20),
        'G' | 'g' => (&text[..text.len() - 1], 1 << 30),
        'T' | 't' => (&text[..text.len() - 1], 1 << 40),
        _ => (text, 1),
    };
    number.parse::<u64>().ok().map(|n| n * multiplier)
}

/// Artifacts that running builds hold (their lock is taken).
fn held_artifacts(cas: &Cas) -> HashSet<String> {
    let mut held = HashSet::new();
    let Ok(entries) = fs::read_dir(cas.root().join("locks")) else {
        return held;
    };
    for entry in entries.flatten() {
        if let Ok(file) = fs::File::options().write(true).open(entry.path())
            && file.try_lock().is_err()
        {
            held.insert(entry.file_name().to_string_lossy().into_owned());
        }
    }
    held
}

/// Runs `forge cache ...`.
pub fn cache(session: &Session, command: &CacheCommand) -> Result<(), Failure> {
    let cas = session.cas();
    match command {
        CacheCommand::Verify => {
            let report = cas
                .verify()
                .map_err(|e| Failure::internal(format!("cannot verify the cache: {e}")))?;
            for digest in &report.corrupt {
                println!("corrupt object removed: {digest}");
            }
            for artifact in &report.dropped_artifacts {
                println!("artifact dropped (an object it needs is gone): {artifact}");
            }
            println!(
                "verify: {} objects checked, {} corrupt, {} artifacts dropped",
                report.objects,
                report.corrupt.len(),
                report.dropped_artifacts.len()
            );
            Ok(())
        }
        CacheCommand::Gc { keep } => {
            let bytes = parse_size(keep)
                .ok_or_else(|| Failure::usage(format!("invalid size '{keep}': write it as 500M, 10G or 0")))?;
            let held = held_artifacts(&cas);
            let protected: HashSet<String> = cas
                .list_artifacts()
                .into_iter()
                .filter(|(p, e, k)| held.contains(&format!("{p}-{e}-{k}")))
                .map(|(p, e, k)| format!("{p}/{e}/{k}"))
                .collect();
            // While builds run, their newest objects may not be in an
            // artifact yet: spare what changed in the last hour.
            let spare_newer_than =
                (!held.is_empty()).then(|| std::time::SystemTime::now() - std::time::Duration::from_secs(3600));
            // Kept shell roots are links to objects: they would keep the
            // bytes gc frees. Those no shell holds go first.
            forge_engine::shell_roots::prune(&forge_engine::shell_roots::dir(&session.cache_dir), "", 0);
            let freed = cas
                .gc(bytes, &protected, spare_newer_than)
                .map_err(|e| Failure::internal(format!("cannot collect garbage: {e}")))?;
            println!("gc: {freed} bytes freed");
            Ok(())
        }
    }
}
