//! The gatherer in tokio's paused clock, against the real rate budget and a simulated
//! `CreateOrUpdateTags` that records each call's tags and refuses what a test says.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinSet;

use super::*;
use crate::aws::budget::{AUTOSCALING, Api, RateBudget, RateLimits};
use crate::aws::coalesce::DEFAULT_WINDOW;

const TAGS: Api = Api::new(AUTOSCALING, "CreateOrUpdateTags");

/// One call's tags: group, key, value.
type Call = Vec<(String, String, String)>;

/// Groups whose records the simulated AWS refuses, and how.
#[derive(Clone, Default)]
struct Refusals {
    /// A call naming this group is refused with `ValidationError` (a group deleted).
    missing_group: Option<String>,
    /// Every call is answered with this code.
    every_call: Option<&'static str>,
}

/// The simulated AWS and the budget its calls take tokens from.
#[derive(Clone)]
struct Aws {
    budget: Arc<RateBudget>,
    /// Each call's tags, in the order sent.
    calls: Arc<Mutex<Vec<Call>>>,
    refusals: Refusals,
}

impl Aws {
    fn new(limit: &str, refusals: Refusals) -> Aws {
        let limits = RateLimits::default()
            .with_block([("autoscaling:CreateOrUpdateTags", limit)])
            .unwrap();
        Aws {
            budget: Arc::new(RateBudget::new(limits)),
            calls: Arc::default(),
            refusals,
        }
    }

    fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    /// Groups of each call, in the order sent.
    fn groups_per_call(&self) -> Vec<Vec<String>> {
        self.calls()
            .iter()
            .map(|call| {
                let mut groups: Vec<String> = call.iter().map(|(g, _, _)| g.clone()).collect();
                groups.dedup();
                groups
            })
            .collect()
    }

    async fn admit(&self, wait: TokenWait) -> Option<()> {
        match wait {
            TokenWait::Queue => {
                self.budget.admit(TAGS, Priority::Command).await;
                Some(())
            }
            TokenWait::IfFreeNow => self.budget.try_admit(TAGS).then_some(()),
        }
    }

    async fn write(&self, records: Vec<(String, RecordTags)>) -> Result<(), AwsError> {
        let tags: Vec<(String, String, String)> = records
            .iter()
            .flat_map(|(group, tags)| {
                tags.iter()
                    .map(|(key, value)| (group.clone(), key.clone(), value.clone()))
            })
            .collect();
        self.calls.lock().unwrap().push(tags);
        // AWS's answer takes a while: records asked for meanwhile open the next batch.
        tokio::time::sleep(Duration::from_millis(30)).await;
        if let Some(code) = self.refusals.every_call {
            return Err(api_error(code));
        }
        match &self.refusals.missing_group {
            Some(missing) if records.iter().any(|(group, _)| group == missing) => {
                Err(api_error("ValidationError"))
            }
            _ => Ok(()),
        }
    }

    /// One rollout's record on `group`, shared with whatever else gathers.
    async fn record(&self, records: &PhaseRecords, group: &str, wait: TokenWait) -> Recorded {
        self.record_tags(records, group, record(group, "draining_old"), wait)
            .await
    }

    async fn record_tags(
        &self,
        records: &PhaseRecords,
        group: &str,
        tags: RecordTags,
        wait: TokenWait,
    ) -> Recorded {
        records
            .record(
                group,
                tags,
                wait,
                |wait| self.admit(wait),
                |(), batch| self.write(batch),
            )
            .await
    }
}

fn api_error(code: &str) -> AwsError {
    AwsError::Api {
        operation: "CreateOrUpdateTags",
        code: code.to_string(),
        message: "refused by the test".to_string(),
        transient: code == "Throttling",
    }
}

/// A phase record as the engine writes it: three tags, the phase naming its group.
fn record(group: &str, phase: &str) -> RecordTags {
    vec![
        ("zdd:phase".to_string(), format!("{phase} of {group}")),
        ("zdd:phase-since".to_string(), "1700000000".to_string()),
        ("zdd:floor".to_string(), "3".to_string()),
    ]
}

fn group(n: usize) -> String {
    format!("fleet-{n:02}-g2")
}

/// `count` rollouts record at the same instant (one tick of the grid); their answers by group.
async fn in_one_tick(aws: &Aws, count: usize, wait: TokenWait) -> BTreeMap<String, Recorded> {
    let records = Arc::new(PhaseRecords::new(DEFAULT_WINDOW, GROUPS_PER_CALL));
    in_one_tick_with(aws, &records, (0..count).map(group).collect(), wait).await
}

async fn in_one_tick_with(
    aws: &Aws,
    records: &Arc<PhaseRecords>,
    groups: Vec<String>,
    wait: TokenWait,
) -> BTreeMap<String, Recorded> {
    let mut tasks = JoinSet::new();
    for name in groups {
        let (aws, records) = (aws.clone(), Arc::clone(records));
        tasks.spawn(async move {
            let answer = aws.record(&records, &name, wait).await;
            (name, answer)
        });
    }
    tasks.join_all().await.into_iter().collect()
}

fn made(answers: &BTreeMap<String, Recorded>) -> Vec<&str> {
    answers
        .iter()
        .filter(|(_, answer)| matches!(answer, Recorded::Made))
        .map(|(group, _)| group.as_str())
        .collect()
}

/// Every call carries each of its groups' whole record (the three tags, once each, the values
/// of that group's record): a reader sees all of a record or none.
fn assert_atomic(aws: &Aws) {
    for call in aws.calls() {
        let mut by_group: BTreeMap<&str, Vec<(&str, &str)>> = BTreeMap::new();
        for (group, key, value) in &call {
            by_group
                .entry(group)
                .or_default()
                .push((key.as_str(), value.as_str()));
        }
        for (group, tags) in by_group {
            let expected = record(group, "draining_old");
            let expected: Vec<(&str, &str)> = expected
                .iter()
                .map(|(key, value)| (key.as_str(), value.as_str()))
                .collect();
            assert_eq!(
                tags, expected,
                "{group}'s whole record, in one call: {call:?}"
            );
        }
    }
}

/// The goal: ten fleets' records made in one tick take one call and one token. Before the
/// gatherer each record was its own call: five took the burst's tokens, five were deferred.
#[tokio::test(start_paused = true)]
async fn ten_fleets_records_in_one_tick_make_one_call() {
    let aws = Aws::new("2/s burst 5", Refusals::default());
    let answers = in_one_tick(&aws, 10, TokenWait::IfFreeNow).await;
    assert_eq!(made(&answers).len(), 10, "{answers:?}");
    assert_eq!(
        aws.groups_per_call(),
        vec![(0..10).map(group).collect::<Vec<_>>()]
    );
    assert_eq!(aws.budget.stats().calls, 1, "one token for the ten records");
    assert_atomic(&aws);
}

/// A group deleted (AWS refuses any call naming it) fails its own record only: the refused
/// batch is split until the group stands alone, and every other record is made in the same
/// tick.
#[tokio::test(start_paused = true)]
async fn a_deleted_group_does_not_poison_the_other_records() {
    let deleted = group(5);
    let aws = Aws::new(
        "10/s burst 20",
        Refusals {
            missing_group: Some(deleted.clone()),
            every_call: None,
        },
    );
    let answers = in_one_tick(&aws, 8, TokenWait::IfFreeNow).await;
    assert!(
        matches!(&answers[&deleted], Recorded::Failed(err) if err.code() == Some("ValidationError")),
        "{answers:?}"
    );
    let others: Vec<String> = (0..8).map(group).filter(|g| *g != deleted).collect();
    assert_eq!(made(&answers), others, "{answers:?}");
    let calls = aws.groups_per_call();
    assert_eq!(calls[0].len(), 8, "first the whole batch: {calls:?}");
    assert_eq!(
        calls.last(),
        Some(&vec![deleted.clone()]),
        "the refused group alone, last: {calls:?}"
    );
    // Halving: 8 -> 4 + 4 -> 2 + 2 -> 1 + 1: seven calls, not one per group after the first.
    assert_eq!(calls.len(), 7, "{calls:?}");
    assert_atomic(&aws);
}

/// A split whose parts the budget has no token for leaves their records not made (written
/// again at the next step), never failed; the group that poisoned the batch is not blamed on
/// the others.
#[tokio::test(start_paused = true)]
async fn parts_of_a_split_without_a_token_are_not_made() {
    let deleted = group(0);
    let aws = Aws::new(
        "1/s burst 2",
        Refusals {
            missing_group: Some(deleted.clone()),
            every_call: None,
        },
    );
    let answers = in_one_tick(&aws, 4, TokenWait::IfFreeNow).await;
    // Token 1: all four, refused. Token 2: the half with the deleted group, refused. No
    // token for the other half, nor for the quarters.
    assert_eq!(
        aws.groups_per_call().len(),
        2,
        "{:?}",
        aws.groups_per_call()
    );
    assert!(made(&answers).is_empty(), "{answers:?}");
    for name in [group(2), group(3)] {
        assert!(
            matches!(answers[&name], Recorded::NotMade),
            "{name}: not made, not failed: {answers:?}"
        );
    }
}

/// The next tick, the records not made come again with the deleted group's: they are made.
#[tokio::test(start_paused = true)]
async fn records_not_made_beside_a_deleted_group_are_made_at_a_later_tick() {
    let deleted = group(0);
    let aws = Aws::new(
        "2/s burst 3",
        Refusals {
            missing_group: Some(deleted.clone()),
            every_call: None,
        },
    );
    let records = Arc::new(PhaseRecords::new(DEFAULT_WINDOW, GROUPS_PER_CALL));
    let mut waiting: Vec<String> = (0..6).map(group).collect();
    for _tick in 0..10 {
        let answers = in_one_tick_with(&aws, &records, waiting.clone(), TokenWait::IfFreeNow).await;
        // The engine issues again what was not made (and a failed record, informational).
        waiting.retain(|name| !matches!(answers[name], Recorded::Made));
        if waiting == vec![deleted.clone()] {
            break;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    assert_eq!(waiting, vec![deleted], "every other record was made");
    assert_atomic(&aws);
}

/// A throttle says nothing about the groups: the batch is not split (that would only make
/// more calls); every record gets the error and is written again later.
#[tokio::test(start_paused = true)]
async fn a_throttled_batch_is_not_split() {
    let aws = Aws::new(
        "10/s burst 20",
        Refusals {
            missing_group: None,
            every_call: Some("Throttling"),
        },
    );
    let answers = in_one_tick(&aws, 6, TokenWait::IfFreeNow).await;
    assert_eq!(aws.calls().len(), 1);
    assert!(
        answers
            .values()
            .all(|answer| matches!(answer, Recorded::Failed(err) if err.is_transient())),
        "{answers:?}"
    );
}

#[test]
fn only_a_refusal_aws_answered_may_blame_one_group() {
    assert!(may_blame_one_group(&api_error("ValidationError")));
    assert!(may_blame_one_group(&api_error("InternalFailure")));
    assert!(may_blame_one_group(&api_error("ResponseError")));
    assert!(!may_blame_one_group(&api_error("Throttling")));
    assert!(!may_blame_one_group(&api_error("RequestLimitExceeded")));
    assert!(!may_blame_one_group(&api_error("Timeout")));
    assert!(!may_blame_one_group(&api_error("DispatchFailure")));
}

/// With no token free, nothing is sent and every record of the tick is not made.
#[tokio::test(start_paused = true)]
async fn a_tick_with_no_token_sends_nothing() {
    let aws = Aws::new("1/s burst 1", Refusals::default());
    aws.budget.admit(TAGS, Priority::Command).await;
    let answers = in_one_tick(&aws, 5, TokenWait::IfFreeNow).await;
    assert!(aws.calls().is_empty());
    assert!(
        answers
            .values()
            .all(|answer| matches!(answer, Recorded::NotMade))
    );
}

/// The final record queues for its token, and the records gathered with it ride along.
#[tokio::test(start_paused = true)]
async fn a_final_record_queues_and_carries_its_batch() {
    let aws = Aws::new("1/s burst 1", Refusals::default());
    aws.budget.admit(TAGS, Priority::Command).await;
    let records = Arc::new(PhaseRecords::new(DEFAULT_WINDOW, GROUPS_PER_CALL));
    let mut tasks = JoinSet::new();
    for n in 0..4 {
        let (aws, records) = (aws.clone(), Arc::clone(&records));
        let wait = if n == 0 {
            TokenWait::Queue
        } else {
            TokenWait::IfFreeNow
        };
        tasks.spawn(async move { (group(n), aws.record(&records, &group(n), wait).await) });
    }
    let answers: BTreeMap<String, Recorded> = tasks.join_all().await.into_iter().collect();
    assert_eq!(made(&answers).len(), 4, "{answers:?}");
    assert_eq!(aws.calls().len(), 1);
}

/// Two records for one group in the same batch: the later one is written (last writer wins),
/// once, and both are answered by that write.
#[tokio::test(start_paused = true)]
async fn the_last_record_for_a_group_in_a_batch_wins() {
    let aws = Aws::new("2/s burst 5", Refusals::default());
    let records = PhaseRecords::new(DEFAULT_WINDOW, GROUPS_PER_CALL);
    let name = group(1);
    let first = aws.record_tags(
        &records,
        &name,
        record(&name, "detaching_old"),
        TokenWait::IfFreeNow,
    );
    let second = async {
        tokio::time::sleep(Duration::from_millis(5)).await;
        aws.record_tags(
            &records,
            &name,
            record(&name, "draining_old"),
            TokenWait::IfFreeNow,
        )
        .await
    };
    let (first, second) = tokio::join!(first, second);
    assert!(matches!(first, Recorded::Made) && matches!(second, Recorded::Made));
    assert_eq!(aws.calls().len(), 1);
    assert_atomic(&aws);
}

/// More groups than one call carries: whole batches of [`GROUPS_PER_CALL`], then the rest.
#[tokio::test(start_paused = true)]
async fn more_groups_than_a_call_carries_take_the_next_call() {
    let aws = Aws::new("2/s burst 5", Refusals::default());
    let answers = in_one_tick(&aws, GROUPS_PER_CALL + 5, TokenWait::IfFreeNow).await;
    assert_eq!(made(&answers).len(), GROUPS_PER_CALL + 5);
    let sizes: Vec<usize> = aws.groups_per_call().iter().map(Vec::len).collect();
    assert_eq!(sizes, vec![GROUPS_PER_CALL, 5]);
    assert_atomic(&aws);
}
