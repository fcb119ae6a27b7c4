//! How the guard talks: human lines on stderr (colour only on a terminal), `--json` lines on
//! stdout, and GitHub Actions workflow commands when `GITHUB_ACTIONS=true`.

use std::io::{IsTerminal, Write};

use serde_json::{Value, json};

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
    pub fn new(json: bool) -> Reporter {
        let colour =
            !json && std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
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
        let level_name = match level {
            Level::Info => "info",
            Level::Warning => "warning",
            Level::Error => "error",
        };
        if self.json {
            let line =
                json!({"level": level_name, "event": event, "message": message, "data": data});
            let mut stdout = std::io::stdout().lock();
            let _ = writeln!(stdout, "{line}");
            let _ = stdout.flush();
        } else {
            let prefix = match (level, self.colour) {
                (Level::Info, _) => "zdd-guard: ".to_string(),
                (Level::Warning, false) => "zdd-guard: warning: ".to_string(),
                (Level::Error, false) => "zdd-guard: error: ".to_string(),
                (Level::Warning, true) => "zdd-guard: \x1b[33mwarning\x1b[0m: ".to_string(),
                (Level::Error, true) => "zdd-guard: \x1b[31merror\x1b[0m: ".to_string(),
            };
            eprintln!("{prefix}{message}");
        }
        if self.github && level != Level::Info {
            let command = if level == Level::Error {
                "error"
            } else {
                "warning"
            };
            println!("{}", annotation(command, message));
        }
    }
}

/// A GitHub Actions workflow command; newlines and `%` are escaped as the runner requires.
pub fn annotation(command: &str, message: &str) -> String {
    let escaped = message
        .replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A");
    format!("::{command} title=zdd-guard::{escaped}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotations_escape_newlines() {
        assert_eq!(
            annotation("error", "a\nb 5%"),
            "::error title=zdd-guard::a%0Ab 5%25"
        );
    }
}
