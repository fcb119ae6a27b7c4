//! Terraform 1.15 driving the test provider (built on this crate) through
//! plan, apply, update, replace, drift, import, state upgrade, destroy,
//! panics and a Ctrl-C during a long create.

use std::time::{Duration, Instant};

use crate::common::Workspace;
use base64::Engine;
use rustix::process::{Pid, Signal, kill_process_group};

const THING_V1: &str = r#"
resource "zddtest_noop" "n" {
  input = "x"
}
resource "zddtest_thing" "a" {
  name     = "alpha"
  size     = 1
  ratio    = 0.25
  tags     = { env = "test" }
  settings = { mode = "fast" }
  secret   = "hunter2"
}
resource "zddtest_thing" "b" {
  name = zddtest_noop.n.id
}
data "zddtest_echo" "e" {
  input = "hello"
}
output "upper" { value = data.zddtest_echo.e.upper }
"#;

#[test]
fn lifecycle_plan_apply_update_replace_import_destroy() {
    let ws = Workspace::new();
    ws.configure(THING_V1);

    let plan = ws.ok(&["plan", "-no-color"]);
    assert!(plan.stdout.contains("Plan: 3 to add"), "{}", plan.stdout);
    assert!(
        plan.stdout.contains(r#"fingerprint = "alpha:1""#),
        "fingerprint known at plan: {}",
        plan.stdout
    );
    assert!(plan.stdout.contains("(sensitive value)"), "{}", plan.stdout);

    let apply = ws.ok(&["apply", "-auto-approve", "-no-color"]);
    assert!(
        apply.stdout.contains("Resources: 3 added"),
        "{}",
        apply.stdout
    );
    assert!(
        apply.stdout.contains(r#"upper = "HELLO""#),
        "{}",
        apply.stdout
    );
    let a = ws.instance("zddtest_thing", "a").unwrap();
    let id = a["attributes"]["id"].as_str().unwrap().to_string();
    assert_eq!(a["attributes"]["fingerprint"], "alpha:1");
    assert_eq!(a["attributes"]["ratio"], 0.25);
    assert_eq!(a["schema_version"], 1);
    let private = base64::engine::general_purpose::STANDARD
        .decode(a["private"].as_str().unwrap())
        .unwrap();
    assert_eq!(private, b"zddtest-private-v1");
    let b = ws.instance("zddtest_thing", "b").unwrap();
    let noop_id = ws.instance("zddtest_noop", "n").unwrap()["attributes"]["id"].clone();
    assert_eq!(
        b["attributes"]["name"], noop_id,
        "unknown at plan, known after apply"
    );
    assert_eq!(ws.object_ids().len(), 2);

    // Idempotent: nothing to do.
    assert_eq!(ws.run(&["plan", "-detailed-exitcode", "-no-color"]).code, 0);

    // Update in place keeps the id (use_state_for_unknown).
    ws.configure(&THING_V1.replace("size     = 1", "size     = 2"));
    let apply = ws.ok(&["apply", "-auto-approve", "-no-color"]);
    assert!(
        apply.stdout.contains("0 added, 1 changed, 0 destroyed"),
        "{}",
        apply.stdout
    );
    let a = ws.instance("zddtest_thing", "a").unwrap();
    assert_eq!(a["attributes"]["id"], id.as_str());
    assert_eq!(a["attributes"]["fingerprint"], "alpha:2");

    // A requires_replace attribute forces a new object.
    ws.configure(
        &THING_V1
            .replace("size     = 1", "size     = 2")
            .replace("secret", "replace_key = \"k2\"\n  secret"),
    );
    let plan = ws.ok(&["plan", "-no-color"]);
    assert!(plan.stdout.contains("must be replaced"), "{}", plan.stdout);
    let apply = ws.ok(&["apply", "-auto-approve", "-no-color"]);
    assert!(
        apply.stdout.contains("1 added, 0 changed, 1 destroyed"),
        "{}",
        apply.stdout
    );
    let replaced_id = ws.instance("zddtest_thing", "a").unwrap()["attributes"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(replaced_id, id);
    assert!(!ws.object_ids().contains(&id), "the old object was deleted");

    // Drift: the object vanished outside Terraform; read reports it gone.
    std::fs::remove_file(ws.objects().join(format!("{replaced_id}.json"))).unwrap();
    let plan = ws.ok(&["plan", "-no-color"]);
    assert!(
        plan.stdout.contains("zddtest_thing.a will be created"),
        "{}",
        plan.stdout
    );
    ws.ok(&["apply", "-auto-approve", "-no-color"]);

    // Import: forget the resource, import it back by id, nothing to change.
    let id = ws.instance("zddtest_thing", "a").unwrap()["attributes"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    ws.ok(&["state", "rm", "-no-color", "zddtest_thing.a"]);
    assert!(ws.instance("zddtest_thing", "a").is_none());
    ws.ok(&["import", "-no-color", "zddtest_thing.a", &id]);
    assert_eq!(
        ws.instance("zddtest_thing", "a").unwrap()["attributes"]["id"],
        id.as_str()
    );
    let plan = ws.run(&["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);

    let destroy = ws.ok(&["destroy", "-auto-approve", "-no-color"]);
    assert!(
        destroy.stdout.contains("Resources: 3 destroyed"),
        "{}",
        destroy.stdout
    );
    assert!(ws.object_ids().is_empty());
}

#[test]
fn ctrl_c_during_a_long_create_keeps_the_resource_in_state() {
    let ws = Workspace::new();
    ws.configure(
        r#"
resource "zddtest_thing" "slow" {
  name     = "slow"
  delay_ms = 60000
}
"#,
    );
    let started = Instant::now();
    let terraform = ws.spawn(&["apply", "-auto-approve", "-no-color"]);
    // Wait until the provider has created the object and is in its long wait.
    while ws.object_ids().is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "create never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    // A terminal Ctrl-C: SIGINT to terraform's whole process group (the provider too).
    let group = Pid::from_raw(i32::try_from(terraform.id()).unwrap()).unwrap();
    kill_process_group(group, Signal::INT).unwrap();
    let output = terraform.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the create was not cancelled"
    );
    assert!(!output.status.success());
    assert!(stderr.contains("Create interrupted"), "{stderr}");
    assert!(
        !stderr.contains("plugin"),
        "the provider must not crash: {stderr}"
    );

    let ids = ws.object_ids();
    let instance = ws
        .instance("zddtest_thing", "slow")
        .expect("the interrupted resource is in state");
    assert_eq!(
        ids,
        vec![instance["attributes"]["id"].as_str().unwrap().to_string()]
    );
    assert_eq!(instance["status"], "tainted");
}

#[test]
fn a_panic_in_a_resource_is_an_error_not_a_dead_plugin() {
    let ws = Workspace::new();
    ws.configure(
        r#"
resource "zddtest_thing" "boom" {
  name     = "boom"
  panic_on = "create"
}
resource "zddtest_noop" "fine" {
  input = "still served"
}
"#,
    );
    let run = ws.run_with_env(
        &["apply", "-auto-approve", "-no-color"],
        &[("RUST_BACKTRACE", "1")],
    );
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("Provider bug: create panicked"),
        "{}",
        run.stderr
    );
    // Terraform wraps diagnostic text; compare with whitespace folded.
    let folded = run.stderr.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        folded.contains("zddtest was asked to panic in create"),
        "{}",
        run.stderr
    );
    // Even with RUST_BACKTRACE set, users see no Rust backtrace.
    assert!(!run.stderr.contains("stack backtrace"), "{}", run.stderr);
    assert!(!run.stderr.contains("plugin crashed"), "{}", run.stderr);
    assert!(
        ws.instance("zddtest_noop", "fine").is_some(),
        "the plugin kept serving other resources"
    );
}

#[test]
fn state_from_schema_version_0_is_upgraded() {
    let ws = Workspace::new();
    ws.configure("resource \"zddtest_thing\" \"old\" {\n  name = \"legacy\"\n}\n");
    let state = serde_json::json!({
        "version": 4,
        "terraform_version": "1.15.5",
        "serial": 1,
        "lineage": "0b5a5b6e-0000-4000-8000-000000000000",
        "outputs": {},
        "resources": [{
            "mode": "managed",
            "type": "zddtest_thing",
            "name": "old",
            "provider": "provider[\"registry.terraform.io/zdd/zddtest\"]",
            "instances": [{
                "schema_version": 0,
                "attributes": { "id": "thing-legacy", "title": "legacy", "fingerprint": "legacy:0", "removed_long_ago": true },
                // As Terraform writes it for the schema's sensitive attribute.
                "sensitive_attributes": [[{ "type": "get_attr", "value": "secret" }]]
            }]
        }]
    });
    std::fs::write(ws.work().join("terraform.tfstate"), state.to_string()).unwrap();
    let plan = ws.run(&["plan", "-refresh=false", "-detailed-exitcode", "-no-color"]);
    assert_eq!(
        plan.code, 0,
        "title must become name:\n{}\n{}",
        plan.stdout, plan.stderr
    );
}

#[test]
fn validation_errors_point_at_the_attribute() {
    let ws = Workspace::new();
    ws.configure("resource \"zddtest_thing\" \"bad\" {\n  name = \"\"\n}\n");
    let run = ws.run(&["plan", "-no-color"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("Invalid name"), "{}", run.stderr);
    assert!(
        run.stderr.contains("name must not be empty"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(r#"name = """#),
        "the diagnostic shows the attribute's line: {}",
        run.stderr
    );
}

#[test]
fn schema_reaches_terraform_with_descriptions_and_flags() {
    let ws = Workspace::new();
    ws.configure("");
    let run = ws.ok(&["providers", "schema", "-json"]);
    let schema: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let thing = &schema["provider_schemas"]["registry.terraform.io/zdd/zddtest"]["resource_schemas"]
        ["zddtest_thing"];
    assert_eq!(thing["version"], 1);
    let block = &thing["block"];
    assert_eq!(block["attributes"]["name"]["description_kind"], "markdown");
    assert_eq!(block["attributes"]["secret"]["sensitive"], true);
    assert_eq!(block["attributes"]["id"]["computed"], true);
    assert_eq!(
        block["attributes"]["tags"]["type"],
        serde_json::json!(["map", "string"])
    );
    assert_eq!(
        block["attributes"]["settings"]["nested_type"]["nesting_mode"],
        "single"
    );
    assert_eq!(block["block_types"]["timeouts"]["nesting_mode"], "single");
}

/// `TF_DISABLE_PLUGIN_TLS=1` (Terraform's switch, documented for the SDK test framework): no
/// client certificate, plain gRPC. The plugin must serve a whole apply that way (the benchmark
/// uses it to tell Terraform's AutoMTLS cost from ours), and with the switch unset it must be
/// back on TLS: the plugin's "serving without TLS" warning shows exactly when TLS is off.
#[test]
fn serves_terraform_with_plugin_tls_disabled_and_only_then_without_tls() {
    let ws = Workspace::new();
    ws.configure(
        "resource \"zddtest_noop\" \"n\" {\n  count = 3\n  input = \"v-${count.index}\"\n}\n",
    );
    let without_tls = "PLUGIN_CLIENT_CERT is not set";

    let applied = ws.run_with_env(
        &["apply", "-auto-approve", "-no-color"],
        &[("TF_DISABLE_PLUGIN_TLS", "1"), ("TF_LOG", "WARN")],
    );
    assert_eq!(applied.code, 0, "{}\n{}", applied.stdout, applied.stderr);
    assert!(applied.stdout.contains("3 added"), "{}", applied.stdout);
    assert!(applied.stderr.contains(without_tls), "{}", applied.stderr);

    let planned = ws.run_with_env(&["plan", "-no-color"], &[("TF_LOG", "WARN")]);
    assert_eq!(planned.code, 0, "{}\n{}", planned.stdout, planned.stderr);
    assert!(planned.stdout.contains("No changes"), "{}", planned.stdout);
    assert!(!planned.stderr.contains(without_tls), "{}", planned.stderr);
}
