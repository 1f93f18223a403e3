//! The exit codes scripts rely on (hurl's convention), in one place. Usage errors ([`USAGE`]) end
//! a command before anything is sent; [`CHANGED`] wins over [`FAILED`].

use ontap_conform::error::Error;

/// No check failed.
pub const OK: u8 = 0;
/// A check failed (or, with `--strict`, warned).
pub const FAILED: u8 = 1;
/// Bad flags, a bad config file, a bad contract, a file that could not be read or written.
pub const USAGE: u8 = 2;
/// The target could not be reached or is not ONTAP-like, or the run stopped early.
pub const UNREACHABLE: u8 = 3;
/// The target drifted from a recorded baseline.
pub const DRIFT: u8 = 4;
/// The target was left changed: a record the run changed could not be proved restored.
pub const CHANGED: u8 = 5;
/// A failure inside the harness itself.
pub const INTERNAL: u8 = 70;

/// The exit code of an error.
pub fn code(e: &Error) -> u8 {
    match e {
        Error::Failed(_) => FAILED,
        Error::Usage(_) | Error::Spec(_) | Error::Contract(_) | Error::Io { .. } => USAGE,
        Error::Unreachable(_) | Error::Stopped(_) | Error::Busy(_) => UNREACHABLE,
        Error::Drift(_) => DRIFT,
        Error::Changed(_) => CHANGED,
        Error::Internal(_) => INTERNAL,
    }
}

/// The exit code of a run that ended so (a fleet's targets, `report merge`).
pub fn of_end(end: ontap_conform::report::fleet::End) -> u8 {
    end.error(String::new()).map_or(OK, |e| code(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_kind_has_its_documented_code() {
        let u = |s: &str| s.to_string();
        assert_eq!(code(&Error::Failed(u("x"))), 1);
        assert_eq!(code(&Error::Usage(u("x"))), 2);
        assert_eq!(code(&Error::Unreachable(u("x"))), 3);
        assert_eq!(code(&Error::Stopped(u("x"))), 3);
        assert_eq!(code(&Error::Busy(u("x"))), 3);
        assert_eq!(code(&Error::Drift(u("x"))), 4);
        assert_eq!(code(&Error::Changed(u("x"))), 5);
        assert_eq!(code(&Error::Internal(u("x"))), 70);
    }

    #[test]
    fn a_fleet_ranks_its_ends_5_2_3_4_1_0() {
        use ontap_conform::report::fleet::End;
        let mut ends = [
            End::Passed,
            End::Drift,
            End::Failed,
            End::NotRestored,
            End::Unreachable,
            End::Refused,
        ];
        ends.sort();
        let codes: Vec<u8> = ends.iter().map(|e| of_end(*e)).collect();
        assert_eq!(codes, [5, 2, 3, 4, 1, 0]);
    }
}
