//! Sources: fetch through mirrors, hash checks, track write-back, safe
//! staging. Every server is on 127.0.0.1, started by the test.

mod support;

use std::fs;
use std::path::Path;

use sha2::{Digest, Sha256};
use support::http::{Behavior, Server};
use support::{CONF, project};

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// A gzipped tarball of `files` (path, contents, mode) under `hello-1.0/`.
fn tarball(files: &[(&str, &str, u32)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::default(),
    ));
    for (path, contents, mode) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(contents.len() as u64);
        header.set_mode(*mode);
        header.set_mtime(0);
        builder
            .append_data(&mut header, format!("hello-1.0/{path}"), contents.as_bytes())
            .unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap()
}

fn conf_with(upstream: &str, mirror: Option<&str>) -> String {
    let mut conf = format!("{CONF}aliases:\n  up: {upstream}/\n");
    if let Some(mirror) = mirror {
        conf.push_str(&format!(
            "mirrors:\n- name: near\n  aliases:\n    up:\n    - {mirror}/\n"
        ));
    }
    conf
}

fn files_in_cache(p: &support::TestProject) -> Vec<String> {
    let root = p.outside().join("cache/sources/files");
    let mut out = Vec::new();
    let mut pending = vec![root];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            if entry.file_type().unwrap().is_dir() {
                pending.push(entry.path());
            } else {
                out.push(entry.path().display().to_string());
            }
        }
    }
    out
}

#[test]
fn fetch_then_show_says_buildable_and_checkout_stages() {
    let server = Server::start();
    let archive = tarball(&[
        ("README", "hello\n", 0o644),
        ("bin/run", "#!/bin/sh\necho hi\n", 0o4755),
    ]);
    let script = b"#!/bin/sh\necho tool\n";
    server.serve("/hello-1.0.tar.gz", &archive);
    server.serve("/tool.sh", script);
    let p = project(&conf_with(&server.base, None))
        .file(
            "elements/hello.bst",
            &format!(
                "kind: import\nsources:\n- kind: tar\n  url: up:hello-1.0.tar.gz\n  ref: {}\n- kind: remote\n  url: up:tool.sh\n  ref: {}\n  executable: true\n  directory: tools\n",
                sha256(&archive),
                sha256(script)
            ),
        )
        .build();
    assert_eq!(p.show("%{state}", &["hello.bst"]), "fetch needed\n");
    let run = p.forge(&["fetch", "hello.bst"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("fetch: 2 fetched, 0 already cached, 0 failed"),
        "{}",
        run.stderr
    );
    assert_eq!(p.show("%{state}", &["hello.bst"]), "buildable\n");
    assert_eq!(files_in_cache(&p).len(), 2);

    // A second fetch has nothing to do.
    let run = p.forge(&["fetch", "hello.bst"]);
    assert!(run.stderr.contains("0 fetched, 2 already cached"), "{}", run.stderr);
    assert_eq!(server.hits("/tool.sh"), 1);

    let out = p.outside().join("checkout");
    p.forge(&["source", "checkout", "hello.bst", out.to_str().unwrap()])
        .ok();
    assert_eq!(fs::read_to_string(out.join("README")).unwrap(), "hello\n");
    use std::os::unix::fs::PermissionsExt;
    let run_mode = fs::metadata(out.join("bin/run")).unwrap().permissions().mode() & 0o7777;
    assert_eq!(run_mode, 0o755, "setuid dropped, mode normalised");
    assert_eq!(fs::read(out.join("tools/tool.sh")).unwrap(), script);
    assert_eq!(
        fs::metadata(out.join("tools/tool.sh")).unwrap().permissions().mode() & 0o777,
        0o755
    );

    // Deterministic tarball of the same sources.
    let a = p.outside().join("a.tar");
    let b = p.outside().join("b.tar");
    p.forge(&["source", "checkout", "hello.bst", "--tar", a.to_str().unwrap()])
        .ok();
    p.forge(&["source", "checkout", "hello.bst", "--tar", b.to_str().unwrap()])
        .ok();
    assert_eq!(fs::read(&a).unwrap(), fs::read(&b).unwrap());
    let mut names: Vec<String> = tar::Archive::new(fs::File::open(&a).unwrap())
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    let sorted = {
        let mut s = names.clone();
        s.sort();
        s
    };
    assert_eq!(names, sorted);
    names.retain(|n| n == "tools/tool.sh");
    assert_eq!(names.len(), 1);
}

#[test]
fn a_wrong_hash_is_an_error_and_nothing_is_cached() {
    let server = Server::start();
    server.serve("/tool.sh", b"what the server has now");
    let expected = sha256(b"what was pinned");
    let p = project(&conf_with(&server.base, None))
        .file(
            "elements/tool.bst",
            &format!("kind: import\nsources:\n- kind: remote\n  url: up:tool.sh\n  ref: {expected}\n"),
        )
        .build();
    let err = p.forge(&["fetch", "tool.bst"]).fails(4);
    let actual = sha256(b"what the server has now");
    assert!(err.contains(&server.url("/tool.sh")), "{err}");
    assert!(
        err.contains(&format!("expected sha256 {expected}, got {actual}")),
        "{err}"
    );
    assert!(err.contains("tool.bst: source 1 (remote up:tool.sh)"), "{err}");
    assert!(files_in_cache(&p).is_empty());
    assert_eq!(p.show("%{state}", &["tool.bst"]), "fetch needed\n");
}

#[test]
fn control_bytes_from_files_and_servers_never_reach_the_terminal() {
    let server = Server::start();
    // A URL that would clear the screen and paint a line of its own.
    let p = project(&format!("{CONF}aliases:\n  up: {}/\n", server.base))
        .file(
            "elements/evil.bst",
            &format!(
                "kind: import\nsources:\n- kind: remote\n  url: \"up:x\\e[2J\\r[  ok  ] all good\\nfake.sh\"\n  ref: {}\n",
                "0".repeat(64)
            ),
        )
        .build();
    // Refused when it loads, with the character shown escaped.
    let run = p.forge(&["fetch", "evil.bst"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    for raw in ['\u{1b}', '\r'] {
        assert!(!run.stderr.contains(raw), "raw {raw:?} in {:?}", run.stderr);
    }
    assert!(
        run.stderr.lines().count() == 2
            && run
                .stderr
                .contains("elements/evil.bst:3:3: the URL of this remote source holds a control character (\\u{1b})")
            && run.stderr.contains("percent-encode it (%1B)"),
        "{}",
        run.stderr
    );
}

#[test]
fn mirrors_serve_when_upstream_is_down_and_every_answer_is_checked() {
    let upstream = Server::start();
    let mirror = Server::start();
    let good = b"the real bytes".to_vec();
    mirror.serve("/tool.sh", &good);
    upstream.route("/tool.sh", Behavior::Status(500));
    let p = project(&conf_with(&upstream.base, Some(&mirror.base)))
        .file(
            "elements/tool.bst",
            &format!(
                "kind: import\nsources:\n- kind: remote\n  url: up:tool.sh\n  ref: {}\n",
                sha256(&good)
            ),
        )
        .build();
    p.forge(&["fetch", "tool.bst"]).ok();
    assert_eq!(mirror.hits("/tool.sh"), 1, "the mirror is asked first");
    assert_eq!(upstream.hits("/tool.sh"), 0);

    // A mirror with wrong bytes is passed over for upstream.
    let p2 = project(&conf_with(&upstream.base, Some(&mirror.base)))
        .file(
            "elements/tool.bst",
            &format!(
                "kind: import\nsources:\n- kind: remote\n  url: up:tool.sh\n  ref: {}\n",
                sha256(b"upstream")
            ),
        )
        .build();
    upstream.serve("/tool.sh", b"upstream");
    let run = p2.forge(&["fetch", "tool.bst"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(upstream.hits("/tool.sh"), 1);
}

#[test]
fn when_every_url_fails_each_is_named() {
    let upstream = Server::start();
    let mirror = Server::start();
    upstream.route("/x.tgz", Behavior::Status(404));
    mirror.serve("/x.tgz", b"tampered");
    let p = project(&conf_with(&upstream.base, Some(&mirror.base)))
        .file(
            "elements/x.bst",
            &format!(
                "kind: import\nsources:\n- kind: tar\n  url: up:x.tgz\n  ref: {}\n",
                "a".repeat(64)
            ),
        )
        .build();
    let err = p.forge(&["--network-retries", "0", "fetch", "x.bst"]).fails(4);
    let mirror_line = err
        .lines()
        .position(|l| l.contains(&mirror.url("/x.tgz")) && l.contains("wrong content"))
        .expect(&err);
    let upstream_line = err
        .lines()
        .position(|l| l.contains(&upstream.url("/x.tgz")) && l.contains("HTTP 404"))
        .expect(&err);
    assert!(mirror_line < upstream_line, "mirror first, then upstream:\n{err}");
}

#[test]
fn transient_errors_are_retried_truncation_and_stalls_are_not_cached() {
    let server = Server::start();
    let bytes = b"eventually served".to_vec();
    server.route("/flaky", Behavior::FlakyThenServe(2, bytes.clone()));
    server.route("/cut", Behavior::Truncate(b"0123456789".to_vec()));
    server.route("/stall", Behavior::Stall(std::time::Duration::from_secs(5)));
    let element =
        |name: &str, sha: &str| format!("kind: import\nsources:\n- kind: remote\n  url: up:{name}\n  ref: {sha}\n");
    let p = project(&conf_with(&server.base, None))
        .file("elements/flaky.bst", &element("flaky", &sha256(&bytes)))
        .file("elements/cut.bst", &element("cut", &sha256(b"0123456789")))
        .file("elements/stall.bst", &element("stall", &"b".repeat(64)))
        .build();
    p.forge(&["--network-retries", "2", "fetch", "flaky.bst"]).ok();
    assert_eq!(server.hits("/flaky"), 3);
    let err = p.forge(&["--network-retries", "1", "fetch", "cut.bst"]).fails(4);
    assert!(err.contains("interrupted"), "{err}");
    assert_eq!(server.hits("/cut"), 2);
    let err = p
        .forge(&["--network-retries", "0", "--network-timeout", "1", "fetch", "stall.bst"])
        .fails(4);
    assert!(err.contains("timed out") || err.contains("interrupted"), "{err}");
    assert_eq!(files_in_cache(&p).len(), 1, "only the flaky file made it");
    assert!(
        fs::read_dir(p.outside().join("cache/sources/tmp"))
            .unwrap()
            .next()
            .is_none(),
        "no partial files left"
    );
}

const TRACKED: &str = "# The tool, pinned.
kind:   import   # odd spacing kept
sources:
-   kind: remote
    url: up:tool.sh     # a comment
    ref: 'OLD'   # the pin
    executable: true
-   {kind: tar, url: up:x.tgz}
";

#[test]
fn track_changes_only_the_ref_characters() {
    let server = Server::start();
    server.serve("/tool.sh", b"tool v2");
    server.serve("/x.tgz", &tarball(&[("a", "a", 0o644)]));
    let old = sha256(b"tool v1");
    let text = TRACKED.replace("OLD", &old);
    let p = project(&conf_with(&server.base, None))
        .file("elements/tool.bst", &text)
        .build();

    let run = p.forge(&["track", "--dry-run", "tool.bst"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .contains(&format!("{} → {}", &old[..12], &sha256(b"tool v2")[..12])),
        "{}",
        run.stdout
    );
    assert_eq!(
        fs::read_to_string(p.root.join("elements/tool.bst")).unwrap(),
        text,
        "--dry-run writes nothing"
    );

    p.forge(&["track", "tool.bst"]).ok();
    let expected = TRACKED.replace("OLD", &sha256(b"tool v2")).replace(
        "{kind: tar, url: up:x.tgz}",
        &format!(
            "{{kind: tar, url: up:x.tgz, ref: {}}}",
            sha256(&tarball(&[("a", "a", 0o644)]))
        ),
    );
    assert_eq!(fs::read_to_string(p.root.join("elements/tool.bst")).unwrap(), expected);
    // Tracking downloaded the files: nothing left to fetch.
    assert_eq!(p.show("%{state}", &["tool.bst"]), "buildable\n");
}

#[test]
fn track_inserts_a_missing_ref_line_and_edits_include_files() {
    let server = Server::start();
    server.serve("/tool.sh", b"tool");
    let p = project(&conf_with(&server.base, None))
        .file(
            "include/tool-source.yml",
            "sources:\n  - kind: remote\n    # fetched from upstream\n    url: up:tool.sh\n",
        )
        .file("elements/tool.bst", "kind: import\n(@): include/tool-source.yml\n")
        .build();
    assert_eq!(p.show("%{state}", &["tool.bst"]), "no reference\n");
    p.forge(&["track", "tool.bst"]).ok();
    assert_eq!(
        fs::read_to_string(p.root.join("include/tool-source.yml")).unwrap(),
        format!(
            "sources:\n  - kind: remote\n    ref: {}\n    # fetched from upstream\n    url: up:tool.sh\n",
            sha256(b"tool")
        )
    );
    assert_eq!(
        fs::read_to_string(p.root.join("elements/tool.bst")).unwrap(),
        "kind: import\n(@): include/tool-source.yml\n"
    );
    assert_eq!(p.show("%{state}", &["tool.bst"]), "buildable\n");
}

#[test]
fn track_with_project_refs() {
    let server = Server::start();
    server.serve("/tool.sh", b"tool");
    let conf = format!("{}ref-storage: project.refs\n", conf_with(&server.base, None));
    let element = "kind: import\nsources:\n- kind: local\n  path: files/a\n- kind: remote\n  url: up:tool.sh\n";
    let p = project(&conf)
        .file("files/a", "a")
        .file("elements/tool.bst", element)
        .build();
    p.forge(&["track", "tool.bst"]).ok();
    assert_eq!(
        fs::read_to_string(p.root.join("elements/tool.bst")).unwrap(),
        element,
        "the element is untouched"
    );
    assert_eq!(
        fs::read_to_string(p.root.join("project.refs")).unwrap(),
        format!(
            "projects:\n  test:\n    tool.bst:\n    - {{}}\n    - ref: {}\n",
            sha256(b"tool")
        )
    );
    assert_eq!(p.show("%{state}", &["tool.bst"]), "buildable\n");
}

/// A raw tar entry whose name the tar crate would refuse to write.
fn raw_entry(builder: &mut tar::Builder<Vec<u8>>, name: &str, kind: tar::EntryType, link: Option<&str>, data: &[u8]) {
    let mut header = tar::Header::new_old();
    {
        let old = header.as_old_mut();
        old.name[..name.len()].copy_from_slice(name.as_bytes());
        if let Some(link) = link {
            old.linkname[..link.len()].copy_from_slice(link.as_bytes());
        }
    }
    header.set_entry_type(kind);
    header.set_mode(0o644);
    header.set_size(data.len() as u64);
    header.set_cksum();
    builder.append(&header, data).unwrap();
}

/// Writes the entries of a test archive.
type ArchiveWriter = dyn Fn(&mut tar::Builder<Vec<u8>>);

#[test]
fn hostile_archives_are_refused_and_nothing_escapes() {
    let server = Server::start();
    let cases: Vec<(&str, Box<ArchiveWriter>, &str)> = vec![
        (
            "dotdot",
            Box::new(|b| raw_entry(b, "top/../../escaped", tar::EntryType::Regular, None, b"x")),
            "climbs out",
        ),
        (
            "absolute",
            Box::new(|b| raw_entry(b, "/tmp/forge-escaped-absolute", tar::EntryType::Regular, None, b"x")),
            "absolute path",
        ),
        (
            "symlink-out",
            Box::new(|b| raw_entry(b, "top/link", tar::EntryType::Symlink, Some("../../.."), b"")),
            "points outside",
        ),
        (
            "through-symlink",
            Box::new(|b| {
                raw_entry(b, "top/link", tar::EntryType::Symlink, Some("/tmp"), b"");
                raw_entry(b, "top/link/forge-escaped-through", tar::EntryType::Regular, None, b"x");
            }),
            "written through the symlink",
        ),
        (
            "hardlink-out",
            Box::new(|b| raw_entry(b, "top/hard", tar::EntryType::Link, Some("../../../etc/passwd"), b"")),
            "climbs out",
        ),
    ];
    let mut elements = Vec::new();
    for (name, build, _) in &cases {
        let mut builder = tar::Builder::new(Vec::new());
        build(&mut builder);
        let bytes = builder.into_inner().unwrap();
        server.serve(&format!("/{name}.tar"), &bytes);
        elements.push((
            format!("elements/{name}.bst"),
            format!(
                "kind: import\nsources:\n- kind: tar\n  url: up:{name}.tar\n  ref: {}\n  base-dir: ''\n",
                sha256(&bytes)
            ),
        ));
    }
    let mut builder = project(&conf_with(&server.base, None));
    for (path, text) in &elements {
        builder = builder.file(path, text);
    }
    let p = builder.build();
    for (name, _, why) in &cases {
        p.forge(&["fetch", &format!("{name}.bst")]).ok();
        let out = p.outside().join(format!("out-{name}"));
        let err = p
            .forge(&["source", "checkout", &format!("{name}.bst"), out.to_str().unwrap()])
            .fails(4);
        assert!(err.contains(why), "{name}: {err}");
    }
    assert!(!p.outside().join("escaped").exists());
    assert!(!Path::new("/tmp/forge-escaped-absolute").exists());
    assert!(!Path::new("/tmp/forge-escaped-through").exists());
}

#[test]
fn device_nodes_are_skipped_with_a_warning() {
    let server = Server::start();
    let mut builder = tar::Builder::new(Vec::new());
    raw_entry(&mut builder, "top/fifo", tar::EntryType::Fifo, None, b"");
    raw_entry(&mut builder, "top/file", tar::EntryType::Regular, None, b"ok");
    let bytes = builder.into_inner().unwrap();
    server.serve("/dev.tar", &bytes);
    let p = project(&conf_with(&server.base, None))
        .file(
            "elements/dev.bst",
            &format!(
                "kind: import\nsources:\n- kind: tar\n  url: up:dev.tar\n  ref: {}\n",
                sha256(&bytes)
            ),
        )
        .build();
    p.forge(&["fetch", "dev.bst"]).ok();
    let out = p.outside().join("out");
    let run = p.forge(&["source", "checkout", "dev.bst", out.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("skipped device node or FIFO 'top/fifo'"),
        "{}",
        run.stderr
    );
    assert_eq!(
        fs::read_to_string(out.join("file")).unwrap(),
        "ok",
        "base-dir '*' takes the top directory"
    );
    assert!(!out.join("fifo").exists());
}

#[test]
fn local_and_patch_sources_stage_in_order() {
    let p = project(CONF)
        .file("files/src/hello.c", "int main() {\n  return 1;\n}\n")
        .file(
            "files/fix.patch",
            "--- a/hello.c\n+++ b/hello.c\n@@ -1,3 +1,3 @@\n int main() {\n-  return 1;\n+  return 0;\n }\n",
        )
        .file(
            "elements/hello.bst",
            "kind: import\nsources:\n- kind: local\n  path: files/src\n- kind: patch\n  path: files/fix.patch\n",
        )
        .build();
    assert_eq!(p.show("%{state}", &["hello.bst"]), "buildable\n");
    let out = p.outside().join("out");
    p.forge(&["source", "checkout", "hello.bst", out.to_str().unwrap()])
        .ok();
    assert_eq!(
        fs::read_to_string(out.join("hello.c")).unwrap(),
        "int main() {\n  return 0;\n}\n"
    );
}

#[test]
fn two_fetches_at_once_share_one_cache() {
    let server = Server::start();
    let mut builder = project(&conf_with(&server.base, None));
    let mut deps = String::from("kind: stack\ndepends:\n");
    for i in 0..12 {
        let bytes = format!("file number {i} ").repeat(20_000).into_bytes();
        server.serve(&format!("/f{i}"), &bytes);
        builder = builder.file(
            &format!("elements/f{i}.bst"),
            &format!(
                "kind: import\nsources:\n- kind: remote\n  url: up:f{i}\n  ref: {}\n",
                sha256(&bytes)
            ),
        );
        deps.push_str(&format!("- f{i}.bst\n"));
    }
    let p = builder.file("elements/all.bst", &deps).build();
    let spawn = || {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("forge"));
        cmd.current_dir(&p.root)
            .env("FORGE_CACHE_DIR", p.outside().join("cache"))
            .args(["fetch", "--fetchers", "4", "all.bst"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        cmd.spawn().unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    assert!(b.status.success(), "{}", String::from_utf8_lossy(&b.stderr));
    let files = files_in_cache(&p);
    assert_eq!(files.len(), 12);
    for file in files {
        let bytes = fs::read(&file).unwrap();
        assert!(file.ends_with(&sha256(&bytes)[2..]), "{file} holds what its name says");
    }
    assert_eq!(
        p.show("%{state}", &["--deps", "build", "all.bst"]),
        "buildable\n".repeat(12)
    );
}

#[test]
fn default_mirror_and_user_configuration() {
    let upstream = Server::start();
    let a = Server::start();
    let b = Server::start();
    let bytes = b"mirrored".to_vec();
    for server in [&upstream, &a, &b] {
        server.serve("/x", &bytes);
    }
    let conf = format!(
        "{CONF}aliases:\n  up: {}/\nmirrors:\n- name: a\n  aliases:\n    up: ['{}/']\n- name: b\n  aliases:\n    up: ['{}/']\n",
        upstream.base, a.base, b.base
    );
    let element = format!(
        "kind: import\nsources:\n- kind: remote\n  url: up:x\n  ref: {}\n",
        sha256(&bytes)
    );
    let p = project(&conf).file("elements/x.bst", &element).build();
    p.forge(&["--default-mirror", "b", "fetch", "x.bst"]).ok();
    assert_eq!((a.hits("/x"), b.hits("/x"), upstream.hits("/x")), (0, 1, 0));

    let c = Server::start();
    c.serve("/x", &bytes);
    let user = p.outside().join("forge.conf");
    fs::write(
        &user,
        format!(
            "projects:\n  test:\n    mirrors:\n    - name: c\n      aliases:\n        up: ['{}/']\n",
            c.base
        ),
    )
    .unwrap();
    let p2 = project(&conf).file("elements/x.bst", &element).build();
    p2.forge(&["--config", user.to_str().unwrap(), "fetch", "x.bst"]).ok();
    assert_eq!(
        (a.hits("/x"), b.hits("/x"), c.hits("/x")),
        (0, 1, 1),
        "the user's mirrors replace the project's"
    );
}

#[test]
fn file_urls_fetch_and_track() {
    let p = project(CONF).build();
    let dir = p.outside().join("downloads");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("data.txt"), "local bytes").unwrap();
    p.write(
        "project.conf",
        &format!("{CONF}aliases:\n  disk: file://{}/\n", dir.display()),
    );
    p.write(
        "elements/data.bst",
        "kind: import\nsources:\n- kind: remote\n  url: disk:data.txt\n",
    );
    p.forge(&["track", "data.bst"]).ok();
    assert!(
        fs::read_to_string(p.root.join("elements/data.bst"))
            .unwrap()
            .contains(&sha256(b"local bytes"))
    );
    assert_eq!(p.show("%{state}", &["data.bst"]), "buildable\n");
}

#[test]
fn a_server_that_went_away_is_reported_and_the_next_url_serves() {
    let gone = Server::start();
    let gone_base = gone.base.clone();
    drop(gone);
    std::thread::sleep(std::time::Duration::from_millis(50));
    let mirror = Server::start();
    mirror.serve("/x", b"still here");
    let conf = format!(
        "{CONF}aliases:\n  up: {}/\nmirrors:\n- name: m\n  aliases:\n    up: ['{gone_base}/']\n",
        mirror.base
    );
    let element = format!(
        "kind: import\nsources:\n- kind: remote\n  url: up:x\n  ref: {}\n",
        sha256(b"still here")
    );
    let p = project(&conf).file("elements/x.bst", &element).build();
    let run = p.forge(&["--network-retries", "0", "fetch", "x.bst"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(mirror.hits("/x"), 1);
    let p2 = project(&format!("{CONF}aliases:\n  up: {gone_base}/\n"))
        .file("elements/x.bst", &element)
        .build();
    let err = p2.forge(&["--network-retries", "0", "fetch", "x.bst"]).fails(4);
    assert!(err.contains(&format!("{gone_base}/x: cannot connect")), "{err}");
}
