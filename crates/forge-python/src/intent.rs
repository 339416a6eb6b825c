//! What a project asks for, before it is resolved: a `requirements.in`
//! (names with specifiers, extras and markers; `-r`, `-c`, `--index-url`)
//! or the `[project] dependencies` of a `pyproject.toml`. Every construct
//! is honoured or refused with its line, never dropped.

use std::path::Path;

use crate::requirement::{Requirement, parse};

/// A requirements file read, with its includes.
#[derive(Clone, Debug, Default)]
pub struct Intent {
    /// The requirements, each with where it is written (`file:line`).
    pub requirements: Vec<(Requirement, String)>,
    /// `-c` constraints: they narrow a package that is needed, never add one.
    pub constraints: Vec<Requirement>,
    /// `--index-url`, if given.
    pub index: Option<String>,
    /// `--extra-index-url`s: every index is asked, and a package on more
    /// than one is refused (dependency confusion).
    pub extra_indexes: Vec<String>,
}

/// Reads `path`: a `pyproject.toml` by its name, else a requirements file.
pub fn read(path: &Path) -> Result<Intent, String> {
    let mut intent = Intent::default();
    if path.file_name().is_some_and(|n| n == "pyproject.toml") {
        read_pyproject(path, &mut intent)?;
    } else {
        read_lines(path, false, &mut intent, 0)?;
    }
    Ok(intent)
}

fn read_text(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

fn read_pyproject(path: &Path, intent: &mut Intent) -> Result<(), String> {
    let text = read_text(path)?;
    let doc: toml::Table = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let project = doc
        .get("project")
        .and_then(|p| p.as_table())
        .ok_or_else(|| format!("{}: there is no [project] table", path.display()))?;
    if project
        .get("dynamic")
        .and_then(|d| d.as_array())
        .is_some_and(|d| d.iter().any(|v| v.as_str() == Some("dependencies")))
    {
        return Err(format!(
            "{}: the dependencies are dynamic (computed by the build backend); list them in [project] dependencies",
            path.display()
        ));
    }
    let Some(list) = project.get("dependencies") else {
        return Ok(());
    };
    let list = list
        .as_array()
        .ok_or_else(|| format!("{}: [project] dependencies is not a list", path.display()))?;
    for (i, item) in list.iter().enumerate() {
        let at = format!("{}: [project] dependencies[{i}]", path.display());
        let text = item.as_str().ok_or_else(|| format!("{at}: not a string"))?;
        intent
            .requirements
            .push((parse(text).map_err(|e| format!("{at}: {e}"))?, at));
    }
    Ok(())
}

/// Options that take a value, as pip writes them.
fn option_value<'a>(line: &'a str, names: &[&str]) -> Option<&'a str> {
    names.iter().find_map(|name| {
        let rest = line.strip_prefix(name)?;
        if let Some(value) = rest.strip_prefix('=') {
            Some(value.trim())
        } else if rest.starts_with(char::is_whitespace) {
            Some(rest.trim())
        } else {
            None
        }
    })
}

fn read_lines(path: &Path, constraints: bool, intent: &mut Intent, depth: usize) -> Result<(), String> {
    if depth > 16 {
        return Err(format!(
            "{}: included more than 16 deep (an include loop?)",
            path.display()
        ));
    }
    let text = read_text(path)?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut logical = String::new();
    let mut first_line = 0;
    for (n, raw) in text.lines().enumerate() {
        if logical.is_empty() {
            first_line = n + 1;
        }
        // A comment starts a line or follows whitespace.
        let line = match raw.find('#') {
            Some(0) => "",
            Some(at) if raw[..at].ends_with(char::is_whitespace) => &raw[..at],
            _ => raw,
        };
        if let Some(joined) = line.trim_end().strip_suffix('\\') {
            logical.push_str(joined);
            logical.push(' ');
            continue;
        }
        logical.push_str(line);
        let line = std::mem::take(&mut logical);
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let at = format!("{}:{first_line}", path.display());
        if let Some(file) = option_value(line, &["-r", "--requirement"]) {
            read_lines(&dir.join(file), constraints, intent, depth + 1).map_err(|e| format!("{at}: {e}"))?;
        } else if let Some(file) = option_value(line, &["-c", "--constraint"]) {
            read_lines(&dir.join(file), true, intent, depth + 1).map_err(|e| format!("{at}: {e}"))?;
        } else if let Some(url) = option_value(line, &["-i", "--index-url"]) {
            if intent.index.as_deref().is_some_and(|earlier| earlier != url) {
                return Err(format!("{at}: a second, different --index-url ({url})"));
            }
            intent.index = Some(url.to_string());
        } else if let Some(url) = option_value(line, &["--extra-index-url"]) {
            crate::index::add_extra_index(&mut intent.extra_indexes, url);
        } else if option_value(line, &["-f", "--find-links"]).is_some() {
            return Err(format!(
                "{at}: --find-links is refused: forge locks against an index (--index-url)"
            ));
        } else if line.starts_with("-e") || line.starts_with("--editable") {
            return Err(format!(
                "{at}: editable requirements are refused: an editable install is a path, not a pinned release; make it an element of the project"
            ));
        } else if line.starts_with('-') {
            let option = line.split_whitespace().next().unwrap_or(line);
            return Err(format!("{at}: the option {option} is not supported by forge lock"));
        } else {
            if line.contains(" --hash") {
                return Err(format!(
                    "{at}: --hash belongs in a lock file; `forge import python` reads those, `forge lock` reads what to resolve"
                ));
            }
            let requirement = parse(line).map_err(|e| format!("{at}: {e}"))?;
            if constraints {
                intent.constraints.push(requirement);
            } else {
                intent.requirements.push((requirement, at));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn includes_constraints_and_index_are_honoured() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("requirements.in"),
            "# the app\n--index-url http://127.0.0.1:1/simple/\nhttpie>=3 \\\n  ; python_version >= '3.8'\n-r more.in\n-c pins.txt\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("more.in"), "black[d]  # formatter\n").unwrap();
        std::fs::write(dir.path().join("pins.txt"), "click<9\n").unwrap();
        let intent = read(&dir.path().join("requirements.in")).unwrap();
        let names: Vec<String> = intent.requirements.iter().map(|(r, _)| r.to_string()).collect();
        assert_eq!(names, ["httpie>=3", "black[d]"]);
        assert!(intent.requirements[0].1.ends_with("requirements.in:3"));
        assert_eq!(
            intent.requirements[0].0.marker.as_deref(),
            Some("python_version >= '3.8'")
        );
        assert_eq!(intent.constraints[0].to_string(), "click<9");
        assert_eq!(intent.index.as_deref(), Some("http://127.0.0.1:1/simple/"));
    }

    #[test]
    fn every_other_construct_is_refused_with_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("requirements.in");
        for (line, says) in [
            ("-e ./src", "editable"),
            ("--find-links ./wheels", "--find-links"),
            ("--pre", "--pre is not supported"),
            ("demo @ https://example.com/demo.whl", "pins nothing"),
            ("demo==1.0 --hash=sha256:00", "--hash belongs in a lock file"),
        ] {
            std::fs::write(&path, format!("ok\n{line}\n")).unwrap();
            let err = read(&path).unwrap_err();
            assert!(
                err.contains("requirements.in:2: ") && err.contains(says),
                "{line}: {err}"
            );
        }
    }

    #[test]
    fn pyproject_dependencies() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pyproject.toml");
        std::fs::write(
            &path,
            "[project]\nname = 'app'\ndependencies = ['httpie>=3', 'black']\n",
        )
        .unwrap();
        let intent = read(&path).unwrap();
        assert_eq!(intent.requirements.len(), 2);
        std::fs::write(&path, "[project]\nname = 'app'\ndynamic = ['dependencies']\n").unwrap();
        assert!(read(&path).unwrap_err().contains("dynamic"));
    }
}
