//! The phase records of many fleets in one `CreateOrUpdateTags` (issue #16).
//!
//! A rollout writes its phase record (`zdd:phase`, `zdd:phase-since`, `zdd:floor`: one
//! `Command::RecordPhase` per group not showing it) about nine times. The fleets of an apply
//! step on the provider-wide poll grid, so their records come in the same tick, and
//! `CreateOrUpdateTags` takes a list of tags each naming its own group: the records asked for
//! within one window go out as one call and take one token of its budget (Auto Scaling's
//! writes, 2/s burst 5 by default; ten fleets' records one call each outran it).
//!
//! The gathering is the reads' [`Coalescer`], with a payload per key: the key is a group, the
//! payload its record's tags. What holds:
//! - a record is atomic per group: all of a group's tags are in the same request (a call, or
//!   a part of a split batch, carries whole groups), so a reader sees all of it or none;
//! - the last record asked for a group within one batch wins (the order callers joined);
//! - one member's group deleted or refused does not poison the others: a call AWS refused
//!   with anything but a throttle is split in halves, each sent again with a token of its own,
//!   down to the group AWS refuses, which alone fails ([`may_blame_one_group`]);
//! - a record's call is made once, never retried by the SDK (`AwsClients::record_phase`): a
//!   retry's backoff would hold every rollout sharing the call;
//! - a record with no token is not made ([`Recorded::NotMade`]): records are informational,
//!   and the engine issues one not made again at its next step. Only the final record queues
//!   for its token ([`TokenWait::Queue`]); a batch goes as its most urgent member asks.
//!
//! AWS publishes no limit on the tags of one call (the API reference says "one or more
//! tags"; a group holds at most 50): a call carries at most [`GROUPS_PER_CALL`] groups, 60
//! tags, enough for ten blue/green fleets' two groups each (Terraform's default
//! `-parallelism`); more open the next batch.
//!
//! This module knows no SDK type: the adapter hands it how a token is taken and how one call
//! is made (`AwsClients::record_phase`), so the scale bench drives the same code against its
//! simulated account.

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::time::Duration;

use super::budget::{Priority, TokenWait};
use super::coalesce::{Coalescer, KindStats, Seal};
use super::error::{AwsError, is_throttling_code};

/// A record's tags: key and value, in the order written.
pub type RecordTags = Vec<(String, String)>;

/// The most groups one `CreateOrUpdateTags` carries.
pub const GROUPS_PER_CALL: usize = 20;

/// What became of one group's record.
#[derive(Debug, Clone, Default)]
pub enum Recorded {
    /// Written (by this caller's call or one it shared).
    Made,
    /// Not written, nothing went wrong: the budget had no token for it at once. The caller
    /// writes it again later.
    #[default]
    NotMade,
    /// AWS refused it (or the call failed): not written.
    Failed(AwsError),
}

/// The records of every fleet of the provider process, gathered into shared calls.
#[derive(Debug)]
pub struct PhaseRecords {
    records: Coalescer<String, Recorded, AwsError, RecordTags>,
}

impl PhaseRecords {
    /// Records gathered for `window`, at most `groups_per_call` groups a call.
    pub fn new(window: Duration, groups_per_call: usize) -> PhaseRecords {
        PhaseRecords {
            records: Coalescer::new(window, groups_per_call),
        }
    }

    /// Records asked for, calls sent (a split batch's parts are not counted apart).
    pub fn stats(&self) -> KindStats {
        self.records.stats()
    }

    /// Writes `tags` on `group` in a call shared with the other records asked for while it
    /// gathers. `admit` takes one call's token as its [`TokenWait`] says (`None`: not
    /// taken); `write` makes one `CreateOrUpdateTags` for the groups and tags it is handed,
    /// with the token `admit` took. A record asked for with [`TokenWait::Queue`] makes its
    /// whole batch queue for the token.
    ///
    /// # Cancellation
    /// Dropping the future leaves the batch; the others are still written.
    pub async fn record<T, A, AdmitFut, W, WriteFut>(
        &self,
        group: &str,
        tags: RecordTags,
        wait: TokenWait,
        admit: A,
        write: W,
    ) -> Recorded
    where
        A: Fn(TokenWait) -> AdmitFut,
        AdmitFut: Future<Output = Option<T>>,
        W: Fn(T, Vec<(String, RecordTags)>) -> WriteFut,
        WriteFut: Future<Output = Result<(), AwsError>>,
    {
        let answer = self
            .records
            .get_with(
                group.to_string(),
                tags,
                priority_of(wait),
                |seal, priority| write_batch(seal, wait_of(priority), &admit, &write),
            )
            .await;
        answer.unwrap_or_else(Recorded::Failed)
    }
}

/// A batch goes at its most urgent member's priority: a queued record's batch queues.
fn priority_of(wait: TokenWait) -> Priority {
    match wait {
        TokenWait::Queue => Priority::Command,
        TokenWait::IfFreeNow => Priority::Observation,
    }
}

fn wait_of(priority: Priority) -> TokenWait {
    match priority {
        Priority::Command => TokenWait::Queue,
        Priority::Observation => TokenWait::IfFreeNow,
    }
}

/// Sends one batch: its token first (no token: every record of it is not made), then its
/// groups (read only now: records asked for while the token was awaited ride along) in one
/// call; a call AWS refused for what may be one group's fault is split in halves, each sent
/// with a token of its own. Each group's answer is in the map; a group left out was not made.
async fn write_batch<T, A, AdmitFut, W, WriteFut>(
    seal: Seal<String, RecordTags>,
    wait: TokenWait,
    admit: &A,
    write: &W,
) -> Result<BTreeMap<String, Recorded>, AwsError>
where
    A: Fn(TokenWait) -> AdmitFut,
    AdmitFut: Future<Output = Option<T>>,
    W: Fn(T, Vec<(String, RecordTags)>) -> WriteFut,
    WriteFut: Future<Output = Result<(), AwsError>>,
{
    let mut answers = BTreeMap::new();
    let Some(first) = admit(wait).await else {
        return Ok(answers);
    };
    let entries: Vec<(String, RecordTags)> = seal
        .entries()
        .map(|(group, tags)| (group.clone(), tags.clone()))
        .collect();
    let mut token = Some(first);
    let mut parts = VecDeque::from([entries]);
    while let Some(part) = parts.pop_front() {
        let taken = match token.take() {
            Some(taken) => Some(taken),
            None => admit(wait).await,
        };
        let Some(taken) = taken else {
            // No token for this part now: its records are not made, written again later.
            continue;
        };
        let groups: Vec<String> = part.iter().map(|(group, _)| group.clone()).collect();
        match write(taken, part.clone()).await {
            Ok(()) => answers.extend(groups.into_iter().map(|group| (group, Recorded::Made))),
            Err(err) if part.len() > 1 && may_blame_one_group(&err) => {
                let (first_half, second_half) = halves(part);
                parts.push_back(first_half);
                parts.push_back(second_half);
            }
            Err(err) => answers.extend(
                groups
                    .into_iter()
                    .map(|group| (group, Recorded::Failed(err.clone()))),
            ),
        }
    }
    Ok(answers)
}

/// Whether a failed call may be one group's fault (a group deleted, a value AWS refuses), so
/// that its groups are worth sending apart: any refusal AWS answered, but a throttle. A
/// throttle, or a call that got no answer (a timeout, a connection that failed), says nothing
/// about the groups: splitting it would only make more calls.
pub fn may_blame_one_group(err: &AwsError) -> bool {
    match err {
        AwsError::Api { code, .. } => {
            !is_throttling_code(code) && !matches!(code.as_str(), "Timeout" | "DispatchFailure")
        }
        _ => true,
    }
}

/// `part` in two, each of whole groups, the first half first.
fn halves<T>(mut part: Vec<T>) -> (Vec<T>, Vec<T>) {
    let second = part.split_off(part.len() / 2);
    (part, second)
}

#[cfg(test)]
mod tests;
