//! What one look at AWS returned for one fleet name: plain data, as AWS gave it (tag values
//! unparsed, states as AWS spells them), so that every reading of it is in the pure view and
//! two looks can be compared to tell whether anything changed.

use std::collections::BTreeMap;

/// Everything read for one `NAME`: the groups tagged `zdd:rollout = NAME` (every owner), the
/// target groups they attach to or their listeners forward to, and those listeners.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FleetSnapshot {
    /// The name asked for.
    pub name: String,
    pub groups: Vec<GroupSnapshot>,
    pub target_groups: Vec<TargetGroupSnapshot>,
    pub listeners: Vec<ListenerSnapshot>,
}

/// One Auto Scaling group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupSnapshot {
    pub name: String,
    /// Every tag of the group, zdd's and the user's.
    pub tags: BTreeMap<String, String>,
    pub min_size: i32,
    pub max_size: i32,
    pub desired_capacity: i32,
    pub instances: Vec<InstanceSnapshot>,
    pub target_group_arns: Vec<String>,
    /// AWS's `Status` (`Delete in progress` while AWS deletes the group).
    pub status: Option<String>,
    /// The newest scaling activities, newest first.
    pub activities: Vec<ActivitySnapshot>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstanceSnapshot {
    pub id: String,
    /// `InService`, `Pending`, `Terminating:Wait`, ...
    pub lifecycle_state: String,
    /// The Auto Scaling health status: `Healthy` / `Unhealthy`.
    pub health_status: String,
}

/// One scaling activity of a group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActivitySnapshot {
    /// Unix seconds.
    pub start: Option<i64>,
    /// `Successful`, `InProgress`, `Failed`, ...
    pub status: String,
    pub description: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetGroupSnapshot {
    pub arn: String,
    pub name: String,
    /// `deregistration_delay.timeout_seconds` as AWS returned it (None: not returned).
    pub deregistration_delay: Option<String>,
    pub load_balancer_arns: Vec<String>,
    /// Every target registered (or draining), whichever group its instance belongs to.
    pub targets: Vec<TargetSnapshot>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetSnapshot {
    pub id: String,
    /// `initial`, `healthy`, `unhealthy`, `unused`, `draining`, `unavailable`, ...
    pub state: String,
    /// The ELB reason code (`Target.ResponseCodeMismatch`, `Target.DeregistrationInProgress`).
    pub reason: Option<String>,
}

/// A listener whose default action forwards to at least one of the fleet's target groups.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListenerSnapshot {
    pub arn: String,
    pub protocol: Option<String>,
    pub port: Option<i32>,
    /// The forward action's target groups and weights (a plain forward is one group at 1).
    pub forwards: Vec<(String, i64)>,
}
