//! What every command works with: the project, the caches, the network.

use std::path::PathBuf;
use std::sync::Arc;

use forge_project::filehash::FileHashCache;
use forge_project::parsecache::ParseCache;
use forge_project::{KindRegistry, LoadServices, LoadSettings, Project};
use forge_sources::{Downloader, SourceCache, SourceContext};

use crate::cli::GlobalOptions;
use crate::exit::Failure;
use crate::progress::BarProgress;

/// A loaded project with its caches.
pub struct Session {
    /// The project.
    pub project: Arc<Project>,
    /// The cache directory.
    pub cache_dir: PathBuf,
    /// The source cache in it.
    pub sources: SourceCache,
    /// `--default-mirror`.
    pub default_mirror: Option<String>,
    /// `--fetchers`.
    pub fetchers: usize,
    /// Digests of project files from earlier runs.
    pub file_hashes: Arc<FileHashCache>,
    /// Element files parsed in earlier runs.
    parsed: Arc<ParseCache>,
    /// The user configuration file, if any.
    user_config: Option<PathBuf>,
    /// The artifact servers, connected on first use.
    artifact_servers: std::sync::OnceLock<forge_remote::Servers>,
    /// The source cache servers, connected on first use.
    source_servers: std::sync::OnceLock<Option<crate::remotes::SourceCacheServers>>,
    network_retries: u32,
    network_timeout: u64,
    /// The `-o NAME VALUE` options given, for commands forge suggests.
    options: Vec<(String, String)>,
    /// What sources read once per run.
    run: forge_sources::RunCache,
}

/// `--cache-dir`, `$FORGE_CACHE_DIR`, `$XDG_CACHE_HOME/forge` or
/// `~/.cache/forge`.
fn cache_dir(global: &GlobalOptions) -> Result<PathBuf, Failure> {
    if let Some(dir) = &global.cache_dir {
        return Ok(dir.clone());
    }
    if let Some(xdg) = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(xdg).join("forge"));
    }
    match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        Some(home) => Ok(PathBuf::from(home).join(".cache/forge")),
        None => Err(Failure::usage(
            "cannot tell where the cache goes: set --cache-dir, FORGE_CACHE_DIR or HOME",
        )),
    }
}

impl Session {
    /// A forge command line to suggest: `forge [-o NAME VALUE ...] ARGS`,
    /// with the options this run was given (names and values quoted for
    /// the shell where needed).
    pub fn suggest(&self, args: &str) -> String {
        let mut line = String::from("forge");
        for (name, value) in &self.options {
            line.push_str(&format!(" -o {} {}", shell_word(name), shell_word(value)));
        }
        format!("{line} {args}")
    }

    /// Opens the caches for the project `settings` point at and loads it,
    /// reading parsed files from the cache and staging junctions from the
    /// source cache (fetching missing ones when the command may use the
    /// `network`).
    pub fn open(
        global: &GlobalOptions,
        mut settings: LoadSettings,
        registry: KindRegistry,
        network: bool,
    ) -> Result<Session, Failure> {
        let cache_dir = cache_dir(global)?;
        let dir = Project::find_dir(&settings)?;
        let project_id = forge_project::keys::hash_json(&serde_json::json!(dir.display().to_string()));
        let file_hashes = Arc::new(FileHashCache::load(
            cache_dir.join("file-hashes").join(&project_id[..32]),
        ));
        let parsed = Arc::new(ParseCache::new(cache_dir.join("parsed")));
        settings.directory = Some(dir);
        settings.services = LoadServices {
            stager: Some(Arc::new(crate::junctions::CacheStager::new(
                &cache_dir,
                file_hashes.clone(),
                network.then(|| crate::junctions::JunctionFetching {
                    retries: global.network_retries,
                    timeout: global.network_timeout,
                    default_mirror: global.default_mirror.clone(),
                }),
            ))),
            parse_cache: Some(parsed.clone()),
        };
        let project = Project::load(&settings, registry)?;
        Ok(Session {
            file_hashes,
            parsed,
            project: Arc::new(project),
            sources: SourceCache::new(&cache_dir),
            cache_dir,
            default_mirror: global.default_mirror.clone(),
            fetchers: global.fetchers.max(1),
            network_retries: global.network_retries,
            network_timeout: global.network_timeout,
            user_config: settings.user_config.clone(),
            artifact_servers: std::sync::OnceLock::new(),
            source_servers: std::sync::OnceLock::new(),
            options: settings.options.clone(),
            run: Default::default(),
        })
    }

    /// The same session on the project loaded again from its files (after
    /// this command changed them).
    pub fn reloaded(&self) -> Result<Session, Failure> {
        let project = self.project.reload()?;
        Ok(Session {
            project: Arc::new(project),
            cache_dir: self.cache_dir.clone(),
            sources: SourceCache::new(&self.cache_dir),
            default_mirror: self.default_mirror.clone(),
            fetchers: self.fetchers,
            file_hashes: self.file_hashes.clone(),
            parsed: self.parsed.clone(),
            network_retries: self.network_retries,
            network_timeout: self.network_timeout,
            user_config: self.user_config.clone(),
            options: self.options.clone(),
            run: Default::default(),
            artifact_servers: std::sync::OnceLock::new(),
            source_servers: std::sync::OnceLock::new(),
        })
    }

    /// Computes the cache keys of `graph` and keeps the file digests and
    /// parsed files it learnt for the next run (only now: a project that
    /// does not load leaves the caches as they were).
    pub fn cache_keys(&self, graph: &forge_project::Graph) -> Result<forge_project::CacheKeys, Failure> {
        let keys = forge_project::CacheKeys::compute(graph, &self.file_hashes)?;
        if let Err(e) = self.file_hashes.save() {
            eprintln!("warning: cannot save the file digest cache: {e}");
        }
        self.parsed.save();
        Ok(keys)
    }

    /// The servers of `section` (`artifacts` or `source-caches`) that the
    /// user configuration gives this project.
    pub fn remote_specs(&self, section: &str) -> Result<Vec<forge_remote::RemoteSpec>, forge_project::LoadError> {
        crate::remotes::load_specs(self.user_config.as_deref(), &self.project.name, section)
    }

    /// bst's `workspacedir:` of the user configuration: where workspaces
    /// go by default (`~` for the home directory; relative to the current
    /// directory).
    pub fn workspace_dir(&self) -> Result<Option<PathBuf>, forge_project::LoadError> {
        let (nodes, _) =
            crate::remotes::user_sections(self.user_config.as_deref(), &self.project.name, "workspacedir")?;
        let Some(node) = nodes.first() else {
            return Ok(None);
        };
        let text = node
            .as_str()
            .ok_or_else(|| forge_project::LoadError::at(&node.span, "'workspacedir' is a directory name"))?;
        Ok(Some(match (text.strip_prefix("~/"), std::env::var_os("HOME")) {
            (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
            _ => PathBuf::from(text),
        }))
    }

    /// The artifact servers of the user configuration that answer.
    pub fn artifact_servers(&self) -> Result<&forge_remote::Servers, Failure> {
        if let Some(servers) = self.artifact_servers.get() {
            return Ok(servers);
        }
        let specs = self.remote_specs("artifacts")?;
        Ok(self
            .artifact_servers
            .get_or_init(|| crate::remotes::connect_all("artifacts", &specs)))
    }

    /// The remote execution service of the user configuration, if one is
    /// configured, `needed` says something may be built, and it answers;
    /// one that does not is named in a warning and the builds run here.
    pub fn executor(&self, needed: impl FnOnce() -> bool) -> Result<Option<forge_remote::Executor>, Failure> {
        let Some(specs) = crate::remotes::load_execution(self.user_config.as_deref(), &self.project.name)? else {
            return Ok(None);
        };
        if !needed() {
            return Ok(None);
        }
        match forge_remote::Executor::connect(&specs.execution, specs.storage.as_ref(), specs.action_cache.as_ref()) {
            Ok(executor) => {
                eprintln!(
                    "build and script elements run on {}",
                    crate::exit::printable(&executor.describe())
                );
                Ok(Some(executor))
            }
            Err(err) => {
                eprintln!(
                    "warning: remote execution: {}; building here instead",
                    crate::exit::printable(&err.to_string())
                );
                Ok(None)
            }
        }
    }

    /// The artifact cache.
    pub fn cas(&self) -> forge_cas::Cas {
        let cas = forge_cas::Cas::new(&self.cache_dir);
        // Once per run: a cache from an older forge is cleared, not misread.
        static CHECKED: std::sync::Once = std::sync::Once::new();
        CHECKED.call_once(|| match cas.ensure_format() {
            Ok(Some(notice)) => eprintln!("note: {notice}"),
            Ok(None) => {}
            Err(e) => eprintln!("warning: cannot check the artifact cache {}: {e}", cas.root().display()),
        });
        cas
    }

    /// A network client (only commands that use the network make one).
    pub fn downloader(&self) -> Result<Downloader, Failure> {
        Downloader::new(
            self.network_retries,
            std::time::Duration::from_secs(self.network_timeout.max(1)),
        )
        .map_err(Failure::internal)
    }

    /// The context source operations run in.
    pub fn source_context<'a>(&'a self, downloader: &'a Downloader, progress: &'a BarProgress) -> SourceContext<'a> {
        SourceContext {
            project: &self.project,
            cache: &self.sources,
            downloader,
            progress,
            default_mirror: self.default_mirror.as_deref(),
            file_hashes: &self.file_hashes,
            servers: self.source_servers().map(|s| s as &dyn forge_sources::SourceServers),
            run: &self.run,
            push_held: false,
        }
    }

    /// The source cache servers of the user configuration that answer
    /// (`None` when there are none; a configuration error is a warning
    /// here: the command reads the configuration again where it matters).
    fn source_servers(&self) -> Option<&crate::remotes::SourceCacheServers> {
        self.source_servers
            .get_or_init(|| {
                let specs = match self.remote_specs("source-caches") {
                    Ok(specs) => specs,
                    Err(err) => {
                        eprintln!("warning: {}", crate::exit::printable(&err.to_string()));
                        return None;
                    }
                };
                let servers = crate::remotes::connect_all("source-caches", &specs);
                (!servers.is_empty()).then_some(crate::remotes::SourceCacheServers { servers })
            })
            .as_ref()
    }
}

/// `word` as one shell word: as it is when it is plain, else single-quoted.
fn shell_word(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.,:/=+@%".contains(c))
    {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}
