//! Building the node tree from parser events, enforcing the dialect.

use std::sync::Arc;

use saphyr_parser::{Event, Marker, Parser, ScanError};

use crate::node::{Key, Node, Span, Value};

/// A YAML file that is not valid, or not valid in BuildStream's dialect.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{span}: {message}")]
pub struct YamlError {
    /// Where the problem is.
    pub span: Span,
    /// What is wrong.
    pub message: String,
}

/// Parses `text` (the contents of `file`) into a mapping node.
///
/// An empty document is an empty mapping, as in BuildStream.
pub fn parse_str(file: &str, text: &str) -> Result<Node, YamlError> {
    let file: Arc<str> = Arc::from(file);
    let positions = Positions::new(text);
    let mut builder = Builder {
        file: file.clone(),
        positions: &positions,
        stack: Vec::new(),
        root: None,
        documents: 0,
    };
    for event in Parser::new_from_str(text) {
        match event {
            Ok((event, span)) => builder.on_event(event, span)?,
            Err(err) => return Err(builder.scan_error(&err)),
        }
    }
    let root = match builder.root {
        Some(root) => root,
        None => Node::map(builder.span_at_start()),
    };
    match root.value {
        Value::Map(_) => Ok(root),
        Value::Str(ref s) if s.is_empty() => Ok(Node::map(root.span)),
        _ => Err(YamlError {
            message: format!("the document must be a mapping, not {}", root.type_name()),
            span: root.span,
        }),
    }
}

/// Converts the parser's character offsets into byte offsets.
struct Positions {
    /// Byte offset of each character; empty when the text is ASCII.
    char_to_byte: Vec<usize>,
    len: usize,
}

impl Positions {
    fn new(text: &str) -> Positions {
        let char_to_byte = if text.is_ascii() {
            Vec::new()
        } else {
            text.char_indices().map(|(i, _)| i).collect()
        };
        Positions {
            char_to_byte,
            len: text.len(),
        }
    }

    fn byte(&self, char_index: usize) -> usize {
        if self.char_to_byte.is_empty() {
            char_index.min(self.len)
        } else {
            self.char_to_byte.get(char_index).copied().unwrap_or(self.len)
        }
    }
}

enum Frame {
    Map { node: Node, pending_key: Option<Key> },
    List(Node),
}

struct Builder<'a> {
    file: Arc<str>,
    positions: &'a Positions,
    stack: Vec<Frame>,
    root: Option<Node>,
    documents: usize,
}

impl Builder<'_> {
    fn span(&self, span: &saphyr_parser::Span) -> Span {
        Span {
            file: self.file.clone(),
            line: span.start.line() as u32,
            col: span.start.col() as u32 + 1,
            start: self.positions.byte(span.start.index()),
            end: self.positions.byte(span.end.index()),
        }
    }

    fn span_at_start(&self) -> Span {
        Span {
            file: self.file.clone(),
            line: 1,
            col: 1,
            start: 0,
            end: 0,
        }
    }

    fn error(&self, span: Span, message: impl Into<String>) -> YamlError {
        YamlError {
            span,
            message: message.into(),
        }
    }

    fn scan_error(&self, err: &ScanError) -> YamlError {
        let mark: &Marker = err.marker();
        let span = Span {
            file: self.file.clone(),
            line: mark.line() as u32,
            col: mark.col() as u32 + 1,
            start: self.positions.byte(mark.index()),
            end: self.positions.byte(mark.index()),
        };
        self.error(span, format!("invalid YAML: {}", err.info()))
    }

    fn check_tag(&self, tag: Option<&saphyr_parser::Tag>, span: &Span) -> Result<(), YamlError> {
        match tag {
            Some(tag) if !tag.is_yaml_core_schema() => Err(self.error(
                span.clone(),
                format!("unsupported YAML tag '{tag}': only plain values are allowed"),
            )),
            _ => Ok(()),
        }
    }

    fn check_anchor(&self, anchor: usize, span: &Span) -> Result<(), YamlError> {
        if anchor != 0 {
            return Err(self.error(
                span.clone(),
                "anchors are not allowed (BuildStream refuses them too): repeat the value, or use an (@) include",
            ));
        }
        Ok(())
    }

    fn on_event(&mut self, event: Event<'_>, raw: saphyr_parser::Span) -> Result<(), YamlError> {
        let span = self.span(&raw);
        match event {
            Event::StreamStart | Event::StreamEnd | Event::Nothing | Event::DocumentEnd => Ok(()),
            Event::DocumentStart(_) => {
                self.documents += 1;
                if self.documents > 1 {
                    return Err(self.error(span, "a file may hold only one YAML document"));
                }
                Ok(())
            }
            Event::Alias(_) => Err(self.error(
                span,
                "aliases are not allowed (BuildStream refuses them too): repeat the value, or use an (@) include",
            )),
            Event::Scalar(text, _style, anchor, tag) => {
                self.check_anchor(anchor, &span)?;
                self.check_tag(tag.as_deref(), &span)?;
                let node = Node::string(text.trim(), span);
                self.push_value(node)
            }
            Event::SequenceStart(anchor, tag) => {
                self.check_anchor(anchor, &span)?;
                self.check_tag(tag.as_deref(), &span)?;
                self.key_must_be_scalar(&span)?;
                self.stack.push(Frame::List(Node::list(Vec::new(), span)));
                Ok(())
            }
            Event::MappingStart(anchor, tag) => {
                self.check_anchor(anchor, &span)?;
                self.check_tag(tag.as_deref(), &span)?;
                self.key_must_be_scalar(&span)?;
                self.stack.push(Frame::Map {
                    node: Node::map(span),
                    pending_key: None,
                });
                Ok(())
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let node = match self.stack.pop() {
                    Some(Frame::List(mut node)) | Some(Frame::Map { mut node, .. }) => {
                        node.span.end = span.end.max(node.span.start);
                        node
                    }
                    None => return Err(self.error(span, "invalid YAML: unbalanced collection")),
                };
                self.push_value(node)
            }
        }
    }

    /// A collection that starts where a key is expected is a complex key.
    fn key_must_be_scalar(&self, span: &Span) -> Result<(), YamlError> {
        if let Some(Frame::Map { pending_key: None, .. }) = self.stack.last() {
            return Err(self.error(span.clone(), "mapping keys must be plain strings"));
        }
        Ok(())
    }

    fn push_value(&mut self, node: Node) -> Result<(), YamlError> {
        match self.stack.last_mut() {
            None => {
                self.root = Some(node);
                Ok(())
            }
            Some(Frame::List(list)) => {
                if let Value::List(items) = &mut list.value {
                    items.push(node);
                }
                Ok(())
            }
            Some(Frame::Map { node: map, pending_key }) => match pending_key.take() {
                None => {
                    let Value::Str(name) = node.value else {
                        return Err(YamlError {
                            span: node.span,
                            message: "mapping keys must be plain strings".into(),
                        });
                    };
                    let Value::Map(mapping) = &map.value else {
                        unreachable!("map frames hold mappings")
                    };
                    if let Some((first, _)) = mapping.get_entry(&name) {
                        return Err(YamlError {
                            message: format!("duplicate key '{name}' (first defined at line {})", first.span.line),
                            span: node.span,
                        });
                    }
                    *pending_key = Some(Key { name, span: node.span });
                    Ok(())
                }
                Some(key) => {
                    if let Value::Map(mapping) = &mut map.value {
                        mapping.insert(key, node);
                    }
                    Ok(())
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Node, YamlError> {
        parse_str("t.bst", text)
    }

    #[test]
    fn every_scalar_is_a_stripped_string() {
        let node = parse("a: yes\nb: 1.0\nc: null\nd: ~\ne:\nf: '  x '\ng: |\n  line\n").unwrap();
        let map = node.as_map().unwrap();
        let get = |k| map.get(k).unwrap().as_str().unwrap().to_string();
        assert_eq!(get("a"), "yes");
        assert_eq!(get("b"), "1.0");
        assert_eq!(get("c"), "null");
        assert_eq!(get("d"), "~");
        assert_eq!(get("e"), "");
        assert_eq!(get("f"), "x");
        assert_eq!(get("g"), "line");
    }

    #[test]
    fn positions_are_one_based_and_bytes() {
        let node = parse("kind: import\nsources:\n- kind: local\n  path: \"é/x\"\n").unwrap();
        let map = node.as_map().unwrap();
        let sources = map.get("sources").unwrap().as_list().unwrap();
        let path = sources[0].as_map().unwrap().get("path").unwrap();
        assert_eq!((path.span.line, path.span.col), (4, 9));
        let kind = map.get_entry("kind").unwrap().0;
        assert_eq!((kind.span.line, kind.span.col), (1, 1));
    }

    #[test]
    fn byte_offsets_survive_non_ascii() {
        let text = "a: \"é\"\nb: plain\n";
        let node = parse(text).unwrap();
        let b = node.as_map().unwrap().get("b").unwrap();
        assert_eq!(&text[b.span.start..b.span.end], "plain");
    }

    #[test]
    fn duplicate_keys_are_errors() {
        let err = parse("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "t.bst:3:1: duplicate key 'a' (first defined at line 1)"
        );
    }

    #[test]
    fn anchors_and_aliases_are_refused() {
        let err = parse("a: &x 1\nb: *x\n").unwrap_err();
        assert!(err.message.contains("anchors are not allowed"), "{err}");
        assert_eq!(err.span.line, 1);
    }

    #[test]
    fn custom_tags_are_refused() {
        let err = parse("a: !custom 1\n").unwrap_err();
        assert!(err.message.contains("unsupported YAML tag"), "{err}");
    }

    #[test]
    fn root_must_be_a_mapping() {
        assert!(parse("- a\n").unwrap_err().message.contains("must be a mapping"));
        assert!(parse("").unwrap().as_map().unwrap().is_empty());
        assert!(parse("# only a comment\n").unwrap().as_map().unwrap().is_empty());
    }

    #[test]
    fn syntax_errors_have_positions() {
        let err = parse("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(err.message.starts_with("invalid YAML"), "{err}");
        assert!(err.span.line >= 1);
    }

    #[test]
    fn complex_keys_are_refused() {
        let err = parse("? [a, b]\n: 1\n").unwrap_err();
        assert!(err.message.contains("keys must be plain strings"), "{err}");
    }
}
