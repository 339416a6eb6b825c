//! `forge audit`: renders what the engine finds when the closure's pins
//! meet the project's advisory snapshot.

use clap::ValueEnum;
use forge_engine::audit::{Audited, DEFAULT_SNAPSHOT, audit, pinned_packages, read_snapshot};
use forge_project::error::printable_line;
use forge_project::graph::all_element_names;
use forge_project::{Graph, Project};
use forge_sources::Withdrawn;
use forge_trust::{Ecosystem, Severity, Snapshot};
use serde_json::{Value as Json, json};

use crate::cli::{AuditArgs, AuditFormat, FailOn};
use crate::exit::Failure;
use crate::fetch::fetch_sources;
use crate::session::Session;
use crate::show::select;

/// The snapshot elements a command uses: those named, else the gate's
/// `advisories.bst` when the project has it, else (`any`) every element
/// of kind `advisories`. `None`: there is none.
pub fn snapshot_elements(
    project: &std::sync::Arc<Project>,
    named: &[String],
    any: bool,
) -> Result<Option<Graph>, Failure> {
    let names: Vec<String> = if !named.is_empty() {
        named.to_vec()
    } else if project.element_path.join(DEFAULT_SNAPSHOT).is_file() {
        vec![DEFAULT_SNAPSHOT.to_string()]
    } else if any {
        let all = Graph::load(project, &all_element_names(project))?;
        let found: Vec<String> = all
            .elements
            .iter()
            .filter(|e| e.kind_id == "advisories" && e.project.prefix.is_empty())
            .map(|e| e.name.clone())
            .collect();
        if found.is_empty() {
            return Ok(None);
        }
        found
    } else {
        return Ok(None);
    };
    Ok(Some(Graph::load(project, &names)?))
}

/// Stages and reads the snapshot of `graph`'s targets, fetching what of
/// it the source cache lacks.
pub fn load_snapshot(session: &Session, graph: &Graph) -> Result<Snapshot, Failure> {
    fetch_sources(session, graph, &graph.targets, false)?;
    let downloader = session.downloader()?;
    let progress = crate::progress::BarProgress::new();
    let ctx = session.source_context(&downloader, &progress);
    let keys = session.cache_keys(graph)?;
    let store = session.cache_dir.join("advisories");
    read_snapshot(graph, &keys, &graph.targets, &ctx, &session.cas(), &store).map_err(Failure::fetch)
}

/// Runs `forge audit`.
pub fn run(session: &Session, args: &AuditArgs) -> Result<(), Failure> {
    let project = &session.project;
    let Some(snapshot_graph) = snapshot_elements(project, &args.advisories, true)? else {
        return Err(Failure::usage(format!(
            "this project has no advisory snapshot: add an element of kind `advisories` ({DEFAULT_SNAPSHOT} also gates build and track; see docs/auditing.md), or name one with --advisories"
        )));
    };
    let snapshot = load_snapshot(session, &snapshot_graph)?;
    let (graph, selected) = select(project, &args.targets, args.deps)?;
    let selected: Vec<usize> = selected
        .into_iter()
        .filter(|&e| !graph.elements[e].junction && graph.elements[e].kind_id != "advisories")
        .collect();
    let downloader = session.downloader()?;
    let progress = crate::progress::BarProgress::new();
    let ctx = session.source_context(&downloader, &progress);
    let (mut pinned, mut problems) = pinned_packages(&graph, &selected, &ctx);
    if !problems.is_empty() {
        // A .deb names its source package inside: fetch those, then read again.
        let mut missing: Vec<usize> = problems.iter().map(|(e, _)| *e).collect();
        missing.dedup();
        fetch_sources(session, &graph, &missing, false)?;
        let (again, still) = pinned_packages(&graph, &missing, &ctx);
        pinned.retain(|p| !missing.contains(&p.element));
        pinned.extend(again);
        problems = still;
    }
    let mut not_audited: Vec<String> = problems.into_iter().map(|(_, message)| message).collect();
    let mut audited = audit(&snapshot, pinned);
    if args.yanked {
        not_audited.extend(forge_engine::audit::ask_upstream(&graph, &mut audited, &ctx));
    }
    audited.sort_by(|a, b| {
        let key = |x: &Audited| {
            (
                x.pinned.package.ecosystem != Ecosystem::PyPI,
                x.pinned.package.name.clone(),
                x.pinned.package.version.clone(),
                graph.elements[x.pinned.element].name.clone(),
            )
        };
        key(a).cmp(&key(b))
    });
    let threshold = match args.fail_on {
        FailOn::Low => Some(Severity::Low),
        FailOn::Medium => Some(Severity::Medium),
        FailOn::High => Some(Severity::High),
        FailOn::Critical => Some(Severity::Critical),
        FailOn::Malware => Some(Severity::Malware),
        FailOn::None => None,
    };
    let snapshot_names: Vec<&str> = snapshot_graph
        .targets
        .iter()
        .map(|&t| snapshot_graph.elements[t].name.as_str())
        .collect();
    match args.format {
        AuditFormat::Json => print_json(&graph, &snapshot, &snapshot_names, &audited, &not_audited, args.yanked)?,
        AuditFormat::Cyclonedx | AuditFormat::Spdx => print_bill(session, &graph, &selected, &audited, args.format)?,
        AuditFormat::Table => {
            print_table(&graph, &audited);
            print_withdrawn(&graph, &audited);
        }
    }
    for problem in &not_audited {
        eprintln!("warning: not audited: {}", printable_line(problem));
    }
    eprintln!("{}", summary(&snapshot, &snapshot_names, &audited, not_audited.len()));
    let failing = audited
        .iter()
        .flat_map(|a| &a.findings)
        .filter(|f| threshold.is_some_and(|t| f.severity.fails(t)))
        .count();
    let withdrawn = audited.iter().filter(|a| a.withdrawn.is_some()).count();
    if failing > 0 {
        return Err(Failure::trust(format!(
            "{failing} finding{} at or above --fail-on {}",
            if failing == 1 { "" } else { "s" },
            args.fail_on.to_possible_value().expect("no skipped values").get_name()
        )));
    }
    if withdrawn > 0 && threshold.is_some() {
        return Err(Failure::trust(format!(
            "{withdrawn} pin{} withdrawn upstream: track {} to another release",
            if withdrawn == 1 { "" } else { "s" },
            if withdrawn == 1 { "it" } else { "them" }
        )));
    }
    Ok(())
}

/// The bill of the closure (CycloneDX or SPDX) with each finding as a
/// vulnerability of the components it affects.
fn print_bill(
    session: &Session,
    graph: &Graph,
    selected: &[usize],
    audited: &[Audited],
    format: AuditFormat,
) -> Result<(), Failure> {
    let [target] = graph.targets[..] else {
        return Err(Failure::usage(format!(
            "--format {} describes one element: name one target",
            format.to_possible_value().expect("no skipped values").get_name()
        )));
    };
    let keys = session.cache_keys(graph)?;
    let mut elements = selected.to_vec();
    crate::sbom::with_target(&mut elements, target);
    let bom = crate::sbom::bom_of(session, graph, &keys, &elements, target)?;
    // One vulnerability per finding id, with every pin it affects.
    let mut vulnerabilities: Vec<forge_sbom::Vulnerability> = Vec::new();
    for a in audited {
        let Some(at) = elements.iter().position(|&e| e == a.pinned.element) else {
            continue;
        };
        for f in &a.findings {
            let affected = (at, a.pinned.source, a.pinned.package.version.clone());
            if let Some(known) = vulnerabilities.iter_mut().find(|v| v.id == f.id) {
                known.affects.push(affected);
                continue;
            }
            vulnerabilities.push(forge_sbom::Vulnerability {
                id: f.id.clone(),
                aliases: f.aliases.clone(),
                description: f.summary.clone(),
                severity: match f.severity {
                    Severity::Malware => "critical".to_string(),
                    other => other.as_str().to_string(),
                },
                score: f.score,
                fixed: f.fixed.clone(),
                affects: vec![affected],
            });
        }
    }
    let document = match format {
        AuditFormat::Spdx => forge_sbom::spdx_2_3_with(&bom, &vulnerabilities),
        _ => forge_sbom::cyclonedx_1_6_with(&bom, &vulnerabilities),
    };
    crate::sbom::write_json(&document, None)
}

/// The pins upstream withdrew, under the findings.
fn print_withdrawn(graph: &Graph, audited: &[Audited]) {
    for a in audited {
        if let Some(withdrawn) = &a.withdrawn {
            println!(
                "withdrawn: {} {} ({}, source {}): {}",
                printable_line(&a.pinned.package.name),
                printable_line(&a.pinned.package.version),
                printable_line(&graph.elements[a.pinned.element].name),
                a.pinned.source + 1,
                printable_line(&withdrawn.to_string())
            );
        }
    }
}

fn print_table(graph: &Graph, audited: &[Audited]) {
    let rows: Vec<[String; 6]> = audited
        .iter()
        .flat_map(|a| {
            a.findings.iter().map(move |f| {
                [
                    printable_line(&a.pinned.package.name),
                    printable_line(&a.pinned.package.version),
                    printable_line(&f.id),
                    f.severity.as_str().to_string(),
                    printable_line(&f.fixed.join(", ")),
                    printable_line(&graph.elements[a.pinned.element].name),
                ]
            })
        })
        .collect();
    if rows.is_empty() {
        return;
    }
    let header = ["PACKAGE", "VERSION", "ID", "SEVERITY", "FIXED IN", "ELEMENT"].map(str::to_string);
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |row: &[String; 6]| {
        let mut out = String::new();
        for (i, (cell, w)) in row.iter().zip(widths).enumerate() {
            if i + 1 == row.len() {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}  "));
            }
        }
        out
    };
    println!("{}", line(&header));
    let findings = audited.iter().flat_map(|a| a.findings.iter());
    let indent = widths[0] + widths[1] + 4;
    for (row, finding) in rows.iter().zip(findings) {
        println!("{}", line(row));
        if !finding.aliases.is_empty() {
            println!("{:indent$}aliases: {}", "", printable_line(&finding.aliases.join(", ")));
        }
        if !finding.summary.is_empty() {
            println!("{:indent$}{}", "", printable_line(&finding.summary));
        }
    }
}

fn print_json(
    graph: &Graph,
    snapshot: &Snapshot,
    names: &[&str],
    audited: &[Audited],
    not_audited: &[String],
    asked_upstream: bool,
) -> Result<(), Failure> {
    let dependencies: Vec<Json> = audited
        .iter()
        .map(|a| {
            let mut entry = json!({
                "name": a.pinned.package.name,
                "version": a.pinned.package.version,
                "ecosystem": a.pinned.package.ecosystem.to_string(),
                "element": graph.elements[a.pinned.element].name,
                "source": a.pinned.source + 1,
                "vulns": a.findings.iter().map(|f| json!({
                    "id": f.id,
                    "aliases": f.aliases,
                    "fix_versions": f.fixed,
                    "description": f.summary,
                    "severity": f.severity.as_str(),
                    "cvss": f.score,
                })).collect::<Vec<_>>(),
            });
            if asked_upstream {
                entry["withdrawn"] = match &a.withdrawn {
                    None => Json::Null,
                    Some(Withdrawn::Yanked(reason)) => json!({"status": "yanked", "reason": reason}),
                    Some(Withdrawn::Unlisted) => json!({"status": "unlisted", "reason": null}),
                };
            }
            entry
        })
        .collect();
    let report = json!({
        "snapshot": {
            "elements": names,
            "records": snapshot.len(),
            "withdrawn": snapshot.withdrawn(),
            "newest": snapshot.newest(),
        },
        "dependencies": dependencies,
        "not_audited": not_audited,
    });
    let text = serde_json::to_string_pretty(&report).map_err(|e| Failure::internal(e.to_string()))?;
    println!("{text}");
    Ok(())
}

fn summary(snapshot: &Snapshot, names: &[&str], audited: &[Audited], not_audited: usize) -> String {
    let pypi = audited
        .iter()
        .filter(|a| a.pinned.package.ecosystem == Ecosystem::PyPI)
        .count();
    let debian = audited.len() - pypi;
    let mut by_severity: std::collections::BTreeMap<Severity, usize> = Default::default();
    for finding in audited.iter().flat_map(|a| &a.findings) {
        *by_severity.entry(finding.severity).or_default() += 1;
    }
    let total: usize = by_severity.values().sum();
    let counts: Vec<String> = by_severity
        .iter()
        .rev()
        .map(|(s, n)| format!("{n} {}", s.as_str()))
        .collect();
    let mut text = format!(
        "audit: {} package{} ({pypi} PyPI, {debian} Debian) against {} ({} records{}): {}",
        audited.len(),
        if audited.len() == 1 { "" } else { "s" },
        printable_line(&names.join(", ")),
        snapshot.len(),
        snapshot
            .newest()
            .map(|n| format!(", newest {}", printable_line(n)))
            .unwrap_or_default(),
        match total {
            0 => "no findings".to_string(),
            1 => format!("1 finding ({})", counts.join(", ")),
            n => format!("{n} findings ({})", counts.join(", ")),
        }
    );
    let uncovered: Vec<&str> = [
        (pypi > 0 && !snapshot.covers(Ecosystem::PyPI)).then_some("PyPI"),
        (debian > 0 && !snapshot.covers(Ecosystem::Debian(None))).then_some("Debian"),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !uncovered.is_empty() {
        text.push_str(&format!(
            "\nnote: the snapshot has no {} records: those packages were checked against nothing",
            uncovered.join(" or ")
        ));
    }
    let withdrawn = audited.iter().filter(|a| a.withdrawn.is_some()).count();
    if withdrawn > 0 {
        text.push_str(&format!(
            "\n{withdrawn} pin{} withdrawn upstream (yanked or unlisted)",
            if withdrawn == 1 { "" } else { "s" }
        ));
    }
    if not_audited > 0 {
        text.push_str(&format!(
            "\nnote: {not_audited} pins could not be read (warnings above)"
        ));
    }
    text
}
