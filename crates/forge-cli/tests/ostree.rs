//! `ostree` sources (buildstream-plugins-community's plugin) against real
//! repositories: made by the `ostree` tool (`apt-get install ostree`;
//! .ci/run installs it) in `archive` mode, served over HTTP on 127.0.0.1.

mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use support::casd::Casd;
use support::debian::gpg;
use support::http::Server;
use support::{listing, project};

/// Runs `ostree --repo=REPO ARGS`; its output, trimmed.
fn ostree(repo: &Path, args: &[&str]) -> String {
    let output = Command::new("ostree")
        .arg(format!("--repo={}", repo.display()))
        .args(args)
        .output()
        .expect("the ostree tool: apt-get install ostree (.ci/run installs it)");
    assert!(
        output.status.success(),
        "ostree {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// A tree with what a commit can hold: files plain and executable, one
/// content at two paths, a symlink, an empty and a deep directory, and a
/// file large enough to arrive in many reads.
fn write_tree(dir: &Path) {
    let file = |path: &str, content: &[u8], mode: u32| {
        let full = dir.join(path);
        fs::create_dir_all(full.parent().unwrap()).unwrap();
        fs::write(&full, content).unwrap();
        fs::set_permissions(&full, fs::Permissions::from_mode(mode)).unwrap();
    };
    file("hello.txt", b"hello\n", 0o644);
    file("usr/share/doc/again.txt", b"hello\n", 0o644);
    file("usr/bin/tool", b"#!/bin/sh\necho tool\n", 0o755);
    file("a/b/c/d/deep.txt", b"deep\n", 0o644);
    let big: Vec<u8> = (0..900_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect();
    file("usr/lib/big.bin", &big, 0o644);
    fs::create_dir_all(dir.join("var/empty")).unwrap();
    std::os::unix::fs::symlink("../hello.txt", dir.join("usr/link")).unwrap();
}

/// An archive repository with `tree` committed on `main`, and the commit.
fn make_repo(repo: &Path, tree: &Path) -> String {
    ostree(repo, &["init", "--mode=archive-z2"]);
    commit(repo, tree)
}

fn commit(repo: &Path, tree: &Path) -> String {
    ostree(
        repo,
        &[
            "commit",
            "--branch=main",
            "--subject=test",
            "--no-xattrs",
            &tree.display().to_string(),
        ],
    )
}

/// Serves every file of `repo` under `/repo/`.
fn serve(server: &Server, repo: &Path) {
    let mut pending = vec![repo.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let relative = path.strip_prefix(repo).unwrap().display().to_string();
                server.serve(&format!("/repo/{relative}"), &fs::read(&path).unwrap());
            }
        }
    }
}

fn conf(server: &Server) -> String {
    format!(
        "name: ostree-test\nmin-version: 2.0\nelement-path: elements\n\
         aliases:\n  flat: {}/\n\
         plugins:\n- origin: pip\n  package-name: buildstream-plugins-community\n  sources:\n  - ostree\n",
        server.base
    )
}

const ELEMENT: &str = "kind: import\nsources:\n- kind: ostree\n  url: flat:repo\n  track: main\n";

/// A repository with [`write_tree`] committed on `main`, served, and a
/// project whose `t.bst` imports it (`extra` added to its source). A test
/// binds `_work` and `server` to keep them for its length.
struct Fixture {
    _work: tempfile::TempDir,
    tree: std::path::PathBuf,
    repo: std::path::PathBuf,
    commit: String,
    server: Server,
    p: support::TestProject,
}

fn fixture(extra: impl Fn(&str) -> String) -> Fixture {
    let work = tempfile::tempdir().unwrap();
    let (tree, repo) = (work.path().join("tree"), work.path().join("repo"));
    write_tree(&tree);
    let commit = make_repo(&repo, &tree);
    let server = Server::start();
    serve(&server, &repo);
    let p = project(&conf(&server))
        .file("elements/t.bst", &format!("{ELEMENT}{}", extra(&commit)))
        .build();
    Fixture {
        _work: work,
        tree,
        repo,
        commit,
        server,
        p,
    }
}

fn pinned(commit: &str) -> String {
    format!("  ref: {commit}\n")
}

#[test]
fn a_commit_is_tracked_fetched_and_built_file_for_file() {
    let Fixture {
        tree,
        repo,
        commit: first,
        server,
        p,
        _work,
        ..
    } = fixture(|_| String::new());

    p.forge(&["track", "t.bst"]).ok();
    let element = fs::read_to_string(p.root.join("elements/t.bst")).unwrap();
    assert!(element.contains(&format!("ref: {first}")), "{element}");
    p.forge(&["build", "t.bst"]).ok();
    let out = p.outside().join("out");
    p.forge(&["checkout", "t.bst", out.to_str().unwrap()]).ok();
    assert_eq!(listing(&out), listing(&tree));
    // One object for the two paths of the same content, fetched once.
    let hello = ostree(&repo, &["ls", "-C", "main", "/hello.txt"]);
    let hello = hello.split_whitespace().nth(4).unwrap().to_string();
    assert_eq!(
        server.hits(&format!("/repo/objects/{}/{}.filez", &hello[..2], &hello[2..])),
        1
    );

    // The branch moves: track follows it, and the build has the new tree.
    fs::write(tree.join("hello.txt"), "hello again\n").unwrap();
    let second = commit(&repo, &tree);
    serve(&server, &repo);
    p.forge(&["track", "t.bst"]).ok();
    let element = fs::read_to_string(p.root.join("elements/t.bst")).unwrap();
    assert!(element.contains(&format!("ref: {second}")), "{element}");
    p.forge(&["build", "t.bst"]).ok();
    let again = p.outside().join("again");
    p.forge(&["checkout", "t.bst", again.to_str().unwrap()]).ok();
    assert_eq!(fs::read_to_string(again.join("hello.txt")).unwrap(), "hello again\n");
    assert_eq!(listing(&again), listing(&tree));
}

#[test]
fn objects_that_do_not_match_their_checksums_are_refused_and_nothing_is_kept() {
    let Fixture {
        repo, server, p, _work, ..
    } = fixture(pinned);

    // The server answers for the tool with the object of another file.
    let object = |path: &str| {
        let line = ostree(&repo, &["ls", "-C", "main", path]);
        let sum = line.split_whitespace().nth(4).unwrap().to_string();
        (format!("/repo/objects/{}/{}.filez", &sum[..2], &sum[2..]), sum)
    };
    let (tool, tool_sum) = object("/usr/bin/tool");
    let (deep, _) = object("/a/b/c/d/deep.txt");
    server.serve(&tool, &fs::read(repo.join(&deep["/repo/".len()..])).unwrap());
    let err = p.forge(&["fetch", "t.bst"]).fails(4);
    assert!(err.contains(&format!("cannot get file object {tool_sum}")), "{err}");
    assert!(err.contains("it hashes to"), "{err}");
    assert_eq!(left_in_cache(&p), Vec::<String>::new(), "no record, no staging left");

    // A directory tree that is not what its parent names.
    serve(&server, &repo);
    let root_tree = ostree(&repo, &["ls", "-C", "main", "/"]);
    let root_tree = root_tree.split_whitespace().nth(4).unwrap().to_string();
    let dirtree = format!("/repo/objects/{}/{}.dirtree", &root_tree[..2], &root_tree[2..]);
    server.serve(&dirtree, b"not a directory tree");
    let err = p.forge(&["fetch", "t.bst"]).fails(4);
    assert!(err.contains(&format!("cannot get dirtree object {root_tree}")), "{err}");

    // Served right again: fetched.
    serve(&server, &repo);
    p.forge(&["fetch", "t.bst"]).ok();
}

/// What of an OSTree pull the cache holds: records of commits, staging
/// directories.
fn left_in_cache(p: &support::TestProject) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![p.outside().join("cache")];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with("ostree-") {
                found.push(path.display().to_string());
            } else if path.is_dir() {
                pending.push(path);
            }
        }
    }
    found
}

/// A new signing key in `home`: its fingerprint.
fn new_key(home: &Path, name: &str) -> String {
    fs::create_dir_all(home).unwrap();
    fs::set_permissions(home, fs::Permissions::from_mode(0o700)).unwrap();
    gpg(
        home,
        &[
            "--passphrase",
            "",
            "--quick-gen-key",
            &format!("{name} <{name}@example.com>"),
            "ed25519",
            "sign",
            "never",
        ],
    );
    let listed = String::from_utf8(gpg(home, &["--with-colons", "--list-keys"])).unwrap();
    listed
        .lines()
        .find_map(|l| l.strip_prefix("fpr:").map(|rest| rest.trim_matches(':').to_string()))
        .unwrap()
}

#[test]
fn with_gpg_key_only_a_commit_signed_by_that_key_is_fetched() {
    let Fixture {
        repo,
        commit,
        server,
        p,
        _work,
        ..
    } = fixture(|commit| format!("{}  gpg-key: keys/ostree.gpg\n", pinned(commit)));
    let keys = tempfile::tempdir().unwrap();
    let (signer, other) = (keys.path().join("signer"), keys.path().join("other"));
    let key = new_key(&signer, "signer");
    new_key(&other, "other");
    fs::create_dir_all(p.root.join("keys")).unwrap();
    fs::write(p.root.join("keys/ostree.gpg"), gpg(&signer, &["--export"])).unwrap();

    let err = p.forge(&["fetch", "t.bst"]).fails(4);
    assert!(
        err.contains(&format!("commit {commit}")) && err.contains("has no signature"),
        "{err}"
    );

    ostree(
        &repo,
        &[
            "gpg-sign",
            &format!("--gpg-homedir={}", signer.display()),
            &commit,
            &key,
        ],
    );
    serve(&server, &repo);
    fs::write(p.root.join("keys/ostree.gpg"), gpg(&other, &["--export"])).unwrap();
    let err = p.forge(&["fetch", "t.bst"]).fails(4);
    assert!(err.contains("no signature by gpg-key"), "{err}");

    fs::write(p.root.join("keys/ostree.gpg"), gpg(&signer, &["--export"])).unwrap();
    p.forge(&["fetch", "t.bst"]).ok();
}

#[test]
fn the_source_cache_serves_a_commit_when_the_repository_is_gone() {
    let Fixture {
        tree, server, p, _work, ..
    } = fixture(pinned);
    let casd = Casd::start(&p.outside().join("casd"));
    let config = support::casd::source_cache_config(p.outside(), &casd);
    let config = config.as_str();
    p.forge(&["--config", config, "fetch", "t.bst"]).ok();

    drop(server);
    let other = p.outside().join("other-cache");
    let other = other.to_str().unwrap();
    p.forge(&["--config", config, "--cache-dir", other, "build", "t.bst"])
        .ok();
    let out = p.outside().join("out");
    p.forge(&["--cache-dir", other, "checkout", "t.bst", out.to_str().unwrap()])
        .ok();
    assert_eq!(listing(&out), listing(&tree));
}

#[test]
fn refs_and_names_that_are_not_ostree_s_are_errors_with_their_line() {
    let server = Server::start();
    let p = project(&conf(&server))
        .file("elements/t.bst", &format!("{ELEMENT}  ref: main\n"))
        .build();
    let err = p.forge(&["show", "t.bst"]).fails(3);
    assert!(err.contains("elements/t.bst:6:"), "{err}");
    assert!(err.contains("not an OSTree commit checksum"), "{err}");
    p.write("elements/t.bst", ELEMENT);
    let err = p.forge(&["track", "t.bst"]).fails(4);
    assert!(err.contains("cannot read branch main"), "{err}");
}

/// freedesktop-sdk's local plugin, declared as its project.conf does
/// (forge runs its own implementation, never the file).
fn mirror_conf(server: &Server) -> String {
    format!(
        "name: ostree-test\nmin-version: 2.0\nelement-path: elements\n\
         aliases:\n  flat: {}/\n\
         plugins:\n- origin: local\n  path: plugins/sources\n  sources:\n  - ostree_mirror\n",
        server.base
    )
}

#[test]
fn ostree_mirror_stages_a_repository_of_the_signed_commits_it_tracked() {
    let work = tempfile::tempdir().unwrap();
    let (tree, repo) = (work.path().join("tree"), work.path().join("repo"));
    write_tree(&tree);
    ostree(&repo, &["init", "--mode=archive-z2"]);
    let signer = work.path().join("signer");
    let key = new_key(&signer, "signer");
    let mut commits = Vec::new();
    for branch in [
        "app/org.example.App/x86_64/stable",
        "runtime/org.example.Platform/x86_64/1",
        "other/x",
    ] {
        fs::write(tree.join("hello.txt"), format!("hello from {branch}\n")).unwrap();
        let commit = ostree(
            &repo,
            &[
                "commit",
                &format!("--branch={branch}"),
                "--no-xattrs",
                &format!("--gpg-sign={key}"),
                &format!("--gpg-homedir={}", signer.display()),
                &tree.display().to_string(),
            ],
        );
        commits.push((branch, commit));
    }
    ostree(&repo, &["summary", "-u"]);
    let server = Server::start();
    serve(&server, &repo);
    let p = project(&mirror_conf(&server))
        .file("plugins/sources/ostree_mirror.py", "# bst's plugin; forge has its own\n")
        .file(
            "elements/mirror.bst",
            "kind: import\nsources:\n- kind: ostree_mirror\n  url: flat:repo\n  gpg: keys/flat.gpg\n  match: '*/x86_64/*'\n",
        )
        .build();
    fs::create_dir_all(p.root.join("keys")).unwrap();
    fs::write(p.root.join("keys/flat.gpg"), gpg(&signer, &["--export"])).unwrap();

    p.forge(&["track", "mirror.bst"]).ok();
    let element = fs::read_to_string(p.root.join("elements/mirror.bst")).unwrap();
    for (branch, commit) in &commits[..2] {
        assert!(element.contains(&format!("ref: {branch}")), "{element}");
        assert!(element.contains(&format!("checksum: {commit}")), "{element}");
    }
    assert!(!element.contains("other/x"), "not matched: {element}");
    p.forge(&["build", "mirror.bst"]).ok();
    let out = p.outside().join("out");
    p.forge(&["checkout", "mirror.bst", out.to_str().unwrap()]).ok();
    // A repository OSTree itself reads: every object sound, the refs there.
    ostree(&out, &["fsck"]);
    let refs = ostree(&out, &["refs"]);
    let mut refs: Vec<&str> = refs.lines().collect();
    refs.sort();
    assert_eq!(refs, vec![commits[0].0, commits[1].0]);
    let checked_out = work.path().join("checked-out");
    ostree(
        &out,
        &[
            "checkout",
            "--user-mode",
            commits[1].0,
            &checked_out.display().to_string(),
        ],
    );
    assert_eq!(
        fs::read_to_string(checked_out.join("hello.txt")).unwrap(),
        format!("hello from {}\n", commits[1].0)
    );

    // Signed by another key: refused.
    let other = work.path().join("other");
    new_key(&other, "other");
    fs::write(p.root.join("keys/flat.gpg"), gpg(&other, &["--export"])).unwrap();
    let fresh = p.outside().join("fresh-cache");
    let err = p
        .forge(&["--cache-dir", fresh.to_str().unwrap(), "fetch", "mirror.bst"])
        .fails(4);
    assert!(err.contains("no signature by gpg-key"), "{err}");
}

#[test]
fn a_branch_only_the_summary_names_is_tracked_from_it() {
    let work = tempfile::tempdir().unwrap();
    let (tree, repo) = (work.path().join("tree"), work.path().join("repo"));
    write_tree(&tree);
    let commit = make_repo(&repo, &tree);
    ostree(&repo, &["summary", "-u"]);
    fs::remove_dir_all(repo.join("refs/heads")).unwrap();
    let server = Server::start();
    serve(&server, &repo);
    let p = project(&conf(&server)).file("elements/t.bst", ELEMENT).build();
    p.forge(&["track", "t.bst"]).ok();
    let element = fs::read_to_string(p.root.join("elements/t.bst")).unwrap();
    assert!(element.contains(&format!("ref: {commit}")), "{element}");
    p.write("elements/t.bst", &ELEMENT.replace("track: main", "track: gone"));
    let err = p.forge(&["track", "t.bst"]).fails(4);
    assert!(
        err.contains("has no branch gone (not in refs/heads, nor in its summary)"),
        "{err}"
    );
}
