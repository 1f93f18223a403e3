//! ontap-conform: a contract-conformance harness for ONTAP's REST API.
//!
//! Data flows one way: the contract ([`spec`]) feeds the generators ([`generate`]); the
//! [`client`] sends what the [`checks`] ask and they judge the answers; before a check changes a
//! record, [`undo`] writes it down, and it puts every record back; the engine ([`run`]) plans and
//! drives the checks and hands the [`verdict`]s to the [`report`]. [`redact`] and [`record`]
//! serve every stage; the reference [`mock`] serves the same contract as a target. [`undo`] sits
//! between the client and the checks: it imports neither the checks nor the engine, which call
//! into it.
//! The command line is not part of the library: it lives with the binary (`src/cli/`, a module
//! of `src/main.rs`), the only code that knows about flags, the environment, the terminal and
//! exit codes. The library prints nothing and never ends the process; a run tells what happens
//! as [`run::events`].

pub mod checks;
pub mod client;
pub mod error;
pub mod fsutil;
pub mod generate;
pub mod mock;
pub mod query_semantics;
pub mod record;
pub mod redact;
pub mod report;
pub mod run;
pub mod spec;
pub mod undo;
pub mod verdict;
