//! Load-balancer traffic for the end-to-end tests: the local AWS's traffic model publishes the
//! metrics the canary and bake gates judge. Since the canary analysis needs evidence
//! (`min_requests`), a canary test either sends traffic or sets `min_requests = 0` on purpose.

use zdd_test_support::{TrafficProfile, local_aws};

use super::Bed;

/// Requests per AWS second a canary test's listener receives: at the tests' time scale a
/// period holds 60 AWS seconds, so even a 5 % step sees 300 canary requests per period, over
/// the default `min_requests` (200).
pub const CANARY_TEST_RPS: f64 = 100.0;

/// Traffic running until dropped (the local AWS is shared: each test stops its own).
pub struct Traffic {
    source: String,
}

impl Traffic {
    /// `rps` requests per AWS second to the bed's listener, split by its weights; each target
    /// group answers as its profile says (one not named: [`TrafficProfile::default`], no errors
    /// and a 120 ms p99).
    pub fn listener(
        bed: &Bed,
        rps: f64,
        seed: u64,
        profiles: &[(&str, &TrafficProfile)],
    ) -> Traffic {
        let listener = bed.fixture.listener_arn.clone();
        local_aws()
            .set_listener_traffic(&listener, rps, seed, profiles)
            .unwrap_or_else(|err| panic!("setting the listener's traffic: {err:#}"));
        Traffic { source: listener }
    }

    /// Healthy traffic at [`CANARY_TEST_RPS`]: what a canary test without a point about
    /// traffic needs for its soaks to have evidence.
    pub fn healthy(bed: &Bed) -> Traffic {
        Traffic::listener(bed, CANARY_TEST_RPS, 1, &[])
    }
}

impl Drop for Traffic {
    fn drop(&mut self) {
        if let Err(err) = local_aws().stop_traffic(&self.source) {
            eprintln!("stopping the traffic of {}: {err:#}", self.source);
        }
    }
}

impl Traffic {
    /// `rps` requests per AWS second straight to one target group (behind its load
    /// balancer), whatever the listener's weights: a stable group busy while a canary group
    /// gets nothing.
    pub fn target_group(
        target_group_arn: &str,
        rps: f64,
        seed: u64,
        profile: &TrafficProfile,
    ) -> Traffic {
        local_aws()
            .set_target_group_traffic(target_group_arn, rps, seed, profile)
            .unwrap_or_else(|err| panic!("setting {target_group_arn}'s traffic: {err:#}"));
        Traffic {
            source: target_group_arn.to_string(),
        }
    }
}
