//! The build pipeline: pull what the artifact servers have, fetch the
//! sources of what is left, build it, push what the servers lack. The
//! engine decides; the front end renders the events it reports.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use forge_project::{CacheKeys, Graph};
use forge_remote::{PullOutcome, Servers};

use crate::{BuildOptions, BuildReport, Engine, Outcome};

/// Artifacts moved at once: the calls mostly wait on the network.
const TRANSFERS: usize = 8;

/// What happened on the way, for the front end to show.
pub trait PipelineReport: BuildReport {
    /// `element`'s artifact came from `server`.
    fn pulled(&self, element: &str, server: &str, blobs: usize, bytes: u64);
    /// `element`'s artifact went to `server`.
    fn pushed(&self, element: &str, server: &str, blobs: usize, bytes: u64);
    /// Pulling `element`'s artifact failed; it is built instead.
    fn pull_failed(&self, element: &str, error: &str);
    /// Pushing `element`'s artifact failed; the next run tries again.
    fn push_failed(&self, element: &str, error: &str);
    /// The builds are about to start: `count` elements to build.
    fn building(&self, _count: usize) {}
    /// `count` artifacts are asked of the servers (`push`: offered to them).
    fn transferring(&self, _push: bool, _count: usize) {}
    /// One of those is done, `bytes` moved.
    fn transfer_step(&self, _bytes: u64) {}
}

/// Totals of the transfers of one direction.
#[derive(Debug, Default)]
pub struct Transfers {
    /// Artifacts moved.
    pub artifacts: AtomicUsize,
    /// Blobs moved.
    pub blobs: AtomicUsize,
    /// Bytes moved.
    pub bytes: AtomicU64,
    /// Artifacts that could not be moved.
    pub failed: AtomicUsize,
}

impl Transfers {
    fn add(&self, blobs: usize, bytes: u64) {
        self.artifacts.fetch_add(1, Ordering::Relaxed);
        self.blobs.fetch_add(blobs, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }
}

/// What a pipeline run did.
#[derive(Debug, Default)]
pub struct PipelineResult {
    /// Each element of the plan that was looked at, with what happened.
    pub outcomes: Vec<(usize, Outcome)>,
    /// Artifacts pulled.
    pub pulled: Transfers,
    /// Artifacts pushed.
    pub pushed: Transfers,
}

/// Pulls the artifacts of `elements` that the local cache lacks, from the
/// first server that has each; returns the elements pulled.
pub fn pull(
    servers: &Servers,
    graph: &Graph,
    keys: &CacheKeys,
    cas: &forge_cas::Cas,
    elements: &[usize],
    report: &dyn PipelineReport,
    totals: &Transfers,
) -> Vec<usize> {
    if servers.is_empty() {
        return Vec::new();
    }
    let tainted = graph.from_workspaces();
    let elements: Vec<usize> = elements.iter().copied().filter(|&e| !tainted[e]).collect();
    let elements = elements.as_slice();
    report.transferring(false, elements.len());
    let pulled = forge_project::parallel::map_on(TRANSFERS, elements, |&e| {
        let outcome = pull_one(servers, graph, keys, cas, e, report, totals);
        report.transfer_step(outcome.map_or(0, |(_, bytes)| bytes));
        outcome.map(|_| e)
    });
    pulled.into_iter().flatten().collect()
}

/// Pulls one element from the first server that has it: `(element, bytes)`.
fn pull_one(
    servers: &Servers,
    graph: &Graph,
    keys: &CacheKeys,
    cas: &forge_cas::Cas,
    e: usize,
    report: &dyn PipelineReport,
    totals: &Transfers,
) -> Option<(usize, u64)> {
    let element = &graph.elements[e];
    let key = keys.keys[e].as_deref()?;
    for route in servers.routes() {
        match route
            .retrying(|| forge_remote::pull_artifact(route, cas, &element.project.name, &element.normal_name(), key))
        {
            Ok(PullOutcome::Pulled { blobs, bytes, .. }) => {
                totals.add(blobs, bytes);
                report.pulled(&element.name, &route.describe(), blobs, bytes);
                return Some((e, bytes));
            }
            Ok(PullOutcome::NotThere) => {}
            Err(err) => {
                totals.failed.fetch_add(1, Ordering::Relaxed);
                report.pull_failed(&element.name, &err.to_string());
            }
        }
    }
    None
}

/// Pushes the successful artifacts of `elements` to every server that
/// takes pushes, sending only what each lacks.
pub fn push(
    servers: &Servers,
    graph: &Graph,
    keys: &CacheKeys,
    cas: &forge_cas::Cas,
    elements: &[usize],
    report: &dyn PipelineReport,
    totals: &Transfers,
) {
    let tainted = graph.from_workspaces();
    let elements: Vec<usize> = elements.iter().copied().filter(|&e| !tainted[e]).collect();
    for route in servers.push_routes() {
        report.transferring(true, elements.len());
        forge_project::parallel::map_on(TRANSFERS, &elements, |&e| {
            let element = &graph.elements[e];
            let name = element.normal_name();
            let Some(key) = keys.keys[e].as_deref().filter(|key| {
                cas.get_artifact(&element.project.name, &name, key)
                    .is_some_and(|r| r.success)
            }) else {
                report.transfer_step(0);
                return;
            };
            let mut moved = 0;
            match route.retrying(|| forge_remote::push_artifact(route, cas, &element.project.name, &name, key)) {
                Ok(outcome) if outcome.already_there => {}
                Ok(outcome) => {
                    totals.add(outcome.blobs_sent, outcome.bytes_sent);
                    moved = outcome.bytes_sent;
                    report.pushed(&element.name, &route.describe(), outcome.blobs_sent, outcome.bytes_sent);
                }
                Err(err) => {
                    totals.failed.fetch_add(1, Ordering::Relaxed);
                    report.push_failed(&element.name, &err.to_string());
                }
            }
            report.transfer_step(moved);
        });
    }
}

impl Engine<'_> {
    /// The whole of `forge build`: what the servers have is pulled, the
    /// sources of what is left are fetched (`fetch`, with the elements
    /// whose sources those builds read too), it is built, and every
    /// artifact of the plan goes to the servers that take pushes and lack
    /// it (so a push an earlier run could not finish is finished now).
    /// `fetch` failing stops the run before any build, with its error.
    pub fn run<E>(
        &self,
        targets: &[usize],
        plan: &[usize],
        options: &BuildOptions,
        servers: &Servers,
        fetch: impl FnOnce(&[usize]) -> Result<(), E>,
        report: &dyn PipelineReport,
    ) -> Result<PipelineResult, E> {
        let mut result = PipelineResult::default();
        self.prime(plan);
        // From the targets down: what a server has is pulled, and only the
        // build dependencies of what none has are needed (and asked for).
        let mut asked = vec![false; self.graph.elements.len()];
        loop {
            let required = self.required(targets, |e| self.is_cached(e) || !asked[e]);
            let wanted: Vec<usize> = required
                .into_iter()
                .filter(|&e| !self.is_cached(e) && !asked[e])
                .collect();
            if wanted.is_empty() {
                break;
            }
            let pulled = pull(
                servers,
                self.graph,
                self.keys,
                self.cas,
                &wanted,
                report,
                &result.pulled,
            );
            self.refresh(&pulled);
            for e in wanted {
                asked[e] = true;
            }
        }
        let required = self.required(targets, |e| self.is_cached(e));
        let to_build: Vec<usize> = required.iter().copied().filter(|&e| !self.is_cached(e)).collect();
        // Some kinds read the sources of other elements too (pip: wheels).
        let mut to_fetch = to_build.clone();
        for &e in &to_build {
            let element = &self.graph.elements[e];
            if let Some(kind) = element.project.kinds.element(&element.kind) {
                to_fetch.extend(
                    kind.sources_also_needed(element)
                        .iter()
                        .filter_map(|n| self.graph.find(n)),
                );
            }
        }
        fetch(&to_fetch)?;
        report.building(to_build.len());
        result.outcomes = self.build(targets, options, report);
        push(
            servers,
            self.graph,
            self.keys,
            self.cas,
            &required,
            report,
            &result.pushed,
        );
        Ok(result)
    }
}
