//! `forge lock FILE`: resolve what a project asks for into pinned
//! elements, with the resolver of `forge_python::resolve` over the index.

use forge_python::resolve::resolve;
use forge_sources::Progress as _;
use forge_sources::pypi_index::IndexReleases;

use crate::cli::LockArgs;
use crate::exit::Failure;
use crate::import::{
    Destination, Imported, Output, indexes_for, marker_env, pip_element, project_min_release_age, pypi_config,
    python_target, write_elements,
};
use crate::session::Session;

/// Runs `forge lock`.
pub fn run(session: &Session, args: &LockArgs) -> Result<(), Failure> {
    let project = &session.project;
    let shown = args.file.display().to_string();
    let intent = forge_python::intent::read(&args.file).map_err(Failure::usage)?;
    let target = python_target(project)?.ok_or_else(|| {
        Failure::usage(format!(
            "{shown}: forge lock resolves for the project's Python target, and project.conf declares none; add to it:\n  sources:\n    pypi:\n      config:\n        target:\n          python: '3.11'\n          glibc: '2.36'\n          arch: x86_64"
        ))
    })?;
    let indexes = indexes_for(
        project,
        args.index.as_deref(),
        intent.index.as_deref(),
        &intent.extra_indexes,
    )?;
    let file_name = args
        .file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let destination = Destination::new(project, &file_name, args.into.clone())?;
    let downloader = session.downloader()?;
    let progress = crate::progress::BarProgress::new();
    let ctx = session.source_context(&downloader, &progress);
    let min_age = project_min_release_age(project)?;
    let releases = IndexReleases::new(&ctx, &indexes, Some(&target), min_age);
    let roots: Vec<_> = intent.requirements.iter().map(|(r, _)| r.clone()).collect();
    let started = std::time::Instant::now();
    let resolved = resolve(&roots, &intent.constraints, &marker_env(Some(&target)), &releases).map_err(|e| {
        let held_back = releases.held_back();
        let note = if held_back.is_empty() {
            String::new()
        } else {
            format!("\n{}", held_back_note(&held_back))
        };
        Failure::fetch(format!("{shown}: {e}{note}"))
    })?;
    let mut written = Vec::new();
    let mut refused = Vec::new();
    for package in &resolved {
        match forge_sources::pypi::typo_squat_gate(&package.name, |key| pypi_config(project, key)) {
            Ok(Some(warning)) => progress.warn(&warning),
            Ok(None) => {}
            Err(refusal) => refused.push(refusal),
        }
        let file = releases
            .file(&package.name, &package.version)
            .ok_or_else(|| Failure::internal(format!("{} {} has no file", package.name, package.version)))?;
        let sha256 = releases
            .sha256_of(&file)
            .ok_or_else(|| Failure::internal(format!("{} was not downloaded", file.filename)))?;
        let version = package.version.to_string();
        written.push(Imported {
            name: package.name.clone(),
            element: pip_element(
                &releases.index_of(&package.name).unwrap_or_else(|| indexes[0].clone()),
                &package.name,
                &format!("=={version}"),
                &version,
                &file.filename,
                &sha256,
            ),
            requires: package.requires.iter().cloned().collect(),
        });
    }
    if !refused.is_empty() {
        return Err(Failure::trust(format!(
            "{shown}: nothing was written:\n  {}",
            refused.join("\n  ")
        )));
    }
    eprintln!(
        "lock: {} packages resolved for Python {}.{} from {} ({} index pages) in {:.1} s",
        resolved.len(),
        target.version.0,
        target.version.1,
        crate::exit::printable(&indexes.join(", ")),
        releases.pages_read(),
        started.elapsed().as_secs_f64()
    );
    let held_back = releases.held_back();
    if !held_back.is_empty() {
        progress.note(&held_back_note(&held_back));
    }
    let output = Output {
        file_name: &file_name,
        verb: "lock",
        app: args.app.as_deref().zip(args.base.as_deref()),
        prune: args.prune,
    };
    write_elements(project, &destination, &output, &written, &[], &progress)
}

fn held_back_note(files: &[String]) -> String {
    format!(
        "min-release-age: not considered yet (too new, or the index gives no upload time): {}",
        files.join(", ")
    )
}
