//! YAML in BuildStream's dialect.
//!
//! BuildStream reads YAML with rules of its own, and forge follows them so a
//! project loads the same in both tools: the root is a mapping, every scalar
//! is a string (stripped of surrounding whitespace), keys are unique strings,
//! anchors, aliases and non-core tags are refused. Every node carries the
//! [`Span`] it came from (file, line, column and byte range), so every later
//! error can point at the text that caused it, and `forge track` can splice a
//! new value into the file without touching anything else.

pub mod binary;
pub mod edit;
mod emit;
mod load;
mod node;

pub use emit::{to_yaml_string, write_scalar};
pub use load::{YamlError, parse_str};
pub use node::{Key, Mapping, Node, Span, Value};
