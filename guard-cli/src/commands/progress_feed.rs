//! The provider's live events in `zdd-guard run` (issue #17): the channel and its tail.
//!
//! The channel is a file whose name every terraform the run starts finds in `ZDD_EVENTS_FILE`
//! (`zdd_events::EVENTS_FILE_ENV`); the provider appends one event line per change to it. The
//! run makes the file in a private directory of its own (mode 0700, removed at the end), or, when
//! the user set `ZDD_EVENTS_FILE` already, reads theirs from its end as it is when the tail
//! starts, never truncating or removing it (a relative name is the provider's: relative to
//! terraform's directory). The run starts the tail just before its first terraform, after any
//! wait for another run's lease: what other writers append meanwhile is theirs, not this run's
//! (a file several runs share still shows every writer's lines while this one runs).
//!
//! The tail is a thread of its own, so neither terraform nor the supervise loop ever waits for
//! it: it looks at the file every [`POLL`] for appended bytes and hands them and the time to the
//! pure view (`core::progress_view`), which says what to print; a file that does not exist yet
//! is read once it does, and a truncated or replaced one (another inode) from its start. After
//! terraform exits, [`Feed::drain`] makes it read the file one last time, so a rollout's
//! `finished` line shows before the guard's own verdict.

use std::ffi::OsString;
use std::io::{Read as _, Seek as _, SeekFrom};
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::json;
use tokio::sync::oneshot;

use super::private_dir::PrivateDir;
use crate::core::progress_view::{Kind, ProgressView, Shown, Skipped, ViewSettings};
use crate::output::{Level, Reporter};

/// How often the tail looks at the file for new lines.
pub const POLL: Duration = Duration::from_millis(250);

/// The most bytes one look reads (a file written faster is read over several looks).
const MAX_READ: u64 = 4 * 1024 * 1024;

/// The most reads of [`MAX_READ`] a drain or the last look makes: the file's end, unless
/// something else keeps writing to a shared file faster than it is read (then the run's
/// [`DRAIN_LIMIT`] ends the wait, and this the thread's reading).
const END_ROUNDS: u32 = 256;

/// How long the run waits for the tail's last look before going on without it (a look is a
/// stat and a read of a local file: only a stalled filesystem or output takes this long).
const DRAIN_LIMIT: Duration = Duration::from_secs(5);

/// The events file of a run.
#[derive(Debug)]
pub struct EventsChannel {
    path: PathBuf,
    /// The run's own file's directory, removed at the end; `None` for the user's file.
    private: Option<PrivateDir>,
    tail: Tail,
}

impl EventsChannel {
    /// The user's file (`user_value`, the `ZDD_EVENTS_FILE` the guard was started with, read
    /// from its end as [`EventsChannel::start`] finds it) or, when it is unset or empty, a new
    /// empty file of the run's own.
    pub fn open(user_value: Option<OsString>, terraform_dir: &Path) -> anyhow::Result<Self> {
        if let Some(value) = user_value.filter(|v| !v.is_empty()) {
            let path = terraform_dir.join(value);
            let tail = Tail::new(path.clone());
            return Ok(EventsChannel {
                path,
                private: None,
                tail,
            });
        }
        let private = PrivateDir::create()?;
        let path = private.path().join("events.jsonl");
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .with_context(|| format!("cannot create the events file {}", path.display()))?;
        let tail = Tail::new(path.clone());
        Ok(EventsChannel {
            path,
            private: Some(private),
            tail,
        })
    }

    /// The tail at the file's current end (lines already there are not this run's), the path
    /// and the run's own directory.
    fn into_tail_from_now(self) -> (Tail, PathBuf, Option<PrivateDir>) {
        let EventsChannel {
            path,
            private,
            mut tail,
        } = self;
        tail.skip_to_end();
        (tail, path, private)
    }

    /// The file to name in terraform's environment; `None` when the user's own stays there.
    pub fn own_file(&self) -> Option<&Path> {
        self.private.as_ref().map(|_| self.path.as_path())
    }

    /// Starts the tail, printing through `reporter`, at the file's end as it is now: call it
    /// right before the run's first terraform starts.
    pub fn start(self, settings: ViewSettings, reporter: Reporter) -> anyhow::Result<Feed> {
        let (requests, received) = mpsc::channel();
        let (tail, path, private) = self.into_tail_from_now();
        std::thread::Builder::new()
            .name("zdd-events-tail".into())
            .spawn(move || follow(tail, ProgressView::new(settings), &received, &reporter))
            .context("starting the thread reading the provider's events")?;
        Ok(Feed {
            requests,
            path,
            private,
        })
    }
}

/// The running tail. Dropped without [`Feed::stop`], its thread ends at its next look and the
/// run's own file is removed all the same.
#[derive(Debug)]
pub struct Feed {
    requests: mpsc::Sender<Request>,
    path: PathBuf,
    private: Option<PrivateDir>,
}

enum Request {
    /// Read what is new now, and say when done.
    Drain(oneshot::Sender<()>),
    /// Read what is new one last time, then end, saying what was skipped.
    Stop(oneshot::Sender<TailEnd>),
}

/// What the tail could not show.
#[derive(Debug, Default)]
struct TailEnd {
    skipped: Skipped,
    /// The first error reading the file, and how many looks failed.
    read_error: Option<(String, u64)>,
}

impl Feed {
    /// Has the tail read the file once more (terraform has exited: everything its provider
    /// wrote is there), waiting at most [`DRAIN_LIMIT`].
    pub async fn drain(&self) {
        let (done, wait) = oneshot::channel();
        if self.requests.send(Request::Drain(done)).is_ok() {
            let _ = tokio::time::timeout(DRAIN_LIMIT, wait).await;
        }
    }

    /// Reads the file one last time and ends the tail; reports lines it skipped and a file it
    /// could not read, and removes the run's own file.
    pub async fn stop(self, reporter: &Reporter) {
        let (done, wait) = oneshot::channel();
        let end = match self.requests.send(Request::Stop(done)) {
            Ok(()) => tokio::time::timeout(DRAIN_LIMIT, wait)
                .await
                .ok()
                .and_then(Result::ok),
            Err(_) => None,
        };
        if let Some(end) = end {
            report_end(&end, &self.path, reporter);
        }
        if let Some(private) = self.private
            && let Err(error) = private.remove()
        {
            reporter.warn("rollout_events", &format!("{error:#}"));
        }
    }
}

fn report_end(end: &TailEnd, path: &Path, reporter: &Reporter) {
    let skipped = end.skipped;
    if skipped.total() > 0 {
        reporter.emit(
            Level::Warning,
            "rollout_events",
            &format!(
                "the live view skipped {} line(s) of {}: {} unreadable, {} of another \
                 schema_version (a newer provider?), {} too long",
                skipped.total(),
                path.display(),
                skipped.unreadable,
                skipped.other_version,
                skipped.too_long
            ),
            json!({
                "path": path.display().to_string(),
                "unreadable": skipped.unreadable,
                "other_version": skipped.other_version,
                "too_long": skipped.too_long,
            }),
        );
    }
    if let Some((error, looks)) = &end.read_error {
        reporter.warn(
            "rollout_events",
            &format!(
                "the live view could not read {} ({looks} look(s) failed): {error}",
                path.display()
            ),
        );
    }
}

/// The tail's thread: a look every [`POLL`], and on request.
fn follow(
    mut tail: Tail,
    mut view: ProgressView,
    requests: &mpsc::Receiver<Request>,
    reporter: &Reporter,
) {
    let began = Instant::now();
    let mut end = TailEnd::default();
    loop {
        let request = match requests.recv_timeout(POLL) {
            Ok(request) => Some(request),
            Err(RecvTimeoutError::Timeout) => None,
            // The run dropped its feed: nothing is waiting for these lines any more.
            Err(RecvTimeoutError::Disconnected) => return,
        };
        // Asked, the look reads to the file's end (terraform has exited: all it wrote is there);
        // on its own, one read of at most MAX_READ a look.
        let rounds = if request.is_some() { END_ROUNDS } else { 1 };
        look(
            &mut tail,
            &mut view,
            began.elapsed(),
            rounds,
            &mut end,
            reporter,
        );
        match request {
            None => {}
            Some(Request::Drain(done)) => {
                let _ = done.send(());
            }
            Some(Request::Stop(done)) => {
                view.finish();
                end.skipped = view.skipped();
                let _ = done.send(end);
                return;
            }
        }
    }
}

/// One look: the file's new bytes through the view, then the view's due lines, printed.
fn look(
    tail: &mut Tail,
    view: &mut ProgressView,
    now: Duration,
    rounds: u32,
    end: &mut TailEnd,
    reporter: &Reporter,
) {
    read_into_view(tail, view, now, rounds, end, &mut |shown| {
        show(shown, reporter)
    });
    for shown in view.tick(now) {
        show(shown, reporter);
    }
}

/// Reads the file's new bytes into the view, up to `rounds` reads of at most [`MAX_READ`]
/// (fewer once a read comes back short: the end is reached), handing each line to `show`.
fn read_into_view(
    tail: &mut Tail,
    view: &mut ProgressView,
    now: Duration,
    rounds: u32,
    end: &mut TailEnd,
    show: &mut dyn FnMut(Shown),
) {
    for _ in 0..rounds {
        match tail.read_new() {
            Ok(read) => {
                if read.restarted {
                    view.restart();
                }
                let more = read.bytes.len() as u64 >= MAX_READ;
                for shown in view.feed(&read.bytes, now) {
                    show(shown);
                }
                if !more {
                    return;
                }
            }
            Err(error) => {
                let (_, looks) = end
                    .read_error
                    .get_or_insert_with(|| (format!("{error:#}"), 0));
                *looks += 1;
                return;
            }
        }
    }
}

/// A line of the view as its event: a JSON line with `--json`, else a line on stderr with the
/// guard's other lines (terraform's stdout stays terraform's own, byte for byte).
fn show(shown: Shown, reporter: &Reporter) {
    let Shown {
        kind,
        warning,
        message,
        data,
    } = shown;
    match (kind, warning) {
        (Kind::Started, _) => reporter.emit(Level::Info, "rollout_started", &message, data),
        (Kind::Phase, _) => reporter.emit(Level::Info, "rollout_phase", &message, data),
        (Kind::Progress, _) => reporter.emit(Level::Info, "rollout_progress", &message, data),
        (Kind::Finished, false) => reporter.emit(Level::Info, "rollout_finished", &message, data),
        (Kind::Finished, true) => {
            reporter.emit(Level::Warning, "rollout_finished", &message, data);
        }
    }
}

/// Where the reading of the file stands.
#[derive(Debug)]
struct Tail {
    path: PathBuf,
    /// The bytes already read.
    offset: u64,
    /// The file read (device, inode): another one at the path is read from its start.
    identity: Option<(u64, u64)>,
}

/// `O_NONBLOCK` as `OpenOptionsExt::custom_flags` takes it (no effect on a regular file's reads).
fn nonblocking() -> i32 {
    // The flag's bits are a small positive constant (0o4000 on Linux): the cast keeps them.
    rustix::fs::OFlags::NONBLOCK.bits() as i32
}

/// The bytes appended since the last look.
#[derive(Debug, Default)]
struct NewBytes {
    /// The file was truncated or replaced: `bytes` are from its start.
    restarted: bool,
    bytes: Vec<u8>,
}

impl Tail {
    fn new(path: PathBuf) -> Tail {
        Tail {
            path,
            offset: 0,
            identity: None,
        }
    }

    /// Starts at the file's current end (a file that does not exist yet is read from its start).
    fn skip_to_end(&mut self) {
        if let Ok(meta) = std::fs::metadata(&self.path) {
            self.identity = Some((meta.dev(), meta.ino()));
            self.offset = meta.len();
        }
    }

    fn read_new(&mut self) -> anyhow::Result<NewBytes> {
        // Opened without waiting (a named pipe's open would wait for a writer), then only a
        // regular file is read: a pipe's bytes are some reader's lines, a directory has none.
        // The opened handle is what is checked: a stat before the open could see another file.
        let opened = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(nonblocking())
            .open(&self.path);
        let file = match opened {
            Ok(file) => file,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Ok(NewBytes::default());
            }
            Err(error) => {
                return Err(error).with_context(|| format!("opening {}", self.path.display()));
            }
        };
        let meta = file
            .metadata()
            .with_context(|| format!("reading {}", self.path.display()))?;
        anyhow::ensure!(
            meta.is_file(),
            "{} is not a regular file",
            self.path.display()
        );
        let mut file = file;
        let identity = (meta.dev(), meta.ino());
        let mut new = NewBytes::default();
        if self.identity.is_some_and(|known| known != identity) || meta.len() < self.offset {
            new.restarted = true;
            self.offset = 0;
        }
        self.identity = Some(identity);
        if meta.len() == self.offset {
            return Ok(new);
        }
        file.seek(SeekFrom::Start(self.offset))?;
        file.take(MAX_READ).read_to_end(&mut new.bytes)?;
        self.offset += new.bytes.len() as u64;
        Ok(new)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    fn append(path: &Path, bytes: &[u8]) {
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
            .unwrap();
        file.write_all(bytes).unwrap();
    }

    #[test]
    fn the_tail_reads_appended_bytes_once_and_restarts_on_truncation_or_replacement() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events");
        let mut tail = Tail::new(path.clone());
        // Not there yet: nothing, no error.
        assert!(tail.read_new().unwrap().bytes.is_empty());
        append(&path, b"one\ntw");
        let read = tail.read_new().unwrap();
        assert_eq!(
            (read.restarted, read.bytes.as_slice()),
            (false, &b"one\ntw"[..])
        );
        assert!(tail.read_new().unwrap().bytes.is_empty());
        append(&path, b"o\n");
        assert_eq!(tail.read_new().unwrap().bytes, b"o\n");
        // Truncated and written again, shorter.
        std::fs::write(&path, b"x\n").unwrap();
        let read = tail.read_new().unwrap();
        assert_eq!((read.restarted, read.bytes.as_slice()), (true, &b"x\n"[..]));
        // Replaced by another file (a rename over it), longer than what was read.
        let other = dir.path().join("other");
        std::fs::write(&other, b"a much longer first line\n").unwrap();
        std::fs::rename(&other, &path).unwrap();
        let read = tail.read_new().unwrap();
        assert!(read.restarted);
        assert_eq!(read.bytes, b"a much longer first line\n");
    }

    #[test]
    fn a_named_pipe_or_a_directory_is_never_opened() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        for path in [fifo, dir.path().to_path_buf()] {
            // A user's setting: read from its end, which a pipe or a directory does not have.
            let channel = EventsChannel::open(Some(path.clone().into()), dir.path()).unwrap();
            let mut tail = channel.tail;
            // Returns (an open of the pipe would wait for a writer forever) with an error.
            let error = tail.read_new().unwrap_err();
            assert!(
                format!("{error:#}").contains("is not a regular file"),
                "{error:#}"
            );
        }
        // A regular file read, then a pipe renamed over it: the next look opens the pipe
        // without waiting for a writer and refuses it (bounded: a blocked open never returns).
        let path = dir.path().join("events");
        std::fs::write(&path, b"one\n").unwrap();
        let mut tail = Tail::new(path.clone());
        assert_eq!(tail.read_new().unwrap().bytes, b"one\n");
        let fifo = dir.path().join("fifo2");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        std::fs::rename(&fifo, &path).unwrap();
        let (done, result) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = done.send(tail.read_new().map(|_| ()).map_err(|e| format!("{e:#}")));
        });
        let error = result
            .recv_timeout(Duration::from_secs(10))
            .expect("the look at a pipe returned")
            .unwrap_err();
        assert!(error.contains("is not a regular file"), "{error}");
    }

    #[test]
    fn a_drain_reads_to_the_files_end_past_one_reads_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events");
        let line = |n: usize| {
            let mut text = serde_json::to_vec(&zdd_events::EventLine {
                schema_version: zdd_events::SCHEMA_VERSION,
                at: "2026-12-02T19:00:00Z".into(),
                rollout: "web".into(),
                region: None,
                event: zdd_events::Event::Phase {
                    phase: format!("phase {n}"),
                    detail: "x".repeat(200),
                },
            })
            .unwrap();
            text.push(b'\n');
            text
        };
        let mut bytes = Vec::new();
        let mut count = 0;
        while bytes.len() as u64 <= 2 * MAX_READ {
            bytes.extend(line(count));
            count += 1;
        }
        std::fs::write(&path, &bytes).unwrap();
        let settings = ViewSettings {
            progress_every: Duration::ZERO,
        };
        let read = |rounds| {
            let mut tail = Tail::new(path.clone());
            let mut view = ProgressView::new(settings);
            let mut shown = Vec::new();
            let mut end = TailEnd::default();
            read_into_view(
                &mut tail,
                &mut view,
                Duration::ZERO,
                rounds,
                &mut end,
                &mut |s| {
                    shown.push(s.message);
                },
            );
            shown
        };
        // One look reads one limit's worth; a drain all of it.
        assert!(read(1).len() < count);
        let all = read(END_ROUNDS);
        assert_eq!(all.len(), count);
        assert_eq!(
            all.last().unwrap(),
            &format!("web: phase {} ({})", count - 1, "x".repeat(200))
        );
    }

    #[test]
    fn a_users_file_is_read_from_its_end_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mine.jsonl");
        std::fs::write(&path, b"old line\n").unwrap();
        let channel = EventsChannel::open(Some("mine.jsonl".into()), dir.path()).unwrap();
        assert_eq!(channel.own_file(), None);
        // Another run's provider writes while this run waits for its lease: not this run's.
        append(&path, b"while waiting\n");
        let (mut tail, _, _) = channel.into_tail_from_now();
        assert!(tail.read_new().unwrap().bytes.is_empty());
        append(&path, b"new line\n");
        assert_eq!(tail.read_new().unwrap().bytes, b"new line\n");
        assert_eq!(
            std::fs::read(&path).unwrap(),
            b"old line\nwhile waiting\nnew line\n"
        );
    }

    #[test]
    fn the_runs_own_file_is_private_and_an_empty_setting_is_unset() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        for user in [None, Some(OsString::new())] {
            let channel = EventsChannel::open(user, dir.path()).unwrap();
            let path = channel.own_file().unwrap().to_path_buf();
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&path), 0o600);
            assert_eq!(mode(path.parent().unwrap()), 0o700);
            drop(channel);
            assert!(!path.exists());
        }
    }
}
