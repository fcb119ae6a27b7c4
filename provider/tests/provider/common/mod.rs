//! Shared helpers of the Terraform end-to-end tests: fixture + terraform dir, HCL rendering,
//! and the outside sampler that checks the rollout invariants from the AWS side.

#![allow(dead_code)]
// each test binary uses a different subset
// Test set-up helpers (not #[test] functions, so clippy.toml's test allowance does not reach
// them): a failed set-up step must fail the test loudly, which is what unwrap does.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use zdd_test_support::{Fixture, TerraformDir, TfOutput, local_aws, provider_binary};

pub mod autoscaling;
pub mod driving;
pub mod hostile;
pub mod kill;
pub mod traffic;

/// Poll the engine at least this often: the local AWS runs its health model 20× faster.
pub const MAX_POLL: &str = "250ms";

/// `count` rollouts of one instance each (`<bed>-0`, `<bed>-1`, ...), from one `count`ed
/// resource on the bed's blue target group.
pub fn counted_fleets_config(bed: &Bed, count: usize) -> String {
    format!(
        r#"terraform {{
  required_providers {{
    zdd = {{ source = "zdd/zdd" }}
  }}
}}

provider "zdd" {{}}

resource "zdd_rollout" "fleet" {{
  count                   = {count}
  name                    = "{name}-${{count.index}}"
  launch_template_id      = {template:?}
  launch_template_version = {version:?}
  subnet_ids              = {subnets}
  min_size                = 1
  max_size                = 2
  desired_capacity        = 1
  target_group_arns       = [{blue:?}]
}}
"#,
        name = bed.name,
        template = bed.fixture.launch_template_id,
        version = bed.fixture.launch_template_versions[0],
        subnets = hcl_list(&bed.fixture.subnet_ids),
        blue = bed.blue(),
    )
}

/// An HCL list of strings (`["a", "b"]`), also valid as a `-var` value.
pub fn hcl_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("{s:?}")).collect();
    format!("[{}]", quoted.join(", "))
}

pub struct Bed {
    pub runtime: tokio::runtime::Runtime,
    pub sdk: aws_config::SdkConfig,
    pub fixture: Fixture,
    pub tf: TerraformDir,
    /// Unique per test: the fleet's name.
    pub name: String,
}

pub fn bed(prefix: &str) -> Bed {
    assert!(
        provider_binary().exists(),
        "{} is missing: run `cargo build -p terraform-provider-zdd` first",
        provider_binary().display()
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let aws = local_aws();
    let sdk = runtime.block_on(aws.sdk_config());
    let fixture = runtime.block_on(Fixture::create(&sdk, prefix)).unwrap();
    let suffix: String = fixture.vpc_id.chars().rev().take(6).collect();
    let tf = TerraformDir::new(aws).unwrap();
    Bed {
        runtime,
        sdk,
        fixture,
        tf,
        name: format!("{prefix}-{suffix}"),
    }
}

impl Bed {
    /// `terraform <args>` with the test poll interval; captures output.
    pub fn terraform(&self, args: &[&str]) -> TfOutput {
        let output: Output = self
            .tf
            .command(args)
            .unwrap()
            .env("ZDD_MAX_POLL_INTERVAL", MAX_POLL)
            .output()
            .unwrap();
        TfOutput {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// `terraform <args>` with extra environment (e.g. `TF_LOG_PROVIDER`).
    pub fn terraform_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> TfOutput {
        let output: Output = self
            .tf
            .command(args)
            .unwrap()
            .env("ZDD_MAX_POLL_INTERVAL", MAX_POLL)
            .envs(env.iter().copied())
            .output()
            .unwrap();
        TfOutput {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    pub fn apply(&self) -> TfOutput {
        self.terraform(&["apply", "-auto-approve", "-no-color", "-input=false"])
    }

    pub fn apply_ok(&self) -> TfOutput {
        let output = self.apply();
        assert!(
            output.success(),
            "apply failed\n{}\n{}",
            output.stdout,
            output.stderr
        );
        output
    }

    /// The `zdd_rollout.this` resource's attributes from `terraform show -json`.
    pub fn state(&self) -> serde_json::Value {
        let output = self.terraform(&["show", "-json", "-no-color"]);
        assert!(output.success(), "{}", output.stderr);
        let show: serde_json::Value = serde_json::from_str(&output.stdout).unwrap();
        show["values"]["root_module"]["resources"]
            .as_array()
            .and_then(|resources| {
                resources
                    .iter()
                    .find(|r| r["address"] == "zdd_rollout.this")
            })
            .map(|r| r["values"].clone())
            .unwrap_or(serde_json::Value::Null)
    }

    pub fn write_config(&self, config: &Config) {
        self.tf.write("main.tf", &config.render()).unwrap();
    }

    pub fn blue(&self) -> &str {
        &self.fixture.target_group_arns[0]
    }

    pub fn green(&self) -> &str {
        &self.fixture.target_group_arns[1]
    }

    /// Violations the local AWS's health model recorded in this fixture's target groups.
    pub fn violations(&self) -> Vec<serde_json::Value> {
        local_aws()
            .events()
            .unwrap()
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|event| {
                event["kind"] == "violation"
                    && self
                        .fixture
                        .target_group_arns
                        .iter()
                        .any(|arn| event["target_group_arn"] == arn.as_str())
            })
            .collect()
    }

    pub fn asg_names(&self) -> Vec<String> {
        let autoscaling = aws_sdk_autoscaling::Client::new(&self.sdk);
        let name = self.name.clone();
        self.runtime
            .block_on(async move { asg_names(&autoscaling, &name).await })
    }
}

async fn asg_names(autoscaling: &aws_sdk_autoscaling::Client, rollout: &str) -> Vec<String> {
    let groups = autoscaling
        .describe_auto_scaling_groups()
        .filters(
            aws_sdk_autoscaling::types::Filter::builder()
                .name("tag:zdd:rollout")
                .values(rollout)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let mut names: Vec<String> = groups
        .auto_scaling_groups()
        .iter()
        .filter_map(|group| group.auto_scaling_group_name().map(str::to_string))
        .collect();
    names.sort();
    names
}

/// A `zdd_rollout.this` configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub name: String,
    pub launch_template_id: String,
    pub version: String,
    pub subnet_ids: Vec<String>,
    pub target_group_arns: Option<Vec<String>>,
    pub min: i64,
    pub max: i64,
    pub desired: i64,
    /// Extra attribute lines, e.g. `strategy = "rolling"`.
    pub extra: Vec<String>,
}

impl Config {
    pub fn new(bed: &Bed) -> Config {
        Config {
            name: bed.name.clone(),
            launch_template_id: bed.fixture.launch_template_id.clone(),
            version: bed.fixture.launch_template_versions[0].clone(),
            subnet_ids: bed.fixture.subnet_ids.clone(),
            target_group_arns: Some(vec![bed.blue().to_string()]),
            min: 1,
            max: 4,
            desired: 2,
            extra: Vec::new(),
        }
    }

    pub fn render(&self) -> String {
        let mut lines = vec![
            format!("  name                    = {:?}", self.name),
            format!("  launch_template_id      = {:?}", self.launch_template_id),
            format!("  launch_template_version = {:?}", self.version),
            format!("  subnet_ids              = {}", hcl_list(&self.subnet_ids)),
            format!("  min_size                = {}", self.min),
            format!("  max_size                = {}", self.max),
            format!("  desired_capacity        = {}", self.desired),
        ];
        if let Some(arns) = &self.target_group_arns {
            lines.push(format!("  target_group_arns       = {}", hcl_list(arns)));
        }
        lines.extend(self.extra.iter().map(|line| format!("  {line}")));
        format!(
            "terraform {{\n  required_providers {{\n    zdd = {{ source = \"zdd/zdd\" }}\n  }}\n}}\n\nprovider \"zdd\" {{}}\n\nresource \"zdd_rollout\" \"this\" {{\n{}\n}}\n",
            lines.join("\n")
        )
    }
}

/// What the sampler saw from outside while a rollout ran.
#[derive(Debug, Clone, Default)]
pub struct SamplerReport {
    pub samples: u64,
    /// Lowest number of healthy targets seen (over the watched groups, summed), after the
    /// fleet first reached the floor.
    pub min_healthy: Option<usize>,
    /// Fewest ASGs of the fleet seen at once, after the first appeared.
    pub min_asgs: Option<usize>,
    /// Distinct listener weight splits seen, in order (canary).
    pub weights: Vec<Vec<(String, i32)>>,
    /// Problems, with the sample time.
    pub breaches: Vec<String>,
}

/// Polls DescribeTargetHealth (and ASGs, listener weights) from outside every ~30 ms and
/// checks the capacity floor and "always at least one ASG" while terraform runs.
pub struct Sampler {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<SamplerReport>,
}

impl Sampler {
    pub fn start(
        bed: &Bed,
        watched: Vec<String>,
        floor: usize,
        listener: Option<String>,
    ) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let sdk = bed.sdk.clone();
        let rollout = bed.name.clone();
        let flag = stop.clone();
        let handle = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(sample(sdk, rollout, watched, floor, listener, flag))
        });
        Sampler { stop, handle }
    }

    pub fn finish(self) -> SamplerReport {
        self.stop.store(true, Ordering::SeqCst);
        self.handle.join().unwrap()
    }
}

async fn sample(
    sdk: aws_config::SdkConfig,
    rollout: String,
    watched: Vec<String>,
    floor: usize,
    listener: Option<String>,
    stop: Arc<AtomicBool>,
) -> SamplerReport {
    let elbv2 = aws_sdk_elasticloadbalancingv2::Client::new(&sdk);
    let autoscaling = aws_sdk_autoscaling::Client::new(&sdk);
    let started = Instant::now();
    let mut report = SamplerReport::default();
    let mut established = false;
    while !stop.load(Ordering::SeqCst) {
        let mut healthy = 0;
        let mut per_group = BTreeMap::new();
        for arn in &watched {
            let Ok(health) = elbv2
                .describe_target_health()
                .target_group_arn(arn)
                .send()
                .await
            else {
                continue;
            };
            let count = health
                .target_health_descriptions()
                .iter()
                .filter(|d| {
                    d.target_health()
                        .and_then(|h| h.state())
                        .map(|s| s.as_str())
                        == Some("healthy")
                })
                .count();
            per_group.insert(arn.clone(), count);
            healthy += count;
        }
        let weights = match &listener {
            Some(arn) => listener_weights(&elbv2, arn).await,
            None => Vec::new(),
        };
        // With a weighted listener only groups with weight count as serving.
        let serving = if listener.is_some() && !weights.is_empty() {
            weights
                .iter()
                .filter(|(_, weight)| *weight > 0)
                .map(|(arn, _)| per_group.get(arn).copied().unwrap_or(0))
                .sum()
        } else {
            healthy
        };
        let asgs = asg_names(&autoscaling, &rollout).await.len();
        report.samples += 1;
        let at = started.elapsed().as_millis();
        if serving >= floor {
            established = true;
        }
        if established {
            report.min_healthy = Some(report.min_healthy.map_or(serving, |m| m.min(serving)));
            if serving < floor {
                report.breaches.push(format!("t+{at}ms: {serving} serving healthy targets < floor {floor} ({per_group:?}, weights {weights:?})"));
            }
            report.min_asgs = Some(report.min_asgs.map_or(asgs, |m| m.min(asgs)));
            if asgs == 0 {
                report.breaches.push(format!(
                    "t+{at}ms: no Auto Scaling group of the fleet exists"
                ));
            }
        }
        if !weights.is_empty() && report.weights.last() != Some(&weights) {
            report.weights.push(weights);
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    report
}

async fn listener_weights(
    elbv2: &aws_sdk_elasticloadbalancingv2::Client,
    arn: &str,
) -> Vec<(String, i32)> {
    let Ok(listeners) = elbv2.describe_listeners().listener_arns(arn).send().await else {
        return Vec::new();
    };
    listeners
        .listeners()
        .first()
        .and_then(|listener| listener.default_actions().first())
        .and_then(|action| action.forward_config())
        .map(|forward| {
            forward
                .target_groups()
                .iter()
                .filter_map(|tuple| {
                    Some((
                        tuple.target_group_arn()?.to_string(),
                        tuple.weight().unwrap_or(1),
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

impl Bed {
    /// Starts `terraform apply` without waiting (for tests that act while it runs).
    pub fn spawn_apply(&self) -> std::process::Child {
        self.tf
            .command(&["apply", "-auto-approve", "-no-color", "-input=false"])
            .unwrap()
            .env("ZDD_MAX_POLL_INTERVAL", MAX_POLL)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// Instance ids of an Auto Scaling group (empty if it does not exist).
    pub fn instances_of(&self, asg: &str) -> Vec<String> {
        let autoscaling = aws_sdk_autoscaling::Client::new(&self.sdk);
        let asg = asg.to_string();
        self.runtime.block_on(async move {
            let groups = autoscaling
                .describe_auto_scaling_groups()
                .auto_scaling_group_names(&asg)
                .send()
                .await
                .unwrap();
            groups
                .auto_scaling_groups()
                .iter()
                .flat_map(|group| {
                    group
                        .instances()
                        .iter()
                        .filter_map(|i| i.instance_id().map(str::to_string))
                })
                .collect()
        })
    }

    /// Marks every instance of `asg` unhealthy in the load balancer (a health check that
    /// answers the wrong code) as soon as it exists, until `count` have been marked: a new
    /// generation that never turns healthy.
    pub fn fail_health_of(&self, asg: &str, count: usize) {
        let mut marked = std::collections::BTreeSet::new();
        self.wait_for(
            &format!("{count} instances of {asg}"),
            Duration::from_secs(60),
            || {
                for instance in self.instances_of(asg) {
                    if marked.insert(instance.clone()) {
                        local_aws()
                            .set_instance_health(
                                &instance,
                                "unhealthy",
                                Some("Target.ResponseCodeMismatch"),
                            )
                            .unwrap();
                    }
                }
                marked.len() >= count
            },
        );
    }

    /// Polls until `check` holds or `limit` passes; panics with `what` on timeout.
    pub fn wait_for(&self, what: &str, limit: Duration, mut check: impl FnMut() -> bool) {
        let deadline = Instant::now() + limit;
        while !check() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(40));
        }
    }
}

/// Waits for a spawned terraform and returns its output.
pub fn finish(child: std::process::Child) -> TfOutput {
    let output = child.wait_with_output().unwrap();
    TfOutput {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Sends SIGINT to a process, as a terminal's Ctrl-C would.
pub fn interrupt(child: &std::process::Child) {
    zdd_test_support::signal(child.id(), zdd_test_support::Signal::INT).unwrap();
}

// ----- helpers of the ownership, outcome and resume tests (issue 11) ------------------------

impl Bed {
    /// A second working directory (its own state) on the same local AWS.
    pub fn other_dir(&self) -> TerraformDir {
        TerraformDir::new(local_aws()).unwrap()
    }

    /// `terraform <args>` in another working directory, with the test poll interval.
    pub fn terraform_in(&self, dir: &TerraformDir, args: &[&str]) -> TfOutput {
        let output: Output = dir
            .command(args)
            .unwrap()
            .env("ZDD_MAX_POLL_INTERVAL", MAX_POLL)
            .output()
            .unwrap();
        TfOutput {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// `terraform output -raw <name>` in this bed's directory.
    pub fn output(&self, name: &str) -> String {
        let output = self.terraform(&["output", "-no-color", "-raw", name]);
        assert!(output.success(), "{}\n{}", output.stdout, output.stderr);
        output.stdout.trim().to_string()
    }

    /// Everything of the fleet another stack must not touch, as comparable text: every group
    /// tagged with the fleet's name (sizes, attachments, tags, instances), the targets of
    /// both target groups with their health, and the listener's default actions.
    pub fn fleet_snapshot(&self) -> String {
        let autoscaling = aws_sdk_autoscaling::Client::new(&self.sdk);
        let elbv2 = aws_sdk_elasticloadbalancingv2::Client::new(&self.sdk);
        let name = self.name.clone();
        let target_groups = self.fixture.target_group_arns.clone();
        let listener = self.fixture.listener_arn.clone();
        self.runtime.block_on(async move {
            let mut lines = Vec::new();
            for group_name in asg_names(&autoscaling, &name).await {
                let groups = autoscaling
                    .describe_auto_scaling_groups()
                    .auto_scaling_group_names(&group_name)
                    .send()
                    .await
                    .unwrap();
                for group in groups.auto_scaling_groups() {
                    let mut tags: Vec<String> = group
                        .tags()
                        .iter()
                        .map(|tag| {
                            format!("{}={}", tag.key().unwrap_or(""), tag.value().unwrap_or(""))
                        })
                        .collect();
                    tags.sort();
                    let mut instances: Vec<String> = group
                        .instances()
                        .iter()
                        .map(|i| {
                            format!(
                                "{}:{}",
                                i.instance_id().unwrap_or(""),
                                i.lifecycle_state().map(|s| s.as_str()).unwrap_or("")
                            )
                        })
                        .collect();
                    instances.sort();
                    let mut attached = group.target_group_arns().to_vec();
                    attached.sort();
                    lines.push(format!(
                        "group {group_name} min={:?} max={:?} desired={:?} status={:?} lt={:?} tgs={attached:?} tags={tags:?} instances={instances:?}",
                        group.min_size(),
                        group.max_size(),
                        group.desired_capacity(),
                        group.status(),
                        group.launch_template().and_then(|t| t.version()),
                    ));
                }
            }
            for arn in &target_groups {
                let health = elbv2
                    .describe_target_health()
                    .target_group_arn(arn)
                    .send()
                    .await
                    .unwrap();
                let mut targets: Vec<String> = health
                    .target_health_descriptions()
                    .iter()
                    .map(|d| {
                        format!(
                            "{}:{}",
                            d.target().and_then(|t| t.id()).unwrap_or(""),
                            d.target_health()
                                .and_then(|h| h.state())
                                .map(|s| s.as_str())
                                .unwrap_or("")
                        )
                    })
                    .collect();
                targets.sort();
                lines.push(format!("target group {arn}: {targets:?}"));
            }
            let listeners = elbv2
                .describe_listeners()
                .listener_arns(&listener)
                .send()
                .await
                .unwrap();
            lines.push(format!(
                "listener: {:?}",
                listeners
                    .listeners()
                    .iter()
                    .map(|l| format!("{:?}", l.default_actions()))
                    .collect::<Vec<_>>()
            ));
            lines.join("\n")
        })
    }

    /// Starts `terraform apply` in a process group of its own, so the test can kill
    /// terraform and the provider it started at once, as a CI runner killing a job would.
    pub fn spawn_apply_killable(&self) -> std::process::Child {
        use std::os::unix::process::CommandExt;
        self.tf
            .command(&["apply", "-auto-approve", "-no-color", "-input=false"])
            .unwrap()
            .env("ZDD_MAX_POLL_INTERVAL", MAX_POLL)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap()
    }
}

/// SIGKILLs the process group a [`Bed::spawn_apply_killable`] child leads (terraform and its
/// provider: nothing gets to save state) and waits until every member is gone.
pub fn kill_group(child: std::process::Child) -> TfOutput {
    let leader = child.id();
    zdd_test_support::signal_group(leader, zdd_test_support::Signal::KILL).unwrap();
    let output = finish(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while zdd_test_support::group_alive(leader) {
        assert!(
            Instant::now() < deadline,
            "process group {leader} outlived SIGKILL"
        );
        std::thread::sleep(Duration::from_millis(40));
    }
    output
}

impl Bed {
    /// [`Bed::spawn_apply`] with extra environment (e.g. the provider's own
    /// `AWS_ACCESS_KEY_ID`, so that a fault rule can refuse its calls alone).
    pub fn spawn_apply_with_env(&self, env: &[(&str, &str)]) -> std::process::Child {
        self.tf
            .command(&["apply", "-auto-approve", "-no-color", "-input=false"])
            .unwrap()
            .env("ZDD_MAX_POLL_INTERVAL", MAX_POLL)
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    }
}

impl Bed {
    /// Writes `config` followed by more HCL (outputs, other resources).
    pub fn write_config_with(&self, config: &Config, more: &str) {
        self.tf
            .write("main.tf", &format!("{}{more}", config.render()))
            .unwrap();
    }
}
