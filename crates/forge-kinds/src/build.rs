//! What assembling an element can use: its staged dependencies and
//! sources, a sandbox to run commands in, and a log.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use forge_cas::{ArtifactRecord, Cas, Manifest, StageMode};
use forge_project::Element;
use forge_sandbox::{Mount, SandboxCommand, find_program};

use crate::input_tree::{InputTree, Replaced};
use forge_sources::SourceContext;
use forge_yaml::Node;

/// A dependency's artifact, staged at a location.
pub struct StagedDep<'a> {
    /// The dependency.
    pub element: &'a Element,
    /// Its artifact record.
    pub record: ArtifactRecord,
    /// Where in the sandbox it goes (`/` unless `config: location:`).
    pub location: String,
    /// Its files, read when first asked for: a kind that stages nothing
    /// (a stack of a hundred elements) reads no tree.
    manifest: std::sync::OnceLock<Manifest>,
    cas: &'a Cas,
}

impl<'a> StagedDep<'a> {
    /// `element`'s artifact `record`, staged at `location`.
    pub fn new(element: &'a Element, record: ArtifactRecord, location: String, cas: &'a Cas) -> StagedDep<'a> {
        StagedDep {
            element,
            record,
            location,
            manifest: std::sync::OnceLock::new(),
            cas,
        }
    }

    /// Its files.
    pub fn manifest(&self) -> Result<&Manifest, BuildError> {
        if let Some(manifest) = self.manifest.get() {
            return Ok(manifest);
        }
        let manifest = self
            .cas
            .get_manifest(&self.record.manifest)
            .map_err(|e| BuildError(format!("cannot read the artifact of {}: {e}", self.element.name)))?;
        Ok(self.manifest.get_or_init(|| manifest))
    }
}

/// A staged file that a later dependency replaced.
struct Overlap {
    location: String,
    path: String,
    /// The dependency that wrote it first at this location, if any.
    earlier: Option<usize>,
    /// The dependency that replaced it.
    later: usize,
}

/// Per location, which dependency wrote each path (the last to), and the
/// files later dependencies replaced.
#[derive(Default)]
struct Writers {
    written: std::collections::HashMap<String, std::collections::HashMap<String, usize>>,
    overlaps: Vec<Overlap>,
}

impl Writers {
    /// Dependency `later` replaced `path` at `location`.
    fn replaced(&mut self, location: &str, path: &str, later: usize) {
        let earlier = self.written.get(location).and_then(|w| w.get(path)).copied();
        self.overlaps.push(Overlap {
            location: location.to_string(),
            path: path.to_string(),
            earlier,
            later,
        });
    }

    /// Dependency `index` wrote `path` at `location`.
    fn wrote(&mut self, location: &str, path: &str, index: usize) {
        // Once per file staged: the location is not copied each time.
        if let Some(here) = self.written.get_mut(location) {
            here.insert(path.to_string(), index);
        } else {
            self.written
                .entry(location.to_string())
                .or_default()
                .insert(path.to_string(), index);
        }
    }
}

/// Whether `path` (absolute) matches the element's `overlap-whitelist`.
fn whitelisted(public: &serde_json::Value, path: &str) -> bool {
    public
        .get("bst")
        .and_then(|b| b.get("overlap-whitelist"))
        .and_then(|w| w.as_array())
        .is_some_and(|patterns| {
            patterns
                .iter()
                .filter_map(|p| p.as_str())
                .any(|p| forge_sources::extract::glob_matches(p, path))
        })
}

/// An environment as name and value pairs.
pub type Environment = Vec<(String, String)>;

/// Why a build failed.
#[derive(Debug, Clone)]
pub struct BuildError(pub String);

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Everything an element kind may use while assembling.
pub struct BuildContext<'a> {
    /// The element being built.
    pub element: &'a Element,
    /// The artifact cache.
    pub cas: &'a Cas,
    /// For staging sources from the source cache.
    pub sources: &'a SourceContext<'a>,
    /// The artifacts to stage, in staging order.
    pub deps: Vec<StagedDep<'a>>,
    /// An empty directory for this build.
    pub workdir: PathBuf,
    /// The build log.
    pub log: fs::File,
    /// The artifact, where the assembler stored its files in the cache
    /// itself (a [`forge_cas::TreeWriter`]); otherwise the directory
    /// `assemble` returns is imported.
    pub manifest: Option<forge_cas::Manifest>,
    /// BuildStream warnings the build raised (overlaps), for the user;
    /// each is in the log too.
    pub warnings: Vec<String>,
    /// Public data the build adds to the artifact's (what a manifest
    /// element collected, say).
    pub public: serde_json::Map<String, serde_json::Value>,
    /// Where commands run when not here: a remote execution service.
    pub executor: Option<&'a forge_remote::Executor>,
    /// The build must run again: no cached result will do (`--check`).
    pub fresh: bool,
}

/// An element kind's build step.
pub trait Assemble: Send + Sync {
    /// Builds the element; returns the directory whose contents become its
    /// artifact.
    fn assemble(&self, ctx: &mut BuildContext<'_>) -> Result<PathBuf, BuildError>;
}

/// The build step of element kind `kind`.
pub fn assembler(kind: &str) -> Option<&'static dyn Assemble> {
    if let Some(build_element) = crate::build_element::by_id(kind) {
        return Some(build_element);
    }
    Some(match kind {
        "advisories" => &crate::advisories::Advisories,
        "import" => &crate::import::Import,
        "junction" => &crate::junction::Junction,
        "link" => &crate::link::Link,
        "check_forbidden" => &crate::check_forbidden::CheckForbidden,
        "collect_integration" => &crate::collect_integration::CollectIntegration,
        "collect_initial_scripts" => &crate::collect_initial_scripts::CollectInitialScripts,
        "flatpak_image" => &crate::flatpak_image::FlatpakImage,
        "flatpak_repo" => &crate::flatpak_repo::FlatpakRepo,
        "collect_manifest" => &crate::collect_manifest::CollectManifest,
        "stack" => &crate::stack::Stack,
        "compose" => &crate::compose::Compose,
        "filter" => &crate::filter::Filter,
        "script" => &crate::script::Script,
        "pip" => &crate::pip::Pip,
        "pyproject" => &crate::pyproject::Pyproject,
        "deb" => &crate::deb::Deb,
        "tar-image" => &crate::image::TarImage,
        "oci-image" => &crate::image::OciImage,
        _ => return None,
    })
}

fn io(what: &str) -> impl Fn(std::io::Error) -> BuildError + '_ {
    move |e| BuildError(format!("{what}: {e}"))
}

/// The path `sandbox_path` (absolute) inside the host directory `root`.
pub fn host_path(root: &Path, sandbox_path: &str) -> PathBuf {
    root.join(sandbox_path.trim_start_matches('/'))
}

impl BuildContext<'_> {
    /// Writes a line to the build log.
    pub fn log(&mut self, line: &str) {
        let _ = writeln!(self.log, "{line}");
    }

    /// A variable of the element.
    pub fn variable(&self, name: &str) -> String {
        self.element.variables.get(name).unwrap_or_default().to_string()
    }

    /// A new directory in the work area.
    pub fn dir(&self, name: &str) -> Result<PathBuf, BuildError> {
        let dir = self.workdir.join(name);
        fs::create_dir_all(&dir).map_err(io("cannot create a build directory"))?;
        Ok(dir)
    }

    /// Stages the element's sources into `dir`, each in its `directory`.
    pub fn stage_sources(&mut self, dir: &Path) -> Result<(), BuildError> {
        forge_sources::stage_sources(&self.element.sources, self.sources, dir).map_err(|e| BuildError(e.to_string()))
    }

    /// Stages every dependency under `root` at its location. Hardlinks are
    /// only used when the root will be mounted read-only.
    ///
    /// A file that a later dependency replaces is an overlap, as in
    /// BuildStream: a warning naming both elements, unless the later one
    /// lists the path under `public: bst: overlap-whitelist`; a build
    /// failure when project.conf lists `overlaps` under `fatal-warnings`.
    pub fn stage_deps(&mut self, root: &Path, mode: StageMode) -> Result<(), BuildError> {
        let mut writers = Writers::default();
        for (index, dep) in self.deps.iter().enumerate() {
            let target = host_path(root, &dep.location);
            fs::create_dir_all(&target).map_err(io("cannot create a staging directory"))?;
            let replaced = self
                .cas
                .stage(dep.manifest()?, &target, mode)
                .map_err(|e| BuildError(format!("cannot stage {}: {e}", dep.element.name)))?;
            for path in replaced {
                writers.replaced(&dep.location, &path, index);
            }
            for entry in &dep.manifest()?.entries {
                if !matches!(entry.kind, forge_cas::EntryKind::Dir) {
                    writers.wrote(&dep.location, &entry.path, index);
                }
            }
        }
        self.report_overlaps(&writers.overlaps)
    }

    /// The dependencies as one tree, as [`BuildContext::stage_deps`]
    /// would stage them and with the same overlap reports, but without
    /// writing a file: a remote executor's input root.
    pub fn deps_tree(&mut self) -> Result<InputTree, BuildError> {
        let mut tree = InputTree::default();
        let mut writers = Writers::default();
        for (index, dep) in self.deps.iter().enumerate() {
            let base = dep.location.trim_matches('/');
            tree.ensure_dir(base);
            for entry in &dep.manifest()?.entries {
                let path = if base.is_empty() {
                    entry.path.clone()
                } else {
                    format!("{base}/{}", entry.path)
                };
                let replaced = tree
                    .add(&path, &entry.kind)
                    .map_err(|e| BuildError(format!("cannot stage {}: {e}", dep.element.name)))?;
                if matches!(entry.kind, forge_cas::EntryKind::Dir) {
                    continue;
                }
                if replaced == Replaced::Something {
                    writers.replaced(&dep.location, &entry.path, index);
                }
                writers.wrote(&dep.location, &entry.path, index);
            }
        }
        self.report_overlaps(&writers.overlaps)?;
        Ok(tree)
    }

    fn report_overlaps(&mut self, overlaps: &[Overlap]) -> Result<(), BuildError> {
        let mut lines = Vec::new();
        for overlap in overlaps {
            let later = &self.deps[overlap.later];
            let absolute = format!("/{}", overlap.path);
            let shown = Path::new(&overlap.location).join(&overlap.path).display().to_string();
            match overlap.earlier {
                Some(earlier) => {
                    if whitelisted(&later.record.public, &absolute) {
                        continue;
                    }
                    lines.push(format!(
                        "{shown}: {} is not permitted to overlap other elements, order {} above {}",
                        later.element.name, later.element.name, self.deps[earlier].element.name
                    ));
                }
                // Written at another location staged earlier.
                None => lines.push(format!(
                    "{shown}: {} overlaps files previously staged in another location",
                    later.element.name
                )),
            }
        }
        if lines.is_empty() {
            return Ok(());
        }
        let message = format!(
            "{}: non-whitelisted overlaps detected while staging dependencies:\n  {}",
            self.element.name,
            lines.join("\n  ")
        );
        self.log(&format!("warning [overlaps]: {message}"));
        if self.sources.project.fatal_warnings.iter().any(|w| w == "overlaps") {
            return Err(BuildError(format!(
                "{message}\n  project.conf lists 'overlaps' under fatal-warnings, which makes this an error; \
                 list the paths under the later element's 'public: bst: overlap-whitelist' if the overlap is intended"
            )));
        }
        self.warnings.push(message);
        Ok(())
    }

    /// BuildStream's `digest-environment:` value for the dependencies
    /// `names`: the digest and size of the tree they make together,
    /// `DIGEST/SIZE`. The digest is forge's manifest digest of that tree,
    /// and only the named dependencies are in it (not their runtime
    /// dependencies, which BuildStream adds).
    pub fn digest_of(&mut self, names: &[String]) -> Result<String, BuildError> {
        let dir = self.dir(&format!("digest-{}", names.join("+").replace('/', "-")))?;
        for dep in self.deps.iter().filter(|d| names.contains(&d.element.name)) {
            self.cas
                .stage(dep.manifest()?, &dir, StageMode::Copy)
                .map_err(|e| BuildError(format!("cannot stage {}: {e}", dep.element.name)))?;
        }
        let manifest = self
            .cas
            .import_dir(&dir)
            .map_err(io("cannot digest the staged dependencies"))?;
        let digest = self
            .cas
            .put_manifest(&manifest)
            .map_err(io("cannot store a manifest"))?;
        // The tree's REAPI digest, as BuildStream's.
        let size = self.cas.object_size(&digest, false).unwrap_or(0);
        Ok(format!("{digest}/{size}"))
    }

    /// Whether any dependency staged at `/` has integration commands.
    pub fn has_integration(&self) -> bool {
        self.deps
            .iter()
            .any(|d| d.location == "/" && !integration_commands(&d.record.public).is_empty())
    }

    /// Runs the integration commands of the dependencies staged at `/`, in
    /// staging order, each with its own environment, in a writable root.
    pub fn integrate(&mut self, root: &Path) -> Result<(), BuildError> {
        for (name, commands, env) in self.integrations() {
            for command in commands {
                self.log(&format!("# integration of {name}: {command}"));
                self.run_in(root, true, Vec::new(), "/", env.clone(), &command)?;
            }
        }
        Ok(())
    }

    /// The dependencies staged at `/`, in staging order, with their
    /// integration commands and their elements' environments.
    pub fn integrations(&self) -> Vec<(String, Vec<String>, Environment)> {
        self.deps
            .iter()
            .filter(|d| d.location == "/")
            .map(|d| {
                let env = d
                    .element
                    .environment
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                (d.element.name.clone(), integration_commands(&d.record.public), env)
            })
            .collect()
    }

    /// Runs `sh -e -c COMMAND` in a sandbox over `root`.
    pub fn run_in(
        &mut self,
        root: &Path,
        root_writable: bool,
        mounts: Vec<Mount>,
        cwd: &str,
        env: Vec<(String, String)>,
        command: &str,
    ) -> Result<(), BuildError> {
        let path = env
            .iter()
            .find(|(k, _)| k == "PATH")
            .map(|(_, v)| v.as_str())
            .unwrap_or("/usr/bin:/bin");
        if !find_program(root, path, "sh") {
            return Err(BuildError(format!(
                "{}: the staged dependencies provide no 'sh' (searched PATH={path}); add a base with a shell to its build dependencies",
                self.element.name
            )));
        }
        let sandbox = SandboxCommand {
            root: root.to_path_buf(),
            root_writable,
            mounts,
            cwd: cwd.to_string(),
            env,
            network: false,
            argv: vec!["sh".into(), "-e".into(), "-c".into(), command.to_string()],
        };
        let _ = self.log.flush();
        let status = sandbox.run_logged(&self.log).map_err(|e| BuildError(e.to_string()))?;
        if status.success() {
            Ok(())
        } else {
            let code = status
                .code()
                .map(|c| c.to_string())
                .unwrap_or_else(|| "a signal".into());
            Err(BuildError(format!("command failed with exit status {code}: {command}")))
        }
    }

    /// The element's environment, for its commands.
    pub fn environment(&self) -> Vec<(String, String)> {
        self.element
            .environment
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

/// `public: bst: integration-commands:` of an artifact's public data.
pub fn integration_commands(public: &serde_json::Value) -> Vec<String> {
    public
        .get("bst")
        .and_then(|b| b.get("integration-commands"))
        .and_then(|c| c.as_array())
        .map(|items| items.iter().filter_map(|i| i.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

/// A list of strings from the element's config.
pub fn config_strings(element: &Element, key: &str) -> Vec<String> {
    element
        .config_value(key)
        .and_then(Node::as_list)
        .map(|items| items.iter().filter_map(|i| i.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

/// A boolean from the element's config.
pub fn config_flag(element: &Element, key: &str, default: bool) -> bool {
    match element.config_value(key).and_then(Node::as_str) {
        Some("True" | "true" | "1") => true,
        Some("False" | "false" | "0") => false,
        _ => default,
    }
}

/// Moves everything in `from` into `to`, merging directories.
pub fn move_contents(from: &Path, to: &Path) -> Result<(), BuildError> {
    fs::create_dir_all(to).map_err(io("cannot create the output"))?;
    for entry in fs::read_dir(from).map_err(io("cannot read the staged sources"))? {
        let entry = entry.map_err(io("cannot read the staged sources"))?;
        let source = entry.path();
        let target = to.join(entry.file_name());
        let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
        if is_dir && target.is_dir() {
            move_contents(&source, &target)?;
        } else {
            if let Ok(meta) = fs::symlink_metadata(&target) {
                if meta.is_dir() {
                    fs::remove_dir_all(&target).map_err(io("cannot replace a file"))?;
                } else {
                    fs::remove_file(&target).map_err(io("cannot replace a file"))?;
                }
            }
            fs::rename(&source, &target).map_err(io("cannot move a file"))?;
        }
    }
    Ok(())
}

/// The split domains of an artifact's public data: domain → patterns.
pub fn split_rules(public: &serde_json::Value) -> Vec<(String, Vec<String>)> {
    public
        .get("bst")
        .and_then(|b| b.get("split-rules"))
        .and_then(|r| r.as_object())
        .map(|rules| {
            rules
                .iter()
                .map(|(domain, patterns)| {
                    let list = patterns
                        .as_array()
                        .map(|p| p.iter().filter_map(|s| s.as_str().map(str::to_string)).collect())
                        .unwrap_or_default();
                    (domain.clone(), list)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Which files of `manifest` a split selection keeps: a file is kept when
/// one of its domains is included (any domain, when `include` is empty) or
/// when no domain claims it and `orphans` is set, unless one of its
/// domains is excluded.
pub fn select_split(
    manifest: &Manifest,
    rules: &[(String, Vec<String>)],
    include: &[String],
    exclude: &[String],
    orphans: bool,
) -> std::collections::HashSet<String> {
    let mut kept = std::collections::HashSet::new();
    for entry in &manifest.entries {
        if matches!(entry.kind, forge_cas::EntryKind::Dir) {
            continue;
        }
        let absolute = format!("/{}", entry.path);
        let domains: Vec<&str> = rules
            .iter()
            .filter(|(_, patterns)| {
                patterns
                    .iter()
                    .any(|p| forge_sources::extract::glob_matches(p, &absolute))
            })
            .map(|(d, _)| d.as_str())
            .collect();
        let included = if domains.is_empty() {
            orphans
        } else {
            include.is_empty() || domains.iter().any(|d| include.iter().any(|i| i == d))
        };
        let excluded = domains.iter().any(|d| exclude.iter().any(|e| e == d));
        if included && !excluded {
            kept.insert(entry.path.clone());
        }
    }
    kept
}

/// The part of `manifest` a split selection keeps (see [`select_split`]),
/// with only the directories that lead to kept files.
pub fn split_manifest(
    manifest: &Manifest,
    rules: &[(String, Vec<String>)],
    include: &[String],
    exclude: &[String],
    orphans: bool,
) -> Manifest {
    let kept = select_split(manifest, rules, include, exclude, orphans);
    let dirs: std::collections::HashSet<String> = kept
        .iter()
        .flat_map(|p| {
            let parts: Vec<&str> = p.split('/').collect();
            (1..parts.len()).map(move |i| parts[..i].join("/"))
        })
        .collect();
    let mut out = manifest.clone();
    out.entries.retain(|e| match e.kind {
        forge_cas::EntryKind::Dir => dirs.contains(&e.path),
        _ => kept.contains(&e.path),
    });
    out
}
