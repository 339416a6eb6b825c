//! `git`: a repository at an exact commit. `track` names the branch or tag
//! that `forge track` follows; `ref` is the commit (40 hex digits, or
//! BuildStream's `git describe` form `<tag>-<n>-g<commit>`).

use forge_project::{KeyContext, LoadError, Project, Source, SourceKind};
use forge_yaml::Node;
use serde_json::{Value, json};

use crate::checks::{check_url, optional_bool, optional_str, required_str, span_of};

/// The `git` kind.
pub struct Git;

/// The commit of a ref in either form.
pub fn commit_of(reference: &str) -> Option<&str> {
    let commit = match reference.rfind("-g") {
        Some(at) if reference.len() - at - 2 == 40 => &reference[at + 2..],
        _ => reference,
    };
    (commit.len() == 40 && commit.bytes().all(|b| b.is_ascii_hexdigit())).then_some(commit)
}

impl SourceKind for Git {
    fn name(&self) -> &'static str {
        "git"
    }
    fn config_keys(&self) -> &'static [&'static str] {
        &[
            "url",
            "track",
            "ref",
            "ref-format",
            "checkout-submodules",
            "submodules",
            "track-tags",
            "tags",
            "version",
            "version-guess-pattern",
        ]
    }
    fn validate(&self, source: &Source, project: &Project) -> Result<(), LoadError> {
        check_url(source, project)?;
        let reference = optional_str(source, "ref")?;
        if reference.is_none() && optional_str(source, "track")?.is_none() {
            return Err(
                LoadError::at(&source.span, "a git source needs a 'ref', a 'track', or both")
                    .with_hint("set 'track: main' and run `forge track` to pin the commit"),
            );
        }
        if let Some(reference) = reference
            && commit_of(reference).is_none()
        {
            return Err(LoadError::at(
                span_of(source, "ref"),
                format!("'ref' must be a full commit id (40 hex digits) or '<tag>-<n>-g<commit>', not '{reference}'"),
            )
            .with_hint("branch and tag names go in 'track'; `forge track` writes the commit"));
        }
        if let Some(format) = optional_str(source, "ref-format")?
            && format != "sha1"
            && format != "git-describe"
        {
            return Err(
                LoadError::at(span_of(source, "ref-format"), format!("invalid ref-format '{format}'"))
                    .with_hint("use sha1 or git-describe"),
            );
        }
        optional_bool(source, "checkout-submodules")?;
        optional_bool(source, "track-tags")?;
        if let Some(submodules) = source.get("submodules") {
            let map = submodules
                .as_map()
                .ok_or_else(|| LoadError::at(&submodules.span, "'submodules' must map paths to {url, checkout}"))?;
            for (_, sub) in map.iter() {
                let sub_map = sub
                    .as_map()
                    .ok_or_else(|| LoadError::at(&sub.span, "a submodule entry must be a mapping"))?;
                forge_project::error::check_keys(sub_map, &["url", "checkout"], "a submodule")?;
                if let Some(url) = sub_map.get("url").and_then(Node::as_str) {
                    project.check_url_alias(url, &sub.span)?;
                }
            }
        }
        Ok(())
    }
    fn unique_key(&self, source: &Source, _ctx: &KeyContext<'_>) -> Result<Option<Value>, LoadError> {
        let Some(reference) = optional_str(source, "ref")? else {
            return Ok(None);
        };
        let commit = commit_of(reference).unwrap_or(reference).to_ascii_lowercase();
        let mut key = json!({ "url": required_str(source, "url")?, "commit": commit });
        if let Some(false) = optional_bool(source, "checkout-submodules")? {
            key["checkout-submodules"] = json!(false);
        }
        for extra in ["submodules", "tags"] {
            if let Some(node) = source.get(extra) {
                key[extra] = forge_project::keys::node_to_json(node);
            }
        }
        Ok(Some(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_in_both_forms() {
        let sha = "0123456789abcdef0123456789abcdef01234567";
        assert_eq!(commit_of(sha), Some(sha));
        assert_eq!(commit_of(&format!("v1.2-3-g{sha}")), Some(sha));
        assert_eq!(commit_of(&format!("my-tag-g1-0-g{sha}")), Some(sha));
        assert_eq!(commit_of("main"), None);
        assert_eq!(commit_of("v1.2-3-gabc"), None);
    }
}
