//! Open workspaces: elements whose sources are, for now, a directory the
//! user edits (`forge workspace open`). They are kept in
//! `.forge/workspaces.yml` in the top-level project, laid out as
//! BuildStream lays out its `.bst2/workspaces.yml`:
//! `workspaces: <element>: {path: ...}`, paths relative to the project
//! when they are inside it. Loading replaces such an element's sources by
//! one `workspace` source: that directory, keyed by its content.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use forge_yaml::{Node, parse_str};

use crate::error::LoadError;

/// Where the file is, relative to the project directory.
pub const FILE: &str = ".forge/workspaces.yml";

const FORMAT_VERSION: i64 = 1;

/// The workspaces of one project, by element name (`app.bst`, or
/// `sdk.bst:app.bst` for an element of a subproject).
#[derive(Clone, Debug, Default)]
pub struct Workspaces {
    project_dir: PathBuf,
    open: BTreeMap<String, PathBuf>,
}

impl Workspaces {
    /// Reads the workspaces of the project in `project_dir` (none when the
    /// file does not exist).
    pub fn load(project_dir: &Path) -> Result<Workspaces, LoadError> {
        let mut workspaces = Workspaces {
            project_dir: project_dir.to_path_buf(),
            open: BTreeMap::new(),
        };
        let path = project_dir.join(FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(workspaces),
            Err(err) => return Err(LoadError::new(format!("cannot read {FILE}: {err}"))),
        };
        let hint = format!("{FILE} is written by `forge workspace`; remove it to forget every workspace");
        let root = parse_str(FILE, &text).map_err(|e| LoadError::from(e).with_hint(hint.clone()))?;
        let map = root.as_map().expect("parse_str returns mappings");
        for (key, _) in map.iter() {
            if key.name != "format-version" && key.name != "workspaces" {
                return Err(LoadError::at(&key.span, format!("{FILE}: unknown key '{}'", key.name)).with_hint(hint));
            }
        }
        match map.get("format-version") {
            Some(node) if node.as_str() == Some(&FORMAT_VERSION.to_string()) => {}
            Some(node) => {
                return Err(LoadError::at(
                    &node.span,
                    format!(
                        "{FILE}: format-version {} is not one this forge reads (it reads {FORMAT_VERSION})",
                        node.as_str().unwrap_or("?")
                    ),
                )
                .with_hint(hint));
            }
            None => {
                return Err(LoadError::at(&root.span, format!("{FILE}: no format-version")).with_hint(hint));
            }
        }
        let Some(list) = map.get("workspaces") else {
            return Ok(workspaces);
        };
        let Some(entries) = list.as_map() else {
            return Err(LoadError::at(&list.span, format!("{FILE}: 'workspaces' must be a mapping")).with_hint(hint));
        };
        for (element, entry) in entries.iter() {
            let path = entry
                .as_map()
                .and_then(|m| m.get("path"))
                .and_then(Node::as_str)
                .filter(|p| !p.is_empty())
                .ok_or_else(|| {
                    LoadError::at(
                        &entry.span,
                        format!("{FILE}: the workspace of {} has no path", element.name),
                    )
                    .with_hint(hint.clone())
                })?;
            workspaces.open.insert(element.name.clone(), PathBuf::from(path));
        }
        Ok(workspaces)
    }

    /// The directory of `element`'s workspace, absolute, if one is open.
    pub fn get(&self, element: &str) -> Option<PathBuf> {
        self.open.get(element).map(|path| self.project_dir.join(path))
    }

    /// Every open workspace: element and absolute directory, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, PathBuf)> {
        self.open
            .iter()
            .map(|(name, path)| (name.as_str(), self.project_dir.join(path)))
    }

    /// The element whose workspace holds `dir` (the current directory,
    /// say), if any.
    pub fn containing(&self, dir: &Path) -> Option<&str> {
        if self.open.is_empty() {
            return None;
        }
        let dir = dir.canonicalize().ok()?;
        self.open
            .iter()
            .filter_map(|(name, path)| Some((name, self.project_dir.join(path).canonicalize().ok()?)))
            .filter(|(_, path)| dir.starts_with(path))
            .max_by_key(|(_, path)| path.components().count())
            .map(|(name, _)| name.as_str())
    }

    /// Whether no workspace is open.
    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }

    /// Records `element`'s workspace at `dir` (absolute), replacing any.
    pub fn insert(&mut self, element: &str, dir: &Path) {
        let stored = dir
            .strip_prefix(&self.project_dir)
            .map(Path::to_path_buf)
            .unwrap_or_else(|_| dir.to_path_buf());
        self.open.insert(element.to_string(), stored);
    }

    /// Forgets `element`'s workspace; its directory, if one was open.
    pub fn remove(&mut self, element: &str) -> Option<PathBuf> {
        self.open.remove(element).map(|path| self.project_dir.join(path))
    }

    /// Writes the file (under a temporary name first, so a crash leaves
    /// the old one or the new one).
    pub fn save(&self) -> std::io::Result<()> {
        let path = self.project_dir.join(FILE);
        let dir = path.parent().expect("the file is in a directory");
        std::fs::create_dir_all(dir)?;
        let quoted = |s: &str| serde_json::to_string(s).expect("strings serialise");
        let mut text = format!(
            "# Open workspaces, written by `forge workspace` (BuildStream keeps its own\n# in .bst2/workspaces.yml).\nformat-version: {FORMAT_VERSION}\n"
        );
        if self.open.is_empty() {
            text.push_str("workspaces: {}\n");
        } else {
            text.push_str("workspaces:\n");
            for (element, path) in &self.open {
                text.push_str(&format!(
                    "  {}:\n    path: {}\n",
                    quoted(element),
                    quoted(&path.to_string_lossy())
                ));
            }
        }
        let temporary = dir.join(format!(".workspaces.yml.{}", std::process::id()));
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&temporary, &path)
    }
}

/// The file a workspace directory holds to name its project and element
/// (BuildStream's `.bstproject.yaml`, in the same layout): forge run in
/// the workspace finds the project through it, and builds the element
/// when given no target. Builds never see it.
pub const MARKER: &str = ".forgeproject.yaml";

/// Writes the marker of `element`'s workspace at `dir`.
pub fn write_marker(dir: &Path, project_dir: &Path, element: &str) -> std::io::Result<()> {
    let quoted = |s: &str| serde_json::to_string(s).expect("strings serialise");
    std::fs::write(
        dir.join(MARKER),
        format!(
            "# Written by `forge workspace open`: this directory is the workspace of\n# an element of the project named here.\nformat-version: 1\nprojects:\n- project-path: {}\n  element-name: {}\n",
            quoted(&project_dir.to_string_lossy()),
            quoted(element)
        ),
    )
}

/// The project directory a workspace marker in `dir` names, if any.
pub fn marked_project(dir: &Path) -> Option<PathBuf> {
    let text = std::fs::read_to_string(dir.join(MARKER)).ok()?;
    let root = parse_str(MARKER, &text).ok()?;
    let first = root.as_map()?.get("projects")?.as_list()?.first()?;
    first.as_map()?.get("project-path")?.as_str().map(PathBuf::from)
}

/// Makes `dir` the only source of `element` (its open workspace).
pub fn replace_sources(element: &mut crate::Element, dir: PathBuf) -> Result<(), LoadError> {
    let kind = element
        .project
        .kinds
        .element(&element.kind)
        .expect("loaded elements have known kinds");
    if let Err(why) = kind.accepts_workspace(element) {
        return Err(
            LoadError::new(format!("{FILE}: {} cannot have a workspace: {why}", element.name))
                .with_hint(format!("close it: `forge workspace close {}`", element.name)),
        );
    }
    let span = forge_yaml::Span::synthetic(FILE);
    let mut config = Node::map(span.clone());
    config
        .as_map_mut()
        .expect("a mapping")
        .insert_str_key("path", Node::string(dir.to_string_lossy(), span.clone()));
    element.sources = vec![crate::Source {
        kind: SOURCE_KIND.to_string(),
        kind_id: SOURCE_KIND,
        index: 0,
        config,
        directory: None,
        span,
        provenance: Vec::new(),
    }];
    element.workspace = Some(dir);
    Ok(())
}

/// The kind of the source that stands for a workspace (never written in
/// an element file).
pub const SOURCE_KIND: &str = "workspace";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_workspaces_load_back_relative_to_the_project_when_inside_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut workspaces = Workspaces::load(dir.path()).unwrap();
        assert!(workspaces.is_empty());
        workspaces.insert("app.bst", &dir.path().join("app"));
        workspaces.insert("sdk.bst:lib \"x\".bst", Path::new("/elsewhere/lib"));
        workspaces.save().unwrap();
        let text = std::fs::read_to_string(dir.path().join(FILE)).unwrap();
        assert!(text.contains("path: \"app\""), "{text}");
        let loaded = Workspaces::load(dir.path()).unwrap();
        assert_eq!(loaded.get("app.bst"), Some(dir.path().join("app")));
        assert_eq!(
            loaded.get("sdk.bst:lib \"x\".bst"),
            Some(PathBuf::from("/elsewhere/lib"))
        );
        let mut loaded = loaded;
        assert_eq!(loaded.remove("app.bst"), Some(dir.path().join("app")));
        assert_eq!(loaded.remove("app.bst"), None);
    }

    #[test]
    fn a_damaged_file_is_refused_with_its_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(".forge")).unwrap();
        let write = |text: &str| std::fs::write(dir.path().join(FILE), text).unwrap();
        write("format-version: 1\nworkspaces:\n  app.bst:\n    directory: x\n");
        let err = Workspaces::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("workspaces.yml:4") && err.contains("has no path"), "{err}");
        write("format-version: 9\nworkspaces: {}\n");
        let err = Workspaces::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("format-version 9"), "{err}");
        write("format-version: 1\nextra: 1\n");
        let err = Workspaces::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("unknown key 'extra'"), "{err}");
    }
}
