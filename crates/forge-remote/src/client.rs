//! One REAPI server: capabilities, blobs in and out (batched, ByteStream
//! for large ones, several requests at once, every byte checked against
//! its digest), and the index that names artifacts (Remote Asset where the
//! server has it, else the ActionCache).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bazel_remote_apis::build::bazel::remote::asset::v1 as ra;
use bazel_remote_apis::build::bazel::remote::execution::v2 as re;
use bazel_remote_apis::google::bytestream as bs;
use forge_cas::reapi::{Digest, sha256_hex};
use tonic::metadata::MetadataValue;
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use tonic::{Code, Request, Status};

use crate::{RemoteError, RemoteSpec};

/// Blobs up to this size travel in batches; larger ones by ByteStream.
const BATCH_BLOB_LIMIT: usize = 1 << 20;
/// What one batch request carries at most (gRPC's default message limit is
/// 4 MiB; servers report their own, which can only lower it).
const BATCH_TOTAL_LIMIT: usize = 3 << 20;
/// What one blob adds to a batch request besides its bytes (digest and
/// framing), generously.
const BATCH_ENTRY_OVERHEAD: usize = 200;
/// ByteStream chunk size.
const CHUNK: usize = 1 << 20;
/// Blob requests in flight at once, per server, whatever the number of
/// threads asking: each holds up to a batch of several MiB in memory
/// (more of them buy nothing once the machine's cores are busy).
const PARALLEL: usize = 8;

type Svc = InterceptedService<Channel, Auth>;

/// Gives the bytes of a blob to upload.
pub type ReadBlob<'a> = dyn Fn(&Digest) -> std::io::Result<Vec<u8>> + Sync + 'a;

/// Where downloaded blobs go. Every byte is checked against its digest
/// before anything of a blob is kept.
pub trait BlobSink: Sync {
    /// A blob that came whole (in a batch), already checked.
    fn store(&self, digest: &Digest, bytes: &[u8]) -> Result<(), String>;
    /// A blob that comes in pieces (by ByteStream, so never held whole):
    /// where to put them. It is kept only if they match.
    fn open(&self, digest: &Digest) -> Result<Box<dyn PartialBlob + '_>, String>;
}

/// A blob on its way in; dropped without [`PartialBlob::keep`], it leaves
/// nothing behind.
pub trait PartialBlob {
    /// The next piece.
    fn append(&mut self, bytes: &[u8]) -> Result<(), String>;
    /// All pieces came and matched the digest.
    fn keep(self: Box<Self>) -> Result<(), String>;
}

/// Blobs kept in memory, for small ones the caller reads at once
/// (artifact records, directories).
#[derive(Default)]
pub struct MemorySink {
    blobs: std::sync::Mutex<std::collections::HashMap<String, Vec<u8>>>,
}

impl MemorySink {
    /// The blob with `hash`, if it came.
    pub fn take(&self, hash: &str) -> Option<Vec<u8>> {
        self.blobs.lock().unwrap_or_else(|e| e.into_inner()).remove(hash)
    }

    fn put(&self, hash: &str, bytes: Vec<u8>) {
        self.blobs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(hash.to_string(), bytes);
    }
}

impl BlobSink for MemorySink {
    fn store(&self, digest: &Digest, bytes: &[u8]) -> Result<(), String> {
        self.put(&digest.hash, bytes.to_vec());
        Ok(())
    }

    fn open(&self, digest: &Digest) -> Result<Box<dyn PartialBlob + '_>, String> {
        struct InMemory<'s> {
            sink: &'s MemorySink,
            hash: String,
            bytes: Vec<u8>,
        }
        impl PartialBlob for InMemory<'_> {
            fn append(&mut self, bytes: &[u8]) -> Result<(), String> {
                self.bytes.extend_from_slice(bytes);
                Ok(())
            }
            fn keep(self: Box<Self>) -> Result<(), String> {
                self.sink.put(&self.hash, self.bytes);
                Ok(())
            }
        }
        Ok(Box::new(InMemory {
            sink: self,
            hash: digest.hash.clone(),
            bytes: Vec::with_capacity(usize::try_from(digest.size_bytes).unwrap_or(0).min(CHUNK)),
        }))
    }
}

/// Adds the bearer token, when there is one, to every call.
#[derive(Clone)]
pub struct Auth {
    token: Option<MetadataValue<tonic::metadata::Ascii>>,
}

impl Auth {
    /// The token as an `authorization` header, for calls made without
    /// tonic's client (see `in_place`).
    fn header(&self) -> Option<tonic::codegen::http::HeaderValue> {
        let token = self.token.as_ref()?;
        tonic::codegen::http::HeaderValue::from_bytes(token.as_encoded_bytes()).ok()
    }
}

impl Interceptor for Auth {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(token) = &self.token {
            request.metadata_mut().insert("authorization", token.clone());
        }
        Ok(request)
    }
}

/// How artifacts are named on a server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IndexKind {
    /// Remote Asset `PushBlob` / `FetchBlob` under a URN.
    RemoteAsset,
    /// An `ActionResult` under the digest of the URN (servers without
    /// Remote Asset, such as BuildGrid).
    ActionCache,
}

/// A connection to one server (a clone shares it).
#[derive(Clone)]
pub struct Remote {
    /// What the user configured.
    pub spec: RemoteSpec,
    runtime: Arc<tokio::runtime::Runtime>,
    channel: Channel,
    auth: Auth,
    batch_total: usize,
    /// Permits for blob requests (see [`PARALLEL`]).
    transfers: Arc<tokio::sync::Semaphore>,
    /// How this server names artifacts.
    pub index: IndexKind,
}

static UPLOADS: AtomicU64 = AtomicU64::new(0);

impl Remote {
    /// Connects and asks the server what it offers: it must digest with
    /// SHA-256. Whether it serves Remote Asset (the artifact index) is
    /// asked too.
    pub fn connect(spec: &RemoteSpec) -> Result<Remote, RemoteError> {
        let (mut remote, _) = Remote::connect_storage(spec)?;
        remote.index = remote.probe_index()?;
        Ok(remote)
    }

    /// [`Remote::connect`] for storage and execution alone (no index is
    /// asked of it), with the capabilities the server gave.
    pub(crate) fn connect_storage(spec: &RemoteSpec) -> Result<(Remote, re::ServerCapabilities), RemoteError> {
        let fail = |message: String| RemoteError::new(&spec.url, message);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| fail(format!("cannot start the network runtime: {e}")))?;
        let loopback = is_loopback(&spec.url);
        let plain = spec.url.starts_with("http://");
        if !plain && !spec.url.starts_with("https://") {
            return Err(fail("the URL must start with http:// or https://".into()));
        }
        let token = match &spec.access_token {
            Some(path) => {
                if plain && !loopback {
                    return Err(fail(
                        "an access token is never sent over plain http except to loopback: use https://".into(),
                    ));
                }
                let text = read_file(path).map_err(&fail)?;
                let text = String::from_utf8(text).map_err(|_| fail(format!("{} is not text", path.display())))?;
                let value = MetadataValue::try_from(format!("Bearer {}", text.trim()))
                    .map_err(|_| fail(format!("the token in {} is not a valid header value", path.display())))?;
                Some(value)
            }
            None => None,
        };
        let mut endpoint = Endpoint::from_shared(spec.url.clone())
            .map_err(|e| fail(format!("invalid URL: {e}")))?
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(spec.timeout_seconds.max(1)))
            // Batches of several MiB in flight at once: windows that hold
            // them spare the round trips of flow control.
            .initial_stream_window_size(16 << 20)
            .initial_connection_window_size(64 << 20)
            // Frames of up to 1 MiB: a pull's 300 MB come in a thousand
            // reads of the socket instead of forty thousand.
            .max_frame_size(1 << 20);
        if let Some(seconds) = spec.keepalive_seconds {
            endpoint = endpoint
                .http2_keep_alive_interval(Duration::from_secs(seconds.max(1)))
                .keep_alive_while_idle(true);
        }
        if !plain {
            let mut tls = ClientTlsConfig::new().with_enabled_roots();
            if let Some(ca) = &spec.server_cert {
                tls = tls.ca_certificate(Certificate::from_pem(read_file(ca).map_err(&fail)?));
            }
            match (&spec.client_cert, &spec.client_key) {
                (Some(cert), Some(key)) => {
                    tls = tls.identity(Identity::from_pem(
                        read_file(cert).map_err(&fail)?,
                        read_file(key).map_err(&fail)?,
                    ));
                }
                (None, None) => {}
                _ => return Err(fail("client-cert and client-key go together".into())),
            }
            endpoint = endpoint
                .tls_config(tls)
                .map_err(|e| fail(format!("invalid TLS configuration: {e}")))?;
        }
        let channel = runtime
            .block_on(endpoint.connect())
            .map_err(|e| fail(format!("cannot connect: {}", describe_transport(&e))))?;
        let auth = Auth { token };
        let mut remote = Remote {
            spec: spec.clone(),
            runtime: Arc::new(runtime),
            channel,
            auth,
            batch_total: BATCH_TOTAL_LIMIT,
            transfers: Arc::new(tokio::sync::Semaphore::new(PARALLEL)),
            index: IndexKind::RemoteAsset,
        };
        let caps = remote.capabilities()?;
        let cache = caps
            .cache_capabilities
            .clone()
            .ok_or_else(|| fail("the server offers no cache".into()))?;
        if !cache
            .digest_functions
            .contains(&(re::digest_function::Value::Sha256 as i32))
        {
            return Err(fail(
                "the server does not digest with SHA-256, which forge's cache uses".into(),
            ));
        }
        if cache.max_batch_total_size_bytes > 0 {
            remote.batch_total = remote
                .batch_total
                .min(usize::try_from(cache.max_batch_total_size_bytes).unwrap_or(usize::MAX) - 1024);
        }
        Ok((remote, caps))
    }

    fn cas(&self) -> re::content_addressable_storage_client::ContentAddressableStorageClient<Svc> {
        re::content_addressable_storage_client::ContentAddressableStorageClient::with_interceptor(
            self.channel.clone(),
            self.auth.clone(),
        )
    }

    fn bytestream(&self) -> bs::byte_stream_client::ByteStreamClient<Svc> {
        bs::byte_stream_client::ByteStreamClient::with_interceptor(self.channel.clone(), self.auth.clone())
    }

    pub(crate) fn operations(
        &self,
    ) -> bazel_remote_apis::google::longrunning::operations_client::OperationsClient<Svc> {
        bazel_remote_apis::google::longrunning::operations_client::OperationsClient::with_interceptor(
            self.channel.clone(),
            self.auth.clone(),
        )
    }

    pub(crate) fn execution(&self) -> re::execution_client::ExecutionClient<Svc> {
        re::execution_client::ExecutionClient::with_interceptor(self.channel.clone(), self.auth.clone())
    }

    fn action_cache(&self) -> re::action_cache_client::ActionCacheClient<Svc> {
        re::action_cache_client::ActionCacheClient::with_interceptor(self.channel.clone(), self.auth.clone())
    }

    /// Runs `call` on this connection's runtime.
    pub(crate) fn block_on<F: std::future::Future>(&self, call: F) -> F::Output {
        self.runtime.block_on(call)
    }

    pub(crate) fn fail(&self, what: &str, status: &Status) -> RemoteError {
        let mut message = format!("{what}: {}", describe_status(status));
        // A TLS server that wants a client certificate drops the call.
        if matches!(status.code(), Code::Cancelled | Code::Unavailable | Code::Unknown)
            && self.spec.url.starts_with("https://")
            && self.spec.client_cert.is_none()
        {
            message.push_str(" (if the server requires a client certificate, set auth: client-cert and client-key)");
        }
        status_error(&self.spec.url, message, status)
    }

    pub(crate) fn capabilities(&self) -> Result<re::ServerCapabilities, RemoteError> {
        let mut client =
            re::capabilities_client::CapabilitiesClient::with_interceptor(self.channel.clone(), self.auth.clone());
        let request = re::GetCapabilitiesRequest {
            instance_name: self.spec.instance_name.clone(),
        };
        self.runtime
            .block_on(client.get_capabilities(request))
            .map(|r| r.into_inner())
            .map_err(|s| self.fail("GetCapabilities", &s))
    }

    /// Remote Asset answers an empty `FetchBlob` with INVALID_ARGUMENT;
    /// a server without it says UNIMPLEMENTED (as bst checks).
    fn probe_index(&self) -> Result<IndexKind, RemoteError> {
        let mut client = ra::fetch_client::FetchClient::with_interceptor(self.channel.clone(), self.auth.clone());
        let request = ra::FetchBlobRequest {
            instance_name: self.spec.instance_name.clone(),
            ..Default::default()
        };
        match self.runtime.block_on(client.fetch_blob(request)) {
            Err(status) if status.code() == Code::Unimplemented => Ok(IndexKind::ActionCache),
            Err(status) if matches!(status.code(), Code::Unauthenticated | Code::PermissionDenied) => {
                Err(self.fail("Remote Asset", &status))
            }
            _ => Ok(IndexKind::RemoteAsset),
        }
    }

    /// The digests of `digests` the server does not have.
    pub fn find_missing(&self, digests: &[Digest]) -> Result<Vec<Digest>, RemoteError> {
        let mut missing = Vec::new();
        for chunk in digests.chunks(10_000) {
            let request = re::FindMissingBlobsRequest {
                instance_name: self.spec.instance_name.clone(),
                blob_digests: chunk.iter().map(to_re).collect(),
                ..Default::default()
            };
            let response = self
                .runtime
                .block_on(self.cas().find_missing_blobs(request))
                .map_err(|s| self.fail("FindMissingBlobs", &s))?;
            missing.extend(response.into_inner().missing_blob_digests.iter().map(from_re));
        }
        Ok(missing)
    }

    /// `digests` grouped for the batch calls (each group under the
    /// server's batch limit), and those too large for one, for ByteStream.
    fn split_batches(&self, digests: &[Digest]) -> (Vec<Vec<Digest>>, Vec<Digest>) {
        let mut batches = Vec::new();
        let mut large = Vec::new();
        let mut current = Vec::new();
        let mut current_size = 0;
        for digest in digests {
            let size = usize::try_from(digest.size_bytes).unwrap_or(usize::MAX);
            if size > BATCH_BLOB_LIMIT || size.saturating_add(BATCH_ENTRY_OVERHEAD) > self.batch_total {
                large.push(digest.clone());
                continue;
            }
            if current_size + size + BATCH_ENTRY_OVERHEAD > self.batch_total {
                batches.push(std::mem::take(&mut current));
                current_size = 0;
            }
            current_size += size + BATCH_ENTRY_OVERHEAD;
            current.push(digest.clone());
        }
        if !current.is_empty() {
            batches.push(current);
        }
        (batches, large)
    }

    /// Sends blobs: `read` gives each one's bytes. Small blobs go in
    /// batches, large ones by ByteStream, several requests at once.
    pub fn upload(&self, blobs: &[Digest], read: &ReadBlob<'_>) -> Result<u64, RemoteError> {
        let (batches, large) = self.split_batches(blobs);
        let read = |digest: &Digest| {
            read(digest).map_err(|e| RemoteError::new(&self.spec.url, format!("cannot read {digest}: {e}")))
        };
        let mut sent = 0;
        let instance = self.spec.instance_name.clone();
        let url = self.spec.url.clone();
        self.runtime.block_on(async {
            let mut tasks = tokio::task::JoinSet::new();
            let mut results = Vec::new();
            for batch in batches {
                if tasks.len() >= PARALLEL
                    && let Some(done) = tasks.join_next().await
                {
                    results.push(done);
                }
                // Read only now: what is in memory is what is in flight.
                let mut requests = Vec::with_capacity(batch.len());
                for d in batch {
                    let data = read(&d)?;
                    sent += data.len() as u64;
                    requests.push(re::batch_update_blobs_request::Request {
                        digest: Some(to_re(&d)),
                        data,
                        ..Default::default()
                    });
                }
                let mut client = self.cas();
                let instance = instance.clone();
                let url = url.clone();
                tasks.spawn(async move {
                    let request = re::BatchUpdateBlobsRequest {
                        instance_name: instance,
                        requests,
                        ..Default::default()
                    };
                    let response = client
                        .batch_update_blobs(request)
                        .await
                        .map_err(|s| status_error(&url, format!("BatchUpdateBlobs: {}", describe_status(&s)), &s))?;
                    for answer in response.into_inner().responses {
                        if let Some(status) = answer.status.filter(|s| s.code != 0) {
                            let digest = answer.digest.as_ref().map(from_re).unwrap_or_default();
                            return Err(RemoteError::new(&url, format!("refused {digest}: {}", status.message)));
                        }
                    }
                    Ok(())
                });
            }
            for digest in large {
                if tasks.len() >= PARALLEL
                    && let Some(done) = tasks.join_next().await
                {
                    results.push(done);
                }
                let bytes = read(&digest)?;
                sent += bytes.len() as u64;
                let mut client = self.bytestream();
                let name = upload_name(&instance, &digest);
                let url = url.clone();
                tasks.spawn(async move {
                    let total = bytes.len();
                    let mut requests = Vec::new();
                    let mut offset = 0;
                    loop {
                        let end = (offset + CHUNK).min(total);
                        requests.push(bs::WriteRequest {
                            resource_name: if offset == 0 { name.clone() } else { String::new() },
                            write_offset: offset as i64,
                            finish_write: end == total,
                            data: bytes[offset..end].to_vec(),
                        });
                        offset = end;
                        if offset >= total {
                            break;
                        }
                    }
                    let response = client.write(tokio_stream::iter(requests)).await.map_err(|s| {
                        status_error(
                            &url,
                            format!("ByteStream.Write of {digest}: {}", describe_status(&s)),
                            &s,
                        )
                    })?;
                    let committed = response.into_inner().committed_size;
                    // A server that already had the blob may answer with
                    // its size before reading everything.
                    if committed != total as i64 {
                        return Err(RemoteError::new(
                            &url,
                            format!("ByteStream.Write of {digest} committed {committed} of {total} bytes"),
                        ));
                    }
                    Ok(())
                });
            }
            while let Some(done) = tasks.join_next().await {
                results.push(done);
            }
            for result in results {
                result.map_err(|e| RemoteError::new(&url, format!("an upload task failed: {e}")))??;
            }
            Ok::<(), RemoteError>(())
        })?;
        Ok(sent)
    }

    /// Reads blobs into `sink`; each one's bytes are checked against its
    /// digest before the sink keeps them. A blob the server lacks is an
    /// error naming it. Returns the bytes received.
    pub fn download(&self, digests: &[Digest], sink: &dyn BlobSink) -> Result<u64, RemoteError> {
        use futures_util::StreamExt as _;
        type Transfer<'f> = std::pin::Pin<Box<dyn std::future::Future<Output = Result<u64, RemoteError>> + 'f>>;
        let (batches, large) = self.split_batches(digests);
        // Polled here rather than spawned, so the sink is written on the
        // caller's thread and may borrow; the connection runs on the
        // runtime's threads meanwhile.
        self.runtime.block_on(async {
            let mut received = 0;
            let mut running = futures_util::stream::FuturesUnordered::<Transfer<'_>>::new();
            let mut pending = batches.into_iter().map(Err).chain(large.into_iter().map(Ok));
            loop {
                while running.len() < PARALLEL {
                    match pending.next() {
                        Some(Err(batch)) => running.push(Box::pin(self.read_batch(batch, sink))),
                        Some(Ok(digest)) => running.push(Box::pin(self.read_stream(digest, sink))),
                        None => break,
                    }
                }
                let Some(done) = running.next().await else { break };
                received += done?;
            }
            Ok(received)
        })
    }

    /// The `Directory` messages of the tree under `root`, encoded, by one
    /// `GetTree` call (pages followed): each is checked by the caller
    /// against the digest that names it, so this only saves round trips.
    /// `None` where the server has no GetTree; more than `limit` bytes of
    /// them is an error.
    pub fn tree(&self, root: &Digest, limit: u64) -> Result<Option<Vec<Vec<u8>>>, RemoteError> {
        use prost::Message as _;
        let url = &self.spec.url;
        self.runtime.block_on(async {
            let mut directories = Vec::new();
            let mut total = 0u64;
            let mut page_token = String::new();
            loop {
                let request = re::GetTreeRequest {
                    instance_name: self.spec.instance_name.clone(),
                    root_digest: Some(to_re(root)),
                    page_size: 0,
                    page_token: std::mem::take(&mut page_token),
                    digest_function: re::digest_function::Value::Sha256 as i32,
                };
                let what = |s: &Status| status_error(url, format!("GetTree of {root}: {}", describe_status(s)), s);
                let mut stream = match self.cas().get_tree(request).await {
                    Ok(response) => response.into_inner(),
                    Err(status) if status.code() == Code::Unimplemented => return Ok(None),
                    Err(status) => return Err(what(&status)),
                };
                while let Some(page) = stream.message().await.map_err(|s| what(&s))? {
                    for directory in page.directories {
                        let bytes = directory.encode_to_vec();
                        total += bytes.len() as u64;
                        if total > limit {
                            return Err(RemoteError::new(
                                url,
                                format!("sent more than {limit} bytes of directories for {root}"),
                            ));
                        }
                        directories.push(bytes);
                    }
                    page_token = page.next_page_token;
                }
                if page_token.is_empty() {
                    return Ok(Some(directories));
                }
            }
        })
    }

    /// One `BatchReadBlobs` call, its blobs checked and given to `sink`
    /// as the answer arrives.
    async fn read_batch(&self, batch: Vec<Digest>, sink: &dyn BlobSink) -> Result<u64, RemoteError> {
        use crate::in_place::{BATCH_READ_PATH, Call, decode_entry};
        use prost::encoding::WireType;
        let url = &self.spec.url;
        let _permit = self.transfers.acquire().await.expect("never closed");
        let request = re::BatchReadBlobsRequest {
            instance_name: self.spec.instance_name.clone(),
            digests: batch.iter().map(to_re).collect(),
            ..Default::default()
        };
        let failed = |s: Status| status_error(url, format!("BatchReadBlobs: {}", describe_status(&s)), &s);
        let mut call = Call::start(&self.channel, self.auth.header().as_ref(), BATCH_READ_PATH, &request)
            .await
            .map_err(failed)?;
        let mut received = 0;
        let mut asked: std::collections::HashSet<&Digest> = batch.iter().collect();
        while call.next_message().await.map_err(failed)?.is_some() {
            while let Some((number, wire_type)) = call.field().await.map_err(failed)? {
                if (number, wire_type) != (1, WireType::LengthDelimited) {
                    call.skip(wire_type).await.map_err(failed)?;
                    continue;
                }
                let length = call.length().await.map_err(failed)?;
                let entry = call.bytes(length).await.map_err(failed)?;
                let answer = decode_entry(entry)
                    .map_err(|e| RemoteError::new(url, format!("sent a malformed BatchReadBlobs answer: {e}")))?;
                let digest = answer
                    .digest
                    .map(|(hash, size_bytes)| Digest { hash, size_bytes })
                    .unwrap_or_default();
                if answer.status.0 != 0 {
                    return Err(RemoteError::new(
                        url,
                        format!("does not have {digest}: {}", printable(&answer.status.1)),
                    ));
                }
                if !asked.remove(&digest) {
                    return Err(RemoteError::new(url, format!("sent {digest}, which was not asked for")));
                }
                if answer.data.len() as i64 != digest.size_bytes || sha256_hex(&answer.data) != digest.hash {
                    return Err(mismatch(url, &digest));
                }
                sink.store(&digest, &answer.data)
                    .map_err(|e| store_failed(url, &digest, &e))?;
                received += answer.data.len() as u64;
            }
        }
        if let Some(left) = asked.into_iter().next() {
            return Err(RemoteError::new(
                url,
                format!("did not send {left}, which was asked for"),
            ));
        }
        Ok(received)
    }

    /// One blob by `ByteStream.Read`, hashed and handed on piece by piece
    /// as the frames arrive.
    async fn read_stream(&self, digest: Digest, sink: &dyn BlobSink) -> Result<u64, RemoteError> {
        use crate::in_place::{Call, READ_PATH};
        use prost::encoding::WireType;
        use sha2::Digest as _;
        let url = &self.spec.url;
        let _permit = self.transfers.acquire().await.expect("never closed");
        let what = |s: Status| status_error(url, format!("ByteStream.Read of {digest}: {}", describe_status(&s)), &s);
        let request = bs::ReadRequest {
            resource_name: download_name(&self.spec.instance_name, &digest),
            read_offset: 0,
            read_limit: 0,
        };
        let mut call = Call::start(&self.channel, self.auth.header().as_ref(), READ_PATH, &request)
            .await
            .map_err(what)?;
        let mut part = sink.open(&digest).map_err(|e| store_failed(url, &digest, &e))?;
        let expected = u64::try_from(digest.size_bytes).unwrap_or(0);
        let mut hasher = sha2::Sha256::new();
        let mut size = 0u64;
        while call.next_message().await.map_err(what)?.is_some() {
            while let Some((number, wire_type)) = call.field().await.map_err(what)? {
                // `data` (10); a chunk's pieces are handed on as they come.
                if (number, wire_type) != (10, WireType::LengthDelimited) {
                    call.skip(wire_type).await.map_err(what)?;
                    continue;
                }
                let mut length = call.length().await.map_err(what)?;
                while length > 0 {
                    let piece = call.piece(length).await.map_err(what)?;
                    length -= piece.len();
                    size += piece.len() as u64;
                    if size > expected {
                        return Err(RemoteError::new(url, format!("sent more than {digest} holds")));
                    }
                    hasher.update(&piece);
                    part.append(&piece).map_err(|e| store_failed(url, &digest, &e))?;
                }
            }
        }
        if size != expected || forge_cas::reapi::hex(&hasher.finalize()) != digest.hash {
            return Err(mismatch(url, &digest));
        }
        part.keep().map_err(|e| store_failed(url, &digest, &e))?;
        Ok(size)
    }

    /// What the index names `urn`, if anything.
    pub fn resolve(&self, urn: &str) -> Result<Option<Digest>, RemoteError> {
        match self.index {
            IndexKind::RemoteAsset => {
                let mut client =
                    ra::fetch_client::FetchClient::with_interceptor(self.channel.clone(), self.auth.clone());
                let request = ra::FetchBlobRequest {
                    instance_name: self.spec.instance_name.clone(),
                    uris: vec![urn.to_string()],
                    ..Default::default()
                };
                match self.runtime.block_on(client.fetch_blob(request)) {
                    Ok(response) => {
                        let response = response.into_inner();
                        match response.status {
                            Some(status) if status.code == Code::NotFound as i32 => Ok(None),
                            Some(status) if status.code != 0 => Err(RemoteError::new(
                                &self.spec.url,
                                format!("FetchBlob of {urn}: {}", status.message),
                            )),
                            _ => Ok(response.blob_digest.as_ref().map(from_re)),
                        }
                    }
                    Err(status) if status.code() == Code::NotFound => Ok(None),
                    Err(status) => Err(self.fail(&format!("FetchBlob of {urn}"), &status)),
                }
            }
            IndexKind::ActionCache => Ok(self
                .action_result(&action_digest(urn), &format!("GetActionResult for {urn}"))?
                .and_then(|result| {
                    result
                        .output_files
                        .iter()
                        .find(|f| f.path == INDEX_FILE)
                        .and_then(|f| f.digest.as_ref())
                        .map(from_re)
                })),
        }
    }

    /// The ActionCache's result for `action`, if it has one (`call` names
    /// the call in errors).
    pub(crate) fn action_result(&self, action: &Digest, call: &str) -> Result<Option<re::ActionResult>, RemoteError> {
        let request = re::GetActionResultRequest {
            instance_name: self.spec.instance_name.clone(),
            action_digest: Some(to_re(action)),
            ..Default::default()
        };
        match self.runtime.block_on(self.action_cache().get_action_result(request)) {
            Ok(result) => Ok(Some(result.into_inner())),
            Err(status) if status.code() == Code::NotFound => Ok(None),
            Err(status) => Err(self.fail(call, &status)),
        }
    }

    /// Names `blob` by `urn` in the index; the blob and what it refers to
    /// must be on the server already.
    pub fn publish(
        &self,
        urn: &str,
        blob: &Digest,
        directories: &[Digest],
        blobs: &[Digest],
    ) -> Result<(), RemoteError> {
        match self.index {
            IndexKind::RemoteAsset => {
                let mut client = ra::push_client::PushClient::with_interceptor(self.channel.clone(), self.auth.clone());
                let request = ra::PushBlobRequest {
                    instance_name: self.spec.instance_name.clone(),
                    uris: vec![urn.to_string()],
                    blob_digest: Some(to_re(blob)),
                    references_directories: directories.iter().map(to_re).collect(),
                    references_blobs: blobs.iter().map(to_re).collect(),
                    ..Default::default()
                };
                self.runtime
                    .block_on(client.push_blob(request))
                    .map(|_| ())
                    .map_err(|s| self.fail(&format!("PushBlob of {urn}"), &s))
            }
            IndexKind::ActionCache => {
                let mut client = self.action_cache();
                let request = re::UpdateActionResultRequest {
                    instance_name: self.spec.instance_name.clone(),
                    action_digest: Some(to_re(&action_digest(urn))),
                    action_result: Some(re::ActionResult {
                        output_files: vec![re::OutputFile {
                            path: INDEX_FILE.to_string(),
                            digest: Some(to_re(blob)),
                            ..Default::default()
                        }],
                        ..Default::default()
                    }),
                    ..Default::default()
                };
                self.runtime
                    .block_on(client.update_action_result(request))
                    .map(|_| ())
                    .map_err(|s| self.fail(&format!("UpdateActionResult for {urn}"), &s))
            }
        }
    }
}

/// The output file of the ActionResult that indexes an artifact.
const INDEX_FILE: &str = "forge-index";

/// The action digest under which servers without Remote Asset keep what
/// `urn` names: the digest of the URN's text (no such Action exists, so
/// no real build result can collide with it).
pub fn action_digest(urn: &str) -> Digest {
    Digest::of(urn.as_bytes())
}

fn upload_name(instance: &str, digest: &Digest) -> String {
    let n = UPLOADS.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let id = sha256_hex(format!("{}-{nanos}-{n}", std::process::id()).as_bytes());
    let uuid = format!(
        "{}-{}-4{}-8{}-{}",
        &id[..8],
        &id[8..12],
        &id[13..16],
        &id[17..20],
        &id[20..32]
    );
    let path = format!("uploads/{uuid}/blobs/{}/{}", digest.hash, digest.size_bytes);
    if instance.is_empty() {
        path
    } else {
        format!("{instance}/{path}")
    }
}

/// Keeping a blob that came failed.
fn store_failed(url: &str, digest: &Digest, error: &str) -> RemoteError {
    RemoteError::new(url, format!("cannot store {digest}: {error}"))
}

/// A server sent bytes other than the blob's.
fn mismatch(url: &str, digest: &Digest) -> RemoteError {
    RemoteError::new(
        url,
        format!("sent bytes that do not match {digest}; nothing of them was kept"),
    )
}

fn download_name(instance: &str, digest: &Digest) -> String {
    let path = format!("blobs/{}/{}", digest.hash, digest.size_bytes);
    if instance.is_empty() {
        path
    } else {
        format!("{instance}/{path}")
    }
}

pub(crate) fn to_re(digest: &Digest) -> re::Digest {
    re::Digest {
        hash: digest.hash.clone(),
        size_bytes: digest.size_bytes,
    }
}

pub(crate) fn from_re(digest: &re::Digest) -> Digest {
    Digest {
        hash: digest.hash.clone(),
        size_bytes: digest.size_bytes,
    }
}

fn read_file(path: &PathBuf) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

fn is_loopback(url: &str) -> bool {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let host = rest.split(['/', '?']).next().unwrap_or("");
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host),
    };
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The error `message` of the call that ended in `status`, marked passing
/// where trying again may work.
fn status_error(url: &str, message: String, status: &Status) -> RemoteError {
    let error = RemoteError::new(url, message);
    match status.code() {
        Code::Unavailable | Code::DeadlineExceeded | Code::ResourceExhausted | Code::Aborted => error.passing(),
        _ => error,
    }
}

fn describe_status(status: &Status) -> String {
    let message = status.message();
    let text = match status.code() {
        Code::Unavailable => format!("unavailable ({message})"),
        Code::DeadlineExceeded => "timed out".to_string(),
        Code::Unauthenticated => format!("not authenticated ({message}): check access-token or client-cert"),
        Code::PermissionDenied => format!("permission denied ({message})"),
        code => format!("{code:?}: {message}"),
    };
    // Servers' messages reach the terminal: no control characters.
    printable(&text)
}

/// Text from a server without its control characters (it reaches the
/// terminal).
pub(crate) fn printable(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).collect()
}

fn describe_transport(err: &tonic::transport::Error) -> String {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(inner) = source {
        let more = inner.to_string();
        if !text.contains(&more) {
            text.push_str(&format!(": {more}"));
        }
        source = inner.source();
    }
    printable(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts_are_told_apart() {
        assert!(is_loopback("http://127.0.0.1:5000"));
        assert!(is_loopback("http://localhost:5000/"));
        assert!(is_loopback("http://[::1]:5000"));
        assert!(!is_loopback("http://cache.example.com:5000"));
        assert!(!is_loopback("http://127.0.0.1.example.com"));
    }

    #[test]
    fn resource_names_follow_the_bytestream_convention() {
        let d = Digest::of(b"x");
        assert_eq!(download_name("", &d), format!("blobs/{}/1", d.hash));
        assert_eq!(download_name("main", &d), format!("main/blobs/{}/1", d.hash));
        let up = upload_name("main", &d);
        assert!(
            up.starts_with("main/uploads/") && up.ends_with(&format!("/blobs/{}/1", d.hash)),
            "{up}"
        );
        assert_ne!(upload_name("", &d), upload_name("", &d), "each upload has its own id");
    }

    #[test]
    fn only_errors_that_may_pass_are_marked_so() {
        let error = |code| status_error("http://x", "m".into(), &Status::new(code, "m"));
        for code in [
            Code::Unavailable,
            Code::DeadlineExceeded,
            Code::ResourceExhausted,
            Code::Aborted,
        ] {
            assert!(error(code).passing, "{code:?}");
        }
        for code in [
            Code::NotFound,
            Code::InvalidArgument,
            Code::PermissionDenied,
            Code::Unauthenticated,
        ] {
            assert!(!error(code).passing, "{code:?}");
        }
    }
}
