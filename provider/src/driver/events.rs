//! The live event lines ([`zdd_events`]): when [`EVENTS_FILE_ENV`] names a file, each run
//! appends `started`, a `phase` line per phase the engine entered
//! ([`zdd_rollout::Decision::phases_entered`]), a `progress` line whenever
//! the picture changes (and at least every [`COUNTDOWN_REFRESH`] while a countdown runs), and
//! `finished`. Readers (`zdd-guard run`, anyone tailing the file) see them as they happen.
//!
//! The file is opened for appending and each line goes out in one `write_all` of the whole
//! line, so the lines of several providers (a `-parallelism` apply runs many rollouts, each
//! with its sink) never interleave. The sink is a bystander: a file that cannot be opened or
//! written is reported once in the log and the events stop; the rollout goes on unchanged.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::time::{Duration, SystemTime};

use zdd_events::Operation;
use zdd_events::{EVENTS_FILE_ENV, Event, EventLine, Progress, SCHEMA_VERSION};
use zdd_rollout::spec::{RolloutSpec, Strategy};
use zdd_rollout::{Mode, Outcome, PhaseEntered, Rollout};

use super::Stopped;
use super::timeline::rfc3339;

/// While a wait counts down, a `progress` line goes out at least this often, so a reader's
/// countdown stays fresh even when nothing else changes.
pub const COUNTDOWN_REFRESH: Duration = Duration::from_secs(10);

/// Where a run's event lines go.
pub struct EventSink {
    rollout: String,
    /// The fleet's region (two fleets of one name in two regions of one apply).
    region: Option<String>,
    file: Option<File>,
    progress: ProgressGate,
}

impl EventSink {
    /// The sink [`EVENTS_FILE_ENV`] asks for (none when unset or empty).
    pub fn from_env(spec: &RolloutSpec) -> EventSink {
        let path = std::env::var(EVENTS_FILE_ENV).unwrap_or_default();
        EventSink::to_path(spec, &path)
    }

    /// A sink appending to `path` (none when empty).
    pub fn to_path(spec: &RolloutSpec, path: &str) -> EventSink {
        let file = if path.is_empty() {
            None
        } else {
            match open_regular_for_append(path) {
                Ok(file) => Some(file),
                Err(err) => {
                    tracing::warn!(rollout = %spec.name, path, error = %err, "{EVENTS_FILE_ENV}: cannot open the events file; the rollout goes on without live events");
                    None
                }
            }
        };
        EventSink {
            rollout: spec.name.clone(),
            region: None,
            file,
            progress: ProgressGate::default(),
        }
    }

    /// The sink, its lines naming `region`.
    #[must_use]
    pub fn in_region(mut self, region: Option<String>) -> EventSink {
        self.region = region;
        self
    }

    /// The run began, or went on to another target generation (a superseded one rolled back).
    pub fn started_for(&mut self, rollout: &Rollout, now: SystemTime) {
        self.started(
            rollout.spec(),
            operation_of(rollout),
            rollout.previous_generation(),
            rollout.target_generation(),
            now,
        );
    }

    /// The run began.
    pub fn started(
        &mut self,
        spec: &RolloutSpec,
        operation: Operation,
        from: Option<u64>,
        to: u64,
        now: SystemTime,
    ) {
        let strategy = match spec.strategy {
            Strategy::BlueGreen { .. } => "blue_green",
            Strategy::Rolling { .. } => "rolling",
            Strategy::Canary(_) => "canary",
        };
        self.write(
            now,
            Event::Started {
                operation,
                strategy: strategy.to_string(),
                from_generation: from,
                to_generation: to,
            },
        );
    }

    /// One look: the phases the step entered, then the progress if it changed.
    pub fn step(&mut self, entered: &[PhaseEntered], progress: &Progress, now: SystemTime) {
        if self.file.is_none() {
            return;
        }
        for phase in entered {
            self.write(
                now,
                Event::Phase {
                    phase: phase.phase.clone(),
                    detail: phase.detail.clone(),
                },
            );
        }
        if self.progress.due(progress, unix_secs(now)) {
            self.write(now, Event::Progress(progress.clone()));
        }
    }

    /// The run ended: `status` is `last_rollout.status`'s value.
    pub fn finished(&mut self, status: &str, outcome: &Result<Outcome, Stopped>, now: SystemTime) {
        let detail = match outcome {
            Ok(Outcome::Succeeded { generation }) => format!("generation {generation} serves"),
            Ok(Outcome::RolledBack { reason, .. } | Outcome::Failed { reason }) => reason.clone(),
            Err(Stopped::Cancelled) => "interrupted".to_string(),
            Err(Stopped::TimedOut(after)) => {
                format!("timed out after {}", zdd_duration::format(*after))
            }
            Err(Stopped::GaveUp(error)) => error.clone(),
        };
        self.write(
            now,
            Event::Finished {
                status: status.to_string(),
                detail,
            },
        );
    }

    fn write(&mut self, now: SystemTime, event: Event) {
        let Some(file) = &mut self.file else {
            return;
        };
        let line = EventLine {
            schema_version: SCHEMA_VERSION,
            at: rfc3339(now),
            rollout: self.rollout.clone(),
            region: self.region.clone(),
            event,
        };
        let mut text = match serde_json::to_string(&line) {
            Ok(text) => text,
            Err(err) => {
                tracing::warn!(rollout = %self.rollout, error = %err, "cannot encode an event line");
                return;
            }
        };
        text.push('\n');
        if let Err(err) = file.write_all(text.as_bytes()) {
            tracing::warn!(rollout = %self.rollout, error = %err, "{EVENTS_FILE_ENV}: cannot write the events file; the rollout goes on without live events");
            self.file = None;
        }
    }
}

/// Opens `path` for appending, creating it, if it is (or will be) a regular file. Anything else
/// is refused before it is opened: a named pipe nobody reads would block the open, and with it
/// the rollout; a device or a directory is no place for event lines.
fn open_regular_for_append(path: &str) -> std::io::Result<File> {
    match std::fs::metadata(path) {
        Ok(metadata) if !metadata.is_file() => {
            return Err(std::io::Error::other("not a regular file"));
        }
        _ => {}
    }
    OpenOptions::new().create(true).append(true).open(path)
}

/// What a run does: a destroy tears down, a run in a rollback (resumed, or a superseded
/// generation's) rolls back, anything else rolls out.
pub fn operation_of(rollout: &Rollout) -> Operation {
    if rollout.checkpoint().mode == Mode::Teardown {
        Operation::Teardown
    } else if rollout.phase().is_rollback() {
        Operation::Rollback
    } else {
        Operation::Rollout
    }
}

fn unix_secs(at: SystemTime) -> u64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// When a `progress` line is due: the picture changed (anything but the seconds left), or a
/// countdown has not been refreshed for [`COUNTDOWN_REFRESH`].
#[derive(Debug, Default)]
struct ProgressGate {
    /// The last progress written, its seconds left cleared.
    last: Option<Progress>,
    last_at: u64,
}

impl ProgressGate {
    fn due(&mut self, progress: &Progress, now_secs: u64) -> bool {
        let mut picture = progress.clone();
        if let Some(waiting) = &mut picture.waiting {
            waiting.seconds_left = None;
        }
        let counting = progress
            .waiting
            .as_ref()
            .is_some_and(|w| w.seconds_left.is_some());
        let stale = now_secs >= self.last_at + COUNTDOWN_REFRESH.as_secs();
        let due = self.last.as_ref() != Some(&picture) || (counting && stale);
        if due {
            self.last = Some(picture);
            self.last_at = now_secs;
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use zdd_events::{WaitKind, Waiting};

    use super::*;

    fn progress(healthy: u32, left: Option<u64>) -> Progress {
        Progress {
            phase: "draining_old".into(),
            generations: vec![zdd_events::Generation {
                role: zdd_events::Role::New,
                generation: 2,
                asg: "web-g2".into(),
                desired: 3,
                healthy,
                draining: 0,
                attached: true,
            }],
            new_weight_percent: None,
            served: 3,
            floor: 3,
            waiting: left.map(|left| Waiting {
                what: WaitKind::Drain,
                seconds_left: Some(left),
            }),
        }
    }

    #[test]
    fn a_progress_line_is_due_on_a_change_and_every_ten_seconds_of_a_countdown() {
        let mut gate = ProgressGate::default();
        assert!(gate.due(&progress(1, None), 100), "the first");
        assert!(!gate.due(&progress(1, None), 102), "nothing changed");
        assert!(gate.due(&progress(2, None), 104), "health changed");
        assert!(
            !gate.due(&progress(2, None), 200),
            "no countdown: no refresh"
        );
        assert!(gate.due(&progress(2, Some(60)), 202), "a wait began");
        assert!(
            !gate.due(&progress(2, Some(58)), 204),
            "only seconds left changed"
        );
        assert!(!gate.due(&progress(2, Some(51)), 211));
        assert!(
            gate.due(&progress(2, Some(50)), 212),
            "10 s since the last line"
        );
    }

    fn spec() -> RolloutSpec {
        zdd_rollout::sim::fixtures::spec(
            zdd_rollout::sim::fixtures::StrategyKind::BlueGreen,
            &zdd_rollout::sim::fixtures::FleetShape::default(),
            1,
        )
        .unwrap()
    }

    /// A fresh directory of this test's own under the system's temp directory.
    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("zdd-events-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn each_line_is_one_whole_json_object_appended() {
        let dir = scratch("append");
        let path = dir.join("events.jsonl");
        std::fs::write(&path, "an earlier line\n").unwrap();
        let path_text = path.to_str().unwrap();
        let spec = spec();
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let mut sink = EventSink::to_path(&spec, path_text);
        sink.started(&spec, Operation::Rollout, Some(1), 2, now);
        let entry = PhaseEntered {
            phase: "draining_old".into(),
            detail: "draining_old: waiting out the deregistration delay (35s)".into(),
        };
        sink.step(&[entry], &progress(3, Some(35)), now);
        sink.finished("succeeded", &Ok(Outcome::Succeeded { generation: 2 }), now);
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "an earlier line", "appended, not truncated");
        let events: Vec<EventLine> = lines[1..]
            .iter()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        let kinds: Vec<&str> = lines[1..]
            .iter()
            .map(|line| {
                let json: serde_json::Value = serde_json::from_str(line).unwrap();
                match json["kind"].as_str().unwrap() {
                    "started" => "started",
                    "phase" => "phase",
                    "progress" => "progress",
                    _ => "finished",
                }
            })
            .collect();
        assert_eq!(kinds, ["started", "phase", "progress", "finished"]);
        assert!(events.iter().all(|e| e.rollout == spec.name));
        assert_eq!(events[0].at, "2027-01-15T08:00:00Z");
    }

    #[test]
    fn an_events_file_that_cannot_be_opened_is_no_error() {
        let dir = scratch("directory");
        let spec = spec();
        // A directory cannot be opened for writing.
        let mut sink = EventSink::to_path(&spec, dir.to_str().unwrap());
        sink.started(&spec, Operation::Rollout, None, 1, SystemTime::now());
        sink.finished("interrupted", &Err(Stopped::Cancelled), SystemTime::now());
        assert!(sink.file.is_none());
        // Unset: nothing at all.
        let sink = EventSink::to_path(&spec, "");
        assert!(sink.file.is_none());
    }

    /// A named pipe nobody reads would block the open (and with it the rollout's start)
    /// until a reader came: it is refused, like any file that is not a regular one.
    #[test]
    fn a_named_pipe_as_the_events_file_never_blocks_the_rollout() {
        let fifo = scratch("fifo").join("events");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let (opened, received) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let sink = EventSink::to_path(&spec(), fifo.to_str().unwrap());
            let _ = opened.send(sink.file.is_none());
        });
        let refused = received
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("opening a named pipe as the events file blocked");
        assert!(refused);
    }
}

#[cfg(test)]
mod operation_tests {
    use zdd_rollout::{Observation, Timestamp};

    use super::*;

    fn spec() -> RolloutSpec {
        zdd_rollout::sim::fixtures::spec(
            zdd_rollout::sim::fixtures::StrategyKind::BlueGreen,
            &zdd_rollout::sim::fixtures::FleetShape::default(),
            1,
        )
        .unwrap()
    }

    /// A destroy said "rolling out generation 0" (the operation was always a rollout).
    #[test]
    fn a_destroy_is_a_teardown_and_a_first_deployment_a_rollout() {
        let torn = Rollout::teardown(spec(), &Observation::default(), Timestamp(0));
        assert_eq!(operation_of(&torn), Operation::Teardown);
        let fresh = Rollout::start(spec(), &Observation::default(), Timestamp(0));
        assert_eq!(operation_of(&fresh), Operation::Rollout);
    }
}
