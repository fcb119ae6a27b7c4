//! Validation of the strategy and of the attributes that depend on it.

use super::canary::validate_canary;
use super::defaults::DEFAULT_STRATEGY;
use super::error::{SpecErrorKind, attr};
use super::raw::RawSpec;
use super::types::{Capacity, Strategy};
use super::validate::Report;

/// The `strategy` and the attributes only some strategies use (target groups, batches, the
/// canary block).
pub(super) fn validate_strategy(
    raw: &RawSpec,
    capacity: Option<Capacity>,
    min_healthy_percent: Option<u32>,
    batch_size: Option<u32>,
    err: &mut Report<'_>,
) -> Option<Strategy> {
    let strategy_name = raw.strategy.as_deref().unwrap_or(DEFAULT_STRATEGY);
    let target_group_arns = raw.target_group_arns.as_deref().unwrap_or_default();
    let check_target_groups = |err: &mut Report<'_>| -> Option<Vec<String>> {
        if target_group_arns.is_empty() {
            err(
                SpecErrorKind::Missing,
                attr("target_group_arns"),
                format!(
                    "strategy {strategy_name:?} needs at least one target group: without a load balancer nothing proves the new instances healthy"
                ),
            );
            return None;
        }
        let mut ok = true;
        for (i, arn) in target_group_arns.iter().enumerate() {
            if arn.trim().is_empty() {
                err(
                    SpecErrorKind::Missing,
                    attr("target_group_arns").index(i),
                    "must not be empty".into(),
                );
                ok = false;
            } else if target_group_arns[..i].contains(arn) {
                err(
                    SpecErrorKind::Conflict,
                    attr("target_group_arns").index(i),
                    format!("{arn:?} is listed twice"),
                );
                ok = false;
            }
        }
        ok.then(|| target_group_arns.to_vec())
    };
    match strategy_name {
        "blue_green" | "rolling" => {
            if raw.canary.is_some() {
                err(
                    SpecErrorKind::Conflict,
                    attr("canary"),
                    format!(
                        "the canary block applies only to strategy = \"canary\", not {strategy_name:?}"
                    ),
                );
            }
            let groups = check_target_groups(err);
            if strategy_name == "blue_green" {
                groups.map(|target_group_arns| Strategy::BlueGreen { target_group_arns })
            } else {
                if let (Some(cap), Some(percent)) = (capacity, min_healthy_percent) {
                    let floor = (cap.desired * percent).div_ceil(100);
                    let headroom = (cap.max - cap.desired) + (cap.desired - floor);
                    if headroom == 0 {
                        err(
                            SpecErrorKind::NoRoomToRoll,
                            attr("max_size"),
                            format!(
                                "rolling with min_healthy_percent = {percent} needs max_size > desired_capacity ({}) to launch new instances before old ones leave",
                                cap.desired
                            ),
                        );
                    }
                }
                match (groups, batch_size) {
                    (Some(target_group_arns), Some(batch_size)) => Some(Strategy::Rolling {
                        target_group_arns,
                        batch_size,
                    }),
                    _ => None,
                }
            }
        }
        "canary" => {
            if !target_group_arns.is_empty() {
                err(
                        SpecErrorKind::Conflict,
                        attr("target_group_arns"),
                        "strategy \"canary\" uses canary.stable_target_group_arn and canary.canary_target_group_arn instead".into(),
                    );
            }
            match &raw.canary {
                None => {
                    err(
                            SpecErrorKind::Missing,
                            attr("canary"),
                            "strategy \"canary\" needs a canary block (listener_arn, stable_target_group_arn, canary_target_group_arn)".into(),
                        );
                    None
                }
                Some(canary) => validate_canary(canary, err).map(Strategy::Canary),
            }
        }
        other => {
            err(
                SpecErrorKind::UnknownStrategy,
                attr("strategy"),
                format!(
                    "unknown strategy {other:?}: expected \"blue_green\", \"rolling\" or \"canary\""
                ),
            );
            None
        }
    }
}
