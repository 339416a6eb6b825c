//! `flatpak_image` (buildstream-plugins-community): a flatpak's directory
//! layout (`files/`, `export/`, `metadata`) from the dependencies staged
//! at `/buildstream/allfiles`, filtered by split domains.

use std::fs;
use std::path::{Path, PathBuf};

use forge_cas::StageMode;
use forge_project::{Element, ElementKind, LoadError};
use forge_sandbox::Mount;
use serde_json::{Map, Value, json};

use crate::build::{Assemble, BuildContext, BuildError, host_path, move_contents, split_manifest, split_rules};
use crate::checks::{check_locations, config_list, config_str, no_runtime_deps, no_sources, sorted_config_list};

/// The `flatpak_image` kind.
pub struct FlatpakImage;

/// Where dependencies without a location are staged.
pub const INPUT: &str = "/buildstream/allfiles";
const INSTALL_ROOT: &str = "/buildstream/install";

/// Sections of a flatpak metadata file, in order, each with its keys in order.
type Sections = Vec<(String, Vec<(String, String)>)>;

/// The `metadata:` sections.
fn metadata(element: &Element) -> Result<Sections, LoadError> {
    let node = element
        .config_value("metadata")
        .ok_or_else(|| LoadError::at(&element.kind_span, "a flatpak_image element needs 'config: metadata'"))?;
    let sections = node
        .as_map()
        .ok_or_else(|| LoadError::at(&node.span, "'metadata' must be a mapping of sections"))?;
    let mut out = Vec::new();
    for (section, pairs) in sections.iter() {
        let pairs = pairs.as_map().ok_or_else(|| {
            LoadError::at(
                &pairs.span,
                format!("metadata section '{}' must be a mapping", section.name),
            )
        })?;
        let mut entries = Vec::new();
        for (key, value) in pairs.iter() {
            let value = value
                .as_str()
                .ok_or_else(|| LoadError::at(&value.span, format!("metadata value '{}' must be a string", key.name)))?;
            entries.push((key.name.clone(), value.to_string()));
        }
        out.push((section.name.clone(), entries));
    }
    Ok(out)
}

/// The metadata file as Python's configparser writes it.
fn metadata_file(sections: &Sections) -> String {
    let mut out = String::new();
    for (section, pairs) in sections {
        out.push_str(&format!("[{section}]\n"));
        for (key, value) in pairs {
            out.push_str(&format!("{key} = {}\n", value.replace('\n', "\n\t")));
        }
        out.push('\n');
    }
    out
}

impl ElementKind for FlatpakImage {
    fn name(&self) -> &'static str {
        "flatpak_image"
    }
    fn defaults(&self) -> &'static str {
        include_str!("../data/buildstream/flatpak_image.yaml")
    }
    fn runs_commands(&self, _element: &Element) -> bool {
        true
    }
    fn config_keys(&self) -> &'static [&'static str] {
        &["directory", "include", "exclude", "metadata", "component-ids"]
    }
    fn accepts_dependency_config(&self) -> bool {
        true
    }
    fn default_location(&self) -> &'static str {
        INPUT
    }
    fn validate(&self, element: &Element) -> Result<(), LoadError> {
        no_sources(element)?;
        no_runtime_deps(element)?;
        check_locations(element, &["location"])?;
        config_str(element, "directory")?;
        for list in ["include", "exclude", "component-ids"] {
            config_list(element, list)?;
        }
        let sections = metadata(element)?;
        if !sections.iter().any(|(s, _)| s == "Application" || s == "Runtime") {
            let span = element.config_value("metadata").map_or(&element.kind_span, |n| &n.span);
            return Err(LoadError::at(
                span,
                "either an Application or a Runtime section must be present in metadata",
            ));
        }
        Ok(())
    }
    fn unique_key(&self, element: &Element) -> Value {
        let mut sections = Map::new();
        for (section, pairs) in metadata(element).unwrap_or_default() {
            let pairs: Map<String, Value> = pairs.into_iter().map(|(k, v)| (k, json!(v))).collect();
            sections.insert(section, Value::Object(pairs));
        }
        let mut key = json!({
            "directory": config_str(element, "directory").unwrap_or_default(),
            "include": sorted_config_list(element, "include"),
            "exclude": sorted_config_list(element, "exclude"),
            "metadata": sections,
            "version": 4,
        });
        let ids = config_list(element, "component-ids").unwrap_or_default();
        if !ids.is_empty() {
            key["component-ids"] = json!(ids);
        }
        key
    }
}

fn component_type(sections: &Sections) -> &'static str {
    let has = |name: &str| sections.iter().any(|(s, _)| s == name);
    if has("Application") {
        "application"
    } else if has("ExtensionOf") {
        "runtime_extension"
    } else {
        "runtime"
    }
}

impl Assemble for FlatpakImage {
    fn assemble(&self, ctx: &mut BuildContext<'_>) -> Result<PathBuf, BuildError> {
        let element = ctx.element;
        let include = config_list(element, "include").unwrap_or_default();
        let exclude = config_list(element, "exclude").unwrap_or_default();
        let directory = config_str(element, "directory").unwrap_or_default().to_string();
        let sections = metadata(element).map_err(|e| BuildError(e.to_string()))?;
        let root = ctx.dir("root")?;
        for dep in &ctx.deps {
            let manifest = if dep.location == INPUT {
                split_manifest(
                    dep.manifest()?,
                    &split_rules(&dep.record.public),
                    &include,
                    &exclude,
                    true,
                )
            } else {
                dep.manifest()?.clone()
            };
            let target = host_path(&root, &dep.location);
            fs::create_dir_all(&target).map_err(|e| BuildError(format!("cannot stage: {e}")))?;
            ctx.cas
                .stage(&manifest, &target, StageMode::Copy)
                .map_err(|e| BuildError(format!("cannot stage {}: {e}", dep.element.name)))?;
        }
        let allfiles = host_path(&root, INPUT);
        fs::create_dir_all(&allfiles).map_err(|e| BuildError(format!("cannot stage: {e}")))?;
        let install = ctx.dir("install")?;
        let ids = config_list(element, "component-ids").unwrap_or_default();
        if !ids.is_empty() {
            compose_appstream(ctx, &root, &install, &directory, &ids)?;
        }
        build_layout(&allfiles, &install, &directory, &sections)
            .map_err(|e| BuildError(format!("cannot lay out the flatpak: {e}")))?;
        Ok(install)
    }
}

/// Runs `appstreamcli compose` for each component in the sandbox, its
/// output going to the install root.
fn compose_appstream(
    ctx: &mut BuildContext<'_>,
    root: &Path,
    install: &Path,
    directory: &str,
    ids: &[String],
) -> Result<(), BuildError> {
    let mounts = vec![Mount {
        host: install.to_path_buf(),
        target: INSTALL_ROOT.into(),
        writable: true,
    }];
    let env = ctx.environment();
    for id in ids {
        let data_dir = format!("{INPUT}/{}/share", directory.trim_start_matches('/'));
        let command = format!(
            "appstreamcli compose --components {id} --result-root {INSTALL_ROOT} --prefix {directory} --data-dir {data_dir} --origin {id} {INPUT}"
        );
        ctx.log(&format!("# {command}"));
        ctx.run_in(root, false, mounts.clone(), "/", env.clone(), &command)?;
    }
    Ok(())
}

/// `files/` from the staged tree's `directory`, `export/` for applications,
/// each extension's directory, `/etc` for runtimes, and `metadata`.
fn build_layout(allfiles: &Path, install: &Path, directory: &str, sections: &Sections) -> std::io::Result<()> {
    let kind = component_type(sections);
    let files = install.join("files");
    fs::create_dir_all(&files)?;
    if kind == "application" {
        fs::create_dir_all(install.join("export"))?;
    }
    for (section, pairs) in sections {
        if section.starts_with("Extension ")
            && let Some((_, dir)) = pairs.iter().find(|(k, _)| k == "directory")
        {
            fs::create_dir_all(files.join(dir.trim_start_matches('/')))?;
        }
    }
    let mover = |from: &Path, to: &Path| move_contents(from, to).map_err(|e| std::io::Error::other(e.0));
    let sub = allfiles.join(directory.trim_start_matches('/'));
    let etc = allfiles.join("etc");
    if sub.is_dir() {
        mover(&sub, &files)?;
    }
    if kind == "runtime" && etc.is_dir() {
        mover(&etc, &files.join("etc"))?;
    }
    fs::write(install.join("metadata"), metadata_file(sections))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_is_written_as_configparser_does() {
        let sections = vec![
            (
                "Application".to_string(),
                vec![
                    ("name".to_string(), "org.x.App".to_string()),
                    ("command".to_string(), "app".to_string()),
                ],
            ),
            ("Context".to_string(), vec![("shared".to_string(), "ipc;".to_string())]),
        ];
        assert_eq!(
            metadata_file(&sections),
            "[Application]\nname = org.x.App\ncommand = app\n\n[Context]\nshared = ipc;\n\n"
        );
        assert_eq!(component_type(&sections), "application");
    }
}
