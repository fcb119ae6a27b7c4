//! Watching Terraform's lock while it runs. The first lock seen is this run's; a different ID
//! later means someone replaced it, which is interference at once. A missing lock proves nothing
//! while terraform runs: terraform deletes its own lock a moment before it exits, and a starved
//! terraform can take seconds to exit after that. Nor does a failing exit after it: terraform
//! releases its lock on the way out of a failed apply too. A force-unlock, though, always makes
//! terraform's own release fail, and terraform says so ("Error releasing the state lock", see
//! `core::release_report`), so the verdict on a missing lock waits for terraform's end: a warning
//! when it goes, interference only when terraform then reports its release failed (or was killed
//! by a signal, so never released it). No time enters the decision.
//! Pure: observations and how terraform ended in, events and findings out.

use super::lockinfo::LockInfo;

/// Interference with this run's Terraform lock.
#[derive(Debug, Clone, PartialEq)]
pub enum LockFinding {
    /// Another holder's lock took the place of ours (decided as soon as it is seen).
    Replaced { ours: LockInfo, now: LockInfo },
    /// Ours went missing while terraform ran, and terraform's own release of it then failed
    /// (with `exit_code`), or terraform was killed by a signal (`None`) before releasing it.
    Removed {
        ours: LockInfo,
        exit_code: Option<i32>,
    },
}

impl LockFinding {
    pub fn describe(&self, lock_name: &str) -> String {
        match self {
            LockFinding::Replaced { ours, now } => format!(
                "this run's Terraform lock ({lock_name}) was replaced: ours was {}, now {} \
                 (someone ran force-unlock and took the lock)",
                ours.describe(),
                now.describe()
            ),
            LockFinding::Removed { ours, exit_code } => format!(
                "this run's Terraform lock ({lock_name}) was removed while terraform was still \
                 running (force-unlock?), and {}: it was {}",
                exit_code.map_or_else(
                    || "terraform was then killed by a signal, so it never released it itself"
                        .to_string(),
                    |c| format!(
                        "terraform's own release of it then failed (exit {c}), as the release \
                         of a removed lock does"
                    )
                ),
                ours.describe()
            ),
        }
    }
}

/// What one look at the lock means, as it happens.
#[derive(Debug, Clone, PartialEq)]
pub enum LockEvent {
    /// This run's lock, seen for the first time.
    Seen(LockInfo),
    /// Ours is gone while terraform still runs: a warning, judged at terraform's exit.
    Missing(LockInfo),
    /// Ours is there again after a look that missed it: the warning is void.
    Back(LockInfo),
    /// Interference, decided now.
    Interference(LockFinding),
}

impl LockEvent {
    pub fn describe(&self, lock_name: &str) -> String {
        match self {
            LockEvent::Seen(ours) => {
                format!("watching terraform's lock {lock_name}: {}", ours.describe())
            }
            LockEvent::Missing(ours) => format!(
                "this run's Terraform lock ({lock_name}) is gone while terraform still runs; \
                 terraform deletes it just before it exits, so this counts as interference only \
                 if terraform then reports that its own release of it failed: it was {}",
                ours.describe()
            ),
            LockEvent::Back(ours) => format!(
                "this run's Terraform lock ({lock_name}) is there again: {}",
                ours.describe()
            ),
            LockEvent::Interference(finding) => finding.describe(lock_name),
        }
    }
}

/// How terraform ended: what the verdict on a lock missing at the last look needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TerraformEnd {
    /// Its exit code (`None`: killed by a signal).
    pub exit_code: Option<i32>,
    /// It reported that its own release of the state lock failed (see `core::release_report`).
    pub release_failed: bool,
}

/// Whether the last terraform of a run may have left its state lock behind (`None`: no
/// terraform ended as far as the guard knows, so it may have). Only a clean exit rules it out:
/// terraform exits 0 only once its own release of the lock went through. A failed release is
/// an error ("Error releasing the state lock", exit 1), as is a lock write whose answer was lost
/// and whose retry met the lock it took ("Error acquiring the state lock"); a crash exits
/// non-zero (Terraform's panic handler 11, Go's runtime 2); a kill leaves no exit code. So the
/// look for a lock left behind, an AWS round trip before the lease's release at the end of a
/// run, is made after anything but a clean exit, and a lock someone else took on this host just
/// after a clean terraform released its own is never mistaken for one left by it.
pub fn lock_may_be_left(last: Option<TerraformEnd>) -> bool {
    last.is_none_or(|end| end.exit_code != Some(0) || end.release_failed)
}

/// Tracks one lock (the DynamoDB item or the S3 lockfile) of one terraform process.
#[derive(Debug, Default)]
pub struct LockWatch {
    ours: Option<LockInfo>,
    /// Ours was missing at the last look while terraform ran.
    missing: bool,
    /// Terraform was asked to stop (a forwarded signal): it releases its lock as it stops.
    stopping: bool,
    /// A replacement was reported; nothing more is said about this lock.
    replaced: bool,
}

impl LockWatch {
    pub fn new() -> LockWatch {
        LockWatch::default()
    }

    /// Records one look at the lock, taken while terraform was running (`current`: the lock
    /// there, if any).
    pub fn observe(&mut self, current: Option<LockInfo>) -> Option<LockEvent> {
        if self.replaced {
            return None;
        }
        let Some(ours) = self.ours.clone() else {
            self.ours = current.clone();
            return current.map(LockEvent::Seen);
        };
        match current {
            Some(now) if now.id == ours.id => {
                std::mem::replace(&mut self.missing, false).then_some(LockEvent::Back(ours))
            }
            Some(now) => {
                self.replaced = true;
                Some(LockEvent::Interference(LockFinding::Replaced { ours, now }))
            }
            None if self.missing || self.stopping => None,
            None => {
                self.missing = true;
                Some(LockEvent::Missing(ours))
            }
        }
    }

    /// Terraform was asked to stop: a lock missing from now on is its own release.
    pub fn terraform_stopping(&mut self) {
        self.stopping = true;
    }

    /// The verdict once terraform ended: a lock missing at the last look counts as removed only
    /// if terraform's own release of it then failed, or if terraform was killed by a signal (it
    /// never reached its release). A failing terraform whose release went through removed its
    /// lock itself, whenever the look came. A failed release with no look missing the lock is no
    /// verdict either: the release can fail on a backend error too, with the lock still there
    /// (the check after the run reports a lock left behind).
    pub fn terraform_exited(&self, end: TerraformEnd) -> Option<LockFinding> {
        let ours = self.ours.as_ref()?;
        if !self.missing || self.replaced {
            return None;
        }
        let removed = match end.exit_code {
            Some(0) => false,
            Some(_) => end.release_failed,
            None => true,
        };
        removed.then(|| LockFinding::Removed {
            ours: ours.clone(),
            exit_code: end.exit_code,
        })
    }

    /// This run's Terraform lock, once seen.
    pub fn ours(&self) -> Option<&LockInfo> {
        self.ours.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lock(id: &str) -> Option<LockInfo> {
        Some(LockInfo {
            id: id.into(),
            operation: "OperationTypeApply".into(),
            info: String::new(),
            who: "me@host".into(),
            version: "1.15.5".into(),
            created: "now".into(),
            path: "b/k".into(),
        })
    }

    /// Terraform exited with `code`; `release_failed`: it said its release of the lock failed.
    fn exited(code: i32, release_failed: bool) -> TerraformEnd {
        TerraformEnd {
            exit_code: Some(code),
            release_failed,
        }
    }

    const KILLED: TerraformEnd = TerraformEnd {
        exit_code: None,
        release_failed: false,
    };

    fn watching(id: &str) -> LockWatch {
        let mut watch = LockWatch::new();
        assert_eq!(watch.observe(None), None, "before terraform takes it");
        assert!(matches!(watch.observe(lock(id)), Some(LockEvent::Seen(_))));
        watch
    }

    #[test]
    fn steady_lock_is_quiet_and_a_clean_exit_is_no_interference() {
        let mut watch = watching("a");
        for _ in 0..3 {
            assert_eq!(watch.observe(lock("a")), None);
        }
        assert_eq!(watch.ours().map(|l| l.id.as_str()), Some("a"));
        assert_eq!(watch.terraform_exited(exited(0, false)), None);
        assert_eq!(
            watch.terraform_exited(exited(1, false)),
            None,
            "a failure alone"
        );
        assert_eq!(
            watch.terraform_exited(exited(1, true)),
            None,
            "a failed release with the lock never seen missing (a backend error, say)"
        );
    }

    #[test]
    fn missing_then_exit_0_is_terraform_releasing_its_own_lock() {
        let mut watch = watching("a");
        let warning = watch.observe(None).unwrap();
        assert!(matches!(warning, LockEvent::Missing(_)));
        assert!(!warning.describe("ddb").contains("force-unlock"));
        assert_eq!(watch.observe(None), None, "warned once");
        assert_eq!(watch.terraform_exited(exited(0, false)), None);
    }

    #[test]
    fn missing_then_a_failed_release_is_a_removal() {
        let mut watch = watching("a");
        watch.observe(None);
        let finding = watch.terraform_exited(exited(1, true)).unwrap();
        assert!(matches!(
            &finding,
            LockFinding::Removed { ours, exit_code: Some(1) } if ours.id == "a"
        ));
        let message = finding.describe("dynamodb:t/b/k");
        assert!(message.contains("force-unlock"), "{message}");
        assert!(
            message.contains("release of it then failed (exit 1)"),
            "{message}"
        );
    }

    #[test]
    fn missing_then_killed_by_a_signal_is_a_removal() {
        let mut watch = watching("a");
        watch.observe(None);
        let finding = watch.terraform_exited(KILLED).unwrap();
        assert!(matches!(
            &finding,
            LockFinding::Removed {
                exit_code: None,
                ..
            }
        ));
        let message = finding.describe("ddb");
        assert!(message.contains("killed by a signal"), "{message}");
    }

    /// The look fell between terraform's own release and its failing exit: no interference,
    /// however the look and the exit were timed (the flake this rule replaced).
    #[test]
    fn missing_then_a_failure_with_a_clean_release_is_terraform_failing_on_its_own() {
        let mut watch = watching("a");
        assert!(matches!(watch.observe(None), Some(LockEvent::Missing(_))));
        assert_eq!(watch.terraform_exited(exited(1, false)), None);
        assert_eq!(watch.terraform_exited(exited(2, false)), None);
    }

    #[test]
    fn replacement_is_interference_at_once_and_reported_once() {
        let mut watch = watching("a");
        assert!(matches!(
            watch.observe(lock("b")),
            Some(LockEvent::Interference(LockFinding::Replaced { .. }))
        ));
        assert_eq!(watch.observe(lock("c")), None);
        assert_eq!(watch.observe(None), None);
        assert_eq!(
            watch.terraform_exited(exited(1, true)),
            None,
            "already reported as replaced"
        );
    }

    #[test]
    fn replacement_after_an_absence_is_still_a_replacement() {
        let mut watch = watching("a");
        watch.observe(None);
        assert!(matches!(
            watch.observe(lock("b")),
            Some(LockEvent::Interference(LockFinding::Replaced { .. }))
        ));
    }

    #[test]
    fn missing_briefly_then_back_is_no_interference() {
        let mut watch = watching("a");
        watch.observe(None);
        assert!(matches!(watch.observe(lock("a")), Some(LockEvent::Back(_))));
        assert_eq!(watch.observe(lock("a")), None);
        assert_eq!(watch.terraform_exited(exited(1, true)), None);
    }

    #[test]
    fn missing_after_a_stop_request_is_terraform_stopping() {
        let mut watch = watching("a");
        watch.terraform_stopping();
        assert_eq!(watch.observe(None), None);
        assert_eq!(watch.terraform_exited(exited(1, true)), None);
        assert_eq!(watch.terraform_exited(KILLED), None);
    }

    #[test]
    fn only_a_clean_exit_rules_out_a_lock_left_behind() {
        assert!(!lock_may_be_left(Some(exited(0, false))));
        for (end, why) in [
            (
                Some(exited(1, false)),
                "a failure (a lock write retried into its own lock)",
            ),
            (Some(exited(1, true)), "a failed release"),
            (
                Some(exited(2, false)),
                "Go's crash exit, or changes with -detailed-exitcode",
            ),
            (Some(exited(11, false)), "terraform's panic handler"),
            (Some(KILLED), "killed by a signal"),
            (
                Some(exited(0, true)),
                "a clean exit that still reported a failed release",
            ),
            (None, "no terraform end known"),
        ] {
            assert!(lock_may_be_left(end), "{why}");
        }
    }

    #[test]
    fn a_lock_never_seen_is_never_judged() {
        let mut watch = LockWatch::new();
        assert_eq!(watch.observe(None), None);
        assert_eq!(watch.terraform_exited(exited(1, true)), None);
    }
}
