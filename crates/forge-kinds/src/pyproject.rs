//! `pyproject`: builds a wheel from an sdist or a source tree with the
//! project's PEP 517 backend, inside the sandbox and offline, with the
//! backend and its requirements provided by build dependencies; then
//! installs it as a `pip` element does. A `setup.py` that tries to reach
//! the network or read the host's secrets finds nothing.

use std::fs;
use std::path::PathBuf;

use forge_cas::StageMode;
use forge_project::{Element, ElementKind, LoadError};
use forge_python::install::install_wheel;
use forge_sandbox::Mount;
use serde_json::{Value, json};

use crate::build::{Assemble, BuildContext, BuildError, config_flag};
use crate::checks::config_bool;
use crate::pip::{compile_bytecode, install_key, wheel_layout};

/// The `pyproject` kind.
pub struct Pyproject;

/// The PEP 517 front end run in the sandbox: finds the project (an sdist
/// unpacks to one directory), loads the backend from `build-system`, and
/// asks it for a wheel in the output directory.
const FRONTEND: &str = r#"
import importlib, os, sys, tomllib
out = sys.argv[1]
entries = [e for e in os.listdir(".") if not e.startswith(".")]
if not os.path.exists("pyproject.toml") and len(entries) == 1 and os.path.isdir(entries[0]):
    os.chdir(entries[0])
config = {}
if os.path.exists("pyproject.toml"):
    with open("pyproject.toml", "rb") as f:
        config = tomllib.load(f)
system = config.get("build-system", {})
backend_name = system.get("build-backend", "setuptools.build_meta:__legacy__")
for path in reversed(system.get("backend-path", [])):
    sys.path.insert(0, os.path.abspath(path))
module, _, attribute = backend_name.partition(":")
backend = importlib.import_module(module)
for part in filter(None, attribute.split(".")):
    backend = getattr(backend, part)
print(backend.build_wheel(out))
"#;

impl ElementKind for Pyproject {
    fn name(&self) -> &'static str {
        "pyproject"
    }
    fn defaults(&self) -> &'static str {
        include_str!("../data/pyproject.yaml")
    }
    fn runs_commands(&self, _element: &Element) -> bool {
        true
    }
    fn config_keys(&self) -> &'static [&'static str] {
        &["compile-bytecode"]
    }
    fn validate(&self, element: &Element) -> Result<(), LoadError> {
        config_bool(element, "compile-bytecode")?;
        if element.sources.is_empty() {
            return Err(LoadError::at(
                &element.kind_span,
                "a pyproject element needs a source: an sdist or a source tree",
            ));
        }
        Ok(())
    }
    fn unique_key(&self, element: &Element) -> Value {
        let mut key = install_key(element);
        key["frontend"] = json!(FRONTEND);
        key
    }
}

impl Assemble for Pyproject {
    fn assemble(&self, ctx: &mut BuildContext<'_>) -> Result<PathBuf, BuildError> {
        let root = ctx.dir("root")?;
        ctx.stage_deps(&root, StageMode::Hardlink)?;
        let build = ctx.dir("build")?;
        ctx.stage_sources(&build)?;
        // An sdist fetched as a file is unpacked (safely) first.
        let archives: Vec<PathBuf> = fs::read_dir(&build)
            .map_err(|e| BuildError(format!("cannot read the sources: {e}")))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.to_string_lossy().ends_with(".tar.gz"))
            .collect();
        for archive in archives {
            let reader = forge_sources::extract::open_compressed(&archive)
                .map_err(|e| BuildError(format!("cannot open {}: {e}", archive.display())))?;
            forge_sources::extract::extract_tar(reader, &build)
                .map_err(|e| BuildError(format!("cannot unpack {}: {e}", archive.display())))?;
            fs::remove_file(&archive).map_err(|e| BuildError(e.to_string()))?;
        }
        let wheels = ctx.dir("wheels")?;
        let build_root = ctx.variable("build-root");
        let wheel_dir = "/forge-wheels";
        let mounts = vec![
            Mount {
                host: build,
                target: build_root.clone(),
                writable: true,
            },
            Mount {
                host: wheels.clone(),
                target: wheel_dir.into(),
                writable: true,
            },
        ];
        let python = ctx.variable("python");
        let mut env = ctx.environment();
        env.push(("PYTHONHASHSEED".into(), "0".into()));
        env.push(("PYTHONDONTWRITEBYTECODE".into(), "1".into()));
        let command = format!("{python} -c '{}' {wheel_dir}", FRONTEND.replace('\'', "'\\''"));
        ctx.log("# building a wheel with the project's PEP 517 backend");
        ctx.run_in(&root, false, mounts, &build_root, env.clone(), &command)?;
        let built: Vec<PathBuf> = fs::read_dir(&wheels)
            .map_err(|e| BuildError(e.to_string()))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "whl"))
            .collect();
        let [wheel] = built.as_slice() else {
            return Err(BuildError(format!(
                "the backend was to build one wheel, it built {}",
                built.len()
            )));
        };
        let output = ctx.dir("output")?;
        let layout = wheel_layout(ctx, &output);
        let installed = install_wheel(wheel, &layout, &python).map_err(|e| BuildError(e.to_string()))?;
        ctx.log(&format!("# installed {} {}", installed.name, installed.version));
        if config_flag(ctx.element, "compile-bytecode", false) {
            compile_bytecode(ctx, &root, &output, env)?;
        }
        Ok(output)
    }
}
