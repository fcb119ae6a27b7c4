//! Watching Terraform's lock while it runs: the first lock seen is this run's; a different ID
//! later means it was replaced, and an absence that lasts a whole watch tick while terraform is
//! still running means a force-unlock. (Terraform removes its lock just before it exits, so a
//! single missing observation is not enough.) Pure: observations in, findings out.

use super::lockinfo::LockInfo;

#[derive(Debug, Clone, PartialEq)]
pub enum LockFinding {
    Replaced { ours: LockInfo, now: LockInfo },
    Removed { ours: LockInfo },
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
            LockFinding::Removed { ours } => format!(
                "this run's Terraform lock ({lock_name}) was removed while terraform was still \
                 running (force-unlock?): it was {}",
                ours.describe()
            ),
        }
    }
}

/// Tracks one lock (the DynamoDB item or the S3 lockfile) across watch ticks.
#[derive(Debug, Default)]
pub struct LockWatch {
    ours: Option<LockInfo>,
    missing_once: bool,
    reported: bool,
}

impl LockWatch {
    /// Records one observation of the lock; returns a finding at most once per watch.
    pub fn observe(&mut self, current: Option<LockInfo>) -> Option<LockFinding> {
        if self.reported {
            return None;
        }
        let Some(ours) = self.ours.clone() else {
            self.ours = current;
            return None;
        };
        let finding = match current {
            Some(now) if now.id == ours.id => {
                self.missing_once = false;
                None
            }
            Some(now) => Some(LockFinding::Replaced { ours, now }),
            None if self.missing_once => Some(LockFinding::Removed { ours }),
            None => {
                self.missing_once = true;
                None
            }
        };
        self.reported = finding.is_some();
        finding
    }

    /// The ID of this run's Terraform lock, once seen.
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

    #[test]
    fn steady_lock_is_quiet() {
        let mut watch = LockWatch::default();
        for observation in [None, lock("a"), lock("a"), lock("a")] {
            assert_eq!(watch.observe(observation), None);
        }
        assert_eq!(watch.ours().map(|l| l.id.as_str()), Some("a"));
    }

    #[test]
    fn replacement_is_reported_once() {
        let mut watch = LockWatch::default();
        watch.observe(lock("a"));
        assert!(matches!(
            watch.observe(lock("b")),
            Some(LockFinding::Replaced { .. })
        ));
        assert_eq!(watch.observe(lock("c")), None);
    }

    #[test]
    fn removal_needs_two_missing_ticks() {
        let mut watch = LockWatch::default();
        watch.observe(lock("a"));
        assert_eq!(watch.observe(None), None);
        assert_eq!(watch.observe(lock("a")), None, "a flicker is not a removal");
        assert_eq!(watch.observe(None), None);
        let finding = watch.observe(None).unwrap();
        assert!(finding.describe("dynamodb").contains("force-unlock"));
    }
}
