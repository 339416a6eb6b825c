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
mod in_place;
pub mod servers;

use std::path::PathBuf;

pub use artifacts::{PullOutcome, PushOutcome, artifact_urn, pull_artifact, push_artifact};
pub use client::{BlobSink, IndexKind, MemorySink, PartialBlob, Remote};
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
    /// How long one call may take.
    pub timeout_seconds: u64,
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
}

impl RemoteError {
    /// An error of the server at `server`.
    pub fn new(server: &str, message: impl Into<String>) -> RemoteError {
        RemoteError {
            server: server.to_string(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for RemoteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cache server {}: {}", self.server, self.message)
    }
}

impl std::error::Error for RemoteError {}
