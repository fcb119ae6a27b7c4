//! Benchmark of `zdd-guard check` (the zdd-check crate) over a generated tree of 1,000 `.tf`
//! files: a root module with 100 files calling 9 local modules of 100 files each. Prints figures; asserts nothing about
//! time (goal: under one second). Run with `cargo bench -p zdd-check --bench check_bench`.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use zdd_check::{check_dir, loader, report};

const MODULES: usize = 9;
const FILES_PER_MODULE: usize = 100;
const RUNS: usize = 7;

fn file_text(module: usize, file: usize) -> String {
    let name = format!("m{module}f{file}");
    // Every fifth file carries findings, so the rules and the suppression scan do real work.
    let flawed = file.is_multiple_of(5);
    let mut text = String::new();
    let _ = write!(
        text,
        r#"locals {{
  {name}_port = 8080
}}

resource "aws_lb_target_group" "{name}" {{
  name                 = "{name}"
  port                 = local.{name}_port
  protocol             = "HTTP"
  vpc_id               = var.vpc_id
  deregistration_delay = {delay}

  health_check {{
    path              = "{path}"
    matcher           = "200"
    interval          = 10
    healthy_threshold = 3
  }}
}}

# zdd:ignore ZDD013 capacity is gated by the deploy job for this group
resource "aws_autoscaling_group" "{name}" {{
  name_prefix           = "{name}-"
  min_size              = 2
  max_size              = 6
  desired_capacity      = 3
  vpc_zone_identifier   = var.subnet_ids
  target_group_arns     = [aws_lb_target_group.{name}.arn]
  health_check_type     = "{health_check_type}"

  launch_template {{
    id      = aws_launch_template.{name}.id
    version = {version}
  }}
{lifecycle}}}

resource "aws_autoscaling_policy" "{name}" {{
  name                   = "{name}-cpu"
  autoscaling_group_name = aws_autoscaling_group.{name}.name
  policy_type            = "TargetTrackingScaling"
}}

resource "zdd_rollout" "{name}" {{
  name                    = "{name}"
  launch_template_id      = aws_launch_template.{name}.id
  launch_template_version = "7"
  subnet_ids              = var.subnet_ids
  min_size                = 2
  max_size                = 6
  desired_capacity        = 3
  strategy                = "canary"
  canary = {{
    listener_arn            = aws_lb_listener.{name}.arn
    stable_target_group_arn = aws_lb_target_group.{name}.arn
    canary_target_group_arn = aws_lb_target_group.{name}.arn
    steps = [
      {{ weight = 5, soak = "5m" }},
      {{ weight = 25, soak = "5m" }},
      {{ weight = 50, soak = "5m" }},
      {{ weight = 100, soak = "0s" }},
    ]
  }}
  rollback_on_failure = {rollback}
}}
"#,
        delay = if flawed { 0 } else { 30 },
        path = if flawed { "/" } else { "/healthz" },
        version = if flawed {
            "\"$Latest\""
        } else {
            "aws_launch_template.x.latest_version"
        },
        lifecycle = if flawed {
            ""
        } else {
            "\n  lifecycle {\n    create_before_destroy = true\n    ignore_changes        = [desired_capacity]\n  }\n"
        },
        rollback = if flawed { "false" } else { "true" },
        health_check_type = if flawed { "EC2" } else { "ELB" },
    );
    text
}

fn write_tree(root: &Path) -> std::io::Result<usize> {
    let mut files = 0;
    let mut root_calls = String::from(
        "terraform {\n  backend \"s3\" {\n    bucket       = \"b\"\n    key          = \"k\"\n    encrypt      = true\n    use_lockfile = true\n  }\n}\n",
    );
    for module in 0..MODULES {
        let dir = root.join("modules").join(format!("m{module}"));
        fs::create_dir_all(&dir)?;
        for file in 0..FILES_PER_MODULE {
            fs::write(dir.join(format!("f{file:03}.tf")), file_text(module, file))?;
            files += 1;
        }
        let _ = write!(
            root_calls,
            "\nmodule \"m{module}\" {{\n  source = \"./modules/m{module}\"\n}}\n"
        );
    }
    fs::write(root.join("f000.tf"), root_calls)?;
    files += 1;
    for file in 1..FILES_PER_MODULE {
        fs::write(
            root.join(format!("f{file:03}.tf")),
            file_text(MODULES, file),
        )?;
        files += 1;
    }
    Ok(files)
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let temp = tempfile::tempdir()?;
    let files = write_tree(temp.path())?;
    let bytes: u64 = walk_bytes(temp.path())?;

    let mut full = Vec::new();
    let mut parse_only = Vec::new();
    let mut analyze_only = Vec::new();
    let mut findings = 0;
    for _ in 0..RUNS {
        let started = Instant::now();
        let result = check_dir(temp.path())?;
        full.push(started.elapsed());
        findings = result.findings.len();

        let started = Instant::now();
        let modules = loader::load(temp.path())?;
        parse_only.push(started.elapsed());

        let started = Instant::now();
        let analysed = report::analyze(&modules);
        analyze_only.push(started.elapsed());
        assert_eq!(analysed.findings.len(), findings);
    }
    let full = median(full);
    let parse = median(parse_only);
    let analyze = median(analyze_only);
    println!(
        "check_bench: {files} .tf files, {} KiB, {findings} findings, median of {RUNS} runs",
        bytes / 1024
    );
    println!(
        "  check (read + parse + rules + suppression): {:>8.1} ms   (goal < 1000 ms)",
        ms(full)
    );
    println!(
        "  read + parse only:                          {:>8.1} ms   ({:.0} % of check)",
        ms(parse),
        100.0 * ms(parse) / ms(full)
    );
    println!(
        "  rules + suppression only:                   {:>8.1} ms   ({:.0} % of check)",
        ms(analyze),
        100.0 * ms(analyze) / ms(full)
    );
    println!(
        "  throughput: {:.0} files/s, {:.1} MiB/s",
        files as f64 / full.as_secs_f64(),
        bytes as f64 / 1048576.0 / full.as_secs_f64()
    );
    Ok(())
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn walk_bytes(dir: &Path) -> std::io::Result<u64> {
    let mut total = 0;
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        total += if path.is_dir() {
            walk_bytes(&path)?
        } else {
            fs::metadata(&path)?.len()
        };
    }
    Ok(total)
}
