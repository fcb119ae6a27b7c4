//! Terraform's output on its way through the guard: each of terraform's streams is a pipe that a
//! thread of its own reads, writing every chunk on at once (to the guard's stdout or stderr, as
//! inherited streams did) and scanning it for terraform's report that its release of the state
//! lock failed (`core::release_report`), the evidence the watch's verdict on a missing lock needs.
//!
//! Threads, not runtime tasks: a blocking write to a slow stderr must not hold a runtime worker,
//! and the reading never stops (a closed guard stdout or stderr only ends the passing on), so
//! terraform blocks only where writing to the guard's own stream would have blocked it anyway. The threads start no process, so the parent-death
//! signal set-up (it belongs to the thread that forks terraform) is untouched.

use std::io::{PipeReader, Read, Write};
use std::process::Stdio;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context;
use tokio::sync::oneshot;

use crate::core::release_report::ReleaseReportScan;

/// How long the guard waits, once terraform exited, for its streams to end. Everything terraform
/// wrote is in the pipes by its exit and read at once; only a process it started that still
/// runs (a provisioner's background job) keeps a stream open past it.
pub const OUTPUT_END_LIMIT: Duration = Duration::from_secs(10);

/// Where one of terraform's streams goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sink {
    Stdout,
    Stderr,
}

/// One of terraform's streams, passing through the guard.
#[derive(Debug)]
pub struct Tap {
    scan: Arc<Mutex<ReleaseReportScan>>,
    ended: oneshot::Receiver<()>,
}

/// A pipe for one of terraform's streams (its write end, for the process) and the thread
/// passing it on to `sink`. The guard's copy of the write end must be dropped once terraform is
/// started (or failed to start), or the stream never ends.
pub fn tap(sink: Sink) -> anyhow::Result<(Stdio, Tap)> {
    let (reader, writer) = std::io::pipe().context("creating a pipe for terraform's output")?;
    let scan = Arc::new(Mutex::new(ReleaseReportScan::new()));
    let (ended_tx, ended) = oneshot::channel();
    let scanned = Arc::clone(&scan);
    std::thread::Builder::new()
        .name("terraform-output".into())
        .spawn(move || {
            pass_through(reader, sink, &scanned);
            // The receiver is gone only if the guard stopped waiting: nothing to tell.
            let _ = ended_tx.send(());
        })
        .context("starting the thread passing terraform's output on")?;
    Ok((Stdio::from(writer), Tap { scan, ended }))
}

/// Reads `reader` to its end, writing every chunk to `sink` at once and scanning it.
fn pass_through(mut reader: PipeReader, sink: Sink, scan: &Mutex<ReleaseReportScan>) {
    let mut buffer = [0u8; 8192];
    let mut passing = true;
    loop {
        let read = match reader.read(&mut buffer) {
            Ok(0) => return,
            Ok(read) => read,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            // A pipe's read end fails only if the pipe is broken: nothing more to read.
            Err(_) => return,
        };
        let chunk = &buffer[..read];
        scan.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .feed(chunk);
        // A closed stdout or stderr (the guard's output piped to `head`, say) ends the passing
        // on, not the reading.
        if passing {
            passing = write_through(sink, chunk).is_ok();
        }
    }
}

fn write_through(sink: Sink, chunk: &[u8]) -> std::io::Result<()> {
    match sink {
        // Rust's stdout is line-buffered: flushed, so a partial line shows at once, too.
        Sink::Stdout => {
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(chunk)?;
            stdout.flush()
        }
        Sink::Stderr => std::io::stderr().lock().write_all(chunk),
    }
}

/// What terraform's output said, read once terraform exited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OutputEnd {
    /// Terraform reported that its release of the state lock failed.
    pub release_failed: bool,
    /// A stream was still open [`OUTPUT_END_LIMIT`] after terraform exited (held by a process
    /// it started): judged by what it carried until then.
    pub still_open: bool,
}

/// All of one terraform process's streams that pass through the guard.
#[derive(Debug, Default)]
pub struct TerraformOutput {
    taps: Vec<Tap>,
}

impl TerraformOutput {
    pub fn new(taps: Vec<Tap>) -> TerraformOutput {
        TerraformOutput { taps }
    }

    /// Waits, once terraform exited, for its streams to end (up to `limit` in all), and says
    /// what they carried.
    pub async fn finish(self, limit: Duration) -> OutputEnd {
        let deadline = tokio::time::Instant::now() + limit;
        let mut end = OutputEnd::default();
        for tap in self.taps {
            // An `Err` inside: the thread ended without a word (it panicked): ended all the same.
            let ended = tokio::time::timeout_at(deadline, tap.ended).await.is_ok();
            end.still_open |= !ended;
            let scan = tap.scan.lock().unwrap_or_else(PoisonError::into_inner);
            end.release_failed |= scan.release_failed();
        }
        end
    }
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use super::*;

    /// Runs `script` with its stdout and stderr passing through taps (both to stderr: a test's
    /// stdout is the harness's), and returns what they carried.
    async fn through_taps(script: &str, limit: Duration) -> OutputEnd {
        let (stdout, stdout_tap) = tap(Sink::Stderr).unwrap();
        let (stderr, stderr_tap) = tap(Sink::Stderr).unwrap();
        let mut command = Command::new("sh");
        command.args(["-c", script]).stdout(stdout).stderr(stderr);
        let mut child = command.spawn().unwrap();
        drop(command);
        let status = tokio::task::spawn_blocking(move || child.wait())
            .await
            .unwrap()
            .unwrap();
        assert!(status.code().is_some());
        TerraformOutput::new(vec![stdout_tap, stderr_tap])
            .finish(limit)
            .await
    }

    #[tokio::test]
    async fn a_failed_release_on_either_stream_is_found() {
        for script in [
            "echo 'Error: Error releasing the state lock' >&2; exit 1",
            // `-json`: terraform's diagnostics go to stdout.
            r#"echo '{"@message":"Error: Error releasing the state lock"}'; exit 1"#,
            // Split across writes.
            "printf 'Error releasing the st' >&2; sleep 0.1; printf 'ate lock\\n' >&2; exit 1",
        ] {
            let end = through_taps(script, Duration::from_secs(30)).await;
            assert_eq!(
                end,
                OutputEnd {
                    release_failed: true,
                    still_open: false
                },
                "{script}"
            );
        }
    }

    #[tokio::test]
    async fn other_output_is_no_failed_release() {
        let end = through_taps(
            "echo 'Error: local-exec provisioner error' >&2; echo done; exit 1",
            Duration::from_secs(30),
        )
        .await;
        assert_eq!(end, OutputEnd::default());
    }

    /// A background job that outlives the process keeps its streams open: the wait is bounded,
    /// and what the process wrote before it exited is judged all the same.
    #[tokio::test]
    async fn a_stream_held_open_past_the_exit_is_judged_by_what_came_before() {
        let end = through_taps(
            "echo 'Error: Error releasing the state lock' >&2; sleep 3 & exit 1",
            Duration::from_millis(500),
        )
        .await;
        assert_eq!(
            end,
            OutputEnd {
                release_failed: true,
                still_open: true
            }
        );
    }
}
