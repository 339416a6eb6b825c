//! A Python package index as the resolver sees it (`forge lock`): for
//! each project, the releases with a wheel for the target, and what each
//! requires. The same rules as `forge track` of a `pypi` source: yanked
//! files never, `Requires-Python` that excludes the target never, the best
//! wheel for the target's tags, and the cool-down. A release's METADATA
//! comes from its wheel, downloaded into the source cache under the
//! index's sha256, where the build will find it.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;

use forge_project::UrlPurpose;
use forge_python::Version;
use forge_python::index::IndexFile;
use forge_python::names::{DistFile, normalize, parse_filename};
use forge_python::requirement::Requirement;
use forge_python::resolve::PackageIndex;
use forge_python::tags::{Target, compatible_tags};

use crate::pypi::preference;
use crate::runtime::SourceContext;

/// The releases of an index for one target. Single-threaded, as the
/// resolver is.
pub struct IndexReleases<'a> {
    ctx: &'a SourceContext<'a>,
    indexes: Vec<String>,
    /// For each project, the index that serves it.
    served_by: RefCell<HashMap<String, String>>,
    /// Whether a trust check refused a project (dependency confusion).
    refused: RefCell<bool>,
    tags: Vec<(String, String, String)>,
    python: Option<Version>,
    min_age: Option<i64>,
    now: i64,
    /// For each (project, release): the file picked.
    picked: RefCell<BTreeMap<(String, Version), IndexFile>>,
    pages: RefCell<HashMap<String, usize>>,
    /// The sha256 of each file downloaded, by file name.
    downloaded: RefCell<HashMap<String, String>>,
    held_back: RefCell<Vec<String>>,
}

impl<'a> IndexReleases<'a> {
    /// `indexes`: the simple API roots (alias-able); with more than one, a
    /// project listed by two is refused as dependency confusion (see
    /// [`crate::pypi::find_project`]). `min_age`: the cool-down in seconds.
    pub fn new(ctx: &'a SourceContext<'a>, indexes: &[String], target: Option<&Target>, min_age: Option<i64>) -> Self {
        IndexReleases {
            ctx,
            indexes: indexes.iter().map(|i| crate::pypi::with_slash(i)).collect(),
            served_by: RefCell::default(),
            refused: RefCell::default(),
            tags: compatible_tags(target),
            python: target.and_then(|t| Version::from_str(&format!("{}.{}", t.version.0, t.version.1)).ok()),
            min_age,
            now: crate::pypi::now_seconds(),
            picked: RefCell::default(),
            pages: RefCell::default(),
            downloaded: RefCell::default(),
            held_back: RefCell::default(),
        }
    }

    /// The file picked for `name` `version`.
    pub fn file(&self, name: &str, version: &Version) -> Option<IndexFile> {
        self.picked.borrow().get(&(name.to_string(), version.clone())).cloned()
    }

    /// The sha256 of `file` as downloaded (the index's, checked), once the
    /// resolver has read it.
    pub fn sha256_of(&self, file: &IndexFile) -> Option<String> {
        self.downloaded.borrow().get(&file.filename).cloned()
    }

    /// Files the cool-down held back, to say so.
    pub fn held_back(&self) -> Vec<String> {
        self.held_back.borrow().clone()
    }

    /// Index pages read.
    pub fn pages_read(&self) -> usize {
        self.pages.borrow().len()
    }

    /// Whether a trust check refused a project the resolver asked for, so
    /// that its failure is a refusal rather than an error.
    pub fn refused(&self) -> bool {
        *self.refused.borrow()
    }

    /// The index that served `name`, once the resolver has read it.
    pub fn index_of(&self, name: &str) -> Option<String> {
        self.served_by.borrow().get(name).cloned()
    }

    fn page(&self, name: &str) -> Result<Vec<IndexFile>, String> {
        let (index, files) =
            crate::pypi::find_project(self.ctx, &self.indexes, name, UrlPurpose::Track).map_err(|e| {
                *self.refused.borrow_mut() |= e.refused;
                e.to_string()
            })?;
        *self.pages.borrow_mut().entry(name.to_string()).or_default() += 1;
        self.served_by.borrow_mut().insert(name.to_string(), index);
        Ok(files)
    }
}

impl PackageIndex for IndexReleases<'_> {
    fn versions(&self, name: &str) -> Result<Vec<Version>, String> {
        let files = self.page(name)?;
        let mut best: BTreeMap<Version, (usize, IndexFile)> = BTreeMap::new();
        let mut listed = 0;
        for file in files.into_iter().filter(|f| !f.yanked) {
            let Some(dist @ DistFile::Wheel { .. }) = parse_filename(&file.filename) else {
                continue;
            };
            if normalize(dist.name()) != name {
                continue;
            }
            let Ok(version) = Version::from_str(dist.version()) else {
                continue;
            };
            listed += 1;
            let Some(preference) = preference(&dist, &file, self.python.as_ref(), &self.tags, false) else {
                continue;
            };
            if let Some(min_age) = self.min_age
                && crate::pypi::held_back(&file, min_age, self.now).is_some()
            {
                self.held_back.borrow_mut().push(file.filename.clone());
                continue;
            }
            if best.get(&version).is_none_or(|(p, _)| preference < *p) {
                best.insert(version, (preference, file));
            }
        }
        if best.is_empty() && listed == 0 {
            return Err(format!("the index lists no wheel of '{name}' (sdists are not locked)"));
        }
        let versions: Vec<Version> = best.keys().cloned().collect();
        let mut picked = self.picked.borrow_mut();
        for (version, (_, file)) in best {
            picked.insert((name.to_string(), version), file);
        }
        Ok(versions)
    }

    fn requires(&self, name: &str, version: &Version) -> Result<Vec<Requirement>, String> {
        let file = self
            .file(name, version)
            .ok_or_else(|| format!("{name} {version} was not offered"))?;
        let done = self
            .ctx
            .download(&file.url, UrlPurpose::Fetch, &file.filename, file.sha256.as_deref())
            .map_err(|failure| {
                failure
                    .into_error(format!("cannot download {}", file.filename))
                    .to_string()
            })?;
        self.downloaded
            .borrow_mut()
            .insert(file.filename.clone(), done.sha256.clone());
        let metadata = forge_python::metadata::wheel_metadata(&self.ctx.cache.file_path(&done.sha256))
            .map_err(|e| format!("{}: {e}", file.filename))?;
        forge_python::metadata::requirements(&metadata).map_err(|e| format!("{}: {e}", file.filename))
    }
}
