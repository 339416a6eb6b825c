//! A compact binary form of a node tree, for caches of parsed files:
//! reading it back is several times faster than parsing the YAML again.
//!
//! The file name of spans is not stored (the reader supplies it). Decoding
//! checks every length and bounds the nesting, and answers `None` for
//! anything malformed: a damaged cache entry is parsed again, never trusted.

use std::sync::Arc;

use crate::node::{Key, Mapping, Node, Span, Value};

/// Changes whenever the layout does.
const MAGIC: &[u8; 4] = b"FYB1";
/// Deeper trees are refused rather than recursed into.
const MAX_DEPTH: usize = 1000;

const STR: u8 = 0;
const LIST: u8 = 1;
const MAP: u8 = 2;

/// Appends the binary form of `node` to `out`.
pub fn encode(node: &Node, out: &mut Vec<u8>) {
    out.extend_from_slice(MAGIC);
    encode_node(node, out);
}

fn encode_node(node: &Node, out: &mut Vec<u8>) {
    match &node.value {
        Value::Str(text) => {
            out.push(STR);
            encode_span(&node.span, out);
            encode_str(text, out);
        }
        Value::List(items) => {
            out.push(LIST);
            encode_span(&node.span, out);
            varint(items.len() as u64, out);
            for item in items {
                encode_node(item, out);
            }
        }
        Value::Map(map) => {
            out.push(MAP);
            encode_span(&node.span, out);
            varint(map.len() as u64, out);
            for (key, value) in map.iter() {
                encode_str(&key.name, out);
                encode_span(&key.span, out);
                encode_node(value, out);
            }
        }
    }
}

fn encode_span(span: &Span, out: &mut Vec<u8>) {
    varint(u64::from(span.line), out);
    varint(u64::from(span.col), out);
    varint(span.start as u64, out);
    varint(span.end as u64, out);
}

fn encode_str(text: &str, out: &mut Vec<u8>) {
    varint(text.len() as u64, out);
    out.extend_from_slice(text.as_bytes());
}

fn varint(mut value: u64, out: &mut Vec<u8>) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Reads back what [`encode`] wrote, with `file` as the spans' file.
pub fn decode(bytes: &[u8], file: Arc<str>) -> Option<Node> {
    let mut reader = Reader {
        bytes: bytes.strip_prefix(MAGIC)?,
        file,
    };
    let node = reader.node(0)?;
    reader.bytes.is_empty().then_some(node)
}

struct Reader<'a> {
    bytes: &'a [u8],
    file: Arc<str>,
}

impl Reader<'_> {
    fn node(&mut self, depth: usize) -> Option<Node> {
        if depth > MAX_DEPTH {
            return None;
        }
        let (&tag, rest) = self.bytes.split_first()?;
        self.bytes = rest;
        let span = self.span()?;
        let value = match tag {
            STR => Value::Str(self.string()?),
            LIST => {
                let count = self.count()?;
                let mut items = Vec::with_capacity(count);
                for _ in 0..count {
                    items.push(self.node(depth + 1)?);
                }
                Value::List(items)
            }
            MAP => {
                let count = self.count()?;
                let mut map = Mapping::default();
                for _ in 0..count {
                    let name = self.string()?;
                    if map.contains_key(&name) {
                        return None;
                    }
                    let key = Key {
                        name,
                        span: self.span()?,
                    };
                    let value = self.node(depth + 1)?;
                    map.insert(key, value);
                }
                Value::Map(map)
            }
            _ => return None,
        };
        Some(Node { value, span })
    }

    fn span(&mut self) -> Option<Span> {
        Some(Span {
            file: self.file.clone(),
            line: u32::try_from(self.varint()?).ok()?,
            col: u32::try_from(self.varint()?).ok()?,
            start: usize::try_from(self.varint()?).ok()?,
            end: usize::try_from(self.varint()?).ok()?,
        })
    }

    fn string(&mut self) -> Option<String> {
        let len = usize::try_from(self.varint()?).ok()?;
        if len > self.bytes.len() {
            return None;
        }
        let (text, rest) = self.bytes.split_at(len);
        self.bytes = rest;
        String::from_utf8(text.to_vec()).ok()
    }

    /// A number of entries: each takes at least one byte, so a count
    /// larger than what is left is damage, not a reason to allocate.
    fn count(&mut self) -> Option<usize> {
        let count = usize::try_from(self.varint()?).ok()?;
        (count <= self.bytes.len()).then_some(count)
    }

    fn varint(&mut self) -> Option<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = self.bytes.split_first()?;
            self.bytes = rest;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{parse_str, to_yaml_string};

    fn same(a: &Node, b: &Node) {
        assert_eq!(a.span, b.span);
        match (&a.value, &b.value) {
            (Value::Str(x), Value::Str(y)) => assert_eq!(x, y),
            (Value::List(x), Value::List(y)) => {
                assert_eq!(x.len(), y.len());
                x.iter().zip(y).for_each(|(a, b)| same(a, b));
            }
            (Value::Map(x), Value::Map(y)) => {
                assert_eq!(x.len(), y.len());
                for ((ka, va), (kb, vb)) in x.iter().zip(y.iter()) {
                    assert_eq!((&ka.name, &ka.span), (&kb.name, &kb.span));
                    same(va, vb);
                }
            }
            _ => panic!("different shapes at {}", a.span),
        }
    }

    #[test]
    fn round_trips_values_and_spans() {
        let text = "kind: autotools\nvariables:\n  conf-local: --x é\n  long: '\u{1F600}'\ndepends:\n- a.bst\n- {filename: b.bst, type: build}\nconfig:\n  install-commands:\n    (>):\n    - |\n      make install\n      true\nempty: ''\n";
        let node = parse_str("e.bst", text).unwrap();
        let mut bytes = Vec::new();
        encode(&node, &mut bytes);
        let back = decode(&bytes, Arc::from("e.bst")).unwrap();
        same(&node, &back);
        assert_eq!(to_yaml_string(&node), to_yaml_string(&back));
    }

    #[test]
    fn damage_is_refused_not_trusted() {
        let node = parse_str("e.bst", "a: [b, {c: d}]\nlong: x\n").unwrap();
        let mut bytes = Vec::new();
        encode(&node, &mut bytes);
        let file: Arc<str> = Arc::from("e.bst");
        // Every truncation, and trailing bytes, fail to decode.
        for len in 0..bytes.len() {
            assert!(decode(&bytes[..len], file.clone()).is_none(), "{len}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode(&longer, file.clone()).is_none());
        // A count no input could hold, bad tags and bad UTF-8 too.
        let mut huge = MAGIC.to_vec();
        huge.extend([LIST, 1, 1, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f]);
        assert!(decode(&huge, file.clone()).is_none());
        assert!(decode(&[MAGIC.as_slice(), &[9, 1, 1, 0, 0]].concat(), file.clone()).is_none());
        assert!(decode(&[MAGIC.as_slice(), &[STR, 1, 1, 0, 0, 1, 0xff]].concat(), file.clone()).is_none());
        // Nesting beyond the bound is refused without recursing into it.
        let mut deep = MAGIC.to_vec();
        for _ in 0..=MAX_DEPTH + 1 {
            deep.extend([LIST, 1, 1, 0, 0, 1]);
        }
        assert!(decode(&deep, file).is_none());
    }
}
