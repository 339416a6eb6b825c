//! Exit codes: one per class of failure, documented in docs/commands.md.

use forge_project::LoadError;

pub use forge_project::error::printable;

/// Why forge stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitClass {
    /// A command line forge cannot act on (clap uses 2 as well).
    Usage = 2,
    /// The project or an element does not load.
    Load = 3,
    /// A source could not be fetched, tracked or staged.
    Fetch = 4,
    /// An element failed to build.
    #[allow(dead_code)]
    Build = 5,
    /// A trust check refused: `forge audit` found what `--fail-on` names,
    /// or a pinned release is reported as malicious.
    Trust = 6,
    /// Anything else: I/O on forge's own files, a bug.
    Internal = 70,
}

/// A failure to report: the message and the exit code.
#[derive(Debug)]
pub struct Failure {
    /// Printed after `error: `.
    pub message: String,
    /// The process exit code.
    pub code: ExitClass,
}

impl Failure {
    /// A usage error.
    pub fn usage(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            code: ExitClass::Usage,
        }
    }
}

impl Failure {
    /// A source failure.
    pub fn fetch(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            code: ExitClass::Fetch,
        }
    }

    /// A trust check's refusal.
    pub fn trust(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            code: ExitClass::Trust,
        }
    }

    /// An internal failure.
    pub fn internal(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            code: ExitClass::Internal,
        }
    }
}

impl From<LoadError> for Failure {
    fn from(err: LoadError) -> Failure {
        Failure {
            message: err.to_string(),
            code: ExitClass::Load,
        }
    }
}
