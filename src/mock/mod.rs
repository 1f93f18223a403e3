//! The reference ONTAP mock: the harness's default target and a product in itself, for testing
//! Ansible playbooks, Terraform plans and scripts without a cluster. It serves every endpoint of
//! the catalog generically from `specs/` (one handler, one query engine), the discovery endpoints
//! by hand, HTTPS with Basic auth and two roles, fault switches that each break one rule, and
//! variant switches that each show one freedom a conformant ONTAP has.
//!
//! A request goes `handler` (auth, body, routing, reads/writes on the `store` through the `query`
//! engine) -> a `reply` that keeps the contract -> `rewrite` (the faults and variants that only
//! bend an answer) -> the wire. `errors` holds the mock's own copy of ONTAP's error codes.
//!
//! The files depend one way, each only on those below it (none on `handler`, `server` or this
//! file): `faults` (the fault switches and their layers), `variants`, `errors` and `keys` at the
//! bottom; `query/` on those; `store` on `query` (it keeps each record's rendered pieces);
//! `reply` on `query` and `errors`; `rewrite` on `reply`, `query` and the switches; `handler/`
//! on all of them; `server` on `handler` (through [`app`]) and `lenient`. `synth` and `scale`
//! make data sets from the contract alone.
//!
//! [`app`] builds the axum router (in-process tests); [`spawn`] serves it on a socket (the CLI,
//! integration tests, the engine's embedded target).

mod config;
pub mod errors;
pub mod faults;
mod handler;
mod keys;
mod lenient;
pub mod query;
mod reply;
mod rewrite;
pub mod scale;
mod server;
pub mod store;
pub mod synth;
pub mod variants;

pub use config::{
    DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_CONNECTIONS, DEFAULT_PASSWORD, DEFAULT_VERSION, DataSetError,
    MockConfig, Role, User, default_data_set, load_data_set, read_data_set,
};
pub use faults::{Fault, UnknownName};
pub use server::{RunningMock, Tls, spawn};
pub use variants::Variant;

use crate::error::Result;
use std::sync::Arc;

/// The axum app (for in-process tests with tower::ServiceExt::oneshot).
pub fn app(config: MockConfig) -> Result<axum::Router> {
    let mock = handler::Mock::new(config)?;
    Ok(handler::router(Arc::new(mock)))
}
