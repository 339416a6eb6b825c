//! Every load error names file, line and column, says what is wrong and,
//! where forge can tell, what to write instead. Load errors exit with 3,
//! usage errors with 2.

mod support;

use support::{CONF, import_of, project};

/// Runs `forge show` on `element` of a project made of `files` and returns
/// the error (exit code 3 asserted).
fn load_error(files: &[(&str, &str)], element: &str) -> String {
    let mut builder = project(CONF)
        .file("files/a", "a")
        .file("elements/unrelated.bst", "kind: stack\n");
    for (path, text) in files {
        builder = builder.file(path, text);
    }
    let p = builder.build();
    p.forge(&["show", element]).fails(3)
}

#[test]
fn unknown_key_with_suggestion() {
    let err = load_error(
        &[(
            "elements/e.bst",
            "kind: import\nsources:\n- kind: local\n  path: files/a\ndepend:\n- x.bst\n",
        )],
        "e.bst",
    );
    assert_eq!(
        err,
        "error: elements/e.bst:5:1: unknown key 'depend' in an element\n  hint: did you mean 'depends'?\n"
    );
    let err = load_error(
        &[(
            "elements/e.bst",
            "kind: import\nsources:\n- kind: remote\n  url: https://x/y\n  refs: abc\n",
        )],
        "e.bst",
    );
    assert_eq!(
        err,
        "error: elements/e.bst:5:3: unknown key 'refs' in a remote source\n  hint: did you mean 'ref'?\n"
    );
}

#[test]
fn unknown_kinds() {
    let err = load_error(&[("elements/e.bst", "kind: imprt\n")], "e.bst");
    assert_eq!(
        err,
        "error: elements/e.bst:1:7: unknown element kind 'imprt'\n  hint: did you mean 'import'?\n"
    );
    let err = load_error(
        &[("elements/e.bst", "kind: import\nsources:\n- kind: gti\n  url: x\n")],
        "e.bst",
    );
    assert!(
        err.starts_with("error: elements/e.bst:3:9: unknown source kind 'gti'\n  hint: did you mean 'git'?"),
        "{err}"
    );
}

#[test]
fn yaml_dialect_errors() {
    let err = load_error(&[("elements/e.bst", "kind: import\nkind: stack\n")], "e.bst");
    assert_eq!(
        err,
        "error: elements/e.bst:2:1: duplicate key 'kind' (first defined at line 1)\n"
    );
    let err = load_error(&[("elements/e.bst", "kind: stack\nvariables:\n  a: &x 1\n")], "e.bst");
    assert!(
        err.starts_with("error: elements/e.bst:3:6: anchors are not allowed"),
        "{err}"
    );
    let err = load_error(&[("elements/e.bst", "kind: stack\ndepends: [a.bst\n")], "e.bst");
    assert!(
        err.starts_with("error: elements/e.bst:") && err.contains("invalid YAML"),
        "{err}"
    );
}

#[test]
fn variable_errors() {
    let base = "kind: import\nsources:\n- kind: local\n  path: files/a\n";
    let err = load_error(
        &[("elements/e.bst", &format!("{base}variables:\n  unused: '%{{nope}}'\n"))],
        "e.bst",
    );
    assert_eq!(
        err,
        "error: elements/e.bst:6:11: reference to undefined variable 'nope'\n  hint: define 'nope' under 'variables:' in the element or in project.conf\n"
    );
    let err = load_error(
        &[("elements/e.bst", &format!("{base}config:\n  target: '%{{prefx}}'\n"))],
        "e.bst",
    );
    assert!(
        err.contains("elements/e.bst:6:11: reference to undefined variable 'prefx'\n  hint: did you mean '%{prefix}'?"),
        "{err}"
    );
    let err = load_error(
        &[(
            "elements/e.bst",
            &format!("{base}variables:\n  a: '%{{b}}'\n  b: '%{{a}}'\n"),
        )],
        "e.bst",
    );
    assert_eq!(
        err,
        "error: elements/e.bst:6:6: circular dependency detected on variable 'a'\n  elements/e.bst:6:6: variable 'a' refers to variable 'b'\n  elements/e.bst:7:6: variable 'b' refers to variable 'a'\n"
    );
    let err = load_error(
        &[("elements/e.bst", &format!("{base}variables:\n  element-name: x\n"))],
        "e.bst",
    );
    assert!(
        err.starts_with("error: elements/e.bst:6:3: invalid redefinition of protected variable 'element-name'"),
        "{err}"
    );
}

#[test]
fn dependency_errors() {
    let err = load_error(
        &[
            ("elements/a.bst", "kind: stack\ndepends:\n- b.bst\n"),
            ("elements/b.bst", "kind: stack\ndepends:\n- c.bst\n"),
            ("elements/c.bst", "kind: stack\ndepends:\n- a.bst\n"),
        ],
        "a.bst",
    );
    assert_eq!(
        err,
        "error: elements/c.bst:3:3: circular dependency detected at element 'a.bst'\n  dependency chain: a.bst -> b.bst -> c.bst -> a.bst\n"
    );
    let err = load_error(
        &[
            ("elements/a.bst", "kind: stack\ndepends:\n- bse.bst\n"),
            ("elements/base.bst", "kind: stack\n"),
        ],
        "a.bst",
    );
    assert_eq!(
        err,
        "error: elements/a.bst:3:3: element 'bse.bst' not found: there is no file elements/bse.bst\n  hint: did you mean 'base.bst'?\n"
    );
    let err = load_error(
        &[(
            "elements/a.bst",
            "kind: stack\nbuild-depends:\n- filename: b.bst\n  type: runtime\n",
        )],
        "a.bst",
    );
    assert!(
        err.starts_with("error: elements/a.bst:4:9: 'type' is only allowed in 'depends'"),
        "{err}"
    );
    let err = load_error(
        &[
            ("elements/a.bst", "kind: stack\nbuild-depends:\n- b.bst\n"),
            ("elements/b.bst", "kind: stack\n"),
        ],
        "a.bst",
    );
    assert!(
        err.starts_with(
            "error: elements/a.bst:3:3: all dependencies of 'stack' elements must be both build and runtime"
        ),
        "{err}"
    );
    let err = load_error(
        &[
            ("elements/a.bst", "kind: compose\ndepends:\n- b.bst\n"),
            ("elements/b.bst", "kind: stack\n"),
        ],
        "a.bst",
    );
    assert!(
        err.starts_with("error: elements/a.bst:3:3: runtime dependencies are forbidden for 'compose' elements"),
        "{err}"
    );
    let err = load_error(&[("elements/a.bst", "kind: filter\n")], "a.bst");
    assert!(
        err.starts_with(
            "error: elements/a.bst:1:7: a filter element must have exactly 1 build dependency, this one has 0"
        ),
        "{err}"
    );
    let err = p_missing_target();
    assert_eq!(
        err,
        "error: element 'nope.bst' not found: there is no file elements/nope.bst\n"
    );
}

fn p_missing_target() -> String {
    load_error(&[], "nope.bst")
}

#[test]
fn directive_errors() {
    let err = load_error(
        &[("elements/e.bst", "kind: stack\n(@): include/missing.yml\n")],
        "e.bst",
    );
    assert!(
        err.starts_with("error: elements/e.bst:2:6: cannot read included file 'include/missing.yml'"),
        "{err}"
    );
    let err = load_error(
        &[(
            "elements/e.bst",
            "kind: stack\n(?):\n- nosuch == 'x':\n    description: y\n",
        )],
        "e.bst",
    );
    assert_eq!(
        err,
        "error: elements/e.bst:3:3: cannot evaluate condition 'nosuch == 'x'': 'nosuch' is undefined\n"
    );
    let err = load_error(
        &[("elements/e.bst", "kind: stack\n(!): this element is not ready\n")],
        "e.bst",
    );
    assert_eq!(err, "error: elements/e.bst:2:6: this element is not ready\n");
    let err = load_error(
        &[("elements/e.bst", "kind: manual\nconfig:\n  nothing:\n    (>): [x]\n")],
        "e.bst",
    );
    assert!(
        err.starts_with("error: elements/e.bst:4:5: the list directive '(>)' has no list to apply to"),
        "{err}"
    );
    let err = load_error(
        &[(
            "elements/e.bst",
            "kind: manual\nconfig:\n  build-commands:\n    (>): [x]\n  bogus: []\n",
        )],
        "e.bst",
    );
    assert!(
        err.starts_with("error: elements/e.bst:5:3: unknown key 'bogus' in the config of a manual element"),
        "{err}"
    );
    let err = load_error(
        &[("elements/e.bst", "kind: stack\npublic:\n  extra:\n    (>): [y]\n")],
        "e.bst",
    );
    assert!(
        err.starts_with("error: elements/e.bst:4:5: the list directive '(>)' has no list to apply to"),
        "{err}"
    );
}

#[test]
fn source_errors() {
    let err = load_error(
        &[(
            "elements/e.bst",
            "kind: import\nsources:\n- kind: remote\n  url: nosuch:x\n  ref: abc\n",
        )],
        "e.bst",
    );
    assert!(
        err.starts_with("error: elements/e.bst:4:8: invalid alias 'nosuch' in URL 'nosuch:x'"),
        "{err}"
    );
    let err = load_error(
        &[(
            "elements/e.bst",
            "kind: import\nsources:\n- kind: remote\n  url: https://x/y\n  ref: abc\n",
        )],
        "e.bst",
    );
    assert!(
        err.starts_with("error: elements/e.bst:5:8: 'ref' of a remote source must be the sha256"),
        "{err}"
    );
    let err = load_error(
        &[(
            "elements/e.bst",
            "kind: import\nsources:\n- kind: git\n  url: https://x/y\n  ref: main\n",
        )],
        "e.bst",
    );
    assert!(
        err.starts_with("error: elements/e.bst:5:8: 'ref' must be a full commit id"),
        "{err}"
    );
    let err = load_error(
        &[(
            "elements/e.bst",
            "kind: import\nsources:\n- kind: local\n  path: ../outside\n",
        )],
        "e.bst",
    );
    assert!(
        err.starts_with("error: elements/e.bst:4:9: 'path' must be a path inside the project"),
        "{err}"
    );
    let err = load_error(&[("elements/e.bst", &import_of("files/missing"))], "e.bst");
    assert!(
        err.starts_with("error: elements/e.bst:4:9: 'files/missing' does not exist in the project"),
        "{err}"
    );
}

#[test]
fn project_errors_and_options() {
    let p = project("name: test\nelement-path: elements\n")
        .file("elements/e.bst", "kind: stack\n")
        .build();
    let err = p.forge(&["show", "e.bst"]).fails(3);
    assert_eq!(
        err,
        "error: project.conf:1:1: project.conf has no 'min-version'\n  hint: forge reads BuildStream 2 projects: add `min-version: 2.0`\n"
    );

    let conf = format!(
        "{CONF}options:\n  flavour:\n    type: enum\n    description: Flavour\n    values: [plain, fancy]\n    default: plain\n"
    );
    let p = project(&conf).file("elements/e.bst", "kind: stack\n").build();
    let err = p.forge(&["-o", "flavour", "bogus", "show", "e.bst"]).fails(3);
    assert_eq!(
        err,
        "error: invalid value for enum option 'flavour': bogus\n  hint: valid values: plain, fancy\n"
    );
    let err = p.forge(&["-o", "flavor", "plain", "show", "e.bst"]).fails(3);
    assert_eq!(
        err,
        "error: unknown option 'flavor' given on the command line\n  hint: did you mean 'flavour'?\n"
    );

    let p = project(&format!("{CONF}variables:\n  project-name: x\n"))
        .file("elements/e.bst", "kind: stack\n")
        .build();
    let err = p.forge(&["show", "e.bst"]).fails(3);
    assert!(
        err.starts_with("error: project.conf:5:3: invalid redefinition of protected variable 'project-name'"),
        "{err}"
    );

    let p = project("name: test\nmin-version: 2.0\nelement-path: nowhere\n").build();
    let err = p.forge(&["show"]).fails(3);
    assert_eq!(err, "error: project.conf:3:15: element-path 'nowhere' does not exist\n");

    let p = project(&format!(
        "{CONF}plugins:\n- origin: local\n  path: plugins\n  elements: [mine]\n"
    ))
    .file("elements/e.bst", "kind: stack\n")
    .build();
    let err = p.forge(&["show", "e.bst"]).fails(3);
    assert_eq!(
        err,
        "error: project.conf:6:9: the local plugin path 'plugins' is not a directory of the project\n"
    );
}

#[test]
fn usage_errors_exit_2() {
    let p = project(CONF).file("elements/e.bst", "kind: stack\n").build();
    p.forge(&["show", "--deps", "sideways", "e.bst"]).fails(2);
    p.forge(&["frobnicate"]).fails(2);
    p.forge(&["-o", "onlyname"]).fails(2);
}

#[test]
fn errors_leave_files_as_they_were() {
    let text = "kind: stack\ndepends:\n- missing.bst\n";
    let p = project(CONF).file("elements/e.bst", text).build();
    p.forge(&["show", "e.bst"]).fails(3);
    assert_eq!(std::fs::read_to_string(p.root.join("elements/e.bst")).unwrap(), text);
    assert!(!p.outside().join("cache").exists(), "show must not create a cache");
}

#[test]
fn text_that_is_not_utf8_is_placed_and_explained() {
    let p = project(CONF)
        .file("files/a", "a")
        .file("elements/ok.bst", "kind: stack\n")
        .build();
    std::fs::write(
        p.root.join("elements/latin1.bst"),
        b"kind: import\ndescription: caf\xe9\nsources:\n- kind: local\n  path: files/a\n",
    )
    .unwrap();
    let err = p.forge(&["show", "latin1.bst"]).fails(3);
    assert!(
        err.contains("elements/latin1.bst:2:17: this file is not UTF-8 text (byte 0xe9 here)"),
        "{err}"
    );
    assert!(
        err.contains("iconv -f latin1") && !err.contains("did you mean"),
        "{err}"
    );

    let mut conf = CONF.as_bytes().to_vec();
    conf.extend_from_slice(b"# \xff\n");
    std::fs::write(p.root.join("project.conf"), conf).unwrap();
    let err = p.forge(&["show", "ok.bst"]).fails(3);
    assert!(
        err.contains("project.conf:4:3: this file is not UTF-8 text (byte 0xff here)"),
        "{err}"
    );
}

#[test]
fn variables_that_double_are_stopped_in_bounded_memory() {
    // 30 definitions, each twice the one before: 2^30 bytes if expanded.
    let mut vars = String::from("variables:\n  v0: xx\n");
    for i in 1..=30 {
        vars.push_str(&format!("  v{i}: '%{{v{}}}%{{v{}}}'\n", i - 1, i - 1));
    }
    let p = project(CONF)
        .file(
            "elements/bomb.bst",
            &format!("kind: manual\n{vars}config:\n  build-commands:\n  - echo %{{v30}}\n"),
        )
        .build();
    let (code, peak_kib) = p.run_measured(&p.outside().join("cache"), &["show", "--format", "%{vars}", "bomb.bst"]);
    assert_eq!(code, 3, "a load error");
    assert!(
        peak_kib < 256 * 1024,
        "peak resident memory {peak_kib} KiB, limit 256 MiB"
    );
    let err = p.forge(&["show", "bomb.bst"]).fails(3);
    assert!(
        err.contains("elements/bomb.bst:") && err.contains("forge's limit"),
        "{err}"
    );
}
