//! Validation of the `bake` block.

use super::defaults::DEFAULT_BAKE_DURATION;
use super::error::{SpecErrorKind, attr};
use super::raw::RawSpec;
use super::types::BakeSpec;
use super::validate::Report;
use crate::time::parse_duration;

/// `Some(None)`: no bake; `None`: the block has errors (reported).
pub(super) fn validate_bake(raw: &RawSpec, err: &mut Report<'_>) -> Option<Option<BakeSpec>> {
    let Some(bake) = &raw.bake else {
        return Some(None);
    };
    let path = attr("bake");
    let mut ok = true;
    if raw.strategy.as_deref() == Some("rolling") {
        err(
            SpecErrorKind::Conflict,
            path.clone(),
            "applies only to strategy = \"blue_green\" or \"canary\": a rolling rollout replaces the old generation batch by batch, so none is left whole to return to".into(),
        );
        ok = false;
    }
    let duration = match bake.duration.as_deref() {
        None => DEFAULT_BAKE_DURATION,
        Some(text) => match parse_duration(text) {
            Ok(d) if d.is_zero() => {
                err(
                    SpecErrorKind::OutOfRange,
                    path.attr("duration"),
                    "must be longer than zero: a bake of 0s keeps nothing to return to (omit the bake block for none)".into(),
                );
                ok = false;
                DEFAULT_BAKE_DURATION
            }
            Ok(d) => d,
            Err(message) => {
                err(SpecErrorKind::Malformed, path.attr("duration"), message);
                ok = false;
                DEFAULT_BAKE_DURATION
            }
        },
    };
    for (i, name) in bake.alarm_names.iter().flatten().enumerate() {
        if name.trim().is_empty() {
            err(
                SpecErrorKind::Missing,
                path.attr("alarm_names").index(i),
                "must not be empty".into(),
            );
            ok = false;
        }
    }
    ok.then(|| {
        Some(BakeSpec {
            duration,
            alarm_names: bake.alarm_names.clone().unwrap_or_default(),
        })
    })
}
