//! `version` and `version-guess-pattern`, which the community plugins
//! accept on most sources to say what version a source is: they change
//! what the source reports, so they enter its key.

use forge_project::{LoadError, Source};
use serde_json::{Value, json};

use crate::checks::optional_str;

/// Adds `version` (or else `version-guess-pattern`) to a source's key.
pub fn augment_key(source: &Source, key: &mut Value) -> Result<(), LoadError> {
    let entry = match (
        optional_str(source, "version")?,
        optional_str(source, "version-guess-pattern")?,
    ) {
        (Some(version), _) => Some(("version", version)),
        (None, Some(pattern)) => Some(("version-guess-pattern", pattern)),
        (None, None) => None,
    };
    if let (Some((name, value)), Some(map)) = (entry, key.as_object_mut()) {
        map.insert(name.into(), json!(value));
    }
    Ok(())
}
