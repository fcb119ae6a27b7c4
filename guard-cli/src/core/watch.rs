//! Watching Terraform's lock while it runs. The first lock seen is this run's; a different ID
//! later means someone replaced it, which is interference at once. A missing lock proves nothing
//! while terraform runs: terraform deletes its own lock a moment before it exits, and a starved
//! terraform can take seconds to exit after that. A force-unlock, though, always makes
//! terraform's own release fail ("Error releasing the state lock", a non-zero exit), so the
//! verdict on a missing lock waits for terraform's exit code: a warning when it goes, interference
//! only when terraform then fails. No time enters the decision.
//! Pure: observations and the exit code in, events and findings out.

use super::lockinfo::LockInfo;

/// Interference with this run's Terraform lock.
#[derive(Debug, Clone, PartialEq)]
pub enum LockFinding {
    /// Another holder's lock took the place of ours (decided as soon as it is seen).
    Replaced { ours: LockInfo, now: LockInfo },
    /// Ours went missing while terraform ran, and terraform then failed with `exit_code`
    /// (`None`: killed by a signal).
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
                 running, and terraform then failed ({}), as its own release of a removed lock \
                 does (force-unlock?): it was {}",
                exit_code.map_or_else(|| "killed by a signal".to_string(), |c| format!("exit {c}")),
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
                 if terraform then fails: it was {}",
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

    /// The verdict when terraform exited with `exit_code` (`None`: killed by a signal): a lock
    /// missing at the last look counts as removed only if terraform failed.
    pub fn terraform_exited(&self, exit_code: Option<i32>) -> Option<LockFinding> {
        let ours = self.ours.as_ref()?;
        (self.missing && !self.replaced && exit_code != Some(0)).then(|| LockFinding::Removed {
            ours: ours.clone(),
            exit_code,
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
        assert_eq!(watch.terraform_exited(Some(0)), None);
        assert_eq!(watch.terraform_exited(Some(1)), None, "a failure alone");
    }

    #[test]
    fn missing_then_exit_0_is_terraform_releasing_its_own_lock() {
        let mut watch = watching("a");
        let warning = watch.observe(None).unwrap();
        assert!(matches!(warning, LockEvent::Missing(_)));
        assert!(!warning.describe("ddb").contains("force-unlock"));
        assert_eq!(watch.observe(None), None, "warned once");
        assert_eq!(watch.terraform_exited(Some(0)), None);
    }

    #[test]
    fn missing_then_exit_nonzero_is_a_removal() {
        let mut watch = watching("a");
        watch.observe(None);
        let finding = watch.terraform_exited(Some(1)).unwrap();
        assert!(matches!(
            &finding,
            LockFinding::Removed { ours, exit_code: Some(1) } if ours.id == "a"
        ));
        let message = finding.describe("dynamodb:t/b/k");
        assert!(message.contains("force-unlock"), "{message}");
        assert!(message.contains("exit 1"), "{message}");
        assert!(watch.terraform_exited(None).is_some(), "killed counts too");
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
            watch.terraform_exited(Some(1)),
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
        assert_eq!(watch.terraform_exited(Some(1)), None);
    }

    #[test]
    fn missing_after_a_stop_request_is_terraform_stopping() {
        let mut watch = watching("a");
        watch.terraform_stopping();
        assert_eq!(watch.observe(None), None);
        assert_eq!(watch.terraform_exited(Some(1)), None);
    }

    #[test]
    fn a_lock_never_seen_is_never_judged() {
        let mut watch = LockWatch::new();
        assert_eq!(watch.observe(None), None);
        assert_eq!(watch.terraform_exited(Some(1)), None);
    }
}
