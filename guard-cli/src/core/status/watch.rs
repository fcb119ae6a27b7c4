//! What `zdd-guard status --watch` does after each look, pure: whether to print the view,
//! whether a failed look ends the watch or is said once and waited out.

use super::snapshot::FleetSnapshot;

/// How the looks are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// Text on a terminal: the screen is cleared and drawn again.
    Terminal,
    /// Text into a log or a pipe, or JSON: each print is kept, so only a change is printed.
    Kept,
}

impl Output {
    pub fn of(json: bool, is_terminal: bool) -> Output {
        if is_terminal && !json {
            Output::Terminal
        } else {
            Output::Kept
        }
    }
}

/// After a look that answered: print it, and whether an earlier print precedes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    Print { again: bool },
    Unchanged,
}

/// After a look that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failed {
    /// The first look failed: nothing was shown, the watch ends (exit 6).
    End,
    /// Said on stderr; the last view stays, the next look comes at the next interval.
    Say,
    /// The same failure as the look before: already said.
    Quiet,
}

/// The watch's memory between looks.
#[derive(Debug, Default)]
pub struct Watch {
    /// What AWS answered at the last print.
    printed: Option<Vec<FleetSnapshot>>,
    /// Whether a look has answered yet.
    answered: bool,
    /// The failure said last, until a look answers again.
    failing: Option<String>,
}

impl Watch {
    pub fn answered(&mut self, snapshots: Vec<FleetSnapshot>, output: Output) -> Shown {
        let recovered = self.failing.take().is_some();
        let again = self.printed.is_some();
        self.answered = true;
        // In a kept output only what AWS returned decides (ages and countdowns move with the
        // clock alone, and would print every look); a terminal redraws so they count down. A
        // look after failures prints again: the errors said since sit below the last view.
        if output == Output::Terminal || recovered || self.printed.as_ref() != Some(&snapshots) {
            self.printed = Some(snapshots);
            Shown::Print { again }
        } else {
            Shown::Unchanged
        }
    }

    pub fn failed(&mut self, message: &str) -> Failed {
        if !self.answered {
            return Failed::End;
        }
        if self.failing.as_deref() == Some(message) {
            return Failed::Quiet;
        }
        self.failing = Some(message.to_string());
        Failed::Say
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn look(name: &str) -> Vec<FleetSnapshot> {
        vec![FleetSnapshot {
            name: name.into(),
            ..FleetSnapshot::default()
        }]
    }

    #[test]
    fn a_terminal_redraws_every_look_so_countdowns_move() {
        let mut watch = Watch::default();
        let output = Output::of(false, true);
        assert_eq!(output, Output::Terminal);
        assert_eq!(
            watch.answered(look("web"), output),
            Shown::Print { again: false }
        );
        assert_eq!(
            watch.answered(look("web"), output),
            Shown::Print { again: true },
            "the same answer is drawn again: its ages and countdowns moved"
        );
    }

    #[test]
    fn a_log_or_json_prints_only_what_changed() {
        for output in [Output::of(false, false), Output::of(true, true)] {
            assert_eq!(output, Output::Kept);
            let mut watch = Watch::default();
            assert_eq!(
                watch.answered(look("web"), output),
                Shown::Print { again: false }
            );
            assert_eq!(watch.answered(look("web"), output), Shown::Unchanged);
            assert_eq!(
                watch.answered(look("web2"), output),
                Shown::Print { again: true }
            );
        }
    }

    #[test]
    fn only_the_first_look_failing_ends_the_watch_and_a_failure_is_said_once() {
        let mut watch = Watch::default();
        assert_eq!(watch.failed("Throttling"), Failed::End);
        let mut watch = Watch::default();
        watch.answered(look("web"), Output::Kept);
        assert_eq!(watch.failed("Throttling: Rate exceeded"), Failed::Say);
        assert_eq!(watch.failed("Throttling: Rate exceeded"), Failed::Quiet);
        assert_eq!(watch.failed("AccessDenied"), Failed::Say);
        assert_eq!(
            watch.answered(look("web"), Output::Kept),
            Shown::Print { again: true },
            "the look after failures is printed, changed or not"
        );
        assert_eq!(watch.answered(look("web"), Output::Kept), Shown::Unchanged);
        assert_eq!(
            watch.failed("Throttling: Rate exceeded"),
            Failed::Say,
            "a failure coming back after an answer is said again"
        );
    }
}
