//! Terraform registry documentation (`docs/index.md`, `docs/resources/rollout.md`) rendered
//! from the attribute tables (`model::attributes`). `tests/docs.rs` fails when the committed files are stale;
//! `ZDD_UPDATE_DOCS=1 cargo test --workspace --test provider -- docs::` rewrites them.
//! The examples are real files under `examples/provider/` and `examples/resources/zdd_rollout/`
//! (the tfplugindocs layout), which `tests/provider/docs.rs` has Terraform format-check and
//! validate against the provider's schema.

use std::fmt::Write;

use crate::model::attributes::{
    Attribute, Kind, OnChange, Role, SchemaDoc, provider_schema, rollout,
};

const PROVIDER_EXAMPLE: &str = include_str!("../../examples/provider/provider.tf");

const MANY_FLEETS_EXAMPLE: &str = include_str!("../../examples/provider/many_fleets.tf");

const ROLLOUT_EXAMPLE: &str = include_str!("../../examples/resources/zdd_rollout/resource.tf");

const CANARY_EXAMPLE: &str = include_str!("../../examples/resources/zdd_rollout/canary.tf");

const AUTOSCALING_EXAMPLE: &str =
    include_str!("../../examples/resources/zdd_rollout/autoscaling.tf");

const IMPORT_EXAMPLE: &str = include_str!("../../examples/resources/zdd_rollout/import.sh");

pub fn render_index() -> String {
    let schema = provider_schema();
    let mut out = String::new();
    out.push_str("---\npage_title: \"zdd Provider\"\ndescription: |-\n  Zero-downtime replacement of Auto Scaling fleets.\n---\n\n");
    out.push_str("# zdd Provider\n\n");
    let _ = writeln!(out, "{}\n", schema.description);
    out.push_str("## Example Usage\n\n```terraform\n");
    out.push_str(PROVIDER_EXAMPLE);
    out.push_str("```\n\n");
    render_schema(&mut out, &schema);
    render_autoscaling(&mut out);
    render_canary_analysis(&mut out);
    render_watching(&mut out);
    render_aws_calls(&mut out);
    render_rate_limits(&mut out);
    out
}

/// How to see what a rollout is doing while it runs, and afterwards.
fn render_watching(out: &mut String) {
    use zdd_events::EVENTS_FILE_ENV;
    use zdd_rollout::fleet::{TAG_FLOOR, TAG_PHASE, TAG_PHASE_SINCE};
    out.push_str(
        "## Watching a rollout

",
    );
    let _ = write!(
        out,
        "- **In CI, live: `zdd-guard run`.** The guard shows each `zdd_rollout`'s progress while terraform applies: a line when a rollout starts, one per phase change with why, a progress line (`web: healthy 3/4 new, 4/4 old, weight 25 %, soak 2m10s left`) when health or weights change and every `--progress-every` (30 s) while a wait runs, and the outcome. Plain lines on stderr (no cursor tricks, so CI logs read well; terraform's own output is untouched), or typed `rollout_*` events with `--json` ([the events](guides/zdd-guard-json-events.md)).\n\
- **The provider's events.** The guard reads what the provider writes: when `{EVENTS_FILE_ENV}` names a file in terraform's environment, the provider appends one JSON object per line (`started`, `phase`, `progress` with each generation's desired, healthy and draining targets, the weight, the capacity served and its floor and the time left of a soak, drain or bake, `finished`). Any tool may tail it; a file that cannot be written never holds a rollout back.\n\
- **From AWS alone: `zdd-guard status NAME... [--watch] [--json]`.** Each fleet's generations (serving, new, old, rolled back), health per target group and generation, the listener's weights, the phase and how long ago it began, draining targets with the most time their deregistration delay has left, the capacity floor against the healthy targets, and the last events (the phase the tags record and the groups' newest scaling activities); `--watch` prints again when what AWS answers changes. A name with no groups exits 6. It needs no Terraform and no state: a rollout's groups carry `{TAG_PHASE}` (a canary's step and weight too: `canary_step 2/4 25%`; a rolling batch: `rolling batch 3`; finally `complete` or `rolled_back`), `{TAG_PHASE_SINCE}` (when the phase began, Unix seconds) and `{TAG_FLOOR}` (the capacity floor), written together at each phase change (again when the floor changes, and on a resume without the saved state, when `{TAG_PHASE_SINCE}` becomes the time of the resume), on the new generation's group and, while it exists, the old one; `aws autoscaling describe-tags --filters Name=key,Values={TAG_PHASE}` shows them too. The tags are information: a failed write never holds a rollout back, and a write the provider's rate budget for `CreateOrUpdateTags` has no room for at once is made at a later look rather than waited for (fleets rolling out together would otherwise wait for each other's records).\n\
- **Terraform's log.** Every `last_rollout` entry (phase changes with why, commands, each canary window judged, the bake) is also logged at `INFO` as it happens: `TF_LOG_PROVIDER=INFO terraform apply` shows them, where Terraform alone prints only \"Still modifying...\".\n\
- **Afterwards: `zdd-guard report`.** `last_rollout` in the state holds the timeline, its status, the failure's reason and `samples`, the healthy targets per generation and the weight over time (recorded on change, at most {max_samples}). `zdd-guard report --state terraform.tfstate -o rollout.html` (or `--from-backend`) draws it as a self-contained page for a CI artefact or a post-mortem: phases as bands, soaks and drains, healthy targets per generation, the weight, the failure and the rollback marked, and the steps as a table.\n\n",
        max_samples = zdd_events::MAX_SAMPLES,
    );
}

/// How a canary soak and a bake are judged, from the engine's timing and defaults.
fn render_canary_analysis(out: &mut String) {
    use crate::model::duration::format_duration;
    use zdd_rollout::engine::MIN_REQUESTS_FOR_RATIO;
    use zdd_rollout::engine::{
        MIN_5XX_FOR_REGRESSION, MIN_PERIODS_FOR_REGRESSION, REGRESSION_5XX_FLOOR,
        REGRESSION_5XX_SIGMAS, REGRESSION_P99_SIGMAS,
    };
    use zdd_rollout::metrics::{METRIC_PERIOD, METRIC_PUBLISH_DELAY};
    use zdd_rollout::spec::defaults::{
        DEFAULT_BAKE_DURATION, DEFAULT_MAX_5XX_RATIO, DEFAULT_MAX_SOAK, DEFAULT_MIN_REQUESTS,
    };
    let period = format_duration(METRIC_PERIOD);
    let delay = format_duration(METRIC_PUBLISH_DELAY);
    out.push_str(
        "## Canary analysis and bake

",
    );
    let _ = write!(
        out,
        "A canary step sets the listener's weights, then soaks: its gates read the canary's alarms and the load balancer's metrics of both target groups (`RequestCount`, `HTTPCode_Target_5XX_Count`, `HTTPCode_ELB_5XX_Count`, `TargetResponseTime` p99), one `GetMetricData` call per look, each complete period read once.\n\n\
- **Windows.** CloudWatch aggregates these metrics in `{period}` periods and publishes a period a minute or more after it ends (zdd waits `{delay}`). A window ending now is always empty or partial, so a gate judges only complete periods: a soak's window is the periods that start after the step's weights were set, and the soak ends when its last period is published and judged, not when the clock reaches `soak`. A step lasts its soak plus up to one period and the publishing delay.\n\
- **Evidence.** A soak whose window holds fewer than `min_requests` (default `{DEFAULT_MIN_REQUESTS}`) canary requests, or that ends with a gate alarm in `INSUFFICIENT_DATA`, has not passed. `insufficient_evidence` says what happens: `\"extend\"` (the default) keeps soaking, judging each new period, until `max_soak` (default `\"{max_soak}\"`) after the step's weights were set, then fails the step; `\"fail\"` fails it at once; `\"pass\"` goes on. `min_requests = 0` turns the request count off as evidence (alarms without data still count).\n\
- **Judgement.** A gate alarm in `ALARM` fails the step at once. Over the window, the canary fails when its 5xx ratio ((target + ELB 5xx) / requests) is above `max_5xx_ratio` (default `{DEFAULT_MAX_5XX_RATIO}`) or its p99 above `max_p99_latency` (no default); these absolute limits fail the step as soon as the window holds {MIN_REQUESTS_FOR_RATIO} canary requests. The p99 of several periods is their p99s weighted by requests: CloudWatch cannot merge percentiles exactly.\n\
- **Regression.** With `max_regression` (no default), the canary also fails when its p99 or 5xx ratio is more than that multiple of the stable group's, read over the same periods: a slow release fails even under a generous absolute limit, and a noisy day for both does not. A stable group without data in the window cannot be compared; the absolute limits alone judge then. Noise is not a regression: stable's 5xx ratio is compared as at least {floor} %, and a 5xx regression needs at least {min_5xx} canary errors standing {sigmas_5xx} standard deviations above what `max_regression` times stable's ratio would give, counting the chance in both groups' counts (a canary with half the traffic sees as many errors as stable, so stable's ratio is no exact reference); a p99 regression needs at least {min_periods} periods, most of them worse, and the canary's mean log-ratio to stable above `max_regression` by {sigmas_p99} standard errors (a shorter window is judged on `max_p99_latency` alone, and `last_rollout` says so).\n\
- **Diagnostics.** A failed gate's diagnostic and its `last_rollout` entry name the metric, the canary's value, the stable group's value and the window.\n\
- **Bake.** With a `bake` block (`blue_green` and `canary`), once 100 % of the traffic has moved the old generation is detached and drained but kept running at full size for `duration` (default `\"{bake}\"`; longer than zero). A bake alarm in `ALARM` (and, for a canary, a crossed absolute limit on the new generation's target group) attaches the old generation again, and once it is healthy in the target group the new one is detached, drained and deleted: a rollback without waiting for instances to boot. The old generation is deleted only when the bake passes; the extra instance-minutes are reported in `last_rollout`. A bake alarm in `INSUFFICIENT_DATA` at the bake's end: a canary's bake follows `insufficient_evidence` (extending by at most `max_soak`); a blue/green bake passes, with a `last_rollout` note (an alarm without data is what a quiet service shows). An apply killed during the bake resumes it from its recorded start, or, without one, bakes again in full: longer, never shorter.\n\
- **On AWS**, `HTTPCode_ELB_5XX_Count` is published per load balancer (and Availability Zone), not per target group: read per target group it has no data and counts 0, so there only the targets' own 5xx count towards `max_5xx_ratio`. Alarms on the load balancer's metrics cover the rest.\n\n",
        max_soak = format_duration(DEFAULT_MAX_SOAK),
        bake = format_duration(DEFAULT_BAKE_DURATION),
        floor = REGRESSION_5XX_FLOOR * 100.0,
        min_5xx = MIN_5XX_FOR_REGRESSION,
        sigmas_5xx = REGRESSION_5XX_SIGMAS,
        min_periods = MIN_PERIODS_FOR_REGRESSION,
        sigmas_p99 = REGRESSION_P99_SIGMAS,
    );
}

/// What an autoscaled fleet and its hooks do across rollouts.
fn render_autoscaling(out: &mut String) {
    out.push_str("## Autoscaling fleets and lifecycle hooks\n\n");
    out.push_str(
        "With `target_tracking`, the scaling policies own a fleet's capacity: `desired_capacity` is only the first generation's, Read reports the serving group's capacity as `current_capacity` (never as drift, so no `ignore_changes` is needed), and a change of `desired_capacity` alone does nothing in AWS. A rollout starts the new generation at the capacity being served, clamped to `min_size`..`max_size`, and computes the capacity floor from it. The new group's policies are held back until it serves; the old group stops scaling itself (`AlarmNotification`, `ScheduledActions` and `AZRebalance` suspended) from the start of the shift until it is deleted, and resumes on rollback. After the rollout the policies exist on the serving generation only.\n\n",
    );
    out.push_str(
        "`lifecycle_hooks` are created with each generation's group, before its first instance launches, and a change of them (or of the health check settings, or of `target_tracking`) is applied to the serving group in place. Instances a `launching` hook holds in `Pending:Wait` count as not serving yet. A retiring generation with a `terminating` hook is scaled to zero, so each instance passes through `Terminating:Wait` until `CompleteLifecycleAction` or its heartbeat timeout, and only the empty group is deleted: never force-deleted past a hook. The wait for a new generation's health allows `health_timeout` plus the longest launching hook's heartbeat timeout. Omitted `timeouts` grow by the hooks' heartbeat timeouts, and a plan warns about a configured one shorter than the hooks may need.\n\n",
    );
}

/// The bounds on AWS calls, their retries, the rate budget and the give-up rule, from the
/// constants the provider uses.
fn render_aws_calls(out: &mut String) {
    use crate::aws::{
        ATTEMPT_TIMEOUT_ENV, CONNECT_TIMEOUT_ENV, CallTimeouts, OPERATION_TIMEOUT_ENV, Retries,
    };
    use crate::driver::give_up::{GIVE_UP_AFTER, GIVE_UP_WINDOW};
    use crate::model::duration::format_duration;
    let timeouts = CallTimeouts::DEFAULT;
    let retries = Retries::DEFAULT;
    out.push_str(
        "## AWS calls, retries and rate limits

",
    );
    let _ = writeln!(
        out,
        "No AWS call waits for ever: each has a connect timeout ({}), a timeout per HTTP attempt ({}) and one for the whole call with its retries ({}). A call that runs out is retried on the rollout's next look, as after throttling. The environment variables `{CONNECT_TIMEOUT_ENV}`, `{ATTEMPT_TIMEOUT_ENV}` and `{OPERATION_TIMEOUT_ENV}` of the Terraform process change them (a duration such as `\"30s\"`; zero is ignored).\n",
        format_duration(timeouts.connect),
        format_duration(timeouts.attempt),
        format_duration(timeouts.operation),
    );
    let _ = writeln!(
        out,
        "Every call uses the AWS SDK's adaptive retry mode with up to {} attempts (the SDK's standard mode makes 3, so one refresh meeting three throttles in a row would fail the plan): backoff with jitter, from {} doubling up to {}, and a client-side rate that drops when AWS throttles and recovers as calls succeed. There is no process-wide retry quota: a burst of throttling slows every call down but never stops the retries of the other resources. The operation timeout leaves room for every attempt and every backoff.\n",
        retries.max_attempts,
        format_duration(retries.initial_backoff),
        format_duration(retries.max_backoff),
    );
    let _ = writeln!(
        out,
        "Errors that do not go away by themselves (expired credentials, `AccessDenied`, `UnauthorizedOperation`, a request AWS always refuses) end a rollout instead of stalling it: after {GIVE_UP_AFTER} refused attempts in a row spanning at least {}, the rollout is rolled back (its rollback needs other calls, which may still be allowed). If those are refused the same way, the apply fails with a diagnostic naming each Auto Scaling group of the fleet and its state as last observed (generation, launch template version, sizes, instances, attached target groups and their health); everything is tagged in AWS, and the next apply resumes. Throttling, timeouts and server errors never count towards this.\n",
        format_duration(GIVE_UP_WINDOW),
    );
}

/// The rate budget: the rule, the default of every API against what AWS publishes,
/// coalescing, the settings, and a worked example for many fleets in one account.
fn render_rate_limits(out: &mut String) {
    use crate::aws::RATE_LIMITS_ENV;
    use crate::aws::budget::{DEFAULT_LIMITS, published_limit};
    use crate::aws::coalesce::ROLLOUTS_PER_CALL;
    out.push_str("## API limits and the rate budget\n\n");
    out.push_str(
        "AWS limits how fast an account calls each API, per region, and every tool of the account (other applies, CI jobs, the console, Auto Scaling itself) draws on the same limits. The provider paces its calls before they are sent, by one token bucket per API (`service:Action`, as in IAM policies): a bucket holds `burst` calls and refills at its rate. The budget is per provider process: every `zdd_rollout` of one apply shares it (Terraform runs up to 10 resource operations at once, `-parallelism`), while each concurrent apply or CI job has a budget of its own, and the account's limits are shared by all of them. When the budget is short, commands go first: a waiting write (create, update, attach, detach, delete, tag, put, suspend, resume, modify), or a read a command makes on its way, is served before a waiting `Describe*`; reads are served whenever no write waits. Throttling that still happens is absorbed by the retries above.\n\n",
    );
    out.push_str("### The defaults\n\nThe defaults stay below what AWS publishes, and are conservative where it publishes nothing:\n\n| API | calls per second | burst | AWS's limit (account and region) |\n|---|---|---|---|\n");
    for (api, limit) in DEFAULT_LIMITS {
        let _ = writeln!(
            out,
            "| `{api}` | {} | {} | {} |",
            limit.per_second(),
            limit.burst(),
            published_limit(*api)
        );
    }
    out.push_str(
        "\nSources: EC2 Auto Scaling publishes no figures, and all its calls of an account and region share one bucket (AWS Knowledge Center, \"Why are my Amazon EC2 Auto Scaling API calls throttled?\"); `DescribeAutoScalingGroups`, which every fleet makes on every look, gets the most. Elastic Load Balancing's `Describe*` actions share one bucket of 40 tokens refilled at 10 per second (Elastic Load Balancing user guide, \"Request throttling for the Elastic Load Balancing API\"): our four describes together take 8 per second and a burst of 25. CloudWatch publishes a quota per API (CloudWatch service quotas): `DescribeAlarms` 9 and `GetMetricData` 50 transactions per second; one `GetMetricData` per look answers both of a canary's target groups. No figures were found for the mutating ELB actions. The provider makes no EC2 call.\n\n",
    );
    let _ = writeln!(
        out,
        "### Coalesced reads\n\nFleets that look at AWS at the same time share their reads. Polls are aligned on a grid across the provider process, so the fleets' looks fall on the same ticks: each tick, one `DescribeAutoScalingGroups` (filtered by the `zdd:rollout` tag, 100 groups a page) answers up to {ROLLOUTS_PER_CALL} rollouts, and one `DescribeTargetHealth` per target group answers every fleet and generation that reads it (the API takes one target group). A refresh (`terraform plan`) reads the same way: the fleets Terraform reads at once (`-parallelism`, 10 by default) share one `DescribeAutoScalingGroups`, then each live group's lifecycle hooks are read (`DescribeLifecycleHooks` takes one group: a call per fleet) and the wave's reads end together, so the next wave shares its call too. Writes are shared where AWS allows it: the phase records (`zdd:phase` and its companions) of the fleets that step in the same tick go out as one `CreateOrUpdateTags` (up to 20 groups a call, each group's record whole in one request; a group AWS refuses fails only its own record, written again at its next step), and the reads a command makes of its own group by name (before and after a create, before an attach, a detach or a delete) share one `DescribeAutoScalingGroups`. The budget then paces the calls that remain; the `rollout stats` line (below) shows what coalescing saved.\n",
    );
    let _ = writeln!(
        out,
        "### Setting the budget\n\n`api_rate_limits` in the provider block overrides the defaults: keys `service:Action`, `service:*` or `*` (the most specific key wins), values `\"RATE/s\"` or `\"RATE/s burst N\"`; without `burst`, the API keeps its default burst. A key naming an API the provider never calls (the error lists those it calls) or a value it cannot read fails `terraform validate` and plan, on that entry (see the example at the top of this page).\n\nThe environment variable `{RATE_LIMITS_ENV}` of the Terraform process takes the same entries, comma-separated as `API=RATE`, e.g. `{RATE_LIMITS_ENV}=\"autoscaling:*=1/s burst 3, elasticloadbalancing:DescribeTargetHealth=2/s\"`; an entry it cannot use is ignored with a warning. For an API that both name, the provider block wins. `TF_LOG_PROVIDER=INFO` shows every budget that differs from its default when the provider is configured (`rate budget of autoscaling:DescribeAutoScalingGroups: 2/s burst 4`).\n",
    );
    out.push_str(
        "### 200 fleets in one account\n\nSay 200 fleets live in one account and region, in 4 states (50 each) whose pipelines may apply at the same time. Each apply is a provider process with its own budget, so 4 budgets draw on the account's limits at once: give each a quarter of them. Elastic Load Balancing's `Describe*` bucket (10/s, burst 40) gives 2.5/s and a burst of 10 per apply; CloudWatch's `DescribeAlarms` 9/s gives 2/s (its `GetMetricData` default, 5/s, is already below a quarter of 50/s); Auto Scaling publishes nothing, so halve its defaults. In each of the 4 configurations:\n\n```terraform\n",
    );
    out.push_str(MANY_FLEETS_EXAMPLE);
    out.push_str(
        "```\n\nWhat that costs: an apply rolls out at most 10 fleets at once (`-parallelism`), so a tick of its polls makes one `DescribeAutoScalingGroups` for the 10 and one `DescribeTargetHealth` per target group, about 20 for fleets of two target groups: at 1.5/s a round of health reads takes about 13 s, and the fleets' looks stretch to that instead of being throttled. Commands are not held behind those reads. Fewer pipelines at once (or a CI concurrency limit) leave each a larger share; more need smaller shares. Other tools of the account (dashboards, other automation) spend the same limits: leave them room.\n\n",
    );
    out.push_str(
        "### What a run reports\n\nAt the end of each rollout, `TF_LOG_PROVIDER=INFO` logs a `rollout stats` line: the run's steps and times, how often and how long the budget held its calls (`budget_held`, `budget_held_ms`), and per API (`api[autoscaling:DescribeAutoScalingGroups]=calls:40,peak_1s:7,budget:5/s+10,throttled:0`) the calls of the run, the most calls the process made in one second against the budget (at most `burst + rate` in any second), and the attempts AWS throttled (counted even when the SDK's retry then succeeded); then the throttles of every API, what coalescing saved in the process (reads asked, calls sent) and the provider's peak memory (`peak_rss_kib`, from `/proc` where there is one). Throttles with calls well under the budget mean another tool shares the account's limits: lower the budget.\n\n",
    );
}

pub fn render_rollout() -> String {
    let schema = rollout();
    let mut out = String::new();
    out.push_str("---\npage_title: \"zdd_rollout Resource - terraform-provider-zdd\"\nsubcategory: \"\"\ndescription: |-\n  A fleet replaced without dropping a request.\n---\n\n");
    out.push_str("# zdd_rollout (Resource)\n\n");
    let _ = writeln!(out, "{}\n", schema.description);
    out.push_str("## Example Usage\n\n### Rolling\n\n```terraform\n");
    out.push_str(ROLLOUT_EXAMPLE);
    out.push_str("```\n\n### Canary\n\n```terraform\n");
    out.push_str(CANARY_EXAMPLE);
    out.push_str("```\n\n### Autoscaling, with a lifecycle hook\n\n```terraform\n");
    out.push_str(AUTOSCALING_EXAMPLE);
    out.push_str("```\n\n");
    render_schema(&mut out, schema);
    out.push_str("## Import\n\nImport an existing fleet by name (the `zdd:rollout` tag of its Auto Scaling groups):\n\n```shell\n");
    out.push_str(IMPORT_EXAMPLE);
    out.push_str("```\n");
    out
}

fn render_schema(out: &mut String, schema: &SchemaDoc) {
    out.push_str(
        "<!-- generated from provider/src/model/attributes/: do not edit -->\n## Schema\n\n",
    );
    let mut nested: Vec<(String, &Attribute)> = Vec::new();
    render_attribute_sections(out, &schema.attributes, "", &mut nested);
    for block in &schema.blocks {
        let _ = writeln!(out, "### Block `{}`\n\n{}\n", block.name, block.description);
        for attribute in &block.attributes {
            render_line(out, attribute, "");
        }
        out.push('\n');
    }
    let mut index = 0;
    while index < nested.len() {
        let (anchor, attribute) = (nested[index].0.clone(), nested[index].1);
        let _ = writeln!(
            out,
            "<a id=\"{anchor}\"></a>\n### Nested Schema for `{}`\n",
            anchor.trim_start_matches("nestedatt--").replace("--", ".")
        );
        if let Kind::Object(children) | Kind::ListOfObject(children) = &attribute.kind {
            render_attribute_sections(out, children, &anchor, &mut nested);
        }
        index += 1;
    }
}

fn render_attribute_sections<'a>(
    out: &mut String,
    attributes: &'a [Attribute],
    parent_anchor: &str,
    nested: &mut Vec<(String, &'a Attribute)>,
) {
    for title in ["Required", "Optional", "Read-Only"] {
        let members: Vec<&Attribute> = attributes
            .iter()
            .filter(|attribute| section(&attribute.role) == title)
            .collect();
        if members.is_empty() {
            continue;
        }
        let _ = writeln!(out, "### {title}\n");
        for attribute in members {
            let anchor = if parent_anchor.is_empty() {
                format!("nestedatt--{}", attribute.name)
            } else {
                format!("{parent_anchor}--{}", attribute.name)
            };
            render_line(out, attribute, &anchor);
            if matches!(attribute.kind, Kind::Object(_) | Kind::ListOfObject(_)) {
                nested.push((anchor, attribute));
            }
        }
        out.push('\n');
    }
}

/// The docs section an attribute is listed in.
fn section(role: &Role) -> &'static str {
    match role {
        Role::Required => "Required",
        Role::Optional | Role::Default(_) => "Optional",
        Role::Computed(_) => "Read-Only",
    }
}

fn render_line(out: &mut String, attribute: &Attribute, anchor: &str) {
    let kind = match &attribute.kind {
        Kind::String => "String".to_string(),
        Kind::Int | Kind::Float => "Number".to_string(),
        Kind::Bool => "Boolean".to_string(),
        Kind::ListOfString => "List of String".to_string(),
        Kind::MapOfString => "Map of String".to_string(),
        Kind::Object(_) => format!("Attributes, see [below for nested schema](#{anchor})"),
        Kind::ListOfObject(_) => {
            format!("Attributes List, see [below for nested schema](#{anchor})")
        }
    };
    let replacement = if attribute.on_change == Some(OnChange::Replace) {
        " Forces replacement."
    } else {
        ""
    };
    let _ = writeln!(
        out,
        "- `{}` ({kind}) {}{replacement}",
        attribute.name, attribute.description
    );
}
