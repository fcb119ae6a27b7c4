//! `ZDD_GUARD_TIMINGS=1`: a stage breakdown of one run, printed to stderr at exit (issue #18).
//!
//! Each stage is a [`mark`] with a name, stamped with the time since the guard's `main` began.
//! Off (the variable unset, empty or `0`), a mark is one relaxed atomic load: the marks stay in
//! the code for good, to measure where the guard's milliseconds go on any machine. Marks made
//! from tasks running beside terraform (the first look, the tail) show when they finished,
//! which is after later marks of the main path when they ran concurrently: the table is in
//! the order the marks were made.

use std::sync::Mutex;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The variable that turns the breakdown on.
pub const TIMINGS_ENV: &str = "ZDD_GUARD_TIMINGS";

static ENABLED: AtomicBool = AtomicBool::new(false);
static MARKS: OnceLock<Recorder> = OnceLock::new();

struct Recorder {
    began: Instant,
    marks: Mutex<Vec<(&'static str, Duration)>>,
}

/// Starts the clock when `value` (the variable's) turns the breakdown on: call it first thing
/// in `main`.
pub fn start(value: Option<&str>) {
    if !is_on(value) {
        return;
    }
    let recorder = Recorder {
        began: Instant::now(),
        marks: Mutex::new(Vec::with_capacity(32)),
    };
    if MARKS.set(recorder).is_ok() {
        ENABLED.store(true, Ordering::Relaxed);
    }
}

/// Whether a value of [`TIMINGS_ENV`] asks for the breakdown.
pub fn is_on(value: Option<&str>) -> bool {
    value.is_some_and(|v| !v.is_empty() && v != "0")
}

/// Records that `stage` ended now; nothing when the breakdown is off.
pub fn mark(stage: &'static str) {
    if !ENABLED.load(Ordering::Relaxed) {
        return;
    }
    if let Some(recorder) = MARKS.get() {
        let at = recorder.began.elapsed();
        recorder
            .marks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((stage, at));
    }
}

/// The breakdown so far, rendered (`None` when off); `main` prints it to stderr at exit.
pub fn report() -> Option<String> {
    let recorder = MARKS.get()?;
    let marks = recorder
        .marks
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    Some(render(&marks))
}

/// One line per mark: the time since `main` began and since the mark before it, in ms.
pub fn render(marks: &[(&str, Duration)]) -> String {
    let width = marks.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
    let mut out = format!("zdd-guard timings ({TIMINGS_ENV}): since start / since previous mark\n");
    let mut previous = Duration::ZERO;
    for (name, at) in marks {
        out.push_str(&format!(
            "  {name:<width$}  {:>9.2} ms  {:>+9.2} ms\n",
            at.as_secs_f64() * 1000.0,
            (at.as_secs_f64() - previous.as_secs_f64()) * 1000.0,
        ));
        previous = *at;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_non_empty_value_other_than_zero_turns_it_on() {
        assert!(!is_on(None));
        assert!(!is_on(Some("")));
        assert!(!is_on(Some("0")));
        assert!(is_on(Some("1")));
        assert!(is_on(Some("yes")));
    }

    #[test]
    fn each_line_shows_the_time_since_start_and_since_the_mark_before() {
        let text = render(&[
            ("main", Duration::from_micros(1_500)),
            ("lease acquired", Duration::from_micros(9_250)),
        ]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(
            lines[1].contains("main") && lines[1].contains("1.50 ms"),
            "{text}"
        );
        assert!(
            lines[2].contains("9.25 ms") && lines[2].contains("+7.75 ms"),
            "{text}"
        );
    }
}
