//! ontap-conform: a contract-conformance harness for ONTAP's REST API.
//!
//! The contract is data ([`spec`]); the reference [`mock`] serves it; the engine ([`run`])
//! generates requests from it, judges every exchange with named checks and reports the verdict.

pub mod checks;
pub mod cli;
pub mod client;
pub mod error;
pub mod fsutil;
pub mod generate;
pub mod mock;
pub mod report;
pub mod run;
pub mod spec;
