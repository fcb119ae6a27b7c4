//! One guarded apply against the hostile local AWS (issue #15): the standard mix on S3 and
//! DynamoDB (20 % throttling, 2 % 5xx, 200 ms added latency, 10 s stale reads), scoped to this
//! test's guard and terraform by the backend's own access key. Required: exit 0, the lease
//! released, no Terraform lock left, the state intact (the resource present, a plan with nothing
//! to do once the faults are gone).
//!
//! The stale reads hit only what AWS can serve stale: DynamoDB's eventually consistent reads
//! (`DescribeTable`, a `GetItem` without `ConsistentRead`). S3 is strongly consistent (since
//! December 2020; the local AWS refuses a `stale_read` rule for it) and every DynamoDB read of a
//! lock, digest or lease, Terraform's and the guard's, is `ConsistentRead`, which the local AWS
//! never serves stale. (When it did, Terraform itself failed: "Error releasing the state lock:
//! lock ID ... does not match", its unlock having read the plan's lock.) So with the lockfile,
//! whose lock and lease are S3 objects, no read can be stale.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use crate::guard_support::{Bed, Locking, text};
use zdd_test_support::{FaultRule, Record, wait_with_timeout};

/// The standard mix's window (`Faults::hostile()`'s `stale_read_max`), on the wall clock.
const HOSTILE_STALE_READ_MAX: Duration = Duration::from_secs(10);

const QUICK: &str = r#"
resource "terraform_data" "a" {
  input = "one"
}
"#;

/// The mix of `LocalAws::hostile`, rule by rule, scoped by access key: S3's REST calls carry
/// the bucket in the path, which a rule's `match` (query and body) does not see. S3 has no stale
/// reads, as in the preset: AWS serves none.
///
/// `stale_read_max` is on the local AWS's model clock, `time_scale` times faster than the wall
/// clock Terraform and the guard run on: 10 s / time scale lags their reads 10 s.
fn hostile_rules(access_key: &str, seed: u64, time_scale: f64) -> Vec<FaultRule> {
    let stale_read_max = Duration::from_secs_f64(HOSTILE_STALE_READ_MAX.as_secs_f64() / time_scale);
    let mut rules = Vec::new();
    for (index, service) in ["s3", "dynamodb"].into_iter().enumerate() {
        let seed = seed * 1000 + 10 * index as u64;
        rules.extend([
            FaultRule::latency(service, Duration::from_millis(200)).seed(seed + 1),
            FaultRule::throttle(service).probability(0.2).seed(seed + 2),
            FaultRule::server_error(service)
                .probability(0.02)
                .seed(seed + 3),
        ]);
        if service == "dynamodb" {
            rules.push(FaultRule::stale_reads(service, stale_read_max).seed(seed + 4));
        }
    }
    rules
        .into_iter()
        .map(|rule| rule.access_key_id(access_key))
        .collect()
}

async fn guarded_apply_under_faults(name: &str, locking: Locking, seed: u64) {
    let bed = Bed::new(name, locking, QUICK).await;
    let access_key = format!("hostile-{name}");
    bed.sign_backend_with(&access_key);

    let ids: Vec<String> = hostile_rules(&access_key, seed, bed.aws.time_scale())
        .iter()
        .map(|rule| bed.aws.add_fault_rule(rule).unwrap())
        .collect();
    let started = Instant::now();
    let run = bed
        .guard(&[
            "run",
            "--watch-interval",
            "1s",
            "--",
            "apply",
            "-auto-approve",
            "-no-color",
        ])
        .spawn()
        .unwrap();
    let output = wait_with_timeout(run, Duration::from_secs(600));
    let took = started.elapsed();
    let rules = bed.aws.faults().unwrap();
    for id in &ids {
        bed.aws.clear_faults(Some(id)).unwrap();
    }
    let ours: Vec<&serde_json::Value> = rules
        .as_array()
        .unwrap()
        .iter()
        .filter(|rule| ids.iter().any(|id| rule["id"] == id.as_str()))
        .collect();
    let hits = |kind: &str| -> u64 {
        ours.iter()
            .filter(|rule| rule["kind"] == kind)
            .map(|rule| rule["hits"].as_u64().unwrap_or(0))
            .sum()
    };
    // Every call in scope is delayed: the latency rules' hits count the calls.
    let calls = hits("latency");
    // A stale-read rule's hits count draws in an open window, also those with no earlier view
    // to serve; the statistics count the reads served stale.
    let served_stale = bed
        .aws
        .fault_stats_for(&access_key)
        .unwrap()
        .total_faults("stale_read");
    let injected = hits("throttle") + hits("server_error") + served_stale;
    let output = output.unwrap();
    let all = text(&output);
    Record {
        faults: format!(
            "S3 and DynamoDB: 20 % throttling, 2 % 5xx, 200 ms, 10 s stale reads (DynamoDB's \
             eventually consistent reads: AWS serves S3 and ConsistentRead fresh), seed {seed}"
        ),
        calls,
        faults_injected: injected,
        convergence: took,
        converged: output.status.code() == Some(0),
        notes: format!(
            "one guarded apply; exit {:?}; throttled {}, 5xx {}, served stale {}",
            output.status.code(),
            hits("throttle"),
            hits("server_error"),
            served_stale,
        ),
        ..Record::new("guarded apply under faults", &format!("{locking:?}"))
    }
    .publish()
    .unwrap();

    assert_eq!(output.status.code(), Some(0), "{all}");
    assert!(all.contains("released"), "{all}");
    assert!(calls > 0 && injected > 0, "the faults hit: {ours:?}");
    bed.assert_nothing_held().await;
    let state = String::from_utf8(bed.state_bytes().await.unwrap()).unwrap();
    assert!(state.contains("terraform_data"), "{state}");
    let plan = bed
        .tf
        .run(&["plan", "-detailed-exitcode", "-input=false", "-no-color"])
        .unwrap();
    assert_eq!(plan.code, 0, "nothing left to do: {plan:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_guarded_apply_survives_the_hostile_mix_dynamodb() {
    guarded_apply_under_faults("hostile-ddb", Locking::DynamoDb, 15).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_guarded_apply_survives_the_hostile_mix_lockfile() {
    guarded_apply_under_faults("hostile-lf", Locking::Lockfile, 16).await;
}
