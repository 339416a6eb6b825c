//! Remote artifact caches from the user configuration, as bst users write
//! them:
//!
//! ```yaml
//! artifacts:
//!   servers:
//!   - url: https://cache.example.com:11001
//!     push: true
//!     instance-name: main
//!     auth: {server-cert: ca.crt, client-cert: c.crt, client-key: c.key, access-token: token.txt}
//! ```
//!
//! This module reads that configuration, connects (a server that cannot
//! be reached is named in a warning and left out: it never fails work that
//! can go on locally) and serves the source caches to source fetching; the
//! engine decides which artifacts move (`forge_engine::pipeline`).

use std::path::{Path, PathBuf};

use forge_project::LoadError;
use forge_project::error::check_keys;
use forge_remote::{Remote, RemoteSpec, Role, Servers};
use forge_yaml::{Node, parse_str};

use crate::exit::printable;

/// The servers of one section (`artifacts` or `source-caches`) for
/// `project`: those of `projects: <project>: <section>:` first, then the
/// global ones, as bst orders them.
pub fn load_specs(config: Option<&Path>, project: &str, section: &str) -> Result<Vec<RemoteSpec>, LoadError> {
    let (nodes, base) = user_sections(config, project, section)?;
    let mut specs = Vec::new();
    for node in &nodes {
        specs.extend(section_specs(node, section, &base)?);
    }
    Ok(specs)
}

/// The user configuration's `section` for `project`: that of `projects:
/// <project>:` first, then the global one, with the directory the file
/// names in them are relative to.
pub(crate) fn user_sections(
    config: Option<&Path>,
    project: &str,
    section: &str,
) -> Result<(Vec<Node>, PathBuf), LoadError> {
    let Some(path) = config else {
        return Ok((Vec::new(), PathBuf::new()));
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| LoadError::new(format!("cannot read the user configuration {}: {e}", path.display())))?;
    let root = parse_str(&path.display().to_string(), &text)?;
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let Some(map) = root.as_map() else {
        return Ok((Vec::new(), base));
    };
    let ours = map
        .get("projects")
        .and_then(Node::as_map)
        .and_then(|projects| projects.get(project))
        .and_then(Node::as_map)
        .and_then(|ours| ours.get(section));
    Ok((ours.into_iter().chain(map.get(section)).cloned().collect(), base))
}

/// The services of bst's `remote-execution:` for `project` (that of
/// `projects: <project>:` in place of the global one): execution, storage
/// (if other than the execution server) and action cache (if any).
pub struct ExecutionSpecs {
    /// Runs the actions.
    pub execution: RemoteSpec,
    /// Holds their inputs and outputs (`None`: the execution server).
    pub storage: Option<RemoteSpec>,
    /// Asked for a result before anything is sent.
    pub action_cache: Option<RemoteSpec>,
}

/// Reads `remote-execution:` of the user configuration, if any.
pub fn load_execution(config: Option<&Path>, project: &str) -> Result<Option<ExecutionSpecs>, LoadError> {
    // A project's own section replaces the global one.
    let (nodes, base) = user_sections(config, project, "remote-execution")?;
    let Some(node) = nodes.first() else {
        return Ok(None);
    };
    let section = node.as_map().ok_or_else(|| {
        LoadError::at(
            &node.span,
            "'remote-execution' must be a mapping with 'execution-service:'",
        )
    })?;
    check_keys(
        section,
        &["execution-service", "storage-service", "action-cache-service"],
        "'remote-execution'",
    )?;
    let service = |key: &str, timeout_seconds: u64| -> Result<Option<RemoteSpec>, LoadError> {
        let what = format!("'{key}'");
        let rules = SpecRules {
            what: &what,
            keys: &["url", "instance-name", "auth", "connection-config"],
            timeout_seconds,
        };
        section.get(key).map(|node| load_spec(node, &base, &rules)).transpose()
    };
    // A build takes as long as it takes: the 60 s a cache call may take
    // would cut it short, so the execution service waits a day unless told.
    let execution = service("execution-service", 86_400)?.ok_or_else(|| {
        LoadError::at(&node.span, "'remote-execution' has no 'execution-service'").with_hint(
            "forge runs builds remotely or here; a remote action cache for local builds is not supported: \
             give execution-service or remove the section",
        )
    })?;
    Ok(Some(ExecutionSpecs {
        execution,
        storage: service("storage-service", CACHE_TIMEOUT)?,
        action_cache: service("action-cache-service", CACHE_TIMEOUT)?,
    }))
}

/// The servers of one `artifacts:` or `source-caches:` mapping.
fn section_specs(node: &Node, section: &str, base: &Path) -> Result<Vec<RemoteSpec>, LoadError> {
    let map = node
        .as_map()
        .ok_or_else(|| LoadError::at(&node.span, format!("'{section}' must be a mapping with 'servers:'")))?;
    // forge never uses the caches a project.conf recommends (its keys are
    // not bst's, so they would never hit): overriding them changes nothing.
    check_keys(map, &["servers", "override-project-caches"], section)?;
    if let Some(value) = map.get("override-project-caches")
        && !matches!(value.as_str(), Some("true" | "false" | "True" | "False"))
    {
        return Err(LoadError::at(
            &value.span,
            "'override-project-caches' must be true or false",
        ));
    }
    let Some(servers) = map.get("servers") else {
        return Ok(Vec::new());
    };
    let list = servers
        .as_list()
        .ok_or_else(|| LoadError::at(&servers.span, "'servers' must be a list"))?;
    let rules = SpecRules {
        what: "a server",
        keys: &["url", "push", "instance-name", "auth", "type", "connection-config"],
        timeout_seconds: CACHE_TIMEOUT,
    };
    list.iter().map(|server| load_spec(server, base, &rules)).collect()
}

/// Seconds one call to a cache server may take unless `request-timeout`
/// says otherwise.
const CACHE_TIMEOUT: u64 = 60;

/// What a server's mapping may hold, and how long its calls may take by
/// default.
struct SpecRules<'r> {
    /// What the mapping is, for errors (`a server`, `'execution-service'`).
    what: &'r str,
    keys: &'r [&'r str],
    timeout_seconds: u64,
}

fn load_spec(node: &Node, base: &Path, rules: &SpecRules<'_>) -> Result<RemoteSpec, LoadError> {
    let map = node
        .as_map()
        .ok_or_else(|| LoadError::at(&node.span, format!("{} is a mapping with 'url:'", rules.what)))?;
    check_keys(map, rules.keys, rules.what)?;
    let string = |key: &str| -> Result<Option<String>, LoadError> {
        match map.get(key) {
            None => Ok(None),
            Some(value) => value
                .as_str()
                .map(|s| Some(s.to_string()))
                .ok_or_else(|| LoadError::at(&value.span, format!("'{key}' must be a string"))),
        }
    };
    let url = string("url")?.ok_or_else(|| LoadError::at(&node.span, format!("{} needs a 'url'", rules.what)))?;
    if !url.starts_with("http://") && !url.starts_with("https://") {
        let span = &map.get("url").expect("present").span;
        return Err(
            LoadError::at(span, format!("'{url}' is not an http:// or https:// URL"))
                .with_hint("REAPI servers are named like https://cache.example.com:11001"),
        );
    }
    let role = match string("type")?.as_deref() {
        None | Some("all") => Role::All,
        Some("index") => Role::Index,
        Some("storage") => Role::Storage,
        Some(other) => {
            let span = &map.get("type").expect("present").span;
            return Err(LoadError::at(span, format!("unknown server type '{other}'")).with_hint(
                "a server is of type all (the default), index (names artifacts) or storage (holds their blobs)",
            ));
        }
    };
    let push = match map.get("push") {
        None => false,
        Some(value) => match value.as_str() {
            Some("true" | "True" | "yes") => true,
            Some("false" | "False" | "no") => false,
            _ => return Err(LoadError::at(&value.span, "'push' must be true or false")),
        },
    };
    let mut spec = RemoteSpec {
        url,
        push,
        role,
        instance_name: string("instance-name")?.unwrap_or_default(),
        timeout_seconds: rules.timeout_seconds,
        ..Default::default()
    };
    if let Some(connection) = map.get("connection-config") {
        read_connection_config(connection, &mut spec)?;
    }
    if let Some(auth) = map.get("auth") {
        let auth_map = auth
            .as_map()
            .ok_or_else(|| LoadError::at(&auth.span, "'auth' must be a mapping"))?;
        check_keys(
            auth_map,
            &["server-cert", "client-cert", "client-key", "access-token"],
            "'auth'",
        )?;
        let file = |key: &str| -> Result<Option<PathBuf>, LoadError> {
            match auth_map.get(key) {
                None => Ok(None),
                Some(value) => {
                    let text = value
                        .as_str()
                        .ok_or_else(|| LoadError::at(&value.span, format!("'{key}' must be a file name")))?;
                    // As in bst: relative to the configuration file.
                    Ok(Some(base.join(text)))
                }
            }
        };
        spec.server_cert = file("server-cert")?;
        spec.client_cert = file("client-cert")?;
        spec.client_key = file("client-key")?;
        spec.access_token = file("access-token")?;
    }
    Ok(spec)
}

/// bst's `connection-config:` of a server: `keepalive-time` and
/// `request-timeout` in seconds, `retry-limit` (times), `retry-delay`
/// (milliseconds).
fn read_connection_config(node: &Node, spec: &mut RemoteSpec) -> Result<(), LoadError> {
    let map = node
        .as_map()
        .ok_or_else(|| LoadError::at(&node.span, "'connection-config' must be a mapping"))?;
    check_keys(
        map,
        &["keepalive-time", "retry-limit", "retry-delay", "request-timeout"],
        "'connection-config'",
    )?;
    let number = |key: &str, most: u64| -> Result<Option<u64>, LoadError> {
        let Some(value) = map.get(key) else { return Ok(None) };
        match value.as_str().and_then(|s| s.parse::<u64>().ok()) {
            Some(n) if n <= most => Ok(Some(n)),
            _ => Err(LoadError::at(
                &value.span,
                format!("'{key}' must be a whole number from 0 to {most}"),
            )),
        }
    };
    spec.keepalive_seconds = number("keepalive-time", 86_400)?;
    spec.retry_limit = number("retry-limit", 100)?.unwrap_or(0) as u32;
    spec.retry_delay_ms = number("retry-delay", 600_000)?.unwrap_or(0);
    if let Some(seconds) = number("request-timeout", 86_400)? {
        spec.timeout_seconds = seconds.max(1);
    }
    Ok(())
}

/// Connects to each server of `section`; one that fails is named in a
/// warning and left out, and servers of one type without the other are
/// no use (a warning says what is missing).
pub fn connect_all(section: &str, specs: &[RemoteSpec]) -> Servers {
    let servers = Servers::new(
        specs
            .iter()
            .filter_map(|spec| match Remote::connect(spec) {
                Ok(remote) => Some(remote),
                Err(err) => {
                    eprintln!("warning: {}; going on without it", printable(&err.to_string()));
                    None
                }
            })
            .collect(),
    );
    if let Some(missing) = servers.lacks() {
        eprintln!("warning: the {section} servers that answered lack {missing}: nothing is pulled or pushed");
    }
    servers
}

/// `1.2 MB`, `340 B`.
pub fn size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 => format!("{:.1} GB", b as f64 / (1u64 << 30) as f64),
        b if b >= 1 << 20 => format!("{:.1} MB", b as f64 / (1u64 << 20) as f64),
        b if b >= 1 << 10 => format!("{:.1} kB", b as f64 / 1024.0),
        b => format!("{b} B"),
    }
}

/// The URN under which a source file is named on a source cache server:
/// `urn:fdc:forge.build:2026:source:sha256:{sha256}`.
pub fn source_urn(sha256: &str) -> String {
    format!("urn:fdc:forge.build:2026:source:sha256:{}", sha256.to_ascii_lowercase())
}

/// The `source-caches:` servers, for the source cache.
pub struct SourceCacheServers {
    /// The servers that answered.
    pub servers: Servers,
}

impl SourceCacheServers {
    /// The blob named `urn` (it must be `expected`, when given), into the
    /// source cache; its sha256.
    fn pull_urn(
        &self,
        cache: &forge_sources::SourceCache,
        urn: &str,
        expected: Option<&str>,
        progress: &dyn forge_sources::Progress,
    ) -> Option<String> {
        for route in self.servers.routes() {
            let found = match route.index.resolve(urn) {
                Ok(Some(digest)) if expected.is_none_or(|sha| digest.hash.eq_ignore_ascii_case(sha)) => digest,
                Ok(Some(digest)) => {
                    progress.warn(&printable(&format!(
                        "source cache {} names {urn} by another blob ({digest}); not used",
                        route.index.spec.url
                    )));
                    continue;
                }
                Ok(None) => continue,
                Err(err) => {
                    progress.warn(&printable(&err.to_string()));
                    continue;
                }
            };
            let sha256 = found.hash.to_ascii_lowercase();
            let store = SourceSink { cache, sha256: &sha256 };
            match route.retrying(|| route.storage.download(std::slice::from_ref(&found), &store)) {
                Ok(bytes) => {
                    let what = urn.rsplit(':').next().unwrap_or(urn);
                    progress.note(&format!(
                        "{what}: from the source cache {} ({})",
                        route.describe(),
                        size(bytes)
                    ));
                    return Some(sha256);
                }
                Err(err) => progress.warn(&printable(&err.to_string())),
            }
        }
        None
    }
}

/// A source blob pulled into the source cache, which checks its sha256
/// once more as it commits it.
struct SourceSink<'a> {
    cache: &'a forge_sources::SourceCache,
    sha256: &'a str,
}

impl forge_remote::BlobSink for SourceSink<'_> {
    fn store(&self, digest: &forge_cas::reapi::Digest, bytes: &[u8]) -> Result<(), String> {
        let mut part = self.open(digest)?;
        part.append(bytes)?;
        part.keep()
    }

    fn open(&self, _: &forge_cas::reapi::Digest) -> Result<Box<dyn forge_remote::PartialBlob + '_>, String> {
        let partial = self.cache.partial().map_err(|e| e.to_string())?;
        Ok(Box::new(PartialSource { sink: self, partial }))
    }
}

struct PartialSource<'a> {
    sink: &'a SourceSink<'a>,
    partial: forge_sources::Partial,
}

impl forge_remote::PartialBlob for PartialSource<'_> {
    fn append(&mut self, bytes: &[u8]) -> Result<(), String> {
        use std::io::Write as _;
        self.partial.write_all(bytes).map_err(|e| e.to_string())
    }

    fn keep(self: Box<Self>) -> Result<(), String> {
        match self
            .sink
            .cache
            .commit(self.partial, Some(self.sink.sha256))
            .map_err(|e| e.to_string())?
        {
            Ok(_) => Ok(()),
            Err(mismatch) => Err(format!("its sha256 is {}", mismatch.actual)),
        }
    }
}

impl forge_sources::SourceServers for SourceCacheServers {
    fn pull(&self, cache: &forge_sources::SourceCache, sha256: &str, progress: &dyn forge_sources::Progress) -> bool {
        self.pull_urn(cache, &source_urn(sha256), Some(sha256), progress)
            .is_some()
    }

    fn push(&self, cache: &forge_sources::SourceCache, sha256: &str, progress: &dyn forge_sources::Progress) {
        self.push_named(cache, &source_urn(sha256), sha256, progress);
    }

    fn pull_named(
        &self,
        cache: &forge_sources::SourceCache,
        urn: &str,
        progress: &dyn forge_sources::Progress,
    ) -> Option<String> {
        self.pull_urn(cache, urn, None, progress)
    }

    fn pushes(&self) -> bool {
        self.servers.pushes()
    }

    fn push_named(
        &self,
        cache: &forge_sources::SourceCache,
        urn: &str,
        sha256: &str,
        progress: &dyn forge_sources::Progress,
    ) {
        let path = cache.file_path(sha256);
        let Ok(meta) = std::fs::metadata(&path) else { return };
        let digest = forge_cas::reapi::Digest {
            hash: sha256.to_ascii_lowercase(),
            size_bytes: meta.len() as i64,
        };
        for route in self.servers.push_routes() {
            let result = route.retrying(|| -> Result<(), forge_remote::RemoteError> {
                if route.index.resolve(urn)?.as_ref() == Some(&digest) {
                    return Ok(());
                }
                let read = |_: &forge_cas::reapi::Digest| std::fs::read(&path);
                let missing = route.storage.find_missing(std::slice::from_ref(&digest))?;
                route.storage.upload(&missing, &read)?;
                route.give_index(&digest, &read)?;
                route.index.publish(urn, &digest, &[], &[])
            });
            if let Err(err) = result {
                progress.warn(&printable(&format!("cannot push a source: {err}")));
            }
        }
    }
}
