//! Watching Terraform's lock while it runs: the first lock seen is this run's; a different ID
//! later means it was replaced, and an absence that lasts `grace` while terraform is still
//! running means a force-unlock. (Terraform removes its lock shortly before it exits, so a
//! short absence is not enough.) Pure: observations and their times in, findings out.

use std::time::Duration;

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
#[derive(Debug)]
pub struct LockWatch {
    ours: Option<LockInfo>,
    missing_since: Option<Duration>,
    grace: Duration,
    reported: bool,
}

impl LockWatch {
    /// A watch that reports a removal once the lock has been missing for `grace`.
    pub fn new(grace: Duration) -> LockWatch {
        LockWatch {
            ours: None,
            missing_since: None,
            grace,
            reported: false,
        }
    }

    /// Records the lock as observed at `at` (time since any fixed start); returns a finding at
    /// most once per watch.
    pub fn observe(&mut self, current: Option<LockInfo>, at: Duration) -> Option<LockFinding> {
        if self.reported {
            return None;
        }
        let Some(ours) = self.ours.clone() else {
            self.ours = current;
            return None;
        };
        let finding = match current {
            Some(now) if now.id == ours.id => {
                self.missing_since = None;
                None
            }
            Some(now) => Some(LockFinding::Replaced { ours, now }),
            None => match self.missing_since {
                Some(since) if at.saturating_sub(since) >= self.grace => {
                    Some(LockFinding::Removed { ours })
                }
                Some(_) => None,
                None => {
                    self.missing_since = Some(at);
                    None
                }
            },
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

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn steady_lock_is_quiet() {
        let mut watch = LockWatch::new(secs(3));
        for (i, observation) in [None, lock("a"), lock("a"), lock("a")]
            .into_iter()
            .enumerate()
        {
            assert_eq!(watch.observe(observation, secs(i as u64)), None);
        }
        assert_eq!(watch.ours().map(|l| l.id.as_str()), Some("a"));
    }

    #[test]
    fn replacement_is_reported_once() {
        let mut watch = LockWatch::new(secs(3));
        watch.observe(lock("a"), secs(0));
        assert!(matches!(
            watch.observe(lock("b"), secs(1)),
            Some(LockFinding::Replaced { .. })
        ));
        assert_eq!(watch.observe(lock("c"), secs(2)), None);
    }

    #[test]
    fn removal_needs_the_lock_missing_for_the_grace_period() {
        let mut watch = LockWatch::new(secs(3));
        watch.observe(lock("a"), secs(0));
        assert_eq!(watch.observe(None, secs(1)), None);
        assert_eq!(
            watch.observe(lock("a"), secs(5)),
            None,
            "a flicker is not a removal"
        );
        assert_eq!(watch.observe(None, secs(6)), None);
        assert_eq!(watch.observe(None, secs(8)), None);
        let finding = watch.observe(None, secs(9)).unwrap();
        assert!(finding.describe("dynamodb").contains("force-unlock"));
    }
}
