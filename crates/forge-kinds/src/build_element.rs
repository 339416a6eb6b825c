//! BuildStream's BuildElement and the kinds built on it: configure, build,
//! install and strip commands run in the sandbox, with defaults that say
//! which commands. `manual` has none; the build-system plugins
//! (`autotools`, `cmake`, `meson` …) are nothing but their defaults, so
//! each is one entry of [`BUILD_ELEMENTS`] and one YAML file, the same
//! variables, commands and environment as the BuildStream plugin.

use forge_project::{Element, ElementKind, LoadError, Provider};
use std::path::PathBuf;

use forge_cas::StageMode;
use forge_sandbox::Mount;

use crate::build::{Assemble, BuildContext, BuildError, config_strings};
use serde_json::{Map, Value, json};

use crate::checks::{check_locations, config_list, digest_environment, layout_key};

/// The command lists of a build element, in the order they run.
pub const COMMAND_LISTS: [&str; 4] = [
    "configure-commands",
    "build-commands",
    "install-commands",
    "strip-commands",
];

/// A kind that is BuildStream's BuildElement with some defaults.
#[derive(Clone)]
pub struct BuildElement {
    /// The kind name.
    pub name: &'static str,
    /// Its implementation id (see [`ElementKind::id`]).
    pub id: &'static str,
    /// Who provides it.
    pub provider: Provider,
    /// Its default YAML.
    pub defaults: &'static str,
}

const BUILDSTREAM_PLUGINS: Provider = Provider::Plugin("buildstream-plugins");
const COMMUNITY: Provider = Provider::Plugin("buildstream-plugins-community");

macro_rules! build_element {
    ($name:literal, $provider:expr, $file:literal) => {
        build_element!($name, $name, $provider, $file)
    };
    ($name:literal, $id:literal, $provider:expr, $file:literal) => {
        BuildElement {
            name: $name,
            id: $id,
            provider: $provider,
            defaults: include_str!(concat!("../data/", $file)),
        }
    };
}

/// Every build element kind.
pub static BUILD_ELEMENTS: [BuildElement; 12] = [
    build_element!("manual", Provider::Core, "manual.yaml"),
    build_element!("autotools", BUILDSTREAM_PLUGINS, "buildstream/autotools.yaml"),
    build_element!("cmake", BUILDSTREAM_PLUGINS, "buildstream/cmake.yaml"),
    build_element!("make", BUILDSTREAM_PLUGINS, "buildstream/make.yaml"),
    build_element!("meson", BUILDSTREAM_PLUGINS, "buildstream/meson.yaml"),
    build_element!("setuptools", BUILDSTREAM_PLUGINS, "buildstream/setuptools.yaml"),
    build_element!("pip", "bst:pip", BUILDSTREAM_PLUGINS, "buildstream/pip.yaml"),
    build_element!("pyproject", "bst:pyproject", COMMUNITY, "buildstream/pyproject.yaml"),
    build_element!("cargo", COMMUNITY, "buildstream/cargo.yaml"),
    build_element!("makemaker", COMMUNITY, "buildstream/makemaker.yaml"),
    build_element!("modulebuild", COMMUNITY, "buildstream/modulebuild.yaml"),
    build_element!("qmake", COMMUNITY, "buildstream/qmake.yaml"),
];

/// The build element kind with implementation id `id`.
pub fn by_id(id: &str) -> Option<&'static BuildElement> {
    BUILD_ELEMENTS.iter().find(|k| k.id == id)
}

impl ElementKind for BuildElement {
    fn name(&self) -> &'static str {
        self.name
    }
    fn id(&self) -> &'static str {
        self.id
    }
    fn defaults(&self) -> &'static str {
        self.defaults
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
            if element.config_value(list).is_some() {
                config_list(element, list)?;
            }
        }
        check_locations(element, &["location", "digest-environment"])
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
        let digests = digest_environment(element);
        if !digests.is_empty() {
            key.insert("digest-environment".into(), json!(digests));
        }
        Value::Object(key)
    }
}

impl Assemble for BuildElement {
    fn assemble(&self, ctx: &mut BuildContext<'_>) -> Result<PathBuf, BuildError> {
        let build_root = ctx.variable("build-root");
        let cwd = match ctx.element.variables.get("command-subdir") {
            Some(sub) if !sub.is_empty() => format!("{build_root}/{sub}"),
            _ => build_root.clone(),
        };
        let mut env = ctx.environment();
        for (variable, deps) in digest_environment(ctx.element) {
            let digest = ctx.digest_of(&deps)?;
            env.retain(|(name, _)| *name != variable);
            env.push((variable, digest));
        }
        if let Some(executor) = ctx.executor {
            let remote = crate::remote_build::Remote {
                env,
                cwd: &cwd,
                sources_at: Some(build_root.clone()),
                commands: crate::remote_build::build_commands(ctx),
            };
            return crate::remote_build::assemble(ctx, executor, remote);
        }
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
        // An open workspace keeps its build directory from one build to
        // the next (see workspace_build); any other build starts afresh.
        let (mut kept, build) = match ctx.element.workspace.clone() {
            Some(workspace) => {
                let (kept, build) = crate::workspace_build::WorkspaceBuild::start(ctx, &workspace)?;
                (Some(kept), build)
            }
            None => {
                let build = ctx.dir("build")?;
                ctx.stage_sources(&build)?;
                (None, build)
            }
        };
        let install = ctx.dir("install")?;
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
        for list in COMMAND_LISTS {
            let configure = list == "configure-commands";
            if configure && kept.as_ref().is_some_and(|k| k.prepared) {
                ctx.log(
                    "# configure-commands: skipped, they succeeded in this workspace's last build \
                     (`forge workspace reset --soft` runs them again)",
                );
                continue;
            }
            for command in config_strings(ctx.element, list) {
                if command.trim().is_empty() {
                    continue;
                }
                ctx.log(&format!("# {list}: {command}"));
                ctx.run_in(&root, false, mounts.clone(), &cwd, env.clone(), &command)?;
            }
            if configure && let Some(kept) = kept.as_mut() {
                kept.mark_prepared()?;
            }
        }
        Ok(install)
    }
}
