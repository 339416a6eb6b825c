//! Junctions: projects built from other projects.
//!
//! A `junction` element names a subproject: its sources hold the
//! subproject (a directory of the parent, a git repository, an archive),
//! its config passes options down, maps aliases and overrides elements.
//! Loading an element `junction.bst:element.bst` loads the subproject once
//! (staged by a [`JunctionStager`], since staging reads the source cache)
//! and the element from it; every project carries its own options,
//! aliases, mirrors and plugin declarations. A project loaded through
//! several junctions is an error unless the parents say the junctions are
//! internal or duplicates, as in BuildStream.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use forge_yaml::{Node, Span};
use indexmap::IndexMap;

use crate::element::Element;
use crate::error::LoadError;
use crate::project::{LoadSettings, Place, Project};

/// Brings a junction's sources into a directory the subproject loads from.
pub trait JunctionStager: Send + Sync {
    /// The directory holding the staged sources of `junction` (an element
    /// of `project`): offline, from the source cache, or the project
    /// directory itself for a junction of one local directory.
    fn stage(&self, project: &Project, junction: &Element) -> Result<PathBuf, LoadError>;
}

/// What a subproject knows of the junction it was loaded through.
#[derive(Clone)]
pub struct JunctionInfo {
    /// The junction element, qualified from the top (`a.bst`, `a.bst:b.bst`).
    pub element: String,
    /// The project holding the junction.
    pub parent: Arc<Project>,
    /// Subproject alias → parent alias (`config: aliases:`).
    pub aliases: IndexMap<String, String>,
    /// `map-aliases: identity`: every alias maps to the parent's of the same name.
    pub map_identity: bool,
    /// Subproject element (local name, maybe through its own junctions) →
    /// the parent's element that replaces it, qualified (`config: overrides:`).
    pub overrides: IndexMap<String, String>,
}

impl JunctionInfo {
    /// The parent's alias that the subproject's `alias` stands for, if any.
    pub fn parent_alias(&self, alias: &str) -> Option<String> {
        match self.aliases.get(alias) {
            Some(parent) => Some(parent.clone()),
            None if self.map_identity => Some(alias.to_string()),
            None => None,
        }
    }
}

/// How a loaded project relates to the projects above it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Standing {
    /// Loaded without any ancestor saying otherwise.
    Primary,
    /// Listed by an ancestor under `junctions: duplicates:`.
    Duplicate,
    /// Listed by an ancestor under `junctions: internal:`.
    Internal,
}

/// Every project loaded in one tree, by name, for the conflict check.
#[derive(Default)]
pub struct ProjectTree {
    loaded: Mutex<Vec<(String, String, Standing)>>,
}

impl ProjectTree {
    /// Records a subproject; fails when its project is now loaded in
    /// conflicting contexts.
    pub(crate) fn register(&self, sub: &Project) -> Result<(), LoadError> {
        let info = sub.junction.as_ref().expect("subprojects have a junction");
        let mut loaded = self.loaded.lock().unwrap_or_else(|e| e.into_inner());
        // The top level is the first primary instance of its name.
        let mut top = info.parent.clone();
        while let Some(parent) = top.junction.as_ref().map(|j| j.parent.clone()) {
            top = parent;
        }
        if loaded.is_empty() {
            loaded.push((top.name.clone(), String::new(), Standing::Primary));
        }
        loaded.push((sub.name.clone(), info.element.clone(), standing(sub)));
        let same: Vec<&(String, String, Standing)> = loaded.iter().filter(|(n, _, _)| *n == sub.name).collect();
        let primary = same.iter().filter(|(_, _, s)| *s == Standing::Primary).count();
        let duplicate = same.iter().any(|(_, _, s)| *s == Standing::Duplicate);
        if primary > 1 || (primary == 1 && duplicate) {
            let mut err = LoadError::new(format!("project '{}' was loaded in multiple contexts", sub.name));
            for (_, junction, standing) in same {
                let place = if junction.is_empty() {
                    "the top-level project".to_string()
                } else {
                    format!("through the junction {junction}")
                };
                let how = match standing {
                    Standing::Primary => "",
                    Standing::Duplicate => " (marked as a duplicate)",
                    Standing::Internal => " (marked as internal)",
                };
                err = err.with_detail(format!("{place}{how}"));
            }
            return Err(err.with_hint(
                "internal projects cause no conflict: list the junction under `junctions: internal:` in the project \
                 that declares it, or mark every instance under `junctions: duplicates:`",
            ));
        }
        Ok(())
    }
}

/// Whether an ancestor of `sub` lists its junction as internal or duplicate.
fn standing(sub: &Project) -> Standing {
    let info = sub.junction.as_ref().expect("subprojects have a junction");
    let mut ancestor = Some(info.parent.clone());
    let mut result = Standing::Primary;
    while let Some(project) = ancestor {
        let relative = info
            .element
            .strip_prefix(project.prefix.as_str())
            .unwrap_or(&info.element);
        if project.internal_junctions.iter().any(|j| j == relative) {
            return Standing::Internal;
        }
        if project
            .duplicate_junctions
            .get(&sub.name)
            .is_some_and(|list| list.iter().any(|j| j == relative))
        {
            result = Standing::Duplicate;
        }
        ancestor = project.junction.as_ref().map(|j| j.parent.clone());
    }
    result
}

fn string_pairs(element: &Element, key: &str) -> IndexMap<String, String> {
    element
        .config_value(key)
        .and_then(Node::as_map)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.name.clone(), v.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// Loads the subproject of the junction `element` (of `parent`).
pub(crate) fn load_subproject(
    parent: &Arc<Project>,
    element: Element,
    from: Option<&Span>,
) -> Result<Project, LoadError> {
    let qualified = element.name.clone();
    if !element.junction {
        let message = format!("{qualified} is not a junction but a '{}' element", element.kind);
        return Err(match from {
            Some(span) => LoadError::at(span, message),
            None => LoadError::new(message),
        }
        .with_hint("only junction elements can stand before ':' in an element name"));
    }
    let staged = match &parent.stager {
        Some(stager) => stager.stage(parent, &element)?,
        None => in_place(parent, &element)?,
    };
    let dir = match element.config_value("path").and_then(Node::as_str) {
        Some(path) if !path.is_empty() => staged.join(path),
        _ => staged,
    };
    let conf = dir.join("project.conf");
    let text = std::fs::read_to_string(&conf).map_err(|e| {
        LoadError::at(
            &element.kind_span,
            format!("the subproject of {qualified} has no readable project.conf ({e})"),
        )
        .with_hint("the junction's sources must hold a BuildStream project (use 'config: path:' for a subdirectory)")
    })?;
    let settings = LoadSettings {
        directory: Some(dir.clone()),
        options: string_pairs(&element, "options").into_iter().collect(),
        max_jobs: parent.settings().max_jobs,
        user_config: parent.settings().user_config.clone(),
        services: parent.settings().services.clone(),
    };
    let overrides = string_pairs(&element, "overrides")
        .into_iter()
        .map(|(sub_element, replacement)| (sub_element, format!("{}{replacement}", parent.prefix)))
        .collect();
    let info = JunctionInfo {
        element: qualified.clone(),
        parent: parent.clone(),
        aliases: string_pairs(&element, "aliases"),
        map_identity: element.config_value("map-aliases").and_then(Node::as_str) == Some("identity"),
        overrides,
    };
    let place = Place {
        info,
        prefix: format!("{qualified}:"),
        tree: parent.tree().clone(),
    };
    Project::load_subproject_conf(dir, &text, &settings, parent.registry.clone(), place)
        .map_err(|e| e.with_detail(format!("in the subproject of the junction {qualified}")))
}

/// The directory of a junction whose only source is one local directory.
pub fn in_place(project: &Project, junction: &Element) -> Result<PathBuf, LoadError> {
    match junction.sources.as_slice() {
        [source] if source.kind_id == "local" && source.directory.is_none() => {
            let path = source.get_str("path").unwrap_or(".");
            Ok(project.dir.join(path))
        }
        _ => Err(LoadError::at(
            &junction.kind_span,
            format!("{}: forge cannot stage this junction's sources here", junction.name),
        )),
    }
}
