//! Element files: keys, dependencies, sources, and composition of each
//! section over the kind's base, with variables expanded.

use std::sync::Arc;

use indexmap::IndexMap;

use forge_yaml::{Mapping, Node, Span, Value};

use crate::compose::{compose, finish};
use crate::error::{LoadError, check_keys};
use crate::project::{Project, RefStorage, str_list as string_list};
use crate::variables::{PROTECTED, Variables};

const ELEMENT_KEYS: &[&str] = &[
    "kind",
    "description",
    "depends",
    "build-depends",
    "runtime-depends",
    "sources",
    "variables",
    "environment",
    "environment-nocache",
    "config",
    "public",
    "sandbox",
];

/// One declared dependency (entries naming the same element are merged).
#[derive(Clone, Debug)]
pub struct Dependency {
    /// The element depended on, relative to the element path.
    pub name: String,
    /// Needed to build.
    pub build: bool,
    /// Needed at run time.
    pub runtime: bool,
    /// Rebuild when the dependency changes in any way.
    pub strict: bool,
    /// `config:` blocks handed to the element kind (such as `location:`).
    pub config: Vec<Node>,
    /// Where the dependency is declared (first declaration).
    pub span: Span,
}

/// One source of an element.
#[derive(Clone, Debug)]
pub struct Source {
    /// The source kind, as written.
    pub kind: String,
    /// The implementation of the kind (see [`crate::SourceKind::id`]).
    pub kind_id: &'static str,
    /// Its position in the element's `sources:` list.
    pub index: usize,
    /// The kind's own keys, variables expanded.
    pub config: Node,
    /// `directory:`: where in the build root it is staged.
    pub directory: Option<String>,
    /// Where the source entry is written.
    pub span: Span,
    /// `provenance:`: facts about where it comes from (`homepage`, and
    /// what the project declares, such as `supplier`), for manifests and
    /// bills of materials; never part of the cache key.
    pub provenance: Vec<(String, String)>,
}

impl Source {
    /// A `provenance:` attribute of the source.
    pub fn provenance(&self, attribute: &str) -> Option<&str> {
        self.provenance
            .iter()
            .find(|(name, _)| name == attribute)
            .map(|(_, value)| value.as_str())
    }

    /// A string value of the source's configuration.
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.config.as_map().and_then(|m| m.get(key)).and_then(Node::as_str)
    }

    /// A value of the source's configuration.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.config.as_map().and_then(|m| m.get(key))
    }
}

/// A fully resolved element.
#[derive(Clone, Debug)]
pub struct Element {
    /// Its name: the path relative to the element path (`app.bst`), behind
    /// its junctions for elements of subprojects (`sdk.bst:app.bst`).
    pub name: String,
    /// Its file as shown in messages (`elements/app.bst`).
    pub file: Arc<str>,
    /// Its kind, as written.
    pub kind: String,
    /// The implementation of the kind (see [`crate::ElementKind::id`]).
    pub kind_id: &'static str,
    /// Where `kind:` is written.
    pub kind_span: Span,
    /// `description:`.
    pub description: String,
    /// Declared dependencies in declaration order, merged by name.
    pub dependencies: Vec<Dependency>,
    /// Sources in order.
    pub sources: Vec<Source>,
    /// Resolved variables.
    pub variables: Variables,
    /// The sandbox environment (its string values).
    pub environment: IndexMap<String, String>,
    /// The environment as composed, for `show` and keys: BuildStream
    /// accepts values that are not strings there (a build refuses them).
    pub environment_node: Node,
    /// Environment variables left out of the cache key.
    pub env_nocache: Vec<String>,
    /// The kind's configuration, composed and expanded.
    pub config: Node,
    /// Public data (always holds `bst: split-rules:`). Elements that write
    /// no public data of their own share one copy per distinct value.
    pub public: Arc<Node>,
    /// Sandbox settings.
    pub sandbox: Node,
    /// Whether it is a junction: it names a subproject, has no
    /// dependencies and is never built.
    pub junction: bool,
    /// For a `link`: the element it stands for, qualified.
    pub link: Option<String>,
    /// The project it belongs to (a subproject for `junction.bst:…` names).
    pub project: Arc<Project>,
    /// Its open workspace: then `sources` is that directory alone.
    pub workspace: Option<std::path::PathBuf>,
}

impl Element {
    /// A configuration value.
    pub fn config_value(&self, key: &str) -> Option<&Node> {
        self.config.as_map().and_then(|m| m.get(key))
    }

    /// The element's name for artifacts: `/` becomes `-`, `.bst` is dropped
    /// (the name within its own project: artifacts are named by project).
    pub fn normal_name(&self) -> String {
        normal_name(self.local_name())
    }

    /// The element's name within its own project.
    pub fn local_name(&self) -> &str {
        &self.name[self.project.prefix.len()..]
    }
}

/// The artifact name of an element name.
pub fn normal_name(name: &str) -> String {
    name.strip_suffix(".bst").unwrap_or(name).replace('/', "-")
}

/// Checks the form of an element name.
pub fn check_element_name(name: &str, span: Option<&Span>) -> Result<(), LoadError> {
    let fail = |why: &str| {
        let message = format!("invalid element name '{name}': {why}");
        match span {
            Some(span) => LoadError::at(span, message),
            None => LoadError::new(message),
        }
    };
    // `junction.bst:element.bst`, nested as deep as junctions go: each
    // part is an element path.
    let parts: Vec<&str> = name.split(':').collect();
    if parts.len() > 1 {
        for part in &parts {
            if part.is_empty() || !part.ends_with(".bst") {
                return Err(fail("each part between ':' must be an element name ending in '.bst'"));
            }
            check_element_name(part, span)?;
        }
        return Ok(());
    }
    if !name.ends_with(".bst") {
        return Err(fail("element names end in '.bst'"));
    }
    if name
        .chars()
        .any(|c| c.is_control() || !c.is_ascii() || "<>\"|?*".contains(c))
    {
        return Err(fail(
            "it may not contain control or non-ASCII characters, nor any of <>\"|?*",
        ));
    }
    if name.starts_with('/') || name.split('/').any(|part| part == ".." || part == ".") {
        return Err(fail("it must be a plain path inside the element directory"));
    }
    Ok(())
}

fn as_bool(node: &Node, what: &str) -> Result<bool, LoadError> {
    match node.as_str() {
        Some("True" | "true" | "1") => Ok(true),
        Some("False" | "false" | "0") => Ok(false),
        _ => Err(LoadError::at(&node.span, format!("'{what}' must be True or False"))),
    }
}

/// Loads element `name` (local to `project`) from `text`.
pub fn load_element(project: &Arc<Project>, name: &str, text: &str) -> Result<Element, LoadError> {
    let file: Arc<str> = Arc::from(project.element_display_path(name));
    let mut node = project.parse_element_file(&file, text)?;
    project.with_directives(&mut node, |node| {
        resolve_element(
            project,
            name,
            file,
            std::mem::replace(node, Node::map(Span::synthetic("<taken>"))),
        )
    })
}

/// The element's variables: its own laid over its kind's base, its name,
/// and `max-jobs: 1` when it says `notparallel`.
fn resolve_variables(
    base: &crate::project::KindBase,
    name: &str,
    own: Option<(&Node, &forge_yaml::Mapping)>,
) -> Result<Variables, LoadError> {
    let forge = Span::synthetic("<forge>");
    let not_parallel = |value: Option<&str>| value.is_some_and(|v| matches!(v, "True" | "true" | "1"));
    // Most elements set a few string variables: only what those reach is
    // resolved again.
    let all_strings = own.is_none_or(|(_, map)| map.iter().all(|(_, v)| v.as_str().is_some()));
    if let Some(prepared) = base.prepared_variables()
        && all_strings
    {
        let mut strings: Vec<(&str, &str, &Span)> = own
            .into_iter()
            .flat_map(|(_, map)| map.iter())
            .map(|(k, v)| (k.name.as_str(), v.as_str().expect("checked above"), &v.span))
            .collect();
        let own_setting = strings.iter().find(|(k, _, _)| *k == "notparallel").map(|(_, v, _)| *v);
        if not_parallel(own_setting.or_else(|| prepared.raw("notparallel"))) {
            strings.push(("max-jobs", "1", &forge));
        }
        strings.push(("element-name", name, &forge));
        return prepared.resolve_with(&strings);
    }
    let mut variables = base.variables.clone();
    if let Some((own, _)) = own {
        compose(&mut variables, own.clone())?;
    }
    let vars_map = variables.as_map_mut().expect("mapping");
    if not_parallel(vars_map.get("notparallel").and_then(Node::as_str)) {
        vars_map.insert_str_key("max-jobs", Node::string("1", forge.clone()));
    }
    vars_map.insert_str_key("element-name", Node::string(name, forge));
    Variables::resolve(vars_map)
}

/// Builds the element from its node, its directives processed.
fn resolve_element(project: &Arc<Project>, name: &str, file: Arc<str>, node: Node) -> Result<Element, LoadError> {
    let whole = Span {
        file: file.clone(),
        line: 1,
        col: 1,
        start: 0,
        end: 0,
    };
    let Value::Map(map) = node.value else {
        unreachable!("parse_str returns mappings")
    };
    check_keys(&map, ELEMENT_KEYS, "an element")?;

    let kind_node = map.get("kind").ok_or_else(|| {
        LoadError::at(&whole, "the element has no 'kind'").with_hint("add `kind: <kind>`, for example `kind: import`")
    })?;
    let kind = kind_node
        .as_str()
        .ok_or_else(|| LoadError::at(&kind_node.span, "'kind' must be a string"))?
        .to_string();
    let kinds = &project.kinds;
    let element_kind = kinds.element_for(&kind, &file, &kind_node.span)?.clone();
    let base = project
        .kind_base(&kind)
        .expect("every registered kind has a base")?
        .clone();

    let description = match map.get("description") {
        Some(d) => d
            .as_str()
            .ok_or_else(|| LoadError::at(&d.span, "'description' must be a string"))?
            .to_string(),
        None => String::new(),
    };

    // Dependencies are named within this project; the graph names them
    // from the top.
    let mut dependencies = load_dependencies(&map)?;
    for dep in &mut dependencies {
        dep.name = format!("{}{}", project.prefix, dep.name);
    }
    if !element_kind.accepts_dependency_config()
        && let Some(dep) = dependencies.iter().find(|d| !d.config.is_empty())
    {
        return Err(LoadError::at(
            &dep.config[0].span,
            format!("element kind '{kind}' does not take dependency 'config'"),
        ));
    }

    // Variables: the kind's base, then the element's own.
    let own_map = match map.get("variables") {
        Some(own) => {
            let own_map = own
                .as_map()
                .ok_or_else(|| LoadError::at(&own.span, "'variables' must be a mapping"))?;
            for protected in PROTECTED {
                if let Some((key, _)) = own_map.get_entry(protected) {
                    return Err(LoadError::at(
                        &key.span,
                        format!("invalid redefinition of protected variable '{protected}'"),
                    )
                    .with_hint("forge sets this variable itself"));
                }
            }
            Some((own, own_map))
        }
        None => None,
    };
    let variables = resolve_variables(&base, name, own_map)?;

    let layered = |base: &Node, key: &str| -> Result<Node, LoadError> {
        let mut node = base.clone();
        if let Some(own) = map.get(key) {
            if own.as_map().is_none() {
                return Err(LoadError::at(
                    &own.span,
                    format!("'{key}' must be a mapping, not {}", own.type_name()),
                ));
            }
            compose(&mut node, own.clone())?;
        }
        finish(&mut node)?;
        variables.expand_node(&mut node)?;
        Ok(node)
    };
    let environment_node = layered(&base.environment, "environment")?;
    let environment: IndexMap<String, String> = environment_node
        .as_map()
        .expect("mapping")
        .iter()
        .filter_map(|(k, v)| v.as_str().map(|v| (k.name.clone(), v.to_string())))
        .collect();
    let config = layered(&base.config, "config")?;
    let sandbox = layered(&base.sandbox, "sandbox")?;
    if element_kind.checks_config_keys() {
        check_keys(
            config.as_map().expect("mapping"),
            element_kind.config_keys(),
            &format!("the config of a {kind} element"),
        )?;
    }
    check_sandbox(&sandbox)?;

    let mut env_nocache = base.env_nocache.clone();
    if let Some(list) = map.get("environment-nocache") {
        for name in string_list(list, "environment-nocache")? {
            if !env_nocache.contains(&name) {
                env_nocache.push(name);
            }
        }
    }

    let public = match map.get("public") {
        // Only the split rules' variables can differ between elements
        // that write no public data: share one expansion per value.
        None => {
            let signature: Vec<&str> = base
                .split_rule_variables
                .iter()
                .map(|v| variables.get(v).unwrap_or(""))
                .collect();
            project.shared_public(&kind, &signature.join("\0"), || {
                let mut public = compose_public(&map, &base.split_rules, &whole)?;
                variables.expand_node(&mut public)?;
                Ok(public)
            })?
        }
        Some(_) => {
            let mut public = compose_public(&map, &base.split_rules, &whole)?;
            variables.expand_node(&mut public)?;
            Arc::new(public)
        }
    };

    let mut sources = load_sources(project, name, &map)?;
    for source in &mut sources {
        variables.expand_node(&mut source.config)?;
        if let Some(dir) = &mut source.directory {
            *dir = variables.expand(dir, &source.span)?;
        }
    }
    for dep in &mut dependencies {
        for config in &mut dep.config {
            variables.expand_node(config)?;
        }
    }

    let link = element_kind
        .link_target(&config)
        .map(|t| format!("{}{t}", project.prefix));
    let element = Element {
        name: format!("{}{name}", project.prefix),
        file,
        kind,
        kind_id: element_kind.id(),
        kind_span: kind_node.span.clone(),
        description,
        dependencies,
        sources,
        variables,
        environment,
        environment_node,
        env_nocache,
        config,
        public,
        sandbox,
        junction: element_kind.is_junction(),
        link,
        project: project.clone(),
        workspace: None,
    };
    for source in &element.sources {
        let source_kind = kinds.source(&source.kind).expect("checked when loading sources");
        check_keys(
            source.config.as_map().expect("mapping"),
            source_kind.config_keys(),
            &format!("a {} source", source.kind),
        )?;
        source_kind.validate(source, project)?;
        for url in source_kind.urls(source) {
            // Such a URL cannot be fetched, and would reach terminals and
            // logs in every message that names it.
            if let Some(c) = url.chars().find(|c| c.is_control()) {
                return Err(LoadError::at(
                    &source.span,
                    format!(
                        "the URL of this {} source holds a control character ({}): '{}'",
                        source.kind,
                        c.escape_default(),
                        crate::error::printable_line(url)
                    ),
                )
                .with_hint(format!("percent-encode it (%{:02X})", u32::from(c))));
            }
            if crate::project::url_alias(url).is_none() {
                project.warn(
                    "unaliased-url",
                    &source.span,
                    format!(
                        "the {} source of {} uses an unaliased URL: {url}",
                        source.kind, element.name
                    ),
                )?;
            }
        }
    }
    element_kind.validate(&element)?;
    Ok(element)
}

/// Checks an element's composed `sandbox:`: its keys, and that
/// `build-arch` names an architecture BuildStream knows.
fn check_sandbox(sandbox: &Node) -> Result<(), LoadError> {
    let map = sandbox.as_map().expect("mapping");
    check_keys(map, crate::project::SANDBOX_KEYS, "'sandbox'")?;
    if let Some(arch) = map.get("build-arch")
        && let Some(text) = arch.as_str()
        && crate::options::canonicalize_arch(text).is_none()
    {
        return Err(LoadError::at(
            &arch.span,
            format!("unknown architecture '{text}' in 'sandbox: build-arch'"),
        )
        .with_hint("use a name such as x86_64, aarch64, i686, ppc64le, riscv64 or loongarch64"));
    }
    Ok(())
}

fn compose_public(map: &Mapping, base_rules: &Node, whole: &Span) -> Result<Node, LoadError> {
    let mut public = match map.get("public") {
        Some(p) if p.as_map().is_some() => p.clone(),
        Some(p) => return Err(LoadError::at(&p.span, "'public' must be a mapping")),
        None => Node::map(whole.clone()),
    };
    let public_map = public.as_map_mut().expect("mapping");
    let mut bst = match public_map.get("bst") {
        Some(b) if b.as_map().is_some() => b.clone(),
        Some(b) => return Err(LoadError::at(&b.span, "'public: bst' must be a mapping")),
        None => Node::map(whole.clone()),
    };
    let bst_map = bst.as_map_mut().expect("mapping");
    // The element's split rules extend the project's and the kind's; the
    // result takes the place of the element's own (or goes last), as in
    // BuildStream.
    let mut rules = base_rules.clone();
    if let Some(own) = bst_map.get("split-rules") {
        if own.as_map().is_none() {
            return Err(LoadError::at(&own.span, "'split-rules' must be a mapping"));
        }
        compose(&mut rules, own.clone())?;
    }
    finish(&mut rules)?;
    bst_map.insert_str_key("split-rules", rules);
    public_map.insert_str_key("bst", bst);
    finish(&mut public)?;
    Ok(public)
}

fn load_dependencies(map: &Mapping) -> Result<Vec<Dependency>, LoadError> {
    let mut deps: Vec<Dependency> = Vec::new();
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    // BuildStream's order: build-depends, runtime-depends, then depends.
    // It decides the order among dependencies that do not depend on each
    // other once sorted, since that sort is not a total order.
    for (list_key, default_build, default_runtime) in [
        ("build-depends", true, false),
        ("runtime-depends", false, true),
        ("depends", true, true),
    ] {
        let Some(list) = map.get(list_key) else { continue };
        let items = list.as_list().ok_or_else(|| {
            LoadError::at(
                &list.span,
                format!("'{list_key}' must be a list, not {}", list.type_name()),
            )
        })?;
        for item in items {
            for dep in parse_dependency(item, list_key, default_build, default_runtime)? {
                match seen.get(&dep.name).map(|&i| &mut deps[i]) {
                    Some(existing) => {
                        existing.build |= dep.build;
                        existing.runtime |= dep.runtime;
                        existing.strict |= dep.strict;
                        existing.config.extend(dep.config);
                    }
                    None => {
                        seen.insert(dep.name.clone(), deps.len());
                        deps.push(dep);
                    }
                }
            }
        }
    }
    Ok(deps)
}

fn parse_dependency(item: &Node, list_key: &str, build: bool, runtime: bool) -> Result<Vec<Dependency>, LoadError> {
    if let Some(name) = item.as_str() {
        check_element_name(name, Some(&item.span))?;
        return Ok(vec![Dependency {
            name: name.to_string(),
            build,
            runtime,
            strict: false,
            config: Vec::new(),
            span: item.span.clone(),
        }]);
    }
    let entry = item.as_map().ok_or_else(|| {
        LoadError::at(
            &item.span,
            "a dependency is an element name or a mapping with 'filename'",
        )
    })?;
    check_keys(
        entry,
        &["filename", "junction", "type", "strict", "config"],
        "a dependency",
    )?;
    let junction = match entry.get("junction") {
        Some(node) => {
            let name = node
                .as_str()
                .ok_or_else(|| LoadError::at(&node.span, "'junction' must be the name of a junction element"))?;
            check_element_name(name, Some(&node.span))?;
            Some(name.to_string())
        }
        None => None,
    };
    let (mut build, mut runtime) = (build, runtime);
    if let Some(ty) = entry.get("type") {
        if list_key != "depends" {
            return Err(LoadError::at(
                &ty.span,
                format!("'type' is only allowed in 'depends', not in '{list_key}'"),
            )
            .with_hint("the list already says whether the dependency is for build or run time"));
        }
        (build, runtime) = match ty.as_str() {
            Some("build") => (true, false),
            Some("runtime") => (false, true),
            Some("all") => (true, true),
            _ => {
                return Err(LoadError::at(
                    &ty.span,
                    format!("invalid dependency type '{}'", ty.as_str().unwrap_or("")),
                )
                .with_hint("use build, runtime or all"));
            }
        };
    }
    let strict = match entry.get("strict") {
        Some(node) => {
            if !as_bool(node, "strict")? {
                return Err(LoadError::at(
                    &node.span,
                    "'strict: false' is reserved; leave 'strict' out instead",
                ));
            }
            if !build {
                return Err(LoadError::at(&node.span, "'strict' only applies to build dependencies"));
            }
            true
        }
        None => false,
    };
    let config = match entry.get("config") {
        Some(node) => {
            if node.as_map().is_none() {
                return Err(LoadError::at(&node.span, "dependency 'config' must be a mapping"));
            }
            if !build {
                return Err(LoadError::at(
                    &node.span,
                    "'config' is not allowed on runtime-only dependencies",
                ));
            }
            vec![node.clone()]
        }
        None => Vec::new(),
    };
    let filename = entry
        .get("filename")
        .ok_or_else(|| LoadError::at(&item.span, "the dependency has no 'filename'"))?;
    let names: Vec<&Node> = match &filename.value {
        Value::Str(_) => vec![filename],
        Value::List(items) => items.iter().collect(),
        Value::Map(_) => {
            return Err(LoadError::at(
                &filename.span,
                "'filename' must be a name or a list of names",
            ));
        }
    };
    names
        .into_iter()
        .map(|n| {
            let name = n
                .as_str()
                .ok_or_else(|| LoadError::at(&n.span, "'filename' entries must be element names"))?;
            check_element_name(name, Some(&n.span))?;
            if junction.is_some() && name.contains(':') {
                return Err(LoadError::at(
                    &n.span,
                    "with 'junction' set, 'filename' names an element of that junction and may not contain ':'",
                ));
            }
            Ok(Dependency {
                name: match &junction {
                    Some(j) => format!("{j}:{name}"),
                    None => name.to_string(),
                },
                build,
                runtime,
                strict,
                config: config.clone(),
                span: n.span.clone(),
            })
        })
        .collect()
}

/// A source's `provenance:` mapping: attributes the project allows, each
/// with a string value.
fn read_provenance(project: &Project, node: &Node) -> Result<Vec<(String, String)>, LoadError> {
    let map = node
        .as_map()
        .ok_or_else(|| LoadError::at(&node.span, "'provenance' must be a mapping"))?;
    let mut out = Vec::new();
    for (key, value) in map.iter() {
        let name = key.name.as_str();
        if !project.provenance_attributes.iter().any(|a| a == name) {
            return Err(
                LoadError::at(&key.span, format!("unknown provenance attribute '{name}'")).with_hint(format!(
                    "the project allows {}; declare others under source-provenance-attributes in project.conf",
                    project.provenance_attributes.join(", ")
                )),
            );
        }
        let text = value
            .as_str()
            .ok_or_else(|| LoadError::at(&value.span, format!("provenance attribute '{name}' must be a string")))?;
        out.push((name.to_string(), text.to_string()));
    }
    Ok(out)
}

fn load_sources(project: &Project, element_name: &str, map: &Mapping) -> Result<Vec<Source>, LoadError> {
    let Some(list) = map.get("sources") else {
        return Ok(Vec::new());
    };
    let items = list
        .as_list()
        .ok_or_else(|| LoadError::at(&list.span, "'sources' must be a list"))?;
    let mut sources = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        if item.as_map().is_none() {
            return Err(LoadError::at(&item.span, "a source must be a mapping with a 'kind'"));
        }
        let kind_node = item
            .as_map()
            .and_then(|m| m.get("kind"))
            .ok_or_else(|| LoadError::at(&item.span, "the source has no 'kind'"))?;
        let kind = kind_node
            .as_str()
            .ok_or_else(|| LoadError::at(&kind_node.span, "'kind' must be a string"))?;
        let kind_id = project
            .kinds
            .source_for(kind, &project.element_display_path(element_name), &kind_node.span)?
            .id();
        // The project's per-kind config lies under the entry.
        let mut config = Node::map(item.span.clone());
        if let Some(over) = project
            .source_overrides
            .get(kind)
            .and_then(Node::as_map)
            .and_then(|m| m.get("config"))
        {
            compose(&mut config, over.clone())?;
        }
        compose(&mut config, item.clone())?;
        finish(&mut config)?;
        let config_map = config.as_map_mut().expect("mapping");
        config_map.remove("kind");
        if project.ref_storage == RefStorage::ProjectRefs {
            // Pins live in project.refs; one written here is ignored.
            config_map.remove("ref");
            if let Some(Some(pin)) = project.refs.get(element_name).and_then(|pins| pins.get(index)) {
                crate::refs::set_pin(config_map, pin);
            }
        }
        let directory = match config_map.remove("directory") {
            Some((_, d)) => Some(
                d.as_str()
                    .ok_or_else(|| LoadError::at(&d.span, "'directory' must be a path"))?
                    .to_string(),
            ),
            None => None,
        };
        let provenance = match config_map.remove("provenance") {
            Some((_, node)) => read_provenance(project, &node)?,
            None => Vec::new(),
        };
        sources.push(Source {
            kind: kind.to_string(),
            kind_id,
            index,
            config,
            directory,
            span: item.span.clone(),
            provenance,
        });
    }
    Ok(sources)
}
