//! Python: pypi sources tracked from an index on 127.0.0.1, wheels
//! installed natively and compared with pip, hostile wheels refused.

mod support;

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use forge_python::install::record_hash;
use support::base::link_base_into;
use support::http::{Behavior, Server};
use support::project;
use support::pypi::{conf, publish, pypi_element, sha256, wheel, wheel_requiring};

#[test]
fn track_picks_the_newest_matching_wheel_for_the_target() {
    let server = Server::start();
    let v1 = wheel("demo", "1.0", &[("demo/__init__.py", "V = 1\n")], None);
    let v2 = wheel("demo", "2.0", &[("demo/__init__.py", "V = 2\n")], None);
    let v3 = wheel("demo", "3.0", &[("demo/__init__.py", "V = 3\n")], None);
    let v21 = wheel("demo", "2.1", &[("demo/__init__.py", "V = 21\n")], None);
    let native = b"not really a wheel".to_vec();
    publish(
        &server,
        "demo",
        &[
            ("demo-1.0-py3-none-any.whl", &v1, false),
            ("demo-2.0-py3-none-any.whl", &v2, false),
            ("demo-2.1-py3-none-any.whl", &v21, true),
            (
                "demo-2.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
                &native,
                false,
            ),
            ("demo-2.5.tar.gz", b"sdist", false),
            ("demo-3.0-py3-none-any.whl", &v3, false),
        ],
        true,
    );
    let p = project(&conf(&server))
        .file("elements/demo.bst", &pypi_element("Demo", ">=1.0,<3", ""))
        .build();
    let run = p.forge(&["track", "demo.bst"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let text = fs::read_to_string(p.root.join("elements/demo.bst")).unwrap();
    assert_eq!(
        text,
        format!(
            "kind: pip\nsources:\n- kind: pypi\n  ref:\n    version: 2.0\n    filename: demo-2.0-py3-none-any.whl\n    sha256: {}\n  url: pypi:simple/\n  name: Demo\n  version: '>=1.0,<3'\n",
            sha256(&v2)
        ),
        "the newest non-yanked pure wheel below 3, written as one block after the first key"
    );

    // With a target, the native wheel wins for the same version.
    let target = "  target:\n    python: '3.11'\n    glibc: '2.36'\n    arch: x86_64\n";
    p.write("elements/demo.bst", &pypi_element("demo", "==2.0", target));
    p.forge(&["track", "demo.bst"]).ok();
    let text = fs::read_to_string(p.root.join("elements/demo.bst")).unwrap();
    assert!(
        text.contains("filename: demo-2.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"),
        "{text}"
    );

    // Sdists only when allowed.
    p.write("elements/demo.bst", &pypi_element("demo", "==2.5", ""));
    let err = p.forge(&["track", "demo.bst"]).fails(4);
    assert!(err.contains("sdists need allow-sdist: true"), "{err}");
    p.write(
        "elements/demo.bst",
        &pypi_element("demo", "==2.5", "  allow-sdist: true\n"),
    );
    p.forge(&["track", "demo.bst"]).ok();
    assert!(
        fs::read_to_string(p.root.join("elements/demo.bst"))
            .unwrap()
            .contains("filename: demo-2.5.tar.gz")
    );
}

#[test]
fn html_indexes_work_and_a_changed_file_is_caught() {
    let server = Server::start();
    let good = wheel("tool", "1.0", &[("tool.py", "X = 1\n")], None);
    publish(&server, "tool", &[("tool-1.0-py3-none-any.whl", &good, false)], false);
    let p = project(&conf(&server))
        .file("elements/tool.bst", &pypi_element("tool", "==1.0", ""))
        .build();
    p.forge(&["track", "tool.bst"]).ok();
    assert!(
        fs::read_to_string(p.root.join("elements/tool.bst"))
            .unwrap()
            .contains(&sha256(&good))
    );

    // The index re-uploads the same version with other bytes: a fresh
    // cache fetching the pin refuses them.
    let evil = wheel("tool", "1.0", &[("tool.py", "import os; os.system('steal')\n")], None);
    publish(&server, "tool", &[("tool-1.0-py3-none-any.whl", &evil, false)], false);
    let err = p
        .forge(&[
            "--cache-dir",
            p.outside().join("fresh-cache").to_str().unwrap(),
            "fetch",
            "tool.bst",
        ])
        .fails(4);
    assert!(
        err.contains(&format!("expected sha256 {}, got {}", sha256(&good), sha256(&evil))),
        "{err}"
    );
}

fn tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(rel) = pending.pop() {
        let Ok(entries) = fs::read_dir(root.join(&rel)) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = rel.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                pending.push(path);
            } else {
                out.insert(path.display().to_string(), fs::read(entry.path()).unwrap());
            }
        }
    }
    out
}

#[test]
fn installation_matches_pip_file_by_file() {
    let server = Server::start();
    let demo = wheel(
        "demo",
        "1.0",
        &[
            ("demo/__init__.py", "from .core import run\n"),
            ("demo/core.py", "def run():\n    print('demo ran')\n"),
            ("nsp/part/mod.py", "VALUE = 'namespace'\n"),
            ("demo-1.0.data/scripts/demo-tool", "#!python\nimport demo\ndemo.run()\n"),
        ],
        Some("[console_scripts]\ndemo = demo:run\n\n[gui_scripts]\ndemo-gui = demo.core:run\n"),
    );
    publish(&server, "demo", &[("demo-1.0-py3-none-any.whl", &demo, false)], true);
    let python = String::from_utf8(
        std::process::Command::new("python3")
            .args(["-c", "import sys; print(sys.executable)"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .to_string();
    let element = format!(
        "{}variables:\n  python: {python}\n  python-site-packages: /site\n  bindir: /site/bin\n",
        pypi_element("demo", "==1.0", "")
    );
    let p = project(&conf(&server)).file("elements/demo.bst", &element).build();
    p.forge(&["track", "demo.bst"]).ok();
    let run = p.forge(&["build", "--check", "demo.bst"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("check: demo.bst is reproducible"), "{}", run.stderr);
    let out = p.outside().join("forge");
    p.forge(&["checkout", "demo.bst", out.to_str().unwrap()]).ok();

    let wheels = p.outside().join("wheels");
    fs::create_dir_all(&wheels).unwrap();
    fs::write(wheels.join("demo-1.0-py3-none-any.whl"), &demo).unwrap();
    let target = p.outside().join("pip");
    let status = std::process::Command::new("python3")
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-compile",
            "--no-index",
            "--find-links",
        ])
        .arg(&wheels)
        .arg("--target")
        .arg(&target)
        .arg("demo==1.0")
        .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
        .env("PIP_ROOT_USER_ACTION", "ignore")
        .status()
        .unwrap();
    assert!(status.success());
    let skip = |path: &str| path.ends_with("/RECORD") || path.ends_with("/INSTALLER") || path.contains("__pycache__");
    let ours: BTreeMap<String, Vec<u8>> = tree(&out.join("site")).into_iter().filter(|(k, _)| !skip(k)).collect();
    let pips: BTreeMap<String, Vec<u8>> = tree(&target).into_iter().filter(|(k, _)| !skip(k)).collect();
    assert_eq!(ours.keys().collect::<Vec<_>>(), pips.keys().collect::<Vec<_>>());
    for (path, bytes) in &ours {
        assert_eq!(
            String::from_utf8_lossy(bytes),
            String::from_utf8_lossy(&pips[path]),
            "{path} differs from pip's"
        );
    }
}

#[test]
fn hostile_wheels_are_refused() {
    let server = Server::start();
    // RECORD vouches for other content than the wheel holds.
    let mut tampered = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    let wheel_meta = b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\n";
    tampered.start_file("bad.py", options).unwrap();
    tampered.write_all(b"import os; os.system('steal')\n").unwrap();
    tampered.start_file("bad-1.0.dist-info/WHEEL", options).unwrap();
    tampered.write_all(wheel_meta).unwrap();
    tampered.start_file("bad-1.0.dist-info/RECORD", options).unwrap();
    tampered
        .write_all(
            format!(
                "bad.py,{},12\nbad-1.0.dist-info/WHEEL,{},{}\nbad-1.0.dist-info/RECORD,,\n",
                record_hash(b"SAFE = True\n"),
                record_hash(wheel_meta),
                wheel_meta.len()
            )
            .as_bytes(),
        )
        .unwrap();
    let tampered = tampered.finish().unwrap().into_inner();
    let mut escape = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    escape
        .start_file("../../escaped.py", zip::write::SimpleFileOptions::default())
        .unwrap();
    escape.write_all(b"x").unwrap();
    let escape = escape.finish().unwrap().into_inner();
    publish(
        &server,
        "bad",
        &[
            ("bad-1.0-py3-none-any.whl", &tampered, false),
            ("bad-2.0-py3-none-any.whl", &escape, false),
        ],
        true,
    );
    let p = project(&conf(&server))
        .file("elements/bad.bst", &pypi_element("bad", "==1.0", ""))
        .build();
    p.forge(&["track", "bad.bst"]).ok();
    let err = p.forge(&["build", "bad.bst"]).fails(5);
    assert!(err.contains("'bad.py' does not match RECORD"), "{err}");
    p.write("elements/bad.bst", &pypi_element("bad", "==2.0", ""));
    p.forge(&["track", "bad.bst"]).ok();
    let err = p.forge(&["build", "bad.bst"]).fails(5);
    assert!(err.contains("would be written outside the target"), "{err}");
    assert!(!p.outside().join("escaped.py").exists());
}

#[test]
fn huge_members_install_in_bounded_memory() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("zeros-1.0-py3-none-any.whl");
    // 1 GiB of zeros as one deflate stream of about 1 MiB: a block
    // compressed once with a full flush (so it stands alone) repeated
    // 1,024 times, then an empty final block; the zip is written by hand
    // around it, so making it takes a second, not a compression of 1 GiB.
    // A second member declares 4 KiB but carries 80 MiB of empty stored
    // blocks (which inflate to nothing) before its data: small by its
    // declared size, large by what must be read.
    let made = std::process::Command::new("python3")
        .arg("-c")
        .arg(
            r#"
import base64, hashlib, struct, sys, zlib
block = bytes(1 << 20)
c = zlib.compressobj(9, zlib.DEFLATED, -15)
big = (c.compress(block) + c.flush(zlib.Z_FULL_FLUSH)) * 1024 + b"\x03\x00"
crc, h = 0, hashlib.sha256()
for _ in range(1024):
    crc = zlib.crc32(block, crc); h.update(block)
small = b"padded\n" * 585 + b"x"
padded = b"\x00\x00\x00\xff\xff" * (16 << 20) + b"\x01" + struct.pack("<HH", len(small), 0xFFFF ^ len(small)) + small
b64 = lambda d: base64.urlsafe_b64encode(d).rstrip(b"=").decode()
wheel = b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
record = ("zeros/big.bin,sha256=%s,%d\nzeros/padded.bin,sha256=%s,%d\nzeros-1.0.dist-info/WHEEL,sha256=%s,%d\nzeros-1.0.dist-info/RECORD,,\n"
          % (b64(h.digest()), 1 << 30, b64(hashlib.sha256(small).digest()), len(small), b64(hashlib.sha256(wheel).digest()), len(wheel))).encode()
members = [("zeros/big.bin", 8, crc, big, 1 << 30), ("zeros/padded.bin", 8, zlib.crc32(small), padded, len(small))]
members += [(n, 0, zlib.crc32(d), d, len(d)) for n, d in [("zeros-1.0.dist-info/WHEEL", wheel), ("zeros-1.0.dist-info/RECORD", record)]]
out, central = bytearray(), bytearray()
for name, method, crc, data, size in members:
    n, offset = name.encode(), len(out)
    out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0, crc, len(data), size, len(n), 0) + n + data
    central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, method, 0, 0, crc, len(data), size, len(n), 0, 0, 0, 0, 0, offset) + n
start = len(out)
out += central + struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central), start, 0)
open(sys.argv[1], "wb").write(out)
"#,
        )
        .arg(&path)
        .status()
        .expect("python3");
    assert!(made.success());
    let bytes = fs::read(&path).unwrap();
    assert!(bytes.len() < 90 << 20, "the wheel's size: {}", bytes.len());
    publish(&server, "zeros", &[("zeros-1.0-py3-none-any.whl", &bytes, false)], true);
    let p = project(&conf(&server))
        .file("elements/zeros.bst", &pypi_element("zeros", "==1.0", ""))
        .build();
    p.forge(&["track", "zeros.bst"]).ok();
    p.forge(&["fetch", "zeros.bst"]).ok();
    let (code, peak_kib) = p.run_measured(&p.outside().join("cache"), &["build", "zeros.bst"]);
    assert_eq!(code, 0, "the build succeeds");
    assert!(
        peak_kib < 64 * 1024,
        "peak resident memory {peak_kib} KiB, limit 64 MiB"
    );
    let out = p.outside().join("out");
    p.forge(&["checkout", "--hardlinks", "zeros.bst", out.to_str().unwrap()])
        .ok();
    let installed = out.join("usr/lib/python3.11/site-packages/zeros/big.bin");
    assert_eq!(fs::metadata(&installed).unwrap().len(), 1 << 30);
    let padded = fs::read(out.join("usr/lib/python3.11/site-packages/zeros/padded.bin")).unwrap();
    assert_eq!(padded.len(), 4096);
    assert!(padded.starts_with(b"padded\n") && padded.ends_with(b"x"));
}

#[test]
fn two_wheels_writing_the_same_file_are_refused() {
    let server = Server::start();
    let one = wheel("one", "1.0", &[("shared/__init__.py", "WHO = 'one'\n")], None);
    let two = wheel("two", "1.0", &[("shared/__init__.py", "WHO = 'two'\n")], None);
    publish(&server, "one", &[("one-1.0-py3-none-any.whl", &one, false)], true);
    publish(&server, "two", &[("two-1.0-py3-none-any.whl", &two, false)], true);
    let source = |name: &str| format!("- kind: pypi\n  url: pypi:simple/\n  name: {name}\n  version: '==1.0'\n");
    let p = project(&conf(&server))
        .file(
            "elements/both.bst",
            &format!("kind: pip\nsources:\n{}{}", source("one"), source("two")),
        )
        .build();
    p.forge(&["track", "both.bst"]).ok();
    let err = p.forge(&["build", "both.bst"]).fails(5);
    assert!(err.contains("shared/__init__.py is installed twice"), "{err}");
    // Recorded as failed, not as built: a retry meets the same refusal.
    let err = p.forge(&["build", "--retry-failed", "both.bst"]).fails(5);
    assert!(err.contains("shared/__init__.py is installed twice"), "{err}");
}

#[test]
fn a_site_packages_on_a_staged_python_runs_in_the_shell() {
    let server = Server::start();
    let demo = wheel(
        "demo",
        "1.0",
        &[("demo/__init__.py", "def run():\n    print('hello from demo')\n")],
        Some("[console_scripts]\ndemo = demo:run\n"),
    );
    publish(&server, "demo", &[("demo-1.0-py3-none-any.whl", &demo, false)], true);
    let element = format!(
        "{}build-depends:\n- base.bst\nvariables:\n  python-site-packages: /usr/lib/python3/dist-packages\nconfig:\n  compile-bytecode: True\n",
        pypi_element("demo", "==1.0", "")
    );
    let p = project(&conf(&server))
        .file(
            "elements/base.bst",
            "kind: import\nsources:\n- kind: local\n  path: files/base\n",
        )
        .file("elements/demo.bst", &element)
        .file("elements/app.bst", "kind: stack\ndepends:\n- base.bst\n- demo.bst\n")
        .build();
    link_base_into(&p.root.join("files/base"));
    p.forge(&["track", "demo.bst"]).ok();
    let run = p.forge(&["build", "--check", "demo.bst"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("check: demo.bst is reproducible"), "{}", run.stderr);
    p.forge(&["build", "app.bst"]).ok();
    let run = p.forge(&["shell", "app.bst", "--", "demo"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "hello from demo\n");
    let out = p.outside().join("out");
    p.forge(&["checkout", "demo.bst", "--deps", "none", out.to_str().unwrap()])
        .ok();
    let pyc: Vec<_> = fs::read_dir(out.join("usr/lib/python3/dist-packages/demo/__pycache__"))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(pyc.len(), 1, "byte-code compiled");
}

/// `forge import python` of a requirements file `name` holding `text`,
/// which must fail with a fetch error (4): its message.
fn import_error(p: &support::TestProject, name: &str, text: &str) -> String {
    let path = p.outside().join(name);
    fs::write(&path, text).unwrap();
    p.forge(&["import", "python", path.to_str().unwrap()]).fails(4)
}

#[test]
fn lock_files_become_pinned_elements() {
    let server = Server::start();
    let click = wheel_requiring(
        "click",
        "8.1.7",
        &[("click/__init__.py", "C = 1\n")],
        None,
        &[
            "attrs>=20",
            "colorama; sys_platform == \"win32\"",
            "pytest; extra == \"test\"",
        ],
    );
    let attrs = wheel("attrs", "24.2.0", &[("attrs/__init__.py", "A = 1\n")], None);
    publish(
        &server,
        "click",
        &[
            ("click-8.1.7-py3-none-any.whl", &click, false),
            ("click-8.1.7.tar.gz", b"sdist", false),
        ],
        true,
    );
    publish(
        &server,
        "attrs",
        &[("attrs-24.2.0-py3-none-any.whl", &attrs, false)],
        false,
    );
    let p = project(&conf(&server))
        .file("elements/README", "elements live here\n")
        .build();
    let requirements = p.outside().join("requirements.txt");
    fs::write(
        &requirements,
        format!(
            "# generated by pip-compile\nclick==8.1.7 \\\n    --hash=sha256:{} \\\n    --hash=sha256:{}\nattrs==24.2.0 --hash=sha256:{}\n",
            sha256(b"sdist"),
            sha256(&click),
            sha256(&attrs)
        ),
    )
    .unwrap();
    let run = p.forge(&["import", "python", requirements.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    // A folder of its own, named after the lock file.
    assert_eq!(
        fs::read_to_string(p.root.join("elements/requirements/click.bst")).unwrap(),
        format!(
            "# written by forge import python from requirements.txt\nkind: pip\nsources:\n- kind: pypi\n  url: pypi:simple/\n  name: click\n  version: ==8.1.7\n  ref:\n    version: 8.1.7\n    filename: click-8.1.7-py3-none-any.whl\n    sha256: {}\nruntime-depends:\n- requirements/attrs.bst\n",
            sha256(&click)
        )
    );
    assert_eq!(
        fs::read_to_string(p.root.join("elements/requirements.bst")).unwrap(),
        "# written by forge import python from requirements.txt\nkind: stack\ndescription: the Python packages of requirements.txt\ndepends:\n- requirements/click.bst\n- requirements/attrs.bst\n"
    );
    assert!(
        run.stderr.contains("(2 added, 0 changed, 0 unchanged)"),
        "{}",
        run.stderr
    );
    let run = p.forge(&["build", "requirements.bst"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("3 built"), "{}", run.stderr);

    // Again with a smaller lock: the stale element is kept and named,
    // an element of the user's own in the folder is never touched, and
    // --prune removes only what an import wrote.
    fs::write(p.root.join("elements/requirements/mine.bst"), "kind: stack\n").unwrap();
    fs::write(
        &requirements,
        format!("click==8.1.7 --hash=sha256:{}\n", sha256(&click)),
    )
    .unwrap();
    let run = p.forge(&["import", "python", requirements.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("  ? requirements/attrs.bst")
            && run.stderr.contains("  ~ requirements/click.bst")
            && run
                .stderr
                .contains("the lock file pins no package for: click requires attrs")
            && run
                .stderr
                .contains("0 added, 1 changed, 0 unchanged, 1 no longer in the lock file (kept; --prune removes them)"),
        "{}",
        run.stderr
    );
    assert!(p.root.join("elements/requirements/attrs.bst").exists());
    let run = p.forge(&["import", "python", requirements.to_str().unwrap(), "--prune"]);
    assert!(
        run.stderr.contains("  - requirements/attrs.bst") && run.stderr.contains("1 removed"),
        "{}",
        run.stderr
    );
    assert!(!p.root.join("elements/requirements/attrs.bst").exists());
    assert!(
        p.root.join("elements/requirements/mine.bst").exists(),
        "not forge's: kept"
    );
    // ...nor overwritten.
    fs::write(p.root.join("elements/requirements/click.bst"), "kind: stack\n").unwrap();
    let err = p.forge(&["import", "python", requirements.to_str().unwrap()]).fails(2);
    assert!(
        err.contains("elements/requirements/click.bst exists and was not written by forge import"),
        "{err}"
    );
    assert_eq!(
        fs::read_to_string(p.root.join("elements/requirements/click.bst")).unwrap(),
        "kind: stack\n"
    );

    // Markers are evaluated for the target: a Windows-only package is
    // left out, and one that needs the Python version refused without a
    // declared target, with its line.
    let marked = p.outside().join("marked.txt");
    fs::write(
        &marked,
        format!(
            "click==8.1.7 --hash=sha256:{}\ncolorama==0.4.6 ; sys_platform == \"win32\" \\\n    --hash=sha256:{}\n",
            sha256(&click),
            sha256(b"colorama")
        ),
    )
    .unwrap();
    let run = p.forge(&["import", "python", marked.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("skipped colorama (sys_platform == \"win32\"): not for this target"),
        "{}",
        run.stderr
    );
    assert!(!p.root.join("elements/marked/colorama.bst").exists());
    let err = import_error(
        &p,
        "marked.txt",
        &format!(
            "click==8.1.7 ; python_version >= \"3.8\" --hash=sha256:{}\n",
            sha256(&click)
        ),
    );
    assert!(
        err.contains("marked.txt:1: click: the marker `python_version >= \"3.8\"` cannot be evaluated"),
        "{err}"
    );

    // A hash that no file on the index has is named as that.
    let err = import_error(
        &p,
        "tampered.txt",
        &format!("click==8.1.7 --hash=sha256:{}\n", sha256(b"something else")),
    );
    assert!(
        err.contains("click 8.1.7: no file the index lists for it (2 listed) has any of its --hash values"),
        "{err}"
    );

    let pylock = p.outside().join("pylock.toml");
    fs::write(
        &pylock,
        format!(
            "lock-version = \"1.0\"\n[[packages]]\nname = \"attrs\"\nversion = \"24.2.0\"\nwheels = [{{ url = \"{}/files/attrs-24.2.0-py3-none-any.whl\", hashes = {{ sha256 = \"{}\" }} }}]\n",
            server.base,
            sha256(&attrs)
        ),
    )
    .unwrap();
    p.forge(&[
        "import",
        "python",
        pylock.to_str().unwrap(),
        "--into",
        "elements/locked",
    ])
    .ok();
    assert!(
        fs::read_to_string(p.root.join("elements/locked/attrs.bst"))
            .unwrap()
            .contains(&sha256(&attrs))
    );

    let loose = p.outside().join("loose.txt");
    fs::write(&loose, "flask>=2\nclick==8.1.7\n").unwrap();
    let err = p
        .forge(&["import", "python", loose.to_str().unwrap(), "--into", "elements/loose"])
        .fails(2);
    assert!(
        err.contains(
            "not pinned by hash: flask>=2 (not pinned with ==, or no --hash, line 1), click==8.1.7 (no --hash, line 2)"
        ),
        "{err}"
    );
    assert!(!p.root.join("elements/loose").exists(), "nothing written");
}

const BACKEND: &str = r#"
import base64, hashlib, os, socket, zipfile

def _probe():
    lines = []
    for host in ("1.1.1.1", "pypi.org"):
        try:
            socket.create_connection((host, 443), timeout=2)
            lines.append(host + " reached")
        except OSError:
            lines.append(host + " unreachable")
    lines.append("root: " + (" ".join(sorted(os.listdir("/root"))) if os.path.isdir("/root") else "absent"))
    lines.append("env: " + " ".join(sorted(k for k in os.environ if k not in ("PWD", "SHLVL", "_"))))
    return "\n".join(lines) + "\n"

def _hash(data):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    name = "stealer-1.0-py3-none-any.whl"
    files = {
        "stealer/__init__.py": b"PROBE = open(__file__.replace('__init__.py', 'probe.txt')).read()\n",
        "stealer/probe.txt": _probe().encode(),
        "stealer-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: stealer\nVersion: 1.0\n",
        "stealer-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join("%s,%s,%d\n" % (p, _hash(d), len(d)) for p, d in files.items()) + "stealer-1.0.dist-info/RECORD,,\n"
    files["stealer-1.0.dist-info/RECORD"] = record.encode()
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as z:
        for path, data in sorted(files.items()):
            info = zipfile.ZipInfo(path, date_time=(1980, 1, 1, 0, 0, 0))
            z.writestr(info, data)
    return name
"#;

#[test]
fn sdists_build_offline_in_the_sandbox() {
    let server = Server::start();
    let mut sdist = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::default(),
    ));
    for (path, text) in [
        (
            "stealer-1.0/pyproject.toml",
            "[build-system]\nrequires = []\nbuild-backend = \"backend\"\nbackend-path = [\".\"]\n",
        ),
        ("stealer-1.0/backend.py", BACKEND),
        (
            "stealer-1.0/PKG-INFO",
            "Metadata-Version: 2.1\nName: stealer\nVersion: 1.0\n",
        ),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(text.len() as u64);
        header.set_mode(0o644);
        sdist.append_data(&mut header, path, text.as_bytes()).unwrap();
    }
    let sdist = sdist.into_inner().unwrap().finish().unwrap();
    publish(&server, "stealer", &[("stealer-1.0.tar.gz", &sdist, false)], true);
    let element = "kind: pyproject
build-depends:
- base.bst
variables:
  python-site-packages: /usr/lib/python3/dist-packages
sources:
- kind: pypi
  url: pypi:simple/
  name: stealer
  version: ==1.0
  allow-sdist: true
";
    let p = project(&conf(&server))
        .file(
            "elements/base.bst",
            "kind: import\nsources:\n- kind: local\n  path: files/base\n",
        )
        .file("elements/stealer.bst", element)
        .file("elements/app.bst", "kind: stack\ndepends:\n- base.bst\n- stealer.bst\n")
        .build();
    link_base_into(&p.root.join("files/base"));
    p.forge(&["track", "stealer.bst"]).ok();
    let run = p.forge(&["build", "--check", "stealer.bst"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("check: stealer.bst is reproducible"),
        "{}",
        run.stderr
    );
    p.forge(&["build", "app.bst"]).ok();
    let run = p.forge(&[
        "shell",
        "app.bst",
        "--",
        "python3",
        "-c",
        "import stealer; print(stealer.PROBE, end='')",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "1.1.1.1 unreachable\npypi.org unreachable\nroot: absent\nenv: HOME LC_ALL LOGNAME PATH PYTHONDONTWRITEBYTECODE PYTHONHASHSEED SHELL SOURCE_DATE_EPOCH TERM TZ USER USERNAME\n"
    );
}

#[test]
fn a_pip_element_can_install_the_wheels_of_its_dependencies() {
    let server = Server::start();
    let one = wheel("one", "1.0", &[("one.py", "ONE = 1\n")], None);
    let two = wheel("two", "1.0", &[("two.py", "TWO = 2\n")], None);
    publish(&server, "one", &[("one-1.0-py3-none-any.whl", &one, false)], true);
    publish(&server, "two", &[("two-1.0-py3-none-any.whl", &two, false)], true);
    let wheel_element = |name: &str| {
        format!("kind: import\nsources:\n- kind: pypi\n  url: pypi:simple/\n  name: {name}\n  version: ==1.0\n")
    };
    let p = project(&conf(&server))
        .file("elements/wheels/one.bst", &wheel_element("one"))
        .file("elements/wheels/two.bst", &wheel_element("two"))
        .file(
            "elements/site.bst",
            "kind: pip\nbuild-depends:\n- filename: [wheels/one.bst, wheels/two.bst]\n  config:\n    install-wheels: true\n",
        )
        .build();
    p.forge(&["track", "--deps", "all", "site.bst"]).ok();
    let run = p.forge(&["build", "site.bst"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let out = p.outside().join("out");
    p.forge(&["checkout", "site.bst", "--deps", "none", out.to_str().unwrap()])
        .ok();
    let site = out.join("usr/lib/python3.11/site-packages");
    assert_eq!(fs::read_to_string(site.join("one.py")).unwrap(), "ONE = 1\n");
    assert_eq!(fs::read_to_string(site.join("two.py")).unwrap(), "TWO = 2\n");
    let err = p
        .forge(&["show", "--deps", "none", "--format", "%{name}", "site.bst"])
        .ok();
    assert_eq!(err, "site.bst\n");
    p.write(
        "elements/bad.bst",
        "kind: pip\nbuild-depends:\n- filename: wheels/one.bst\n  config:\n    install-wheel: true\n",
    );
    let err = p.forge(&["show", "bad.bst"]).fails(3);
    assert!(
        err.contains("unknown key 'install-wheel' in the dependency config of a pip element"),
        "{err}"
    );
}

#[test]
fn an_imported_lock_runs_as_an_application_right_away() {
    let server = Server::start();
    let demo = wheel(
        "demo",
        "1.0",
        &[("demo/__init__.py", "def run():\n    print('hello from demo')\n")],
        Some("[console_scripts]\ndemo = demo:run\n"),
    );
    publish(&server, "demo", &[("demo-1.0-py3-none-any.whl", &demo, false)], true);
    let p = project(&format!(
        "{}elements:\n  pip:\n    variables:\n      python-site-packages: /usr/lib/python3/dist-packages\n",
        conf(&server)
    ))
    .file(
        "elements/base.bst",
        "kind: import\nsources:\n- kind: local\n  path: files/base\n",
    )
    .build();
    link_base_into(&p.root.join("files/base"));
    let requirements = p.outside().join("requirements.txt");
    fs::write(&requirements, format!("demo==1.0 --hash=sha256:{}\n", sha256(&demo))).unwrap();
    let run = p.forge(&[
        "import",
        "python",
        requirements.to_str().unwrap(),
        "--app",
        "tool",
        "--base",
        "base.bst",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        fs::read_to_string(p.root.join("elements/tool.bst"))
            .unwrap()
            .ends_with("kind: stack\ndescription: the interpreter and the Python packages of requirements.txt\ndepends:\n- base.bst\n- requirements.bst\n")
    );
    p.forge(&["build", "tool.bst"]).ok();
    let run = p.forge(&["shell", "tool.bst", "--", "demo"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "hello from demo\n");

    let err = p
        .forge(&[
            "import",
            "python",
            requirements.to_str().unwrap(),
            "--app",
            "tool",
            "--base",
            "nosuch.bst",
        ])
        .fails(2);
    assert!(err.contains("there is no element nosuch.bst"), "{err}");
    let err = p
        .forge(&["import", "python", requirements.to_str().unwrap(), "--app", "tool"])
        .fails(2);
    assert!(err.contains("--base"), "{err}");
}

#[test]
fn near_misses_of_popular_projects_are_warned_about_at_track_and_import() {
    let server = Server::start();
    let squat = wheel("reqeusts", "2.0", &[("reqeusts/__init__.py", "STEAL = 1\n")], None);
    let real = wheel("requests", "2.32.3", &[("requests/__init__.py", "R = 1\n")], None);
    publish(
        &server,
        "reqeusts",
        &[("reqeusts-2.0-py3-none-any.whl", &squat, false)],
        true,
    );
    publish(
        &server,
        "requests",
        &[("requests-2.32.3-py3-none-any.whl", &real, false)],
        true,
    );
    let p = project(&conf(&server))
        .file("elements/squat.bst", &pypi_element("reqeusts", "==2.0", ""))
        .file("elements/real.bst", &pypi_element("requests", "==2.32.3", ""))
        .build();
    let run = p.forge(&["track", "squat.bst", "real.bst"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("'reqeusts' is a near miss of 'requests', PyPI's #")
            && run.stderr.contains("(it has two letters swapped)"),
        "{}",
        run.stderr
    );
    assert_eq!(
        run.stderr.matches("near miss").count(),
        1,
        "the popular one never warns: {}",
        run.stderr
    );

    let requirements = p.outside().join("requirements.txt");
    fs::write(
        &requirements,
        format!("reqeusts==2.0 --hash=sha256:{}\n", sha256(&squat)),
    )
    .unwrap();
    let run = p.forge(&["import", "python", requirements.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("'reqeusts' is a near miss of 'requests'"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_cool_down_keeps_track_from_picking_a_release_younger_than_min_release_age() {
    let server = Server::start();
    let v1 = wheel("demo", "1.0", &[("demo/__init__.py", "V = 1\n")], None);
    let v2 = wheel("demo", "2.0", &[("demo/__init__.py", "V = 2\n")], None);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    // PEP 700 upload times: a month ago, and an hour ago.
    let rfc3339 = |t: i64| {
        let out = std::process::Command::new("date")
            .args(["-u", "-d", &format!("@{t}"), "+%Y-%m-%dT%H:%M:%S.000000Z"])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let mut entries = Vec::new();
    for (name, bytes, uploaded) in [
        ("demo-1.0-py3-none-any.whl", &v1, now - 30 * 86_400),
        ("demo-2.0-py3-none-any.whl", &v2, now - 3_600),
    ] {
        server.serve(&format!("/files/{name}"), bytes);
        entries.push(serde_json::json!({
            "filename": name, "url": format!("../../files/{name}"),
            "hashes": {"sha256": sha256(bytes)}, "upload-time": rfc3339(uploaded),
        }));
    }
    let body = serde_json::json!({"meta": {"api-version": "1.1"}, "name": "demo", "files": entries}).to_string();
    server.route(
        "/simple/demo/",
        Behavior::ServeTyped(body.into_bytes(), "application/vnd.pypi.simple.v1+json".into()),
    );
    // Project-wide, as a source default.
    let p = project(&format!(
        "{}sources:\n  pypi:\n    config:\n      min-release-age: 7d\n",
        conf(&server)
    ))
    .file("elements/demo.bst", &pypi_element("demo", ">=1", ""))
    .build();
    let run = p.forge(&["track", "demo.bst"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let text = fs::read_to_string(p.root.join("elements/demo.bst")).unwrap();
    assert!(text.contains("filename: demo-1.0-py3-none-any.whl"), "{text}");
    assert!(
        run.stderr
            .contains("min-release-age 7d: not picked yet: demo-2.0-py3-none-any.whl (uploaded 1 h ago)"),
        "{}",
        run.stderr
    );
    // Nothing old enough: said so, nothing pinned.
    p.write("elements/demo.bst", &pypi_element("demo", ">=2", ""));
    let err = p.forge(&["track", "demo.bst"]).fails(4);
    assert!(err.contains("not picked yet: demo-2.0-py3-none-any.whl"), "{err}");
    p.write(
        "elements/bad.bst",
        &pypi_element("demo", ">=1", "  min-release-age: a week\n"),
    );
    let err = p.forge(&["show", "bad.bst"]).fails(3);
    assert!(err.contains("'a week' is not an age"), "{err}");
    fs::remove_file(p.root.join("elements/bad.bst")).unwrap();

    // An imported lock is held to the cool-down too.
    let lock = p.outside().join("requirements.txt");
    fs::write(&lock, format!("demo==2.0 --hash=sha256:{}\n", sha256(&v2))).unwrap();
    let run = p.forge(&["import", "python", lock.to_str().unwrap()]);
    assert_eq!(run.code, 6, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("demo 2.0: younger than min-release-age: demo-2.0-py3-none-any.whl (uploaded 1 h ago)"),
        "{}",
        run.stderr
    );
    assert!(!p.root.join("elements/requirements").exists(), "nothing written");
    fs::write(&lock, format!("demo==1.0 --hash=sha256:{}\n", sha256(&v1))).unwrap();
    p.forge(&["import", "python", lock.to_str().unwrap()]).ok();
}

/// A release of a test index: file name, bytes, yanked, Requires-Python.
type Release<'a> = (&'a str, &'a [u8], bool, Option<&'a str>);

/// A PEP 691 page for `project` listing `releases`.
fn publish_releases(server: &Server, project: &str, releases: &[Release<'_>]) {
    let mut entries = Vec::new();
    for (name, bytes, yanked, requires_python) in releases {
        server.serve(&format!("/files/{name}"), bytes);
        let mut entry = serde_json::json!({
            "filename": name, "url": format!("../../files/{name}"),
            "hashes": {"sha256": sha256(bytes)}, "yanked": yanked,
        });
        if let Some(requires) = requires_python {
            entry["requires-python"] = serde_json::json!(requires);
        }
        entries.push(entry);
    }
    let body = serde_json::json!({"meta": {"api-version": "1.1"}, "name": project, "files": entries}).to_string();
    server.route(
        &format!("/simple/{project}/"),
        Behavior::ServeTyped(body.into_bytes(), "application/vnd.pypi.simple.v1+json".into()),
    );
}

/// The graph `forge lock` is tested on: `app` 2.0 and `tool` clash over
/// `lib` (back to `app` 1.0), `lib` 1.9 is yanked, `helper` 1.1 needs a
/// newer Python than the target, `helper[fast]` adds `speedups`, and
/// `winonly` is for another platform.
fn publish_lock_graph(server: &Server) {
    let py = |name: &str, version: &str, requires: &[&str]| -> Vec<u8> {
        let module = format!("{name}/__init__.py");
        let body = format!("def run():\n    print('{name} {version}')\n");
        let scripts = format!("[console_scripts]\n{name} = {name}:run\n");
        wheel_requiring(name, version, &[(&module, &body)], Some(&scripts), requires)
    };
    let app1 = py("app", "1.0", &["lib<2", "helper[fast]>=1.0"]);
    let app2 = py("app", "2.0", &["lib>=2", "helper[fast]>=1.0"]);
    publish_releases(
        server,
        "app",
        &[
            ("app-1.0-py3-none-any.whl", &app1, false, None),
            ("app-2.0-py3-none-any.whl", &app2, false, None),
        ],
    );
    let tool = py("tool", "1.0", &["lib<2", "winonly ; sys_platform == \"win32\""]);
    publish_releases(server, "tool", &[("tool-1.0-py3-none-any.whl", &tool, false, None)]);
    let (lib15, lib19, lib20) = (py("lib", "1.5", &[]), py("lib", "1.9", &[]), py("lib", "2.0", &[]));
    publish_releases(
        server,
        "lib",
        &[
            ("lib-1.5-py3-none-any.whl", &lib15, false, None),
            ("lib-1.9-py3-none-any.whl", &lib19, true, None),
            ("lib-2.0-py3-none-any.whl", &lib20, false, None),
        ],
    );
    let helper10 = py("helper", "1.0", &["speedups ; extra == \"fast\""]);
    let helper11 = py("helper", "1.1", &["speedups ; extra == \"fast\""]);
    publish_releases(
        server,
        "helper",
        &[
            ("helper-1.0-py3-none-any.whl", &helper10, false, Some(">=3.8")),
            ("helper-1.1-py3-none-any.whl", &helper11, false, Some(">=3.12")),
        ],
    );
    let speedups = py("speedups", "0.9", &[]);
    publish_releases(
        server,
        "speedups",
        &[("speedups-0.9-py3-none-any.whl", &speedups, false, None)],
    );
    let winonly = py("winonly", "1.0", &[]);
    publish_releases(
        server,
        "winonly",
        &[("winonly-1.0-py3-none-any.whl", &winonly, false, None)],
    );
}

/// The `name==version` lines of the elements `forge lock` wrote.
fn locked_pins(dir: &Path) -> Vec<String> {
    let mut pins: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| {
            let text = fs::read_to_string(e.path()).unwrap();
            let name = e.file_name().to_string_lossy().trim_end_matches(".bst").to_string();
            let version = text
                .lines()
                .find_map(|l| l.strip_prefix("    version: "))
                .unwrap()
                .to_string();
            format!("{name}=={version}")
        })
        .collect();
    pins.sort();
    pins
}

#[test]
fn lock_resolves_the_graph_as_uv_does_and_the_app_runs() {
    let server = Server::start();
    publish_lock_graph(&server);
    let p = project(&format!(
        "{}sources:\n  pypi:\n    config:\n      target:\n        python: '3.11'\n        glibc: '2.36'\n        arch: x86_64\nelements:\n  pip:\n    variables:\n      python-site-packages: /usr/lib/python3/dist-packages\n",
        conf(&server)
    ))
    .file(
        "elements/base.bst",
        "kind: import\nsources:\n- kind: local\n  path: files/base\n",
    )
    .file("requirements.in", "app\ntool  # with app, it holds lib below 2\n")
    .build();
    link_base_into(&p.root.join("files/base"));

    let run = p.forge(&["lock", "requirements.in", "--app", "tool-app", "--base", "base.bst"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let expected = ["app==1.0", "helper==1.0", "lib==1.5", "speedups==0.9", "tool==1.0"];
    assert_eq!(locked_pins(&p.root.join("elements/requirements")), expected);
    assert!(
        run.stderr.contains("lock: 5 packages resolved for Python 3.11"),
        "{}",
        run.stderr
    );
    // Wired as the packages are: helper[fast] brings speedups in.
    let helper = fs::read_to_string(p.root.join("elements/requirements/helper.bst")).unwrap();
    assert!(
        helper.starts_with("# written by forge lock from requirements.in\n")
            && helper.ends_with("runtime-depends:\n- requirements/speedups.bst\n"),
        "{helper}"
    );
    let app = fs::read_to_string(p.root.join("elements/requirements/app.bst")).unwrap();
    assert!(
        app.ends_with("runtime-depends:\n- requirements/helper.bst\n- requirements/lib.bst\n"),
        "{app}"
    );

    // uv resolves the same graph to the same set.
    if let Some(uv) = std::env::var_os("FORGE_TEST_UV") {
        let out = std::process::Command::new(uv)
            .args([
                "pip",
                "compile",
                "--quiet",
                "--no-header",
                "--no-annotate",
                "--no-cache",
            ])
            .args(["--python-version", "3.11", "--python-platform", "x86_64-manylinux_2_36"])
            .arg("--index-url")
            .arg(format!("{}/simple/", server.base))
            .arg(p.root.join("requirements.in"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let uv_pins: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_string)
            .collect();
        assert_eq!(uv_pins, expected, "uv pip compile");
    }

    // The application runs right away.
    let run = p.forge(&["build", "tool-app.bst"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let run = p.forge(&["shell", "tool-app.bst", "--", "app"]);
    assert_eq!((run.code, run.stdout.as_str()), (0, "app 1.0\n"), "{}", run.stderr);

    // A new release within the constraints: the next lock moves to it and
    // says so; nothing else changes.
    let lib16 = wheel("lib", "1.6", &[("lib/__init__.py", "")], None);
    let (lib15, lib20) = (wheel("lib", "1.5", &[], None), wheel("lib", "2.0", &[], None));
    publish_releases(
        &server,
        "lib",
        &[
            ("lib-1.5-py3-none-any.whl", &lib15, false, None),
            ("lib-1.6-py3-none-any.whl", &lib16, false, None),
            ("lib-2.0-py3-none-any.whl", &lib20, false, None),
        ],
    );
    let run = p.forge(&["lock", "requirements.in"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("  ~ requirements/lib.bst (1.5 -> 1.6)"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("(0 added, 1 changed, 4 unchanged)"),
        "{}",
        run.stderr
    );
}

#[test]
fn lock_explains_a_conflict_and_needs_a_target() {
    let server = Server::start();
    publish_lock_graph(&server);
    let p = project(&format!(
        "{}sources:\n  pypi:\n    config:\n      target:\n        python: '3.11'\n        glibc: '2.36'\n        arch: x86_64\n",
        conf(&server)
    ))
    .file("requirements.in", "app>=2\ntool\n")
    .file("elements/.keep", "")
    .build();
    let err = p.forge(&["lock", "requirements.in"]).fails(4);
    assert!(
        err.contains("requirements.in: no set of releases satisfies the requirements:")
            && err.contains("app 2.0 depends on lib")
            && err.contains("tool 1.0 depends on lib"),
        "{err}"
    );
    assert!(!p.root.join("elements/requirements").exists());

    // The cool-down holds back what the index gives no upload time for.
    let cautious = project(&format!(
        "{}sources:\n  pypi:\n    config:\n      min-release-age: 7d\n      target:\n        python: '3.11'\n        glibc: '2.36'\n        arch: x86_64\n",
        conf(&server)
    ))
    .file("requirements.in", "lib\n")
    .file("elements/.keep", "")
    .build();
    let err = cautious.forge(&["lock", "requirements.in"]).fails(4);
    assert!(
        err.contains("min-release-age: not considered yet (too new, or the index gives no upload time): lib-1.5-py3-none-any.whl, lib-2.0-py3-none-any.whl"),
        "{err}"
    );

    let bare = project(&conf(&server))
        .file("requirements.in", "app\n")
        .file("elements/.keep", "")
        .build();
    let err = bare.forge(&["lock", "requirements.in"]).fails(2);
    assert!(
        err.contains("forge lock resolves for the project's Python target"),
        "{err}"
    );
}
