//! The community plugins' elements that assemble without commands, built:
//! collect_integration, collect_initial_scripts, collect_manifest,
//! check_forbidden and flatpak_image.

mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt;

use support::{CONF, project};

const PLUGINS: &str = "plugins:
- origin: pip
  package-name: buildstream-plugins-community
  elements: [collect_integration, collect_manifest, check_forbidden, flatpak_image]
- origin: local
  path: plugins
  elements: [collect_initial_scripts]
";

fn builder() -> support::ProjectBuilder {
    project(&format!("{CONF}{PLUGINS}")).file("plugins/collect_initial_scripts.py", "# forge runs no plugin code\n")
}

fn import(path: &str, public: &str) -> String {
    format!("kind: import\nsources:\n- kind: local\n  path: {path}\n{public}")
}

fn build_and_checkout(p: &support::TestProject, element: &str) -> std::path::PathBuf {
    let run = p.forge(&["build", element]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let out = p.outside().join(format!("out-{element}"));
    p.forge(&["checkout", "--deps", "none", element, out.to_str().unwrap()])
        .ok();
    out
}

#[test]
fn collect_integration_gathers_integration_commands_in_staging_order() {
    let p = builder()
        .file("files/a/a.txt", "a\n")
        .file("files/b/b.txt", "b\n")
        .file(
            "elements/a.bst",
            &import("files/a", "public:\n  bst:\n    integration-commands:\n    - ldconfig\n"),
        )
        .file(
            "elements/b.bst",
            &import(
                "files/b",
                "depends:\n- a.bst\npublic:\n  bst:\n    integration-commands:\n    - update-mime-database /usr/share/mime\n    - echo b\n",
            ),
        )
        .file(
            "elements/post.bst",
            "kind: collect_integration\nbuild-depends:\n- b.bst\nconfig:\n  script-path: /usr/libexec/post.sh\n",
        )
        .build();
    let out = build_and_checkout(&p, "post.bst");
    let script = out.join("usr/libexec/post.sh");
    assert_eq!(
        fs::read_to_string(&script).unwrap(),
        "#!/bin/sh\nset -e\n\n# integration commands from a.bst\nldconfig\n\n# integration commands from b.bst\nupdate-mime-database /usr/share/mime\n\necho b\n\n"
    );
    // Artifacts keep the executable bit only: 0777 checks out as 0755.
    assert_eq!(fs::metadata(&script).unwrap().permissions().mode() & 0o777, 0o755);

    p.write(
        "elements/post.bst",
        "kind: collect_integration\nbuild-depends:\n- b.bst\nconfig:\n  script-path: /post.sh\n  ignore: [missing.bst]\n",
    );
    let err = p.forge(&["build", "post.bst"]).fails(5);
    assert!(
        err.contains("post.bst: element missing.bst is not in dependencies"),
        "{err}"
    );
}

#[test]
fn collect_initial_scripts_numbers_the_scripts_of_dependencies() {
    let p = builder()
        .file("files/a/a", "a\n")
        .file(
            "elements/users.bst",
            &import("files/a", "public:\n  initial-script:\n    script: |\n      #!/bin/sh\n      echo users\n"),
        )
        .file("elements/plain.bst", &import("files/a", ""))
        .file(
            "elements/sub/groups.bst",
            &import("files/a", "public:\n  initial-script:\n    script: echo groups\n"),
        )
        .file(
            "elements/scripts.bst",
            "kind: collect_initial_scripts\nbuild-depends:\n- users.bst\n- plain.bst\n- sub/groups.bst\nconfig:\n  path: /initial_scripts\n",
        )
        .build();
    let out = build_and_checkout(&p, "scripts.bst");
    let dir = out.join("initial_scripts");
    let mut names: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["001-sub_groups_bst", "002-users_bst"]);
    assert_eq!(
        fs::read_to_string(dir.join("002-users_bst")).unwrap(),
        "#!/bin/sh\necho users"
    );
    assert_eq!(
        fs::metadata(dir.join("001-sub_groups_bst"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o755
    );
}

#[test]
fn check_forbidden_fails_with_the_chain_to_a_forbidden_element() {
    let p = builder()
        .file("files/a/a", "a\n")
        .file("elements/tool.bst", &import("files/a", ""))
        .file("elements/lib.bst", &import("files/a", "depends:\n- tool.bst\n"))
        .file("elements/app.bst", &import("files/a", "depends:\n- lib.bst\n"))
        .file(
            "elements/check.bst",
            "kind: check_forbidden\nbuild-depends:\n- app.bst\nconfig:\n  forbidden:\n  - tool.bst\n",
        )
        .file(
            "elements/fine.bst",
            "kind: check_forbidden\nbuild-depends:\n- app.bst\nconfig:\n  forbidden:\n  - other.bst\n",
        )
        .build();
    let err = p.forge(&["build", "check.bst"]).fails(5);
    assert!(err.contains("some elements were forbidden"), "{err}");
    assert!(err.contains("lib depends on tool"), "{err}");
    assert!(err.contains("app depends on lib"), "{err}");
    build_and_checkout(&p, "fine.bst");
}

#[test]
fn collect_manifest_lists_what_dependencies_are_made_of() {
    let p = builder()
        .file("files/zlib/zlib.h", "/* zlib */\n")
        .file("files/app/main.c", "int main(void) { return 0; }\n")
        .file(
            "elements/zlib.bst",
            &import("files/zlib", "public:\n  cpe:\n    vendor: zlib\n    version: 1.3.1\n"),
        )
        .file(
            "elements/components/app.bst",
            &import("files/app", "depends:\n- zlib.bst\n"),
        )
        .file(
            "elements/manifest.bst",
            "kind: collect_manifest\nbuild-depends:\n- components/app.bst\nconfig:\n  path: /usr/manifest.json\n",
        )
        .build();
    let run = p.forge(&["build", "manifest.bst"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("Missing version to components/app.bst."),
        "{}",
        run.stderr
    );
    let out = p.outside().join("out");
    p.forge(&["checkout", "--deps", "none", "manifest.bst", out.to_str().unwrap()])
        .ok();
    let manifest: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(out.join("usr/manifest.json")).unwrap()).unwrap();
    let modules = manifest["modules"].as_array().unwrap();
    let names: Vec<&str> = modules.iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["zlib.bst", "components/app.bst"], "dependencies come first");
    assert_eq!(
        modules[0]["x-cpe"],
        serde_json::json!({"vendor": "zlib", "version": "1.3.1", "product": "zlib"})
    );
    assert_eq!(modules[1]["x-cpe"], serde_json::json!({"product": "app"}));
    assert_eq!(
        modules[1]["sources"],
        serde_json::json!([{ "type": "dir", "path": "files/app", "x-cpe": { "product": "app" } }])
    );
    assert!(manifest["//NOTE"].as_str().unwrap().contains("generated manifest"));
}

#[test]
fn flatpak_image_lays_out_files_export_and_metadata() {
    let p = builder()
        .file("files/app/usr/bin/app", "#!/bin/sh\n")
        .file("files/app/usr/share/app/data", "data\n")
        .file("files/app/usr/share/doc/app/README", "doc\n")
        .file("elements/app.bst", &import("files/app", ""))
        .file(
            "elements/image.bst",
            "kind: flatpak_image\nbuild-depends:\n- app.bst\nconfig:\n  directory: '%{prefix}'\n  exclude: [doc]\n  metadata:\n    Application:\n      name: org.example.App\n      command: app\n    Context:\n      shared: ipc;\n    Extension org.example.App.Debug:\n      directory: lib/debug\n",
        )
        .build();
    let out = build_and_checkout(&p, "image.bst");
    assert!(out.join("files/bin/app").is_file());
    assert!(out.join("files/share/app/data").is_file());
    assert!(
        !out.join("files/share/doc/app/README").exists(),
        "the doc domain is excluded"
    );
    assert!(out.join("files/lib/debug").is_dir());
    assert!(out.join("export").is_dir());
    assert_eq!(
        fs::read_to_string(out.join("metadata")).unwrap(),
        "[Application]\nname = org.example.App\ncommand = app\n\n[Context]\nshared = ipc;\n\n[Extension org.example.App.Debug]\ndirectory = lib/debug\n\n"
    );
    p.write(
        "elements/bad.bst",
        "kind: flatpak_image\nbuild-depends:\n- app.bst\nconfig:\n  directory: /usr\n  metadata:\n    Context:\n      shared: ipc;\n",
    );
    let err = p.forge(&["show", "bad.bst"]).fails(3);
    assert!(
        err.contains("either an Application or a Runtime section must be present"),
        "{err}"
    );
}
