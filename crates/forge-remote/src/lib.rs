//! Remote caches on existing REAPI servers (buildbox-casd, BuildGrid,
//! Buildbarn): forge speaks REAPI v2 and the Remote Asset API, never a
//! protocol of its own.
//!
//! The local cache already holds what a server holds — blobs by SHA-256,
//! trees as `Directory` messages — so pushing is sending the blobs the
//! server lacks and naming the artifact; pulling is the reverse, every
//! byte checked before the artifact becomes visible. How artifacts are
//! named is in [`artifact_urn`] and [`client::action_digest`].

pub mod artifacts;
pub mod client;
pub mod execution;
mod in_place;
pub mod servers;

use std::path::PathBuf;

pub use artifacts::{PullOutcome, PushOutcome, artifact_urn, pull_artifact, push_artifact};
pub use client::{BlobSink, IndexKind, MemorySink, PartialBlob, Remote};
pub use execution::{Canceller, Executed, Executor, Job};
pub use servers::{Route, Servers};

/// One configured server (`artifacts: servers:` of the user config).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RemoteSpec {
    /// `http://host:port` (loopback) or `https://host:port`.
    pub url: String,
    /// Whether forge may push to it.
    pub push: bool,
    /// What it is used for (bst's `type:`).
    pub role: Role,
    /// The REAPI instance name (empty: the default instance).
    pub instance_name: String,
    /// The CA certificate (PEM) that signed the server's certificate.
    pub server_cert: Option<PathBuf>,
    /// A client certificate (PEM) for mutual TLS, with its key.
    pub client_cert: Option<PathBuf>,
    /// The client certificate's key (PEM).
    pub client_key: Option<PathBuf>,
    /// A file holding a bearer token.
    pub access_token: Option<PathBuf>,
    /// How long one call may take (`connection-config: request-timeout`).
    pub timeout_seconds: u64,
    /// Seconds between HTTP/2 keepalive pings, if any
    /// (`connection-config: keepalive-time`).
    pub keepalive_seconds: Option<u64>,
    /// How many more times a transfer that failed for a passing reason
    /// is tried (`connection-config: retry-limit`).
    pub retry_limit: u32,
    /// Milliseconds before the first retry, doubled for each next one
    /// (`connection-config: retry-delay`).
    pub retry_delay_ms: u64,
}

/// What a server is used for (bst's `type:` of a server).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Role {
    /// Both of the others (`all`, the default).
    #[default]
    All,
    /// Names artifacts and sources only (`index`).
    Index,
    /// Holds blobs only (`storage`).
    Storage,
}

/// A remote cache that failed: which one, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteError {
    /// The server's URL.
    pub server: String,
    /// What went wrong.
    pub message: String,
    /// Whether trying again may work: the server was unavailable, timed
    /// out, was overloaded or aborted the call.
    pub passing: bool,
}

impl RemoteError {
    /// An error of the server at `server`.
    pub fn new(server: &str, message: impl Into<String>) -> RemoteError {
        RemoteError {
            server: server.to_string(),
            message: message.into(),
            passing: false,
        }
    }

    /// The same error, marked as one that trying again may cure.
    pub fn passing(mut self) -> RemoteError {
        self.passing = true;
        self
    }
}

/// Runs `transfer` until it succeeds, fails for good, or has been tried
/// `spec.retry_limit` more times, waiting `spec.retry_delay_ms` before the
/// first retry and twice as long before each next one.
pub fn with_retries<T>(
    spec: &RemoteSpec,
    mut transfer: impl FnMut() -> Result<T, RemoteError>,
) -> Result<T, RemoteError> {
    let mut delay = spec.retry_delay_ms;
    let mut left = spec.retry_limit;
    loop {
        match transfer() {
            Err(err) if err.passing && left > 0 => {
                left -= 1;
                std::thread::sleep(std::time::Duration::from_millis(delay));
                delay = delay.saturating_mul(2);
            }
            done => return done,
        }
    }
}

impl std::fmt::Display for RemoteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cache server {}: {}", self.server, self.message)
    }
}

impl std::error::Error for RemoteError {}

#[cfg(test)]
mod tests {
    use super::*;

    /// A transfer that fails `failures` times with `error`, then works;
    /// its attempts are counted.
    fn flaky(failures: u32, error: RemoteError, spec: &RemoteSpec) -> (Result<(), RemoteError>, u32) {
        let mut attempts = 0;
        let result = with_retries(spec, || {
            attempts += 1;
            if attempts <= failures {
                Err(error.clone())
            } else {
                Ok(())
            }
        });
        (result, attempts)
    }

    #[test]
    fn transfers_are_tried_again_only_for_passing_errors_and_as_often_as_configured() {
        let spec = RemoteSpec {
            retry_limit: 2,
            retry_delay_ms: 1,
            ..Default::default()
        };
        let down = RemoteError::new("http://x", "unavailable").passing();
        assert_eq!(flaky(2, down.clone(), &spec), (Ok(()), 3));
        let (result, attempts) = flaky(3, down.clone(), &spec);
        assert!(result.is_err() && attempts == 3);
        // A server that sent wrong bytes is not asked again.
        let (result, attempts) = flaky(1, RemoteError::new("http://x", "sent other bytes"), &spec);
        assert!(result.is_err() && attempts == 1);
        // Without connection-config, one try.
        let (result, attempts) = flaky(1, down, &RemoteSpec::default());
        assert!(result.is_err() && attempts == 1);
    }
}
