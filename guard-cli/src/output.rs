//! How the guard talks: human lines on stderr (colour only on a terminal), `--json` lines on
//! stdout (every event listed in [`events::EVENTS`]), and GitHub Actions workflow commands on
//! stderr when `GITHUB_ACTIONS=true`, so stdout under `--json` is JSON lines only.

pub mod events;

use std::io::Write;

use anstream::ColorChoice;
use anstyle::{AnsiColor, Style};
use serde_json::{Value, json};

const WARNING: Style = AnsiColor::Yellow.on_default();
const ERROR: Style = AnsiColor::Red.on_default();

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warning,
    Error,
}

#[derive(Debug, Clone)]
pub struct Reporter {
    json: bool,
    colour: bool,
    github: bool,
}

impl Reporter {
    /// Colour as clap decides it for its own messages on stderr: on a terminal that supports
    /// it, never with `NO_COLOR`, always with `CLICOLOR_FORCE`; never with `--json`.
    pub fn new(json: bool) -> Reporter {
        let colour =
            !json && anstream::AutoStream::choice(&std::io::stderr()) != ColorChoice::Never;
        let github = std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true");
        Reporter {
            json,
            colour,
            github,
        }
    }

    pub fn colour(&self) -> bool {
        self.colour
    }

    pub fn json(&self) -> bool {
        self.json
    }

    pub fn info(&self, event: &str, message: &str) {
        self.emit(Level::Info, event, message, Value::Null);
    }

    pub fn warn(&self, event: &str, message: &str) {
        self.emit(Level::Warning, event, message, Value::Null);
    }

    pub fn error(&self, event: &str, message: &str) {
        self.emit(Level::Error, event, message, Value::Null);
    }

    /// One event: a JSON line (with `data`), or a human line plus an annotation on GitHub.
    pub fn emit(&self, level: Level, event: &str, message: &str, data: Value) {
        if self.json {
            let line = json_line(level, event, message, data);
            let mut stdout = std::io::stdout().lock();
            let _ = writeln!(stdout, "{line}");
            let _ = stdout.flush();
        } else {
            let prefix = match (level, self.colour) {
                (Level::Info, _) => "zdd-guard: ".to_string(),
                (Level::Warning, false) => "zdd-guard: warning: ".to_string(),
                (Level::Error, false) => "zdd-guard: error: ".to_string(),
                (Level::Warning, true) => format!("zdd-guard: {WARNING}warning{WARNING:#}: "),
                (Level::Error, true) => format!("zdd-guard: {ERROR}error{ERROR:#}: "),
            };
            eprintln!("{prefix}{message}");
        }
        if self.github && level != Level::Info {
            let command = if level == Level::Error {
                "error"
            } else {
                "warning"
            };
            // stderr: the runner reads workflow commands on both streams, and stdout under
            // `--json` must stay JSON lines a script can parse.
            eprintln!("{}", annotation(command, message));
        }
    }
}

/// One `--json` line.
pub fn json_line(level: Level, event: &str, message: &str, data: Value) -> Value {
    json!({
        "schema_version": events::SCHEMA_VERSION,
        "level": events::level_name(level),
        "event": event,
        "message": message,
        "data": data,
    })
}

/// A GitHub Actions workflow command, escaped as `check --format github` escapes its own.
pub fn annotation(command: &str, message: &str) -> String {
    zdd_check::render::github::command(command, &[("title", "zdd-guard".to_owned())], message)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Starts this test binary again, running only this test with the environment of each case
    /// and stderr a pipe; that child reports the decision on stdout.
    #[test]
    fn colour_follows_the_terminal_and_the_environment() {
        const CHILD: &str = "ZDD_TEST_COLOUR_CHILD";
        const NAME: &str = "output::tests::colour_follows_the_terminal_and_the_environment";
        if let Some(mode) = std::env::var_os(CHILD) {
            println!("colour={}", Reporter::new(mode == "json").colour());
            return;
        }
        for (env, mode, expected) in [
            // stderr is a pipe, not a terminal
            (&[][..], "text", false),
            (&[("CLICOLOR_FORCE", "1")], "text", true),
            (&[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")], "text", false),
            (&[("CLICOLOR_FORCE", "1")], "json", false),
        ] {
            let output = std::process::Command::new(std::env::current_exe().unwrap())
                .args(["--exact", NAME, "--nocapture", "--test-threads=1"])
                .env_remove("NO_COLOR")
                .env_remove("CLICOLOR")
                .env_remove("CLICOLOR_FORCE")
                .env(CHILD, mode)
                .envs(env.iter().copied())
                .stderr(std::process::Stdio::piped())
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&output.stdout);
            assert!(
                stdout.contains(&format!("colour={expected}\n")),
                "{env:?} {mode}: {stdout}"
            );
        }
    }

    #[test]
    fn warnings_and_errors_are_yellow_and_red() {
        assert_eq!(
            format!("{WARNING}warning{WARNING:#}"),
            "\x1b[33mwarning\x1b[0m"
        );
        assert_eq!(format!("{ERROR}error{ERROR:#}"), "\x1b[31merror\x1b[0m");
    }

    #[test]
    fn json_lines_carry_the_schema_version() {
        let line = json_line(Level::Warning, "unlocked", "m", Value::Null);
        assert_eq!(line["schema_version"], events::SCHEMA_VERSION);
        assert_eq!(line["level"], "warning");
        assert_eq!(line["event"], "unlocked");
    }

    #[test]
    fn annotations_escape_newlines() {
        assert_eq!(
            annotation("error", "a\nb 5%"),
            "::error title=zdd-guard::a%0Ab 5%25"
        );
    }
}
