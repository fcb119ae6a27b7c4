//! The exit-code contract of zdd-guard, in one place. CI pipelines depend on these numbers.

use std::process::ExitCode;

/// What a zdd-guard command ended with, mapped to the process exit code by [`Outcome::code`].
/// The numbers let a CI script tell "terraform failed" (1, 2) from "zdd-guard failed" (6),
/// "someone else interfered" (3, 4) and "drift" (5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 0: everything went as planned.
    Ok,
    /// 6: zdd-guard itself failed (bad arguments, AWS errors, malformed data).
    Error,
    /// 5: drift found (`drift`, `run --verify-drift`); for `check`, findings.
    Drift,
    /// 3: a lock or lease was not obtained, or state locking is not configured.
    LockNotObtained,
    /// 4: someone else changed the state, the lock or the lease while this run held them, or
    /// the lease was lost.
    StateChangedByOthers,
    /// Terraform's own non-zero exit code: 2 passes through as 2, anything else (1, other
    /// codes, a terraform ended by a signal) is 1.
    Terraform(u8),
}

/// The `--help` text that documents [`Outcome`]; the README table repeats it.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  ok
  1  terraform failed: its own exit code 1, passed through (also a terraform ended by a
     signal or with any code other than 0, 1 or 2)
  2  terraform's own exit code 2 (plan -detailed-exitcode: changes present), passed through
  3  lock or lease not obtained, or state locking not configured
  4  state, Terraform lock or lease changed by someone else during the run, or the lease lost
  5  drift found (drift, run --verify-drift); for check: findings at or above --min-severity
  6  error in zdd-guard itself (bad arguments, AWS errors, malformed lock/state/backend data)";

impl Outcome {
    /// The process exit code of this outcome: the one place the numbers are written.
    pub const fn code(self) -> u8 {
        match self {
            Outcome::Ok => 0,
            Outcome::Terraform(2) => 2,
            Outcome::Terraform(_) => 1,
            Outcome::LockNotObtained => 3,
            Outcome::StateChangedByOthers => 4,
            Outcome::Drift => 5,
            Outcome::Error => 6,
        }
    }

    /// Maps a terraform exit status: success is `Ok`, anything else is terraform's failure
    /// (a terraform killed by a signal has no code: 1, as the contract says).
    pub fn from_terraform(code: Option<i32>) -> Outcome {
        match code {
            Some(0) => Outcome::Ok,
            Some(2) => Outcome::Terraform(2),
            _ => Outcome::Terraform(1),
        }
    }

    /// Interference by others (4) outranks everything, then terraform's own failure, then drift.
    pub fn combine(self, other: Outcome) -> Outcome {
        fn rank(outcome: Outcome) -> u8 {
            match outcome {
                Outcome::Ok => 0,
                Outcome::Drift => 1,
                Outcome::Error => 2,
                Outcome::Terraform(_) => 3,
                Outcome::LockNotObtained => 4,
                Outcome::StateChangedByOthers => 5,
            }
        }
        if rank(other) > rank(self) {
            other
        } else {
            self
        }
    }
}

impl From<Outcome> for ExitCode {
    fn from(outcome: Outcome) -> ExitCode {
        ExitCode::from(outcome.code())
    }
}

/// Errors that carry their own exit code (3) instead of the generic 6.
#[derive(Debug, thiserror::Error)]
pub enum LockingError {
    /// The backend has no locking, or a local backend; `fix` says how to configure it.
    #[error("state locking is not configured: {reason}\nhow to fix: {fix}")]
    NotConfigured { reason: String, fix: String },
    /// The lease (or lock) is held by someone else and `--wait` ran out.
    #[error("{0}")]
    NotObtained(String),
}

/// The outcome an error should end the process with.
pub fn outcome_for_error(error: &anyhow::Error) -> Outcome {
    if error.downcast_ref::<LockingError>().is_some() {
        Outcome::LockNotObtained
    } else {
        Outcome::Error
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_the_contract() {
        assert_eq!(Outcome::Ok.code(), 0);
        assert_eq!(Outcome::Terraform(1).code(), 1);
        assert_eq!(Outcome::Terraform(2).code(), 2);
        assert_eq!(Outcome::LockNotObtained.code(), 3);
        assert_eq!(Outcome::StateChangedByOthers.code(), 4);
        assert_eq!(Outcome::Drift.code(), 5);
        assert_eq!(Outcome::Error.code(), 6);
        // Terraform's other codes never collide with the guard's own.
        for code in [3, 4, 5, 6, 7, 127, 255] {
            assert_eq!(Outcome::Terraform(code).code(), 1);
        }
    }

    #[test]
    fn terraform_codes_1_and_2_pass_through_and_others_are_1() {
        assert_eq!(Outcome::from_terraform(Some(0)), Outcome::Ok);
        assert_eq!(Outcome::from_terraform(Some(1)).code(), 1);
        assert_eq!(Outcome::from_terraform(Some(2)).code(), 2);
        assert_eq!(Outcome::from_terraform(Some(6)).code(), 1);
        assert_eq!(Outcome::from_terraform(Some(256)).code(), 1);
        assert_eq!(Outcome::from_terraform(Some(-1)).code(), 1);
        assert_eq!(Outcome::from_terraform(None).code(), 1);
    }

    #[test]
    fn the_help_text_lists_every_code() {
        for outcome in [
            Outcome::Ok,
            Outcome::Terraform(1),
            Outcome::Terraform(2),
            Outcome::LockNotObtained,
            Outcome::StateChangedByOthers,
            Outcome::Drift,
            Outcome::Error,
        ] {
            let line = format!("\n  {}  ", outcome.code());
            assert!(
                EXIT_CODES_HELP.contains(&line),
                "{outcome:?}: {EXIT_CODES_HELP}"
            );
        }
    }

    #[test]
    fn interference_outranks_terraform_failure() {
        let combined = Outcome::Terraform(1).combine(Outcome::StateChangedByOthers);
        assert_eq!(combined, Outcome::StateChangedByOthers);
        assert_eq!(Outcome::Drift.combine(Outcome::Ok), Outcome::Drift);
        assert_eq!(
            Outcome::from_terraform(Some(1)).combine(Outcome::Error),
            Outcome::Terraform(1)
        );
    }

    #[test]
    fn locking_errors_exit_3_and_others_6() {
        let error = anyhow::Error::new(LockingError::NotObtained("held".into()));
        assert_eq!(outcome_for_error(&error).code(), 3);
        assert_eq!(outcome_for_error(&anyhow::anyhow!("boom")).code(), 6);
    }
}
