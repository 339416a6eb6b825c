//! `manual`: configure, build, install and strip commands run in the
//! sandbox, BuildStream's BuildElement with no default commands.

use forge_project::{Element, ElementKind, LoadError};
use serde_json::{Map, Value, json};

use crate::checks::{check_locations, config_list, layout_key};

/// The command lists of a build element, in the order they run.
pub const COMMAND_LISTS: [&str; 4] = [
    "configure-commands",
    "build-commands",
    "install-commands",
    "strip-commands",
];

/// The `manual` kind.
pub struct Manual;

impl ElementKind for Manual {
    fn name(&self) -> &'static str {
        "manual"
    }
    fn defaults(&self) -> &'static str {
        include_str!("../data/manual.yaml")
    }
    fn runs_commands(&self, _element: &Element) -> bool {
        true
    }
    fn config_keys(&self) -> &'static [&'static str] {
        &COMMAND_LISTS
    }
    fn accepts_dependency_config(&self) -> bool {
        true
    }
    fn validate(&self, element: &Element) -> Result<(), LoadError> {
        for list in COMMAND_LISTS {
            config_list(element, list)?;
        }
        check_locations(element)
    }
    fn unique_key(&self, element: &Element) -> Value {
        let mut key = Map::new();
        for list in COMMAND_LISTS {
            key.insert(list.into(), json!(config_list(element, list).unwrap_or_default()));
        }
        if let Some(subdir) = element.variables.get("command-subdir") {
            key.insert("command-subdir".into(), json!(subdir));
        }
        if element
            .variables
            .get("notparallel")
            .is_some_and(|v| matches!(v, "True" | "true" | "1"))
        {
            key.insert("notparallel".into(), json!(true));
        }
        let layout = layout_key(element);
        if layout.keys().any(|location| location != "/") {
            key.insert("layout".into(), Value::Object(layout));
        }
        Value::Object(key)
    }
}
