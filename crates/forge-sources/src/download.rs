//! Downloads into the source cache: HTTP(S) with rustls, and `file://`.
//! Each URL of a source's candidate list is tried in turn; transient
//! network errors are retried; the bytes must hash to the pin whatever
//! server sent them.

use std::io::{self, Read, Write};
use std::time::Duration;

use crate::cache::{Partial, SourceCache};

/// Reports download progress: bytes so far and the total when known.
pub trait Progress: Sync {
    /// A download of `url` starts; returns an id for the calls below.
    fn start(&self, label: &str, url: &str, total: Option<u64>) -> usize;
    /// `id` has received `bytes` in all.
    fn advance(&self, id: usize, bytes: u64);
    /// `id` is over.
    fn finish(&self, id: usize);
    /// Something the user should know that does not stop the work.
    fn warn(&self, message: &str);
    /// A line of information (above the bars, if any).
    fn note(&self, message: &str);
    /// A line of detail, shown only when the user asks for it (`-v`).
    fn detail(&self, message: &str) {
        let _ = message;
    }
}

/// A progress reporter that shows nothing but warnings, on stderr.
pub struct NoProgress;

impl Progress for NoProgress {
    fn start(&self, _: &str, _: &str, _: Option<u64>) -> usize {
        0
    }
    fn advance(&self, _: usize, _: u64) {}
    fn finish(&self, _: usize) {}
    fn warn(&self, message: &str) {
        eprintln!("warning: {message}");
    }
    fn note(&self, message: &str) {
        eprintln!("{message}");
    }
}

/// The HTTP client and retry policy.
pub struct Downloader {
    /// Made on first use: setting up TLS reads the system's certificates,
    /// and most builds download nothing.
    client: std::sync::OnceLock<Result<reqwest::blocking::Client, String>>,
    stall_timeout: Duration,
    retries: u32,
    retry_delay: Duration,
}

/// Why one URL did not give the file.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// The URL tried.
    pub url: String,
    /// What went wrong.
    pub reason: String,
}

/// A file that no URL could provide.
#[derive(Debug, Clone)]
pub struct DownloadFailure {
    /// Every URL tried, in order, and why each failed.
    pub attempts: Vec<Attempt>,
}

/// A file now in the cache.
#[derive(Debug, Clone)]
pub struct Downloaded {
    /// Its sha256.
    pub sha256: String,
    /// The URL that served it.
    pub url: String,
    /// Its size.
    pub size: u64,
}

enum Failure {
    /// Worth trying the same URL again (connection reset, 5xx, timeout).
    Transient(String),
    /// Not worth retrying this URL (404, wrong bytes).
    Final(String),
}

/// An HTTP status as a failure: worth retrying when the server is busy or
/// broken (5xx, 408, 429), not otherwise (404, 403, ...).
fn check_status(status: reqwest::StatusCode) -> Result<(), Failure> {
    if status.is_success() {
        return Ok(());
    }
    let reason = format!("HTTP {status}");
    Err(
        if status.is_server_error() || status.as_u16() == 429 || status.as_u16() == 408 {
            Failure::Transient(reason)
        } else {
            Failure::Final(reason)
        },
    )
}

impl Downloader {
    /// A downloader that retries transient errors `retries` times and gives
    /// up on a server that sends nothing for `stall_timeout`.
    pub fn new(retries: u32, stall_timeout: Duration) -> Result<Downloader, String> {
        let retry_delay = (stall_timeout / 100).clamp(Duration::from_millis(50), Duration::from_millis(500));
        Ok(Downloader {
            client: std::sync::OnceLock::new(),
            stall_timeout,
            retries,
            retry_delay,
        })
    }

    fn client(&self) -> Result<&reqwest::blocking::Client, Failure> {
        self.client
            .get_or_init(|| {
                reqwest::blocking::Client::builder()
                    .user_agent(concat!("forge/", env!("CARGO_PKG_VERSION")))
                    .connect_timeout(Duration::from_secs(30))
                    // Blocking reqwest applies this to the headers and to
                    // each read of the body: a stall timeout, not a total one.
                    .timeout(self.stall_timeout)
                    .build()
                    .map_err(|e| format!("cannot set up HTTP: {e}"))
            })
            .as_ref()
            .map_err(|e| Failure::Final(e.clone()))
    }

    /// Reads a small text resource (an index page) from the first of `urls`
    /// that answers; returns its URL, body and content type.
    pub fn get_text(&self, urls: &[String], accept: &str) -> Result<(String, String, String), DownloadFailure> {
        self.first_that_answers(urls, |url| {
            self.get_text_once(url, accept)
                .map(|(body, kind)| (url.to_string(), body, kind))
        })
    }

    /// Fetches the first of `urls` that serves bytes hashing to `expected`
    /// (any bytes when `expected` is `None`, as `track` needs) into `cache`.
    pub fn fetch(
        &self,
        cache: &SourceCache,
        label: &str,
        urls: &[String],
        expected: Option<&str>,
        progress: &dyn Progress,
    ) -> Result<Downloaded, DownloadFailure> {
        self.first_that_answers(urls, |url| self.fetch_one(cache, label, url, expected, progress, None))
    }

    /// Tries each URL in turn (mirrors first), each up to `retries` more
    /// times while its failures are transient; the first success wins, and
    /// when none succeeds every URL's last failure is reported.
    fn first_that_answers<T>(
        &self,
        urls: &[String],
        attempt: impl Fn(&str) -> Result<T, Failure>,
    ) -> Result<T, DownloadFailure> {
        let mut attempts = Vec::new();
        for url in urls {
            let mut tries = 0;
            loop {
                match attempt(url) {
                    Ok(done) => return Ok(done),
                    Err(Failure::Transient(_)) if tries < self.retries => {
                        tries += 1;
                        std::thread::sleep(self.retry_delay * tries);
                    }
                    Err(Failure::Transient(reason)) | Err(Failure::Final(reason)) => {
                        attempts.push(Attempt {
                            url: url.clone(),
                            reason,
                        });
                        break;
                    }
                }
            }
        }
        Err(DownloadFailure { attempts })
    }

    /// One try at reading a text resource: its body and content type.
    fn get_text_once(&self, url: &str, accept: &str) -> Result<(String, String), Failure> {
        if let Some(path) = url.strip_prefix("file://") {
            let file = if path.ends_with('/') {
                format!("{path}index.html")
            } else {
                path.to_string()
            };
            return std::fs::read_to_string(&file)
                .map(|body| (body, "text/html".to_string()))
                .map_err(|e| Failure::Final(format!("cannot read {file}: {e}")));
        }
        let response = self
            .client()?
            .get(url)
            .header("Accept", accept)
            .send()
            .map_err(|e| Failure::Transient(describe(&e)))?;
        check_status(response.status())?;
        let kind = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        response
            .text()
            .map(|body| (body, kind))
            .map_err(|e| Failure::Transient(describe(&e)))
    }

    /// Reads a small resource (at most [`REGISTRY_DOCUMENT_LIMIT`]) from the
    /// first of `urls` (registry URLs) that answers, as an OCI registry
    /// serves it: `accept` says which media types, and a refusal with a
    /// `Bearer` challenge is answered once with a token from the realm it
    /// names, kept in `token` for the next requests.
    pub fn get_from_registry(
        &self,
        urls: &[String],
        accept: &str,
        token: &BearerToken,
    ) -> Result<RegistryDocument, DownloadFailure> {
        self.first_that_answers(urls, |url| {
            let response = self.send(url, Some(accept), Some(token))?;
            let header = |name: &str| {
                response
                    .headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            };
            let (media_type, digest) = (header("content-type"), header("docker-content-digest"));
            let mut body = Vec::new();
            response
                .take(REGISTRY_DOCUMENT_LIMIT + 1)
                .read_to_end(&mut body)
                .map_err(|e| Failure::Transient(format!("download interrupted: {}", io_reason(&e))))?;
            if body.len() as u64 > REGISTRY_DOCUMENT_LIMIT {
                return Err(Failure::Final(format!(
                    "the document is larger than {REGISTRY_DOCUMENT_LIMIT} bytes: not a manifest"
                )));
            }
            Ok(RegistryDocument {
                url: url.to_string(),
                body,
                media_type,
                digest,
            })
        })
    }

    /// Reads the first of `urls` that answers with `consume`, given the
    /// URL and its body (a `file://` URL is read from disk). When reading
    /// fails on the way, `consume` is called again from the start, as
    /// [`Downloader::fetch`] retries; it rejects a body it finds wrong with
    /// an `InvalidData` error, and the next URL is tried.
    pub fn read_with<T>(
        &self,
        urls: &[String],
        consume: impl Fn(&str, &mut dyn Read) -> io::Result<T>,
    ) -> Result<T, DownloadFailure> {
        self.first_that_answers(urls, |url| {
            let mut body: Box<dyn Read> = match url.strip_prefix("file://") {
                Some(path) => Box::new(
                    std::fs::File::open(path)
                        .map_err(|e| Failure::Final(format!("cannot read {path}: {}", io_reason(&e))))?,
                ),
                None => Box::new(self.send(url, None, None)?),
            };
            consume(url, &mut body).map_err(|e| match e.kind() {
                io::ErrorKind::InvalidData => Failure::Final(e.to_string()),
                _ => Failure::Transient(format!("download interrupted: {}", io_reason(&e))),
            })
        })
    }

    /// [`Downloader::fetch`] of a registry blob, through the token flow of
    /// [`Downloader::get_from_registry`].
    pub fn fetch_from_registry(
        &self,
        cache: &SourceCache,
        label: &str,
        urls: &[String],
        expected: &str,
        token: &BearerToken,
        progress: &dyn Progress,
    ) -> Result<Downloaded, DownloadFailure> {
        self.first_that_answers(urls, |url| {
            self.fetch_one(cache, label, url, Some(expected), progress, Some(token))
        })
    }

    /// GET `url`, answering a registry's `Bearer` challenge once when
    /// `token` is given; a status that is not success is a failure.
    fn send(
        &self,
        url: &str,
        accept: Option<&str>,
        token: Option<&BearerToken>,
    ) -> Result<reqwest::blocking::Response, Failure> {
        let request = |bearer: Option<String>| {
            let mut request = self.client()?.get(url);
            if let Some(accept) = accept {
                request = request.header("Accept", accept);
            }
            if let Some(bearer) = bearer {
                request = request.header("Authorization", format!("Bearer {bearer}"));
            }
            request.send().map_err(|e| Failure::Transient(describe(&e)))
        };
        let current = token.and_then(BearerToken::get);
        let mut response = request(current.clone())?;
        if response.status().as_u16() == 401
            && let Some(token) = token
            && let Some(challenge) = response
                .headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok())
                .and_then(parse_bearer_challenge)
        {
            let fresh = self.bearer_token(&challenge)?;
            token.set(fresh.clone());
            response = request(Some(fresh))?;
        }
        check_status(response.status())?;
        Ok(response)
    }

    /// A token from the auth service a registry's challenge names.
    fn bearer_token(&self, challenge: &BearerChallenge) -> Result<String, Failure> {
        if !(challenge.realm.starts_with("https://") || challenge.realm.starts_with("http://")) {
            return Err(Failure::Final(format!(
                "the registry's auth service '{}' is not an http(s) URL",
                forge_project::error::printable_line(&challenge.realm)
            )));
        }
        let mut query = Vec::new();
        if let Some(service) = &challenge.service {
            query.push(("service", service.as_str()));
        }
        if let Some(scope) = &challenge.scope {
            query.push(("scope", scope.as_str()));
        }
        let url = reqwest::Url::parse_with_params(&challenge.realm, &query).map_err(|e| {
            Failure::Final(format!(
                "the registry's auth service '{}' is not a URL: {e}",
                forge_project::error::printable_line(&challenge.realm)
            ))
        })?;
        let response = self
            .client()?
            .get(url)
            .send()
            .map_err(|e| Failure::Transient(describe(&e)))?;
        check_status(response.status()).map_err(|failure| match failure {
            Failure::Final(why) | Failure::Transient(why) => {
                Failure::Final(format!("the registry's auth service refused a token: {why}"))
            }
        })?;
        let mut body = Vec::new();
        response
            .take(REGISTRY_DOCUMENT_LIMIT)
            .read_to_end(&mut body)
            .map_err(|e| Failure::Transient(io_reason(&e)))?;
        let answer: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|e| Failure::Final(format!("the registry's auth service answered no JSON: {e}")))?;
        answer
            .get("token")
            .or_else(|| answer.get("access_token"))
            .and_then(|t| t.as_str())
            .map(str::to_string)
            .ok_or_else(|| Failure::Final("the registry's auth service answered no token".into()))
    }

    /// One try at `url` into the cache; `token` for a registry's blobs.
    fn fetch_one(
        &self,
        cache: &SourceCache,
        label: &str,
        url: &str,
        expected: Option<&str>,
        progress: &dyn Progress,
        token: Option<&BearerToken>,
    ) -> Result<Downloaded, Failure> {
        let mut partial = cache
            .partial()
            .map_err(|e| Failure::Final(format!("cannot write to the cache: {e}")))?;
        if let Some(path) = url.strip_prefix("file://") {
            let mut file = std::fs::File::open(path).map_err(|e| Failure::Final(format!("cannot read {path}: {e}")))?;
            let total = file.metadata().ok().map(|m| m.len());
            let id = progress.start(label, url, total);
            let copied = copy_with_progress(&mut file, &mut partial, id, progress);
            progress.finish(id);
            copied.map_err(|e| Failure::Final(format!("cannot read {path}: {e}")))?;
        } else if url.starts_with("http://") || url.starts_with("https://") {
            let mut response = self.send(url, None, token)?;
            // Read the announced length first: reqwest counts down as the
            // body is consumed.
            let announced = response.content_length();
            let id = progress.start(label, url, announced);
            let copied = copy_with_progress(&mut response, &mut partial, id, progress);
            progress.finish(id);
            copied.map_err(|e| Failure::Transient(format!("download interrupted: {}", io_reason(&e))))?;
            if let Some(length) = announced
                && partial.written() != length
            {
                return Err(Failure::Transient(format!(
                    "download interrupted after {} of {length} bytes",
                    partial.written()
                )));
            }
        } else {
            return Err(Failure::Final(
                "unsupported URL scheme (forge fetches http://, https:// and file://)".into(),
            ));
        }
        let size = partial.written();
        match cache.commit(partial, expected) {
            Ok(Ok(sha256)) => Ok(Downloaded {
                sha256,
                url: url.to_string(),
                size,
            }),
            Ok(Err(mismatch)) => Err(Failure::Final(format!(
                "wrong content: expected sha256 {}, got {} ({} bytes); nothing was cached",
                expected.unwrap_or_default(),
                mismatch.actual,
                mismatch.size
            ))),
            Err(e) => Err(Failure::Final(format!("cannot write to the cache: {e}"))),
        }
    }
}

/// The most a registry document (a manifest, a token answer) may weigh.
pub const REGISTRY_DOCUMENT_LIMIT: u64 = 4 << 20;

/// A document a registry served.
#[derive(Debug, Clone)]
pub struct RegistryDocument {
    /// The URL that served it.
    pub url: String,
    /// Its bytes.
    pub body: Vec<u8>,
    /// Its `Content-Type`.
    pub media_type: Option<String>,
    /// Its `Docker-Content-Digest`, when the registry sent one.
    pub digest: Option<String>,
}

/// The bearer token a registry's auth service gave, kept for the next
/// requests to the same registry.
#[derive(Debug, Default)]
pub struct BearerToken(std::sync::Mutex<Option<String>>);

impl BearerToken {
    fn get(&self) -> Option<String> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
    fn set(&self, token: String) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(token);
    }
}

/// A `WWW-Authenticate: Bearer realm="…",service="…",scope="…"` challenge.
#[derive(Debug, PartialEq)]
struct BearerChallenge {
    realm: String,
    service: Option<String>,
    scope: Option<String>,
}

fn parse_bearer_challenge(header: &str) -> Option<BearerChallenge> {
    let rest = header.trim().strip_prefix("Bearer ")?;
    let mut pairs = std::collections::HashMap::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if key.is_empty() {
            break;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            value = chars.by_ref().take_while(|c| *c != ',').collect();
        }
        pairs.insert(key.trim().to_ascii_lowercase(), value);
    }
    Some(BearerChallenge {
        realm: pairs.remove("realm")?,
        service: pairs.remove("service"),
        scope: pairs.remove("scope"),
    })
}

fn copy_with_progress(
    reader: &mut dyn Read,
    partial: &mut Partial,
    id: usize,
    progress: &dyn Progress,
) -> io::Result<u64> {
    let mut buffer = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        let n = match reader.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        partial.write_all(&buffer[..n])?;
        total += n as u64;
        progress.advance(id, total);
    }
    Ok(total)
}

fn describe(err: &reqwest::Error) -> String {
    let mut text = if err.is_timeout() {
        "timed out".to_string()
    } else if err.is_connect() {
        "cannot connect".to_string()
    } else {
        "request failed".to_string()
    };
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

fn io_reason(err: &io::Error) -> String {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(&format!(": {cause_text}"));
        }
        source = cause.source();
    }
    text
}

impl DownloadFailure {
    /// Whether every URL answered that there is no such resource (404 or
    /// 410; for `file://`, no such file): the resource is absent, not
    /// unreachable.
    pub fn is_absent(&self) -> bool {
        !self.attempts.is_empty()
            && self.attempts.iter().all(|a| {
                a.reason.starts_with("HTTP 404")
                    || a.reason.starts_with("HTTP 410")
                    || a.reason.contains("(os error 2)")
            })
    }

    /// The error to report: `message`, then each URL tried and why it failed.
    pub fn into_error(self, message: impl Into<String>) -> crate::runtime::SourceError {
        crate::runtime::SourceError {
            message: message.into(),
            details: self
                .attempts
                .iter()
                .map(|a| format!("{}: {}", a.url, a.reason))
                .collect(),
            refused: false,
        }
    }
}

impl std::fmt::Display for DownloadFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, attempt) in self.attempts.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}: {}", attempt.url, attempt.reason)?;
        }
        Ok(())
    }
}
