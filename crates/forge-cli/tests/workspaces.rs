//! `forge workspace`: an element's sources opened in a directory, built
//! from there while the workspace is open.

mod support;

use std::fs;
use std::path::Path;

use support::base::link_base_into;
use support::git::git;
use support::{CONF, project};

const BASE: &str = "kind: import\nsources:\n- kind: local\n  path: files/base\n";

/// A repository with the greeting, pinned at its first commit.
fn upstream(dir: &Path) -> String {
    fs::create_dir_all(dir.join("doc")).unwrap();
    git(dir, &["init", "-q"]);
    fs::write(dir.join("greeting"), "hello, world\n").unwrap();
    fs::write(dir.join("doc/README"), "the greeting\n").unwrap();
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "first"]);
    git(dir, &["rev-parse", "HEAD"])
}

fn hello(url: &str, commit: &str) -> String {
    format!(
        "kind: manual
build-depends:
- base.bst
sources:
- kind: git
  url: {url}
  track: main
  ref: {commit}
config:
  install-commands:
  - mkdir -p %{{install-root}}%{{bindir}} %{{install-root}}%{{datadir}}
  - cp greeting %{{install-root}}%{{datadir}}/greeting
  - printf '#!/bin/sh\\ncat %{{datadir}}/greeting\\n' > %{{install-root}}%{{bindir}}/hello
  - chmod 755 %{{install-root}}%{{bindir}}/hello
"
    )
}

fn hello_project() -> support::TestProject {
    hello_project_with_pin().0
}

/// The project, its upstream's URL and the pinned commit.
fn hello_project_with_pin() -> (support::TestProject, String, String) {
    let p = project(CONF)
        .file("elements/base.bst", BASE)
        .file("elements/app.bst", "kind: stack\ndepends:\n- base.bst\n- hello.bst\n")
        .build();
    link_base_into(&p.root.join("files/base"));
    let repo = p.outside().join("upstream");
    let commit = upstream(&repo);
    let url = format!("file://{}", repo.display());
    p.write("elements/hello.bst", &hello(&url, &commit));
    (p, url, commit)
}

#[test]
fn an_open_workspace_is_built_from_its_directory_until_it_is_closed() {
    let (p, url, commit) = hello_project_with_pin();
    let pinned = p.key("hello.bst");
    let app_pinned = p.key("app.bst");

    // Opening fetches the pinned sources and stages them as a build would.
    let run = p.forge(&["workspace", "open", "hello.bst"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let dir = p.root.join("hello");
    assert!(
        run.stderr
            .contains(&format!("opened a workspace for hello.bst at {}", dir.display())),
        "{}",
        run.stderr
    );
    assert_eq!(fs::read_to_string(dir.join("greeting")).unwrap(), "hello, world\n");
    assert_eq!(fs::read_to_string(dir.join("doc/README")).unwrap(), "the greeting\n");
    // A git source comes as a clone at the pinned commit, as in bst.
    assert_eq!(git(&dir, &["status", "--porcelain"]), "", "clean at the pin");
    assert_eq!(git(&dir, &["rev-parse", "HEAD"]), commit);
    assert_eq!(git(&dir, &["remote", "get-url", "origin"]), url);
    assert_eq!(git(&dir, &["rev-parse", "origin/main"]), commit);
    assert_eq!(
        p.forge(&["workspace", "list"]).ok(),
        format!(
            "workspaces:\n- element: \"hello.bst\"\n  directory: \"{}\"\n",
            dir.display()
        )
    );
    assert_eq!(
        p.show(
            "%{name} %{workspaced} %{workspace-dirs}",
            &["--deps", "none", "hello.bst"]
        ),
        format!("hello.bst (workspaced) Workspace: {}\n", dir.display())
    );
    assert_eq!(
        p.show("%{workspaced}|%{workspace-dirs}", &["--deps", "none", "base.bst"]),
        "|\n"
    );

    // The key follows the directory's content, and what depends on it.
    let opened = p.key("hello.bst");
    assert_ne!(opened, pinned);
    fs::write(dir.join("greeting"), "hello, workspace\n").unwrap();
    let edited = p.key("hello.bst");
    assert_ne!(edited, opened);
    // Its repository is the developer's, never the build's.
    assert!(git(&dir, &["diff"]).contains("+hello, workspace"));
    git(
        &dir,
        &["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "edit"],
    );
    assert_eq!(p.key("hello.bst"), edited, "a commit changes no file of the build");
    assert_ne!(p.key("app.bst"), app_pinned);

    p.forge(&["build", "app.bst"]).ok();
    let run = p.forge(&["shell", "app.bst", "--", "hello"]);
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, "hello, workspace\n"),
        "{}",
        run.stderr
    );

    // Tracking still tracks the pins of the file, and says they wait.
    let run = p.forge(&["track", "hello.bst"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("hello.bst has an open workspace: builds use its new pins once it is closed"),
        "{}",
        run.stderr
    );

    // Opened twice: refused, and nothing changes.
    let err = p.forge(&["workspace", "open", "hello.bst"]).fails(2);
    assert!(err.contains("hello.bst already has an open workspace at"), "{err}");
    assert_eq!(fs::read_to_string(dir.join("greeting")).unwrap(), "hello, workspace\n");

    // Reset puts the pinned sources back: the key of the opened sources.
    let run = p.forge(&["workspace", "reset", "hello.bst"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(fs::read_to_string(dir.join("greeting")).unwrap(), "hello, world\n");
    assert_eq!(p.key("hello.bst"), opened);
    let run = p.forge(&["workspace", "reset", "--soft", "hello.bst"]);
    assert!(
        run.stderr.contains("hello.bst has no configured build to reset"),
        "no configure-commands ran: {}",
        run.stderr
    );

    // Closed: the pins again, the directory kept unless asked.
    p.forge(&["workspace", "close", "hello.bst"]).ok();
    assert_eq!(p.key("hello.bst"), pinned);
    assert_eq!(p.key("app.bst"), app_pinned);
    assert!(dir.join("greeting").is_file());
    assert_eq!(p.forge(&["workspace", "list"]).ok(), "workspaces: []\n");
    p.forge(&["workspace", "open", "--force", "hello.bst"]).ok();
    p.forge(&["workspace", "close", "--remove-dir", "--all"]).ok();
    assert!(!dir.exists());
    assert_eq!(p.key("hello.bst"), pinned);
}

#[test]
fn workspaces_that_cannot_be_are_refused_before_anything_changes() {
    let p = hello_project();
    // No sources: nothing to edit.
    let err = p.forge(&["workspace", "open", "app.bst"]).fails(2);
    assert!(
        err.contains("app.bst cannot have a workspace: it has no sources"),
        "{err}"
    );
    // A directory with something in it.
    let busy = p.outside().join("busy");
    fs::create_dir_all(&busy).unwrap();
    fs::write(busy.join("mine"), "keep me").unwrap();
    let err = p
        .forge(&["workspace", "open", "--dir", busy.to_str().unwrap(), "hello.bst"])
        .fails(2);
    assert!(err.contains("is not empty; --force empties it"), "{err}");
    assert_eq!(fs::read_to_string(busy.join("mine")).unwrap(), "keep me");
    // bst's spelling of the directory is forge's -C: named.
    let err = p
        .forge(&["workspace", "open", "--directory", busy.to_str().unwrap(), "hello.bst"])
        .fails(3);
    assert!(err.contains("takes the workspace's directory as --dir"), "{err}");
    // --dir with two elements.
    let err = p
        .forge(&["workspace", "open", "--dir", "x", "hello.bst", "base.bst"])
        .fails(2);
    assert!(err.contains("--dir takes exactly one element"), "{err}");
    // Used as it is: the element is built from what is there.
    let run = p.forge(&[
        "workspace",
        "open",
        "--no-checkout",
        "--dir",
        busy.to_str().unwrap(),
        "hello.bst",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(fs::read_to_string(busy.join("mine")).unwrap(), "keep me");
    let err = p.forge(&["build", "hello.bst"]).fails(5);
    assert!(
        err.contains("greeting"),
        "built from the directory, which has no greeting: {err}"
    );
    p.forge(&["workspace", "close", "hello.bst"]).ok();
    assert!(busy.join("mine").is_file(), "close keeps the directory");
    // Closing what is not open.
    let err = p.forge(&["workspace", "close", "hello.bst"]).fails(2);
    assert!(err.contains("hello.bst has no open workspace"), "{err}");
    assert!(!p.root.join("hello").exists());
    // bst's `workspacedir` of the user configuration is where they go.
    let conf = support::user_conf(&p, "forge.conf", "workspacedir: ws-root\n");
    p.forge(&["--config", &conf, "workspace", "open", "hello.bst"]).ok();
    assert!(p.root.join("ws-root/hello/greeting").is_file());
}

#[test]
fn workspace_state_that_does_not_hold_is_an_error_with_its_line() {
    let p = hello_project();
    p.write(
        "elements/sneaky.bst",
        "kind: import\nsources:\n- kind: workspace\n  path: /etc\n",
    );
    let err = p.forge(&["show", "sneaky.bst"]).fails(3);
    assert!(
        err.contains("elements/sneaky.bst:3") && err.contains("cannot be written in an element"),
        "{err}"
    );
    fs::remove_file(p.root.join("elements/sneaky.bst")).unwrap();

    p.write(
        ".forge/workspaces.yml",
        "format-version: 1\nworkspaces:\n  hello.bst:\n    dir: hello\n",
    );
    let err = p.forge(&["show", "hello.bst"]).fails(3);
    assert!(
        err.contains(".forge/workspaces.yml:4") && err.contains("has no path"),
        "{err}"
    );
    // A workspace whose directory went away: named, with what to do.
    p.write(
        ".forge/workspaces.yml",
        "format-version: 1\nworkspaces:\n  hello.bst:\n    path: gone\n",
    );
    let err = p.forge(&["show", "hello.bst"]).fails(3);
    assert!(
        err.contains(&format!(
            "the workspace directory {} cannot be read",
            p.root.join("gone").display()
        )),
        "{err}"
    );
    p.forge(&["workspace", "close", "hello.bst"]).ok();
    p.forge(&["show", "hello.bst"]).ok();
}

/// Upper-cases each `.in` whose `.out` is missing or older, counting what
/// configure and build did in logs that the artifact carries.
const GEN: &str = r#"kind: manual
build-depends:
- base.bst
sources:
- kind: local
  path: files/gen
config:
  configure-commands:
  - echo configured >> configure.log
  build-commands:
  - |
    for f in *.in; do
      o="${f%.in}.out"
      if [ ! -e "$o" ] || [ "$f" -nt "$o" ]; then
        echo "built $f" >> build.log
        tr a-z A-Z < "$f" > "$o"
      fi
    done
  install-commands:
  - mkdir -p %{install-root}/share
  - cp *.out configure.log build.log %{install-root}/share/
"#;

#[test]
fn a_workspace_builds_incrementally_and_configures_once() {
    let p = project(CONF)
        .file("elements/base.bst", BASE)
        .file("elements/gen.bst", GEN)
        .file("files/gen/a.in", "alpha\n")
        .file("files/gen/b.in", "beta\n")
        .build();
    link_base_into(&p.root.join("files/base"));
    let out = |name: &str| {
        let dir = p.outside().join(name);
        p.forge(&["checkout", "--deps", "none", "gen.bst", dir.to_str().unwrap()])
            .ok();
        let read = |f: &str| fs::read_to_string(dir.join("share").join(f)).unwrap();
        (read("configure.log"), read("build.log"), read("a.out"), read("b.out"))
    };
    p.forge(&["workspace", "open", "gen.bst"]).ok();
    p.forge(&["build", "gen.bst"]).ok();
    assert_eq!(
        out("first"),
        (
            "configured\n".into(),
            "built a.in\nbuilt b.in\n".into(),
            "ALPHA\n".into(),
            "BETA\n".into()
        )
    );

    // One source edited: only it is rebuilt, configure is not run again.
    std::thread::sleep(std::time::Duration::from_millis(20));
    fs::write(p.root.join("gen/b.in"), "beta, edited\n").unwrap();
    p.forge(&["build", "gen.bst"]).ok();
    assert_eq!(
        out("second"),
        (
            "configured\n".into(),
            "built a.in\nbuilt b.in\nbuilt b.in\n".into(),
            "ALPHA\n".into(),
            "BETA, EDITED\n".into()
        )
    );
    let log = p.forge(&["artifact", "log", "gen.bst"]).ok();
    assert!(
        log.contains("incremental build of the workspace") && log.contains("1 changes"),
        "{log}"
    );
    assert!(log.contains("# configure-commands: skipped"), "{log}");

    // reset --soft: configure again, on the kept build.
    let run = p.forge(&["workspace", "reset", "--soft", "gen.bst"]);
    assert!(
        run.stderr
            .contains("the next build of gen.bst runs its configure-commands again"),
        "{}",
        run.stderr
    );
    fs::write(p.root.join("gen/a.in"), "alpha, edited\n").unwrap();
    p.forge(&["build", "gen.bst"]).ok();
    let (configure, build, a, _) = out("third");
    assert_eq!(configure, "configured\nconfigured\n");
    assert_eq!(build, "built a.in\nbuilt b.in\nbuilt b.in\nbuilt a.in\n");
    assert_eq!(a, "ALPHA, EDITED\n");

    // --check builds afresh, and so finds what the incremental builds
    // left behind; a reset forgets the kept build.
    let err = p.forge(&["build", "--check", "gen.bst"]).fails(5);
    assert!(err.contains("gen.bst: share/build.log: differs"), "{err}");
    p.forge(&["workspace", "reset", "gen.bst"]).ok();
    p.forge(&["build", "gen.bst"]).ok();
    assert_eq!(
        out("fourth"),
        (
            "configured\n".into(),
            "built a.in\nbuilt b.in\n".into(),
            "ALPHA\n".into(),
            "BETA\n".into()
        )
    );
    // Closed: the kept build goes with it.
    p.forge(&["workspace", "close", "gen.bst"]).ok();
    let kept = p.outside().join("cache/workspace-builds");
    assert_eq!(fs::read_dir(&kept).map(|d| d.count()).unwrap_or(0), 0);
}

#[test]
fn forge_run_inside_a_workspace_finds_its_project_and_builds_its_element() {
    let p = hello_project();
    let ws = p.outside().join("elsewhere/hello-ws");
    p.forge(&["workspace", "open", "--dir", ws.to_str().unwrap(), "hello.bst"])
        .ok();
    let marker = ws.join(".forgeproject.yaml");
    assert!(
        fs::read_to_string(&marker)
            .unwrap()
            .contains("element-name: \"hello.bst\""),
        "bst's .bstproject.yaml layout"
    );
    // No project.conf above it: the marker names the project, and with no
    // target the workspace's element is the one meant.
    let sub = ws.join("doc");
    assert_eq!(
        p.forge_in(&sub, &["show", "--deps", "none", "--format", "%{name}"])
            .ok(),
        "hello.bst\n"
    );
    let run = p.forge_in(&ws, &["build"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("2 built"), "{}", run.stderr);
    // The marker is the developer's, not the build's.
    let key = p.key("hello.bst");
    fs::remove_file(&marker).unwrap();
    assert_eq!(p.key("hello.bst"), key);
    p.forge(&["workspace", "reset", "hello.bst"]).ok();
    assert!(marker.is_file(), "written again by reset");
    p.forge(&["workspace", "close", "hello.bst"]).ok();
    assert!(!marker.exists() && ws.join("greeting").is_file());
}
