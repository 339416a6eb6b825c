//! `collect_manifest` (buildstream-plugins-community): a manifest of what
//! the dependencies are made from (names, CPE data, source locations and
//! versions), as public data and optionally as a JSON or SPDX file.

use forge_project::{Element, ElementKind, LoadError};
use forge_yaml::Node;
use serde_json::{Value, json};

use crate::checks::{no_runtime_deps, no_sources};

/// The `collect_manifest` kind.
pub struct CollectManifest;

const SPDX_KEYS: [&str; 5] = ["creators", "created", "data-license", "doc-namespace", "name"];

/// `output-type`: `manifest` (default) or `spdx`.
pub fn output_type(element: &Element) -> Result<&str, LoadError> {
    match element.config_value("output-type") {
        None => Ok("manifest"),
        Some(node) => match node.as_str() {
            Some(t @ ("manifest" | "spdx")) => Ok(t),
            _ => Err(LoadError::at(&node.span, "'output-type' must be 'manifest' or 'spdx'")),
        },
    }
}

fn use_source_provenance(element: &Element) -> Result<bool, LoadError> {
    match element.config_value("use-source-provenance") {
        None => Ok(true),
        Some(node) => match node.as_str() {
            Some("True" | "true" | "1") => Ok(true),
            Some("False" | "false" | "0") => Ok(false),
            _ => Err(LoadError::at(
                &node.span,
                "'use-source-provenance' must be True or False",
            )),
        },
    }
}

fn spdx_info(element: &Element) -> Result<Option<&forge_yaml::Mapping>, LoadError> {
    let Some(node) = element.config_value("spdx-info") else {
        return Ok(None);
    };
    let map = node
        .as_map()
        .ok_or_else(|| LoadError::at(&node.span, "'spdx-info' must be a mapping"))?;
    forge_project::error::check_keys(map, &SPDX_KEYS, "'spdx-info'")?;
    if let Some(created) = map.get("created")
        && created.as_str().is_none_or(|c| c.parse::<i64>().is_err())
    {
        return Err(LoadError::at(&created.span, "'created' must be a Unix time in seconds"));
    }
    Ok(Some(map))
}

impl ElementKind for CollectManifest {
    fn name(&self) -> &'static str {
        "collect_manifest"
    }
    fn version(&self) -> u32 {
        2
    }
    fn runs_commands(&self, _element: &Element) -> bool {
        false
    }
    fn config_keys(&self) -> &'static [&'static str] {
        &["path", "output-type", "spdx-info", "use-source-provenance"]
    }
    fn validate(&self, element: &Element) -> Result<(), LoadError> {
        no_sources(element)?;
        no_runtime_deps(element)?;
        if let Some(path) = element.config_value("path")
            && path.as_str().is_none()
        {
            return Err(LoadError::at(&path.span, "'path' must be a string"));
        }
        output_type(element)?;
        use_source_provenance(element)?;
        spdx_info(element)?;
        Ok(())
    }
    fn unique_key(&self, element: &Element) -> Value {
        let mut key = json!({ "path": element.config_value("path").and_then(Node::as_str) });
        if output_type(element).ok() == Some("spdx") {
            let info = spdx_info(element).ok().flatten();
            let get = |k: &str| info.and_then(|m| m.get(k)).map(forge_project::keys::node_to_json);
            key["output_type"] = json!("spdx");
            key["spdx_info"] = json!([
                get("creators"),
                get("data-license"),
                get("created"),
                get("doc-namespace"),
                get("name")
            ]);
        }
        if use_source_provenance(element).unwrap_or(true) {
            key["source_provenance"] = json!(true);
        }
        key
    }
}
