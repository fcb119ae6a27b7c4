//! Child processes in tests (terraform, or a program that runs it): wait for a file it
//! writes, wait for its end with a limit, quote its output, signal it.
//!
//! A process that hangs is killed and reported, never waited for forever; a process that
//! exits before doing what a test waits for is reported with its output at once.

use std::io::Read;
use std::path::Path;
use std::process::{Child, Output};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
pub use rustix::process::Signal;
use rustix::process::{Pid, kill_process, kill_process_group, test_kill_process_group};

/// How often [`wait_for_path`] looks.
const POLL: Duration = Duration::from_millis(20);

/// Waits until `path` exists. Fails early, quoting the child's output, when `child` exits
/// first, and after `limit` otherwise (the child is left running: the caller decides).
pub fn wait_for_path(path: &Path, child: &mut Child, limit: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + limit;
    while !path.exists() {
        if let Some(status) = child.try_wait()? {
            bail!(
                "the process exited ({status}) before {} appeared:\n{}",
                path.display(),
                read_rest(child)
            );
        }
        if Instant::now() >= deadline {
            bail!("{} did not appear within {limit:?}", path.display());
        }
        std::thread::sleep(POLL);
    }
    Ok(())
}

/// Waits for `child` to end and collects its output; kills it (SIGKILL) after `limit`.
pub fn wait_with_timeout(child: Child, limit: Duration) -> anyhow::Result<Output> {
    let pid = child.id();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name(format!("wait-{pid}"))
        .spawn(move || {
            let _ = sender.send(child.wait_with_output());
        })?;
    match receiver.recv_timeout(limit) {
        Ok(output) => Ok(output?),
        Err(_) => {
            let killed = signal(pid, Signal::KILL);
            Err(anyhow!(
                "process {pid} did not finish within {limit:?} (SIGKILL sent: {killed:?})"
            ))
        }
    }
}

/// Both streams of a finished process, labelled, for assertion messages.
pub fn output_text(output: &Output) -> String {
    format!(
        "--- stdout ---\n{}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn pid_of(pid: u32) -> anyhow::Result<Pid> {
    i32::try_from(pid)
        .ok()
        .and_then(Pid::from_raw)
        .with_context(|| format!("{pid} is not a process id"))
}

/// Sends `signal` to `pid` (the kill(2) call, through rustix: no fork, no `unsafe`).
pub fn signal(pid: u32, signal: Signal) -> anyhow::Result<()> {
    kill_process(pid_of(pid)?, signal).with_context(|| format!("sending {signal:?} to {pid}"))
}

/// Sends `signal` to every process of the group `leader` leads (spawned with
/// `process_group(0)`).
pub fn signal_group(leader: u32, signal: Signal) -> anyhow::Result<()> {
    kill_process_group(pid_of(leader)?, signal)
        .with_context(|| format!("sending {signal:?} to process group {leader}"))
}

/// Whether any process of the group `leader` led is still alive (zombies count until reaped).
pub fn group_alive(leader: u32) -> bool {
    pid_of(leader).is_ok_and(|pid| test_kill_process_group(pid).is_ok())
}

/// [`signal`] by name (`TERM`, `INT`, `KILL`, with or without `SIG`), for tests that take the
/// signal as a parameter.
pub fn send_signal(pid: u32, name: &str) -> anyhow::Result<()> {
    let by_name = match name.strip_prefix("SIG").unwrap_or(name) {
        "INT" => Signal::INT,
        "TERM" => Signal::TERM,
        "KILL" => Signal::KILL,
        "HUP" => Signal::HUP,
        "QUIT" => Signal::QUIT,
        "USR1" => Signal::USR1,
        "USR2" => Signal::USR2,
        "STOP" => Signal::STOP,
        "CONT" => Signal::CONT,
        other => bail!("unknown signal name {other:?}"),
    };
    signal(pid, by_name)
}

/// Whatever the (exited) child wrote to its piped stdout and stderr.
fn read_rest(child: &mut Child) -> String {
    let mut text = String::new();
    if let Some(mut out) = child.stdout.take() {
        let _ = out.read_to_string(&mut text);
    }
    if let Some(mut err) = child.stderr.take() {
        let _ = err.read_to_string(&mut text);
    }
    text
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::{CommandExt, ExitStatusExt};
    use std::process::{Command, Stdio};

    use super::*;

    fn shell(script: &str) -> Child {
        Command::new("sh")
            .args(["-c", script])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    #[test]
    fn waits_for_a_file_the_child_writes() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("started");
        let mut child = shell(&format!("sleep 0.1; touch {}; sleep 5", file.display()));
        wait_for_path(&file, &mut child, Duration::from_secs(30)).unwrap();
        signal(child.id(), Signal::KILL).unwrap();
        let output = wait_with_timeout(child, Duration::from_secs(30)).unwrap();
        assert!(!output.status.success());
    }

    #[test]
    fn signals_by_name_reach_the_process() {
        for (name, number) in [("TERM", 15), ("SIGINT", 2), ("KILL", 9)] {
            // Not through `sh -c`: the signal must reach the process that holds the pipes. Not
            // `sleep`: a job a non-interactive shell starts in the background (a CI runner,
            // `nohup make test &`) inherits SIGINT ignored, and `sleep` keeps it so; the child
            // resets it, as terraform does (Go's signal.Notify), and says when it has.
            let mut child = Command::new("python3")
                .args([
                    "-c",
                    "import signal, time; signal.signal(signal.SIGINT, signal.SIG_DFL); print('ready', flush=True); time.sleep(30)",
                ])
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            // Signalled only once the reset is done: a SIGINT before it would be ignored.
            let mut ready = String::new();
            std::io::BufRead::read_line(
                &mut std::io::BufReader::new(child.stdout.take().unwrap()),
                &mut ready,
            )
            .unwrap();
            assert_eq!(ready.trim(), "ready");
            let pid = child.id();
            send_signal(pid, name).unwrap();
            let output = wait_with_timeout(child, Duration::from_secs(30)).unwrap();
            assert_eq!(output.status.signal(), Some(number), "{name}");
            assert!(
                signal(pid, Signal::TERM).is_err(),
                "{name}: the process is gone"
            );
        }
        assert!(send_signal(std::process::id(), "NOPE").is_err());
    }

    #[test]
    fn a_process_group_is_signalled_whole() {
        let child = Command::new("sh")
            .args(["-c", "sleep 30 & sleep 30"])
            .process_group(0)
            .spawn()
            .unwrap();
        let leader = child.id();
        assert!(group_alive(leader));
        signal_group(leader, Signal::KILL).unwrap();
        wait_with_timeout(child, Duration::from_secs(30)).unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while group_alive(leader) {
            assert!(Instant::now() < deadline, "the group outlived SIGKILL");
            std::thread::sleep(POLL);
        }
    }

    #[test]
    fn a_child_that_exits_first_is_reported_with_its_output() {
        let dir = tempfile::tempdir().unwrap();
        let mut child = shell("echo boom >&2; exit 3");
        let error = wait_for_path(
            &dir.path().join("never"),
            &mut child,
            Duration::from_secs(30),
        )
        .unwrap_err()
        .to_string();
        assert!(
            error.contains("exit status: 3") && error.contains("boom"),
            "{error}"
        );
    }

    #[test]
    fn a_hanging_child_is_killed_after_the_limit() {
        let child = shell("sleep 30");
        let error = wait_with_timeout(child, Duration::from_millis(200))
            .unwrap_err()
            .to_string();
        assert!(error.contains("did not finish"), "{error}");
    }

    #[test]
    fn output_text_labels_both_streams() {
        let output =
            wait_with_timeout(shell("echo out; echo err >&2"), Duration::from_secs(30)).unwrap();
        assert_eq!(
            output_text(&output),
            "--- stdout ---\nout\n\n--- stderr ---\nerr\n"
        );
    }
}
