//! Remote execution on a real REAPI server: buildbox-casd on 127.0.0.1
//! with its bundled runner (buildbox-run, bubblewrap) executes the build
//! elements' commands; the artifact is the one a local build makes.

mod support;

use std::fs;
use std::path::{Path, PathBuf};

use support::base::link_base_into;
use support::casd::Casd;
use support::{CONF, listing, project, user_conf};

const BASE: &str = "kind: import\nsources:\n- kind: local\n  path: files/base\n";

/// A base with integration commands, a library built on it, and an
/// element whose build uses the library, the integration's output and a
/// `command-subdir`.
fn remote_project() -> support::TestProject {
    let p = project(CONF)
        .file("elements/base.bst", BASE)
        .file(
            "elements/runtime.bst",
            "kind: stack\ndepends:\n- base.bst\npublic:\n  bst:\n    integration-commands:\n    - mkdir -p /etc && echo \"$INTEGRATED_BY\" > /etc/integrated\nenvironment:\n  INTEGRATED_BY: runtime\n",
        )
        .file("files/lib/words", "one two three\n")
        .file(
            "elements/lib.bst",
            "kind: manual\nbuild-depends:\n- base.bst\nsources:\n- kind: local\n  path: files/lib\nconfig:\n  install-commands:\n  - mkdir -p %{install-root}/usr/share/lib\n  - tr a-z A-Z < words > %{install-root}/usr/share/lib/words\n",
        )
        .file("files/app/src/greeting", "hello from the executor\n")
        .file(
            "elements/app.bst",
            "kind: manual\nbuild-depends:\n- runtime.bst\n- lib.bst\nsources:\n- kind: local\n  path: files/app\nvariables:\n  command-subdir: src\nconfig:\n  build-commands:\n  - cat greeting /usr/share/lib/words /etc/integrated > combined\n  install-commands:\n  - mkdir -p %{install-root}/usr/share/app\n  - cp combined %{install-root}/usr/share/app/combined\n  - printf '#!/bin/sh\\necho hi\\n' > %{install-root}/usr/share/app/run\n  - chmod 755 %{install-root}/usr/share/app/run\n  - ln -s combined %{install-root}/usr/share/app/link\n",
        )
        .file(
            "elements/report.bst",
            "kind: script\nbuild-depends:\n- runtime.bst\n- lib.bst\nconfig:\n  commands:\n  - mkdir -p %{install-root}/out\n  - cat /usr/share/lib/words /etc/integrated > %{install-root}/out/report\n  - pwd > %{install-root}/out/cwd\n",
        )
        .file(
            "elements/broken.bst",
            "kind: manual\nbuild-depends:\n- base.bst\nconfig:\n  build-commands:\n  - echo about to fail\n  - echo the reason >&2; exit 3\n  install-commands:\n  - mkdir -p %{install-root}/never\n",
        )
        .build();
    link_base_into(&p.root.join("files/base"));
    p
}

/// buildbox-run, beside buildbox-casd.
fn runner() -> PathBuf {
    support::casd::binary().parent().unwrap().join("buildbox-run")
}

fn execution_config(p: &support::TestProject, url: &str) -> String {
    user_conf(
        p,
        "forge.conf",
        &format!(
            "remote-execution:\n  execution-service:\n    url: {url}\n  storage-service:\n    url: {url}\n  action-cache-service:\n    url: {url}\n"
        ),
    )
}

/// The build log of `element` (its artifact name) in cache directory `cache`.
fn build_log(cache: &str, element: &str) -> String {
    let logs = Path::new(cache).join("logs/test").join(element);
    let log = fs::read_dir(&logs).unwrap().flatten().next().unwrap().path();
    fs::read_to_string(log).unwrap()
}

/// forge with the options `prefix` (a configuration, a cache), then `args`.
fn forge_with(p: &support::TestProject, prefix: &[&str], args: &[&str]) -> support::Run {
    p.forge(&[prefix, args].concat())
}

fn checkout(p: &support::TestProject, args: &[&str], target: &str, name: &str) -> Vec<String> {
    let out = p.outside().join(name);
    forge_with(p, args, &["checkout", "--deps", "none", target, out.to_str().unwrap()]).ok();
    listing(&out)
}

#[test]
fn build_elements_run_on_the_executor_and_make_the_artifact_a_local_build_makes() {
    let p = remote_project();
    let server = Casd::start_executing(&p.outside().join("casd"), &runner());
    let conf = execution_config(&p, &server.url());
    let remote_cache = p.outside().join("remote-cache").display().to_string();
    let remote = ["--config", conf.as_str(), "--cache-dir", remote_cache.as_str()];

    let run = forge_with(&p, &remote, &["build", "app.bst"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr
            .contains(&format!("build and script elements run on {}\n", server.url())),
        "{}",
        run.stderr
    );
    let log = build_log(&remote_cache, "app");
    assert!(log.contains(&format!("# executed on {}", server.url())), "{log}");
    assert!(log.contains("# build-commands: cat greeting"), "{log}");

    // The same project built here: the same artifact, file for file.
    let local_cache = p.outside().join("local-cache").display().to_string();
    p.forge(&["--cache-dir", local_cache.as_str(), "build", "app.bst"]).ok();
    let remote_tree = checkout(&p, &remote, "app.bst", "remote-out");
    let local_tree = checkout(&p, &["--cache-dir", local_cache.as_str()], "app.bst", "local-out");
    assert_eq!(remote_tree, local_tree);
    assert!(
        remote_tree.iter().any(|l| l.starts_with("usr/share/app/run 755")),
        "{remote_tree:?}"
    );
    assert!(remote_tree.contains(&"usr/share/app/link -> combined".to_string()));
    let combined = fs::read_to_string(p.outside().join("remote-out/usr/share/app/combined")).unwrap();
    assert_eq!(combined, "hello from the executor\nONE TWO THREE\nruntime\n");

    // A fresh cache: the executor's action cache answers, nothing runs.
    let fresh = p.outside().join("fresh-cache").display().to_string();
    p.forge(&[
        "--config",
        conf.as_str(),
        "--cache-dir",
        fresh.as_str(),
        "build",
        "app.bst",
    ])
    .ok();
    let log = build_log(&fresh, "app");
    assert!(log.contains("# result cached on"), "{log}");
    assert_eq!(
        checkout(&p, &["--cache-dir", fresh.as_str()], "app.bst", "fresh-out"),
        local_tree
    );

    // --check runs it again on the executor: a cached result proves nothing.
    let run = p.forge(&[
        "--config",
        conf.as_str(),
        "--cache-dir",
        fresh.as_str(),
        "build",
        "--check",
        "app.bst",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("app.bst is reproducible"), "{}", run.stderr);
    let log = build_log(&fresh, "app");
    assert!(log.contains("# executed on"), "{log}");
}

#[test]
fn a_command_that_fails_on_the_executor_is_named_with_its_status_and_output() {
    let p = remote_project();
    let server = Casd::start_executing(&p.outside().join("casd"), &runner());
    let conf = execution_config(&p, &server.url());
    let out = p.forge(&["--config", conf.as_str(), "build", "broken.bst"]).fails(5);
    assert!(
        out.contains(&format!(
            "command failed with exit status 3 on {}: build-commands: echo the reason >&2; exit 3",
            server.url()
        )),
        "{out}"
    );
    // The log holds what the command printed.
    assert!(out.contains("the reason"), "{out}");
}

#[test]
fn an_executor_that_does_not_answer_leaves_the_builds_to_this_machine() {
    let p = remote_project();
    let port = support::server::free_port();
    let conf = execution_config(&p, &format!("http://127.0.0.1:{port}"));
    let run = p.forge(&["--config", conf.as_str(), "build", "lib.bst"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("warning: remote execution: cache server http://127.0.0.1:"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("building here instead"), "{}", run.stderr);
    // Nothing to build: the executor is not asked, nothing is said of it.
    let run = p.forge(&["--config", conf.as_str(), "build", "lib.bst"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!run.stderr.contains("remote execution"), "{}", run.stderr);

    // A server that stores but does not execute is refused as an executor.
    let storage_only = Casd::start(&p.outside().join("casd-plain"));
    let conf = execution_config(&p, &storage_only.url());
    let run = p.forge(&["--config", conf.as_str(), "build", "app.bst"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("does not execute actions"), "{}", run.stderr);
}

#[test]
fn remote_execution_configuration_errors_name_the_line() {
    let p = remote_project();
    let conf = user_conf(
        &p,
        "bad.conf",
        "remote-execution:\n  storage-service:\n    url: http://127.0.0.1:1\n",
    );
    let out = p.forge(&["--config", conf.as_str(), "build", "lib.bst"]).fails(3);
    assert!(out.contains("bad.conf:2"), "{out}");
    assert!(out.contains("has no 'execution-service'"), "{out}");
    let conf = user_conf(
        &p,
        "typo.conf",
        "remote-execution:\n  execution-service:\n    url: http://127.0.0.1:1\n    push: true\n",
    );
    let out = p.forge(&["--config", conf.as_str(), "build", "lib.bst"]).fails(3);
    assert!(out.contains("typo.conf:4"), "{out}");
}

#[test]
fn script_elements_run_on_the_executor_too() {
    let p = remote_project();
    let server = Casd::start_executing(&p.outside().join("casd"), &runner());
    let conf = execution_config(&p, &server.url());
    let remote_cache = p.outside().join("remote-cache").display().to_string();
    let remote = ["--config", conf.as_str(), "--cache-dir", remote_cache.as_str()];
    forge_with(&p, &remote, &["build", "report.bst"]).ok();
    let log = build_log(&remote_cache, "report");
    assert!(log.contains(&format!("# executed on {}", server.url())), "{log}");
    assert!(log.contains("# integration of runtime.bst:"), "{log}");
    assert!(log.contains("# mkdir -p /buildstream-install/out"), "{log}");

    let local_cache = p.outside().join("local-cache").display().to_string();
    p.forge(&["--cache-dir", local_cache.as_str(), "build", "report.bst"])
        .ok();
    let remote_tree = checkout(&p, &remote, "report.bst", "remote-out");
    assert_eq!(
        remote_tree,
        checkout(&p, &["--cache-dir", local_cache.as_str()], "report.bst", "local-out")
    );
    let out = p.outside().join("remote-out/out");
    assert_eq!(
        fs::read_to_string(out.join("report")).unwrap(),
        "ONE TWO THREE\nruntime\n"
    );
    assert_eq!(fs::read_to_string(out.join("cwd")).unwrap(), "/\n");
}

/// Whether a process with exactly these arguments runs.
fn running(args: &str) -> bool {
    let ps = std::process::Command::new("ps").args(["-eo", "args"]).output().unwrap();
    String::from_utf8_lossy(&ps.stdout).lines().any(|l| l.trim() == args)
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !done() {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(60),
            "timed out waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn an_interrupted_build_cancels_its_remote_action() {
    let p = remote_project();
    p.write(
        "elements/slow.bst",
        "kind: manual\nbuild-depends:\n- base.bst\nconfig:\n  build-commands:\n  - sleep 317\n",
    );
    let server = Casd::start_executing(&p.outside().join("casd"), &runner());
    let conf = execution_config(&p, &server.url());
    let mut forge = p
        .process(&p.outside().join("cache"))
        .args(["--config", conf.as_str(), "build", "slow.bst"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_for("the action to start on the executor", || running("sleep 317"));
    // SAFETY: signalling a child this test started.
    unsafe { libc::kill(forge.id() as i32, libc::SIGINT) };
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(status) = forge.try_wait().unwrap() {
            break status;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(30),
            "forge did not stop"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(forge.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted: 1 remote action cancelled"), "{stderr}");
    wait_for("the executor to stop the action", || !running("sleep 317"));
}

#[test]
fn buildgrid_executes_build_and_script_elements_as_casd_does() {
    let p = remote_project();
    let server = support::buildgrid::BuildGridExecution::start(&p.outside().join("bgd"));
    let conf = user_conf(
        &p,
        "bgd.conf",
        &format!("remote-execution:\n  execution-service:\n    url: {}\n", server.url()),
    );
    let remote_cache = p.outside().join("remote-cache").display().to_string();
    let remote = ["--config", conf.as_str(), "--cache-dir", remote_cache.as_str()];
    let run = forge_with(&p, &remote, &["build", "app.bst", "report.bst"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let log = build_log(&remote_cache, "app");
    assert!(log.contains(&format!("# executed on {}", server.url())), "{log}");

    let local_cache = p.outside().join("local-cache").display().to_string();
    p.forge(&["--cache-dir", local_cache.as_str(), "build", "app.bst", "report.bst"])
        .ok();
    for element in ["app.bst", "report.bst"] {
        let name = element.trim_end_matches(".bst");
        assert_eq!(
            checkout(&p, &remote, element, &format!("{name}-remote")),
            checkout(
                &p,
                &["--cache-dir", local_cache.as_str()],
                element,
                &format!("{name}-local")
            ),
            "{element}: the same artifact as a local build"
        );
    }
    // A failing command is named with its status, as with casd.
    let err = forge_with(&p, &remote, &["build", "broken.bst"]).fails(5);
    assert!(err.contains("command failed with exit status 3"), "{err}");
}
