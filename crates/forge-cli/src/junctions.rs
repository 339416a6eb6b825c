//! Staging junction sources for subprojects: a junction of one local
//! directory is used in place; any other is staged once from the source
//! cache into `<cache>/junctions/<digest of its pins>/` and reused while
//! its pins stay the same, so that loading a project never touches the
//! network.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use forge_project::filehash::FileHashCache;
use forge_project::junctions::{JunctionStager, in_place};
use forge_project::keys::hash_json;
use forge_project::{Element, KeyContext, LoadError, Project};
use forge_sources::{Downloader, NoProgress, SourceCache, SourceContext};
use serde_json::json;

/// Stages junction sources from the source cache.
pub struct CacheStager {
    /// The source cache.
    pub cache: SourceCache,
    /// Where staged junctions are kept.
    pub root: PathBuf,
    /// Digests of project files (local junction sources are keyed by them).
    pub file_hashes: Arc<FileHashCache>,
    /// Set for commands that use the network: a junction whose sources
    /// are missing is fetched when loading needs it, as bst does.
    pub fetching: Option<JunctionFetching>,
    /// Made on first use (staging alone is offline).
    downloader: OnceLock<Result<Downloader, String>>,
}

/// How a stager that may fetch reaches the network.
pub struct JunctionFetching {
    /// `--network-retries`.
    pub retries: u32,
    /// `--network-timeout`, in seconds.
    pub timeout: u64,
    /// `--default-mirror`.
    pub default_mirror: Option<String>,
}

impl CacheStager {
    /// A stager for the cache in `cache_dir`.
    pub fn new(
        cache_dir: &std::path::Path,
        file_hashes: Arc<FileHashCache>,
        fetching: Option<JunctionFetching>,
    ) -> CacheStager {
        CacheStager {
            cache: SourceCache::new(cache_dir),
            root: cache_dir.join("junctions"),
            file_hashes,
            fetching,
            downloader: OnceLock::new(),
        }
    }

    fn downloader(&self) -> Result<&Downloader, LoadError> {
        let (retries, timeout) = match &self.fetching {
            Some(f) => (f.retries, f.timeout.max(1)),
            None => (0, 1),
        };
        self.downloader
            .get_or_init(|| Downloader::new(retries, Duration::from_secs(timeout)))
            .as_ref()
            .map_err(|e| LoadError::new(e.clone()))
    }
}

impl JunctionStager for CacheStager {
    fn stage(&self, project: &Project, junction: &Element) -> Result<PathBuf, LoadError> {
        if let Ok(dir) = in_place(project, junction) {
            return Ok(dir);
        }
        let ctx = KeyContext {
            project_dir: &project.dir,
            file_hashes: &self.file_hashes,
        };
        let mut pins = Vec::new();
        for source in &junction.sources {
            let kind = project
                .kinds
                .source(&source.kind)
                .expect("loaded sources have known kinds");
            match kind.unique_key(source, &ctx)? {
                Some(key) => pins.push(json!([source.kind_id, key, source.directory])),
                None => {
                    return Err(LoadError::at(
                        &source.span,
                        format!("the junction {} has a source without a ref", junction.name),
                    )
                    .with_hint(format!("run `forge track {}`", junction.name)));
                }
            }
        }
        let digest = hash_json(&json!(pins));
        let done = self.root.join(&digest[..32]);
        if done.join("tree").is_dir() {
            return Ok(done.join("tree"));
        }
        let sources = SourceContext {
            project,
            cache: &self.cache,
            downloader: self.downloader()?,
            progress: &NoProgress,
            default_mirror: self.fetching.as_ref().and_then(|f| f.default_mirror.as_deref()),
            file_hashes: &self.file_hashes,
            servers: None,
            run: &forge_sources::RunCache::default(),
            push_held: false,
        };
        for source in &junction.sources {
            let Some(runtime) = forge_sources::runtime(source.kind_id) else {
                continue;
            };
            if runtime.is_cached(source, &self.cache) {
                continue;
            }
            if self.fetching.is_none() {
                return Err(LoadError::at(
                    &source.span,
                    format!(
                        "the subproject of the junction {} is not in the source cache",
                        junction.name
                    ),
                )
                .with_hint(format!("run `forge fetch {}` first", junction.name)));
            }
            eprintln!(
                "fetch: {}, to load the subproject of the junction",
                crate::fetch::describe(&junction.name, source)
            );
            runtime.fetch(source, &sources).map_err(|e| {
                LoadError::at(
                    &source.span,
                    format!("cannot fetch the junction {}: {e}", junction.name),
                )
            })?;
        }
        let partial = self
            .root
            .join(format!("{}.partial-{}", &digest[..32], std::process::id()));
        let _ = std::fs::remove_dir_all(&partial);
        let fail = |what: String| LoadError::at(&junction.kind_span, what);
        std::fs::create_dir_all(partial.join("tree"))
            .map_err(|e| fail(format!("cannot stage the junction {}: {e}", junction.name)))?;
        forge_sources::stage_sources(&junction.sources, &sources, &partial.join("tree"))
            .map_err(|e| fail(format!("cannot stage the junction {}: {e}", junction.name)))?;
        if std::fs::rename(&partial, &done).is_err() {
            // Another forge staged it meanwhile.
            let _ = std::fs::remove_dir_all(&partial);
        }
        Ok(done.join("tree"))
    }
}
