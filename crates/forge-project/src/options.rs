//! Project options (`options:` in project.conf, `-o NAME VALUE` on the
//! command line): declarations, values, and their use in conditions and
//! variables.

use forge_yaml::{Mapping, Node, Span};

use crate::error::{LoadError, check_keys, did_you_mean};
use crate::expr::ExprValue;

/// What values an option takes.
#[derive(Clone, Debug)]
pub enum OptionType {
    /// `True`/`False`; exported as `1`/`0`.
    Bool,
    /// One of `values`.
    Enum(Vec<String>),
    /// A subset of `values`; exported sorted, comma-joined.
    Flags(Vec<String>),
    /// One of `values`, defaulting to the host architecture.
    Arch(Vec<String>),
    /// One of `values`, defaulting to the host OS.
    Os(Vec<String>),
    /// A list of element names.
    ElementMask,
}

/// The current value of an option.
#[derive(Clone, Debug, PartialEq)]
pub enum OptionValue {
    /// A bool option's value.
    Bool(bool),
    /// An enum, arch or os option's value.
    Str(String),
    /// A flags or element-mask option's value.
    List(Vec<String>),
}

/// One declared option and its value.
#[derive(Clone, Debug)]
pub struct ProjectOption {
    /// The option name.
    pub name: String,
    /// Where it is declared.
    pub span: Span,
    /// What it accepts.
    pub ty: OptionType,
    /// The variable it is exported as, if any.
    pub variable: Option<String>,
    /// Its description (required, as in BuildStream).
    pub description: String,
    /// Its value after defaults and the command line.
    pub value: OptionValue,
}

/// All options of a project.
#[derive(Clone, Debug, Default)]
pub struct OptionPool {
    options: Vec<ProjectOption>,
}

/// BuildStream's canonical name of an architecture, whatever spelling a
/// project or a machine uses (`x86_64`, `amd64`, `AMD64` → `x86-64`);
/// `None` for a name BuildStream does not know.
pub fn canonicalize_arch(arch: &str) -> Option<&'static str> {
    Some(match arch.replace('_', "-").to_lowercase().as_str() {
        "aarch32" | "arm" => "aarch32",
        "aarch64" | "armv8l" => "aarch64",
        "aarch64-be" | "armv8b" => "aarch64-be",
        "amd64" | "x86-64" => "x86-64",
        "i386" | "i486" | "i586" | "i686" | "x86-32" => "x86-32",
        "la64v100" | "loong64" | "loongarch64" => "la64v100",
        "power-isa-be" | "powerpc" | "powerpc64" | "ppc64" => "power-isa-be",
        "power-isa-le" | "powerpc64le" | "ppc64le" => "power-isa-le",
        "riscv32" | "rv32g" => "rv32g",
        "riscv64" | "rv64g" => "rv64g",
        "sparc" | "sparc64" | "sparc-v9" | "sun4v" => "sparc-v9",
        _ => return None,
    })
}

/// The host architecture in BuildStream's canonical spelling.
pub fn host_arch() -> &'static str {
    canonicalize_arch(std::env::consts::ARCH).unwrap_or(std::env::consts::ARCH)
}

/// The host OS as Python's `platform.uname().system` spells it.
pub fn host_os() -> &'static str {
    match std::env::consts::OS {
        "linux" => "Linux",
        "macos" => "Darwin",
        "freebsd" => "FreeBSD",
        other => other,
    }
}

fn str_list(node: &Node, what: &str) -> Result<Vec<String>, LoadError> {
    let items = node
        .as_list()
        .ok_or_else(|| LoadError::at(&node.span, format!("{what} must be a list, not {}", node.type_name())))?;
    items
        .iter()
        .map(|item| {
            item.as_str()
                .map(str::to_string)
                .ok_or_else(|| LoadError::at(&item.span, format!("{what} must be a list of strings")))
        })
        .collect()
}

fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "True" | "true" | "1" => Some(true),
        "False" | "false" | "0" => Some(false),
        _ => None,
    }
}

fn is_option_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl OptionPool {
    /// Reads the `options:` mapping of project.conf. `element_exists` tells
    /// whether an element-mask value names a real element.
    pub fn load(declarations: &Mapping, element_exists: &dyn Fn(&str) -> bool) -> Result<OptionPool, LoadError> {
        let mut options = Vec::new();
        for (key, decl) in declarations.iter() {
            if !is_option_name(&key.name) {
                return Err(LoadError::at(&key.span, format!("invalid option name '{}'", key.name))
                    .with_hint("option names are letters, digits and '_' (no dashes), not starting with a digit"));
            }
            let map = decl
                .as_map()
                .ok_or_else(|| LoadError::at(&decl.span, format!("option '{}' must be a mapping", key.name)))?;
            options.push(load_option(&key.name, &key.span, map, element_exists)?);
        }
        Ok(OptionPool { options })
    }

    /// Sets an option from `-o NAME VALUE`.
    /// Whether the project declares option `name`.
    pub fn declares(&self, name: &str) -> bool {
        self.options.iter().any(|o| o.name == name)
    }

    pub fn set_from_cli(&mut self, name: &str, value: &str) -> Result<(), LoadError> {
        let Some(option) = self.options.iter_mut().find(|o| o.name == name) else {
            let names: Vec<&str> = self.options.iter().map(|o| o.name.as_str()).collect();
            let mut err = LoadError::new(format!("unknown option '{name}' given on the command line"));
            err = match did_you_mean(name, names.iter().copied()) {
                Some(near) => err.with_hint(format!("did you mean '{near}'?")),
                None if names.is_empty() => err.with_hint("this project declares no options"),
                None => err.with_hint(format!("the project's options are: {}", names.join(", "))),
            };
            return Err(err);
        };
        // As BuildStream: blanks go, every comma-separated item counts (an
        // empty one is invalid), and the command line's list is sorted.
        let list = || -> Vec<String> {
            let compact: String = value.chars().filter(|c| !c.is_whitespace()).collect();
            let mut items: Vec<String> = compact.split(',').map(str::to_string).collect();
            items.sort();
            items
        };
        let new_value = match &option.ty {
            OptionType::Bool => OptionValue::Bool(match value {
                "True" | "true" => true,
                "False" | "false" => false,
                _ => {
                    return Err(
                        LoadError::new(format!("invalid value for bool option '{name}': {value}"))
                            .with_hint("valid values: True, False"),
                    );
                }
            }),
            OptionType::Enum(_) | OptionType::Arch(_) | OptionType::Os(_) => OptionValue::Str(value.to_string()),
            OptionType::Flags(_) | OptionType::ElementMask => OptionValue::List(list()),
        };
        check_value(name, &option.ty, &new_value, None, &|_| true)?;
        option.value = new_value;
        Ok(())
    }

    /// Checks the values of `arch` and `os` options that still hold the
    /// host's: a project that does not list the host must be given a value.
    pub fn check_host_defaults(&self) -> Result<(), LoadError> {
        for option in &self.options {
            if let OptionType::Arch(values) | OptionType::Os(values) = &option.ty
                && let OptionValue::Str(value) = &option.value
                && !values.contains(value)
            {
                let what = if matches!(option.ty, OptionType::Arch(_)) {
                    "arch"
                } else {
                    "os"
                };
                return Err(LoadError::at(
                    &option.span,
                    format!(
                        "invalid value for {what} option '{}': this machine's {value} is not one of the project's values",
                        option.name
                    ),
                )
                .with_hint(format!(
                    "choose one with -o {} VALUE; valid values: {}",
                    option.name,
                    values.join(", ")
                )));
            }
        }
        Ok(())
    }

    /// The value of `name` for conditions.
    pub fn lookup(&self, name: &str) -> Option<ExprValue> {
        let option = self.options.iter().find(|o| o.name == name)?;
        Some(match &option.value {
            OptionValue::Bool(b) => ExprValue::Bool(*b),
            OptionValue::Str(s) => ExprValue::Str(s.clone()),
            OptionValue::List(items) => ExprValue::List(items.iter().cloned().map(ExprValue::Str).collect()),
        })
    }

    /// The variables that options export, as `(name, value)`.
    pub fn exported_variables(&self) -> Vec<(String, String)> {
        self.options
            .iter()
            .filter_map(|o| {
                let variable = o.variable.clone()?;
                let value = match &o.value {
                    OptionValue::Bool(b) => if *b { "1" } else { "0" }.to_string(),
                    OptionValue::Str(s) => s.clone(),
                    // A declared default keeps its order; values from the
                    // command line come sorted.
                    OptionValue::List(items) => items.join(","),
                };
                Some((variable, value))
            })
            .collect()
    }

    /// The declared options.
    pub fn iter(&self) -> impl Iterator<Item = &ProjectOption> {
        self.options.iter()
    }
}

fn load_option(
    name: &str,
    span: &Span,
    map: &Mapping,
    element_exists: &dyn Fn(&str) -> bool,
) -> Result<ProjectOption, LoadError> {
    let type_node = map.get("type").ok_or_else(|| {
        LoadError::at(span, format!("option '{name}' has no 'type'"))
            .with_hint("one of: bool, enum, flags, arch, os, element-mask")
    })?;
    let type_name = type_node.as_str().unwrap_or("");
    let common = ["type", "description", "variable"];
    let allowed: Vec<&str> = match type_name {
        "bool" | "enum" | "flags" => {
            let mut keys = common.to_vec();
            keys.push("default");
            if type_name != "bool" {
                keys.push("values");
            }
            keys
        }
        "arch" | "os" => {
            let mut keys = common.to_vec();
            keys.push("values");
            keys
        }
        "element-mask" => {
            let mut keys = common.to_vec();
            keys.push("default");
            keys
        }
        other => {
            let err = LoadError::at(&type_node.span, format!("unknown option type '{other}'"));
            return Err(
                match did_you_mean(other, ["bool", "enum", "flags", "arch", "os", "element-mask"]) {
                    Some(near) => err.with_hint(format!("did you mean '{near}'?")),
                    None => err.with_hint("one of: bool, enum, flags, arch, os, element-mask"),
                },
            );
        }
    };
    check_keys(map, &allowed, &format!("option '{name}'"))?;
    let description = map
        .get("description")
        .and_then(Node::as_str)
        .ok_or_else(|| LoadError::at(span, format!("option '{name}' has no 'description'")))?
        .to_string();
    let variable = map.get("variable").and_then(Node::as_str).map(str::to_string);
    let values = map.get("values").map(|n| str_list(n, "'values'")).transpose()?;
    let required_values = |values: Option<Vec<String>>| {
        values.ok_or_else(|| LoadError::at(span, format!("{type_name} option '{name}' needs 'values'")))
    };
    let ty = match type_name {
        "bool" => OptionType::Bool,
        "enum" => OptionType::Enum(required_values(values)?),
        "flags" => OptionType::Flags(required_values(values)?),
        "arch" => OptionType::Arch(required_values(values)?),
        "os" => OptionType::Os(required_values(values)?),
        _ => OptionType::ElementMask,
    };
    let default = map.get("default");
    let value = match (&ty, default) {
        (OptionType::Bool, Some(node)) => {
            let text = node.as_str().unwrap_or("");
            OptionValue::Bool(parse_bool(text).ok_or_else(|| {
                LoadError::at(&node.span, format!("invalid default for bool option '{name}': {text}"))
                    .with_hint("write True or False")
            })?)
        }
        (OptionType::Enum(_), Some(node)) => OptionValue::Str(
            node.as_str()
                .ok_or_else(|| LoadError::at(&node.span, "the default of an enum option must be a string"))?
                .to_string(),
        ),
        (OptionType::Flags(_) | OptionType::ElementMask, Some(node)) => {
            OptionValue::List(str_list(node, "the default")?)
        }
        (OptionType::Flags(_) | OptionType::ElementMask, None) => OptionValue::List(Vec::new()),
        (OptionType::Arch(values), _) => {
            // Every listed spelling must be an architecture; the default is
            // the first that means the host's, else the host's canonical
            // name (an error unless the command line picks a listed value).
            let listed = map.get("values").and_then(Node::as_list).unwrap_or_default();
            for (value, node) in values.iter().zip(listed) {
                if canonicalize_arch(value).is_none() {
                    return Err(LoadError::at(
                        &node.span,
                        format!("invalid value for arch option '{name}': unknown architecture '{value}'"),
                    )
                    .with_hint("use a name such as x86_64, aarch64, i686, ppc64le, riscv64 or loongarch64"));
                }
            }
            let host = host_arch();
            let spelled = values.iter().find(|v| canonicalize_arch(v) == Some(host));
            OptionValue::Str(spelled.cloned().unwrap_or_else(|| host.to_string()))
        }
        (OptionType::Os(_), _) => OptionValue::Str(host_os().to_string()),
        (_, None) => {
            return Err(LoadError::at(
                span,
                format!("{type_name} option '{name}' needs a 'default'"),
            ));
        }
    };
    // arch and os defaults come from the host: they are checked once the
    // command line had its say (OptionPool::check_host_defaults).
    if !matches!(ty, OptionType::Arch(_) | OptionType::Os(_)) {
        check_value(
            name,
            &ty,
            &value,
            default.map(|d| &d.span).or(Some(span)),
            element_exists,
        )?;
    }
    Ok(ProjectOption {
        name: name.to_string(),
        span: span.clone(),
        ty,
        variable,
        description,
        value,
    })
}

fn check_value(
    name: &str,
    ty: &OptionType,
    value: &OptionValue,
    span: Option<&Span>,
    element_exists: &dyn Fn(&str) -> bool,
) -> Result<(), LoadError> {
    let fail = |what: &str, bad: &str, valid: &[String]| {
        let shown = if bad.is_empty() { "''" } else { bad };
        let message = format!("invalid value for {what} option '{name}': {shown}");
        let err = match span {
            Some(span) => LoadError::at(span, message),
            None => LoadError::new(message),
        };
        err.with_hint(format!("valid values: {}", valid.join(", ")))
    };
    match (ty, value) {
        (OptionType::Enum(values), OptionValue::Str(s)) if !values.contains(s) => Err(fail("enum", s, values)),
        (OptionType::Arch(values), OptionValue::Str(s)) if !values.contains(s) => Err(fail("arch", s, values)),
        (OptionType::Os(values), OptionValue::Str(s)) if !values.contains(s) => Err(fail("os", s, values)),
        (OptionType::Flags(values), OptionValue::List(items)) => match items.iter().find(|i| !values.contains(i)) {
            Some(bad) => Err(fail("flags", bad, values)),
            None => Ok(()),
        },
        (OptionType::ElementMask, OptionValue::List(items)) => match items.iter().find(|i| !element_exists(i)) {
            Some(bad) => {
                let message =
                    format!("invalid value for element-mask option '{name}': {bad} is not an element of this project");
                Err(match span {
                    Some(span) => LoadError::at(span, message),
                    None => LoadError::new(message),
                })
            }
            None => Ok(()),
        },
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use forge_yaml::parse_str;

    const DECLS: &str = "\
debug:
  type: bool
  description: Debug build
  default: False
  variable: debug
flavour:
  type: enum
  description: Which flavour
  values: [plain, fancy]
  default: plain
  variable: flavour
extras:
  type: flags
  description: Extras
  values: [docs, tests, man]
  default: [tests, docs]
  variable: extras
machine:
  type: arch
  description: Target
  values: [x86-64, aarch64]
";

    fn pool() -> OptionPool {
        let node = parse_str("project.conf", DECLS).unwrap();
        OptionPool::load(node.as_map().unwrap(), &|_| true).unwrap()
    }

    #[test]
    fn defaults_and_exports() {
        let pool = pool();
        assert_eq!(pool.lookup("debug"), Some(ExprValue::Bool(false)));
        assert_eq!(pool.lookup("flavour"), Some(ExprValue::Str("plain".into())));
        assert_eq!(
            pool.exported_variables(),
            vec![
                ("debug".to_string(), "0".to_string()),
                ("flavour".to_string(), "plain".to_string()),
                ("extras".to_string(), "tests,docs".to_string()),
            ]
        );
        assert_eq!(pool.lookup("machine"), Some(ExprValue::Str(host_arch().into())));
    }

    #[test]
    fn arch_spellings() {
        assert_eq!(canonicalize_arch("amd64"), Some("x86-64"));
        assert_eq!(canonicalize_arch("X86_64"), Some("x86-64"));
        assert_eq!(canonicalize_arch("i686"), Some("x86-32"));
        assert_eq!(canonicalize_arch("ppc64le"), Some("power-isa-le"));
        assert_eq!(canonicalize_arch("riscv64"), Some("rv64g"));
        assert_eq!(canonicalize_arch("loongarch64"), Some("la64v100"));
        assert_eq!(canonicalize_arch("aarch64-be"), Some("aarch64-be"));
        assert_eq!(canonicalize_arch("arm64"), None);
    }

    #[test]
    fn arch_options_keep_the_listed_spelling() {
        let decl = "a:\n  type: arch\n  description: d\n  variable: a\n  values: [aarch64, x86_64, ppc64le, riscv64, loongarch64]\n";
        let node = parse_str("project.conf", decl).unwrap();
        let mut pool = OptionPool::load(node.as_map().unwrap(), &|_| true).unwrap();
        pool.check_host_defaults().unwrap();
        if host_arch() == "x86-64" {
            assert_eq!(pool.lookup("a"), Some(ExprValue::Str("x86_64".into())));
        }
        pool.set_from_cli("a", "riscv64").unwrap();
        assert_eq!(
            pool.exported_variables(),
            vec![("a".to_string(), "riscv64".to_string())]
        );
        assert!(
            pool.set_from_cli("a", "rv64g")
                .unwrap_err()
                .to_string()
                .contains("valid values: aarch64, x86_64")
        );

        // The host missing from the list fails only without -o.
        let decl = "a:\n  type: arch\n  description: d\n  values: [sparc64]\n";
        let node = parse_str("project.conf", decl).unwrap();
        let mut pool = OptionPool::load(node.as_map().unwrap(), &|_| true).unwrap();
        let err = pool.check_host_defaults().unwrap_err().to_string();
        assert!(err.contains("-o a VALUE"), "{err}");
        pool.set_from_cli("a", "sparc64").unwrap();
        pool.check_host_defaults().unwrap();

        let bad = parse_str(
            "project.conf",
            "a:\n  type: arch\n  description: d\n  values: [x86_64, arm64]\n",
        )
        .unwrap();
        let err = OptionPool::load(bad.as_map().unwrap(), &|_| true).unwrap_err();
        assert_eq!(err.span.map(|s| (s.line, s.col)), Some((4, 20)));
        assert!(err.message.contains("unknown architecture 'arm64'"), "{}", err.message);
    }

    #[test]
    fn command_line_values() {
        let mut pool = pool();
        pool.set_from_cli("debug", "True").unwrap();
        pool.set_from_cli("flavour", "fancy").unwrap();
        pool.set_from_cli("extras", "man,docs").unwrap();
        pool.set_from_cli("machine", "aarch64").unwrap();
        assert_eq!(pool.lookup("debug"), Some(ExprValue::Bool(true)));
        assert_eq!(pool.exported_variables()[2].1, "docs,man");
        assert_eq!(pool.lookup("machine"), Some(ExprValue::Str("aarch64".into())));
    }

    #[test]
    fn bad_values_are_errors() {
        let mut pool = pool();
        let err = pool.set_from_cli("flavour", "bogus").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid value for enum option 'flavour': bogus\n  hint: valid values: plain, fancy"
        );
        assert!(pool.set_from_cli("debug", "yes").is_err());
        assert_eq!(
            pool.set_from_cli("extras", "docs,").unwrap_err().to_string(),
            "invalid value for flags option 'extras': ''\n  hint: valid values: docs, tests, man"
        );
        pool.set_from_cli("extras", " tests , docs").unwrap();
        assert_eq!(pool.exported_variables()[2].1, "docs,tests");
        assert!(
            pool.set_from_cli("extras", "docs,bogus")
                .unwrap_err()
                .to_string()
                .contains("bogus")
        );
        let err = pool.set_from_cli("flavor", "plain").unwrap_err();
        assert!(err.to_string().contains("did you mean 'flavour'"), "{err}");
    }

    #[test]
    fn bad_declarations_are_errors() {
        let load = |text: &str| {
            let node = parse_str("project.conf", text).unwrap();
            OptionPool::load(node.as_map().unwrap(), &|e| e == "a.bst")
                .unwrap_err()
                .to_string()
        };
        assert!(load("x:\n  type: bol\n  description: d\n").contains("did you mean 'bool'"));
        assert!(load("x:\n  type: bool\n  description: d\n").contains("needs a 'default'"));
        assert!(load("x:\n  type: bool\n  default: maybe\n  description: d\n").starts_with("project.conf:3:12"));
        assert!(load("x:\n  type: enum\n  description: d\n  values: [a]\n  default: b\n").contains("valid values: a"));
        assert!(load("x:\n  type: bool\n  default: True\n").contains("no 'description'"));
        assert!(load("my-opt:\n  type: bool\n  default: True\n  description: d\n").contains("invalid option name"));
        assert!(load("m:\n  type: element-mask\n  description: d\n  default: [b.bst]\n").contains("not an element"));
    }
}
