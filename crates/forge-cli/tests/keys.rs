//! Cache keys change with every input that affects the output, and with
//! nothing else.

mod support;

use support::{CONF, import_of, project};

const SHA_A: &str = "8a1fcd2d43e8e1a3e5b7d57c92fd8e1c4b8b0d1e4f59e6ed2bd1bcbd4ab5e8ef";
const SHA_B: &str = "1111111111111111111111111111111111111111111111111111111111111111";

const APP: &str = "kind: manual
# A comment that does not matter.
build-depends:
- base.bst
- tool.bst
environment:
  CACHED: one
  NOT_CACHED: one
environment-nocache:
- NOT_CACHED
config:
  build-commands:
  - make
  - make install
";

fn tool(sha: &str, alias: &str) -> String {
    format!("kind: import\nsources:\n- kind: remote\n  url: {alias}:tool.sh\n  ref: {sha}\n")
}

fn conf(alias_value: &str) -> String {
    format!(
        "{CONF}aliases:\n  up: {alias_value}\n  other: {alias_value}\nmirrors:\n- name: near\n  aliases:\n    up:\n    - https://mirror.example.org/\n"
    )
}

fn sample() -> support::TestProject {
    project(&conf("https://example.com/"))
        .file("files/a.txt", "a\n")
        .file("elements/base.bst", &import_of("files/a.txt"))
        .file("elements/tool.bst", &tool(SHA_A, "up"))
        .file("elements/app.bst", APP)
        .file("elements/top.bst", "kind: stack\ndepends:\n- app.bst\n")
        .build()
}

#[test]
fn keys_ignore_comments_formatting_and_key_order() {
    let p = sample();
    let before = (p.key("app.bst"), p.key("tool.bst"));
    p.write(
        "elements/app.bst",
        "# reformatted, reordered, requoted\nconfig:\n    build-commands: [\"make\", 'make install']\nenvironment-nocache: [NOT_CACHED]\nenvironment: {NOT_CACHED: one, CACHED: 'one'}\nbuild-depends: [tool.bst, base.bst]\nkind:    manual\n",
    );
    p.write(
        "elements/tool.bst",
        &format!("sources:\n-   ref: '{SHA_A}'\n    url: \"up:tool.sh\"\n    kind: remote\nkind: import  # trailing comment\n"),
    );
    assert_eq!((p.key("app.bst"), p.key("tool.bst")), before);
}

#[test]
fn keys_ignore_alias_values_and_mirrors() {
    let p = sample();
    let before = p.key("app.bst");
    p.write("project.conf", &conf("https://elsewhere.example.net/pub/"));
    assert_eq!(p.key("app.bst"), before);
    p.write(
        "project.conf",
        &format!("{CONF}aliases:\n  up: https://example.com/\n  other: x\n"),
    );
    assert_eq!(p.key("app.bst"), before);
}

#[test]
fn keys_follow_config_environment_pins_and_dependencies() {
    let p = sample();
    let app = p.key("app.bst");
    let top = p.key("top.bst");

    // Config.
    p.write(
        "elements/app.bst",
        &APP.replace("- make install", "- make install-strip"),
    );
    assert_ne!(p.key("app.bst"), app);
    p.write("elements/app.bst", APP);
    assert_eq!(p.key("app.bst"), app);

    // Environment: nocache variables do not count, the others do.
    p.write("elements/app.bst", &APP.replace("NOT_CACHED: one", "NOT_CACHED: two"));
    assert_eq!(p.key("app.bst"), app);
    p.write("elements/app.bst", &APP.replace("  CACHED: one", "  CACHED: two"));
    assert_ne!(p.key("app.bst"), app);
    p.write("elements/app.bst", APP);

    // A source pin, and everything that depends on it.
    p.write("elements/tool.bst", &tool(SHA_B, "up"));
    assert_ne!(p.key("app.bst"), app);
    assert_ne!(p.key("top.bst"), top);
    // The alias name is part of the source as written, so it counts.
    p.write("elements/tool.bst", &tool(SHA_A, "other"));
    assert_ne!(p.key("app.bst"), app);
    p.write("elements/tool.bst", &tool(SHA_A, "up"));
    assert_eq!(p.key("app.bst"), app);

    // Local source content.
    p.write("files/a.txt", "changed\n");
    assert_ne!(p.key("app.bst"), app);
    assert_ne!(p.key("top.bst"), top);
}

#[test]
fn keys_cover_the_runtime_closure_of_build_dependencies() {
    let p = project(CONF)
        .file("files/a", "a")
        .file("files/lib", "lib v1")
        .file("elements/lib.bst", &import_of("files/lib"))
        .file(
            "elements/runtime.bst",
            &format!("{}runtime-depends:\n- lib.bst\n", import_of("files/a")),
        )
        .file("elements/user.bst", "kind: manual\nbuild-depends:\n- runtime.bst\n")
        .build();
    let user = p.key("user.bst");
    let runtime = p.key("runtime.bst");
    p.write("files/lib", "lib v2");
    // runtime.bst's own output does not change, what is staged with it does.
    assert_eq!(p.key("runtime.bst"), runtime);
    assert_ne!(p.key("user.bst"), user);
}

#[test]
fn an_unpinned_source_makes_keys_unknown_downstream() {
    let p = sample();
    p.write(
        "elements/tool.bst",
        "kind: import\nsources:\n- kind: remote\n  url: up:tool.sh\n",
    );
    assert_eq!(p.key("tool.bst"), "?".repeat(64));
    assert_eq!(p.key("app.bst"), "?".repeat(64));
    assert_eq!(
        p.show("%{state}", &["--deps", "none", "tool.bst", "app.bst"]),
        "no reference\nwaiting\n"
    );
}

#[test]
fn keys_are_the_same_across_runs_and_directories() {
    let a = sample();
    let b = sample();
    assert_eq!(a.key("top.bst"), b.key("top.bst"));
    assert_ne!(a.root, b.root);
}

#[test]
fn options_change_keys_only_where_used() {
    let conf = format!(
        "{CONF}options:\n  debug:\n    type: bool\n    description: debug\n    default: False\n    variable: debug\n"
    );
    let p = project(&conf)
        .file("files/a", "a")
        .file("elements/plain.bst", &import_of("files/a"))
        .file(
            "elements/uses.bst",
            "kind: manual\nconfig:\n  build-commands:\n  - make DEBUG=%{debug}\n",
        )
        .build();
    let plain = p.key("plain.bst");
    let uses = p.key("uses.bst");
    let on = |e: &str| {
        p.forge(&[
            "-o",
            "debug",
            "True",
            "show",
            "--format",
            "%{full-key}",
            "--deps",
            "none",
            e,
        ])
        .ok()
    };
    assert_eq!(on("plain.bst").trim(), plain);
    assert_ne!(on("uses.bst").trim(), uses);
}
