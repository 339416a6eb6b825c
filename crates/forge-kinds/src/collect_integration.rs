//! `collect_integration` (buildstream-plugins-community): one shell script
//! holding the integration commands of every dependency, in staging
//! order, so that an image can run them at first boot.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use forge_project::{Element, ElementKind, LoadError};
use serde_json::{Value, json};

use crate::build::{Assemble, BuildContext, BuildError, host_path, integration_commands};
use crate::checks::{config_list, config_str, no_runtime_deps, sorted_config_list};

/// The `collect_integration` kind.
pub struct CollectIntegration;

impl ElementKind for CollectIntegration {
    fn name(&self) -> &'static str {
        "collect_integration"
    }
    fn runs_commands(&self, _element: &Element) -> bool {
        true
    }
    fn config_keys(&self) -> &'static [&'static str] {
        &["script-path", "ignore"]
    }
    fn validate(&self, element: &Element) -> Result<(), LoadError> {
        no_runtime_deps(element)?;
        config_str(element, "script-path")?;
        if element.config_value("ignore").is_some() {
            config_list(element, "ignore")?;
        }
        if let Some(source) = element.sources.first() {
            return Err(LoadError::at(
                &source.span,
                format!("{}: collect-integration elements may not have sources", element.name),
            ));
        }
        Ok(())
    }
    fn unique_key(&self, element: &Element) -> Value {
        let mut ignore = sorted_config_list(element, "ignore");
        ignore.dedup();
        json!({
            "script-path": config_str(element, "script-path").unwrap_or_default(),
            "ignore": ignore,
        })
    }
}

impl Assemble for CollectIntegration {
    fn assemble(&self, ctx: &mut BuildContext<'_>) -> Result<PathBuf, BuildError> {
        let ignore = config_list(ctx.element, "ignore").unwrap_or_default();
        for name in &ignore {
            if !ctx.deps.iter().any(|d| &d.element.name == name) {
                return Err(BuildError(format!(
                    "{}: element {name} is not in dependencies",
                    ctx.element.name
                )));
            }
        }
        let mut script = String::from("#!/bin/sh\nset -e\n\n");
        for dep in ctx.deps.iter().filter(|d| !ignore.contains(&d.element.name)) {
            let commands = integration_commands(&dep.record.public);
            if commands.is_empty() {
                continue;
            }
            script.push_str(&format!("# integration commands from {}\n", dep.element.name));
            for command in commands {
                script.push_str(&command);
                script.push_str("\n\n");
            }
        }
        let output = ctx.dir("output")?;
        let path = host_path(&output, config_str(ctx.element, "script-path").unwrap_or_default());
        let write = || -> std::io::Result<()> {
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent)?;
            }
            fs::write(&path, &script)?;
            fs::set_permissions(&path, fs::Permissions::from_mode(0o777))
        };
        write().map_err(|e| BuildError(format!("cannot write the integration script: {e}")))?;
        Ok(output)
    }
}
