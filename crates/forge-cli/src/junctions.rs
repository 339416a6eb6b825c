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
    /// Only needed to satisfy the source context: staging is offline.
    downloader: OnceLock<Result<Downloader, String>>,
}

impl CacheStager {
    /// A stager for the cache in `cache_dir`.
    pub fn new(cache_dir: &std::path::Path, file_hashes: Arc<FileHashCache>) -> CacheStager {
        CacheStager {
            cache: SourceCache::new(cache_dir),
            root: cache_dir.join("junctions"),
            file_hashes,
            downloader: OnceLock::new(),
        }
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
        if let Some(source) = junction
            .sources
            .iter()
            .find(|s| forge_sources::runtime(s.kind_id).is_some_and(|r| !r.is_cached(s, &self.cache)))
        {
            return Err(LoadError::at(
                &source.span,
                format!(
                    "the subproject of the junction {} is not in the source cache",
                    junction.name
                ),
            )
            .with_hint(format!("run `forge fetch {}` first", junction.name)));
        }
        let downloader = self
            .downloader
            .get_or_init(|| Downloader::new(0, Duration::from_secs(1)))
            .as_ref()
            .map_err(|e| LoadError::new(e.clone()))?;
        let sources = SourceContext {
            project,
            cache: &self.cache,
            downloader,
            progress: &NoProgress,
            default_mirror: None,
            file_hashes: &self.file_hashes,
        };
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
