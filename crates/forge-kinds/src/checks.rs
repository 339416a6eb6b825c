//! Checks shared by several kinds: config value types and dependency shapes.

use forge_project::{Element, LoadError};
use forge_yaml::Node;

fn config_node<'a>(element: &'a Element, key: &str) -> Result<&'a Node, LoadError> {
    element.config_value(key).ok_or_else(|| {
        LoadError::at(
            &element.kind_span,
            format!("the {} kind needs 'config: {key}'", element.kind),
        )
    })
}

/// A string config value.
pub fn config_str<'a>(element: &'a Element, key: &str) -> Result<&'a str, LoadError> {
    let node = config_node(element, key)?;
    node.as_str().ok_or_else(|| {
        LoadError::at(
            &node.span,
            format!("'{key}' must be a string, not {}", node.type_name()),
        )
    })
}

/// A boolean config value (`True`, `true`, `1`, `False`, `false`, `0`).
pub fn config_bool(element: &Element, key: &str) -> Result<bool, LoadError> {
    let node = config_node(element, key)?;
    match node.as_str() {
        Some("True" | "true" | "1") => Ok(true),
        Some("False" | "false" | "0") => Ok(false),
        _ => Err(LoadError::at(&node.span, format!("'{key}' must be True or False"))),
    }
}

/// A list-of-strings config value.
pub fn config_list(element: &Element, key: &str) -> Result<Vec<String>, LoadError> {
    let node = config_node(element, key)?;
    let items = node
        .as_list()
        .ok_or_else(|| LoadError::at(&node.span, format!("'{key}' must be a list, not {}", node.type_name())))?;
    items
        .iter()
        .map(|i| {
            i.as_str()
                .map(str::to_string)
                .ok_or_else(|| LoadError::at(&i.span, format!("'{key}' must be a list of strings")))
        })
        .collect()
}

/// A list-of-strings config value, sorted (order does not matter for
/// domain lists, so it does not enter keys).
pub fn sorted_config_list(element: &Element, key: &str) -> Vec<String> {
    let mut list = config_list(element, key).unwrap_or_default();
    list.sort();
    list
}

/// Refuses sources on kinds that take none.
pub fn no_sources(element: &Element) -> Result<(), LoadError> {
    match element.sources.first() {
        Some(source) => Err(LoadError::at(
            &source.span,
            format!("'{}' elements take no sources", element.kind),
        )),
        None => Ok(()),
    }
}

/// Refuses runtime dependencies on kinds whose output is self-contained.
pub fn no_runtime_deps(element: &Element) -> Result<(), LoadError> {
    match element.dependencies.iter().find(|d| d.runtime) {
        Some(dep) => Err(LoadError::at(
            &dep.span,
            format!(
                "runtime dependencies are forbidden for '{}' elements: '{}' is one",
                element.kind, dep.name
            ),
        )
        .with_hint("list it under 'build-depends' instead")),
        None => Ok(()),
    }
}

/// The `digest-environment:` variables of build dependencies, sorted, with
/// the dependencies whose staged tree each one digests.
pub fn digest_environment(element: &Element) -> std::collections::BTreeMap<String, Vec<String>> {
    let mut out: std::collections::BTreeMap<String, Vec<String>> = std::collections::BTreeMap::new();
    for dep in element.dependencies.iter().filter(|d| d.build) {
        for config in &dep.config {
            if let Some(variable) = config
                .as_map()
                .and_then(|m| m.get("digest-environment"))
                .and_then(Node::as_str)
            {
                out.entry(variable.to_string()).or_default().push(dep.name.clone());
            }
        }
    }
    out
}

/// The locations of build dependencies (`config: location:`), sorted, with
/// the dependencies staged at each: BuildStream's layout key.
pub fn layout_key(element: &Element) -> serde_json::Map<String, serde_json::Value> {
    let mut layout: std::collections::BTreeMap<String, Vec<String>> = std::collections::BTreeMap::new();
    for dep in element.dependencies.iter().filter(|d| d.build) {
        let locations: Vec<String> = dep
            .config
            .iter()
            .filter_map(|c| c.as_map().and_then(|m| m.get("location")).and_then(Node::as_str))
            .map(str::to_string)
            .collect();
        if locations.is_empty() {
            layout.entry("/".into()).or_default().push(dep.name.clone());
        }
        for location in locations {
            layout.entry(location).or_default().push(dep.name.clone());
        }
    }
    layout.into_iter().map(|(k, v)| (k, serde_json::json!(v))).collect()
}

/// Checks dependency `config:` blocks hold only `keys` (`location:`, an
/// absolute path, and for build elements `digest-environment:`).
pub fn check_locations(element: &Element, keys: &[&str]) -> Result<(), LoadError> {
    for dep in &element.dependencies {
        for config in &dep.config {
            let map = config.as_map().expect("dependency config is a mapping");
            forge_project::error::check_keys(map, keys, "dependency config")?;
            if let Some(variable) = map.get("digest-environment")
                && variable.as_str().is_none_or(str::is_empty)
            {
                return Err(LoadError::at(
                    &variable.span,
                    "'digest-environment' must name an environment variable",
                ));
            }
            if let Some(location) = map.get("location") {
                match location.as_str() {
                    Some(path) if path.starts_with('/') => {}
                    _ => {
                        return Err(LoadError::at(
                            &location.span,
                            "'location' must be an absolute path in the sandbox",
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}
