//! Incremental builds of an open workspace, as bst makes them: the build
//! directory of the last build is kept, and the next build of the same
//! element on the same dependencies starts from it, with only what changed
//! in the workspace since copied in (with the time of the copy, so make
//! sees it newer than what was built from it) and what went away removed.
//! `configure-commands` run until they first succeed, then are skipped
//! until `forge workspace reset --soft`.
//!
//! The state lives in the cache (`workspace-builds/<id>/`, one per element
//! and directory): `build/`, the build root as the last build left it, and
//! `state.json`, what the workspace held then and what it was built on. A
//! change of dependencies or of the element's configuration, a state that
//! does not read back, or `--check` start from a fresh copy.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::build::{BuildContext, BuildError};

/// The state directory of `element`'s workspace at `workspace`, under the
/// cache directory `cache_dir`.
pub fn state_dir(cache_dir: &Path, element: &str, workspace: &Path) -> PathBuf {
    let mut hasher = Sha256::new();
    hasher.update(element.as_bytes());
    hasher.update(b"\0");
    hasher.update(workspace.as_os_str().as_encoded_bytes());
    let id: String = hasher.finalize()[..16].iter().map(|b| format!("{b:02x}")).collect();
    cache_dir.join("workspace-builds").join(id)
}

/// Makes the next build of `element`'s workspace run its configure
/// commands again (`forge workspace reset --soft`); true if it was
/// prepared.
pub fn unprepare(cache_dir: &Path, element: &str, workspace: &Path) -> io::Result<bool> {
    let path = state_dir(cache_dir, element, workspace).join("state.json");
    let Some(mut state) = fs::read(&path)
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
    else {
        return Ok(false);
    };
    let was = state["prepared"] == json!(true);
    state["prepared"] = json!(false);
    write_state(&path, &state)?;
    Ok(was)
}

/// Forgets the kept build of `element`'s workspace (close, hard reset).
pub fn forget(cache_dir: &Path, element: &str, workspace: &Path) -> io::Result<()> {
    match fs::remove_dir_all(state_dir(cache_dir, element, workspace)) {
        Err(err) if err.kind() != io::ErrorKind::NotFound => Err(err),
        _ => Ok(()),
    }
}

/// One file of the workspace as the last build saw it.
#[derive(Clone, Debug, PartialEq)]
struct Seen {
    /// `d`irectory, `f`ile, e`x`ecutable or `l`ink.
    kind: char,
    size: u64,
    mtime_ns: i128,
    /// A link's target.
    target: String,
}

fn seen_of(path: &Path, meta: &fs::Metadata) -> io::Result<Seen> {
    let kind = if meta.is_dir() {
        'd'
    } else if meta.file_type().is_symlink() {
        'l'
    } else if meta.permissions().mode() & 0o100 != 0 {
        'x'
    } else {
        'f'
    };
    let target = if kind == 'l' {
        fs::read_link(path)?.to_string_lossy().into_owned()
    } else {
        String::new()
    };
    Ok(Seen {
        kind,
        size: if kind == 'd' { 0 } else { meta.len() },
        mtime_ns: if kind == 'd' {
            0
        } else {
            meta.mtime() as i128 * 1_000_000_000 + meta.mtime_nsec() as i128
        },
        target,
    })
}

/// Every entry under `root`, by relative path.
fn survey(root: &Path) -> io::Result<BTreeMap<String, Seen>> {
    let mut out = BTreeMap::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(relative) = pending.pop() {
        for entry in fs::read_dir(root.join(&relative))? {
            let entry = entry?;
            if forge_sources::local::is_workspace_private(&entry.file_name()) {
                continue;
            }
            let path = relative.join(entry.file_name());
            let meta = fs::symlink_metadata(entry.path())?;
            let seen = seen_of(&entry.path(), &meta)?;
            if seen.kind == 'd' {
                pending.push(path.clone());
            }
            out.insert(path.to_string_lossy().into_owned(), seen);
        }
    }
    Ok(out)
}

fn encode(seen: &BTreeMap<String, Seen>) -> Value {
    Value::Object(
        seen.iter()
            .map(|(path, s)| {
                (
                    path.clone(),
                    json!([s.kind.to_string(), s.size, s.mtime_ns.to_string(), s.target]),
                )
            })
            .collect(),
    )
}

fn decode(value: &Value) -> Option<BTreeMap<String, Seen>> {
    value
        .as_object()?
        .iter()
        .map(|(path, v)| {
            let kind = v.get(0)?.as_str()?.chars().next()?;
            Some((
                path.clone(),
                Seen {
                    kind,
                    size: v.get(1)?.as_u64()?,
                    mtime_ns: v.get(2)?.as_str()?.parse().ok()?,
                    target: v.get(3)?.as_str()?.to_string(),
                },
            ))
        })
        .collect()
}

fn write_state(path: &Path, state: &Value) -> io::Result<()> {
    let temporary = path.with_extension("json.tmp");
    fs::write(&temporary, serde_json::to_vec(state).expect("JSON serialises"))?;
    fs::rename(&temporary, path)
}

/// The kept build of one workspace, locked for this build.
pub struct WorkspaceBuild {
    dir: PathBuf,
    workspace: PathBuf,
    /// What the build was made on: dependencies and configuration.
    basis: String,
    /// Whether configure-commands succeeded in a build of this state.
    pub prepared: bool,
    /// The workspace as this build copied it in.
    sources: BTreeMap<String, Seen>,
    _lock: fs::File,
}

impl WorkspaceBuild {
    /// The build directory to build `ctx`'s workspaced element in, brought
    /// up to date with its workspace: the last build's, or a fresh copy.
    pub fn start(ctx: &mut BuildContext<'_>, workspace: &Path) -> Result<(WorkspaceBuild, PathBuf), BuildError> {
        let io = |what: &'static str| move |e: io::Error| BuildError(format!("{what}: {e}"));
        let cache_dir = ctx.cas.root().parent().unwrap_or(ctx.cas.root()).to_path_buf();
        let dir = state_dir(&cache_dir, &ctx.element.name, workspace);
        fs::create_dir_all(&dir).map_err(io("cannot create the workspace's build state"))?;
        let lock = fs::File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("lock"))
            .map_err(io("cannot lock the workspace's build state"))?;
        lock.lock().map_err(io("cannot lock the workspace's build state"))?;
        let basis = basis_of(ctx);
        let build = dir.join("build");
        let state: Option<Value> = fs::read(dir.join("state.json"))
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok());
        let last = state
            .as_ref()
            .filter(|s| s["basis"] == json!(basis) && !ctx.fresh && build.is_dir())
            .and_then(|s| Some((decode(&s["sources"])?, s["prepared"] == json!(true))));
        let now = survey(workspace).map_err(|e| {
            BuildError(format!(
                "cannot read the workspace {}: {e}; reopen it with `forge workspace open --force`, or close it",
                workspace.display()
            ))
        })?;
        let mut kept = WorkspaceBuild {
            dir,
            workspace: workspace.to_path_buf(),
            basis,
            prepared: false,
            sources: BTreeMap::new(),
            _lock: lock,
        };
        match last {
            Some((before, prepared)) => {
                let changed =
                    sync(workspace, &build, &before, &now).map_err(io("cannot update the build directory"))?;
                ctx.log(&format!(
                    "# incremental build of the workspace {}: {changed} changes since its last build",
                    workspace.display()
                ));
                kept.prepared = prepared;
            }
            None => {
                // No usable earlier build: a fresh copy, as any build.
                let _ = fs::remove_dir_all(&build);
                fs::create_dir(&build).map_err(io("cannot create the build directory"))?;
                ctx.stage_sources(&build)?;
            }
        }
        kept.sources = now;
        kept.save().map_err(io("cannot write the workspace's build state"))?;
        Ok((kept, build))
    }

    /// Records that configure-commands succeeded (with the workspace as
    /// this build copied it: an edit made since is copied in next time).
    pub fn mark_prepared(&mut self) -> Result<(), BuildError> {
        self.prepared = true;
        self.save()
            .map_err(|e| BuildError(format!("cannot write the workspace's build state: {e}")))
    }

    fn save(&self) -> io::Result<()> {
        write_state(
            &self.dir.join("state.json"),
            &json!({
                "workspace": self.workspace.to_string_lossy(),
                "basis": self.basis,
                "prepared": self.prepared,
                "sources": encode(&self.sources),
            }),
        )
    }
}

/// What a kept build is valid for: the element's configuration and
/// environment and the artifacts it stages.
fn basis_of(ctx: &BuildContext<'_>) -> String {
    let mut hasher = Sha256::new();
    hasher.update(forge_yaml::to_yaml_string(&ctx.element.config).as_bytes());
    for (name, value) in &ctx.element.environment {
        hasher.update(format!("env {name}={value}\n").as_bytes());
    }
    for dep in &ctx.deps {
        hasher.update(format!("dep {} {} {}\n", dep.element.name, dep.record.key, dep.location).as_bytes());
    }
    hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Brings `build` from the workspace as `before` saw it to the workspace
/// as `now` sees it; returns how many entries changed.
fn sync(
    workspace: &Path,
    build: &Path,
    before: &BTreeMap<String, Seen>,
    now: &BTreeMap<String, Seen>,
) -> io::Result<usize> {
    let mut changed = 0;
    // Gone from the workspace: gone from the build (deepest first).
    for (path, seen) in before.iter().rev() {
        if now.get(path).is_some_and(|n| n.kind == seen.kind) {
            continue;
        }
        changed += 1;
        let target = build.join(path);
        let result = if seen.kind == 'd' {
            fs::remove_dir_all(&target)
        } else {
            fs::remove_file(&target)
        };
        match result {
            Err(err) if err.kind() != io::ErrorKind::NotFound => return Err(err),
            _ => {}
        }
    }
    // New or changed (parents first): copied, with the time of the copy.
    for (path, seen) in now {
        if before.get(path) == Some(seen) {
            continue;
        }
        let from = workspace.join(path);
        let target = build.join(path);
        match seen.kind {
            'd' => {
                if before.get(path).is_some_and(|b| b.kind == 'd') {
                    continue;
                }
                fs::create_dir_all(&target)?;
            }
            'l' => {
                let _ = fs::remove_file(&target);
                std::os::unix::fs::symlink(&seen.target, &target)?;
            }
            _ => {
                let _ = fs::remove_file(&target);
                fs::copy(&from, &target)?;
                fs::set_permissions(
                    &target,
                    fs::Permissions::from_mode(if seen.kind == 'x' { 0o755 } else { 0o644 }),
                )?;
            }
        }
        changed += 1;
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_copies_what_changed_removes_what_went_and_leaves_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let (ws, build) = (dir.path().join("ws"), dir.path().join("build"));
        fs::create_dir_all(ws.join("src/old")).unwrap();
        fs::write(ws.join("src/a.c"), "a").unwrap();
        fs::write(ws.join("src/b.c"), "b").unwrap();
        fs::write(ws.join("src/old/x.c"), "x").unwrap();
        forge_sources::local::copy_tree(&ws, &build).unwrap();
        fs::write(build.join("src/a.o"), "built from a").unwrap();
        let before = survey(&ws).unwrap();

        std::thread::sleep(std::time::Duration::from_millis(10));
        fs::write(ws.join("src/b.c"), "b, edited").unwrap();
        fs::remove_dir_all(ws.join("src/old")).unwrap();
        fs::write(ws.join("src/new.c"), "new").unwrap();
        std::os::unix::fs::symlink("a.c", ws.join("src/link.c")).unwrap();
        let now = survey(&ws).unwrap();
        let a_time = fs::metadata(build.join("src/a.c")).unwrap().modified().unwrap();

        assert_eq!(sync(&ws, &build, &before, &now).unwrap(), 5);
        assert_eq!(fs::read_to_string(build.join("src/b.c")).unwrap(), "b, edited");
        assert_eq!(fs::read_to_string(build.join("src/new.c")).unwrap(), "new");
        assert_eq!(fs::read_link(build.join("src/link.c")).unwrap(), Path::new("a.c"));
        assert!(!build.join("src/old").exists());
        assert_eq!(
            fs::read_to_string(build.join("src/a.o")).unwrap(),
            "built from a",
            "outputs stay"
        );
        assert_eq!(
            fs::metadata(build.join("src/a.c")).unwrap().modified().unwrap(),
            a_time,
            "unchanged sources keep their time"
        );
        assert_eq!(decode(&encode(&now)), Some(now));
    }
}
