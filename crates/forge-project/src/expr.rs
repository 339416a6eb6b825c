//! The `(?)` condition language: the part of Jinja2's `{% if %}` that
//! BuildStream projects use.
//!
//! `==`, `!=`, `in`, `not in`, `and`, `or`, `not`, parentheses, string,
//! boolean, integer and list literals, and option names. Bool options are
//! booleans, enum/arch/os options strings, flags options lists of strings.
//! An unknown name is an error, as with Jinja's StrictUndefined.

use std::fmt;

/// A value in a condition.
#[derive(Clone, Debug, PartialEq)]
pub enum ExprValue {
    /// A boolean (bool options, `True`, `False`).
    Bool(bool),
    /// A string (enum, arch, os options; quoted literals).
    Str(String),
    /// An integer literal.
    Int(i64),
    /// A list (flags and element-mask options; `[..]` literals).
    List(Vec<ExprValue>),
}

impl ExprValue {
    fn truthy(&self) -> bool {
        match self {
            ExprValue::Bool(b) => *b,
            ExprValue::Str(s) => !s.is_empty(),
            ExprValue::Int(i) => *i != 0,
            ExprValue::List(l) => !l.is_empty(),
        }
    }

    /// Python equality: `True == 1`, but never a string equal to a number.
    fn equals(&self, other: &ExprValue) -> bool {
        match (self, other) {
            (ExprValue::Bool(a), ExprValue::Int(b)) | (ExprValue::Int(b), ExprValue::Bool(a)) => i64::from(*a) == *b,
            _ => self == other,
        }
    }
}

impl fmt::Display for ExprValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExprValue::Bool(true) => write!(f, "True"),
            ExprValue::Bool(false) => write!(f, "False"),
            ExprValue::Str(s) => write!(f, "'{s}'"),
            ExprValue::Int(i) => write!(f, "{i}"),
            ExprValue::List(items) => {
                write!(f, "[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{item}")?;
                }
                write!(f, "]")
            }
        }
    }
}

/// Evaluates `expression`, looking names up with `lookup`.
pub fn evaluate(expression: &str, lookup: &dyn Fn(&str) -> Option<ExprValue>) -> Result<bool, String> {
    let tokens = tokenize(expression)?;
    let mut parser = Parser { tokens, pos: 0, lookup };
    let value = parser.or_expr()?;
    if parser.pos != parser.tokens.len() {
        return Err(format!("unexpected '{}'", parser.tokens[parser.pos]));
    }
    Ok(value.truthy())
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Name(String),
    Str(String),
    Int(i64),
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Token::Name(n) => write!(f, "{n}"),
            Token::Str(s) => write!(f, "'{s}'"),
            Token::Int(i) => write!(f, "{i}"),
            Token::Eq => write!(f, "=="),
            Token::Ne => write!(f, "!="),
            Token::Lt => write!(f, "<"),
            Token::Le => write!(f, "<="),
            Token::Gt => write!(f, ">"),
            Token::Ge => write!(f, ">="),
            Token::LParen => write!(f, "("),
            Token::RParen => write!(f, ")"),
            Token::LBracket => write!(f, "["),
            Token::RBracket => write!(f, "]"),
            Token::Comma => write!(f, ","),
        }
    }
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match c {
            c if c.is_whitespace() => i += 1,
            '(' | ')' | '[' | ']' | ',' => {
                tokens.push(match c {
                    '(' => Token::LParen,
                    ')' => Token::RParen,
                    '[' => Token::LBracket,
                    ']' => Token::RBracket,
                    _ => Token::Comma,
                });
                i += 1;
            }
            '=' | '!' | '<' | '>' => {
                let (token, width) = match (c, next) {
                    ('=', Some('=')) => (Token::Eq, 2),
                    ('!', Some('=')) => (Token::Ne, 2),
                    ('<', Some('=')) => (Token::Le, 2),
                    ('>', Some('=')) => (Token::Ge, 2),
                    ('<', _) => (Token::Lt, 1),
                    ('>', _) => (Token::Gt, 1),
                    _ => return Err(format!("unexpected '{c}' (comparisons are written '==' and '!=')")),
                };
                tokens.push(token);
                i += width;
            }
            '\'' | '"' => {
                let quote = c;
                let mut value = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err("unterminated string".into()),
                        Some('\\') => {
                            if let Some(escaped) = chars.get(i + 1) {
                                value.push(*escaped);
                            }
                            i += 2;
                        }
                        Some(&ch) if ch == quote => {
                            i += 1;
                            break;
                        }
                        Some(&ch) => {
                            value.push(ch);
                            i += 1;
                        }
                    }
                }
                tokens.push(Token::Str(value));
            }
            c if c.is_ascii_digit() => {
                let start = i;
                while i < chars.len() && chars[i].is_ascii_digit() {
                    i += 1;
                }
                let digits: String = chars[start..i].iter().collect();
                let value = digits.parse().map_err(|_| format!("number too large: {digits}"))?;
                tokens.push(Token::Int(value));
            }
            c if c.is_alphabetic() || c == '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                tokens.push(Token::Name(chars[start..i].iter().collect()));
            }
            other => return Err(format!("unexpected character '{other}'")),
        }
    }
    Ok(tokens)
}

struct Parser<'a> {
    tokens: Vec<Token>,
    pos: usize,
    lookup: &'a dyn Fn(&str) -> Option<ExprValue>,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn peek_name(&self, name: &str) -> bool {
        matches!(self.peek(), Some(Token::Name(n)) if n == name)
    }

    fn peek_name_at(&self, offset: usize, name: &str) -> bool {
        matches!(self.tokens.get(self.pos + offset), Some(Token::Name(n)) if n == name)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        token
    }

    fn expect(&mut self, token: Token) -> Result<(), String> {
        match self.next() {
            Some(t) if t == token => Ok(()),
            Some(t) => Err(format!("expected '{token}', found '{t}'")),
            None => Err(format!("expected '{token}' at the end")),
        }
    }

    fn or_expr(&mut self) -> Result<ExprValue, String> {
        let mut left = self.and_expr()?;
        while self.peek_name("or") {
            self.pos += 1;
            let right = self.and_expr()?;
            left = ExprValue::Bool(left.truthy() || right.truthy());
        }
        Ok(left)
    }

    fn and_expr(&mut self) -> Result<ExprValue, String> {
        let mut left = self.not_expr()?;
        while self.peek_name("and") {
            self.pos += 1;
            let right = self.not_expr()?;
            left = ExprValue::Bool(left.truthy() && right.truthy());
        }
        Ok(left)
    }

    fn not_expr(&mut self) -> Result<ExprValue, String> {
        if self.peek_name("not") {
            self.pos += 1;
            let value = self.not_expr()?;
            return Ok(ExprValue::Bool(!value.truthy()));
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<ExprValue, String> {
        let left = self.primary()?;
        let negate_in = self.peek_name("not") && self.peek_name_at(1, "in");
        if self.peek_name("in") || negate_in {
            self.pos += if negate_in { 2 } else { 1 };
            let right = self.primary()?;
            let found = contains(&right, &left)?;
            return Ok(ExprValue::Bool(found != negate_in));
        }
        let op = match self.peek() {
            Some(t @ (Token::Eq | Token::Ne | Token::Lt | Token::Le | Token::Gt | Token::Ge)) => t.clone(),
            _ => return Ok(left),
        };
        self.pos += 1;
        let right = self.primary()?;
        let result = match op {
            Token::Eq => left.equals(&right),
            Token::Ne => !left.equals(&right),
            _ => {
                let ordering = match (&left, &right) {
                    (ExprValue::Int(a), ExprValue::Int(b)) => a.cmp(b),
                    (ExprValue::Str(a), ExprValue::Str(b)) => a.cmp(b),
                    _ => return Err(format!("cannot order {left} and {right}")),
                };
                match op {
                    Token::Lt => ordering.is_lt(),
                    Token::Le => ordering.is_le(),
                    Token::Gt => ordering.is_gt(),
                    _ => ordering.is_ge(),
                }
            }
        };
        Ok(ExprValue::Bool(result))
    }

    fn primary(&mut self) -> Result<ExprValue, String> {
        match self.next() {
            Some(Token::LParen) => {
                // A parenthesised expression, or a tuple as in Jinja2:
                // `()`, `(a,)`, `(a, b)`.
                if self.peek() == Some(&Token::RParen) {
                    self.pos += 1;
                    return Ok(ExprValue::List(Vec::new()));
                }
                let first = self.or_expr()?;
                if self.peek() != Some(&Token::Comma) {
                    self.expect(Token::RParen)?;
                    return Ok(first);
                }
                let mut items = vec![first];
                loop {
                    match self.next() {
                        Some(Token::Comma) if self.peek() == Some(&Token::RParen) => {
                            self.pos += 1;
                            break;
                        }
                        Some(Token::Comma) => items.push(self.or_expr()?),
                        Some(Token::RParen) => break,
                        _ => return Err("expected ',' or ')' in a tuple".into()),
                    }
                }
                Ok(ExprValue::List(items))
            }
            Some(Token::LBracket) => {
                let mut items = Vec::new();
                if self.peek() == Some(&Token::RBracket) {
                    self.pos += 1;
                    return Ok(ExprValue::List(items));
                }
                loop {
                    items.push(self.or_expr()?);
                    match self.next() {
                        Some(Token::Comma) => continue,
                        Some(Token::RBracket) => break,
                        _ => return Err("expected ',' or ']' in a list".into()),
                    }
                }
                Ok(ExprValue::List(items))
            }
            Some(Token::Str(s)) => Ok(ExprValue::Str(s)),
            Some(Token::Int(i)) => Ok(ExprValue::Int(i)),
            Some(Token::Name(name)) => match name.as_str() {
                "True" | "true" => Ok(ExprValue::Bool(true)),
                "False" | "false" => Ok(ExprValue::Bool(false)),
                "and" | "or" | "not" | "in" => Err(format!("unexpected '{name}'")),
                _ => (self.lookup)(&name).ok_or_else(|| format!("'{name}' is undefined")),
            },
            Some(token) => Err(format!("unexpected '{token}'")),
            None => Err("unexpected end of expression".into()),
        }
    }
}

fn contains(haystack: &ExprValue, needle: &ExprValue) -> Result<bool, String> {
    match (haystack, needle) {
        (ExprValue::List(items), _) => Ok(items.iter().any(|i| i.equals(needle))),
        (ExprValue::Str(h), ExprValue::Str(n)) => Ok(h.contains(n.as_str())),
        _ => Err(format!("cannot test whether {needle} is in {haystack}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(expression: &str) -> Result<bool, String> {
        let lookup = |name: &str| match name {
            "debug" => Some(ExprValue::Bool(true)),
            "release" => Some(ExprValue::Bool(false)),
            "arch" => Some(ExprValue::Str("x86-64".into())),
            "flags" => Some(ExprValue::List(vec![
                ExprValue::Str("docs".into()),
                ExprValue::Str("tests".into()),
            ])),
            _ => None,
        };
        evaluate(expression, &lookup)
    }

    #[test]
    fn comparisons_and_logic() {
        assert_eq!(eval("arch == 'x86-64'"), Ok(true));
        assert_eq!(eval("arch != \"x86-64\""), Ok(false));
        assert_eq!(eval("debug"), Ok(true));
        assert_eq!(eval("not release"), Ok(true));
        assert_eq!(eval("debug and release"), Ok(false));
        assert_eq!(eval("debug and not release"), Ok(true));
        assert_eq!(eval("release or arch == 'aarch64'"), Ok(false));
        assert_eq!(eval("(release or debug) and arch == 'x86-64'"), Ok(true));
        assert_eq!(eval("debug == True"), Ok(true));
        assert_eq!(eval("release == false"), Ok(true));
        assert_eq!(eval("not (debug and release) and not release"), Ok(true));
    }

    #[test]
    fn membership() {
        assert_eq!(eval("'docs' in flags"), Ok(true));
        assert_eq!(eval("'man' in flags"), Ok(false));
        assert_eq!(eval("'man' not in flags"), Ok(true));
        assert_eq!(eval("arch in ['x86-64', 'aarch64']"), Ok(true));
        assert_eq!(eval("'86' in arch"), Ok(true));
        assert_eq!(eval("arch in ('i686', 'x86-64')"), Ok(true));
        assert_eq!(eval("arch in ('i686',)"), Ok(false));
        assert_eq!(eval("arch not in ()"), Ok(true));
    }

    #[test]
    fn precedence_is_not_over_and_over_or() {
        // or binds loosest: True or (False and False)
        assert_eq!(eval("debug or release and release"), Ok(true));
        assert_eq!(eval("not debug or debug"), Ok(true));
    }

    #[test]
    fn errors() {
        assert_eq!(eval("bogus == 1"), Err("'bogus' is undefined".into()));
        assert!(eval("arch = 'x'").unwrap_err().contains("'=='"));
        assert!(eval("(debug").unwrap_err().contains("expected ')'"));
        assert!(eval("debug debug").unwrap_err().contains("unexpected"));
        assert!(eval("'unterminated").unwrap_err().contains("unterminated"));
        assert!(eval("").unwrap_err().contains("end of expression"));
    }
}
