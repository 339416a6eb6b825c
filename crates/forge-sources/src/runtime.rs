//! What source kinds do beyond loading: fetch pinned bytes into the cache,
//! track upstream for a new pin, and stage from the cache, offline.

use std::path::Path;

use forge_project::{Project, Source};
use forge_yaml::edit::NewValue;

use crate::cache::SourceCache;
use crate::download::{Downloader, Progress};

/// What a source operation may use.
pub struct SourceContext<'a> {
    /// The project (aliases, mirrors, directory).
    pub project: &'a Project,
    /// The source cache.
    pub cache: &'a SourceCache,
    /// The network client.
    pub downloader: &'a Downloader,
    /// Where progress goes.
    pub progress: &'a dyn Progress,
    /// `--default-mirror`.
    pub default_mirror: Option<&'a str>,
    /// Digests of project files from earlier runs.
    pub file_hashes: &'a forge_project::filehash::FileHashCache,
    /// Source cache servers, asked for a pinned file before its URLs.
    pub servers: Option<&'a dyn SourceServers>,
    /// What this run has read once for many sources.
    pub run: &'a RunCache,
    /// `forge source push`: what the cache already holds is offered to
    /// the servers that take pushes too (a fetch offers what it brings).
    pub push_held: bool,
}

/// What one run reads once and shares between the sources that need it:
/// a signed Debian `Packages` index is downloaded, verified and parsed
/// once per archive, suite, component and architecture, not once per
/// package. Threads that want the same index wait for the first.
#[derive(Default)]
pub struct RunCache {
    debian: std::sync::Mutex<std::collections::HashMap<String, DebianIndex>>,
}

type DebianIndex = std::sync::Arc<std::sync::OnceLock<Result<std::sync::Arc<crate::deb::PackageIndex>, SourceError>>>;

impl RunCache {
    /// The index named `key`, from `load` the first time.
    pub(crate) fn debian_packages(
        &self,
        key: String,
        load: impl FnOnce() -> Result<crate::deb::PackageIndex, SourceError>,
    ) -> Result<std::sync::Arc<crate::deb::PackageIndex>, SourceError> {
        let cell = self
            .debian
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .entry(key)
            .or_default()
            .clone();
        cell.get_or_init(|| load().map(std::sync::Arc::new)).clone()
    }
}

/// Cache servers that hold source files by their sha256 (the
/// `source-caches:` of the user configuration): a pinned file is asked of
/// them before its upstream, so they double as a mirror.
pub trait SourceServers: Sync {
    /// Brings the file with `sha256` into `cache` from a server that has
    /// it, checked; false when none has it (a failing server is warned
    /// about, never an error).
    fn pull(&self, cache: &crate::SourceCache, sha256: &str, progress: &dyn crate::Progress) -> bool;
    /// Offers the cached file with `sha256` to the servers that take pushes.
    fn push(&self, cache: &crate::SourceCache, sha256: &str, progress: &dyn crate::Progress);
    /// Brings the file a server names `urn` (a source that is not one
    /// file, such as a git checkout: see `staged_tree`) into `cache`,
    /// checked against the digest the server names; its sha256, or `None`.
    fn pull_named(&self, cache: &crate::SourceCache, urn: &str, progress: &dyn crate::Progress) -> Option<String>;
    /// Whether any server takes pushes.
    fn pushes(&self) -> bool;
    /// Sends the cached file `sha256` to the servers that take pushes and
    /// names it `urn` there.
    fn push_named(&self, cache: &crate::SourceCache, urn: &str, sha256: &str, progress: &dyn crate::Progress);
}

impl<'a> SourceContext<'a> {
    /// The same context for the sources of `project` (a subproject's
    /// elements fetch through its own aliases and mirrors).
    pub fn for_project<'b>(&'b self, project: &'b Project) -> SourceContext<'b>
    where
        'a: 'b,
    {
        SourceContext {
            project,
            cache: self.cache,
            downloader: self.downloader,
            progress: self.progress,
            default_mirror: self.default_mirror,
            file_hashes: self.file_hashes,
            servers: self.servers,
            run: self.run,
            push_held: self.push_held,
        }
    }
}

impl SourceContext<'_> {
    /// Offers the file `sha256`, which the cache holds, to the source cache
    /// servers when this run pushes what it holds.
    pub fn offer_held(&self, sha256: &str) {
        if self.push_held
            && let Some(servers) = self.servers
        {
            servers.push(self.cache, sha256, self.progress);
        }
    }

    /// [`SourceContext::offer_held`] of a tarball named `urn` on servers.
    pub fn offer_held_named(&self, urn: &str, sha256: &str) {
        if self.push_held
            && let Some(servers) = self.servers
        {
            servers.push_named(self.cache, urn, sha256, self.progress);
        }
    }

    /// The mirror to try first: the command line's, else the user
    /// configuration's.
    pub fn default_mirror(&self) -> Option<&str> {
        self.default_mirror.or(self.project.default_mirror.as_deref())
    }

    /// Downloads the file at `url` (which may use an alias) from the first
    /// of its candidates that answers, mirrors first for fetching; a
    /// mirror that served it is named on the progress output.
    pub fn download(
        &self,
        url: &str,
        purpose: forge_project::UrlPurpose,
        label: &str,
        expected: Option<&str>,
    ) -> Result<crate::download::Downloaded, crate::download::DownloadFailure> {
        // What the source cache holds under `sha`, as if downloaded from `from`.
        let held = |sha: &str, from: &str| crate::download::Downloaded {
            sha256: sha.to_ascii_lowercase(),
            url: from.to_string(),
            size: std::fs::metadata(self.cache.file_path(sha))
                .map(|m| m.len())
                .unwrap_or(0),
        };
        // Bytes already held under their pin need no download (tracking a
        // package that has not changed, say).
        if let Some(sha) = expected
            && self.cache.has_file(sha)
        {
            self.offer_held(sha);
            return Ok(held(sha, url));
        }
        if let (Some(servers), Some(sha), forge_project::UrlPurpose::Fetch) = (self.servers, expected, purpose)
            && servers.pull(self.cache, sha, self.progress)
        {
            return Ok(held(sha, "a source cache server"));
        }
        let urls = self.project.source_urls(url, purpose, self.default_mirror());
        let done = self
            .downloader
            .fetch(self.cache, label, &urls, expected, self.progress)?;
        self.report_served(url, &done.url);
        self.progress.detail(&forge_project::error::printable_line(&format!(
            "{label}: {} bytes from {}",
            done.size, done.url
        )));
        if let Some(servers) = self.servers {
            servers.push(self.cache, &done.sha256, self.progress);
        }
        Ok(done)
    }

    /// Says which mirror served `url` when one did (`served` is the URL
    /// that answered).
    pub fn report_served(&self, url: &str, served: &str) {
        if let Some(mirror) = self.project.mirror_serving(url, served) {
            // Project files may hold anything: no control characters reach the terminal.
            let line = forge_project::error::printable_line(&format!("{url}: served by {mirror}"));
            self.progress.note(&line);
        }
    }
}

/// A source operation that failed.
#[derive(Debug, Clone)]
pub struct SourceError {
    /// What went wrong.
    pub message: String,
    /// One line per URL tried, or other detail.
    pub details: Vec<String>,
    /// Whether a trust check refused the source (dependency confusion, a
    /// typo-squat held as an error) rather than something failing.
    pub refused: bool,
}

impl SourceError {
    /// An error with no details.
    pub fn new(message: impl Into<String>) -> SourceError {
        SourceError {
            message: message.into(),
            details: Vec::new(),
            refused: false,
        }
    }

    /// A trust check's refusal, with what to do about it.
    pub fn refusal(message: impl Into<String>, details: Vec<String>) -> SourceError {
        SourceError {
            message: message.into(),
            details,
            refused: true,
        }
    }
}

impl std::fmt::Display for SourceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.message)?;
        for detail in &self.details {
            write!(f, "\n  {detail}")?;
        }
        Ok(())
    }
}

/// How upstream withdrew a pinned file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Withdrawn {
    /// Marked yanked (PEP 592), with the index's reason if it gives one.
    Yanked(Option<String>),
    /// No longer listed at all.
    Unlisted,
}

impl std::fmt::Display for Withdrawn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Withdrawn::Yanked(Some(reason)) => write!(f, "yanked: {reason}"),
            Withdrawn::Yanked(None) => write!(f, "yanked (no reason given)"),
            Withdrawn::Unlisted => write!(f, "no longer listed by the index"),
        }
    }
}

/// The outcome of tracking one source.
#[derive(Debug, Clone)]
pub struct Tracked {
    /// The new `ref` value.
    pub new_ref: NewValue,
    /// The new pin, for the summary.
    pub new_display: String,
    /// The old pin, for the summary.
    pub old_display: Option<String>,
    /// Extra words for the summary ("3 commits ahead").
    pub note: Option<String>,
    /// Something the user should look at (a force-push).
    pub warning: Option<String>,
    /// For a git pin moving forward, the commits it moves over, newest
    /// first (`abc1234 subject`), at most [`COMMITS_LISTED`] and a line
    /// counting the rest: the range a person reviews.
    pub commits: Vec<String>,
}

/// How many commits `forge track` lists of a git pin's move.
pub const COMMITS_LISTED: usize = 20;

/// What a package's own files say of it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PackageFacts {
    /// Who supplies it, as written (`Name <email>`).
    pub supplier: Option<String>,
    /// Its license, as the package declares it (an SPDX expression for
    /// wheels under PEP 639).
    pub license: Option<String>,
}

/// The runtime side of a source kind.
pub trait SourceRuntime: Send + Sync {
    /// Whether the pinned content is in the cache (always for sources that
    /// live in the project).
    fn is_cached(&self, source: &Source, cache: &SourceCache) -> bool;
    /// Brings the pinned content into the cache, checking it.
    fn fetch(&self, source: &Source, ctx: &SourceContext<'_>) -> Result<(), SourceError>;
    /// Asks upstream for the newest pin; `None` for kinds without pins.
    fn track(&self, source: &Source, ctx: &SourceContext<'_>) -> Result<Option<Tracked>, SourceError>;
    /// Whether `track` reads the sources staged before this one (a
    /// submodule's commit from its superproject, a `Cargo.lock`): they are
    /// then staged into a directory and [`SourceRuntime::track_from`] is
    /// called instead of [`SourceRuntime::track`].
    fn tracks_from_previous_sources(&self) -> bool {
        false
    }
    /// `track` with the sources staged before this one in `previous`.
    fn track_from(
        &self,
        source: &Source,
        ctx: &SourceContext<'_>,
        _previous: &Path,
    ) -> Result<Option<Tracked>, SourceError> {
        self.track(source, ctx)
    }
    /// The package the pin names, for audits against advisories: a PyPI
    /// project or a Debian source package, with its version. Offline; may
    /// read the cached file (a `.deb` names its source package inside).
    fn pinned_package(
        &self,
        _source: &Source,
        _cache: &SourceCache,
    ) -> Result<Option<forge_trust::Package>, SourceError> {
        Ok(None)
    }
    /// What the pinned package says of itself in its cached file: who
    /// supplies it (a `.deb`'s `Maintainer`, a wheel's maintainer or
    /// author, `Name <email>` as written) and its license (a wheel's
    /// `License-Expression`). Offline; `None` when the file is not cached.
    fn package_facts(&self, _source: &Source, _cache: &SourceCache) -> Option<PackageFacts> {
        None
    }
    /// Whether upstream has withdrawn the pinned file since it was pinned
    /// (a yanked release on a Python index). Asks upstream; `None` for
    /// kinds without the notion, or when the pin stands.
    fn withdrawn(&self, _source: &Source, _ctx: &SourceContext<'_>) -> Result<Option<Withdrawn>, SourceError> {
        Ok(None)
    }
    /// Whether source cache servers hold this kind's sources (pulled
    /// before upstream, pushed after a fetch and by `forge source push`).
    fn on_source_caches(&self) -> bool {
        true
    }
    /// Writes the pinned content into `dir` (which exists), offline.
    fn stage(&self, source: &Source, ctx: &SourceContext<'_>, dir: &Path) -> Result<(), SourceError>;
    /// [`SourceRuntime::stage`] into a workspace the user edits: the same
    /// files, and what a developer works with besides (a git source's
    /// repository, its origin the upstream), which builds never see.
    fn stage_workspace(&self, source: &Source, ctx: &SourceContext<'_>, dir: &Path) -> Result<(), SourceError> {
        self.stage(source, ctx, dir)
    }
    /// For a source that is one cached file: its name and where the cache
    /// holds it, for readers that need no copy (never to be written to).
    fn cached_file(&self, _source: &Source, _cache: &SourceCache) -> Option<(String, std::path::PathBuf)> {
        None
    }
}

/// The runtime of a kind whose content is on this machine already (files
/// of the project, a workspace): nothing to fetch or track, only to stage.
pub(crate) trait HereAlready: Send + Sync {
    /// [`SourceRuntime::stage`].
    fn stage_here(&self, source: &Source, ctx: &SourceContext<'_>, dir: &Path) -> Result<(), SourceError>;
}

impl<K: HereAlready> SourceRuntime for K {
    fn is_cached(&self, _source: &Source, _cache: &crate::SourceCache) -> bool {
        true
    }
    fn fetch(&self, _source: &Source, _ctx: &SourceContext<'_>) -> Result<(), SourceError> {
        Ok(())
    }
    fn track(&self, _source: &Source, _ctx: &SourceContext<'_>) -> Result<Option<Tracked>, SourceError> {
        Ok(None)
    }
    fn stage(&self, source: &Source, ctx: &SourceContext<'_>, dir: &Path) -> Result<(), SourceError> {
        self.stage_here(source, ctx, dir)
    }
}

/// The modification time of every staged source file: BuildStream's
/// 2011-11-11 11:11:11 UTC. Builds see the same times whatever the clock
/// and whatever order files were written in (make never takes a generated
/// file for stale).
pub const SOURCE_MTIME: i64 = 1_321_009_871;

/// Stages `sources` in order into `dir`, each in its `directory` (which
/// must stay inside `dir`), from the source cache, offline; then gives
/// everything under `dir` the time [`SOURCE_MTIME`].
pub fn stage_sources(sources: &[Source], ctx: &SourceContext<'_>, dir: &Path) -> Result<(), SourceError> {
    stage_each(sources, ctx, dir, false)?;
    set_source_times(dir).map_err(|e| SourceError::new(format!("cannot set the times of the staged sources: {e}")))
}

/// [`stage_sources`] into a workspace (see
/// [`SourceRuntime::stage_workspace`]); the files keep the time they were
/// written at, as in any checkout.
pub fn stage_workspace(sources: &[Source], ctx: &SourceContext<'_>, dir: &Path) -> Result<(), SourceError> {
    stage_each(sources, ctx, dir, true)
}

fn set_source_times(dir: &Path) -> std::io::Result<()> {
    let time = filetime::FileTime::from_unix_time(SOURCE_MTIME, 0);
    let mut pending = vec![dir.to_path_buf()];
    let mut dirs = Vec::new();
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                pending.push(entry.path());
            } else {
                filetime::set_symlink_file_times(entry.path(), time, time)?;
            }
        }
        dirs.push(current);
    }
    // Directories last: writing into them changed their times.
    for dir in dirs.iter().rev() {
        filetime::set_symlink_file_times(dir, time, time)?;
    }
    Ok(())
}

fn stage_each(sources: &[Source], ctx: &SourceContext<'_>, dir: &Path, workspace: bool) -> Result<(), SourceError> {
    for source in sources {
        let runtime = runtime(source.kind_id)
            .ok_or_else(|| SourceError::new(format!("source kind '{}' cannot be staged", source.kind)))?;
        let target = match &source.directory {
            Some(sub) => {
                let relative = Path::new(sub.trim_start_matches('/'));
                if relative
                    .components()
                    .any(|c| !matches!(c, std::path::Component::Normal(_) | std::path::Component::CurDir))
                {
                    return Err(SourceError::new(format!(
                        "source {} ({}): 'directory' must stay inside the element's sources, not '{sub}'",
                        source.index + 1,
                        source.kind
                    )));
                }
                dir.join(relative)
            }
            None => dir.to_path_buf(),
        };
        std::fs::create_dir_all(&target)
            .map_err(|e| SourceError::new(format!("cannot create {}: {e}", target.display())))?;
        let staged = if workspace {
            runtime.stage_workspace(source, ctx, &target)
        } else {
            runtime.stage(source, ctx, &target)
        };
        staged.map_err(|e| SourceError {
            message: format!("source {} ({}): {}", source.index + 1, source.kind, e.message),
            details: e.details,
            refused: e.refused,
        })?;
    }
    Ok(())
}

/// The runtime of the source kind with implementation id `kind`.
pub fn runtime(kind: &str) -> Option<&'static dyn SourceRuntime> {
    Some(match kind {
        "git_repo" => &crate::git_repo::GitRepo,
        "git_module" => &crate::git_module::GitModule,
        "patch_queue" => &crate::patch_queue::PatchQueue,
        "zip" => &crate::zip::Zip,
        "cargo2" => &crate::cargo2::Cargo2,
        "go_module" => &crate::go_module::GoModule,
        "cpan" => &crate::cpan::Cpan,
        "bst:pypi" => &crate::pypi_community::CommunityPypi,
        "docker" => &crate::docker::Docker,
        "ostree" => &crate::ostree::Ostree,
        "ostree_mirror" => &crate::ostree_mirror::OstreeMirror,
        "local" => &crate::local::Local,
        "workspace" => &crate::workspace::Workspace,
        "remote" => &crate::remote::Remote,
        "tar" => &crate::tar::Tar,
        "patch" => &crate::patch::Patch,
        "git" => &crate::git::Git,
        "pypi" => &crate::pypi::Pypi,
        "deb" => &crate::deb::Deb,
        _ => return None,
    })
}
