//! `pip`: installs the wheels of its sources into
//! `%{install-root}%{python-site-packages}`, natively: no pip, and no code
//! of the packages runs. Byte-code, when asked for, is compiled in the
//! sandbox by the staged interpreter with hash-based invalidation, so a
//! rebuild gives the same bytes.

use std::path::PathBuf;

use forge_cas::StageMode;
use forge_project::{Element, ElementKind, LoadError};
use forge_python::install::{Layout, install_wheel_named};
use forge_sandbox::Mount;
use serde_json::{Value, json};

use crate::build::{Assemble, BuildContext, BuildError, config_flag, host_path};
use crate::checks::config_bool;

/// The `pip` kind.
pub struct Pip;

impl ElementKind for Pip {
    fn name(&self) -> &'static str {
        "pip"
    }
    fn defaults(&self) -> &'static str {
        include_str!("../data/pip.yaml")
    }
    fn runs_commands(&self, element: &Element) -> bool {
        config_flag(element, "compile-bytecode", false)
    }
    fn config_keys(&self) -> &'static [&'static str] {
        &["compile-bytecode"]
    }
    fn validate(&self, element: &Element) -> Result<(), LoadError> {
        config_bool(element, "compile-bytecode")?;
        if element.sources.is_empty() {
            return Err(LoadError::at(
                &element.kind_span,
                "a pip element needs at least one source (a pypi wheel, say)",
            ));
        }
        Ok(())
    }
    fn unique_key(&self, element: &Element) -> Value {
        install_key(element)
    }
}

/// What decides where and how wheels are installed (shared with
/// `pyproject`).
pub(crate) fn install_key(element: &Element) -> Value {
    let var = |name: &str| element.variables.get(name).unwrap_or_default().to_string();
    json!({
        "compile-bytecode": config_flag(element, "compile-bytecode", false),
        "python": var("python"),
        "site-packages": var("python-site-packages"),
        "bindir": var("bindir"),
        "includedir": var("includedir"),
        "python-version": var("python-version"),
        "prefix": var("prefix"),
    })
}

/// Where the parts of a wheel go under `output`, from the variables.
pub(crate) fn wheel_layout(ctx: &BuildContext<'_>, output: &std::path::Path) -> Layout {
    let site = host_path(output, &ctx.variable("python-site-packages"));
    Layout {
        purelib: site.clone(),
        platlib: site,
        scripts: host_path(output, &ctx.variable("bindir")),
        headers: host_path(
            output,
            &format!(
                "{}/python{}",
                ctx.variable("includedir"),
                ctx.variable("python-version")
            ),
        ),
        data: host_path(output, &ctx.variable("prefix")),
    }
}

/// Compiles the byte-code of the site-packages in `output` with the staged
/// interpreter, in the sandbox, with hash-based invalidation.
pub(crate) fn compile_bytecode(
    ctx: &mut BuildContext<'_>,
    root: &std::path::Path,
    output: &std::path::Path,
    env: Vec<(String, String)>,
) -> Result<(), BuildError> {
    let install_root = ctx.variable("install-root");
    let site_in_sandbox = format!("{install_root}{}", ctx.variable("python-site-packages"));
    let command = format!(
        "{} -m compileall -q --invalidation-mode checked-hash -s {install_root} -p / {site_in_sandbox}",
        ctx.variable("python")
    );
    ctx.log(&format!("# {command}"));
    let mounts = vec![Mount {
        host: output.to_path_buf(),
        target: install_root,
        writable: true,
    }];
    ctx.run_in(root, false, mounts, "/", env, &command)
}

impl Assemble for Pip {
    fn assemble(&self, ctx: &mut BuildContext<'_>) -> Result<PathBuf, BuildError> {
        // Wheels are only read: take them from the source cache where a
        // source is one cached file, stage the others.
        let mut wheels: Vec<(String, PathBuf)> = Vec::new();
        let mut staged_any = false;
        for source in &ctx.element.sources {
            let runtime = forge_sources::runtime(&source.kind)
                .ok_or_else(|| BuildError(format!("source kind '{}' cannot be staged", source.kind)))?;
            match runtime.cached_file(source, ctx.sources.cache) {
                Some(file) => wheels.push(file),
                None => staged_any = true,
            }
        }
        if staged_any {
            let input = ctx.dir("input")?;
            ctx.stage_sources(&input)?;
            wheels.clear();
            for entry in std::fs::read_dir(&input)
                .map_err(|e| BuildError(format!("cannot read the staged sources: {e}")))?
                .flatten()
            {
                wheels.push((entry.file_name().to_string_lossy().into_owned(), entry.path()));
            }
        }
        wheels.sort();
        if let Some((other, _)) = wheels.iter().find(|(name, _)| !name.ends_with(".whl")) {
            return Err(BuildError(format!(
                "{other} is not a wheel: a pip element installs wheels; build sdists with a pyproject element"
            )));
        }
        let output = ctx.dir("output")?;
        let layout = wheel_layout(ctx, &output);
        let python = ctx.variable("python");
        for (name, wheel) in &wheels {
            let installed =
                install_wheel_named(name, wheel, &layout, &python).map_err(|e| BuildError(e.to_string()))?;
            ctx.log(&format!(
                "# installed {} {} ({} files)",
                installed.name,
                installed.version,
                installed.files.len()
            ));
        }
        if config_flag(ctx.element, "compile-bytecode", false) {
            let root = ctx.dir("root")?;
            ctx.stage_deps(&root, StageMode::Hardlink)?;
            let mut env = ctx.environment();
            env.push(("PYTHONHASHSEED".into(), "0".into()));
            compile_bytecode(ctx, &root, &output, env)?;
        }
        Ok(output)
    }
}
