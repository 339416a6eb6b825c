//! The traits element kinds and source kinds implement to take part in
//! loading, the registry of every kind forge implements, and the view of
//! it that one project has after its plugin declarations.
//!
//! Loading only needs what decides *what* is built: a kind's defaults, the
//! checks on its configuration, and its unique key. What a kind *does*
//! (fetching, staging, assembling) lives in the crates that own it.
//!
//! Names: BuildStream's core kinds (`import`, `manual`, `local`, `tar` …)
//! are always there. forge's own kinds (`pip`, `deb`, `git` …) answer to
//! their names unless project.conf declares a BuildStream plugin of the
//! same name, and always to `forge-<name>`. forge's implementations of
//! BuildStream plugins (`autotools`, `git_repo` …) answer only where
//! project.conf declares them, whatever the origin: forge runs no plugin
//! code, it reads the declaration as "the plugin of this name".

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde_json::Value as Json;

use forge_yaml::Span;

use crate::element::{Element, Source};
use crate::error::{LoadError, did_you_mean};
use crate::plugins::{Declaration, PluginKind};
use crate::project::Project;

/// An element kind as loading sees it.
pub trait ElementKind: Send + Sync {
    /// The name written after `kind:`.
    fn name(&self) -> &'static str;
    /// What tells this implementation apart from another of the same name
    /// (forge's `pip` and buildstream-plugins' `pip`): it enters cache keys
    /// and finds the build step. The name, unless two kinds share it.
    fn id(&self) -> &'static str {
        self.name()
    }
    /// The kind's default YAML (`variables`, `environment`, `config`,
    /// `public`, `sandbox`), as a BuildStream plugin's `.yaml` file.
    fn defaults(&self) -> &'static str {
        ""
    }
    /// Bumped whenever the kind's output changes for the same input; enters
    /// every cache key of this kind.
    fn version(&self) -> u32 {
        0
    }
    /// Whether the kind runs commands in a sandbox: then the environment and
    /// the sandbox settings enter its cache key.
    fn runs_commands(&self, element: &Element) -> bool;
    /// The keys allowed under `config:`.
    fn config_keys(&self) -> &'static [&'static str];
    /// Whether `config:` keys are checked against [`ElementKind::config_keys`]
    /// (BuildStream's `stack` takes any and ignores them).
    fn checks_config_keys(&self) -> bool {
        true
    }
    /// Whether the kind produces an artifact to stage (a `stack` does not:
    /// it only gathers its dependencies).
    fn produces_artifact(&self) -> bool {
        true
    }
    /// Checks that need the element's direct dependencies, once the graph
    /// is loaded (a `filter`'s parent must produce an artifact, say).
    fn validate_dependencies(
        &self,
        _element: &Element,
        _dependencies: &[(&Element, &dyn ElementKind)],
    ) -> Result<(), LoadError> {
        Ok(())
    }
    /// Where build dependencies without a `location:` are staged.
    fn default_location(&self) -> &'static str {
        "/"
    }
    /// Whether a workspace (a directory standing for the element's
    /// sources) can be opened on the element; why not, else.
    fn accepts_workspace(&self, element: &Element) -> Result<(), String> {
        if self.is_junction() {
            Err("a junction's sources are a subproject, not something to build".into())
        } else if element.sources.is_empty() {
            Err("it has no sources; open a workspace on one of its dependencies".into())
        } else {
            Ok(())
        }
    }
    /// Whether dependencies may carry `config:` (such as `location:`).
    fn accepts_dependency_config(&self) -> bool {
        false
    }
    /// Whether the element is a junction: it names a subproject, is never
    /// built, and its sources are not needed to show or build the project.
    fn is_junction(&self) -> bool {
        false
    }
    /// Whether the kind loads in BuildStream's first pass (junctions and
    /// links): without the project's environment, sandbox and split rules.
    fn first_pass(&self) -> bool {
        self.is_junction()
    }
    /// For a `link`: the element (local name) it stands for, from its
    /// composed config. Loading replaces the link by its target.
    fn link_target(&self, _config: &forge_yaml::Node) -> Option<String> {
        None
    }
    /// Further checks of the resolved element: dependency shapes, sources,
    /// value types in `config`.
    fn validate(&self, _element: &Element) -> Result<(), LoadError> {
        Ok(())
    }
    /// Other elements (names as the graph has them) whose sources building
    /// this one reads, so they are fetched with its own (`pip` installs the
    /// wheels of dependencies' sources).
    fn sources_also_needed(&self, _element: &Element) -> Vec<String> {
        Vec::new()
    }
    /// The part of the element's configuration that decides its output.
    fn unique_key(&self, element: &Element) -> Json;
}

/// What a source kind may look at to compute its key.
pub struct KeyContext<'a> {
    /// The project's root directory (local paths are relative to it).
    pub project_dir: &'a Path,
    /// Digests of project files from earlier runs.
    pub file_hashes: &'a crate::filehash::FileHashCache,
}

/// What a source is made of, for manifests and SBOMs (BuildStream's
/// `SourceInfo`): where it comes from and which version it is pinned to.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceInfo {
    /// The source kind, as written.
    pub kind: String,
    /// `git`, `local` or `remote-file`.
    pub medium: &'static str,
    /// Where it comes from: the URL with its alias expanded, or a project path.
    pub url: String,
    /// What `version` is: `commit`, `sha256` or `cas-digest`.
    pub version_type: &'static str,
    /// The pin.
    pub version: String,
    /// A human version guessed from the URL or tag (`1.2.3`).
    pub version_guess: Option<String>,
    /// Kind-specific facts (`tag-name`, `commit-offset`, `crate-name`).
    pub extra: Vec<(String, String)>,
}

/// BuildStream's `guess_version`: the non-overlapping `N.N[.N]` match with
/// the most parts, its parts joined with dots.
pub fn guess_version(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let digits = |from: usize| bytes[from..].iter().take_while(|b| b.is_ascii_digit()).count();
    let (mut best, mut best_parts): (Option<String>, usize) = (None, 0);
    let mut i = 0;
    while i < bytes.len() {
        let first = digits(i);
        if first == 0 || (i > 0 && bytes[i - 1].is_ascii_digit()) {
            i += first.max(1);
            continue;
        }
        let mut parts = vec![&text[i..i + first]];
        let mut end = i + first;
        for _ in 0..2 {
            if bytes.get(end) == Some(&b'.') && digits(end + 1) > 0 {
                let n = digits(end + 1);
                parts.push(&text[end + 1..end + 1 + n]);
                end += 1 + n;
            } else {
                break;
            }
        }
        if parts.len() >= 2 {
            if best.is_none() || parts.len() > best_parts {
                best_parts = parts.len();
                best = Some(parts.join("."));
            }
            i = end;
        } else {
            i += first;
        }
    }
    best
}

/// A source kind as loading sees it.
pub trait SourceKind: Send + Sync {
    /// The name written after `kind:`.
    fn name(&self) -> &'static str;
    /// What tells this implementation apart from another of the same name
    /// (forge's `pypi` and the community `pypi`): it enters cache keys and
    /// finds the runtime side. The name, unless two kinds share it.
    fn id(&self) -> &'static str {
        self.name()
    }
    /// The keys allowed in a source entry besides `kind`, `directory` and
    /// `provenance`.
    fn config_keys(&self) -> &'static [&'static str];
    /// Checks the source's configuration (required keys, value forms, URL
    /// aliases).
    fn validate(&self, source: &Source, project: &Project) -> Result<(), LoadError>;
    /// The source's unique key: its pin as stable data, never a mirror or an
    /// alias value. `None` when the source has no pin yet (`no reference`).
    fn unique_key(&self, source: &Source, ctx: &KeyContext<'_>) -> Result<Option<Json>, LoadError>;
    /// Whether the source needs a fetch before it can be staged (local
    /// sources live in the project and never do).
    fn needs_fetch(&self) -> bool {
        true
    }
    /// What the source is made of (BuildStream's `collect_source_info`):
    /// by default one remote file, the `url` pinned by the sha256 `ref`.
    fn info(&self, source: &Source, project: &Project, _ctx: &KeyContext<'_>) -> Vec<SourceInfo> {
        match (source.get_str("url"), source.get_str("ref")) {
            (Some(url), Some(sha)) => vec![SourceInfo {
                kind: source.kind.clone(),
                medium: "remote-file",
                url: project.translate_url(url),
                version_type: "sha256",
                version: sha.to_string(),
                version_guess: guess_version(url),
                extra: Vec::new(),
            }],
            _ => Vec::new(),
        }
    }
    /// The URLs the source downloads from, as written (aliased or not), for
    /// BuildStream's `unaliased-url` warning.
    fn urls<'a>(&self, source: &'a Source) -> Vec<&'a str> {
        source.get_str("url").into_iter().collect()
    }
}

/// Who provides a kind, which decides the names it answers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Provider {
    /// One of BuildStream's core plugins: always available by its name.
    Core,
    /// One of forge's own kinds: by its name where no declaration takes
    /// the name, and always as `forge-<name>`.
    Forge,
    /// forge's implementation of a plugin of a BuildStream plugin package
    /// (`buildstream-plugins`, `buildstream-plugins-community`, or a
    /// project's local plugin): available where project.conf declares it.
    Plugin(&'static str),
}

struct Entry<K: ?Sized> {
    kind: Arc<K>,
    provider: Provider,
}

impl<K: ?Sized> Clone for Entry<K> {
    fn clone(&self) -> Self {
        Entry {
            kind: self.kind.clone(),
            provider: self.provider,
        }
    }
}

/// Every element and source kind forge implements.
#[derive(Clone, Default)]
pub struct KindRegistry {
    elements: Vec<Entry<dyn ElementKind>>,
    sources: Vec<Entry<dyn SourceKind>>,
}

/// The prefix under which forge's own kinds are always available.
pub const FORGE_PREFIX: &str = "forge-";

impl KindRegistry {
    /// Adds an element kind.
    pub fn add_element(&mut self, kind: Arc<dyn ElementKind>, provider: Provider) {
        self.elements.push(Entry { kind, provider });
    }

    /// Adds a source kind.
    pub fn add_source(&mut self, kind: Arc<dyn SourceKind>, provider: Provider) {
        self.sources.push(Entry { kind, provider });
    }

    /// The kinds a project sees, given its plugin declarations.
    pub fn for_project(&self, declarations: &[Declaration]) -> Result<ProjectKinds, LoadError> {
        Ok(ProjectKinds {
            elements: bind(&self.elements, declarations, PluginKind::Element, |k| k.name())?,
            sources: bind(&self.sources, declarations, PluginKind::Source, |k| k.name())?,
        })
    }
}

/// What a name means in one project.
enum Binding<K: ?Sized> {
    /// A kind forge implements.
    Kind(Arc<K>),
    /// Declared in project.conf, but forge has no implementation of it.
    Unimplemented(Declaration),
    /// A BuildStream plugin forge implements, which the project does not
    /// declare (BuildStream would not find it either).
    Undeclared(&'static str),
}

impl<K: ?Sized> Clone for Binding<K> {
    fn clone(&self) -> Self {
        match self {
            Binding::Kind(k) => Binding::Kind(k.clone()),
            Binding::Unimplemented(d) => Binding::Unimplemented(d.clone()),
            Binding::Undeclared(p) => Binding::Undeclared(p),
        }
    }
}

fn bind<K: ?Sized>(
    entries: &[Entry<K>],
    declarations: &[Declaration],
    what: PluginKind,
    name_of: impl Fn(&K) -> &'static str,
) -> Result<BTreeMap<String, Binding<K>>, LoadError> {
    let mut names: BTreeMap<String, Binding<K>> = BTreeMap::new();
    // Undeclared plugins are remembered for the error, and forge's own
    // kinds take their names where no declaration does.
    for entry in entries {
        if let Provider::Plugin(package) = entry.provider {
            names
                .entry(name_of(&entry.kind).to_string())
                .or_insert(Binding::Undeclared(package));
        }
    }
    for entry in entries {
        let name = name_of(&entry.kind);
        match entry.provider {
            Provider::Core => {
                names.insert(name.to_string(), Binding::Kind(entry.kind.clone()));
            }
            Provider::Forge => {
                names.insert(format!("{FORGE_PREFIX}{name}"), Binding::Kind(entry.kind.clone()));
                names.insert(name.to_string(), Binding::Kind(entry.kind.clone()));
            }
            Provider::Plugin(_) => {}
        }
    }
    for declaration in declarations.iter().filter(|d| d.what == what) {
        let name = declaration.name.as_str();
        let plugins = || {
            entries.iter().filter_map(|e| match e.provider {
                Provider::Plugin(package) if name_of(&e.kind) == name => Some((package, e)),
                _ => None,
            })
        };
        if entries
            .iter()
            .any(|e| e.provider == Provider::Core && name_of(&e.kind) == name)
        {
            return Err(LoadError::at(
                &declaration.span,
                format!("'{name}' is a core {what} kind of BuildStream and cannot be declared as a plugin"),
            ));
        }
        let binding = match plugins().find(|(package, _)| declaration.accepts_package(package)) {
            Some((_, entry)) => Binding::Kind(entry.kind.clone()),
            None => match plugins().next() {
                Some((package, _)) => {
                    return Err(LoadError::at(
                        &declaration.span,
                        format!(
                            "{} has no {what} plugin named '{name}': forge knows it from {package}",
                            declaration.origin_display()
                        ),
                    )
                    .with_hint(format!("declare '{name}' under a plugin origin for {package}")));
                }
                None => Binding::Unimplemented(declaration.clone()),
            },
        };
        names.insert(name.to_string(), binding);
    }
    Ok(names)
}

/// The kinds one project can use, by the names its files write.
#[derive(Clone, Default)]
pub struct ProjectKinds {
    elements: BTreeMap<String, Binding<dyn ElementKind>>,
    sources: BTreeMap<String, Binding<dyn SourceKind>>,
}

impl ProjectKinds {
    /// The element kind called `name`, if the project can use it.
    pub fn element(&self, name: &str) -> Option<&Arc<dyn ElementKind>> {
        match self.elements.get(name) {
            Some(Binding::Kind(kind)) => Some(kind),
            _ => None,
        }
    }

    /// The source kind called `name`, if the project can use it.
    pub fn source(&self, name: &str) -> Option<&Arc<dyn SourceKind>> {
        match self.sources.get(name) {
            Some(Binding::Kind(kind)) => Some(kind),
            _ => None,
        }
    }

    /// Every element kind the project can use, with the name it uses.
    pub fn element_kinds(&self) -> impl Iterator<Item = (&str, &Arc<dyn ElementKind>)> {
        self.elements.iter().filter_map(|(name, binding)| match binding {
            Binding::Kind(kind) => Some((name.as_str(), kind)),
            _ => None,
        })
    }

    /// Whether `name` means something to this project (implemented or not),
    /// for per-kind overrides in project.conf.
    pub fn knows_element(&self, name: &str) -> bool {
        self.elements.contains_key(name)
    }

    /// The element kind `name`, or the error for an element of `element`
    /// that uses it at `span`.
    pub fn element_for(&self, name: &str, element: &str, span: &Span) -> Result<&Arc<dyn ElementKind>, LoadError> {
        match self.elements.get(name) {
            Some(Binding::Kind(kind)) => Ok(kind),
            Some(Binding::Unimplemented(declaration)) => Err(unimplemented(declaration, element, span)),
            Some(Binding::Undeclared(package)) => Err(undeclared(PluginKind::Element, name, package, span)),
            None => Err(unknown(PluginKind::Element, name, self.elements.keys(), span)),
        }
    }

    /// The source kind `name`, or the error for a source of `element` that
    /// uses it at `span`.
    pub fn source_for(&self, name: &str, element: &str, span: &Span) -> Result<&Arc<dyn SourceKind>, LoadError> {
        match self.sources.get(name) {
            Some(Binding::Kind(kind)) => Ok(kind),
            Some(Binding::Unimplemented(declaration)) => Err(unimplemented(declaration, element, span)),
            Some(Binding::Undeclared(package)) => Err(undeclared(PluginKind::Source, name, package, span)),
            None => Err(unknown(PluginKind::Source, name, self.sources.keys(), span)),
        }
    }
}

fn unimplemented(declaration: &Declaration, element: &str, span: &Span) -> LoadError {
    LoadError::at(
        span,
        format!(
            "{element} uses the {} kind '{}', which forge does not implement",
            declaration.what, declaration.name
        ),
    )
    .with_detail(format!(
        "{}: declared here, from {}",
        declaration.span,
        declaration.origin_display()
    ))
    .with_hint(format!(
        "forge runs no plugin code: it needs its own implementation of the BuildStream {} plugin '{}' \
         (docs/format.md lists the plugins forge implements); until then, use another kind for this element",
        declaration.what, declaration.name
    ))
}

fn undeclared(what: PluginKind, name: &str, package: &str, span: &Span) -> LoadError {
    let list = match what {
        PluginKind::Element => "elements",
        PluginKind::Source => "sources",
    };
    LoadError::at(
        span,
        format!("the {what} kind '{name}' is a plugin from {package}, which project.conf does not declare"),
    )
    .with_hint(format!(
        "declare it in project.conf: `plugins: [{{origin: pip, package-name: {package}, {list}: [{name}]}}]`"
    ))
}

fn unknown<'a>(
    what: PluginKind,
    name: &str,
    known: impl Iterator<Item = &'a String> + Clone,
    span: &Span,
) -> LoadError {
    let err = LoadError::at(span, format!("unknown {what} kind '{name}'"));
    match did_you_mean(name, known.clone().map(String::as_str)) {
        Some(near) => err.with_hint(format!("did you mean '{near}'?")),
        None => err.with_hint(format!(
            "forge knows these {what} kinds: {}",
            known
                .filter(|k| !k.starts_with(FORGE_PREFIX))
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::guess_version;

    #[test]
    fn versions_are_guessed_as_bst_guesses() {
        assert_eq!(
            guess_version("https://x/releases/1.2/release-1.2.3.tgz").as_deref(),
            Some("1.2.3")
        );
        assert_eq!(guess_version("hello-2.10.tar.gz").as_deref(), Some("2.10"));
        assert_eq!(guess_version("v1.2.3-rc1").as_deref(), Some("1.2.3"));
        assert_eq!(guess_version("no version"), None);
        assert_eq!(guess_version("lib-1.2.3.4"), Some("1.2.3".into()));
    }
}
