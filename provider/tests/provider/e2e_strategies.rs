//! Rolling and canary updates through real Terraform, watched from outside.

use crate::common::traffic::Traffic;
use crate::common::{Config, Sampler, bed};

#[test]
fn rolling_update_keeps_the_floor() {
    let bed = bed("e2eroll");
    let mut config = Config::new(&bed);
    config.max = 3;
    config.extra = vec!["strategy = \"rolling\"".into(), "batch_size = 1".into()];
    bed.write_config(&config);
    bed.apply_ok();

    config.version = "2".into();
    bed.write_config(&config);
    let sampler = Sampler::start(&bed, vec![bed.blue().to_string()], 2, None);
    bed.apply_ok();
    let report = sampler.finish();
    assert!(report.breaches.is_empty(), "{:#?}", report.breaches);
    let state = bed.state();
    assert_eq!(state["generation"], 2);
    assert_eq!(state["last_rollout"]["status"], "succeeded");
    assert_eq!(bed.asg_names(), vec![format!("{}-g2", bed.name)]);
    assert!(bed.violations().is_empty(), "{:#?}", bed.violations());
    println!("rolling: {report:?}");
}

#[test]
fn canary_steps_the_listener_weights() {
    let bed = bed("e2ecan");
    let mut config = Config::new(&bed);
    config.target_group_arns = None;
    // max_soak (unscaled) bounds a soak waiting for evidence: a test that lacked it would
    // fail in a minute rather than hang for the default 30.
    config.extra = vec![
        "strategy = \"canary\"".into(),
        format!(
            "canary = {{\n    listener_arn = {:?}\n    stable_target_group_arn = {:?}\n    canary_target_group_arn = {:?}\n    steps = [{{ weight = 20, soak = \"1s\" }}, {{ weight = 60, soak = \"1s\" }}, {{ weight = 100, soak = \"0s\" }}]\n    max_soak = \"1m\"\n  }}",
            bed.fixture.listener_arn,
            bed.blue(),
            bed.green()
        ),
    ];
    bed.write_config(&config);
    bed.apply_ok();

    config.version = "2".into();
    bed.write_config(&config);
    // Healthy traffic: each soak sees min_requests (default 200) canary requests and passes.
    let _traffic = Traffic::healthy(&bed);
    let watched = vec![bed.blue().to_string(), bed.green().to_string()];
    let sampler = Sampler::start(&bed, watched, 2, Some(bed.fixture.listener_arn.clone()));
    bed.apply_ok();
    let report = sampler.finish();
    assert!(report.breaches.is_empty(), "{:#?}", report.breaches);
    let state = bed.state();
    assert_eq!(state["generation"], 2);
    assert_eq!(state["last_rollout"]["status"], "succeeded");
    // The weight of the group that ends with all traffic, in the order the sampler saw it.
    let last = report.weights.last().expect("listener observed").clone();
    let winner = last
        .iter()
        .find(|(_, weight)| *weight > 0)
        .map(|(arn, _)| arn.clone())
        .unwrap();
    let percents: Vec<i32> = report
        .weights
        .iter()
        .map(|split| {
            let total: i32 = split.iter().map(|(_, w)| *w).sum();
            let mine = split
                .iter()
                .find(|(arn, _)| *arn == winner)
                .map_or(0, |(_, w)| *w);
            if total == 0 { 0 } else { mine * 100 / total }
        })
        .collect();
    println!("canary weights seen: {percents:?}");
    assert!(
        percents.contains(&20) && percents.contains(&60),
        "{percents:?}"
    );
    assert_eq!(percents.last(), Some(&100));
    assert!(bed.violations().is_empty(), "{:#?}", bed.violations());
}
