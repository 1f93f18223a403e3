//! The `ontap-conform` binary: parse the command line, hand it to the library, map the outcome to
//! an exit code.
use std::process::ExitCode;

/// The harness and the mock allocate per request; mimalloc halves what glibc's allocator costs them.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    ontap_conform::cli::main()
}
