//! The zdd-test-support integration tests, one test binary (one link of the AWS SDK) for the
//! crate: each module is one former test file, named as it was. `health_model` starts a local
//! AWS of its own (a slower clock); the others share the crate's.

mod autoscaling_control;
mod examples;
mod faults;
mod health_model;
mod missing_test_bed;
mod terraform_s3_backend;
mod traffic;
