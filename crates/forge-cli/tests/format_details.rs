//! Format details where forge once differed from BuildStream, each a
//! fixture project under `tests/fixtures/format-details/` with the answer
//! bst 2.8.1 gave recorded in its `bst-answer` (by
//! `tests/compat/record-format-details.sh`): a project bst loads must show
//! exactly what bst showed; one bst refuses must fail to load, at the same
//! file and line.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

const FORMAT: &str = "%{name}%{vars}%{env}%{config}%{public}";

struct Answer {
    exit: i32,
    errors: Vec<String>,
    stdout: String,
}

fn answer(case: &Path) -> Answer {
    let text = std::fs::read_to_string(case.join("bst-answer")).expect("bst-answer");
    let (head, stdout) = text.split_once("---\n").expect("answer separator");
    let mut lines = head.lines();
    let exit = lines
        .next()
        .and_then(|l| l.strip_prefix("exit: "))
        .and_then(|n| n.parse().ok())
        .expect("exit line");
    let errors = lines
        .filter_map(|l| l.strip_prefix("error: "))
        .map(str::to_string)
        .collect();
    Answer {
        exit,
        errors,
        stdout: stdout.to_string(),
    }
}

/// Splits an options line as the shell does for single quotes.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                current.get_or_insert_with(String::new);
            }
            c if c.is_whitespace() && !quoted => {
                if let Some(word) = current.take() {
                    out.push(word);
                }
            }
            c => current.get_or_insert_with(String::new).push(c),
        }
    }
    out.extend(current);
    out
}

/// `file` and line of bst's `[element at] file [line L column C]:
/// message`; the line is `None` where bst points at the whole element
/// (line 1, column 0: a plugin's own check), where forge may be more
/// precise.
fn bst_location(error: &str) -> Option<(String, Option<u32>)> {
    let (file, rest) = error.split_once(" [line ")?;
    let file = file.rsplit([' ', '/']).next().unwrap_or(file).to_string();
    let mut words = rest.split_whitespace();
    let line: u32 = words.next()?.parse().ok()?;
    let column = words.nth(1).map(|c| c.trim_end_matches("]:"));
    Some((file, ((line, column) != (1, Some("0"))).then_some(line)))
}

fn cases() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/format-details");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("format-details fixtures")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("bst-answer").is_file())
        .collect();
    dirs.sort();
    dirs
}

#[test]
fn forge_answers_as_bst_answered() {
    let cases = cases();
    assert!(cases.len() >= 14, "format-details fixtures are missing");
    let mut failures = Vec::new();
    for case in &cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let expected = answer(case);
        let options = std::fs::read_to_string(case.join("options")).unwrap_or_default();
        let cache = tempfile::tempdir().expect("temp dir");
        let output = Command::cargo_bin("forge")
            .expect("forge binary")
            .current_dir(case)
            .env("FORGE_CACHE_DIR", cache.path())
            .args(["--max-jobs", "2"])
            .args(words(&options))
            .args(["show", "--deps", "none", "--format", FORMAT, "e.bst"])
            .output()
            .expect("run forge");
        let code = output.status.code().unwrap_or(-1);
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        if expected.exit == 0 {
            if code != 0 || stdout != expected.stdout {
                failures.push(format!(
                    "{name}: bst loads it; forge exited {code}\n{stderr}\n--- bst\n{}--- forge\n{stdout}",
                    expected.stdout
                ));
            }
            continue;
        }
        if code != 3 {
            failures.push(format!(
                "{name}: bst refuses it ({}); forge exited {code}\n{stderr}",
                expected.errors.join(" / ")
            ));
            continue;
        }
        let at = |file: &str, line: Option<u32>| match line {
            Some(line) => stderr.contains(&format!("{file}:{line}:")),
            None => stderr.contains(&format!("{file}:")),
        };
        if let Some((file, line)) = expected.errors.first().and_then(|e| bst_location(e))
            && !at(&file, line)
        {
            failures.push(format!("{name}: bst points at {file}:{line:?}; forge says\n{stderr}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn an_error_in_an_included_file_names_the_line_that_included_it() {
    let case = cases()
        .into_iter()
        .find(|c| c.ends_with("include-error"))
        .expect("include-error case");
    let cache = tempfile::tempdir().expect("temp dir");
    let output = Command::cargo_bin("forge")
        .expect("forge binary")
        .current_dir(&case)
        .env("FORGE_CACHE_DIR", cache.path())
        .args(["show", "e.bst"])
        .output()
        .expect("run forge");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr.lines().take(2).collect::<Vec<_>>(),
        [
            "error: include/a.yml:2:6: reference to undefined variable 'nope'",
            "  included from elements/e.bst:2:6"
        ],
        "{stderr}"
    );
}

#[test]
fn option_lines_split_like_the_shell() {
    assert_eq!(words("-o f ''"), ["-o", "f", ""]);
    assert_eq!(words("-o f 'z, a'"), ["-o", "f", "z, a"]);
    assert_eq!(
        bst_location("project.conf [line 6 column 10]: x"),
        Some(("project.conf".into(), Some(6)))
    );
    assert_eq!(
        bst_location("filter element at e.bst [line 1 column 0]: x"),
        Some(("e.bst".into(), None))
    );
}
