//! `pip`: installs the wheels of its sources into
//! `%{install-root}%{python-site-packages}`, natively: no pip, and no code
//! of the packages runs. Byte-code, when asked for, is compiled in the
//! sandbox by the staged interpreter with hash-based invalidation, so a
//! rebuild gives the same bytes.

use std::path::PathBuf;

use forge_cas::{StageMode, TreeWriter};
use forge_project::{Element, ElementKind, LoadError};
use forge_python::install::{DirSink, Layout, Sink, StreamedFile, install_wheel_into};
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
    fn accepts_dependency_config(&self) -> bool {
        true
    }
    fn validate(&self, element: &Element) -> Result<(), LoadError> {
        config_bool(element, "compile-bytecode")?;
        for dep in &element.dependencies {
            for config in &dep.config {
                let map = config.as_map().expect("dependency config is a mapping");
                forge_project::error::check_keys(map, &["install-wheels"], "the dependency config of a pip element")?;
            }
        }
        if element.sources.is_empty() && wheel_dependencies(element).is_empty() {
            return Err(LoadError::at(
                &element.kind_span,
                "a pip element needs at least one source (a pypi wheel, say), or build dependencies with `config: {install-wheels: true}`",
            ));
        }
        Ok(())
    }
    fn sources_also_needed(&self, element: &Element) -> Vec<String> {
        wheel_dependencies(element)
    }
    fn unique_key(&self, element: &Element) -> Value {
        let mut key = install_key(element);
        let wheels_from = wheel_dependencies(element);
        if !wheels_from.is_empty() {
            key["wheels-from"] = json!(wheels_from);
        }
        key
    }
}

/// The build dependencies whose `pypi` sources' wheels this element installs
/// too (`config: {install-wheels: true}` on the dependency).
pub fn wheel_dependencies(element: &Element) -> Vec<String> {
    element
        .dependencies
        .iter()
        .filter(|d| d.build)
        .filter(|d| {
            d.config.iter().any(|c| {
                c.as_map()
                    .and_then(|m| m.get("install-wheels"))
                    .and_then(forge_yaml::Node::as_str)
                    .is_some_and(|v| matches!(v, "True" | "true" | "1"))
            })
        })
        .map(|d| d.name.clone())
        .collect()
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
            let runtime = forge_sources::runtime(source.kind_id)
                .ok_or_else(|| BuildError(format!("source kind '{}' cannot be staged", source.kind)))?;
            match runtime.cached_file(source, ctx.sources.cache) {
                Some(file) => wheels.push(file),
                None => staged_any = true,
            }
        }
        // Wheels of the pypi sources of dependencies configured for it.
        let mut from_dependencies = Vec::new();
        for name in wheel_dependencies(ctx.element) {
            let dep = ctx
                .deps
                .iter()
                .find(|d| d.element.name == name)
                .ok_or_else(|| BuildError(format!("{name} is not staged")))?
                .element;
            for source in dep.sources.iter().filter(|s| s.kind_id == "pypi") {
                let runtime = forge_sources::runtime(source.kind_id).expect("pypi is a known kind");
                let file = runtime.cached_file(source, ctx.sources.cache).ok_or_else(|| {
                    BuildError(format!(
                        "the wheel of {name} (source {}) is not in the source cache; run `forge fetch {name}`",
                        source.index + 1
                    ))
                })?;
                from_dependencies.push(file);
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
        wheels.extend(from_dependencies);
        wheels.sort();
        if let Some((other, _)) = wheels.iter().find(|(name, _)| !name.ends_with(".whl")) {
            return Err(BuildError(format!(
                "{other} is not a wheel: a pip element installs wheels; build sdists with a pyproject element"
            )));
        }
        let output = ctx.dir("output")?;
        let layout = wheel_layout(ctx, &output);
        let python = ctx.variable("python");
        let compile = config_flag(ctx.element, "compile-bytecode", false);
        // Without byte-compilation nothing needs the files on disk: they go
        // straight into the artifact cache.
        let cas = ctx.cas;
        let to_cas = CasSink {
            output: output.clone(),
            tree: cas.tree_writer(),
        };
        let to_dir = DirSink::default();
        let sink: &dyn Sink = if compile { &to_dir } else { &to_cas };
        for (name, wheel) in &wheels {
            let installed =
                install_wheel_into(name, wheel, &layout, &python, sink).map_err(|e| BuildError(e.to_string()))?;
            ctx.log(&format!(
                "# installed {} {} ({} files)",
                installed.name, installed.version, installed.files
            ));
        }
        if !compile {
            ctx.manifest = Some(to_cas.tree.finish());
        } else {
            let root = ctx.dir("root")?;
            ctx.stage_deps(&root, StageMode::Hardlink)?;
            let mut env = ctx.environment();
            env.push(("PYTHONHASHSEED".into(), "0".into()));
            compile_bytecode(ctx, &root, &output, env)?;
        }
        Ok(output)
    }
}

/// Installs into the artifact cache: a path under `output` is stored at
/// that path relative to it.
struct CasSink<'c> {
    output: PathBuf,
    tree: TreeWriter<'c>,
}

impl Sink for CasSink<'_> {
    fn write(
        &self,
        path: &std::path::Path,
        bytes: &[u8],
        executable: bool,
        sha256: Option<&str>,
    ) -> Result<(), String> {
        let relative = self.relative(path)?;
        self.tree
            .add_file_hashed(relative, bytes, executable, sha256)
            .map_err(|e| stored_error(relative, e))
    }

    fn write_stream(
        &self,
        path: &std::path::Path,
        content: &mut StreamedFile<'_>,
        executable: bool,
    ) -> Result<(), String> {
        let relative = self.relative(path)?;
        // The content's own verdict comes back as it is, not as a store error.
        let mut refused = None;
        self.tree
            .add_stream(relative, content, executable, |content| {
                content.verify().map_err(|why| {
                    refused = Some(why);
                    std::io::Error::new(std::io::ErrorKind::InvalidData, "refused")
                })
            })
            .map_err(|e| refused.take().unwrap_or_else(|| stored_error(relative, e)))
    }
}

impl CasSink<'_> {
    fn relative<'p>(&self, path: &'p std::path::Path) -> Result<&'p str, String> {
        path.strip_prefix(&self.output)
            .ok()
            .and_then(|p| p.to_str())
            .ok_or_else(|| format!("{} is outside the install root", path.display()))
    }
}

fn stored_error(relative: &str, e: std::io::Error) -> String {
    if e.kind() == std::io::ErrorKind::AlreadyExists {
        format!("/{relative} is installed twice")
    } else {
        format!("cannot store /{relative}: {e}")
    }
}
