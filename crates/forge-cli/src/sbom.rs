//! `forge sbom` and `forge provenance`: render the bill of materials the
//! engine makes of an element's closure, and the signed statement of how
//! its artifact was built.

use forge_project::{CacheKeys, Graph};
use forge_sbom::Bom;
use forge_sbom::provenance::Subject;

use crate::cli::{DepsSelection, ProvenanceVerifyArgs, ProvenanceWriteArgs, SbomArgs, SbomFormat};
use crate::exit::Failure;
use crate::session::Session;
use crate::show::select;

/// The largest provenance envelope `verify` reads.
const MAX_ENVELOPE: u64 = 64 << 20;

/// The bill of materials of `target` with the dependencies `deps` selects;
/// every source of it must be pinned.
fn bill(session: &Session, target: &str, deps: DepsSelection) -> Result<(Graph, CacheKeys, Bom), Failure> {
    let (graph, mut selected) = select(&session.project, &[target.to_string()], deps)?;
    selected.retain(|&e| !graph.elements[e].junction);
    let target = graph.targets[0];
    with_target(&mut selected, target);
    let keys = session.cache_keys(&graph)?;
    // A bill of materials lists pins: one without them would say nothing.
    let unpinned = keys.unpinned(&graph, &selected);
    if !unpinned.is_empty() {
        return Err(Failure::usage(format!(
            "{} {} sources without a pin: run `forge track` first",
            unpinned.join(", "),
            if unpinned.len() == 1 { "has" } else { "have" }
        )));
    }
    let bom = bom_of(session, &graph, &keys, &selected, target)?;
    Ok((graph, keys, bom))
}

/// `elements` with `target` in them: a document describes its target,
/// whichever dependencies it lists.
pub fn with_target(elements: &mut Vec<usize>, target: usize) {
    if !elements.contains(&target) {
        elements.push(target);
    }
}

/// The engine's bill of `elements` (which hold `target`), made by this
/// forge at the time `created` gives.
pub fn bom_of(
    session: &Session,
    graph: &Graph,
    keys: &CacheKeys,
    elements: &[usize],
    target: usize,
) -> Result<Bom, Failure> {
    Ok(forge_engine::sbom::bill_of_materials(
        graph,
        keys,
        elements,
        target,
        (&session.file_hashes, &session.sources),
        forge_engine::sbom::Authorship {
            created: created(graph.elements[target].environment.get("SOURCE_DATE_EPOCH"))?,
            tool: concat!("forge-", env!("CARGO_PKG_VERSION")),
        },
    ))
}

/// Writes `document` as pretty JSON to `output`, else standard output.
pub fn write_json(document: &serde_json::Value, output: Option<&std::path::Path>) -> Result<(), Failure> {
    let mut text = serde_json::to_string_pretty(document).map_err(|e| Failure::internal(e.to_string()))?;
    text.push('\n');
    match output {
        None => {
            print!("{text}");
            Ok(())
        }
        // A path the user gave: a usage error when it cannot be written.
        Some(path) => crate::track::write_atomically(path, &text)
            .map_err(|e| Failure::usage(format!("cannot write {}: {e}", path.display()))),
    }
}

/// Runs `forge sbom`.
pub fn run(session: &Session, args: &SbomArgs) -> Result<(), Failure> {
    let (_, _, bom) = bill(session, &args.target, args.deps)?;
    // Packages name their supplier inside their files.
    let unknown = bom
        .elements
        .iter()
        .flat_map(|e| &e.sources)
        .filter(|s| s.purl.is_some() && s.supplier.is_none())
        .count();
    if unknown > 0 {
        eprintln!(
            "note: the supplier of {unknown} package{} is not known: {} not in the source cache (`forge fetch --deps {}` brings them)",
            if unknown == 1 { "" } else { "s" },
            if unknown == 1 { "it is" } else { "they are" },
            match args.deps {
                DepsSelection::All => "all",
                _ => "run",
            }
        );
    }
    let document = match args.format {
        SbomFormat::Spdx => forge_sbom::spdx_2_3(&bom),
        SbomFormat::Cyclonedx => forge_sbom::cyclonedx_1_6(&bom),
    };
    write_json(&document, args.output.as_deref())
}

/// Runs `forge provenance write`: the statement of the target's artifact
/// in the local cache, built from the pins of its whole build closure.
pub fn provenance(session: &Session, args: &ProvenanceWriteArgs) -> Result<(), Failure> {
    let (graph, keys, bom) = bill(session, &args.target, DepsSelection::All)?;
    let target = graph.targets[0];
    let element = &graph.elements[target];
    let cas = session.cas();
    let record = keys.keys[target]
        .as_deref()
        .and_then(|key| cas.get_artifact(&element.project.name, &element.normal_name(), key))
        .filter(|record| record.success)
        .ok_or_else(|| {
            Failure::usage(format!(
                "{} is not built in this cache: run `forge build {}` first (provenance names the artifact it describes)",
                element.name, element.name
            ))
        })?;
    let name = format!("{}/{}", element.project.name, element.name);
    let mut subjects = vec![Subject::artifact(&name, &record.manifest, record.manifest_size)];
    // An image layout is also named by its image manifests' digests.
    for (reference, sha256) in forge_engine::sbom::oci_manifests(&cas, &record) {
        let name = format!("{name}:{}", reference.as_deref().unwrap_or("latest"));
        subjects.push(Subject::oci_manifest(&name, &sha256));
    }
    let statement = forge_sbom::provenance::statement(&bom, &subjects, env!("CARGO_PKG_VERSION"));
    let document = match &args.key {
        None => statement,
        Some(key) => forge_sbom::provenance::sign(&statement, key).map_err(Failure::usage)?,
    };
    write_json(&document, args.output.as_deref())
}

/// Runs `forge provenance verify`: the envelope's signature, then what it
/// says.
pub fn verify(args: &ProvenanceVerifyArgs) -> Result<(), Failure> {
    use std::io::Read as _;
    let file = &args.file;
    let mut text = Vec::new();
    std::fs::File::open(file)
        .and_then(|f| f.take(MAX_ENVELOPE + 1).read_to_end(&mut text))
        .map_err(|e| Failure::usage(format!("cannot read {}: {e}", file.display())))?;
    if text.len() as u64 > MAX_ENVELOPE {
        return Err(Failure::usage(format!(
            "{} holds more than {MAX_ENVELOPE} bytes: not a provenance envelope",
            file.display()
        )));
    }
    let envelope: serde_json::Value =
        serde_json::from_slice(&text).map_err(|e| Failure::usage(format!("{}: not JSON: {e}", file.display())))?;
    let statement = forge_sbom::provenance::verify(&envelope, &args.allowed_signers, &args.identity)
        .map_err(|e| Failure::trust(format!("{}: {e}", file.display())))?;
    let subject = &statement["subject"][0];
    let predicate = &statement["predicate"];
    let text = |v: &serde_json::Value| crate::exit::printable(v.as_str().unwrap_or("?"));
    println!("signed by {}", crate::exit::printable(&args.identity));
    println!(
        "subject: {} sha256:{}",
        text(&subject["name"]),
        text(&subject["digest"]["sha256"])
    );
    println!(
        "built by {} from {} pinned sources",
        text(&predicate["runDetails"]["builder"]["id"]),
        predicate["buildDefinition"]["resolvedDependencies"]
            .as_array()
            .map_or(0, Vec::len)
    );
    if let Some(dir) = &args.checkout {
        let manifest =
            forge_cas::describe_dir(dir).map_err(|e| Failure::usage(format!("cannot read {}: {e}", dir.display())))?;
        let (root, _) = forge_cas::reapi::encode_tree(&manifest);
        let named = subject["digest"]["sha256"].as_str().unwrap_or_default();
        if root.hash != named {
            return Err(Failure::trust(format!(
                "{} is not the artifact the statement names: its tree is sha256:{} ({} entries), the subject sha256:{}",
                dir.display(),
                root.hash,
                manifest.entries.len(),
                crate::exit::printable(named)
            )));
        }
        println!("{} is that artifact, file for file", dir.display());
    }
    Ok(())
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
