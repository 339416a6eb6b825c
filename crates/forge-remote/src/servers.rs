//! The servers of one section (`artifacts:` or `source-caches:`) by what
//! each is used for, as bst's `type:` says: an index names artifacts
//! (Remote Asset, or the ActionCache), a storage server holds their blobs
//! (CAS and ByteStream), a server of type `all` is both. Work goes through
//! routes, an index and a storage server taken together.

use forge_cas::reapi::Digest;

use crate::client::ReadBlob;
use crate::{IndexKind, Remote, RemoteError, Role};

/// An index and the storage server that holds what it names (the same
/// server for type `all`).
#[derive(Clone, Copy)]
pub struct Route<'a> {
    /// Names artifacts and sources.
    pub index: &'a Remote,
    /// Holds their blobs.
    pub storage: &'a Remote,
}

impl Route<'_> {
    /// One server, or both: `URL`, `URL (index URL)`.
    pub fn describe(&self) -> String {
        if self.is_one_server() {
            self.storage.spec.url.clone()
        } else {
            format!("{} (index {})", self.storage.spec.url, self.index.spec.url)
        }
    }

    /// Whether index and storage are the same server.
    pub fn is_one_server(&self) -> bool {
        std::ptr::eq(self.index, self.storage)
    }

    /// Runs `transfer` until it succeeds or fails for good, tried again
    /// as the stricter of the two servers' `connection-config` says.
    pub fn retrying<T>(&self, transfer: impl FnMut() -> Result<T, RemoteError>) -> Result<T, RemoteError> {
        let (index, storage) = (&self.index.spec, &self.storage.spec);
        let spec = crate::RemoteSpec {
            retry_limit: index.retry_limit.max(storage.retry_limit),
            retry_delay_ms: index.retry_delay_ms.max(storage.retry_delay_ms),
            ..Default::default()
        };
        crate::with_retries(&spec, transfer)
    }

    /// Gives the index `blob`, which it is about to name, where it names
    /// blobs of its own CAS: an ActionCache does (BuildGrid checks that
    /// what it names is there); a Remote Asset index, or a server that is
    /// both, needs nothing. The bytes sent.
    pub fn give_index(&self, blob: &Digest, read: &ReadBlob<'_>) -> Result<u64, RemoteError> {
        if self.is_one_server() || self.index.index != IndexKind::ActionCache {
            return Ok(0);
        }
        let missing = self.index.find_missing(std::slice::from_ref(blob))?;
        self.index.upload(&missing, read)
    }

    /// Whether forge may push through it: both servers take pushes.
    pub fn pushes(&self) -> bool {
        self.index.spec.push && self.storage.spec.push
    }
}

/// The servers that answered, in the configured order.
#[derive(Default)]
pub struct Servers {
    remotes: Vec<Remote>,
}

impl Servers {
    /// The servers, in the order they were configured.
    pub fn new(remotes: Vec<Remote>) -> Servers {
        Servers { remotes }
    }

    /// Whether there is no server at all.
    pub fn is_empty(&self) -> bool {
        self.remotes.is_empty()
    }

    /// The servers that name artifacts (of type index or all), in order.
    pub fn indexes(&self) -> impl Iterator<Item = &Remote> {
        self.remotes.iter().filter(|r| r.spec.role != Role::Storage)
    }

    /// What is missing for any route: "an index" or "a storage server"
    /// when servers of only one kind are configured.
    pub fn lacks(&self) -> Option<&'static str> {
        let index = self.remotes.iter().any(|r| r.spec.role != Role::Storage);
        let storage = self.remotes.iter().any(|r| r.spec.role != Role::Index);
        match (index, storage) {
            (_, _) if self.remotes.is_empty() => None,
            (false, _) => Some("a server of type index or all"),
            (_, false) => Some("a server of type storage or all"),
            _ => None,
        }
    }

    /// The routes to try, in order: each index in its order, with its own
    /// storage first where it is of type `all`, then the storage servers
    /// in their order.
    pub fn routes(&self) -> Vec<Route<'_>> {
        let mut routes = Vec::new();
        for index in self.indexes() {
            if index.spec.role == Role::All {
                routes.push(Route { index, storage: index });
            }
            for storage in self.remotes.iter().filter(|r| r.spec.role != Role::Index) {
                if !std::ptr::eq(index, storage) {
                    routes.push(Route { index, storage });
                }
            }
        }
        routes
    }

    /// The routes a push goes through: those whose two servers take
    /// pushes.
    pub fn push_routes(&self) -> Vec<Route<'_>> {
        self.routes().into_iter().filter(Route::pushes).collect()
    }

    /// Whether any route takes pushes.
    pub fn pushes(&self) -> bool {
        !self.push_routes().is_empty()
    }
}
