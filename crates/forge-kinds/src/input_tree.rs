//! A sandbox's root as a tree of the cache, made without writing a file:
//! what a remote executor is given as the input root. Paths are resolved
//! through the symlinks already in the tree (`bin` → `usr/bin`), as
//! staging into a directory follows them.

use std::collections::BTreeMap;

use forge_cas::{Entry, EntryKind, Manifest};

/// Symlinks followed in one path at most (as the kernel's limit).
const MAX_LINKS: usize = 40;

/// Paths (relative, `/`-separated) and what is at each.
#[derive(Default)]
pub struct InputTree {
    entries: BTreeMap<String, EntryKind>,
}

/// What adding an entry replaced.
#[derive(Debug, PartialEq, Eq)]
pub enum Replaced {
    /// Nothing was there (or a directory where a directory goes).
    Nothing,
    /// A file or symlink, or a directory in the way of one.
    Something,
}

impl InputTree {
    /// `path` with every symlink among its parents followed; `None` if
    /// that leaves the tree or loops.
    fn resolve(&self, path: &str) -> Option<String> {
        let mut pending: Vec<String> = path
            .split('/')
            .filter(|c| !c.is_empty())
            .map(String::from)
            .rev()
            .collect();
        let mut done: Vec<String> = Vec::new();
        let mut links = 0;
        while let Some(component) = pending.pop() {
            match component.as_str() {
                "." => continue,
                ".." => {
                    done.pop()?;
                    continue;
                }
                _ => {}
            }
            done.push(component);
            // The last component is what is added: never followed.
            if pending.is_empty() {
                break;
            }
            if let Some(EntryKind::Symlink { target }) = self.entries.get(&done.join("/")) {
                links += 1;
                if links > MAX_LINKS {
                    return None;
                }
                done.pop();
                if target.starts_with('/') {
                    done.clear();
                }
                pending.extend(target.split('/').filter(|c| !c.is_empty()).map(String::from).rev());
            }
        }
        Some(done.join("/"))
    }

    /// Makes `path` and its parents directories where nothing is.
    fn make_dirs(&mut self, path: &str) {
        let mut at = 0;
        while at < path.len() {
            let end = path[at..].find('/').map_or(path.len(), |i| at + i);
            self.entries.entry(path[..end].to_string()).or_insert(EntryKind::Dir);
            at = end + 1;
        }
    }

    /// Removes `path` and everything under it.
    fn remove(&mut self, path: &str) {
        let prefix = format!("{path}/");
        let under: Vec<String> = self
            .entries
            .range(prefix.clone()..)
            .take_while(|(p, _)| p.starts_with(&prefix))
            .map(|(p, _)| p.clone())
            .collect();
        for p in under {
            self.entries.remove(&p);
        }
        self.entries.remove(path);
    }

    /// Adds `kind` at `path` as staging writes it: a directory merges
    /// with one there, anything else replaces what is there.
    pub fn add(&mut self, path: &str, kind: &EntryKind) -> Result<Replaced, String> {
        let path = self
            .resolve(path)
            .ok_or_else(|| format!("{path}: its parents' symlinks leave the root or loop"))?;
        if path.is_empty() {
            return Ok(Replaced::Nothing);
        }
        if let Some((parent, _)) = path.rsplit_once('/') {
            self.make_dirs(parent);
        }
        let replaced = match (self.entries.get(&path), kind) {
            (None, _) | (Some(EntryKind::Dir), EntryKind::Dir) => Replaced::Nothing,
            (Some(_), _) => Replaced::Something,
        };
        if replaced == Replaced::Something {
            self.remove(&path);
        }
        self.entries.entry(path).or_insert_with(|| kind.clone());
        Ok(replaced)
    }

    /// Puts `manifest` at `at` in place of whatever is there.
    pub fn graft(&mut self, at: &str, manifest: &Manifest) -> Result<(), String> {
        let at = self
            .resolve(&format!("{}/.", at.trim_matches('/')))
            .ok_or_else(|| format!("{at}: its symlinks leave the root or loop"))?;
        if !at.is_empty() {
            self.remove(&at);
            self.make_dirs(&at);
        }
        for entry in &manifest.entries {
            let path = if at.is_empty() {
                entry.path.clone()
            } else {
                format!("{at}/{}", entry.path)
            };
            self.entries.insert(path, entry.kind.clone());
        }
        Ok(())
    }

    /// Makes directory `path` if nothing is there.
    pub fn ensure_dir(&mut self, path: &str) {
        self.make_dirs(path.trim_matches('/'));
    }

    /// The tree as a manifest (sorted by path).
    pub fn into_manifest(self) -> Manifest {
        Manifest {
            entries: self
                .entries
                .into_iter()
                .map(|(path, kind)| Entry { path, kind })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(digest: &str) -> EntryKind {
        EntryKind::File {
            digest: digest.repeat(64),
            size: 1,
            exec: false,
        }
    }

    fn paths(tree: InputTree) -> Vec<String> {
        tree.into_manifest().entries.into_iter().map(|e| e.path).collect()
    }

    #[test]
    fn entries_go_through_symlinked_parents_and_later_files_replace_earlier() {
        let mut tree = InputTree::default();
        tree.add("usr/bin", &EntryKind::Dir).unwrap();
        tree.add(
            "bin",
            &EntryKind::Symlink {
                target: "usr/bin".into(),
            },
        )
        .unwrap();
        assert_eq!(tree.add("bin/sh", &file("a")).unwrap(), Replaced::Nothing);
        assert_eq!(tree.add("/usr/bin/sh", &file("b")).unwrap(), Replaced::Something);
        tree.add(
            "lib",
            &EntryKind::Symlink {
                target: "/usr/lib".into(),
            },
        )
        .unwrap();
        tree.add("lib/x/libc.so", &file("c")).unwrap();
        assert!(tree.add("bin/../../../etc", &EntryKind::Dir).is_err());
        assert_eq!(
            paths(tree),
            [
                "bin",
                "lib",
                "usr",
                "usr/bin",
                "usr/bin/sh",
                "usr/lib",
                "usr/lib/x",
                "usr/lib/x/libc.so"
            ]
        );
    }

    #[test]
    fn a_graft_replaces_what_was_there() {
        let mut tree = InputTree::default();
        tree.add("build/old", &file("a")).unwrap();
        let sources = Manifest {
            entries: vec![Entry {
                path: "configure".into(),
                kind: file("b"),
            }],
        };
        tree.graft("/build/here", &sources).unwrap();
        tree.graft("/build", &sources).unwrap();
        assert_eq!(paths(tree), ["build", "build/configure"]);
    }
}
