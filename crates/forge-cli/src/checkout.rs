//! `forge source checkout`: stage exactly the pinned sources, offline.

use std::fs;
use std::path::{Path, PathBuf};

use forge_project::element::normal_name;

use crate::cli::{DepsSelection, SourceCheckoutArgs};
use crate::exit::Failure;
use crate::fetch::describe;
use crate::progress::BarProgress;
use crate::session::Session;
use crate::show::select;

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
                target.join(normal_name(&element.name.replace(':', "/")))
            };
            fs::create_dir_all(&element_dir)
                .map_err(|e| Failure::fetch(format!("cannot create {}: {e}", element_dir.display())))?;
            for source in &element.sources {
                if forge_sources::runtime(source.kind_id).is_some_and(|r| !r.is_cached(source, &session.sources)) {
                    return Err(Failure::fetch(format!(
                        "{} is not in the source cache; run `forge fetch {}`",
                        describe(&element.name, source),
                        element.name
                    )));
                }
            }
            forge_sources::stage_sources(&element.sources, &ctx.for_project(&element.project), &element_dir)
                .map_err(|e| Failure::fetch(format!("{}: {e}", element.name)))?;
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

/// Writes `dir` as a deterministic tarball (see `forge_kinds::image`),
/// through a temporary file and a rename.
pub fn write_tar(dir: &Path, out: &Path) -> std::io::Result<()> {
    let temporary = out.with_extension("forge-tmp");
    let file = fs::File::create(&temporary)?;
    forge_kinds::image::write_tar(dir, std::io::BufWriter::new(file))?;
    fs::rename(&temporary, out)
}
