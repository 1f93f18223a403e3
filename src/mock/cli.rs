//! `ontap-conform mock`.
use crate::cli::MockArgs;
use crate::error::{Error, Result};

pub fn main(_args: MockArgs) -> Result<()> {
    Err(Error::Internal("the mock is being built".into()))
}
