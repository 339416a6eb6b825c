//! Real BuildStream projects: plugin declarations of every origin, the
//! kinds they name, and the project.conf forms that public projects use.

mod support;

use support::{CONF, project};

const PLUGINS: &str = "plugins:
- origin: local
  path: plugins/elements
  elements: [collect_initial_scripts]
- origin: junction
  junction: plugins/buildstream-plugins.bst
  elements: [autotools, cmake, make, meson]
  sources: [patch, docker]
- origin: pip
  package-name: buildstream-plugins-community>=2.0
  elements: [pyproject, flatpak_image]
  sources: [git_repo, zip]
";

const PLUGIN_JUNCTION: &str = "kind: junction
sources:
- kind: git_repo
  url: file:///nowhere/buildstream-plugins.git
  track: '*.*.*'
  ref: 2.5.0-0-g79649529cffb695d0d22195ed9a4910c80ca6907
";

fn plugin_project() -> support::ProjectBuilder {
    project(&format!("{CONF}{PLUGINS}"))
        .file("plugins/elements/collect_initial_scripts.py", "# not run by forge\n")
        .file("elements/plugins/buildstream-plugins.bst", PLUGIN_JUNCTION)
        .file("elements/base.bst", "kind: stack\n")
}

#[test]
fn declared_plugins_of_every_origin_mean_forge_kinds_of_those_names() {
    let p = plugin_project()
        .file(
            "elements/hello.bst",
            "kind: autotools\nbuild-depends:\n- base.bst\nvariables:\n  conf-local: --enable-x\n",
        )
        .file("elements/tool.bst", "kind: meson\nbuild-depends:\n- base.bst\n")
        .file("elements/py.bst", "kind: pyproject\nbuild-depends:\n- base.bst\n")
        .file(
            "elements/scripts.bst",
            "kind: collect_initial_scripts\nbuild-depends:\n- hello.bst\nconfig:\n  path: /initial\n",
        )
        .build();
    let out = p.show(
        "%{name} %{kind} %{state}",
        &["--deps", "none", "hello.bst", "tool.bst", "py.bst", "scripts.bst"],
    );
    assert_eq!(
        out,
        "hello.bst autotools waiting\ntool.bst meson waiting\npy.bst pyproject waiting\nscripts.bst collect_initial_scripts waiting\n"
    );
    // buildstream-plugins' defaults, composed under the element's own.
    let vars = p.show("%{vars}", &["--deps", "none", "hello.bst"]);
    assert!(vars.contains("conf-cmd: ./configure\n"), "{vars}");
    assert!(vars.contains("conf-local: --enable-x\n"), "{vars}");
    let config = p.show("%{config}", &["--deps", "none", "hello.bst"]);
    assert!(config.contains("--infodir=/usr/share/info  --enable-x"), "{config}");
    let env = p.show("%{env}", &["--deps", "none", "tool.bst"]);
    assert!(env.contains("JOBS: "), "{env}");
    // The community pyproject, not forge's own.
    let py = p.show("%{config}", &["--deps", "none", "py.bst"]);
    assert!(py.contains("-mbuild --no-isolation --wheel"), "{py}");
}

#[test]
fn a_plugin_junction_shows_and_keys_without_its_source() {
    let p = plugin_project().build();
    let out = p.show("%{name} %{state} %{full-key}", &["plugins/buildstream-plugins.bst"]);
    let fields: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(&fields[..2], ["plugins/buildstream-plugins.bst", "junction"], "{out}");
    assert_eq!(fields[2].len(), 64, "{out}");
    // Nothing was fetched: the URL does not exist.
    assert!(!p.outside().join("cache/sources/git").exists());
    let err = p.forge(&["build", "plugins/buildstream-plugins.bst"]).fails(2);
    assert!(
        err.contains("is a junction: it names a subproject and is never built"),
        "{err}"
    );
}

#[test]
fn depending_on_a_junction_is_refused() {
    let p = plugin_project()
        .file(
            "elements/e.bst",
            "kind: stack\ndepends:\n- plugins/buildstream-plugins.bst\n",
        )
        .build();
    let err = p.forge(&["show", "e.bst"]).fails(3);
    assert!(
        err.starts_with("error: elements/e.bst:3:3: e.bst depends on the junction 'plugins/buildstream-plugins.bst'"),
        "{err}"
    );
}

#[test]
fn an_undeclared_plugin_kind_says_what_to_declare() {
    let p = project(CONF).file("elements/e.bst", "kind: autotools\n").build();
    let err = p.forge(&["show", "e.bst"]).fails(3);
    assert_eq!(
        err,
        "error: elements/e.bst:1:7: the element kind 'autotools' is a plugin from buildstream-plugins, which project.conf does not declare\n  hint: declare it in project.conf: `plugins: [{origin: pip, package-name: buildstream-plugins, elements: [autotools]}]`\n"
    );
}

#[test]
fn a_declared_kind_forge_lacks_fails_only_where_it_is_used() {
    let conf = format!(
        "{CONF}plugins:\n- origin: pip\n  package-name: buildstream-plugins-community\n  elements: [bazel_build]\n  sources: [anitya]\n"
    );
    let p = project(&conf)
        .file("elements/fine.bst", "kind: stack\n")
        .file("elements/uses.bst", "kind: bazel_build\n")
        .file("elements/src.bst", "kind: import\nsources:\n- kind: anitya\n  url: x\n")
        .build();
    assert_eq!(p.show("%{name}", &["fine.bst"]), "fine.bst\n");
    let err = p.forge(&["show", "uses.bst"]).fails(3);
    assert_eq!(
        err.lines().take(2).collect::<Vec<_>>(),
        [
            "error: elements/uses.bst:1:7: elements/uses.bst uses the element kind 'bazel_build', which forge does not implement",
            "  project.conf:7:14: declared here, from the pip package 'buildstream-plugins-community'",
        ],
        "{err}"
    );
    assert!(err.contains("forge runs no plugin code"), "{err}");
    let err = p.forge(&["show", "src.bst"]).fails(3);
    assert!(
        err.starts_with("error: elements/src.bst:3:9: elements/src.bst uses the source kind 'anitya'"),
        "{err}"
    );
}

#[test]
fn pip_origins_must_name_the_package_that_has_the_plugin() {
    let conf = format!("{CONF}plugins:\n- origin: pip\n  package-name: buildstream-plugins\n  elements: [pyproject]\n");
    let p = project(&conf).file("elements/e.bst", "kind: stack\n").build();
    let err = p.forge(&["show", "e.bst"]).fails(3);
    assert_eq!(
        err,
        "error: project.conf:7:14: the pip package 'buildstream-plugins' has no element plugin named 'pyproject': forge knows it from buildstream-plugins-community\n  hint: declare 'pyproject' under a plugin origin for buildstream-plugins-community\n"
    );
    let bad_origin = format!("{CONF}plugins:\n- origin: junction\n  junction: missing.bst\n");
    let p = project(&bad_origin).file("elements/e.bst", "kind: stack\n").build();
    let err = p.forge(&["show", "e.bst"]).fails(3);
    assert!(
        err.starts_with(
            "error: project.conf:6:13: the plugin junction 'missing.bst' is not an element of this project"
        ),
        "{err}"
    );
}

#[test]
fn colliding_names_mean_forge_kinds_until_declared() {
    let forge_pip = format!(
        "kind: pip\nsources:\n- kind: pypi\n  name: six\n  ref:\n    version: '1.16.0'\n    filename: six-1.16.0-py2.py3-none-any.whl\n    sha256: {}\n",
        "0".repeat(64)
    );
    let p = project(CONF).file("elements/e.bst", &forge_pip).build();
    assert!(
        p.show("%{vars}", &["e.bst"])
            .contains("python-site-packages: /usr/lib/python3.11/site-packages")
    );

    let conf = format!("{CONF}plugins:\n- origin: pip\n  package-name: buildstream-plugins\n  elements: [pip]\n");
    let p = project(&conf)
        .file("elements/bst.bst", "kind: pip\n")
        .file("elements/own.bst", &forge_pip.replace("kind: pip", "kind: forge-pip"))
        .build();
    let vars = p.show("%{vars}", &["bst.bst"]);
    assert!(vars.contains("pip-download-dir: .bst_pip_downloads"), "{vars}");
    // forge's own kind under its other name, with its own config keys.
    assert!(p.show("%{config}", &["own.bst"]).contains("compile-bytecode: False"));
    p.write("elements/bst.bst", "kind: pip\nconfig:\n  compile-bytecode: false\n");
    let err = p.forge(&["show", "bst.bst"]).fails(3);
    assert!(
        err.contains("unknown key 'compile-bytecode' in the config of a pip element"),
        "{err}"
    );
}

#[test]
fn arch_options_keep_the_spelling_projects_use() {
    if forge_project::options::host_arch() != "x86-64" {
        return;
    }
    let conf = format!(
        "{CONF}options:\n  target_arch:\n    type: arch\n    description: Architecture\n    variable: target_arch\n    values: [aarch64, x86_64, ppc64le, riscv64, loongarch64]\nsandbox:\n  build-arch: '%{{target_arch}}'\n"
    );
    let element = "kind: manual\nvariables:\n  (?):\n  - target_arch == \"x86_64\":\n      triplet: x86_64-linux-gnu\n  - target_arch == \"aarch64\":\n      triplet: aarch64-linux-gnu\n";
    let p = project(&conf).file("elements/e.bst", element).build();
    let vars = p.show("%{vars}", &["e.bst"]);
    assert!(
        vars.contains("target_arch: x86_64\n") && vars.contains("triplet: x86_64-linux-gnu\n"),
        "{vars}"
    );
    let native = p.key("e.bst");
    let cross = p
        .forge(&[
            "-o",
            "target_arch",
            "aarch64",
            "show",
            "--format",
            "%{vars}%{full-key}",
            "e.bst",
        ])
        .ok();
    assert!(cross.contains("triplet: aarch64-linux-gnu\n"), "{cross}");
    assert!(!cross.contains(&native), "the build arch enters the key");
    // The same architecture in another spelling is the same sandbox.
    let err = p.forge(&["-o", "target_arch", "x86-64", "show", "e.bst"]).fails(3);
    assert!(
        err.contains("valid values: aarch64, x86_64, ppc64le, riscv64, loongarch64"),
        "{err}"
    );

    let only_others = conf.replace("[aarch64, x86_64, ppc64le, riscv64, loongarch64]", "[aarch64, riscv64]");
    let p = project(&only_others).file("elements/e.bst", "kind: manual\n").build();
    let err = p.forge(&["show", "e.bst"]).fails(3);
    assert!(
        err.contains("this machine's x86-64 is not one of the project's values"),
        "{err}"
    );
    assert!(err.contains("choose one with -o target_arch VALUE"), "{err}");
    p.forge(&["-o", "target_arch", "riscv64", "show", "e.bst"]).ok();
}

#[test]
fn aliases_may_use_the_project_root_and_mirrors_may_name_other_aliases() {
    let conf = format!(
        "{CONF}variables:\n  build-root: /build/%{{element-name}}\naliases:\n  t: \"%{{project-root-uri}}/tarballs/\"\nmirrors:\n- name: office\n  aliases:\n    t: [\"%{{project-root-uri}}/mirror/\"]\n    other: [https://example.invalid/]\n"
    );
    let p = project(&conf)
        .file("tarballs/data.txt", "from upstream\n")
        .file(
            "elements/e.bst",
            "kind: import\nsources:\n- kind: remote\n  url: t:data.txt\n",
        )
        .build();
    p.forge(&["track", "e.bst"]).ok();
    let fetched = p.forge(&["fetch", "e.bst"]);
    assert_eq!(fetched.code, 0, "{}", fetched.stderr);
    let element = std::fs::read_to_string(p.root.join("elements/e.bst")).unwrap();
    let pin = element
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("ref: "))
        .unwrap_or_else(|| panic!("track wrote no ref:\n{element}"));
    assert_eq!(pin, support::sha256_hex(b"from upstream\n"), "{element}");
}

#[test]
fn per_kind_overrides_for_kinds_no_element_uses_are_accepted() {
    let conf = format!(
        "{CONF}elements:\n  cargo:\n    variables:\n      x: y\nsources:\n  cargo:\n    config:\n      url: crates:x/\n"
    );
    let p = project(&conf).file("elements/e.bst", "kind: stack\n").build();
    assert_eq!(p.show("%{name}", &["e.bst"]), "e.bst\n");
    let protected = format!("{CONF}elements:\n  manual:\n    variables:\n      max-jobs: '9'\n");
    let p = project(&protected).file("elements/e.bst", "kind: stack\n").build();
    let err = p.forge(&["show", "e.bst"]).fails(3);
    assert!(
        err.starts_with("error: project.conf:7:7: invalid redefinition of protected variable 'max-jobs'"),
        "{err}"
    );
}

#[test]
fn unaliased_urls_warn_and_fail_when_fatal() {
    let element = "kind: import\nsources:\n- kind: remote\n  url: https://example.invalid/x.txt\n";
    let p = project(CONF).file("elements/e.bst", element).build();
    let run = p.forge(&["show", "--format", "%{name}", "e.bst"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stderr,
        "warning: elements/e.bst:3:3: [unaliased-url] the remote source of e.bst uses an unaliased URL: https://example.invalid/x.txt\n"
    );
    let p = project(&format!("{CONF}fatal-warnings:\n- unaliased-url\n"))
        .file("elements/e.bst", element)
        .build();
    let err = p.forge(&["show", "e.bst"]).fails(3);
    assert!(err.contains("lists 'unaliased-url' under fatal-warnings"), "{err}");
}
