//! A base root for sandboxed test builds, assembled once per test process
//! from what the machine has: a shell, coreutils, python3 and the
//! libraries they load. Projects import it as an element; builds see
//! nothing else of the host.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

const TOOLS: &[&str] = &[
    "sh",
    "dash",
    "ls",
    "cat",
    "echo",
    "mkdir",
    "cp",
    "mv",
    "rm",
    "touch",
    "install",
    "env",
    "id",
    "date",
    "sleep",
    "head",
    "tail",
    "wc",
    "sed",
    "grep",
    "printf",
    "test",
    "true",
    "false",
    "chmod",
    "ln",
    "readlink",
    "sort",
    "uname",
    "tr",
    "find",
    "stat",
    "kill",
    "ps",
    "cut",
    "hostname",
    "python3",
    "python3.11",
];

/// Python's library without its tests and tools, enough to run scripts.
const PYTHON_SKIP: &[&str] = &[
    "test",
    "idlelib",
    "tkinter",
    "ensurepip",
    "lib2to3",
    "pydoc_data",
    "turtledemo",
    "__pycache__",
];

fn libraries(binary: &Path) -> Vec<PathBuf> {
    let output = Command::new("ldd").arg(binary).output().expect("ldd");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| {
            let path = line.split("=>").nth(1).unwrap_or(line).split_whitespace().next()?;
            path.starts_with('/').then(|| PathBuf::from(path))
        })
        .collect()
}

fn copy_into(root: &Path, host: &Path) {
    let target = root.join(host.strip_prefix("/").unwrap());
    fs::create_dir_all(target.parent().unwrap()).unwrap();
    if fs::symlink_metadata(&target).is_ok() {
        return;
    }
    let meta = fs::symlink_metadata(host).unwrap();
    if meta.file_type().is_symlink() {
        let link = fs::read_link(host).unwrap();
        std::os::unix::fs::symlink(&link, &target).unwrap();
        let resolved = if link.is_absolute() {
            link
        } else {
            host.parent().unwrap().join(link)
        };
        copy_into(root, &resolved);
    } else {
        fs::copy(host, &target).unwrap();
    }
}

fn copy_tree(root: &Path, host: &Path) {
    for entry in fs::read_dir(host).unwrap().flatten() {
        let name = entry.file_name();
        if PYTHON_SKIP.iter().any(|s| name == *s) || name.to_string_lossy().starts_with("config-") {
            continue;
        }
        let path = entry.path();
        if entry.file_type().unwrap().is_dir() {
            copy_tree(root, &path);
        } else {
            copy_into(root, &path);
        }
    }
}

/// A tree made by `make` in cargo's scratch directory for tests, shared by
/// every test process and run: made once into a temporary directory, then
/// renamed into place (a process that loses the race drops its copy).
fn shared_tree(name: &str, make: impl FnOnce(&Path)) -> PathBuf {
    let scratch = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let done = scratch.join(name);
    if done.is_dir() {
        return done;
    }
    let partial = scratch.join(format!("{name}.partial-{}", std::process::id()));
    let _ = fs::remove_dir_all(&partial);
    fs::create_dir_all(&partial).unwrap();
    make(&partial);
    if fs::rename(&partial, &done).is_err() {
        let _ = fs::remove_dir_all(&partial);
    }
    done
}

/// Where the shared base tree is (built on first use).
pub fn base_tree() -> &'static Path {
    static BASE: OnceLock<PathBuf> = OnceLock::new();
    BASE.get_or_init(|| shared_tree("forge-test-base-v1", build_base))
}

fn build_base(root: &Path) {
    fs::create_dir_all(root.join("usr/bin")).unwrap();
    for (link, target) in [
        ("bin", "usr/bin"),
        ("lib", "usr/lib"),
        ("lib64", "usr/lib64"),
        ("sbin", "usr/sbin"),
    ] {
        std::os::unix::fs::symlink(target, root.join(link)).unwrap();
    }
    let mut libs = BTreeSet::new();
    for tool in TOOLS {
        let host = Path::new("/usr/bin").join(tool);
        if !host.exists() {
            continue;
        }
        copy_into(root, &host);
        libs.extend(libraries(&host));
    }
    for lib in libs {
        // /lib is /usr/lib on merged-/usr hosts: write under usr/.
        let host = fs::canonicalize(&lib).unwrap_or(lib.clone());
        copy_into(root, &host);
        let usr_path = if lib.starts_with("/usr") {
            lib.clone()
        } else {
            Path::new("/usr").join(lib.strip_prefix("/").unwrap())
        };
        let target = root.join(usr_path.strip_prefix("/").unwrap());
        if fs::symlink_metadata(&target).is_err() {
            fs::create_dir_all(target.parent().unwrap()).unwrap();
            fs::copy(&host, &target).unwrap();
        }
    }
    if Path::new("/usr/lib/python3.11").is_dir() {
        copy_tree(root, Path::new("/usr/lib/python3.11"));
    }
    fs::create_dir_all(root.join("etc")).unwrap();
    fs::write(root.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
    fs::write(root.join("etc/group"), "root:x:0:\n").unwrap();
}

/// Hardlinks the base tree into `dir` (inside a test project).
pub fn link_base_into(dir: &Path) {
    link_tree(base_tree(), dir);
}

fn link_tree(base: &Path, dir: &Path) {
    let mut pending = vec![PathBuf::new()];
    while let Some(relative) = pending.pop() {
        let from = base.join(&relative);
        let to = dir.join(&relative);
        fs::create_dir_all(&to).unwrap();
        for entry in fs::read_dir(&from).unwrap().flatten() {
            let rel = relative.join(entry.file_name());
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                pending.push(rel);
            } else if kind.is_symlink() {
                std::os::unix::fs::symlink(fs::read_link(entry.path()).unwrap(), dir.join(&rel)).unwrap();
            } else {
                fs::hard_link(entry.path(), dir.join(&rel)).unwrap();
            }
        }
    }
}

/// Debian packages whose files make the toolchain base: gcc, binutils,
/// libc's headers and libraries, make, cmake, ninja and meson.
const TOOLCHAIN_PACKAGES: &[&str] = &[
    "gcc-12",
    "cpp-12",
    "gcc",
    "cpp",
    "binutils",
    "binutils-x86-64-linux-gnu",
    "libbinutils",
    "libctf0",
    "libctf-nobfd0",
    "libc6-dev",
    "libc-dev-bin",
    "linux-libc-dev",
    "libgcc-12-dev",
    "libcrypt-dev",
    "make",
    "cmake",
    "cmake-data",
    "ninja-build",
    "meson",
    "mawk",
    "diffutils",
    "coreutils",
    "sed",
    "grep",
    "findutils",
];

/// Parts of those packages no build here needs.
const TOOLCHAIN_SKIP: &[&str] = &[
    "/usr/share/doc/",
    "/usr/share/man/",
    "/usr/share/info/",
    "/usr/share/locale/",
    "/usr/share/cmake-3.25/Help/",
    "lto-dump",
    "/lto1",
    "cc1plus",
    "/cpack",
    "/ctest",
    "ld.gold",
    "/x86_64-linux-gnu-dwp",
    "gprofng",
    "san.a",
    "/libc.a",
    "/libm-2.36.a",
    "/libmvec.a",
];

/// A base with a C toolchain and the build systems of buildstream-plugins,
/// assembled once per test process from the machine's Debian packages on
/// top of [`base_tree`]. Panics, saying what to install, where they are
/// missing (`.ci/run` installs them).
pub fn toolchain_tree() -> &'static Path {
    static TOOLCHAIN: OnceLock<PathBuf> = OnceLock::new();
    TOOLCHAIN.get_or_init(|| shared_tree("forge-test-toolchain-v1", build_toolchain))
}

fn build_toolchain(root: &Path) {
    link_base_into(root);
    let listing = Command::new("dpkg")
        .arg("-L")
        .args(TOOLCHAIN_PACKAGES)
        .output()
        .expect("dpkg runs (the toolchain tests need a Debian machine)");
    assert!(
        listing.status.success(),
        "the toolchain tests need these packages: apt-get install {}\n{}",
        TOOLCHAIN_PACKAGES.join(" "),
        String::from_utf8_lossy(&listing.stderr)
    );
    let mut binaries = Vec::new();
    for line in String::from_utf8_lossy(&listing.stdout).lines() {
        let path = Path::new(line);
        if TOOLCHAIN_SKIP.iter().any(|s| line.contains(s)) || !line.starts_with('/') {
            continue;
        }
        let Ok(meta) = fs::symlink_metadata(path) else { continue };
        if meta.is_dir() {
            continue;
        }
        copy_into(root, path);
        if meta.is_file() && line.contains("/bin/") || line.contains("/lib/gcc/") {
            binaries.push(path.to_path_buf());
        }
    }
    // Debian's alternatives are not package files.
    for tool in ["cc", "c99", "awk"] {
        copy_into(root, &Path::new("/usr/bin").join(tool));
    }
    let mut libs = BTreeSet::new();
    for binary in &binaries {
        libs.extend(libraries(binary));
    }
    for lib in libs {
        let host = fs::canonicalize(&lib).unwrap_or(lib.clone());
        copy_into(root, &host);
        copy_into(root, &lib);
    }
}

/// Hardlinks the toolchain tree into `dir` (inside a test project).
pub fn link_toolchain_into(dir: &Path) {
    link_tree(toolchain_tree(), dir);
}
