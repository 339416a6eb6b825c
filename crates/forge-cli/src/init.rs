//! `forge init`: the first step from an empty folder to a Python
//! application. It writes project.conf with the Python target a Debian
//! suite provides, the archive's keyring, and a base element pinning that
//! suite's interpreter, shell and core tools (as `forge import deb` would);
//! `forge lock requirements.in --app app --base base.bst` comes next.

use std::fs;
use std::path::{Path, PathBuf};

use crate::cli::{GlobalOptions, ImportDebArgs, InitArgs};
use crate::exit::Failure;
use crate::session::Session;

/// Debian's archive keyring (the `debian-archive-keyring` package's
/// `/usr/share/keyrings/debian-archive-keyring.gpg`), the trust anchor of
/// a new project's base. The project keeps its own copy in keys/.
const DEBIAN_KEYRING: &[u8] = include_bytes!("../../../keys/debian-archive-keyring.gpg");

/// Where the keyring goes in the project.
const KEYRING_PATH: &str = "keys/debian-archive-keyring.gpg";

/// What the base holds: an interpreter, a shell for `forge shell` and
/// builds, and the core tools scripts expect.
const BASE_PACKAGES: &[&str] = &["python3", "dash", "coreutils"];

/// A suite's Python and glibc, as its packages ship them.
fn suite_target(suite: &str) -> Option<(&'static str, &'static str)> {
    match suite {
        "bullseye" => Some(("3.9", "2.31")),
        "bookworm" => Some(("3.11", "2.36")),
        "trixie" => Some(("3.13", "2.41")),
        _ => None,
    }
}

/// Debian's architecture name as wheel platform tags spell it.
fn wheel_arch(arch: &str) -> Option<&'static str> {
    match arch {
        "amd64" => Some("x86_64"),
        "arm64" => Some("aarch64"),
        _ => None,
    }
}

/// A project name from a directory name: lowercase letters, digits, `-`
/// and `_`, starting with a letter.
fn project_name(dir: &Path) -> String {
    let raw = dir
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let name = crate::import::file_safe(&raw).trim_matches('-').to_string();
    if name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        name
    } else {
        format!("app-{name}").trim_end_matches('-').to_string()
    }
}

fn project_conf(name: &str, args: &InitArgs, python: &str, glibc: &str, arch: &str) -> String {
    format!(
        "# written by forge init: a Python application on Debian {suite} ({darch}).\n\
         #   forge lock requirements.in --app app --base base.bst\n\
         #   forge build app.bst\n\
         #   forge shell app.bst -- COMMAND\n\
         name: {name}\n\
         min-version: 2.0\n\
         element-path: elements\n\
         \n\
         aliases:\n  debian: {debian}\n  pypi: {pypi}\n\
         \n\
         # Wheels and markers are chosen for the base's interpreter, never the host's.\n\
         sources:\n  pypi:\n    config:\n      target:\n        python: '{python}'\n        glibc: '{glibc}'\n        arch: {arch}\n\
         \n\
         # Where Debian's interpreter looks for packages.\n\
         elements:\n  pip:\n    variables:\n      python-site-packages: /usr/lib/python3/dist-packages\n  \
         pyproject:\n    variables:\n      python-site-packages: /usr/lib/python3/dist-packages\n",
        suite = args.suite,
        darch = args.arch,
        debian = forge_yaml::write_scalar(&forge_sources::pypi::with_slash(&args.debian)),
        pypi = forge_yaml::write_scalar(&forge_sources::pypi::with_slash(&args.pypi)),
    )
}

/// Runs `forge init`.
pub fn run(global: &GlobalOptions, args: &InitArgs) -> Result<(), Failure> {
    let dir = match &global.directory {
        Some(dir) => dir.clone(),
        None => {
            std::env::current_dir().map_err(|e| Failure::usage(format!("cannot read the current directory: {e}")))?
        }
    };
    fs::create_dir_all(&dir).map_err(|e| Failure::usage(format!("cannot create {}: {e}", dir.display())))?;
    let dir = fs::canonicalize(&dir).map_err(|e| Failure::usage(format!("{}: {e}", dir.display())))?;
    if dir.join("project.conf").exists() {
        return Err(Failure::usage(format!(
            "{} already holds a project.conf: forge init starts new projects only",
            dir.display()
        )));
    }
    let (python, glibc) = suite_target(&args.suite).ok_or_else(|| {
        Failure::usage(format!(
            "forge init knows the Python of bullseye, bookworm and trixie, not of '{}'",
            args.suite
        ))
    })?;
    let arch = wheel_arch(&args.arch)
        .ok_or_else(|| Failure::usage(format!("--arch must be amd64 or arm64, not '{}'", args.arch)))?;
    let keyring = match &args.keyring {
        Some(path) => fs::read(path).map_err(|e| Failure::usage(format!("cannot read {}: {e}", path.display())))?,
        None => DEBIAN_KEYRING.to_vec(),
    };
    let name = args.name.clone().unwrap_or_else(|| project_name(&dir));

    // What this run creates, to take back if the base cannot be made: the
    // folder is left as it was found.
    let mut created: Vec<PathBuf> = Vec::new();
    let result = (|| -> Result<(), Failure> {
        let write = |relative: &str, bytes: &[u8], created: &mut Vec<PathBuf>| -> Result<(), Failure> {
            let path = dir.join(relative);
            if path.exists() {
                return Err(Failure::usage(format!(
                    "{} exists: forge init does not write over files",
                    path.display()
                )));
            }
            let parent = path.parent().expect("a file in the project");
            if !parent.exists() {
                fs::create_dir_all(parent).map_err(|e| Failure::usage(format!("{}: {e}", parent.display())))?;
                created.push(parent.to_path_buf());
            }
            fs::write(&path, bytes).map_err(|e| Failure::usage(format!("cannot write {}: {e}", path.display())))?;
            created.push(path);
            Ok(())
        };
        write(
            "project.conf",
            project_conf(&name, args, python, glibc, arch).as_bytes(),
            &mut created,
        )?;
        write(KEYRING_PATH, &keyring, &mut created)?;
        if !dir.join("elements").exists() {
            fs::create_dir_all(dir.join("elements"))
                .map_err(|e| Failure::usage(format!("cannot create elements/: {e}")))?;
            created.push(dir.join("elements"));
        }
        if args.no_base {
            return Ok(());
        }
        let mut settings = crate::cli::load_settings(global)?;
        settings.directory = Some(dir.clone());
        let session = Session::open(global, settings, crate::cli::registry(), true)?;
        let base = ImportDebArgs {
            packages: BASE_PACKAGES.iter().map(|p| p.to_string()).collect(),
            suite: args.suite.clone(),
            arch: args.arch.clone(),
            component: "main".into(),
            url: "debian:".into(),
            keyring: KEYRING_PATH.into(),
            into: PathBuf::from("elements/base.bst"),
        };
        crate::import::debs(&session, &base)?;
        created.push(dir.join("elements/base.bst"));
        Ok(())
    })();
    if let Err(failure) = result {
        for path in created.iter().rev() {
            let _ = if path.is_dir() {
                fs::remove_dir(path)
            } else {
                fs::remove_file(path)
            };
        }
        return Err(failure);
    }
    eprintln!(
        "init: {name}: Python {python} on Debian {} ({}){}",
        args.suite,
        args.arch,
        if args.no_base {
            " (no base yet: forge import deb python3 dash coreutils --suite SUITE)"
        } else {
            ", base.bst pins the interpreter"
        }
    );
    eprintln!(
        "next: list what the application needs in requirements.in (as for pip), then\n  forge lock requirements.in --app app --base base.bst\n  forge build app.bst\n  forge shell app.bst -- COMMAND"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_the_directory() {
        assert_eq!(project_name(Path::new("/x/My App")), "my-app");
        assert_eq!(project_name(Path::new("/x/2048")), "app-2048");
        assert_eq!(project_name(Path::new("/x/tool_1")), "tool_1");
    }

    #[test]
    fn the_debian_keyring_ships_with_forge() {
        // An OpenPGP public key packet (tag 6, old or new format) opens it.
        assert!(DEBIAN_KEYRING.len() > 1000);
        assert!(matches!(DEBIAN_KEYRING[0], 0x99 | 0xc6), "{:#x}", DEBIAN_KEYRING[0]);
    }
}
