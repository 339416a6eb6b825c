//! `forge show`: elements with their state, keys and resolved configuration.

use forge_project::graph::all_element_names;
use forge_project::keys::node_to_json;
use forge_project::{CacheKeys, Graph, Project, Scope};
use forge_yaml::{Node, Span, to_yaml_string};
use serde_json::{Map, Value as Json, json};

use crate::cli::{DepsSelection, Order, ShowArgs};
use crate::exit::Failure;
use crate::format::{Piece, apply_spec, parse};
use crate::session::Session;

/// BuildStream's default element line.
pub const DEFAULT_FORMAT: &str = "%{state: >12} %{full-key} %{name} %{workspace-dirs}";

const SYMBOLS: &[&str] = &[
    "name",
    "kind",
    "description",
    "key",
    "full-key",
    "state",
    "vars",
    "env",
    "config",
    "public",
    "deps",
    "build-deps",
    "runtime-deps",
    "workspaced",
    "workspace-dirs",
];

/// What `show` says about an element's readiness.
/// Which of `elements` a configured artifact server has (asked of the
/// servers in parallel, only for elements the local cache lacks).
pub(crate) fn downloadable(
    session: &Session,
    cas: &forge_cas::Cas,
    graph: &Graph,
    keys: &CacheKeys,
    elements: &[usize],
) -> Vec<bool> {
    let mut out = vec![false; graph.elements.len()];
    let servers = match session.artifact_servers() {
        Ok(servers) if !servers.is_empty() => servers,
        _ => return out,
    };
    let asked = forge_project::parallel::map_on(8, elements, |&e| {
        let element = &graph.elements[e];
        let Some(key) = keys.keys[e].as_deref() else {
            return false;
        };
        if element.junction
            || cas
                .get_artifact(&element.project.name, &element.normal_name(), key)
                .is_some()
        {
            return false;
        }
        let urn = forge_remote::artifact_urn(&element.project.name, &element.normal_name(), key);
        servers.lacks().is_none()
            && servers
                .indexes()
                .any(|index| index.resolve(&urn).is_ok_and(|d| d.is_some()))
    });
    for (&e, has) in elements.iter().zip(asked) {
        out[e] = has;
    }
    out
}

fn state(
    session: &Session,
    cas: &forge_cas::Cas,
    graph: &Graph,
    keys: &CacheKeys,
    remote: &[bool],
    element: usize,
) -> &'static str {
    if !keys.sources_resolved[element] {
        return "no reference";
    }
    if graph.elements[element].junction {
        return "junction";
    }
    let Some(key) = keys.keys[element].as_deref() else {
        return "waiting";
    };
    let artifact = |e: usize| -> Option<bool> {
        let key = keys.keys[e].as_deref()?;
        cas.get_artifact(&graph.elements[e].project.name, &graph.elements[e].normal_name(), key)
            .map(|r| r.success)
    };
    match cas.get_artifact(
        &graph.elements[element].project.name,
        &graph.elements[element].normal_name(),
        key,
    ) {
        Some(r) if !r.success => return "failed",
        Some(_) => return "cached",
        None => {}
    }
    // As bst: an artifact a configured server has is downloadable.
    if remote[element] {
        return "downloadable";
    }
    let needs_fetch = graph.elements[element]
        .sources
        .iter()
        .any(|s| forge_sources::runtime(s.kind_id).is_some_and(|r| !r.is_cached(s, &session.sources)));
    if needs_fetch {
        return "fetch needed";
    }
    // Buildable when everything its build stages is cached.
    let staged = graph.build_deps(element).flat_map(|d| graph.walk(&[d], Scope::Run));
    if staged.into_iter().all(|d| artifact(d) == Some(true)) {
        "buildable"
    } else {
        "waiting"
    }
}

/// The elements the command line selects, in the order asked for.
pub fn select(
    project: &std::sync::Arc<Project>,
    targets: &[String],
    deps: DepsSelection,
) -> Result<(Graph, Vec<usize>), Failure> {
    select_from(project, targets, deps, Graph::load)
}

/// [`select`], with the elements' sources as their files write them, open
/// workspaces or not.
pub fn select_as_written(
    project: &std::sync::Arc<Project>,
    targets: &[String],
    deps: DepsSelection,
) -> Result<(Graph, Vec<usize>), Failure> {
    select_from(project, targets, deps, Graph::load_as_written)
}

fn select_from(
    project: &std::sync::Arc<Project>,
    targets: &[String],
    deps: DepsSelection,
    load: fn(&std::sync::Arc<Project>, &[String]) -> Result<Graph, forge_project::LoadError>,
) -> Result<(Graph, Vec<usize>), Failure> {
    let workspace = std::env::current_dir()
        .ok()
        .and_then(|cwd| project.workspaces.containing(&cwd).map(str::to_string));
    let targets = if !targets.is_empty() {
        targets.to_vec()
    } else if let Some(element) = workspace {
        // Inside a workspace, as in bst: its element.
        vec![element]
    } else if !project.default_targets.is_empty() {
        project.default_targets.clone()
    } else {
        all_element_names(project)
    };
    let graph = load(project, &targets)?;
    for warning in project.take_warnings() {
        eprintln!("warning: {}", crate::exit::printable(&warning));
    }
    let scope = match deps {
        DepsSelection::None => Scope::None,
        DepsSelection::Run => Scope::Run,
        DepsSelection::Build => Scope::Build,
        DepsSelection::All => Scope::All,
    };
    let selected = graph.walk(&graph.targets, scope);
    Ok((graph, selected))
}

fn yaml_of_strings(items: &[&str]) -> String {
    let list = Node::list(
        items
            .iter()
            .map(|s| Node::string(*s, Span::synthetic("<show>")))
            .collect(),
        Span::synthetic("<show>"),
    );
    to_yaml_string(&list)
}

fn string_map_node<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> Node {
    let mut node = Node::map(Span::synthetic("<show>"));
    let map = node.as_map_mut().expect("mapping");
    for (k, v) in pairs {
        map.insert_str_key(k, Node::string(v, Span::synthetic("<show>")));
    }
    node
}

/// Runs `forge show`.
pub fn run(session: &Session, args: &ShowArgs) -> Result<(), Failure> {
    let project = &session.project;
    let template = if args.format == "json" {
        None
    } else {
        Some(parse(&args.format, SYMBOLS).map_err(Failure::usage)?)
    };
    let (graph, mut selected) = select(project, &args.targets, args.deps)?;
    if args.deps == DepsSelection::None && !args.targets.is_empty() {
        // As bst lists them: each target once by name, so a link and its
        // target both appear, as the same element.
        let mut seen = std::collections::HashSet::new();
        selected = args
            .targets
            .iter()
            .zip(&graph.targets)
            .filter(|(name, _)| seen.insert(name.as_str()))
            .map(|(_, &index)| index)
            .collect();
    }
    if args.order == Order::Alpha {
        selected.sort_by(|a, b| graph.elements[*a].name.cmp(&graph.elements[*b].name));
    }
    let keys = session.cache_keys(&graph)?;
    let cas = session.cas();
    // Servers are asked only when the state is shown.
    let remote = if args.format == "json" || args.format.contains("state") {
        downloadable(session, &cas, &graph, &keys, &selected)
    } else {
        vec![false; graph.elements.len()]
    };
    let name_of = |i: usize| graph.elements[i].name.as_str();
    match template {
        None => {
            let rows: Vec<Json> = selected
                .iter()
                .map(|&i| {
                    let e = &graph.elements[i];
                    let mut row = Map::new();
                    row.insert("name".into(), json!(e.name));
                    row.insert("kind".into(), json!(e.kind));
                    row.insert("description".into(), json!(e.description));
                    row.insert("key".into(), json!(brief_key(keys.keys[i].as_deref())));
                    row.insert("full-key".into(), json!(full_key(keys.keys[i].as_deref())));
                    row.insert("state".into(), json!(state(session, &cas, &graph, &keys, &remote, i)));
                    row.insert(
                        "vars".into(),
                        Json::Object(e.variables.iter().map(|(k, v)| (k.to_string(), json!(v))).collect()),
                    );
                    row.insert("env".into(), node_to_json(&e.environment_node));
                    row.insert("config".into(), node_to_json(&e.config));
                    row.insert("public".into(), node_to_json(&e.public));
                    let names = |deps: Vec<usize>| deps.into_iter().map(name_of).collect::<Vec<_>>();
                    row.insert("deps".into(), json!(names(graph.direct_deps(i))));
                    row.insert("build-deps".into(), json!(names(graph.build_deps(i).collect())));
                    row.insert("runtime-deps".into(), json!(names(graph.runtime_deps(i).collect())));
                    row.insert(
                        "sources".into(),
                        json!(
                            e.sources
                                .iter()
                                .map(|s| {
                                    let mut source = Map::new();
                                    source.insert("kind".into(), json!(s.kind));
                                    if let Some(dir) = &s.directory {
                                        source.insert("directory".into(), json!(dir));
                                    }
                                    if let Json::Object(config) = node_to_json(&s.config) {
                                        source.extend(config);
                                    }
                                    Json::Object(source)
                                })
                                .collect::<Vec<_>>()
                        ),
                    );
                    Json::Object(row)
                })
                .collect();
            let text = serde_json::to_string_pretty(&rows).map_err(|e| Failure::usage(e.to_string()))?;
            println!("{text}");
        }
        Some(pieces) => {
            let mut report = String::new();
            // BuildStream strips trailing newlines of the report, but not
            // those inside the last substituted value (its colour codes
            // shield them): keep the end of the last value.
            let mut last_value_end = 0;
            for &i in &selected {
                let e = &graph.elements[i];
                for piece in &pieces {
                    match piece {
                        Piece::Text(t) => report.push_str(t),
                        Piece::Symbol { name, spec } => {
                            let value = match name.as_str() {
                                "name" => e.name.clone(),
                                "kind" => e.kind.clone(),
                                "description" => e.description.lines().collect::<Vec<_>>().join(" "),
                                "key" => brief_key(keys.keys[i].as_deref()),
                                "full-key" => full_key(keys.keys[i].as_deref()),
                                "state" => state(session, &cas, &graph, &keys, &remote, i).to_string(),
                                "vars" => to_yaml_string(&string_map_node(e.variables.iter())),
                                "env" => to_yaml_string(&e.environment_node),
                                "config" => to_yaml_string(&e.config),
                                "public" => to_yaml_string(&e.public),
                                "deps" => {
                                    yaml_of_strings(&graph.direct_deps(i).into_iter().map(name_of).collect::<Vec<_>>())
                                        .trim_end()
                                        .to_string()
                                }
                                "build-deps" => yaml_of_strings(&graph.build_deps(i).map(name_of).collect::<Vec<_>>())
                                    .trim_end()
                                    .to_string(),
                                "runtime-deps" => {
                                    yaml_of_strings(&graph.runtime_deps(i).map(name_of).collect::<Vec<_>>())
                                        .trim_end()
                                        .to_string()
                                }
                                "workspaced" if e.workspace.is_some() => "(workspaced)".to_string(),
                                "workspace-dirs" => e
                                    .workspace
                                    .as_ref()
                                    .map(|dir| format!("Workspace: {}", dir.display()))
                                    .unwrap_or_default(),
                                _ => String::new(),
                            };
                            report.push_str(&apply_spec(&value, spec).map_err(Failure::usage)?);
                            last_value_end = report.len();
                        }
                    }
                }
                report.push('\n');
            }
            let keep = report[last_value_end..].trim_end_matches('\n').len();
            report.truncate(last_value_end + keep);
            println!("{report}");
        }
    }
    if let Some(summary) = build_summary(&cas, &graph, &keys, &selected) {
        eprintln!("{summary}");
    }
    // The process ends right after: freeing tens of thousands of small
    // allocations one by one would cost more than the whole load.
    std::mem::forget(graph);
    std::mem::forget(keys);
    Ok(())
}

/// What building the selection costs, when junctions are part of it:
/// how many elements are not built, and how many of those come through
/// each junction (after a junction bump, most of them do).
fn build_summary(cas: &forge_cas::Cas, graph: &Graph, keys: &CacheKeys, selected: &[usize]) -> Option<String> {
    let mut unbuilt = 0;
    let mut through: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for &i in selected {
        let element = &graph.elements[i];
        if element.junction {
            continue;
        }
        if crate::artifacts::built_record(cas, graph, keys, i).is_some() {
            continue;
        }
        unbuilt += 1;
        if let Some((junction, _)) = element.name.split_once(':') {
            *through.entry(junction).or_default() += 1;
        }
    }
    if through.is_empty() {
        return None;
    }
    let junctions: Vec<String> = through.iter().map(|(j, n)| format!("{n} through {j}")).collect();
    Some(format!(
        "show: {unbuilt} of {} elements need building ({})",
        selected.iter().filter(|&&i| !graph.elements[i].junction).count(),
        crate::exit::printable(&junctions.join(", "))
    ))
}

fn full_key(key: Option<&str>) -> String {
    key.map(str::to_string).unwrap_or_else(|| "?".repeat(64))
}

fn brief_key(key: Option<&str>) -> String {
    key.map(|k| k[..8].to_string()).unwrap_or_else(|| "?".repeat(8))
}
