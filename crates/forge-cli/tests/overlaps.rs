//! Overlaps between staged dependencies, as BuildStream reports them: a
//! warning naming both elements and the file, an error under
//! `fatal-warnings: [overlaps]`, nothing for whitelisted paths.

mod support;

use support::{CONF, project};

fn overlapping(conf: &str, whitelist: bool) -> support::TestProject {
    let public = if whitelist {
        "public:\n  bst:\n    overlap-whitelist:\n    - /etc/*.conf\n"
    } else {
        ""
    };
    project(conf)
        .file("files/a/etc/app.conf", "from a\n")
        .file("files/a/etc/only-a", "a\n")
        .file("files/b/etc/app.conf", "from b\n")
        .file(
            "elements/a.bst",
            "kind: import\nsources:\n- kind: local\n  path: files/a\n",
        )
        .file(
            "elements/b.bst",
            &format!("kind: import\nsources:\n- kind: local\n  path: files/b\n{public}"),
        )
        .file("elements/all.bst", "kind: compose\nbuild-depends:\n- a.bst\n- b.bst\n")
        .build()
}

#[test]
fn an_overlap_is_a_warning_naming_both_elements() {
    let p = overlapping(CONF, false);
    let run = p.forge(&["build", "all.bst"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "[ warn ] all.bst: all.bst: non-whitelisted overlaps detected while staging dependencies:\n  /etc/app.conf: b.bst is not permitted to overlap other elements, order b.bst above a.bst"
        ),
        "{}",
        run.stderr
    );
    let out = p.outside().join("out");
    p.forge(&["checkout", "all.bst", out.to_str().unwrap()]).ok();
    assert_eq!(std::fs::read_to_string(out.join("etc/app.conf")).unwrap(), "from b\n");
}

#[test]
fn fatal_overlaps_fail_the_build_and_a_whitelist_exempts_them() {
    let conf = format!("{CONF}fatal-warnings:\n- overlaps\n");
    let p = overlapping(&conf, false);
    let err = p.forge(&["build", "all.bst"]).fails(5);
    assert!(
        err.contains("/etc/app.conf: b.bst is not permitted to overlap other elements"),
        "{err}"
    );
    assert!(err.contains("lists 'overlaps' under fatal-warnings"), "{err}");

    let p = overlapping(&conf, true);
    let run = p.forge(&["build", "all.bst"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!run.stderr.contains("overlap"), "{}", run.stderr);
}
