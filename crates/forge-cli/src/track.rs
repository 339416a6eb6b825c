//! `forge track`: ask upstream for new pins and write them back, changing
//! nothing else in the files.

use std::collections::BTreeMap;
use std::path::Path;

use forge_project::error::printable_line;
use forge_project::project::RefStorage;
use forge_yaml::edit::{NewValue, set_value};

use crate::cli::{Review, TrackArgs};
use crate::exit::Failure;
use crate::fetch::describe;
use crate::progress::BarProgress;
use crate::session::Session;
use crate::show::select_as_written;
use forge_project::Graph;
use forge_project::graph::{all_element_names, loadable_targets};

/// One new pin to write.
struct Edit {
    element: String,
    source_index: usize,
    mapping_start: usize,
    value: NewValue,
}

fn short(pin: &str) -> String {
    if pin.len() > 16 && pin.bytes().all(|b| b.is_ascii_hexdigit()) {
        pin[..12].to_string()
    } else {
        pin.to_string()
    }
}

/// Runs `forge track`.
pub fn run(session: &Session, args: &TrackArgs) -> Result<(), Failure> {
    let project = &session.project;
    // The pins are in the element files, workspace or not (bst tracks
    // them too, and warns).
    let (graph, selected) = select_as_written(project, &args.targets, args.deps)?;
    for &index in &selected {
        let name = &graph.elements[index].name;
        if project.workspaces.get(name).is_some() {
            eprintln!(
                "warning: {}",
                forge_project::error::printable_line(&format!(
                    "{name} has an open workspace: builds use its new pins once it is closed"
                ))
            );
        }
    }
    let downloader = session.downloader()?;
    let progress = BarProgress::new();
    let ctx = session.source_context(&downloader, &progress);

    // The keys before, to say what tracking a junction costs.
    let junctions: Vec<String> = selected
        .iter()
        .map(|&i| &graph.elements[i])
        .filter(|e| e.junction && e.project.prefix.is_empty())
        .map(|e| e.name.clone())
        .collect();
    let keys_before: Vec<Option<BTreeMap<String, Option<String>>>> =
        junctions.iter().map(|j| project_keys(session, j).ok()).collect();

    // A new pin that the advisory snapshot reports as malicious is never
    // written (the snapshot as pinned now: one tracked in this run counts
    // from the next).
    let snapshot = match crate::audit::snapshot_elements(project, &[], false)? {
        Some(snapshot_graph) => Some(crate::audit::load_snapshot(session, &snapshot_graph)?),
        None => None,
    };
    let mut refused = Vec::new();
    // Changes --review strict holds back until accepted.
    let mut held = Vec::new();

    // file → edits in that file
    let mut edits: BTreeMap<String, Vec<Edit>> = BTreeMap::new();
    let mut failures = Vec::new();
    let mut changed = 0;
    for &index in &selected {
        let element = &graph.elements[index];
        // Sources as tracked so far: a later source that reads the ones
        // before it sees their new pins.
        let mut current = element.sources.clone();
        let ctx = ctx.for_project(&element.project);
        for position in 0..current.len() {
            let source = &current[position];
            let Some(runtime) = forge_sources::runtime(source.kind_id) else {
                continue;
            };
            let result = if runtime.tracks_from_previous_sources() {
                track_from_previous(session, &ctx, &current[..position], source, runtime)
            } else {
                runtime.track(source, &ctx)
            };
            let tracked = match result {
                Ok(Some(tracked)) => tracked,
                Ok(None) => continue,
                Err(err) if err.refused => {
                    refused.push(format!("{}: {err}", describe(&element.name, source)));
                    continue;
                }
                Err(err) => {
                    failures.push(format!("{}: {err}", describe(&element.name, source)));
                    continue;
                }
            };
            if let Some(config) = current[position].config.as_map_mut() {
                forge_project::refs::set_pin(config, &tracked.new_ref);
            }
            let source = &element.sources[position];
            let old = tracked.old_display.clone();
            let same = old.as_deref() == Some(tracked.new_display.as_str());
            let arrow = match &old {
                Some(old) if same => format!("{} (unchanged)", short(old)),
                Some(old) => format!("{} → {}", short(old), short(&tracked.new_display)),
                None => format!("(none) → {}", short(&tracked.new_display)),
            };
            let note = tracked
                .note
                .as_deref()
                .filter(|n| *n != "unchanged")
                .map(|n| format!(" ({n})"))
                .unwrap_or_default();
            println!("{}: {arrow}{note}", describe(&element.name, source));
            if let Some(warning) = &tracked.warning {
                eprintln!("warning: {}: {warning}", describe(&element.name, source));
            }
            // A git pin's move, commit by commit: what is being trusted.
            for commit in &tracked.commits {
                println!("  commit {}", forge_project::error::printable_line(commit));
            }
            if same {
                continue;
            }
            let package = runtime
                .pinned_package(&current[position], &session.sources)
                .ok()
                .flatten();
            if let Some(snapshot) = &snapshot
                && let Some(package) = &package
            {
                let malicious = forge_engine::audit::malicious_ids(snapshot, package);
                if !malicious.is_empty() {
                    refused.push(format!(
                        "{}: {} {} is reported malicious ({}); the pin is not written",
                        describe(&element.name, source),
                        package.name,
                        package.version,
                        malicious.join(", ")
                    ));
                    continue;
                }
            }
            match forge_engine::audit::review_pin_change(runtime, source, &current[position], &ctx) {
                Ok(Some(review)) => {
                    print_review(&review);
                    let package = package.as_ref().map(|p| p.name.as_str()).unwrap_or_default();
                    let accepted = args.accept.iter().any(|a| forge_python::names::normalize(a) == package);
                    let flagged: Vec<String> = review
                        .concerns
                        .iter()
                        .filter(|c| c.needs_acceptance())
                        .map(|c| c.describe())
                        .collect();
                    let strict = match args.review {
                        Some(review) => review == Review::Strict,
                        None => forge_sources::pypi::strict_review(source),
                    };
                    if strict && !flagged.is_empty() && !accepted {
                        held.push(format!(
                            "{}: {} (accept with --accept {package})",
                            describe(&element.name, source),
                            flagged.join("; ")
                        ));
                        continue;
                    }
                }
                Ok(None) => {}
                Err(err) => eprintln!(
                    "warning: {}: the change cannot be reviewed: {err}",
                    describe(&element.name, source)
                ),
            }
            if !element.project.prefix.is_empty() {
                // As in BuildStream: a subproject's files are its own.
                eprintln!(
                    "warning: {}: the new ref is not written: {} belongs to a subproject; track its junction, or \
                     change the subproject upstream",
                    describe(&element.name, source),
                    element.name
                );
                continue;
            }
            changed += 1;
            edits.entry(source.span.file.to_string()).or_default().push(Edit {
                element: element.name.clone(),
                source_index: source.index,
                mapping_start: source.span.start,
                value: tracked.new_ref,
            });
        }
    }

    let bumped: Vec<usize> = (0..junctions.len())
        .filter(|&j| edits.values().flatten().any(|e| e.element == junctions[j]))
        .collect();
    if !args.dry_run && changed > 0 {
        match project.ref_storage {
            RefStorage::Inline => write_inline(&project.dir, edits)?,
            RefStorage::ProjectRefs => write_project_refs(session, &graph, edits)?,
        }
    }
    if !args.dry_run && !bumped.is_empty() {
        report_junction_costs(session, &junctions, &keys_before, &bumped);
    }
    let verb = if args.dry_run { "would change" } else { "changed" };
    if !crate::output::quiet() {
        eprintln!("track: {changed} pin(s) {verb}, {} failed", failures.len());
    }
    if !held.is_empty() {
        refused.push(format!(
            "--review strict holds back changes that run code unasked (at interpreter start or at build):\n    {}",
            held.join("\n    ")
        ));
    }
    if !refused.is_empty() {
        for failure in &failures {
            eprintln!("error: {failure}");
        }
        return Err(Failure::trust(format!("pins not written:\n  {}", refused.join("\n  "))));
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(Failure::fetch(format!(
            "{} source(s) could not be tracked:\n  {}",
            failures.len(),
            failures.join("\n  ")
        )))
    }
}

/// Prints what a changed wheel brings, under its track line.
fn print_review(review: &forge_trust::review::Review) {
    println!(
        "  review: {} file(s) added, {} removed, {} changed",
        review.added, review.removed, review.changed
    );
    for concern in &review.concerns {
        let mark = if concern.needs_acceptance() { "!" } else { "·" };
        println!("  {mark} {}", printable_line(&concern.describe()));
    }
}

/// The keys of every element of `junction`'s subproject and of this
/// project that loads (a broken element must not hide the others).
fn project_keys(session: &Session, junction: &str) -> Result<BTreeMap<String, Option<String>>, Failure> {
    let project = &session.project;
    let sub = project.subproject(junction, None)?;
    let mut names: Vec<String> = all_element_names(&sub)
        .into_iter()
        .map(|name| format!("{junction}:{name}"))
        .collect();
    names.extend(all_element_names(project));
    let (loadable, _) = loadable_targets(project, &names);
    let graph = Graph::load(project, &loadable)?;
    let keys = session.cache_keys(&graph)?;
    Ok(graph
        .elements
        .iter()
        .zip(keys.keys)
        .map(|(element, key)| (element.name.clone(), key))
        .collect())
}

/// Says how many elements of each bumped junction's subproject, and of
/// this project, change key with the new pins: what the next build costs.
fn report_junction_costs(
    session: &Session,
    junctions: &[String],
    before: &[Option<BTreeMap<String, Option<String>>>],
    bumped: &[usize],
) {
    let reloaded = match session.reloaded() {
        Ok(reloaded) => reloaded,
        Err(err) => {
            eprintln!("warning: cannot load the project with the new pins: {}", err.message);
            return;
        }
    };
    for &j in bumped {
        let junction = &junctions[j];
        let after = match project_keys(&reloaded, junction) {
            Ok(after) => after,
            Err(err) => {
                eprintln!(
                    "warning: {junction}: the subproject at the new pin does not load: {}",
                    err.message
                );
                continue;
            }
        };
        let Some(before) = &before[j] else {
            println!(
                "{junction}: {} elements of its subproject (the old pin was not staged: nothing to compare with)",
                after.keys().filter(|n| n.starts_with(&format!("{junction}:"))).count()
            );
            continue;
        };
        let inside = |name: &str| name.starts_with(&format!("{junction}:"));
        let count = |keep: &dyn Fn(&str) -> bool| {
            let total = after.keys().filter(|n| keep(n)).count();
            let changed = after
                .iter()
                .filter(|(n, key)| keep(n) && (key.is_none() || before.get(*n) != Some(key)))
                .count();
            (changed, total)
        };
        let (sub_changed, sub_total) = count(&inside);
        let (own_changed, own_total) = count(&|n: &str| !inside(n));
        println!(
            "{junction}: {sub_changed} of {sub_total} elements of its subproject change key, and {own_changed} of \
             {own_total} of this project"
        );
    }
}

/// Tracks `source` from the sources before it (`previous`), staged into a
/// scratch directory, fetching them first where needed.
fn track_from_previous(
    session: &Session,
    ctx: &forge_sources::SourceContext<'_>,
    previous: &[forge_project::Source],
    source: &forge_project::Source,
    runtime: &dyn forge_sources::SourceRuntime,
) -> Result<Option<forge_sources::Tracked>, forge_sources::SourceError> {
    for earlier in previous {
        if let Some(r) = forge_sources::runtime(earlier.kind_id)
            && !r.is_cached(earlier, ctx.cache)
        {
            r.fetch(earlier, ctx)?;
        }
    }
    static SCRATCH: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = SCRATCH.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let scratch = session
        .cache_dir
        .join("tmp")
        .join(format!("track-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&scratch)
        .map_err(|e| forge_sources::SourceError::new(format!("cannot create {}: {e}", scratch.display())))?;
    let result =
        forge_sources::stage_sources(previous, ctx, &scratch).and_then(|()| runtime.track_from(source, ctx, &scratch));
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

/// Edits each file in place: only the `ref` values change.
fn write_inline(dir: &Path, edits: BTreeMap<String, Vec<Edit>>) -> Result<(), Failure> {
    for (file, mut file_edits) in edits {
        let path = dir.join(&file);
        let original =
            std::fs::read_to_string(&path).map_err(|e| Failure::fetch(format!("cannot read {file}: {e}")))?;
        // Later mappings first, so earlier offsets stay valid.
        file_edits.sort_by_key(|e| std::cmp::Reverse(e.mapping_start));
        let mut text = original.clone();
        for edit in &file_edits {
            let fail = |e: forge_yaml::edit::EditError| {
                Failure::fetch(format!(
                    "cannot write the new ref of {} source {}: {e}",
                    edit.element,
                    edit.source_index + 1
                ))
            };
            match &edit.value {
                // Later fields first: each edit leaves earlier offsets alone.
                NewValue::Fields(fields) => {
                    for (key, value) in fields.iter().rev() {
                        text = set_value(&text, &file, edit.mapping_start, key, &NewValue::Scalar(value.clone()))
                            .map_err(fail)?;
                    }
                }
                value => text = set_value(&text, &file, edit.mapping_start, "ref", value).map_err(fail)?,
            }
        }
        write_atomically(&path, &text).map_err(|e| Failure::fetch(format!("cannot write {file}: {e}")))?;
    }
    Ok(())
}

/// Writes refs into `project.refs`, as BuildStream lays it out:
/// `projects: <project>: <element>: [ {ref: ...}, ... ]`.
fn write_project_refs(
    session: &Session,
    graph: &forge_project::Graph,
    edits: BTreeMap<String, Vec<Edit>>,
) -> Result<(), Failure> {
    let project = &session.project;
    let path = project.dir.join("project.refs");
    let mut refs = project.refs.clone();
    for edit in edits.into_values().flatten() {
        let element = graph
            .find(&edit.element)
            .map(|i| &graph.elements[i])
            .expect("tracked elements are loaded");
        let entries = refs.entry(edit.element.clone()).or_default();
        while entries.len() < element.sources.len() {
            entries.push(None);
        }
        entries[edit.source_index] = Some(edit.value);
    }
    let text = forge_project::refs::render(&project.name, &refs);
    write_atomically(&path, &text).map_err(|e| Failure::fetch(format!("cannot write project.refs: {e}")))
}

/// Writes `text` to `path` through a temporary file and a rename.
pub fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let temporary = path.with_extension(format!("forge-tmp-{}", std::process::id()));
    std::fs::write(&temporary, text)?;
    if let Ok(meta) = std::fs::metadata(path) {
        std::fs::set_permissions(&temporary, meta.permissions())?;
    }
    std::fs::rename(&temporary, path)
}
