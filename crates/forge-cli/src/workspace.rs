//! `forge workspace`: open an element's sources in a directory to edit.
//! While a workspace is open, loading makes that directory the element's
//! only source (keyed by its content), so `show`, `build`, `checkout` and
//! `shell` take the edits; `close` goes back to the pins.

use std::fs;
use std::path::{Path, PathBuf};

use forge_project::element::Element;
use forge_project::error::printable_line;
use forge_project::workspaces::Workspaces;
use forge_project::{Graph, Project};

use crate::cli::{WorkspaceCloseArgs, WorkspaceCommand, WorkspaceOpenArgs, WorkspaceResetArgs};
use crate::exit::Failure;
use crate::progress::BarProgress;
use crate::session::Session;

/// Runs `forge workspace ...`.
pub fn run(session: &Session, command: &WorkspaceCommand) -> Result<(), Failure> {
    match command {
        WorkspaceCommand::Open(args) => open(session, args),
        WorkspaceCommand::Close(args) => close(session, args),
        WorkspaceCommand::Reset(args) => reset(session, args),
        WorkspaceCommand::List => {
            print!("{}", listing(&session.project.workspaces));
            Ok(())
        }
    }
}

/// `forge workspace list`'s YAML, as bst prints it.
fn listing(workspaces: &Workspaces) -> String {
    if workspaces.is_empty() {
        return "workspaces: []\n".to_string();
    }
    let quoted = |s: &str| serde_json::to_string(s).expect("strings serialise");
    let mut text = String::from("workspaces:\n");
    for (element, dir) in workspaces.iter() {
        text.push_str(&format!(
            "- element: {}\n  directory: {}\n",
            quoted(element),
            quoted(&dir.to_string_lossy())
        ));
    }
    text
}

fn say(message: &str) {
    if !crate::output::quiet() {
        eprintln!("{}", printable_line(message));
    }
}

fn save(workspaces: &Workspaces) -> Result<(), Failure> {
    workspaces
        .save()
        .map_err(|e| Failure::internal(format!("cannot write {}: {e}", forge_project::workspaces::FILE)))
}

/// The elements named, loaded with their sources as written.
fn load_as_written(project: &std::sync::Arc<Project>, names: &[String]) -> Result<Graph, Failure> {
    let graph = Graph::load_as_written(project, names)?;
    for warning in project.take_warnings() {
        eprintln!("warning: {}", crate::exit::printable(&warning));
    }
    Ok(graph)
}

fn check_accepts(element: &Element) -> Result<(), Failure> {
    let kind = element
        .project
        .kinds
        .element(&element.kind)
        .expect("loaded elements have known kinds");
    kind.accepts_workspace(element)
        .map_err(|why| Failure::usage(format!("{} cannot have a workspace: {why}", element.name)))
}

/// Where a workspace goes by default: the element's name without `.bst`
/// (`sdk.bst:lib.bst` → `sdk.bst/lib`) in the user configuration's
/// `workspacedir`, default the current directory, as bst.
fn default_dir(session: &Session, element: &str) -> Result<PathBuf, Failure> {
    let cwd =
        std::env::current_dir().map_err(|e| Failure::internal(format!("cannot read the current directory: {e}")))?;
    let base = match session.workspace_dir()? {
        Some(dir) => cwd.join(dir),
        None => cwd,
    };
    let name = element.replace(':', "/");
    Ok(base.join(name.strip_suffix(".bst").unwrap_or(&name)))
}

fn absolute(dir: &Path) -> Result<PathBuf, Failure> {
    std::path::absolute(dir).map_err(|e| Failure::usage(format!("cannot use {}: {e}", dir.display())))
}

fn is_empty_dir(dir: &Path) -> bool {
    fs::read_dir(dir).map(|mut d| d.next().is_none()).unwrap_or(false)
}

/// Stages `element`'s pinned sources into `dir`, which must not exist:
/// into a temporary directory beside it first, renamed into place, so a
/// failure leaves no half-staged workspace.
fn stage_into(session: &Session, element: &Element, dir: &Path) -> Result<(), Failure> {
    let parent = dir.parent().unwrap_or(Path::new("/"));
    fs::create_dir_all(parent).map_err(|e| Failure::usage(format!("cannot create {}: {e}", parent.display())))?;
    let scratch = parent.join(format!(".forge-workspace-{}", std::process::id()));
    let _ = fs::remove_dir_all(&scratch);
    fs::create_dir(&scratch).map_err(|e| Failure::usage(format!("cannot create {}: {e}", scratch.display())))?;
    let downloader = session.downloader()?;
    let progress = BarProgress::new();
    let ctx = session.source_context(&downloader, &progress);
    let staged = forge_sources::stage_workspace(&element.sources, &ctx.for_project(&element.project), &scratch)
        .map_err(|e| Failure::fetch(format!("{}: {e}", element.name)))
        .and_then(|()| {
            fs::rename(&scratch, dir)
                .map_err(|e| Failure::internal(format!("cannot move the sources to {}: {e}", dir.display())))
        });
    if staged.is_err() {
        let _ = fs::remove_dir_all(&scratch);
    }
    staged
}

fn open(session: &Session, args: &WorkspaceOpenArgs) -> Result<(), Failure> {
    if args.dir.is_some() && args.elements.len() != 1 {
        return Err(Failure::usage("--dir takes exactly one element"));
    }
    let project = &session.project;
    let graph = load_as_written(project, &args.elements)?;
    let mut workspaces = project.workspaces.clone();
    // Everything that can be refused is refused before anything changes.
    let mut plan: Vec<(usize, PathBuf)> = Vec::new();
    for &index in &graph.targets {
        let element = &graph.elements[index];
        check_accepts(element)?;
        if let Some(open) = workspaces.get(&element.name)
            && !args.force
        {
            return Err(Failure::usage(format!(
                "{} already has an open workspace at {}; --force replaces it",
                element.name,
                open.display()
            )));
        }
        let dir = match &args.dir {
            Some(dir) => absolute(dir)?,
            None => default_dir(session, &element.name)?,
        };
        if dir.exists() && !dir.is_dir() {
            return Err(Failure::usage(format!("{} is not a directory", dir.display())));
        }
        if dir.is_dir() && !is_empty_dir(&dir) && !args.no_checkout && !args.force {
            return Err(Failure::usage(format!(
                "{} is not empty; --force empties it, --no-checkout uses it as it is",
                dir.display()
            )));
        }
        plan.push((index, dir));
    }
    if !args.no_checkout {
        let targets: Vec<usize> = plan.iter().map(|(index, _)| *index).collect();
        crate::fetch::fetch_sources(session, &graph, &targets, false)?;
    }
    for (index, dir) in plan {
        let element = &graph.elements[index];
        if !args.no_checkout {
            if dir.is_dir() {
                // --force (checked above) or an empty directory.
                fs::remove_dir_all(&dir).map_err(|e| Failure::usage(format!("cannot empty {}: {e}", dir.display())))?;
            }
            stage_into(session, element, &dir)?;
        } else {
            fs::create_dir_all(&dir).map_err(|e| Failure::usage(format!("cannot create {}: {e}", dir.display())))?;
        }
        // A build kept from an earlier workspace at the same place is not
        // this one's.
        forget_build(session, &element.name, &dir)?;
        mark(session, &element.name, &dir)?;
        workspaces.insert(&element.name, &dir);
        save(&workspaces)?;
        say(&format!("opened a workspace for {} at {}", element.name, dir.display()));
    }
    Ok(())
}

/// Writes the marker that names the project in `element`'s workspace.
fn mark(session: &Session, element: &str, dir: &Path) -> Result<(), Failure> {
    forge_project::workspaces::write_marker(dir, &session.project.dir, element).map_err(|e| {
        Failure::internal(format!(
            "cannot write {}: {e}",
            dir.join(forge_project::workspaces::MARKER).display()
        ))
    })
}

/// Drops the kept build directory of `element`'s workspace at `dir`.
fn forget_build(session: &Session, element: &str, dir: &Path) -> Result<(), Failure> {
    forge_kinds::workspace_build::forget(&session.cache_dir, element, dir)
        .map_err(|e| Failure::internal(format!("cannot remove the kept build of {element}: {e}")))
}

/// The open workspaces `elements` (or `all`) name, each checked.
fn named(workspaces: &Workspaces, elements: &[String], all: bool) -> Result<Vec<String>, Failure> {
    if all {
        return Ok(workspaces.iter().map(|(name, _)| name.to_string()).collect());
    }
    for name in elements {
        if workspaces.get(name).is_none() {
            return Err(Failure::usage(format!(
                "{} has no open workspace (`forge workspace list` lists them)",
                printable_line(name)
            )));
        }
    }
    Ok(elements.to_vec())
}

fn close(session: &Session, args: &WorkspaceCloseArgs) -> Result<(), Failure> {
    let mut workspaces = session.project.workspaces.clone();
    for name in named(&workspaces, &args.elements, args.all)? {
        let dir = workspaces.remove(&name).expect("checked by named");
        forget_build(session, &name, &dir)?;
        if args.remove_dir && dir.exists() {
            fs::remove_dir_all(&dir).map_err(|e| Failure::internal(format!("cannot remove {}: {e}", dir.display())))?;
        } else {
            let _ = fs::remove_file(dir.join(forge_project::workspaces::MARKER));
        }
        save(&workspaces)?;
        say(&format!("closed the workspace of {name}"));
    }
    Ok(())
}

fn reset(session: &Session, args: &WorkspaceResetArgs) -> Result<(), Failure> {
    let workspaces = &session.project.workspaces;
    let names = named(workspaces, &args.elements, args.all)?;
    if args.soft {
        for name in &names {
            let dir = workspaces.get(name).expect("checked by named");
            let was = forge_kinds::workspace_build::unprepare(&session.cache_dir, name, &dir)
                .map_err(|e| Failure::internal(format!("cannot reset the build state of {name}: {e}")))?;
            say(&if was {
                format!("the next build of {name} runs its configure-commands again")
            } else {
                format!("{name} has no configured build to reset: its next build configures anyway")
            });
        }
        return Ok(());
    }
    let graph = load_as_written(&session.project, &names)?;
    crate::fetch::fetch_sources(session, &graph, &graph.targets, false)?;
    for &index in &graph.targets {
        let element = &graph.elements[index];
        let dir = workspaces.get(&element.name).expect("checked by named");
        // Staged beside the old contents, which go only once the pinned
        // sources are in place.
        let fresh = dir.with_file_name(format!(
            ".{}.forge-reset",
            dir.file_name().map(|n| n.to_string_lossy()).unwrap_or_default()
        ));
        let _ = fs::remove_dir_all(&fresh);
        stage_into(session, element, &fresh)?;
        if dir.exists() {
            fs::remove_dir_all(&dir).map_err(|e| Failure::internal(format!("cannot empty {}: {e}", dir.display())))?;
        }
        fs::rename(&fresh, &dir)
            .map_err(|e| Failure::internal(format!("cannot move the sources to {}: {e}", dir.display())))?;
        forget_build(session, &element.name, &dir)?;
        mark(session, &element.name, &dir)?;
        say(&format!("reset the workspace of {} at {}", element.name, dir.display()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listing_is_bst_s_yaml_with_names_quoted() {
        let dir = tempfile::tempdir().unwrap();
        let mut workspaces = Workspaces::load(dir.path()).unwrap();
        assert_eq!(listing(&workspaces), "workspaces: []\n");
        workspaces.insert("app.bst", &dir.path().join("app"));
        assert_eq!(
            listing(&workspaces),
            format!(
                "workspaces:\n- element: \"app.bst\"\n  directory: \"{}\"\n",
                dir.path().join("app").display()
            )
        );
    }
}
