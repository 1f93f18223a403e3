//! Errors that end a command, each carrying the exit code scripts rely on (hurl's convention):
//! 1 a check failed, 2 usage or configuration, 3 the target could not be reached or is not
//! ONTAP-like, 4 drift against a recorded baseline, 5 the target was left changed (wins over 1).

use crate::spec::SpecError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad flags, a bad config file, a bad argument value.
    #[error("{0}")]
    Usage(String),
    /// A defect in `specs/` (or the directory given with `--specs`).
    #[error("invalid contract: {0}")]
    Spec(#[from] SpecError),
    /// `--contract` named no contract, or one that could not be read.
    #[error("{0}")]
    Contract(#[from] crate::spec::ContractError),
    /// A file that could not be read or written.
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    /// The target could not be reached or does not answer like ONTAP.
    #[error("target unreachable: {0}")]
    Unreachable(String),
    /// The run stopped before the end (the deadline, --max-failures, the transport): exit 3
    /// like an unreachable target, with the true reason.
    #[error("stopped early: {0}")]
    Stopped(String),
    /// At least one check failed (or, with --strict, warned).
    #[error("{0}")]
    Failed(String),
    /// The target drifted from a recorded baseline.
    #[error("{0}")]
    Drift(String),
    /// The target was left changed: a record the run changed could not be proved restored.
    #[error("{0}")]
    Changed(String),
    /// A failure inside the harness itself (for example, the built-in mock could not start).
    #[error("{0}")]
    Internal(String),
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Failed(_) => 1,
            Error::Usage(_) | Error::Spec(_) | Error::Contract(_) | Error::Io { .. } => 2,
            Error::Unreachable(_) | Error::Stopped(_) => 3,
            Error::Drift(_) => 4,
            Error::Changed(_) => 5,
            Error::Internal(_) => 70,
        }
    }
    pub fn io(path: impl AsRef<std::path::Path>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.as_ref().display().to_string(),
            source,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
