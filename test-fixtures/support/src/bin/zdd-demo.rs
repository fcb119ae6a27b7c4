//! `make demo`: a real zdd rollout against the local AWS.
//!
//! Starts the local AWS (time scale 0.1, or `ZDD_DEMO_TIME_SCALE`), creates the fixture (VPC,
//! subnets, launch template v1..v3, ALB, blue/green target groups, listener), applies
//! `examples/basic` with launch template version 1, then version 2, prints the `last_rollout`
//! timeline and what the load balancer saw, writes the rollout's page (`zdd-guard report`) to
//! `target/zdd-demo/rollout.html` with the state beside it, and stops the local AWS.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use serde_json::{Value, json};
use zdd_test_support::{
    Fixture, LocalAws, LocalAwsOptions, TerraformDir, provider_binary, provider_dir, workspace_root,
};

const DEFAULT_TIME_SCALE: f64 = 0.1;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("zdd-demo: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    let time_scale = match std::env::var("ZDD_DEMO_TIME_SCALE") {
        Ok(text) if !text.is_empty() => text
            .parse()
            .with_context(|| format!("ZDD_DEMO_TIME_SCALE={text:?} is not a number"))?,
        _ => DEFAULT_TIME_SCALE,
    };
    step(&format!("starting the local AWS (time scale {time_scale})"));
    let aws = LocalAws::start(LocalAwsOptions { time_scale })?;
    println!("    {}", aws.endpoint());

    step(
        "creating the fixture: VPC, subnets, launch template v1-v3, ALB, blue/green target groups, listener",
    );
    let cfg = aws.sdk_config().await;
    let fixture = Fixture::create(&cfg, "demo").await?;
    println!(
        "    launch template {} versions {:?}",
        fixture.launch_template_id, fixture.launch_template_versions
    );
    println!("    target groups   {:?}", fixture.target_group_names);

    let tf = TerraformDir::new(&aws)?;
    copy_example(&workspace_root().join("examples/basic"), &tf)?;
    tf.write("terraform.tfvars.json", &tfvars(&aws, &fixture).to_string())?;

    step("terraform init");
    tf.run(&["init", "-input=false", "-no-color"])?.ok()?;
    require_provider(&tf)?;

    for version in ["1", "2"] {
        step(&format!(
            "terraform apply with launch_template_version = \"{version}\""
        ));
        let var = format!("launch_template_version={version}");
        let status = tf
            .command(&[
                "apply",
                "-auto-approve",
                "-input=false",
                "-compact-warnings",
                "-var",
                &var,
            ])?
            .status()
            .context("running terraform apply")?;
        if !status.success() {
            bail!("terraform apply (launch template version {version}) failed: {status}");
        }
    }

    step("the last rollout, from `terraform output -json`");
    let outputs: Value = serde_json::from_str(&tf.run(&["output", "-json"])?.ok()?.stdout)
        .context("parsing terraform output -json")?;
    print_timeline(&outputs);

    step("what the load balancer saw (the local AWS's health model)");
    print_health_summary(&aws.events()?);
    step("the rollout's page (zdd-guard report)");
    let page = write_report(&tf)?;
    println!("    open file://{}", page.display());
    step("stopping the local AWS");
    aws.stop();
    Ok(())
}

/// Copies the demo's state out of its temporary directory (removed when the demo ends) to
/// `target/zdd-demo/terraform.tfstate` and runs the built `zdd-guard report` on it; returns the
/// page's path.
fn write_report(tf: &TerraformDir) -> anyhow::Result<PathBuf> {
    let out_dir = provider_dir()
        .parent()
        .map_or_else(|| workspace_root().join("target"), Path::to_path_buf)
        .join("zdd-demo");
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let state = out_dir.join("terraform.tfstate");
    std::fs::copy(tf.path().join("terraform.tfstate"), &state)
        .with_context(|| format!("copying the demo's state to {}", state.display()))?;
    let page = out_dir.join("rollout.html");
    let guard = provider_dir().join("zdd-guard");
    let output = std::process::Command::new(&guard)
        .arg("report")
        .arg("--state")
        .arg(&state)
        .arg("-o")
        .arg(&page)
        .output()
        .with_context(|| {
            format!(
                "running {} (build it with `cargo build -p zdd-guard`; `make demo` does)",
                guard.display()
            )
        })?;
    if !output.status.success() {
        bail!(
            "zdd-guard report failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(page)
}

fn step(what: &str) {
    println!("==> {what}");
}

fn copy_example(example: &Path, tf: &TerraformDir) -> anyhow::Result<()> {
    for entry in
        std::fs::read_dir(example).with_context(|| format!("reading {}", example.display()))?
    {
        let path = entry?.path();
        if path.extension().is_some_and(|ext| ext == "tf") {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            tf.write(name, &std::fs::read_to_string(&path)?)?;
        }
    }
    Ok(())
}

fn tfvars(aws: &LocalAws, fixture: &Fixture) -> Value {
    json!({
        "aws_endpoint": aws.endpoint(),
        "name": "demo",
        "launch_template_id": fixture.launch_template_id,
        "launch_template_version": fixture.launch_template_versions.first(),
        "subnet_ids": fixture.subnet_ids,
        "target_group_arns": [fixture.blue_target_group_arn()],
        "health_timeout": "2m",
    })
}

/// A plan fails fast and readably if Terraform cannot load terraform-provider-zdd.
fn require_provider(tf: &TerraformDir) -> anyhow::Result<()> {
    let binary = provider_binary();
    if !binary.exists() {
        bail!(
            "terraform-provider-zdd is not built: {} does not exist. Build it with \
             `cargo build -p terraform-provider-zdd` (`make demo` does) — the zdd_rollout resource \
             is issue 5; until it lands the demo stops here.",
            binary.display()
        );
    }
    let plan = tf.run(&["plan", "-input=false", "-no-color"])?;
    if !plan.success() {
        bail!(
            "terraform could not plan examples/basic with the provider at {} \
             (is zdd_rollout implemented yet? see issue 5):\n{}",
            binary.display(),
            plan.stderr.trim()
        );
    }
    Ok(())
}

fn print_timeline(outputs: &Value) {
    let last = &outputs["last_rollout"]["value"];
    for name in [
        "generation",
        "active_asg_name",
        "active_launch_template_version",
    ] {
        println!("    {name:<32} {}", outputs[name]["value"]);
    }
    println!(
        "    status {}  started {}  finished {}",
        last["status"], last["started_at"], last["finished_at"]
    );
    let steps = last["steps"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    for step in steps {
        println!(
            "    {:<22} {:<12} {}",
            step["at"].as_str().unwrap_or("?"),
            step["action"].as_str().unwrap_or("?"),
            step["detail"].as_str().unwrap_or("")
        );
    }
    if steps.is_empty() {
        println!("    (no steps in last_rollout)");
    }
}

fn print_health_summary(events: &Value) {
    let events = events.as_array().map(Vec::as_slice).unwrap_or_default();
    let count = |kind: &str| events.iter().filter(|e| e["kind"] == kind).count();
    println!(
        "    {} registrations, {} deregistrations (drained), {} instances terminated, {} violations",
        count("registered"),
        count("deregistered"),
        count("instance_terminated"),
        count("violation")
    );
    for violation in events.iter().filter(|e| e["kind"] == "violation") {
        println!(
            "    VIOLATION: {}",
            violation["detail"].as_str().unwrap_or("?")
        );
    }
    println!("    AWS seconds  instance             target group     change");
    for event in events.iter().filter(|e| is_target_change(e)) {
        println!(
            "    {:>10.1}s  {:<20} {:<16} {} -> {}{}",
            event["aws_t"].as_f64().unwrap_or_default(),
            event["instance_id"].as_str().unwrap_or("?"),
            target_group_name(&event["target_group_arn"]),
            event["from"].as_str().unwrap_or("-"),
            event["to"].as_str().unwrap_or("-"),
            event["cause"]
                .as_str()
                .map(|cause| format!(" ({cause})"))
                .unwrap_or_default()
        );
    }
}

fn is_target_change(event: &Value) -> bool {
    ["registered", "state_changed", "deregistered", "removed"]
        .iter()
        .any(|kind| event["kind"] == *kind)
}

/// "arn:...:targetgroup/demo-04d1-blue/0123" -> "demo-04d1-blue".
fn target_group_name(arn: &Value) -> &str {
    arn.as_str()
        .and_then(|arn| arn.split('/').nth(1))
        .unwrap_or("-")
}
