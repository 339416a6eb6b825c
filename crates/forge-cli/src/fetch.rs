//! `forge fetch`: bring the pinned sources of elements into the cache.

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use forge_project::keys::canonical_json;
use forge_project::{Element, KeyContext, Source};

use crate::cli::FetchArgs;
use crate::exit::Failure;
use crate::progress::BarProgress;
use crate::session::Session;
use crate::show::select;

/// A source to fetch, and the element that names it.
struct Job<'a> {
    element: &'a Element,
    source: &'a Source,
}

/// Describes a source for messages: `app.bst: source 1 (tar up:x.tgz)`,
/// and by its package where it names one (`base.bst: coreutils (source 7,
/// deb debian:)`, `python.bst: click (source 1, pypi pypi:simple/)`).
/// Control characters from the file are escaped.
pub fn describe(element: &str, source: &Source) -> String {
    let what = source
        .get_str("url")
        .or_else(|| source.get_str("path"))
        .map(|w| format!(" {w}"))
        .unwrap_or_default();
    let text = match source.get_str("package").or_else(|| source.get_str("name")) {
        Some(package) => format!(
            "{element}: {package} (source {}, {}{what})",
            source.index + 1,
            source.kind
        ),
        None => format!("{element}: source {} ({}{what})", source.index + 1, source.kind),
    };
    forge_project::error::printable_line(&text)
}

/// Runs `forge fetch`.
pub fn run(session: &Session, args: &FetchArgs) -> Result<(), Failure> {
    let (graph, selected) = select(&session.project, &args.targets, args.deps)?;
    fetch_sources(session, &graph, &selected, true)
}

/// Runs `forge source push`: every pinned source of the targets that the
/// cache holds is offered to the source cache servers that take pushes
/// (each sends only what a server lacks).
pub fn push(session: &Session, args: &FetchArgs) -> Result<(), Failure> {
    let started = Instant::now();
    let (graph, selected) = select(&session.project, &args.targets, args.deps)?;
    let mut jobs: Vec<Job> = Vec::new();
    let mut seen = HashSet::new();
    let mut absent = Vec::new();
    let mut not_kept = Vec::new();
    for pinned in pinned_sources(session, &graph, &selected, &mut Vec::new())? {
        let job = pinned.job;
        if !pinned.runtime.on_source_caches() {
            not_kept.push(describe(&job.element.name, job.source));
        } else if !pinned.runtime.is_cached(job.source, &session.sources) {
            absent.push(describe(&job.element.name, job.source));
        } else if seen.insert(pinned.id) {
            jobs.push(job);
        }
    }
    let downloader = session.downloader()?;
    let progress = BarProgress::new();
    let mut ctx = session.source_context(&downloader, &progress);
    if !ctx.servers.is_some_and(|servers| servers.pushes()) {
        return Err(Failure::usage(
            "no source cache server takes pushes: configure `source-caches: servers:` with `push: true` \
             in the user configuration (see docs/remote-caches.md)",
        ));
    }
    ctx.push_held = true;
    // Held already: the fetch only offers what it holds.
    let failures = fetch_each(session, &jobs, &ctx, |_| {});
    if !crate::output::quiet() {
        for line in &absent {
            eprintln!("warning: {line}: not in the source cache (`forge fetch` it first); not pushed");
        }
        for line in &not_kept {
            eprintln!(
                "warning: {line}: forge keeps this kind in its git mirrors only, not on source cache servers; not pushed"
            );
        }
        eprintln!(
            "source push: {} offered, {} not in the source cache, {} failed, in {:.1} s",
            jobs.len() - failures.len(),
            absent.len(),
            failures.len(),
            started.elapsed().as_secs_f64()
        );
    }
    if failures.is_empty() {
        return Ok(());
    }
    Err(Failure::fetch(format!(
        "{} source(s) could not be pushed:\n  {}",
        failures.len(),
        failures.join("\n  ")
    )))
}

/// A pinned source whose kind fetches: its job, its runtime and what
/// identifies its pin (the same pin named by several elements is one).
struct Pinned<'a> {
    job: Job<'a>,
    runtime: &'static dyn forge_sources::SourceRuntime,
    id: String,
}

/// The pinned sources of `elements` whose kinds fetch; those without a
/// pin are described in `unpinned`.
fn pinned_sources<'g>(
    session: &Session,
    graph: &'g forge_project::Graph,
    elements: &[usize],
    unpinned: &mut Vec<String>,
) -> Result<Vec<Pinned<'g>>, Failure> {
    let mut out = Vec::new();
    for &index in elements {
        let element = &graph.elements[index];
        let key_context = KeyContext {
            project_dir: &element.project.dir,
            file_hashes: &session.file_hashes,
        };
        for source in &element.sources {
            let Some(runtime) = forge_sources::runtime(source.kind_id) else {
                continue;
            };
            let kind = element
                .project
                .kinds
                .source(&source.kind)
                .expect("loaded kinds are registered");
            if !kind.needs_fetch() {
                continue;
            }
            let Some(key) = kind.unique_key(source, &key_context)? else {
                unpinned.push(describe(&element.name, source));
                continue;
            };
            out.push(Pinned {
                job: Job { element, source },
                runtime,
                id: format!("{}:{}", source.kind_id, canonical_json(&key)),
            });
        }
    }
    Ok(out)
}

/// Runs each job's fetch, `session.fetchers` at a time, calling `done`
/// for each that succeeds; the failures, one line each, sorted.
fn fetch_each(
    session: &Session,
    jobs: &[Job<'_>],
    ctx: &forge_sources::SourceContext<'_>,
    done: impl Fn(&Job<'_>) + Sync,
) -> Vec<String> {
    let next = AtomicUsize::new(0);
    let failures: Mutex<Vec<String>> = Mutex::default();
    std::thread::scope(|scope| {
        for _ in 0..session.fetchers.min(jobs.len()) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(job) = jobs.get(i) else { break };
                    let runtime = forge_sources::runtime(job.source.kind_id).expect("jobs have runtimes");
                    match runtime.fetch(job.source, &ctx.for_project(&job.element.project)) {
                        Ok(()) => done(job),
                        Err(err) => {
                            let line = format!("{}: {err}", describe(&job.element.name, job.source));
                            failures.lock().unwrap_or_else(|e| e.into_inner()).push(line);
                        }
                    }
                }
            });
        }
    });
    let mut failures = failures.into_inner().unwrap_or_else(|e| e.into_inner());
    failures.sort();
    failures
}

/// Fetches every missing pinned source of `elements`, in parallel; prints
/// a summary when something was to be done or `summary` asks for one.
pub fn fetch_sources(
    session: &Session,
    graph: &forge_project::Graph,
    elements: &[usize],
    summary: bool,
) -> Result<(), Failure> {
    let started = Instant::now();
    session.sources.discard_stale_partials();

    let mut unpinned = Vec::new();
    let mut jobs: Vec<Job> = Vec::new();
    let mut seen = HashSet::new();
    let mut cached = 0;
    for pinned in pinned_sources(session, graph, elements, &mut unpinned)? {
        if pinned.runtime.is_cached(pinned.job.source, &session.sources) {
            cached += 1;
        } else if seen.insert(pinned.id) {
            // The same pin named by several elements is fetched once.
            jobs.push(pinned.job);
        }
    }
    if jobs.is_empty() && unpinned.is_empty() && !summary {
        return Ok(());
    }
    let downloader = session.downloader()?;
    let progress = BarProgress::new();
    let ctx = session.source_context(&downloader, &progress);
    let failures = fetch_each(session, &jobs, &ctx, |job| {
        progress.println(&format!("fetched {}", describe(&job.element.name, job.source)));
    });
    let fetched = jobs.len() - failures.len();
    if !crate::output::quiet() {
        eprintln!(
            "fetch: {fetched} fetched, {cached} already cached, {} failed, {} without a pin, in {:.1} s",
            failures.len(),
            unpinned.len(),
            started.elapsed().as_secs_f64()
        );
    }
    if failures.is_empty() && unpinned.is_empty() {
        return Ok(());
    }
    let mut message = String::new();
    for line in &failures {
        message.push_str(&format!("\n  {}", line.replace('\n', "\n  ")));
    }
    for line in &unpinned {
        message.push_str(&format!("\n  {line}: no ref; run `forge track` to pin it"));
    }
    Err(Failure::fetch(format!(
        "{} source(s) could not be fetched:{message}",
        failures.len() + unpinned.len()
    )))
}
