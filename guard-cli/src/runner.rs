//! The terraform process runner: the only place in zdd-guard that builds a `Command` for
//! terraform. Terraform runs in its own process group so that a Ctrl-C sent to the CI job's group
//! reaches it once (forwarded by the guard), not twice (which Terraform treats as "exit now").
//!
//! On Linux terraform also dies with the guard (`PR_SET_PDEATHSIG`, SIGKILL), however the guard
//! dies: a `kill -9` of the guard or of its process group (terraform's is another) would
//! otherwise leave terraform running, holding Terraform's lock and writing the state, while the
//! guard's lease expires and another run takes it over. With it, "the lease expired" implies
//! "its terraform is gone" (see `core::lease` for the whole argument and its limits).
//!
//! Terraform's stdout and stderr pass through the guard (`tee`), which reads in them whether
//! terraform's release of its state lock failed.

mod tee;

pub use tee::{OUTPUT_END_LIMIT, OutputEnd, TerraformOutput};

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::Context;
use tokio::process::{Child, Command};

/// Where terraform's stdout goes: the guard's stdout, or stderr when stdout carries JSON lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StdoutTo {
    Stdout,
    Stderr,
}

#[derive(Debug, Clone)]
pub struct Terraform {
    bin: PathBuf,
    dir: PathBuf,
    /// Variables set for every terraform started (and so for its providers).
    env: Vec<(OsString, OsString)>,
}

/// A terraform process started by [`Terraform::spawn`], and its output on its way through.
#[derive(Debug)]
pub struct Running {
    pub child: Child,
    pub output: TerraformOutput,
}

/// A process whose output does not pass through the guard (nothing to read in it).
impl From<Child> for Running {
    fn from(child: Child) -> Running {
        Running {
            child,
            output: TerraformOutput::default(),
        }
    }
}

/// Captured output of a short terraform command.
#[derive(Debug)]
pub struct Captured {
    pub code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Terraform {
    /// `--terraform PATH`, else `$TERRAFORM` (both arrive through clap's `env`), else `terraform`.
    pub fn new(explicit: Option<&Path>, dir: &Path) -> Terraform {
        let bin = explicit.map_or_else(|| PathBuf::from("terraform"), Path::to_path_buf);
        Terraform {
            bin,
            dir: dir.to_path_buf(),
            env: Vec::new(),
        }
    }

    /// Sets `name` to `value` in the environment of every terraform started from here on,
    /// such as the provider's events file (`zdd_events::EVENTS_FILE_ENV`).
    pub fn with_env(mut self, name: impl Into<OsString>, value: impl Into<OsString>) -> Terraform {
        self.env.push((name.into(), value.into()));
        self
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn command<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        let mut command = Command::new(&self.bin);
        command
            .args(args.into_iter().map(Into::into))
            .current_dir(&self.dir)
            .process_group(0);
        // Stable, script-friendly output; the guard is by definition automation.
        command.env("TF_IN_AUTOMATION", "1");
        command.envs(self.env.iter().map(|(name, value)| (name, value)));
        #[cfg(target_os = "linux")]
        die_with_the_guard(&mut command);
        command
    }

    /// Starts terraform without stdin, its stderr passing through to the guard's stderr and its
    /// stdout to where `stdout` says.
    pub fn spawn(&self, args: &[String], stdout: StdoutTo) -> anyhow::Result<Running> {
        let stdout_sink = match stdout {
            StdoutTo::Stdout => tee::Sink::Stdout,
            StdoutTo::Stderr => tee::Sink::Stderr,
        };
        let (stdout_pipe, stdout_tap) = tee::tap(stdout_sink)?;
        let (stderr_pipe, stderr_tap) = tee::tap(tee::Sink::Stderr)?;
        let mut command = self.command(args);
        command
            .stdin(Stdio::null())
            .stdout(stdout_pipe)
            .stderr(stderr_pipe);
        let spawned = command.spawn();
        // Closes the guard's write ends: the streams end when terraform's (and its children's)
        // do, and at once if it did not start.
        drop(command);
        Ok(Running {
            child: spawned.with_context(|| self.spawn_hint())?,
            output: TerraformOutput::new(vec![stdout_tap, stderr_tap]),
        })
    }

    /// Runs terraform to completion, capturing its output.
    pub async fn capture(&self, args: &[&str]) -> anyhow::Result<Captured> {
        let output = self
            .command(args)
            .stdin(Stdio::null())
            .output()
            .await
            .with_context(|| self.spawn_hint())?;
        Ok(Captured {
            code: output.status.code(),
            stdout: output.stdout,
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        })
    }

    fn spawn_hint(&self) -> String {
        format!(
            "cannot start terraform ({}); pass --terraform PATH or set $TERRAFORM",
            self.bin.display()
        )
    }
}

/// Whether terraform dies with the guard here (the lease records it: a run taking over a lease
/// removes the Terraform lock it recorded only if so).
pub const TERRAFORM_DIES_WITH_GUARD: bool = cfg!(target_os = "linux");

/// Makes the started process get SIGKILL when the guard dies. The death signal belongs to the
/// thread that forks: terraform is always started from the guard's main future, which the
/// runtime polls on the main thread (`block_on`), so that thread's end is the process's end.
#[cfg(target_os = "linux")]
// `pre_exec` is unsafe: its closure runs in the forked child of a multithreaded process, where
// only async-signal-safe calls are allowed. This one makes two system calls through rustix
// (prctl, getppid), which neither allocate nor lock, and builds its error from an errno.
#[allow(unsafe_code)]
fn die_with_the_guard(command: &mut Command) {
    use rustix::process::{Signal as Sys, getpid, getppid, set_parent_process_death_signal};
    let guard = getpid();
    // SAFETY: see above; the closure captures only a `Pid` (Copy).
    unsafe {
        command.pre_exec(move || {
            set_parent_process_death_signal(Some(Sys::KILL))?;
            // The guard died between fork and prctl: no signal will come; do not start.
            if getppid() != Some(guard) {
                return Err(rustix::io::Errno::SRCH.into());
            }
            Ok(())
        });
    }
}

/// Signals the guard forwards to terraform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Interrupt,
    Terminate,
    Kill,
}

/// Sends `signal` to process `pid` (the kill(2) call, through rustix: no fork, no `unsafe`).
pub fn send_signal(pid: u32, signal: Signal) -> anyhow::Result<()> {
    use rustix::process::{Pid, Signal as Sys, kill_process};
    let sys = match signal {
        Signal::Interrupt => Sys::INT,
        Signal::Terminate => Sys::TERM,
        Signal::Kill => Sys::KILL,
    };
    let target = i32::try_from(pid)
        .ok()
        .and_then(Pid::from_raw)
        .with_context(|| format!("{pid} is not a process id"))?;
    kill_process(target, sys)
        .with_context(|| format!("cannot send {signal:?} to {pid} (terraform already gone?)"))
}

/// Sends SIGKILL to terraform's whole process group (terraform leads it: it is started with
/// `process_group(0)`), its providers and provisioners included.
pub fn kill_group(pid: u32) -> anyhow::Result<()> {
    use rustix::process::{Pid, Signal as Sys, kill_process_group};
    let leader = i32::try_from(pid)
        .ok()
        .and_then(Pid::from_raw)
        .with_context(|| format!("{pid} is not a process id"))?;
    kill_process_group(leader, Sys::KILL)
        .with_context(|| format!("cannot kill process group {pid} (terraform already gone?)"))
}

/// Splits terraform args into the subcommand position: `(-chdir=DIR, subcommand index)`.
pub fn chdir_and_subcommand(args: &[String]) -> (Option<PathBuf>, Option<usize>) {
    let mut chdir = None;
    for (index, arg) in args.iter().enumerate() {
        if let Some(dir) = arg.strip_prefix("-chdir=") {
            chdir = Some(PathBuf::from(dir));
        } else if !arg.starts_with('-') {
            return (chdir, Some(index));
        }
    }
    (chdir, None)
}

/// Terraform options that take a value, which may come as the next argument (`-var x=1`).
const VALUE_OPTIONS: &[&str] = &[
    "-var",
    "-var-file",
    "-target",
    "-replace",
    "-lock-timeout",
    "-parallelism",
    "-state",
    "-state-out",
    "-backup",
    "-out",
];

/// Rewrites `-var x=1` as `-var=x=1`, so every option is one argument and every other
/// argument is positional.
pub fn join_option_values(args: &[String]) -> Vec<String> {
    let mut joined = Vec::with_capacity(args.len());
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let bare = arg.trim_start_matches('-');
        let takes_value = VALUE_OPTIONS
            .iter()
            .any(|o| o.trim_start_matches('-') == bare);
        match (arg.starts_with('-') && takes_value, iter.clone().next()) {
            (true, Some(value)) => {
                joined.push(format!("{arg}={value}"));
                iter.next();
            }
            _ => joined.push(arg.clone()),
        }
    }
    joined
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_reach_the_process_and_a_gone_one_is_an_error() {
        use std::os::unix::process::ExitStatusExt;
        for (signal, number) in [
            (Signal::Interrupt, 2),
            (Signal::Terminate, 15),
            (Signal::Kill, 9),
        ] {
            // Not `sleep`: a job a non-interactive shell starts in the background (a CI
            // runner, `nohup make test &`) inherits SIGINT ignored, and `sleep` keeps it so.
            // The child resets it, as terraform does (Go's signal.Notify).
            let mut child = std::process::Command::new("python3")
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
            send_signal(child.id(), signal).unwrap();
            assert_eq!(child.wait().unwrap().signal(), Some(number), "{signal:?}");
            assert!(send_signal(child.id(), signal).is_err(), "{signal:?}");
        }
    }

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn joins_option_values() {
        let joined = join_option_values(&strings(&[
            "-var",
            "g=2",
            "-auto-approve",
            "--target",
            "a.b",
            "plan.tfplan",
        ]));
        assert_eq!(
            joined,
            ["-var=g=2", "-auto-approve", "--target=a.b", "plan.tfplan"]
        );
    }

    #[test]
    fn finds_chdir_and_subcommand() {
        let (chdir, index) =
            chdir_and_subcommand(&strings(&["-chdir=infra", "apply", "-auto-approve"]));
        assert_eq!(chdir, Some(PathBuf::from("infra")));
        assert_eq!(index, Some(1));
        assert_eq!(chdir_and_subcommand(&strings(&["-version"])), (None, None));
    }
}
