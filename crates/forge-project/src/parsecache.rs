//! Parsed element files kept between runs, by the digest of their text:
//! a project of a thousand elements spends more time parsing YAML than
//! doing anything else with it, and its files rarely change.
//!
//! An entry is only ever a faster way to the same node tree: it is found
//! by the SHA-256 of the exact text, a damaged one is parsed again and
//! replaced, and failing to write one changes nothing but speed. New
//! entries are written by [`ParseCache::save`], once the caller knows the
//! project loads.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use forge_yaml::{Node, YamlError, binary, parse_str};
use sha2::{Digest, Sha256};

/// Parsed files under a directory, one entry per text.
pub struct ParseCache {
    dir: PathBuf,
    /// Entries parsed in this run, not written yet.
    pending: Mutex<Vec<(PathBuf, Vec<u8>)>>,
}

/// Tells apart the temporary files of one process's threads.
static WRITES: AtomicUsize = AtomicUsize::new(0);

impl ParseCache {
    /// A cache in `dir` (created when first written).
    pub fn new(dir: PathBuf) -> ParseCache {
        ParseCache {
            dir,
            pending: Mutex::default(),
        }
    }

    /// `text`, the contents of `file`, parsed: read back when this text
    /// was parsed before, else parsed and remembered.
    pub fn parse(&self, file: &str, text: &str) -> Result<Node, YamlError> {
        let digest = Sha256::digest(text.as_bytes());
        let mut name = String::with_capacity(64);
        for byte in digest.iter() {
            let _ = write!(name, "{byte:02x}");
        }
        let entry = self.dir.join(&name[..2]).join(&name[2..]);
        if let Ok(bytes) = std::fs::read(&entry)
            && let Some(node) = binary::decode(&bytes, Arc::from(file))
        {
            return Ok(node);
        }
        let node = parse_str(file, text)?;
        let mut bytes = Vec::with_capacity(text.len() * 2);
        binary::encode(&node, &mut bytes);
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((entry, bytes));
        Ok(node)
    }

    /// Writes the entries parsed so far (a failure only costs speed).
    pub fn save(&self) {
        let pending = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|e| e.into_inner()));
        for (entry, bytes) in pending {
            let _ = write_atomically(&entry, &bytes);
        }
    }
}

fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().expect("entries sit in a directory");
    std::fs::create_dir_all(dir)?;
    let temporary = dir.join(format!(
        ".tmp-{}-{}",
        std::process::id(),
        WRITES.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&temporary, bytes)?;
    std::fs::rename(&temporary, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&temporary);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_give_the_parsed_tree_and_damage_is_parsed_again() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ParseCache::new(dir.path().join("parsed"));
        let text = "kind: manual\nconfig:\n  build-commands: [make]\n";
        let first = cache.parse("a.bst", text).unwrap();
        assert!(!dir.path().join("parsed").exists(), "nothing is written before save");
        cache.save();
        let entries: Vec<_> = walk(&dir.path().join("parsed"));
        assert_eq!(entries.len(), 1, "{entries:?}");

        // Read back under another name: the spans name the file asked for.
        let again = cache.parse("b.bst", text).unwrap();
        assert_eq!(&*again.span.file, "b.bst");
        assert_eq!(forge_yaml::to_yaml_string(&first), forge_yaml::to_yaml_string(&again));

        // A damaged entry is parsed again, and rewritten.
        std::fs::write(&entries[0], b"FYB1garbage").unwrap();
        let repaired = cache.parse("a.bst", text).unwrap();
        cache.save();
        assert_eq!(
            forge_yaml::to_yaml_string(&first),
            forge_yaml::to_yaml_string(&repaired)
        );
        assert_ne!(std::fs::read(&entries[0]).unwrap(), b"FYB1garbage");

        // Errors are the parser's, and nothing is written for them.
        let err = cache.parse("c.bst", "a: [\n").unwrap_err();
        assert!(err.message.contains("invalid YAML"), "{err}");
        cache.save();
        assert_eq!(walk(&dir.path().join("parsed")).len(), 1);
    }

    #[test]
    fn an_unwritable_cache_only_costs_speed() {
        let dir = tempfile::tempdir().unwrap();
        let blocked = dir.path().join("file");
        std::fs::write(&blocked, "").unwrap();
        let cache = ParseCache::new(blocked.join("parsed"));
        assert!(cache.parse("a.bst", "kind: stack\n").is_ok());
        cache.save();
    }

    fn walk(dir: &std::path::Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for sub in std::fs::read_dir(dir).unwrap() {
            for entry in std::fs::read_dir(sub.unwrap().path()).unwrap() {
                out.push(entry.unwrap().path());
            }
        }
        out
    }
}
