//! A newcomer's first hour with a Python application, from an empty
//! folder: `forge init` (a Debian bookworm base, here a signed archive on
//! 127.0.0.1 holding the host's own bookworm packages), `forge lock` of a
//! two-line requirements.in against a loopback index, `forge build`, and
//! the application's commands run in the sandbox.

mod support;

use std::fs;

use support::debian::{Archive, host_packages};
use support::http::Server;
use support::project;
use support::pypi::{publish, wheel_requiring};

/// A release: name, version, files, entry points, Requires-Dist.
type Release<'a> = (
    &'a str,
    &'a str,
    &'a [(&'a str, &'a str)],
    Option<&'a str>,
    &'a [&'a str],
);

/// An index with httpie and black (made here: the real ones need the
/// network) and what they require, one of them only on Windows.
fn index() -> Server {
    let index = Server::start();
    let packages: [Release; 5] = [
        (
            "httpie",
            "3.2.4",
            &[
                ("httpie/__init__.py", "__version__ = '3.2.4'\n"),
                (
                    "httpie/__main__.py",
                    "import sys\nimport requests\n\ndef main():\n    if '--version' in sys.argv:\n        print('3.2.4')\n        return 0\n    print('requests', requests.__version__)\n    return 0\n",
                ),
            ],
            Some("[console_scripts]\nhttp = httpie.__main__:main\nhttps = httpie.__main__:main\n"),
            &["requests>=2.22", "colorama>=0.2.4; sys_platform == \"win32\""],
        ),
        (
            "requests",
            "2.32.3",
            &[("requests/__init__.py", "__version__ = '2.32.3'\n")],
            None,
            &[],
        ),
        (
            "black",
            "24.10.0",
            &[(
                "black/__init__.py",
                "import click\n\ndef patched_main():\n    print('black, 24.10.0 (click ' + click.__version__ + ')')\n",
            )],
            Some("[console_scripts]\nblack = black:patched_main\n"),
            &["click>=8.0.0"],
        ),
        (
            "click",
            "8.1.7",
            &[("click/__init__.py", "__version__ = '8.1.7'\n")],
            None,
            &["colorama; platform_system == \"Windows\""],
        ),
        ("colorama", "0.4.6", &[("colorama/__init__.py", "")], None, &[]),
    ];
    for (name, version, files, entry_points, requires) in packages {
        let wheel = wheel_requiring(name, version, files, entry_points, requires);
        publish(
            &index,
            name,
            &[(&format!("{name}-{version}-py3-none-any.whl"), &wheel, false)],
            true,
        );
    }
    index
}

#[test]
fn from_an_empty_folder_to_a_python_command_in_the_sandbox() {
    let archive = Archive::for_suite("bookworm");
    archive.publish_with_fields(&host_packages(&["python3", "dash", "coreutils"]));
    let index = index();
    // The fixture's own project only lends the isolated home and cache.
    let p = project("").build();
    let dir = p.outside().join("my app");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("requirements.in"), "httpie\nblack\n").unwrap();
    let keyring = p.outside().join("archive-key.gpg");
    fs::write(&keyring, archive.public_key()).unwrap();

    // forge lock before there is a project says how to start one.
    let err = p.forge_in(&dir, &["lock", "requirements.in"]).fails(3);
    assert!(err.contains("`forge init` starts a new one here"), "{err}");

    let run = p.forge_in(
        &dir,
        &[
            "init",
            "--debian",
            &format!("{}/debian/", archive.server.base),
            "--keyring",
            keyring.to_str().unwrap(),
            "--pypi",
            &format!("{}/", index.base),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("init: my-app: Python 3.11 on Debian bookworm (amd64)"),
        "{}",
        run.stderr
    );
    let conf = fs::read_to_string(dir.join("project.conf")).unwrap();
    assert!(
        conf.contains("name: my-app") && conf.contains("python: '3.11'"),
        "{conf}"
    );
    let base = fs::read_to_string(dir.join("elements/base.bst")).unwrap();
    for package in ["package: python3.11-minimal", "package: dash", "package: libc6"] {
        assert!(base.contains(package), "{package}: {base}");
    }
    let again = p.forge_in(&dir, &["init", "--no-base"]).fails(2);
    assert!(again.contains("already holds a project.conf"), "{again}");

    let run = p.forge_in(&dir, &["lock", "requirements.in", "--app", "app", "--base", "base.bst"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("lock: 4 packages resolved for Python 3.11"),
        "{}",
        run.stderr
    );
    assert!(!dir.join("elements/requirements/colorama.bst").exists(), "Windows only");

    let run = p.forge_in(&dir, &["build", "app.bst"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let run = p.forge_in(&dir, &["shell", "app.bst", "--", "http", "--version"]);
    assert_eq!((run.code, run.stdout.as_str()), (0, "3.2.4\n"), "{}", run.stderr);
    let run = p.forge_in(&dir, &["shell", "app.bst", "--", "black", "--version"]);
    assert_eq!(run.stdout, "black, 24.10.0 (click 8.1.7)\n", "{}", run.stderr);

    // Byte-compilation turned on for every pip element: each is compiled
    // by the base's interpreter, which it build-depends on.
    let conf = fs::read_to_string(dir.join("project.conf")).unwrap();
    let conf = conf.replacen(
        "  pip:\n    variables:\n",
        "  pip:\n    config:\n      compile-bytecode: True\n    variables:\n",
        1,
    );
    fs::write(dir.join("project.conf"), conf).unwrap();
    let run = p.forge_in(&dir, &["build", "app.bst"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let out = p.outside().join("checkout");
    p.forge_in(
        &dir,
        &[
            "checkout",
            "--deps",
            "none",
            "requirements/httpie.bst",
            out.to_str().unwrap(),
        ],
    )
    .ok();
    let cached = out.join("usr/lib/python3/dist-packages/httpie/__pycache__");
    let compiled: Vec<String> = fs::read_dir(&cached)
        .unwrap_or_else(|e| panic!("{}: {e}", cached.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(compiled.iter().any(|n| n == "__main__.cpython-311.pyc"), "{compiled:?}");
    let run = p.forge_in(&dir, &["shell", "app.bst", "--", "http", "--version"]);
    assert_eq!(run.stdout, "3.2.4\n", "{}", run.stderr);
}

#[test]
fn init_takes_back_what_it_wrote_when_the_base_cannot_be_made() {
    let p = project("").build();
    let dir = p.outside().join("offline");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("requirements.in"), "httpie\n").unwrap();
    // Nothing answers on this port.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/debian/", closed.local_addr().unwrap());
    drop(closed);
    let run = p.forge_in(&dir, &["--network-retries", "0", "init", "--debian", &url]);
    assert_ne!(run.code, 0, "{}", run.stderr);
    let left: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["requirements.in"], "the folder is as it was: {}", run.stderr);

    let err = p.forge_in(&dir, &["init", "--suite", "sid", "--no-base"]).fails(2);
    assert!(err.contains("not of 'sid'"), "{err}");
    p.forge_in(&dir, &["init", "--no-base"]).ok();
    assert!(dir.join("keys/debian-archive-keyring.gpg").is_file());
}
