//! BuildStream compatibility without BuildStream: `forge show` must print
//! exactly what `bst show` printed on the fixture projects, as recorded in
//! `tests/fixtures/*/bst-show.golden` by `tests/compat/compare-with-bst.sh
//! --record` (BuildStream 2.8.1, buildstream-plugins 2.8.0).

use std::path::{Path, PathBuf};

use assert_cmd::Command;

struct Case {
    options: String,
    deps: String,
    format: String,
    expected: String,
}

fn parse_golden(text: &str) -> Vec<Case> {
    let mut cases = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let mut header = |prefix: &str| -> String {
            let (line, tail) = rest.split_once('\n').expect("golden header line");
            rest = tail;
            line.strip_prefix(prefix)
                .unwrap_or_else(|| panic!("expected '{prefix}', got '{line}'"))
                .to_string()
        };
        let options = header("### options=");
        let deps = header("### deps=");
        let format = header("### format=");
        let bytes: usize = header("### bytes=").parse().expect("byte count");
        let expected = rest[..bytes].to_string();
        rest = &rest[bytes..];
        cases.push(Case {
            options,
            deps,
            format,
            expected,
        });
    }
    cases
}

fn fixtures() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("fixtures directory")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("bst-show.golden").is_file())
        .collect();
    dirs.sort();
    dirs
}

#[test]
fn forge_show_prints_what_bst_show_printed() {
    if forge_project::options::host_arch() != "x86-64" {
        eprintln!("the golden files were recorded on x86-64; skipping");
        return;
    }
    let projects = fixtures();
    assert!(projects.len() >= 2, "fixture projects with golden files are missing");
    let mut checked = 0;
    let mut failures = Vec::new();
    for project in projects {
        let targets = std::fs::read_to_string(project.join("compat-targets")).expect("compat-targets");
        let golden = std::fs::read_to_string(project.join("bst-show.golden")).expect("golden file");
        let cache = tempfile::tempdir().expect("temp dir");
        for case in parse_golden(&golden) {
            let mut cmd = Command::cargo_bin("forge").expect("forge binary");
            cmd.current_dir(&project)
                .env("FORGE_CACHE_DIR", cache.path())
                .arg("--max-jobs")
                .arg("2");
            cmd.args(case.options.split_whitespace());
            cmd.args(["show", "--deps", &case.deps, "--format", &case.format]);
            cmd.args(targets.split_whitespace());
            let output = cmd.output().expect("run forge");
            let actual = String::from_utf8_lossy(&output.stdout).into_owned();
            checked += 1;
            if actual != case.expected {
                failures.push(format!(
                    "{} [{}] --deps {} --format '{}'\n--- bst\n{}\n--- forge\n{}{}",
                    project.display(),
                    case.options,
                    case.deps,
                    case.format,
                    case.expected,
                    actual,
                    String::from_utf8_lossy(&output.stderr)
                ));
            }
        }
    }
    assert!(checked >= 100, "only {checked} cases");
    assert!(
        failures.is_empty(),
        "{} of {checked} cases differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
