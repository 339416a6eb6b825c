//! `flatpak_repo` (buildstream-plugins-community): an OSTree repository
//! holding the flatpaks of its dependencies, made by `ostree init` and
//! `flatpak build-export` in the sandbox. A dependency marked
//! `flatpak-image: true` is exported itself; one marked `flatpak-stack:
//! true` has each of its direct dependencies exported.

use std::fs;
use std::path::PathBuf;

use forge_cas::StageMode;
use forge_project::{Dependency, Element, ElementKind, LoadError};
use forge_sandbox::Mount;
use forge_yaml::Node;
use serde_json::{Value, json};

use crate::build::{Assemble, BuildContext, BuildError, host_path};
use crate::checks::{config_str, no_runtime_deps, no_sources};

/// The `flatpak_repo` kind.
pub struct FlatpakRepo;

const REPO: &str = "/buildstream/repo";

/// How a dependency takes part.
#[derive(Clone, Debug, PartialEq)]
enum Role {
    /// Staged at `/` (tools such as flatpak and ostree).
    Tool,
    /// Exported, with its branch and arch.
    Image { branch: String, arch: String },
    /// Each of its direct dependencies exported.
    Stack { branch: String, arch: String },
}

fn flag(config: &forge_yaml::Mapping, key: &str) -> Result<bool, LoadError> {
    match config.get(key) {
        None => Ok(false),
        Some(node) => match node.as_str() {
            Some("True" | "true" | "1") => Ok(true),
            Some("False" | "false" | "0") => Ok(false),
            _ => Err(LoadError::at(&node.span, format!("'{key}' must be True or False"))),
        },
    }
}

fn role(element: &Element, dep: &Dependency) -> Result<Role, LoadError> {
    let Some(config) = dep.config.last() else {
        return Ok(Role::Tool);
    };
    let map = config.as_map().expect("dependency config is a mapping");
    forge_project::error::check_keys(
        map,
        &["flatpak-image", "flatpak-stack", "branch", "arch"],
        "dependency config",
    )?;
    let (image, stack) = (flag(map, "flatpak-image")?, flag(map, "flatpak-stack")?);
    let text = |key: &str, default: &str| -> Result<String, LoadError> {
        match map.get(key) {
            Some(node) => node
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| LoadError::at(&node.span, format!("'{key}' must be a string"))),
            None => Ok(default.to_string()),
        }
    };
    let branch = text("branch", config_str(element, "branch").unwrap_or_default())?;
    let arch = text("arch", config_str(element, "arch").unwrap_or_default())?;
    match (image, stack) {
        (true, true) => Err(LoadError::at(
            &config.span,
            "dependency specified as both a flatpak image and a stack",
        )),
        (true, false) => Ok(Role::Image { branch, arch }),
        (false, true) => Ok(Role::Stack { branch, arch }),
        (false, false) => Err(LoadError::at(
            &config.span,
            "dependency specified as neither a flatpak image nor a stack",
        )
        .with_hint("set 'flatpak-image: true' or 'flatpak-stack: true'")),
    }
}

fn copy_refs(element: &Element) -> Result<Vec<(String, String)>, LoadError> {
    let Some(node) = element.config_value("copy-refs") else {
        return Ok(Vec::new());
    };
    let items = node
        .as_list()
        .ok_or_else(|| LoadError::at(&node.span, "'copy-refs' must be a list of {src, dest}"))?;
    items
        .iter()
        .map(|item| {
            let map = item
                .as_map()
                .ok_or_else(|| LoadError::at(&item.span, "a copy-refs entry must be a mapping"))?;
            forge_project::error::check_keys(map, &["src", "dest"], "a copy-refs entry")?;
            let get = |key: &str| {
                map.get(key)
                    .and_then(Node::as_str)
                    .map(str::to_string)
                    .ok_or_else(|| LoadError::at(&item.span, format!("a copy-refs entry needs '{key}'")))
            };
            Ok((get("src")?, get("dest")?))
        })
        .collect()
}

impl ElementKind for FlatpakRepo {
    fn name(&self) -> &'static str {
        "flatpak_repo"
    }
    fn defaults(&self) -> &'static str {
        include_str!("../data/buildstream/flatpak_repo.yaml")
    }
    fn version(&self) -> u32 {
        2
    }
    fn runs_commands(&self, _element: &Element) -> bool {
        true
    }
    fn config_keys(&self) -> &'static [&'static str] {
        &["copy-refs", "repo-mode", "arch", "branch"]
    }
    fn accepts_dependency_config(&self) -> bool {
        true
    }
    fn validate(&self, element: &Element) -> Result<(), LoadError> {
        no_sources(element)?;
        no_runtime_deps(element)?;
        for key in ["repo-mode", "arch", "branch"] {
            config_str(element, key)?;
        }
        copy_refs(element)?;
        let mut exported = false;
        for dep in &element.dependencies {
            exported |= role(element, dep)? != Role::Tool;
        }
        if !exported {
            return Err(LoadError::at(
                &element.kind_span,
                format!("{}: no flatpak images specified for this repo", element.name),
            )
            .with_hint("mark a build dependency with 'config: {flatpak-image: true}' or 'flatpak-stack: true'"));
        }
        Ok(())
    }
    fn unique_key(&self, element: &Element) -> Value {
        let roles: Vec<Value> = element
            .dependencies
            .iter()
            .map(|dep| match role(element, dep) {
                Ok(Role::Image { branch, arch }) => json!([dep.name, "image", branch, arch]),
                Ok(Role::Stack { branch, arch }) => json!([dep.name, "stack", branch, arch]),
                _ => json!([dep.name, "/"]),
            })
            .collect();
        json!({
            "repo-mode": config_str(element, "repo-mode").unwrap_or_default(),
            "copy-refs": copy_refs(element).unwrap_or_default(),
            "dependencies": roles,
            "cwd": element.variables.get("cwd").unwrap_or("/"),
        })
    }
}

impl Assemble for FlatpakRepo {
    fn assemble(&self, ctx: &mut BuildContext<'_>) -> Result<PathBuf, BuildError> {
        let element = ctx.element;
        let bad = |e: LoadError| BuildError(e.to_string());
        // Which staged elements are exported, where, and how.
        let mut exports: Vec<(String, String, String)> = Vec::new();
        for dep in &element.dependencies {
            match role(element, dep).map_err(bad)? {
                Role::Tool => {}
                Role::Image { branch, arch } => exports.push((dep.name.clone(), branch, arch)),
                Role::Stack { branch, arch } => {
                    let stack = ctx
                        .deps
                        .iter()
                        .find(|d| d.element.name == dep.name)
                        .ok_or_else(|| BuildError(format!("{} is not staged", dep.name)))?;
                    for child in &stack.element.dependencies {
                        exports.push((child.name.clone(), branch.clone(), arch.clone()));
                    }
                }
            }
        }
        // Tools are staged at `/` with their runtime closure; stacks are
        // not staged, only the images they gather.
        let mut at_root: std::collections::HashSet<&str> = std::collections::HashSet::new();
        let mut pending: Vec<&str> = element
            .dependencies
            .iter()
            .filter(|d| matches!(role(element, d), Ok(Role::Tool)))
            .map(|d| d.name.as_str())
            .collect();
        while let Some(name) = pending.pop() {
            if at_root.insert(name)
                && let Some(dep) = ctx.deps.iter().find(|d| d.element.name == name)
            {
                pending.extend(
                    dep.element
                        .dependencies
                        .iter()
                        .filter(|d| d.runtime)
                        .map(|d| d.name.as_str()),
                );
            }
        }
        let root = ctx.dir("root")?;
        let mut commands = vec![format!(
            "ostree init --repo={REPO} --mode={}",
            config_str(element, "repo-mode").unwrap_or_default()
        )];
        for dep in &ctx.deps {
            if let Some((_, branch, arch)) = exports.iter().find(|(n, _, _)| *n == dep.element.name) {
                let dir = format!("/buildstream/input/{}", dep.element.normal_name());
                let target = host_path(&root, &dir);
                fs::create_dir_all(&target).map_err(|e| BuildError(format!("cannot stage: {e}")))?;
                ctx.cas
                    .stage(dep.manifest()?, &target, StageMode::Copy)
                    .map_err(|e| BuildError(format!("cannot stage {}: {e}", dep.element.name)))?;
                commands.push(format!(
                    "flatpak build-export --files=files --arch={arch} {REPO} {dir} {branch}"
                ));
            } else if at_root.contains(dep.element.name.as_str()) {
                ctx.cas
                    .stage(dep.manifest()?, &root, StageMode::Copy)
                    .map_err(|e| BuildError(format!("cannot stage {}: {e}", dep.element.name)))?;
            }
        }
        for (src, dest) in copy_refs(element).map_err(bad)? {
            commands.push(format!("flatpak build-commit-from --src-ref={src} {REPO} {dest}"));
        }
        let repo = ctx.dir("repo")?;
        let mounts = vec![Mount {
            host: repo.clone(),
            target: REPO.into(),
            writable: true,
        }];
        let cwd = element.variables.get("cwd").unwrap_or("/").to_string();
        let env = ctx.environment();
        for command in commands {
            ctx.log(&format!("# {command}"));
            ctx.run_in(&root, false, mounts.clone(), &cwd, env.clone(), &command)?;
        }
        Ok(repo)
    }
}
