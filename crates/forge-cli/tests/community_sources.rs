//! The community plugins' sources, tracked, fetched and staged for real
//! against repositories and servers the tests make: git_repo, git_module,
//! patch_queue, zip, cargo2, go_module, cpan and pypi (docker sources:
//! tests/docker.rs; ostree and ostree_mirror: tests/ostree.rs).

mod support;

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use support::git::{commit, git, init};
use support::http::Server;
use support::{CONF, project, sha256_hex};

const COMMUNITY: &str = "plugins:
- origin: pip
  package-name: buildstream-plugins-community
  sources: [git_repo, git_module, patch_queue, zip, cargo2, go_module, cpan, pypi, ostree]
- origin: pip
  package-name: buildstream-plugins
  sources: [docker]
";

fn conf(extra: &str) -> String {
    format!("{CONF}{COMMUNITY}{extra}")
}

fn element_file(p: &support::TestProject, name: &str) -> String {
    fs::read_to_string(p.root.join("elements").join(name)).unwrap()
}

fn checkout(p: &support::TestProject, element: &str) -> std::path::PathBuf {
    let out = p.outside().join(format!("checkout-{}", element.replace('/', "-")));
    let run = p.forge(&["source", "checkout", element, out.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    out
}

fn mode(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().permissions().mode() & 0o777
}

/// A repository with tags 1.0.0, 1.1.0, 1.2.0-rc1 and a commit after 1.1.0 on main.
fn tagged_repo(dir: &Path) -> (String, String, String) {
    init(dir);
    commit(dir, "README", "one\n");
    git(dir, &["tag", "1.0.0"]);
    let release = commit(dir, "README", "two\n");
    git(dir, &["tag", "-a", "1.1.0", "-m", "release 1.1.0"]);
    let rc = commit(dir, "NEWS", "rc\n");
    git(dir, &["tag", "1.2.0-rc1"]);
    git(dir, &["checkout", "-q", "-b", "stable", &release]);
    let head = commit(dir, "src/main.c", "int main(void) { return 0; }\n");
    git(dir, &["checkout", "-q", "main"]);
    git(dir, &["reset", "-q", "--hard", &head]);
    let _ = rc;
    (release, head, git(dir, &["rev-parse", "1.2.0-rc1"]))
}

#[test]
fn git_repo_tracks_versions_by_glob_and_stages_a_describable_tree() {
    let p = project(&conf(
        "sources:\n  git_repo:\n    config:\n      ref-format: git-describe\n",
    ))
    .build();
    let repo = p.outside().join("upstream");
    let (release, head, _) = tagged_repo(&repo);
    let url = format!("file://{}", repo.display());
    p.write(
        "elements/app.bst",
        &format!("kind: import\nsources:\n- kind: git_repo\n  url: {url}\n  track: '*.*.*'\n  exclude: ['*rc*']\n"),
    );
    p.write(
        "elements/branch.bst",
        &format!("kind: import\nsources:\n- kind: git_repo\n  url: {url}\n  track: main\n"),
    );
    assert_eq!(p.show("%{state}", &["app.bst"]), "no reference\n");
    let run = p.forge(&["track", "app.bst", "branch.bst"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(element_file(&p, "app.bst").contains(&format!("  ref: 1.1.0-0-g{release}\n")));
    // A branch is described from the nearest tag.
    assert!(element_file(&p, "branch.bst").contains(&format!("  ref: 1.1.0-1-g{head}\n")));

    let run = p.forge(&["fetch", "app.bst", "branch.bst"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(p.show("%{state}", &["app.bst"]), "buildable\n");
    let out = checkout(&p, "branch.bst");
    assert_eq!(fs::read_to_string(out.join("README")).unwrap(), "two\n");
    assert!(out.join("src/main.c").is_file());
    // The staged .git knows the tag, the commit and the worktree.
    assert_eq!(git(&out, &["describe", "--tags"]), "1.1.0-1-g".to_string() + &head[..7]);
    assert_eq!(git(&out, &["rev-parse", "HEAD"]), head);
    assert_eq!(git(&out, &["status", "--porcelain"]), "");
    // Only the history from the tag on is staged.
    assert_eq!(git(&out, &["rev-list", "--count", "HEAD"]), "2");
}

#[test]
fn git_repo_comes_from_the_source_cache_with_its_git_when_upstream_is_gone() {
    let p = project(&conf(
        "sources:\n  git_repo:\n    config:\n      ref-format: git-describe\n",
    ))
    .build();
    let repo = p.outside().join("upstream");
    let (_, head, _) = tagged_repo(&repo);
    p.write(
        "elements/branch.bst",
        &format!(
            "kind: import\nsources:\n- kind: git_repo\n  url: file://{}\n  track: main\n  ref: 1.1.0-1-g{head}\n",
            repo.display()
        ),
    );
    let server = support::casd::Casd::start(&p.outside().join("casd"));
    let config = support::casd::source_cache_config(p.outside(), &server);
    let config = config.as_str();
    p.forge(&["--config", config, "fetch", "branch.bst"]).ok();
    fs::remove_dir_all(&repo).unwrap();

    // Another machine: no mirror, no upstream; the staged tree comes from
    // the cache, `.git` and all.
    let other = p.outside().join("other");
    let other = other.to_str().unwrap();
    let run = p.forge(&["--config", config, "--cache-dir", other, "fetch", "branch.bst"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("from the source cache http://127.0.0.1:"),
        "{}",
        run.stderr
    );
    let out = p.outside().join("out");
    p.forge(&[
        "--cache-dir",
        other,
        "source",
        "checkout",
        "branch.bst",
        out.to_str().unwrap(),
    ])
    .ok();
    assert_eq!(fs::read_to_string(out.join("README")).unwrap(), "two\n");
    assert_eq!(git(&out, &["describe", "--tags"]), "1.1.0-1-g".to_string() + &head[..7]);
    assert_eq!(git(&out, &["rev-parse", "HEAD"]), head);
}

#[test]
fn git_repo_in_sha1_form_and_a_ref_upstream_lacks() {
    let p = project(&conf("")).build();
    let repo = p.outside().join("upstream");
    let (_, head, _) = tagged_repo(&repo);
    let url = format!("file://{}", repo.display());
    p.write(
        "elements/a.bst",
        &format!("kind: import\nsources:\n- kind: git_repo\n  url: {url}\n  track: main\n"),
    );
    p.forge(&["track", "a.bst"]).ok();
    assert!(element_file(&p, "a.bst").contains(&format!("  ref: {head}\n")));
    let missing = "1234567890123456789012345678901234567890";
    p.write(
        "elements/a.bst",
        &format!("kind: import\nsources:\n- kind: git_repo\n  url: {url}\n  ref: {missing}\n"),
    );
    let err = p.forge(&["fetch", "a.bst"]).fails(4);
    assert!(err.contains(&format!("does not have commit {missing}")), "{err}");
    p.write(
        "elements/a.bst",
        &format!("kind: import\nsources:\n- kind: git_repo\n  url: {url}\n  ref: main\n"),
    );
    let err = p.forge(&["show", "a.bst"]).fails(3);
    assert!(err.contains("ref main is not in the expected format"), "{err}");
}

#[test]
fn git_module_tracks_the_commit_its_superproject_records() {
    let p = project(&conf("")).build();
    let sub = p.outside().join("sub");
    init(&sub);
    let first = commit(&sub, "lib.c", "one\n");
    commit(&sub, "lib.c", "two\n");
    let superproject = p.outside().join("super");
    init(&superproject);
    commit(&superproject, "README", "super\n");
    git(
        &superproject,
        &[
            "submodule",
            "add",
            "-q",
            &format!("file://{}", sub.display()),
            "third_party/sub",
        ],
    );
    git(&superproject.join("third_party/sub"), &["checkout", "-q", &first]);
    git(&superproject, &["add", "-A"]);
    git(&superproject, &["commit", "-q", "-m", "pin sub"]);
    let element = format!(
        "kind: import\nsources:\n- kind: git_repo\n  url: file://{}\n  track: main\n- kind: git_module\n  url: file://{}\n  path: third_party/sub\n",
        superproject.display(),
        sub.display()
    );
    p.write("elements/app.bst", &element);
    let run = p.forge(&["track", "app.bst"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let text = element_file(&p, "app.bst");
    assert!(
        text.contains(&format!("- kind: git_module\n  ref: {first}\n")),
        "{text}"
    );
    p.forge(&["fetch", "app.bst"]).ok();
    let out = checkout(&p, "app.bst");
    assert_eq!(fs::read_to_string(out.join("README")).unwrap(), "super\n");
    assert_eq!(fs::read_to_string(out.join("third_party/sub/lib.c")).unwrap(), "one\n");

    // Pushed to a source cache afterwards, both come from it on another
    // machine once both upstreams are gone: the submodule at its path.
    let server = support::casd::Casd::start(&p.outside().join("casd"));
    let config = support::casd::source_cache_config(p.outside(), &server);
    let config = config.as_str();
    let run = p.forge(&["--config", config, "source", "push", "app.bst"]);
    assert!(
        run.stderr
            .contains("source push: 2 offered, 0 not in the source cache, 0 failed"),
        "{}",
        run.stderr
    );
    let (moved_sub, moved_super) = (p.outside().join("sub.gone"), p.outside().join("super.gone"));
    fs::rename(&sub, &moved_sub).unwrap();
    fs::rename(&superproject, &moved_super).unwrap();
    let other = p.outside().join("other");
    let other = other.to_str().unwrap();
    p.forge(&["--config", config, "--cache-dir", other, "fetch", "app.bst"])
        .ok();
    let again = p.outside().join("again");
    p.forge(&[
        "--cache-dir",
        other,
        "source",
        "checkout",
        "app.bst",
        again.to_str().unwrap(),
    ])
    .ok();
    assert_eq!(fs::read_to_string(again.join("README")).unwrap(), "super\n");
    assert_eq!(
        fs::read_to_string(again.join("third_party/sub/lib.c")).unwrap(),
        "one\n"
    );
    fs::rename(&moved_sub, &sub).unwrap();
    fs::rename(&moved_super, &superproject).unwrap();

    p.write(
        "elements/bad.bst",
        &format!(
            "kind: import\nsources:\n- kind: git_repo\n  url: file://{}\n  track: main\n- kind: git_module\n  url: file://{}\n  path: not/there\n",
            superproject.display(),
            sub.display()
        ),
    );
    let err = p.forge(&["track", "bad.bst"]).fails(4);
    assert!(err.contains("could not find a submodule at 'not/there'"), "{err}");
}

#[test]
fn patch_queue_applies_every_patch_in_name_order() {
    let p = project(&conf(""))
        .file("files/src/greeting", "hello\n")
        .file(
            "files/patches/0002-second.patch",
            "--- a/greeting\n+++ b/greeting\n@@ -1 +1 @@\n-hello, world\n+hello, world!\n",
        )
        .file(
            "files/patches/0001-first.patch",
            "--- a/greeting\n+++ b/greeting\n@@ -1 +1 @@\n-hello\n+hello, world\n",
        )
        .file(
            "elements/e.bst",
            "kind: import\nsources:\n- kind: local\n  path: files/src\n- kind: patch_queue\n  path: files/patches\n",
        )
        .build();
    let out = checkout(&p, "e.bst");
    assert_eq!(fs::read_to_string(out.join("greeting")).unwrap(), "hello, world!\n");
    let before = p.key("e.bst");
    p.write(
        "files/patches/0002-second.patch",
        "--- a/greeting\n+++ b/greeting\n@@ -1 +1 @@\n-hello, world\n+hello, there\n",
    );
    assert_ne!(p.key("e.bst"), before, "every patch enters the key");
    p.write(
        "elements/f.bst",
        "kind: import\nsources:\n- kind: patch_queue\n  path: files/src/greeting\n",
    );
    let err = p.forge(&["show", "f.bst"]).fails(3);
    assert!(
        err.contains("the patch queue 'files/src/greeting' must be a directory"),
        "{err}"
    );
}

fn zip_archive(entries: &[(&str, &[u8], u32)]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, data, mode) in entries {
        let options = zip::write::SimpleFileOptions::default().unix_permissions(*mode);
        if name.ends_with('/') {
            writer.add_directory(name.trim_end_matches('/'), options).unwrap();
        } else {
            writer.start_file(*name, options).unwrap();
            writer.write_all(data).unwrap();
        }
    }
    writer.finish().unwrap().into_inner()
}

#[test]
fn zip_sources_unpack_their_base_directory_with_bst_modes() {
    let server = Server::start();
    let archive = zip_archive(&[
        ("pkg-1.0/", b"", 0o755),
        ("pkg-1.0/run.sh", b"#!/bin/sh\n", 0o755),
        ("pkg-1.0/data/info.txt", b"info\n", 0o644),
    ]);
    server.serve("/pkg-1.0.zip", &archive);
    let p = project(&conf(&format!("aliases:\n  up: {}/\n", server.base)))
        .file(
            "elements/e.bst",
            "kind: import\nsources:\n- kind: zip\n  url: up:pkg-1.0.zip\n",
        )
        .build();
    p.forge(&["track", "e.bst"]).ok();
    assert!(element_file(&p, "e.bst").contains(&format!("  ref: {}\n", sha256_hex(&archive))));
    p.forge(&["fetch", "e.bst"]).ok();
    let out = checkout(&p, "e.bst");
    assert_eq!(fs::read_to_string(out.join("data/info.txt")).unwrap(), "info\n");
    // The zip plugin leaves nothing executable.
    assert_eq!(mode(&out.join("run.sh")), 0o644);
    assert_eq!(mode(&out.join("data")), 0o755);

    let hostile = zip_archive(&[("../escape.txt", b"x", 0o644)]);
    server.serve("/evil.zip", &hostile);
    p.write(
        "elements/evil.bst",
        &format!(
            "kind: import\nsources:\n- kind: zip\n  url: up:evil.zip\n  ref: {}\n",
            sha256_hex(&hostile)
        ),
    );
    p.forge(&["fetch", "evil.bst"]).ok();
    let target = p.outside().join("evil-out");
    let err = p
        .forge(&["source", "checkout", "evil.bst", target.to_str().unwrap()])
        .fails(4);
    assert!(err.contains("climbs out with '..'"), "{err}");
    assert!(!p.outside().join("escape.txt").exists());
}

fn crate_file(name: &str, version: &str) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, text) in [
        (
            "Cargo.toml",
            format!("[package]\nname = \"{name}\"\nversion = \"{version}\"\n"),
        ),
        ("src/lib.rs", "pub fn f() {}\n".to_string()),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(text.len() as u64);
        header.set_mode(0o644);
        builder
            .append_data(&mut header, format!("{name}-{version}/{path}"), text.as_bytes())
            .unwrap();
    }
    let tar = builder.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar).unwrap();
    gz.finish().unwrap()
}

#[test]
fn cargo2_vendors_the_crates_of_the_lock_file() {
    let server = Server::start();
    let libc = crate_file("libc", "0.2.150");
    let log = crate_file("log", "0.4.20");
    server.serve("/crates/libc/libc-0.2.150.crate", &libc);
    server.serve("/crates/log/log-0.4.20.crate", &log);
    // log has no checksum in the lock: track downloads it to pin it.
    let lock = format!(
        "version = 3\n\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\n\n[[package]]\nname = \"libc\"\nversion = \"0.2.150\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"{}\"\n\n[[package]]\nname = \"log\"\nversion = \"0.4.20\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n",
        sha256_hex(&libc)
    );
    let p = project(&conf(&format!("aliases:\n  crates: {}/\n", server.base)))
        .file("files/app/Cargo.lock", &lock)
        .file(
            "files/app/Cargo.toml",
            "[package]\nname = \"app\"\nversion = \"0.1.0\"\n",
        )
        .file(
            "elements/app.bst",
            "kind: import\nsources:\n- kind: local\n  path: files/app\n- kind: cargo2\n  url: crates:crates\n",
        )
        .build();
    let run = p.forge(&["track", "app.bst"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let text = element_file(&p, "app.bst");
    assert!(
        text.contains(&format!(
            "  ref:\n  - kind: registry\n    name: libc\n    version: 0.2.150\n    sha: {}\n  - kind: registry\n    name: log\n    version: 0.4.20\n    sha: {}\n",
            sha256_hex(&libc),
            sha256_hex(&log)
        )),
        "{text}"
    );
    p.forge(&["fetch", "app.bst"]).ok();
    let out = checkout(&p, "app.bst");
    let vendored = out.join(".vendored-crates/libc-0.2.150");
    assert!(vendored.join("src/lib.rs").is_file());
    assert_eq!(
        fs::read_to_string(vendored.join(".cargo-checksum.json")).unwrap(),
        format!("{{\"package\": \"{}\", \"files\": {{}}}}", sha256_hex(&libc))
    );
    let config = fs::read_to_string(out.join(".cargo/config.toml")).unwrap();
    assert!(config.contains("replace-with = \"vendored-sources\""), "{config}");
    assert!(config.contains("directory = \".vendored-crates\""), "{config}");
    assert!(
        config.contains(&format!("registry = \"{}/crates/\"", server.base)),
        "{config}"
    );

    // A server that changed a crate is caught, and nothing is cached.
    let p2 = project(&conf(&format!("aliases:\n  crates: {}/\n", server.base)))
        .file("files/app/Cargo.lock", &lock)
        .file("elements/app.bst", &text)
        .build();
    server.serve("/crates/libc/libc-0.2.150.crate", b"tampered");
    let err = p2.forge(&["fetch", "app.bst"]).fails(4);
    assert!(err.contains("libc-0.2.150.crate"), "{err}");
    assert!(err.contains(&sha256_hex(&libc)), "{err}");
}

#[test]
fn go_module_vendors_a_module_of_go_sum() {
    let p = project(&conf("")).build();
    let module = p.outside().join("mod");
    init(&module);
    commit(&module, "go.mod", "module github.com/test/mod\n\ngo 1.20\n");
    commit(&module, "mod.go", "package mod\n");
    let tagged = commit(&module, "inner/inner.go", "package inner\n");
    git(&module, &["tag", "v1.2.0"]);
    commit(&module, "later.go", "package mod\n");
    let app = "module app\n\ngo 1.21\n\nrequire (\n\tgithub.com/test/mod v1.2.0\n)\n";
    let sum = "github.com/test/mod v1.2.0 h1:abc=\ngithub.com/test/mod v1.2.0/go.mod h1:def=\n";
    p.write("files/app/go.mod", app);
    p.write("files/app/go.sum", sum);
    p.write(
        "elements/app.bst",
        &format!(
            "kind: import\nsources:\n- kind: local\n  path: files/app\n- kind: go_module\n  url: file://{}\n  module: github.com/test/mod\n",
            module.display()
        ),
    );
    let run = p.forge(&["track", "app.bst"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let text = element_file(&p, "app.bst");
    assert!(
        text.contains(&format!(
            "  ref:\n    go-version: v1.2.0\n    git-ref: v1.2.0-0-g{tagged}\n"
        )),
        "{text}"
    );
    p.forge(&["fetch", "app.bst"]).ok();
    let out = checkout(&p, "app.bst");
    assert!(out.join("vendor/github.com/test/mod/inner/inner.go").is_file());
    assert!(!out.join("vendor/github.com/test/mod/later.go").exists());
    assert_eq!(
        fs::read_to_string(out.join("vendor/modules.txt")).unwrap(),
        "# github.com/test/mod v1.2.0\n## explicit; go 1.20\ngithub.com/test/mod\ngithub.com/test/mod/inner\n"
    );
}

fn tar_gz(top: &str, files: &[(&str, &str)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, text) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(text.len() as u64);
        header.set_mode(0o644);
        builder
            .append_data(&mut header, format!("{top}/{path}"), text.as_bytes())
            .unwrap();
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&builder.into_inner().unwrap()).unwrap();
    gz.finish().unwrap()
}

#[test]
fn cpan_sources_are_found_in_the_package_list_and_pinned_in_their_fields() {
    let server = Server::start();
    let dist = tar_gz(
        "Foo-Bar-1.0",
        &[
            ("Makefile.PL", "use ExtUtils::MakeMaker;\n"),
            ("lib/Foo/Bar.pm", "1;\n"),
        ],
    );
    let listing = "File: 02packages.details.txt\nLine-Count: 1\n\nFoo::Bar 1.0 A/AU/AUTHOR/Foo-Bar-1.0.tar.gz\n";
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(listing.as_bytes()).unwrap();
    server.serve("/cpan/modules/02packages.details.txt.gz", &gz.finish().unwrap());
    server.serve("/cpan/authors/id/A/AU/AUTHOR/Foo-Bar-1.0.tar.gz", &dist);
    let p = project(&conf(&format!("aliases:\n  cpan: {}/cpan/\n", server.base)))
        .file(
            "elements/perl.bst",
            "kind: import\nsources:\n- kind: cpan\n  name: Foo::Bar\n  index: 'cpan:'\n",
        )
        .build();
    let run = p.forge(&["track", "perl.bst"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let text = element_file(&p, "perl.bst");
    assert!(
        text.contains("  suffix: authors/id/A/AU/AUTHOR/Foo-Bar-1.0.tar.gz\n"),
        "{text}"
    );
    assert!(
        text.contains(&format!("  sha256sum: {}\n", sha256_hex(&dist))),
        "{text}"
    );
    p.forge(&["fetch", "perl.bst"]).ok();
    let out = checkout(&p, "perl.bst");
    assert_eq!(fs::read_to_string(out.join("lib/Foo/Bar.pm")).unwrap(), "1;\n");
    assert!(out.join("Makefile.PL").is_file());
}

#[test]
fn community_pypi_pins_the_newest_sdist_by_suffix_and_hash() {
    let server = Server::start();
    let old = tar_gz("foo-1.0", &[("setup.py", "old\n")]);
    let new = tar_gz("foo-1.1", &[("setup.py", "new\n"), ("foo/__init__.py", "\n")]);
    let page = format!(
        "{{\"meta\": {{\"api-version\": \"1.0\"}}, \"name\": \"foo\", \"files\": [\
         {{\"filename\": \"foo-1.0.tar.gz\", \"url\": \"https://files.pythonhosted.org/packages/aa/bb/foo-1.0.tar.gz\", \"hashes\": {{\"sha256\": \"{}\"}}}},\
         {{\"filename\": \"foo-1.1.tar.gz\", \"url\": \"https://files.pythonhosted.org/packages/cc/dd/foo-1.1.tar.gz\", \"hashes\": {{\"sha256\": \"{}\"}}}},\
         {{\"filename\": \"foo-1.2.tar.gz\", \"url\": \"https://files.pythonhosted.org/packages/ee/ff/foo-1.2.tar.gz\", \"hashes\": {{\"sha256\": \"{}\"}}, \"yanked\": true}},\
         {{\"filename\": \"foo-1.1-py3-none-any.whl\", \"url\": \"https://files.pythonhosted.org/packages/00/11/foo-1.1-py3-none-any.whl\", \"hashes\": {{\"sha256\": \"{}\"}}}}]}}",
        sha256_hex(&old),
        sha256_hex(&new),
        "1".repeat(64),
        "2".repeat(64)
    );
    server.route(
        "/simple/foo",
        support::http::Behavior::ServeTyped(page.into_bytes(), "application/vnd.pypi.simple.v1+json".into()),
    );
    server.serve("/packages/cc/dd/foo-1.1.tar.gz", &new);
    let p = project(&conf(&format!(
        "aliases:\n  pypi: {}/packages/\nsources:\n  pypi:\n    config:\n      url: 'pypi:'\n",
        server.base
    )))
    .file(
        "elements/foo.bst",
        "kind: import\nsources:\n- kind: pypi\n  name: foo\n",
    )
    .build();
    let user = p.outside().join("forge.conf");
    fs::write(&user, format!("pypi-index: {}/simple/\n", server.base)).unwrap();
    let config = user.to_str().unwrap();
    let run = p.forge(&["--config", config, "track", "foo.bst"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let text = element_file(&p, "foo.bst");
    assert!(
        text.contains(&format!(
            "  ref:\n    sha256sum: {}\n    suffix: cc/dd/foo-1.1.tar.gz\n",
            sha256_hex(&new)
        )),
        "{text}"
    );
    p.forge(&["--config", config, "fetch", "foo.bst"]).ok();
    let out = checkout(&p, "foo.bst");
    assert_eq!(fs::read_to_string(out.join("setup.py")).unwrap(), "new\n");
    assert!(out.join("foo/__init__.py").is_file());
}

#[test]
fn ostree_is_fetched_from_its_repository_and_says_which_object_it_lacks() {
    // tests/ostree.rs pulls real repositories; here, one that is not there.
    let commit = "fe6194e94c3a92f527b503f3095180aab0372de3ecb7e79052c042d0cf729b9f";
    let p = project(&conf(""))
        .file(
            "elements/tree.bst",
            &format!("kind: import\nsources:\n- kind: ostree\n  url: file:///nonexistent/repo\n  ref: {commit}\n"),
        )
        .build();
    assert_eq!(p.show("%{name} %{state}", &["tree.bst"]), "tree.bst fetch needed\n");
    let err = p.forge(&["fetch", "tree.bst"]).fails(4);
    assert!(
        err.contains(&format!(
            "cannot get commit object {commit} of file:///nonexistent/repo"
        )),
        "{err}"
    );
    p.write("elements/bad.bst", "kind: import\nsources:\n- kind: docker\n  ref: x\n");
    let err = p.forge(&["show", "bad.bst"]).fails(3);
    assert!(err.contains("must define either 'url' or 'image'"), "{err}");
}
