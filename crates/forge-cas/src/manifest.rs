//! Manifests: what an artifact holds, comparable byte for byte.

use serde::{Deserialize, Serialize};

/// What kind of entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum EntryKind {
    /// A directory.
    Dir,
    /// A regular file.
    File {
        /// SHA-256 of the content.
        digest: String,
        /// Size in bytes.
        size: u64,
        /// Whether it is executable.
        exec: bool,
    },
    /// A symbolic link.
    Symlink {
        /// What it points to.
        target: String,
    },
}

/// One path of an artifact.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Relative path, `/`-separated, no leading `/`.
    pub path: String,
    /// What is there.
    #[serde(flatten)]
    pub kind: EntryKind,
}

/// The contents of an artifact, sorted by path.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The entries, sorted by path.
    pub entries: Vec<Entry>,
}

/// What begins a manifest in [`Manifest::encode`]'s form.
const ENCODED_MAGIC: &[u8] = b"forge-manifest 1\n";

impl Manifest {
    /// The manifest in a compact form of forge's own, for the cache of
    /// decoded trees: read back by [`Manifest::decode`] several times
    /// faster than JSON (a checkout reads one per artifact it stages).
    /// Per entry: a kind byte (0 directory, 1 file, 2 executable file,
    /// 3 symlink), the path as a `u32` length and bytes, then for a file
    /// its raw SHA-256 and size as `u64`, for a symlink its target as the
    /// path is. Integers are little-endian. The SHA-256 of all that ends
    /// it, so that a file torn by a crash is never read as a shorter
    /// manifest (it is kept without waiting for the disk). `None` if a
    /// digest is not a SHA-256 in hex (such a manifest is not kept).
    pub fn encode(&self) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(ENCODED_MAGIC.len() + self.entries.len() * 96);
        out.extend_from_slice(ENCODED_MAGIC);
        let text = |out: &mut Vec<u8>, text: &str| {
            out.extend_from_slice(&(text.len() as u32).to_le_bytes());
            out.extend_from_slice(text.as_bytes());
        };
        for entry in &self.entries {
            match &entry.kind {
                EntryKind::Dir => {
                    out.push(0);
                    text(&mut out, &entry.path);
                }
                EntryKind::File { digest, size, exec } => {
                    out.push(if *exec { 2 } else { 1 });
                    text(&mut out, &entry.path);
                    if digest.len() != 64 {
                        return None;
                    }
                    for i in 0..32 {
                        out.push(u8::from_str_radix(digest.get(2 * i..2 * i + 2)?, 16).ok()?);
                    }
                    out.extend_from_slice(&size.to_le_bytes());
                }
                EntryKind::Symlink { target } => {
                    out.push(3);
                    text(&mut out, &entry.path);
                    text(&mut out, target);
                }
            }
        }
        let check = crate::reapi::sha256_raw(&out);
        out.extend_from_slice(&check);
        Some(out)
    }

    /// Reads back what [`Manifest::encode`] wrote; `None` for anything
    /// else (another form, a truncated or damaged file).
    pub fn decode(bytes: &[u8]) -> Option<Manifest> {
        let (body, check) = bytes.split_at_checked(bytes.len().checked_sub(32)?)?;
        if crate::reapi::sha256_raw(body) != check {
            return None;
        }
        let mut rest = body.strip_prefix(ENCODED_MAGIC)?;
        let take = |rest: &mut &[u8], n: usize| -> Option<Vec<u8>> {
            let (head, tail) = rest.split_at_checked(n)?;
            *rest = tail;
            Some(head.to_vec())
        };
        let text = |rest: &mut &[u8]| -> Option<String> {
            let length = u32::from_le_bytes(take(rest, 4)?.try_into().ok()?) as usize;
            String::from_utf8(take(rest, length)?).ok()
        };
        let mut entries = Vec::new();
        while let Some((&kind, tail)) = rest.split_first() {
            rest = tail;
            let path = text(&mut rest)?;
            let kind = match kind {
                0 => EntryKind::Dir,
                1 | 2 => {
                    let raw = take(&mut rest, 32)?;
                    let size = u64::from_le_bytes(take(&mut rest, 8)?.try_into().ok()?);
                    EntryKind::File {
                        digest: crate::reapi::hex(&raw),
                        size,
                        exec: kind == 2,
                    }
                }
                3 => EntryKind::Symlink {
                    target: text(&mut rest)?,
                },
                _ => return None,
            };
            entries.push(Entry { path, kind });
        }
        Some(Manifest { entries })
    }

    /// Total size of the files.
    pub fn size(&self) -> u64 {
        self.entries
            .iter()
            .map(|e| match e.kind {
                EntryKind::File { size, .. } => size,
                _ => 0,
            })
            .sum()
    }

    /// The paths whose entries differ between two manifests, with why.
    pub fn differences(&self, other: &Manifest) -> Vec<String> {
        use std::collections::BTreeMap;
        let left: BTreeMap<&str, &EntryKind> = self.entries.iter().map(|e| (e.path.as_str(), &e.kind)).collect();
        let right: BTreeMap<&str, &EntryKind> = other.entries.iter().map(|e| (e.path.as_str(), &e.kind)).collect();
        let mut out = Vec::new();
        for (path, kind) in &left {
            match right.get(path) {
                None => out.push(format!("{path}: only in the first build")),
                Some(other) if other != kind => out.push(format!("{path}: differs")),
                _ => {}
            }
        }
        for path in right.keys() {
            if !left.contains_key(path) {
                out.push(format!("{path}: only in the second build"));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Manifest {
        let entry = |path: &str, kind| Entry {
            path: path.into(),
            kind,
        };
        Manifest {
            entries: vec![
                entry("usr", EntryKind::Dir),
                entry(
                    "usr/bin/tool",
                    EntryKind::File {
                        digest: "0f".repeat(32),
                        size: 5_000_000_000,
                        exec: true,
                    },
                ),
                entry(
                    "usr/share/é.txt",
                    EntryKind::File {
                        digest: "a1".repeat(32),
                        size: 0,
                        exec: false,
                    },
                ),
                entry(
                    "usr/link",
                    EntryKind::Symlink {
                        target: "share/é.txt".into(),
                    },
                ),
            ],
        }
    }

    #[test]
    fn the_compact_form_reads_back_as_written_and_nothing_else_does() {
        let manifest = sample();
        let bytes = manifest.encode().unwrap();
        assert_eq!(Manifest::decode(&bytes), Some(manifest.clone()));
        assert_eq!(
            Manifest::decode(&Manifest::default().encode().unwrap()),
            Some(Manifest::default())
        );
        // Cut after its first entry, or anywhere: never a shorter manifest.
        let first = ENCODED_MAGIC.len() + 1 + 4 + "usr".len();
        for cut in [first, ENCODED_MAGIC.len() + 1, bytes.len() - 1] {
            assert_eq!(Manifest::decode(&bytes[..cut]), None, "truncated at {cut}");
        }
        let mut zeroed = bytes.clone();
        zeroed[first..first + 40].fill(0);
        assert_eq!(Manifest::decode(&zeroed), None, "a block zeroed by a crash");
        assert_eq!(
            Manifest::decode(&serde_json::to_vec(&manifest).unwrap()),
            None,
            "the JSON of before"
        );
        let mut not_hex = manifest;
        not_hex.entries[1].kind = EntryKind::File {
            digest: "zz".repeat(32),
            size: 1,
            exec: false,
        };
        assert_eq!(not_hex.encode(), None);
    }
}
