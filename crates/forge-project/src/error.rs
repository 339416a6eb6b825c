//! Load errors: what is wrong, where, and what to write instead.

use std::fmt;

use forge_yaml::{Span, YamlError};

/// An error found while loading a project or an element.
///
/// Rendered as `file:line:col: message`, then one indented line per detail
/// and a `hint:` line when forge knows what the user should write instead.
#[derive(Debug, Clone)]
pub struct LoadError {
    /// Where the problem is, when it is in a file.
    pub span: Option<Span>,
    /// What is wrong.
    pub message: String,
    /// Further lines: the chain of a cycle, the includes that led here.
    pub details: Vec<String>,
    /// What to do about it.
    pub hint: Option<String>,
}

impl LoadError {
    /// An error at a position in a file.
    pub fn at(span: &Span, message: impl Into<String>) -> LoadError {
        LoadError {
            span: Some(span.clone()),
            message: message.into(),
            details: Vec::new(),
            hint: None,
        }
    }

    /// An error that belongs to no position (a missing project, say).
    pub fn new(message: impl Into<String>) -> LoadError {
        LoadError {
            span: None,
            message: message.into(),
            details: Vec::new(),
            hint: None,
        }
    }

    /// Adds a hint saying what to do.
    pub fn with_hint(mut self, hint: impl Into<String>) -> LoadError {
        self.hint = Some(hint.into());
        self
    }

    /// Adds a detail line.
    pub fn with_detail(mut self, detail: impl Into<String>) -> LoadError {
        self.details.push(detail.into());
        self
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.span {
            Some(span) => write!(f, "{span}: {}", self.message)?,
            None => write!(f, "{}", self.message)?,
        }
        for detail in &self.details {
            write!(f, "\n  {detail}")?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for LoadError {}

impl From<YamlError> for LoadError {
    fn from(err: YamlError) -> LoadError {
        LoadError::at(&err.span, err.message)
    }
}

/// Reads a project text file (project.conf, an element, an include) that
/// must be UTF-8. An I/O error is returned as it is, for the caller to
/// word; text that is not UTF-8 is a [`LoadError`] at the line and column
/// of the first bad byte (shown as `display`).
pub fn read_text(path: &std::path::Path, display: &str) -> std::io::Result<Result<String, LoadError>> {
    let bytes = std::fs::read(path)?;
    Ok(String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        let before = std::str::from_utf8(&bytes[..valid]).unwrap_or_default();
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
        let span = Span {
            file: display.into(),
            line: line as u32,
            col: col as u32,
            start: valid,
            end: valid + 1,
        };
        LoadError::at(
            &span,
            format!("this file is not UTF-8 text (byte 0x{:02x} here)", bytes[valid]),
        )
        .with_hint(format!(
            "BuildStream files are UTF-8; convert it (from Latin-1: iconv -f latin1 -t utf-8 {display} > {display}.new)"
        ))
    }))
}

/// The closest of `candidates` to `word`, if it is close enough to be a typo.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let mut best: Option<(usize, &str)> = None;
    for candidate in candidates {
        let distance = edit_distance(word, candidate);
        let limit = (word.len().max(candidate.len()) / 3).max(1);
        if distance <= limit && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, c)| c)
}

/// Edit distance over characters, a swap of neighbours counting as one
/// edit (optimal string alignment): `gti` is one edit from `git`.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let width = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * width];
    for i in 0..=a.len() {
        d[i * width] = i;
    }
    for (j, cell) in d.iter_mut().enumerate().take(width) {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[(i - 1) * width + j] + 1)
                .min(d[i * width + j - 1] + 1)
                .min(d[(i - 1) * width + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[(i - 2) * width + j - 2] + 1);
            }
            d[i * width + j] = best;
        }
    }
    d[a.len() * width + b.len()]
}

/// `text` with control characters (from files, archives or servers) shown
/// as escapes, so that nothing from outside can drive the terminal; line
/// breaks and tabs are kept.
pub fn printable(text: &str) -> String {
    escape_controls(text, true)
}

/// [`printable`] for text that must stay on one line: line breaks and tabs
/// are escaped too.
pub fn printable_line(text: &str) -> String {
    escape_controls(text, false)
}

fn escape_controls(text: &str, keep_layout: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() && !(keep_layout && (c == '\n' || c == '\t')) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Another program's output (git's, a server's), quoted under a message:
/// each line escaped and indented behind `| `, so that nothing it says can
/// pass for a line of forge's own.
pub fn quoted_output(text: &str) -> String {
    text.trim_end()
        .lines()
        .map(|line| format!("\n  | {}", printable_line(line)))
        .collect()
}

/// Checks that `map` holds only `allowed` keys, suggesting the nearest one.
pub fn check_keys(map: &forge_yaml::Mapping, allowed: &[&str], what: &str) -> Result<(), LoadError> {
    for (key, _) in map.iter() {
        if !allowed.contains(&key.name.as_str()) {
            let mut err = LoadError::at(&key.span, format!("unknown key '{}' in {what}", key.name));
            err = match did_you_mean(&key.name, allowed.iter().copied()) {
                Some(near) => err.with_hint(format!("did you mean '{near}'?")),
                None => err.with_hint(format!("valid keys: {}", allowed.join(", "))),
            };
            return Err(err);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_are_close_words_only() {
        assert_eq!(did_you_mean("refs", ["ref", "url", "track"]), Some("ref"));
        assert_eq!(did_you_mean("dependss", ["depends", "build-depends"]), Some("depends"));
        assert_eq!(did_you_mean("zzz", ["ref", "url"]), None);
        assert_eq!(did_you_mean("gti", ["git", "tar"]), Some("git"));
    }

    #[test]
    fn rendering_has_position_details_and_hint() {
        let span = Span {
            file: "a.bst".into(),
            line: 3,
            col: 5,
            start: 0,
            end: 0,
        };
        let err = LoadError::at(&span, "bad").with_detail("more").with_hint("fix it");
        assert_eq!(err.to_string(), "a.bst:3:5: bad\n  more\n  hint: fix it");
    }
}
