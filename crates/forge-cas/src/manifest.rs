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

impl Manifest {
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
