//! `forge sbom`: the bill of materials of a closure (a wheel from a
//! loopback index, a `.deb` from a loopback archive, a git repository, a
//! tarball and a local directory) as SPDX 2.3, the same bytes for the same
//! pins, checked by the SPDX project's own validator and by the NTIA
//! minimum-elements checker where `.ci/run` installs them.

mod support;

use std::fs;

use serde_json::Value;
use support::archive::{self, tar_gz};
use support::http::Server;
use support::pypi::{conf, publish, sha256, wheel_with_metadata};
use support::{git, project};

/// A `.deb` of `package` whose control names its maintainer, with a
/// machine-readable copyright file (DEP-5) of two licenses.
fn deb_of(package: &str, version: &str, maintainer: &str) -> Vec<u8> {
    let control = format!("Package: {package}\nVersion: {version}\nArchitecture: amd64\nMaintainer: {maintainer}\n");
    let control = tar_gz(&[("./control", control.as_bytes(), 0o644)]);
    let copyright = "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\
        Upstream-Name: gcc\n\nFiles: *\nCopyright: FSF\nLicense: GPL-3+\n\n\
        Files: libiberty/*\nCopyright: FSF\nLicense: LGPL-2.1+\n\n\
        License: GPL-3+\n The text.\n";
    let data = tar_gz(&[
        (&format!("./usr/lib/{package}.so"), b"\x7fELF" as &[u8], 0o644),
        (
            &format!("./usr/share/doc/{package}/copyright"),
            copyright.as_bytes(),
            0o644,
        ),
    ]);
    archive::deb(&control, "data.tar.gz", &data)
}

struct Fixture {
    project: support::TestProject,
    server: Server,
    wheel_sha: String,
    deb_sha: String,
    tar_sha: String,
    commit: String,
}

fn fixture() -> Fixture {
    let server = Server::start();
    let wheel = wheel_with_metadata(
        "click",
        "8.1.7",
        &[("click/__init__.py", "")],
        None,
        "Author-email: Pallets <contact@palletsprojects.com>\nLicense-Expression: BSD-3-Clause\n",
    );
    publish(
        &server,
        "click",
        &[("click-8.1.7-py3-none-any.whl", &wheel, false)],
        true,
    );
    let deb = deb_of(
        "libstdc++6",
        "12.2.0-14+deb12u1",
        "Debian GCC Maintainers <debian-gcc@lists.debian.org>",
    );
    let deb_path = "pool/main/g/gcc-12/libstdc++6_12.2.0-14+deb12u1_amd64.deb";
    server.serve(&format!("/debian/{deb_path}"), &deb);
    let tarball = tar_gz(&[("tool-1.2.3/README", b"a tool\n", 0o644)]);
    server.serve("/files/tool-1.2.3.tar.gz", &tarball);

    let conf = format!(
        "{}  debian: {}/debian/\n  files: {}/files/\nsource-provenance-attributes:\n  supplier: who supplies the source\n",
        conf(&server),
        server.base,
        server.base
    );
    let p = project(&conf)
        .file(
            "elements/click.bst",
            &format!(
                "kind: pip\nsources:\n- kind: pypi\n  url: pypi:simple/\n  name: click\n  ref:\n    version: 8.1.7\n    filename: click-8.1.7-py3-none-any.whl\n    sha256: {}\n",
                sha256(&wheel)
            ),
        )
        .file(
            "elements/libstdc.bst",
            &format!(
                "kind: deb\nsources:\n- kind: deb\n  url: 'debian:'\n  suite: bookworm\n  arch: amd64\n  keyring: keys/archive.gpg\n  package: libstdc++6\n  ref:\n    version: 12.2.0-14+deb12u1\n    filename: {deb_path}\n    sha256: {}\n",
                sha256(&deb)
            ),
        )
        .file(
            "elements/tool.bst",
            &format!(
                "kind: import\nsources:\n- kind: tar\n  url: files:tool-1.2.3.tar.gz\n  ref: {}\n  provenance:\n    supplier: Tool Authors <tools@example.org>\n    homepage: https://tool.example.org/\n",
                sha256(&tarball)
            ),
        )
        .file("files/app/hello.txt", "hello\n")
        .file("keys/archive.gpg", "")
        .build();
    let repo = p.outside().join("lib-repo");
    git::init(&repo);
    let commit = git::commit(&repo, "lib.c", "int lib;\n");
    p.write(
        "elements/lib.bst",
        &format!(
            "kind: import\nsources:\n- kind: git\n  url: file://{}\n  ref: {commit}\n  provenance:\n    supplier: Jane Doe <jane@example.org>\n",
            repo.display()
        ),
    );
    p.write(
        "elements/app.bst",
        "kind: import\nsources:\n- kind: local\n  path: files/app\ndepends:\n- click.bst\n- libstdc.bst\n- tool.bst\n- lib.bst\n",
    );
    Fixture {
        wheel_sha: sha256(&wheel),
        deb_sha: sha256(&deb),
        tar_sha: sha256(&tarball),
        commit,
        project: p,
        server,
    }
}

/// The package named `name` in `doc`.
fn package<'d>(doc: &'d Value, name: &str) -> &'d Value {
    doc["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no package {name} in {doc:#}"))
}

/// `SUBJECT RELATION OBJECT` for each relationship, by package names.
fn relations(doc: &Value) -> Vec<String> {
    let name_of = |id: &Value| -> String {
        if id == "SPDXRef-DOCUMENT" {
            return "document".into();
        }
        let p = doc["packages"].as_array().unwrap().iter().find(|p| &p["SPDXID"] == id);
        p.map_or_else(|| format!("unknown {id}"), |p| p["name"].as_str().unwrap().to_string())
    };
    doc["relationships"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{} {} {}",
                name_of(&r["spdxElementId"]),
                r["relationshipType"].as_str().unwrap(),
                name_of(&r["relatedSpdxElement"])
            )
        })
        .collect()
}

#[test]
fn a_closure_is_described_with_its_pins_package_urls_and_suppliers() {
    let f = fixture();
    let p = &f.project;
    // Before the fetch, the packages' suppliers are not known, and that is said.
    let run = p.forge(&["sbom", "app.bst"]);
    assert!(
        run.code == 0 && run.stderr.contains("note: the supplier of 2 packages is not known"),
        "{}",
        run.stderr
    );
    p.forge(&["fetch", "--deps", "all", "app.bst"]).ok();
    let out = p.outside().join("app.spdx.json");
    let run = p.forge(&["sbom", "app.bst", "--output", out.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!run.stderr.contains("not known"), "{}", run.stderr);
    let text = fs::read_to_string(&out).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["spdxVersion"], "SPDX-2.3");
    assert_eq!(doc["name"], "test/app.bst");
    assert_eq!(
        doc["documentNamespace"],
        format!("https://forge.build/spdx/test/app.bst/{}", p.key("app.bst"))
    );
    // BuildStream's SOURCE_DATE_EPOCH, as the target's environment has it.
    assert_eq!(doc["creationInfo"]["created"], "2011-11-11T11:11:11Z");

    let click = package(&doc, "click");
    assert_eq!(click["versionInfo"], "8.1.7");
    assert_eq!(click["checksums"][0]["checksumValue"], f.wheel_sha);
    assert_eq!(click["externalRefs"][0]["referenceLocator"], "pkg:pypi/click@8.1.7");
    assert_eq!(click["supplier"], "Organization: Pallets (contact@palletsprojects.com)");
    assert_eq!(click["licenseDeclared"], "BSD-3-Clause", "PEP 639's License-Expression");
    let libstdc = package(&doc, "libstdc++6");
    assert_eq!(libstdc["checksums"][0]["checksumValue"], f.deb_sha);
    assert_eq!(
        libstdc["externalRefs"][0]["referenceLocator"],
        "pkg:deb/debian/libstdc%2B%2B6@12.2.0-14%2Bdeb12u1?arch=amd64&distro=bookworm"
    );
    assert_eq!(
        libstdc["supplier"],
        "Organization: Debian GCC Maintainers (debian-gcc@lists.debian.org)"
    );
    assert_eq!(
        libstdc["licenseDeclared"], "GPL-3.0-or-later AND LGPL-2.1-or-later",
        "the copyright file's licenses, in SPDX's names"
    );
    assert_eq!(
        fs::read_to_string(p.outside().join(format!("cache/sources/facts/{}.license", f.deb_sha))).unwrap(),
        "GPL-3.0-or-later AND LGPL-2.1-or-later",
        "remembered: the package is not inflated again"
    );
    assert!(
        libstdc["downloadLocation"]
            .as_str()
            .unwrap()
            .ends_with("/debian/pool/main/g/gcc-12/libstdc++6_12.2.0-14+deb12u1_amd64.deb")
    );
    let tool = package(&doc, "tool-1.2.3.tar.gz");
    assert_eq!(tool["versionInfo"], "1.2.3");
    assert_eq!(tool["checksums"][0]["checksumValue"], f.tar_sha);
    // What the project says of a source, through its provenance.
    assert_eq!(tool["supplier"], "Organization: Tool Authors (tools@example.org)");
    assert_eq!(tool["homepage"], "https://tool.example.org/");
    assert_eq!(
        package(&doc, "app")["supplier"],
        "Organization: test",
        "the project's own files"
    );
    let lib = package(&doc, "lib-repo");
    assert_eq!(lib["supplier"], "Person: Jane Doe (jane@example.org)");
    assert!(lib["sourceInfo"].as_str().unwrap().contains(&f.commit), "{lib}");
    assert_eq!(
        lib["downloadLocation"], "NOASSERTION",
        "a file:// repository is nowhere to download from"
    );

    let relations = relations(&doc);
    for expected in [
        "document DESCRIBES app.bst",
        "app.bst DEPENDS_ON click.bst",
        "app.bst DEPENDS_ON lib.bst",
        "click.bst CONTAINS click",
        "libstdc.bst CONTAINS libstdc++6",
        "lib.bst CONTAINS lib-repo",
        "app.bst CONTAINS app",
    ] {
        assert!(relations.contains(&expected.to_string()), "{expected}: {relations:#?}");
    }

    // The same pins, the same bytes.
    let again = p.forge(&["sbom", "app.bst"]).ok();
    assert_eq!(again, text);
    // SOURCE_DATE_EPOCH where forge runs decides the time.
    let cache = p.outside().join("cache");
    let at_zero = p
        .process(&cache)
        .env("SOURCE_DATE_EPOCH", "0")
        .args(["sbom", "app.bst"])
        .output()
        .unwrap();
    let at_zero: Value = serde_json::from_slice(&at_zero.stdout).unwrap();
    assert_eq!(at_zero["creationInfo"]["created"], "1970-01-01T00:00:00Z");
    let bad = p
        .process(&cache)
        .env("SOURCE_DATE_EPOCH", "yesterday")
        .args(["sbom", "app.bst"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("the environment's SOURCE_DATE_EPOCH is 'yesterday'"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );

    // The SPDX project's validator and the NTIA minimum elements agree.
    // The same closure as CycloneDX 1.6.
    let cyclonedx_out = p.forge(&["sbom", "app.bst", "--format", "cyclonedx"]).ok();
    let cyclonedx: Value = serde_json::from_str(&cyclonedx_out).unwrap();
    assert_eq!(cyclonedx["specVersion"], "1.6");
    assert_eq!(cyclonedx["metadata"]["component"]["bom-ref"], "element:app.bst");
    assert_eq!(cyclonedx["metadata"]["timestamp"], "2011-11-11T11:11:11Z");
    let components = cyclonedx["components"].as_array().unwrap();
    let click = components.iter().find(|c| c["name"] == "click").unwrap();
    assert_eq!(click["purl"], "pkg:pypi/click@8.1.7");
    assert_eq!(click["hashes"][0]["content"], f.wheel_sha);
    assert_eq!(click["supplier"]["name"], "Pallets");
    assert_eq!(click["licenses"][0]["expression"], "BSD-3-Clause");
    let app_needs = cyclonedx["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["ref"] == "element:app.bst")
        .unwrap()["dependsOn"]
        .clone();
    assert!(
        app_needs
            .as_array()
            .unwrap()
            .contains(&Value::from("element:click.bst")),
        "{app_needs}"
    );
    assert_eq!(
        p.forge(&["sbom", "app.bst", "--format", "cyclonedx"]).ok(),
        cyclonedx_out
    );

    let Some(tools) = std::env::var_os("FORGE_TEST_SBOM_TOOLS") else {
        eprintln!("skipped the validators: set FORGE_TEST_SBOM_TOOLS to a venv's bin (.ci/run does)");
        return;
    };
    let tools = std::path::PathBuf::from(tools);
    let check = |program: &str, args: &[&str]| {
        let out = std::process::Command::new(tools.join(program))
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("{program}: {e}"));
        assert!(
            out.status.success(),
            "{program}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    // spdx-tools takes only URLs with a domain name: the loopback
    // server's are given one.
    let named = p.outside().join("named.spdx.json");
    fs::write(&named, text.replace(&f.server.base, "https://mirror.example.org")).unwrap();
    check("pyspdxtools", &["-i", named.to_str().unwrap()]);
    check("sbomcheck", &[named.to_str().unwrap()]);
    // And the validator is not one that passes anything.
    let broken = p.outside().join("broken.spdx.json");
    fs::write(
        &broken,
        fs::read_to_string(&named).unwrap().replace("\"SHA256\"", "\"SHA-256\""),
    )
    .unwrap();
    let out = std::process::Command::new(tools.join("pyspdxtools"))
        .args(["-i", broken.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success(), "a wrong checksum algorithm is refused");
    // CycloneDX's own schema, strictly; a wrong hash name is refused.
    let validate = |text: &str| -> String {
        let script = "import sys\n\
            from cyclonedx.validation.json import JsonStrictValidator\n\
            from cyclonedx.schema import SchemaVersion\n\
            print(JsonStrictValidator(SchemaVersion.V1_6).validate_str(sys.stdin.read()))\n";
        let mut child = std::process::Command::new(tools.join("python3"))
            .args(["-c", script])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write as _;
        child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(validate(&cyclonedx_out), "None");
    assert_ne!(validate(&cyclonedx_out.replace("\"SHA-256\"", "\"SHA256\"")), "None");
}

#[test]
fn an_unknown_target_an_unpinned_source_or_an_undeclared_provenance_says_so() {
    let f = fixture();
    let p = &f.project;
    p.write(
        "elements/told.bst",
        "kind: import\nsources:\n- kind: local\n  path: files/app\n  provenance:\n    licence: MIT\n",
    );
    let err = p.forge(&["show", "told.bst"]).fails(3);
    assert!(
        err.contains("told.bst:6:5: unknown provenance attribute 'licence'")
            && err.contains("the project allows homepage, issue-tracker, supplier"),
        "{err}"
    );
    let err = p.forge(&["sbom", "nothing.bst"]).fails(3);
    assert!(err.contains("nothing.bst"), "{err}");
    p.write(
        "elements/unpinned.bst",
        "kind: import\nsources:\n- kind: tar\n  url: files:tool-1.2.3.tar.gz\n",
    );
    let err = p.forge(&["sbom", "unpinned.bst"]).fails(2);
    assert!(
        err.contains("unpinned.bst has sources without a pin: run `forge track` first"),
        "{err}"
    );
    // Nothing was written where the document was asked for.
    let out = p.outside().join("unpinned.json");
    p.forge(&["sbom", "unpinned.bst", "--output", out.to_str().unwrap()])
        .fails(2);
    assert!(!out.exists());
    let err = p
        .forge(&["sbom", "click.bst", "--output", "/nonexistent/dir/x.json"])
        .fails(2);
    assert!(err.contains("cannot write /nonexistent/dir/x.json"), "{err}");
}

/// An ed25519 key pair made with ssh-keygen in `dir`, and an
/// allowed_signers file naming its public half `identity`.
fn ssh_key(dir: &std::path::Path, identity: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    fs::create_dir_all(dir).unwrap();
    let key = dir.join("id_ed25519");
    let status = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", identity, "-f"])
        .arg(&key)
        .status()
        .expect("ssh-keygen (openssh-client; .ci/run installs it)");
    assert!(status.success());
    let public = fs::read_to_string(key.with_extension("pub")).unwrap();
    let mut words = public.split_whitespace();
    let allowed = dir.join("allowed_signers");
    fs::write(
        &allowed,
        format!("{identity} {} {}\n", words.next().unwrap(), words.next().unwrap()),
    )
    .unwrap();
    (key, allowed)
}

#[test]
fn provenance_names_the_built_artifact_and_every_pin_signed_with_an_ssh_key() {
    let f = fixture();
    let p = &f.project;
    let err = p.forge(&["provenance", "write", "app.bst"]).fails(2);
    assert!(
        err.contains("app.bst is not built in this cache: run `forge build app.bst` first"),
        "{err}"
    );
    p.forge(&["build", "app.bst"]).ok();

    let statement: Value = serde_json::from_str(&p.forge(&["provenance", "write", "app.bst"]).ok()).unwrap();
    assert_eq!(statement["_type"], "https://in-toto.io/Statement/v1");
    assert_eq!(statement["predicateType"], "https://slsa.dev/provenance/v1");
    let subject = &statement["subject"][0];
    assert_eq!(subject["name"], "test/app.bst");
    // The subject is the artifact's root Directory, as the cache holds it.
    let root = subject["digest"]["sha256"].as_str().unwrap();
    let object = p.outside().join("cache/cas/objects").join(&root[..2]).join(&root[2..]);
    let bytes = fs::read(&object).unwrap();
    assert_eq!(sha256(&bytes), root);
    assert_eq!(subject["annotations"]["sizeBytes"], bytes.len());
    let predicate = &statement["predicate"];
    assert_eq!(
        predicate["buildDefinition"]["internalParameters"]["cacheKey"],
        p.key("app.bst")
    );
    let pins: Vec<String> = predicate["buildDefinition"]["resolvedDependencies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["digest"].to_string())
        .collect();
    for pin in [
        format!("{{\"sha256\":\"{}\"}}", f.wheel_sha),
        format!("{{\"sha256\":\"{}\"}}", f.deb_sha),
        format!("{{\"sha256\":\"{}\"}}", f.tar_sha),
        format!("{{\"gitCommit\":\"{}\"}}", f.commit),
    ] {
        assert!(pins.contains(&pin), "{pin}: {pins:#?}");
    }
    // The same artifact and pins, the same statement.
    let first = p.forge(&["provenance", "write", "app.bst"]).ok();
    assert_eq!(p.forge(&["provenance", "write", "app.bst"]).ok(), first);

    // An image is also named by its manifest's digest, as skopeo reports it.
    p.write(
        "elements/image.bst",
        "kind: oci-image\nbuild-depends:\n- app.bst\nconfig:\n  tag: '1.0'\n",
    );
    p.forge(&["build", "image.bst"]).ok();
    let image: Value = serde_json::from_str(&p.forge(&["provenance", "write", "image.bst"]).ok()).unwrap();
    let layout = p.outside().join("image");
    p.forge(&["checkout", "image.bst", layout.to_str().unwrap()]).ok();
    let manifest = std::process::Command::new("skopeo")
        .args(["inspect", "--raw", &format!("oci:{}", layout.display())])
        .output()
        .expect("skopeo (.ci/run installs it)");
    assert!(
        manifest.status.success(),
        "{}",
        String::from_utf8_lossy(&manifest.stderr)
    );
    assert_eq!(image["subject"][1]["name"], "test/image.bst:1.0");
    assert_eq!(image["subject"][1]["digest"]["sha256"], sha256(&manifest.stdout));

    // Signed with an SSH key, verified against allowed_signers.
    let (key, allowed) = ssh_key(&p.outside().join("keys"), "builder@example.org");
    let envelope = p.outside().join("app.intoto.json");
    let run = p.forge(&[
        "provenance",
        "write",
        "app.bst",
        "--key",
        key.to_str().unwrap(),
        "--output",
        envelope.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let verify = |file: &std::path::Path, identity: &str| {
        p.forge(&[
            "provenance",
            "verify",
            file.to_str().unwrap(),
            "--allowed-signers",
            allowed.to_str().unwrap(),
            "--identity",
            identity,
        ])
    };
    let out = verify(&envelope, "builder@example.org").ok();
    assert!(
        out.contains("signed by builder@example.org") && out.contains(&format!("subject: test/app.bst sha256:{root}")),
        "{out}"
    );
    let err = verify(&envelope, "someone@example.org").fails(6);
    assert!(err.contains("no signature verifies for someone@example.org"), "{err}");
    // A checkout of the artifact is the subject, file for file; one
    // changed byte, or one more file, is not.
    let checkout = p.outside().join("app-checkout");
    p.forge(&["checkout", "--deps", "none", "app.bst", checkout.to_str().unwrap()])
        .ok();
    let with_checkout = |dir: &std::path::Path| {
        p.forge(&[
            "provenance",
            "verify",
            envelope.to_str().unwrap(),
            "--allowed-signers",
            allowed.to_str().unwrap(),
            "--identity",
            "builder@example.org",
            "--checkout",
            dir.to_str().unwrap(),
        ])
    };
    let out = with_checkout(&checkout).ok();
    assert!(out.contains("app-checkout is that artifact, file for file"), "{out}");
    let copy = p.outside().join("app-copy");
    assert!(
        std::process::Command::new("cp")
            .arg("-a")
            .arg(&checkout)
            .arg(&copy)
            .status()
            .unwrap()
            .success()
    );
    fs::write(copy.join("extra"), "slipped in").unwrap();
    let err = with_checkout(&copy).fails(6);
    assert!(err.contains("is not the artifact the statement names"), "{err}");
    // A statement changed after signing is refused.
    let mut signed: Value = serde_json::from_str(&fs::read_to_string(&envelope).unwrap()).unwrap();
    let changed = statement.to_string().replace(root, &"0".repeat(64));
    use base64::Engine as _;
    signed["payload"] = Value::from(base64::engine::general_purpose::STANDARD.encode(changed));
    let tampered = p.outside().join("tampered.json");
    fs::write(&tampered, signed.to_string()).unwrap();
    let err = verify(&tampered, "builder@example.org").fails(6);
    assert!(err.contains("incorrect signature"), "{err}");
    // What is not a signed envelope says what it is instead.
    let bare = p.outside().join("bare.json");
    fs::write(&bare, &first).unwrap();
    let err = verify(&bare, "builder@example.org").fails(6);
    assert!(err.contains("not an in-toto envelope"), "{err}");
    let garbage = p.outside().join("garbage.json");
    fs::write(&garbage, "\u{1b}[31mnot json").unwrap();
    let err = verify(&garbage, "builder@example.org").fails(2);
    assert!(
        err.contains("garbage.json: not JSON") && !err.contains('\u{1b}'),
        "{err}"
    );
    let mut unsigned = signed.clone();
    unsigned["signatures"] = Value::Array(Vec::new());
    fs::write(&garbage, unsigned.to_string()).unwrap();
    let err = verify(&garbage, "builder@example.org").fails(6);
    assert!(err.contains("the envelope is not signed"), "{err}");
    let err = p
        .forge(&["provenance", "write", "app.bst", "--key", "/nonexistent/key"])
        .fails(2);
    assert!(err.contains("cannot sign with /nonexistent/key"), "{err}");

    // in-toto's own bindings read the statement strictly.
    let Some(tools) = std::env::var_os("FORGE_TEST_SBOM_TOOLS") else {
        eprintln!("skipped in-toto's parser: set FORGE_TEST_SBOM_TOOLS (.ci/run does)");
        return;
    };
    let script = "import json, sys\n\
        from google.protobuf import json_format\n\
        from in_toto_attestation.v1 import statement_pb2\n\
        from in_toto_attestation.v1.statement import Statement\n\
        from in_toto_attestation.predicates.provenance.v1 import provenance_pb2\n\
        d = json.load(sys.stdin)\n\
        s = json_format.ParseDict(d, statement_pb2.Statement(), ignore_unknown_fields=False)\n\
        Statement.copy_from_pb(s).validate()\n\
        json_format.ParseDict(d['predicate'], provenance_pb2.Provenance(), ignore_unknown_fields=False)\n";
    let parse = |text: String| {
        let mut child = std::process::Command::new(std::path::Path::new(&tools).join("python3"))
            .args(["-c", script])
            .stdin(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write as _;
        child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    };
    let out = parse(statement.to_string());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = parse(statement.to_string().replace("buildType", "buildtype"));
    assert!(!out.status.success(), "a misspelt field is refused");
}
