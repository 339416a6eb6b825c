//! A signed Debian archive on 127.0.0.1 (its key made with gpg by the
//! test), and .debs repackaged from what the host's dpkg has installed, so
//! that a test can pin a real interpreter from a suite without a network.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Write;
use std::process::Command;

use super::CONF;
use super::archive::tar_gz;
use super::http::Server;
use super::pypi::sha256;

/// Runs `gpg --homedir HOME --batch --yes ARGS`; its output.
pub fn gpg(home: &std::path::Path, args: &[&str]) -> Vec<u8> {
    let output = Command::new("gpg")
        .arg("--homedir")
        .arg(home)
        .args(["--batch", "--yes"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "gpg {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

pub struct Archive {
    pub server: Server,
    gnupg: tempfile::TempDir,
    /// Publish Release + Release.gpg instead of InRelease.
    pub detached: bool,
    /// The suite (`dists/<suite>/`).
    pub suite: String,
}

impl Archive {
    pub fn gpg(&self, args: &[&str]) -> Vec<u8> {
        gpg(self.gnupg.path(), args)
    }

    pub fn new() -> Archive {
        Archive::for_suite("test")
    }

    /// An archive whose packages are in `dists/<suite>/`.
    pub fn for_suite(suite: &str) -> Archive {
        let gnupg = tempfile::tempdir().unwrap();
        let archive = Archive {
            server: Server::start(),
            gnupg,
            detached: false,
            suite: suite.to_string(),
        };
        archive.gpg(&[
            "--passphrase",
            "",
            "--quick-gen-key",
            "forge test archive <archive@example.com>",
            "ed25519",
            "sign",
            "never",
        ]);
        archive
    }

    pub fn public_key(&self) -> Vec<u8> {
        self.gpg(&["--export"])
    }

    /// Publishes packages (name, version, Depends, deb bytes) and a
    /// signed Release.
    pub fn publish(&self, packages: &[(&str, &str, &str, Vec<u8>)]) -> Vec<u8> {
        let paragraphs: Vec<(String, String, String, Vec<u8>)> = packages
            .iter()
            .map(|(name, version, depends, bytes)| {
                let fields = if depends.is_empty() {
                    String::new()
                } else {
                    format!("Depends: {depends}\n")
                };
                (name.to_string(), version.to_string(), fields, bytes.clone())
            })
            .collect();
        self.publish_with_fields(&paragraphs)
    }

    /// Publishes packages (name, version, other control fields as lines,
    /// deb bytes) and a signed Release.
    pub fn publish_with_fields(&self, packages: &[(String, String, String, Vec<u8>)]) -> Vec<u8> {
        let suite = &self.suite;
        let mut index = String::new();
        for (name, version, fields, bytes) in packages {
            let file_version = version.rsplit(':').next().unwrap_or(version);
            let path = format!("pool/main/{name}_{file_version}_amd64.deb");
            self.server.serve(&format!("/debian/{path}"), bytes);
            index.push_str(&format!(
                "Package: {name}\nVersion: {version}\nArchitecture: amd64\n{fields}Filename: {path}\nSize: {}\nSHA256: {}\n\n",
                bytes.len(),
                sha256(bytes)
            ));
        }
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(index.as_bytes()).unwrap();
        let packages_gz = gz.finish().unwrap();
        self.server.serve(
            &format!("/debian/dists/{suite}/main/binary-amd64/Packages.gz"),
            &packages_gz,
        );
        let release = format!(
            "Origin: forge-test\nSuite: {suite}\nArchitectures: amd64\nComponents: main\nSHA256:\n {} {} main/binary-amd64/Packages.gz\n",
            sha256(&packages_gz),
            packages_gz.len()
        );
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("Release"), &release).unwrap();
        let out = dir.path().join("InRelease");
        self.gpg(&[
            "--clearsign",
            "--output",
            out.to_str().unwrap(),
            dir.path().join("Release").to_str().unwrap(),
        ]);
        let signed = fs::read(&out).unwrap();
        if self.detached {
            let signature = dir.path().join("Release.gpg");
            self.gpg(&[
                "--armor",
                "--detach-sign",
                "--output",
                signature.to_str().unwrap(),
                dir.path().join("Release").to_str().unwrap(),
            ]);
            self.server
                .serve(&format!("/debian/dists/{suite}/Release"), release.as_bytes());
            self.server.serve(
                &format!("/debian/dists/{suite}/Release.gpg"),
                &fs::read(&signature).unwrap(),
            );
        } else {
            self.server.serve(&format!("/debian/dists/{suite}/InRelease"), &signed);
        }
        signed
    }

    pub fn conf(&self) -> String {
        format!("{CONF}aliases:\n  debian: {}/debian/\n", self.server.base)
    }
}

/// One installed package as dpkg knows it.
struct Installed {
    version: String,
    fields: String,
    depends: Vec<Vec<String>>,
}

/// The alternatives of a Depends-style field: groups of names.
fn depends_groups(field: &str) -> Vec<Vec<String>> {
    field
        .split(',')
        .map(|group| {
            group
                .split('|')
                .filter_map(|alt| alt.split_whitespace().next())
                .map(|name| name.split(':').next().unwrap_or(name).to_string())
                .filter(|name| !name.is_empty())
                .collect::<Vec<String>>()
        })
        .filter(|g| !g.is_empty())
        .collect()
}

/// The host's installed packages (dpkg's database).
fn installed() -> BTreeMap<String, Installed> {
    let out = Command::new("dpkg-query")
        .args([
            "-W",
            "-f",
            "${db:Status-Abbrev}\t${Package}\t${Version}\t${Pre-Depends}\t${Depends}\t${Provides}\n",
        ])
        .output()
        .expect("dpkg-query");
    let mut packages = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() < 6 || !cols[0].starts_with("ii") {
            continue;
        }
        let mut fields = String::new();
        for (key, value) in [("Pre-Depends", cols[3]), ("Depends", cols[4]), ("Provides", cols[5])] {
            if !value.is_empty() {
                fields.push_str(&format!("{key}: {value}\n"));
            }
        }
        let mut depends = depends_groups(cols[3]);
        depends.extend(depends_groups(cols[4]));
        packages.insert(
            cols[1].to_string(),
            Installed {
                version: cols[2].to_string(),
                fields,
                depends,
            },
        );
        for provided in depends_groups(cols[5]).into_iter().flatten() {
            packages.entry(format!("provides:{provided}")).or_insert(Installed {
                version: cols[1].to_string(),
                fields: String::new(),
                depends: Vec::new(),
            });
        }
    }
    packages
}

/// Paths a package's data never needs in a test root.
const SKIPPED: &[&str] = &[
    "/usr/share/doc",
    "/usr/share/man",
    "/usr/share/info",
    "/usr/share/locale",
    "/usr/share/lintian",
];

/// A .deb of an installed package: its control fields and the files dpkg
/// lists for it, as they are on the host (plain data.tar).
fn repackage(name: &str, package: &Installed) -> Vec<u8> {
    let out = Command::new("dpkg").args(["-L", name]).output().expect("dpkg -L");
    let mut paths: BTreeSet<String> = BTreeSet::new();
    for path in String::from_utf8_lossy(&out.stdout).lines() {
        if path == "/." || SKIPPED.iter().any(|s| path.starts_with(s)) || path.starts_with("package diverts") {
            continue;
        }
        paths.insert(path.to_string());
    }
    let mut data = tar::Builder::new(Vec::new());
    for path in &paths {
        let Ok(meta) = fs::symlink_metadata(path) else { continue };
        let mut header = tar::Header::new_gnu();
        header.set_mode(std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o7777);
        header.set_mtime(0);
        let member = format!(".{path}");
        // A directory of the package that the host's merged /usr made a
        // symlink (/bin → usr/bin): the package has it as a directory.
        let holds_others = paths
            .range(format!("{path}/")..)
            .next()
            .is_some_and(|next| next.starts_with(&format!("{path}/")));
        if meta.file_type().is_symlink() && holds_others {
            header.set_entry_type(tar::EntryType::Directory);
            header.set_mode(0o755);
            header.set_size(0);
            data.append_data(&mut header, &member, std::io::empty()).unwrap();
        } else if meta.file_type().is_symlink() {
            header.set_entry_type(tar::EntryType::Symlink);
            header.set_size(0);
            let target = fs::read_link(path).unwrap();
            data.append_link(&mut header, &member, target).unwrap();
        } else if meta.is_dir() {
            header.set_entry_type(tar::EntryType::Directory);
            header.set_size(0);
            data.append_data(&mut header, &member, std::io::empty()).unwrap();
        } else if meta.is_file() {
            let bytes = fs::read(path).unwrap();
            header.set_entry_type(tar::EntryType::Regular);
            header.set_size(bytes.len() as u64);
            data.append_data(&mut header, &member, bytes.as_slice()).unwrap();
        }
    }
    let data = data.into_inner().unwrap();
    let control = format!(
        "Package: {name}\nVersion: {}\nArchitecture: amd64\n{}",
        package.version, package.fields
    );
    let control = tar_gz(&[("./control", control.as_bytes(), 0o644)]);
    super::archive::deb(&control, "data.tar", &data)
}

/// `roots` and their Depends/Pre-Depends closure as installed on the host,
/// each repackaged as a .deb, for [`Archive::publish_with_fields`]. The
/// first alternative that is installed (or provided) is followed, as apt
/// would have.
pub fn host_packages(roots: &[&str]) -> Vec<(String, String, String, Vec<u8>)> {
    let installed = installed();
    let resolve = |name: &str| -> Option<String> {
        if installed.contains_key(name) {
            Some(name.to_string())
        } else {
            installed.get(&format!("provides:{name}")).map(|p| p.version.clone())
        }
    };
    let mut chosen = BTreeSet::new();
    let mut pending: Vec<String> = roots
        .iter()
        .map(|r| resolve(r).unwrap_or_else(|| panic!("{r} is not installed")))
        .collect();
    while let Some(name) = pending.pop() {
        if !chosen.insert(name.clone()) {
            continue;
        }
        for group in &installed[&name].depends {
            if let Some(found) = group.iter().find_map(|alt| resolve(alt)) {
                pending.push(found);
            }
        }
    }
    chosen
        .iter()
        .map(|name| {
            let package = &installed[name];
            (
                name.clone(),
                package.version.clone(),
                package.fields.clone(),
                repackage(name, package),
            )
        })
        .collect()
}
