//! `plugins:` in project.conf: which BuildStream plugins a project
//! declares, and from where.
//!
//! forge never loads the plugin code: a declaration only says which kind a
//! name means. Each origin is checked as BuildStream checks it (its keys,
//! a local path that is a directory, a junction that is an element), so a
//! project that BuildStream refuses, forge refuses too.

use std::fmt;
use std::path::{Component, Path};

use forge_yaml::{Mapping, Node, Span};

use crate::error::{LoadError, check_keys};

/// Element or source plugin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PluginKind {
    /// An element plugin (`elements:`).
    Element,
    /// A source plugin (`sources:`).
    Source,
}

impl fmt::Display for PluginKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PluginKind::Element => "element",
            PluginKind::Source => "source",
        })
    }
}

/// Where a declaration says its plugins come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// `origin: pip` with its `package-name` requirement.
    Pip(String),
    /// `origin: junction` with the junction element's name.
    Junction(String),
    /// `origin: local` with the project-relative directory.
    Local(String),
}

/// One kind named in a plugin declaration.
#[derive(Clone, Debug)]
pub struct Declaration {
    /// Element or source.
    pub what: PluginKind,
    /// The kind name.
    pub name: String,
    /// Where the name is written.
    pub span: Span,
    /// Where the plugin comes from.
    pub origin: Origin,
}

impl Declaration {
    /// How the origin reads in messages.
    pub fn origin_display(&self) -> String {
        match &self.origin {
            Origin::Pip(requirement) => format!("the pip package '{requirement}'"),
            Origin::Junction(junction) => format!("the junction '{junction}'"),
            Origin::Local(path) => format!("the local plugin directory '{path}'"),
        }
    }

    /// Whether a plugin of `package` can answer this declaration: a pip
    /// origin names its package; junction and local origins can be any.
    pub fn accepts_package(&self, package: &str) -> bool {
        match &self.origin {
            Origin::Pip(requirement) => {
                normalize(requirement_name(requirement)) == normalize(package)
                    // forge's own local plugins answer no pip declaration.
                    && package != LOCAL_PLUGINS
            }
            Origin::Junction(_) | Origin::Local(_) => true,
        }
    }
}

/// The package name forge gives to plugins that projects carry as local
/// plugins (freedesktop-sdk's `collect_initial_scripts`, say).
pub const LOCAL_PLUGINS: &str = "a project's local plugins";

/// The distribution name at the start of a PEP 508 requirement.
fn requirement_name(requirement: &str) -> &str {
    let end = requirement
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'))
        .unwrap_or(requirement.len());
    &requirement[..end]
}

fn normalize(name: &str) -> String {
    name.to_ascii_lowercase().replace(['_', '.'], "-")
}

const COMMON_KEYS: &[&str] = &["origin", "sources", "elements", "source-mirrors", "allow-deprecated"];

/// Reads `plugins:`, checking each origin. `project_dir` and `element_dir`
/// are where local paths and junction elements must exist.
pub fn load(config: &Mapping, project_dir: &Path, element_dir: &Path) -> Result<Vec<Declaration>, LoadError> {
    let Some(plugins) = config.get("plugins") else {
        return Ok(Vec::new());
    };
    let items = plugins
        .as_list()
        .ok_or_else(|| LoadError::at(&plugins.span, "'plugins' must be a list of plugin origins"))?;
    let mut declarations = Vec::new();
    for item in items {
        let plugin = item
            .as_map()
            .ok_or_else(|| LoadError::at(&item.span, "a plugin origin must be a mapping with 'origin'"))?;
        let origin_node = plugin.get("origin").ok_or_else(|| {
            LoadError::at(&item.span, "the plugin origin has no 'origin'").with_hint("use pip, local or junction")
        })?;
        let origin = match origin_node.as_str() {
            Some("pip") => {
                check_keys(
                    plugin,
                    &[COMMON_KEYS, &["package-name"]].concat(),
                    "a pip plugin origin",
                )?;
                Origin::Pip(required(plugin, "package-name", &item.span)?.to_string())
            }
            Some("local") => {
                check_keys(plugin, &[COMMON_KEYS, &["path"]].concat(), "a local plugin origin")?;
                let path = required(plugin, "path", &item.span)?;
                check_local_path(path, project_dir, &plugin.get("path").expect("present").span)?;
                Origin::Local(path.to_string())
            }
            Some("junction") => {
                check_keys(
                    plugin,
                    &[COMMON_KEYS, &["junction"]].concat(),
                    "a junction plugin origin",
                )?;
                let junction = required(plugin, "junction", &item.span)?;
                if !element_dir.join(junction).is_file() {
                    return Err(LoadError::at(
                        &plugin.get("junction").expect("present").span,
                        format!("the plugin junction '{junction}' is not an element of this project"),
                    )
                    .with_hint("name a junction element, relative to the element path"));
                }
                Origin::Junction(junction.to_string())
            }
            other => {
                return Err(LoadError::at(
                    &origin_node.span,
                    format!("unknown plugin origin '{}'", other.unwrap_or("")),
                )
                .with_hint("use pip, local or junction"));
            }
        };
        if let Some(flag) = plugin.get("allow-deprecated") {
            as_bool(flag)?;
        }
        for (list, what) in [("elements", PluginKind::Element), ("sources", PluginKind::Source)] {
            let Some(kinds) = plugin.get(list) else { continue };
            let entries = kinds
                .as_list()
                .ok_or_else(|| LoadError::at(&kinds.span, format!("'{list}' must be a list of kind names")))?;
            for entry in entries {
                let (name, span) = kind_name(entry)?;
                declarations.push(Declaration {
                    what,
                    name,
                    span,
                    origin: origin.clone(),
                });
            }
        }
        // Source mirror plugins are read for their form only: forge's
        // mirrors are declared by URL (`mirrors:` with `aliases:`).
        if let Some(mirrors) = plugin.get("source-mirrors") {
            for entry in mirrors.as_list().unwrap_or_default() {
                kind_name(entry)?;
            }
        }
    }
    Ok(declarations)
}

fn required<'a>(plugin: &'a Mapping, key: &str, span: &Span) -> Result<&'a str, LoadError> {
    let node = plugin
        .get(key)
        .ok_or_else(|| LoadError::at(span, format!("the plugin origin has no '{key}'")))?;
    node.as_str()
        .ok_or_else(|| LoadError::at(&node.span, format!("'{key}' must be a string")))
}

fn as_bool(node: &Node) -> Result<bool, LoadError> {
    match node.as_str() {
        Some("True" | "true" | "1") => Ok(true),
        Some("False" | "false" | "0") => Ok(false),
        _ => Err(LoadError::at(&node.span, "'allow-deprecated' must be True or False")),
    }
}

/// A kind in an `elements:` or `sources:` list: a name, or `{kind, allow-deprecated}`.
fn kind_name(entry: &Node) -> Result<(String, Span), LoadError> {
    if let Some(name) = entry.as_str() {
        return Ok((name.to_string(), entry.span.clone()));
    }
    let map = entry
        .as_map()
        .ok_or_else(|| LoadError::at(&entry.span, "a plugin is a kind name or a mapping with 'kind'"))?;
    check_keys(map, &["kind", "allow-deprecated"], "a plugin entry")?;
    if let Some(flag) = map.get("allow-deprecated") {
        as_bool(flag)?;
    }
    let kind = map
        .get("kind")
        .ok_or_else(|| LoadError::at(&entry.span, "the plugin entry has no 'kind'"))?;
    let name = kind
        .as_str()
        .ok_or_else(|| LoadError::at(&kind.span, "'kind' must be a string"))?;
    Ok((name.to_string(), kind.span.clone()))
}

fn check_local_path(path: &str, project_dir: &Path, span: &Span) -> Result<(), LoadError> {
    let relative = Path::new(path);
    if relative.is_absolute() || relative.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(LoadError::at(
            span,
            format!("the local plugin path '{path}' must be inside the project"),
        ));
    }
    if !project_dir.join(relative).is_dir() {
        return Err(LoadError::at(
            span,
            format!("the local plugin path '{path}' is not a directory of the project"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requirement_names() {
        assert_eq!(requirement_name("buildstream-plugins>=2.0"), "buildstream-plugins");
        assert_eq!(
            requirement_name("buildstream_plugins_community"),
            "buildstream_plugins_community"
        );
        assert_eq!(requirement_name("foo [x] ; python_version>'3'"), "foo");
        let pip = |r: &str| Declaration {
            what: PluginKind::Element,
            name: "autotools".into(),
            span: Span::synthetic("t"),
            origin: Origin::Pip(r.into()),
        };
        assert!(pip("buildstream-plugins>=2.0").accepts_package("buildstream-plugins"));
        assert!(pip("BuildStream_Plugins").accepts_package("buildstream-plugins"));
        assert!(!pip("buildstream-plugins").accepts_package("buildstream-plugins-community"));
        assert!(!pip("buildstream-plugins").accepts_package(LOCAL_PLUGINS));
    }
}
