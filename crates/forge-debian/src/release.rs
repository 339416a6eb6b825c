//! InRelease files: the signature checked with `gpgv` against a keyring,
//! then the index hashes read from the verified text only.

use std::path::Path;
use std::process::Command;

use crate::control::parse;

/// One index file a Release lists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexEntry {
    /// Path below `dists/<suite>/`.
    pub path: String,
    /// Its sha256.
    pub sha256: String,
    /// Its size.
    pub size: u64,
}

/// Checks the clear-signed `inrelease` against `keyring` and returns the
/// text the signature covers. gpgv is GnuPG's verify-only tool: no trust
/// database, no network, only the keys given.
pub fn verify(inrelease: &[u8], keyring: &Path) -> Result<String, String> {
    run_gpgv(&[("InRelease", inrelease)], keyring, true, "Release")
}

/// Checks a `Release` file against its detached `Release.gpg` signature
/// and returns the Release text.
pub fn verify_detached(release: &[u8], signature: &[u8], keyring: &Path) -> Result<String, String> {
    run_gpgv(
        &[("Release.gpg", signature), ("Release", release)],
        keyring,
        false,
        "Release",
    )?;
    String::from_utf8(release.to_vec()).map_err(|_| "the Release file is not UTF-8".to_string())
}

/// Checks `data` against one detached `signature` (binary or armored),
/// made by a key of `keyring`; `what` names the data in the error (an
/// OSTree commit, say).
pub fn verify_signature(data: &[u8], signature: &[u8], keyring: &Path, what: &str) -> Result<(), String> {
    run_gpgv(&[("data.sig", signature), ("data", data)], keyring, false, what).map(drop)
}

fn run_gpgv(files: &[(&str, &[u8])], keyring: &Path, clear_signed: bool, what: &str) -> Result<String, String> {
    if !keyring.is_file() {
        return Err(format!("the keyring {} does not exist", keyring.display()));
    }
    let dir = std::env::temp_dir().join(format!("forge-gpgv-{}-{}", std::process::id(), rand_suffix()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let output_path = dir.join("verified");
    let mut command = Command::new("gpgv");
    command.arg("--homedir").arg(&dir).arg("--keyring").arg(keyring);
    if clear_signed {
        command.arg("--output").arg(&output_path);
    }
    for (name, bytes) in files {
        std::fs::write(dir.join(name), bytes).map_err(|e| e.to_string())?;
        command.arg(dir.join(name));
    }
    let result = command.env_clear().output();
    let outcome = match result {
        Err(e) => Err(format!("cannot run gpgv ({e}): install it with `apt-get install gpgv`")),
        Ok(out) if !out.status.success() => {
            let why = String::from_utf8_lossy(&out.stderr)
                .lines()
                .filter(|l| !l.trim().is_empty())
                .collect::<Vec<_>>()
                .join("; ");
            Err(format!(
                "the {what} signature does not verify against {}: {why}",
                keyring.display()
            ))
        }
        Ok(_) if clear_signed => {
            std::fs::read_to_string(&output_path).map_err(|e| format!("cannot read what gpgv verified: {e}"))
        }
        Ok(_) => Ok(String::new()),
    };
    let _ = std::fs::remove_dir_all(&dir);
    outcome
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// The SHA256 list of a (verified) Release text.
pub fn index_entries(release: &str) -> Vec<IndexEntry> {
    parse(release)
        .first()
        .and_then(|p| p.get("SHA256"))
        .map(|list| {
            list.lines()
                .filter_map(|line| {
                    let mut parts = line.split_whitespace();
                    let sha256 = parts.next()?.to_ascii_lowercase();
                    let size = parts.next()?.parse().ok()?;
                    let path = parts.next()?.to_string();
                    Some(IndexEntry { path, sha256, size })
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The Packages index for a component and architecture, compressed forms
/// first.
pub fn packages_entry<'a>(entries: &'a [IndexEntry], component: &str, arch: &str) -> Option<&'a IndexEntry> {
    let base = format!("{component}/binary-{arch}/Packages");
    ["xz", "gz"]
        .iter()
        .map(|ext| format!("{base}.{ext}"))
        .chain([base.clone()])
        .find_map(|path| entries.iter().find(|e| e.path == path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_sha256_list() {
        let release = "Origin: Debian\nSuite: bookworm\nSHA256:\n aa 10 main/binary-amd64/Packages\n bb 5 main/binary-amd64/Packages.xz\n cc 7 contrib/binary-amd64/Packages.xz\n";
        let entries = index_entries(release);
        assert_eq!(entries.len(), 3);
        assert_eq!(packages_entry(&entries, "main", "amd64").unwrap().sha256, "bb");
        assert!(packages_entry(&entries, "main", "arm64").is_none());
    }
}
