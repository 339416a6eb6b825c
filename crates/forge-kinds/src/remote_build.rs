//! An element's commands on a remote execution service, as BuildStream's
//! remote sandbox runs them: one action whose input root is the
//! dependencies, the sources at `build-root` (for build elements) and an
//! empty `install-root` (a tree of the cache: nothing is staged here),
//! whose command runs the integration commands and then the element's
//! commands in order, and whose one output is `install-root`, the
//! artifact. Build elements and `script` elements run this way.

use std::io::Write as _;
use std::path::PathBuf;

use forge_cas::Manifest;
use forge_remote::{Executor, Job};

use crate::build::{BuildContext, BuildError, config_strings};
use crate::build_element::COMMAND_LISTS;

/// One step of the script: what the log calls it, and the shell text.
struct Step {
    label: String,
    shell: String,
}

/// What an element runs remotely.
pub struct Remote<'c> {
    /// Its environment.
    pub env: Vec<(String, String)>,
    /// Where its commands run.
    pub cwd: &'c str,
    /// Where its sources go in the input root, if it has any.
    pub sources_at: Option<String>,
    /// Its commands in order, each with what the log calls it.
    pub commands: Vec<(String, String)>,
}

/// The commands of a build element: every command list, in order.
pub fn build_commands(ctx: &BuildContext<'_>) -> Vec<(String, String)> {
    let mut commands = Vec::new();
    for list in COMMAND_LISTS {
        for command in config_strings(ctx.element, list) {
            if !command.trim().is_empty() {
                commands.push((format!("{list}: {command}"), command));
            }
        }
    }
    commands
}

/// Builds the element of `ctx` on `executor`: returns a scratch directory
/// (the artifact is `ctx.manifest`).
pub fn assemble(ctx: &mut BuildContext<'_>, executor: &Executor, remote: Remote<'_>) -> Result<PathBuf, BuildError> {
    let Remote {
        env,
        cwd,
        sources_at,
        commands,
    } = remote;
    let mut tree = ctx.deps_tree()?;
    let build = ctx.dir("build")?;
    let install_root = ctx.variable("install-root");
    let failed_graft = |e: String| BuildError(format!("cannot make the input root: {e}"));
    if let Some(at) = sources_at {
        ctx.stage_sources(&build)?;
        let sources = ctx
            .cas
            .import_dir(&build)
            .map_err(|e| BuildError(format!("cannot store the sources: {e}")))?;
        tree.graft(&at, &sources).map_err(failed_graft)?;
    }
    tree.graft(&install_root, &Manifest::default()).map_err(failed_graft)?;
    // Mount points the executor's sandbox fills, as bst's input roots have.
    for dir in ["dev", "proc", "tmp"] {
        tree.ensure_dir(dir);
    }
    let input = tree.into_manifest();

    let steps = steps(ctx, &env, commands);
    let mut script = String::new();
    for (index, step) in steps.iter().enumerate() {
        script.push_str(&format!(
            "printf '%s\\n' {}\n{} || {{ s=$?; echo 'forge: step {index} failed' >&2; exit $s; }}\n",
            quote(&format!("# {}", step.label)),
            step.shell
        ));
    }
    let job = Job {
        input: &input,
        arguments: vec!["sh".into(), "-e".into(), "-c".into(), script],
        environment: env,
        working_directory: cwd.trim_start_matches('/').to_string(),
        output_directory: relative(cwd, &install_root),
        platform: vec![("OSFamily".into(), "linux".into()), ("ISA".into(), isa().into())],
        skip_cache: ctx.fresh,
    };
    ctx.log(&format!("# executing on {}", executor.describe()));
    let run = executor.run(ctx.cas, &job).map_err(|e| BuildError(e.to_string()))?;
    let _ = ctx.log.write_all(&run.stdout);
    let _ = ctx.log.write_all(&run.stderr);
    if run.exit_code != 0 {
        let stderr = String::from_utf8_lossy(&run.stderr);
        let failed = stderr
            .lines()
            .rev()
            .find_map(|line| {
                line.strip_prefix("forge: step ")?
                    .strip_suffix(" failed")?
                    .parse::<usize>()
                    .ok()
            })
            .and_then(|index| steps.get(index));
        let what = failed.map_or("the build script", |step| step.label.as_str());
        return Err(BuildError(format!(
            "command failed with exit status {} on {}: {what}",
            run.exit_code,
            executor.describe()
        )));
    }
    ctx.log(&format!(
        "# {} on {} (action {})",
        if run.cached { "result cached" } else { "executed" },
        executor.describe(),
        run.action
    ));
    ctx.manifest = Some(run.output);
    Ok(build)
}

/// The integration commands of the dependencies at `/`, each in `/` with
/// its element's environment, then the element's commands.
fn steps(ctx: &BuildContext<'_>, env: &[(String, String)], commands: Vec<(String, String)>) -> Vec<Step> {
    let mut steps = Vec::new();
    for (name, commands, dep_env) in ctx.integrations() {
        let switch = environment_switch(env, &dep_env);
        for command in commands {
            steps.push(Step {
                label: format!("integration of {name}: {command}"),
                shell: format!("(cd /{switch} && sh -e -c {})", quote(&command)),
            });
        }
    }
    for (label, command) in commands {
        steps.push(Step {
            label,
            shell: format!("sh -e -c {}", quote(&command)),
        });
    }
    steps
}

/// Shell text that turns environment `from` into `to` (`&& unset …
/// && export …`), empty when they are the same.
fn environment_switch(from: &[(String, String)], to: &[(String, String)]) -> String {
    let mut text = String::new();
    let gone: Vec<&str> = from
        .iter()
        .filter(|(name, _)| !to.iter().any(|(n, _)| n == name))
        .map(|(name, _)| name.as_str())
        .collect();
    if !gone.is_empty() {
        text.push_str(&format!(" && unset {}", gone.join(" ")));
    }
    for (name, value) in to {
        if !from.iter().any(|(n, v)| n == name && v == value) {
            text.push_str(&format!(" && export {name}={}", quote(value)));
        }
    }
    text
}

/// `text` as one single-quoted shell word.
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// `to` relative to `from` (both absolute directories), as REAPI output
/// paths are named: relative to the working directory.
fn relative(from: &str, to: &str) -> String {
    let from: Vec<&str> = from.split('/').filter(|c| !c.is_empty()).collect();
    let to: Vec<&str> = to.split('/').filter(|c| !c.is_empty()).collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<&str> = vec![".."; from.len() - common];
    parts.extend(&to[common..]);
    parts.join("/")
}

/// This machine's ISA as REAPI platforms name it.
fn isa() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "x86-64",
        "x86" => "x86-32",
        "aarch64" => "aarch64",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_paths_are_relative_to_the_working_directory() {
        assert_eq!(
            relative("/buildstream/p/e.bst", "/buildstream-install"),
            "../../../buildstream-install"
        );
        assert_eq!(relative("/b", "/b/install"), "install");
    }

    #[test]
    fn integration_steps_switch_to_their_elements_environment() {
        let element = vec![
            ("PATH".to_string(), "/bin".to_string()),
            ("CC".to_string(), "gcc".to_string()),
        ];
        let dep = vec![("PATH".to_string(), "/usr/bin".to_string())];
        assert_eq!(
            environment_switch(&element, &dep),
            " && unset CC && export PATH='/usr/bin'"
        );
        assert_eq!(environment_switch(&element, &element), "");
        assert_eq!(quote("it's"), "'it'\\''s'");
    }
}
