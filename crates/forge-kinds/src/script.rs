//! `script`: commands run over staged dependencies, each dependency at its
//! `location:`.

use forge_project::{Element, ElementKind, LoadError};
use std::path::PathBuf;

use forge_cas::StageMode;
use forge_sandbox::Mount;

use crate::build::{Assemble, BuildContext, BuildError, config_flag, config_strings};
use serde_json::{Value, json};

use crate::checks::{check_locations, config_bool, config_list, layout_key, no_runtime_deps, no_sources};

/// The `script` kind.
pub struct Script;

impl ElementKind for Script {
    fn name(&self) -> &'static str {
        "script"
    }
    fn defaults(&self) -> &'static str {
        include_str!("../data/script.yaml")
    }
    fn runs_commands(&self, _element: &Element) -> bool {
        true
    }
    fn config_keys(&self) -> &'static [&'static str] {
        &["commands", "root-read-only"]
    }
    fn accepts_dependency_config(&self) -> bool {
        true
    }
    fn validate(&self, element: &Element) -> Result<(), LoadError> {
        no_sources(element)?;
        no_runtime_deps(element)?;
        config_list(element, "commands")?;
        config_bool(element, "root-read-only")?;
        check_locations(element, &["location"])
    }
    fn unique_key(&self, element: &Element) -> Value {
        json!({
            "commands": config_list(element, "commands").unwrap_or_default(),
            "cwd": element.variables.get("cwd").unwrap_or("/"),
            "install-root": element.variables.get("install-root").unwrap_or("/buildstream-install"),
            "layout": Value::Object(layout_key(element)),
            "root-read-only": config_bool(element, "root-read-only").unwrap_or(false),
        })
    }
}

impl Assemble for Script {
    fn assemble(&self, ctx: &mut BuildContext<'_>) -> Result<PathBuf, BuildError> {
        if let Some(executor) = ctx.executor {
            let cwd = ctx.variable("cwd");
            let remote = crate::remote_build::Remote {
                env: ctx.environment(),
                cwd: &cwd,
                sources_at: None,
                // Logged as a local script logs them.
                commands: config_strings(ctx.element, "commands")
                    .into_iter()
                    .map(|command| (command.clone(), command))
                    .collect(),
            };
            return crate::remote_build::assemble(ctx, executor, remote);
        }
        let read_only = config_flag(ctx.element, "root-read-only", false);
        let integrate = ctx.has_integration();
        let root = ctx.dir("root")?;
        let mode = if read_only && !integrate {
            StageMode::Hardlink
        } else {
            StageMode::Copy
        };
        ctx.stage_deps(&root, mode)?;
        if integrate {
            ctx.integrate(&root)?;
        }
        let install = ctx.dir("install")?;
        let mounts = vec![Mount {
            host: install.clone(),
            target: ctx.variable("install-root"),
            writable: true,
        }];
        let cwd = ctx.variable("cwd");
        let env = ctx.environment();
        for command in config_strings(ctx.element, "commands") {
            ctx.log(&format!("# {command}"));
            ctx.run_in(&root, !read_only, mounts.clone(), &cwd, env.clone(), &command)?;
        }
        Ok(install)
    }
}
