//! Remote artifact caches on a real REAPI server (buildbox-casd on
//! 127.0.0.1): two caches sharing through it, pushes that send only what
//! is missing, a server that lies or goes away.

mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use support::casd::Casd;
use support::{CONF, listing, project, user_conf};

/// A project whose artifact has a small file, an executable, a symlink, an
/// empty directory and a file large enough for ByteStream.
fn sharing_project() -> support::TestProject {
    let p = project(CONF)
        .file("files/a/usr/share/hello.txt", "hello\n")
        .file("files/a/usr/bin/tool", "#!/bin/sh\necho tool\n")
        .file(
            "elements/a.bst",
            "kind: import\nsources:\n- kind: local\n  path: files/a\n",
        )
        .file("elements/top.bst", "kind: stack\ndepends:\n- a.bst\n")
        .build();
    let tool = p.root.join("files/a/usr/bin/tool");
    fs::set_permissions(&tool, fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::symlink("share/hello.txt", p.root.join("files/a/usr/link")).unwrap();
    fs::create_dir_all(p.root.join("files/a/var/empty")).unwrap();
    let big: Vec<u8> = (0..3_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    fs::write(p.root.join("files/a/big.bin"), big).unwrap();
    p
}

fn write_config(p: &support::TestProject, url: &str, push: bool) -> String {
    let path = p.outside().join("forge.conf");
    fs::write(
        &path,
        format!("artifacts:\n  servers:\n  - url: {url}\n    push: {push}\n"),
    )
    .unwrap();
    path.display().to_string()
}

#[test]
fn two_caches_share_artifacts_through_casd() {
    let p = sharing_project();
    let server = Casd::start(&p.outside().join("casd"));
    let config = write_config(&p, &server.url(), true);

    // The first machine builds and pushes.
    let run = p.forge(&["--config", &config, "build", "top.bst"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("pushed a.bst to http://127.0.0.1:"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("2 pushed"), "{}", run.stderr);

    // A second push of the same artifacts sends nothing.
    let again = p.forge(&["--config", &config, "artifact", "push", "--deps", "all", "top.bst"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(
        again.stderr.contains("artifact: 0 pushed (0 blobs, 0 B)"),
        "{}",
        again.stderr
    );

    // The second machine (its own cache) sees the artifacts on the server...
    let second = p.outside().join("second-cache");
    let second = second.to_str().unwrap();
    let shown = p.forge(&[
        "--config",
        &config,
        "--cache-dir",
        second,
        "show",
        "--format",
        "%{name} %{state}",
        "top.bst",
    ]);
    assert_eq!(
        shown.stdout, "a.bst downloadable\ntop.bst downloadable\n",
        "{}",
        shown.stderr
    );
    // ...builds nothing: it pulls.
    let run = p.forge(&["--config", &config, "--cache-dir", second, "build", "top.bst"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("0 built"), "{}", run.stderr);
    assert!(run.stderr.contains("pulled a.bst from"), "{}", run.stderr);

    // Its checkout is byte for byte the first's.
    let first_out = p.outside().join("first-out");
    let second_out = p.outside().join("second-out");
    p.forge(&["checkout", "top.bst", first_out.to_str().unwrap()]).ok();
    let run = p.forge(&[
        "--cache-dir",
        second,
        "checkout",
        "top.bst",
        second_out.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let first = listing(&first_out);
    assert!(first.iter().any(|l| l.starts_with("usr/bin/tool 755 ")), "{first:?}");
    assert!(first.contains(&"usr/link -> share/hello.txt".to_string()), "{first:?}");
    assert!(first.contains(&"var/empty/".to_string()), "{first:?}");
    assert_eq!(first, listing(&second_out));
    // And its cache is sound.
    let verify = p.forge(&["--cache-dir", second, "cache", "verify"]).ok();
    assert!(verify.contains(" 0 corrupt, 0 artifacts dropped"), "{verify}");
}

#[test]
fn a_corrupt_blob_on_the_server_is_refused_and_the_build_goes_on() {
    let p = sharing_project();
    let server = Casd::start(&p.outside().join("casd"));
    let config = write_config(&p, &server.url(), true);
    p.forge(&["--config", &config, "build", "a.bst"]).ok();

    // Corrupt the server's copy of hello.txt.
    let sha = support::sha256_hex(b"hello\n");
    corrupt_on_server(&server, &sha, |_| b"HELLO\n".to_vec());

    let other = p.outside().join("other-cache");
    let other = other.to_str().unwrap();
    let run = p.forge(&["--config", &config, "--cache-dir", other, "build", "a.bst"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("warning: cannot pull a.bst: cache server http://127.0.0.1:"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(&format!(
            "sent bytes that do not match {sha}/6; nothing of them was kept"
        )),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("1 built"), "{}", run.stderr);
    // Nothing of the lie was kept: the local build is the true one.
    let out = p.outside().join("out");
    p.forge(&["--cache-dir", other, "checkout", "a.bst", out.to_str().unwrap()])
        .ok();
    assert_eq!(fs::read_to_string(out.join("usr/share/hello.txt")).unwrap(), "hello\n");
}

/// The files in which `server` keeps the blob `sha` (casd keeps blobs as
/// files named by their digest).
fn blob_files(server: &Casd, sha: &str) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![server.storage.clone()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.file_name().unwrap().to_string_lossy().contains(&sha[2..]) {
                found.push(path);
            }
        }
    }
    found
}

/// Replaces the content of the blob `sha` on the server with `change` of it.
fn corrupt_on_server(server: &Casd, sha: &str, change: impl Fn(Vec<u8>) -> Vec<u8>) {
    let files = blob_files(server, sha);
    assert!(!files.is_empty(), "the blob is on the server");
    for path in files {
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        fs::write(&path, change(fs::read(&path).unwrap())).unwrap();
    }
}

#[test]
fn a_corrupt_large_blob_is_refused_as_it_streams_and_leaves_nothing() {
    let p = sharing_project();
    let server = Casd::start(&p.outside().join("casd"));
    let config = write_config(&p, &server.url(), true);
    p.forge(&["--config", &config, "build", "a.bst"]).ok();

    // The 3 MB file travels by ByteStream, in pieces: one byte changed at
    // its end, after most of it has been written down.
    let big = fs::read(p.root.join("files/a/big.bin")).unwrap();
    let sha = support::sha256_hex(&big);
    corrupt_on_server(&server, &sha, |mut bytes| {
        *bytes.last_mut().unwrap() ^= 1;
        bytes
    });
    let other = p.outside().join("other-cache");
    let run = p.forge(&[
        "--config",
        &config,
        "--cache-dir",
        other.to_str().unwrap(),
        "artifact",
        "pull",
        "a.bst",
    ]);
    assert_ne!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr
            .contains(&format!("sent bytes that do not match {sha}/{}", big.len())),
        "{}",
        run.stderr
    );
    // Neither the object nor its pieces, nor the artifact.
    let mut left = Vec::new();
    let mut pending = vec![other.join("cas")];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if fs::metadata(&path).unwrap().len() >= big.len() as u64 || path.starts_with(other.join("cas/refs"))
            {
                left.push(path.display().to_string());
            }
        }
    }
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn blobs_the_server_lost_are_named_whether_batched_or_streamed() {
    // A small blob comes in a batch (its status is one entry of the
    // answer), a large one by ByteStream (the status ends the call).
    let big = {
        let p = sharing_project();
        fs::read(p.root.join("files/a/big.bin")).unwrap()
    };
    for (lost, expected) in [
        (
            support::sha256_hex(b"hello\n"),
            format!("does not have {}/6", support::sha256_hex(b"hello\n")),
        ),
        (
            support::sha256_hex(&big),
            format!(
                "ByteStream.Read of {}/{}: NotFound",
                support::sha256_hex(&big),
                big.len()
            ),
        ),
    ] {
        let p = sharing_project();
        let server = Casd::start(&p.outside().join("casd"));
        let config = write_config(&p, &server.url(), true);
        p.forge(&["--config", &config, "build", "a.bst"]).ok();
        let files = blob_files(&server, &lost);
        assert!(!files.is_empty(), "the blob is on the server");
        for path in files {
            fs::remove_file(path).unwrap();
        }
        let other = p.outside().join("other-cache");
        let other = other.to_str().unwrap();
        let run = p.forge(&["--config", &config, "--cache-dir", other, "artifact", "pull", "a.bst"]);
        assert_ne!(run.code, 0, "{}", run.stderr);
        assert!(run.stderr.contains(&expected), "{expected}: {}", run.stderr);
        // The build goes on without it and makes the artifact here.
        let run = p.forge(&["--config", &config, "--cache-dir", other, "build", "a.bst"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(run.stderr.contains("1 built"), "{}", run.stderr);
    }
}

#[test]
fn a_server_that_is_down_never_fails_a_build_and_the_next_run_pushes() {
    let p = sharing_project();
    let mut server = Casd::start(&p.outside().join("casd"));
    let port = server.port;
    let config = write_config(&p, &server.url(), true);
    server.stop();

    let run = p.forge(&["--config", &config, "build", "a.bst"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "warning: cache server http://127.0.0.1:{port}: cannot connect"
        )),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("1 built"), "{}", run.stderr);

    // Back up: the next run pushes what the last one could not.
    let _server = Casd::start_on(&p.outside().join("casd"), port);
    let run = p.forge(&["--config", &config, "build", "a.bst"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("0 built") && run.stderr.contains("1 pushed"),
        "{}",
        run.stderr
    );
}

/// A cache directory `name` beside the project (made by forge when used).
fn cache_dir(p: &support::TestProject, name: &str) -> String {
    p.outside().join(name).display().to_string()
}

/// The listing of `target` checked out of `cache` (the project's own when
/// `None`).
fn checked_out(p: &support::TestProject, cache: Option<&str>, target: &str) -> Vec<String> {
    let out = p
        .outside()
        .join(format!("out-{}", cache.unwrap_or("default").replace('/', "-")));
    let mut args = Vec::new();
    if let Some(cache) = cache {
        args.extend(["--cache-dir", cache]);
    }
    args.extend(["checkout", target, out.to_str().unwrap()]);
    p.forge(&args).ok();
    listing(&out)
}

#[test]
fn split_index_and_storage_servers_share_as_bst_users_configure_them() {
    use support::buildgrid::{BuildGrid, make_credentials};
    let p = sharing_project();
    let big = support::sha256_hex(&fs::read(p.root.join("files/a/big.bin")).unwrap());
    let index = Casd::start(&p.outside().join("index"));
    let storage = Casd::start(&p.outside().join("storage"));
    let split = |index_url: &str, auth: &str| {
        format!(
            "artifacts:\n  servers:\n  - url: {index_url}\n    type: index\n    push: true\n{auth}  \
             - url: {}\n    type: storage\n    push: true\n",
            storage.url()
        )
    };
    let config = user_conf(&p, "split.conf", &split(&index.url(), ""));
    let run = p.forge(&["--config", &config, "build", "top.bst"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let route = format!("{} (index {})", storage.url(), index.url());
    assert!(
        run.stderr.contains(&format!("pushed a.bst to {route}")),
        "{}",
        run.stderr
    );
    // The blobs went to the storage server only; the index names them.
    assert!(!blob_files(&storage, &big).is_empty() && blob_files(&index, &big).is_empty());

    let second = cache_dir(&p, "second");
    let show = [
        "--config",
        &config,
        "--cache-dir",
        &second,
        "show",
        "--format",
        "%{state}",
        "a.bst",
    ];
    let shown = p.forge(&show);
    assert_eq!(shown.stdout, "downloadable\n", "{}", shown.stderr);
    let run = p.forge(&["--config", &config, "--cache-dir", &second, "build", "top.bst"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("0 built") && run.stderr.contains(&format!("pulled a.bst from {route}")),
        "{}",
        run.stderr
    );
    let first = checked_out(&p, None, "top.bst");
    assert_eq!(first, checked_out(&p, Some(&second), "top.bst"));

    // An index without storage (or the other way) moves nothing, and says
    // why; the build goes on locally.
    let alone = format!("artifacts:\n  servers:\n  - url: {}\n    type: index\n", index.url());
    let alone = user_conf(&p, "index-only.conf", &alone);
    let run = p.forge(&[
        "--config",
        &alone,
        "--cache-dir",
        &cache_dir(&p, "third"),
        "build",
        "a.bst",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let warning = "the artifacts servers that answered lack a server of type storage or all";
    assert!(
        run.stderr.contains(warning) && run.stderr.contains("1 built"),
        "{}",
        run.stderr
    );
    let unknown = format!("artifacts:\n  servers:\n  - url: {}\n    type: cas\n", index.url());
    let unknown = user_conf(&p, "index-only.conf", &unknown);
    let err = p.forge(&["--config", &unknown, "build", "a.bst"]).fails(3);
    assert!(err.contains("index-only.conf:4:11: unknown server type 'cas'"), "{err}");

    // An index without Remote Asset (BuildGrid: its ActionCache) names
    // what another server stores.
    let creds = p.outside().join("creds");
    make_credentials(&creds);
    let grid = BuildGrid::start_tls(&p.outside().join("bgd"), &creds);
    let c = |file: &str| creds.join(file).display().to_string();
    let auth = format!(
        "    auth:\n      server-cert: {}\n      client-cert: {}\n      client-key: {}\n      access-token: {}\n",
        c("ca.crt"),
        c("client.crt"),
        c("client.key"),
        c("token.txt")
    );
    let mixed = user_conf(
        &p,
        "mixed.conf",
        &split(&format!("https://localhost:{}", grid.port), &auth),
    );
    let run = p.forge(&["--config", &mixed, "artifact", "push", "--deps", "all", "top.bst"]);
    assert!(
        run.code == 0 && run.stderr.contains("artifact: 2 pushed"),
        "{}",
        run.stderr
    );
    let fourth = cache_dir(&p, "fourth");
    let pull = [
        "--config",
        &mixed,
        "--cache-dir",
        &fourth,
        "artifact",
        "pull",
        "--deps",
        "all",
        "top.bst",
    ];
    let run = p.forge(&pull);
    assert!(
        run.code == 0 && run.stderr.contains("artifact: 2 pulled"),
        "{}",
        run.stderr
    );
    assert_eq!(first, checked_out(&p, Some(&fourth), "top.bst"));
}

#[test]
fn a_projects_own_servers_come_first_and_other_projects_servers_are_not_asked() {
    let p = sharing_project();
    let ours = Casd::start(&p.outside().join("ours"));
    let global = Casd::start(&p.outside().join("global"));
    let text = format!(
        "projects:\n  other:\n    artifacts:\n      servers:\n      - url: http://127.0.0.1:1\n  \
         test:\n    artifacts:\n      servers:\n      - url: {}\n        push: true\n\
         artifacts:\n  override-project-caches: true\n  servers:\n  - url: {}\n    push: true\n",
        ours.url(),
        global.url()
    );
    let config = user_conf(&p, "projects.conf", &text);
    let run = p.forge(&["--config", &config, "build", "a.bst"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let pushed = |server: &Casd| run.stderr.contains(&format!("pushed a.bst to {}", server.url()));
    assert!(
        pushed(&ours) && pushed(&global) && !run.stderr.contains("127.0.0.1:1 "),
        "{}",
        run.stderr
    );
    // Both have it: the project's own is asked first.
    let run = p.forge(&[
        "--config",
        &config,
        "--cache-dir",
        &cache_dir(&p, "second"),
        "build",
        "a.bst",
    ]);
    assert!(
        run.stderr.contains(&format!("pulled a.bst from {}", ours.url())),
        "{}",
        run.stderr
    );

    let config = user_conf(&p, "projects.conf", "artifacts:\n  override-project-caches: maybe\n");
    let err = p.forge(&["--config", &config, "artifact", "pull", "a.bst"]).fails(3);
    assert!(
        err.contains("projects.conf:2:28: 'override-project-caches' must be true or false"),
        "{err}"
    );
}

#[test]
fn pushing_needs_push_true_and_config_errors_say_where() {
    let p = sharing_project();
    let server = Casd::start(&p.outside().join("casd"));
    let config = write_config(&p, &server.url(), false);
    let run = p.forge(&["--config", &config, "build", "a.bst"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("0 pushed"), "{}", run.stderr);
    let err = p.forge(&["--config", &config, "artifact", "push", "a.bst"]).fails(2);
    assert!(err.contains("no artifact server takes pushes"), "{err}");

    let bad = p.outside().join("bad.conf");
    fs::write(
        &bad,
        "artifacts:\n  servers:\n  - url: http://127.0.0.1:1\n    pusj: true\n",
    )
    .unwrap();
    let err = p.forge(&["--config", bad.to_str().unwrap(), "build", "a.bst"]).fails(3);
    assert!(err.contains("bad.conf:4:5: unknown key 'pusj' in a server"), "{err}");

    // bst's connection-config, as freedesktop-sdk writes it, is honoured.
    let connection = "    connection-config:\n      keepalive-time: 60\n      retry-limit: 4\n      \
                      retry-delay: 500\n      request-timeout: 300\n";
    let text = format!(
        "artifacts:\n  servers:\n  - url: {}\n    push: true\n{connection}",
        server.url()
    );
    let run = p.forge(&["--config", &user_conf(&p, "tuned.conf", &text), "build", "a.bst"]);
    assert!(run.stderr.contains("pushed a.bst to"), "{}", run.stderr);
    let text = "artifacts:\n  servers:\n  - url: http://127.0.0.1:1\n    connection-config:\n      retry-limit: many\n";
    let err = p
        .forge(&["--config", &user_conf(&p, "bad.conf", text), "build", "a.bst"])
        .fails(3);
    let why = "bad.conf:5:20: 'retry-limit' must be a whole number from 0 to 100";
    assert!(err.contains(why), "{err}");

    // A token never travels over plain http to another machine.
    fs::write(p.outside().join("token"), "secret\n").unwrap();
    fs::write(
        &bad,
        "artifacts:\n  servers:\n  - url: http://cache.example.invalid:1\n    auth:\n      access-token: token\n",
    )
    .unwrap();
    let run = p.forge(&["--config", bad.to_str().unwrap(), "build", "a.bst"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("an access token is never sent over plain http except to loopback"),
        "{}",
        run.stderr
    );
}

#[test]
fn sources_come_from_the_source_cache_when_the_upstream_is_down() {
    let p = project(CONF).build();
    let upstream = p.outside().join("upstream");
    fs::create_dir_all(&upstream).unwrap();
    let data: Vec<u8> = (0..2_500_000u32).map(|i| (i % 251) as u8).collect();
    fs::write(upstream.join("data.bin"), &data).unwrap();
    let sha = support::sha256_hex(&data);
    p.write(
        "elements/data.bst",
        &format!(
            "kind: import\nsources:\n- kind: remote\n  url: file://{}/data.bin\n  ref: {sha}\n",
            upstream.display()
        ),
    );
    let server = Casd::start(&p.outside().join("casd"));
    let config = support::casd::source_cache_config(p.outside(), &server);
    let config = config.as_str();

    // The first machine fetches from upstream and pushes to the cache.
    p.forge(&["--config", config, "fetch", "data.bst"]).ok();
    fs::remove_dir_all(&upstream).unwrap();

    // Another machine, upstream gone: without the cache it cannot fetch...
    let alone = p.outside().join("alone");
    let err = p
        .forge(&["--cache-dir", alone.to_str().unwrap(), "fetch", "data.bst"])
        .fails(4);
    assert!(err.contains("could not be fetched"), "{err}");
    // ...with it, it can, and builds.
    let other = p.outside().join("other");
    let other = other.to_str().unwrap();
    let run = p.forge(&["--config", config, "--cache-dir", other, "build", "data.bst"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("from the source cache http://127.0.0.1:"),
        "{}",
        run.stderr
    );
    let out = p.outside().join("out");
    p.forge(&["--cache-dir", other, "checkout", "data.bst", out.to_str().unwrap()])
        .ok();
    assert_eq!(fs::read(out.join("data.bin")).unwrap(), data);
}

#[test]
fn source_push_offers_what_was_fetched_before_a_cache_was_configured() {
    use support::git::{commit, init};
    let p = project(CONF).build();
    let upstream = p.outside().join("upstream");
    fs::create_dir_all(&upstream).unwrap();
    let data: Vec<u8> = (0..1_500_000u32).map(|i| (i % 241) as u8).collect();
    fs::write(upstream.join("data.bin"), &data).unwrap();
    let repo = p.outside().join("repo");
    init(&repo);
    let head = commit(&repo, "src/main.c", "int main(void) { return 0; }\n");
    p.write(
        "elements/both.bst",
        &format!(
            "kind: import\nsources:\n- kind: remote\n  url: file://{}/data.bin\n  ref: {}\n\
             - kind: git\n  url: file://{}\n  ref: {head}\n  directory: repo\n",
            upstream.display(),
            support::sha256_hex(&data),
            repo.display()
        ),
    );
    p.write("elements/unfetched.bst", "kind: import\nsources:\n- kind: remote\n  url: file:///nowhere/x\n  ref: 0000000000000000000000000000000000000000000000000000000000000000\n");
    p.write(
        "elements/top.bst",
        "kind: stack\ndepends:\n- both.bst\n- unfetched.bst\n",
    );
    // Fetched with no source cache configured: nothing went anywhere.
    p.forge(&["fetch", "both.bst"]).ok();
    let err = p.forge(&["source", "push", "both.bst"]).fails(2);
    assert!(err.contains("no source cache server takes pushes"), "{err}");

    let server = Casd::start(&p.outside().join("casd"));
    let config = support::casd::source_cache_config(p.outside(), &server);
    let config = config.as_str();
    let run = p.forge(&["--config", config, "source", "push", "top.bst"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("source push: 2 offered, 1 not in the source cache, 0 failed"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("unfetched.bst: source 1 (remote file:///nowhere/x): not in the source cache"),
        "{}",
        run.stderr
    );

    // Upstreams gone: another machine fetches both from the cache.
    fs::remove_dir_all(&upstream).unwrap();
    fs::remove_dir_all(&repo).unwrap();
    let other = p.outside().join("other");
    let other = other.to_str().unwrap();
    let run = p.forge(&["--config", config, "--cache-dir", other, "build", "both.bst"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let out = p.outside().join("out");
    p.forge(&["--cache-dir", other, "checkout", "both.bst", out.to_str().unwrap()])
        .ok();
    assert_eq!(fs::read(out.join("data.bin")).unwrap(), data);
    assert!(out.join("repo/src/main.c").is_file());
}

#[test]
fn git_sources_come_from_the_source_cache_when_the_upstream_is_gone() {
    use support::git::{commit, git, init};
    let p = project(CONF).build();
    let upstream = p.outside().join("upstream");
    init(&upstream);
    commit(&upstream, "src/hello.c", "int main(void) { return 0; }\n");
    fs::write(upstream.join("run.sh"), "#!/bin/sh\necho run\n").unwrap();
    fs::set_permissions(upstream.join("run.sh"), fs::Permissions::from_mode(0o755)).unwrap();
    let head = commit(&upstream, "README", "pinned by commit\n");
    git(&upstream, &["tag", "v1"]);
    p.write(
        "elements/repo.bst",
        &format!(
            "kind: import\nsources:\n- kind: git\n  url: file://{}\n  track: main\n  ref: {head}\n",
            upstream.display()
        ),
    );
    let server = Casd::start(&p.outside().join("casd"));
    let config = support::casd::source_cache_config(p.outside(), &server);
    let config = config.as_str();

    // The first machine fetches from upstream, pushes the checked-out tree.
    p.forge(&["--config", config, "fetch", "repo.bst"]).ok();
    let first = p.outside().join("first");
    p.forge(&["source", "checkout", "repo.bst", first.to_str().unwrap()])
        .ok();
    fs::remove_dir_all(&upstream).unwrap();

    // Another machine, upstream gone: the tree comes from the cache, and
    // stages and builds the same files.
    let other = p.outside().join("other");
    let other = other.to_str().unwrap();
    let run = p.forge(&["--config", config, "--cache-dir", other, "build", "repo.bst"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("from the source cache http://127.0.0.1:"),
        "{}",
        run.stderr
    );
    let second = p.outside().join("second");
    p.forge(&[
        "--cache-dir",
        other,
        "source",
        "checkout",
        "repo.bst",
        second.to_str().unwrap(),
    ])
    .ok();
    for file in ["src/hello.c", "run.sh", "README"] {
        assert_eq!(
            fs::read(first.join(file)).unwrap(),
            fs::read(second.join(file)).unwrap(),
            "{file}"
        );
    }
    assert_eq!(
        fs::metadata(second.join("run.sh")).unwrap().permissions().mode() & 0o111,
        0o111
    );
    let out = p.outside().join("out");
    p.forge(&["--cache-dir", other, "checkout", "repo.bst", out.to_str().unwrap()])
        .ok();
    assert_eq!(fs::read_to_string(out.join("README")).unwrap(), "pinned by commit\n");

    // Without the cache, that machine could not have fetched it.
    let alone = p.outside().join("alone");
    let err = p
        .forge(&["--cache-dir", alone.to_str().unwrap(), "fetch", "repo.bst"])
        .fails(4);
    assert!(err.contains("could not be fetched"), "{err}");
}

#[test]
fn buildgrid_without_remote_asset_shares_through_the_action_cache_over_tls_with_a_token() {
    use support::buildgrid::{BuildGrid, make_credentials};
    let p = sharing_project();
    let creds = p.outside().join("creds");
    make_credentials(&creds);
    let _server = BuildGrid::start_tls(&p.outside().join("bgd"), &creds);
    let port = _server.port;
    let conf = |name: &str, auth: &[(&str, &str)]| -> String {
        let mut text =
            format!("artifacts:\n  servers:\n  - url: https://localhost:{port}\n    push: true\n    auth:\n");
        for (key, file) in auth {
            text.push_str(&format!("      {key}: {}\n", creds.join(file).display()));
        }
        let path = p.outside().join(name);
        fs::write(&path, text).unwrap();
        path.display().to_string()
    };
    let full = conf(
        "full.conf",
        &[
            ("server-cert", "ca.crt"),
            ("client-cert", "client.crt"),
            ("client-key", "client.key"),
            ("access-token", "token.txt"),
        ],
    );

    let run = p.forge(&["--config", &full, "build", "a.bst"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr
            .contains(&format!("pushed a.bst to https://localhost:{port}")),
        "{}",
        run.stderr
    );
    let second = p.outside().join("second");
    let second = second.to_str().unwrap();
    let run = p.forge(&["--config", &full, "--cache-dir", second, "build", "a.bst"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("0 built") && run.stderr.contains("pulled a.bst"),
        "{}",
        run.stderr
    );
    let first_out = p.outside().join("first-out");
    let second_out = p.outside().join("second-out");
    p.forge(&["checkout", "a.bst", first_out.to_str().unwrap()]).ok();
    p.forge(&["--cache-dir", second, "checkout", "a.bst", second_out.to_str().unwrap()])
        .ok();
    assert_eq!(listing(&first_out), listing(&second_out));

    // Refused credentials are clear warnings, and the build goes on locally.
    let third = p.outside().join("third");
    let third = third.to_str().unwrap();
    let cases = [
        (
            conf(
                "no-token.conf",
                &[
                    ("server-cert", "ca.crt"),
                    ("client-cert", "client.crt"),
                    ("client-key", "client.key"),
                ],
            ),
            "not authenticated",
        ),
        (
            conf(
                "no-ca.conf",
                &[
                    ("client-cert", "client.crt"),
                    ("client-key", "client.key"),
                    ("access-token", "token.txt"),
                ],
            ),
            "invalid peer certificate",
        ),
        (
            conf(
                "no-client-cert.conf",
                &[("server-cert", "ca.crt"), ("access-token", "token.txt")],
            ),
            "set auth: client-cert and client-key",
        ),
    ];
    for (config, why) in cases {
        let run = p.forge(&["--config", &config, "--cache-dir", third, "show", "a.bst"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(
            run.stderr
                .contains(&format!("warning: cache server https://localhost:{port}"))
                && run.stderr.contains(why),
            "{why}: {}",
            run.stderr
        );
    }
}

#[test]
fn a_push_killed_midway_names_nothing_half_sent_and_the_next_run_completes_it() {
    let p = project(CONF)
        .file(
            "elements/big.bst",
            "kind: import\nsources:\n- kind: local\n  path: files/big\n",
        )
        .build();
    fs::create_dir_all(p.root.join("files/big")).unwrap();
    for i in 0..24u32 {
        let data: Vec<u8> = (0..2_000_000u32)
            .map(|j| (j.wrapping_mul(2_654_435_761).wrapping_add(i) >> 11) as u8)
            .collect();
        fs::write(p.root.join(format!("files/big/part{i:02}.bin")), data).unwrap();
    }
    let server = Casd::start(&p.outside().join("casd"));
    let config = write_config(&p, &server.url(), true);
    // Built without the server, then pushed by hand and killed midway.
    p.forge(&["build", "big.bst"]).ok();
    let cache = p.outside().join("cache");
    let mut push = p
        .process(&cache)
        .args(["--config", &config, "artifact", "push", "big.bst"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(120));
    let _ = push.kill();
    let _ = push.wait();

    // Whatever the kill left, another cache sees all of the artifact or
    // none of it.
    let other = p.outside().join("other");
    let other = other.to_str().unwrap();
    let pull = p.forge(&["--config", &config, "--cache-dir", other, "artifact", "pull", "big.bst"]);
    assert!(
        (pull.code == 0 && pull.stderr.contains("1 pulled"))
            || (pull.code == 4 && pull.stderr.contains("on no server: big.bst")),
        "{}",
        pull.stderr
    );
    // The next run completes the push; then a fresh cache pulls it whole.
    let run = p.forge(&["--config", &config, "build", "big.bst"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let fresh = p.outside().join("fresh");
    let fresh = fresh.to_str().unwrap();
    let pull = p.forge(&["--config", &config, "--cache-dir", fresh, "artifact", "pull", "big.bst"]);
    assert_eq!(pull.code, 0, "{}", pull.stderr);
    let a = p.outside().join("a");
    let b = p.outside().join("b");
    p.forge(&["checkout", "big.bst", a.to_str().unwrap()]).ok();
    p.forge(&["--cache-dir", fresh, "checkout", "big.bst", b.to_str().unwrap()])
        .ok();
    assert_eq!(listing(&a), listing(&b));
}

#[test]
fn two_forges_pulling_into_one_cache_and_pushing_at_once_are_safe() {
    let p = sharing_project();
    let server = Casd::start(&p.outside().join("casd"));
    let config = write_config(&p, &server.url(), true);
    p.forge(&["--config", &config, "build", "top.bst"]).ok();
    let shared = p.outside().join("shared");
    let spawn = |args: &[&str]| p.process(&shared).args(["--config", &config]).args(args).output();
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| spawn(&["artifact", "pull", "--deps", "all", "top.bst"]).unwrap());
        let b = s.spawn(|| spawn(&["artifact", "pull", "--deps", "all", "top.bst"]).unwrap());
        (a.join().unwrap(), b.join().unwrap())
    });
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    assert!(b.status.success(), "{}", String::from_utf8_lossy(&b.stderr));
    let shared_dir = shared.to_str().unwrap();
    let verify = p.forge(&["--cache-dir", shared_dir, "cache", "verify"]).ok();
    assert!(verify.contains(" 0 corrupt, 0 artifacts dropped"), "{verify}");
    // Both push at once to a fresh server: each sends what it finds missing.
    let fresh = Casd::start(&p.outside().join("casd2"));
    let config2 = write_config(&p, &fresh.url(), true);
    let push = |cache: &Path| {
        p.process(cache)
            .args(["--config", &config2, "artifact", "push", "--deps", "all", "top.bst"])
            .output()
            .unwrap()
    };
    let first_cache = p.outside().join("cache");
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| push(&first_cache));
        let b = s.spawn(|| push(&shared));
        (a.join().unwrap(), b.join().unwrap())
    });
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    assert!(b.status.success(), "{}", String::from_utf8_lossy(&b.stderr));
    let out = p.outside().join("out");
    let last = p.outside().join("last");
    let run = p.forge(&[
        "--config",
        &config2,
        "--cache-dir",
        last.to_str().unwrap(),
        "build",
        "top.bst",
    ]);
    assert!(run.stderr.contains("0 built"), "{}", run.stderr);
    p.forge(&[
        "--cache-dir",
        last.to_str().unwrap(),
        "checkout",
        "top.bst",
        out.to_str().unwrap(),
    ])
    .ok();
    assert!(out.join("big.bin").is_file());
}

#[test]
fn only_what_the_targets_need_is_pulled_or_built() {
    let p = sharing_project();
    p.write("elements/image.bst", "kind: compose\nbuild-depends:\n- a.bst\n");
    let server = Casd::start(&p.outside().join("casd"));
    let config = write_config(&p, &server.url(), true);
    let run = p.forge(&["--config", &config, "build", "image.bst"]);
    assert!(
        run.stderr.contains("2 built") && run.stderr.contains("2 pushed"),
        "{}",
        run.stderr
    );

    // The image is on the server: its build dependency is not needed.
    let other = p.outside().join("other");
    let other = other.to_str().unwrap();
    let run = p.forge(&["--config", &config, "--cache-dir", other, "build", "image.bst"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("pulled image.bst") && !run.stderr.contains("pulled a.bst"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("0 built") && run.stderr.contains("1 pulled"),
        "{}",
        run.stderr
    );

    // Nor locally: a cached element's build dependencies are not rebuilt.
    p.forge(&["artifact", "delete", "a.bst"]).ok();
    let run = p.forge(&["build", "image.bst"]);
    assert!(run.stderr.contains("0 built, 1 cached"), "{}", run.stderr);
}

#[test]
fn artifacts_built_from_an_open_workspace_stay_local() {
    let p = project(CONF)
        .file("files/a/hello.txt", "hello\n")
        .file(
            "elements/a.bst",
            "kind: import\nsources:\n- kind: local\n  path: files/a\n",
        )
        .file("files/b/other.txt", "other\n")
        .file(
            "elements/b.bst",
            "kind: import\nsources:\n- kind: local\n  path: files/b\n",
        )
        .file("elements/top.bst", "kind: stack\ndepends:\n- a.bst\n- b.bst\n")
        .build();
    let server = Casd::start(&p.outside().join("casd"));
    let config = write_config(&p, &server.url(), true);
    p.forge(&["workspace", "open", "a.bst"]).ok();
    fs::write(p.root.join("a/hello.txt"), "edited here\n").unwrap();

    // b is shared; a, and top through it, hold edits nobody else has.
    let run = p.forge(&["--config", &config, "build", "top.bst"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("pushed b.bst to"), "{}", run.stderr);
    assert!(
        !run.stderr.contains("pushed a.bst") && !run.stderr.contains("pushed top.bst"),
        "{}",
        run.stderr
    );
    let run = p.forge(&["--config", &config, "artifact", "push", "--deps", "all", "top.bst"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("warning: a.bst is built from an open workspace: its artifact stays local")
            && run.stderr.contains("warning: top.bst is built from an open workspace"),
        "{}",
        run.stderr
    );

    // Another cache, same workspace: the server has b, not a.
    let other = p.outside().join("other-cache");
    let shown = p.forge(&[
        "--config",
        &config,
        "--cache-dir",
        other.to_str().unwrap(),
        "show",
        "--format",
        "%{name} %{state}",
        "a.bst",
        "b.bst",
    ]);
    assert_eq!(
        shown.stdout, "a.bst buildable\nb.bst downloadable\n",
        "{}",
        shown.stderr
    );
    p.forge(&["workspace", "close", "a.bst"]).ok();
}

#[test]
fn checkout_pulls_what_the_cache_lacks_as_bst_checkout_does() {
    let p = sharing_project();
    let server = Casd::start(&p.outside().join("casd"));
    let config = write_config(&p, &server.url(), true);
    p.forge(&["--config", &config, "build", "top.bst"]).ok();
    let first_out = p.outside().join("first-out");
    p.forge(&["checkout", "top.bst", first_out.to_str().unwrap()]).ok();

    // Another cache: no build, no pull, just the checkout.
    let second = cache_dir(&p, "second-cache");
    let second_out = p.outside().join("second-out");
    let run = p.forge(&[
        "--config",
        &config,
        "--cache-dir",
        &second,
        "checkout",
        "top.bst",
        second_out.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("pulled a.bst from"), "{}", run.stderr);
    assert_eq!(listing(&first_out), listing(&second_out));
    // Without servers, what is missing is named as before.
    let third = cache_dir(&p, "third-cache");
    let third_out = p.outside().join("third-out");
    let err = p
        .forge(&[
            "--cache-dir",
            &third,
            "checkout",
            "top.bst",
            third_out.to_str().unwrap(),
        ])
        .fails(5);
    assert!(err.contains("is not built"), "{err}");
}
