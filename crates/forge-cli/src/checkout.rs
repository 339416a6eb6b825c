//! `forge source checkout`: stage exactly the pinned sources, offline.

use std::fs;
use std::io::Write as _;
use std::path::{Component, Path, PathBuf};

use forge_project::element::normal_name;

use crate::cli::{DepsSelection, SourceCheckoutArgs};
use crate::exit::Failure;
use crate::fetch::describe;
use crate::progress::BarProgress;
use crate::session::Session;
use crate::show::select;

/// The fixed mtime of files in source tarballs (BuildStream's arbitrary
/// timestamp, 2011-11-11 11:11:11 UTC).
const TAR_MTIME: u64 = 1_321_009_871;

/// Runs `forge source checkout`.
pub fn run(session: &Session, args: &SourceCheckoutArgs) -> Result<(), Failure> {
    let project = &session.project;
    let (graph, selected) = select(project, std::slice::from_ref(&args.element), args.deps)?;
    let scratch;
    let target: PathBuf = match (&args.destination, &args.tar) {
        (_, Some(_)) => {
            scratch = tempfile_dir(&session.cache_dir)?;
            scratch.clone()
        }
        (Some(dir), None) => {
            if dir.exists() && fs::read_dir(dir).map(|mut d| d.next().is_some()).unwrap_or(true) {
                return Err(Failure::usage(format!("{} exists and is not empty", dir.display())));
            }
            fs::create_dir_all(dir).map_err(|e| Failure::usage(format!("cannot create {}: {e}", dir.display())))?;
            scratch = PathBuf::new();
            dir.clone()
        }
        (None, None) => return Err(Failure::usage("give a directory or --tar FILE")),
    };
    let downloader = session.downloader()?;
    let progress = BarProgress::new();
    let ctx = session.source_context(&downloader, &progress);
    let one = args.deps == DepsSelection::None && selected.len() == 1;
    let result = (|| {
        for &index in &selected {
            let element = &graph.elements[index];
            let element_dir = if one {
                target.clone()
            } else {
                target.join(normal_name(&element.name))
            };
            fs::create_dir_all(&element_dir)
                .map_err(|e| Failure::fetch(format!("cannot create {}: {e}", element_dir.display())))?;
            for source in &element.sources {
                let Some(runtime) = forge_sources::runtime(&source.kind) else {
                    continue;
                };
                if !runtime.is_cached(source, &session.sources) {
                    return Err(Failure::fetch(format!(
                        "{} is not in the source cache; run `forge fetch {}`",
                        describe(&element.name, source),
                        element.name
                    )));
                }
                let dir = match &source.directory {
                    Some(sub) => {
                        let sub_path = Path::new(sub);
                        if sub_path
                            .components()
                            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
                        {
                            return Err(Failure::fetch(format!(
                                "{}: 'directory' must stay inside the element's sources",
                                describe(&element.name, source)
                            )));
                        }
                        element_dir.join(sub_path)
                    }
                    None => element_dir.clone(),
                };
                fs::create_dir_all(&dir)
                    .map_err(|e| Failure::fetch(format!("cannot create {}: {e}", dir.display())))?;
                runtime
                    .stage(source, &ctx, &dir)
                    .map_err(|e| Failure::fetch(format!("{}: {e}", describe(&element.name, source))))?;
            }
        }
        if let Some(tar) = &args.tar {
            write_tar(&target, tar).map_err(|e| Failure::fetch(format!("cannot write {}: {e}", tar.display())))?;
        }
        Ok(())
    })();
    if args.tar.is_some() {
        let _ = fs::remove_dir_all(&scratch);
    }
    result
}

fn tempfile_dir(cache_dir: &Path) -> Result<PathBuf, Failure> {
    let base = cache_dir.join("tmp");
    fs::create_dir_all(&base).map_err(|e| Failure::internal(format!("cannot create {}: {e}", base.display())))?;
    let dir = base.join(format!(
        "checkout-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    ));
    fs::create_dir(&dir).map_err(|e| Failure::internal(format!("cannot create {}: {e}", dir.display())))?;
    Ok(dir)
}

/// Writes `dir` as a tarball: entries sorted, owner 0, fixed mtime, modes
/// 0644/0755, so the same sources give the same bytes.
pub fn write_tar(dir: &Path, out: &Path) -> std::io::Result<()> {
    let mut entries = Vec::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(relative) = pending.pop() {
        for entry in fs::read_dir(dir.join(&relative))? {
            let entry = entry?;
            let path = relative.join(entry.file_name());
            if entry.file_type()?.is_dir() {
                pending.push(path.clone());
            }
            entries.push(path);
        }
    }
    entries.sort();
    let temporary = out.with_extension("forge-tmp");
    let file = fs::File::create(&temporary)?;
    let mut builder = tar::Builder::new(std::io::BufWriter::new(file));
    for relative in entries {
        let full = dir.join(&relative);
        let meta = fs::symlink_metadata(&full)?;
        let mut header = tar::Header::new_gnu();
        header.set_mtime(TAR_MTIME);
        header.set_uid(0);
        header.set_gid(0);
        header.set_username("root")?;
        header.set_groupname("root")?;
        if meta.is_dir() {
            header.set_entry_type(tar::EntryType::Directory);
            header.set_mode(0o755);
            header.set_size(0);
            builder.append_data(&mut header, &relative, std::io::empty())?;
        } else if meta.file_type().is_symlink() {
            header.set_entry_type(tar::EntryType::Symlink);
            header.set_mode(0o777);
            header.set_size(0);
            builder.append_link(&mut header, &relative, fs::read_link(&full)?)?;
        } else {
            use std::os::unix::fs::PermissionsExt;
            header.set_entry_type(tar::EntryType::Regular);
            header.set_mode(if meta.permissions().mode() & 0o100 != 0 {
                0o755
            } else {
                0o644
            });
            header.set_size(meta.len());
            builder.append_data(&mut header, &relative, fs::File::open(&full)?)?;
        }
    }
    builder.into_inner()?.flush()?;
    fs::rename(&temporary, out)
}
