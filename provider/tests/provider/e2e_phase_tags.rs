//! Real Terraform + the provider binary + the local AWS: the state of a rollout read from AWS
//! alone (issue #17). While a blue/green apply runs, `DescribeTags` shows the groups'
//! `zdd:phase` moving through the rollout's phases; at the end the serving group says
//! `complete`.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use aws_sdk_autoscaling::types::Filter;
use zdd_rollout::fleet::TAG_PHASE;

use crate::common::{Bed, Config, bed, finish};

/// Each `(group, zdd:phase)` of the fleet's groups, as `DescribeTags` lists them.
fn phase_tags(bed: &Bed, groups: &[String]) -> Vec<(String, String)> {
    let autoscaling = aws_sdk_autoscaling::Client::new(&bed.sdk);
    let groups = groups.to_vec();
    bed.runtime.block_on(async move {
        let answer = autoscaling
            .describe_tags()
            .filters(
                Filter::builder()
                    .name("auto-scaling-group")
                    .set_values(Some(groups))
                    .build(),
            )
            .filters(Filter::builder().name("key").values(TAG_PHASE).build())
            .send()
            .await
            .unwrap_or_else(|err| panic!("DescribeTags: {err:?}"));
        answer
            .tags()
            .iter()
            .filter_map(|tag| {
                Some((
                    tag.resource_id()?.to_string(),
                    tag.value().unwrap_or_default().to_string(),
                ))
            })
            .collect()
    })
}

#[test]
fn a_blue_green_rollout_shows_its_phases_on_its_groups_and_ends_complete() {
    let bed = bed("e2eph");
    let mut config = Config::new(&bed);
    bed.write_config(&config);
    bed.apply_ok();
    let (g1, g2) = (format!("{}-g1", bed.name), format!("{}-g2", bed.name));
    let groups = [g1.clone(), g2.clone()];
    assert_eq!(
        phase_tags(&bed, &groups),
        vec![(g1.clone(), "complete".to_string())],
        "the first generation ends complete"
    );

    config.version = "2".into();
    bed.write_config(&config);
    let mut apply = bed.spawn_apply();
    let mut seen = BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        seen.extend(phase_tags(&bed, &groups));
        if apply.try_wait().ok().flatten().is_some() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the apply ran 10 minutes: {seen:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let output = finish(apply);
    assert!(output.success(), "{}\n{}", output.stdout, output.stderr);

    assert_eq!(
        phase_tags(&bed, &groups),
        vec![(g2.clone(), "complete".to_string())],
        "the serving group says complete, the old one is gone"
    );
    let intermediate = ["waiting_for_healthy", "detaching_old", "draining_old"];
    for group in [&g1, &g2] {
        assert!(
            seen.iter()
                .any(|(g, phase)| g == group && intermediate.contains(&phase.as_str())),
            "{group} showed no phase of the shift while the apply ran: {seen:?}"
        );
    }
    let state = bed.state();
    let failed_records: Vec<&serde_json::Value> = state["last_rollout"]["steps"]
        .as_array()
        .map(|steps| {
            steps
                .iter()
                .filter(|step| step["action"] == "command_failed")
                .collect()
        })
        .unwrap_or_default();
    assert!(failed_records.is_empty(), "{failed_records:#?}");
    assert!(bed.violations().is_empty(), "{:#?}", bed.violations());
}
