//! Trees as REAPI v2 `Directory` messages, so that what the cache stores
//! is exactly what a remote cache (buildbox-casd, BuildGrid, Buildbarn)
//! stores: blobs named by their SHA-256 and size, directories encoded
//! canonically (entries sorted by name, no node properties).

use std::collections::BTreeMap;

use prost::Message;
use sha2::{Digest as _, Sha256};

use crate::manifest::{Entry, EntryKind, Manifest};

/// `build.bazel.remote.execution.v2.Digest`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Message)]
pub struct Digest {
    /// Lowercase hex SHA-256 of the blob.
    #[prost(string, tag = "1")]
    pub hash: String,
    /// Its size in bytes.
    #[prost(int64, tag = "2")]
    pub size_bytes: i64,
}

impl Digest {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Digest {
        Digest {
            hash: sha256_hex(bytes),
            size_bytes: bytes.len() as i64,
        }
    }
}

impl std::fmt::Display for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.hash, self.size_bytes)
    }
}

/// `build.bazel.remote.execution.v2.FileNode`.
#[derive(Clone, PartialEq, Message)]
pub struct FileNode {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(message, optional, tag = "2")]
    pub digest: Option<Digest>,
    #[prost(bool, tag = "4")]
    pub is_executable: bool,
}

/// `build.bazel.remote.execution.v2.DirectoryNode`.
#[derive(Clone, PartialEq, Message)]
pub struct DirectoryNode {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(message, optional, tag = "2")]
    pub digest: Option<Digest>,
}

/// `build.bazel.remote.execution.v2.SymlinkNode`.
#[derive(Clone, PartialEq, Message)]
pub struct SymlinkNode {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub target: String,
}

/// `build.bazel.remote.execution.v2.Directory`.
#[derive(Clone, PartialEq, Message)]
pub struct Directory {
    #[prost(message, repeated, tag = "1")]
    pub files: Vec<FileNode>,
    #[prost(message, repeated, tag = "2")]
    pub directories: Vec<DirectoryNode>,
    #[prost(message, repeated, tag = "3")]
    pub symlinks: Vec<SymlinkNode>,
}

/// Lowercase hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// SHA-256 of `bytes`.
pub fn sha256_raw(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 15)] as char);
    }
    out
}

/// A manifest as `Directory` messages: the root's digest and every
/// directory's encoded bytes (the root's among them), deepest first.
pub fn encode_tree(manifest: &Manifest) -> (Digest, Vec<(Digest, Vec<u8>)>) {
    // Directory path ("" for the root) → its entries, by name.
    let mut dirs: BTreeMap<&str, Directory> = BTreeMap::new();
    dirs.insert("", Directory::default());
    for entry in &manifest.entries {
        if matches!(entry.kind, EntryKind::Dir) {
            dirs.entry(entry.path.as_str()).or_default();
        }
    }
    for entry in &manifest.entries {
        let (parent, name) = match entry.path.rsplit_once('/') {
            Some((parent, name)) => (parent, name),
            None => ("", entry.path.as_str()),
        };
        let dir = dirs.entry(parent).or_default();
        match &entry.kind {
            EntryKind::Dir => {}
            EntryKind::File { digest, size, exec } => dir.files.push(FileNode {
                name: name.to_string(),
                digest: Some(Digest {
                    hash: digest.clone(),
                    size_bytes: *size as i64,
                }),
                is_executable: *exec,
            }),
            EntryKind::Symlink { target } => dir.symlinks.push(SymlinkNode {
                name: name.to_string(),
                target: target.clone(),
            }),
        }
    }
    // Children before parents: the longest paths first.
    let mut order: Vec<&str> = dirs.keys().copied().collect();
    order.sort_by_key(|path| {
        std::cmp::Reverse(if path.is_empty() {
            0
        } else {
            path.matches('/').count() + 1
        })
    });
    let mut done: BTreeMap<&str, Digest> = BTreeMap::new();
    let mut blobs = Vec::with_capacity(order.len());
    for path in order {
        let mut dir = dirs.remove(path).expect("listed");
        let prefix = if path.is_empty() {
            String::new()
        } else {
            format!("{path}/")
        };
        for (child, digest) in done.range(prefix.as_str()..) {
            let Some(rest) = child.strip_prefix(prefix.as_str()) else {
                break;
            };
            if !rest.is_empty() && !rest.contains('/') {
                dir.directories.push(DirectoryNode {
                    name: rest.to_string(),
                    digest: Some(digest.clone()),
                });
            }
        }
        dir.files.sort_by(|a, b| a.name.cmp(&b.name));
        dir.directories.sort_by(|a, b| a.name.cmp(&b.name));
        dir.symlinks.sort_by(|a, b| a.name.cmp(&b.name));
        let bytes = dir.encode_to_vec();
        let digest = Digest::of(&bytes);
        done.insert(path, digest.clone());
        blobs.push((digest, bytes));
    }
    let root = done.remove("").expect("the root is encoded");
    (root, blobs)
}

/// More entries than any artifact forge builds (a whole distribution is a
/// few hundred thousand).
const MAX_TREE_ENTRIES: usize = 8_000_000;

/// Reads a tree back: `read` gives the bytes of a directory blob.
pub fn decode_tree(root: &str, mut read: impl FnMut(&str) -> std::io::Result<Vec<u8>>) -> std::io::Result<Manifest> {
    let mut entries = Vec::new();
    let mut pending = vec![(String::new(), root.to_string())];
    while let Some((path, hash)) = pending.pop() {
        // Every blob matches its digest, so a tree cannot contain itself,
        // but a small hostile one can name one directory many times over.
        if entries.len() > MAX_TREE_ENTRIES {
            return Err(invalid(format!(
                "a directory tree with more than {MAX_TREE_ENTRIES} entries"
            )));
        }
        let bytes = read(&hash)?;
        if sha256_hex(&bytes) != hash {
            return Err(invalid(format!("directory {hash} does not match its digest")));
        }
        let dir = Directory::decode(bytes.as_slice()).map_err(|e| invalid(format!("directory {hash}: {e}")))?;
        let join = |name: &str| -> std::io::Result<String> {
            if name.is_empty() || name == "." || name == ".." || name.contains('/') || name.contains('\0') {
                return Err(invalid(format!("directory {hash} holds an invalid name '{name}'")));
            }
            Ok(if path.is_empty() {
                name.to_string()
            } else {
                format!("{path}/{name}")
            })
        };
        for file in &dir.files {
            let digest = file
                .digest
                .as_ref()
                .ok_or_else(|| invalid(format!("file {} has no digest", file.name)))?;
            entries.push(Entry {
                path: join(&file.name)?,
                kind: EntryKind::File {
                    digest: checked_hash(&digest.hash)?,
                    size: u64::try_from(digest.size_bytes).map_err(|_| invalid("a negative size"))?,
                    exec: file.is_executable,
                },
            });
        }
        for link in &dir.symlinks {
            entries.push(Entry {
                path: join(&link.name)?,
                kind: EntryKind::Symlink {
                    target: link.target.clone(),
                },
            });
        }
        for child in &dir.directories {
            let digest = child
                .digest
                .as_ref()
                .ok_or_else(|| invalid(format!("directory {} has no digest", child.name)))?;
            let child_path = join(&child.name)?;
            entries.push(Entry {
                path: child_path.clone(),
                kind: EntryKind::Dir,
            });
            pending.push((child_path, checked_hash(&digest.hash)?));
        }
    }
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    if entries.windows(2).any(|w| w[0].path == w[1].path) {
        return Err(invalid("a directory tree names one path twice"));
    }
    Ok(Manifest { entries })
}

/// `hash` if it is 64 lowercase hex digits (so it is safe in a path).
pub fn checked_hash(hash: &str) -> std::io::Result<String> {
    if hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        Ok(hash.to_string())
    } else {
        Err(invalid(format!("'{hash}' is not a SHA-256 digest")))
    }
}

fn invalid(message: impl Into<String>) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, message.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, content: &[u8], exec: bool) -> Entry {
        Entry {
            path: path.into(),
            kind: EntryKind::File {
                digest: sha256_hex(content),
                size: content.len() as u64,
                exec,
            },
        }
    }

    #[test]
    fn a_tree_round_trips_and_empty_directories_stay() {
        let mut entries = vec![
            Entry {
                path: "usr".into(),
                kind: EntryKind::Dir,
            },
            Entry {
                path: "usr/bin".into(),
                kind: EntryKind::Dir,
            },
            file("usr/bin/tool", b"#!/bin/sh\n", true),
            Entry {
                path: "usr/empty".into(),
                kind: EntryKind::Dir,
            },
            Entry {
                path: "usr/lib-x".into(),
                kind: EntryKind::Symlink { target: "bin".into() },
            },
            file("top.txt", b"top", false),
        ];
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        let manifest = Manifest { entries };
        let (root, blobs) = encode_tree(&manifest);
        assert_eq!(blobs.len(), 4, "root, usr, usr/bin, usr/empty");
        assert_eq!(blobs.last().unwrap().0, root, "the root comes last");
        let store: BTreeMap<String, Vec<u8>> = blobs.into_iter().map(|(d, b)| (d.hash, b)).collect();
        let back = decode_tree(&root.hash, |h| Ok(store[h].clone())).unwrap();
        assert_eq!(back, manifest);
    }

    #[test]
    fn the_empty_tree_has_the_well_known_digest() {
        let (root, _) = encode_tree(&Manifest::default());
        // The digest every REAPI server knows for an empty Directory.
        assert_eq!(
            root.to_string(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855/0"
        );
    }

    #[test]
    fn hostile_trees_are_refused() {
        let evil = Directory {
            files: vec![FileNode {
                name: "../escape".into(),
                digest: Some(Digest::of(b"x")),
                is_executable: false,
            }],
            ..Default::default()
        };
        let bytes = evil.encode_to_vec();
        let hash = sha256_hex(&bytes);
        let err = decode_tree(&hash, |_| Ok(bytes.clone())).unwrap_err();
        assert!(err.to_string().contains("invalid name"), "{err}");
        // Bytes that do not match the digest asked for.
        let err = decode_tree(&hash, |_| Ok(b"other".to_vec())).unwrap_err();
        assert!(err.to_string().contains("does not match"), "{err}");
    }
}
