//! Fleet ownership through real Terraform (issue 11, item 9): a second state that uses the
//! same `name` never adopts, re-targets or deletes the first fleet's groups.

use std::time::Duration;

use crate::common::{Config, bed, kill_group};

#[test]
fn a_second_state_with_the_same_name_fails_and_leaves_the_first_fleet_untouched() {
    let bed = bed("e2eown");
    let mut config = Config::new(&bed);
    bed.write_config(&config);
    // Another working directory, its own state, the same name: it plans its create while the
    // name is still free (so only the apply can notice).
    let other = bed.other_dir();
    other.write("main.tf", &config.render()).unwrap();
    let saved = bed.terraform_in(
        &other,
        &["plan", "-no-color", "-input=false", "-out=create.tfplan"],
    );
    assert!(saved.success(), "{}\n{}", saved.stdout, saved.stderr);
    bed.apply_ok();
    let state = bed.state();
    let owner = state["owner_id"].as_str().unwrap_or_default().to_string();
    let first_group = format!("{}-g1", bed.name);
    let before = bed.fleet_snapshot();

    let second = bed.terraform_in(
        &other,
        &[
            "apply",
            "-auto-approve",
            "-no-color",
            "-input=false",
            "create.tfplan",
        ],
    );
    assert!(
        !second.success(),
        "the second fleet must not adopt the first's groups\n{}\n{}",
        second.stdout,
        second.stderr
    );
    assert!(owner.len() >= 16, "a random owner id: {state}");
    assert!(
        before.contains(&format!("zdd:owner={owner}")),
        "the group carries its owner\n{before}"
    );
    assert!(
        second.stderr.contains("is taken by another fleet"),
        "{}",
        second.stderr
    );
    assert!(
        second
            .stderr
            .contains(&format!("{first_group} (zdd:owner = {owner})")),
        "the diagnostic names the groups it found\n{}",
        second.stderr
    );
    assert_eq!(bed.fleet_snapshot(), before, "the first fleet is untouched");
    // Planned afresh, the plan warns and the apply is refused again.
    let again = bed.terraform_in(
        &other,
        &["apply", "-auto-approve", "-no-color", "-input=false"],
    );
    assert!(!again.success(), "{}", again.stdout);
    let text = format!("{}{}", again.stdout, again.stderr);
    assert!(
        text.contains("Warning: zdd_rollout name") && text.contains("Error: zdd_rollout name"),
        "{text}"
    );
    assert!(
        again
            .stderr
            .contains(&format!("{first_group} (zdd:owner = {owner})")),
        "{}",
        again.stderr
    );
    assert_eq!(bed.fleet_snapshot(), before, "the first fleet is untouched");
    let show = bed.terraform_in(&other, &["show", "-json", "-no-color"]);
    assert!(show.success(), "{}", show.stderr);
    assert!(
        !show.stdout.contains("zdd_rollout.this"),
        "the failed create left nothing in the second state\n{}",
        show.stdout
    );

    // Destroying the second stack touches nothing of the first.
    let destroy = bed.terraform_in(
        &other,
        &["destroy", "-auto-approve", "-no-color", "-input=false"],
    );
    assert!(destroy.success(), "{}\n{}", destroy.stdout, destroy.stderr);
    assert_eq!(bed.fleet_snapshot(), before, "the first fleet is untouched");

    // The first fleet still plans clean, rolls out and is destroyed normally.
    let plan = bed.terraform(&["plan", "-no-color", "-input=false", "-detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
    config.version = "2".into();
    bed.write_config(&config);
    bed.apply_ok();
    let state = bed.state();
    assert_eq!(state["generation"], 2);
    assert_eq!(state["owner_id"], owner.as_str(), "the owner never changes");
    assert_eq!(bed.asg_names(), vec![format!("{}-g2", bed.name)]);
    let destroy = bed.terraform(&["destroy", "-auto-approve", "-no-color", "-input=false"]);
    assert!(destroy.success(), "{}\n{}", destroy.stdout, destroy.stderr);
    assert!(bed.asg_names().is_empty());
    assert!(bed.violations().is_empty(), "{:#?}", bed.violations());
}

#[test]
fn import_takes_over_the_owner_of_the_groups_it_finds() {
    let bed = bed("e2eownimp");
    let config = Config::new(&bed);
    bed.write_config(&config);
    bed.apply_ok();
    let owner = bed.state()["owner_id"].clone();
    assert!(owner.is_string(), "{owner}");

    let other = bed.other_dir();
    other.write("main.tf", &config.render()).unwrap();
    let import = bed.terraform_in(
        &other,
        &[
            "import",
            "-no-color",
            "-input=false",
            "zdd_rollout.this",
            &bed.name,
        ],
    );
    assert!(import.success(), "{}\n{}", import.stdout, import.stderr);
    let show = bed.terraform_in(&other, &["show", "-json", "-no-color"]);
    let show: serde_json::Value = serde_json::from_str(&show.stdout).unwrap();
    let imported = &show["values"]["root_module"]["resources"][0]["values"];
    assert_eq!(
        imported["owner_id"], owner,
        "import adopts the groups' owner"
    );
    assert_eq!(imported["active_asg_name"], format!("{}-g1", bed.name));
    let plan = bed.terraform_in(
        &other,
        &["plan", "-no-color", "-input=false", "-detailed-exitcode"],
    );
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
}

#[test]
fn a_fleet_from_before_owner_ids_adopts_its_groups_on_the_next_apply() {
    let bed = bed("e2eownup");
    let config = Config::new(&bed);
    bed.write_config(&config);
    bed.apply_ok();
    let group = format!("{}-g1", bed.name);

    // Make it look like state and groups written before owner ids: no owner tag, no owner_id.
    let autoscaling = aws_sdk_autoscaling::Client::new(&bed.sdk);
    bed.runtime
        .block_on(
            autoscaling
                .delete_tags()
                .tags(
                    aws_sdk_autoscaling::types::Tag::builder()
                        .resource_id(&group)
                        .resource_type("auto-scaling-group")
                        .key("zdd:owner")
                        .build(),
                )
                .send(),
        )
        .unwrap();
    let state_path = bed.tf.path().join("terraform.tfstate");
    let mut state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state_path).unwrap()).unwrap();
    let attributes = &mut state["resources"][0]["instances"][0]["attributes"];
    assert!(
        attributes
            .as_object_mut()
            .unwrap()
            .remove("owner_id")
            .is_some()
    );
    std::fs::write(&state_path, serde_json::to_string_pretty(&state).unwrap()).unwrap();
    let before = bed.fleet_snapshot();
    assert!(!before.contains("zdd:owner"), "{before}");

    // Read still finds the untagged group; the plan adopts it.
    let plan = bed.terraform(&["plan", "-no-color", "-input=false", "-detailed-exitcode"]);
    assert_eq!(plan.code, 2, "{}\n{}", plan.stdout, plan.stderr);
    assert!(
        plan.stdout.contains("+ owner_id") && plan.stdout.contains("(known after apply)"),
        "{}",
        plan.stdout
    );
    assert!(
        !plan.stdout.contains("generation"),
        "no rollout: {}",
        plan.stdout
    );
    bed.apply_ok();
    let state = bed.state();
    let owner = state["owner_id"].as_str().unwrap().to_string();
    assert!(owner.starts_with("adopted-"), "{owner}");
    assert_eq!(state["generation"], 1, "adopted in place");
    let after = bed.fleet_snapshot();
    assert!(after.contains(&format!("zdd:owner={owner}")), "{after}");
    assert_eq!(
        after.replace(&format!("\"zdd:owner={owner}\", "), ""),
        before,
        "nothing but the owner tag changed"
    );
    let plan = bed.terraform(&["plan", "-no-color", "-input=false", "-detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);

    // From now on the fleet is owned: another state with the same name is refused.
    let other = bed.other_dir();
    other.write("main.tf", &config.render()).unwrap();
    let second = bed.terraform_in(
        &other,
        &["apply", "-auto-approve", "-no-color", "-input=false"],
    );
    assert!(!second.success(), "{}", second.stdout);
    assert!(
        second
            .stderr
            .contains(&format!("{group} (zdd:owner = {owner})")),
        "{}",
        second.stderr
    );
}

/// The price of ownership: a create killed with SIGKILL saves no state, so its owner id is
/// lost and the next apply cannot tell its groups from another stack's. It refuses (never
/// adopts a fleet it cannot prove is its own), says how to recover, and `terraform import`
/// followed by an apply finishes the rollout.
#[test]
fn a_killed_create_is_refused_until_imported_then_finishes() {
    let bed = bed("e2eownkill");
    let config = Config::new(&bed);
    bed.write_config(&config);
    let group = format!("{}-g1", bed.name);
    let child = bed.spawn_apply_killable();
    bed.wait_for("the first generation", Duration::from_secs(60), || {
        !bed.instances_of(&group).is_empty()
    });
    kill_group(child);
    let list = bed.terraform(&["state", "list"]);
    assert!(
        !list.stdout.contains("zdd_rollout.this"),
        "a SIGKILLed create saves nothing\n{}",
        list.stdout
    );

    let refused = bed.apply();
    assert!(!refused.success(), "{}", refused.stdout);
    assert!(
        refused.stderr.contains("is taken by another fleet")
            && refused.stderr.contains(&group)
            && refused.stderr.contains("interrupted create")
            && refused.stderr.contains("terraform import"),
        "the refusal names the groups and the way back\n{}",
        refused.stderr
    );
    assert_eq!(
        bed.asg_names(),
        vec![group.clone()],
        "nothing was created beside it"
    );

    let import = bed.terraform(&[
        "import",
        "-no-color",
        "-input=false",
        "zdd_rollout.this",
        &bed.name,
    ]);
    assert!(import.success(), "{}\n{}", import.stdout, import.stderr);
    let apply = bed.apply();
    assert!(apply.success(), "{}\n{}", apply.stdout, apply.stderr);
    let plan = bed.terraform(&["plan", "-no-color", "-input=false", "-detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
    assert!(bed.violations().is_empty(), "{:#?}", bed.violations());
}
