//! Audits: the packages an element closure pins, matched against the
//! project's pinned advisory snapshot. The front end renders what this
//! finds; the malware gate of `build` and `track` is decided here too.

use forge_cas::Cas;
use std::path::Path;

use forge_project::{CacheKeys, Graph};
use forge_sources::{SourceContext, Withdrawn};
use forge_trust::{Finding, Package, Severity, Snapshot};

/// The element that holds a project's advisory snapshot unless another
/// is named: `build` and `track` look for malware records in it.
pub const DEFAULT_SNAPSHOT: &str = "advisories.bst";

/// One package a source pins.
#[derive(Clone, Debug)]
pub struct Pinned {
    /// The element whose source pins it.
    pub element: usize,
    /// The source's position in the element.
    pub source: usize,
    /// The package and version.
    pub package: Package,
}

/// A pinned package with what the snapshot says of it.
#[derive(Debug)]
pub struct Audited {
    /// The pin.
    pub pinned: Pinned,
    /// Its findings, most severe first.
    pub findings: Vec<Finding>,
    /// Whether upstream withdrew the pinned file (`Some` only when asked,
    /// with [`ask_upstream`]).
    pub withdrawn: Option<Withdrawn>,
}

/// The packages the sources of `elements` pin, and the pins that could
/// not be read (a `.deb` not fetched yet, say): the element and a message
/// naming it.
pub fn pinned_packages(
    graph: &Graph,
    elements: &[usize],
    ctx: &SourceContext<'_>,
) -> (Vec<Pinned>, Vec<(usize, String)>) {
    let mut pinned = Vec::new();
    let mut problems = Vec::new();
    for &e in elements {
        let element = &graph.elements[e];
        for (i, source) in element.sources.iter().enumerate() {
            let Some(runtime) = forge_sources::runtime(source.kind_id) else {
                continue;
            };
            match runtime.pinned_package(source, ctx.cache) {
                Ok(Some(package)) => pinned.push(Pinned {
                    element: e,
                    source: i,
                    package,
                }),
                Ok(None) => {}
                Err(err) => problems.push((e, format!("{}: source {}: {err}", element.name, i + 1))),
            }
        }
    }
    (pinned, problems)
}

/// Reads the snapshots of the advisories elements `snapshots` from their
/// staged sources (offline: they must be in the source cache). What was
/// read is kept under `store` by the element's cache key, so the next
/// read of the same pin takes one file instead of staging thousands.
pub fn read_snapshot(
    graph: &Graph,
    keys: &CacheKeys,
    snapshots: &[usize],
    ctx: &SourceContext<'_>,
    cas: &Cas,
    store: &Path,
) -> Result<Snapshot, String> {
    let mut snapshot = Snapshot::new();
    for &e in snapshots {
        let element = &graph.elements[e];
        if element.kind_id != "advisories" {
            return Err(format!(
                "{} is a '{}' element, not an advisory snapshot (kind: advisories)",
                element.name, element.kind
            ));
        }
        let kept = keys.keys[e].as_deref().map(|key| {
            store
                .join(&element.project.name)
                .join(element.normal_name())
                .join(format!("{key}.json"))
        });
        if let Some(read) = kept.as_deref().and_then(read_kept) {
            snapshot.extend(read);
            continue;
        }
        let dir = cas
            .temp_dir("advisories")
            .map_err(|e| format!("cannot make a directory to stage {}: {e}", element.name))?;
        let mut own = Snapshot::new();
        let read = forge_sources::stage_sources(&element.sources, &ctx.for_project(&element.project), &dir)
            .map_err(|err| format!("{}: {err}", element.name))
            .and_then(|()| forge_kinds::load_snapshot(element, &dir, &mut own));
        let _ = std::fs::remove_dir_all(&dir);
        read?;
        if let Some(kept) = kept {
            // Only a speed-up: a snapshot that cannot be kept is read again next time.
            let _ = keep(&kept, &own);
        }
        snapshot.extend(own);
    }
    Ok(snapshot)
}

fn read_kept(path: &Path) -> Option<Snapshot> {
    let text = std::fs::read(path).ok()?;
    let value: serde_json::Value = serde_json::from_slice(&text).ok()?;
    Snapshot::from_json(&value).ok()
}

fn keep(path: &Path, snapshot: &Snapshot) -> std::io::Result<()> {
    let dir = path.parent().expect("a file in a directory");
    std::fs::create_dir_all(dir)?;
    let temporary = dir.join(format!(".{}.tmp", std::process::id()));
    std::fs::write(&temporary, snapshot.to_json().to_string())?;
    std::fs::rename(&temporary, path)
}

/// What `snapshot` says of each of `pinned`.
pub fn audit(snapshot: &Snapshot, pinned: Vec<Pinned>) -> Vec<Audited> {
    forge_project::parallel::map(&pinned, |p| snapshot.findings(&p.package))
        .into_iter()
        .zip(pinned)
        .map(|(findings, pinned)| Audited {
            pinned,
            findings,
            withdrawn: None,
        })
        .collect()
}

/// Asks upstream whether each audited pin's file was withdrawn since it
/// was pinned (a yanked wheel): the one check of an audit that needs the
/// network, so only on request. Returns the pins upstream could not be
/// asked about, each with a message naming it.
pub fn ask_upstream(graph: &Graph, audited: &mut [Audited], ctx: &SourceContext<'_>) -> Vec<String> {
    let mut problems = Vec::new();
    for entry in audited.iter_mut() {
        let element = &graph.elements[entry.pinned.element];
        let source = &element.sources[entry.pinned.source];
        let Some(runtime) = forge_sources::runtime(source.kind_id) else {
            continue;
        };
        match runtime.withdrawn(source, &ctx.for_project(&element.project)) {
            Ok(withdrawn) => entry.withdrawn = withdrawn,
            Err(err) => problems.push(format!(
                "{}: source {}: cannot ask upstream: {err}",
                element.name,
                entry.pinned.source + 1
            )),
        }
    }
    problems
}

/// The ids of the `MAL-` findings `snapshot` has for `package`.
pub fn malicious_ids(snapshot: &Snapshot, package: &Package) -> Vec<String> {
    snapshot
        .findings(package)
        .into_iter()
        .filter(|f| f.severity == Severity::Malware)
        .map(|f| f.id)
        .collect()
}

/// The malware gate of `build` and `track`: an error naming every pin of
/// `pinned` that a `MAL-` record of `snapshot` reports, never a warning.
pub fn refuse_malware(graph: &Graph, snapshot: &Snapshot, pinned: Vec<Pinned>) -> Result<(), String> {
    let mut hits = Vec::new();
    for audited in audit(snapshot, pinned) {
        for finding in audited.findings.iter().filter(|f| f.severity == Severity::Malware) {
            hits.push(format!(
                "  {} {} ({}, source {}): {}{}",
                audited.pinned.package.name,
                audited.pinned.package.version,
                graph.elements[audited.pinned.element].name,
                audited.pinned.source + 1,
                finding.id,
                if finding.summary.is_empty() {
                    String::new()
                } else {
                    format!(" — {}", finding.summary)
                }
            ));
        }
    }
    if hits.is_empty() {
        return Ok(());
    }
    Err(format!(
        "the advisory snapshot reports malicious releases pinned here:\n{}\nPin another version (forge track ELEMENT, or edit the ref) before building",
        hits.join("\n")
    ))
}

/// What changing the pin of `old` to that of `new` brings, for sources
/// whose pin is one wheel or sdist: both are fetched (through the source
/// cache) and compared. `None` for other sources; a first pin is
/// compared with nothing.
pub fn review_pin_change(
    runtime: &dyn forge_sources::SourceRuntime,
    old: &forge_project::Source,
    new: &forge_project::Source,
    ctx: &SourceContext<'_>,
) -> Result<Option<forge_trust::review::Review>, String> {
    use forge_trust::review::{DistContents, compare};
    let contents = |source: &forge_project::Source, which: &str| -> Result<Option<DistContents>, String> {
        if !runtime.is_cached(source, ctx.cache) {
            runtime.fetch(source, ctx).map_err(|e| e.to_string())?;
        }
        match runtime.cached_file(source, ctx.cache) {
            Some((name, path)) => DistContents::read(&path, &name).map_err(|e| format!("the {which} {name}: {e}")),
            None => Ok(None),
        }
    };
    let Some(new_contents) = contents(new, "new")? else {
        return Ok(None);
    };
    let had_pin = runtime.pinned_package(old, ctx.cache).ok().flatten().is_some();
    let old_contents = if had_pin { contents(old, "old")? } else { None };
    Ok(Some(compare(old_contents.as_ref(), &new_contents)))
}
