//! `collect_manifest` (buildstream-plugins-community): a manifest of what
//! the dependencies are made from (names, CPE data, source locations and
//! versions), as public data and optionally as a JSON or SPDX file.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use forge_project::{Element, ElementKind, KeyContext, LoadError, SourceInfo};
use forge_yaml::Node;
use serde_json::{Map, Value, json};

use crate::build::{Assemble, BuildContext, BuildError, host_path};
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

const NOTE: &str = "This is a generated manifest from buildstream files and not usable by flatpak-builder";

fn serialize(info: &SourceInfo) -> Value {
    let mut out = Map::new();
    out.insert("kind".into(), json!(info.kind));
    out.insert("url".into(), json!(info.url));
    out.insert("medium".into(), json!(info.medium));
    out.insert("version-type".into(), json!(info.version_type));
    out.insert("version".into(), json!(info.version));
    if let Some(guess) = &info.version_guess {
        out.insert("version-guess".into(), json!(guess));
    }
    if !info.extra.is_empty() {
        let extra: Map<String, Value> = info.extra.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
        out.insert("extra-data".into(), Value::Object(extra));
    }
    Value::Object(out)
}

fn extra<'a>(info: &'a SourceInfo, key: &str) -> Option<&'a str> {
    info.extra.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// The package a source is of, as the plugin names it.
fn package_name(info: &SourceInfo) -> Option<String> {
    if let Some(name) = extra(info, "crate-name") {
        return Some(name.to_string());
    }
    let base = info.url.rsplit('/').next().unwrap_or(&info.url);
    match info.medium {
        "git" => Some(base.strip_suffix(".git").unwrap_or(base).to_string()),
        "remote-file" => {
            let stem = [".tar", ".tgz", ".tbz", ".zip", ".crate"]
                .iter()
                .filter_map(|ext| base.find(ext))
                .min()
                .map_or(base, |at| &base[..at]);
            let bytes = stem.as_bytes();
            let cut = (0..bytes.len().saturating_sub(1))
                .find(|&i| matches!(bytes[i], b'-' | b'_') && bytes[i + 1].is_ascii_digit())
                .unwrap_or(stem.len());
            Some(stem[..cut].to_string())
        }
        "local" if info.kind.starts_with("patch") => None,
        _ => Some(base.to_string()),
    }
}

/// The plugin's older source list: `{type, url, commit|sha256|path}` with
/// `x-cpe` when a product or version is known.
fn location(info: &SourceInfo) -> Value {
    let mut out = match info.medium {
        "git" => {
            let commit = match (extra(info, "tag-name"), extra(info, "commit-offset")) {
                (Some(tag), Some(offset)) => format!("{tag}-{offset}-g{}", info.version),
                _ => info.version.clone(),
            };
            json!({ "type": "git", "url": info.url, "commit": commit })
        }
        "local" if info.kind.starts_with("patch") => json!({ "type": "patch", "path": info.url }),
        "local" => json!({ "type": "dir", "path": info.url }),
        _ => json!({ "type": "archive", "url": info.url, "sha256": info.version }),
    };
    let mut cpe = Map::new();
    if let Some(product) = package_name(info) {
        cpe.insert("product".into(), json!(product));
    }
    if let Some(guess) = &info.version_guess {
        cpe.insert("version".into(), json!(guess));
    }
    if !cpe.is_empty() {
        out["x-cpe"] = Value::Object(cpe);
    }
    out
}

/// The plugin's default version pattern, `\d+\.\d+(?:\.\d+)?`: the first match.
fn first_version(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let digits = |from: usize| bytes[from..].iter().take_while(|b| b.is_ascii_digit()).count();
    let mut i = 0;
    while i < bytes.len() {
        let first = digits(i);
        if first == 0 {
            i += 1;
            continue;
        }
        let mut end = i + first;
        if bytes.get(end) == Some(&b'.') && digits(end + 1) > 0 {
            end += 1 + digits(end + 1);
            if bytes.get(end) == Some(&b'.') && digits(end + 1) > 0 {
                end += 1 + digits(end + 1);
            }
            return Some(text[i..end].to_string());
        }
        i += 1;
    }
    None
}

impl Assemble for CollectManifest {
    fn assemble(&self, ctx: &mut BuildContext<'_>) -> Result<PathBuf, BuildError> {
        let project = ctx.sources.project;
        let key_context = KeyContext {
            project_dir: &project.dir,
            file_hashes: ctx.sources.file_hashes,
        };
        let by_name: HashMap<&str, &crate::build::StagedDep<'_>> =
            ctx.deps.iter().map(|d| (d.element.name.as_str(), d)).collect();
        // Each direct dependency's runtime closure, dependencies first.
        let mut order: Vec<&str> = Vec::new();
        let mut visited: HashSet<&str> = HashSet::new();
        for top in ctx.element.dependencies.iter().map(|d| d.name.as_str()) {
            let mut stack: Vec<(&str, usize)> = vec![(top, 0)];
            while let Some((name, next)) = stack.pop() {
                if next == 0 && !visited.insert(name) {
                    continue;
                }
                let children: Vec<&str> = by_name
                    .get(name)
                    .map(|d| {
                        d.element
                            .dependencies
                            .iter()
                            .filter(|x| x.runtime)
                            .map(|x| x.name.as_str())
                            .collect()
                    })
                    .unwrap_or_default();
                match children.get(next) {
                    Some(child) => {
                        stack.push((name, next + 1));
                        stack.push((child, 0));
                    }
                    None => order.push(name),
                }
            }
        }
        let mut modules = Vec::new();
        let mut infos = Vec::new();
        for name in order {
            let Some(dep) = by_name.get(name) else { continue };
            let public = &dep.record.public;
            if let Some(imported) = public
                .get("cpe-manifest")
                .and_then(|m| m.get("modules"))
                .and_then(Value::as_array)
            {
                modules.extend(imported.iter().cloned());
                let theirs = public
                    .get("source-info-manifest")
                    .and_then(|m| m.get("element-infos"))
                    .and_then(Value::as_array);
                match theirs {
                    Some(theirs) => infos.extend(theirs.iter().cloned()),
                    None => {
                        ctx.warnings.push(format!(
                            "dependency \"{name}\" doesn't use the source provenance API [legacy-manifest]"
                        ));
                        infos.extend(std::iter::repeat_n(Value::Null, imported.len()));
                    }
                }
                continue;
            }
            let element = dep.element;
            let source_infos: Vec<SourceInfo> = element
                .sources
                .iter()
                .filter_map(|s| project.kinds.source(&s.kind).map(|k| (s, k)))
                .flat_map(|(s, k)| k.info(s, project, &key_context))
                .collect();
            let mut cpe = match public.get("cpe") {
                Some(Value::Object(map)) => map.clone(),
                _ => Map::new(),
            };
            if !cpe.contains_key("product") {
                let stem = element.name.rsplit('/').next().unwrap_or(&element.name);
                let stem = stem.rsplit_once('.').map_or(stem, |(s, _)| s);
                cpe.insert("product".into(), json!(stem));
            }
            let version_match = cpe.remove("version-match");
            if !cpe.contains_key("version") && !element.sources.is_empty() {
                let guessed = source_infos.iter().find_map(|info| match info.medium {
                    "git" => {
                        let reference = match (extra(info, "tag-name"), extra(info, "commit-offset")) {
                            (Some(tag), Some(offset)) => format!("{tag}-{offset}-g{}", info.version),
                            _ => info.version.clone(),
                        };
                        first_version(&reference)
                    }
                    "remote-file" => first_version(info.url.rsplit('/').next().unwrap_or(&info.url)),
                    _ => None,
                });
                match (guessed, version_match) {
                    (Some(version), _) => {
                        cpe.insert("version".into(), json!(version));
                    }
                    (None, None) => ctx.warnings.push(format!("Missing version to {name}.")),
                    (None, Some(pattern)) => {
                        return Err(BuildError(format!(
                            "{}: {name}: version match string {pattern} did not match anything",
                            ctx.element.name
                        )));
                    }
                }
            }
            modules.push(json!({
                "name": name,
                "x-cpe": Value::Object(cpe),
                "sources": source_infos.iter().map(location).collect::<Vec<_>>(),
            }));
            infos.push(json!({
                "name": element.normal_name(),
                "project-name": project.name,
                "source-infos": source_infos.iter().map(serialize).collect::<Vec<_>>(),
            }));
        }
        let manifest = json!({ "//NOTE": NOTE, "modules": modules });
        ctx.public.insert("cpe-manifest".into(), manifest.clone());
        ctx.public
            .insert("source-info-manifest".into(), json!({ "element-infos": infos }));
        let output = ctx.dir("output")?;
        if let Some(path) = ctx.element.config_value("path").and_then(Node::as_str) {
            let target = host_path(&output, path);
            let text = serde_json::to_string_pretty(&manifest).map_err(|e| BuildError(e.to_string()))?;
            let write = || -> std::io::Result<()> {
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                std::fs::write(&target, text)
            };
            write().map_err(|e| BuildError(format!("cannot write the manifest {path}: {e}")))?;
        }
        Ok(output)
    }
}
