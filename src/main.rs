//! The `ontap-conform` binary: parse the command line, hand it to the library, map the outcome to
//! an exit code.
use std::process::ExitCode;

fn main() -> ExitCode {
    ontap_conform::cli::main()
}
