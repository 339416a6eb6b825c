//! The node tree: strings, mappings and lists, each with where it came from.

use std::fmt;
use std::sync::Arc;

/// Where a node came from: a file, a 1-based line and column, and the byte
/// range of its text in that file (for in-place edits).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Span {
    /// The file, as the user should read it (usually project-relative).
    pub file: Arc<str>,
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters.
    pub col: u32,
    /// Byte offset of the first byte of the node's text.
    pub start: usize,
    /// Byte offset just past the node's text.
    pub end: usize,
}

impl Span {
    /// A span for values that forge makes up itself (no file behind them).
    pub fn synthetic(what: &str) -> Span {
        Span {
            file: Arc::from(what),
            line: 0,
            col: 0,
            start: 0,
            end: 0,
        }
    }

    /// Whether this span points into a real file.
    pub fn is_synthetic(&self) -> bool {
        self.line == 0
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_synthetic() {
            write!(f, "{}", self.file)
        } else {
            write!(f, "{}:{}:{}", self.file, self.line, self.col)
        }
    }
}

/// A mapping key with its position.
#[derive(Clone, Debug)]
pub struct Key {
    /// The key text.
    pub name: String,
    /// Where the key is written.
    pub span: Span,
}

/// A YAML node: its value and where it came from.
#[derive(Clone, Debug)]
pub struct Node {
    /// The value.
    pub value: Value,
    /// Where the value is written.
    pub span: Span,
}

/// The three shapes a BuildStream YAML value can take.
#[derive(Clone, Debug)]
pub enum Value {
    /// Every scalar is a string; typing happens where the value is used.
    Str(String),
    /// An ordered mapping with unique keys.
    Map(Mapping),
    /// A sequence.
    List(Vec<Node>),
}

/// An insertion-ordered mapping with unique string keys.
///
/// Mappings in element files are small (tens of keys), so a vector with
/// linear lookup beats a hash map here and keeps the author's order.
#[derive(Clone, Debug, Default)]
pub struct Mapping {
    entries: Vec<(Key, Node)>,
}

impl Node {
    /// A string node.
    pub fn string(s: impl Into<String>, span: Span) -> Node {
        Node {
            value: Value::Str(s.into()),
            span,
        }
    }

    /// An empty mapping node.
    pub fn map(span: Span) -> Node {
        Node {
            value: Value::Map(Mapping::default()),
            span,
        }
    }

    /// A list node.
    pub fn list(items: Vec<Node>, span: Span) -> Node {
        Node {
            value: Value::List(items),
            span,
        }
    }

    /// The string, if this is a scalar.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The mapping, if this is one.
    pub fn as_map(&self) -> Option<&Mapping> {
        match &self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The mapping, mutably, if this is one.
    pub fn as_map_mut(&mut self) -> Option<&mut Mapping> {
        match &mut self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The items, if this is a list.
    pub fn as_list(&self) -> Option<&[Node]> {
        match &self.value {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    /// The items, mutably, if this is a list.
    pub fn as_list_mut(&mut self) -> Option<&mut Vec<Node>> {
        match &mut self.value {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    /// What kind of value this is, for error messages.
    pub fn type_name(&self) -> &'static str {
        self.value.type_name()
    }
}

impl Value {
    /// What kind of value this is, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "a string",
            Value::Map(_) => "a mapping",
            Value::List(_) => "a list",
        }
    }
}

impl Mapping {
    /// The number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entries.iter().find(|(k, _)| k.name == key).map(|(_, v)| v)
    }

    /// The value of `key`, mutably.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Node> {
        self.entries.iter_mut().find(|(k, _)| k.name == key).map(|(_, v)| v)
    }

    /// The key entry (with its position) and value of `key`.
    pub fn get_entry(&self, key: &str) -> Option<(&Key, &Node)> {
        self.entries.iter().find(|(k, _)| k.name == key).map(|(k, v)| (k, v))
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.entries.iter().any(|(k, _)| k.name == key)
    }

    /// Sets `key` to `value`, keeping the position of an existing entry.
    pub fn insert(&mut self, key: Key, value: Node) {
        match self.entries.iter_mut().find(|(k, _)| k.name == key.name) {
            Some((_, v)) => *v = value,
            None => self.entries.push((key, value)),
        }
    }

    /// Sets `key` to `value` where the key has no position of its own.
    pub fn insert_str_key(&mut self, key: &str, value: Node) {
        let span = value.span.clone();
        self.insert(
            Key {
                name: key.to_string(),
                span,
            },
            value,
        );
    }

    /// Removes `key`, returning its entry.
    pub fn remove(&mut self, key: &str) -> Option<(Key, Node)> {
        let index = self.entries.iter().position(|(k, _)| k.name == key)?;
        Some(self.entries.remove(index))
    }

    /// The entries in order.
    pub fn iter(&self) -> impl Iterator<Item = (&Key, &Node)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    /// The entries in order, values mutable.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&Key, &mut Node)> {
        self.entries.iter_mut().map(|(k, v)| (&*k, v))
    }

    /// The keys in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(k, _)| k.name.as_str())
    }

    /// Moves the entries named in `keys` to the front, in that order; the
    /// others keep their relative order behind them.
    pub fn order_first(&mut self, keys: &[String]) {
        let rank = |name: &str| keys.iter().position(|k| k == name).unwrap_or(keys.len());
        self.entries.sort_by_key(|(k, _)| rank(&k.name));
    }

    /// Consumes the mapping into its entries.
    pub fn into_entries(self) -> Vec<(Key, Node)> {
        self.entries
    }
}
