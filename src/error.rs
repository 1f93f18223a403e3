//! Errors that end a command, one kind per exit code scripts rely on (the command line maps each
//! kind to its code: a check failed, usage or configuration, the target could not be reached or
//! is not ONTAP-like, drift against a recorded baseline, the target was left changed).

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
    /// Another run holds the target's lock: nothing was sent (exit 3).
    #[error("target busy: {0}")]
    Busy(String),
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
    pub fn io(path: impl AsRef<std::path::Path>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.as_ref().display().to_string(),
            source,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
