//! Command-line parsing and dispatch.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use forge_project::{KindRegistry, LoadSettings, Project};

use crate::exit::Failure;
use crate::show;

/// forge: a hermetic build integrator for BuildStream-format projects.
///
/// Every source is pinned by content (a git commit, the sha256 of an
/// archive, a wheel or a Debian package); builds run offline in a sandbox
/// and land in a content-addressed cache.
#[derive(Parser, Debug)]
#[command(name = "forge", version, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalOptions,
    #[command(subcommand)]
    pub command: Command,
}

/// Options that apply to every command.
#[derive(Args, Debug)]
pub struct GlobalOptions {
    /// The project directory (default: the nearest directory, from here
    /// upwards, that holds project.conf).
    #[arg(short = 'C', long = "directory", global = true, value_name = "DIR")]
    pub directory: Option<PathBuf>,

    /// Set a project option (repeatable): -o arch x86-64
    #[arg(
        short = 'o',
        long = "option",
        global = true,
        num_args = 2,
        value_names = ["NAME", "VALUE"],
        action = clap::ArgAction::Append
    )]
    pub options: Vec<String>,

    /// Where forge keeps sources and artifacts
    /// [default: $XDG_CACHE_HOME/forge, or ~/.cache/forge]
    #[arg(long, global = true, env = "FORGE_CACHE_DIR", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,

    /// The value of the `max-jobs` variable (default: CPU count, at most 8).
    #[arg(long, global = true, value_name = "N")]
    pub max_jobs: Option<usize>,
}

/// The commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Show elements: their state, cache key and resolved configuration.
    Show(ShowArgs),
}

/// Which dependencies of the targets a command takes in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DepsSelection {
    /// The targets only.
    None,
    /// The targets and what they need at run time.
    Run,
    /// What building the targets stages (not the targets themselves).
    Build,
    /// The targets and everything they depend on.
    All,
}

/// The order `show` lists elements in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Order {
    /// Dependencies before the elements that need them.
    Stage,
    /// By name.
    Alpha,
}

/// `forge show`.
#[derive(Args, Debug)]
pub struct ShowArgs {
    /// Elements to show (default: the project's default targets, else every
    /// element).
    #[arg(value_name = "TARGET")]
    pub targets: Vec<String>,

    /// Which dependencies to show as well.
    #[arg(short, long, value_enum, default_value = "all")]
    pub deps: DepsSelection,

    /// The order of the list.
    #[arg(long, value_enum, default_value = "stage")]
    pub order: Order,

    /// A line template with %{name}, %{kind}, %{description}, %{key},
    /// %{full-key}, %{state}, %{vars}, %{env}, %{config}, %{public},
    /// %{deps}, %{build-deps}, %{runtime-deps} (Python format specs such as
    /// %{state: >12} work), or `json` for a JSON array with every field.
    #[arg(short, long, default_value = show::DEFAULT_FORMAT)]
    pub format: String,
}

/// Runs the command.
pub fn run(cli: Cli) -> Result<(), Failure> {
    let settings = load_settings(&cli.global)?;
    match cli.command {
        Command::Show(args) => {
            let project = Project::load(&settings, registry())?;
            show::run(&project, &args)
        }
    }
}

/// Every kind forge knows.
pub fn registry() -> KindRegistry {
    let mut registry = KindRegistry::default();
    forge_kinds::register(&mut registry);
    forge_sources::register(&mut registry);
    registry
}

fn load_settings(global: &GlobalOptions) -> Result<LoadSettings, Failure> {
    let options = global
        .options
        .chunks(2)
        .map(|pair| match pair {
            [name, value] => Ok((name.clone(), value.clone())),
            _ => Err(Failure::usage("-o takes a NAME and a VALUE")),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(LoadSettings {
        directory: global.directory.clone(),
        options,
        max_jobs: global.max_jobs,
    })
}
