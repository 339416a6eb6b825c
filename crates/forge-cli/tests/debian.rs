//! Debian: a signed archive served on 127.0.0.1 by the test (its key made
//! with gpg in the test), .debs generated here, and images of the result.

mod support;

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::Command;

use support::archive::{self, tar_gz};
use support::debian::Archive;
use support::project;
use support::pypi::sha256;

/// A .deb whose postinst would leave a marker if anything ran it.
fn deb(package: &str, version: &str, data: Vec<u8>) -> Vec<u8> {
    let control = tar_gz(&[
        (
            "./control",
            format!("Package: {package}\nVersion: {version}\nArchitecture: amd64\n").as_bytes(),
            0o644,
        ),
        ("./postinst", b"#!/bin/sh\ntouch /POSTINST-RAN\n", 0o755),
    ]);
    archive::deb(&control, "data.tar.gz", &data)
}

fn hello_deb(version: &str) -> Vec<u8> {
    deb(
        "hello",
        version,
        tar_gz(&[
            (
                "./usr/bin/hello",
                format!("#!/bin/sh\necho hello {version}\n").as_bytes(),
                0o755,
            ),
            ("./bin/hello-compat", b"#!/bin/sh\n", 0o4755),
        ]),
    )
}

fn libgreet_deb() -> Vec<u8> {
    deb("libgreet", "1.0", tar_gz(&[("./usr/lib/libgreet.so.1", b"lib", 0o644)]))
}

fn debian_project(archive: &Archive) -> support::TestProject {
    let p = project(&archive.conf()).file("elements/README", "elements\n").build();
    fs::create_dir_all(p.root.join("keys")).unwrap();
    fs::write(p.root.join("keys/test.gpg"), archive.public_key()).unwrap();
    p
}

fn import(p: &support::TestProject, packages: &[&str]) -> support::Run {
    let mut args = vec![
        "import",
        "deb",
        "--suite",
        "test",
        "--keyring",
        "keys/test.gpg",
        "--into",
        "elements/base.bst",
    ];
    args.extend_from_slice(packages);
    p.forge(&args)
}

#[test]
fn a_signed_archive_is_imported_pinned_and_unpacked_without_scripts() {
    let archive = Archive::new();
    archive.publish(&[
        ("hello", "1.0-1", "libgreet (>= 1.0)", hello_deb("1.0-1")),
        ("hello", "1.0-2", "libgreet (>= 1.0) | nosuch", hello_deb("1.0-2")),
        ("libgreet", "1.0", "", libgreet_deb()),
    ]);
    let p = debian_project(&archive);
    let run = import(&p, &["hello"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let text = fs::read_to_string(p.root.join("elements/base.bst")).unwrap();
    assert!(text.contains(&format!("  package: hello\n  ref:\n    version: 1.0-2\n    filename: pool/main/hello_1.0-2_amd64.deb\n    sha256: {}\n", sha256(&hello_deb("1.0-2")))), "{text}");
    assert!(text.contains("  package: libgreet\n"), "the Depends closure: {text}");
    let run = p.forge(&["build", "base.bst"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let out = p.outside().join("out");
    p.forge(&["checkout", "base.bst", out.to_str().unwrap()]).ok();
    assert_eq!(
        fs::read_to_string(out.join("usr/bin/hello")).unwrap(),
        "#!/bin/sh\necho hello 1.0-2\n"
    );
    assert!(
        out.join("usr/bin/hello-compat").is_file(),
        "merged /usr: bin/ moved under usr/"
    );
    assert_eq!(fs::read_link(out.join("bin")).unwrap(), Path::new("usr/bin"));
    assert_eq!(fs::read(out.join("usr/lib/libgreet.so.1")).unwrap(), b"lib");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        fs::metadata(out.join("usr/bin/hello-compat"))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777,
        0o755,
        "no setuid"
    );
    assert!(
        !out.join("POSTINST-RAN").exists() && !Path::new("/POSTINST-RAN").exists(),
        "no maintainer script ran"
    );

    // track pins the same thing the import did, reading the signed index
    // once for all the packages of the suite, and downloading no package
    // it already holds under the index's hash.
    let before = fs::read_to_string(p.root.join("elements/base.bst")).unwrap();
    let release = archive.server.hits("/debian/dists/test/InRelease");
    let debs = archive.server.hits("/debian/pool/main/hello_1.0-2_amd64.deb");
    p.forge(&["track", "base.bst"]).ok();
    assert_eq!(fs::read_to_string(p.root.join("elements/base.bst")).unwrap(), before);
    assert_eq!(archive.server.hits("/debian/dists/test/InRelease"), release + 1);
    assert_eq!(archive.server.hits("/debian/pool/main/hello_1.0-2_amd64.deb"), debs);
}

#[test]
fn tampering_and_bad_signatures_pin_nothing() {
    let archive = Archive::new();
    let signed = archive.publish(&[("hello", "1.0-1", "", hello_deb("1.0-1"))]);
    let p = debian_project(&archive);
    let element = "kind: deb\nsources:\n- kind: deb\n  url: 'debian:'\n  suite: test\n  keyring: keys/test.gpg\n  package: hello\n";
    p.write("elements/base.bst", element);

    // A Packages index that is not the one the Release signs for.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(b"Package: hello\nVersion: 9.9\nFilename: pool/evil.deb\nSHA256: 00\n")
        .unwrap();
    archive.server.serve(
        "/debian/dists/test/main/binary-amd64/Packages.gz",
        &gz.finish().unwrap(),
    );
    let err = p.forge(&["track", "base.bst"]).fails(4);
    assert!(
        err.contains("the Packages index does not match the signed Release"),
        "{err}"
    );
    assert_eq!(fs::read_to_string(p.root.join("elements/base.bst")).unwrap(), element);

    // A Release changed after signing.
    archive.publish(&[("hello", "1.0-1", "", hello_deb("1.0-1"))]);
    let tampered = String::from_utf8(signed)
        .unwrap()
        .replace("Origin: forge-test", "Origin: forge-evil");
    archive
        .server
        .serve("/debian/dists/test/InRelease", tampered.as_bytes());
    let err = p.forge(&["track", "base.bst"]).fails(4);
    assert!(err.contains("the Release signature does not verify"), "{err}");

    // A keyring without the archive's key.
    archive.publish(&[("hello", "1.0-1", "", hello_deb("1.0-1"))]);
    let other = Archive::new();
    fs::write(p.root.join("keys/test.gpg"), other.public_key()).unwrap();
    let err = p.forge(&["track", "base.bst"]).fails(4);
    assert!(err.contains("the Release signature does not verify"), "{err}");
    assert_eq!(fs::read_to_string(p.root.join("elements/base.bst")).unwrap(), element);

    // A .deb that is not the pinned one.
    fs::write(p.root.join("keys/test.gpg"), archive.public_key()).unwrap();
    p.forge(&["track", "base.bst"]).ok();
    archive
        .server
        .serve("/debian/pool/main/hello_1.0-1_amd64.deb", &hello_deb("6.6.6"));
    let fresh = p.outside().join("fresh-cache");
    let err = p
        .forge(&["--cache-dir", fresh.to_str().unwrap(), "fetch", "base.bst"])
        .fails(4);
    assert!(
        err.contains(&format!("expected sha256 {}", sha256(&hello_deb("1.0-1")))),
        "{err}"
    );
}

#[test]
fn hostile_debs_are_refused() {
    let archive = Archive::new();
    let mut data = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::default(),
    ));
    let mut header = tar::Header::new_old();
    let name = b"./../../escaped";
    header.as_old_mut().name[..name.len()].copy_from_slice(name);
    header.set_size(1);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_cksum();
    data.append(&header, &b"x"[..]).unwrap();
    let evil = deb("evil", "1.0", data.into_inner().unwrap().finish().unwrap());
    archive.publish(&[("evil", "1.0", "", evil)]);
    let p = debian_project(&archive);
    import(&p, &["evil"]).ok();
    let err = p.forge(&["build", "base.bst"]).fails(5);
    assert!(err.contains("climbs out with '..'"), "{err}");
    assert!(!p.outside().join("escaped").exists());
}

#[test]
fn oci_images_are_accepted_by_skopeo_and_umoci_and_rebuild_identically() {
    if Command::new("skopeo").arg("--version").output().is_err()
        || Command::new("umoci").arg("--version").output().is_err()
    {
        panic!("skopeo and umoci are needed (apt-get install skopeo umoci; .ci/run installs them)");
    }
    let archive = Archive::new();
    archive.publish(&[("hello", "1.0-1", "", hello_deb("1.0-1"))]);
    let p = debian_project(&archive);
    import(&p, &["hello"]).ok();
    p.write(
        "elements/image.bst",
        "kind: oci-image\nbuild-depends:\n- base.bst\nconfig:\n  entrypoint: [/usr/bin/hello]\n  env: [PATH=/usr/bin]\n",
    );
    p.write("elements/tarball.bst", "kind: tar-image\nbuild-depends:\n- base.bst\n");
    p.forge(&["build", "image.bst", "tarball.bst"]).ok();
    let out = p.outside().join("oci");
    p.forge(&["checkout", "image.bst", "--deps", "none", out.to_str().unwrap()])
        .ok();
    let inspect = Command::new("skopeo")
        .arg("inspect")
        .arg(format!("oci:{}", out.display()))
        .output()
        .unwrap();
    assert!(inspect.status.success(), "{}", String::from_utf8_lossy(&inspect.stderr));
    let info: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
    assert_eq!(info["Architecture"], "amd64");
    assert_eq!(info["Env"], serde_json::json!(["PATH=/usr/bin"]));
    let bundle = p.outside().join("bundle");
    let unpack = Command::new("umoci")
        .args(["unpack", "--image"])
        .arg(format!("{}:latest", out.display()))
        .arg(&bundle)
        .output()
        .unwrap();
    assert!(unpack.status.success(), "{}", String::from_utf8_lossy(&unpack.stderr));
    assert_eq!(
        fs::read_to_string(bundle.join("rootfs/usr/bin/hello")).unwrap(),
        "#!/bin/sh\necho hello 1.0-1\n"
    );
    let config = fs::read_to_string(bundle.join("config.json")).unwrap();
    assert!(config.contains("/usr/bin/hello"), "{config}");

    // The same bytes from a clean cache.
    let tar_a = p.outside().join("a");
    p.forge(&["checkout", "tarball.bst", "--deps", "none", tar_a.to_str().unwrap()])
        .ok();
    let fresh = p.outside().join("fresh");
    p.forge(&[
        "--cache-dir",
        fresh.to_str().unwrap(),
        "build",
        "image.bst",
        "tarball.bst",
    ])
    .ok();
    let out2 = p.outside().join("oci2");
    p.forge(&[
        "--cache-dir",
        fresh.to_str().unwrap(),
        "checkout",
        "image.bst",
        "--deps",
        "none",
        out2.to_str().unwrap(),
    ])
    .ok();
    let tar_b = p.outside().join("b");
    p.forge(&[
        "--cache-dir",
        fresh.to_str().unwrap(),
        "checkout",
        "tarball.bst",
        "--deps",
        "none",
        tar_b.to_str().unwrap(),
    ])
    .ok();
    assert_eq!(
        fs::read(out.join("index.json")).unwrap(),
        fs::read(out2.join("index.json")).unwrap(),
        "identical manifest digest"
    );
    assert_eq!(
        fs::read(tar_a.join("image.tar.gz")).unwrap(),
        fs::read(tar_b.join("image.tar.gz")).unwrap()
    );
}

#[test]
fn release_with_a_detached_signature_works_too() {
    let mut archive = Archive::new();
    archive.detached = true;
    archive.publish(&[("hello", "2.0", "", hello_deb("2.0"))]);
    let p = debian_project(&archive);
    let run = import(&p, &["hello"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        fs::read_to_string(p.root.join("elements/base.bst"))
            .unwrap()
            .contains("    version: 2.0\n")
    );
    // A Release changed after signing is refused.
    archive
        .server
        .serve("/debian/dists/test/Release", b"Origin: evil\nSHA256:\n");
    let err = import(&p, &["hello"]).fails(4);
    assert!(err.contains("the Release signature does not verify"), "{err}");
}

#[test]
fn the_demo_project_loads_with_every_source_pinned() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let cache = tempfile::tempdir().unwrap();
    let output = Command::new(assert_cmd::cargo::cargo_bin("forge"))
        .current_dir(&root)
        .env("FORGE_CACHE_DIR", cache.path())
        .args(["show", "--format", "%{name}|%{state}|%{kind}", "app.bst", "image.bst"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let listing = String::from_utf8(output.stdout).unwrap();
    assert!(
        !listing.contains("no reference"),
        "every source of the demo is pinned:\n{listing}"
    );
    for element in [
        "base.bst|fetch needed|deb",
        "python/click.bst|fetch needed|pip",
        "app.bst|waiting|pyproject",
        "image.bst|waiting|oci-image",
    ] {
        assert!(
            listing.lines().any(|l| l == element),
            "{element} missing from:\n{listing}"
        );
    }
}
