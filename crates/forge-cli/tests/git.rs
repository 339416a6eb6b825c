//! git sources against repositories made by the test (`file://`).

mod support;

use std::fs;
use std::path::Path;

use support::git::git;
use support::{CONF, project};

/// A repository with one commit on `main`.
fn upstream(dir: &Path) -> String {
    fs::create_dir_all(dir).unwrap();
    git(dir, &["init", "-q"]);
    fs::write(dir.join("README"), "v1\n").unwrap();
    fs::write(dir.join("run.sh"), "#!/bin/sh\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(dir.join("run.sh"), fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::symlink("README", dir.join("link")).unwrap();
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "first"]);
    git(dir, &["rev-parse", "HEAD"])
}

fn commit(dir: &Path, file: &str, text: &str) -> String {
    fs::write(dir.join(file), text).unwrap();
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", text]);
    git(dir, &["rev-parse", "HEAD"])
}

fn element(url: &str, extra: &str) -> String {
    format!("kind: import\nsources:\n# upstream repository\n- kind: git\n  url: {url}\n  track: main\n{extra}")
}

#[test]
fn track_fetch_and_stage_the_exact_commit() {
    let p = project(CONF).build();
    let repo = p.outside().join("upstream");
    let first = upstream(&repo);
    let url = format!("file://{}", repo.display());
    p.write("elements/repo.bst", &element(&url, ""));
    assert_eq!(p.show("%{state}", &["repo.bst"]), "no reference\n");

    let run = p.forge(&["track", "repo.bst"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains(&format!("(none) → {}", &first[..12])),
        "{}",
        run.stdout
    );
    assert_eq!(
        fs::read_to_string(p.root.join("elements/repo.bst")).unwrap(),
        element(&url, "").replace("- kind: git\n", &format!("- kind: git\n  ref: {first}\n"))
    );
    assert_eq!(
        p.show("%{state}", &["repo.bst"]),
        "buildable\n",
        "tracking filled the mirror"
    );

    // A new commit upstream does not change what is staged until tracked.
    let second = commit(&repo, "README", "v2\n");
    let out = p.outside().join("out1");
    p.forge(&["source", "checkout", "repo.bst", out.to_str().unwrap()]).ok();
    assert_eq!(fs::read_to_string(out.join("README")).unwrap(), "v1\n");
    assert!(!out.join(".git").exists());
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        fs::metadata(out.join("run.sh")).unwrap().permissions().mode() & 0o777,
        0o755
    );
    assert_eq!(fs::read_link(out.join("link")).unwrap(), Path::new("README"));

    let run = p.forge(&["track", "repo.bst"]);
    assert!(
        run.stdout
            .contains(&format!("{} → {} (1 commit ahead)", &first[..12], &second[..12])),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(&format!("\n  commit {} v2\n", &second[..12])),
        "the range is listed: {}",
        run.stdout
    );
    let out = p.outside().join("out2");
    p.forge(&["source", "checkout", "repo.bst", out.to_str().unwrap()]).ok();
    assert_eq!(fs::read_to_string(out.join("README")).unwrap(), "v2\n");

    // Each commit of the move, newest first; subjects reach the terminal
    // escaped.
    let third = commit(&repo, "README", "v3\n");
    let fourth = commit(&repo, "NOTES", "v4 \x1b[2Jcleared\n");
    let run = p.forge(&["track", "repo.bst"]);
    let listed: Vec<&str> = run.stdout.lines().filter(|l| l.starts_with("  commit ")).collect();
    assert_eq!(listed.len(), 2, "{}", run.stdout);
    assert!(
        listed[0].starts_with(&format!("  commit {} v4 ", &fourth[..12])),
        "{}",
        run.stdout
    );
    assert_eq!(listed[1], format!("  commit {} v3", &third[..12]));
    assert!(!run.stdout.contains('\x1b'), "{}", run.stdout);
}

#[test]
fn a_force_push_is_a_warning() {
    let p = project(CONF).build();
    let repo = p.outside().join("upstream");
    upstream(&repo);
    let old = commit(&repo, "README", "to be rewritten\n");
    let url = format!("file://{}", repo.display());
    p.write("elements/repo.bst", &element(&url, &format!("  ref: {old}\n")));
    p.forge(&["fetch", "repo.bst"]).ok();
    git(&repo, &["reset", "-q", "--hard", "HEAD~1"]);
    let new = commit(&repo, "README", "rewritten\n");
    let run = p.forge(&["track", "repo.bst"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .contains(&format!("{} → {} (1 ahead, 1 behind)", &old[..12], &new[..12])),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr.contains(&format!(
            "warning: repo.bst: source 1 (git {url}): the old commit {old} is not an ancestor"
        )),
        "{}",
        run.stderr
    );
}

#[test]
fn describe_refs_pin_the_same_commit() {
    let p = project(CONF).build();
    let repo = p.outside().join("upstream");
    upstream(&repo);
    git(&repo, &["tag", "-a", "v1.0", "-m", "release"]);
    let head = commit(&repo, "README", "after the tag\n");
    let url = format!("file://{}", repo.display());
    p.write("elements/repo.bst", &element(&url, "  ref-format: git-describe\n"));
    p.forge(&["track", "repo.bst"]).ok();
    let text = fs::read_to_string(p.root.join("elements/repo.bst")).unwrap();
    assert!(text.contains(&format!("  ref: v1.0-1-g{head}\n")), "{text}");
    let describe_key = p.key("repo.bst");
    p.write("elements/repo.bst", &element(&url, &format!("  ref: {head}\n")));
    assert_eq!(
        p.key("repo.bst"),
        describe_key,
        "the describe prefix is not part of the key"
    );
}

#[test]
fn commits_off_the_tracked_branch_fetch_and_missing_ones_fail() {
    let p = project(CONF).build();
    let repo = p.outside().join("upstream");
    upstream(&repo);
    git(&repo, &["checkout", "-q", "-b", "feature"]);
    let feature = commit(&repo, "FEATURE", "on a branch\n");
    git(&repo, &["checkout", "-q", "main"]);
    let url = format!("file://{}", repo.display());
    p.write("elements/repo.bst", &element(&url, &format!("  ref: {feature}\n")));
    let run = p.forge(&["fetch", "repo.bst"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr
            .contains(&format!("ref-not-in-track: commit {feature} is not on 'main'")),
        "{}",
        run.stderr
    );
    let out = p.outside().join("out");
    p.forge(&["source", "checkout", "repo.bst", out.to_str().unwrap()]).ok();
    assert_eq!(fs::read_to_string(out.join("FEATURE")).unwrap(), "on a branch\n");

    let missing = "0123456789abcdef0123456789abcdef01234567";
    p.write("elements/repo.bst", &element(&url, &format!("  ref: {missing}\n")));
    let err = p.forge(&["fetch", "repo.bst"]).fails(4);
    assert!(err.contains(&format!("{url}: does not have commit {missing}")), "{err}");
}

#[test]
fn submodules_follow_gitmodules_at_the_commit() {
    let p = project(CONF).build();
    let sub = p.outside().join("sub");
    fs::create_dir_all(&sub).unwrap();
    git(&sub, &["init", "-q"]);
    commit(&sub, "lib.txt", "library\n");
    let repo = p.outside().join("upstream");
    upstream(&repo);
    git(
        &repo,
        &[
            "submodule",
            "add",
            "-q",
            &format!("file://{}", sub.display()),
            "vendor/lib",
        ],
    );
    git(&repo, &["commit", "-q", "-m", "add submodule"]);
    let url = format!("file://{}", repo.display());
    p.write("elements/repo.bst", &element(&url, ""));
    p.forge(&["track", "repo.bst"]).ok();
    // New submodule commits upstream do not matter: the gitlink pins them.
    commit(&sub, "lib.txt", "library v2\n");
    p.forge(&["fetch", "repo.bst"]).ok();
    let out = p.outside().join("out");
    p.forge(&["source", "checkout", "repo.bst", out.to_str().unwrap()]).ok();
    assert_eq!(fs::read_to_string(out.join("vendor/lib/lib.txt")).unwrap(), "library\n");

    let text = fs::read_to_string(p.root.join("elements/repo.bst")).unwrap();
    p.write("elements/repo.bst", &format!("{text}  checkout-submodules: false\n"));
    let out = p.outside().join("out-nosub");
    p.forge(&["source", "checkout", "repo.bst", out.to_str().unwrap()]).ok();
    assert!(out.join("vendor/lib").is_dir());
    assert!(!out.join("vendor/lib/lib.txt").exists());
}
