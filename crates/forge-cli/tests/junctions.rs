//! Junctions: projects built from other projects, as local directories and
//! as git repositories; names across junctions, options, overrides, links,
//! includes, conflicts, mirrors reaching into subprojects, and builds.

mod support;

use std::fs;
use std::path::Path;

use support::git::{git, init};
use support::{CONF, project};

/// A subproject `sdk` with a base, a library on it, and an option.
fn write_sdk(root: &Path) {
    let files = [
        (
            "project.conf",
            "name: sdk\nmin-version: 2.0\nelement-path: elements\noptions:\n  flavour:\n    type: enum\n    description: d\n    variable: flavour\n    values: [plain, fancy]\n    default: plain\naliases:\n  up: https://sdk.example.invalid/\n",
        ),
        ("files/base/etc/base.txt", "base\n"),
        ("files/lib/usr/lib/lib.txt", "lib\n"),
        ("include/flags.yml", "variables:\n  sdk-flags: -O2 %{flavour}\n"),
        (
            "elements/base.bst",
            "kind: import\nsources:\n- kind: local\n  path: files/base\n",
        ),
        (
            "elements/lib.bst",
            "kind: import\ndepends:\n- base.bst\nvariables:\n  (?):\n  - flavour == 'fancy':\n      fancy: 'yes'\nsources:\n- kind: local\n  path: files/lib\n",
        ),
        ("elements/alias.bst", "kind: link\nconfig:\n  target: lib.bst\n"),
    ];
    for (path, text) in files {
        let full = root.join(path);
        fs::create_dir_all(full.parent().unwrap()).unwrap();
        fs::write(full, text).unwrap();
    }
}

/// The subproject `sdk` as a git repository beside the project, committed.
fn sdk_repository(p: &support::TestProject) -> std::path::PathBuf {
    let upstream = p.outside().join("sdk-repo");
    init(&upstream);
    write_sdk(&upstream);
    git(&upstream, &["add", "-A"]);
    git(&upstream, &["commit", "-q", "-m", "sdk"]);
    upstream
}

/// A junction to the git repository `upstream` at `commit`.
fn git_junction(upstream: &Path, commit: &str) -> String {
    format!(
        "kind: junction\nsources:\n- kind: git\n  url: file://{}\n  track: main\n  ref: {commit}\n",
        upstream.display()
    )
}

fn local_junction(options: &str) -> String {
    format!("kind: junction\nsources:\n- kind: local\n  path: sdk\n{options}")
}

fn app(deps: &str) -> String {
    format!("kind: stack\ndepends:\n{deps}")
}

#[test]
fn elements_of_a_local_junction_load_show_and_key() {
    let p = project(CONF)
        .file("elements/sdk.bst", &local_junction(""))
        .file("elements/app.bst", &app("- sdk.bst:lib.bst\n"))
        .build();
    write_sdk(&p.root.join("sdk"));
    assert_eq!(
        p.show("%{name} %{state}", &["app.bst"]),
        "sdk.bst:base.bst buildable\nsdk.bst:lib.bst waiting\napp.bst waiting\n"
    );
    // A subproject element's own name is local to it.
    let vars = p.show("%{vars}", &["--deps", "none", "sdk.bst:lib.bst"]);
    assert!(
        vars.contains("element-name: lib.bst\n") && vars.contains("project-name: sdk\n"),
        "{vars}"
    );
    // Its key covers the subproject's files.
    let before = p.key("app.bst");
    p.write("sdk/files/base/etc/base.txt", "changed\n");
    assert_ne!(p.key("app.bst"), before);
    // The junction element shows as a junction.
    assert_eq!(p.show("%{state}", &["sdk.bst"]), "junction\n");
}

#[test]
fn options_pass_down_and_junction_dependencies_merge() {
    let options = "config:\n  options:\n    flavour: fancy\n";
    let p = project(CONF)
        .file("elements/sdk.bst", &local_junction(options))
        .file(
            "elements/app.bst",
            "kind: stack\ndepends:\n- filename: lib.bst\n  junction: sdk.bst\n- sdk.bst:alias.bst\n",
        )
        .build();
    write_sdk(&p.root.join("sdk"));
    let vars = p.show("%{vars}", &["--deps", "none", "sdk.bst:lib.bst"]);
    assert!(
        vars.contains("flavour: fancy\n") && vars.contains("fancy: yes\n"),
        "{vars}"
    );
    // The link and the junction key name the same element: one dependency.
    assert_eq!(p.show("%{deps}", &["--deps", "none", "app.bst"]), "- sdk.bst:lib.bst\n");
    p.write(
        "elements/sdk.bst",
        &local_junction("config:\n  options:\n    flavour: bogus\n"),
    );
    let err = p.forge(&["show", "app.bst"]).fails(3);
    assert!(err.contains("invalid value for enum option 'flavour': bogus"), "{err}");
    assert!(err.contains("in the subproject of the junction sdk.bst"), "{err}");
}

#[test]
fn overrides_replace_subproject_elements_and_links_follow() {
    let overrides = "config:\n  overrides:\n    base.bst: my-base.bst\n";
    let p = project(CONF)
        .file("files/mine/etc/base.txt", "mine\n")
        .file(
            "elements/my-base.bst",
            "kind: import\nsources:\n- kind: local\n  path: files/mine\n",
        )
        .file("elements/sdk.bst", &local_junction(overrides))
        .file("elements/lib.bst", "kind: link\nconfig:\n  target: sdk.bst:lib.bst\n")
        .file("elements/app.bst", &app("- lib.bst\n"))
        .build();
    write_sdk(&p.root.join("sdk"));
    assert_eq!(
        p.show("%{name}", &["app.bst"]),
        "my-base.bst\nsdk.bst:lib.bst\napp.bst\n"
    );
}

#[test]
fn files_of_a_junction_can_be_included() {
    let p = project(CONF)
        .file("elements/sdk.bst", &local_junction(""))
        .file("elements/app.bst", "kind: manual\n(@): sdk.bst:include/flags.yml\n")
        .build();
    write_sdk(&p.root.join("sdk"));
    let vars = p.show("%{vars}", &["app.bst"]);
    // Expanded with the subproject's variables, as in BuildStream.
    assert!(vars.contains("sdk-flags: -O2 plain\n"), "{vars}");
}

#[test]
fn project_conf_includes_files_of_a_junction() {
    let conf = format!("{CONF}(@):\n- sdk.bst:include/flags.yml\n- sdk.bst:include/options.yml\n");
    let p = project(&conf)
        .file(
            "elements/sdk.bst",
            &local_junction("config:\n  options:\n    flavour: fancy\n"),
        )
        .file("elements/app.bst", "kind: manual\n")
        .build();
    write_sdk(&p.root.join("sdk"));
    p.write(
        "sdk/include/options.yml",
        "options:\n  shared_debug:\n    type: bool\n    description: d\n    default: False\n    variable: shared_debug\n",
    );
    // Every element of the parent sees the file, expanded with the
    // subproject's variables (its options as the junction sets them).
    let vars = p.show("%{vars}", &["app.bst"]);
    assert!(vars.contains("sdk-flags: -O2 fancy\n"), "{vars}");
    assert!(vars.contains("shared_debug: 0\n"), "{vars}");
    // An option declared in the included file can be set on the command line.
    let run = p.forge(&["-o", "shared_debug", "True", "show", "--format", "%{vars}", "app.bst"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("shared_debug: 1\n"), "{}", run.stdout);
    // An unknown option is still refused.
    let err = p.forge(&["-o", "no-such", "x", "show", "app.bst"]).fails(3);
    assert!(err.contains("unknown option 'no-such'"), "{err}");
    // A file missing from the subproject names the junction and the include.
    p.write("project.conf", &format!("{CONF}(@): sdk.bst:include/none.yml\n"));
    let err = p.forge(&["show", "app.bst"]).fails(3);
    assert!(
        err.contains("project.conf:4") && err.contains("include/none.yml"),
        "{err}"
    );
}

#[test]
fn project_conf_including_from_a_git_junction_fetches_it_for_fetch() {
    let p = project(&format!("{CONF}(@): sdk.bst:include/flags.yml\n")).build();
    let upstream = sdk_repository(&p);
    let head = git(&upstream, &["rev-parse", "HEAD"]);
    p.write("elements/sdk.bst", &git_junction(&upstream, &head));
    p.write("elements/app.bst", "kind: manual\n");
    // show stays offline: it says what to run.
    let err = p.forge(&["show", "app.bst"]).fails(3);
    assert!(err.contains("run `forge fetch sdk.bst` first"), "{err}");
    // fetch fetches the junction loading needs, then what it was asked.
    let run = p.forge(&["fetch", "sdk.bst"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("to load the subproject of the junction"),
        "{}",
        run.stderr
    );
    fs::remove_dir_all(&upstream).unwrap();
    assert!(p.show("%{vars}", &["app.bst"]).contains("sdk-flags: -O2 plain\n"));
}

#[test]
fn a_project_loaded_twice_is_refused_unless_internal() {
    let two = "- one.bst:lib.bst\n- two.bst:lib.bst\n";
    let p = project(CONF)
        .file("elements/one.bst", &local_junction(""))
        .file(
            "elements/two.bst",
            "kind: junction\nsources:\n- kind: local\n  path: sdk2\n",
        )
        .file("elements/app.bst", &app(two))
        .build();
    write_sdk(&p.root.join("sdk"));
    write_sdk(&p.root.join("sdk2"));
    let err = p.forge(&["show", "app.bst"]).fails(3);
    assert!(err.contains("project 'sdk' was loaded in multiple contexts"), "{err}");
    assert!(
        err.contains("through the junction one.bst") && err.contains("through the junction two.bst"),
        "{err}"
    );

    let internal = format!("{CONF}junctions:\n  internal:\n  - two.bst\n");
    p.write("project.conf", &internal);
    assert_eq!(p.show("%{name}", &["--deps", "none", "app.bst"]), "app.bst\n");
    let duplicates = format!("{CONF}junctions:\n  duplicates:\n    sdk: [one.bst, two.bst]\n");
    p.write("project.conf", &duplicates);
    p.forge(&["show", "app.bst"]).ok();
}

#[test]
fn a_cycle_through_a_junction_is_reported() {
    let p = project(CONF)
        .file("elements/sdk.bst", &local_junction(""))
        .file("elements/app.bst", &app("- sdk.bst:lib.bst\n"))
        .build();
    write_sdk(&p.root.join("sdk"));
    // The subproject's base depends back on the parent's app, through an override.
    p.write("sdk/elements/base.bst", "kind: stack\ndepends:\n- lib2.bst\n");
    p.write("sdk/elements/lib2.bst", "kind: stack\n");
    p.write(
        "elements/sdk.bst",
        &local_junction("config:\n  overrides:\n    lib2.bst: app.bst\n"),
    );
    let err = p.forge(&["show", "app.bst"]).fails(3);
    assert!(err.contains("ircular dependency"), "{err}");
    assert!(
        err.contains("app.bst") && err.contains("sdk.bst:lib.bst") && err.contains("sdk.bst:base.bst"),
        "{err}"
    );
}

#[test]
fn a_git_junction_needs_a_fetch_then_loads_offline() {
    let p = project(CONF).build();
    let upstream = sdk_repository(&p);
    let head = git(&upstream, &["rev-parse", "HEAD"]);
    p.write("elements/sdk.bst", &git_junction(&upstream, &head));
    p.write("elements/app.bst", &app("- sdk.bst:lib.bst\n"));
    let err = p.forge(&["show", "app.bst"]).fails(3);
    assert!(
        err.contains("the subproject of the junction sdk.bst is not in the source cache")
            && err.contains("run `forge fetch sdk.bst` first"),
        "{err}"
    );
    p.forge(&["fetch", "sdk.bst"]).ok();
    assert_eq!(
        p.show("%{name}", &["app.bst"]),
        "sdk.bst:base.bst\nsdk.bst:lib.bst\napp.bst\n"
    );
    // Offline now: the upstream may go.
    fs::remove_dir_all(&upstream).unwrap();
    p.forge(&["show", "app.bst"]).ok();
}

#[test]
fn a_tar_junction_loads_from_its_archive_and_errors_name_it() {
    let p = project(CONF)
        .file("elements/app.bst", &app("- sdk.bst:lib.bst\n"))
        .build();
    let tree = p.outside().join("sdk-1.0");
    write_sdk(&tree);
    let archive = p.outside().join("sdk-1.0.tar.gz");
    let status = std::process::Command::new("tar")
        .arg("-czf")
        .arg(&archive)
        .arg("-C")
        .arg(p.outside())
        .arg("sdk-1.0")
        .status()
        .unwrap();
    assert!(status.success());
    let sha = support::sha256_hex(&fs::read(&archive).unwrap());
    p.write(
        "elements/sdk.bst",
        &format!(
            "kind: junction\nsources:\n- kind: tar\n  url: file://{}\n  ref: {sha}\n",
            archive.display()
        ),
    );
    p.forge(&["fetch", "sdk.bst"]).ok();
    fs::remove_file(&archive).unwrap();
    assert_eq!(
        p.show("%{name}", &["app.bst"]),
        "sdk.bst:base.bst\nsdk.bst:lib.bst\napp.bst\n"
    );
    // An element of the subproject that does not exist: where it was
    // named, and through which junction.
    p.write("elements/app.bst", &app("- sdk.bst:nothing.bst\n"));
    let err = p.forge(&["show", "app.bst"]).fails(3);
    assert!(err.contains("elements/app.bst:3:3"), "{err}");
    assert!(err.contains("nothing.bst"), "{err}");
}

#[test]
fn mirrors_of_the_parent_serve_a_subprojects_alias() {
    let mirror = project(CONF).build();
    let served = mirror.outside().join("mirror");
    fs::create_dir_all(&served).unwrap();
    fs::write(served.join("data.txt"), "from the mirror\n").unwrap();
    let conf = format!(
        "{CONF}mirrors:\n- name: office\n  aliases:\n    up:\n    - file://{}/\n",
        served.display()
    );
    let p = project(&conf)
        .file("elements/sdk.bst", &local_junction(""))
        .file("elements/app.bst", &app("- sdk.bst:data.bst\n"))
        .build();
    write_sdk(&p.root.join("sdk"));
    let sha = support::sha256_hex(b"from the mirror\n");
    p.write(
        "sdk/elements/data.bst",
        &format!("kind: import\nsources:\n- kind: remote\n  url: up:data.txt\n  ref: {sha}\n"),
    );
    // The subproject's upstream (sdk.example.invalid) does not exist.
    let run = p.forge(&["fetch", "--deps", "all", "app.bst"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("1 fetched"), "{}", run.stderr);
    // ...and says which mirror served it.
    assert!(
        run.stderr
            .contains("up:data.txt: served by mirror 'office' of project 'test'"),
        "{}",
        run.stderr
    );
}

#[test]
fn junction_aliases_map_to_the_parents_and_can_be_required() {
    let p = project(CONF)
        .file("elements/app.bst", &app("- sdk.bst:data.bst\n"))
        .build();
    write_sdk(&p.root.join("sdk"));
    let served = p.outside().join("served");
    fs::create_dir_all(&served).unwrap();
    fs::write(served.join("data.txt"), "served\n").unwrap();
    let sha = support::sha256_hex(b"served\n");
    p.write(
        "sdk/elements/data.bst",
        &format!("kind: import\nsources:\n- kind: remote\n  url: up:data.txt\n  ref: {sha}\n"),
    );
    let with = |conf: &str, junction: &str| {
        p.write("project.conf", &format!("{CONF}{conf}"));
        p.write("elements/sdk.bst", &local_junction(junction));
    };
    let ours = format!("aliases:\n  mine: file://{}/\n", served.display());
    let fetch = || p.forge(&["fetch", "--deps", "all", "app.bst"]);

    // `aliases:` maps the subproject's alias to one of ours; its own
    // upstream (sdk.example.invalid) is never asked.
    with(&ours, "config:\n  aliases:\n    up: mine\n");
    let run = fetch();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("1 fetched"), "{}", run.stderr);

    // `map-aliases: identity` maps it to ours of the same name.
    fs::write(served.join("other.txt"), "other\n").unwrap();
    let other = support::sha256_hex(b"other\n");
    p.write(
        "sdk/elements/data.bst",
        &format!("kind: import\nsources:\n- kind: remote\n  url: up:other.txt\n  ref: {other}\n"),
    );
    let same = format!("aliases:\n  up: file://{}/\n", served.display());
    with(&same, "config:\n  map-aliases: identity\n");
    let run = fetch();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("1 fetched"), "{}", run.stderr);

    // A mapping to an alias we do not declare names the junction.
    with(&ours, "config:\n  aliases:\n    up: theirs\n");
    let err = p.forge(&["show", "app.bst"]).fails(3);
    assert!(
        err.contains("sdk.bst:elements/data.bst:4:8")
            && err.contains("the junction sdk.bst maps the alias 'up' to 'theirs'"),
        "{err}"
    );

    // disallow-subproject-uris: every alias below must be mapped.
    let strict = format!("{ours}junctions:\n  disallow-subproject-uris: True\n");
    with(&strict, "");
    let err = p.forge(&["show", "app.bst"]).fails(3);
    assert!(
        err.contains("the alias 'up' is not mapped by the junction sdk.bst") && err.contains("config: aliases:"),
        "{err}"
    );
    with(&strict, "config:\n  aliases:\n    up: mine\n");
    p.forge(&["show", "app.bst"]).ok();
    // ...and unaliased URLs in subprojects are errors.
    p.write(
        "sdk/elements/data.bst",
        "kind: import\nsources:\n- kind: remote\n  url: https://example.invalid/x\n",
    );
    let err = p.forge(&["show", "app.bst"]).fails(3);
    assert!(err.contains("unaliased-url"), "{err}");
}

#[test]
fn elements_build_across_a_junction() {
    let p = project(CONF)
        .file("elements/sdk.bst", &local_junction(""))
        .file(
            "elements/image.bst",
            "kind: compose\nbuild-depends:\n- sdk.bst:lib.bst\n",
        )
        .build();
    write_sdk(&p.root.join("sdk"));
    let run = p.forge(&["build", "image.bst"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let out = p.outside().join("out");
    p.forge(&["checkout", "image.bst", out.to_str().unwrap()]).ok();
    assert_eq!(fs::read_to_string(out.join("usr/lib/lib.txt")).unwrap(), "lib\n");
    assert_eq!(fs::read_to_string(out.join("etc/base.txt")).unwrap(), "base\n");
    // Artifacts of subproject elements are named by their project.
    let listing = p.forge(&["artifact", "list"]).ok();
    assert!(listing.contains("sdk/lib/"), "{listing}");
}

/// Tracking a junction writes its ref in place and says what the new pin
/// costs: how many elements of the subproject, and of this project, get a
/// new key.
#[test]
fn tracking_a_junction_writes_its_ref_and_counts_new_keys() {
    let p = project(CONF).build();
    let upstream = sdk_repository(&p);
    let old = git(&upstream, &["rev-parse", "HEAD"]);
    let junction = format!(
        "kind: junction\n# the sdk\nsources:\n- kind: git\n  url: file://{}\n  track: main\n  ref: {old}  # pinned\n",
        upstream.display()
    );
    p.write("elements/sdk.bst", &junction);
    p.write("elements/app.bst", &app("- sdk.bst:lib.bst\n"));
    p.write("files/other.txt", "other\n");
    p.write(
        "elements/other.bst",
        "kind: import\nsources:\n- kind: local\n  path: files/other.txt\n",
    );
    p.forge(&["fetch", "sdk.bst"]).ok();
    p.forge(&["build", "app.bst"]).ok();
    let base_key = p.show("%{full-key}", &["--deps", "none", "sdk.bst:base.bst"]);
    let lib_key = p.show("%{full-key}", &["--deps", "none", "sdk.bst:lib.bst"]);

    fs::write(upstream.join("files/lib/usr/lib/lib.txt"), "lib 2\n").unwrap();
    git(&upstream, &["commit", "-q", "-am", "lib 2"]);
    let new = git(&upstream, &["rev-parse", "HEAD"]);
    let out = p.forge(&["track", "sdk.bst"]).ok();
    assert!(
        out.contains("sdk.bst: 1 of 2 elements of its subproject change key, and 2 of 3 of this project"),
        "{out}"
    );
    assert_eq!(
        fs::read_to_string(p.root.join("elements/sdk.bst")).unwrap(),
        junction.replace(&old, &new),
        "only the ref changes"
    );
    assert_eq!(p.show("%{full-key}", &["--deps", "none", "sdk.bst:base.bst"]), base_key);
    assert_ne!(p.show("%{full-key}", &["--deps", "none", "sdk.bst:lib.bst"]), lib_key);
    // show says what the bump costs before the build.
    let run = p.forge(&["show", "--format", "%{name} %{state}", "app.bst"]);
    assert_eq!(
        run.stdout,
        "sdk.bst:base.bst cached\nsdk.bst:lib.bst buildable\napp.bst waiting\n"
    );
    assert!(
        run.stderr
            .ends_with("\nshow: 2 of 3 elements need building (1 through sdk.bst)\n"),
        "{}",
        run.stderr
    );
}
