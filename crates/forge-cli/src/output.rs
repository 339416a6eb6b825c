//! How much forge says on stderr, and in which colours: `-q`, `-v` and
//! `--color`, decided once from the command line.

use std::io::IsTerminal;
use std::sync::OnceLock;

use clap::ValueEnum;

/// `--color`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorWhen {
    /// When stderr is a terminal, `NO_COLOR` is unset and `TERM` is not
    /// `dumb`.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

struct Settings {
    quiet: bool,
    verbose: bool,
    color: bool,
}

static SETTINGS: OnceLock<Settings> = OnceLock::new();

/// Fixes the settings for this run (the first call wins).
pub fn init(quiet: bool, verbose: bool, color: ColorWhen) {
    let color = match color {
        ColorWhen::Always => true,
        ColorWhen::Never => false,
        ColorWhen::Auto => {
            std::io::stderr().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::env::var("TERM").map_or(true, |t| t != "dumb")
        }
    };
    let _ = SETTINGS.set(Settings { quiet, verbose, color });
}

fn settings() -> &'static Settings {
    SETTINGS.get_or_init(|| Settings {
        quiet: false,
        verbose: false,
        color: false,
    })
}

/// `-q`: only warnings and errors (and what a command prints as its
/// result, on stdout).
pub fn quiet() -> bool {
    settings().quiet
}

/// `-v`: also where each log and each download went.
pub fn verbose() -> bool {
    settings().verbose
}

/// Whether to colour stderr.
pub fn color() -> bool {
    settings().color
}

/// A status tag (`[  ok  ]`, `[FAILED]`, `error:` …) in its colour.
pub fn tag(text: &str, kind: Tone) -> String {
    if !color() {
        return text.to_string();
    }
    let code = match kind {
        Tone::Good => "32",
        Tone::Bad => "1;31",
        Tone::Warn => "33",
        Tone::Dim => "2",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

/// The colour of a tag.
#[derive(Clone, Copy)]
pub enum Tone {
    /// Done, cached.
    Good,
    /// Failed, errors.
    Bad,
    /// Warnings.
    Warn,
    /// Detail.
    Dim,
}
