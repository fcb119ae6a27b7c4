//! The local AWS: `python -m zdd_localaws` (moto 5.2.1 + the load-balancer health model) as a
//! child process on a free loopback port.
//!
//! The server exits when its stdin reaches EOF. We hold the write end of that pipe, so the
//! server goes away with us however we end: `Drop`, a panic, or the test binary exiting
//! (statics are never dropped, but the OS closes the pipe).

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock, mpsc};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};

use crate::control::request_json;
use crate::paths::{INSTALL_HINT, venv_dir, workspace_root};

const READY_PREFIX: &str = "ZDD_LOCALAWS_READY ";
const START_TIMEOUT: Duration = Duration::from_secs(60);
const STOP_GRACE: Duration = Duration::from_secs(5);
const REGION: &str = "us-east-1";
const ACCESS_KEY_ID: &str = "test";
const SECRET_ACCESS_KEY: &str = "test";

/// Time scale of the shared [`local_aws`] unless `ZDD_LOCALAWS_TIME_SCALE` says otherwise:
/// the fixture's 10 s initial period lasts 0.5 s, its 5 s drain 0.25 s.
pub const DEFAULT_TEST_TIME_SCALE: f64 = 0.05;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LocalAwsOptions {
    /// Multiplies every health-model duration; 1.0 = real AWS timings.
    pub time_scale: f64,
}

impl Default for LocalAwsOptions {
    fn default() -> Self {
        LocalAwsOptions {
            time_scale: DEFAULT_TEST_TIME_SCALE,
        }
    }
}

#[derive(Debug)]
pub struct LocalAws {
    endpoint: String,
    time_scale: f64,
    child: Mutex<Option<Child>>,
}

/// The local AWS shared by every test in this test binary, started on first use.
///
/// # Panics
/// When the test bed is missing (with the hint "run `make setup`") or the server does not start.
pub fn local_aws() -> &'static LocalAws {
    static SHARED: OnceLock<LocalAws> = OnceLock::new();
    SHARED.get_or_init(|| {
        let options = match shared_time_scale() {
            Ok(time_scale) => LocalAwsOptions { time_scale },
            Err(error) => panic!("{error:#}"),
        };
        match LocalAws::start(options) {
            Ok(aws) => aws,
            Err(error) => panic!("cannot start the local AWS: {error:#}"),
        }
    })
}

fn shared_time_scale() -> anyhow::Result<f64> {
    match std::env::var("ZDD_LOCALAWS_TIME_SCALE") {
        Ok(text) if !text.is_empty() => text
            .parse()
            .with_context(|| format!("ZDD_LOCALAWS_TIME_SCALE={text:?} is not a number")),
        _ => Ok(DEFAULT_TEST_TIME_SCALE),
    }
}

impl LocalAws {
    /// Starts an own server (for the demo and tests that need their own time scale or state).
    /// Blocks until it prints its ready line. `Drop` stops it.
    pub fn start(options: LocalAwsOptions) -> anyhow::Result<LocalAws> {
        if !(options.time_scale > 0.0 && options.time_scale.is_finite()) {
            bail!(
                "time_scale must be a positive number, got {}",
                options.time_scale
            );
        }
        let python = venv_dir()?.join("bin").join("python");
        let mut child = Command::new(&python)
            .args(["-m", "zdd_localaws", "--host", "127.0.0.1", "--port", "0"])
            .arg("--time-scale")
            .arg(options.time_scale.to_string())
            .env(
                "PYTHONPATH",
                workspace_root().join("test-fixtures/localaws"),
            )
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("spawning {} -m zdd_localaws", python.display()))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| anyhow!("no stdout pipe to the local AWS"))?;
        let endpoint = match wait_for_ready_line(stdout) {
            Ok(endpoint) => endpoint,
            Err(error) => {
                let status = stop_child(&mut child);
                return Err(error.context(format!(
                    "the local AWS did not start (exit: {status}); if the test bed is stale, {INSTALL_HINT}"
                )));
            }
        };
        Ok(LocalAws {
            endpoint,
            time_scale: options.time_scale,
            child: Mutex::new(Some(child)),
        })
    }

    /// "http://127.0.0.1:PORT": one endpoint for every service (moto routes by the request).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub fn time_scale(&self) -> f64 {
        self.time_scale
    }

    /// us-east-1, static test credentials, `endpoint_url` set. For S3 use [`crate::s3_client`]
    /// (path-style addressing, as the S3 backend's `use_path_style`).
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        self.sdk_config_as(ACCESS_KEY_ID).await
    }

    /// [`LocalAws::sdk_config`] signing with another access key (moto takes any): fault rules
    /// and statistics scoped to that key see only these clients' calls.
    pub async fn sdk_config_as(&self, access_key_id: &str) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(REGION))
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                access_key_id,
                SECRET_ACCESS_KEY,
                None,
                None,
                "zdd-localaws",
            ))
            .endpoint_url(&self.endpoint)
            .load()
            .await
    }

    /// Environment for child processes (terraform, the provider, zdd-guard) to reach this AWS.
    /// `ZDD_METRICS_TIME_SCALE` gives the provider this server's time scale, so its metric
    /// periods and publishing delay are the server's.
    pub fn env(&self) -> Vec<(String, String)> {
        let time_scale = self.time_scale.to_string();
        [
            ("ZDD_METRICS_TIME_SCALE", time_scale.as_str()),
            ("AWS_ENDPOINT_URL", self.endpoint.as_str()),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID),
            ("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY),
            ("AWS_REGION", REGION),
            ("AWS_DEFAULT_REGION", REGION),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("ZDD_LOCALAWS_ENDPOINT", self.endpoint.as_str()),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect()
    }

    /// Makes an instance fail (`"unhealthy"`, with an ELB reason code such as
    /// `Target.ResponseCodeMismatch`, the default) or pass (`"healthy"`) its health checks in
    /// every target group. Recovery takes healthy_threshold × interval, as on AWS.
    pub fn set_instance_health(
        &self,
        instance_id: &str,
        state: &str,
        reason: Option<&str>,
    ) -> anyhow::Result<()> {
        let mut body = serde_json::json!({ "state": state });
        if let Some(reason) = reason {
            body["reason"] = serde_json::Value::from(reason);
        }
        request_json(
            &self.endpoint,
            "POST",
            &format!("/zdd/instances/{instance_id}/health"),
            Some(&body),
        )?;
        Ok(())
    }

    /// The health model's event log, oldest first: a JSON array of objects
    /// `{seq, t, aws_t, kind, target_group_arn, instance_id, from, to, reason, cause, ...}`.
    /// Kinds: `registered`, `state_changed`, `deregistered`, `removed`, `health_marked`,
    /// `termination_scheduled`, `instance_terminated`, `violation` (with `rule` and `detail`).
    /// `t` is seconds since the server started (or was reset), `aws_t` the same in AWS seconds.
    pub fn events(&self) -> anyhow::Result<serde_json::Value> {
        self.events_since(0)
    }

    /// Events with `seq` greater than `seq`.
    pub fn events_since(&self, seq: u64) -> anyhow::Result<serde_json::Value> {
        let mut answer = request_json(
            &self.endpoint,
            "GET",
            &format!("/zdd/events?since={seq}"),
            None,
        )?;
        Ok(answer["events"].take())
    }

    /// The `violation` events (an instance terminated while its target was registered or
    /// draining): what every rollout test should assert is empty.
    pub fn violations(&self) -> anyhow::Result<Vec<serde_json::Value>> {
        let events = self.events()?;
        let events = events
            .as_array()
            .ok_or_else(|| anyhow!("/zdd/events did not answer a list: {events}"))?;
        Ok(events
            .iter()
            .filter(|event| event["kind"] == "violation")
            .cloned()
            .collect())
    }

    /// The server's settings: `{"time_scale": .., "strict_asg_delete": ..}`.
    pub fn status(&self) -> anyhow::Result<serde_json::Value> {
        request_json(&self.endpoint, "GET", "/zdd/status", None)
    }

    /// Clears all AWS state and the health model. Only for an own instance ([`LocalAws::start`]):
    /// the shared one serves tests running in parallel.
    pub fn reset(&self) -> anyhow::Result<()> {
        request_json(&self.endpoint, "POST", "/zdd/reset", None)?;
        Ok(())
    }

    /// Stops the server (closes its stdin, then kills it after a grace period). Idempotent.
    pub fn stop(&self) {
        let mut guard = match self.child.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(mut child) = guard.take() {
            stop_child(&mut child);
        }
    }
}

impl Drop for LocalAws {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Reads the first stdout line (with a timeout), then keeps draining stdout in the background.
fn wait_for_ready_line(stdout: impl Read + Send + 'static) -> anyhow::Result<String> {
    let (sender, receiver) = mpsc::channel();
    std::thread::Builder::new()
        .name("zdd-localaws-stdout".into())
        .spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let first = reader.read_line(&mut line).map(|_| line);
            let _ = sender.send(first);
            let _ = std::io::copy(&mut reader, &mut std::io::sink());
        })?;
    let line = receiver
        .recv_timeout(START_TIMEOUT)
        .map_err(|_| anyhow!("no ready line within {START_TIMEOUT:?}"))?
        .context("reading the ready line")?;
    parse_ready_line(&line)
}

fn parse_ready_line(line: &str) -> anyhow::Result<String> {
    let endpoint = line
        .trim()
        .strip_prefix(READY_PREFIX)
        .ok_or_else(|| anyhow!("expected `{READY_PREFIX}http://127.0.0.1:PORT`, got {line:?}"))?;
    if !endpoint.starts_with("http://127.0.0.1:") {
        bail!("the local AWS must listen on loopback, got {endpoint}");
    }
    Ok(endpoint.to_string())
}

fn stop_child(child: &mut Child) -> String {
    drop(child.stdin.take()); // EOF: the server's signal to exit
    let deadline = Instant::now() + STOP_GRACE;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return status.to_string(),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                return match child.wait() {
                    Ok(status) => format!("{status} (killed after {STOP_GRACE:?})"),
                    Err(error) => format!("unknown ({error})"),
                };
            }
        }
    }
}

/// Injected AWS faults (`/zdd/faults`, see `test-fixtures/localaws/README.md`).
impl LocalAws {
    /// Adds a fault rule, e.g. `{"service": "autoscaling", "action": "SetDesiredCapacity",
    /// "match": "web-g1", "error_code": "AccessDenied", "http_status": 403}`; answers the rule
    /// with its `id`. Scope a rule with `match` on the shared server: tests run in parallel.
    pub fn add_fault(&self, rule: &serde_json::Value) -> anyhow::Result<serde_json::Value> {
        request_json(&self.endpoint, "POST", "/zdd/faults", Some(rule))
    }

    /// The active rules with their `hits` and `remaining` counts.
    pub fn faults(&self) -> anyhow::Result<serde_json::Value> {
        let mut answer = request_json(&self.endpoint, "GET", "/zdd/faults", None)?;
        Ok(answer["faults"].take())
    }

    /// Clears one rule (`Some(id)`) or every rule; answers how many were cleared.
    pub fn clear_faults(&self, id: Option<&str>) -> anyhow::Result<u64> {
        let path = id.map_or_else(
            || "/zdd/faults".to_string(),
            |id| format!("/zdd/faults/{id}"),
        );
        let answer = request_json(&self.endpoint, "DELETE", &path, None)?;
        answer["cleared"]
            .as_u64()
            .ok_or_else(|| anyhow!("DELETE {path} answered {answer}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_ready_line() {
        assert_eq!(
            parse_ready_line("ZDD_LOCALAWS_READY http://127.0.0.1:4321\n").unwrap(),
            "http://127.0.0.1:4321"
        );
        assert!(parse_ready_line("Traceback (most recent call last):").is_err());
        assert!(parse_ready_line("ZDD_LOCALAWS_READY http://0.0.0.0:1").is_err());
    }

    #[test]
    fn refuses_a_non_positive_time_scale() {
        let error = LocalAws::start(LocalAwsOptions { time_scale: 0.0 }).unwrap_err();
        assert!(error.to_string().contains("time_scale"), "{error}");
    }
}
