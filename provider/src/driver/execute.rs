//! Runs one engine command through the adapter. Every adapter call is idempotent, so the
//! engine may re-issue any command after a crash or a lost answer.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, SystemTime};

use zdd_rollout::observation::ScalingProcess;
use zdd_rollout::spec::{PredefinedMetric, TargetTracking};
use zdd_rollout::{Command, Decision, Rollout};

use crate::aws::budget::TokenWait;
use crate::aws::records::Recorded;
use crate::aws::types::{NewAsg, TAG_GENERATION, TAG_ROLLOUT, TargetTrackingPolicy};
use crate::aws::{AwsClients, AwsError};

use super::stats::{self, RunStats};
use super::{Observer, convert};

/// Runs a terminal decision's records for readers (the final phase record: `complete`,
/// `rolled_back`, `failed`): nothing steps after it, so each is tried once, and a failure only
/// goes into the timeline (the rollout's outcome stands).
pub async fn record_final_phase(
    aws: &AwsClients,
    rollout: &mut Rollout,
    observer: &mut Observer,
    decision: &Decision,
    stats: &mut RunStats,
) {
    for command in decision.commands.iter().filter(|c| c.is_informational()) {
        observer.api_calls += u64::from(command.api_calls());
        // The last record: nothing steps after it, so it waits for the budget.
        let written = bounded(command, INFORMATIONAL_BOUND, execute(aws, command));
        if let Err(err) = stats::timed(&mut stats.aws, written).await {
            tracing::warn!(rollout = %rollout.spec().name, command = %command.describe(), error = %err, "final phase record failed");
            rollout.command_failed(
                command,
                convert::timestamp(SystemTime::now()),
                &err.to_string(),
            );
        }
    }
}

/// How long the loop waits for a record for readers ([`Command::is_informational`]) before it
/// goes on without it. The SDK's own retries and the operation bound allow minutes; the loop
/// observes nothing while it waits, so a throttled or hanging `CreateOrUpdateTags` during a
/// canary soak or a rollback would leave a failing canary its traffic that long. A record cut
/// off counts as not written: it is written again at a later step, and (being informational)
/// never towards giving up.
pub const INFORMATIONAL_BOUND: Duration = Duration::from_secs(5);

/// What became of a command the loop ran without an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ran {
    /// AWS answered it.
    Made,
    /// A record for readers, not made: the rate budget had no token for it at once. The loop
    /// never waits for a record (fleets sharing the budget would wait for each other's
    /// records: 10 fleets x 9 records at `CreateOrUpdateTags`' 2/s held a rollout twice its
    /// floor); the engine issues it again at its next step.
    Deferred,
}

/// Runs one command of the loop: a rollout command to its end (the adapter bounds it), a
/// record for readers only if the budget has room for it now (the records of every rollout
/// asked for meanwhile share its call: `aws::records`), and within [`INFORMATIONAL_BOUND`].
pub async fn run(aws: &AwsClients, command: &Command) -> Result<Ran, AwsError> {
    match command {
        Command::RecordPhase { asg, .. } => {
            let record = record_phase(aws, asg, command, TokenWait::IfFreeNow);
            bounded(command, INFORMATIONAL_BOUND, record).await
        }
        _ => bounded(command, INFORMATIONAL_BOUND, execute(aws, command))
            .await
            .map(|()| Ran::Made),
    }
}

/// Writes `command`'s phase record on `asg`, its call taking its token as `wait` says.
async fn record_phase(
    aws: &AwsClients,
    asg: &str,
    command: &Command,
    wait: TokenWait,
) -> Result<Ran, AwsError> {
    let tags = command
        .phase_record_tags()
        .into_iter()
        .map(|(key, value)| (key.to_string(), value))
        .collect();
    match aws.record_phase(asg, tags, wait).await {
        Recorded::Made => Ok(Ran::Made),
        Recorded::NotMade => Ok(Ran::Deferred),
        Recorded::Failed(err) => Err(err),
    }
}

/// `call` (the adapter's run of `command`), cut off after `bound` when the command is a record
/// for readers.
async fn bounded<T>(
    command: &Command,
    bound: Duration,
    call: impl Future<Output = Result<T, AwsError>>,
) -> Result<T, AwsError> {
    if !command.is_informational() {
        return call.await;
    }
    match tokio::time::timeout(bound, call).await {
        Ok(result) => result,
        Err(_elapsed) => Err(AwsError::Api {
            operation: "CreateOrUpdateTags",
            code: "Timeout".to_string(),
            message: format!(
                "no answer within {bound:?}: the record is written again at a later step"
            ),
            transient: true,
        }),
    }
}

async fn execute(aws: &AwsClients, command: &Command) -> Result<(), AwsError> {
    match command {
        Command::CreateAsg {
            name,
            generation,
            launch_template,
            subnet_ids,
            min_size,
            max_size,
            desired_capacity,
            target_group_arns,
            tags,
            health_check,
            lifecycle_hooks,
        } => {
            let rollout = tags.get(TAG_ROLLOUT).cloned().unwrap_or_default();
            let spec = NewAsg {
                rollout,
                generation: *generation,
                launch_template_id: launch_template.id.clone(),
                launch_template_version: launch_template.version.to_string(),
                subnet_ids: subnet_ids.clone(),
                min_size: to_i32(*min_size),
                max_size: to_i32(*max_size),
                desired_capacity: to_i32(*desired_capacity),
                target_group_arns: target_group_arns.clone(),
                tags: user_tags(tags),
                health_check_type: health_check.kind.as_aws_str().to_string(),
                health_check_grace_period: convert::seconds(health_check.grace_period),
                default_instance_warmup: health_check.instance_warmup.map(convert::seconds),
                lifecycle_hooks: lifecycle_hooks.iter().map(convert::new_hook).collect(),
            };
            if &spec.name() != name {
                return Err(AwsError::Unexpected {
                    operation: "CreateAutoScalingGroup",
                    detail: format!("engine asked for {name}, tags say {}", spec.name()),
                });
            }
            aws.create_asg(&spec).await.map(|_| ())
        }
        Command::SetCapacity {
            asg,
            min_size,
            max_size,
            desired_capacity,
        } => {
            aws.set_capacity(
                asg,
                to_i32(*min_size),
                to_i32(*max_size),
                to_i32(*desired_capacity),
            )
            .await
        }
        Command::AttachTargetGroups {
            asg,
            target_group_arns,
        } => aws.attach_target_groups(asg, target_group_arns).await,
        Command::DetachTargetGroups {
            asg,
            target_group_arns,
        } => aws.detach_target_groups(asg, target_group_arns).await,
        Command::SetListenerWeights {
            listener_arn,
            weights,
        } => aws.set_listener_weights(listener_arn, weights).await,
        Command::TagAsg { asg, key, value } => aws.tag_asg(asg, key, value).await,
        // The final record (the loop's records go through `run`): it queues for its token.
        Command::RecordPhase { asg, .. } => {
            match record_phase(aws, asg, command, TokenWait::Queue).await? {
                Ran::Made => Ok(()),
                Ran::Deferred => Err(AwsError::Unexpected {
                    operation: "CreateOrUpdateTags",
                    detail: format!("the phase record of {asg} was not made"),
                }),
            }
        }
        Command::DeleteAsg { asg, force } => aws.delete_asg(asg, *force).await,
        Command::PutScalingPolicy {
            asg,
            policy,
            target_group_arn,
        } => put_scaling_policy(aws, asg, policy, target_group_arn.as_deref()).await,
        Command::DeleteScalingPolicy { asg, policy_name } => {
            aws.delete_scaling_policy(asg, policy_name).await
        }
        Command::SetHealthCheck { asg, health_check } => {
            aws.set_health_check(
                asg,
                health_check.kind.as_aws_str(),
                convert::seconds(health_check.grace_period),
                health_check.instance_warmup.map(convert::seconds),
            )
            .await
        }
        Command::PutLifecycleHook { asg, hook } => {
            aws.put_lifecycle_hook(asg, &convert::new_hook(hook)).await
        }
        Command::DeleteLifecycleHook { asg, hook_name } => {
            aws.delete_lifecycle_hook(asg, hook_name).await
        }
        Command::SuspendProcesses { asg, processes } => {
            aws.suspend_processes(asg, &process_names(processes)).await
        }
        Command::ResumeProcesses { asg, processes } => {
            aws.resume_processes(asg, &process_names(processes)).await
        }
    }
}

/// `PutScalingPolicy`; an `ALBRequestCountPerTarget` policy first reads its target group's
/// load balancer for the `ResourceLabel` (one `DescribeTargetGroups`).
async fn put_scaling_policy(
    aws: &AwsClients,
    asg: &str,
    policy: &TargetTracking,
    target_group_arn: Option<&str>,
) -> Result<(), AwsError> {
    let resource_label = match (policy.metric, target_group_arn) {
        (PredefinedMetric::AlbRequestCountPerTarget, Some(arn)) => {
            Some(aws.request_count_label(arn).await?)
        }
        (PredefinedMetric::AlbRequestCountPerTarget, None) => {
            return Err(AwsError::Unexpected {
                operation: "PutScalingPolicy",
                detail: format!(
                    "policy {} counts requests per target, but {asg} serves in no target group",
                    policy.name
                ),
            });
        }
        _ => None,
    };
    let policy = TargetTrackingPolicy {
        name: policy.name.clone(),
        metric: policy.metric.as_aws_str().to_string(),
        target_value: policy.target_value,
        disable_scale_in: policy.disable_scale_in,
        resource_label,
    };
    aws.put_scaling_policy(asg, &policy).await
}

fn process_names(processes: &[ScalingProcess]) -> Vec<String> {
    processes
        .iter()
        .map(|process| process.as_aws_str().to_string())
        .collect()
}

fn to_i32(value: u32) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

/// The adapter sets the `zdd:` tags itself from the rollout name and generation.
fn user_tags(tags: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    tags.iter()
        .filter(|(key, _)| key.as_str() != TAG_ROLLOUT && key.as_str() != TAG_GENERATION)
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::fake_http::{Answer, FakeEndpoint};

    const SHORT: Duration = Duration::from_millis(20);

    fn record() -> Command {
        Command::RecordPhase {
            asg: "web-g2".to_string(),
            phase: "canary_soak_1".to_string(),
            since: 1_700_000_000,
            floor: 3,
        }
    }

    /// A `CreateOrUpdateTags` that never answers (throttled, hanging) must not hold the loop:
    /// it ends, as a transient failure, once the bound has passed.
    /// (Before the bound the loop awaited it for good: this test never ended.)
    #[tokio::test]
    async fn a_hanging_phase_record_is_cut_off_at_the_bound() {
        let result: Result<(), _> = bounded(&record(), SHORT, std::future::pending()).await;
        let err = result.expect_err("a record that never answers is reported not written");
        assert!(err.is_transient(), "{err}");
        assert!(err.to_string().contains("written again"), "{err}");
    }

    /// Fleets share one budget: a record the budget cannot take at once is not waited for
    /// (it waited up to the bound, behind every other fleet's records), and no call is made.
    #[tokio::test(start_paused = true)]
    async fn a_record_the_budget_has_no_token_for_now_is_deferred_without_waiting() {
        use crate::aws::budget::{AUTOSCALING, Api, Priority, RateLimits};
        use crate::aws::{AwsClients, CallOptions, Endpoints};

        let limits = RateLimits::default()
            .with_block([("autoscaling:CreateOrUpdateTags", "1/s burst 1")])
            .expect("a valid limit");
        let sdk = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .build();
        let options = CallOptions {
            limits,
            ..CallOptions::from_env()
        };
        let aws = AwsClients::with_options(&sdk, &Endpoints::default(), options);
        let api = Api::new(AUTOSCALING, "CreateOrUpdateTags");
        // Another fleet's call took the one token.
        aws.budget().admit(api, Priority::Command).await;
        let calls_before = aws.budget_stats().calls;

        let started = tokio::time::Instant::now();
        let ran = run(&aws, &record()).await.expect("a deferral is no error");
        assert_eq!(ran, Ran::Deferred);
        // Only the gathering window, for other rollouts' records to share the call; never
        // the budget's wait.
        assert!(
            started.elapsed() <= crate::aws::coalesce::DEFAULT_WINDOW,
            "no wait for the budget: {:?}",
            started.elapsed()
        );
        assert_eq!(aws.budget_stats().calls, calls_before, "no call was made");
    }

    /// A request's tags: member number -> (field -> value).
    type TagMembers = BTreeMap<String, BTreeMap<String, String>>;

    /// A fake Auto Scaling endpoint: answers `CreateOrUpdateTags`, refusing (as AWS refuses a
    /// group that does not exist) any request naming `missing`; answers
    /// `DescribeAutoScalingGroups` with no group. Keeps every request.
    #[derive(Debug, Clone)]
    struct FakeAutoScaling {
        endpoint: FakeEndpoint,
    }

    const DESCRIBE_NO_GROUPS: &str = "<DescribeAutoScalingGroupsResponse xmlns=\"http://autoscaling.amazonaws.com/doc/2011-01-01/\"><DescribeAutoScalingGroupsResult><AutoScalingGroups/></DescribeAutoScalingGroupsResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></DescribeAutoScalingGroupsResponse>";
    const TAGS_MADE: &str = "<CreateOrUpdateTagsResponse xmlns=\"http://autoscaling.amazonaws.com/doc/2011-01-01/\"><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></CreateOrUpdateTagsResponse>";
    const NO_SUCH_GROUP: &str = "<ErrorResponse><Error><Type>Sender</Type><Code>ValidationError</Code><Message>AutoScalingGroup name not found</Message></Error><RequestId>1</RequestId></ErrorResponse>";
    /// How the local AWS (moto) answers a record naming a group that is gone: a 500 with an
    /// HTML page, which the SDK would retry as transient.
    const MOTO_SERVER_ERROR: &str = "<!doctype html><title>500 Internal Server Error</title>";

    impl Default for FakeAutoScaling {
        fn default() -> FakeAutoScaling {
            FakeAutoScaling::refusing(None, false)
        }
    }

    impl FakeAutoScaling {
        /// A fake refusing any record naming `missing`: with AWS's 400, or with moto's 500
        /// when `as_server_error`.
        fn refusing(missing: Option<&'static str>, as_server_error: bool) -> FakeAutoScaling {
            let endpoint = FakeEndpoint::new(move |body| {
                if body.contains("Action=DescribeAutoScalingGroups") {
                    return Answer::xml(200, DESCRIBE_NO_GROUPS);
                }
                let refused = missing.is_some_and(|missing| {
                    tag_members(body)
                        .values()
                        .any(|fields| fields.get("ResourceId").map(String::as_str) == Some(missing))
                });
                match (refused, as_server_error) {
                    (true, true) => Answer::xml(500, MOTO_SERVER_ERROR),
                    (true, false) => Answer::xml(400, NO_SUCH_GROUP),
                    (false, _) => Answer::xml(200, TAGS_MADE),
                }
            });
            FakeAutoScaling { endpoint }
        }

        /// Each CreateOrUpdateTags request's tags.
        fn requests(&self) -> Vec<TagMembers> {
            self.endpoint
                .bodies()
                .iter()
                .filter(|body| body.contains("Action=CreateOrUpdateTags"))
                .map(|body| tag_members(body))
                .collect()
        }

        /// Each DescribeAutoScalingGroups request's body.
        fn describes(&self) -> Vec<String> {
            self.endpoint
                .bodies()
                .into_iter()
                .filter(|body| body.contains("Action=DescribeAutoScalingGroups"))
                .collect()
        }

        /// The groups each request named, in member order.
        fn groups(&self) -> Vec<Vec<String>> {
            self.requests()
                .iter()
                .map(|members| {
                    let mut groups: Vec<String> = members
                        .values()
                        .map(|fields| fields["ResourceId"].clone())
                        .collect();
                    groups.sort();
                    groups.dedup();
                    groups
                })
                .collect()
        }
    }

    /// The `Tags.member.N.Field=value` pairs of a query-protocol body, by member.
    fn tag_members(body: &str) -> TagMembers {
        let decode = |text: &str| {
            text.replace("%3A", ":")
                .replace("%2F", "/")
                .replace("%20", " ")
                .replace('+', " ")
        };
        let mut members: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for pair in body.split('&') {
            let Some((name, value)) = pair.split_once('=') else {
                continue;
            };
            let parts: Vec<&str> = name.split('.').collect();
            if let ["Tags", "member", n, field] = parts.as_slice() {
                members
                    .entry(format!("{n:0>4}"))
                    .or_default()
                    .insert((*field).to_string(), decode(value));
            }
        }
        members
    }

    /// Clients whose Auto Scaling calls reach `fake`, with the default budget
    /// (CreateOrUpdateTags 2/s burst 5).
    fn clients_of(fake: &FakeAutoScaling) -> AwsClients {
        use crate::aws::{CallOptions, Endpoints};
        let sdk = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_autoscaling::config::SharedCredentialsProvider::new(
                aws_sdk_autoscaling::config::Credentials::new(
                    "AKIDTEST", "secret", None, None, "test",
                ),
            ))
            .http_client(fake.endpoint.clone())
            .build();
        let endpoints = Endpoints {
            autoscaling: Some("http://127.0.0.1:9".to_string()),
            ..Endpoints::default()
        };
        AwsClients::with_options(&sdk, &endpoints, CallOptions::from_env())
    }

    fn record_of(group: &str) -> Command {
        Command::RecordPhase {
            asg: group.to_string(),
            phase: format!("draining_old of {group}"),
            since: 1_700_000_000,
            floor: 3,
        }
    }

    /// Each rollout's loop runs its record at the same moment (one tick of the grid).
    async fn run_in_one_tick(
        aws: &AwsClients,
        groups: &[String],
    ) -> BTreeMap<String, Result<Ran, AwsError>> {
        let mut tasks = tokio::task::JoinSet::new();
        for group in groups {
            let (aws, group) = (aws.clone(), group.clone());
            tasks.spawn(async move {
                let ran = run(&aws, &record_of(&group)).await;
                (group, ran)
            });
        }
        tasks.join_all().await.into_iter().collect()
    }

    fn groups(count: usize) -> Vec<String> {
        (0..count).map(|n| format!("fleet-{n:02}-g2")).collect()
    }

    /// Every request carries each group it names with its whole record: the three tags, the
    /// values of that group's record.
    fn assert_whole_records(fake: &FakeAutoScaling) {
        for request in fake.requests() {
            let mut by_group: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
            for fields in request.values() {
                by_group
                    .entry(fields["ResourceId"].clone())
                    .or_default()
                    .insert(fields["Key"].clone(), fields["Value"].clone());
            }
            for (group, tags) in by_group {
                let expected: BTreeMap<String, String> = record_of(&group)
                    .phase_record_tags()
                    .into_iter()
                    .map(|(key, value)| (key.to_string(), value))
                    .collect();
                assert_eq!(tags, expected, "{group}: its whole record in the request");
            }
        }
    }

    /// Ten rollouts' phase records in one tick go out as one CreateOrUpdateTags, with one
    /// token of its budget, and are all made. (On main each was its own call: the budget's
    /// burst of 5 made five, and five were deferred to the next step.)
    #[tokio::test]
    async fn ten_rollouts_records_in_one_tick_share_one_call() {
        let fake = FakeAutoScaling::default();
        let aws = clients_of(&fake);
        let names = groups(10);
        let ran = run_in_one_tick(&aws, &names).await;
        for (group, ran) in &ran {
            assert!(matches!(ran, Ok(Ran::Made)), "{group}: {ran:?}");
        }
        assert_eq!(fake.groups(), vec![names], "one request naming every group");
        let tags =
            crate::aws::budget::Api::new(crate::aws::budget::AUTOSCALING, "CreateOrUpdateTags");
        assert_eq!(aws.budget_stats().by_api[&tags].calls, 1);
        assert_eq!(aws.phase_record_stats().calls, 1);
        assert_whole_records(&fake);
    }

    /// One rollout's group deleted under it: AWS refuses a request naming it. Only that
    /// record fails; every other rollout's is made in the same tick.
    #[tokio::test]
    async fn a_deleted_group_fails_only_its_own_record() {
        let names = groups(6);
        let fake = FakeAutoScaling::refusing(Some("fleet-03-g2"), false);
        let aws = clients_of(&fake);
        let ran = run_in_one_tick(&aws, &names).await;
        for (group, ran) in &ran {
            if group == "fleet-03-g2" {
                let err = ran.as_ref().expect_err("the deleted group's record fails");
                assert_eq!(err.code(), Some("ValidationError"), "{err}");
            } else {
                assert!(matches!(ran, Ok(Ran::Made)), "{group}: {ran:?}");
            }
        }
        let requests = fake.groups();
        assert_eq!(requests.first().map(Vec::len), Some(6), "{requests:?}");
        assert!(
            requests.contains(&vec!["fleet-03-g2".to_string()]),
            "the refused group alone at last: {requests:?}"
        );
        assert_whole_records(&fake);
    }

    /// The local AWS answers a request naming a group that is gone with a 500, which the SDK
    /// retries as transient: a record's call is made once (its record is written again at
    /// the next step anyway), the batch is split all the same, and the others are made.
    #[tokio::test]
    async fn a_server_error_for_a_gone_group_is_not_retried_and_still_split() {
        let names = groups(4);
        let fake = FakeAutoScaling::refusing(Some("fleet-01-g2"), true);
        let aws = clients_of(&fake);
        let ran = run_in_one_tick(&aws, &names).await;
        for (group, ran) in &ran {
            if group == "fleet-01-g2" {
                assert!(ran.is_err(), "{group}: {ran:?}");
            } else {
                assert!(matches!(ran, Ok(Ran::Made)), "{group}: {ran:?}");
            }
        }
        // 4 -> 2 + 2 -> 1 + 1: five requests, each sent once (a retried one would repeat).
        let requests = fake.groups();
        assert_eq!(requests.len(), 5, "{requests:?}");
        assert_whole_records(&fake);
    }

    /// The final record queues for its token even with none free now, and is made.
    #[tokio::test(start_paused = true)]
    async fn the_final_record_waits_for_its_token() {
        let fake = FakeAutoScaling::default();
        let aws = clients_of(&fake);
        let tags =
            crate::aws::budget::Api::new(crate::aws::budget::AUTOSCALING, "CreateOrUpdateTags");
        for _ in 0..5 {
            aws.budget()
                .admit(tags, crate::aws::budget::Priority::Command)
                .await;
        }
        let ran = run(&aws, &record_of("fleet-00-g2")).await;
        assert!(
            matches!(ran, Ok(Ran::Deferred)),
            "a loop's record does not wait: {ran:?}"
        );
        execute(&aws, &record_of("fleet-00-g2"))
            .await
            .expect("the final record is made once a token comes");
        assert_eq!(fake.groups(), vec![vec!["fleet-00-g2".to_string()]]);
    }

    /// The commands of many rollouts in one tick read their groups by name in one
    /// DescribeAutoScalingGroups (here five deletes of groups already gone: done, no delete
    /// call). One by one, ten fleets' creates (a read before and after each) emptied the
    /// budget's burst and held the fleets' next looks.
    #[tokio::test]
    async fn commands_of_many_rollouts_read_their_groups_in_one_call() {
        let fake = FakeAutoScaling::default();
        let aws = clients_of(&fake);
        let names = groups(5);
        let mut tasks = tokio::task::JoinSet::new();
        for name in &names {
            let (aws, name) = (aws.clone(), name.clone());
            tasks.spawn(async move {
                let delete = Command::DeleteAsg {
                    asg: name,
                    force: false,
                };
                run(&aws, &delete).await
            });
        }
        for ran in tasks.join_all().await {
            assert!(matches!(ran, Ok(Ran::Made)), "{ran:?}");
        }
        let describes = fake.describes();
        assert_eq!(describes.len(), 1, "{describes:?}");
        for name in &names {
            assert!(
                describes[0].contains(name.as_str()),
                "{name}: {describes:?}"
            );
        }
        assert!(fake.requests().is_empty(), "no other call");
    }

    /// The bound is seconds, far below the SDK's retries and the 360 s operation bound.
    #[test]
    fn the_bound_is_a_few_seconds() {
        assert!(INFORMATIONAL_BOUND <= Duration::from_secs(10));
    }

    /// A rollout command is not cut off: its answer is what the next step decides on.
    #[tokio::test]
    async fn a_slow_rollout_command_is_awaited_to_its_answer() {
        let command = Command::TagAsg {
            asg: "web-g2".to_string(),
            key: "k".to_string(),
            value: "v".to_string(),
        };
        let slow = async {
            tokio::time::sleep(SHORT * 10).await;
            Ok(())
        };
        bounded(&command, SHORT, slow)
            .await
            .expect("the slow call answered and is not cut off");
    }

    #[tokio::test]
    async fn a_prompt_phase_record_keeps_its_own_answer() {
        let refused = AwsError::NotFound {
            what: "web-g2".to_string(),
        };
        let err = bounded(&record(), SHORT, async { Err::<(), _>(refused) })
            .await
            .expect_err("the adapter's own error is passed on");
        assert!(matches!(err, AwsError::NotFound { .. }), "{err}");
    }
}
