//! Offline builds in the sandbox: kinds, caching, containment,
//! reproducibility, cache integrity.

mod support;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::process::Command;

use support::base::link_base_into;
use support::{CONF, project};

const BASE: &str = "kind: import\ndescription: a shell, coreutils and python3 from the test machine\nsources:\n- kind: local\n  path: files/base\n";

fn with_base(builder: support::ProjectBuilder) -> support::TestProject {
    let p = builder.file("elements/base.bst", BASE).build();
    link_base_into(&p.root.join("files/base"));
    p
}

const HELLO: &str = "kind: manual
build-depends:
- base.bst
sources:
- kind: local
  path: files/hello
config:
  build-commands:
  - test -f greeting
  install-commands:
  - mkdir -p %{install-root}%{bindir} %{install-root}%{datadir}/hello
  - cp greeting %{install-root}%{datadir}/hello/greeting
  - printf '#!/bin/sh\\ncat %{datadir}/hello/greeting\\n' > %{install-root}%{bindir}/hello
  - chmod 755 %{install-root}%{bindir}/hello
public:
  bst:
    integration-commands:
    - mkdir -p /var/log && echo integrated >> /var/log/hello-integration
";

fn hello_project() -> support::TestProject {
    with_base(
        project(CONF)
            .file("files/hello/greeting", "hello, world\n")
            .file("elements/hello.bst", HELLO)
            .file("elements/app.bst", "kind: stack\ndepends:\n- hello.bst\n- base.bst\n"),
    )
}

#[test]
fn builds_check_out_and_rebuild_nothing() {
    let p = hello_project();
    assert_eq!(
        p.show("%{name}:%{state}", &["app.bst"]),
        "base.bst:buildable\nhello.bst:waiting\napp.bst:waiting\n"
    );
    let run = p.forge(&["build", "app.bst"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("build: 3 built, 0 cached, 0 failed"),
        "{}",
        run.stderr
    );
    assert_eq!(
        p.show("%{name}:%{state}", &["app.bst"]),
        "base.bst:cached\nhello.bst:cached\napp.bst:cached\n"
    );

    let run = p.forge(&["build", "app.bst"]);
    assert!(run.stderr.contains("build: 0 built, 3 cached"), "{}", run.stderr);

    let out = p.outside().join("out");
    p.forge(&["checkout", "app.bst", out.to_str().unwrap()]).ok();
    assert_eq!(
        fs::read_to_string(out.join("usr/share/hello/greeting")).unwrap(),
        "hello, world\n"
    );
    assert_eq!(fs::metadata(out.join("usr/bin/hello")).unwrap().mode() & 0o777, 0o755);
    assert_eq!(
        fs::metadata(out.join("usr/share/hello/greeting")).unwrap().mtime(),
        1_321_009_871
    );
    assert_eq!(
        fs::read_to_string(out.join("var/log/hello-integration")).unwrap(),
        "integrated\n",
        "checkout integrates"
    );
    assert!(!out.join("dev").exists() && !out.join("proc").exists());

    let a = p.outside().join("a.tar");
    let b = p.outside().join("b.tar");
    p.forge(&[
        "checkout",
        "hello.bst",
        "--deps",
        "none",
        "--no-integrate",
        "--tar",
        a.to_str().unwrap(),
    ])
    .ok();
    p.forge(&[
        "checkout",
        "hello.bst",
        "--deps",
        "none",
        "--no-integrate",
        "--tar",
        b.to_str().unwrap(),
    ])
    .ok();
    let err = p
        .forge(&[
            "checkout",
            "hello.bst",
            "--deps",
            "none",
            p.outside().join("no-shell").to_str().unwrap(),
        ])
        .fails(5);
    assert!(err.contains("integration commands of hello.bst need a shell"), "{err}");
    assert_eq!(fs::read(&a).unwrap(), fs::read(&b).unwrap());

    let log = p.forge(&["artifact", "log", "hello.bst"]).ok();
    assert!(
        log.contains("# install-commands: chmod 755 /buildstream-install/usr/bin/hello"),
        "{log}"
    );
    let list = p.forge(&["artifact", "list"]).ok();
    assert_eq!(
        list.lines()
            .filter(|l| l.trim_start().starts_with("cached test/"))
            .count(),
        3,
        "{list}"
    );
}

#[test]
fn the_not_built_hint_builds_the_target_with_the_same_options() {
    let p = hello_project();
    p.write(
        "project.conf",
        &format!("{CONF}options:\n  flavour:\n    type: enum\n    description: a flavour\n    values: [plain, spicy]\n    default: plain\n"),
    );
    p.forge(&["-o", "flavour", "spicy", "build", "base.bst"]).ok();
    let out = p.outside().join("out");
    let err = p
        .forge(&["-o", "flavour", "spicy", "checkout", "app.bst", out.to_str().unwrap()])
        .fails(5);
    assert!(
        err.contains("hello.bst (needed by app.bst) is not built; run `forge -o flavour spicy build app.bst`"),
        "{err}"
    );
}

#[test]
fn shell_runs_in_the_runtime_closure_and_passes_the_status() {
    let p = hello_project();
    p.forge(&["build", "app.bst"]).ok();
    let run = p.forge(&["shell", "app.bst", "--", "sh", "-c", "hello; exit 7"]);
    assert_eq!(run.code, 7, "{}", run.stderr);
    assert_eq!(run.stdout, "hello, world\n");
    // Integration commands (hello.bst has one) write into the root: it is
    // made of copies. Without them it is links into the cache, mounted
    // read-only (only /tmp is writable): either way nothing the shell does
    // reaches the cache.
    let scribble = "for f in /usr/bin/*; do echo x >> \"$f\"; done 2>/dev/null; touch /x 2>/dev/null && echo writable; echo ok > /tmp/t && cat /tmp/t";
    let run = p.forge(&["shell", "app.bst", "--", "sh", "-c", scribble]);
    assert_eq!((run.code, run.stdout.as_str()), (0, "writable\nok\n"), "{}", run.stderr);
    let run = p.forge(&["shell", "base.bst", "--", "sh", "-c", scribble]);
    assert_eq!((run.code, run.stdout.as_str()), (0, "ok\n"), "{}", run.stderr);
    let verify = p.forge(&["cache", "verify"]).ok();
    assert!(verify.contains(" 0 corrupt, 0 artifacts dropped"), "{verify}");
    // The read-only root is kept: the next shell of the same closure mounts
    // it again, and cache gc takes it back.
    let roots = p.outside().join("cache/shell-roots");
    let kept = || {
        fs::read_dir(&roots)
            .map(|d| d.flatten().filter(|e| e.path().is_dir()).count())
            .unwrap_or(0)
    };
    assert_eq!(kept(), 1);
    let run = p.forge(&["shell", "base.bst", "--", "sh", "-c", scribble]);
    assert_eq!((run.code, run.stdout.as_str()), (0, "ok\n"), "{}", run.stderr);
    assert_eq!(kept(), 1, "the same root again");
    p.forge(&["cache", "gc", "--keep", "100G"]).ok();
    assert_eq!(kept(), 0);
    let run = p.forge(&["shell", "app.bst", "--", "sh", "-c", "hello; exit 7"]);
    assert_eq!(run.stdout, "hello, world\n");
    let run = p.forge(&["shell", "--build", "hello.bst", "--", "sh", "-c", "pwd; cat greeting"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "/buildstream/test/hello.bst\nhello, world\n");
    // A command the closure lacks is named, with the PATH searched.
    let err = p.forge(&["shell", "app.bst", "--", "http", "--version"]).fails(5);
    assert!(
        err.contains("http: not found in the runtime closure of app.bst (PATH=") && !err.contains("execvp"),
        "{err}"
    );
}

const PROBE: &str = r#"kind: manual
build-depends:
- base.bst
variables:
  probe: "%{install-root}/probe"
config:
  build-commands:
  - |
    mkdir -p %{probe}
    env | sort > %{probe}/env
    (ls /root /home 2>&1 || true) > %{probe}/home
    (touch /usr/bin/intruder 2>&1 || true) > %{probe}/write-usr
    (touch /outside 2>&1 || true) > %{probe}/write-root
    tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' > %{probe}/interfaces
    hostname > %{probe}/hostname 2>&1 || cat /proc/sys/kernel/hostname > %{probe}/hostname
    id -u > %{probe}/uid
    python3 -c '
    import socket
    for host, port in [("1.1.1.1", 53), ("127.0.0.1", PORT)]:
        try:
            socket.create_connection((host, port), timeout=2)
            print(host, "connected")
        except OSError as e:
            print(host, "refused" if isinstance(e, ConnectionRefusedError) else "unreachable")
    try:
        socket.getaddrinfo("example.com", 80)
        print("dns resolved")
    except OSError:
        print("dns failed")
    ' > %{probe}/network
    sleep 300 &
    echo $! > %{probe}/background
"#;

#[test]
fn builds_are_contained() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let p = with_base(project(CONF).file("elements/probe.bst", &PROBE.replace("PORT", &port.to_string())));
    let run = p.forge(&["build", "probe.bst"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let out = p.outside().join("out");
    p.forge(&["checkout", "probe.bst", "--deps", "none", out.to_str().unwrap()])
        .ok();
    let read = |name: &str| fs::read_to_string(out.join("probe").join(name)).unwrap();
    assert_eq!(
        read("env"),
        "HOME=/tmp\nLC_ALL=C\nLOGNAME=tomjon\nPATH=/usr/bin:/bin:/usr/sbin:/sbin\nPWD=/buildstream/test/probe.bst\nSHELL=/bin/sh\nSOURCE_DATE_EPOCH=1321009871\nTERM=dumb\nTZ=UTC\nUSER=tomjon\nUSERNAME=tomjon\n"
    );
    assert_eq!(
        read("home"),
        "ls: cannot access '/root': No such file or directory\nls: cannot access '/home': No such file or directory\n"
    );
    assert!(
        read("write-usr").contains("Read-only file system"),
        "{}",
        read("write-usr")
    );
    assert!(
        read("write-root").contains("Read-only file system"),
        "{}",
        read("write-root")
    );
    assert_eq!(read("interfaces"), "lo\n");
    assert_eq!(read("hostname"), "forge\n");
    assert_eq!(read("uid"), "0\n");
    assert_eq!(read("network"), "1.1.1.1 unreachable\n127.0.0.1 refused\ndns failed\n");
    drop(listener);
    // Nothing the build started is still running.
    let ps = std::process::Command::new("ps").args(["-eo", "args"]).output().unwrap();
    assert!(
        !String::from_utf8_lossy(&ps.stdout)
            .lines()
            .any(|l| l.trim() == "sleep 300"),
        "a build process outlived its build"
    );
    assert!(!std::path::Path::new("/outside").exists());
}

#[test]
fn failures_are_recorded_with_their_log_and_retried_on_request() {
    let p = with_base(
        project(CONF)
            .file("elements/broken.bst", "kind: manual\nbuild-depends:\n- base.bst\nconfig:\n  build-commands:\n  - echo about to fail\n  - exit 3\n")
            .file("elements/after.bst", "kind: manual\nbuild-depends:\n- broken.bst\n"),
    );
    let run = p.forge(&["build", "after.bst"]);
    assert_eq!(run.code, 5, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("[FAILED] broken.bst: command failed with exit status 3: exit 3"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("| about to fail"),
        "the log tail is shown:\n{}",
        run.stderr
    );
    assert!(run.stderr.contains("1 failed, 1 skipped"), "{}", run.stderr);
    assert_eq!(p.show("%{state}", &["--deps", "none", "broken.bst"]), "failed\n");
    let run = p.forge(&["build", "after.bst"]);
    assert_eq!(run.code, 5);
    assert!(run.stderr.contains("failed in an earlier build"), "{}", run.stderr);
    p.write(
        "elements/broken.bst",
        "kind: manual\nbuild-depends:\n- base.bst\nconfig:\n  build-commands:\n  - echo about to fail\n  - exit 3\n",
    );
    let run = p.forge(&["build", "--retry-failed", "after.bst"]);
    assert!(run.stderr.contains("building broken.bst"), "{}", run.stderr);
}

#[test]
fn a_missing_shell_is_a_clear_error() {
    let p = project(CONF)
        .file("files/empty/README", "no shell here\n")
        .file(
            "elements/bare.bst",
            "kind: import\nsources:\n- kind: local\n  path: files/empty\n",
        )
        .file(
            "elements/needs-sh.bst",
            "kind: manual\nbuild-depends:\n- bare.bst\nconfig:\n  build-commands:\n  - true\n",
        )
        .build();
    let err = p.forge(&["build", "needs-sh.bst"]).fails(5);
    assert!(
        err.contains("needs-sh.bst: the staged dependencies provide no 'sh'"),
        "{err}"
    );
}

#[test]
fn reproducibility_check() {
    let p = with_base(
        project(CONF)
            .file("elements/steady.bst", "kind: manual\nbuild-depends:\n- base.bst\nconfig:\n  install-commands:\n  - echo same > %{install-root}/file\n")
            .file("elements/clock.bst", "kind: manual\nbuild-depends:\n- base.bst\nconfig:\n  install-commands:\n  - date +%s%N > %{install-root}/now\n"),
    );
    let run = p.forge(&["build", "--check", "steady.bst"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("check: steady.bst is reproducible"),
        "{}",
        run.stderr
    );
    let err = p.forge(&["build", "--check", "clock.bst"]).fails(5);
    assert!(
        err.contains("check: not reproducible:\n  clock.bst: now: differs"),
        "{err}"
    );

    // A stack has no files of its own: said so, and --deps checks what it
    // gathers, every element of the selection.
    p.write(
        "elements/both.bst",
        "kind: stack\ndepends:\n- steady.bst\n- clock.bst\n",
    );
    let run = p.forge(&["build", "--check", "both.bst"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("check: both.bst has no files of its own"),
        "{}",
        run.stderr
    );
    let err = p.forge(&["build", "--check", "--deps", "all", "both.bst"]).fails(5);
    assert!(
        err.contains("check: 2 reproducible, 1 not, 1 with no files of their own")
            && err.contains("clock.bst: now: differs"),
        "{err}"
    );
    let err = p.forge(&["build", "--deps", "all", "both.bst"]).fails(2);
    assert!(err.contains("--check"), "{err}");
}

#[test]
fn corrupt_objects_are_found_and_rebuilt() {
    let p = hello_project();
    p.forge(&["build", "hello.bst"]).ok();
    let out = p.outside().join("out");
    p.forge(&[
        "checkout",
        "hello.bst",
        "--deps",
        "none",
        "--no-integrate",
        out.to_str().unwrap(),
    ])
    .ok();
    // Corrupt the object holding the greeting.
    let objects = p.outside().join("cache/cas/objects");
    let mut corrupted = false;
    for prefix in fs::read_dir(&objects).unwrap().flatten() {
        for object in fs::read_dir(prefix.path()).unwrap().flatten() {
            if fs::read(object.path()).unwrap() == b"hello, world\n" {
                let path = object.path();
                let mut perms = fs::metadata(&path).unwrap().permissions();
                std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o644);
                fs::set_permissions(&path, perms).unwrap();
                fs::write(&path, b"HELLO, WORLD\n").unwrap();
                corrupted = true;
            }
        }
    }
    assert!(corrupted);
    let report = p.forge(&["cache", "verify"]).ok();
    assert!(report.contains("1 corrupt, 1 artifacts dropped"), "{report}");
    assert_eq!(p.show("%{state}", &["--deps", "none", "hello.bst"]), "buildable\n");
    let run = p.forge(&["build", "hello.bst"]);
    assert!(run.stderr.contains("1 built"), "{}", run.stderr);
    let clean = p.forge(&["cache", "verify"]).ok();
    assert!(clean.contains(" 0 corrupt, 0 artifacts dropped"), "{clean}");
}

#[test]
fn objects_are_named_by_sha256_and_an_old_cache_is_cleared_not_misread() {
    let p = hello_project();
    // A cache as an older forge left it: objects by another hash, no format.
    let cas = p.outside().join("cache/cas");
    fs::create_dir_all(cas.join("objects/ab")).unwrap();
    fs::write(cas.join("objects/ab/cdef"), "old object").unwrap();
    let run = p.forge(&["build", "hello.bst"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("was in an older format and has been cleared"),
        "{}",
        run.stderr
    );
    assert!(!cas.join("objects/ab/cdef").exists());
    // The greeting's object is named by the SHA-256 of its content, as a
    // REAPI server names the blob.
    let sha = support::sha256_hex(b"hello, world\n");
    assert_eq!(
        fs::read(cas.join("objects").join(&sha[..2]).join(&sha[2..])).unwrap(),
        b"hello, world\n"
    );
    // Once cleared, the cache is kept.
    let again = p.forge(&["build", "hello.bst"]);
    assert!(!again.stderr.contains("older format"), "{}", again.stderr);
    assert!(again.stderr.contains("0 built"), "{}", again.stderr);
}

#[test]
fn a_killed_build_leaves_a_cache_the_next_build_uses() {
    let p = with_base(project(CONF).file(
        "elements/slow.bst",
        "kind: manual\nbuild-depends:\n- base.bst\nconfig:\n  build-commands:\n  - sleep 30\n",
    ));
    p.forge(&["build", "base.bst"]).ok();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("forge"))
        .current_dir(&p.root)
        .env("FORGE_CACHE_DIR", p.outside().join("cache"))
        .args(["build", "slow.bst"])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(2));
    child.kill().unwrap();
    child.wait().unwrap();
    p.write(
        "elements/slow.bst",
        "kind: manual\nbuild-depends:\n- base.bst\nconfig:\n  build-commands:\n  - sleep 0\n",
    );
    let run = p.forge(&["build", "slow.bst"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let clean = p.forge(&["cache", "verify"]).ok();
    assert!(clean.contains(" 0 corrupt, 0 artifacts dropped"), "{clean}");
}

#[test]
fn compose_filter_script_and_layouts() {
    let p = with_base(
        project(CONF)
            .file(
                "elements/lib.bst",
                "kind: manual
build-depends:
- base.bst
config:
  install-commands:
  - mkdir -p %{install-root}%{libdir} %{install-root}%{includedir} %{install-root}%{docdir}/foo
  - echo lib > %{install-root}%{libdir}/libfoo.so.1
  - echo header > %{install-root}%{includedir}/foo.h
  - echo docs > %{install-root}%{docdir}/foo/README
  - echo orphan > %{install-root}/orphan.txt
public:
  bst:
    integration-commands:
    - mkdir -p /etc && echo 'libfoo registered' >> /etc/ld.so.registry
",
            )
            .file("elements/runtime.bst", "kind: stack\ndepends:\n- base.bst\n- lib.bst\n")
            .file(
                "elements/system.bst",
                "kind: compose\nbuild-depends:\n- runtime.bst\nconfig:\n  exclude:\n  - devel\n  - doc\n  include-orphans: True\n",
            )
            .file("elements/docs.bst", "kind: filter\nbuild-depends:\n- lib.bst\nconfig:\n  include:\n  - doc\n")
            .file(
                "elements/deploy.bst",
                "kind: script
build-depends:
- base.bst
- filename: system.bst
  config:
    location: /sysroot
config:
  root-read-only: True
  commands:
  - mkdir -p %{install-root}
  - ls -R /sysroot/usr/lib /sysroot/etc > %{install-root}/listing
  - cat /sysroot/etc/ld.so.registry >> %{install-root}/listing
",
            ),
    );
    let run = p.forge(&["build", "--builders", "2", "deploy.bst", "docs.bst"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let out = p.outside().join("system");
    p.forge(&[
        "checkout",
        "system.bst",
        "--deps",
        "none",
        "--no-integrate",
        out.to_str().unwrap(),
    ])
    .ok();
    assert_eq!(fs::read_to_string(out.join("usr/lib/libfoo.so.1")).unwrap(), "lib\n");
    assert!(!out.join("usr/include/foo.h").exists(), "devel excluded");
    assert!(!out.join("usr/share/doc/foo/README").exists(), "doc excluded");
    assert_eq!(fs::read_to_string(out.join("orphan.txt")).unwrap(), "orphan\n");
    assert_eq!(
        fs::read_to_string(out.join("etc/ld.so.registry")).unwrap(),
        "libfoo registered\n",
        "integration ran in the compose"
    );

    let docs = p.outside().join("docs");
    p.forge(&["checkout", "docs.bst", "--deps", "none", docs.to_str().unwrap()])
        .ok();
    assert_eq!(
        fs::read_to_string(docs.join("usr/share/doc/foo/README")).unwrap(),
        "docs\n"
    );
    assert!(!docs.join("usr/lib").exists() && !docs.join("orphan.txt").exists());

    let deploy = p.outside().join("deploy");
    p.forge(&["checkout", "deploy.bst", "--deps", "none", deploy.to_str().unwrap()])
        .ok();
    let listing = fs::read_to_string(deploy.join("listing")).unwrap();
    assert!(
        listing.contains("libfoo.so.1")
            && listing.contains("ld.so.registry")
            && listing.ends_with("libfoo registered\n"),
        "{listing}"
    );
}

#[test]
fn on_error_continue_builds_what_it_can() {
    let p = with_base(
        project(CONF)
            .file("elements/bad.bst", "kind: manual\nbuild-depends:\n- base.bst\nconfig:\n  build-commands:\n  - false\n")
            .file("elements/good.bst", "kind: manual\nbuild-depends:\n- base.bst\nconfig:\n  install-commands:\n  - touch %{install-root}/ok\n")
            .file("elements/all.bst", "kind: stack\ndepends:\n- bad.bst\n- good.bst\n"),
    );
    let run = p.forge(&["build", "--on-error", "continue", "--builders", "1", "all.bst"]);
    assert_eq!(run.code, 5, "{}", run.stderr);
    assert!(
        run.stderr.contains("build: 2 built, 0 cached, 1 failed, 1 skipped"),
        "{}",
        run.stderr
    );
    assert_eq!(
        p.show("%{name}:%{state}", &["--deps", "none", "good.bst", "bad.bst"]),
        "good.bst:cached\nbad.bst:failed\n"
    );
}

#[test]
fn artifacts_can_be_deleted_and_collected() {
    let p = hello_project();
    p.forge(&["build", "app.bst"]).ok();
    let out = p.forge(&["artifact", "delete", "hello.bst"]).ok();
    assert_eq!(out, "hello.bst: deleted\n");
    assert_eq!(p.show("%{state}", &["--deps", "none", "hello.bst"]), "buildable\n");
    let out = p.forge(&["artifact", "delete", "hello.bst"]).ok();
    assert_eq!(out, "hello.bst: not in the cache\n");
    let size = |p: &support::TestProject| -> u64 {
        let mut total = 0;
        let mut pending = vec![p.outside().join("cache/cas/objects")];
        while let Some(dir) = pending.pop() {
            for entry in fs::read_dir(dir).unwrap().flatten() {
                if entry.file_type().unwrap().is_dir() {
                    pending.push(entry.path());
                } else {
                    total += entry.metadata().unwrap().len();
                }
            }
        }
        total
    };
    // Under the limit, the files of the deleted artifact still go.
    let before = size(&p);
    let out = p.forge(&["cache", "gc", "--keep", "10G"]).ok();
    assert_ne!(out, "gc: 0 bytes freed\n");
    assert!(size(&p) < before);
    assert_eq!(
        p.forge(&["artifact", "list"]).ok().lines().count(),
        2,
        "app.bst and base.bst stay"
    );
    let before = size(&p);
    let out = p.forge(&["cache", "gc", "--keep", "0"]).ok();
    assert!(out.starts_with("gc: ") && out.ends_with(" bytes freed\n"), "{out}");
    assert!(size(&p) < before);
    assert!(
        p.forge(&["artifact", "list"]).ok().is_empty(),
        "everything was collected"
    );
    p.forge(&["cache", "gc", "--keep", "lots"]).fails(2);
}

/// podman is how many people run a tool in a container: an image forge
/// builds runs there. The recipe for this machine kind (runc, cgroupfs, no
/// default ulimits) and a private vfs store, so nothing is left behind.
#[test]
fn podman_runs_the_oci_image() {
    let found = |tool: &str| {
        Command::new(tool)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    assert!(
        found("podman") && found("skopeo") && found("runc"),
        "podman, runc and skopeo are needed (apt-get install podman runc skopeo; .ci/run installs them)"
    );
    let p = hello_project();
    p.write(
        "elements/image.bst",
        "kind: oci-image\nbuild-depends:\n- app.bst\nconfig:\n  entrypoint: [/usr/bin/hello]\n  env: [PATH=/usr/bin:/bin]\n",
    );
    p.forge(&["build", "image.bst"]).ok();
    let layout = p.outside().join("oci");
    p.forge(&["checkout", "image.bst", "--deps", "none", layout.to_str().unwrap()])
        .ok();

    let store = p.outside().join("containers");
    let (graph, run) = (store.join("graph"), store.join("run"));
    let conf = store.join("containers.conf");
    fs::create_dir_all(&run).unwrap();
    fs::write(
        &conf,
        "[containers]\ndefault_ulimits = []\n[engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n",
    )
    .unwrap();
    let image = format!("localhost/forge-test-{}:latest", std::process::id());
    let copied = Command::new("skopeo")
        .arg("copy")
        .arg(format!("oci:{}:latest", layout.display()))
        .arg(format!(
            "containers-storage:[vfs@{}+{}]{image}",
            graph.display(),
            run.display()
        ))
        .output()
        .unwrap();
    assert!(copied.status.success(), "{}", String::from_utf8_lossy(&copied.stderr));
    let podman = Command::new("podman")
        .env("CONTAINERS_CONF", &conf)
        .arg("--root")
        .arg(&graph)
        .arg("--runroot")
        .arg(&run)
        .args([
            "--storage-driver",
            "vfs",
            "--runtime",
            "runc",
            "run",
            "--rm",
            "--network=none",
            &image,
        ])
        .output()
        .unwrap();
    assert!(podman.status.success(), "{}", String::from_utf8_lossy(&podman.stderr));
    assert_eq!(String::from_utf8_lossy(&podman.stdout), "hello, world\n");
}

#[test]
fn quiet_verbose_and_color_change_only_what_is_said() {
    let p = hello_project();
    let quiet = p.forge(&["-q", "build", "app.bst"]);
    assert_eq!(quiet.code, 0, "{}", quiet.stderr);
    assert_eq!(quiet.stderr, "", "-q says nothing when all is well");
    p.write("files/hello/greeting", "hello again\n");
    let verbose = p.forge(&["build", "-v", "--color", "always", "app.bst"]);
    assert_eq!(verbose.code, 0, "{}", verbose.stderr);
    assert!(
        verbose.stderr.contains("\u{1b}[32m[  ok  ]\u{1b}[0m hello.bst") && verbose.stderr.contains("log: "),
        "{}",
        verbose.stderr
    );
    // Not a terminal: no colour unless asked.
    p.write("files/hello/greeting", "hello a third time\n");
    let plain = p.forge(&["build", "app.bst"]);
    assert!(
        !plain.stderr.contains('\u{1b}') && plain.stderr.contains("[  ok  ] hello.bst"),
        "{}",
        plain.stderr
    );
    // Errors are said whatever -q says.
    let err = p.forge(&["-q", "build", "nosuch.bst"]).fails(3);
    assert!(err.contains("error: element 'nosuch.bst' not found"), "{err}");
    let err = p.forge(&["-q", "-v", "show"]).fails(2);
    assert!(err.contains("cannot be used with"), "{err}");
}

#[test]
fn what_a_failing_build_prints_cannot_drive_the_terminal() {
    let p = hello_project();
    p.write(
        "elements/loud.bst",
        "kind: manual\nbuild-depends:\n- base.bst\nconfig:\n  build-commands:\n  - printf '\\033[2J\\r[  ok  ] fake\\n\\377\\n'; exit 1\n",
    );
    let run = p.forge(&["build", "loud.bst"]);
    assert_eq!(run.code, 5, "{}", run.stderr);
    assert!(
        !run.stderr.contains('\u{1b}') && !run.stderr.contains('\r'),
        "{:?}",
        run.stderr
    );
    assert!(run.stderr.contains("| \\u{1b}[2J\\r[  ok  ] fake"), "{}", run.stderr);
    assert!(
        !run.stderr.lines().any(|l| l.starts_with("[  ok  ] fake")),
        "{}",
        run.stderr
    );
}

#[test]
fn artifact_show_and_list_contents_say_what_bst_says() {
    let p = project(CONF)
        .file("files/a/usr/bin/tool", "#!/bin/sh\n")
        .file("files/a/usr/share/doc", "docs\n")
        .file(
            "elements/a.bst",
            "kind: import\nsources:\n- kind: local\n  path: files/a\n",
        )
        .file("elements/top.bst", "kind: stack\ndepends:\n- a.bst\n")
        .build();
    fs::set_permissions(
        p.root.join("files/a/usr/bin/tool"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    std::os::unix::fs::symlink("bin/tool", p.root.join("files/a/usr/link")).unwrap();
    assert_eq!(
        p.forge(&["artifact", "show", "--deps", "all", "top.bst"]).ok(),
        "  not cached a.bst\n  not cached top.bst\n"
    );
    let err = p.forge(&["artifact", "list-contents", "a.bst"]).fails(5);
    assert!(err.contains("none of the specified artifacts are cached"), "{err}");
    p.forge(&["build", "a.bst"]).ok();
    assert_eq!(
        p.forge(&["artifact", "show", "--deps", "all", "top.bst"]).ok(),
        "      cached a.bst\n  not cached top.bst\n"
    );
    assert_eq!(
        p.forge(&["artifact", "list-contents", "a.bst"]).ok(),
        "  a.bst:\n\tusr\n\tusr/bin\n\tusr/bin/tool\n\tusr/link\n\tusr/share\n\tusr/share/doc\n\n"
    );
    let long = p.forge(&["artifact", "list-contents", "--long", "a.bst"]).ok();
    assert!(long.contains("\tdrwxr-xr-x  dir    0           usr\n"), "{long}");
    assert!(
        long.contains("\t-rwxr-xr-x  exe    10          usr/bin/tool\n"),
        "{long}"
    );
    assert!(
        long.contains("\t-rw-r--r--  reg    5           usr/share/doc\n"),
        "{long}"
    );
    assert!(
        long.contains("\tlrwxrwxrwx  link   8           usr/link -> bin/tool\n"),
        "{long}"
    );
}

#[test]
fn shell_mounts_host_paths_writable_and_leaves_the_kept_root_as_it_was() {
    let p = hello_project();
    p.forge(&["build", "base.bst"]).ok();
    let work = p.outside().join("work");
    fs::create_dir_all(&work).unwrap();
    fs::write(work.join("in"), "from the host\n").unwrap();
    let note = p.outside().join("note.txt");
    fs::write(&note, "a file\n").unwrap();
    let run = p.forge(&[
        "shell",
        "base.bst",
        "--mount",
        work.to_str().unwrap(),
        "/mnt/work",
        "--mount",
        note.to_str().unwrap(),
        "/etc/note",
        "--",
        "sh",
        "-c",
        "cat /mnt/work/in /etc/note && echo back > /mnt/work/out",
    ]);
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, "from the host\na file\n"),
        "{}",
        run.stderr
    );
    assert_eq!(fs::read_to_string(work.join("out")).unwrap(), "back\n");
    // The next shell of the same closure sees no trace of the mounts.
    let run = p.forge(&[
        "shell",
        "base.bst",
        "--",
        "sh",
        "-c",
        "test -e /mnt || test -e /etc/note || echo clean",
    ]);
    assert_eq!(run.stdout, "clean\n", "{}", run.stderr);
    let err = p
        .forge(&[
            "shell",
            "base.bst",
            "--mount",
            work.to_str().unwrap(),
            "../x",
            "--",
            "true",
        ])
        .fails(2);
    assert!(err.contains("must be absolute, without '..'"), "{err}");
    let err = p
        .forge(&["shell", "base.bst", "--mount", "/no/such/dir", "/mnt", "--", "true"])
        .fails(2);
    assert!(err.contains("--mount /no/such/dir"), "{err}");
}
