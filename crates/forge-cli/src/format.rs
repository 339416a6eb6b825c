//! `%{symbol}` line templates, with Python's format specs (`%{state: >12}`),
//! as `bst show --format` takes them.

/// A piece of a parsed template.
#[derive(Debug, PartialEq)]
pub enum Piece {
    /// Literal text.
    Text(String),
    /// A symbol and its format spec (the text after `:`).
    Symbol { name: String, spec: String },
}

/// Parses `template`; symbols not in `known` are an error naming them.
pub fn parse(template: &str, known: &[&str]) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("%{") {
        text.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            text.push_str(&rest[start..]);
            rest = "";
            break;
        };
        let inner = &after[..end];
        let (name, spec) = match inner.find(':') {
            Some(colon) => (&inner[..colon], &inner[colon + 1..]),
            None => (inner, ""),
        };
        if !known.contains(&name) {
            let near = known
                .iter()
                .find(|k| k.starts_with(name) || name.starts_with(**k))
                .map(|k| format!(" (did you mean %{{{k}}}?)"))
                .unwrap_or_default();
            return Err(format!(
                "unknown format symbol %{{{name}}}{near}; known symbols: {}",
                known.join(", ")
            ));
        }
        if !text.is_empty() {
            pieces.push(Piece::Text(std::mem::take(&mut text)));
        }
        pieces.push(Piece::Symbol {
            name: name.to_string(),
            spec: spec.to_string(),
        });
        rest = &after[end + 1..];
    }
    text.push_str(rest);
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    Ok(pieces)
}

/// Applies a Python string format spec: `[[fill]align][width][.precision]`.
pub fn apply_spec(value: &str, spec: &str) -> Result<String, String> {
    if spec.is_empty() {
        return Ok(value.to_string());
    }
    let chars: Vec<char> = spec.chars().collect();
    let is_align = |c: char| matches!(c, '<' | '>' | '^');
    let (fill, align, mut i) = match chars.as_slice() {
        [f, a, ..] if is_align(*a) => (*f, *a, 2),
        [a, ..] if is_align(*a) => (' ', *a, 1),
        _ => (' ', '<', 0),
    };
    let width_start = i;
    while i < chars.len() && chars[i].is_ascii_digit() {
        i += 1;
    }
    let width: usize = chars[width_start..i].iter().collect::<String>().parse().unwrap_or(0);
    let mut precision = None;
    if i < chars.len() && chars[i] == '.' {
        let p_start = i + 1;
        i += 1;
        while i < chars.len() && chars[i].is_ascii_digit() {
            i += 1;
        }
        precision = chars[p_start..i].iter().collect::<String>().parse::<usize>().ok();
    }
    if i != chars.len() {
        return Err(format!("invalid format spec ':{spec}'"));
    }
    let mut text: String = match precision {
        Some(p) => value.chars().take(p).collect(),
        None => value.to_string(),
    };
    let len = text.chars().count();
    if len < width {
        let pad = width - len;
        let fill_str = |n: usize| std::iter::repeat_n(fill, n).collect::<String>();
        text = match align {
            '>' => format!("{}{text}", fill_str(pad)),
            '^' => format!("{}{text}{}", fill_str(pad / 2), fill_str(pad - pad / 2)),
            _ => format!("{text}{}", fill_str(pad)),
        };
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_symbols_specs_and_text() {
        let pieces = parse("%{state: >12} %{name}|100%", &["state", "name"]).unwrap();
        assert_eq!(
            pieces,
            vec![
                Piece::Symbol {
                    name: "state".into(),
                    spec: " >12".into()
                },
                Piece::Text(" ".into()),
                Piece::Symbol {
                    name: "name".into(),
                    spec: "".into()
                },
                Piece::Text("|100%".into()),
            ]
        );
        let err = parse("%{nme}", &["name"]).unwrap_err();
        assert!(err.contains("unknown format symbol %{nme}"), "{err}");
    }

    #[test]
    fn python_format_specs() {
        assert_eq!(apply_spec("cached", " >12").unwrap(), "      cached");
        assert_eq!(apply_spec("ab", "<4").unwrap(), "ab  ");
        assert_eq!(apply_spec("ab", "*^6").unwrap(), "**ab**");
        assert_eq!(apply_spec("abcdef", ".3").unwrap(), "abc");
        assert_eq!(apply_spec("ab", "5").unwrap(), "ab   ");
        assert!(apply_spec("ab", "x").is_err());
    }
}
