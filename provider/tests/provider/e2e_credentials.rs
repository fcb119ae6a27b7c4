//! Without any credentials, through real Terraform: the provider configures (the SDK's
//! configuration and credentials are loaded by the first AWS call, not by ConfigureProvider),
//! a plan of a create still succeeds (its one read, the taken-name check, only warns), and the
//! first call whose answer is needed fails with a diagnostic naming the call and what is
//! missing. With credentials, on the local AWS: a plan that calls no AWS API never loads the
//! SDK's configuration at all (its 7-14 ms and ~4 MiB per plugin start, #18), and a plan that
//! does loads it.

// Test set-up helpers outside #[test] fns: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Output;

use zdd_test_support::{TerraformDir, TfOutput, provider_binary};

use crate::common::{Config, bed};

/// The provider's debug line when ConfigureProvider has run (`resource/mod.rs`).
const CONFIGURED: &str = "configuring AWS clients";
/// The provider's debug line when the first AWS call loads the SDK's configuration
/// (`aws/clients.rs`).
const SDK_LOADED: &str = "AWS configuration loaded for the first call";

const CONFIG: &str = r#"terraform {
  required_providers {
    zdd = { source = "zdd/zdd" }
  }
}

provider "zdd" {}

resource "zdd_rollout" "fleet" {
  name                    = "nocreds-fleet"
  launch_template_id      = "lt-0123456789abcdef0"
  launch_template_version = "1"
  subnet_ids              = ["subnet-0123456789abcdef0"]
  min_size                = 1
  max_size                = 2
  desired_capacity        = 1
  target_group_arns       = ["arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/blue/0123456789abcdef"]
}
"#;

/// A loopback address nothing listens on.
fn closed_endpoint() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

/// `terraform <args>` with no credential source at all: none in the environment (whatever the
/// developer's shell holds), no config or credentials file, no instance metadata.
fn without_credentials(tf: &TerraformDir, endpoint: &str, args: &[&str]) -> TfOutput {
    let missing = tf.path().join("no-such-aws-file");
    let output: Output = tf
        .command(args)
        .unwrap()
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_WEB_IDENTITY_TOKEN_FILE")
        .env_remove("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
        .env_remove("AWS_CONTAINER_CREDENTIALS_FULL_URI")
        .env("AWS_CONFIG_FILE", &missing)
        .env("AWS_SHARED_CREDENTIALS_FILE", &missing)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("ZDD_AWS_OPERATION_TIMEOUT", "5s")
        .output()
        .unwrap();
    TfOutput {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

#[test]
fn without_credentials_the_provider_configures_and_the_first_read_names_what_is_missing() {
    assert!(
        provider_binary().exists(),
        "{} is missing: run `cargo build -p terraform-provider-zdd` first",
        provider_binary().display()
    );
    let tf = TerraformDir::offline().unwrap();
    tf.write("main.tf", CONFIG).unwrap();
    let endpoint = closed_endpoint();

    let plan = without_credentials(
        &tf,
        &endpoint,
        &["plan", "-no-color", "-input=false", "-detailed-exitcode"],
    );
    assert_eq!(
        plan.code, 2,
        "the create is planned without credentials\n{}\n{}",
        plan.stdout, plan.stderr
    );

    let import = without_credentials(
        &tf,
        &endpoint,
        &[
            "import",
            "-no-color",
            "-input=false",
            "zdd_rollout.fleet",
            "nocreds-fleet",
        ],
    );
    assert_eq!(import.code, 1, "{}\n{}", import.stdout, import.stderr);
    let said = format!("{}{}", import.stdout, import.stderr);
    for expected in [
        "Error: Reading the fleet's Auto Scaling groups",
        "DescribeAutoScalingGroups failed",
        "no credentials found",
    ] {
        assert!(said.contains(expected), "{expected:?} missing from\n{said}");
    }
    assert!(
        !said.contains("Provider not configured"),
        "ConfigureProvider must succeed without credentials\n{said}"
    );
}

/// Loading the SDK's configuration (credential chain, profile files, region, retry and timeout
/// set-up, the TLS trust roots) is left to the first AWS call: ConfigureProvider only keeps the
/// settings. A plan that needs no AWS answer (`-refresh=false` over an applied fleet with no
/// change) must configure the provider and never load it; a refreshing plan loads it. Fails if
/// ConfigureProvider (or anything before the first call) loads it eagerly.
#[test]
fn a_plan_that_calls_no_aws_api_never_loads_the_sdk_configuration() {
    let bed = bed("lazysdk");
    bed.write_config(&Config::new(&bed));
    bed.apply_ok();
    let offline = clean_plan_log(&bed, &["-refresh=false"]);
    assert!(
        offline.contains(CONFIGURED),
        "the provider was configured and its debug log reached terraform's stderr\n{offline}"
    );
    assert!(
        !offline.contains(SDK_LOADED),
        "a plan with no AWS call loaded the SDK's configuration\n{offline}"
    );

    let refreshing = clean_plan_log(&bed, &[]);
    assert!(
        refreshing.contains(SDK_LOADED),
        "the refresh's reads load the SDK's configuration\n{refreshing}"
    );
}

/// The provider's debug log (terraform's stderr) of a `plan <extra>` that must find nothing to
/// change.
fn clean_plan_log(bed: &crate::common::Bed, extra: &[&str]) -> String {
    let mut args = vec!["plan", "-no-color", "-input=false", "-detailed-exitcode"];
    args.extend_from_slice(extra);
    let plan = bed.terraform_with_env(&args, &[("TF_LOG_PROVIDER", "DEBUG")]);
    assert_eq!(
        plan.code, 0,
        "the applied fleet plans clean ({extra:?})\n{}\n{}",
        plan.stdout, plan.stderr
    );
    plan.stderr
}
