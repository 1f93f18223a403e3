//! ontap-conform: a contract-conformance harness for ONTAP's REST API.
//!
//! The contract is data ([`spec`]); the reference [`mock`] serves it; the engine ([`run`])
//! generates requests from it, judges every exchange with named checks and reports the verdict.

pub mod cli;
pub mod error;
pub mod fsutil;
pub mod mock;
pub mod run;
pub mod spec;
