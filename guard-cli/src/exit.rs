//! The exit-code contract of zdd-guard, in one place. CI pipelines depend on these numbers.

use std::process::ExitCode;

/// What a zdd-guard command ended with, mapped to the process exit code by [`Outcome::code`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 0: everything went as planned.
    Ok,
    /// 1: zdd-guard itself failed (bad arguments, AWS unreachable, malformed data).
    Error,
    /// 2: drift found (`drift`, `run --verify-drift`).
    Drift,
    /// 3: a lock or lease was not obtained, or state locking is not configured.
    LockNotObtained,
    /// 4: someone else changed the state, the lock or the lease while this run held them.
    StateChangedByOthers,
    /// Terraform's own non-zero exit code, passed through.
    Terraform(u8),
}

/// The `--help` text that documents [`Outcome`]; the README table repeats it.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  ok
  1  error in zdd-guard itself (arguments, AWS, malformed lock/state/backend data)
  2  drift found (drift, run --verify-drift)
  3  lock or lease not obtained, or state locking not configured
  4  state, Terraform lock or lease changed by someone else during the run
  *  otherwise terraform's own non-zero exit code is passed through";

impl Outcome {
    /// The process exit code of this outcome.
    pub fn code(self) -> u8 {
        match self {
            Outcome::Ok => 0,
            Outcome::Error => 1,
            Outcome::Drift => 2,
            Outcome::LockNotObtained => 3,
            Outcome::StateChangedByOthers => 4,
            Outcome::Terraform(code) => code,
        }
    }

    /// Maps a terraform exit status: success is `Ok`, anything else is passed through.
    /// A terraform killed by a signal (no code) counts as an error.
    pub fn from_terraform(code: Option<i32>) -> Outcome {
        match code {
            Some(0) => Outcome::Ok,
            Some(code) => u8::try_from(code)
                .ok()
                .filter(|c| *c != 0)
                .map_or(Outcome::Error, Outcome::Terraform),
            None => Outcome::Error,
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

/// Errors that carry their own exit code (3) instead of the generic 1.
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
        assert_eq!(Outcome::Error.code(), 1);
        assert_eq!(Outcome::Drift.code(), 2);
        assert_eq!(Outcome::LockNotObtained.code(), 3);
        assert_eq!(Outcome::StateChangedByOthers.code(), 4);
        assert_eq!(Outcome::Terraform(7).code(), 7);
    }

    #[test]
    fn terraform_codes_pass_through() {
        assert_eq!(Outcome::from_terraform(Some(0)), Outcome::Ok);
        assert_eq!(Outcome::from_terraform(Some(1)), Outcome::Terraform(1));
        assert_eq!(Outcome::from_terraform(None), Outcome::Error);
        assert_eq!(Outcome::from_terraform(Some(256)), Outcome::Error);
    }

    #[test]
    fn interference_outranks_terraform_failure() {
        let combined = Outcome::Terraform(1).combine(Outcome::StateChangedByOthers);
        assert_eq!(combined, Outcome::StateChangedByOthers);
        assert_eq!(Outcome::Drift.combine(Outcome::Ok), Outcome::Drift);
    }

    #[test]
    fn locking_errors_exit_3() {
        let error = anyhow::Error::new(LockingError::NotObtained("held".into()));
        assert_eq!(outcome_for_error(&error), Outcome::LockNotObtained);
        assert_eq!(outcome_for_error(&anyhow::anyhow!("boom")), Outcome::Error);
    }
}
