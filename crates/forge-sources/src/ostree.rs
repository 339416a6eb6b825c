//! buildstream-plugins-community's `ostree`: a commit of an OSTree
//! repository, pinned by its checksum (`ref`), pulled over HTTP (or from
//! a `file://` path) from a repository in `archive` mode, the form
//! repositories are published in. Every object is checked against its
//! checksum: the commit and its directory objects by the SHA-256 of
//! their bytes, each file by the SHA-256 OSTree gives it (its header and
//! its inflated content). With `gpg-key`, the commit must carry a
//! signature by that key (`gpgv` checks it).
//!
//! The pulled tree is kept in the source cache as a deterministic
//! tarball recorded under the commit, and offered to source cache servers
//! as such. `track` reads `refs/heads/<track>`, else the `summary`. Staging writes the tree
//! without owners, extended attributes or setuid bits (as `ostree
//! checkout --user-mode` leaves them out), files 0644 or 0755 by their
//! executable bit, as forge's trees of git commits are.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use forge_project::{KeyContext, LoadError, Project, Source, SourceKind, UrlPurpose};
use forge_yaml::edit::NewValue;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::checks::{check_project_path, optional_str, required_str, span_of};
use crate::gvariant::{self, Member};
use crate::runtime::{SourceContext, SourceError, SourceRuntime, Tracked};

/// The most a commit, its signatures, a directory tree or directory
/// metadata object, or a `summary` may hold (directories of 100,000
/// entries are some 10 MB).
const METADATA_LIMIT: u64 = 64 << 20;
/// The most a file object's header may hold (its extended attributes).
const HEADER_LIMIT: usize = 1 << 20;
/// The most entries a pulled tree may have.
const MAX_ENTRIES: usize = 4_000_000;
/// File objects downloaded at once.
const PARALLEL: usize = 8;

/// `(a{sv}aya(say)sstayay)`: metadata, parent, related, subject, body,
/// timestamp, root tree, root metadata.
const COMMIT: &[Member] = &[
    Member::Variable(8),
    Member::Variable(1),
    Member::Variable(1),
    Member::Variable(1),
    Member::Variable(1),
    Member::Fixed(8, 8),
    Member::Variable(1),
    Member::Variable(1),
];
/// `(a(say)a(sayay))`: files, then directories.
const DIRTREE: &[Member] = &[Member::Variable(1), Member::Variable(1)];
/// `(say)`: a file's name and object.
const DIRTREE_FILE: &[Member] = &[Member::Variable(1), Member::Variable(1)];
/// `(sayay)`: a directory's name, tree and metadata.
const DIRTREE_DIR: &[Member] = &[Member::Variable(1), Member::Variable(1), Member::Variable(1)];
/// `(uuua(ayay))`: owner, group, mode, extended attributes.
const DIRMETA: &[Member] = &[
    Member::Fixed(4, 4),
    Member::Fixed(4, 4),
    Member::Fixed(4, 4),
    Member::Variable(1),
];
/// `(tuuuusa(ayay))`: an archived file's header: size, owner, group,
/// mode, device, symlink target, extended attributes.
const FILE_HEADER: &[Member] = &[
    Member::Fixed(8, 8),
    Member::Fixed(4, 4),
    Member::Fixed(4, 4),
    Member::Fixed(4, 4),
    Member::Fixed(4, 4),
    Member::Variable(1),
    Member::Variable(1),
];

const S_IFMT: u32 = 0o170_000;
const S_IFREG: u32 = 0o100_000;
const S_IFLNK: u32 = 0o120_000;
const S_IFDIR: u32 = 0o040_000;

fn err(message: impl Into<String>) -> SourceError {
    SourceError::new(message)
}

fn invalid(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.into())
}

/// buildstream-plugins-community's `ostree`.
pub struct Ostree;

impl SourceKind for Ostree {
    fn name(&self) -> &'static str {
        "ostree"
    }
    fn config_keys(&self) -> &'static [&'static str] {
        &["url", "ref", "track", "gpg-key"]
    }
    fn validate(&self, source: &Source, project: &Project) -> Result<(), LoadError> {
        let url = required_str(source, "url")?;
        project.check_url_alias(url, span_of(source, "url"))?;
        let reference = optional_str(source, "ref")?;
        if reference.is_none() && optional_str(source, "track")?.is_none() {
            return Err(LoadError::at(&source.span, "OSTree sources require a ref and/or track"));
        }
        if let Some(reference) = reference
            && !is_checksum(reference)
        {
            return Err(LoadError::at(
                span_of(source, "ref"),
                format!(
                    "'{}' is not an OSTree commit checksum (64 hex digits): pin the commit, or run `forge track`",
                    forge_project::error::printable_line(reference)
                ),
            ));
        }
        if source.get("gpg-key").is_some() {
            check_project_path(source, project, "gpg-key")?;
        }
        Ok(())
    }
    fn unique_key(&self, source: &Source, _ctx: &KeyContext<'_>) -> Result<Option<Value>, LoadError> {
        let Some(reference) = optional_str(source, "ref")? else {
            return Ok(None);
        };
        Ok(Some(json!([required_str(source, "url")?, reference])))
    }
}

pub(crate) fn is_checksum(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The pinned commit.
fn pinned(source: &Source) -> Result<&str, SourceError> {
    let url = required_str(source, "url").map_err(|e| err(e.to_string()))?;
    optional_str(source, "ref")
        .map_err(|e| err(e.to_string()))?
        .ok_or_else(|| err(format!("{url} has no ref: run `forge track` first")))
}

/// The pulled tree of `commit`, in the source cache and on source cache
/// servers.
fn staged_tree(commit: &str) -> crate::staged_tree::StagedTree {
    crate::staged_tree::StagedTree::named("ostree-commit", commit)
}

/// One repository, as the project reaches it (mirrors first).
pub(crate) struct Repo<'a> {
    pub ctx: &'a SourceContext<'a>,
    pub url: &'a str,
}

impl Repo<'_> {
    pub fn urls(&self, path: &str) -> Vec<String> {
        let url = format!("{}/{path}", self.url.trim_end_matches('/'));
        self.ctx
            .project
            .source_urls(&url, UrlPurpose::Fetch, self.ctx.default_mirror())
    }

    pub fn object_path(checksum: &str, extension: &str) -> String {
        format!("objects/{}/{}.{extension}", &checksum[..2], &checksum[2..])
    }

    /// A commit, directory tree or directory metadata object, checked:
    /// its checksum is the SHA-256 of its bytes.
    pub fn metadata(&self, checksum: &str, extension: &str) -> Result<Vec<u8>, SourceError> {
        self.ctx
            .downloader
            .read_with(&self.urls(&Self::object_path(checksum, extension)), |_, body| {
                let bytes = read_metadata(body)?;
                let actual = crate::checks::hex(&Sha256::digest(&bytes));
                if actual != checksum {
                    return Err(invalid(format!("its bytes hash to {actual}")));
                }
                Ok(bytes)
            })
            .map_err(|failure| failure.into_error(format!("cannot get {extension} object {checksum} of {}", self.url)))
    }

    /// The file object `checksum`, inflated and checked, written to
    /// `path` (a regular file or a symlink).
    pub fn file(&self, checksum: &str, path: &Path) -> Result<(), SourceError> {
        self.ctx
            .downloader
            .read_with(&self.urls(&Self::object_path(checksum, "filez")), |_, body| {
                write_file_object(body, checksum, Some(path))
            })
            .map_err(|failure| failure.into_error(format!("cannot get file object {checksum} of {}", self.url)))
    }

    /// The file object `checksum` as the repository stores it, checked
    /// as [`Repo::file`] checks it, written to `path` byte for byte.
    pub fn raw_file(&self, checksum: &str, path: &Path) -> Result<(), SourceError> {
        self.ctx
            .downloader
            .read_with(&self.urls(&Self::object_path(checksum, "filez")), |_, body| {
                let mut tee = Tee {
                    body,
                    copy: fs::File::create(path)?,
                };
                write_file_object(&mut tee, checksum, None)?;
                io::copy(&mut tee, &mut io::sink())?;
                Ok(())
            })
            .map_err(|failure| failure.into_error(format!("cannot get file object {checksum} of {}", self.url)))
    }
}

/// All of `body`, a metadata object: more than [`METADATA_LIMIT`] is
/// refused.
fn read_metadata(body: &mut dyn Read) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    body.take(METADATA_LIMIT + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > METADATA_LIMIT {
        return Err(invalid(format!("larger than {METADATA_LIMIT} bytes")));
    }
    Ok(bytes)
}

/// A body that copies what is read of it.
struct Tee<'b> {
    body: &'b mut dyn Read,
    copy: fs::File,
}

impl Read for Tee<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.body.read(buf)?;
        self.copy.write_all(&buf[..n])?;
        Ok(n)
    }
}

/// Reads an archived file object from `body` into `path` (or nowhere)
/// and checks it against `checksum`: OSTree hashes the file's header
/// (owner, mode, symlink target, extended attributes; framed as GVariant)
/// and then its content, inflated.
fn write_file_object(body: &mut dyn Read, checksum: &str, path: Option<&Path>) -> io::Result<()> {
    let mut prefix = [0u8; 8];
    body.read_exact(&mut prefix)?;
    let header_size = u32::from_be_bytes(prefix[..4].try_into().expect("four bytes")) as usize;
    if header_size > HEADER_LIMIT {
        return Err(invalid(format!("a file header of {header_size} bytes")));
    }
    let mut header = vec![0; header_size];
    body.read_exact(&mut header)?;
    let parts = gvariant::tuple(&header, FILE_HEADER).ok_or_else(|| invalid("a malformed file header"))?;
    let size = gvariant::u64_be(parts[0]).ok_or_else(|| invalid("a malformed file size"))?;
    let mode = gvariant::u32_be(parts[3]).ok_or_else(|| invalid("a malformed file mode"))?;
    let target = gvariant::string(parts[5]).ok_or_else(|| invalid("a malformed symlink target"))?;
    let mut hasher = Sha256::new();
    let canonical = canonical_header(&header[8..24], parts[5], parts[6]);
    hasher.update((canonical.len() as u32).to_be_bytes());
    hasher.update([0u8; 4]);
    hasher.update(&canonical);
    if let Some(path) = path {
        let _ = fs::remove_file(path);
    }
    match mode & S_IFMT {
        S_IFLNK => {
            check(hasher, checksum)?;
            if target.is_empty() {
                return Err(invalid("a symlink to nothing"));
            }
            match path {
                Some(path) => std::os::unix::fs::symlink(target, path),
                None => Ok(()),
            }
        }
        S_IFREG => {
            let mut out: Box<dyn Write> = match path {
                Some(path) => Box::new(fs::File::create(path)?),
                None => Box::new(io::sink()),
            };
            // Deflate cannot grow data by more than a little: a body that
            // goes on is cut off, and what it inflates to must be `size`.
            let limit = size.saturating_add(size / 8).saturating_add(1 << 16);
            let mut inflated = flate2::read::DeflateDecoder::new(body.take(limit)).take(size.saturating_add(1));
            let mut buffer = vec![0u8; 256 << 10];
            let mut written = 0u64;
            loop {
                let n = inflated.read(&mut buffer)?;
                if n == 0 {
                    break;
                }
                hasher.update(&buffer[..n]);
                out.write_all(&buffer[..n])?;
                written += n as u64;
            }
            if written != size {
                return Err(invalid(format!(
                    "it inflates to {written} bytes, its header says {size}"
                )));
            }
            check(hasher, checksum)?;
            use std::os::unix::fs::PermissionsExt;
            // Readable by the owner whatever the mode: it is archived next.
            match path {
                Some(path) => fs::set_permissions(path, fs::Permissions::from_mode((mode & 0o777) | 0o400)),
                None => Ok(()),
            }
        }
        _ => Err(invalid(format!(
            "a special file (mode {mode:o}), which a source cannot hold"
        ))),
    }
}

fn check(hasher: Sha256, checksum: &str) -> io::Result<()> {
    let actual = crate::checks::hex(&hasher.finalize());
    if actual == checksum {
        Ok(())
    } else {
        Err(invalid(format!("it hashes to {actual}")))
    }
}

/// The header OSTree hashes for a file, `(uuuusa(ayay))`: the archived
/// header without its size, framed again (the framing offset of the
/// target string moves by the eight bytes of the size).
fn canonical_header(owner_mode_device: &[u8], target: &[u8], xattrs: &[u8]) -> Vec<u8> {
    let end_of_target = owner_mode_device.len() + target.len();
    let body = end_of_target + xattrs.len();
    let size = [1usize, 2, 4, 8]
        .into_iter()
        .find(|&size| gvariant::offset_size(body + size) <= size)
        .unwrap_or(8);
    let mut out = Vec::with_capacity(body + size);
    out.extend_from_slice(owner_mode_device);
    out.extend_from_slice(target);
    out.extend_from_slice(xattrs);
    out.extend_from_slice(&(end_of_target as u64).to_le_bytes()[..size]);
    out
}

/// A name in a directory tree: one path component.
fn checked_name(name: &[u8]) -> Result<&str, SourceError> {
    let name = gvariant::string(name).ok_or_else(|| err("a directory tree holds a malformed name"))?;
    if name.is_empty() || name == "." || name == ".." || name.contains('/') {
        return Err(err(format!(
            "a directory tree holds the name '{}', which is not one path component",
            forge_project::error::printable_line(name)
        )));
    }
    Ok(name)
}

fn checksum_of(bytes: &[u8]) -> Result<String, SourceError> {
    if bytes.len() != 32 {
        return Err(err("an object is named by a checksum that is not 32 bytes"));
    }
    Ok(crate::checks::hex(bytes))
}

/// What a commit names, read and checked, with the objects read on the
/// way (kept by a mirror).
pub(crate) struct Walked {
    /// The commit object.
    pub commit: Vec<u8>,
    /// Its detached metadata (signatures), when they were checked.
    pub commitmeta: Option<Vec<u8>>,
    /// Directory objects: checksum, extension (`dirtree`, `dirmeta`),
    /// bytes.
    pub metadata: Vec<(String, &'static str, Vec<u8>)>,
    /// Directories below the root (relative paths, parents first), and
    /// their modes; the root's is first, with an empty path.
    pub directories: Vec<(PathBuf, u32)>,
    /// Files: object checksum, relative path.
    pub files: Vec<(String, PathBuf)>,
}

/// Reads the commit `commit` of `repo` and every directory object under
/// it, each checked (and, with `keyring`, the commit's signature).
pub(crate) fn walk(repo: &Repo<'_>, commit: &str, keyring: Option<&Path>) -> Result<Walked, SourceError> {
    let bytes = repo.metadata(commit, "commit")?;
    let commitmeta = match keyring {
        Some(keyring) => Some(check_signature(repo, commit, &bytes, keyring)?),
        None => None,
    };
    let parts = gvariant::tuple(&bytes, COMMIT).ok_or_else(|| err(format!("commit {commit} is malformed")))?;
    let root = (checksum_of(parts[6])?, checksum_of(parts[7])?);
    let mut walked = Walked {
        commit: bytes.clone(),
        commitmeta,
        metadata: Vec::new(),
        directories: Vec::new(),
        files: Vec::new(),
    };
    let mut modes: HashMap<String, u32> = HashMap::new();
    let mut pending = vec![(root, PathBuf::new())];
    let mut entries = 0usize;
    while let Some(((tree, meta), path)) = pending.pop() {
        let mode = match modes.get(&meta) {
            Some(mode) => *mode,
            None => {
                let bytes = repo.metadata(&meta, "dirmeta")?;
                let mode = gvariant::tuple(&bytes, DIRMETA)
                    .and_then(|parts| gvariant::u32_be(parts[2]))
                    .filter(|mode| mode & S_IFMT == S_IFDIR)
                    .ok_or_else(|| err(format!("directory metadata {meta} is malformed")))?;
                modes.insert(meta.clone(), mode);
                walked.metadata.push((meta.clone(), "dirmeta", bytes));
                mode
            }
        };
        walked.directories.push((path.clone(), mode & 0o777));
        let bytes = repo.metadata(&tree, "dirtree")?;
        let malformed = || err(format!("directory tree {tree} is malformed"));
        let parts = gvariant::tuple(&bytes, DIRTREE).ok_or_else(malformed)?;
        let listed_files = gvariant::array(parts[0], 1).ok_or_else(malformed)?;
        let listed_dirs = gvariant::array(parts[1], 1).ok_or_else(malformed)?;
        entries += listed_files.len() + listed_dirs.len();
        if entries > MAX_ENTRIES {
            return Err(err(format!("commit {commit} holds more than {MAX_ENTRIES} entries")));
        }
        for file in listed_files {
            let member = gvariant::tuple(file, DIRTREE_FILE).ok_or_else(malformed)?;
            walked
                .files
                .push((checksum_of(member[1])?, path.join(checked_name(member[0])?)));
        }
        for dir in listed_dirs {
            let member = gvariant::tuple(dir, DIRTREE_DIR).ok_or_else(malformed)?;
            let name = checked_name(member[0])?;
            pending.push(((checksum_of(member[1])?, checksum_of(member[2])?), path.join(name)));
        }
        walked.metadata.push((tree.clone(), "dirtree", bytes));
    }
    Ok(walked)
}

/// The files of `walked` once per object: a file object named at several
/// paths is fetched once.
pub(crate) fn unique_files(walked: &Walked) -> Vec<&(String, PathBuf)> {
    let mut seen = std::collections::HashSet::new();
    walked
        .files
        .iter()
        .filter(|file| seen.insert(file.0.as_str()))
        .collect()
}

/// Pulls the tree of `commit` from `repo` into `staging` (empty):
/// directories first, then the files, several at once, modes of
/// directories last, once they are filled. Returns the number of files.
fn pull_tree(repo: &Repo<'_>, commit: &str, keyring: Option<&Path>, staging: &Path) -> Result<usize, SourceError> {
    let walked = walk(repo, commit, keyring)?;
    let staged = |e: io::Error, path: &Path| err(format!("cannot stage {}: {e}", path.display()));
    for (path, _) in walked.directories.iter().skip(1) {
        fs::create_dir(staging.join(path)).map_err(|e| staged(e, path))?;
    }
    let unique = unique_files(&walked);
    let results = forge_project::parallel::map_on(PARALLEL, &unique, |file| repo.file(&file.0, &staging.join(&file.1)));
    results.into_iter().collect::<Result<Vec<()>, SourceError>>()?;
    let first: HashMap<&str, &Path> = unique
        .iter()
        .map(|(sum, path)| (sum.as_str(), path.as_path()))
        .collect();
    for (checksum, path) in &walked.files {
        let from = first[checksum.as_str()];
        if from == path {
            continue;
        }
        let (from, to) = (staging.join(from), staging.join(path));
        let copied = match fs::read_link(&from) {
            Ok(target) => std::os::unix::fs::symlink(target, &to),
            Err(_) => fs::copy(&from, &to).map(drop),
        };
        copied.map_err(|e| staged(e, path))?;
    }
    for (path, mode) in walked.directories.iter().rev() {
        use std::os::unix::fs::PermissionsExt;
        // Kept writable: staging and the cache clean up after themselves.
        fs::set_permissions(staging.join(path), fs::Permissions::from_mode(mode | 0o700))
            .map_err(|e| staged(e, path))?;
    }
    Ok(walked.files.len())
}

/// The refs of a repository's `summary`, `(a(s(taya{sv}))a{sv})`: each
/// ref's name and commit.
pub(crate) fn summary_refs(bytes: &[u8]) -> Option<Vec<(String, String)>> {
    let parts = gvariant::tuple(bytes, &[Member::Variable(8), Member::Variable(8)])?;
    let mut refs = Vec::new();
    for entry in gvariant::array(parts[0], 8)? {
        let entry = gvariant::tuple(entry, &[Member::Variable(1), Member::Variable(8)])?;
        let name = gvariant::string(entry[0])?;
        let value = gvariant::tuple(
            entry[1],
            &[Member::Fixed(8, 8), Member::Variable(1), Member::Variable(8)],
        )?;
        if value[1].len() != 32 {
            return None;
        }
        refs.push((name.to_string(), crate::checks::hex(value[1])));
    }
    Some(refs)
}

/// The refs `repo` lists in its `summary` (`ostree summary -u` writes
/// it): name and commit.
pub(crate) fn read_summary(repo: &Repo<'_>) -> Result<Vec<(String, String)>, SourceError> {
    let url = repo.url;
    let summary = repo
        .ctx
        .downloader
        .read_with(&repo.urls("summary"), |_, body| read_metadata(body))
        .map_err(|failure| {
            failure.into_error(format!(
                "cannot read the summary of {url} (`ostree summary -u` writes it)"
            ))
        })?;
    summary_refs(&summary).ok_or_else(|| err(format!("the summary of {url} is malformed")))
}

/// Checks that the commit carries a signature by a key of `keyring` (in
/// its detached metadata, `ostree.gpgsigs`, as `ostree gpg-sign` writes).
fn check_signature(repo: &Repo<'_>, commit: &str, bytes: &[u8], keyring: &Path) -> Result<Vec<u8>, SourceError> {
    let urls = repo.urls(&Repo::object_path(commit, "commitmeta"));
    let meta = repo
        .ctx
        .downloader
        .read_with(&urls, |_, body| read_metadata(body))
        .map_err(|failure| {
            failure.into_error(format!(
                "commit {commit} of {} has no signature to check against gpg-key",
                repo.url
            ))
        })?;
    let unsigned = || err(format!("commit {commit} of {} is not signed", repo.url));
    let signatures = gvariant::array(&meta, 8)
        .ok_or_else(unsigned)?
        .into_iter()
        .filter_map(|entry| {
            let parts = gvariant::tuple(entry, &[Member::Variable(1), Member::Variable(8)])?;
            (gvariant::string(parts[0])? == "ostree.gpgsigs").then_some(parts[1])
        })
        .find_map(|value| match gvariant::variant(value)? {
            (signatures, "aay") => gvariant::array(signatures, 1),
            _ => None,
        })
        .ok_or_else(unsigned)?;
    let mut refusals = Vec::new();
    for signature in signatures {
        match forge_debian::release::verify_signature(bytes, signature, keyring, "OSTree commit") {
            Ok(()) => return Ok(meta),
            Err(why) => refusals.push(why),
        }
    }
    Err(err(format!(
        "commit {commit} of {}: no signature by gpg-key: {}",
        repo.url,
        refusals.join("; ")
    )))
}

/// The keyring `gpg-key` names, if any.
fn keyring(source: &Source, ctx: &SourceContext<'_>) -> Result<Option<PathBuf>, SourceError> {
    Ok(optional_str(source, "gpg-key")
        .map_err(|e| err(e.to_string()))?
        .map(|key| ctx.project.dir.join(key)))
}

impl SourceRuntime for Ostree {
    fn is_cached(&self, source: &Source, cache: &crate::SourceCache) -> bool {
        pinned(source).is_ok_and(|commit| staged_tree(commit).is_kept(cache))
    }

    fn fetch(&self, source: &Source, ctx: &SourceContext<'_>) -> Result<(), SourceError> {
        let url = required_str(source, "url").map_err(|e| err(e.to_string()))?;
        let commit = pinned(source)?;
        let tree = staged_tree(commit);
        if tree.fetch_before_upstream(ctx) {
            return Ok(());
        }
        let keyring = keyring(source, ctx)?;
        let repo = Repo { ctx, url };
        let count = tree.keep(ctx, url, |staging| {
            pull_tree(&repo, commit, keyring.as_deref(), staging)
        })?;
        ctx.progress.detail(&forge_project::error::printable_line(&format!(
            "{url}: commit {commit}, {count} files"
        )));
        Ok(())
    }

    fn track(&self, source: &Source, ctx: &SourceContext<'_>) -> Result<Option<Tracked>, SourceError> {
        let url = required_str(source, "url").map_err(|e| err(e.to_string()))?;
        let Some(branch) = optional_str(source, "track").map_err(|e| err(e.to_string()))? else {
            return Ok(None);
        };
        let repo = Repo { ctx, url };
        // The branch's file, else the repository's summary (a repository
        // may publish only the summary).
        let commit = match ctx
            .downloader
            .get_text(&repo.urls(&format!("refs/heads/{branch}")), "*/*")
        {
            Ok((_, body, _)) => body.trim().to_string(),
            Err(failure) => {
                let listed = read_summary(&repo).map_err(|summary| {
                    let mut error = failure.into_error(format!("cannot read branch {branch} of {url}"));
                    error.details.push(format!("and {}", summary.message));
                    error
                })?;
                listed
                    .into_iter()
                    .find(|(name, _)| name == branch)
                    .map(|(_, commit)| commit)
                    .ok_or_else(|| {
                        err(format!(
                            "{url} has no branch {branch} (not in refs/heads, nor in its summary)"
                        ))
                    })?
            }
        };
        let commit = commit.as_str();
        if !is_checksum(commit) {
            return Err(err(format!(
                "branch {branch} of {url} names '{}', which is not a commit checksum",
                forge_project::error::printable_line(commit)
            )));
        }
        Ok(Some(Tracked {
            new_ref: NewValue::Scalar(commit.to_string()),
            new_display: commit.to_string(),
            old_display: optional_str(source, "ref").ok().flatten().map(str::to_string),
            note: None,
            warning: None,
            commits: Vec::new(),
        }))
    }

    fn stage(&self, source: &Source, ctx: &SourceContext<'_>, dir: &Path) -> Result<(), SourceError> {
        let commit = pinned(source)?;
        if !staged_tree(commit).stage(ctx, dir)? {
            return Err(err(format!(
                "commit {commit} is not in the source cache; run `forge fetch`"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `hello.txt` (0644, "hello\n") as `ostree commit` archives it, and
    /// the checksum OSTree gives it.
    const HELLO: &str = "0000001a0000000000000000000000060000000000000000000081a4000000000019cb48cdc9c9e70200";
    const HELLO_SUM: &str = "44f778e59f0a4748d6b0c90a47347212a231c4ad1e8f7ea5c5dffc7749153a6b";

    fn unhex(text: &str) -> Vec<u8> {
        (0..text.len() / 2)
            .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn an_archived_file_is_inflated_and_checked_as_ostree_sums_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hello.txt");
        write_file_object(&mut &unhex(HELLO)[..], HELLO_SUM, Some(&path)).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"hello\n");
        let wrong = "0".repeat(64);
        let refused = write_file_object(&mut &unhex(HELLO)[..], &wrong, Some(&path)).unwrap_err();
        assert_eq!(refused.kind(), io::ErrorKind::InvalidData);
        assert!(
            refused.to_string().contains(&format!("it hashes to {HELLO_SUM}")),
            "{refused}"
        );
        // Cut short: the stream ends before the content does.
        let short = unhex(HELLO);
        let cut = write_file_object(&mut &short[..short.len() - 4], HELLO_SUM, Some(&path)).unwrap_err();
        assert!(
            cut.kind() != io::ErrorKind::InvalidData || cut.to_string().contains("inflates"),
            "{cut}"
        );
    }

    #[test]
    fn symlinks_are_summed_by_their_header_alone() {
        // `link -> hello.txt`, archived: a header and no content.
        let link = "0000002300000000000000000000000000000000000000000000a1ff0000000068656c6c6f2e7478740022";
        let sum = "f66efa496a72379413c44593de510dc344beb045294f1a543da87b2b6118db35";
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("link");
        write_file_object(&mut &unhex(link)[..], sum, Some(&path)).unwrap();
        assert_eq!(fs::read_link(&path).unwrap(), Path::new("hello.txt"));
    }

    #[test]
    fn damaged_file_objects_are_refused_never_panic() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("file");
        let good = unhex(HELLO);
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for round in 0..5_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let mut bytes = good.clone();
            // Flip a byte, or cut the object short, somewhere (bytes 4 to
            // 8 pad the header: nothing reads them, as in OSTree).
            let at = (state % bytes.len() as u64) as usize;
            if round % 2 == 0 {
                if (4..8).contains(&at) {
                    continue;
                }
                bytes[at] ^= (state >> 32) as u8 | 1;
            } else {
                bytes.truncate(at);
            }
            assert!(
                write_file_object(&mut &bytes[..], HELLO_SUM, Some(&path)).is_err(),
                "{bytes:02x?}"
            );
        }
    }

    #[test]
    fn names_must_be_one_component_and_refs_checksums() {
        assert!(checked_name(b"ok.txt\0").is_ok());
        for bad in [&b"..\0"[..], b"a/b\0", b"\0", b"x"] {
            assert!(checked_name(bad).is_err(), "{bad:?}");
        }
        assert!(is_checksum(HELLO_SUM));
        assert!(!is_checksum("main"));
        assert!(!is_checksum(&HELLO_SUM.to_uppercase()));
    }
}
