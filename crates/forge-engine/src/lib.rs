//! Building: which elements need a build, in which order, on how many
//! builders at once, and recording each result (success or failure, with
//! its log) in the artifact cache; and the pipeline around it (pull,
//! fetch, build, push: [`pipeline`]).

pub mod audit;
pub mod pipeline;
pub mod sbom;
pub mod shell_roots;

use std::collections::HashSet;
use std::fs;
use std::path::PathBuf;
use std::sync::{Condvar, Mutex};
use std::time::Instant;

use forge_cas::{ArtifactRecord, Cas, Manifest};
use forge_kinds::{BuildContext, StagedDep, assembler};
use forge_project::keys::node_to_json;
use forge_project::{CacheKeys, Graph, Project, Scope};
use forge_sources::SourceContext;

pub use pipeline::{PipelineReport, PipelineResult, Transfers};

/// What happened to one element.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Its artifact was already in the cache.
    Cached,
    /// It was built now.
    Built,
    /// Its build failed now.
    Failed(String),
    /// A failed build of it is recorded; `--retry-failed` tries again.
    FailedEarlier,
    /// Not built because something it needs failed (or the build stopped).
    Skipped,
}

/// How to build.
#[derive(Clone, Debug)]
pub struct BuildOptions {
    /// Builds at once.
    pub builders: usize,
    /// Go on with what does not depend on a failure.
    pub keep_going: bool,
    /// Build again elements whose failure is recorded.
    pub retry_failed: bool,
}

/// Receives progress as builds start and end.
pub trait BuildReport: Sync {
    /// `element` starts building; `running` builds run now (this one
    /// included), `waiting` more are still to come.
    fn started(&self, element: &str, running: usize, waiting: usize);
    /// `element` is done.
    fn finished(&self, element: &str, outcome: &Outcome, seconds: f64, log: &std::path::Path);
    /// Building `element` raised a warning (an overlap, say).
    fn warned(&self, _element: &str, _message: &str) {}
}

/// Builds elements of a loaded graph.
pub struct Engine<'a> {
    /// What the cache says of each element: unknown yet, or no artifact /
    /// failed / succeeded. Reading records is most of a no-op build.
    states: Mutex<Vec<Option<Option<bool>>>>,
    /// The project.
    pub project: &'a Project,
    /// Its loaded graph.
    pub graph: &'a Graph,
    /// The graph's keys.
    pub keys: &'a CacheKeys,
    /// The artifact cache.
    pub cas: &'a Cas,
    /// Sources, for staging.
    pub sources: &'a SourceContext<'a>,
    /// Where build logs go.
    pub logs: PathBuf,
    /// Warnings of builds not reported yet, by element.
    warnings: Mutex<Vec<(usize, String)>>,
    /// Where build elements' commands run, if not here.
    executor: Option<&'a forge_remote::Executor>,
}

impl<'a> Engine<'a> {
    /// An engine for `graph`, whose artifacts live in `cas`.
    pub fn new(
        project: &'a Project,
        graph: &'a Graph,
        keys: &'a CacheKeys,
        cas: &'a Cas,
        sources: &'a SourceContext<'a>,
        logs: PathBuf,
    ) -> Engine<'a> {
        let states = Mutex::new(vec![None; graph.elements.len()]);
        Engine {
            states,
            project,
            graph,
            keys,
            cas,
            sources,
            logs,
            warnings: Mutex::default(),
            executor: None,
        }
    }

    /// The same engine, running the commands of build elements on
    /// `executor` (bst's `remote-execution:`).
    pub fn executing_on(mut self, executor: Option<&'a forge_remote::Executor>) -> Engine<'a> {
        self.executor = executor;
        self
    }

    /// Reads what the cache holds for those of `elements` not read yet, on
    /// every core (reading records is most of a no-op build).
    pub fn prime(&self, elements: &[usize]) {
        let unknown: Vec<usize> = {
            let states = self.states.lock().unwrap_or_else(|e| e.into_inner());
            elements.iter().copied().filter(|&e| states[e].is_none()).collect()
        };
        self.refresh(&unknown);
    }

    /// Reads again what the cache holds for `elements` (after something
    /// else put artifacts there: a pull).
    pub fn refresh(&self, elements: &[usize]) {
        let found = forge_project::parallel::map(elements, |&e| self.artifact(e).map(|r| r.success));
        let mut states = self.states.lock().unwrap_or_else(|e| e.into_inner());
        for (&e, state) in elements.iter().zip(found) {
            states[e] = Some(state);
        }
    }

    /// No artifact (`None`), a failed one or a successful one.
    pub fn state(&self, element: usize) -> Option<bool> {
        if let Some(known) = self.states.lock().unwrap_or_else(|e| e.into_inner())[element] {
            return known;
        }
        let state = self.artifact(element).map(|r| r.success);
        self.states.lock().unwrap_or_else(|e| e.into_inner())[element] = Some(state);
        state
    }

    /// The recorded artifact of `element`, if any (success or failure).
    pub fn artifact(&self, element: usize) -> Option<ArtifactRecord> {
        let key = self.keys.keys[element].as_deref()?;
        let e = &self.graph.elements[element];
        self.cas.get_artifact(&e.project.name, &e.normal_name(), key)
    }

    /// Whether `element` has a successful artifact.
    pub fn is_cached(&self, element: usize) -> bool {
        self.state(element) == Some(true)
    }

    /// What building `element` stages: each build dependency with its
    /// runtime closure, at the dependency's location.
    pub fn staging_set(&self, element: usize) -> Vec<(usize, String)> {
        let mut out: Vec<(usize, String)> = Vec::new();
        let mut seen = HashSet::new();
        let declared = &self.graph.elements[element].dependencies;
        for dep in self.graph.build_deps(element) {
            let name = &self.graph.elements[dep].name;
            let mut locations: Vec<String> = declared
                .iter()
                .filter(|d| &d.name == name)
                .flat_map(|d| d.config.iter())
                .filter_map(|c| {
                    c.as_map()
                        .and_then(|m| m.get("location"))
                        .and_then(|l| l.as_str())
                        .map(str::to_string)
                })
                .collect();
            if locations.is_empty() {
                let owner = &self.graph.elements[element];
                let kind = owner.project.kinds.element(&owner.kind);
                locations.push(kind.map_or("/", |k| k.default_location()).into());
            }
            for location in locations {
                for staged in self.graph.walk(&[dep], Scope::Run) {
                    if seen.insert((staged, location.clone())) {
                        out.push((staged, location.clone()));
                    }
                }
            }
        }
        // Parents before sub-directories, as BuildStream sorts locations.
        out.sort_by(|a, b| (a.1 != "/", &a.1).cmp(&(b.1 != "/", &b.1)));
        out
    }

    /// Where the log of `element`'s build goes.
    pub fn log_path(&self, element: usize) -> PathBuf {
        let key = self.keys.keys[element].as_deref().unwrap_or("unknown");
        let e = &self.graph.elements[element];
        self.logs
            .join(&e.project.name)
            .join(e.normal_name())
            .join(format!("{key}.log"))
    }

    /// Builds `element` now, whatever the cache holds; records the result
    /// unless `record` is false (`--check` compares without replacing).
    pub fn build_one(&self, element: usize, record: bool) -> Result<(ArtifactRecord, Manifest), String> {
        let e = &self.graph.elements[element];
        let key = self.keys.keys[element]
            .clone()
            .ok_or_else(|| format!("{}: its cache key is not known", e.name))?;
        let log_path = self.log_path(element);
        fs::create_dir_all(log_path.parent().expect("logs have parents"))
            .map_err(|err| format!("cannot create the log directory: {err}"))?;
        let log = fs::File::create(&log_path).map_err(|err| format!("cannot create {}: {err}", log_path.display()))?;
        let mut deps = Vec::new();
        for (dep, location) in self.staging_set(element) {
            let dep_record = self
                .artifact(dep)
                .filter(|r| r.success)
                .ok_or_else(|| format!("{} is needed but not built", self.graph.elements[dep].name))?;
            deps.push(StagedDep::new(
                &self.graph.elements[dep],
                dep_record,
                location,
                self.cas,
            ));
        }
        let workdir = self
            .cas
            .temp_dir("build")
            .map_err(|err| format!("cannot create a build directory: {err}"))?;
        let sources = self.sources.for_project(&e.project);
        let mut ctx = BuildContext {
            element: e,
            cas: self.cas,
            sources: &sources,
            deps,
            workdir: workdir.clone(),
            log,
            manifest: None,
            warnings: Vec::new(),
            public: serde_json::Map::new(),
            executor: self.executor,
            fresh: !record,
        };
        ctx.log(&format!(
            "# forge {}: building {} ({key})",
            env!("CARGO_PKG_VERSION"),
            e.name
        ));
        let not_string = e.environment_node.as_map().and_then(|m| {
            m.iter()
                .find(|(_, v)| v.as_str().is_none())
                .map(|(k, _)| k.name.clone())
        });
        let result = match not_string {
            Some(name) => Err(format!(
                "the environment variable '{name}' is not a string; only strings can be passed to the sandbox"
            )),
            None => Ok(()),
        }
        .and_then(|()| assembler(e.kind_id).ok_or_else(|| format!("element kind '{}' cannot be built", e.kind)))
        .and_then(|a| a.assemble(&mut ctx).map_err(|err| err.to_string()))
        .and_then(|output| match ctx.manifest.take() {
            Some(manifest) => Ok(manifest),
            None => self
                .cas
                .import_dir(&output)
                .map_err(|err| format!("cannot store the artifact: {err}")),
        });
        if let Err(message) = &result {
            ctx.log(&format!("# failed: {message}"));
        }
        self.warnings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(ctx.warnings.drain(..).map(|w| (element, w)));
        let added_public = std::mem::take(&mut ctx.public);
        drop(ctx);
        remove_tree(&workdir);
        let log_bytes = fs::read(&log_path).unwrap_or_default();
        let log_digest = self
            .cas
            .put_blob(&log_bytes)
            .map_err(|err| format!("cannot store the log: {err}"))?;
        let (success, manifest, failure) = match result {
            Ok(manifest) => (true, manifest, None),
            Err(message) => (false, Manifest::default(), Some(message)),
        };
        let manifest_digest = self
            .cas
            .put_manifest(&manifest)
            .map_err(|err| format!("cannot store the manifest: {err}"))?;
        let artifact = ArtifactRecord {
            element: e.name.clone(),
            key: key.clone(),
            success,
            manifest: manifest_digest,
            log: log_digest,
            log_size: 0,
            manifest_size: 0,
            public: {
                let mut public = node_to_json(&e.public);
                if let Some(map) = public.as_object_mut() {
                    map.extend(added_public);
                }
                public
            },
            dependencies: self
                .staging_set(element)
                .into_iter()
                .map(|(d, _)| {
                    (
                        self.graph.elements[d].name.clone(),
                        self.keys.keys[d].clone().unwrap_or_default(),
                    )
                })
                .collect(),
            forge_version: env!("CARGO_PKG_VERSION").to_string(),
        };
        if record {
            self.cas
                .put_artifact(&e.project.name, &e.normal_name(), &artifact)
                .map_err(|err| format!("cannot record the artifact: {err}"))?;
            self.states.lock().unwrap_or_else(|e| e.into_inner())[element] = Some(Some(success));
        }
        match failure {
            None => Ok((artifact, manifest)),
            Some(message) => Err(message),
        }
    }

    /// What `targets` need, in plan order, as BuildStream decides it: the
    /// targets with their runtime dependencies, and for each of those that
    /// must be built (`has` says it has no artifact to use), what its build
    /// stages, and so on. A cached element's build dependencies are not
    /// needed.
    pub fn required(&self, targets: &[usize], has: impl Fn(usize) -> bool) -> Vec<usize> {
        let mut wanted = vec![false; self.graph.elements.len()];
        let mut pending: Vec<usize> = self.graph.walk(targets, Scope::Run);
        while let Some(e) = pending.pop() {
            if std::mem::replace(&mut wanted[e], true) {
                continue;
            }
            if !has(e) {
                pending.extend(self.staging_set(e).into_iter().map(|(d, _)| d).filter(|&d| !wanted[d]));
            }
        }
        self.graph
            .walk(targets, Scope::All)
            .into_iter()
            .filter(|&e| wanted[e])
            .collect()
    }

    /// Builds what `targets` need that is not cached, in dependency order,
    /// `options.builders` at a time. Returns every element needed with its
    /// outcome, in plan order.
    pub fn build(&self, targets: &[usize], options: &BuildOptions, report: &dyn BuildReport) -> Vec<(usize, Outcome)> {
        let all = self.graph.walk(targets, Scope::All);
        self.prime(&all);
        let plan = self.required(targets, |e| self.is_cached(e));
        let mut outcomes: Vec<Option<Outcome>> = vec![None; self.graph.elements.len()];
        for &element in &plan {
            match self.state(element) {
                Some(true) => outcomes[element] = Some(Outcome::Cached),
                Some(false) if !options.retry_failed => outcomes[element] = Some(Outcome::FailedEarlier),
                _ => {}
            }
        }
        let needs: Vec<Vec<usize>> = (0..self.graph.elements.len())
            .map(|e| {
                if plan.contains(&e) {
                    self.staging_set(e).into_iter().map(|(d, _)| d).collect()
                } else {
                    Vec::new()
                }
            })
            .collect();
        struct State {
            outcomes: Vec<Option<Outcome>>,
            running: usize,
            stop: bool,
        }
        let state = Mutex::new(State {
            outcomes,
            running: 0,
            stop: false,
        });
        let wake = Condvar::new();
        let is_done_ok = |o: &Option<Outcome>| matches!(o, Some(Outcome::Cached | Outcome::Built));
        let worker = || loop {
            let (element, running, waiting) = {
                let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
                loop {
                    if s.stop {
                        wake.notify_all();
                        return;
                    }
                    let ready = plan
                        .iter()
                        .copied()
                        .find(|&e| s.outcomes[e].is_none() && needs[e].iter().all(|&d| is_done_ok(&s.outcomes[d])));
                    if let Some(e) = ready {
                        s.outcomes[e] = Some(Outcome::Skipped); // claimed; replaced below
                        s.running += 1;
                        let waiting = plan.iter().filter(|&&p| s.outcomes[p].is_none()).count();
                        break (e, s.running, waiting);
                    }
                    if s.running == 0 {
                        wake.notify_all();
                        return;
                    }
                    s = wake.wait(s).unwrap_or_else(|e| e.into_inner());
                }
            };
            let name = &self.graph.elements[element].name;
            report.started(name, running, waiting);
            let started = Instant::now();
            // A build that panics fails that element; it must not leave the
            // others waiting for it forever.
            let built = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.build_with_lock(element)))
                .unwrap_or_else(|panic| {
                    let why = panic
                        .downcast_ref::<String>()
                        .map(String::as_str)
                        .or_else(|| panic.downcast_ref::<&str>().copied())
                        .unwrap_or("no message");
                    Err(format!("internal error (a bug in forge, please report it): {why}"))
                });
            let outcome = match built {
                Ok(true) => Outcome::Built,
                Ok(false) => Outcome::Cached,
                Err(message) => Outcome::Failed(message),
            };
            let warnings: Vec<String> = {
                let mut pending = self.warnings.lock().unwrap_or_else(|e| e.into_inner());
                let (mine, others) = pending.drain(..).partition(|(e, _)| *e == element);
                *pending = others;
                mine.into_iter().map(|(_, w)| w).collect()
            };
            for warning in warnings {
                report.warned(name, &warning);
            }
            report.finished(name, &outcome, started.elapsed().as_secs_f64(), &self.log_path(element));
            let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
            if matches!(outcome, Outcome::Failed(_)) && !options.keep_going {
                s.stop = true;
            }
            s.outcomes[element] = Some(outcome);
            s.running -= 1;
            wake.notify_all();
        };
        std::thread::scope(|scope| {
            for _ in 1..options.builders.max(1) {
                scope.spawn(worker);
            }
            worker();
        });
        let outcomes = state.into_inner().unwrap_or_else(|e| e.into_inner()).outcomes;
        plan.into_iter()
            .map(|e| (e, outcomes[e].clone().unwrap_or(Outcome::Skipped)))
            .collect()
    }

    /// Builds `element` unless another forge process built it meanwhile
    /// (one build per element and key, whatever runs at once). Returns
    /// whether it built.
    fn build_with_lock(&self, element: usize) -> Result<bool, String> {
        let key = self.keys.keys[element].as_deref().unwrap_or("unknown");
        let locks = self.cas.root().join("locks");
        fs::create_dir_all(&locks).map_err(|e| format!("cannot create {}: {e}", locks.display()))?;
        let e = &self.graph.elements[element];
        let lock_path = locks.join(format!("{}-{}-{key}", e.project.name, e.normal_name()));
        let lock = fs::File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| format!("cannot lock {}: {e}", lock_path.display()))?;
        lock.lock()
            .map_err(|e| format!("cannot lock {}: {e}", lock_path.display()))?;
        if self.is_cached(element) {
            return Ok(false);
        }
        self.build_one(element, true).map(|_| true)
    }
}

/// Removes a build directory, making read-only directories writable first.
fn remove_tree(dir: &std::path::Path) {
    if fs::remove_dir_all(dir).is_ok() {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        let _ = fs::set_permissions(&d, fs::Permissions::from_mode(0o755));
        if let Ok(entries) = fs::read_dir(&d) {
            for entry in entries.flatten() {
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    pending.push(entry.path());
                }
            }
        }
    }
    let _ = fs::remove_dir_all(dir);
}
