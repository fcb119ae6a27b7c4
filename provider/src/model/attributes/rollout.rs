//! The `zdd_rollout` attribute table. A new configuration attribute is one entry here and one
//! field of the engine's `RawSpec` (the typed model flattens it).

use std::time::Duration;

use zdd_events::MAX_SAMPLES;
use zdd_rollout::spec::PredefinedMetric;
use zdd_rollout::spec::defaults::{
    DEFAULT_BAKE_DURATION, DEFAULT_BATCH_SIZE, DEFAULT_CANARY_STEPS,
    DEFAULT_HEALTH_CHECK_GRACE_PERIOD, DEFAULT_HEALTH_CHECK_TYPE, DEFAULT_HEALTH_TIMEOUT,
    DEFAULT_HOOK_DEFAULT_RESULT, DEFAULT_HOOK_HEARTBEAT_TIMEOUT, DEFAULT_MAX_5XX_RATIO,
    DEFAULT_MAX_SOAK, DEFAULT_MIN_HEALTHY_PERCENT, DEFAULT_MIN_REQUESTS,
    DEFAULT_ROLLBACK_ON_FAILURE, DEFAULT_STRATEGY, HOOK_HEARTBEAT_TIMEOUT_RANGE,
};

use super::Kind::{Bool, Float, Int, ListOfObject, ListOfString, MapOfString, Object};
use super::{Attribute, Block, Decided, Kind, OnChange, SchemaDoc};
use crate::driver::timeline::{ACTIONS, STATUSES, describe_values};
use crate::model::duration::format_duration;

/// `timeouts.create` when omitted. Terraform's own: the engine never sees the timeouts.
pub const DEFAULT_CREATE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// `timeouts.update` when omitted.
pub const DEFAULT_UPDATE_TIMEOUT: Duration = Duration::from_secs(60 * 60);
/// `timeouts.delete` when omitted.
pub const DEFAULT_DELETE_TIMEOUT: Duration = Duration::from_secs(20 * 60);

/// The sizes are judged together.
const SIZES_BUT_MIN: &[&str] = &["max_size", "desired_capacity"];
const SIZES_BUT_DESIRED: &[&str] = &["min_size", "max_size"];
/// max_size also carries the rolling strategy's room, which reads min_healthy_percent.
const ROOM_TO_ROLL: &[&str] = &[
    "min_size",
    "desired_capacity",
    "strategy",
    "min_healthy_percent",
];
/// The strategy decides which target groups and block are needed.
const STRATEGY: &[&str] = &["strategy"];
/// `ALBRequestCountPerTarget` needs a target group, which the strategy's attributes give.
const TARGET_GROUPS: &[&str] = &["strategy", "target_group_arns", "canary"];

pub fn rollout_schema() -> SchemaDoc {
    use Attribute as A;
    SchemaDoc {
        description: "A fleet of EC2 instances in an Auto Scaling group behind load balancer target groups, \
            replaced without dropping a request whenever its launch template version, subnets, sizes, target \
            groups or tags change. Each change creates a new generation (a new Auto Scaling group), shifts \
            traffic to it by the chosen `strategy` once the load balancer reports it healthy, drains the old \
            generation and deletes it. A failure, timeout or interrupt rolls back: the old generation keeps \
            serving. A change of `desired_capacity` alone scales the active group in place (unless `target_tracking` \
            owns the capacity); the health check settings, `target_tracking` and `lifecycle_hooks` are applied \
            to it in place too, and every new generation is created with them."
            .into(),
        attributes: vec![
            A::computed("id", Kind::String, Decided::Fixed, "Equal to `name`."),
            A::required("name", Kind::String,
                "Name of the fleet. Each generation's Auto Scaling group is named `<name>-g<generation>` and tagged `zdd:rollout = <name>`, `zdd:generation = <n>` and `zdd:owner = <owner_id>`. While a rollout runs, its groups (the new generation's and, until it is deleted, the old one's) carry `zdd:phase`, the phase of `last_rollout` (`waiting_for_healthy`, `canary_step 2/4 25%` with the step and its weight, `rolling batch 3`, `draining_old`, `baking`, `restoring_old`, ...), and the group left serving ends with `complete` or `rolled_back` (`failed` when even the rollback could not finish); in the same call `zdd:phase-since` (when the phase began, in Unix seconds: a drain ends at the earliest the target group's deregistration delay after it, once its targets have left, a bake about its duration after it) and `zdd:floor` (the fewest healthy targets the rollout lets the fleet have): the state of a rollout can be read from AWS alone (`aws autoscaling describe-tags`, `zdd-guard status`). The tags are information only: they are written at each phase change, again when the floor changes, and when an apply resumes a rollout whose state it no longer has (then `zdd:phase-since` is the time of the resume); a failure to write them never holds a rollout back (a write gets 5 s, and is tried again later). Changing it destroys and recreates the fleet. A name whose groups belong to another fleet (another state, workspace or team) is refused: see `owner_id`.")
                .on_change(OnChange::Replace).judged_with(&[]),
            A::required("launch_template_id", Kind::String, "The EC2 launch template the instances are launched from.")
                .on_change(OnChange::RollOut).judged_with(&[]),
            A::required("launch_template_version", Kind::String,
                "A pinned version number in plain digits as AWS reports it (`\"7\"`, not `\"07\"`), e.g. `aws_launch_template.web.latest_version`. `$Latest` and `$Default` are refused: a rollback needs a fixed target.")
                .on_change(OnChange::RollOut).judged_with(&[]),
            A::required("subnet_ids", ListOfString, "Subnets for the Auto Scaling groups (`VPCZoneIdentifier`).")
                .on_change(OnChange::RollOut).judged_with(&[]),
            A::optional("target_group_arns", ListOfString,
                "Target groups every generation is attached to (`blue_green` and `rolling`; required for them). A `canary` uses the groups in its `canary` block instead.")
                .on_change(OnChange::RollOutUnlessCanary).judged_with(STRATEGY),
            A::required("min_size", Int, "Minimum size of the active Auto Scaling group.")
                .on_change(OnChange::RollOut).judged_with(SIZES_BUT_MIN),
            A::required("max_size", Int,
                "Maximum size of each Auto Scaling group. A `rolling` update runs at most `max_size` instances in total, old ones still draining included; a rollback restores the old group's full size before the failed instances go, so it may briefly run above it.")
                .on_change(OnChange::RollOut).judged_with(ROOM_TO_ROLL),
            A::required("desired_capacity", Int, "Number of instances serving; between `min_size` and `max_size`. A change of this alone scales in place. With `target_tracking`, the scaling policies own the capacity: this is only the first generation's capacity, a change of it alone does nothing in AWS, and a rollout starts the new generation at the serving group's capacity (`current_capacity`, clamped to `min_size`..`max_size`).")
                .on_change(OnChange::InPlace).judged_with(SIZES_BUT_DESIRED),
            A::defaulted("strategy", Kind::String, DEFAULT_STRATEGY, format!(
                "How traffic moves to a new generation: `blue_green` (a full new group; once it is healthy the old group is detached, drained for the target groups' deregistration delay plus 5 s, and deleted), `rolling` (the new group grows by `batch_size` within `max_size` while the old group's desired capacity is lowered, never below `min_healthy_percent`: AWS deregisters those instances, waits out the deregistration delay, then terminates them) or `canary` (listener weights step through `canary.steps` with gates; 45 s after the last weight change, so that no earlier write can still be landing, the old group leaves as in `blue_green`). Default `{DEFAULT_STRATEGY}`."))
                .on_change(OnChange::SettingOnly).judged_with(&[]),
            A::defaulted("min_healthy_percent", Int, DEFAULT_MIN_HEALTHY_PERCENT, format!(
                "Floor of healthy, routed targets during a rollout, as a percent of `desired_capacity` (rounded up). Default `{DEFAULT_MIN_HEALTHY_PERCENT}`."))
                .on_change(OnChange::SettingOnly).judged_with(&[]),
            A::defaulted("batch_size", Int, DEFAULT_BATCH_SIZE, format!(
                "Instances a `rolling` update adds to the new group, and retires from the old one, at a time. At least 1 whatever the strategy. Default `{DEFAULT_BATCH_SIZE}`."))
                .on_change(OnChange::SettingOnly).judged_with(&[]),
            A::optional("canary", Object(canary()), "Canary settings; required when `strategy = \"canary\"`.")
                .on_change(OnChange::SettingOnly).judged_with(STRATEGY),
            A::optional("bake", Object(bake()), "After a `blue_green` or `canary` rollout has moved 100 % of the traffic, keep the old generation detached but running at full size for `duration`, watched by `alarm_names` (and, for a canary, the canary's absolute limits on the new generation's target group): a failure attaches the old generation again and removes the new one, without booting anything. The extra instance-minutes are reported in `last_rollout`. Not for `rolling`. No default: without the block there is no bake.")
                .on_change(OnChange::SettingOnly).judged_with(STRATEGY),
            A::defaulted("health_timeout", Kind::String, format_duration(DEFAULT_HEALTH_TIMEOUT), format!(
                "How long new targets may take to become `healthy` in the load balancer before the rollout fails and rolls back; with a `launching` lifecycle hook, its `heartbeat_timeout` (the longest one) comes on top, for the time instances may spend in `Pending:Wait`. Default `\"{}\"`.",
                format_duration(DEFAULT_HEALTH_TIMEOUT)))
                .on_change(OnChange::SettingOnly).judged_with(&[]),
            A::defaulted("rollback_on_failure", Bool, DEFAULT_ROLLBACK_ON_FAILURE, format!(
                "Roll back to the previous generation when a rollout fails. When `false`, the failed generation is left in place (detached) for inspection. Default `{DEFAULT_ROLLBACK_ON_FAILURE}`."))
                .on_change(OnChange::SettingOnly),
            A::optional("tags", MapOfString, "Tags for the Auto Scaling groups, propagated to instances. Keys starting with `zdd:` are reserved.")
                .on_change(OnChange::RollOut).judged_with(&[]),
            A::defaulted("health_check_type", Kind::String, DEFAULT_HEALTH_CHECK_TYPE.as_aws_str(), format!(
                "The health each group acts on between deploys: `ELB` (the load balancer's view as well as EC2's: an instance its target groups report unhealthy is replaced by the group) or `EC2` (EC2 status checks only). Applied in place to the serving group; new generations are created with it. Default `\"{}\"`.",
                DEFAULT_HEALTH_CHECK_TYPE.as_aws_str()))
                .on_change(OnChange::InPlace).judged_with(&[]),
            A::defaulted("health_check_grace_period", Kind::String, format_duration(DEFAULT_HEALTH_CHECK_GRACE_PERIOD), format!(
                "How long after an instance launches its group ignores failed health checks (`HealthCheckGracePeriod`), in whole seconds, e.g. `\"2m\"`. Applied in place to the serving group; new generations are created with it. Default `\"{}\"`.",
                format_duration(DEFAULT_HEALTH_CHECK_GRACE_PERIOD)))
                .on_change(OnChange::InPlace).judged_with(&[]),
            A::optional("default_instance_warmup", Kind::String,
                "How long a new instance's metrics are left out of the scaling policies' view (`DefaultInstanceWarmup`), in whole seconds, e.g. `\"60s\"`. Unset: AWS's own behaviour. Applied in place to the serving group; new generations are created with it.")
                .on_change(OnChange::InPlace).judged_with(&[]),
            A::optional("target_tracking", ListOfObject(target_tracking()),
                "Target-tracking scaling policies, put on the serving generation's group only. With any, the fleet autoscales: `desired_capacity` is only the first generation's capacity, Read reports the serving group's capacity as `current_capacity` (never as drift), and a rollout starts the new generation at that capacity. During a rollout the new group's policies are held back until it serves, and the old group stops scaling itself (`AlarmNotification`, `ScheduledActions`, `AZRebalance` suspended) from the start of the shift until it is deleted (resumed on rollback); if the old group scaled out meanwhile, the new one follows before it takes more traffic. A change of this alone is applied in place, to the serving group.")
                .on_change(OnChange::InPlace).judged_with(TARGET_GROUPS),
            A::optional("lifecycle_hooks", ListOfObject(lifecycle_hooks()),
                "Lifecycle hooks, created with each generation's group before its first instance launches (`LifecycleHookSpecificationList`); a change is applied in place to the serving group (`PutLifecycleHook`, `DeleteLifecycleHook`). A `launching` hook holds new instances in `Pending:Wait`: they count as not yet serving. With a `terminating` hook, a retiring generation is scaled to zero, so each instance passes through `Terminating:Wait` (up to its `heartbeat_timeout`, or until `CompleteLifecycleAction`), and the empty group is deleted only then: never force-deleted past a hook. The default `timeouts` grow by the hooks' heartbeat timeouts, and a plan warns about a configured timeout shorter than the hooks may need (see `timeouts`).")
                .on_change(OnChange::InPlace).judged_with(&[]),
            A::computed("generation", Int, Decided::ByRollout, "The generation serving traffic: 1 after create, one more per successful rollout. A plan that rolls out shows it (like `active_asg_name` and `active_launch_template_version`) as known after apply: only the outcome decides it, and a rollout that rolls back leaves the old generation serving and these attributes (and outputs built from them) at their old values."),
            A::computed("active_asg_name", Kind::String, Decided::ByRollout, "Name of the Auto Scaling group serving traffic; null when it was deleted outside Terraform (the next apply recreates it)."),
            A::computed("active_launch_template_version", Kind::String, Decided::ByRollout, "The launch template version the active group runs, as AWS reports it."),
            A::computed("current_capacity", Int, Decided::ByAnyRun,
                "The serving group's desired capacity as AWS reports it (with `target_tracking`, what the scaling policies made of it). Known after apply in a plan that changes anything in AWS."),
            A::computed("owner_id", Kind::String, Decided::Fixed,
                "The fleet's owner identity: chosen at random when the resource is created, never changed, and tagged `zdd:owner` on every generation's Auto Scaling group. Read, rollouts and destroy look at, change and delete only groups with this owner, so a second state (another workspace, stack or team) using the same `name` cannot adopt, re-target or delete this fleet's groups: its create fails, naming the groups it found. `terraform import` takes over the owner the found groups carry. A state written before owner ids (no `owner_id`) adopts its groups, those without a `zdd:owner` tag, on its next apply, tagging them with an id derived from `name` (that plan shows `owner_id` as known after apply)."),
            A::computed("last_rollout", Object(last_rollout()), Decided::ByAnyRun, "The timeline of the last rollout (also logged at `INFO` with `TF_LOG`)."),
        ],
        blocks: vec![Block {
            name: "timeouts",
            description: "Upper bounds for each operation; an operation that runs out rolls back and fails. Lifecycle hooks may hold a rollout up: new instances in `Pending:Wait` for up to the longest `launching` hook's `heartbeat_timeout`, retiring ones in `Terminating:Wait` for up to the longest `terminating` hook's before their group can go. An omitted `create` or `update` grows by both, an omitted `delete` by the latter; a plan warns about a configured `create` or `update` shorter than `health_timeout` plus both, or a `delete` shorter than the latter.".into(),
            attributes: [
                ("create", DEFAULT_CREATE_TIMEOUT),
                ("update", DEFAULT_UPDATE_TIMEOUT),
                ("delete", DEFAULT_DELETE_TIMEOUT),
            ]
            .into_iter()
            .map(|(name, default)| {
                A::optional(name, Kind::String, format!("Default `\"{}\"`.", format_duration(default)))
            })
            .collect(),
        }],
    }
}

fn canary() -> Vec<Attribute> {
    use Attribute as A;
    let steps = vec![
        A::required(
            "weight",
            Int,
            "Percent of the listener's traffic sent to the new generation (1-100), strictly increasing from step to step; the last step must be `100`.",
        ),
        A::required(
            "soak",
            Kind::String,
            "How long to hold this weight while the gates are checked, e.g. `\"5m\"`; `\"0s\"` for none.",
        ),
    ];
    let default_weights: Vec<u8> = DEFAULT_CANARY_STEPS
        .iter()
        .map(|(weight, _)| *weight)
        .collect();
    let default_soak = format_duration(Duration::from_secs(DEFAULT_CANARY_STEPS[0].1));
    vec![
        A::required(
            "listener_arn",
            Kind::String,
            "The listener whose forward default action is weighted between the two target groups. Its default action must be a single `forward`.",
        ),
        A::required(
            "stable_target_group_arn",
            Kind::String,
            "The target group serving the current generation. After a successful rollout the two groups swap roles.",
        ),
        A::required(
            "canary_target_group_arn",
            Kind::String,
            "The idle target group the new generation is attached to.",
        ),
        A::optional(
            "steps",
            ListOfObject(steps),
            format!(
                "The weight schedule. Default: {default_weights:?} percent with a `{default_soak}` soak each (none after 100)."
            ),
        ),
        A::optional(
            "alarm_names",
            ListOfString,
            "CloudWatch alarms, metric or composite, that fail a soak at once when in `ALARM`; one in `INSUFFICIENT_DATA` when the soak ends is missing evidence (see `insufficient_evidence`). A name CloudWatch does not know fails the apply before anything is created. No default: none.",
        ),
        A::optional(
            "max_5xx_ratio",
            Float,
            format!(
                "Maximum ratio of 5xx responses (`HTTPCode_Target_5XX_Count` + `HTTPCode_ELB_5XX_Count`) to `RequestCount` of the canary target group over a soak's complete metric periods; a crossed limit fails the soak as soon as the window holds at least {} requests. Default `{}` (1 %), applied when omitted: set `1` to turn the gate off. On AWS, `HTTPCode_ELB_5XX_Count` is not published per target group, so there it counts 0 and only the targets' 5xx count.",
                zdd_rollout::engine::MIN_REQUESTS_FOR_RATIO,
                DEFAULT_MAX_5XX_RATIO
            ),
        ),
        A::optional(
            "max_p99_latency",
            Kind::String,
            "Maximum `TargetResponseTime` p99 of the canary target group over a soak's complete metric periods, as a duration such as `\"800ms\"` (the periods' p99 weighted by their requests: CloudWatch cannot merge percentiles exactly). No default: unset, there is no absolute latency limit and latency is judged only against stable, by `max_regression`.",
        ),
        A::optional(
            "max_regression",
            Float,
            "Fails a soak when the canary's p99 or 5xx ratio is more than this multiple of the stable target group's, both read over the same complete metric periods (`1.5`: at most 1.5 times worse); at least `1`. A stable group without data in the window cannot be compared: the absolute limits alone judge then. No default: unset, the canary is judged by the absolute limits only.",
        ),
        A::optional(
            "min_requests",
            Int,
            format!(
                "Requests the canary target group must receive in a soak's complete metric periods before the soak may pass; fewer is missing evidence (see `insufficient_evidence`). `0` asks for none. Default `{DEFAULT_MIN_REQUESTS}`."
            ),
        ),
        A::optional(
            "insufficient_evidence",
            Kind::String,
            "What a soak that ends with fewer than `min_requests` requests, or with a gate alarm in `INSUFFICIENT_DATA`, does: `\"extend\"` (keep soaking, the gates still judged, up to `max_soak`, then fail), `\"fail\"` (fail the step: the rollout rolls back) or `\"pass\"` (go on anyway). Default `\"extend\"`.",
        ),
        A::optional(
            "max_soak",
            Kind::String,
            format!(
                "The longest one step may soak, counted from when its weights were set, while `insufficient_evidence = \"extend\"` waits for evidence; then the step fails. At least every step's `soak`. Default `\"{}\"`.",
                format_duration(DEFAULT_MAX_SOAK)
            ),
        ),
    ]
}

fn bake() -> Vec<Attribute> {
    use Attribute as A;
    vec![
        A::optional(
            "duration",
            Kind::String,
            format!(
                "How long the old generation stays detached but running at full size after 100 % of the traffic moved; it is deleted only when the bake passes. Default `\"{}\"`.",
                format_duration(DEFAULT_BAKE_DURATION)
            ),
        ),
        A::optional(
            "alarm_names",
            ListOfString,
            "CloudWatch alarms, metric or composite, that end the bake in a rollback when in `ALARM`: the old generation is attached again and the new one removed. A name CloudWatch does not know fails the apply before anything is created. No default: none.",
        ),
    ]
}

fn target_tracking() -> Vec<Attribute> {
    use Attribute as A;
    let metrics: Vec<String> = PredefinedMetric::ALL
        .iter()
        .map(|metric| format!("`{}`", metric.as_aws_str()))
        .collect();
    vec![
        A::required(
            "name",
            Kind::String,
            "The policy's name, unique within the fleet (letters, digits, `-`, `_`, `/`).",
        ),
        A::required(
            "predefined_metric",
            Kind::String,
            format!(
                "The metric held at `target_value`, one of: {}. `ALBRequestCountPerTarget` counts the requests per instance of the target group the serving generation is attached to, so it needs one (its load balancer too).",
                metrics.join(", ")
            ),
        ),
        A::required(
            "target_value",
            Float,
            "The value the policy holds the metric at (above zero), e.g. `50` (percent CPU).",
        ),
        A::defaulted(
            "disable_scale_in",
            Bool,
            false,
            "When `true` the policy only scales out. Default `false`.",
        ),
    ]
}

fn lifecycle_hooks() -> Vec<Attribute> {
    use Attribute as A;
    vec![
        A::required(
            "name",
            Kind::String,
            "The hook's name, unique within the fleet (letters, digits, `-`, `_`, `/`).",
        ),
        A::required(
            "transition",
            Kind::String,
            "`launching` (instances wait in `Pending:Wait` before they enter service) or `terminating` (they wait in `Terminating:Wait` before they are terminated).",
        ),
        A::defaulted(
            "heartbeat_timeout",
            Kind::String,
            format_duration(DEFAULT_HOOK_HEARTBEAT_TIMEOUT),
            format!(
                "How long an instance may wait before `default_result` applies, in whole seconds from {} to {} (what AWS accepts). Default `\"{}\"`.",
                format_duration(*HOOK_HEARTBEAT_TIMEOUT_RANGE.start()),
                format_duration(*HOOK_HEARTBEAT_TIMEOUT_RANGE.end()),
                format_duration(DEFAULT_HOOK_HEARTBEAT_TIMEOUT)
            ),
        ),
        A::defaulted(
            "default_result",
            Kind::String,
            DEFAULT_HOOK_DEFAULT_RESULT.as_aws_str(),
            format!(
                "What happens when the heartbeat times out: `CONTINUE` or `ABANDON` (a launching instance is then terminated). Default `\"{}\"`.",
                DEFAULT_HOOK_DEFAULT_RESULT.as_aws_str()
            ),
        ),
    ]
}

fn last_rollout() -> Vec<Attribute> {
    use Attribute as A;
    let computed =
        |name, kind, description: String| A::computed(name, kind, Decided::ByAnyRun, description);
    let step = vec![
        computed(
            "at",
            Kind::String,
            "When the step happened (RFC 3339, UTC).".into(),
        ),
        computed(
            "action",
            Kind::String,
            format!("What happened, one of: {}.", describe_values(ACTIONS)),
        ),
        computed(
            "detail",
            Kind::String,
            "A readable detail: names, counts, weights, reasons.".into(),
        ),
    ];
    vec![
        computed("status", Kind::String, format!(
            "How the last rollout ended, one of: {}. Terraform saves state when an apply ends, so no status describes a rollout still running.",
            describe_values(STATUSES)
        )),
        computed("started_at", Kind::String, "Start of the rollout (RFC 3339, UTC).".into()),
        computed("finished_at", Kind::String,
            "End of the run that wrote the status (RFC 3339, UTC); null when a refresh found an interrupted rollout that no run of this state recorded (e.g. after an import).".into()),
        computed("steps", ListOfObject(step), "The timeline, one entry per step, oldest first.".into()),
        computed("samples", ListOfObject(samples()), format!(
            "Healthy targets per generation and the new generation's weight over the last run, for drawing it (`zdd-guard report`), oldest first: a sample whenever a value changed, the first and the last look always, at most {MAX_SAMPLES} (when more changes happen, the sample whose removal changes the picture least goes; the highest healthy count and every weight seen stay). Null in a state from before samples were recorded."
        )),
    ]
}

fn samples() -> Vec<Attribute> {
    let computed = |name, kind, description: &str| {
        Attribute::computed(name, kind, Decided::ByAnyRun, description.to_string())
    };
    vec![
        computed(
            "at",
            Kind::String,
            "From when the values held (RFC 3339, UTC).",
        ),
        computed(
            "healthy_new",
            Int,
            "Instances of the new generation healthy in every target group it serves from.",
        ),
        computed(
            "healthy_old",
            Int,
            "Instances of the old generation healthy in every target group it serves from; 0 once it is detached or gone.",
        ),
        computed(
            "weight_new",
            Int,
            "The new generation's share of the canary listener's traffic in percent; null without a canary listener.",
        ),
    ]
}

/// The default canary schedule is the engine's: the docs above quote it.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_canary_soak_is_the_engines_for_every_step_but_the_last() {
        let (last, others) = DEFAULT_CANARY_STEPS.split_last().unwrap();
        assert!(
            others
                .iter()
                .all(|(_, soak)| *soak == DEFAULT_CANARY_STEPS[0].1)
        );
        assert_eq!(*last, (100, 0));
    }
}
