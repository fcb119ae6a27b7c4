//! examples/basic is what `make demo` applies: it must stay well-formed Terraform.

// Test helpers outside #[test] fns are test code too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use zdd_test_support::{TerraformDir, workspace_root};

#[test]
fn examples_basic_is_terraform_fmt_clean() {
    let example = workspace_root().join("examples/basic");
    let tf = TerraformDir::offline().unwrap();

    let fmt = tf
        .run(&[
            "fmt",
            "-check",
            "-diff",
            "-no-color",
            example.to_str().unwrap(),
        ])
        .unwrap();

    assert!(fmt.success(), "terraform fmt -check failed: {fmt:?}");
}

#[test]
fn examples_basic_declares_the_zdd_rollout_interface_the_demo_feeds() {
    let example = workspace_root().join("examples/basic");
    let read = |file: &str| std::fs::read_to_string(example.join(file)).unwrap();
    let (main, variables, outputs) = (read("main.tf"), read("variables.tf"), read("outputs.tf"));

    assert!(main.contains("source = \"zdd/zdd\""));
    assert!(main.contains("resource \"zdd_rollout\" \"web\""));
    assert!(main.contains("strategy                = \"blue_green\""));
    for variable in [
        "aws_endpoint",
        "name",
        "launch_template_id",
        "launch_template_version",
        "subnet_ids",
        "target_group_arns",
        "health_timeout",
    ] {
        assert!(
            variables.contains(&format!("variable \"{variable}\"")),
            "variables.tf lacks {variable} (zdd-demo sets it)"
        );
    }
    assert!(outputs.contains("output \"last_rollout\""));
}
