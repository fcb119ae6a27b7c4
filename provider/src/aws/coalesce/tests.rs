//! The glue's behaviour in tokio's paused clock: a simulated AWS whose `fetch` waits (for a
//! budget, for the call) and records what it was asked.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::Instant;

use super::{Coalescer, Priority, Seal};

const WINDOW: Duration = Duration::from_millis(20);

/// One call the simulated AWS answered: its keys, priority, and when (since the test began).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Call {
    keys: Vec<String>,
    priority: Priority,
    at: Duration,
}

/// A simulated AWS: `admission` before the keys are read (the budget), `latency` after.
#[derive(Clone)]
struct Aws {
    began: Instant,
    admission: Duration,
    latency: Duration,
    calls: Arc<Mutex<Vec<Call>>>,
    invocations: Arc<Mutex<u32>>,
    fails: bool,
    /// Keys the answer leaves out.
    unknown: &'static [&'static str],
}

impl Aws {
    fn new(admission: Duration, latency: Duration) -> Aws {
        Aws {
            began: Instant::now(),
            admission,
            latency,
            calls: Arc::default(),
            invocations: Arc::default(),
            fails: false,
            unknown: &[],
        }
    }

    fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    fn invocations(&self) -> u32 {
        *self.invocations.lock().unwrap()
    }

    /// The answer for `key` from the `call`th call: distinguishable per call.
    fn value(key: &str, call: usize) -> String {
        format!("{key}@{call}")
    }

    async fn fetch(
        self,
        seal: Seal<String>,
        priority: Priority,
    ) -> Result<BTreeMap<String, String>, String> {
        *self.invocations.lock().unwrap() += 1;
        tokio::time::sleep(self.admission).await;
        let keys = seal.keys().to_vec();
        let call = {
            let mut calls = self.calls.lock().unwrap();
            calls.push(Call {
                keys: keys.clone(),
                priority,
                at: self.began.elapsed(),
            });
            calls.len() - 1
        };
        tokio::time::sleep(self.latency).await;
        if self.fails {
            return Err(format!("throttled (call {call})"));
        }
        Ok(keys
            .iter()
            .filter(|key| !self.unknown.contains(&key.as_str()))
            .map(|key| (key.clone(), Aws::value(key, call)))
            .collect())
    }
}

type Reads = Arc<Coalescer<String, String, String>>;

fn reads(max_keys: usize) -> Reads {
    Arc::new(Coalescer::new(WINDOW, max_keys))
}

fn spawn_get(
    tasks: &mut JoinSet<(String, Result<String, String>)>,
    reads: &Reads,
    aws: &Aws,
    key: &str,
    priority: Priority,
) {
    let reads = Arc::clone(reads);
    let aws = aws.clone();
    let key = key.to_string();
    tasks.spawn(async move {
        let answer = reads
            .get(key.clone(), priority, |seal, priority| {
                aws.clone().fetch(seal, priority)
            })
            .await;
        (key, answer)
    });
}

async fn answers(
    mut tasks: JoinSet<(String, Result<String, String>)>,
) -> BTreeMap<String, Result<String, String>> {
    let mut answers = BTreeMap::new();
    while let Some(done) = tasks.join_next().await {
        let (key, answer) = done.unwrap();
        answers.insert(key, answer);
    }
    answers
}

fn nothing_left(reads: &Reads) {
    let (batches, slots) = reads
        .shared
        .with_state(|state| (state.gathering.batches(), state.slots.len()));
    assert_eq!(
        (batches, slots),
        (0, 0),
        "every batch forgotten once answered"
    );
}

#[tokio::test(start_paused = true)]
async fn ten_concurrent_reads_share_one_call() {
    let reads = reads(50);
    let aws = Aws::new(Duration::ZERO, Duration::from_millis(30));
    let mut tasks = JoinSet::new();
    let keys: Vec<String> = (0..10).map(|n| format!("fleet-{n}")).collect();
    for key in &keys {
        spawn_get(&mut tasks, &reads, &aws, key, Priority::Observation);
    }
    let answers = answers(tasks).await;
    let calls = aws.calls();
    assert_eq!(calls.len(), 1, "one call for ten readers: {calls:?}");
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(calls[0].keys, sorted);
    assert_eq!(calls[0].at, WINDOW, "sent when the window ends");
    for key in &keys {
        assert_eq!(
            answers[key],
            Ok(Aws::value(key, 0)),
            "each reader gets its own key"
        );
    }
    let stats = reads.stats();
    assert_eq!((stats.callers, stats.calls, stats.keys), (10, 1, 10));
    assert_eq!(stats.saved(), 9);
    nothing_left(&reads);
}

#[tokio::test(start_paused = true)]
async fn a_call_already_sent_is_not_joined() {
    let reads = reads(50);
    let aws = Aws::new(Duration::ZERO, Duration::from_millis(100));
    let mut tasks = JoinSet::new();
    spawn_get(&mut tasks, &reads, &aws, "web", Priority::Observation);
    // The first call is out at 20 ms and answers at 120 ms; this reader comes in between.
    tokio::time::sleep(Duration::from_millis(50)).await;
    spawn_get(&mut tasks, &reads, &aws, "web", Priority::Observation);
    let answers = answers(tasks).await;
    let calls = aws.calls();
    assert_eq!(
        calls.len(),
        2,
        "the late reader waits for a call of its own: {calls:?}"
    );
    assert_eq!(calls[1].at, Duration::from_millis(70));
    // Both readers asked for `web`: the one that joined late got the second call's answer.
    assert_eq!(answers["web"], Ok(Aws::value("web", 1)));
    nothing_left(&reads);
}

#[tokio::test(start_paused = true)]
async fn readers_join_while_the_budget_holds_the_call() {
    let reads = reads(50);
    // The budget holds the call for 200 ms after the window.
    let aws = Aws::new(Duration::from_millis(200), Duration::from_millis(30));
    let mut tasks = JoinSet::new();
    spawn_get(&mut tasks, &reads, &aws, "web", Priority::Observation);
    tokio::time::sleep(Duration::from_millis(150)).await;
    spawn_get(&mut tasks, &reads, &aws, "api", Priority::Observation);
    let answers = answers(tasks).await;
    let calls = aws.calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].keys, vec!["api".to_string(), "web".to_string()]);
    assert_eq!(answers["api"], Ok(Aws::value("api", 0)));
    nothing_left(&reads);
}

#[tokio::test(start_paused = true)]
async fn a_full_batch_goes_at_once_and_the_next_caller_opens_another() {
    let reads = reads(3);
    let aws = Aws::new(Duration::ZERO, Duration::from_millis(10));
    let mut tasks = JoinSet::new();
    for n in 0..7 {
        spawn_get(
            &mut tasks,
            &reads,
            &aws,
            &format!("k{n}"),
            Priority::Observation,
        );
    }
    let answers = answers(tasks).await;
    let calls = aws.calls();
    let sizes: Vec<usize> = calls.iter().map(|call| call.keys.len()).collect();
    assert_eq!(sizes, vec![3, 3, 1], "{calls:?}");
    assert_eq!(
        calls[0].at,
        Duration::ZERO,
        "a full batch does not wait out the window"
    );
    assert_eq!(calls[1].at, Duration::ZERO);
    assert_eq!(calls[2].at, WINDOW, "the last, not full, waits for others");
    assert_eq!(answers.len(), 7);
    assert!(answers.values().all(Result::is_ok));
    nothing_left(&reads);
}

#[tokio::test(start_paused = true)]
async fn a_command_joining_raises_the_waiting_call_to_its_priority() {
    let reads = reads(50);
    let aws = Aws::new(Duration::from_millis(200), Duration::from_millis(10));
    let mut tasks = JoinSet::new();
    spawn_get(&mut tasks, &reads, &aws, "web", Priority::Observation);
    // The observation's call waits for its budget; a command's read arrives.
    tokio::time::sleep(Duration::from_millis(100)).await;
    spawn_get(&mut tasks, &reads, &aws, "api", Priority::Command);
    let answers = answers(tasks).await;
    let calls = aws.calls();
    assert_eq!(calls.len(), 1, "one call sent: {calls:?}");
    assert_eq!(calls[0].priority, Priority::Command);
    assert_eq!(calls[0].keys.len(), 2);
    assert_eq!(
        aws.invocations(),
        2,
        "the observation's wait was given up and started again as a command's"
    );
    assert_eq!(
        calls[0].at,
        Duration::from_millis(300),
        "waited again from 100 ms"
    );
    assert_eq!(answers["web"], Ok(Aws::value("web", 0)));
    assert_eq!(reads.stats().calls, 1);
    nothing_left(&reads);
}

#[tokio::test(start_paused = true)]
async fn a_command_joining_a_call_already_out_does_not_restart_it() {
    let reads = reads(50);
    let aws = Aws::new(Duration::ZERO, Duration::from_millis(200));
    let mut tasks = JoinSet::new();
    spawn_get(&mut tasks, &reads, &aws, "web", Priority::Observation);
    tokio::time::sleep(Duration::from_millis(100)).await;
    spawn_get(&mut tasks, &reads, &aws, "api", Priority::Command);
    answers(tasks).await;
    let calls = aws.calls();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert_eq!(calls[0].priority, Priority::Observation);
    assert_eq!(calls[1].priority, Priority::Command);
    assert_eq!(aws.invocations(), 2, "no restart of a sealed call");
}

#[tokio::test(start_paused = true)]
async fn the_others_are_answered_when_the_sender_gives_up_while_its_call_is_out() {
    let reads = reads(50);
    let aws = Aws::new(Duration::ZERO, Duration::from_millis(100));
    let mut tasks = JoinSet::new();
    let sender = {
        let reads = Arc::clone(&reads);
        let aws = aws.clone();
        tokio::spawn(async move {
            reads
                .get(
                    "web".to_string(),
                    Priority::Observation,
                    |seal, priority| aws.clone().fetch(seal, priority),
                )
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(5)).await;
    for key in ["web", "api", "db"] {
        spawn_get(&mut tasks, &reads, &aws, key, Priority::Observation);
    }
    // The call is out at 20 ms; the sender's apply is cancelled at 50 ms.
    tokio::time::sleep(Duration::from_millis(45)).await;
    sender.abort();
    assert!(sender.await.unwrap_err().is_cancelled());
    let answers = tokio::time::timeout(Duration::from_secs(10), answers(tasks))
        .await
        .expect("the others are answered");
    let calls = aws.calls();
    assert_eq!(
        calls.len(),
        2,
        "another member sent the call again: {calls:?}"
    );
    assert_eq!(calls[1].keys, calls[0].keys, "with the same keys");
    assert_eq!(calls[1].at, Duration::from_millis(50));
    for key in ["web", "api", "db"] {
        assert_eq!(answers[key], Ok(Aws::value(key, 1)));
    }
    assert_eq!(reads.stats().calls, 2);
    nothing_left(&reads);
}

#[tokio::test(start_paused = true)]
async fn the_others_are_answered_when_the_sender_gives_up_while_gathering() {
    let reads = reads(50);
    let aws = Aws::new(Duration::ZERO, Duration::from_millis(30));
    let mut tasks = JoinSet::new();
    let sender = {
        let reads = Arc::clone(&reads);
        let aws = aws.clone();
        tokio::spawn(async move {
            reads
                .get(
                    "web".to_string(),
                    Priority::Observation,
                    |seal, priority| aws.clone().fetch(seal, priority),
                )
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(5)).await;
    spawn_get(&mut tasks, &reads, &aws, "api", Priority::Observation);
    tokio::time::sleep(Duration::from_millis(5)).await;
    sender.abort();
    let _ = sender.await;
    let answers = tokio::time::timeout(Duration::from_secs(10), answers(tasks))
        .await
        .expect("the other is answered");
    let calls = aws.calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(
        calls[0].at, WINDOW,
        "the new sender keeps the batch's window"
    );
    assert_eq!(answers["api"], Ok(Aws::value("api", 0)));
    nothing_left(&reads);
}

#[tokio::test(start_paused = true)]
async fn a_failed_call_fails_every_member() {
    let reads = reads(50);
    let mut aws = Aws::new(Duration::ZERO, Duration::from_millis(10));
    aws.fails = true;
    let mut tasks = JoinSet::new();
    for key in ["a", "b", "c", "d", "e"] {
        spawn_get(&mut tasks, &reads, &aws, key, Priority::Observation);
    }
    let answers = answers(tasks).await;
    assert_eq!(aws.calls().len(), 1);
    for answer in answers.values() {
        assert_eq!(answer, &Err("throttled (call 0)".to_string()));
    }
    assert_eq!(reads.stats().callers, 5);
    nothing_left(&reads);
}

#[tokio::test(start_paused = true)]
async fn a_key_missing_from_the_answer_gets_the_default() {
    let reads = reads(50);
    let mut aws = Aws::new(Duration::ZERO, Duration::from_millis(10));
    aws.unknown = &["gone"];
    let mut tasks = JoinSet::new();
    spawn_get(&mut tasks, &reads, &aws, "web", Priority::Observation);
    spawn_get(&mut tasks, &reads, &aws, "gone", Priority::Observation);
    let answers = answers(tasks).await;
    assert_eq!(answers["gone"], Ok(String::new()));
    assert_eq!(answers["web"], Ok(Aws::value("web", 0)));
}

#[tokio::test(start_paused = true)]
async fn a_fetch_that_never_reads_its_keys_still_closes_its_batch() {
    let reads = reads(50);
    let calls = Arc::new(Mutex::new(0));
    let fetch = |_seal: Seal<String>, _priority| {
        let calls = Arc::clone(&calls);
        async move {
            *calls.lock().unwrap() += 1;
            tokio::time::sleep(Duration::from_millis(10)).await;
            Ok::<_, String>(BTreeMap::from([("web".to_string(), "up".to_string())]))
        }
    };
    let (first, second) = tokio::join!(
        reads.get("web".to_string(), Priority::Observation, fetch),
        reads.get("web".to_string(), Priority::Observation, fetch),
    );
    assert_eq!(
        (first, second),
        (Ok("up".to_string()), Ok("up".to_string()))
    );
    assert_eq!(*calls.lock().unwrap(), 1);
    assert_eq!(reads.stats().calls, 1);
    nothing_left(&reads);
}

#[test]
fn fixed_keys_answer_as_given() {
    let seal = Seal::fixed(vec!["a", "b"]);
    assert_eq!(seal.keys(), ["a", "b"]);
}

#[tokio::test(start_paused = true)]
async fn identical_reads_of_a_one_key_kind_share_a_call() {
    let reads = reads(1);
    let aws = Aws::new(Duration::ZERO, Duration::from_millis(10));
    let mut tasks = JoinSet::new();
    for _ in 0..5 {
        spawn_get(&mut tasks, &reads, &aws, "arn:blue", Priority::Observation);
    }
    spawn_get(&mut tasks, &reads, &aws, "arn:green", Priority::Observation);
    answers(tasks).await;
    let mut keys: Vec<Vec<String>> = aws.calls().into_iter().map(|call| call.keys).collect();
    keys.sort();
    assert_eq!(
        keys,
        vec![vec!["arn:blue".to_string()], vec!["arn:green".to_string()]]
    );
    assert_eq!(reads.stats().callers, 6);
    nothing_left(&reads);
}

/// Through the real rate budget: a command's read joining an observation batch that waits for
/// its token takes the batch ahead of the observations queued before it.
#[tokio::test(start_paused = true)]
async fn a_raised_batch_goes_before_observations_queued_at_the_budget() {
    use super::super::budget::{AUTOSCALING, Api, RateBudget, RateLimits};

    const API: Api = Api::new(AUTOSCALING, "DescribeAutoScalingGroups");
    let (limits, warnings) = RateLimits::parse("autoscaling:DescribeAutoScalingGroups=1/s burst 1");
    assert!(warnings.is_empty(), "{warnings:?}");
    let budget = Arc::new(RateBudget::new(limits));
    let began = Instant::now();
    // Somebody took the only token; another observation queues for the next (at 1 s).
    budget.admit(API, Priority::Observation).await;
    let queued = {
        let budget = Arc::clone(&budget);
        tokio::spawn(async move {
            budget.admit(API, Priority::Observation).await;
            began.elapsed()
        })
    };
    tokio::task::yield_now().await;

    let reads = reads(50);
    let sent: Arc<Mutex<Vec<Call>>> = Arc::default();
    let read = |key: &'static str, priority: Priority| {
        let reads = Arc::clone(&reads);
        let budget = Arc::clone(&budget);
        let sent = Arc::clone(&sent);
        tokio::spawn(async move {
            reads
                .get(key.to_string(), priority, |seal, priority| {
                    let budget = Arc::clone(&budget);
                    let sent = Arc::clone(&sent);
                    async move {
                        budget.admit(API, priority).await;
                        let keys = seal.keys().to_vec();
                        sent.lock().unwrap().push(Call {
                            keys: keys.clone(),
                            priority,
                            at: began.elapsed(),
                        });
                        Ok::<_, String>(
                            keys.into_iter()
                                .map(|key| (key, "seen".to_string()))
                                .collect(),
                        )
                    }
                })
                .await
        })
    };
    let observation = read("web", Priority::Observation);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let command = read("api", Priority::Command);
    assert_eq!(observation.await.unwrap(), Ok("seen".to_string()));
    assert_eq!(command.await.unwrap(), Ok("seen".to_string()));
    let sent = sent.lock().unwrap().clone();
    assert_eq!(
        sent,
        vec![Call {
            keys: vec!["api".to_string(), "web".to_string()],
            priority: Priority::Command,
            at: Duration::from_secs(1),
        }],
        "the raised batch took the next token"
    );
    assert_eq!(
        queued.await.unwrap(),
        Duration::from_secs(2),
        "the observation queued first waited"
    );
    assert_eq!(
        budget.waiting(API),
        0,
        "the dropped observation's place was given up"
    );
    assert_eq!(budget.stats().by_api[&API].calls, 3);
}
