//! Benchmark (prints figures, asserts nothing about time): the real provider's start-up and
//! memory (#18 item 3), on the release build.
//!
//! `cargo build --release -p terraform-provider-zdd && cargo test --workspace --test provider
//! -- bench_startup:: --ignored --nocapture`
//!
//! - cold start: `target/release/terraform-provider-zdd` started as go-plugin starts it (magic
//!   cookie, protocol versions, a P-521 client certificate), time from exec to the handshake
//!   line on stdout, median and p95 of [`STARTS`] starts; and the idle process's peak RSS.
//! - the SDK configuration: what ConfigureProvider used to load before answering (now the
//!   first AWS call does): `load_sdk_config` for the local AWS's settings in this process,
//!   the first load and the median of later ones, beside the lazy `from_settings_with`.
//! - peak RSS (`VmHWM`, sampled every 5 ms in `/proc` for the provider processes of one
//!   terraform command, found by a marker in their environment) and wall time of `terraform
//!   plan` over [`FLEETS`] `zdd_rollout` creates, their `apply`, `plan` refreshing them, and
//!   `plan -refresh=false` (no AWS call at all), at Terraform's default parallelism (10),
//!   against the local AWS; and the SDK load's time inside the provider process (its debug
//!   line).
//!
//! Measured 2026-12-03 (release, 2 cores shared with four helpers building and testing, load
//! 4-8, a release build of the whole tree at nice 19 beside it): three runs A-B-A, where B is
//! a copy of the build from before the lazy SDK configuration (`ZDD_BENCH_PROVIDER_DIR`).
//! - exec to handshake line: median 9.4 / 17.5 / 5.8 ms (p95 31 / 28 / 25 ms); 3.5 ms median
//!   in a quieter moment. The load moves it more than any build does; idle peak RSS 10-11 MiB.
//! - SDK configuration load (what ConfigureProvider did before it answered): 6.8 and 14.1 ms in
//!   the release provider process (its first call's debug line); in this debug test process
//!   28-71 ms the first time, 1.3-1.8 ms after. The lazy clients take 0.04-0.12 ms.
//! - 50 resources, provider peak RSS, lazy / eager / lazy: plan of the creates 19.9 / 19.0 /
//!   19.0 MiB (wall 1.1 / 0.8 / 1.3 s: noise), apply 21.3 / 20.5 / 20.6 MiB (47 s, the
//!   health model's pace), plan refreshing them 19.9 / 19.4 / 19.5 MiB (23.4-23.9 s, paced by
//!   DescribeLifecycleHooks' budget, #16), `plan -refresh=false` (no AWS call) 14.2 / 18.4 /
//!   13.7 MiB: a process that calls no AWS API no longer pays 4.2-4.7 MiB and 7-14 ms for the
//!   SDK's configuration (its wall time, 1.2-1.4 s, is Terraform's three plugin starts).
//!   After a02e285/59e8dd0 (a refresh wave's reads answered together, DescribeLifecycleHooks
//!   5/s burst 10), 08:00 UTC, a debug build of the provider (`ZDD_BENCH_PROVIDER_DIR`, so RSS
//!   is not comparable: 32.6-36.2 MiB): plan refreshing the 50 in 8.8 s (was 23.4-23.9 s).
//!   A fourth run (main's tree at 07:29: the load boxed by fec1296, a no-jitter aws-lc):
//!   creates 19.3, apply 20.8 (81 s), refresh 19.7, `-refresh=false` 14.1 MiB; its load 7.5 ms.
//! - size: the lazy load costs 25,744 bytes (release, stripped, both at a226c67 built with
//!   `AWS_LC_SYS_NO_JITTER_ENTROPY=1` in a private target dir: 20,091,032 lazy, 20,065,288 with
//!   d2f134d's three source files reverted).
//!
//! The local AWS speaks plain HTTP, so nothing above pays for the first TLS connection to AWS,
//! where aws-lc seeds its random generator from CPU jitter (as the plugin's own TLS did before
//! tfplugin drew from the OS). Measured apart, 2026-12-03 (script, not kept): `plan` of one
//! create whose taken-name read goes to a loopback `openssl s_server` (a certificate the SDK
//! refuses, `ZDD_AWS_OPERATION_TIMEOUT=1s`), CPU of the busiest provider process (its threads'
//! `/proc/<pid>/task/*/schedstat`), medians of 7 interleaved runs: the release build 59.7 ms
//! (51-68), the same with aws-lc-sys built with `AWS_LC_SYS_NO_JITTER_ENTROPY=1` 17.8 ms
//! (14-21); against a closed plain-HTTP port both 16.3 ms. So 42 ms of CPU per provider
//! process that calls AWS over TLS, every apply and refreshing plan (the plan walk's process;
//! zdd-guard links the same aws-lc, not measured). Not set in the workspace: a build-wide
//! choice (it rebuilds aws-lc, and the generator then seeds from the OS alone).

// Benchmark set-up helpers: a failed step must fail loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use terraform_provider_zdd::aws::{AwsClients, AwsSettings, CallOptions, load_sdk_config};
use zdd_test_support::{local_aws, provider_dir};

/// Cold starts measured.
const STARTS: usize = 21;
/// Resources in the plan, apply and refresh.
const FLEETS: usize = 50;

/// A client certificate shaped like go-plugin's (ECDSA P-521, self-signed): the plugin only
/// needs the certificate to set up its TLS, not the key.
const CLIENT_CERT: &str = include_str!("../../../tfplugin/tests/fixtures/client_p521_cert.pem");

/// The directory of the provider measured: `ZDD_BENCH_PROVIDER_DIR` (to compare a copy of
/// another build side by side), else `$CARGO_TARGET_DIR/release` (or `<root>/target/release`).
fn release_dir() -> PathBuf {
    match std::env::var_os("ZDD_BENCH_PROVIDER_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => provider_dir()
            .parent()
            .expect("the target directory")
            .join("release"),
    }
}

fn release_binary() -> PathBuf {
    let binary = release_dir().join("terraform-provider-zdd");
    assert!(
        binary.exists(),
        "{} is missing: run `cargo build --release -p terraform-provider-zdd` first",
        binary.display()
    );
    binary
}

fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
}

fn median_and_p95(mut samples: Vec<f64>) -> (f64, f64) {
    samples.sort_by(f64::total_cmp);
    let p95 = (samples.len() * 95 / 100).min(samples.len() - 1);
    (samples[samples.len() / 2], samples[p95])
}

/// Exec to handshake line (ms) of each start, and the largest idle peak RSS (KiB) seen.
fn cold_starts(binary: &PathBuf) -> (Vec<f64>, u64) {
    let mut idle_kib = 0;
    let times = (0..STARTS)
        .map(|_| {
            let started = Instant::now();
            let mut child = Command::new(binary)
                .env(
                    zdd_tfplugin::MAGIC_COOKIE_KEY,
                    zdd_tfplugin::MAGIC_COOKIE_VALUE,
                )
                .env("PLUGIN_PROTOCOL_VERSIONS", "6")
                .env("PLUGIN_CLIENT_CERT", CLIENT_CERT)
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let mut line = String::new();
            BufReader::new(child.stdout.take().unwrap())
                .read_line(&mut line)
                .unwrap();
            let elapsed = started.elapsed().as_secs_f64() * 1000.0;
            assert!(line.starts_with("1|6|tcp|127.0.0.1:"), "{line:?}");
            idle_kib = idle_kib.max(vm_hwm_kib(child.id()).unwrap_or(0));
            let _ = child.kill();
            let _ = child.wait();
            elapsed
        })
        .collect();
    (times, idle_kib)
}

/// Samples the peak RSS of every process whose environment carries `marker` until stopped:
/// the provider processes one terraform command starts (go-plugin passes the environment on).
struct RssWatch {
    stop: Arc<AtomicBool>,
    peak_kib: Arc<AtomicU64>,
    processes: Arc<AtomicU64>,
    thread: std::thread::JoinHandle<()>,
}

impl RssWatch {
    fn start(marker: &str) -> RssWatch {
        let stop = Arc::new(AtomicBool::new(false));
        let peak_kib = Arc::new(AtomicU64::new(0));
        let processes = Arc::new(AtomicU64::new(0));
        let needle = format!("ZDD_BENCH_STARTUP={marker}").into_bytes();
        let thread = {
            let (stop, peak_kib, processes) = (stop.clone(), peak_kib.clone(), processes.clone());
            std::thread::spawn(move || {
                let mut seen = std::collections::BTreeSet::new();
                while !stop.load(Ordering::Relaxed) {
                    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
                        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok())
                        else {
                            continue;
                        };
                        let is_provider =
                            std::fs::read(entry.path().join("cmdline")).is_ok_and(|cmd| {
                                String::from_utf8_lossy(&cmd).contains("terraform-provider-zdd")
                            });
                        if !is_provider {
                            continue;
                        }
                        let ours = std::fs::read(entry.path().join("environ"))
                            .is_ok_and(|env| env.split(|byte| *byte == 0).any(|var| var == needle));
                        if !ours {
                            continue;
                        }
                        seen.insert(pid);
                        if let Some(kib) = vm_hwm_kib(pid) {
                            peak_kib.fetch_max(kib, Ordering::Relaxed);
                        }
                    }
                    processes.store(seen.len() as u64, Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(5));
                }
            })
        };
        RssWatch {
            stop,
            peak_kib,
            processes,
            thread,
        }
    }

    /// (peak RSS in KiB, provider processes seen).
    fn finish(self) -> (u64, u64) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap();
        (
            self.peak_kib.load(Ordering::Relaxed),
            self.processes.load(Ordering::Relaxed),
        )
    }
}

struct Measured {
    wall: Duration,
    peak_kib: u64,
    processes: u64,
}

/// Runs `terraform <args>` with the release provider, watching its provider processes.
fn measured(bed: &crate::common::Bed, what: &str, args: &[&str], expect: &[i32]) -> Measured {
    let marker = format!("{what}-{}", std::process::id());
    let watch = RssWatch::start(&marker);
    let started = Instant::now();
    let output = bed.terraform_with_env(args, &[("ZDD_BENCH_STARTUP", marker.as_str())]);
    let wall = started.elapsed();
    let (peak_kib, processes) = watch.finish();
    assert!(
        expect.contains(&output.code),
        "{what}: terraform exited {}\n{}\n{}",
        output.code,
        output.stdout,
        output.stderr
    );
    Measured {
        wall,
        peak_kib,
        processes,
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

#[test]
#[ignore = "benchmark: prints figures; run with --ignored --nocapture"]
fn real_provider_start_up_and_peak_memory() {
    let binary = release_binary();
    let size = std::fs::metadata(&binary).unwrap().len();
    println!("release provider: {} ({size} bytes)", binary.display());

    let (times, idle_kib) = cold_starts(&binary);
    let (median, p95) = median_and_p95(times);
    println!(
        "cold start, exec to handshake line ({STARTS} starts): median {median:.1} ms, p95 {p95:.1} ms; idle peak RSS {:.1} MiB",
        mib(idle_kib)
    );

    // What ConfigureProvider loaded before this change, in this process (first, then warm).
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let aws = local_aws();
    let settings = AwsSettings {
        region: Some("us-east-1".to_string()),
        ..AwsSettings::default()
    };
    let loads: Vec<f64> = (0..11)
        .map(|_| {
            let started = Instant::now();
            let sdk = runtime.block_on(load_sdk_config(&settings));
            assert!(sdk.region().is_some());
            started.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    let (warm, _) = median_and_p95(loads[1..].to_vec());
    let started = Instant::now();
    let lazy = AwsClients::from_settings_with(&settings, CallOptions::from_env());
    let lazy_ms = started.elapsed().as_secs_f64() * 1000.0;
    assert!(!lazy.configuration_loaded());
    println!(
        "SDK configuration load (ConfigureProvider's work before it was lazy): first {:.2} ms, then median {warm:.2} ms; lazy clients {lazy_ms:.3} ms",
        loads[0]
    );
    drop(runtime);

    let bed = crate::common::bed("startup");
    // The release build serves every terraform command below.
    std::fs::write(
        bed.tf.cli_config_path(),
        format!(
            "provider_installation {{\n  dev_overrides {{\n    \"zdd/zdd\" = \"{}\"\n  }}\n  direct {{}}\n}}\n",
            release_dir().display()
        ),
    )
    .unwrap();
    bed.tf
        .write(
            "main.tf",
            &crate::common::counted_fleets_config(&bed, FLEETS),
        )
        .unwrap();
    let plan_args = ["plan", "-no-color", "-input=false", "-detailed-exitcode"];
    let quiet_args = [
        "plan",
        "-no-color",
        "-input=false",
        "-detailed-exitcode",
        "-refresh=false",
    ];
    // Exit 2: changes to make (the creates).
    let creates = repeated(&bed, "plan-create", &plan_args, 2);
    let first_load = provider_sdk_load_us(&bed, &plan_args);
    let apply = measured(
        &bed,
        "apply",
        &["apply", "-auto-approve", "-no-color", "-input=false"],
        &[0],
    );
    // Exit 0: every refreshed fleet matches its configuration.
    let refresh = measured(&bed, "plan-refresh", &plan_args, &[0]);
    // No refresh and nothing to create: no AWS call at all.
    let quiet = repeated(&bed, "plan-no-refresh", &quiet_args, 0);
    println!(
        "{FLEETS} zdd_rollout resources, local AWS at {}, Terraform's default parallelism:",
        aws.endpoint()
    );
    for (what, run) in [
        ("plan (creates)", &creates),
        ("apply", &apply),
        ("plan (refresh)", &refresh),
        ("plan -refresh=false", &quiet),
    ] {
        println!(
            "  {what:<20} wall {:>8.0} ms, provider peak RSS {:>5.1} MiB ({} provider processes)",
            run.wall.as_secs_f64() * 1000.0,
            mib(run.peak_kib),
            run.processes
        );
    }
    println!("  (plans: medians of {REPEATS} runs, RSS the largest; apply and refresh: one run)");
    match first_load {
        Some(us) => println!(
            "SDK configuration load in the provider process, at its first AWS call: {:.2} ms",
            us as f64 / 1000.0
        ),
        None => println!(
            "SDK configuration load in the provider process: not logged (a build that loads it in ConfigureProvider)"
        ),
    }
}

/// Plans repeated for the median wall time.
const REPEATS: usize = 3;

/// `REPEATS` runs: the median wall time, the largest peak RSS.
fn repeated(bed: &crate::common::Bed, what: &str, args: &[&str], expect: i32) -> Measured {
    let runs: Vec<Measured> = (0..REPEATS)
        .map(|run| measured(bed, &format!("{what}-{run}"), args, &[expect]))
        .collect();
    let mut walls: Vec<Duration> = runs.iter().map(|run| run.wall).collect();
    walls.sort();
    Measured {
        wall: walls[walls.len() / 2],
        peak_kib: runs.iter().map(|run| run.peak_kib).max().unwrap_or(0),
        processes: runs.iter().map(|run| run.processes).max().unwrap_or(0),
    }
}

/// The provider's own figure for loading the SDK configuration (its debug line at the first
/// AWS call, `elapsed_us=`), from one plan with `TF_LOG_PROVIDER=DEBUG`.
fn provider_sdk_load_us(bed: &crate::common::Bed, args: &[&str]) -> Option<u64> {
    let output = bed.terraform_with_env(args, &[("TF_LOG_PROVIDER", "DEBUG")]);
    output
        .stderr
        .lines()
        .filter(|line| line.contains("AWS configuration loaded for the first call"))
        .find_map(|line| {
            let (_, rest) = line.split_once("elapsed_us=")?;
            rest.split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()
        })
}
