//! Cache keys: a SHA-256 of canonical JSON describing everything that
//! decides an element's output (see `docs/cache-keys.md`).
//!
//! Keys are Merkle-style: an element's key covers its build dependencies
//! through their *runtime keys*, each of which covers that dependency's key
//! and the runtime keys of its runtime dependencies. So a key covers the
//! whole staged closure while each key is computed once, from direct edges
//! only, in dependency order.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::{Map, Value as Json, json};
use sha2::{Digest, Sha256};

use forge_yaml::{Node, Value};

use crate::error::LoadError;
use crate::filehash::FileHashCache;
use crate::graph::Graph;
use crate::kind::KeyContext;
use crate::options::{canonicalize_arch, host_arch};
use crate::parallel;

/// Bumped when the key layout changes, or what every build sees (2: staged
/// sources have BuildStream's fixed times), so old artifacts are not reused.
pub const KEY_FORMAT_VERSION: u32 = 2;

/// The key state of every element of a graph.
#[derive(Clone, Debug)]
pub struct CacheKeys {
    /// The cache key, when every input is pinned.
    pub keys: Vec<Option<String>>,
    /// The key of the element with its runtime closure.
    pub runtime_keys: Vec<Option<String>>,
    /// Whether every source of the element has a pin.
    pub sources_resolved: Vec<bool>,
}

/// A node as JSON (strings, objects, arrays).
pub fn node_to_json(node: &Node) -> Json {
    match &node.value {
        Value::Str(s) => Json::String(s.clone()),
        Value::List(items) => Json::Array(items.iter().map(node_to_json).collect()),
        Value::Map(map) => {
            let mut object = Map::new();
            for (key, value) in map.iter() {
                object.insert(key.name.clone(), node_to_json(value));
            }
            Json::Object(object)
        }
    }
}

/// JSON with object keys sorted and no whitespace: the same data always
/// gives the same bytes.
pub fn canonical_json(value: &Json) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Json, out: &mut String) {
    match value {
        Json::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_string(key, out);
                out.push(':');
                write_canonical(&map[key], out);
            }
            out.push('}');
        }
        Json::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Json::String(s) => write_json_string(s, out),
        other => out.push_str(&other.to_string()),
    }
}

/// Writes a node in the canonical JSON form, without building JSON first
/// (public data is the largest part of most keys).
pub fn write_canonical_node(node: &Node, out: &mut String) {
    match &node.value {
        Value::Str(s) => write_json_string(s, out),
        Value::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical_node(item, out);
            }
            out.push(']');
        }
        Value::Map(map) => {
            let mut entries: Vec<(&str, &Node)> = map.iter().map(|(k, v)| (k.name.as_str(), v)).collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, value)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_string(key, out);
                out.push(':');
                write_canonical_node(value, out);
            }
            out.push('}');
        }
    }
}

fn write_json_string(s: &str, out: &mut String) {
    use std::fmt::Write;
    out.push('"');
    let bytes = s.as_bytes();
    // Runs that need no escape are copied whole; eight bytes at a time
    // are checked for one that does.
    let mut run_start = 0;
    let mut at = 0;
    while at < bytes.len() {
        if at + 8 <= bytes.len() {
            let word = u64::from_le_bytes(bytes[at..at + 8].try_into().expect("eight bytes"));
            if !needs_escape(word) {
                at += 8;
                continue;
            }
        }
        let escape = match bytes[at] {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..0x20 => "",
            _ => {
                at += 1;
                continue;
            }
        };
        out.push_str(&s[run_start..at]);
        if escape.is_empty() {
            let _ = write!(out, "\\u{:04x}", bytes[at]);
        } else {
            out.push_str(escape);
        }
        at += 1;
        run_start = at;
    }
    out.push_str(&s[run_start..]);
    out.push('"');
}

/// Whether one of the eight bytes of `word` may be a control character,
/// a quote or a backslash (it may say so of a byte after one that is).
fn needs_escape(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH != 0;
    let below_space = word.wrapping_sub(ONES * 0x20) & !word & HIGH != 0;
    below_space || has_zero(word ^ (ONES * u64::from(b'"'))) || has_zero(word ^ (ONES * u64::from(b'\\')))
}

/// SHA-256 of the canonical form, as lowercase hex.
pub fn hash_json(value: &Json) -> String {
    hash_text(&canonical_json(value))
}

fn hash_text(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    let mut hex = String::with_capacity(64);
    for byte in digest.iter() {
        hex.push(char::from_digit(u32::from(byte >> 4), 16).expect("nibble"));
        hex.push(char::from_digit(u32::from(byte & 0xf), 16).expect("nibble"));
    }
    hex
}

/// The sandbox settings that enter keys: OS and architecture (defaulting
/// to the host), uid and gid when set.
fn sandbox_key(sandbox: &Node) -> Json {
    let get = |k: &str| sandbox.as_map().and_then(|m| m.get(k)).and_then(Node::as_str);
    let mut key = Map::new();
    key.insert(
        "build-os".into(),
        json!(get("build-os").unwrap_or("linux").to_lowercase()),
    );
    key.insert(
        "build-arch".into(),
        json!(get("build-arch").map_or(host_arch(), |a| canonicalize_arch(a).unwrap_or(a))),
    );
    for id in ["build-uid", "build-gid"] {
        if let Some(value) = get(id) {
            key.insert(id.into(), json!(value));
        }
    }
    Json::Object(key)
}

/// What keying one element gives.
struct ElementKeys {
    key: Option<String>,
    runtime_key: Option<String>,
    sources_resolved: bool,
}

impl CacheKeys {
    /// The names of those of `elements` with a source that has no pin.
    pub fn unpinned<'g>(&self, graph: &'g Graph, elements: &[usize]) -> Vec<&'g str> {
        elements
            .iter()
            .filter(|&&e| !self.sources_resolved[e])
            .map(|&e| graph.elements[e].name.as_str())
            .collect()
    }

    /// Computes every key of `graph` on every core, each element once its
    /// dependencies are keyed; `file_hashes` spares reading project files
    /// that have not changed.
    pub fn compute(graph: &Graph, file_hashes: &FileHashCache) -> Result<CacheKeys, LoadError> {
        // Elements of one kind often share their public data: its digest is
        // computed once per shared copy.
        let public_digests: Mutex<HashMap<usize, String>> = Mutex::default();
        let prerequisites: Vec<Vec<usize>> = (0..graph.elements.len())
            .map(|i| graph.build_deps(i).chain(graph.runtime_deps(i)).collect())
            .collect();
        let results = parallel::dag(
            &prerequisites,
            |index, done: &[OnceLock<Result<ElementKeys, LoadError>>]| {
                let runtime_key_of = |dep: usize| {
                    done[dep]
                        .get()
                        .and_then(|r| r.as_ref().ok())
                        .and_then(|k| k.runtime_key.clone())
                };
                key_element(graph, index, file_hashes, &public_digests, runtime_key_of)
            },
        );
        let mut keys = CacheKeys {
            keys: Vec::with_capacity(results.len()),
            runtime_keys: Vec::with_capacity(results.len()),
            sources_resolved: Vec::with_capacity(results.len()),
        };
        for result in results {
            let element = result?;
            keys.keys.push(element.key);
            keys.runtime_keys.push(element.runtime_key);
            keys.sources_resolved.push(element.sources_resolved);
        }
        Ok(keys)
    }
}

/// Keys one element, given the runtime keys of its dependencies.
fn key_element(
    graph: &Graph,
    index: usize,
    file_hashes: &FileHashCache,
    public_digests: &Mutex<HashMap<usize, String>>,
    runtime_key_of: impl Fn(usize) -> Option<String>,
) -> Result<ElementKeys, LoadError> {
    let element = &graph.elements[index];
    let ctx = KeyContext {
        project_dir: &element.project.dir,
        file_hashes,
    };
    let mut unkeyed = ElementKeys {
        key: None,
        runtime_key: None,
        sources_resolved: true,
    };
    // The key input is written in its canonical form directly: building
    // JSON values first costs more than the rest of keying.
    let mut sources = String::from("[");
    for source in &element.sources {
        let kind = element
            .project
            .kinds
            .source(&source.kind)
            .expect("loaded sources have known kinds");
        match kind.unique_key(source, &ctx)? {
            Some(key) => {
                if sources.len() > 1 {
                    sources.push(',');
                }
                let mut entry = Object::new(&mut sources);
                if let Some(dir) = &source.directory {
                    write_json_string(dir, entry.key("directory"));
                }
                write_canonical(&key, entry.key("key"));
                write_json_string(source.kind_id, entry.key("kind"));
                entry.end();
            }
            None => unkeyed.sources_resolved = false,
        }
    }
    sources.push(']');
    let mut dependencies = String::from("[");
    for dep in graph.build_deps(index) {
        match runtime_key_of(dep) {
            Some(key) => write_pair(&mut dependencies, &graph.elements[dep].name, &key),
            None => return Ok(unkeyed),
        }
    }
    dependencies.push(']');
    if !unkeyed.sources_resolved {
        return Ok(unkeyed);
    }
    let kind = element
        .project
        .kinds
        .element(&element.kind)
        .expect("loaded elements have known kinds");
    let public = public_digest(&element.public, public_digests);

    let mut text = String::with_capacity(4096);
    let mut input = Object::new(&mut text);
    write_json_string(
        element.variables.get("build-root").unwrap_or_default(),
        input.key("build-root"),
    );
    write_canonical(&kind.unique_key(element), input.key("config"));
    input.key("dependencies").push_str(&dependencies);
    let runs_commands = kind.runs_commands(element);
    if runs_commands {
        let out = input.key("environment");
        let mut entries: Vec<(&str, &Node)> = element
            .environment_node
            .as_map()
            .expect("mapping")
            .iter()
            .filter(|(name, _)| !element.env_nocache.contains(&name.name))
            .map(|(name, value)| (name.name.as_str(), value))
            .collect();
        entries.sort_by(|a, b| a.0.cmp(b.0));
        out.push('{');
        for (i, (name, value)) in entries.into_iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            write_json_string(name, out);
            out.push(':');
            write_canonical_node(value, out);
        }
        out.push('}');
    }
    let mut fatal_warnings: Vec<&String> = element.project.fatal_warnings.iter().collect();
    fatal_warnings.sort();
    write_string_list(input.key("fatal-warnings"), fatal_warnings.into_iter());
    let _ = write!(input.key("format"), "{KEY_FORMAT_VERSION}");
    write_json_string(element.kind_id, input.key("kind"));
    let _ = write!(input.key("kind-version"), "{}", kind.version());
    write_json_string(&public, input.key("public"));
    if runs_commands {
        write_canonical(&sandbox_key(&element.sandbox), input.key("sandbox"));
    }
    input.key("sources").push_str(&sources);
    input.end();
    let key = hash_text(&text);

    let mut runtime = String::from("[");
    let mut runtime_known = true;
    for dep in graph.runtime_deps(index) {
        match runtime_key_of(dep) {
            Some(k) => write_pair(&mut runtime, &graph.elements[dep].name, &k),
            None => runtime_known = false,
        }
    }
    runtime.push(']');
    let runtime_key = runtime_known.then(|| {
        let mut text = String::new();
        let mut object = Object::new(&mut text);
        write_json_string(&key, object.key("key"));
        object.key("runtime").push_str(&runtime);
        object.end();
        hash_text(&text)
    });
    Ok(ElementKeys {
        runtime_key,
        key: Some(key),
        sources_resolved: true,
    })
}

/// The digest of public data, computed once per shared copy.
fn public_digest(public: &Arc<Node>, known: &Mutex<HashMap<usize, String>>) -> String {
    let address = Arc::as_ptr(public) as usize;
    if let Some(digest) = known.lock().unwrap_or_else(|e| e.into_inner()).get(&address) {
        return digest.clone();
    }
    let mut text = String::new();
    write_canonical_node(public, &mut text);
    let digest = hash_text(&text);
    known
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(address, digest.clone());
    digest
}

/// Appends `[name, key]` to a JSON array being written.
fn write_pair(out: &mut String, name: &str, key: &str) {
    if out.len() > 1 {
        out.push(',');
    }
    out.push('[');
    write_json_string(name, out);
    out.push(',');
    write_json_string(key, out);
    out.push(']');
}

fn write_string_list<'a>(out: &mut String, items: impl Iterator<Item = &'a String>) {
    out.push('[');
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_json_string(item, out);
    }
    out.push(']');
}

/// A JSON object written in canonical form: its keys must come in order.
struct Object<'a> {
    out: &'a mut String,
    last: Option<&'static str>,
}

impl<'a> Object<'a> {
    fn new(out: &'a mut String) -> Object<'a> {
        out.push('{');
        Object { out, last: None }
    }

    /// Starts the value of `key`; the caller writes it.
    fn key(&mut self, key: &'static str) -> &mut String {
        assert!(
            self.last.is_none_or(|last| last < key),
            "canonical keys must come in order"
        );
        if self.last.is_some() {
            self.out.push(',');
        }
        write_json_string(key, self.out);
        self.out.push(':');
        self.last = Some(key);
        self.out
    }

    fn end(self) {
        self.out.push('}');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_form_sorts_keys_at_every_level() {
        let a = json!({"b": 1, "a": {"d": [1, {"y": 1, "x": 2}], "c": "s"}});
        assert_eq!(canonical_json(&a), r#"{"a":{"c":"s","d":[1,{"x":2,"y":1}]},"b":1}"#);
        let b: Json = serde_json::from_str(r#"{"a":{"d":[1,{"x":2,"y":1}],"c":"s"},"b":1}"#).unwrap();
        let node = forge_yaml::parse_str("t", "b: '1'\na:\n  d: ['1', {y: '1', x: \"q\\\"\\tz\"}]\n  c: s\n").unwrap();
        let mut text = String::new();
        write_canonical_node(&node, &mut text);
        assert_eq!(text, r#"{"a":{"c":"s","d":["1",{"x":"q\"\tz","y":"1"}]},"b":"1"}"#);
        assert_eq!(text, canonical_json(&node_to_json(&node)));
        assert_eq!(hash_json(&a), hash_json(&b));
        assert_eq!(hash_json(&a).len(), 64);
        let mut text = String::new();
        write_json_string("a\"b\\c\nd\re\tf\u{1}g\u{1f}é", &mut text);
        assert_eq!(text, r#""a\"b\\c\nd\re\tf\u0001g\u001fé""#);
        // Escapes at every offset of a long run, and runs with none.
        for at in 0..20 {
            for c in ['"', '\n', '\\', '\u{7}', 'é'] {
                let mut plain: String = "abcdefghijklmnopqrst".into();
                plain.insert(at, c);
                let mut ours = String::new();
                write_json_string(&plain, &mut ours);
                let expected = serde_json::to_string(&plain).unwrap();
                assert_eq!(ours, expected, "{plain:?}");
            }
        }
        assert_eq!(text, serde_json::to_string("a\"b\\c\nd\re\tf\u{1}g\u{1f}é").unwrap());
    }
}
