//! `deb`: unpacks the `data.tar.*` of its Debian packages into the
//! artifact, safely (nothing escapes, no device nodes), without running any
//! maintainer script. With `merged-usr` (the default, as Debian 12 does)
//! `/bin`, `/sbin`, `/lib*` go under `/usr` and become symlinks to it.

use std::fs;
use std::path::PathBuf;

use forge_project::{Element, ElementKind, LoadError};
use serde_json::{Value, json};

use crate::build::{Assemble, BuildContext, BuildError, config_flag, move_contents};
use crate::checks::config_bool;

/// The `deb` kind.
pub struct Deb;

const MERGED: [&str; 6] = ["bin", "sbin", "lib", "lib32", "lib64", "libx32"];

impl ElementKind for Deb {
    fn name(&self) -> &'static str {
        "deb"
    }
    fn accepts_workspace(&self, _element: &Element) -> Result<(), String> {
        Err("a deb element unpacks its packages as they are pinned, read from the source cache".into())
    }
    fn defaults(&self) -> &'static str {
        include_str!("../data/deb.yaml")
    }
    fn runs_commands(&self, _element: &Element) -> bool {
        false
    }
    fn config_keys(&self) -> &'static [&'static str] {
        &["merged-usr"]
    }
    fn validate(&self, element: &Element) -> Result<(), LoadError> {
        config_bool(element, "merged-usr")?;
        if element.sources.is_empty() {
            return Err(LoadError::at(
                &element.kind_span,
                "a deb element needs at least one deb source",
            ));
        }
        Ok(())
    }
    fn unique_key(&self, element: &Element) -> Value {
        json!({ "merged-usr": config_flag(element, "merged-usr", true) })
    }
}

impl Assemble for Deb {
    fn assemble(&self, ctx: &mut BuildContext<'_>) -> Result<PathBuf, BuildError> {
        let output = ctx.dir("output")?;
        let merged = config_flag(ctx.element, "merged-usr", true);
        let mut debs: Vec<(String, PathBuf)> = Vec::new();
        for source in &ctx.element.sources {
            let runtime = forge_sources::runtime(source.kind_id)
                .ok_or_else(|| BuildError(format!("unknown source kind '{}'", source.kind)))?;
            let file = runtime.cached_file(source, ctx.sources.cache).ok_or_else(|| {
                BuildError(format!(
                    "source {} is not a cached package; run `forge fetch`",
                    source.index + 1
                ))
            })?;
            debs.push(file);
        }
        for (index, (name, path)) in debs.iter().enumerate() {
            let bytes = fs::read(path).map_err(|e| BuildError(format!("cannot read {name}: {e}")))?;
            let (member, data) =
                forge_debian::deb::data_member(&bytes).map_err(|e| BuildError(format!("{name}: {e}")))?;
            let data_path = ctx.workdir.join(format!("data-{index}-{member}"));
            fs::write(&data_path, &data).map_err(|e| BuildError(e.to_string()))?;
            let stage = ctx.dir(&format!("deb-{index}"))?;
            let reader =
                forge_sources::extract::open_compressed(&data_path).map_err(|e| BuildError(format!("{name}: {e}")))?;
            let report =
                forge_sources::extract::extract_tar(reader, &stage).map_err(|e| BuildError(format!("{name}: {e}")))?;
            for warning in report.warnings {
                ctx.log(&format!("warning: {name}: {warning}"));
            }
            if merged {
                for dir in MERGED {
                    let top = stage.join(dir);
                    if fs::symlink_metadata(&top).is_ok_and(|m| m.is_dir()) {
                        move_contents(&top, &stage.join("usr").join(dir))?;
                        fs::remove_dir_all(&top).map_err(|e| BuildError(e.to_string()))?;
                    }
                }
            }
            move_contents(&stage, &output)?;
            ctx.log(&format!("# unpacked {name}"));
        }
        if merged {
            for dir in MERGED {
                if output.join("usr").join(dir).is_dir() && fs::symlink_metadata(output.join(dir)).is_err() {
                    std::os::unix::fs::symlink(format!("usr/{dir}"), output.join(dir))
                        .map_err(|e| BuildError(e.to_string()))?;
                }
            }
        }
        Ok(output)
    }
}
