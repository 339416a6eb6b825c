//! `manual`: configure, build, install and strip commands run in the
//! sandbox, BuildStream's BuildElement with no default commands.

use forge_project::{Element, ElementKind, LoadError};
use std::path::PathBuf;

use forge_cas::StageMode;
use forge_sandbox::Mount;

use crate::build::{Assemble, BuildContext, BuildError, config_strings};
use serde_json::{Map, Value, json};

use crate::checks::{check_locations, config_list, layout_key};

/// The command lists of a build element, in the order they run.
pub const COMMAND_LISTS: [&str; 4] = [
    "configure-commands",
    "build-commands",
    "install-commands",
    "strip-commands",
];

/// The `manual` kind.
pub struct Manual;

impl ElementKind for Manual {
    fn name(&self) -> &'static str {
        "manual"
    }
    fn defaults(&self) -> &'static str {
        include_str!("../data/manual.yaml")
    }
    fn runs_commands(&self, _element: &Element) -> bool {
        true
    }
    fn config_keys(&self) -> &'static [&'static str] {
        &COMMAND_LISTS
    }
    fn accepts_dependency_config(&self) -> bool {
        true
    }
    fn validate(&self, element: &Element) -> Result<(), LoadError> {
        for list in COMMAND_LISTS {
            config_list(element, list)?;
        }
        check_locations(element)
    }
    fn unique_key(&self, element: &Element) -> Value {
        let mut key = Map::new();
        for list in COMMAND_LISTS {
            key.insert(list.into(), json!(config_list(element, list).unwrap_or_default()));
        }
        if let Some(subdir) = element.variables.get("command-subdir") {
            key.insert("command-subdir".into(), json!(subdir));
        }
        if element
            .variables
            .get("notparallel")
            .is_some_and(|v| matches!(v, "True" | "true" | "1"))
        {
            key.insert("notparallel".into(), json!(true));
        }
        let layout = layout_key(element);
        if layout.keys().any(|location| location != "/") {
            key.insert("layout".into(), Value::Object(layout));
        }
        Value::Object(key)
    }
}

impl Assemble for Manual {
    fn assemble(&self, ctx: &mut BuildContext<'_>) -> Result<PathBuf, BuildError> {
        let root = ctx.dir("root")?;
        let integrate = ctx.has_integration();
        // Integration writes into the root: it gets copies, never links
        // into the cache.
        ctx.stage_deps(
            &root,
            if integrate {
                StageMode::Copy
            } else {
                StageMode::Hardlink
            },
        )?;
        if integrate {
            ctx.integrate(&root)?;
        }
        let build = ctx.dir("build")?;
        ctx.stage_sources(&build)?;
        let install = ctx.dir("install")?;
        let build_root = ctx.variable("build-root");
        let mounts = vec![
            Mount {
                host: build,
                target: build_root.clone(),
                writable: true,
            },
            Mount {
                host: install.clone(),
                target: ctx.variable("install-root"),
                writable: true,
            },
        ];
        let cwd = match ctx.element.variables.get("command-subdir") {
            Some(sub) if !sub.is_empty() => format!("{build_root}/{sub}"),
            _ => build_root,
        };
        let env = ctx.environment();
        for list in COMMAND_LISTS {
            for command in config_strings(ctx.element, list) {
                if command.trim().is_empty() {
                    continue;
                }
                ctx.log(&format!("# {list}: {command}"));
                ctx.run_in(&root, false, mounts.clone(), &cwd, env.clone(), &command)?;
            }
        }
        Ok(install)
    }
}
