//! `forge build`: build what the targets need, offline, in the sandbox.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use forge_engine::{BuildOptions, BuildReport, Engine, Outcome, PipelineReport};

use crate::cli::{BuildArgs, DepsSelection, OnError};
use crate::exit::{ExitClass, Failure};
use crate::fetch::fetch_sources;
use crate::output::{Tone, tag};
use crate::progress::BarProgress;
use crate::session::Session;
use crate::show::select;

/// Prints one line per build as it ends (and, off a terminal, as it
/// starts). On a terminal, a board below those lines shows each running
/// build with its time, and how many are done, running, queued and failed.
pub(crate) struct LineReport {
    started: AtomicUsize,
    failed: AtomicUsize,
    total: AtomicUsize,
    board: MultiProgress,
    /// Pulls and pushes under way: a bar of artifacts with their bytes.
    transfer: Mutex<Option<(ProgressBar, u64)>>,
    summary: ProgressBar,
    running: Mutex<HashMap<String, ProgressBar>>,
}

impl LineReport {
    pub(crate) fn new() -> LineReport {
        let board = MultiProgress::with_draw_target(if crate::output::quiet() {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        });
        // Shown once the builds start (pulls and fetches come first).
        let summary = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::hidden()).with_style(
            ProgressStyle::with_template("{bar:30.green} {pos}/{len} done · {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        LineReport {
            started: AtomicUsize::new(0),
            failed: AtomicUsize::new(0),
            total: AtomicUsize::new(0),
            transfer: Mutex::default(),
            board,
            summary,
            running: Mutex::default(),
        }
    }

    /// A line above the board (or just a line off a terminal).
    fn line(&self, text: &str) {
        if self.board.is_hidden() {
            eprintln!("{text}");
        } else {
            let _ = self.board.println(text);
        }
    }

    fn running(&self) -> std::sync::MutexGuard<'_, HashMap<String, ProgressBar>> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn update_summary(&self, running: usize) {
        let queued = self
            .total
            .load(Ordering::Relaxed)
            .saturating_sub(self.started.load(Ordering::Relaxed));
        let failed = self.failed.load(Ordering::Relaxed);
        self.summary
            .set_message(format!("{running} running · {queued} queued · {failed} failed"));
    }

    /// Moves the transfer bar on by one artifact of `bytes`.
    fn transferred(&self, bytes: u64) {
        let mut transfer = self.transfer.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((bar, total)) = transfer.as_mut() {
            *total += bytes;
            bar.inc(1);
            bar.set_message(crate::remotes::size(*total));
        }
    }

    /// Takes the board away before the closing summary.
    pub(crate) fn close(&self) {
        if let Some((bar, _)) = self.transfer.lock().unwrap_or_else(|e| e.into_inner()).take() {
            bar.finish_and_clear();
        }
        self.summary.finish_and_clear();
        let _ = self.board.clear();
    }
}

impl BuildReport for LineReport {
    fn started(&self, element: &str, running: usize, waiting: usize) {
        let n = self.started.fetch_add(1, Ordering::Relaxed) + 1;
        if crate::output::quiet() {
            return;
        }
        if self.board.is_hidden() {
            eprintln!(
                "[{n:>4}/{}] building {element}  ({running} running, {waiting} queued)",
                self.total.load(Ordering::Relaxed)
            );
            return;
        }
        let spinner = self.board.add(
            ProgressBar::new_spinner().with_style(
                ProgressStyle::with_template("  {spinner:.cyan} {prefix} {elapsed:.dim}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            ),
        );
        spinner.set_prefix(element.to_string());
        spinner.enable_steady_tick(Duration::from_millis(120));
        let mut board = self.running();
        board.insert(element.to_string(), spinner);
        self.update_summary(board.len());
    }

    fn warned(&self, element: &str, message: &str) {
        self.line(&format!(
            "{} {element}: {}",
            tag("[ warn ]", Tone::Warn),
            crate::exit::printable(message)
        ));
    }

    fn finished(&self, element: &str, outcome: &Outcome, seconds: f64, log: &std::path::Path) {
        let log_line = if crate::output::verbose() {
            format!("\n         {}", tag(&format!("log: {}", log.display()), Tone::Dim))
        } else {
            String::new()
        };
        match outcome {
            Outcome::Built if !crate::output::quiet() => self.line(&format!(
                "{} {element} ({seconds:.1} s){log_line}",
                tag("[  ok  ]", Tone::Good)
            )),
            Outcome::Cached if !crate::output::quiet() => self.line(&format!(
                "{} {element} (built meanwhile by another forge)",
                tag("[cached]", Tone::Good)
            )),
            Outcome::Built | Outcome::Cached => {}
            Outcome::Failed(why) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                let mut text = format!(
                    "{} {element}: {why}\n         log: {}",
                    tag("[FAILED]", Tone::Bad),
                    log.display()
                );
                for line in tail(log, 20) {
                    text.push_str(&format!("\n         | {line}"));
                }
                self.line(&text);
            }
            _ => {}
        }
        let mut board = self.running();
        if let Some(spinner) = board.remove(element) {
            spinner.finish_and_clear();
            self.board.remove(&spinner);
            self.summary.inc(1);
        }
        self.update_summary(board.len());
    }
}

impl PipelineReport for LineReport {
    fn transferring(&self, push: bool, count: usize) {
        if self.board.is_hidden() {
            return;
        }
        let mut transfer = self.transfer.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((bar, _)) = transfer.take() {
            bar.finish_and_clear();
        }
        let verb = if push { "pushing" } else { "pulling" };
        let bar = self.board.add(
            ProgressBar::new(count as u64).with_style(
                ProgressStyle::with_template(&format!("{{bar:30.cyan}} {{pos}}/{{len}} {verb} · {{msg}}"))
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            ),
        );
        *transfer = Some((bar, 0));
    }

    fn transfer_step(&self, bytes: u64) {
        self.transferred(bytes);
    }

    fn pulled(&self, element: &str, server: &str, blobs: usize, bytes: u64) {
        self.line(&format!(
            "pulled {element} from {} ({blobs} blobs, {})",
            crate::exit::printable(server),
            crate::remotes::size(bytes)
        ));
    }

    fn pushed(&self, element: &str, server: &str, blobs: usize, bytes: u64) {
        self.line(&format!(
            "pushed {element} to {} ({blobs} blobs, {})",
            crate::exit::printable(server),
            crate::remotes::size(bytes)
        ));
    }

    fn pull_failed(&self, element: &str, error: &str) {
        self.line(&format!(
            "warning: cannot pull {element}: {}",
            crate::exit::printable(error)
        ));
    }

    fn push_failed(&self, element: &str, error: &str) {
        self.line(&format!(
            "warning: cannot push {element}: {}",
            crate::exit::printable(error)
        ));
    }

    fn building(&self, count: usize) {
        self.total.store(count, Ordering::Relaxed);
        self.summary.set_length(count as u64);
        if count > 0 {
            self.board.add(self.summary.clone());
        }
    }
}

/// The last `n` lines of a file.
/// The last `n` lines of a build log, each escaped to one printable line
/// (what a build prints is input too: an sdist's setup.py may print
/// anything, in any encoding).
pub fn tail(path: &std::path::Path, n: usize) -> Vec<String> {
    let bytes = std::fs::read(path).unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| forge_project::error::printable_line(l))
        .collect()
}

/// Runs `forge build`.
pub fn run(session: &Session, args: &BuildArgs) -> Result<(), Failure> {
    let started = Instant::now();
    let project = &session.project;
    let (graph, plan) = select(project, &args.targets, DepsSelection::All)?;
    if let Some(&junction) = graph.targets.iter().find(|&&t| graph.elements[t].junction)
        && !args.targets.is_empty()
    {
        return Err(Failure::usage(format!(
            "{} is a junction: it names a subproject and is never built; build elements of it instead, as '{}:element.bst'",
            graph.elements[junction].name, graph.elements[junction].name
        )));
    }
    // Junctions are loaded and keyed, never built (nothing can depend on one).
    let plan: Vec<usize> = plan.into_iter().filter(|&e| !graph.elements[e].junction).collect();
    let keys = session.cache_keys(&graph)?;
    let unpinned = keys.unpinned(&graph, &plan);
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
    // Malicious releases are refused before anything is fetched or built.
    if let Some(snapshot_graph) = crate::audit::snapshot_elements(project, &[], false)? {
        let snapshot = crate::audit::load_snapshot(session, &snapshot_graph)?;
        let (pinned, _) = forge_engine::audit::pinned_packages(&graph, &plan, &sources);
        forge_engine::audit::refuse_malware(&graph, &snapshot, pinned).map_err(Failure::trust)?;
    }
    // Connected only when something will be built (the cache lacks part
    // of the plan, or --check): a build with nothing to do asks no executor.
    let executor = session.executor(|| {
        args.check
            || plan
                .iter()
                .any(|&e| crate::artifacts::built_record(&cas, &graph, &keys, e).is_none())
    })?;
    if let Some(executor) = &executor {
        let canceller = executor.canceller();
        crate::interrupt::on_interrupt(move |_| {
            use std::io::Write as _;
            let (cancelled, failures) = canceller.cancel_all(std::time::Duration::from_secs(5));
            // stderr may be gone with the terminal: nothing to report then.
            let mut stderr = std::io::stderr();
            for failure in failures {
                let _ = writeln!(stderr, "warning: {}", crate::exit::printable(&failure));
            }
            let _ = writeln!(
                stderr,
                "interrupted: {cancelled} remote action{} cancelled",
                if cancelled == 1 { "" } else { "s" }
            );
        });
    }
    let engine = Engine::new(project, &graph, &keys, &cas, &sources, session.cache_dir.join("logs"))
        .executing_on(executor.as_ref());
    let targets: Vec<usize> = graph
        .targets
        .iter()
        .copied()
        .filter(|&t| !graph.elements[t].junction)
        .collect();
    let options = BuildOptions {
        builders: args
            .builders
            .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)),
        keep_going: args.on_error == OnError::Continue,
        retry_failed: args.retry_failed,
    };
    let servers = session.artifact_servers()?;
    let report = LineReport::new();
    let fetch = |elements: &[usize]| -> Result<(), Failure> {
        fetch_sources(session, &graph, elements, false)?;
        if !elements.is_empty() {
            forge_sandbox::bwrap().map_err(|e| Failure {
                message: e.to_string(),
                code: ExitClass::Build,
            })?;
        }
        Ok(())
    };
    let result = engine.run(&targets, &plan, &options, servers, fetch, &report);
    report.close();
    let result = result?;
    let outcomes = &result.outcomes;
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
    let pulled = result.pulled.artifacts.load(Ordering::Relaxed);
    let pushed = result.pushed.artifacts.load(Ordering::Relaxed);
    let remote = if servers.is_empty() {
        String::new()
    } else {
        format!(", {pulled} pulled, {pushed} pushed")
    };
    if !crate::output::quiet() {
        eprintln!(
            "build: {built} built, {cached} cached, {} failed, {skipped} skipped{remote}, in {:.1} s",
            failed.len(),
            started.elapsed().as_secs_f64()
        );
    }
    if !failed.is_empty() {
        return Err(Failure {
            message: format!("build failed: {}", failed.join(", ")),
            code: ExitClass::Build,
        });
    }
    if args.check {
        let selection = engine.graph.walk(&targets, crate::artifacts::scope(args.deps));
        let selection: Vec<usize> = if args.deps == DepsSelection::None {
            targets.clone()
        } else {
            selection
        };
        let mut differing = Vec::new();
        let (mut same, mut empty, mut unbuilt) = (0, 0, 0);
        for &element in &selection {
            match check(&engine, element)? {
                Checked::Same => same += 1,
                Checked::NoFiles => empty += 1,
                Checked::NotBuilt => unbuilt += 1,
                Checked::Differs(what) => differing.push(what),
            }
        }
        eprintln!(
            "check: {same} reproducible, {} not, {empty} with no files of their own, {unbuilt} not built by this run",
            differing.len()
        );
        if !differing.is_empty() {
            return Err(Failure {
                message: format!("check: not reproducible:\n  {}", differing.join("\n  ")),
                code: ExitClass::Build,
            });
        }
    }
    Ok(())
}

/// What rebuilding one element found.
enum Checked {
    Same,
    /// A stack, a junction, or anything else whose artifact is empty: there
    /// is nothing to compare (its dependencies may be checked with --deps).
    NoFiles,
    /// Not needed by this build, so not built (a cached element's build
    /// dependency).
    NotBuilt,
    /// The element and what differs.
    Differs(String),
}

/// Rebuilds `element` in a fresh sandbox and compares with its artifact.
fn check(engine: &Engine<'_>, element: usize) -> Result<Checked, Failure> {
    let name = &engine.graph.elements[element].name;
    let Some(cached) = engine.artifact(element) else {
        return Ok(Checked::NotBuilt);
    };
    let first = engine
        .cas
        .get_manifest(&cached.manifest)
        .map_err(|e| Failure::internal(e.to_string()))?;
    if first.entries.is_empty() {
        eprintln!("check: {name} has no files of its own (check what it gathers with --deps all)");
        return Ok(Checked::NoFiles);
    }
    eprintln!("check: rebuilding {name}");
    let (_, second) = engine.build_one(element, false).map_err(|why| Failure {
        message: format!("check: the rebuild of {name} failed: {why}"),
        code: ExitClass::Build,
    })?;
    let differences = first.differences(&second);
    if differences.is_empty() {
        eprintln!(
            "check: {name} is reproducible ({} entries identical)",
            first.entries.len()
        );
        Ok(Checked::Same)
    } else {
        Ok(Checked::Differs(format!("{name}: {}", differences.join("; "))))
    }
}
