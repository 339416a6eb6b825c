//! `forge diff`: the staged sources of an element at an earlier pin (the
//! element file as committed at `--from`, default HEAD) against its pin
//! now, as a unified diff a person can read before trusting the change.

use std::path::Path;

use forge_project::keys::node_to_json;
use forge_project::project::RefStorage;
use forge_project::{Graph, Source};

use crate::cli::{DepsSelection, DiffArgs};
use crate::exit::Failure;
use crate::fetch::describe;
use crate::progress::BarProgress;
use crate::session::Session;
use crate::show::select;

/// Runs `forge diff`.
pub fn run(session: &Session, args: &DiffArgs) -> Result<(), Failure> {
    let project = &session.project;
    if project.ref_storage == RefStorage::ProjectRefs {
        return Err(Failure::usage(
            "forge diff reads pins from element files; this project keeps them in project.refs",
        ));
    }
    let (graph, _) = select(project, std::slice::from_ref(&args.element), DepsSelection::None)?;
    let element = &graph.elements[graph.targets[0]];
    let old_sources = sources_at(&graph, graph.targets[0], &args.from)?;
    let indices: Vec<usize> = match args.source {
        Some(n) if n == 0 || n > element.sources.len() => {
            return Err(Failure::usage(format!(
                "{} has {} source(s); --source counts from 1",
                element.name,
                element.sources.len()
            )));
        }
        Some(n) => vec![n - 1],
        None => (0..element.sources.len()).collect(),
    };
    let downloader = session.downloader()?;
    let progress = BarProgress::new();
    let ctx = session.source_context(&downloader, &progress);
    let ctx = ctx.for_project(&element.project);
    let cas = session.cas();
    let mut shown = 0;
    for i in indices {
        let new = &element.sources[i];
        let Some(runtime) = forge_sources::runtime(new.kind_id) else {
            continue;
        };
        let old_ref = old_sources
            .get(i)
            .and_then(|s| s.as_map())
            .and_then(|m| m.get("ref"))
            .cloned();
        if old_ref.as_ref().map(node_to_json) == new.get("ref").map(node_to_json) {
            if args.source.is_some() {
                eprintln!("{}: the pin is the same at {}", describe(&element.name, new), args.from);
            }
            continue;
        }
        let mut old = new.clone();
        if let Some(config) = old.config.as_map_mut() {
            match old_ref {
                Some(pin) => config.insert_str_key("ref", pin),
                None => {
                    config.remove("ref");
                }
            }
        }
        let stage = |source: &Source, label: &str| -> Result<Option<std::path::PathBuf>, Failure> {
            if source.get("ref").is_none() {
                return Ok(None);
            }
            if !runtime.is_cached(source, ctx.cache) {
                runtime
                    .fetch(source, &ctx)
                    .map_err(|e| Failure::fetch(format!("{}: {e}", describe(&element.name, source))))?;
            }
            let dir = cas
                .temp_dir(label)
                .map_err(|e| Failure::internal(format!("cannot make a directory to stage into: {e}")))?;
            runtime
                .stage(source, &ctx, &dir)
                .map_err(|e| Failure::fetch(format!("{}: {e}", describe(&element.name, source))))?;
            unpack_wheels(&dir)?;
            Ok(Some(dir))
        };
        let (old_dir, new_dir) = (stage(&old, "diff-old")?, stage(new, "diff-new")?);
        let diff = forge_trust::review::tree_diff(old_dir.as_deref(), new_dir.as_deref());
        for dir in [&old_dir, &new_dir].into_iter().flatten() {
            let _ = std::fs::remove_dir_all(dir);
        }
        let diff = diff.map_err(|e| Failure::internal(format!("cannot compare the staged sources: {e}")))?;
        println!(
            "# {} — at {} → now",
            describe(&element.name, new),
            forge_project::error::printable_line(&args.from)
        );
        print!("{}", forge_project::error::printable(&diff));
        shown += 1;
    }
    if shown == 0 {
        eprintln!(
            "diff: {}: no pin differs from {}",
            element.name,
            forge_project::error::printable_line(&args.from)
        );
    }
    Ok(())
}

/// The sources of `element` as its file reads at git revision `from`.
fn sources_at(graph: &Graph, element: usize, from: &str) -> Result<Vec<forge_yaml::Node>, Failure> {
    let element = &graph.elements[element];
    let file = Path::new(&*element.file);
    let dir = &element.project.dir;
    let relative = file.strip_prefix(dir).unwrap_or(file);
    let output = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .arg("show")
        .arg(format!("{from}:./{}", relative.display()))
        .output()
        .map_err(|e| Failure::usage(format!("forge diff needs git to read the element at {from}: {e}")))?;
    if !output.status.success() {
        return Err(Failure::usage(format!(
            "cannot read {} at {from}: {}",
            relative.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let node = forge_yaml::parse_str(&format!("{}@{from}", relative.display()), &text)
        .map_err(|e| Failure::usage(e.to_string()))?;
    Ok(node
        .as_map()
        .and_then(|m| m.get("sources"))
        .and_then(|s| s.as_list())
        .map(|l| l.to_vec())
        .unwrap_or_default())
}

/// A staged wheel is compared by its contents: each `*.whl` at the top
/// of `dir` is unpacked next to it, into a directory of its name.
fn unpack_wheels(dir: &Path) -> Result<(), Failure> {
    let entries = std::fs::read_dir(dir).map_err(|e| Failure::internal(e.to_string()))?;
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".whl"))
        else {
            continue;
        };
        // The version is in the name: one name for both sides.
        let target = dir.join("wheel");
        forge_sources::extract::extract_zip(&path, &target)
            .map_err(|e| Failure::fetch(format!("cannot unpack {name}.whl: {e}")))?;
        std::fs::remove_file(&path).map_err(|e| Failure::internal(e.to_string()))?;
    }
    Ok(())
}
