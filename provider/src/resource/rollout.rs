//! `zdd_rollout`: validate, plan, create/update (a rollout), read (refresh from AWS tags),
//! delete (teardown), import by name.

use std::time::{Duration, SystemTime};

use zdd_rollout::observation::Owner;
use zdd_rollout::{
    Checkpoint, Event, Outcome as EngineOutcome, Rollout, RolloutSpec, SpecErrors,
    Strategy as EngineStrategy,
};
use zdd_tfplugin::{
    AttributePath, Ctx, Diagnostic, Diagnostics, Failure, OrDiag, Outcome, PlanChange, Resource,
    Schema, Val, Value, from_value,
};

use super::SharedAws;
use super::schema::rollout_schema;
use super::state::RolloutState;
use crate::aws::types::AlarmState;
use crate::aws::types::TAG_OWNER;
use crate::driver::timeline::rfc3339;
use crate::driver::{self, Observer, RunResult, Stopped, convert};
use crate::model::duration::parse_duration;
use crate::model::plan::{Change, classify_change, outcome_dependent};
use crate::model::refresh::{Finding, describe_owners, import_owner, refresh, split_by_owner};
use crate::model::rollout::defaults;
use crate::model::validate::{spec_error_diagnostic, validate};
use crate::model::{LastRollout, RolloutModel, TimelineStep, raw_spec};

/// Computed attributes: null in configuration, never "unknown because of the user".
const COMPUTED: [&str; 6] = [
    "id",
    "generation",
    "active_asg_name",
    "active_launch_template_version",
    "last_rollout",
    "owner_id",
];
/// Attributes whose unknown value means a rollout may be needed.
const ROLLOUT_INPUTS: [&str; 7] = [
    "launch_template_id",
    "launch_template_version",
    "subnet_ids",
    "min_size",
    "max_size",
    "target_group_arns",
    "tags",
];

pub struct RolloutResource {
    aws: SharedAws,
}

impl RolloutResource {
    pub fn new(aws: SharedAws) -> RolloutResource {
        RolloutResource { aws }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operation {
    Create,
    Update,
}

impl Resource for RolloutResource {
    type State = RolloutState;

    fn schema(&self) -> Schema {
        rollout_schema()
    }

    fn validate(&self, ctx: &mut Ctx, config: &Value) {
        let state: RolloutState = match from_value(config) {
            Ok(state) => state,
            Err(err) => {
                ctx.diagnostics
                    .error("Invalid zdd_rollout configuration", err.to_string());
                return;
            }
        };
        for diagnostic in config_diagnostics(&state) {
            ctx.diagnostics.push(diagnostic);
        }
    }

    async fn plan(&self, ctx: &mut Ctx, change: &mut PlanChange<RolloutState>) -> Outcome<()> {
        let config = &change.config;
        let planned = &mut change.planned;
        fill_defaults(planned, config);
        if let Some(name) = planned.name.known().cloned() {
            planned.id = Val::Known(name);
        }
        let unknown = planned.unknown_attributes();
        let model = planned.to_model();
        let kind = match &change.prior {
            None => Change::Replace,
            Some(prior) => {
                if ROLLOUT_INPUTS
                    .iter()
                    .any(|attribute| unknown.contains(*attribute))
                {
                    Change::Rollout {
                        reasons: vec!["inputs known only after apply".into()],
                    }
                } else {
                    classify_change(&prior.to_model(), &model)
                }
            }
        };
        let prior = change.prior.as_ref();
        match (&kind, prior) {
            (Change::None | Change::Scale, Some(prior)) => keep_computed(planned, prior),
            (Change::Rollout { reasons }, Some(prior)) => {
                tracing::info!(rollout = %model.name, reasons = %reasons.join(", "), "plan: rollout to a new generation");
                keep_computed(planned, prior);
            }
            // Create (or replace: Terraform destroys, then creates).
            _ => {}
        }
        if prior.is_none()
            && let Some(name) = planned.name.known()
            && let Some(warning) = self.taken_name_warning(name).await
        {
            ctx.diagnostics.push(warning);
        }
        // Only the outcome decides these: a rollout that rolls back leaves the old values.
        plan_unknown(planned, outcome_dependent(&kind));
        // The owner is fixed at create; a state from before owner ids gets one on this apply.
        planned.owner_id = match (&kind, prior) {
            (Change::Replace, _) | (_, None) => Val::Unknown,
            (_, Some(prior)) if prior.owner_id.known().is_some() => prior.owner_id.clone(),
            (_, Some(_)) => Val::Unknown,
        };
        Ok(())
    }

    async fn create(&self, ctx: &mut Ctx, planned: RolloutState) -> Outcome<RolloutState> {
        self.roll_out(ctx, None, planned, Operation::Create).await
    }

    async fn update(
        &self,
        ctx: &mut Ctx,
        prior: RolloutState,
        planned: RolloutState,
    ) -> Outcome<RolloutState> {
        let change = classify_change(&prior.to_model(), &planned.to_model());
        if change == Change::None {
            // Settings only (strategy, timeouts, ...): nothing to do in AWS, except adopting
            // the groups of a state from before owner ids.
            let mut next = planned;
            keep_computed(&mut next, &prior);
            if prior.owner_id.known().is_none() {
                let owner = self.adopt(&prior.to_model()).await?;
                next.owner_id = owner.id.into();
            }
            return Ok(next);
        }
        self.roll_out(ctx, Some(prior), planned, Operation::Update)
            .await
    }

    async fn read(&self, _ctx: &mut Ctx, current: RolloutState) -> Outcome<Option<RolloutState>> {
        let aws = self.aws.get()?;
        let model = current.to_model();
        let groups = aws
            .describe_rollout_asgs(&model.name)
            .await
            .or_diag("Reading the fleet's Auto Scaling groups")?;
        let (groups, foreign) = split_by_owner(&model.owner(), groups);
        if !foreign.is_empty() {
            tracing::warn!(rollout = %model.name, groups = %describe_owners(&foreign), "groups of another fleet use this name; they are left alone");
        }
        if groups.is_empty() && model.generation.is_none() {
            // Import of a name no group carries: nothing to import.
            return Ok(None);
        }
        let (refreshed, finding) = refresh(&model, &groups);
        match &finding {
            Finding::InSync => {}
            Finding::ActiveGroupGone { expected } => {
                tracing::warn!(rollout = %model.name, "drift: Auto Scaling group {expected} no longer exists; the next apply recreates the fleet");
            }
            Finding::Interrupted { generations } => {
                tracing::warn!(rollout = %model.name, ?generations, "an interrupted rollout left several generations; the next apply finishes or rolls it back");
            }
            Finding::Drifted { attributes } => {
                tracing::warn!(rollout = %model.name, ?attributes, "drift: the active group differs from the state");
            }
        }
        let mut state = RolloutState::from_model(&refreshed);
        state.timeouts = current.timeouts;
        // An imported state has no settings yet: show the defaults a plan would fill.
        fill_null_defaults(&mut state);
        Ok(Some(state))
    }

    async fn delete(&self, ctx: &mut Ctx, prior: RolloutState) -> Outcome<()> {
        let model = prior.to_model();
        // Only the fleet's own groups: another fleet's of the same name are left alone.
        let spec = RolloutSpec::validate(&raw_spec(&model))
            .map_err(|errors| spec_failure(&errors))?
            .with_owner(model.owner());
        let aws = self.aws.get()?;
        let mut observer = Observer::default();
        let observation = driver::first_observation(&aws, &spec, &mut observer, ctx.cancellation())
            .await
            .or_diag("Observing the fleet before deleting it")?;
        let rollout = Rollout::teardown(spec, &observation, convert::timestamp(SystemTime::now()));
        let timeout = operation_timeout(
            &model,
            |timeouts| timeouts.delete.as_deref(),
            defaults::DELETE_TIMEOUT,
        );
        let result = driver::run(&aws, rollout, &mut observer, timeout, ctx.cancellation()).await;
        match &result.outcome {
            Ok(EngineOutcome::Succeeded { .. }) => Ok(()),
            Ok(EngineOutcome::RolledBack { reason, .. } | EngineOutcome::Failed { reason }) => {
                Err(Failure::error(
                    format!("Deleting zdd_rollout {:?} failed", model.name),
                    format!("{reason}\n\n{}", timeline_text(&result.timeline)),
                ))
            }
            Err(stopped) => Err(Failure::error(
                format!(
                    "Deleting zdd_rollout {:?} stopped: {}",
                    model.name,
                    stopped_text(stopped)
                ),
                format!(
                    "The fleet is left partly deleted; run the destroy again.\n\n{}",
                    timeline_text(&result.timeline)
                ),
            )),
        }
    }

    /// Import is the explicit way to take a fleet over: the state adopts the owner id its
    /// groups carry (none for groups from before owner ids: the next apply tags them).
    async fn import(&self, _ctx: &mut Ctx, id: &str) -> Outcome<RolloutState> {
        let aws = self.aws.get()?;
        let groups = aws
            .describe_rollout_asgs(id)
            .await
            .or_diag("Reading the fleet's Auto Scaling groups")?;
        let owner_id = import_owner(&groups).map_err(|problem| {
            Failure::error(
                format!("Cannot import zdd_rollout {id:?}"),
                format!("{problem}. Import takes over one fleet: delete or re-tag the groups that are not part of it."),
            )
        })?;
        Ok(RolloutState {
            owner_id: owner_id.into(),
            id: Val::Known(id.to_string()),
            name: Val::Known(id.to_string()),
            launch_template_id: Val::Known(String::new()),
            launch_template_version: Val::Known(String::new()),
            subnet_ids: Val::Known(Vec::new()),
            min_size: Val::Known(0),
            max_size: Val::Known(0),
            desired_capacity: Val::Known(0),
            ..RolloutState::default()
        })
    }
}

impl RolloutResource {
    async fn roll_out(
        &self,
        ctx: &mut Ctx,
        prior: Option<RolloutState>,
        planned: RolloutState,
        operation: Operation,
    ) -> Outcome<RolloutState> {
        let model = planned.to_model();
        let owner = match (planned.owner_id.known(), operation) {
            (Some(id), _) => Owner::new(id.clone()),
            (None, Operation::Create) => Owner::new(new_owner_id()),
            // A state from before owner ids: adopt its untagged groups.
            (None, Operation::Update) => model.owner(),
        };
        let owner_id = owner.id.clone().unwrap_or_default();
        let spec = RolloutSpec::validate(&raw_spec(&model))
            .map_err(|errors| spec_failure(&errors))?
            .with_owner(owner.clone());
        let aws = self.aws.get()?;
        preflight_alarms(&aws, &spec).await?;
        let mut observer = Observer::default();
        let observation = driver::first_observation(&aws, &spec, &mut observer, ctx.cancellation())
            .await
            .or_diag("Observing the fleet before the rollout")?;
        refuse_foreign(&spec, &owner, &observation)?;
        tag_adopted(&aws, &owner, &observation).await?;
        let checkpoint: Option<Checkpoint> = serde_json::from_slice(ctx.private_state()).ok();
        let rollout = Rollout::resume(
            spec.clone(),
            checkpoint,
            &observation,
            convert::timestamp(SystemTime::now()),
        );
        let timeout = match operation {
            Operation::Create => operation_timeout(
                &model,
                |timeouts| timeouts.create.as_deref(),
                defaults::CREATE_TIMEOUT,
            ),
            Operation::Update => operation_timeout(
                &model,
                |timeouts| timeouts.update.as_deref(),
                defaults::UPDATE_TIMEOUT,
            ),
        };
        // An interrupt or timeout is an abort inside the driver: rolled back before the point
        // of no return (invariant 5).
        let result = driver::run(&aws, rollout, &mut observer, timeout, ctx.cancellation()).await;
        tracing::info!(
            rollout = %spec.name,
            api_calls = result.api_calls,
            busy_ms = u64::try_from(result.busy.as_millis()).unwrap_or(u64::MAX),
            elapsed_ms = u64::try_from(result.finished_at.duration_since(result.started_at).unwrap_or_default().as_millis()).unwrap_or(u64::MAX),
            "rollout finished"
        );
        finish(ctx, &spec, prior, model, &owner_id, result)
    }

    /// At plan time, a create whose name another fleet's groups carry gets a warning (the
    /// apply refuses it: a saved plan can be old). Not an error: Terraform also plans the
    /// configuration before a `destroy`, which must work for a stack whose create failed.
    /// Cheap: one read, and only when planning a create. AWS errors are logged only.
    async fn taken_name_warning(&self, name: &str) -> Option<Diagnostic> {
        let aws = self.aws.get().ok()?;
        match aws.describe_rollout_asgs(name).await {
            Ok(groups) if groups.is_empty() => None,
            Ok(groups) => {
                let (summary, detail) = name_taken(
                    name,
                    groups
                        .iter()
                        .map(|group| (group.name.as_str(), group.owner()))
                        .collect(),
                );
                Some(
                    Diagnostic::warning(
                        summary,
                        format!("{detail}\n\nApplying this create fails."),
                    )
                    .at(AttributePath::root("name")),
                )
            }
            Err(err) => {
                tracing::warn!(rollout = %name, error = %err, "could not check at plan time whether another fleet uses this name; the apply checks");
                None
            }
        }
    }

    /// A state from before owner ids, with nothing to roll out: tags its groups with the
    /// owner id it adopts them under.
    async fn adopt(&self, model: &RolloutModel) -> Outcome<Owner> {
        let owner = model.owner();
        let aws = self.aws.get()?;
        let groups = aws
            .describe_rollout_asgs(&model.name)
            .await
            .or_diag("Reading the fleet's Auto Scaling groups")?;
        let observation = zdd_rollout::Observation {
            asgs: groups.iter().map(convert::asg).collect(),
            ..zdd_rollout::Observation::default()
        };
        let spec = RolloutSpec::validate(&raw_spec(model))
            .map_err(|errors| spec_failure(&errors))?
            .with_owner(owner.clone());
        refuse_foreign(&spec, &owner, &observation)?;
        tag_adopted(&aws, &owner, &observation).await?;
        Ok(owner)
    }
}

/// Groups of the fleet's name that belong to another owner: another state uses this name.
/// Nothing is created, changed or adopted beside them.
fn refuse_foreign(
    spec: &RolloutSpec,
    owner: &Owner,
    observation: &zdd_rollout::Observation,
) -> Outcome<()> {
    let foreign = owner.foreign(&observation.asgs);
    if foreign.is_empty() {
        return Ok(());
    }
    let (summary, detail) = name_taken(
        &spec.name,
        foreign
            .iter()
            .map(|asg| (asg.name.as_str(), asg.owner()))
            .collect(),
    );
    Err(Failure::error(summary, detail).at(AttributePath::root("name")))
}

/// Summary and detail of a name another fleet's groups (`(group, zdd:owner)`) carry.
fn name_taken(name: &str, groups: Vec<(&str, Option<&str>)>) -> (String, String) {
    let lines: Vec<String> = groups
        .into_iter()
        .map(|(group, owner)| match owner {
            Some(other) => format!("  {group} (zdd:owner = {other})"),
            None => format!("  {group} (no zdd:owner tag: a fleet from before owner ids)"),
        })
        .collect();
    (
        format!("zdd_rollout name {name:?} is taken by another fleet"),
        format!(
            "Auto Scaling groups tagged zdd:rollout = {name} belong to another owner (another state, workspace or team), so this resource may not adopt, change or delete them:\n{}\n\nNothing was changed. Choose another name, or take the fleet over explicitly with `terraform import` (and remove it from the other state). If they are left by an interrupted create of this very resource (terraform killed before it saved the state), `terraform import <address> {name}` takes them over and the next apply finishes the rollout.",
            lines.join("\n")
        ),
    )
}

/// Tags the groups a fleet adopts (from before owner ids) with its owner id. Idempotent.
async fn tag_adopted(
    aws: &crate::aws::AwsClients,
    owner: &Owner,
    observation: &zdd_rollout::Observation,
) -> Outcome<()> {
    let Some(id) = &owner.id else {
        return Ok(());
    };
    for asg in owner.to_tag(&observation.asgs) {
        tracing::info!(asg = %asg.name, owner = %id, "adopting a group from before owner ids");
        aws.tag_asg(&asg.name, TAG_OWNER, id)
            .await
            .or_diag("Tagging the fleet's groups with its owner")?;
    }
    Ok(())
}

/// A fresh owner id: 128 bits from std's randomly seeded hasher (its keys come from the OS),
/// mixed with the time and the process id. Unique enough to tell fleets apart; not a secret.
fn new_owner_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    let mut halves = [0_u64; 2];
    for (index, half) in halves.iter_mut().enumerate() {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u128(nanos);
        hasher.write_u32(std::process::id());
        hasher.write_usize(index);
        *half = hasher.finish();
    }
    format!("{:016x}{:016x}", halves[0], halves[1])
}

/// Turns a run's end into the new state or a failure carrying the state to keep.
fn finish(
    ctx: &mut Ctx,
    spec: &RolloutSpec,
    prior: Option<RolloutState>,
    planned: RolloutModel,
    owner_id: &str,
    result: RunResult,
) -> Outcome<RolloutState> {
    // One mapping, whose statuses a test compares with the documented ones.
    let status = crate::driver::timeline::status(&result.outcome);
    let last = LastRollout {
        status: status.to_string(),
        started_at: rfc3339(result.started_at),
        finished_at: Some(rfc3339(result.finished_at)),
        steps: timeline_steps(&result.timeline),
    };
    // What the state keeps when the new generation does not serve: the prior configuration,
    // so the next plan proposes the rollout again.
    let kept = |serving: Option<u64>| -> RolloutModel {
        let mut model = prior
            .as_ref()
            .map_or_else(|| planned.clone(), RolloutState::to_model);
        model.id = Some(planned.name.clone());
        model.owner_id = Some(owner_id.to_string());
        if let Some(generation) = serving {
            model.generation = i64::try_from(generation).ok();
            model.active_asg_name = Some(spec.asg_name(generation));
        }
        model.last_rollout = Some(last.clone());
        model
    };
    match &result.outcome {
        Ok(EngineOutcome::Succeeded { generation }) => {
            ctx.set_private_state(Vec::new());
            let mut model = planned.clone();
            model.id = Some(planned.name.clone());
            model.owner_id = Some(owner_id.to_string());
            model.generation = i64::try_from(*generation).ok();
            model.active_asg_name = Some(spec.asg_name(*generation));
            model.active_launch_template_version = Some(planned.launch_template_version.clone());
            model.last_rollout = Some(last);
            Ok(RolloutState::from_model(&model))
        }
        Ok(EngineOutcome::RolledBack {
            serving,
            failed_generation,
            reason,
        }) => {
            ctx.set_private_state(Vec::new());
            let model = kept(*serving);
            let failure = Failure::error(
                format!(
                    "Rollout of {} to generation {failed_generation} failed and was rolled back",
                    spec.name
                ),
                format!(
                    "{reason}\n\n{}\n\n{}",
                    serving.map_or("No generation serves.".to_string(), |g| format!(
                        "Generation {g} keeps serving."
                    )),
                    timeline_text(&result.timeline)
                ),
            );
            Err(
                if serving.is_some()
                    || !planned
                        .rollback_on_failure
                        .unwrap_or(defaults::ROLLBACK_ON_FAILURE)
                {
                    failure.with_partial_state(&RolloutState::from_model(&model))
                } else {
                    failure
                },
            )
        }
        Ok(EngineOutcome::Failed { reason }) => {
            let checkpoint = serde_json::to_vec(&result.checkpoint).unwrap_or_default();
            ctx.set_private_state(checkpoint);
            let model = kept(None);
            Err(Failure::error(
                format!("Rollout of {} failed and could not be rolled back", spec.name),
                format!("{reason}\n\nA person must look at the Auto Scaling groups tagged zdd:rollout = {}.\n\n{}", spec.name, timeline_text(&result.timeline)),
            )
            .with_partial_state(&RolloutState::from_model(&model)))
        }
        Err(stopped) => {
            let checkpoint = serde_json::to_vec(&result.checkpoint).unwrap_or_default();
            ctx.set_private_state(checkpoint);
            let model = kept(None);
            Err(Failure::error(
                format!("Rollout of {} {}", spec.name, stopped_text(stopped)),
                format!(
                    "The rollout stopped in phase {}. Every step is idempotent and tagged in AWS: the next apply resumes it or rolls it back.\n\n{}",
                    result.checkpoint.phase,
                    timeline_text(&result.timeline)
                ),
            )
            .with_partial_state(&RolloutState::from_model(&model)))
        }
    }
}

fn stopped_text(stopped: &Stopped) -> String {
    match stopped {
        Stopped::Cancelled => "interrupted".to_string(),
        Stopped::TimedOut(after) => format!(
            "timed out after {}",
            crate::model::duration::format_duration(*after)
        ),
        // The text names what AWS refused; the timeline's `give_up` entry names each group.
        Stopped::GaveUp(error) => format!("stopped: {error}"),
    }
}

fn timeline_steps(events: &[Event]) -> Vec<TimelineStep> {
    events
        .iter()
        .map(|event| TimelineStep {
            at: rfc3339(convert::system_time(event.at)),
            action: event.action.clone(),
            detail: event.detail.clone(),
        })
        .collect()
}

fn timeline_text(events: &[Event]) -> String {
    let lines: Vec<String> = timeline_steps(events)
        .into_iter()
        .map(|step| format!("  {} {}: {}", step.at, step.action, step.detail))
        .collect();
    format!("Timeline:\n{}", lines.join("\n"))
}

fn operation_timeout(
    model: &RolloutModel,
    pick: impl Fn(&crate::model::TimeoutsConfig) -> Option<&str>,
    default: &str,
) -> Duration {
    model
        .timeouts
        .as_ref()
        .and_then(pick)
        .and_then(|text| parse_duration(text).ok())
        .or_else(|| parse_duration(default).ok())
        .unwrap_or(Duration::from_secs(1800))
}

/// A typo in `alarm_names` would make the gate blind: refuse before anything is created.
async fn preflight_alarms(aws: &crate::aws::AwsClients, spec: &RolloutSpec) -> Outcome<()> {
    let EngineStrategy::Canary(canary) = &spec.strategy else {
        return Ok(());
    };
    if canary.alarm_names.is_empty() {
        return Ok(());
    }
    let states = aws
        .alarm_states(&canary.alarm_names)
        .await
        .or_diag("Reading the canary's alarms")?;
    let missing: Vec<&String> = states
        .iter()
        .filter(|(_, state)| **state == AlarmState::Missing)
        .map(|(name, _)| name)
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Failure::error(
            "Canary alarm not found",
            format!("CloudWatch has no alarm named {missing:?}; the canary gate would be blind."),
        )
        .at(AttributePath::root("canary").attribute("alarm_names")))
    }
}

/// Optional+computed attributes get their defaults in the plan, so it shows them.
fn fill_defaults(planned: &mut RolloutState, config: &Value) {
    let unset = |name: &str| config.attribute(name).is_none_or(Value::is_null);
    if unset("strategy") {
        planned.strategy = Val::Known(defaults::STRATEGY.to_string());
    }
    if unset("min_healthy_percent") {
        planned.min_healthy_percent = Val::Known(defaults::MIN_HEALTHY_PERCENT);
    }
    if unset("batch_size") {
        planned.batch_size = Val::Known(defaults::BATCH_SIZE);
    }
    if unset("health_timeout") {
        planned.health_timeout = Val::Known(defaults::HEALTH_TIMEOUT.to_string());
    }
    if unset("rollback_on_failure") {
        planned.rollback_on_failure = Val::Known(defaults::ROLLBACK_ON_FAILURE);
    }
}

fn fill_null_defaults(state: &mut RolloutState) {
    if state.strategy.is_null() {
        state.strategy = Val::Known(defaults::STRATEGY.to_string());
    }
    if state.min_healthy_percent.is_null() {
        state.min_healthy_percent = Val::Known(defaults::MIN_HEALTHY_PERCENT);
    }
    if state.batch_size.is_null() {
        state.batch_size = Val::Known(defaults::BATCH_SIZE);
    }
    if state.health_timeout.is_null() {
        state.health_timeout = Val::Known(defaults::HEALTH_TIMEOUT.to_string());
    }
    if state.rollback_on_failure.is_null() {
        state.rollback_on_failure = Val::Known(defaults::ROLLBACK_ON_FAILURE);
    }
}

/// Plans the attributes only the apply's outcome decides as unknown.
fn plan_unknown(planned: &mut RolloutState, attributes: &[&str]) {
    for attribute in attributes {
        match *attribute {
            "generation" => planned.generation = Val::Unknown,
            "active_asg_name" => planned.active_asg_name = Val::Unknown,
            "active_launch_template_version" => {
                planned.active_launch_template_version = Val::Unknown;
            }
            "last_rollout" => planned.last_rollout = Val::Unknown,
            other => tracing::error!(
                attribute = other,
                "plan_unknown: no such computed attribute"
            ),
        }
    }
}

fn keep_computed(planned: &mut RolloutState, prior: &RolloutState) {
    planned.id = prior.id.clone();
    planned.generation = prior.generation;
    planned.active_asg_name = prior.active_asg_name.clone();
    planned.active_launch_template_version = prior.active_launch_template_version.clone();
    planned.last_rollout = prior.last_rollout.clone();
}

/// Every problem of a configuration, on its attribute path (the engine's rules, see
/// [`validate`]). Computed attributes are null in configuration, so their being unknown says
/// nothing about the user's values.
pub fn config_diagnostics(state: &RolloutState) -> Vec<Diagnostic> {
    let unknown: std::collections::BTreeSet<String> = state
        .unknown_attributes()
        .into_iter()
        .filter(|name| !COMPUTED.contains(&name.as_str()))
        .collect();
    validate(&state.to_model(), &unknown)
}

/// The engine refused a spec at apply time (plan-time validation normally catches it first):
/// one error per problem, each on its attribute.
fn spec_failure(errors: &SpecErrors) -> Failure {
    Failure::from(
        errors
            .0
            .iter()
            .map(spec_error_diagnostic)
            .collect::<Diagnostics>(),
    )
}
