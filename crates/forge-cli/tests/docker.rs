//! `docker` sources (buildstream-plugins) against a registry the test
//! runs on 127.0.0.1: tracked through a multi-platform index, fetched
//! behind a bearer token, every layer checked, staged with whiteouts.

mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt;

use support::archive::tar_gz;
use support::registry::Registry;
use support::{CONF, project};

const PLUGINS: &str = "plugins:
- origin: pip
  package-name: buildstream-plugins
  sources: [docker]
";

fn element(registry: &Registry, extra: &str) -> String {
    format!(
        "kind: import\nsources:\n- kind: docker\n  registry-url: {}\n  image: team/app\n{extra}",
        registry.base
    )
}

fn image_project(registry: &Registry, extra: &str) -> support::TestProject {
    project(&format!("{CONF}{PLUGINS}"))
        .file("elements/image.bst", &element(registry, extra))
        .build()
}

/// Two layers: the second hides a file and empties a directory of the
/// first; a `dev/` entry is left out, as the plugin leaves it.
fn two_layer_image(registry: &Registry) -> String {
    let lower = tar_gz(&[
        ("etc/motd", b"welcome\n", 0o644),
        ("etc/hostname", b"box\n", 0o644),
        ("usr/bin/tool", b"#!/bin/sh\necho tool\n", 0o755),
        ("var/cache/old-a", b"a", 0o644),
        ("var/cache/old-b", b"b", 0o644),
        ("dev/console", b"not a device", 0o644),
    ]);
    let upper = tar_gz(&[
        ("etc/.wh.motd", b"", 0o644),
        // Before the opaque marker of its directory: still this layer's.
        ("var/cache/new", b"fresh", 0o644),
        ("var/cache/.wh..wh..opq", b"", 0o644),
        ("usr/bin/other", b"#!/bin/sh\n", 0o755),
    ]);
    registry.image("team/app", None, &[lower, upper])
}

#[test]
fn an_image_is_tracked_through_its_index_fetched_behind_a_token_and_staged_with_whiteouts() {
    let registry = Registry::start();
    let amd64 = two_layer_image(&registry);
    let arm64 = registry.image("team/app", None, &[tar_gz(&[("arm", b"arm", 0o644)])]);
    registry.index(
        "team/app",
        Some("latest"),
        &[("arm64", "linux", &arm64), ("amd64", "linux", &amd64)],
    );
    let p = image_project(&registry, "  track: latest\n  architecture: amd64\n  os: linux\n");
    assert_eq!(p.show("%{state}", &["image.bst"]), "no reference\n");

    let run = p.forge(&["track", "image.bst"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        fs::read_to_string(p.root.join("elements/image.bst"))
            .unwrap()
            .contains(&format!("  ref: {amd64}\n")),
        "the amd64 image is pinned"
    );
    assert!(registry.hits("/token") >= 1, "a token was asked for");

    let run = p.forge(&["fetch", "image.bst"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let out = p.outside().join("staged");
    p.forge(&["source", "checkout", "image.bst", out.to_str().unwrap()])
        .ok();
    assert!(!out.join("etc/motd").exists(), "hidden by the upper layer");
    assert_eq!(fs::read_to_string(out.join("etc/hostname")).unwrap(), "box\n");
    assert_eq!(
        fs::metadata(out.join("usr/bin/tool")).unwrap().permissions().mode() & 0o777,
        0o755
    );
    assert!(out.join("usr/bin/other").is_file());
    let cache: Vec<String> = fs::read_dir(out.join("var/cache"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(cache, ["new"], "the opaque whiteout emptied what was below");
    assert!(!out.join("dev").exists());
    assert!(!out.join("arm").exists());

    // Built and checked out, then fetched again: nothing is downloaded.
    p.forge(&["build", "image.bst"]).ok();
    let built = p.outside().join("built");
    p.forge(&["checkout", "image.bst", built.to_str().unwrap()]).ok();
    assert_eq!(support::listing(&built), support::listing(&out));
    let blobs_before = registry.hits(&format!("/v2/team/app/manifests/sha256:{amd64}"));
    p.forge(&["fetch", "image.bst"]).ok();
    assert_eq!(
        registry.hits(&format!("/v2/team/app/manifests/sha256:{amd64}")),
        blobs_before
    );
}

#[test]
fn what_a_registry_gets_wrong_is_refused_and_nothing_is_kept() {
    let registry = Registry::start();
    let layer = tar_gz(&[("file", b"the real bytes, long enough to corrupt", 0o644)]);
    let image = registry.image("team/app", Some("v1"), std::slice::from_ref(&layer));
    let layer_sha = support::sha256_hex(&layer);
    registry.corrupt(&layer_sha);
    let p = image_project(&registry, &format!("  ref: {image}\n"));
    let err = p.forge(&["fetch", "image.bst"]).fails(4);
    assert!(
        err.contains(&format!("cannot fetch layer sha256:{layer_sha}")) && err.contains("wrong content"),
        "{err}"
    );
    let out = p.outside().join("nothing");
    let err = p
        .forge(&["source", "checkout", "image.bst", out.to_str().unwrap()])
        .fails(4);
    assert!(err.contains("not in the source cache"), "{err}");

    // A manifest whose claimed digest is not its own.
    let liar = registry.image("team/app", None, &[tar_gz(&[("x", b"x", 0o644)])]);
    registry.lie_about(&liar);
    p.write("elements/image.bst", &element(&registry, &format!("  ref: {liar}\n")));
    let err = p.forge(&["fetch", "image.bst"]).fails(4);
    assert!(err.contains("says its digest is sha256:0000"), "{err}");

    // An index pinned where an image belongs, and a platform it lacks.
    let index = registry.index("team/app", Some("multi"), &[("amd64", "linux", &image)]);
    p.write("elements/image.bst", &element(&registry, &format!("  ref: {index}\n")));
    let err = p.forge(&["fetch", "image.bst"]).fails(4);
    assert!(err.contains("is a multi-platform index, not an image"), "{err}");
    p.write(
        "elements/image.bst",
        &element(&registry, "  track: multi\n  architecture: riscv64\n"),
    );
    let err = p.forge(&["track", "image.bst"]).fails(4);
    assert!(err.contains("has no image for riscv64/linux"), "{err}");
}

#[test]
fn an_aliased_url_is_pulled_through_the_aliases_mirror_as_freedesktop_sdk_writes_it() {
    // freedesktop-sdk's binary seed: `url: fdsdk_registry:…`, the registry
    // being the URL's host and the image its path.
    let mirror = Registry::start();
    let image = two_layer_image(&mirror);
    let gone = format!("http://127.0.0.1:{}/", support::server::free_port());
    let conf = format!(
        "{CONF}{PLUGINS}aliases:\n  reg: {gone}\nmirrors:\n- name: near\n  aliases:\n    reg:\n    - {}/\n",
        mirror.base
    );
    let p = project(&conf)
        .file(
            "elements/image.bst",
            &format!(
                "kind: import\nsources:\n- kind: docker\n  url: reg:team/app\n  architecture: amd64\n  ref: {image}\n"
            ),
        )
        .build();
    let run = p.forge(&["fetch", "image.bst"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(mirror.hits(&format!("/v2/team/app/manifests/sha256:{image}")) >= 1);
    let out = p.outside().join("staged");
    p.forge(&["source", "checkout", "image.bst", out.to_str().unwrap()])
        .ok();
    assert_eq!(fs::read_to_string(out.join("var/cache/new")).unwrap(), "fresh");
    // The source's SBOM entry names the image by its digest.
    let sbom = p.forge(&["sbom", "image.bst"]).ok();
    assert!(sbom.contains(&format!("sha256:{image}")), "{sbom}");
}

#[test]
fn hostile_images_are_refused_and_write_nothing_outside() {
    let registry = Registry::start();
    // A layer that climbs out of the staging directory.
    let mut escape = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast()));
    let mut header = tar::Header::new_gnu();
    header.set_size(4);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    // `set_path` refuses `..`: the name is written into the header as is.
    header.as_gnu_mut().unwrap().name[..13].copy_from_slice(b"../escaped.tx");
    header.set_cksum();
    escape.append(&header, &b"evil"[..]).unwrap();
    let escape = escape.into_inner().unwrap().finish().unwrap();
    let image = registry.image("team/app", None, &[escape]);
    let p = image_project(&registry, &format!("  ref: {image}\n"));
    p.forge(&["fetch", "image.bst"]).ok();
    let out = p.outside().join("deep/staged");
    let err = p
        .forge(&["source", "checkout", "image.bst", out.to_str().unwrap()])
        .fails(4);
    assert!(err.contains("climbs out with '..'"), "{err}");
    assert!(!p.outside().join("deep/escaped.tx").exists());

    // A "manifest" of 5 MiB is not read whole.
    let huge = format!("{{\"schemaVersion\":2,\"pad\":\"{}\"}}", "x".repeat(5 << 20));
    let big = registry.manifest("team/app", None, "application/vnd.oci.image.manifest.v1+json", &huge);
    p.write("elements/image.bst", &element(&registry, &format!("  ref: {big}\n")));
    let err = p.forge(&["fetch", "image.bst"]).fails(4);
    assert!(err.contains("larger than 4194304 bytes: not a manifest"), "{err}");
    // A layer type forge does not unpack is named.
    let odd = registry.manifest(
        "team/app",
        None,
        "application/vnd.oci.image.manifest.v1+json",
        &format!(
            "{{\"schemaVersion\":2,\"layers\":[{{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+zstd\",\"digest\":\"sha256:{}\",\"size\":1}}]}}",
            "a".repeat(64)
        ),
    );
    p.write("elements/image.bst", &element(&registry, &format!("  ref: {odd}\n")));
    let err = p.forge(&["fetch", "image.bst"]).fails(4);
    assert!(
        err.contains("layer type 'application/vnd.oci.image.layer.v1.tar+zstd' is not one forge unpacks"),
        "{err}"
    );
}

#[test]
fn an_image_pushed_to_a_source_cache_is_pulled_from_it_with_the_registry_gone() {
    let registry = Registry::start();
    let manifest = two_layer_image(&registry);
    let p = image_project(&registry, &format!("  ref: {manifest}\n"));
    p.forge(&["fetch", "image.bst"]).ok();
    let first = p.outside().join("first");
    p.forge(&["source", "checkout", "image.bst", first.to_str().unwrap()])
        .ok();

    // Fetched before a source cache was configured: pushed afterwards.
    let server = support::casd::Casd::start(&p.outside().join("casd"));
    let config = support::casd::source_cache_config(p.outside(), &server);
    let run = p.forge(&["--config", &config, "source", "push", "image.bst"]);
    assert!(
        run.stderr
            .contains("source push: 1 offered, 0 not in the source cache, 0 failed"),
        "{}",
        run.stderr
    );
    drop(registry);
    let alone = p.outside().join("alone");
    p.forge(&["--cache-dir", alone.to_str().unwrap(), "fetch", "image.bst"])
        .fails(4);
    let other = p.outside().join("other");
    let other = other.to_str().unwrap();
    p.forge(&["--config", &config, "--cache-dir", other, "fetch", "image.bst"])
        .ok();
    let second = p.outside().join("second");
    p.forge(&[
        "--cache-dir",
        other,
        "source",
        "checkout",
        "image.bst",
        second.to_str().unwrap(),
    ])
    .ok();
    assert_eq!(support::listing(&second), support::listing(&first));
}
