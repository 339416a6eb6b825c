//! The bill of materials of an element closure: each element, the
//! dependencies between them, and what each is built from as its source
//! kind describes it (BuildStream's source info), with package URLs for
//! PyPI releases and Debian packages.

use forge_project::{CacheKeys, Graph, KeyContext, SourceInfo, filehash::FileHashCache};
use forge_sbom::{Bom, BomElement, BomSource, deb_purl, pypi_purl};

/// Who makes a bill of materials, and when it says it was made.
pub struct Authorship<'a> {
    /// Unix seconds.
    pub created: i64,
    /// The tool (`forge-0.1.0`).
    pub tool: &'a str,
}

/// The bill of materials of `selected` (a closure of `graph`, dependencies
/// first), describing `target`; suppliers are read from the files `cache`
/// holds.
pub fn bill_of_materials(
    graph: &Graph,
    keys: &CacheKeys,
    selected: &[usize],
    target: usize,
    (file_hashes, cache): (&FileHashCache, &forge_sources::SourceCache),
    made: Authorship<'_>,
) -> Bom {
    // Each graph element's place in the bill, if it is in it.
    let mut places = vec![None; graph.elements.len()];
    for (at, &e) in selected.iter().enumerate() {
        places[e] = Some(at);
    }
    let position = |e: usize| places[e];
    let elements = selected
        .iter()
        .map(|&e| {
            let element = &graph.elements[e];
            let mut runtime = Vec::new();
            let mut build = Vec::new();
            for edge in &graph.edges[e] {
                match position(edge.element) {
                    Some(at) if edge.runtime => runtime.push(at),
                    Some(at) if edge.build => build.push(at),
                    _ => {}
                }
            }
            let context = KeyContext {
                project_dir: &element.project.dir,
                file_hashes,
            };
            // These kinds put their sources' files in the artifact as they
            // are; the others build from them.
            let installed = matches!(element.kind_id, "pip" | "deb" | "import");
            let sources = element
                .sources
                .iter()
                .enumerate()
                .filter_map(|(at, source)| {
                    element
                        .project
                        .kinds
                        .source(&source.kind)
                        .map(|kind| (at, source, kind))
                })
                .flat_map(|(at, source, kind)| {
                    // What the project says of the source first, then
                    // what its package says.
                    let facts = forge_sources::runtime(source.kind_id)
                        .and_then(|r| r.package_facts(source, cache))
                        .unwrap_or_default();
                    let supplier = source.provenance("supplier").map(str::to_string).or(facts.supplier);
                    let license = facts.license;
                    let homepage = source.provenance("homepage").map(str::to_string);
                    kind.info(source, &element.project, &context)
                        .into_iter()
                        .map(move |info| BomSource {
                            supplier: supplier.clone(),
                            homepage: homepage.clone(),
                            license: license.clone(),
                            source: at,
                            installed,
                            ..bom_source(source.kind_id, info)
                        })
                })
                .collect();
            BomElement {
                name: element.name.clone(),
                kind: element.kind.clone(),
                key: keys.keys[e].clone(),
                runtime,
                build,
                sources,
            }
        })
        .collect();
    Bom {
        project: graph.elements[target].project.name.clone(),
        target: position(target).unwrap_or(0),
        created: made.created,
        tool: made.tool.to_string(),
        elements,
    }
}

/// The image manifests of an artifact that is an OCI image layout (an
/// `index.json` beside an `oci-layout` at its root): (reference, SHA-256).
pub fn oci_manifests(cas: &forge_cas::Cas, record: &forge_cas::ArtifactRecord) -> Vec<(Option<String>, String)> {
    /// An index larger than this is not one forge reads.
    const MAX_INDEX: u64 = 16 << 20;
    let Ok(tree) = cas.get_manifest(&record.manifest) else {
        return Vec::new();
    };
    let file = |path: &str| {
        tree.entries.iter().find_map(|entry| match &entry.kind {
            forge_cas::EntryKind::File { digest, size, .. } if entry.path == path => Some((digest.clone(), *size)),
            _ => None,
        })
    };
    match (file("oci-layout"), file("index.json")) {
        (Some(_), Some((digest, size))) if size <= MAX_INDEX => cas
            .get_blob(&digest)
            .map(|bytes| forge_sbom::provenance::oci_manifests(&bytes))
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

fn extra<'a>(info: &'a SourceInfo, key: &str) -> Option<&'a str> {
    info.extra.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// One source's info as the bill lists it.
fn bom_source(kind_id: &str, info: SourceInfo) -> BomSource {
    let base = info.url.trim_end_matches('/').rsplit('/').next().unwrap_or(&info.url);
    let name = extra(&info, "name")
        .or_else(|| extra(&info, "package"))
        .or_else(|| extra(&info, "crate-name"))
        .map(str::to_string)
        .unwrap_or_else(|| base.strip_suffix(".git").unwrap_or(base).to_string());
    let purl = match (kind_id, &info.version_guess) {
        ("pypi", Some(version)) => Some(pypi_purl(&name, version)),
        ("deb", Some(version)) => {
            let vendor = if info.url.contains("ubuntu") {
                "ubuntu"
            } else {
                "debian"
            };
            Some(deb_purl(
                vendor,
                &name,
                version,
                extra(&info, "arch"),
                extra(&info, "suite"),
            ))
        }
        _ => None,
    };
    BomSource {
        kind: info.kind.clone(),
        name,
        // A version a person would write, else the pin itself.
        version: Some(info.version_guess.clone().unwrap_or_else(|| info.version.clone())),
        url: (info.medium != "local").then(|| info.url.clone()),
        medium: info.medium.to_string(),
        sha256: (info.version_type == "sha256").then(|| info.version.clone()),
        commit: (info.version_type == "commit").then(|| info.version.clone()),
        purl,
        supplier: None,
        homepage: None,
        license: None,
        source: 0,
        installed: false,
    }
}
