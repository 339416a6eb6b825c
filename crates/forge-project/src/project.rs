//! project.conf: finding it, composing it over the built-in defaults,
//! options, includes and conditionals, and the per-kind bases every element
//! of a kind starts from.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use indexmap::IndexMap;

use forge_yaml::{Mapping, Node, Span, Value, parse_str};

use crate::compose::{compose, finish};
use crate::directives::{self, DirectiveContext};
use crate::error::{LoadError, check_keys};
use crate::expr::ExprValue;
use crate::kind::{ElementKind, KindRegistry, ProjectKinds};
use crate::options::OptionPool;
use crate::variables::{PROTECTED, Variables};

const DEFAULTS: &str = include_str!("../data/projectconfig.yaml");
const DEFAULTS_FILE: &str = "<forge defaults>/projectconfig.yaml";

const PROJECT_KEYS: &[&str] = &[
    "name",
    "min-version",
    "element-path",
    "variables",
    "environment",
    "environment-nocache",
    "split-rules",
    "elements",
    "sources",
    "plugins",
    "aliases",
    "mirrors",
    "options",
    "defaults",
    "artifacts",
    "source-caches",
    "fail-on-overlap",
    "shell",
    "fatal-warnings",
    "ref-storage",
    "sandbox",
    "junctions",
    "source-provenance-attributes",
];

/// Keys a `elements: <kind>:` override may set.
const KIND_OVERRIDE_KEYS: &[&str] = &[
    "variables",
    "environment",
    "environment-nocache",
    "config",
    "public",
    "sandbox",
];

/// What the front end lends loading: how junction sources are staged and
/// where parsed files are kept. Without them, only junctions of one local
/// directory load and every file is parsed.
#[derive(Clone, Default)]
pub struct LoadServices {
    /// Stages junctions' sources (from the source cache).
    pub stager: Option<Arc<dyn crate::junctions::JunctionStager>>,
    /// Keeps parsed element files between runs.
    pub parse_cache: Option<Arc<crate::parsecache::ParseCache>>,
}

impl std::fmt::Debug for LoadServices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadServices")
            .field("stager", &self.stager.is_some())
            .field("parse_cache", &self.parse_cache.is_some())
            .finish()
    }
}

/// What the command line says about loading.
#[derive(Clone, Debug, Default)]
pub struct LoadSettings {
    /// `-C DIR`; otherwise the current directory and its parents are searched.
    pub directory: Option<PathBuf>,
    /// `-o NAME VALUE`, in order.
    pub options: Vec<(String, String)>,
    /// The `max-jobs` variable; the CPU count capped at 8 when unset.
    pub max_jobs: Option<usize>,
    /// The user configuration file (`--config`), which may replace the
    /// project's mirrors and choose the default mirror.
    pub user_config: Option<PathBuf>,
    /// What the front end lends loading.
    pub services: LoadServices,
}

/// Where refs are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefStorage {
    /// In the element files.
    Inline,
    /// In `project.refs`.
    ProjectRefs,
}

/// A mirror: for each alias, URL prefixes to try before upstream.
#[derive(Clone, Debug)]
pub struct Mirror {
    /// The mirror's name (for `--default-mirror`).
    pub name: String,
    /// alias → URL prefixes.
    pub aliases: IndexMap<String, Vec<String>>,
}

/// Why URLs are wanted: the order differs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UrlPurpose {
    /// Fetching pinned bytes: mirrors first.
    Fetch,
    /// Asking for the newest pin: upstream first.
    Track,
}

/// What every element of one kind starts from: the project's values
/// composed with the kind's defaults and the project's per-kind overrides.
#[derive(Clone, Debug)]
pub struct KindBase {
    /// Unresolved variables.
    pub variables: Node,
    /// Unresolved environment.
    pub environment: Node,
    /// Environment variables kept out of cache keys.
    pub env_nocache: Vec<String>,
    /// Default configuration.
    pub config: Node,
    /// Split rules (public `bst.split-rules`).
    pub split_rules: Node,
    /// Sandbox settings.
    pub sandbox: Node,
    /// The variables the split rules refer to.
    pub split_rule_variables: Vec<String>,
    /// `variables`, resolved once for all the kind's elements.
    prepared: std::sync::OnceLock<Option<Arc<crate::variables::BaseVariables>>>,
}

impl KindBase {
    /// The base variables prepared for elements to lay theirs over
    /// (`None` when one is not a string: elements take the general path).
    pub fn prepared_variables(&self) -> Option<&Arc<crate::variables::BaseVariables>> {
        self.prepared
            .get_or_init(|| crate::variables::BaseVariables::prepare(self.variables.as_map()?).map(Arc::new))
            .as_ref()
    }
}

pub use crate::junctions::JunctionInfo;

/// A loaded project.conf.
pub struct Project {
    /// The directory holding project.conf.
    pub dir: PathBuf,
    /// The project name.
    pub name: String,
    /// The element directory, absolute.
    pub element_path: PathBuf,
    /// The element directory as written, relative to `dir` (`.` for the root).
    pub element_path_display: String,
    /// Where refs are kept.
    pub ref_storage: RefStorage,
    /// URL aliases, values expanded.
    pub aliases: IndexMap<String, String>,
    /// Declared mirrors, in order (the user configuration's, if it has any
    /// for this project).
    pub mirrors: Vec<Mirror>,
    /// The mirror the user configuration asks to try first.
    pub default_mirror: Option<String>,
    /// The PEP 691 index that buildstream-plugins-community `pypi` sources
    /// are tracked against (the user configuration's `pypi-index`; the
    /// plugin asks https://pypi.org/simple/).
    pub pypi_index: Option<String>,
    /// Options and their values.
    pub options: OptionPool,
    /// Warnings that are errors.
    pub fatal_warnings: Vec<String>,
    /// The attributes a source's `provenance:` may give: BuildStream's
    /// `homepage` and `issue-tracker`, and those the project declares
    /// (`source-provenance-attributes`).
    pub provenance_attributes: Vec<String>,
    /// `defaults: targets:`.
    pub default_targets: Vec<String>,
    /// `sources: <kind>: config:` overrides.
    pub source_overrides: Mapping,
    /// The kinds this project can use, after its plugin declarations.
    pub kinds: ProjectKinds,
    /// Every kind forge implements (subprojects choose their own).
    pub registry: KindRegistry,
    /// Pins from `project.refs` (with `ref-storage: project.refs`).
    pub refs: crate::refs::Refs,
    /// Open workspaces (`.forge/workspaces.yml`; the top-level project's
    /// only, as in BuildStream: subprojects' elements are named in it).
    pub workspaces: crate::workspaces::Workspaces,
    kind_bases: HashMap<String, OnceLock<Result<Arc<KindBase>, LoadError>>>,
    /// What kind bases are made from: the project's values, and the
    /// first-pass ones junctions see.
    base_layers: [KindBase; 2],
    /// The per-kind overrides of project.conf (`elements:`).
    overrides: Mapping,
    includes: IncludeCache,
    warnings: Mutex<Vec<String>>,
    /// Where this project sits in the tree of projects: its junction and
    /// what the junction says about it (empty for the top-level project).
    pub junction: Option<JunctionInfo>,
    /// The prefix of this project's element names in the graph: empty at
    /// the top, `junction.bst:` (and so on down) in subprojects.
    pub prefix: String,
    /// `junctions: internal:` of project.conf (junction paths).
    pub internal_junctions: Vec<String>,
    /// `junctions: duplicates:` of project.conf: project name → junction paths.
    pub duplicate_junctions: IndexMap<String, Vec<String>>,
    /// `junctions: disallow-subproject-uris:` here or in a project above:
    /// every alias a subproject uses must be mapped to one of its parent's.
    pub disallow_subproject_uris: bool,
    /// Subprojects loaded so far, by junction element (local name).
    subprojects: Mutex<HashMap<String, Arc<Project>>>,
    /// How junction sources are staged (set by the front end; without one,
    /// only junctions of one local directory load).
    pub(crate) stager: Option<Arc<dyn crate::junctions::JunctionStager>>,
    /// Where parsed element files are kept between runs (set by the front
    /// end; without one, every file is parsed).
    parse_cache: Option<Arc<crate::parsecache::ParseCache>>,
    /// Every project loaded in this tree, shared from the top.
    tree: Arc<crate::junctions::ProjectTree>,
    /// How this project was loaded (for its subprojects).
    settings: LoadSettings,
    /// The project's variables, unresolved (files included from this
    /// project by a parent are expanded with them).
    base_variables: Mapping,
    shared_public: Mutex<HashMap<(String, String), Arc<Node>>>,
}

/// Parsed include files, shared by every element that includes them.
#[derive(Default)]
struct IncludeCache {
    dir: PathBuf,
    /// Put before file names in messages (`junction.bst:` in subprojects).
    label: String,
    files: Mutex<HashMap<String, Arc<Node>>>,
}

impl IncludeCache {
    fn load(&self, path: &str, at: &Span) -> Result<Node, LoadError> {
        if let Some(node) = self
            .files
            .lock()
            .map_err(|_| LoadError::new("include cache poisoned"))?
            .get(path)
        {
            return Ok(Node::clone(node));
        }
        let relative = Path::new(path);
        if relative.is_absolute() || relative.components().any(|c| matches!(c, Component::ParentDir)) {
            return Err(
                LoadError::at(at, format!("include '{path}' must be a path inside the project"))
                    .with_hint("(@) paths are relative to the project directory and may not use '..'"),
            );
        }
        let text =
            crate::error::read_text(&self.dir.join(relative), &format!("{}{path}", self.label)).map_err(|e| {
                LoadError::at(at, format!("cannot read included file '{path}': {e}"))
                    .with_hint("(@) paths are relative to the project directory, not to the including file")
            })??;
        let node = Arc::new(parse_str(&format!("{}{path}", self.label), &text)?);
        let mut files = self
            .files
            .lock()
            .map_err(|_| LoadError::new("include cache poisoned"))?;
        files.insert(path.to_string(), node.clone());
        Ok(Node::clone(&node))
    }
}

/// `junction.bst:path`: the junction and the path in its subproject.
fn junction_part(path: &str) -> Option<(&str, &str)> {
    let at = path.find(".bst:")?;
    Some((&path[..at + 4], &path[at + 5..]))
}

/// What project.conf says before its includes: the keys that must be
/// in the file itself.
struct ConfHeader {
    conf_file: String,
    whole_file: Span,
    name: String,
    element_path: PathBuf,
    element_path_display: String,
    /// Put before file names in messages (`junction.bst:` in subprojects).
    label: String,
}

/// Where a subproject sits in the tree of projects.
pub(crate) struct Place {
    pub info: JunctionInfo,
    /// `junction.bst:` (and so on down).
    pub prefix: String,
    pub tree: Arc<crate::junctions::ProjectTree>,
}

/// How `(@)` treats `junction.bst:file` includes.
enum JunctionFiles<'a> {
    /// project.conf's first pass leaves them out (and notes it did).
    Skip(Mutex<bool>),
    /// Included from the subprojects of this project.
    From(&'a Arc<Project>),
}

impl JunctionFiles<'_> {
    fn skipped(&self) -> bool {
        match self {
            JunctionFiles::Skip(seen) => *seen.lock().unwrap_or_else(|e| e.into_inner()),
            JunctionFiles::From(_) => false,
        }
    }
}

struct ProjectDirectives<'a> {
    includes: &'a IncludeCache,
    options: Option<&'a OptionPool>,
    junction_files: &'a JunctionFiles<'a>,
    /// Where each file included so far was included from.
    included_from: Mutex<Vec<(String, Span)>>,
}

impl<'a> ProjectDirectives<'a> {
    fn new(
        includes: &'a IncludeCache,
        options: Option<&'a OptionPool>,
        junction_files: &'a JunctionFiles<'a>,
    ) -> ProjectDirectives<'a> {
        ProjectDirectives {
            includes,
            options,
            junction_files,
            included_from: Mutex::default(),
        }
    }

    /// Adds to an error in an included file the lines that included it.
    fn explain(&self, mut err: LoadError) -> LoadError {
        let recorded = self.included_from.lock().unwrap_or_else(|e| e.into_inner());
        let mut file = err.span.as_ref().map(|s| s.file.to_string());
        let mut seen = 0;
        while let Some(current) = file.take() {
            let Some((_, at)) = recorded.iter().find(|(path, _)| *path == current) else {
                break;
            };
            err = err.with_detail(format!("included from {at}"));
            file = Some(at.file.to_string());
            seen += 1;
            if seen > recorded.len() {
                break;
            }
        }
        err
    }
}

impl DirectiveContext for ProjectDirectives<'_> {
    fn include(&self, path: &str, at: &Span) -> Result<Node, LoadError> {
        let node = match (junction_part(path), self.junction_files) {
            (Some((junction, rest)), JunctionFiles::From(project)) => {
                project.subproject(junction, Some(at))?.include_file(rest, at)?
            }
            (Some(_), JunctionFiles::Skip(seen)) => {
                *seen.lock().unwrap_or_else(|e| e.into_inner()) = true;
                return Ok(Node::map(at.clone()));
            }
            (None, _) => self.includes.load(path, at)?,
        };
        let mut recorded = self.included_from.lock().unwrap_or_else(|e| e.into_inner());
        if !recorded.iter().any(|(p, _)| p == path) {
            recorded.push((path.to_string(), at.clone()));
        }
        Ok(node)
    }
    fn option(&self, name: &str) -> Option<ExprValue> {
        self.options.and_then(|o| o.lookup(name))
    }
}

/// Finds the directory holding project.conf: `start` or one of its parents.
pub fn find_project_dir(start: &Path) -> Result<PathBuf, LoadError> {
    let mut dir = Some(start);
    while let Some(candidate) = dir {
        if candidate.join("project.conf").is_file() {
            return Ok(candidate.to_path_buf());
        }
        // A workspace directory outside its project names the project.
        if let Some(project) = crate::workspaces::marked_project(candidate)
            && project.join("project.conf").is_file()
        {
            return Ok(project);
        }
        dir = candidate.parent();
    }
    Err(LoadError::new(format!(
        "no project.conf found in {} or any directory above it",
        start.display()
    ))
    .with_hint("run forge inside a project, or name one with -C DIR; `forge init` starts a new one here"))
}

fn str_value<'a>(map: &'a Mapping, key: &str) -> Result<Option<&'a str>, LoadError> {
    match map.get(key) {
        None => Ok(None),
        Some(node) => node.as_str().map(Some).ok_or_else(|| {
            LoadError::at(
                &node.span,
                format!("'{key}' must be a string, not {}", node.type_name()),
            )
        }),
    }
}

pub(crate) fn str_list(node: &Node, what: &str) -> Result<Vec<String>, LoadError> {
    let items = node
        .as_list()
        .ok_or_else(|| LoadError::at(&node.span, format!("'{what}' must be a list, not {}", node.type_name())))?;
    items
        .iter()
        .map(|i| {
            i.as_str()
                .map(str::to_string)
                .ok_or_else(|| LoadError::at(&i.span, format!("'{what}' must be a list of strings")))
        })
        .collect()
}

fn mapping_or_empty(map: &Mapping, key: &str, span: &Span) -> Result<Node, LoadError> {
    match map.get(key) {
        None => Ok(Node::map(span.clone())),
        Some(node) if node.as_map().is_some() => Ok(node.clone()),
        Some(node) => Err(LoadError::at(
            &node.span,
            format!("'{key}' must be a mapping, not {}", node.type_name()),
        )),
    }
}

fn mapping_override(node: Option<Node>, key: &str, span: &Span) -> Result<Node, LoadError> {
    match node {
        None => Ok(Node::map(span.clone())),
        Some(node) if node.as_map().is_some() => Ok(node),
        Some(node) => Err(LoadError::at(
            &node.span,
            format!("'{key}' must be a mapping, not {}", node.type_name()),
        )),
    }
}

fn is_symbol_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '-')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

impl Project {
    /// Loads the project that `settings` point at.
    pub fn load(settings: &LoadSettings, registry: KindRegistry) -> Result<Project, LoadError> {
        let dir = Project::find_dir(settings)?;
        let conf = dir.join("project.conf");
        let text = crate::error::read_text(&conf, "project.conf")
            .map_err(|e| LoadError::new(format!("cannot read {}: {e}", conf.display())))??;
        Project::from_text(dir, &text, settings, registry)
    }

    /// The directory of the project that `settings` point at.
    pub fn find_dir(settings: &LoadSettings) -> Result<PathBuf, LoadError> {
        let start = match &settings.directory {
            Some(dir) => dir.clone(),
            None => std::env::current_dir()
                .map_err(|e| LoadError::new(format!("cannot read the current directory: {e}")))?,
        };
        if settings.directory.is_some() {
            if !start.join("project.conf").is_file() {
                return Err(LoadError::new(format!("no project.conf in {}", start.display()))
                    .with_hint("-C names the directory that holds project.conf"));
            }
            Ok(start)
        } else {
            find_project_dir(&start)
        }
    }

    /// Loads a project from the text of its project.conf.
    pub fn from_text(
        dir: PathBuf,
        text: &str,
        settings: &LoadSettings,
        registry: KindRegistry,
    ) -> Result<Project, LoadError> {
        Project::from_text_in(dir, text, settings, registry, None)
    }

    /// [`Project::from_text`] for a subproject: `place` says where it sits
    /// (its junction, the prefix of its names, which is also put before
    /// file names in messages, and the tree it belongs to).
    pub(crate) fn load_subproject_conf(
        dir: PathBuf,
        text: &str,
        settings: &LoadSettings,
        registry: KindRegistry,
        place: Place,
    ) -> Result<Project, LoadError> {
        Project::from_text_in(dir, text, settings, registry, Some(place))
    }

    fn from_text_in(
        dir: PathBuf,
        text: &str,
        settings: &LoadSettings,
        registry: KindRegistry,
        place: Option<Place>,
    ) -> Result<Project, LoadError> {
        let label = place.as_ref().map(|p| p.prefix.clone()).unwrap_or_default();
        let conf_file = format!("{label}project.conf");
        let conf = parse_str(&conf_file, text)?;
        let conf_map = conf.as_map().expect("parse_str returns mappings");
        check_keys(conf_map, &[PROJECT_KEYS, &["(@)", "(?)"]].concat(), "project.conf")?;
        let whole_file = Span {
            file: conf_file.as_str().into(),
            line: 1,
            col: 1,
            start: 0,
            end: 0,
        };

        // Keys that must come from project.conf itself, not an include.
        let name = str_value(conf_map, "name")?
            .ok_or_else(|| {
                LoadError::at(&whole_file, "project.conf has no 'name'").with_hint("add `name: my-project`")
            })?
            .to_string();
        if !is_symbol_name(&name) {
            let span = &conf_map.get("name").expect("present").span;
            return Err(LoadError::at(span, format!("invalid project name '{name}'"))
                .with_hint("use letters, digits, '_' and '-', not starting with a digit"));
        }
        check_min_version(conf_map, &whole_file)?;
        let element_path_display = str_value(conf_map, "element-path")?.unwrap_or(".").to_string();
        let element_path = check_element_path(&dir, conf_map, &element_path_display)?;
        let header = ConfHeader {
            conf_file,
            whole_file,
            name,
            element_path,
            element_path_display,
            label,
        };

        // As BuildStream, the project loads without the files it includes
        // from junctions first: its junctions load with what that gives.
        // When project.conf includes such files, it loads again with them,
        // keeping the subprojects the first pass loaded.
        let (project, skipped) = Project::from_conf(&dir, conf.clone(), &header, settings, &registry, place, None)?;
        if !skipped {
            return Ok(project);
        }
        let first_pass = Arc::new(project);
        let place = first_pass.junction.as_ref().map(|info| Place {
            info: info.clone(),
            prefix: first_pass.prefix.clone(),
            tree: first_pass.tree.clone(),
        });
        let (mut project, _) = Project::from_conf(&dir, conf, &header, settings, &registry, place, Some(&first_pass))?;
        project.tree = first_pass.tree.clone();
        *project.subprojects.get_mut().unwrap_or_else(|e| e.into_inner()) =
            first_pass.subprojects.lock().unwrap_or_else(|e| e.into_inner()).clone();
        for line in first_pass.take_warnings() {
            let warnings = project.warnings.get_mut().unwrap_or_else(|e| e.into_inner());
            if !warnings.contains(&line) {
                warnings.push(line);
            }
        }
        Ok(project)
    }

    /// One pass over project.conf: with the files it includes from
    /// junctions when `first_pass` (the project as loaded without them)
    /// is given, else skipping them (the flag says whether any were).
    fn from_conf(
        dir: &Path,
        mut conf: Node,
        header: &ConfHeader,
        settings: &LoadSettings,
        registry: &KindRegistry,
        place: Option<Place>,
        first_pass: Option<&Arc<Project>>,
    ) -> Result<(Project, bool), LoadError> {
        let dir = dir.to_path_buf();
        let registry = registry.clone();
        let (conf_file, whole_file, name) = (header.conf_file.as_str(), &header.whole_file, header.name.clone());
        let (element_path, element_path_display) = (header.element_path.clone(), header.element_path_display.clone());
        let junction_files = match first_pass {
            Some(project) => JunctionFiles::From(project),
            None => JunctionFiles::Skip(Mutex::new(false)),
        };

        // Includes of project.conf first, then the result over the
        // built-in defaults. Conditions need the options, which may come
        // from an include, so they wait for the second round.
        let includes = IncludeCache {
            dir: dir.clone(),
            label: header.label.clone(),
            files: Mutex::default(),
        };
        let first_round = ProjectDirectives::new(&includes, None, &junction_files);
        directives::process_includes(&mut conf, &first_round).map_err(|e| first_round.explain(e))?;
        let skipped = junction_files.skipped();
        for key in ["name", "min-version", "element-path", "plugins"] {
            let from_file = |node: &Node| {
                node.as_map()
                    .and_then(|m| m.get_entry(key))
                    .map(|(k, _)| k.span.file.clone())
            };
            if let Some(file) = from_file(&conf)
                && file.as_ref() != conf_file
            {
                let span = conf
                    .as_map()
                    .and_then(|m| m.get_entry(key))
                    .map(|(k, _)| k.span.clone())
                    .expect("present");
                return Err(LoadError::at(
                    &span,
                    format!("'{key}' must be set in project.conf itself, not in an include"),
                ));
            }
        }
        let mut config = parse_str(DEFAULTS_FILE, DEFAULTS)?;
        compose(&mut config, conf)?;
        let declarations = crate::plugins::load(config.as_map().expect("mapping"), &dir, &element_path)?;
        let kinds = registry.for_project(&declarations)?;

        let declarations = mapping_or_empty(config.as_map().expect("mapping"), "options", whole_file)?;
        let element_dir = element_path.clone();
        let element_exists = move |e: &str| element_dir.join(e).is_file();
        let mut options = OptionPool::load(declarations.as_map().expect("mapping"), &element_exists)?;
        for (name, value) in &settings.options {
            // Options declared in a file of a junction are not known yet.
            if skipped && !options.declares(name) {
                continue;
            }
            options.set_from_cli(name, value)?;
        }
        options.check_host_defaults()?;
        check_unconditional(&config)?;
        let second_round = ProjectDirectives::new(&includes, Some(&options), &junction_files);
        directives::process(&mut config, &second_round).map_err(|e| second_round.explain(e))?;
        let skipped = skipped || junction_files.skipped();
        // Per-kind overrides are composed over kind defaults later: their
        // list directives have not met their lists yet.
        let config_map = config.as_map_mut().expect("mapping");
        let element_overrides = config_map.remove("elements").map(|(_, n)| n);
        let source_overrides = config_map.remove("sources").map(|(_, n)| n);
        finish(&mut config)?;
        let map = config.as_map().expect("mapping");

        // Variables every element starts from.
        let mut variables = mapping_or_empty(map, "variables", whole_file)?;
        let vars = variables.as_map_mut().expect("mapping");
        check_protected(vars)?;
        let synthetic = Span::synthetic("<forge>");
        let max_jobs = settings.max_jobs.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
                .min(8)
        });
        vars.insert_str_key("project-name", Node::string(name.clone(), synthetic.clone()));
        vars.insert_str_key("max-jobs", Node::string(max_jobs.to_string(), synthetic.clone()));
        for (variable, value) in options.exported_variables() {
            vars.insert_str_key(&variable, Node::string(value, synthetic.clone()));
        }

        let ref_storage = match str_value(map, "ref-storage")? {
            Some("inline") | None => RefStorage::Inline,
            Some("project.refs") => RefStorage::ProjectRefs,
            Some(other) => {
                let span = &map.get("ref-storage").expect("present").span;
                return Err(LoadError::at(span, format!("invalid ref-storage '{other}'"))
                    .with_hint("use 'inline' or 'project.refs'"));
            }
        };

        let refs = match ref_storage {
            RefStorage::ProjectRefs => crate::refs::load(&dir, &name)?,
            RefStorage::Inline => crate::refs::Refs::new(),
        };
        let root_vars = alias_variables(&dir, vars);
        let wanted: Vec<&Node> = ["aliases", "mirrors"].iter().filter_map(|k| map.get(k)).collect();
        let project_vars = Variables::resolve_needed(&root_vars, &wanted)?;
        let aliases = load_aliases(map, &project_vars)?;
        let mut mirrors = load_mirrors(map, &project_vars)?;
        let mut default_mirror = None;
        let mut pypi_index = None;
        if let Some(path) = &settings.user_config {
            let user = load_user_config(path, &name, &root_vars)?;
            if let Some(user_mirrors) = user.mirrors {
                mirrors = user_mirrors;
            }
            default_mirror = user.default_mirror;
            pypi_index = user.pypi_index;
        }

        let fatal_warnings = match map.get("fatal-warnings") {
            Some(node) => str_list(node, "fatal-warnings")?,
            None => Vec::new(),
        };
        let mut provenance_attributes = vec!["homepage".to_string(), "issue-tracker".to_string()];
        if let Some(declared) = mapping_or_empty(map, "source-provenance-attributes", whole_file)?.as_map() {
            for (key, description) in declared.iter() {
                let name = &key.name;
                if description.as_str().is_none() {
                    return Err(LoadError::at(
                        &description.span,
                        format!("the description of provenance attribute '{name}' must be a string"),
                    ));
                }
                if !provenance_attributes.contains(name) {
                    provenance_attributes.push(name.clone());
                }
            }
        }
        let default_targets = match map.get("defaults").and_then(|d| d.as_map()) {
            Some(defaults) => {
                check_keys(defaults, &["targets"], "'defaults'")?;
                match defaults.get("targets") {
                    Some(t) => str_list(t, "targets")?,
                    None => Vec::new(),
                }
            }
            None => Vec::new(),
        };

        let (internal_junctions, duplicate_junctions, disallow) = load_junction_settings(map)?;
        // A parent that disallows subproject URIs does so for the whole
        // tree below it, and makes unaliased URLs errors there.
        let inherited = place.as_ref().is_some_and(|p| p.info.parent.disallow_subproject_uris);
        let disallow_subproject_uris = disallow || inherited;
        let mut fatal_warnings = fatal_warnings;
        if inherited && !fatal_warnings.iter().any(|w| w == "unaliased-url") {
            fatal_warnings.push("unaliased-url".to_string());
        }

        let environment = mapping_or_empty(map, "environment", whole_file)?;
        let env_nocache = match map.get("environment-nocache") {
            Some(node) => str_list(node, "environment-nocache")?,
            None => Vec::new(),
        };
        let split_rules = mapping_or_empty(map, "split-rules", whole_file)?;
        let sandbox = mapping_or_empty(map, "sandbox", whole_file)?;
        check_keys(sandbox.as_map().expect("mapping"), SANDBOX_KEYS, "'sandbox'")?;
        let element_overrides = mapping_override(element_overrides, "elements", whole_file)?;
        let source_overrides = mapping_override(source_overrides, "sources", whole_file)?;
        // Overrides for kinds no element uses are read but never applied,
        // as in BuildStream.
        for (kind, over) in source_overrides.as_map().expect("mapping").iter() {
            let over_map = over
                .as_map()
                .ok_or_else(|| LoadError::at(&over.span, "a source override must be a mapping"))?;
            check_keys(over_map, &["config"], &format!("'sources: {}'", kind.name))?;
        }

        let base_variables = variables.as_map().expect("mapping").clone();
        let project_base = KindBase {
            variables,
            environment,
            env_nocache,
            config: Node::map(synthetic.clone()),
            split_rules,
            sandbox,
            split_rule_variables: Vec::new(),
            prepared: Default::default(),
        };
        let overrides = element_overrides.as_map().expect("mapping");
        for (kind, over) in overrides.iter() {
            let over_map = over
                .as_map()
                .ok_or_else(|| LoadError::at(&over.span, "an element override must be a mapping"))?;
            check_keys(over_map, KIND_OVERRIDE_KEYS, &format!("'elements: {}'", kind.name))?;
            if let Some(vars) = over_map.get("variables").and_then(Node::as_map) {
                check_protected(vars)?;
            }
        }
        // Junctions load in BuildStream's first pass, before the project's
        // environment, sandbox and split rules exist: they see none of them.
        let first_pass_base = KindBase {
            variables: project_base.variables.clone(),
            environment: Node::map(synthetic.clone()),
            env_nocache: Vec::new(),
            config: Node::map(synthetic.clone()),
            split_rules: Node::map(synthetic.clone()),
            sandbox: Node::map(synthetic.clone()),
            split_rule_variables: Vec::new(),
            prepared: Default::default(),
        };
        // Each kind's base is made when an element first uses it, as
        // BuildStream reads a plugin's defaults when it first loads it.
        let kind_bases = kinds
            .element_kinds()
            .map(|(name, _)| (name.to_string(), OnceLock::new()))
            .collect();
        let overrides = overrides.clone();

        let (junction, prefix, tree) = match place {
            Some(place) => (Some(place.info), place.prefix, place.tree),
            None => (None, String::new(), Arc::default()),
        };
        let workspaces = if junction.is_none() {
            crate::workspaces::Workspaces::load(&dir)?
        } else {
            crate::workspaces::Workspaces::default()
        };
        let project = Project {
            dir,
            name,
            element_path,
            element_path_display,
            ref_storage,
            aliases,
            mirrors,
            default_mirror,
            pypi_index,
            options,
            fatal_warnings,
            provenance_attributes,
            default_targets,
            source_overrides: source_overrides.as_map().expect("mapping").clone(),
            kinds,
            registry,
            refs,
            workspaces,
            kind_bases,
            base_layers: [project_base, first_pass_base],
            overrides,
            includes,
            warnings: Mutex::default(),
            junction,
            prefix,
            settings: settings.clone(),
            base_variables,
            internal_junctions,
            duplicate_junctions,
            disallow_subproject_uris,
            subprojects: Mutex::default(),
            stager: settings.services.stager.clone(),
            parse_cache: settings.services.parse_cache.clone(),
            tree,
            shared_public: Mutex::default(),
        };
        Ok((project, skipped))
    }

    /// Reports a BuildStream warning: an error when project.conf lists
    /// its token under `fatal-warnings`, else kept for
    /// [`Project::take_warnings`]. Each message is kept once.
    pub fn warn(&self, token: &str, span: &Span, message: String) -> Result<(), LoadError> {
        if self.fatal_warnings.iter().any(|w| w == token) {
            return Err(LoadError::at(span, message).with_hint(format!(
                "project.conf lists '{token}' under fatal-warnings, which makes this an error"
            )));
        }
        let line = format!("{span}: [{token}] {message}");
        let mut warnings = self.warnings.lock().unwrap_or_else(|e| e.into_inner());
        if !warnings.contains(&line) {
            warnings.push(line);
        }
        Ok(())
    }

    /// The warnings reported while loading, in order, once each.
    pub fn take_warnings(&self) -> Vec<String> {
        std::mem::take(&mut *self.warnings.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// The base for elements of `kind` (`None` for a kind the project
    /// does not have).
    pub fn kind_base(&self, kind: &str) -> Option<Result<&Arc<KindBase>, LoadError>> {
        let slot = self.kind_bases.get(kind)?;
        let element_kind = self.kinds.element(kind)?;
        let made = slot.get_or_init(|| {
            let layer = &self.base_layers[usize::from(element_kind.first_pass())];
            kind_base(layer, kind, element_kind.as_ref(), self.overrides.get(kind)).map(Arc::new)
        });
        Some(made.as_ref().map_err(Clone::clone))
    }

    /// The public data of elements of `kind` whose split-rule variables
    /// have the values in `signature`, made by `make` the first time.
    pub(crate) fn shared_public(
        &self,
        kind: &str,
        signature: &str,
        make: impl FnOnce() -> Result<Node, LoadError>,
    ) -> Result<Arc<Node>, LoadError> {
        let key = (kind.to_string(), signature.to_string());
        if let Some(public) = self.shared_public.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
            return Ok(public.clone());
        }
        let public = Arc::new(make()?);
        self.shared_public
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, public.clone());
        Ok(public)
    }

    /// Processes an element's directives; `body` then resolves it, and an
    /// error either raises in an included file also names the lines that
    /// included it.
    pub(crate) fn with_directives<T>(
        self: &Arc<Self>,
        node: &mut Node,
        body: impl FnOnce(&mut Node) -> Result<T, LoadError>,
    ) -> Result<T, LoadError> {
        let junction_files = JunctionFiles::From(self);
        let ctx = ProjectDirectives::new(&self.includes, Some(&self.options), &junction_files);
        directives::process(node, &ctx)
            .and_then(|()| body(node))
            .map_err(|e| ctx.explain(e))
    }

    /// The file name of element `name` (local to this project) as shown
    /// in messages: under the element path, behind the junction in
    /// subprojects.
    pub fn element_display_path(&self, name: &str) -> String {
        if self.element_path_display == "." || self.element_path_display.is_empty() {
            format!("{}{name}", self.prefix)
        } else {
            format!(
                "{}{}/{name}",
                self.prefix,
                self.element_path_display.trim_end_matches('/')
            )
        }
    }

    /// A file of this project for an include from a parent: its own
    /// directives (includes, conditions on this project's options) done.
    /// As in BuildStream, the `%{variables}` of the file itself (not of
    /// the files it includes) are expanded with this project's variables,
    /// before its directives.
    fn include_file(self: &Arc<Self>, path: &str, at: &Span) -> Result<Node, LoadError> {
        if let Some((junction, rest)) = junction_part(path) {
            return self.subproject(junction, Some(at))?.include_file(rest, at);
        }
        let mut node = self.includes.load(path, at)?;
        Variables::resolve_needed(&self.base_variables, &[&node])?.expand_node(&mut node)?;
        let junction_files = JunctionFiles::From(self);
        let ctx = ProjectDirectives::new(&self.includes, Some(&self.options), &junction_files);
        directives::process(&mut node, &ctx).map_err(|e| ctx.explain(e))?;
        Ok(node)
    }

    /// This project loaded again from its files, as it was first loaded
    /// (after a command changed them); the front end attaches its caches
    /// again.
    pub fn reload(&self) -> Result<Project, LoadError> {
        Project::load(&self.settings, self.registry.clone())
    }

    /// Parses an element file: from the parse cache when there is one.
    pub fn parse_element_file(&self, file: &str, text: &str) -> Result<Node, forge_yaml::YamlError> {
        match &self.parse_cache {
            Some(cache) => cache.parse(file, text),
            None => parse_str(file, text),
        }
    }

    /// The subproject of the junction element `junction` (a name local to
    /// this project), loaded on first use: its sources staged, its
    /// project.conf loaded with the options the junction passes.
    pub fn subproject(self: &Arc<Self>, junction: &str, from: Option<&Span>) -> Result<Arc<Project>, LoadError> {
        let mut subprojects = self.subprojects.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(sub) = subprojects.get(junction) {
            return Ok(sub.clone());
        }
        let text = crate::graph::read_element(self, junction, from)?;
        let element = crate::element::load_element(self, junction, &text)?;
        // A link to a junction stands for that junction's subproject.
        if let Some(target) = &element.link {
            let mut project = self.clone();
            for part in target[self.prefix.len()..].split(':') {
                project = project.subproject(part, from)?;
            }
            subprojects.insert(junction.to_string(), project.clone());
            return Ok(project);
        }
        let sub = Arc::new(crate::junctions::load_subproject(self, element, from)?);
        self.tree.register(&sub)?;
        subprojects.insert(junction.to_string(), sub.clone());
        Ok(sub)
    }

    /// The settings the top level was loaded with, for subprojects.
    pub(crate) fn settings(&self) -> &LoadSettings {
        &self.settings
    }

    /// Every project loaded in this tree, shared from the top.
    pub(crate) fn tree(&self) -> &Arc<crate::junctions::ProjectTree> {
        &self.tree
    }

    /// Checks that `url` uses a declared alias (or none).
    pub fn check_url_alias(&self, url: &str, span: &Span) -> Result<(), LoadError> {
        if let (Some(alias), Some(info)) = (url_alias(url), &self.junction) {
            let rest = &url[alias.len() + 1..];
            match info.parent_alias(alias) {
                Some(parent_alias) => {
                    return info
                        .parent
                        .check_url_alias(&format!("{parent_alias}:{rest}"), span)
                        .map_err(|_| {
                            LoadError::at(
                                span,
                                format!(
                                    "the junction {} maps the alias '{alias}' to '{parent_alias}', which the project holding the junction does not declare",
                                    info.element
                                ),
                            )
                            .with_hint(format!(
                                "declare '{parent_alias}' under 'aliases:' of that project, or map '{alias}' to an alias it declares"
                            ))
                        });
                }
                None if info.parent.disallow_subproject_uris => {
                    return Err(LoadError::at(
                        span,
                        format!(
                            "the alias '{alias}' is not mapped by the junction {}, and its parent disallows unmapped aliases (junctions: disallow-subproject-uris)",
                            info.element
                        ),
                    )
                    .with_hint(format!(
                        "map it under 'config: aliases:' of {} (or set 'map-aliases: identity')",
                        info.element
                    )));
                }
                None => {}
            }
        }
        if let Some(alias) = url_alias(url)
            && !self.aliases.contains_key(alias)
        {
            let err = LoadError::at(span, format!("invalid alias '{alias}' in URL '{url}'"));
            let known: Vec<&str> = self.aliases.keys().map(String::as_str).collect();
            return Err(match crate::error::did_you_mean(alias, known.iter().copied()) {
                Some(near) => err.with_hint(format!("did you mean '{near}'?")),
                None => err.with_hint("declare it under 'aliases:' in project.conf"),
            });
        }
        Ok(())
    }

    /// The URLs to try for `url`, in order. Fetching asks the default
    /// mirror first (`default_mirror`, else the first declared), then the
    /// other mirrors in order, then upstream; tracking asks upstream first,
    /// then the mirrors in reverse, as BuildStream does.
    pub fn source_urls(&self, url: &str, purpose: UrlPurpose, default_mirror: Option<&str>) -> Vec<String> {
        let Some(alias) = url_alias(url) else {
            return vec![url.to_string()];
        };
        let rest = &url[alias.len() + 1..];
        // An alias the junction maps to one of the parent's is the parent's.
        if let Some(info) = &self.junction
            && let Some(parent_alias) = info.parent_alias(alias)
        {
            return info
                .parent
                .source_urls(&format!("{parent_alias}:{rest}"), purpose, default_mirror);
        }
        // Mirrors reach into subprojects: the mirrors of every project above
        // this one serve its aliases too, the top's first.
        let mut urls = Vec::new();
        let mut ancestors = Vec::new();
        let mut above = self.junction.as_ref().map(|j| j.parent.clone());
        while let Some(project) = above {
            above = project.junction.as_ref().map(|j| j.parent.clone());
            ancestors.push(project);
        }
        for project in ancestors.iter().rev() {
            urls.extend(project.mirror_urls(alias, rest, default_mirror));
        }
        urls.extend(self.mirror_urls(alias, rest, default_mirror));
        if let Some(value) = self.aliases.get(alias) {
            urls.push(format!("{value}{rest}"));
        }
        let mut seen = std::collections::HashSet::new();
        urls.retain(|u| seen.insert(u.clone()));
        if purpose == UrlPurpose::Track {
            urls.reverse();
        }
        urls
    }

    /// Which mirror, of this project or of one above it, gives the URL
    /// `served` for `url` (`mirror 'office' of project 'parent'`); `None`
    /// when upstream served it.
    pub fn mirror_serving(&self, url: &str, served: &str) -> Option<String> {
        let alias = url_alias(url)?;
        let rest = &url[alias.len() + 1..];
        if let Some(info) = &self.junction
            && let Some(parent_alias) = info.parent_alias(alias)
        {
            return info.parent.mirror_serving(&format!("{parent_alias}:{rest}"), served);
        }
        let mut project = Some(self);
        while let Some(current) = project {
            for mirror in &current.mirrors {
                let prefixes = mirror.aliases.get(alias).into_iter().flatten();
                if prefixes.into_iter().any(|p| format!("{p}{rest}") == served) {
                    return Some(format!("mirror '{}' of project '{}'", mirror.name, current.name));
                }
            }
            project = current.junction.as_ref().map(|j| j.parent.as_ref());
        }
        None
    }

    /// This project's mirror URLs for `alias`, the default mirror first.
    fn mirror_urls(&self, alias: &str, rest: &str, default_mirror: Option<&str>) -> Vec<String> {
        let mut order: Vec<&Mirror> = Vec::new();
        let default = default_mirror
            .and_then(|name| self.mirrors.iter().find(|m| m.name == name))
            .or_else(|| self.mirrors.first());
        if let Some(first) = default {
            order.push(first);
        }
        order.extend(
            self.mirrors
                .iter()
                .filter(|m| default.is_none_or(|d| !std::ptr::eq(*m, d))),
        );
        order
            .iter()
            .filter_map(|m| m.aliases.get(alias))
            .flat_map(|prefixes| prefixes.iter().map(|p| format!("{p}{rest}")))
            .collect()
    }

    /// The URL with its alias replaced by the alias's value (the parent's,
    /// for an alias the junction maps).
    pub fn translate_url(&self, url: &str) -> String {
        if let Some(alias) = url_alias(url)
            && let Some(info) = &self.junction
            && let Some(parent_alias) = info.parent_alias(alias)
        {
            return info
                .parent
                .translate_url(&format!("{parent_alias}:{}", &url[alias.len() + 1..]));
        }
        match url_alias(url).and_then(|a| self.aliases.get(a).map(|v| (a, v))) {
            Some((alias, value)) => format!("{value}{}", &url[alias.len() + 1..]),
            None => url.to_string(),
        }
    }
}

/// The keys a `sandbox:` mapping may hold.
pub(crate) const SANDBOX_KEYS: &[&str] = &["build-os", "build-arch", "build-uid", "build-gid", "remote-apis-socket"];

/// The alias part of `alias:rest`, unless it is a URL scheme.
pub fn url_alias(url: &str) -> Option<&str> {
    let (alias, _) = url.split_once(':')?;
    let scheme = alias.to_ascii_lowercase();
    if ["http", "https", "ftp", "file", "git", "sftp", "ssh"].contains(&scheme.as_str()) {
        return None;
    }
    Some(alias)
}

fn check_min_version(conf: &Mapping, whole_file: &Span) -> Result<(), LoadError> {
    let Some(node) = conf.get("min-version") else {
        return Err(LoadError::at(whole_file, "project.conf has no 'min-version'")
            .with_hint("forge reads BuildStream 2 projects: add `min-version: 2.0`"));
    };
    let text = node.as_str().unwrap_or("");
    let major = text.split('.').next().and_then(|m| m.parse::<u32>().ok());
    let minor_ok = text.split('.').nth(1).is_some_and(|m| m.parse::<u32>().is_ok());
    match major {
        Some(2) if minor_ok => Ok(()),
        Some(_) if minor_ok => Err(LoadError::at(&node.span, format!("unsupported min-version '{text}'"))
            .with_hint("forge reads BuildStream 2 projects (min-version 2.x)")),
        _ => Err(LoadError::at(&node.span, format!("invalid min-version '{text}'"))
            .with_hint("write it as MAJOR.MINOR, such as 2.0")),
    }
}

fn check_element_path(dir: &Path, conf: &Mapping, path: &str) -> Result<PathBuf, LoadError> {
    let span = conf
        .get("element-path")
        .map(|n| n.span.clone())
        .unwrap_or_else(|| Span::synthetic("project.conf"));
    let relative = Path::new(path);
    if relative.is_absolute() || relative.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(LoadError::at(
            &span,
            format!("element-path '{path}' must stay inside the project"),
        ));
    }
    let full = dir.join(relative);
    let meta = std::fs::symlink_metadata(&full)
        .map_err(|_| LoadError::at(&span, format!("element-path '{path}' does not exist")))?;
    if meta.file_type().is_symlink() {
        return Err(LoadError::at(
            &span,
            format!("element-path '{path}' must not be a symlink"),
        ));
    }
    if !meta.is_dir() {
        return Err(LoadError::at(
            &span,
            format!("element-path '{path}' is not a directory"),
        ));
    }
    Ok(full)
}

/// Junction paths a project lists under `junctions: internal:`, and under
/// `duplicates:` by project name, and `disallow-subproject-uris`.
type JunctionSettings = (Vec<String>, IndexMap<String, Vec<String>>, bool);

/// `junctions: {internal: [...], duplicates: {project: [...]}}`.
fn load_junction_settings(map: &Mapping) -> Result<JunctionSettings, LoadError> {
    let Some(node) = map.get("junctions") else {
        return Ok((Vec::new(), IndexMap::new(), false));
    };
    let junctions = node
        .as_map()
        .ok_or_else(|| LoadError::at(&node.span, "'junctions' must be a mapping"))?;
    check_keys(
        junctions,
        &["duplicates", "internal", "disallow-subproject-uris"],
        "'junctions'",
    )?;
    let internal = match junctions.get("internal") {
        Some(list) => str_list(list, "internal")?,
        None => Vec::new(),
    };
    let mut duplicates = IndexMap::new();
    if let Some(node) = junctions.get("duplicates") {
        let map = node
            .as_map()
            .ok_or_else(|| LoadError::at(&node.span, "'duplicates' maps project names to junctions"))?;
        for (project, list) in map.iter() {
            duplicates.insert(project.name.clone(), str_list(list, "duplicates")?);
        }
    }
    let disallow = match junctions.get("disallow-subproject-uris") {
        Some(node) => parse_bool(node, "disallow-subproject-uris")?,
        None => false,
    };
    Ok((internal, duplicates, disallow))
}

fn parse_bool(node: &Node, key: &str) -> Result<bool, LoadError> {
    match node.as_str() {
        Some("true" | "True" | "TRUE" | "yes" | "Yes" | "on" | "On") => Ok(true),
        Some("false" | "False" | "FALSE" | "no" | "No" | "off" | "Off") => Ok(false),
        _ => Err(LoadError::at(&node.span, format!("'{key}' must be True or False"))),
    }
}

/// project.conf keys that a top-level `(?)` may not set (BuildStream's
/// list): they must be known before options are.
const UNCONDITIONAL_KEYS: [&str; 9] = [
    "min-version",
    "name",
    "element-path",
    "junctions",
    "defaults",
    "fatal-warnings",
    "ref-storage",
    "options",
    "plugins",
];

fn check_unconditional(config: &Node) -> Result<(), LoadError> {
    let Some(conditions) = config.as_map().and_then(|m| m.get("(?)")).and_then(Node::as_list) else {
        return Ok(());
    };
    for fragment in conditions
        .iter()
        .filter_map(Node::as_map)
        .flat_map(|m| m.iter())
        .filter_map(|(_, v)| v.as_map())
    {
        for key in UNCONDITIONAL_KEYS {
            if let Some((written, _)) = fragment.get_entry(key) {
                return Err(LoadError::at(
                    &written.span,
                    format!("the '{key}' key cannot be specified conditionally"),
                )
                .with_hint("set it outside '(?)' in project.conf"));
            }
        }
    }
    Ok(())
}

/// Refuses a definition of a variable only forge may set.
pub(crate) fn check_protected(vars: &Mapping) -> Result<(), LoadError> {
    for protected in PROTECTED {
        if let Some((key, _)) = vars.get_entry(protected) {
            return Err(LoadError::at(
                &key.span,
                format!("invalid redefinition of protected variable '{protected}'"),
            )
            .with_hint("forge sets this variable itself"));
        }
    }
    Ok(())
}

/// Project variables plus the four root variables aliases may use.
fn alias_variables(dir: &Path, vars: &Mapping) -> Mapping {
    let mut all = vars.clone();
    let root = dir.display().to_string();
    let uri = format!("file://{root}");
    let synthetic = Span::synthetic("<forge>");
    for (name, value) in [
        ("project-root", &root),
        ("project-root-uri", &uri),
        ("toplevel-root", &root),
        ("toplevel-root-uri", &uri),
    ] {
        all.insert_str_key(name, Node::string(value.clone(), synthetic.clone()));
    }
    all
}

fn load_aliases(map: &Mapping, vars: &Variables) -> Result<IndexMap<String, String>, LoadError> {
    let mut aliases = IndexMap::new();
    if let Some(node) = map.get("aliases") {
        let alias_map = node
            .as_map()
            .ok_or_else(|| LoadError::at(&node.span, "'aliases' must be a mapping"))?;
        for (key, value) in alias_map.iter() {
            let text = value
                .as_str()
                .ok_or_else(|| LoadError::at(&value.span, "an alias value must be a URL string"))?;
            aliases.insert(key.name.clone(), vars.expand(text, &value.span)?);
        }
    }
    Ok(aliases)
}

/// Reads mirror declarations. A mirror may name aliases the project does
/// not declare (BuildStream accepts them: a user configuration shared by
/// several projects does that); they are simply never asked for.
fn load_mirrors(map: &Mapping, vars: &Variables) -> Result<Vec<Mirror>, LoadError> {
    let mut mirrors = Vec::new();
    let Some(node) = map.get("mirrors") else {
        return Ok(mirrors);
    };
    let items = node
        .as_list()
        .ok_or_else(|| LoadError::at(&node.span, "'mirrors' must be a list"))?;
    for item in items {
        let mirror = item
            .as_map()
            .ok_or_else(|| LoadError::at(&item.span, "a mirror must be a mapping"))?;
        check_keys(mirror, &["name", "aliases", "kind", "config"], "a mirror")?;
        let name = str_value(mirror, "name")?
            .ok_or_else(|| LoadError::at(&item.span, "a mirror needs a 'name'"))?
            .to_string();
        if let Some(kind) = mirror.get("kind") {
            return Err(LoadError::at(
                &kind.span,
                format!(
                    "mirror plugin kinds are not supported by forge: '{}'",
                    kind.as_str().unwrap_or("")
                ),
            )
            .with_hint("list the URLs per alias under 'aliases:'"));
        }
        let mut by_alias = IndexMap::new();
        if let Some(alias_node) = mirror.get("aliases") {
            let alias_map = alias_node
                .as_map()
                .ok_or_else(|| LoadError::at(&alias_node.span, "a mirror's 'aliases' must be a mapping"))?;
            for (alias, urls) in alias_map.iter() {
                let list = str_list(urls, "mirror URLs")?
                    .into_iter()
                    .map(|u| vars.expand(&u, &urls.span))
                    .collect::<Result<Vec<_>, _>>()?;
                by_alias.insert(alias.name.clone(), list);
            }
        }
        mirrors.push(Mirror {
            name,
            aliases: by_alias,
        });
    }
    Ok(mirrors)
}

struct UserProjectConfig {
    mirrors: Option<Vec<Mirror>>,
    default_mirror: Option<String>,
    pypi_index: Option<String>,
}

/// Reads this project's part of the user configuration:
/// `projects: <name>: {mirrors: [...], default-mirror: NAME}`.
fn load_user_config(path: &Path, project: &str, vars: &Mapping) -> Result<UserProjectConfig, LoadError> {
    let display = path.display().to_string();
    let text = crate::error::read_text(path, &display)
        .map_err(|e| LoadError::new(format!("cannot read the user configuration {display}: {e}")))??;
    let root = parse_str(&display, &text)?;
    let map = root.as_map().expect("mapping");
    // Remote caches, execution and the workspace directory are the front
    // end's (see forge-cli's remotes and workspace).
    check_keys(
        map,
        &[
            "projects",
            "pypi-index",
            "artifacts",
            "source-caches",
            "remote-execution",
            "workspacedir",
        ],
        "the user configuration",
    )?;
    let mut config = UserProjectConfig {
        mirrors: None,
        default_mirror: None,
        pypi_index: str_value(map, "pypi-index")?.map(str::to_string),
    };
    let Some(ours) = map.get("projects").and_then(Node::as_map).and_then(|p| p.get(project)) else {
        return Ok(config);
    };
    let ours_map = ours
        .as_map()
        .ok_or_else(|| LoadError::at(&ours.span, "a project's user configuration must be a mapping"))?;
    check_keys(
        ours_map,
        // Remote caches and execution are the front end's here too.
        &[
            "mirrors",
            "default-mirror",
            "artifacts",
            "source-caches",
            "remote-execution",
        ],
        &format!("the user configuration of '{project}'"),
    )?;
    if ours_map.contains_key("mirrors") {
        let wanted = [ours_map.get("mirrors").expect("present")];
        config.mirrors = Some(load_mirrors(ours_map, &Variables::resolve_needed(vars, &wanted)?)?);
    }
    config.default_mirror = str_value(ours_map, "default-mirror")?.map(str::to_string);
    Ok(config)
}

fn kind_base(
    project: &KindBase,
    name: &str,
    kind: &dyn ElementKind,
    over: Option<&Node>,
) -> Result<KindBase, LoadError> {
    let file = format!("<forge defaults>/{name}.yaml");
    let defaults = parse_str(&file, kind.defaults())?;
    let defaults = defaults.as_map().expect("mapping");
    let empty = Mapping::default();
    let over = over.and_then(Node::as_map).unwrap_or(&empty);
    let synthetic = Span::synthetic(&file);

    let layer = |base: &Node, key: &str| -> Result<Node, LoadError> {
        let mut node = base.clone();
        for source in [defaults, over] {
            if let Some(value) = source.get(key) {
                if value.as_map().is_none() {
                    return Err(LoadError::at(&value.span, format!("'{key}' must be a mapping")));
                }
                compose(&mut node, value.clone())?;
            }
        }
        Ok(node)
    };
    let variables = layer(&project.variables, "variables")?;
    let environment = layer(&project.environment, "environment")?;
    let sandbox = layer(&project.sandbox, "sandbox")?;
    let config = layer(&Node::map(synthetic.clone()), "config")?;
    let mut split_rules = project.split_rules.clone();
    for source in [defaults, over] {
        if let Some(rules) = source
            .get("public")
            .and_then(Node::as_map)
            .and_then(|p| p.get("bst"))
            .and_then(Node::as_map)
            .and_then(|b| b.get("split-rules"))
        {
            compose(&mut split_rules, rules.clone())?;
        }
    }
    // The kind's list, with the project's per-kind override composed on
    // it (it may append with `(>)`), joins the project's.
    let mut kind_nocache = Node::map(synthetic.clone());
    kind_nocache
        .as_map_mut()
        .expect("mapping")
        .insert_str_key("environment-nocache", Node::list(Vec::new(), synthetic.clone()));
    for source in [defaults, over] {
        if let Some(list) = source.get("environment-nocache") {
            let mut layer = Node::map(list.span.clone());
            layer
                .as_map_mut()
                .expect("mapping")
                .insert_str_key("environment-nocache", list.clone());
            compose(&mut kind_nocache, layer)?;
        }
    }
    finish(&mut kind_nocache)?;
    let kind_nocache = kind_nocache
        .as_map()
        .and_then(|m| m.get("environment-nocache"))
        .cloned()
        .expect("present");
    let mut env_nocache = project.env_nocache.clone();
    for name in str_list(&kind_nocache, "environment-nocache")? {
        if !env_nocache.contains(&name) {
            env_nocache.push(name);
        }
    }
    let mut split_rule_variables = Vec::new();
    let mut strings = vec![&split_rules];
    while let Some(node) = strings.pop() {
        match &node.value {
            Value::Str(text) => {
                for name in crate::variables::references(text) {
                    if !split_rule_variables.iter().any(|v| v == name) {
                        split_rule_variables.push(name.to_string());
                    }
                }
            }
            Value::Map(m) => strings.extend(m.iter().map(|(_, v)| v)),
            Value::List(l) => strings.extend(l.iter()),
        }
    }
    Ok(KindBase {
        variables,
        environment,
        env_nocache,
        config,
        split_rules,
        sandbox,
        split_rule_variables,
        prepared: Default::default(),
    })
}

impl std::fmt::Debug for Project {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Project")
            .field("name", &self.name)
            .field("dir", &self.dir)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}
