//! `forge build`: build what the targets need, offline, in the sandbox.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use forge_engine::{BuildOptions, BuildReport, Engine, Outcome};

use crate::cli::{BuildArgs, DepsSelection, OnError};
use crate::exit::{ExitClass, Failure};
use crate::fetch::fetch_sources;
use crate::progress::BarProgress;
use crate::session::Session;
use crate::show::select;

/// Prints one line per build as it starts and ends.
struct LineReport {
    started: AtomicUsize,
    total: usize,
}

impl BuildReport for LineReport {
    fn started(&self, element: &str, running: usize, waiting: usize) {
        let n = self.started.fetch_add(1, Ordering::Relaxed) + 1;
        eprintln!(
            "[{n:>4}/{}] building {element}  ({running} running, {waiting} queued)",
            self.total
        );
    }
    fn finished(&self, element: &str, outcome: &Outcome, seconds: f64, log: &std::path::Path) {
        match outcome {
            Outcome::Built => eprintln!("[  ok  ] {element} ({seconds:.1} s)"),
            Outcome::Cached => eprintln!("[cached] {element} (built meanwhile by another forge)"),
            Outcome::Failed(why) => {
                eprintln!("[FAILED] {element}: {why}\n         log: {}", log.display());
                for line in tail(log, 20) {
                    eprintln!("         | {line}");
                }
            }
            _ => {}
        }
    }
}

/// The last `n` lines of a file.
pub fn tail(path: &std::path::Path, n: usize) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| l.to_string())
        .collect()
}

/// Runs `forge build`.
pub fn run(session: &Session, args: &BuildArgs) -> Result<(), Failure> {
    let started = Instant::now();
    let project = &session.project;
    let (graph, plan) = select(project, &args.targets, DepsSelection::All)?;
    let keys = session.cache_keys(&graph)?;
    let unpinned: Vec<&str> = plan
        .iter()
        .filter(|&&e| !keys.sources_resolved[e])
        .map(|&e| graph.elements[e].name.as_str())
        .collect();
    if !unpinned.is_empty() {
        return Err(Failure::fetch(format!(
            "these elements have sources without a pin: {}\n  hint: run `forge track` on them",
            unpinned.join(", ")
        )));
    }
    let cas = session.cas();
    let downloader = session.downloader()?;
    let progress = BarProgress::new();
    let sources = session.source_context(&downloader, &progress);
    let engine = Engine::new(project, &graph, &keys, &cas, &sources, session.cache_dir.join("logs"));
    engine.prime(&plan);
    let to_build: Vec<usize> = plan.iter().copied().filter(|&e| !engine.is_cached(e)).collect();
    // pip elements may install the wheels of dependencies' sources too.
    let mut to_fetch = to_build.clone();
    for &e in &to_build {
        if graph.elements[e].kind == "pip" {
            to_fetch.extend(
                forge_kinds::wheel_dependencies(&graph.elements[e])
                    .iter()
                    .filter_map(|n| graph.find(n)),
            );
        }
    }
    fetch_sources(session, &graph, &to_fetch, false)?;
    if !to_build.is_empty() {
        forge_sandbox::bwrap().map_err(|e| Failure {
            message: e.to_string(),
            code: ExitClass::Build,
        })?;
    }

    let targets: Vec<usize> = graph.targets.clone();
    let options = BuildOptions {
        builders: args
            .builders
            .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)),
        keep_going: args.on_error == OnError::Continue,
        retry_failed: args.retry_failed,
    };
    let report = LineReport {
        started: AtomicUsize::new(0),
        total: to_build.len(),
    };
    let outcomes = engine.build(&targets, &options, &report);
    let count = |f: &dyn Fn(&Outcome) -> bool| outcomes.iter().filter(|(_, o)| f(o)).count();
    let built = count(&|o| *o == Outcome::Built);
    let cached = count(&|o| *o == Outcome::Cached);
    let failed: Vec<String> = outcomes
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::Failed(_) | Outcome::FailedEarlier))
        .map(|(e, o)| match o {
            Outcome::FailedEarlier => format!(
                "{} (failed in an earlier build; log: {}; use --retry-failed to try again)",
                graph.elements[*e].name,
                engine.log_path(*e).display()
            ),
            _ => graph.elements[*e].name.clone(),
        })
        .collect();
    let skipped = count(&|o| *o == Outcome::Skipped);
    eprintln!(
        "build: {built} built, {cached} cached, {} failed, {skipped} skipped, in {:.1} s",
        failed.len(),
        started.elapsed().as_secs_f64()
    );
    if !failed.is_empty() {
        return Err(Failure {
            message: format!("build failed: {}", failed.join(", ")),
            code: ExitClass::Build,
        });
    }
    if args.check {
        for &target in &targets {
            check(&engine, target)?;
        }
    }
    Ok(())
}

/// Rebuilds `target` in a fresh sandbox and compares with its artifact.
fn check(engine: &Engine<'_>, target: usize) -> Result<(), Failure> {
    let name = &engine.graph.elements[target].name;
    let cached = engine
        .artifact(target)
        .ok_or_else(|| Failure::internal(format!("{name} is not built")))?;
    let first = engine
        .cas
        .get_manifest(&cached.manifest)
        .map_err(|e| Failure::internal(e.to_string()))?;
    eprintln!("check: rebuilding {name}");
    let (_, second) = engine.build_one(target, false).map_err(|why| Failure {
        message: format!("check: the rebuild of {name} failed: {why}"),
        code: ExitClass::Build,
    })?;
    let differences = first.differences(&second);
    if differences.is_empty() {
        eprintln!(
            "check: {name} is reproducible ({} entries identical)",
            first.entries.len()
        );
        Ok(())
    } else {
        Err(Failure {
            message: format!("check: {name} is not reproducible:\n  {}", differences.join("\n  ")),
            code: ExitClass::Build,
        })
    }
}
