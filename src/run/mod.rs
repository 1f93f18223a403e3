//! The conformance engine.
use crate::cli::{DiffArgs, RunArgs};
use crate::error::{Error, Result};

pub fn cli_main(_args: RunArgs) -> Result<()> {
    Err(Error::Internal("the engine is being built".into()))
}

pub fn diff_main(_args: DiffArgs) -> Result<()> {
    Err(Error::Internal("diff is being built".into()))
}
