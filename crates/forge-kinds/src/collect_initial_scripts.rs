//! `collect_initial_scripts` (freedesktop-sdk's local plugin, used by the
//! projects built on it): the `initial-script` public data of every
//! dependency, each written as a numbered executable under `path`.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use forge_project::{Element, ElementKind, LoadError};
use serde_json::{Value, json};

use crate::build::{Assemble, BuildContext, BuildError, host_path};
use crate::checks::{config_str, no_runtime_deps, no_sources};

/// The `collect_initial_scripts` kind.
pub struct CollectInitialScripts;

impl ElementKind for CollectInitialScripts {
    fn name(&self) -> &'static str {
        "collect_initial_scripts"
    }
    fn runs_commands(&self, _element: &Element) -> bool {
        true
    }
    fn config_keys(&self) -> &'static [&'static str] {
        &["path"]
    }
    fn validate(&self, element: &Element) -> Result<(), LoadError> {
        no_runtime_deps(element)?;
        no_sources(element)?;
        config_str(element, "path").map(|_| ())
    }
    fn unique_key(&self, element: &Element) -> Value {
        json!({ "path": config_str(element, "path").unwrap_or_default() })
    }
}

impl Assemble for CollectInitialScripts {
    fn assemble(&self, ctx: &mut BuildContext<'_>) -> Result<PathBuf, BuildError> {
        let output = ctx.dir("output")?;
        let dir = host_path(&output, config_str(ctx.element, "path").unwrap_or_default());
        let mut index = 0;
        for dep in &ctx.deps {
            let Some(script) = dep
                .record
                .public
                .get("initial-script")
                .and_then(|p| p.get("script"))
                .and_then(Value::as_str)
            else {
                continue;
            };
            index += 1;
            let safe: String = dep
                .element
                .name
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect();
            let path = dir.join(format!("{index:03}-{safe}"));
            let write = || -> std::io::Result<()> {
                fs::create_dir_all(&dir)?;
                fs::write(&path, script)?;
                fs::set_permissions(&path, fs::Permissions::from_mode(0o755))
            };
            write().map_err(|e| BuildError(format!("cannot write {}: {e}", path.display())))?;
        }
        Ok(output)
    }
}
