//! Command-line parsing and dispatch.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use forge_project::{KindRegistry, LoadSettings};

use crate::exit::Failure;
use crate::session::Session;
use crate::{artifacts, audit, build, checkout, diff, fetch, import, lock, show, track};

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

    /// A user configuration file (default: $XDG_CONFIG_HOME/forge/forge.conf
    /// when it exists): mirrors, remote caches and remote execution.
    #[arg(long, global = true, env = "FORGE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// The mirror to try first when fetching.
    #[arg(long, global = true, value_name = "NAME")]
    pub default_mirror: Option<String>,

    /// How many sources to download at once.
    #[arg(long, global = true, value_name = "N", default_value_t = 8)]
    pub fetchers: usize,

    /// Say only warnings and errors: no progress, no summaries.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Say more: the log of every build, each file fetched and where from.
    #[arg(short, long, global = true)]
    pub verbose: bool,

    /// When to colour the status lines on stderr.
    #[arg(long, global = true, value_enum, value_name = "WHEN", default_value = "auto")]
    pub color: crate::output::ColorWhen,

    /// How often to retry a URL after a transient network error.
    #[arg(long, global = true, value_name = "N", default_value_t = 2)]
    pub network_retries: u32,

    /// Seconds to wait for a server that stops sending before giving up
    /// on that URL.
    #[arg(long, global = true, value_name = "SECONDS", default_value_t = 60)]
    pub network_timeout: u64,
}

/// The commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Show elements: their state, cache key and resolved configuration.
    Show(ShowArgs),
    /// Download the pinned sources of elements into the source cache.
    Fetch(FetchArgs),
    /// Ask upstream for new pins and write them into the element files.
    Track(TrackArgs),
    /// Work with sources.
    #[command(subcommand)]
    Source(SourceCommand),
    /// Build elements offline in the sandbox, or on the remote execution
    /// service of the user configuration (fetching missing sources first).
    Build(BuildArgs),
    /// Write the artifact of an element (and what it needs at run time) to a
    /// directory or a tarball.
    #[command(override_usage = CHECKOUT_USAGE)]
    Checkout(CheckoutArgs),
    /// Run a command (default: an interactive shell) in a sandbox with an
    /// element's runtime closure.
    Shell(ShellArgs),
    /// Work with artifacts.
    #[command(subcommand)]
    Artifact(ArtifactCommand),
    /// Edit an element's sources in a directory: while its workspace is
    /// open, builds take the element's sources from there.
    #[command(subcommand)]
    Workspace(WorkspaceCommand),
    /// Maintain the artifact cache.
    #[command(subcommand)]
    Cache(CacheCommand),
    /// Write pinned elements from another tool's lock file.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Start a project for a Python application in this directory (or
    /// -C DIR): project.conf with the Python target of a Debian suite, the
    /// archive's keyring, and elements/base.bst pinning python3, dash and
    /// coreutils with their dependencies from that suite.
    Init(InitArgs),
    /// Resolve what a requirements.in (or pyproject.toml) asks for, for the
    /// project's Python target, and write one pinned pip element per
    /// package, wired like the packages are.
    Lock(LockArgs),
    /// Check every package the closure pins (PyPI projects, Debian source
    /// packages) against the project's pinned advisory snapshot, offline.
    Audit(AuditArgs),
    /// Write the software bill of materials of an element and its runtime
    /// dependencies: every element and what it is built from, pinned, as
    /// SPDX 2.3 or CycloneDX 1.6 JSON, the same bytes for the same pins.
    Sbom(SbomArgs),
    /// Write the signed build provenance of a built element (an in-toto
    /// statement with a SLSA v1 predicate: its artifact's digest and every
    /// pin it was built from), or verify one against allowed SSH keys.
    #[command(subcommand)]
    Provenance(ProvenanceCommand),
    /// Show what an element's sources changed since a git revision of the
    /// project (default HEAD): the staged sources at the old pin against
    /// those at the pin now, as a unified diff (wheels unpacked).
    Diff(DiffArgs),
    /// Print a completion script for a shell, made from these definitions:
    /// `forge completions bash > /etc/bash_completion.d/forge`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print forge's manual page (roff), made from these definitions:
    /// `forge manual > forge.1; man ./forge.1`.
    Manual,
}

/// `forge provenance ...`.
#[derive(Subcommand, Debug)]
pub enum ProvenanceCommand {
    /// The provenance of TARGET's artifact in the local cache, signed with
    /// an SSH key into a DSSE envelope (unsigned: the bare statement).
    Write(ProvenanceWriteArgs),
    /// Check an envelope's signature against an allowed_signers file and
    /// print what it says was built from what.
    Verify(ProvenanceVerifyArgs),
}

/// `forge provenance write`.
#[derive(Args, Debug)]
pub struct ProvenanceWriteArgs {
    /// The built element.
    #[arg(value_name = "TARGET")]
    pub target: String,
    /// The SSH private key to sign with (as `ssh-keygen -Y sign -f`).
    #[arg(long, value_name = "KEY")]
    pub key: Option<PathBuf>,
    /// Write the envelope to this file instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// `forge provenance verify`.
#[derive(Args, Debug)]
pub struct ProvenanceVerifyArgs {
    /// The envelope `forge provenance write --key` wrote.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Who may sign, as OpenSSH's allowed_signers file says
    /// (`IDENTITY KEYTYPE KEY` lines).
    #[arg(long, value_name = "FILE")]
    pub allowed_signers: PathBuf,
    /// The signer to accept (an identity in that file).
    #[arg(long, value_name = "IDENTITY")]
    pub identity: String,
    /// Also check that this directory (`forge checkout --deps none` of the
    /// target) holds exactly the artifact the statement names.
    #[arg(long, value_name = "DIR")]
    pub checkout: Option<PathBuf>,
}

/// `forge import ...`.
#[derive(Subcommand, Debug)]
pub enum ImportCommand {
    /// One pip element per package of a requirements.txt with hashes
    /// (pip-compile output), a pylock.toml or a uv.lock, and a stack
    /// element gathering them.
    Python(ImportPythonArgs),
    /// One deb element holding the named packages and their whole
    /// Depends/Pre-Depends closure, every package pinned, from a signed
    /// Debian archive.
    Deb(ImportDebArgs),
}

/// `forge import deb`.
#[derive(Args, Debug)]
pub struct ImportDebArgs {
    /// The packages.
    #[arg(value_name = "PACKAGE", required = true)]
    pub packages: Vec<String>,
    /// The suite, such as bookworm.
    #[arg(long)]
    pub suite: String,
    /// The architecture.
    #[arg(long, default_value = "amd64")]
    pub arch: String,
    /// The component.
    #[arg(long, default_value = "main")]
    pub component: String,
    /// The archive root (alias-able).
    #[arg(long, default_value = "debian:")]
    pub url: String,
    /// The keyring the archive's Release must be signed with (in the project).
    #[arg(long, default_value = "keys/debian-archive-keyring.gpg")]
    pub keyring: String,
    /// The element file to write.
    #[arg(long, value_name = "FILE", default_value = "elements/base.bst")]
    pub into: PathBuf,
}

/// `forge init`.
#[derive(Args, Debug)]
pub struct InitArgs {
    /// The project's name (default: the directory's, made a valid name).
    #[arg(long)]
    pub name: Option<String>,
    /// The Debian suite of the base; it sets the Python target (bookworm:
    /// Python 3.11 on glibc 2.36; trixie: 3.13 on 2.41; bullseye: 3.9 on
    /// 2.31).
    #[arg(long, default_value = "bookworm")]
    pub suite: String,
    /// The Debian architecture (amd64 or arm64).
    #[arg(long, default_value = "amd64")]
    pub arch: String,
    /// The Debian archive (the `debian` alias).
    #[arg(long, value_name = "URL", default_value = "http://deb.debian.org/debian/")]
    pub debian: String,
    /// The keyring the archive's Release must be signed with, copied into
    /// keys/ (default: Debian's archive keyring, which forge ships).
    #[arg(long, value_name = "FILE")]
    pub keyring: Option<PathBuf>,
    /// The Python package index's host (the `pypi` alias; sources read
    /// `pypi:simple/`).
    #[arg(long, value_name = "URL", default_value = "https://pypi.org/")]
    pub pypi: String,
    /// Write project.conf and the keyring only: no base (nothing fetched).
    #[arg(long)]
    pub no_base: bool,
}

/// `forge import python`.
#[derive(Args, Debug)]
pub struct ImportPythonArgs {
    /// The lock file.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Where the elements go (inside the element path; default: a folder
    /// named after the lock file, such as elements/requirements/); the
    /// stack element is written beside it as DIR.bst.
    #[arg(long, value_name = "DIR")]
    pub into: Option<PathBuf>,
    /// Remove the elements an earlier import of this folder wrote that the
    /// lock file no longer names (without it they are kept, and listed).
    #[arg(long)]
    pub prune: bool,
    /// Also write the application element NAME.bst: the interpreter base
    /// (--base) and the imported packages together, ready for `forge shell
    /// NAME.bst -- COMMAND` and for an image.
    #[arg(long, value_name = "NAME", requires = "base")]
    pub app: Option<String>,
    /// The element that provides the interpreter, for --app (such as the
    /// base `forge import deb` writes).
    #[arg(long, value_name = "ELEMENT", requires = "app")]
    pub base: Option<String>,
    /// The index the sources name (default: the lock file's, else the
    /// `pypi` alias, else the public index).
    #[arg(long, value_name = "URL")]
    pub index: Option<String>,
}

/// `forge sbom`.
#[derive(Args, Debug)]
pub struct SbomArgs {
    /// The element the document describes.
    #[arg(value_name = "TARGET")]
    pub target: String,
    /// Which dependencies it lists: `run` (what the artifact is made of
    /// with its runtime closure), `all` (build dependencies too).
    #[arg(short, long, value_enum, default_value = "run")]
    pub deps: DepsSelection,
    /// The document's format.
    #[arg(short, long, value_enum, default_value = "spdx")]
    pub format: SbomFormat,
    /// Write the document to this file instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,
}

/// The formats of `forge sbom`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SbomFormat {
    /// SPDX 2.3 JSON.
    Spdx,
    /// CycloneDX 1.6 JSON.
    Cyclonedx,
}

/// `forge diff`.
#[derive(Args, Debug)]
pub struct DiffArgs {
    /// The element.
    #[arg(value_name = "ELEMENT")]
    pub element: String,
    /// Only this source (counting from 1).
    #[arg(long, value_name = "N")]
    pub source: Option<usize>,
    /// The git revision of the project whose pins are the old ones.
    #[arg(long, value_name = "REF", default_value = "HEAD")]
    pub from: String,
}

/// `forge audit`.
#[derive(Args, Debug)]
pub struct AuditArgs {
    /// Elements to audit (default: the project's default targets, else
    /// every element).
    #[arg(value_name = "TARGET")]
    pub targets: Vec<String>,
    /// Which dependencies of the targets to audit as well.
    #[arg(short, long, value_enum, default_value = "all")]
    pub deps: DepsSelection,
    /// The advisory snapshot: elements of kind `advisories` (default:
    /// advisories.bst). Repeat to combine several.
    #[arg(long, value_name = "ELEMENT")]
    pub advisories: Vec<String>,
    /// `table` for people, `json` for tools.
    #[arg(short, long, value_enum, default_value = "table")]
    pub format: AuditFormat,
    /// Exit with code 6 when a finding is this severe or more (a finding
    /// whose severity the snapshot does not give counts at every level
    /// short of `malware`); `none`: never.
    #[arg(long, value_enum, default_value = "low")]
    pub fail_on: FailOn,
    /// Also ask each pin's index whether its file was yanked since it was
    /// pinned (the one check that needs the network; a yanked pin fails
    /// the run unless --fail-on none).
    #[arg(long)]
    pub yanked: bool,
}

/// How `forge audit` prints.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditFormat {
    /// Columns, one finding per row.
    Table,
    /// One JSON document.
    Json,
    /// The closure's CycloneDX 1.6 bill of materials with its
    /// vulnerabilities, as pip-audit writes it (one target).
    Cyclonedx,
    /// The closure's SPDX 2.3 bill of materials, each affected package
    /// naming its advisories, as buildstream-sbom writes it (one target).
    Spdx,
}

/// The least severity that fails an audit.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailOn {
    /// Any finding.
    Low,
    /// Medium, high, critical, malware (and unknown).
    Medium,
    /// High, critical, malware (and unknown).
    High,
    /// Critical, malware (and unknown).
    Critical,
    /// Malicious releases only.
    Malware,
    /// Never: report only.
    None,
}

/// `forge lock`.
#[derive(Args, Debug)]
pub struct LockArgs {
    /// What to resolve: a requirements.in (`name[extras] specifiers ;
    /// marker` lines, `-r`, `-c`, `--index-url`) or a pyproject.toml.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Where the elements go (default: a folder named after the file, such
    /// as elements/requirements/); the stack element is written beside it.
    #[arg(long, value_name = "DIR")]
    pub into: Option<PathBuf>,
    /// Remove the elements an earlier run wrote that the resolution no
    /// longer needs.
    #[arg(long)]
    pub prune: bool,
    /// Also write the application element NAME.bst: the interpreter base
    /// (--base) and the packages together.
    #[arg(long, value_name = "NAME", requires = "base")]
    pub app: Option<String>,
    /// The element that provides the interpreter, for --app.
    #[arg(long, value_name = "ELEMENT", requires = "app")]
    pub base: Option<String>,
    /// The index to resolve against (default: the file's --index-url, else
    /// the `pypi` alias, else the public index).
    #[arg(long, value_name = "URL")]
    pub index: Option<String>,
}

/// What to do when a build fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OnError {
    /// Stop starting builds; let running ones finish.
    Quit,
    /// Build everything that does not depend on the failure.
    Continue,
}

/// `forge build`.
#[derive(Args, Debug)]
pub struct BuildArgs {
    /// Elements to build (default: the default targets).
    #[arg(value_name = "TARGET")]
    pub targets: Vec<String>,
    /// Builds at once (default: the CPU count).
    #[arg(long, value_name = "N")]
    pub builders: Option<usize>,
    /// What to do when a build fails.
    #[arg(long, value_enum, default_value = "quit")]
    pub on_error: OnError,
    /// Build again elements whose failure is recorded.
    #[arg(long)]
    pub retry_failed: bool,
    /// Then rebuild each target in a fresh sandbox and compare its files
    /// with the cached artifact.
    #[arg(long)]
    pub check: bool,
    /// With --check: which dependencies of the targets to check as well.
    #[arg(short, long, value_enum, default_value = "none", requires = "check")]
    pub deps: DepsSelection,
}

/// `forge checkout`.
#[derive(Args, Debug)]
pub struct CheckoutArgs {
    /// The element.
    #[arg(value_name = "TARGET")]
    pub target: String,
    /// The directory to write (created; must be empty if it exists);
    /// required unless --tar is given.
    #[arg(value_name = "DIR", required_unless_present = "tar")]
    pub destination: Option<PathBuf>,
    /// Which dependencies to include.
    #[arg(short, long, value_enum, default_value = "run")]
    pub deps: DepsSelection,
    /// Write a deterministic tarball instead.
    #[arg(long, value_name = "FILE")]
    pub tar: Option<PathBuf>,
    /// Hardlink files from the cache instead of copying (read-only files;
    /// do not modify them). Not with integration commands.
    #[arg(long)]
    pub hardlinks: bool,
    /// Do not run the dependencies' integration commands.
    #[arg(long)]
    pub no_integrate: bool,
}

/// `forge shell`.
#[derive(Args, Debug)]
pub struct ShellArgs {
    /// The element.
    #[arg(value_name = "TARGET")]
    pub target: String,
    /// The build environment instead: build dependencies and sources staged,
    /// in the build root, as for a build.
    #[arg(long)]
    pub build: bool,
    /// Share the host's network.
    #[arg(long)]
    pub network: bool,
    /// Mount a host file or directory at PATH in the sandbox, writable
    /// (repeatable), as bst's `--mount`.
    #[arg(long, num_args = 2, value_names = ["HOST", "PATH"], action = clap::ArgAction::Append)]
    pub mount: Vec<String>,
    /// The command (default: sh -i).
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<String>,
}

/// `forge artifact ...`.
#[derive(Subcommand, Debug)]
pub enum ArtifactCommand {
    /// List the artifacts in the cache.
    List,
    /// Print the build log of an element's artifact.
    Log {
        /// The element.
        #[arg(value_name = "ELEMENT")]
        element: String,
    },
    /// Delete the artifacts of elements (their files go at the next gc).
    Delete {
        /// The elements.
        #[arg(value_name = "ELEMENT", required = true)]
        elements: Vec<String>,
    },
    /// Send the artifacts of elements to the artifact servers that take
    /// pushes (only what each lacks).
    Push(TransferArgs),
    /// Bring the artifacts of elements from the artifact servers.
    Pull(TransferArgs),
    /// Say whether each element's artifact is cached, failed, available
    /// on an artifact server, or not cached (as bst prints it).
    Show {
        /// The elements.
        #[arg(value_name = "TARGET", required = true)]
        targets: Vec<String>,
        /// Which dependencies too.
        #[arg(short, long, value_enum, default_value = "none")]
        deps: DepsSelection,
    },
    /// List the files of elements' artifacts (as bst prints them).
    ListContents {
        /// The elements.
        #[arg(value_name = "TARGET", required = true)]
        targets: Vec<String>,
        /// Each entry's type, mode and size too.
        #[arg(short, long)]
        long: bool,
    },
    /// `forge checkout`, as bst spells it.
    #[command(
        override_usage = "forge artifact checkout [OPTIONS] <TARGET> <DIR>\n       forge artifact checkout [OPTIONS] <TARGET> --tar <FILE>"
    )]
    Checkout(CheckoutArgs),
}

const CHECKOUT_USAGE: &str =
    "forge checkout [OPTIONS] <TARGET> <DIR>\n       forge checkout [OPTIONS] <TARGET> --tar <FILE>";

/// `forge artifact push|pull`.
#[derive(Args, Debug)]
pub struct TransferArgs {
    /// The elements.
    #[arg(value_name = "TARGET", required = true)]
    pub targets: Vec<String>,

    /// Which dependencies' artifacts too.
    #[arg(short, long, value_enum, default_value = "none")]
    pub deps: DepsSelection,
}

/// `forge cache ...`.
#[derive(Subcommand, Debug)]
pub enum CacheCommand {
    /// Re-hash every object; remove corrupt ones and the artifacts that
    /// need them.
    Verify,
    /// Remove least recently used artifacts until the cache fits in SIZE.
    Gc {
        /// The size to keep, such as 10G, 500M or 0.
        #[arg(long, value_name = "SIZE")]
        keep: String,
    },
}

/// `forge source ...`.
#[derive(Subcommand, Debug)]
pub enum SourceCommand {
    /// Stage exactly the pinned sources of an element, offline, for review.
    #[command(
        override_usage = "forge source checkout [OPTIONS] <ELEMENT> <DIR>\n       forge source checkout [OPTIONS] <ELEMENT> --tar <FILE>"
    )]
    Checkout(SourceCheckoutArgs),
    /// `forge fetch`, as bst spells it.
    Fetch(FetchArgs),
    /// Offer the cached sources of elements to the source cache servers
    /// that take pushes (`source-caches:` with `push: true`), as `bst
    /// source push` does; a fetch offers what it brings by itself.
    Push(FetchArgs),
    /// `forge track`, as bst spells it.
    Track(TrackArgs),
}

/// `forge workspace ...`.
#[derive(Subcommand, Debug)]
pub enum WorkspaceCommand {
    /// Stage the pinned sources of elements into directories to edit
    /// (fetching what is missing) and build the elements from there.
    Open(WorkspaceOpenArgs),
    /// Build the elements from their pinned sources again.
    Close(WorkspaceCloseArgs),
    /// Put the pinned sources back into workspaces, discarding the edits
    /// and the kept build (--soft: only run configure again).
    Reset(WorkspaceResetArgs),
    /// List the open workspaces (YAML, as bst prints it).
    List,
}

/// `forge workspace open`.
#[derive(Args, Debug)]
pub struct WorkspaceOpenArgs {
    /// The elements.
    #[arg(value_name = "ELEMENT", required = true)]
    pub elements: Vec<String>,
    /// The directory (one element only; default: the element's name
    /// without `.bst`, in the current directory). bst's `--directory`:
    /// forge's `--directory` is `-C`, the project's.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Use the directory as it is: stage nothing into it.
    #[arg(long)]
    pub no_checkout: bool,
    /// Replace an open workspace, and empty a directory that is not empty.
    #[arg(short, long)]
    pub force: bool,
}

/// `forge workspace close`.
#[derive(Args, Debug)]
pub struct WorkspaceCloseArgs {
    /// The elements.
    #[arg(value_name = "ELEMENT", required_unless_present = "all")]
    pub elements: Vec<String>,
    /// Every open workspace.
    #[arg(short, long, conflicts_with = "elements")]
    pub all: bool,
    /// Delete the directories too.
    #[arg(long)]
    pub remove_dir: bool,
}

/// `forge workspace reset`.
#[derive(Args, Debug)]
pub struct WorkspaceResetArgs {
    /// The elements.
    #[arg(value_name = "ELEMENT", required_unless_present = "all")]
    pub elements: Vec<String>,
    /// Every open workspace.
    #[arg(short, long, conflicts_with = "elements")]
    pub all: bool,
    /// Keep the edits and the kept build; run configure-commands again at
    /// the next build.
    #[arg(long)]
    pub soft: bool,
}

/// `forge fetch`.
#[derive(Args, Debug)]
pub struct FetchArgs {
    /// Elements whose sources to fetch (default: the default targets).
    #[arg(value_name = "TARGET")]
    pub targets: Vec<String>,
    /// Which dependencies' sources to fetch as well.
    #[arg(short, long, value_enum, default_value = "all")]
    pub deps: DepsSelection,
}

/// `forge track`.
#[derive(Args, Debug)]
pub struct TrackArgs {
    /// Elements whose sources to track (default: the default targets).
    #[arg(value_name = "TARGET")]
    pub targets: Vec<String>,
    /// Which dependencies to track as well.
    #[arg(short, long, value_enum, default_value = "none")]
    pub deps: DepsSelection,
    /// Print what would change without writing anything.
    #[arg(long)]
    pub dry_run: bool,
    /// `show`: print what each changed wheel or sdist brings (files, .pth
    /// files, console scripts, native binaries, dependencies, setup.py,
    /// build backend); `strict`: also refuse a change that adds or changes
    /// a .pth file, a setup.py or the backend until --accept names it.
    /// Default: each source's `review:` (project.conf can set it for every
    /// pypi source), else show.
    #[arg(long, value_enum)]
    pub review: Option<Review>,
    /// With --review strict: the packages whose flagged change to write.
    #[arg(long, value_name = "PACKAGE")]
    pub accept: Vec<String>,
}

/// How `forge track` treats what a pin change brings.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Review {
    /// Print it.
    Show,
    /// Print it, and refuse what runs code unasked until accepted.
    Strict,
}

/// `forge source checkout`.
#[derive(Args, Debug)]
pub struct SourceCheckoutArgs {
    /// The element.
    #[arg(value_name = "ELEMENT")]
    pub element: String,
    /// The directory to write (created; must be empty if it exists);
    /// required unless --tar is given.
    #[arg(value_name = "DIR", required_unless_present = "tar")]
    pub destination: Option<PathBuf>,
    /// Which dependencies' sources to stage too, one directory each.
    #[arg(short, long, value_enum, default_value = "none")]
    pub deps: DepsSelection,
    /// Write a deterministic tarball instead of a directory.
    #[arg(long, value_name = "FILE")]
    pub tar: Option<PathBuf>,
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
    crate::output::init(cli.global.quiet, cli.global.verbose, cli.global.color);
    // These describe forge itself: no project is loaded.
    let described = match &cli.command {
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(
                *shell,
                &mut <Cli as clap::CommandFactory>::command(),
                "forge",
                &mut script,
            );
            Some(script)
        }
        Command::Manual => {
            let mut page = Vec::new();
            clap_mangen::Man::new(<Cli as clap::CommandFactory>::command())
                .render(&mut page)
                .map_err(|e| Failure::internal(format!("cannot render the manual: {e}")))?;
            Some(page)
        }
        _ => None,
    };
    if let Some(text) = described {
        return match std::io::Write::write_all(&mut std::io::stdout(), &text) {
            // `forge manual | head` ends forge quietly, as `show` does.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(141),
            other => other.map_err(|e| Failure::internal(format!("cannot write to stdout: {e}"))),
        };
    }
    if let Command::Init(args) = &cli.command {
        return crate::init::run(&cli.global, args);
    }
    // Verifying needs the envelope and the keys, not a project.
    if let Command::Provenance(ProvenanceCommand::Verify(args)) = &cli.command {
        return crate::sbom::verify(args);
    }
    let settings = load_settings(&cli.global)?;
    // Commands that fetch may fetch the junctions loading needs.
    let network = matches!(
        cli.command,
        Command::Fetch(_)
            | Command::Track(_)
            | Command::Audit(_)
            | Command::Diff(_)
            | Command::Build(_)
            | Command::Workspace(WorkspaceCommand::Open(_) | WorkspaceCommand::Reset(_))
            | Command::Source(SourceCommand::Fetch(_) | SourceCommand::Track(_))
    );
    let session = Session::open(&cli.global, settings, registry(), network).map_err(|mut failure| {
        // bst spells the workspace's directory --directory, which is -C here.
        if matches!(cli.command, Command::Workspace(WorkspaceCommand::Open(_))) && cli.global.directory.is_some() {
            failure.message.push_str(
                "\n  hint: `forge workspace open` takes the workspace's directory as --dir (--directory is -C)",
            );
        }
        failure
    })?;
    match cli.command {
        Command::Show(args) => show::run(&session, &args),
        Command::Fetch(args) => fetch::run(&session, &args),
        Command::Track(args) => track::run(&session, &args),
        Command::Source(SourceCommand::Checkout(args)) => checkout::run(&session, &args),
        Command::Source(SourceCommand::Fetch(args)) => fetch::run(&session, &args),
        Command::Source(SourceCommand::Push(args)) => fetch::push(&session, &args),
        Command::Source(SourceCommand::Track(args)) => track::run(&session, &args),
        Command::Build(args) => build::run(&session, &args),
        Command::Checkout(args) => artifacts::checkout(&session, &args),
        Command::Shell(args) => artifacts::shell(&session, &args),
        Command::Artifact(command) => artifacts::artifact(&session, &command),
        Command::Workspace(command) => crate::workspace::run(&session, &command),
        Command::Cache(command) => artifacts::cache(&session, &command),
        Command::Import(ImportCommand::Python(args)) => import::run(&session, &args),
        Command::Import(ImportCommand::Deb(args)) => import::debs(&session, &args),
        Command::Lock(args) => lock::run(&session, &args),
        Command::Audit(args) => audit::run(&session, &args),
        Command::Diff(args) => diff::run(&session, &args),
        Command::Sbom(args) => crate::sbom::run(&session, &args),
        Command::Provenance(ProvenanceCommand::Write(args)) => crate::sbom::provenance(&session, &args),
        Command::Completions { .. }
        | Command::Manual
        | Command::Init(_)
        | Command::Provenance(ProvenanceCommand::Verify(_)) => unreachable!("handled before loading"),
    }
}

/// Every kind forge knows.
pub fn registry() -> KindRegistry {
    let mut registry = KindRegistry::default();
    forge_kinds::register(&mut registry);
    forge_sources::register(&mut registry);
    registry
}

pub(crate) fn load_settings(global: &GlobalOptions) -> Result<LoadSettings, Failure> {
    let options = global
        .options
        .chunks(2)
        .map(|pair| match pair {
            [name, value] => Ok((name.clone(), value.clone())),
            _ => Err(Failure::usage("-o takes a NAME and a VALUE")),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let user_config = global.config.clone().or_else(|| {
        let base = std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
        Some(base.join("forge/forge.conf")).filter(|p| p.is_file())
    });
    Ok(LoadSettings {
        directory: global.directory.clone(),
        options,
        max_jobs: global.max_jobs,
        user_config,
        services: Default::default(),
    })
}
