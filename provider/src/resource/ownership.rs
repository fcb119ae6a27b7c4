//! Ownership at the resource's edge: a name another fleet's groups carry is refused, groups
//! from before owner ids are tagged when adopted, and a new fleet gets a fresh owner id. Which
//! groups are whose is the engine's rule (`Owner`); this module only reports and tags.

use std::time::SystemTime;

use zdd_rollout::RolloutSpec;
use zdd_rollout::observation::Owner;
use zdd_tfplugin::{AttributePath, Failure, OrDiag, Outcome};

use crate::aws::types::TAG_OWNER;

/// Groups of the fleet's name that belong to another owner: another state uses this name.
/// Nothing is created, changed or adopted beside them.
pub(super) fn refuse_foreign(
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
pub(super) fn name_taken(name: &str, groups: Vec<(&str, Option<&str>)>) -> (String, String) {
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
pub(super) async fn tag_adopted(
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
pub(super) fn new_owner_id() -> String {
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
