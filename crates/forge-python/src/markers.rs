//! PEP 508 environment markers (`; sys_platform == "win32"`), evaluated
//! for the Linux target a project builds for, never for the host.

use crate::Version;

/// What markers are evaluated against.
#[derive(Clone, Debug, Default)]
pub struct MarkerEnv {
    /// `python_version` (`3.11`), when the project declares its target.
    pub python: Option<(u32, u32)>,
    /// `platform_machine` (`x86_64`), when the project declares its target.
    pub machine: Option<String>,
    /// `extra`: the extra whose requirements are being read, if any.
    pub extra: Option<String>,
}

impl MarkerEnv {
    fn value(&self, variable: &str) -> Result<String, String> {
        let python = || {
            self.python.ok_or_else(|| {
                format!(
                    "'{variable}' needs the project's Python target (sources: pypi: config: target: python: '3.11')"
                )
            })
        };
        Ok(match variable {
            "python_version" => {
                let (major, minor) = python()?;
                format!("{major}.{minor}")
            }
            // The patch release is not part of a target: the first of the series.
            "python_full_version" | "implementation_version" => {
                let (major, minor) = python()?;
                format!("{major}.{minor}.0")
            }
            "sys_platform" => "linux".into(),
            "platform_system" => "Linux".into(),
            "os_name" => "posix".into(),
            "platform_machine" => self.machine.clone().ok_or_else(|| {
                format!("'{variable}' needs the project's Python target (sources: pypi: config: target: arch:)")
            })?,
            "implementation_name" => "cpython".into(),
            "platform_python_implementation" => "CPython".into(),
            "extra" => self.extra.clone().unwrap_or_default(),
            "platform_release" | "platform_version" => {
                return Err(format!(
                    "'{variable}' depends on the machine a build runs on; forge does not guess it"
                ));
            }
            other => return Err(format!("unknown marker variable '{other}'")),
        })
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Word(String),
    Quoted(String),
    Op(String),
    Open,
    Close,
}

fn tokens(text: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '(' || c == ')' {
            out.push(if c == '(' { Token::Open } else { Token::Close });
            i += 1;
        } else if c == '"' || c == '\'' {
            let end = chars[i + 1..]
                .iter()
                .position(|&d| d == c)
                .ok_or("a quoted value is not closed")?;
            out.push(Token::Quoted(chars[i + 1..i + 1 + end].iter().collect()));
            i += end + 2;
        } else if "<>=!~".contains(c) {
            let mut op = String::new();
            while i < chars.len() && "<>=!~".contains(chars[i]) {
                op.push(chars[i]);
                i += 1;
            }
            out.push(Token::Op(op));
        } else {
            let mut word = String::new();
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '.') {
                word.push(chars[i]);
                i += 1;
            }
            if word.is_empty() {
                return Err(format!("unexpected '{c}'"));
            }
            out.push(Token::Word(word));
        }
    }
    Ok(out)
}

struct Parser<'a> {
    tokens: Vec<Token>,
    at: usize,
    env: &'a MarkerEnv,
}

impl Parser<'_> {
    fn peek_word(&self, word: &str) -> bool {
        matches!(self.tokens.get(self.at), Some(Token::Word(w)) if w == word)
    }

    fn or(&mut self) -> Result<bool, String> {
        let mut value = self.and()?;
        while self.peek_word("or") {
            self.at += 1;
            value |= self.and()?;
        }
        Ok(value)
    }

    fn and(&mut self) -> Result<bool, String> {
        let mut value = self.atom()?;
        while self.peek_word("and") {
            self.at += 1;
            value &= self.atom()?;
        }
        Ok(value)
    }

    fn atom(&mut self) -> Result<bool, String> {
        if self.tokens.get(self.at) == Some(&Token::Open) {
            self.at += 1;
            let value = self.or()?;
            if self.tokens.get(self.at) != Some(&Token::Close) {
                return Err("a '(' is not closed".into());
            }
            self.at += 1;
            return Ok(value);
        }
        let left = self.operand()?;
        let op = match self.tokens.get(self.at).cloned() {
            Some(Token::Op(op)) => op,
            Some(Token::Word(w)) if w == "in" => "in".into(),
            Some(Token::Word(w)) if w == "not" => {
                self.at += 1;
                if !self.peek_word("in") {
                    return Err("'not' must be followed by 'in'".into());
                }
                "not in".into()
            }
            _ => return Err("a comparison is missing its operator".into()),
        };
        self.at += 1;
        let right = self.operand()?;
        compare(&left, &op, &right)
    }

    /// A quoted value, or a variable's.
    fn operand(&mut self) -> Result<String, String> {
        let token = self.tokens.get(self.at).cloned().ok_or("a marker ends too early")?;
        self.at += 1;
        match token {
            Token::Quoted(text) => Ok(text),
            Token::Word(name) => self.env.value(&name),
            _ => Err("a value is missing".into()),
        }
    }
}

fn compare(left: &str, op: &str, right: &str) -> Result<bool, String> {
    if op == "in" || op == "not in" {
        return Ok(right.contains(left) == (op == "in"));
    }
    // PEP 508: versions compare as versions where both sides are ones.
    if let (Ok(a), Ok(b)) = (left.parse::<Version>(), right.parse::<Version>())
        && op != "==="
    {
        return Ok(match op {
            "==" => a == b,
            "!=" => a != b,
            "<" => a < b,
            "<=" => a <= b,
            ">" => a > b,
            ">=" => a >= b,
            "~=" => {
                let spec: crate::VersionSpecifiers =
                    format!("~={right}").parse().map_err(|e| format!("'~={right}': {e}"))?;
                spec.contains(&a)
            }
            other => return Err(format!("unknown operator '{other}'")),
        });
    }
    match op {
        "==" | "===" => Ok(left == right),
        "!=" => Ok(left != right),
        other => Err(format!(
            "'{other}' compares versions, and '{left}' or '{right}' is not one"
        )),
    }
}

/// Whether `marker` holds for `env`; an error says what cannot be
/// evaluated.
pub fn evaluate(marker: &str, env: &MarkerEnv) -> Result<bool, String> {
    let mut parser = Parser {
        tokens: tokens(marker)?,
        at: 0,
        env,
    };
    let value = parser.or()?;
    if parser.at != parser.tokens.len() {
        return Err("the marker goes on after its end".into());
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> MarkerEnv {
        MarkerEnv {
            python: Some((3, 11)),
            machine: Some("x86_64".into()),
            ..Default::default()
        }
    }

    #[test]
    fn markers_evaluate_for_the_target() {
        let yes = |m: &str| evaluate(m, &env()).unwrap();
        assert!(!yes("sys_platform == \"win32\""));
        assert!(yes("sys_platform == 'linux' and python_version >= \"3.8\""));
        assert!(!yes("python_version < \"3.10\""));
        assert!(yes("python_version < \"3.12\" or os_name == 'nt'"));
        assert!(yes(
            "(platform_system == 'Windows' or platform_machine == 'x86_64') and extra == ''"
        ));
        assert!(yes("'linux' in sys_platform"));
        assert!(!yes("platform_machine not in 'x86_64 amd64'"));
        assert!(yes("python_full_version >= '3.11.0'"));
        assert!(yes("python_version ~= '3.9'"));
    }

    #[test]
    fn what_cannot_be_evaluated_is_said() {
        let no_target = MarkerEnv {
            python: None,
            machine: Some("x86_64".into()),
            ..Default::default()
        };
        assert!(
            evaluate("python_version >= '3.8'", &no_target)
                .unwrap_err()
                .contains("Python target")
        );
        assert!(evaluate("sys_platform == 'linux'", &no_target).unwrap());
        assert!(evaluate("platform_release >= '5'", &env()).is_err());
        assert!(evaluate("sys_platform ==", &env()).is_err());
        assert!(evaluate("(sys_platform == 'linux'", &env()).is_err());
        assert!(
            evaluate("nosuch == 'x'", &env())
                .unwrap_err()
                .contains("unknown marker variable")
        );
    }
}
