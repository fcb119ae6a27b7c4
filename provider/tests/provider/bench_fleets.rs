//! Benchmark (prints a table, asserts nothing about time): issue #16's scale table on the local
//! AWS, up to what it handles on 2 cores. 1 and 10 blue/green rollouts at once, of 2 and 20
//! instances each, driven by the provider's own driver (`common::driving::roll`: the first
//! observation, then `run_with_poll`), no Terraform. The simulator's rows (50 resources, 200
//! and 1,000 instances) are `provider/benches/scale.rs`.
//!
//! `cargo test --workspace --test provider -- bench_fleets:: --ignored --nocapture`
//!
//! Set-up of each row: a fixture per fleet (its own VPC, ALB and blue target group: no two
//! fleets share a target group, so target-health reads cannot be shared, as in the
//! simulator's rows), the fleets created at launch template version 1, then all rolled to
//! version 2 at once; only that update is measured. The local AWS is an own server with AWS's
//! health-check timings (time scale 1.0: a new target is healthy after 2 checks 5 s apart;
//! a 20-instance row then takes about as long as a 2-instance one), and its `rate_limit`
//! mode at AWS's published rates (`FaultRule::aws_rate_limits`), scoped to the row's access
//! key. The driver's poll cap is the provider's default, 2 s.
//!
//! `clients` says how the resources reach AWS: `shared`, one `AwsClients` for every resource,
//! as in one provider process (one `RateBudget`, one `Coalescer` per read kind, the
//! provider-wide poll grid); `tags5`, the same with the budget of CreateOrUpdateTags raised
//! from 2/s (burst 5) to 5/s (burst 10) (`RAISED_TAG_WRITES`); `own`, one `AwsClients` per
//! resource: coalescing off (the provider has no switch for it: `AwsClients` fixes the
//! window), but each resource also gets a budget of its own, as if each fleet had its own
//! provider process. Their peaks are per budget, not the account's, so that column shows `-`.
//!
//! Columns: `wall`, from the updates' start to the last one's outcome, against the `floor`, the
//! slowest fleet's floor as the health model implies it (`bench_rollouts::floor`: time to
//! healthy, then the deregistration delay and drain margin the engine waits on its own
//! clock); AWS calls per resource from the budget's stats (`BudgetStats`), every API, then
//! DescribeAutoScalingGroups and DescribeTargetHealth alone; the most calls in one second
//! for those two against the budget (`peak/rate+burst`: at most rate + burst in any second);
//! throttled attempts the budget counted and those the local AWS answered (the same if the
//! count is right); reads coalescing saved; the bench process's peak RSS (VmHWM) after the
//! row. Every rollout must succeed and the health model must see no violation (a target
//! terminated while registered or draining): that is asserted, nothing about time is.
//!
//! Figures (2026-12-03 07:20 UTC, loaded machine: 2 cores shared with 3 other helpers' builds
//! and tests; debug build; the whole run 7.3 min. Three other runs, the last on main at
//! a226c67 (the lazy SDK load): the `shared` and `tags5` rows within 1.5 s of these, the `own`
//! rows 30-35 s):
//!
//! ```text
//!  res inst clients    wall   floor ratio calls/res DASG/res DTH/res    DASG peak     DTH peak held/res throttled saved RSS MiB
//!    1    2  shared   24.0s   20.0s  1.20      53.0     20.0    16.0       4/5+10       2/4+10     0.0s       0/0     0      31
//!    1   20  shared   24.0s   20.0s  1.20      53.0     20.0    16.0       4/5+10       2/4+10     0.0s       0/0     0      31
//!   10    2  shared   43.1s   20.0s  2.16      35.5      9.4     9.1      14/5+10      11/4+10    32.5s       0/0    37      33
//!   10    2   tags5   29.0s   20.0s  1.45      38.5      9.0    12.5      13/5+10      13/4+10    15.5s       0/0    75      34
//!   10    2     own   35.4s   20.0s  1.77      50.0     18.5    14.5            -            -     0.0s     46/46     0      36
//!   10   20  shared   43.7s   20.0s  2.19      35.4      9.2     9.2      10/5+10      10/4+10    32.5s       0/0    40      37
//!   10   20   tags5   29.9s   20.0s  1.49      38.9      9.1    12.8      10/5+10      10/4+10    13.7s       0/0    77      39
//!   10   20     own   29.9s   20.0s  1.50      48.2     17.6    13.6            -            -     0.0s     21/21     0      42
//! ```
//!
//! - Coalescing works on the real path: DescribeAutoScalingGroups per resource 20 alone, 8.9-9.4
//!   for 10 fleets sharing one `AwsClients`, 17.4-18.5 with one each; calls per resource 53
//!   alone, 35-39 shared, 48-50 own. DescribeTargetHealth is not shared (a target group each).
//! - Peaks stay inside the budget (at most rate + burst in any second) and the shared rows
//!   see 0 throttles under the local AWS's AWS-rate limits; fleets with a budget each make
//!   the local AWS throttle 21-71 attempts a row (all retried: every rollout succeeded).
//! - Wall: one fleet 24 s against a 20 s floor (4 s over: about two 2 s poll intervals). Ten
//!   fleets sharing one budget take 43-44 s: the goal "the slowest one plus one interval" is
//!   MISSED. The cause is CreateOrUpdateTags: 9 per rollout (phase records and tags; the loop
//!   waits for a phase record up to `INFORMATIONAL_BOUND`, 5 s, `driver/execute.rs`), 90 for ten
//!   fleets at 2/s, so about 43 s; the budget held 81 of them for 300 s in all (per-API line of the
//!   output). At 5/s (`tags5`) the same rows take 29-30 s, and DescribeTargetHealth (4/s) is
//!   then what the budget holds. The simulator's rows do not show it: its rollouts last about
//!   170 s, over which ten fleets' tag writes fit in 2/s. Records batched across fleets
//!   (CreateOrUpdateTags takes tags for many groups) or taken off the loop's path would
//!   close it without raising the budget.
//! - After 099cf5b (a phase record the budget has no token for at once is deferred to the next
//!   step, never waited for), same machine and load, 07:40 UTC (the working tree also held an
//!   uncommitted DescribeTargetHealth budget of 6/s burst 10, hence `DTH peak .../6+10`):
//!
//! ```text
//!  res inst clients    wall   floor ratio calls/res DASG/res DTH/res    DASG peak     DTH peak held/res throttled saved RSS MiB
//!    1    2  shared   24.0s   20.0s  1.20      53.0     20.0    16.0       4/5+10       2/6+10     0.0s       0/0     0      31
//!    1   20  shared   24.0s   20.0s  1.20      53.0     20.0    16.0       4/5+10       2/6+10     0.0s       0/0     0      31
//!   10    2  shared   27.4s   20.0s  1.37      36.3      6.6    15.8      14/5+10      15/6+10     3.0s       2/2   132      33
//!   10    2   tags5   30.6s   20.0s  1.53      39.1      7.3    14.8      14/5+10      15/6+10     1.5s       6/6   115      33
//!   10    2     own   31.7s   20.0s  1.58      48.6     17.8    13.8            -            -     0.0s     56/56     0      35
//!   10   20  shared   27.5s   20.0s  1.38      36.3      6.8    15.6      13/5+10      15/6+10     2.4s       1/1   128      37
//!   10   20   tags5   30.2s   20.0s  1.51      39.7      8.2    14.8      14/5+10      15/6+10     1.1s       8/8   106      40
//!   10   20     own   32.7s   20.0s  1.63      48.8     17.9    13.9            -            -     0.0s     62/62     0      42
//! ```
//!
//!   Ten fleets sharing one budget: 43-44 s -> 27.4-27.5 s, 3.5 s after the slowest fleet alone
//!   (24.0 s): under two poll intervals, not yet one. CreateOrUpdateTags 9 -> 5.9 per resource
//!   (a deferred record superseded by the next phase's is never written), held 7.6 s in all
//!   instead of ~300 s; the shared rows now beat one budget per fleet (`own`, 31.7-32.7 s)
//!   and make the fewest calls. What is left: DescribeAutoScalingGroups held ~2 s a row (its
//!   peaks 13-14 of 15), and 1-2 throttles retried (the local AWS's shared Auto Scaling bucket).
//! - 20 instances cost what 2 do (the health model's waits do not grow with the fleet).
//!   Peak RSS of the bench process (SDK clients, runtime, test binary) 31-43 MiB.
//! - Batched phase records and what followed (2026-12-03 10:17-11:18 UTC, helper W; loaded
//!   machine: 2 cores shared with two other helpers' benches and builds, load average 4-5;
//!   debug build; each line one whole run of this bench, `before` built from main at f9099a1
//!   in a worktree and run just before the others). Wall of the ten `shared` fleets (2 / 20
//!   instances) against one fleet alone (23.9-24.0 s in every run), CreateOrUpdateTags per
//!   resource, and the slowest fleet's spans where they differ from one fleet's (alone: first
//!   look 0.1, launching 1.6-1.8, waiting_for_healthy 10.0, detaching_old 1.0, draining_old
//!   10.0, deleting_old 1.0; printed under the table):
//!
//! ```text
//!  run                                            wall 2 / 20     tags/res   slowest fleet's spans (s)
//!  before (f9099a1: records deferred)             27.9s / 27.4s   6.0 / 5.9  -
//!  + records batched (ad34870)                    27.1s / 26.8s   4.7 / 4.7  first look 2.2-2.3, launching 2.4-2.7
//!  + commands' by-name reads coalesced (fc92172)  26.8s / 27.2s   4.3 / 5.3  first look 2.3-2.9, launching 2.2-2.4
//!  + DescribePolicies burst 10                    27.0s / 26.8s   4.2 / 4.4  first look 0.5-1.0, launching 3.9-4.0
//!  + CreateAutoScalingGroup burst 10              25.5s / 26.1s   4.3 / 4.7  launching 2.4 / detaching_old 2.4, draining_old 10.6
//!  + Detach..TargetGroups, DeleteASG burst 10     25.3s / 25.8s   4.4 / 4.6  launching 2.7-2.8
//! ```
//!
//!   The records' own cost is gone: with them batched, every span after launching matches
//!   one fleet's, and CreateOrUpdateTags is held 2 calls for 0.3-0.6 s in all (9-10 calls,
//!   8-11 s before). Ten fleets' 90 records take 57-102 calls (101-158 asked: a record with
//!   no token is asked again at the next step); a batch holds two or three, as the fleets'
//!   steps spread over their DescribeTargetHealth reads (one each, 6/s: 35-49 held, 11-20 s
//!   in all, the largest hold left). What the spans then found, each fixed in turn: the first
//!   look's DescribePolicies (2/s burst 5: the tenth fleet waited 2.5 s; 0.7 s with a burst of
//!   10), then the creates, which the first looks had spread and now came together:
//!   DescribeAutoScalingGroups by name twice per create (20 reads, held 13 s in all, now one
//!   coalesced call per tick) and CreateAutoScalingGroup at burst 5 (3-4 held, 2.4-3.7 s).
//!   Then DetachLoadBalancerTargetGroups (burst 5: ten fleets detach together, 5 held for
//!   7.4 s) and DeleteAutoScalingGroup (4 held, 2 s) took the slowest fleet's detach to
//!   2.4 s; with a burst of 10 each, the last row: ten fleets in 25.3 s and 25.8 s against
//!   24.0 s alone, within one poll interval (the goal). What is left, 1.3-1.8 s: the slowest
//!   fleet's launching, 2.7-2.8 s against 1.8 s alone, and DescribeTargetHealth, held 48-56
//!   times (22-27 s in all: ten fleets' looks at 6/s, burst 10, which ELB's shared describe
//!   bucket leaves no room to raise); every other API is held under 1 s in all. (`tags5` is
//!   not comparable across these lines: it sets its own budget, without the bursts the
//!   `shared` rows were given through `ZDD_AWS_RATE_LIMITS` before they were the defaults.)

// Benchmark set-up helpers: a failed step must fail loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant, SystemTime};

use terraform_provider_zdd::aws::budget::{AUTOSCALING, Api, BudgetStats, ELBV2, RateLimits};
use terraform_provider_zdd::aws::coalesce::{CoalesceStats, KindStats};
use terraform_provider_zdd::aws::{AwsClients, CallOptions, Endpoints};
use terraform_provider_zdd::driver::{self, stats::peak_rss_kib};
use tokio::task::JoinSet;
use zdd_rollout::{Outcome, RolloutSpec};
use zdd_test_support::{Fixture, LocalAws, LocalAwsOptions};

use crate::bench_rollouts::{floor, raw};
use crate::common::driving::roll;

const RESOURCE_COUNTS: [usize; 2] = [1, 10];
const FLEET_SIZES: [i64; 2] = [2, 20];
const STRATEGY: &str = "blue_green";
/// AWS's own health-check timings.
const TIME_SCALE: f64 = 1.0;
/// The provider's default cap on the sleep between observations.
const MAX_POLL: Duration = Duration::from_secs(2);
const ROLL_TIMEOUT: Duration = Duration::from_secs(600);
/// The local AWS throttles at 1.0 × AWS's published rates.
const AWS_RATES: f64 = 1.0;
/// The budget of the `tags5` rows: the phase records (CreateOrUpdateTags, a command on every
/// rollout's critical path) at 5/s instead of 2/s, with a burst of one call per fleet.
const RAISED_TAG_WRITES: &str = "autoscaling:CreateOrUpdateTags=5/s burst 10";
const DESCRIBE_GROUPS: Api = Api::new(AUTOSCALING, "DescribeAutoScalingGroups");
const TARGET_HEALTH: Api = Api::new(ELBV2, "DescribeTargetHealth");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Clients {
    /// One `AwsClients` for every resource (one provider process).
    Shared,
    /// [`Clients::Shared`], with [`RAISED_TAG_WRITES`].
    SharedTags,
    /// One `AwsClients` per resource: no coalescing, a budget each.
    Own,
}

impl Clients {
    fn label(self) -> &'static str {
        match self {
            Clients::Shared => "shared",
            Clients::SharedTags => "tags5",
            Clients::Own => "own",
        }
    }
}

struct Row {
    resources: usize,
    instances: i64,
    clients: Clients,
    wall: Duration,
    floor: Duration,
    /// The update's calls, every budget's summed (peaks: the largest of one budget).
    budget: BudgetStats,
    limits: RateLimits,
    coalesced: CoalesceStats,
    throttled_at_aws: u64,
    peak_rss_kib: Option<u64>,
    /// Phase records asked for and the CreateOrUpdateTags calls that carried them.
    records: KindStats,
    /// Where the slowest fleet's time went.
    slowest: Spans,
}

/// One fleet's update, span by span from the update's start: its first look (until the
/// driver's loop began), the first step (until the engine's first phase entry), each phase
/// until the next, the last one until `run` returned (its final record included).
#[derive(Debug, Clone, Default)]
struct Spans {
    name: String,
    spans: Vec<(String, Duration)>,
    total: Duration,
}

impl Spans {
    fn of(name: &str, update_started: SystemTime, result: &driver::RunResult) -> Spans {
        let since = |at: SystemTime| at.duration_since(update_started).unwrap_or_default();
        let mut marks = vec![
            ("first look".to_string(), Duration::ZERO),
            ("first step".to_string(), since(result.started_at)),
        ];
        for event in result.timeline.iter().filter(|e| e.action == "phase") {
            let kind = event.detail.split([':', ' ']).next().unwrap_or("?");
            let at = SystemTime::UNIX_EPOCH + Duration::from_millis(event.at.0);
            marks.push((kind.to_string(), since(at)));
        }
        let total = since(result.finished_at);
        let spans = marks
            .iter()
            .enumerate()
            .map(|(n, (label, at))| {
                let next = marks.get(n + 1).map_or(total, |(_, next)| *next);
                (label.clone(), next.saturating_sub(*at))
            })
            .collect();
        Spans {
            name: name.to_string(),
            spans,
            total,
        }
    }

    fn line(&self) -> String {
        let spans: Vec<String> = self
            .spans
            .iter()
            .map(|(label, span)| format!("{label} {:.1}", span.as_secs_f64()))
            .collect();
        format!("{:.1}s = {}", self.total.as_secs_f64(), spans.join(", "))
    }
}

impl Row {
    fn calls_per_resource(&self, api: Option<Api>) -> f64 {
        let calls = match api {
            None => self.budget.calls,
            Some(api) => self.budget.by_api.get(&api).map_or(0, |stats| stats.calls),
        };
        calls as f64 / self.resources as f64
    }

    /// `peak/rate+burst` of `api`, or `-` where the peak is one budget's of several.
    fn peak(&self, api: Api) -> String {
        if self.clients == Clients::Own && self.resources > 1 {
            return "-".to_string();
        }
        let peak = self
            .budget
            .by_api
            .get(&api)
            .map_or(0, |stats| stats.peak_per_second);
        let limit = self.limits.limit(api);
        format!("{peak}/{}+{}", limit.per_second(), limit.burst())
    }
}

/// Several budgets' stats as one: calls, holds and throttles summed, each API's peak the
/// largest of any one budget (a lower bound of their sum's peak, so not the account's).
fn merged(stats: &[BudgetStats]) -> BudgetStats {
    let mut total = BudgetStats::default();
    for one in stats {
        total.calls += one.calls;
        total.held += one.held;
        total.held_for += one.held_for;
        total.throttled += one.throttled;
        for (api, api_stats) in &one.by_api {
            let sum = total.by_api.entry(*api).or_default();
            sum.calls += api_stats.calls;
            sum.held += api_stats.held;
            sum.held_for += api_stats.held_for;
            sum.throttled += api_stats.throttled;
            sum.peak_per_second = sum.peak_per_second.max(api_stats.peak_per_second);
        }
    }
    total
}

/// The default budget with [`RAISED_TAG_WRITES`].
fn raised_tag_writes() -> RateLimits {
    let (limits, problems) = RateLimits::parse(RAISED_TAG_WRITES);
    assert!(problems.is_empty(), "{problems:?}");
    limits
}

fn merged_coalescing(stats: &[CoalesceStats]) -> CoalesceStats {
    let mut total = CoalesceStats::default();
    for one in stats {
        for (sum, kind) in [
            (&mut total.rollout_groups, one.rollout_groups),
            (&mut total.target_health, one.target_health),
        ] {
            sum.callers += kind.callers;
            sum.calls += kind.calls;
            sum.keys += kind.keys;
        }
    }
    total
}

fn assert_succeeded(name: &str, stage: &str, result: &driver::RunResult) {
    assert!(
        matches!(result.outcome, Ok(Outcome::Succeeded { .. })),
        "{name} {stage}: {:?}",
        result.outcome
    );
}

/// Rolls every `(name, fixture)` to launch template `version` at once, each through its
/// `clients` entry; every rollout must succeed. Answers each fleet's spans.
async fn roll_all(
    fleets: &[(String, Fixture)],
    clients: &[AwsClients],
    instances: i64,
    version: &str,
) -> Vec<Spans> {
    let update_started = SystemTime::now();
    let mut spans = Vec::new();
    let mut runs = JoinSet::new();
    for ((name, fixture), aws) in fleets.iter().zip(clients.iter().cycle()) {
        let spec =
            RolloutSpec::validate(&raw(name, fixture, STRATEGY, instances, version)).unwrap();
        let (name, aws) = (name.clone(), aws.clone());
        runs.spawn(async move { (name, roll(&aws, spec, ROLL_TIMEOUT, MAX_POLL).await) });
    }
    let mut done = 0;
    while let Some(run) = runs.join_next().await {
        let (name, result) = run.unwrap();
        assert_succeeded(&name, &format!("to version {version}"), &result);
        spans.push(Spans::of(&name, update_started, &result));
        done += 1;
    }
    assert_eq!(done, fleets.len());
    spans
}

/// One row: `resources` fleets of `instances` created, then updated at once and measured.
async fn row(
    local: &LocalAws,
    number: usize,
    resources: usize,
    instances: i64,
    clients: Clients,
) -> Row {
    let access_key_id = format!("AKIDFLEETS{number:02}");
    let rules = local
        .rate_limit_like_aws(&access_key_id, AWS_RATES)
        .unwrap();
    let sdk = local.sdk_config_as(&access_key_id).await;

    let mut creating = JoinSet::new();
    for n in 0..resources {
        let sdk = sdk.clone();
        creating.spawn(async move { Fixture::create(&sdk, &format!("fl{number}n{n}")).await });
    }
    let mut fleets = Vec::new();
    while let Some(fixture) = creating.join_next().await {
        let fixture = fixture.unwrap().unwrap();
        let suffix: String = fixture.vpc_id.chars().rev().take(6).collect();
        fleets.push((format!("fl{number}n{}-{suffix}", fleets.len()), fixture));
    }

    // Creation and the floor's reads go through a client of their own: the measured budget
    // sees the update alone.
    let setup = AwsClients::new(&sdk, &Endpoints::default());
    roll_all(&fleets, std::slice::from_ref(&setup), instances, "1").await;
    let mut floor_of_slowest = Duration::ZERO;
    for (_, fixture) in &fleets {
        let timing = setup
            .target_group_timing(fixture.blue_target_group_arn())
            .await
            .unwrap();
        floor_of_slowest = floor_of_slowest.max(floor(STRATEGY, instances, &timing, TIME_SCALE));
    }

    let measured: Vec<AwsClients> = match clients {
        Clients::Shared => vec![AwsClients::new(&sdk, &Endpoints::default())],
        Clients::SharedTags => vec![AwsClients::with_options(
            &sdk,
            &Endpoints::default(),
            CallOptions {
                limits: raised_tag_writes(),
                ..CallOptions::from_env()
            },
        )],
        Clients::Own => (0..resources)
            .map(|_| AwsClients::new(&sdk, &Endpoints::default()))
            .collect(),
    };
    let throttled_before = local
        .fault_stats_for(&access_key_id)
        .unwrap()
        .total_faults("rate_limit");
    let started = Instant::now();
    let spans = roll_all(&fleets, &measured, instances, "2").await;
    let wall = started.elapsed();
    let slowest = spans
        .into_iter()
        .max_by_key(|spans| spans.total)
        .unwrap_or_default();
    let throttled_at_aws = local
        .fault_stats_for(&access_key_id)
        .unwrap()
        .total_faults("rate_limit")
        - throttled_before;

    let violations = local.violations().unwrap();
    assert!(
        violations.is_empty(),
        "health-model violations: {violations:?}"
    );
    for rule in &rules {
        local.clear_faults(Some(rule)).unwrap();
    }
    let budgets: Vec<BudgetStats> = measured.iter().map(AwsClients::budget_stats).collect();
    let coalescing: Vec<CoalesceStats> = measured.iter().map(AwsClients::coalesce_stats).collect();
    let mut records = KindStats::default();
    for aws in &measured {
        let one = aws.phase_record_stats();
        records.callers += one.callers;
        records.calls += one.calls;
        records.keys += one.keys;
    }
    Row {
        resources,
        instances,
        clients,
        wall,
        floor: floor_of_slowest,
        budget: merged(&budgets),
        limits: measured[0].budget().limits().clone(),
        coalesced: merged_coalescing(&coalescing),
        throttled_at_aws,
        peak_rss_kib: peak_rss_kib(),
        records,
        slowest,
    }
}

fn print_table(rows: &[Row]) {
    println!(
        "\n{STRATEGY} updates at once on the local AWS (time scale {TIME_SCALE}, poll cap {MAX_POLL:?}, \
         rate limits at {AWS_RATES} x AWS's)"
    );
    println!(
        "{:>4} {:>4} {:>7} {:>7} {:>7} {:>5} {:>9} {:>8} {:>7} {:>12} {:>12} {:>8} {:>9} {:>5} {:>7}",
        "res",
        "inst",
        "clients",
        "wall",
        "floor",
        "ratio",
        "calls/res",
        "DASG/res",
        "DTH/res",
        "DASG peak",
        "DTH peak",
        "held/res",
        "throttled",
        "saved",
        "RSS MiB",
    );
    for row in rows {
        let saved = row.coalesced.rollout_groups.saved() + row.coalesced.target_health.saved();
        println!(
            "{:>4} {:>4} {:>7} {:>6.1}s {:>6.1}s {:>5.2} {:>9.1} {:>8.1} {:>7.1} {:>12} {:>12} {:>7.1}s {:>9} {:>5} {:>7}",
            row.resources,
            row.instances,
            row.clients.label(),
            row.wall.as_secs_f64(),
            row.floor.as_secs_f64(),
            row.wall.as_secs_f64() / row.floor.as_secs_f64().max(0.001),
            row.calls_per_resource(None),
            row.calls_per_resource(Some(DESCRIBE_GROUPS)),
            row.calls_per_resource(Some(TARGET_HEALTH)),
            row.peak(DESCRIBE_GROUPS),
            row.peak(TARGET_HEALTH),
            row.budget.held_for.as_secs_f64() / row.resources as f64,
            format!("{}/{}", row.budget.throttled, row.throttled_at_aws),
            saved,
            row.peak_rss_kib.map_or_else(
                || "?".to_string(),
                |kib| format!("{:.0}", kib as f64 / 1024.0)
            ),
        );
    }
    println!(
        "\nper API: calls per resource, peak calls in one second / the budget (rate+burst), the calls the budget held (how long, summed):"
    );
    for row in rows.iter().filter(|row| row.clients != Clients::Own) {
        let apis: Vec<String> = row
            .budget
            .by_api
            .iter()
            .map(|(api, stats)| {
                let limit = row.limits.limit(*api);
                format!(
                    "{} {:.1}/res peak {}/{}+{} held {} ({:.1}s)",
                    api.action,
                    stats.calls as f64 / row.resources as f64,
                    stats.peak_per_second,
                    limit.per_second(),
                    limit.burst(),
                    stats.held,
                    stats.held_for.as_secs_f64()
                )
            })
            .collect();
        println!(
            "{:>3} x {:>2} {}: {}",
            row.resources,
            row.instances,
            row.clients.label(),
            apis.join(", ")
        );
    }
    println!(
        "\nphase records: asked for / CreateOrUpdateTags calls that carried them; the slowest fleet's update, span by span (s from the update's start):"
    );
    for row in rows {
        println!(
            "{:>3} x {:>2} {:>6}: records {}/{}; slowest {}: {}",
            row.resources,
            row.instances,
            row.clients.label(),
            row.records.callers,
            row.records.calls,
            row.slowest.name,
            row.slowest.line()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: prints figures; run with --ignored --nocapture"]
async fn fleet_figures() {
    let local = LocalAws::start(LocalAwsOptions {
        time_scale: TIME_SCALE,
    })
    .unwrap();
    let mut rows = Vec::new();
    for resources in RESOURCE_COUNTS {
        for instances in FLEET_SIZES {
            let modes: &[Clients] = if resources > 1 {
                &[Clients::Shared, Clients::SharedTags, Clients::Own]
            } else {
                &[Clients::Shared]
            };
            for clients in modes {
                let number = rows.len();
                let row = row(&local, number, resources, instances, *clients).await;
                println!(
                    "row {number}: {resources} x {instances} ({}) in {:.1}s",
                    clients.label(),
                    row.wall.as_secs_f64()
                );
                rows.push(row);
            }
        }
    }
    print_table(&rows);
}

#[test]
fn merged_budgets_sum_calls_and_throttles_and_keep_the_largest_peak() {
    let one = |calls: u64, peak: u64, throttled: u64| {
        let mut stats = BudgetStats {
            calls,
            throttled,
            ..BudgetStats::default()
        };
        let api = stats.by_api.entry(DESCRIBE_GROUPS).or_default();
        api.calls = calls;
        api.peak_per_second = peak;
        api.throttled = throttled;
        stats
    };
    let mut other = one(0, 0, 0);
    other.calls = 3;
    other.by_api.clear();
    other.by_api.entry(TARGET_HEALTH).or_default().calls = 3;
    let total = merged(&[one(10, 4, 1), one(7, 6, 2), other]);
    assert_eq!(total.calls, 20);
    assert_eq!(total.throttled, 3);
    assert_eq!(total.by_api[&DESCRIBE_GROUPS].calls, 17);
    assert_eq!(total.by_api[&DESCRIBE_GROUPS].peak_per_second, 6);
    assert_eq!(total.by_api[&DESCRIBE_GROUPS].throttled, 3);
    assert_eq!(total.by_api[&TARGET_HEALTH].calls, 3);
    assert_eq!(merged(&[]), BudgetStats::default());
}
