//! Runs of the engine from a test.

use ontap_conform::report::Report;
use ontap_conform::run::config::RunConfig;

/// Runs `cfg` to the end on a runtime of its own (the runtime's default worker count) and
/// returns its report; panics if the run cannot complete.
pub fn report(cfg: &RunConfig) -> Report {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(ontap_conform::run::execute(cfg))
        .expect("the run completes")
        .report
}
