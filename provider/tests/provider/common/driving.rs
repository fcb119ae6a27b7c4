//! A rollout run by the provider's own driver loop, without Terraform: the first observation,
//! the engine resumed from it, then `run_with_poll` to an outcome.

use std::time::{Duration, SystemTime};

use terraform_provider_zdd::aws::AwsClients;
use terraform_provider_zdd::driver::{self, Observer};
use tokio_util::sync::CancellationToken;
use zdd_rollout::{Rollout, RolloutSpec};

/// Runs `spec` to its outcome on `aws`, sleeping at most `max_poll` between looks; the run is
/// cut off after `timeout`. A failed first observation fails the test.
pub async fn roll(
    aws: &AwsClients,
    spec: RolloutSpec,
    timeout: Duration,
    max_poll: Duration,
) -> driver::RunResult {
    let mut observer = Observer::default();
    let cancel = CancellationToken::new();
    let observation = driver::first_observation(aws, &spec, &mut observer, &cancel)
        .await
        .expect("the fleet's first observation");
    let rollout = Rollout::resume(
        spec,
        None,
        &observation,
        driver::convert::timestamp(SystemTime::now()),
    );
    driver::run_with_poll(aws, rollout, &mut observer, timeout, &cancel, max_poll).await
}
