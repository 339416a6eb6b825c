//! Remote execution: a build's commands run by a REAPI Execution service
//! (buildbox-casd with a runner, BuildGrid, Buildbarn), as BuildStream's
//! remote sandbox runs them. The input root is a tree of the local cache;
//! the storage server is sent what it lacks of it, with the `Command` and
//! the `Action`; the action cache is asked first, then `Execute` (followed
//! by `WaitExecution` if the stream breaks). The output directory and the
//! command's output come back, every blob checked against its digest.

use std::collections::HashMap;

use bazel_remote_apis::build::bazel::remote::execution::v2 as re;
use bazel_remote_apis::google::longrunning::{Operation, operation};
use forge_cas::reapi::{self, Digest};
use forge_cas::{Cas, EntryKind, Manifest};
use prost::Message as _;
use tonic::Code;

use crate::artifacts::MissingFiles;
use crate::client::{from_re, printable, to_re};
use crate::{MemorySink, Remote, RemoteError, RemoteSpec};

/// The most bytes of an output tree or of a command's output accepted.
const MAX_OUTPUT_BLOB: i64 = 512 << 20;
/// How often a broken `Execute` stream is followed up by `WaitExecution`.
const WAITS: usize = 5;

/// What to run.
pub struct Job<'a> {
    /// The input root.
    pub input: &'a Manifest,
    /// The program and its arguments.
    pub arguments: Vec<String>,
    /// The whole environment.
    pub environment: Vec<(String, String)>,
    /// Relative to the input root.
    pub working_directory: String,
    /// The directory to bring back, relative to the working directory.
    pub output_directory: String,
    /// Platform properties the executor must match (`OSFamily`, `ISA`).
    pub platform: Vec<(String, String)>,
    /// Run it even if a result is cached (to check that a build is
    /// reproducible).
    pub skip_cache: bool,
}

/// What came back.
pub struct Executed {
    /// The command's exit status.
    pub exit_code: i32,
    /// Its standard output.
    pub stdout: Vec<u8>,
    /// Its standard error.
    pub stderr: Vec<u8>,
    /// The output directory's contents, now in the local cache (empty
    /// when the command failed without making it).
    pub output: Manifest,
    /// Whether the result came from an action cache, not a new run.
    pub cached: bool,
    /// The action's digest.
    pub action: Digest,
}

/// An execution service and the storage its actions read and write.
pub struct Executor {
    execution: Remote,
    /// `None`: the execution server itself.
    storage: Option<Remote>,
    action_cache: Option<Remote>,
    /// The operations running now, by name.
    running: Running,
}

type Running = std::sync::Arc<std::sync::Mutex<std::collections::BTreeSet<String>>>;

/// Cancels what an [`Executor`] runs, from another thread (an interrupt).
pub struct Canceller {
    execution: Remote,
    running: Running,
}

impl Canceller {
    /// Asks the execution service to cancel every operation running now,
    /// each within `timeout`; returns how many it accepted to cancel and
    /// why the others were not.
    pub fn cancel_all(&self, timeout: std::time::Duration) -> (usize, Vec<String>) {
        let names: Vec<String> = self
            .running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned()
            .collect();
        let mut cancelled = 0;
        let mut failures = Vec::new();
        for name in names {
            let mut client = self.execution.operations();
            let request = bazel_remote_apis::google::longrunning::CancelOperationRequest { name: name.clone() };
            let answer = self
                .execution
                .block_on(async { tokio::time::timeout(timeout, client.cancel_operation(request)).await });
            match answer {
                Ok(Ok(_)) => cancelled += 1,
                Ok(Err(status)) => failures.push(self.execution.fail("CancelOperation", &status).to_string()),
                Err(_) => failures.push(format!(
                    "CancelOperation {}: no answer in {timeout:?}",
                    printable(&name)
                )),
            }
        }
        (cancelled, failures)
    }
}

/// Keeps an operation's name among the running ones while it lives.
struct Watched<'r> {
    running: &'r Running,
    name: Option<String>,
}

impl Watched<'_> {
    /// Whether the server has named no operation yet.
    fn unnamed(&self) -> bool {
        self.name.as_deref().is_none_or(str::is_empty)
    }

    fn named(&mut self, name: &str) {
        if self.name.as_deref() != Some(name) {
            let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(old) = self.name.take() {
                running.remove(&old);
            }
            running.insert(name.to_string());
            self.name = Some(name.to_string());
        }
    }
}

impl Drop for Watched<'_> {
    fn drop(&mut self) {
        if let Some(name) = self.name.take() {
            self.running.lock().unwrap_or_else(|e| e.into_inner()).remove(&name);
        }
    }
}

impl Executor {
    /// Connects to the services of bst's `remote-execution:`: the
    /// execution service (which must say it executes), the storage
    /// service (the execution server when not given) and, optionally, an
    /// action cache asked before anything is sent.
    pub fn connect(
        execution: &RemoteSpec,
        storage: Option<&RemoteSpec>,
        action_cache: Option<&RemoteSpec>,
    ) -> Result<Executor, RemoteError> {
        // The execution server named again as storage is one connection.
        let storage = storage.filter(|s| s.url != execution.url || s.instance_name != execution.instance_name);
        // No Remote Asset index is asked of them: they hold actions and
        // blobs, never forge's artifact index.
        let connect = |spec: &RemoteSpec| Remote::connect_storage(spec).map(|(remote, _)| remote);
        let (execution_remote, caps) = Remote::connect_storage(execution)?;
        let executor = Executor {
            execution: execution_remote,
            storage: storage.map(connect).transpose()?,
            action_cache: action_cache.map(connect).transpose()?,
            running: Running::default(),
        };
        if !caps.execution_capabilities.is_some_and(|c| c.exec_enabled) {
            return Err(RemoteError::new(
                &execution.url,
                "does not execute actions (its capabilities say so): give an execution service as execution-service",
            ));
        }
        Ok(executor)
    }

    /// What cancels the operations this executor runs.
    pub fn canceller(&self) -> Canceller {
        Canceller {
            execution: self.execution.clone(),
            running: self.running.clone(),
        }
    }

    /// `URL` of the execution service, and of the storage if another.
    pub fn describe(&self) -> String {
        match &self.storage {
            Some(storage) => format!("{} (storage {})", self.execution.spec.url, storage.spec.url),
            None => self.execution.spec.url.clone(),
        }
    }

    fn storage(&self) -> &Remote {
        self.storage.as_ref().unwrap_or(&self.execution)
    }

    /// Runs `job`: its inputs come from `cas`, its outputs go there.
    pub fn run(&self, cas: &Cas, job: &Job<'_>) -> Result<Executed, RemoteError> {
        let (root, directories) = reapi::encode_tree(job.input);
        let command = command_message(job).encode_to_vec();
        let command_digest = Digest::of(&command);
        let action = re::Action {
            command_digest: Some(to_re(&command_digest)),
            input_root_digest: Some(to_re(&root)),
            platform: Some(platform(&job.platform)),
            ..Default::default()
        }
        .encode_to_vec();
        let action_digest = Digest::of(&action);

        if let Some(cache) = self.action_cache.as_ref().filter(|_| !job.skip_cache)
            && let Some(result) = cache
                .action_result(&action_digest, "GetActionResult")?
                .filter(|r| r.exit_code == 0)
        {
            return self.collect(cas, job, result, true, action_digest);
        }

        // Everything the action names, sent where the storage lacks it:
        // the directories, Command and Action from memory, files from the
        // cache.
        let mut memory: HashMap<String, Vec<u8>> = directories
            .into_iter()
            .map(|(digest, bytes)| (digest.hash, bytes))
            .collect();
        memory.insert(command_digest.hash.clone(), command);
        memory.insert(action_digest.hash.clone(), action);
        let mut blobs: Vec<Digest> = memory
            .iter()
            .map(|(hash, bytes)| Digest {
                hash: hash.clone(),
                size_bytes: bytes.len() as i64,
            })
            .collect();
        let mut files = std::collections::HashSet::new();
        for entry in &job.input.entries {
            if let EntryKind::File { digest, size, .. } = &entry.kind
                && !memory.contains_key(digest)
                && files.insert(digest.as_str())
            {
                blobs.push(Digest {
                    hash: digest.clone(),
                    size_bytes: *size as i64,
                });
            }
        }
        let storage = self.storage();
        let missing = storage.find_missing(&blobs)?;
        let read = |d: &Digest| -> std::io::Result<Vec<u8>> {
            match memory.get(&d.hash) {
                Some(bytes) => Ok(bytes.clone()),
                // A file: its plain copy, or the executable one.
                None => std::fs::read(cas.object_path(&d.hash, false))
                    .or_else(|_| std::fs::read(cas.object_path(&d.hash, true))),
            }
        };
        storage.upload(&missing, &read)?;

        let operation = self.execute(&action_digest, job.skip_cache)?;
        let response = match operation.result {
            Some(operation::Result::Response(any)) => re::ExecuteResponse::decode(any.value.as_slice())
                .map_err(|e| self.failed(format!("sent an ExecuteResponse that does not decode: {e}")))?,
            Some(operation::Result::Error(status)) => {
                return Err(self.failed(format!("could not execute the action: {}", printable(&status.message))));
            }
            None => return Err(self.failed("ended the execution without a result")),
        };
        if let Some(status) = response.status.as_ref().filter(|s| s.code != 0) {
            let code = Code::from_i32(status.code);
            return Err(self.failed(format!(
                "could not execute the action ({code:?}): {}",
                printable(&status.message)
            )));
        }
        let result = response
            .result
            .ok_or_else(|| self.failed("answered without an action result"))?;
        self.collect(cas, job, result, response.cached_result, action_digest)
    }

    fn failed(&self, message: impl Into<String>) -> RemoteError {
        RemoteError::new(&self.execution.spec.url, message)
    }

    /// `Execute` until the operation is done, following a broken stream
    /// up with `WaitExecution`.
    fn execute(&self, action: &Digest, skip_cache: bool) -> Result<Operation, RemoteError> {
        let remote = &self.execution;
        remote.block_on(async {
            let mut client = remote.execution();
            let request = re::ExecuteRequest {
                instance_name: remote.spec.instance_name.clone(),
                skip_cache_lookup: skip_cache,
                action_digest: Some(to_re(action)),
                ..Default::default()
            };
            let mut stream = client
                .execute(request)
                .await
                .map_err(|s| remote.fail("Execute", &s))?
                .into_inner();
            // The operation's name, once the server gives it, is kept where
            // an interrupt finds it.
            let mut watched = Watched {
                running: &self.running,
                name: None,
            };
            for _ in 0..WAITS {
                loop {
                    match stream.message().await {
                        Ok(Some(operation)) if operation.done => return Ok(operation),
                        Ok(Some(operation)) => watched.named(&operation.name),
                        Ok(None) => break,
                        Err(status) if watched.unnamed() => return Err(remote.fail("Execute", &status)),
                        Err(_) => break,
                    }
                }
                if watched.unnamed() {
                    break;
                }
                let request = re::WaitExecutionRequest {
                    name: watched.name.clone().unwrap_or_default(),
                };
                stream = client
                    .wait_execution(request)
                    .await
                    .map_err(|s| remote.fail("WaitExecution", &s))?
                    .into_inner();
            }
            Err(RemoteError::new(
                &remote.spec.url,
                "the execution stream ended before the action was done",
            ))
        })
    }

    /// The result's output and output directory, brought into `cas`.
    fn collect(
        &self,
        cas: &Cas,
        job: &Job<'_>,
        result: re::ActionResult,
        cached: bool,
        action: Digest,
    ) -> Result<Executed, RemoteError> {
        let storage = self.storage();
        let stdout = self.output_blob(&result.stdout_raw, result.stdout_digest.as_ref())?;
        let stderr = self.output_blob(&result.stderr_raw, result.stderr_digest.as_ref())?;
        let tree = result
            .output_directories
            .iter()
            .find(|d| d.path == job.output_directory)
            .and_then(|d| d.tree_digest.as_ref())
            .map(from_re);
        let output = match tree {
            Some(tree) => {
                let bytes = self.blob(&tree)?;
                let manifest = tree_manifest(&bytes).map_err(|e| RemoteError::new(&storage.spec.url, e))?;
                let files = manifest.entries.iter().filter_map(|entry| match &entry.kind {
                    EntryKind::File { digest, size, exec } => Some((digest.as_str(), *size, *exec)),
                    _ => None,
                });
                MissingFiles::of(cas, files).download(storage, cas)?;
                manifest
            }
            None if result.exit_code == 0 => {
                return Err(self.failed(format!(
                    "returned no directory {} from a command that succeeded",
                    job.output_directory
                )));
            }
            None => Manifest::default(),
        };
        Ok(Executed {
            exit_code: result.exit_code,
            stdout,
            stderr,
            output,
            cached,
            action,
        })
    }

    /// A blob of the storage, whole, checked.
    fn blob(&self, digest: &Digest) -> Result<Vec<u8>, RemoteError> {
        let storage = self.storage();
        if digest.size_bytes > MAX_OUTPUT_BLOB {
            return Err(RemoteError::new(
                &storage.spec.url,
                format!("names an output of {} bytes: too large", digest.size_bytes),
            ));
        }
        let sink = MemorySink::default();
        storage.download(std::slice::from_ref(digest), &sink)?;
        Ok(sink.take(&digest.hash).unwrap_or_default())
    }

    fn output_blob(&self, raw: &[u8], digest: Option<&re::Digest>) -> Result<Vec<u8>, RemoteError> {
        match digest.map(from_re) {
            Some(digest) if raw.is_empty() && digest.size_bytes > 0 => self.blob(&digest),
            _ => Ok(raw.to_vec()),
        }
    }
}

/// The `Command` of `job`: environment and platform sorted by name, as
/// REAPI requires; the output directory under both the current and the
/// deprecated field, for servers of API 2.0.
#[allow(deprecated)]
fn command_message(job: &Job<'_>) -> re::Command {
    let mut environment: Vec<re::command::EnvironmentVariable> = job
        .environment
        .iter()
        .map(|(name, value)| re::command::EnvironmentVariable {
            name: name.clone(),
            value: value.clone(),
        })
        .collect();
    environment.sort_by(|a, b| a.name.cmp(&b.name));
    re::Command {
        arguments: job.arguments.clone(),
        environment_variables: environment,
        output_paths: vec![job.output_directory.clone()],
        output_directories: vec![job.output_directory.clone()],
        working_directory: job.working_directory.clone(),
        platform: Some(platform(&job.platform)),
        ..Default::default()
    }
}

fn platform(properties: &[(String, String)]) -> re::Platform {
    let mut properties: Vec<re::platform::Property> = properties
        .iter()
        .map(|(name, value)| re::platform::Property {
            name: name.clone(),
            value: value.clone(),
        })
        .collect();
    properties.sort_by(|a, b| (&a.name, &a.value).cmp(&(&b.name, &b.value)));
    re::Platform { properties }
}

/// A `Tree` message as a manifest: each child is found by the digest its
/// parent names, so the tree is checked as a whole.
fn tree_manifest(bytes: &[u8]) -> Result<Manifest, String> {
    let tree = re::Tree::decode(bytes).map_err(|e| format!("sent an output tree that does not decode: {e}"))?;
    let root = tree.root.unwrap_or_default().encode_to_vec();
    let root_hash = reapi::sha256_hex(&root);
    let mut directories: HashMap<String, Vec<u8>> = tree
        .children
        .iter()
        .map(|child| {
            let bytes = child.encode_to_vec();
            (reapi::sha256_hex(&bytes), bytes)
        })
        .collect();
    directories.insert(root_hash.clone(), root);
    reapi::decode_tree(&root_hash, |hash| {
        directories.get(hash).cloned().ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("directory {hash} of the output tree is missing from it"),
            )
        })
    })
    .map_err(|e| format!("sent an invalid output tree: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(deprecated)]
    fn commands_list_environment_and_platform_in_order() {
        let input = Manifest::default();
        let job = Job {
            input: &input,
            arguments: vec!["sh".into(), "-c".into(), "true".into()],
            environment: vec![("PATH".into(), "/bin".into()), ("HOME".into(), "/tmp".into())],
            working_directory: "build".into(),
            output_directory: "../install".into(),
            platform: vec![("OSFamily".into(), "linux".into()), ("ISA".into(), "x86-64".into())],
            skip_cache: false,
        };
        let command = command_message(&job);
        let names: Vec<&str> = command.environment_variables.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(names, ["HOME", "PATH"]);
        let properties: Vec<&str> = command
            .platform
            .as_ref()
            .unwrap()
            .properties
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(properties, ["ISA", "OSFamily"]);
        assert_eq!(command.output_paths, ["../install"]);
    }

    #[test]
    fn output_trees_are_checked_as_a_whole() {
        let file = re::FileNode {
            name: "hello".into(),
            digest: Some(to_re(&Digest::of(b"hi\n"))),
            is_executable: true,
            ..Default::default()
        };
        let child = re::Directory {
            files: vec![file],
            ..Default::default()
        };
        let child_digest = Digest::of(&child.encode_to_vec());
        let root = re::Directory {
            directories: vec![re::DirectoryNode {
                name: "bin".into(),
                digest: Some(to_re(&child_digest)),
            }],
            ..Default::default()
        };
        let tree = re::Tree {
            root: Some(root.clone()),
            children: vec![child],
        };
        let manifest = tree_manifest(&tree.encode_to_vec()).unwrap();
        let paths: Vec<&str> = manifest.entries.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["bin", "bin/hello"]);
        // A child that is not the one its parent names.
        let forged = re::Tree {
            root: Some(root),
            children: vec![re::Directory::default()],
        };
        let err = tree_manifest(&forged.encode_to_vec()).unwrap_err();
        assert!(err.contains("missing"), "{err}");
    }
}
