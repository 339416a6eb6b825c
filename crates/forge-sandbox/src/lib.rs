//! Running a command in an isolated root.
//!
//! What the command sees is exactly: the root tree (read-only unless asked
//! otherwise), the writable mounts it is given, a private `/tmp`, a minimal
//! `/dev` (null, zero, full, random, urandom, tty) and a fresh `/proc`.
//! It runs in new user, mount, pid, network, ipc and uts namespaces: no
//! network but loopback, hostname `forge`, uid and gid 0, and the
//! environment it is given and nothing else. When it exits, every process
//! it started is killed with its pid namespace.
//!
//! The namespaces are set up by bubblewrap (`bwrap`), which works for root
//! and for ordinary users where unprivileged user namespaces are allowed,
//! and which a multi-threaded forge can start like any program. forge says
//! clearly when it is missing.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};

/// A directory of the host made visible in the sandbox.
#[derive(Clone, Debug)]
pub struct Mount {
    /// The host directory.
    pub host: PathBuf,
    /// Where it appears in the sandbox (absolute).
    pub target: String,
    /// Whether the command may write to it.
    pub writable: bool,
}

/// A command and the world it runs in.
#[derive(Clone, Debug)]
pub struct SandboxCommand {
    /// The host directory that becomes `/`.
    pub root: PathBuf,
    /// Whether `/` is writable (script elements without `root-read-only`).
    pub root_writable: bool,
    /// Further mounts, applied in order.
    pub mounts: Vec<Mount>,
    /// The working directory in the sandbox.
    pub cwd: String,
    /// The whole environment.
    pub env: Vec<(String, String)>,
    /// Whether the host network is shared (only `forge shell --network`).
    pub network: bool,
    /// The program and its arguments.
    pub argv: Vec<String>,
}

/// Why a command could not be run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxError(pub String);

impl std::fmt::Display for SandboxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SandboxError {}

/// Where bubblewrap is.
pub fn bwrap() -> Result<PathBuf, SandboxError> {
    let candidates = std::env::var_os("PATH")
        .map(|path| {
            std::env::split_paths(&path)
                .map(|dir| dir.join("bwrap"))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    candidates
        .into_iter()
        .chain([PathBuf::from("/usr/bin/bwrap")])
        .find(|p| p.is_file())
        .ok_or_else(|| {
            SandboxError(
                "the sandbox needs bubblewrap (bwrap), which is not installed: run `apt-get install bubblewrap`".into(),
            )
        })
}

/// Resolves `path` inside `root` the way the sandbox would see it,
/// following symlinks without leaving `root`.
pub fn resolve_in_root(root: &Path, path: &str) -> Option<PathBuf> {
    let mut current = PathBuf::from("/");
    let mut parts: Vec<String> = path
        .split('/')
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .rev()
        .collect();
    let mut hops = 0;
    while let Some(part) = parts.pop() {
        match part.as_str() {
            "." => continue,
            ".." => {
                current.pop();
                continue;
            }
            _ => {}
        }
        let candidate = current.join(&part);
        let host = root.join(candidate.strip_prefix("/").expect("absolute"));
        let meta = std::fs::symlink_metadata(&host).ok()?;
        if meta.file_type().is_symlink() {
            hops += 1;
            if hops > 40 {
                return None;
            }
            let target = std::fs::read_link(&host).ok()?;
            let target = target.to_string_lossy().into_owned();
            if target.starts_with('/') {
                current = PathBuf::from("/");
            }
            parts.extend(target.split('/').filter(|p| !p.is_empty()).map(str::to_string).rev());
        } else {
            current = candidate;
        }
    }
    Some(root.join(current.strip_prefix("/").expect("absolute")))
}

/// Whether `program` can be found in the root along `path` (a PATH value).
pub fn find_program(root: &Path, path: &str, program: &str) -> bool {
    if program.contains('/') {
        return resolve_in_root(root, program).is_some_and(|p| p.is_file());
    }
    path.split(':')
        .filter(|dir| dir.starts_with('/'))
        .any(|dir| resolve_in_root(root, &format!("{dir}/{program}")).is_some_and(|p| p.is_file()))
}

impl SandboxCommand {
    /// The bubblewrap invocation for this command.
    pub fn to_command(&self) -> Result<Command, SandboxError> {
        let mut cmd = Command::new(bwrap()?);
        cmd.arg("--unshare-all");
        if self.network {
            cmd.arg("--share-net");
        }
        cmd.args(["--die-with-parent", "--hostname", "forge"]);
        // `/` is bound writable while the mounts are made (their mount
        // points are created in it), then made read-only.
        cmd.arg("--bind").arg(&self.root).arg("/");
        cmd.args(["--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]);
        for mount in &self.mounts {
            cmd.arg(if mount.writable { "--bind" } else { "--ro-bind" })
                .arg(&mount.host)
                .arg(&mount.target);
        }
        if !self.root_writable {
            cmd.args(["--remount-ro", "/"]);
        }
        cmd.args(["--chdir", &self.cwd, "--clearenv"]);
        for (name, value) in &self.env {
            cmd.args(["--setenv", name, value]);
        }
        cmd.arg("--").args(&self.argv);
        cmd.env_clear();
        Ok(cmd)
    }

    /// Runs the command with its output appended to `log`; returns its exit
    /// status.
    pub fn run_logged(&self, log: &std::fs::File) -> Result<ExitStatus, SandboxError> {
        let mut cmd = self.to_command()?;
        let out = log
            .try_clone()
            .map_err(|e| SandboxError(format!("cannot write the build log: {e}")))?;
        let err = log
            .try_clone()
            .map_err(|e| SandboxError(format!("cannot write the build log: {e}")))?;
        cmd.stdin(Stdio::null()).stdout(out).stderr(err);
        cmd.status()
            .map_err(|e| SandboxError(format!("cannot start bubblewrap: {e}")))
    }

    /// Runs the command on the caller's terminal (`forge shell`).
    pub fn run_interactive(&self) -> Result<ExitStatus, SandboxError> {
        let mut cmd = self.to_command()?;
        cmd.status()
            .map_err(|e| SandboxError(format!("cannot start bubblewrap: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_symlinks_inside_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("usr/bin")).unwrap();
        std::fs::write(root.join("usr/bin/dash"), "").unwrap();
        std::os::unix::fs::symlink("usr/bin", root.join("bin")).unwrap();
        std::os::unix::fs::symlink("dash", root.join("usr/bin/sh")).unwrap();
        std::fs::create_dir(root.join("etc")).unwrap();
        std::os::unix::fs::symlink("/../../../etc", root.join("escape")).unwrap();
        assert_eq!(resolve_in_root(root, "/bin/sh"), Some(root.join("usr/bin/dash")));
        assert!(find_program(root, "/usr/bin:/bin", "sh"));
        assert!(!find_program(root, "/usr/bin:/bin", "python3"));
        assert_eq!(resolve_in_root(root, "/escape"), Some(root.join("etc")));
    }
}
