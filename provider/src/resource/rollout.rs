//! `zdd_rollout`: validate, plan, create/update (a rollout), read (refresh from AWS tags),
//! delete (teardown), import by name.

use std::time::SystemTime;

use zdd_rollout::observation::Owner;
use zdd_rollout::{
    Checkpoint, Outcome as EngineOutcome, RawSpec, Rollout, RolloutSpec, SpecErrors,
    Strategy as EngineStrategy,
};
use zdd_tfplugin::{
    AttributePath, Ctx, Diagnostic, Diagnostics, Failure, OrDiag, Outcome, PlanChange, Resource,
    Schema, Value, from_value,
};

use super::SharedAws;
use super::ownership::{name_taken, new_owner_id, refuse_foreign, tag_adopted};
use super::schema::rollout_schema;
use crate::aws::types::AlarmState;
use crate::driver::{self, Observer, convert};
use crate::model::RolloutModel;
use crate::model::finish::{Finished, finish, stopped_text, timeline_text};
use crate::model::plan::{Change, classify_change, plan};
use crate::model::refresh::{Finding, describe_owners, import_owner, refresh, split_by_owner};
use crate::model::rollout::Operation;
use crate::model::state::State;
use crate::model::validate::{config_diagnostics, engine_error_diagnostic};

pub struct RolloutResource {
    aws: SharedAws,
}

impl RolloutResource {
    pub fn new(aws: SharedAws) -> RolloutResource {
        RolloutResource { aws }
    }
}

impl Resource for RolloutResource {
    type State = State;

    fn schema(&self) -> Schema {
        rollout_schema()
    }

    fn validate(&self, ctx: &mut Ctx, config: &Value) {
        let diagnostics = from_value::<State>(config)
            .map_err(|err| err.to_string())
            .and_then(|state| config_diagnostics(&state).map_err(|err| err.to_string()));
        match diagnostics {
            Ok(diagnostics) => {
                for diagnostic in diagnostics {
                    ctx.diagnostics.push(diagnostic);
                }
            }
            Err(err) => ctx
                .diagnostics
                .error("Invalid zdd_rollout configuration", err),
        }
    }

    async fn plan(&self, ctx: &mut Ctx, change: &mut PlanChange<State>) -> Outcome<()> {
        let config: State = from_value(&change.config).map_err(invalid_configuration)?;
        let kind = plan(change.prior.as_ref(), &mut change.planned, &config)
            .map_err(invalid_configuration)?;
        if let Change::Rollout { reasons } = &kind {
            tracing::info!(rollout = change.planned.known_str("name").unwrap_or_default(), reasons = %reasons.join(", "), "plan: rollout to a new generation");
        }
        if change.prior.is_none()
            && let Some(name) = change.planned.known_str("name")
            && let Some(warning) = self.taken_name_warning(name).await
        {
            ctx.diagnostics.push(warning);
        }
        Ok(())
    }

    async fn create(&self, ctx: &mut Ctx, planned: State) -> Outcome<State> {
        self.roll_out(ctx, None, planned, Operation::Create).await
    }

    async fn update(&self, ctx: &mut Ctx, prior: State, planned: State) -> Outcome<State> {
        let prior_model = model_of(&prior)?;
        let change = classify_change(&prior_model, &model_of(&planned)?);
        if change == Change::None {
            // Settings only (strategy, timeouts, ...): nothing to do in AWS, except adopting
            // the groups of a state from before owner ids.
            let mut next = planned;
            next.keep_computed(&prior);
            if prior.known_str("owner_id").is_none() {
                let owner = self.adopt(&prior_model).await?;
                next.set("owner_id", owner.id.into());
            }
            return Ok(next);
        }
        self.roll_out(ctx, Some(prior), planned, Operation::Update)
            .await
    }

    async fn read(&self, _ctx: &mut Ctx, current: State) -> Outcome<Option<State>> {
        let aws = self.aws.get()?;
        let model = model_of(&current)?;
        // With each live group's hooks (applied in place: Read reports them), read beside the
        // other resources' of this refresh wave (`refresh_rollout_asgs`).
        let groups = aws
            .refresh_rollout_asgs(&model.spec.name)
            .await
            .or_diag("Reading the fleet's Auto Scaling groups and lifecycle hooks")?;
        let (groups, foreign) = split_by_owner(&model.owner(), groups);
        if !foreign.is_empty() {
            tracing::warn!(rollout = %model.spec.name, groups = %describe_owners(&foreign), "groups of another fleet use this name; they are left alone");
        }
        if groups.is_empty() && model.generation.is_none() {
            // Import of a name no group carries: nothing to import.
            return Ok(None);
        }
        let (refreshed, finding) = refresh(&model, &groups);
        match &finding {
            Finding::InSync => {}
            Finding::ActiveGroupGone { expected } => {
                tracing::warn!(rollout = %model.spec.name, "drift: Auto Scaling group {expected} no longer exists; the next apply recreates the fleet");
            }
            Finding::Interrupted { generations } => {
                tracing::warn!(rollout = %model.spec.name, ?generations, "an interrupted rollout left several generations; the next apply finishes or rolls it back");
            }
            Finding::Drifted { attributes } => {
                tracing::warn!(rollout = %model.spec.name, ?attributes, "drift: the active group differs from the state");
            }
        }
        let mut state = State::from_model(&refreshed);
        state.set(
            "timeouts",
            current.get("timeouts").cloned().unwrap_or_default(),
        );
        // An imported state has no settings yet: show the defaults a plan would fill.
        state.fill_null_defaults();
        Ok(Some(state))
    }

    async fn delete(&self, ctx: &mut Ctx, prior: State) -> Outcome<()> {
        let model = model_of(&prior)?;
        // Only the fleet's own groups: another fleet's of the same name are left alone.
        let spec = RolloutSpec::validate(&model.spec)
            .map_err(|errors| spec_failure(&errors))?
            .with_owner(model.owner());
        let aws = self.aws.get()?;
        let mut observer = Observer::default();
        let observation = driver::first_observation(&aws, &spec, &mut observer, ctx.cancellation())
            .await
            .or_diag("Observing the fleet before deleting it")?;
        let rollout = Rollout::teardown(spec, &observation, convert::timestamp(SystemTime::now()));
        let timeout = model.timeout(Operation::Delete);
        let result = driver::run(&aws, rollout, &mut observer, timeout, ctx.cancellation()).await;
        match &result.outcome {
            Ok(EngineOutcome::Succeeded { .. }) => Ok(()),
            Ok(EngineOutcome::RolledBack { reason, .. } | EngineOutcome::Failed { reason }) => {
                Err(Failure::error(
                    format!("Deleting zdd_rollout {:?} failed", model.spec.name),
                    format!("{reason}\n\n{}", timeline_text(&result.timeline)),
                ))
            }
            Err(stopped) => Err(Failure::error(
                format!(
                    "Deleting zdd_rollout {:?} stopped: {}",
                    model.spec.name,
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
    async fn import(&self, _ctx: &mut Ctx, id: &str) -> Outcome<State> {
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
        // Read fills in the rest from the groups.
        Ok(State::from_model(&RolloutModel {
            spec: RawSpec {
                name: id.to_string(),
                ..RawSpec::default()
            },
            owner_id,
            id: Some(id.to_string()),
            ..RolloutModel::default()
        }))
    }
}

impl RolloutResource {
    async fn roll_out(
        &self,
        ctx: &mut Ctx,
        prior: Option<State>,
        planned: State,
        operation: Operation,
    ) -> Outcome<State> {
        let model = model_of(&planned)?;
        let prior = prior.as_ref().map(model_of).transpose()?;
        let owner = match (planned.known_str("owner_id"), operation) {
            (Some(id), _) => Owner::new(id),
            (None, Operation::Create) => Owner::new(new_owner_id()),
            // A state from before owner ids: adopt its untagged groups.
            // A state from before owner ids: adopt its untagged groups.
            (None, _) => model.owner(),
        };
        let owner_id = owner.id.clone().unwrap_or_default();
        let mut spec = RolloutSpec::validate(&model.spec)
            .map_err(|errors| spec_failure(&errors))?
            .with_owner(owner.clone());
        // Not configuration: AWS's timing, scaled only by tests against the local AWS.
        spec.metric_timing = driver::metric_timing();
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
        let timeout = model.timeout(operation);
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
        let Finished {
            private_state,
            result,
        } = finish(&spec, prior, model, &owner_id, &result);
        ctx.set_private_state(private_state);
        result
            .map(|model| State::from_model(&model))
            .map_err(|failure| {
                let error = Failure::error(failure.summary, failure.detail);
                match failure.partial_state {
                    Some(model) => error.with_partial_state(&State::from_model(&model)),
                    None => error,
                }
            })
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
            .describe_rollout_asgs(&model.spec.name)
            .await
            .or_diag("Reading the fleet's Auto Scaling groups")?;
        let observation = zdd_rollout::Observation {
            asgs: groups.iter().map(convert::asg).collect(),
            ..zdd_rollout::Observation::default()
        };
        let spec = RolloutSpec::validate(&model.spec)
            .map_err(|errors| spec_failure(&errors))?
            .with_owner(owner.clone());
        refuse_foreign(&spec, &owner, &observation)?;
        tag_adopted(&aws, &owner, &observation).await?;
        Ok(owner)
    }
}

/// A typo in `alarm_names` (the canary's or the bake's) would make the gate blind: refuse
/// before anything is created.
async fn preflight_alarms(aws: &crate::aws::AwsClients, spec: &RolloutSpec) -> Outcome<()> {
    let names = driver::gate_alarm_names(spec);
    if names.is_empty() {
        return Ok(());
    }
    let states = aws
        .alarm_states(&names)
        .await
        .or_diag("Reading the rollout's alarms")?;
    let missing = |listed: &[String]| -> Vec<String> {
        listed
            .iter()
            .filter(|name| states.get(*name) == Some(&AlarmState::Missing))
            .cloned()
            .collect()
    };
    if let EngineStrategy::Canary(canary) = &spec.strategy {
        let missing = missing(&canary.alarm_names);
        if !missing.is_empty() {
            return Err(Failure::error(
                "Canary alarm not found",
                format!(
                    "CloudWatch has no alarm named {missing:?} (metric or composite); the canary gate would be blind."
                ),
            )
            .at(AttributePath::root("canary").attribute("alarm_names")));
        }
    }
    if let Some(bake) = &spec.bake {
        let missing = missing(&bake.alarm_names);
        if !missing.is_empty() {
            return Err(Failure::error(
                "Bake alarm not found",
                format!(
                    "CloudWatch has no alarm named {missing:?} (metric or composite); the bake would be blind."
                ),
            )
            .at(AttributePath::root("bake").attribute("alarm_names")));
        }
    }
    Ok(())
}

/// The typed model of a state, or the diagnostic of a value of the wrong type.
fn model_of(state: &State) -> Outcome<RolloutModel> {
    state.to_model().map_err(invalid_configuration)
}

fn invalid_configuration(error: impl std::fmt::Display) -> Failure {
    Failure::error("Invalid zdd_rollout configuration", error.to_string())
}

/// The engine refused a spec at apply time (plan-time validation normally catches it first):
/// one error per problem, each on its attribute.
fn spec_failure(errors: &SpecErrors) -> Failure {
    Failure::from(
        errors
            .0
            .iter()
            .map(engine_error_diagnostic)
            .collect::<Diagnostics>(),
    )
}
