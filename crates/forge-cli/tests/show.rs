//! `forge show`: states, order, selection, formats, resolved values.

mod support;

use support::{CONF, import_of, project};

const SHA: &str = "8a1fcd2d43e8e1a3e5b7d57c92fd8e1c4b8b0d1e4f59e6ed2bd1bcbd4ab5e8ef";

fn sample() -> support::TestProject {
    project(&format!("{CONF}aliases:\n  up: https://example.com/\n"))
        .file("files/a.txt", "a\n")
        .file("elements/base.bst", &import_of("files/a.txt"))
        .file(
            "elements/tool.bst",
            &format!("kind: import\nsources:\n- kind: remote\n  url: up:tool.sh\n  ref: {SHA}\n"),
        )
        .file("elements/unpinned.bst", "kind: import\nsources:\n- kind: tar\n  url: up:x.tar.gz\n")
        .file("elements/needs-unpinned.bst", "kind: stack\ndepends:\n- unpinned.bst\n")
        .file(
            "elements/app.bst",
            "kind: manual\ndescription: The app\nbuild-depends:\n- base.bst\n- tool.bst\nruntime-depends:\n- base.bst\nconfig:\n  build-commands:\n  - make PREFIX=%{prefix}\n",
        )
        .build()
}

#[test]
fn states_follow_pins_and_dependencies() {
    let p = sample();
    let out = p.show("%{name}:%{state}", &["app.bst", "needs-unpinned.bst"]);
    assert_eq!(
        out,
        "base.bst:buildable\ntool.bst:fetch needed\napp.bst:waiting\nunpinned.bst:no reference\nneeds-unpinned.bst:waiting\n"
    );
}

#[test]
fn default_format_is_bsts() {
    let p = sample();
    let out = p.forge(&["show", "--deps", "none", "unpinned.bst"]).ok();
    assert_eq!(out, format!("no reference {} unpinned.bst \n", "?".repeat(64)));
    let out = p.forge(&["show", "--deps", "none", "base.bst"]).ok();
    let fields: Vec<&str> = out.split(' ').filter(|f| !f.is_empty()).collect();
    assert_eq!(fields[0], "buildable");
    assert_eq!(fields[1].len(), 64);
    assert!(fields[1].bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(fields[2], "base.bst");
}

#[test]
fn unknown_keys_show_question_marks() {
    let p = sample();
    assert_eq!(
        p.show("%{key}", &["--deps", "none", "needs-unpinned.bst"]),
        "????????\n"
    );
    let key = p.show("%{key}|%{full-key}", &["--deps", "none", "base.bst"]);
    let (brief, full) = key.trim().split_once('|').unwrap();
    assert!(full.starts_with(brief) && brief.len() == 8);
}

#[test]
fn deps_selection_and_order() {
    let p = sample();
    assert_eq!(p.show("%{name}", &["--deps", "none", "app.bst"]), "app.bst\n");
    assert_eq!(p.show("%{name}", &["--deps", "run", "app.bst"]), "base.bst\napp.bst\n");
    assert_eq!(
        p.show("%{name}", &["--deps", "build", "app.bst"]),
        "base.bst\ntool.bst\n"
    );
    assert_eq!(
        p.show("%{name}", &["--deps", "all", "app.bst"]),
        "base.bst\ntool.bst\napp.bst\n"
    );
    assert_eq!(
        p.show("%{name}", &["--order", "alpha", "app.bst", "needs-unpinned.bst"]),
        "app.bst\nbase.bst\nneeds-unpinned.bst\ntool.bst\nunpinned.bst\n"
    );
}

#[test]
fn dependency_lists_print_as_yaml() {
    let p = sample();
    assert_eq!(
        p.show("%{deps}|%{build-deps}|%{runtime-deps}", &["--deps", "none", "app.bst"]),
        "- base.bst\n- tool.bst|- base.bst\n- tool.bst|- base.bst\n"
    );
    assert_eq!(p.show("%{deps}", &["--deps", "none", "base.bst"]), "[]\n");
}

#[test]
fn resolved_values_print_as_yaml() {
    let p = sample();
    let config = p.show("%{config}", &["--deps", "none", "app.bst"]);
    assert_eq!(
        config,
        "configure-commands: []\nbuild-commands:\n- make PREFIX=/usr\ninstall-commands: []\nstrip-commands:\n- \n\n"
    );
    let vars = p.show("%{vars}", &["--deps", "none", "app.bst"]);
    assert!(vars.contains("build-root: /buildstream/test/app.bst\n"), "{vars}");
    assert!(vars.ends_with("element-name: app.bst\n\n"), "{vars}");
    let env = p.show("%{env}", &["--deps", "none", "app.bst"]);
    assert!(
        env.starts_with("PATH: /usr/bin:/bin:/usr/sbin:/sbin\nSHELL: /bin/sh\n"),
        "{env}"
    );
    assert!(env.contains("SOURCE_DATE_EPOCH: 1321009871\n"), "{env}");
    let public = p.show("%{public}", &["--deps", "none", "app.bst"]);
    assert!(
        public.starts_with("bst:\n  split-rules:\n    runtime:\n    - /usr/bin\n"),
        "{public}"
    );
}

#[test]
fn json_has_every_field() {
    let p = sample();
    let out = p.forge(&["show", "--format", "json", "--deps", "none", "app.bst"]).ok();
    let rows: serde_json::Value = serde_json::from_str(&out).unwrap();
    let app = &rows[0];
    assert_eq!(app["name"], "app.bst");
    assert_eq!(app["kind"], "manual");
    assert_eq!(app["description"], "The app");
    assert_eq!(app["state"], "waiting");
    assert_eq!(app["full-key"].as_str().unwrap().len(), 64);
    assert_eq!(app["key"].as_str().unwrap(), &app["full-key"].as_str().unwrap()[..8]);
    assert_eq!(app["vars"]["prefix"], "/usr");
    assert_eq!(app["env"]["HOME"], "/tmp");
    assert_eq!(app["config"]["build-commands"][0], "make PREFIX=/usr");
    assert_eq!(app["public"]["bst"]["split-rules"]["doc"][0], "/usr/share/doc");
    assert_eq!(app["deps"], serde_json::json!(["base.bst", "tool.bst"]));
    assert_eq!(app["build-deps"], serde_json::json!(["base.bst", "tool.bst"]));
    assert_eq!(app["runtime-deps"], serde_json::json!(["base.bst"]));
    let rows: serde_json::Value = serde_json::from_str(
        &p.forge(&["show", "--format", "json", "--deps", "none", "tool.bst"])
            .ok(),
    )
    .unwrap();
    assert_eq!(rows[0]["sources"][0]["url"], "up:tool.sh");
    assert_eq!(rows[0]["sources"][0]["ref"], SHA);
}

#[test]
fn format_specs_and_unknown_symbols() {
    let p = sample();
    assert_eq!(
        p.show("[%{state: >14}] [%{name:<10}]", &["--deps", "none", "base.bst"]),
        "[     buildable] [base.bst  ]\n"
    );
    let err = p.forge(&["show", "--format", "%{nmae}", "base.bst"]).fails(2);
    assert!(err.contains("unknown format symbol %{nmae}"), "{err}");
}

#[test]
fn without_targets_default_targets_then_every_element() {
    let p = sample();
    assert_eq!(
        p.show("%{name}", &["--deps", "none"]),
        "app.bst\nbase.bst\nneeds-unpinned.bst\ntool.bst\nunpinned.bst\n"
    );
    p.write(
        "project.conf",
        &format!("{CONF}aliases:\n  up: https://example.com/\ndefaults:\n  targets: [tool.bst]\n"),
    );
    assert_eq!(p.show("%{name}", &["--deps", "none"]), "tool.bst\n");
}

#[test]
fn project_is_found_upwards_or_with_dash_c() {
    let p = sample();
    let sub = p.root.join("files");
    let out = p
        .forge_in(&sub, &["show", "--format", "%{name}", "--deps", "none", "base.bst"])
        .ok();
    assert_eq!(out, "base.bst\n");
    let root = p.root.to_str().unwrap();
    let out = p
        .forge_in(
            p.outside(),
            &["-C", root, "show", "--format", "%{name}", "--deps", "none", "base.bst"],
        )
        .ok();
    assert_eq!(out, "base.bst\n");
    // Global options work after the command too.
    let out = p
        .forge_in(
            p.outside(),
            &["show", "-C", root, "--format", "%{name}", "--deps", "none", "base.bst"],
        )
        .ok();
    assert_eq!(out, "base.bst\n");
    let err = p.forge_in(p.outside(), &["show", "base.bst"]).fails(3);
    assert!(err.contains("no project.conf found"), "{err}");
}

#[test]
fn options_from_the_command_line_drive_conditionals() {
    let conf = format!(
        "{CONF}options:\n  arch:\n    type: arch\n    description: target\n    values: [x86-64, aarch64]\n    variable: arch\n  debug:\n    type: bool\n    description: debug\n    default: False\n  extras:\n    type: flags\n    description: extras\n    values: [docs, man]\n    variable: extras\n"
    );
    let p = project(&conf)
        .file("files/a", "a")
        .file(
            "elements/e.bst",
            "kind: import\nsources:\n- kind: local\n  path: files/a\nvariables:\n  flags: base\n  (?):\n  - arch == \"aarch64\" and debug:\n      flags: arm-debug\n  - arch == \"aarch64\" and not debug:\n      flags: arm\n  - ('docs' in extras) or arch == 'x86-64':\n      docs: yes\n",
        )
        .build();
    let get = |args: &[&str]| {
        let mut all: Vec<&str> = args.to_vec();
        all.extend_from_slice(&["show", "--format", "%{vars}", "e.bst"]);
        p.forge(&all).ok()
    };
    let out = get(&["-o", "arch", "aarch64", "-o", "debug", "True"]);
    assert!(
        out.contains("flags: arm-debug\n") && out.contains("arch: aarch64\n") && !out.contains("docs:"),
        "{out}"
    );
    let out = get(&["-o", "arch", "aarch64"]);
    assert!(out.contains("flags: arm\n"), "{out}");
    let out = get(&["-o", "arch", "aarch64", "-o", "extras", "man,docs"]);
    assert!(
        out.contains("docs: yes\n") && out.contains("extras: docs,man\n"),
        "{out}"
    );
    let out = get(&["-o", "arch", "x86-64"]);
    assert!(out.contains("flags: base\n") && out.contains("docs: yes\n"), "{out}");
}

#[test]
fn a_ten_thousand_deep_chain_loads_and_shows() {
    let mut builder = project(CONF).file("files/x", "x");
    let n = 10_000;
    for i in 0..n {
        let mut text = import_of("files/x");
        if i > 0 {
            text.push_str(&format!("depends:\n- e{}.bst\n", i - 1));
        }
        builder = builder.file(&format!("elements/e{i}.bst"), &text);
    }
    let p = builder.build();
    let out = p.show("%{name} %{state}", &[&format!("e{}.bst", n - 1)]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), n);
    assert_eq!(lines[0], "e0.bst buildable");
    assert_eq!(lines[n - 1], format!("e{}.bst waiting", n - 1));
    let key = p.key(&format!("e{}.bst", n - 1));
    assert_eq!(key.len(), 64);
}

#[test]
fn help_exists_for_every_command() {
    let p = sample();
    let out = p.forge(&["--help"]).ok();
    assert!(
        out.contains("show") && out.contains("--directory") && out.contains("--option") && out.contains("--cache-dir"),
        "{out}"
    );
    let out = p.forge(&["show", "--help"]).ok();
    assert!(
        out.contains("--deps") && out.contains("--order") && out.contains("--format"),
        "{out}"
    );
}

#[test]
fn checkout_usage_says_a_directory_or_a_tarball_is_required() {
    let p = sample();
    for command in [&["checkout"][..], &["artifact", "checkout"], &["source", "checkout"]] {
        let mut args = command.to_vec();
        args.push("--help");
        let out = p.forge(&args).ok();
        assert!(
            out.contains("<DIR>\n") && out.contains("--tar <FILE>\n") && out.contains("required unless --tar"),
            "{out}"
        );
    }
    let err = p.forge(&["checkout", "base.bst"]).fails(2);
    assert!(err.contains("<DIR>"), "{err}");
}

#[test]
fn bst_spellings_of_commands_work() {
    let p = sample();
    for (bst, forge) in [
        (&["source", "fetch", "--help"][..], &["fetch", "--help"][..]),
        (&["source", "track", "--help"], &["track", "--help"]),
    ] {
        let a = p.forge(bst).ok();
        let b = p.forge(forge).ok();
        // The same options, under another usage line.
        let options = |help: &str| {
            help.lines()
                .filter(|l| l.trim_start().starts_with('-'))
                .map(str::to_string)
                .collect::<Vec<_>>()
        };
        assert_eq!(options(&a), options(&b), "{a}");
    }
    // And they run: fetch of an element with local sources only.
    p.forge(&["source", "fetch", "base.bst"]).ok();
}

#[test]
fn completions_and_the_manual_come_from_the_command_definitions() {
    let dir = tempfile::tempdir().unwrap();
    let p = sample();
    // No project needed: from an empty directory.
    let bash = p.forge_in(dir.path(), &["completions", "bash"]).ok();
    assert!(
        bash.contains("_forge()") && bash.contains("checkout") && bash.contains("--cache-dir"),
        "{bash}"
    );
    let zsh = p.forge_in(dir.path(), &["completions", "zsh"]).ok();
    assert!(zsh.starts_with("#compdef forge"), "{zsh}");
    let man = p.forge_in(dir.path(), &["manual"]).ok();
    assert!(
        man.contains(".TH forge 1") && man.contains("hermetic build integrator"),
        "{man}"
    );
    let err = p.forge_in(dir.path(), &["completions", "nosuchshell"]).fails(2);
    assert!(err.contains("bash") && err.contains("zsh"), "{err}");
}

/// Parsed element files are kept between runs by their text: the second
/// run reads them back, an edit is seen at once, and a failed load keeps
/// nothing.
#[test]
fn parsed_files_are_kept_by_their_text() {
    let p = sample();
    let parsed = p.outside().join("cache/parsed");
    let entries = || -> usize {
        std::fs::read_dir(&parsed)
            .map(|dirs| {
                dirs.map(|d| std::fs::read_dir(d.unwrap().path()).unwrap().count())
                    .sum()
            })
            .unwrap_or(0)
    };
    let first = p.show("%{name}|%{vars}|%{config}", &["app.bst"]);
    // app, base and tool: one entry each.
    assert_eq!(entries(), 3);
    assert_eq!(p.show("%{name}|%{vars}|%{config}", &["app.bst"]), first);
    assert_eq!(entries(), 3);

    let edited =
        "kind: manual\nbuild-depends:\n- base.bst\nconfig:\n  build-commands:\n  - make DESTDIR=%{install-root}\n";
    std::fs::write(p.root.join("elements/app.bst"), edited).unwrap();
    let after = p.show("%{config}", &["--deps", "none", "app.bst"]);
    assert!(after.contains("make DESTDIR=/buildstream-install"), "{after}");
    assert_eq!(entries(), 4);

    std::fs::write(p.root.join("elements/app.bst"), "kind: manual\ndepends:\n- gone.bst\n").unwrap();
    p.forge(&["show", "app.bst"]).fails(3);
    assert_eq!(entries(), 4, "a project that does not load adds nothing");
}

#[test]
fn a_closed_pipe_ends_show_quietly() {
    use std::io::{BufRead, BufReader};
    let mut builder = project(CONF);
    let mut stack = String::from("kind: stack\ndepends:\n");
    for i in 0..400 {
        builder = builder.file(&format!("elements/e{i}.bst"), "kind: stack\n");
        stack.push_str(&format!("- e{i}.bst\n"));
    }
    let p = builder.file("elements/top.bst", &stack).build();
    let mut child = p
        .process(&p.outside().join("cache"))
        .args(["show", "--format", "%{vars}", "top.bst"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // `| head -1`: read one line, then close the pipe.
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!first.is_empty());
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(output.status.code(), Some(141), "{stderr}");
}
