//! `forge sbom`: renders the bill of materials the engine makes of an
//! element's closure.

use crate::cli::{SbomArgs, SbomFormat};
use crate::exit::Failure;
use crate::session::Session;
use crate::show::select;

/// Runs `forge sbom`.
pub fn run(session: &Session, args: &SbomArgs) -> Result<(), Failure> {
    let (graph, mut selected) = select(&session.project, std::slice::from_ref(&args.target), args.deps)?;
    selected.retain(|&e| !graph.elements[e].junction);
    let target = graph.targets[0];
    // The document describes the target, whichever dependencies it lists.
    if !selected.contains(&target) {
        selected.push(target);
    }
    let keys = session.cache_keys(&graph)?;
    // A bill of materials lists pins: one without them would say nothing.
    let unpinned: Vec<&str> = selected
        .iter()
        .filter(|&&e| !keys.sources_resolved[e])
        .map(|&e| graph.elements[e].name.as_str())
        .collect();
    if !unpinned.is_empty() {
        return Err(Failure::usage(format!(
            "{} {} sources without a pin: run `forge track` first",
            unpinned.join(", "),
            if unpinned.len() == 1 { "has" } else { "have" }
        )));
    }
    let bom = forge_engine::sbom::bill_of_materials(
        &graph,
        &keys,
        &selected,
        target,
        (&session.file_hashes, &session.sources),
        forge_engine::sbom::Authorship {
            created: created(graph.elements[target].environment.get("SOURCE_DATE_EPOCH"))?,
            tool: concat!("forge-", env!("CARGO_PKG_VERSION")),
        },
    );
    let document = match args.format {
        SbomFormat::Spdx => forge_sbom::spdx_2_3(&bom),
        SbomFormat::Cyclonedx => forge_sbom::cyclonedx_1_6(&bom),
    };
    let mut text = serde_json::to_string_pretty(&document).map_err(|e| Failure::internal(e.to_string()))?;
    text.push('\n');
    match &args.output {
        None => {
            print!("{text}");
            Ok(())
        }
        Some(path) => crate::track::write_atomically(path, &text)
            .map_err(|e| Failure::internal(format!("cannot write {}: {e}", path.display()))),
    }
}

/// When the document says it was made: `SOURCE_DATE_EPOCH` as forge is
/// run, else as the target's environment sets it (BuildStream's default
/// is 1321009871), so the same pins give the same document.
fn created(target_epoch: Option<&String>) -> Result<i64, Failure> {
    let (value, from) = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(value) => (value, "the environment's SOURCE_DATE_EPOCH"),
        Err(_) => match target_epoch {
            Some(value) => (value.clone(), "the target's SOURCE_DATE_EPOCH"),
            None => return Ok(0),
        },
    };
    value
        .trim()
        .parse()
        .map_err(|_| Failure::usage(format!("{from} is '{value}', not a Unix time in seconds")))
}
