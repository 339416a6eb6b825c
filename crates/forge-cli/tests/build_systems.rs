//! A small C program per build system of buildstream-plugins (autotools,
//! cmake, make, meson), built offline in the sandbox on a toolchain from
//! the machine: each must install the files bst 2.8.1 installed for the
//! same project, byte for byte, as recorded in
//! `tests/fixtures/build-systems/*.golden` (by the ignored test below).

mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use support::base::link_toolchain_into;

const KINDS: [&str; 4] = ["autotools", "cmake", "make", "meson"];

/// The fixture with its toolchain linked in and the autotools project
/// bootstrapped as a release tarball would be (`autoreconf -i`, on the host).
fn prepared() -> support::TestProject {
    let p = support::fixture("build-systems");
    link_toolchain_into(&p.root.join("files/toolchain"));
    let output = Command::new("autoreconf")
        .arg("-i")
        .current_dir(p.root.join("files/hello-autotools"))
        .output()
        .expect("autoreconf runs (apt-get install autoconf automake)");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    p
}

/// What a directory holds: one line per path, sorted, with its type, mode
/// and content digest (or link target).
fn listing(dir: &Path) -> String {
    let mut lines = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in fs::read_dir(&current).unwrap().flatten() {
            let path = entry.path();
            let relative = path.strip_prefix(dir).unwrap().display().to_string();
            let meta = fs::symlink_metadata(&path).unwrap();
            let mode = meta.permissions().mode() & 0o777;
            if meta.file_type().is_symlink() {
                lines.push(format!("{relative} link {}", fs::read_link(&path).unwrap().display()));
            } else if meta.is_dir() {
                lines.push(format!("{relative} dir"));
                pending.push(path);
            } else {
                let exec = if mode & 0o100 != 0 { "exec" } else { "file" };
                lines.push(format!(
                    "{relative} {exec} {}",
                    support::sha256_hex(&fs::read(&path).unwrap())
                ));
            }
        }
    }
    lines.sort();
    lines.join("\n") + "\n"
}

fn golden(kind: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../tests/fixtures/build-systems/{kind}.golden"));
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn every_build_system_installs_the_files_bst_installs() {
    let p = prepared();
    let elements: Vec<String> = KINDS.iter().map(|k| format!("hello-{k}.bst")).collect();
    let mut args = vec!["build"];
    args.extend(elements.iter().map(String::as_str));
    let run = p.forge(&args);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    for kind in KINDS {
        let out = p.outside().join(format!("out-{kind}"));
        let element = format!("hello-{kind}.bst");
        p.forge(&["checkout", "--deps", "none", &element, out.to_str().unwrap()])
            .ok();
        assert_eq!(
            listing(&out),
            golden(kind),
            "{kind}: forge installed other files than bst"
        );
        let shell = p.forge(&["shell", &element, "--", "hello"]);
        assert_eq!(shell.code, 0, "{}", shell.stderr);
        assert_eq!(shell.stdout, format!("hello from {kind}\n"));
    }
}

/// Records the goldens with bst: `BST=/path/to/bst cargo test -p forge-cli
/// --test build_systems -- --ignored` (needs bst 2.8.1 with
/// buildstream-plugins and bubblewrap).
#[test]
#[ignore]
fn record_what_bst_installs() {
    let bst = std::env::var("BST").expect("set BST to the bst executable");
    let p = prepared();
    let home = p.outside().join("bst-home");
    let bst_cmd = |args: &[&str]| {
        let output = Command::new(&bst)
            .current_dir(&p.root)
            .env("XDG_CACHE_HOME", home.join("cache"))
            .env("XDG_CONFIG_HOME", home.join("config"))
            .args(["--no-colors", "--max-jobs", "2"])
            .args(args)
            .output()
            .expect("bst runs");
        assert!(
            output.status.success(),
            "bst {args:?}:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    for kind in KINDS {
        let element = format!("hello-{kind}.bst");
        bst_cmd(&["build", &element]);
        let out = p.outside().join(format!("bst-{kind}"));
        bst_cmd(&[
            "artifact",
            "checkout",
            "--deps",
            "none",
            "--no-integrate",
            "--directory",
            out.to_str().unwrap(),
            &element,
        ]);
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../tests/fixtures/build-systems/{kind}.golden"));
        fs::write(path, listing(&out)).unwrap();
    }
}
