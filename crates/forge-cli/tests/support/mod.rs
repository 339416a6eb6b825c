//! A fixture builder for end-to-end tests of the `forge` binary: each test
//! gets its own project directory, cache and home.

#![allow(dead_code)]

pub mod archive;
pub mod base;
pub mod buildgrid;
pub mod casd;
pub mod debian;
pub mod git;
pub mod http;
pub mod pypi;
pub mod registry;
pub mod server;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;

/// Starts a project with the given `project.conf`.
pub fn project(conf: &str) -> ProjectBuilder {
    ProjectBuilder {
        files: vec![("project.conf".into(), conf.into())],
    }
}

/// A project under construction.
pub struct ProjectBuilder {
    files: Vec<(String, String)>,
}

impl ProjectBuilder {
    /// Adds a file (parent directories are created).
    pub fn file(mut self, path: &str, contents: &str) -> Self {
        self.files.push((path.into(), contents.into()));
        self
    }

    /// Writes the project to a fresh temporary directory.
    pub fn build(self) -> TestProject {
        let temp = tempfile::tempdir().expect("temp dir");
        let root = temp.path().join("project");
        for (path, contents) in &self.files {
            let full = root.join(path);
            fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
            fs::write(&full, contents).expect("write fixture");
        }
        TestProject { temp, root }
    }
}

/// A project on disk with its own cache and home.
pub struct TestProject {
    temp: tempfile::TempDir,
    /// The project directory.
    pub root: PathBuf,
}

/// The result of one forge run.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(output: Output) -> Run {
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl Run {
    /// Asserts success and returns stdout.
    pub fn ok(self) -> String {
        assert_eq!(
            self.code, 0,
            "forge failed:\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self.stdout
    }

    /// Asserts failure with `code` and returns stderr.
    pub fn fails(self, code: i32) -> String {
        assert_eq!(
            self.code, code,
            "unexpected exit code:\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self.stderr
    }
}

impl TestProject {
    /// Writes or replaces a file.
    pub fn write(&self, path: &str, contents: &str) {
        let full = self.root.join(path);
        fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
        fs::write(full, contents).expect("write");
    }

    /// The temporary directory around the project.
    pub fn outside(&self) -> &Path {
        self.temp.path()
    }

    /// Runs forge in `dir` with `args`, isolated from the caller's home,
    /// cache and environment.
    pub fn forge_in(&self, dir: &Path, args: &[&str]) -> Run {
        let mut cmd = Command::cargo_bin("forge").expect("forge binary");
        cmd.current_dir(dir)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.temp.path().join("home"))
            .env("FORGE_CACHE_DIR", self.temp.path().join("cache"))
            .args(args);
        cmd.output().expect("run forge").into()
    }

    /// forge as a process to spawn (to run several at once, or to kill
    /// one), at the project root with `cache`, isolated as [`forge_in`].
    ///
    /// [`forge_in`]: TestProject::forge_in
    pub fn process(&self, cache: &Path) -> std::process::Command {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("forge"));
        cmd.current_dir(&self.root)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.temp.path().join("home"))
            .env("FORGE_CACHE_DIR", cache);
        cmd
    }

    /// Runs forge at the project root with `cache` and `args` to its end,
    /// and returns its exit status and its peak resident memory in KiB.
    ///
    /// Through a small python3 that forks and waits: a process the test
    /// spawns itself starts its peak at the test's own resident size (the
    /// kernel keeps the high-water mark of the memory it replaced at
    /// exec), and a test holding a large fixture would be measured with it.
    pub fn run_measured(&self, cache: &Path, args: &[&str]) -> (i32, i64) {
        const WAIT: &str = "import os, sys\n\
            pid = os.fork()\n\
            if pid == 0:\n    os.execv(sys.argv[1], sys.argv[1:])\n\
            _, status, usage = os.wait4(pid, 0)\n\
            print(usage.ru_maxrss)\n\
            sys.exit(os.waitstatus_to_exitcode(status))\n";
        let out = std::process::Command::new("python3")
            .arg("-c")
            .arg(WAIT)
            .arg(assert_cmd::cargo::cargo_bin("forge"))
            .args(args)
            .current_dir(&self.root)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.temp.path().join("home"))
            .env("FORGE_CACHE_DIR", cache)
            .stderr(std::process::Stdio::null())
            .output()
            .expect("python3 runs forge");
        let peak = String::from_utf8_lossy(&out.stdout);
        let peak = peak
            .lines()
            .last()
            .unwrap_or_default()
            .trim()
            .parse()
            .expect("peak memory");
        (out.status.code().unwrap_or(-1), peak)
    }

    /// Runs forge at the project root.
    pub fn forge(&self, args: &[&str]) -> Run {
        self.forge_in(&self.root, args)
    }

    /// `forge show --format FORMAT TARGETS...`, stdout.
    pub fn show(&self, format: &str, targets: &[&str]) -> String {
        let mut args = vec!["show", "--format", format];
        args.extend_from_slice(targets);
        self.forge(&args).ok()
    }

    /// The full cache key of `element`.
    pub fn key(&self, element: &str) -> String {
        self.show("%{full-key}", &["--deps", "none", element])
            .trim()
            .to_string()
    }
}

/// A minimal project.conf.
pub const CONF: &str = "name: test\nmin-version: 2.0\nelement-path: elements\n";

/// An import element of one local file.
pub fn import_of(path: &str) -> String {
    format!("kind: import\nsources:\n- kind: local\n  path: {path}\n")
}

/// The sha256 of `bytes`, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// A copy of the fixture project `tests/fixtures/NAME`, with its own cache
/// and home.
pub fn fixture(name: &str) -> TestProject {
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(name);
    let temp = tempfile::tempdir().expect("temp dir");
    let root = temp.path().join("project");
    let mut pending = vec![PathBuf::new()];
    while let Some(relative) = pending.pop() {
        fs::create_dir_all(root.join(&relative)).expect("mkdir");
        for entry in fs::read_dir(source.join(&relative))
            .expect("fixture directory")
            .flatten()
        {
            let path = relative.join(entry.file_name());
            if entry.file_type().expect("file type").is_dir() {
                pending.push(path);
            } else {
                fs::copy(entry.path(), root.join(&path)).expect("copy fixture");
            }
        }
    }
    TestProject { temp, root }
}

/// Every path under `dir` with its type, mode and content.
#[allow(dead_code)]
pub fn listing(dir: &Path) -> Vec<String> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in fs::read_dir(&d).unwrap().flatten() {
            let path = entry.path();
            let rel = path.strip_prefix(dir).unwrap().display().to_string();
            let meta = fs::symlink_metadata(&path).unwrap();
            if meta.file_type().is_symlink() {
                out.push(format!("{rel} -> {}", fs::read_link(&path).unwrap().display()));
            } else if meta.is_dir() {
                out.push(format!("{rel}/"));
                pending.push(path);
            } else {
                let content = fs::read(&path).unwrap();
                out.push(format!(
                    "{rel} {:o} {}",
                    meta.permissions().mode() & 0o777,
                    sha256_hex(&content)
                ));
            }
        }
    }
    out.sort();
    out
}

/// Writes user configuration `name` beside the project; its path.
#[allow(dead_code)]
pub fn user_conf(p: &TestProject, name: &str, text: &str) -> String {
    let path = p.outside().join(name);
    fs::write(&path, text).unwrap();
    path.display().to_string()
}
