//! Killing terraform with `-9` the moment a rollout enters a phase (issue 15, suite 2).
//!
//! With `TF_LOG_PROVIDER=INFO` the provider logs each timeline event as the engine decides it
//! (`phase: detaching_old: …`), before it sends the phase's first command, and terraform
//! relays the line on its stderr. [`Bed::apply_killed_in`] reads that stderr line by line and
//! SIGKILLs terraform's whole process group on the first line of the phase, so even a phase
//! that is one call long (`detaching_old`) is killed inside it.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use zdd_test_support::{Signal, TfOutput, group_alive, local_aws, signal_group};

use super::{Bed, MAX_POLL};

/// The provider's log level that shows the timeline on terraform's stderr.
pub const TIMELINE_LOG: (&str, &str) = ("TF_LOG_PROVIDER", "INFO");

/// What a killed apply left behind.
#[derive(Debug)]
pub struct Killed {
    /// The line the kill answered.
    pub trigger: String,
    /// Every phase the killed apply's timeline announced, in order, as far as terraform relayed
    /// it before it died (the kill's line included).
    pub phases: Vec<String>,
    /// When the apply started.
    pub started: Instant,
    pub stderr: String,
}

/// The phase a timeline line announces, with its detail: `… provider…: phase: rolling batch 2:
/// 2 of 2 new instances: @module=…` → `rolling batch 2: 2 of 2 new instances: @module=…`.
pub fn announced_phase(line: &str) -> Option<&str> {
    line.split_once(": phase: ").map(|(_, rest)| rest)
}

/// Whether `announced` (see [`announced_phase`]) is `phase` (`detaching_old`, `canary_step 1`,
/// `rolling batch 2`) and not merely a phase whose name starts alike (`rolling batch 20`).
pub fn is_phase(announced: &str, phase: &str) -> bool {
    announced
        .strip_prefix(phase)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([':', ' ']))
}

/// The phase's name alone, for reporting: `canary_step 1 (20 %): …` → `canary_step 1`.
fn phase_name(announced: &str) -> String {
    let end = announced.find([':', '(']).unwrap_or(announced.len());
    announced[..end].trim().to_string()
}

impl Bed {
    /// Runs `terraform apply` (with `env`) in a process group of its own and SIGKILLs the
    /// group on the first timeline line of `phase`. Panics if the apply ends, or `limit`
    /// passes, before the phase starts.
    pub fn apply_killed_in(&self, phase: &str, limit: Duration, env: &[(&str, &str)]) -> Killed {
        self.apply_killed_on(phase, limit, env, |_| {})
    }

    /// [`Bed::apply_killed_in`], showing `on_line` every line terraform writes to stderr
    /// before the kill (to act on an earlier phase, e.g. to make it fail).
    pub fn apply_killed_on(
        &self,
        phase: &str,
        limit: Duration,
        env: &[(&str, &str)],
        mut on_line: impl FnMut(&str),
    ) -> Killed {
        let started = Instant::now();
        let mut child = self
            .tf
            .command(&["apply", "-auto-approve", "-no-color", "-input=false"])
            .unwrap()
            .env("ZDD_MAX_POLL_INTERVAL", MAX_POLL)
            .envs(env.iter().copied())
            .env(TIMELINE_LOG.0, TIMELINE_LOG.1)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap();
        let leader = child.id();
        let mut stdout = child.stdout.take().unwrap();
        let stdout_reader = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stdout.read_to_string(&mut text);
            text
        });
        let (lines, received) = mpsc::channel::<String>();
        let stderr = BufReader::new(child.stderr.take().unwrap());
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                if lines.send(line).is_err() {
                    break;
                }
            }
        });

        let deadline = started + limit;
        let mut seen = Vec::new();
        let mut trigger = None;
        while trigger.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            match received.recv_timeout(left) {
                Ok(line) => {
                    on_line(&line);
                    if announced_phase(&line).is_some_and(|announced| is_phase(announced, phase)) {
                        signal_group(leader, Signal::KILL).unwrap();
                        trigger = Some(line.clone());
                    }
                    seen.push(line);
                }
                Err(_) => {
                    let _ = signal_group(leader, Signal::KILL);
                    let _ = child.wait();
                    panic!(
                        "the apply {} before the rollout entered {phase}\n{}\n{}",
                        if Instant::now() >= deadline {
                            format!("ran {limit:?}")
                        } else {
                            "ended".to_string()
                        },
                        stdout_reader.join().unwrap_or_default(),
                        seen.join("\n")
                    );
                }
            }
        }
        child.wait().unwrap();
        // Whatever terraform relayed before it died (the channel closes with its stderr).
        seen.extend(received.iter());
        let _ = stdout_reader.join();
        let gone_by = Instant::now() + Duration::from_secs(30);
        while group_alive(leader) {
            assert!(
                Instant::now() < gone_by,
                "process group {leader} outlived SIGKILL"
            );
            std::thread::sleep(Duration::from_millis(40));
        }
        Killed {
            trigger: trigger.unwrap_or_default(),
            phases: seen
                .iter()
                .filter_map(|line| announced_phase(line))
                .map(phase_name)
                .collect(),
            started,
            stderr: seen.join("\n"),
        }
    }

    /// `terraform apply` with the timeline on stderr, and `env`.
    pub fn apply_logged(&self, env: &[(&str, &str)]) -> TfOutput {
        let mut env = env.to_vec();
        env.push(TIMELINE_LOG);
        self.terraform_with_env(
            &["apply", "-auto-approve", "-no-color", "-input=false"],
            &env,
        )
    }

    /// Marks every instance of `group` unhealthy in the load balancer, as a health check
    /// answering the wrong code would.
    pub fn mark_unhealthy(&self, group: &str) {
        for instance in self.instances_of(group) {
            fail_health_checks(&instance);
        }
    }

    /// Marks every instance `group` launches unhealthy in the load balancer, as soon as it
    /// exists, until `stop` is set: a new generation that never turns healthy, so the rollout
    /// rolls back. Instances launched after `stop` are left healthy.
    pub fn keep_unhealthy(&self, group: &str, stop: &AtomicBool) {
        let mut marked = BTreeSet::new();
        while !stop.load(Ordering::SeqCst) {
            for instance in self.instances_of(group) {
                if marked.insert(instance.clone()) {
                    fail_health_checks(&instance);
                }
            }
            std::thread::sleep(Duration::from_millis(40));
        }
    }
}

fn fail_health_checks(instance: &str) {
    local_aws()
        .set_instance_health(instance, "unhealthy", Some("Target.ResponseCodeMismatch"))
        .unwrap();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_phase_is_matched_by_its_whole_name() {
        let line = "2026-12-02T08:30:00.000Z [INFO]  provider.terraform-provider-zdd: phase: rolling batch 2: 2 of 2 new instances: action=phase";
        let announced = announced_phase(line).unwrap();
        assert!(is_phase(announced, "rolling batch 2"));
        assert!(!is_phase(announced, "rolling batch 20"));
        assert!(!is_phase("rolling batch 20: x", "rolling batch 2"));
        assert!(is_phase(
            "canary_step 1 (20 %): all 2 new targets healthy",
            "canary_step 1"
        ));
        assert!(is_phase("detaching_old", "detaching_old"));
        assert_eq!(phase_name(announced), "rolling batch 2");
        assert_eq!(phase_name("canary_step 1 (20 %): x"), "canary_step 1");
        assert_eq!(announced_phase("create_asg: web-g2"), None);
    }
}
