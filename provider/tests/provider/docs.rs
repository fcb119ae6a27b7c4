//! The committed registry docs match the schema descriptions.
//! Regenerate with `ZDD_UPDATE_DOCS=1 cargo test --workspace --test provider -- docs::`.

use std::path::PathBuf;

use terraform_provider_zdd::docs::{render_index, render_rollout};

// A helper, not a #[test] fn: a failed write must fail the test loudly.
#[allow(clippy::unwrap_used)]
fn check(relative: &str, expected: String) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative);
    if std::env::var_os("ZDD_UPDATE_DOCS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &expected).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == expected,
        "{relative} is stale: run `ZDD_UPDATE_DOCS=1 cargo test --workspace --test provider -- docs::` and commit it"
    );
}

#[test]
fn index_is_current() {
    check("docs/index.md", render_index());
}

#[test]
fn rollout_resource_doc_is_current() {
    check("docs/resources/rollout.md", render_rollout());
}

/// The examples the docs show, as files (the tfplugindocs layout).
const DOC_EXAMPLES: &[&str] = &[
    "examples/provider/provider.tf",
    "examples/provider/many_fleets.tf",
    "examples/resources/zdd_rollout/resource.tf",
    "examples/resources/zdd_rollout/canary.tf",
    "examples/resources/zdd_rollout/autoscaling.tf",
];

#[allow(clippy::unwrap_used)]
fn read_example(relative: &str) -> String {
    std::fs::read_to_string(zdd_test_support::workspace_root().join(relative)).unwrap()
}

/// `example` with every reference to another provider's resource (`aws_lb.web.arn`,
/// `aws_subnet.private[*].id`), which cannot load offline, replaced by a variable Terraform
/// validates as unknown; the variables declared after it.
fn with_references_as_variables(example: &str) -> String {
    let mut out = String::new();
    let mut variables = String::new();
    let mut rest = example;
    let mut count = 0;
    while let Some(start) = rest.find("aws_") {
        let preceded_by_identifier = out
            .chars()
            .chain(rest[..start].chars())
            .last()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '"');
        out.push_str(&rest[..start]);
        // `[*]` belongs to the reference; a `]` closing the list around it does not.
        let mut open_brackets = 0;
        let reference_len = rest[start..]
            .find(|c: char| match c {
                '[' => {
                    open_brackets += 1;
                    false
                }
                ']' if open_brackets > 0 => {
                    open_brackets -= 1;
                    false
                }
                _ => !(c.is_ascii_alphanumeric() || "_.*".contains(c)),
            })
            .unwrap_or(rest.len() - start);
        if preceded_by_identifier {
            out.push_str(&rest[start..start + reference_len]);
        } else {
            count += 1;
            out.push_str(&format!("var.reference_{count}"));
            variables.push_str(&format!("variable \"reference_{count}\" {{}}\n"));
        }
        rest = &rest[start + reference_len..];
    }
    out.push_str(rest);
    format!("{out}\n{variables}")
}

#[allow(clippy::unwrap_used)]
fn validate(config: &str) -> zdd_test_support::TfOutput {
    let tf = zdd_test_support::TerraformDir::offline().unwrap();
    tf.write("main.tf", config).unwrap();
    tf.run(&["validate", "-no-color"]).unwrap()
}

/// The docs' examples are real files that Terraform formats and validates against the
/// provider's schema and validation (a misspelt attribute, a wrong type or a value the engine
/// refuses fails here, not in a reader's apply).
#[test]
fn doc_examples_are_files_terraform_formats_and_validates() {
    let provider = read_example("examples/provider/provider.tf");
    for relative in DOC_EXAMPLES {
        let path = zdd_test_support::workspace_root().join(relative);
        let tf = zdd_test_support::TerraformDir::offline().unwrap();
        let fmt = tf
            .run(&["fmt", "-check", "-diff", path.to_str().unwrap()])
            .unwrap();
        assert!(
            fmt.success(),
            "{relative} is not formatted:\n{}{}",
            fmt.stdout,
            fmt.stderr
        );
        let example = read_example(relative);
        let config = if *relative == "examples/provider/provider.tf" {
            with_a_rollout(&example)
        } else if relative.starts_with("examples/provider/") {
            // Another provider block: with the main example's `terraform` block only.
            assert!(example.contains("provider \"zdd\""), "{relative}");
            with_a_rollout(&format!("{}\n{example}", terraform_block(&provider)))
        } else {
            assert!(example.contains("resource \"zdd_rollout\""), "{relative}");
            format!("{provider}\n{}", with_references_as_variables(&example))
        };
        let validated = validate(&config);
        assert!(
            validated.success(),
            "{relative} does not validate:\n{}{}\n--- as validated:\n{config}",
            validated.stdout,
            validated.stderr
        );
    }
    // The check has teeth: a value the engine refuses in the same example fails it.
    let rolling = read_example("examples/resources/zdd_rollout/resource.tf");
    assert!(rolling.contains("min_healthy_percent     = 100"));
    let broken = rolling.replace(
        "min_healthy_percent     = 100",
        "min_healthy_percent     = 150",
    );
    let refused = validate(&format!(
        "{provider}\n{}",
        with_references_as_variables(&broken)
    ));
    assert!(!refused.success(), "a min_healthy_percent of 150 validated");
    assert!(
        refused.stderr.contains("min_healthy_percent"),
        "{}",
        refused.stderr
    );
    // The many-fleets example's keys are checked: a misspelt action fails it.
    let many = read_example("examples/provider/many_fleets.tf");
    assert!(many.contains("\"elasticloadbalancing:DescribeTargetHealth\""));
    let broken = many.replace(
        "\"elasticloadbalancing:DescribeTargetHealth\"",
        "\"elasticloadbalancing:DescribeTargetHeath\"",
    );
    let refused = validate(&with_a_rollout(&format!(
        "{}\n{broken}",
        terraform_block(&provider)
    )));
    assert!(
        !refused.success(),
        "a misspelt api_rate_limits key validated"
    );
    assert!(
        refused.stderr.contains("DescribeTargetHeath"),
        "{}",
        refused.stderr
    );
    // A canary's steps are judged though its listener and target groups (created in the same
    // apply) are unknown: a bad weight fails at validate and plan, not first at apply.
    let canary = read_example("examples/resources/zdd_rollout/canary.tf");
    assert!(canary.contains("{ weight = 5, soak = \"5m\" }"));
    let broken = canary.replace(
        "{ weight = 5, soak = \"5m\" }",
        "{ weight = 500, soak = \"5m\" }",
    );
    let refused = validate(&format!(
        "{provider}\n{}",
        with_references_as_variables(&broken)
    ));
    assert!(!refused.success(), "a canary weight of 500 validated");
    assert!(
        refused.stderr.contains("canary.steps[0]"),
        "{}",
        refused.stderr
    );
}

/// The `terraform { ... }` block of the main provider example (its first top-level block).
fn terraform_block(provider_example: &str) -> &str {
    let end = provider_example
        .find("\n}\n")
        .map_or(provider_example.len(), |at| at + 3);
    &provider_example[..end]
}

/// `config` with the rolling example's resource: Terraform validates a provider block only
/// when a resource uses the provider (an unused one is pruned from the graph unchecked).
fn with_a_rollout(config: &str) -> String {
    let rolling = read_example("examples/resources/zdd_rollout/resource.tf");
    format!("{config}\n{}", with_references_as_variables(&rolling))
}
