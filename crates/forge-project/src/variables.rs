//! `%{name}` variables: resolution with cycle and undefined-name errors, and
//! expansion into config, environment, public data and sources.
//!
//! As in BuildStream, every variable is resolved eagerly (an unused broken
//! variable is still an error), `$VAR` is left to the shell, and a `%{` that
//! does not open a valid name stays literal.

use std::sync::Arc;

use forge_yaml::{Mapping, Node, Span, Value};

/// Name lookups are the inner loop of loading: a fast hasher (names come
/// from the project, whose size bounds the work anyway).
type IndexMap<K, V> = indexmap::IndexMap<K, V, foldhash::fast::RandomState>;

use crate::error::{LoadError, did_you_mean};

/// Variables that only forge may set.
pub const PROTECTED: [&str; 3] = ["project-name", "element-name", "max-jobs"];

/// A piece of a variable value: literal text or a reference.
#[derive(Debug, PartialEq)]
enum Piece<'a> {
    Text(&'a str),
    Ref(&'a str),
}

/// Splits `text` into literal runs and `%{name}` references.
fn pieces(text: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = text;
    let mut literal_start = 0;
    let mut offset = 0;
    while let Some(found) = find_reference_start(rest) {
        let after = &rest[found + 2..];
        let name_len = reference_name_len(after);
        if name_len > 0 && after[name_len..].starts_with('}') {
            let start = offset + found;
            if start > literal_start {
                out.push(Piece::Text(&text[literal_start..start]));
            }
            out.push(Piece::Ref(&after[..name_len]));
            let consumed = found + 2 + name_len + 1;
            offset += consumed;
            literal_start = offset;
            rest = &rest[consumed..];
        } else {
            offset += found + 2;
            rest = &rest[found + 2..];
        }
    }
    if literal_start < text.len() {
        out.push(Piece::Text(&text[literal_start..]));
    }
    out
}

/// Where the first `%{` of `text` starts: a byte search, not a substring
/// searcher built for every string (most strings have none).
fn find_reference_start(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(found) = bytes[from..].iter().position(|&b| b == b'%') {
        let at = from + found;
        if bytes.get(at + 1) == Some(&b'{') {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

fn has_reference_start(text: &str) -> bool {
    find_reference_start(text).is_some()
}

/// The variable names `text` refers to, in order.
pub fn references(text: &str) -> impl Iterator<Item = &str> {
    pieces(text).into_iter().filter_map(|p| match p {
        Piece::Ref(name) => Some(name),
        Piece::Text(_) => None,
    })
}

/// Length of a valid variable name at the start of `s`: `[a-zA-Z][a-zA-Z0-9_-]*`.
fn reference_name_len(s: &str) -> usize {
    let bytes = s.as_bytes();
    if !bytes.first().is_some_and(u8::is_ascii_alphabetic) {
        return 0;
    }
    bytes
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_' || **b == b'-')
        .count()
}

/// An element's resolved variables.
#[derive(Clone, Debug, Default)]
pub struct Variables {
    /// The kind's base, whose values this element shares where it does
    /// not change them.
    base: Option<Arc<BaseVariables>>,
    /// By index of the base: this element's value where it differs.
    changed: Vec<Option<String>>,
    /// Variables beyond the base, in definition order.
    values: IndexMap<String, String>,
}

/// The definitions a resolution works on: variable `i` has a raw value
/// and a span, and may be known already; names are looked up to indices.
trait Definitions {
    fn len(&self) -> usize;
    fn raw(&self, index: usize) -> (&str, &Span);
    fn name(&self, index: usize) -> &str;
    fn index_of(&self, name: &str) -> Option<usize>;
    /// The value of a variable resolved beforehand.
    fn known(&self, index: usize) -> Option<&str>;
}

impl Definitions for IndexMap<&str, (&str, &Span)> {
    fn len(&self) -> usize {
        IndexMap::len(self)
    }
    fn raw(&self, index: usize) -> (&str, &Span) {
        self[index]
    }
    fn name(&self, index: usize) -> &str {
        self.get_index(index).expect("index").0
    }
    fn index_of(&self, name: &str) -> Option<usize> {
        self.get_index_of(name)
    }
    fn known(&self, _: usize) -> Option<&str> {
        None
    }
}

/// Resolves every variable `defs` does not know, in definition order,
/// depth first without recursion: the first error met is the one
/// reported, whatever was resolved beforehand. Slots of known variables
/// stay empty.
/// The longest value a variable (or a string expanded with them) may grow
/// to: far above any real project's (freedesktop-sdk's longest is a few
/// kB), far below what a few lines that refer to each other over and over
/// can make (2^30 bytes from 30 doubling definitions).
pub const MAX_EXPANDED_LEN: usize = 1 << 20;
/// What the resolved variables of one element may hold in all.
const MAX_RESOLVED_TOTAL: usize = 64 << 20;

fn too_long(name: &str, len: usize, span: &Span) -> LoadError {
    LoadError::at(
        span,
        format!(
            "the value of '{name}' grows to {len} bytes when expanded, more than forge's limit of {} bytes",
            MAX_EXPANDED_LEN
        ),
    )
    .with_hint("variables that refer to each other several times each multiply in size; refer to each once")
}

fn resolve_all(defs: &impl Definitions) -> Result<Vec<Option<String>>, LoadError> {
    let mut total = 0usize;
    let mut resolved: Vec<Option<String>> = vec![None; defs.len()];
    let mut parsed: Vec<Option<Vec<Piece<'_>>>> = (0..defs.len()).map(|_| None).collect();
    let mut in_progress = vec![false; defs.len()];
    // (variable, how many of its pieces are known resolved)
    let mut stack: Vec<(usize, usize)> = Vec::new();
    for root in 0..defs.len() {
        if resolved[root].is_some() || defs.known(root).is_some() {
            continue;
        }
        stack.push((root, 0));
        in_progress[root] = true;
        while let Some(&mut (current, ref mut done)) = stack.last_mut() {
            let (value, span) = defs.raw(current);
            let pieces = parsed[current].get_or_insert_with(|| pieces(value));
            let mut waiting_on = None;
            while let Some(piece) = pieces.get(*done) {
                if let Piece::Ref(name) = piece {
                    let Some(index) = defs.index_of(name) else {
                        return Err(undefined(name, span, (0..defs.len()).map(|i| defs.name(i))));
                    };
                    if resolved[index].is_none() && defs.known(index).is_none() {
                        if in_progress[index] {
                            let chain: Vec<usize> = stack.iter().map(|(i, _)| *i).collect();
                            return Err(cycle(defs, &chain, index));
                        }
                        waiting_on = Some(index);
                        break;
                    }
                }
                *done += 1;
            }
            match waiting_on {
                Some(index) => {
                    in_progress[index] = true;
                    stack.push((index, 0));
                }
                None => {
                    let len: usize = pieces
                        .iter()
                        .map(|piece| match piece {
                            Piece::Text(t) => t.len(),
                            Piece::Ref(name) => {
                                let index = defs.index_of(name).expect("checked above");
                                resolved[index]
                                    .as_deref()
                                    .or_else(|| defs.known(index))
                                    .map_or(0, str::len)
                            }
                        })
                        .sum();
                    total += len;
                    if len > MAX_EXPANDED_LEN || total > MAX_RESOLVED_TOTAL {
                        return Err(too_long(defs.name(current), len, span));
                    }
                    let mut text = String::with_capacity(len);
                    for piece in pieces.iter() {
                        match piece {
                            Piece::Text(t) => text.push_str(t),
                            Piece::Ref(name) => {
                                let index = defs.index_of(name).expect("checked above");
                                let value = resolved[index].as_deref().or_else(|| defs.known(index));
                                text.push_str(value.expect("resolved"));
                            }
                        }
                    }
                    resolved[current] = Some(text);
                    in_progress[current] = false;
                    stack.pop();
                }
            }
        }
    }
    Ok(resolved)
}

/// A kind's base variables, resolved once for every element of the kind:
/// an element resolves again only the variables its own definitions (and
/// its name) reach, and shares the rest.
#[derive(Debug)]
pub struct BaseVariables {
    /// name → (raw value, span), in definition order.
    defs: IndexMap<String, (String, Span)>,
    /// The value of each variable that needs nothing from an element;
    /// `None` for those that refer to a name the base lacks (such as
    /// `element-name`) or sit in a cycle.
    values: Vec<Option<String>>,
    /// For each variable, the variables whose values refer to it.
    dependents: Vec<Vec<usize>>,
}

/// A base with an element's own string variables laid over it.
struct Layered<'a> {
    base: &'a BaseVariables,
    /// Replacement raw values of base variables.
    replaced: Vec<Option<(&'a str, &'a Span)>>,
    /// Base variables to resolve again.
    dirty: Vec<bool>,
    /// Variables the base lacks, after the base's.
    added: IndexMap<&'a str, (&'a str, &'a Span)>,
}

impl Definitions for Layered<'_> {
    fn len(&self) -> usize {
        self.base.defs.len() + self.added.len()
    }
    fn raw(&self, index: usize) -> (&str, &Span) {
        match self.base.defs.get_index(index) {
            Some((_, (value, span))) => self.replaced[index].unwrap_or((value.as_str(), span)),
            None => self.added[index - self.base.defs.len()],
        }
    }
    fn name(&self, index: usize) -> &str {
        match self.base.defs.get_index(index) {
            Some((name, _)) => name,
            None => self.added.get_index(index - self.base.defs.len()).expect("index").0,
        }
    }
    fn index_of(&self, name: &str) -> Option<usize> {
        self.base
            .defs
            .get_index_of(name)
            .or_else(|| self.added.get_index_of(name).map(|i| i + self.base.defs.len()))
    }
    fn known(&self, index: usize) -> Option<&str> {
        match self.dirty.get(index) {
            Some(false) => self.base.values[index].as_deref(),
            _ => None,
        }
    }
}

impl BaseVariables {
    /// Prepares `defs`; `None` when a value is not a string (the element
    /// then takes the general path, which reports it).
    pub fn prepare(defs: &Mapping) -> Option<BaseVariables> {
        let mut table: IndexMap<String, (String, Span)> =
            IndexMap::with_capacity_and_hasher(defs.len(), Default::default());
        for (key, node) in defs.iter() {
            table.insert(key.name.clone(), (node.as_str()?.to_string(), node.span.clone()));
        }
        let mut dependents = vec![Vec::new(); table.len()];
        let mut broken = vec![false; table.len()];
        for (index, (value, _)) in table.values().enumerate() {
            for name in references(value) {
                match table.get_index_of(name) {
                    Some(target) => dependents[target].push(index),
                    None => broken[index] = true,
                }
            }
        }
        // What reaches a missing name cannot resolve without the element.
        let mut queue: Vec<usize> = (0..table.len()).filter(|&i| broken[i]).collect();
        while let Some(index) = queue.pop() {
            for &dependent in &dependents[index] {
                if !broken[dependent] {
                    broken[dependent] = true;
                    queue.push(dependent);
                }
            }
        }
        let raw: IndexMap<&str, (&str, &Span)> = table
            .iter()
            .filter(|(name, _)| !broken[table.get_index_of(name.as_str()).expect("present")])
            .map(|(name, (value, span))| (name.as_str(), (value.as_str(), span)))
            .collect();
        let mut values: Vec<Option<String>> = vec![None; table.len()];
        // A cycle among the rest leaves every variable to the elements,
        // which report it.
        if let Ok(resolved) = resolve_all(&raw) {
            for ((name, _), value) in raw.iter().zip(resolved) {
                values[table.get_index_of(*name).expect("present")] = value;
            }
        }
        Some(BaseVariables {
            defs: table,
            values,
            dependents,
        })
    }

    /// The raw value of `name`.
    pub fn raw(&self, name: &str) -> Option<&str> {
        self.defs.get(name).map(|(value, _)| value.as_str())
    }

    /// Resolves the base with `own` (name, raw value, span) laid over it,
    /// as composing them and resolving the whole would.
    pub fn resolve_with(self: &Arc<Self>, own: &[(&str, &str, &Span)]) -> Result<Variables, LoadError> {
        let mut layered = Layered {
            base: self,
            replaced: vec![None; self.defs.len()],
            dirty: self.values.iter().map(Option::is_none).collect(),
            added: IndexMap::default(),
        };
        let mut replaced: Vec<usize> = Vec::new();
        for &(name, value, span) in own {
            match self.defs.get_index_of(name) {
                Some(index) => {
                    layered.replaced[index] = Some((value, span));
                    layered.dirty[index] = true;
                    replaced.push(index);
                }
                None => {
                    layered.added.insert(name, (value, span));
                }
            }
        }
        // Whatever refers to a replaced variable, directly or not, resolves
        // again; names the base lacks were never resolved.
        while let Some(index) = replaced.pop() {
            for &dependent in &self.dependents[index] {
                if !layered.dirty[dependent] {
                    layered.dirty[dependent] = true;
                    replaced.push(dependent);
                }
            }
        }
        let mut resolved = resolve_all(&layered)?;
        let values = resolved
            .drain(self.defs.len()..)
            .zip(layered.added.keys())
            .map(|(value, name)| (name.to_string(), value.expect("every variable resolved")))
            .collect();
        Ok(Variables {
            base: Some(self.clone()),
            changed: resolved,
            values,
        })
    }
}

impl Variables {
    /// Resolves every variable in `defs` (name → string node).
    pub fn resolve(defs: &Mapping) -> Result<Variables, LoadError> {
        let mut raw: IndexMap<&str, (&str, &Span)> = IndexMap::with_capacity_and_hasher(defs.len(), Default::default());
        for (key, node) in defs.iter() {
            let value = node.as_str().ok_or_else(|| {
                LoadError::at(
                    &node.span,
                    format!("variable '{}' must be a string, not {}", key.name, node.type_name()),
                )
            })?;
            raw.insert(key.name.as_str(), (value, &node.span));
        }
        let resolved = resolve_all(&raw)?;
        let values = raw
            .keys()
            .zip(resolved)
            .map(|(name, value)| (name.to_string(), value.expect("every variable resolved")))
            .collect();
        Ok(Variables {
            base: None,
            changed: Vec::new(),
            values,
        })
    }

    /// Resolves only the variables that the strings in `nodes` need, and
    /// what those need in turn: aliases and mirrors use project variables,
    /// and a project variable that only elements can resolve (one that uses
    /// `%{element-name}`, say) must not stop them.
    pub fn resolve_needed(defs: &Mapping, nodes: &[&Node]) -> Result<Variables, LoadError> {
        let mut wanted: Vec<&str> = Vec::new();
        let mut strings: Vec<&Node> = nodes.to_vec();
        while let Some(node) = strings.pop() {
            match &node.value {
                Value::Str(text) => wanted.extend(references(text)),
                Value::Map(m) => strings.extend(m.iter().map(|(_, v)| v)),
                Value::List(l) => strings.extend(l.iter()),
            }
        }
        let mut needed = Mapping::default();
        while let Some(name) = wanted.pop() {
            if needed.contains_key(name) {
                continue;
            }
            if let Some((key, value)) = defs.get_entry(name) {
                if let Some(text) = value.as_str() {
                    wanted.extend(references(text));
                }
                needed.insert(key.clone(), value.clone());
            }
        }
        Variables::resolve(&needed)
    }

    /// The value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        if let Some(base) = &self.base
            && let Some(index) = base.defs.get_index_of(name)
        {
            return self.changed[index].as_deref().or(base.values[index].as_deref());
        }
        self.values.get(name).map(String::as_str)
    }

    /// All variables in definition order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        let shared = self.base.iter().flat_map(move |base| {
            base.defs.keys().enumerate().map(move |(index, name)| {
                let value = self.changed[index].as_deref().or(base.values[index].as_deref());
                (name.as_str(), value.expect("every variable resolved"))
            })
        });
        shared.chain(self.values.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }

    /// Expands the references in `text`, found at `span`.
    pub fn expand(&self, text: &str, span: &Span) -> Result<String, LoadError> {
        if !has_reference_start(text) {
            return Ok(text.to_string());
        }
        let mut out = String::with_capacity(text.len());
        for piece in pieces(text) {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Ref(name) => match self.get(name) {
                    Some(value) => out.push_str(value),
                    None => return Err(undefined(name, span, self.iter().map(|(name, _)| name))),
                },
            }
            if out.len() > MAX_EXPANDED_LEN {
                return Err(LoadError::at(
                    span,
                    format!("this value grows to more than forge's limit of {MAX_EXPANDED_LEN} bytes when expanded"),
                )
                .with_hint(
                    "variables that refer to each other several times each multiply in size; refer to each once",
                ));
            }
        }
        Ok(out)
    }

    /// Expands every string in `node` (mapping keys are left alone).
    pub fn expand_node(&self, node: &mut Node) -> Result<(), LoadError> {
        let mut stack = vec![node];
        while let Some(node) = stack.pop() {
            match &mut node.value {
                Value::Str(s) => {
                    if has_reference_start(s) {
                        *s = self.expand(s, &node.span)?;
                    }
                }
                Value::Map(m) => stack.extend(m.iter_mut().map(|(_, v)| v)),
                Value::List(l) => stack.extend(l.iter_mut()),
            }
        }
        Ok(())
    }
}

fn undefined<'a>(name: &str, span: &Span, known: impl Iterator<Item = &'a str>) -> LoadError {
    let err = LoadError::at(span, format!("reference to undefined variable '{name}'"));
    match did_you_mean(name, known) {
        Some(near) => err.with_hint(format!("did you mean '%{{{near}}}'?")),
        None => err.with_hint(format!(
            "define '{name}' under 'variables:' in the element or in project.conf"
        )),
    }
}

fn cycle(raw: &impl Definitions, stack: &[usize], back_to: usize) -> LoadError {
    let name = |i: usize| raw.name(i);
    let start = stack.iter().position(|&i| i == back_to).unwrap_or(0);
    let chain = &stack[start..];
    let mut err = LoadError::at(
        raw.raw(back_to).1,
        format!("circular dependency detected on variable '{}'", name(back_to)),
    );
    for (i, &var) in chain.iter().enumerate() {
        let next = chain.get(i + 1).copied().unwrap_or(back_to);
        err = err.with_detail(format!(
            "{}: variable '{}' refers to variable '{}'",
            raw.raw(var).1,
            name(var),
            name(next)
        ));
    }
    err
}

#[cfg(test)]
mod tests {
    use super::*;
    use forge_yaml::parse_str;

    fn resolve(text: &str) -> Result<Variables, LoadError> {
        let node = parse_str("e.bst", text).unwrap();
        Variables::resolve(node.as_map().unwrap())
    }

    #[test]
    fn splits_references() {
        assert_eq!(
            pieces("a%{b}c"),
            vec![Piece::Text("a"), Piece::Ref("b"), Piece::Text("c")]
        );
        assert_eq!(pieces("100%{"), vec![Piece::Text("100%{")]);
        assert_eq!(pieces("%{1x}"), vec![Piece::Text("%{1x}")]);
        assert_eq!(pieces("%%{a}"), vec![Piece::Text("%"), Piece::Ref("a")]);
        assert_eq!(pieces("%{a-b_c}%{d}"), vec![Piece::Ref("a-b_c"), Piece::Ref("d")]);
        assert!(has_reference_start("50% %{x}") && has_reference_start("%{"));
        assert!(!has_reference_start("100% {}") && !has_reference_start("%") && !has_reference_start(""));
    }

    #[test]
    fn resolves_chains_in_any_order() {
        let vars =
            resolve("bindir: '%{exec_prefix}/bin'\nexec_prefix: '%{prefix}'\nprefix: /usr\npct: '100%{'\n").unwrap();
        assert_eq!(vars.get("bindir"), Some("/usr/bin"));
        assert_eq!(vars.get("pct"), Some("100%{"));
        let span = Span::synthetic("t");
        assert_eq!(
            vars.expand("$HOME%{prefix}%%{prefix}", &span).unwrap(),
            "$HOME/usr%/usr"
        );
    }

    #[test]
    fn undefined_variable_points_at_the_value() {
        let err = resolve("a: x\nunused: '%{nope}'\n").unwrap_err();
        assert_eq!(err.span.as_ref().map(|s| (s.line, s.col)), Some((2, 9)));
        assert_eq!(err.message, "reference to undefined variable 'nope'");
        let err = resolve("prefix: /usr\nb: '%{prefx}'\n").unwrap_err();
        assert_eq!(err.hint.as_deref(), Some("did you mean '%{prefix}'?"));
    }

    #[test]
    fn cycles_are_reported_with_the_chain() {
        let err = resolve("a: '%{b}'\nb: '%{c}'\nc: '%{a}'\n").unwrap_err();
        assert_eq!(err.message, "circular dependency detected on variable 'a'");
        assert_eq!(
            err.details,
            vec![
                "e.bst:1:4: variable 'a' refers to variable 'b'",
                "e.bst:2:4: variable 'b' refers to variable 'c'",
                "e.bst:3:4: variable 'c' refers to variable 'a'",
            ]
        );
        let err = resolve("a: '%{a}'\n").unwrap_err();
        assert_eq!(err.details, vec!["e.bst:1:4: variable 'a' refers to variable 'a'"]);
    }

    #[test]
    fn values_that_multiply_are_stopped_with_the_variable_named() {
        let mut text = String::from("v0: 'xxxxxxxx'\n");
        for i in 1..=30 {
            text.push_str(&format!("v{i}: '%{{v{}}}%{{v{}}}'\n", i - 1, i - 1));
        }
        let err = resolve(&text).unwrap_err().to_string();
        assert!(
            err.contains("grows to") && err.contains("limit of 1048576 bytes"),
            "{err}"
        );
        // The first one past the limit is named, where it is defined.
        assert!(err.contains("the value of 'v18'") && err.contains(":19:"), "{err}");
    }

    #[test]
    fn long_chains_do_not_recurse() {
        let mut text = String::from("v0: base\n");
        for i in 1..10_000 {
            text.push_str(&format!("v{i}: '%{{v{}}}x'\n", i - 1));
        }
        let vars = resolve(&text).unwrap();
        assert_eq!(vars.get("v9999").unwrap().len(), 4 + 9_999);
    }

    #[test]
    fn only_what_is_needed_is_resolved() {
        let node = parse_str(
            "p.conf",
            "root: /srv\nbuild-root: '/b/%{element-name}'\nurl: 'file://%{root}/t/'\n",
        )
        .unwrap();
        let wanted = parse_str("p.conf", "alias: '%{url}'\n").unwrap();
        let vars = Variables::resolve_needed(node.as_map().unwrap(), &[&wanted]).unwrap();
        assert_eq!(vars.get("url"), Some("file:///srv/t/"));
        assert_eq!(vars.get("build-root"), None);
        assert!(Variables::resolve(node.as_map().unwrap()).is_err());
    }

    /// Laying variables over a prepared base gives what composing them and
    /// resolving the whole gives, values and errors alike.
    #[test]
    fn prepared_bases_resolve_as_the_whole_does() {
        let base = "prefix: /usr\nbindir: '%{prefix}/bin'\nroot: '/b/%{element-name}'\n\
                    dir: '%{root}/%{bindir}'\nloop-a: '%{loop-b}'\nloop-b: '%{loop-a}'\nlate: '%{extra}'\n";
        let cases: &[&str] = &[
            "element-name: e\nloop-a: x\nextra: y\n",
            "element-name: e\nprefix: /opt\nloop-b: '%{prefix}'\nextra: '%{dir}'\n",
            "element-name: e\nloop-a: x\n",
            "element-name: e\nextra: y\n",
            "element-name: e\nloop-a: x\nextra: '%{late}'\n",
            "element-name: e\nloop-a: x\nextra: '%{prefx}'\n",
        ];
        let base_node = parse_str("base.yml", base).unwrap();
        let prepared = Arc::new(BaseVariables::prepare(base_node.as_map().unwrap()).unwrap());
        for case in cases {
            let own = parse_str("e.bst", case).unwrap();
            let mut whole = base_node.clone();
            crate::compose::compose(&mut whole, own.clone()).unwrap();
            let expected = Variables::resolve(whole.as_map().unwrap());
            let strings: Vec<(&str, &str, &Span)> = own
                .as_map()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.name.as_str(), v.as_str().unwrap(), &v.span))
                .collect();
            let got = prepared.resolve_with(&strings);
            match (expected, got) {
                (Ok(a), Ok(b)) => assert_eq!(a.iter().collect::<Vec<_>>(), b.iter().collect::<Vec<_>>(), "{case}"),
                (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{case}"),
                (a, b) => panic!("{case}: {a:?} vs {b:?}"),
            }
        }
        // Once prepared, the base's own values are not resolved again.
        let own = [
            ("element-name", "e", &Span::synthetic("t")),
            ("loop-a", "x", &Span::synthetic("t")),
            ("extra", "y", &Span::synthetic("t")),
        ];
        let vars = prepared.resolve_with(&own).unwrap();
        assert_eq!(vars.get("dir"), Some("/b/e//usr/bin"));
        assert_eq!(prepared.raw("bindir"), Some("%{prefix}/bin"));
        assert!(BaseVariables::prepare(parse_str("b", "a: [x]\n").unwrap().as_map().unwrap()).is_none());
    }

    #[test]
    fn non_string_variables_are_errors() {
        let err = resolve("a: [x]\n").unwrap_err();
        assert!(err.message.contains("must be a string"), "{err}");
    }
}
