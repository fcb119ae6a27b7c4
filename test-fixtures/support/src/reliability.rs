//! The figures the hostile suites publish (issue 15): each trial of a suite writes one
//! [`Record`] when `ZDD_RELIABILITY_DIR` names a directory (`make reliability` sets it), and
//! `zdd-reliability` renders the directory into `RELIABILITY.md`. Without the variable a record
//! is only printed, so `make test` shows the same figures in its output.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, anyhow};
use serde_json::{Value, json};

/// The directory records are written to; unset: print only.
pub const RELIABILITY_DIR_ENV: &str = "ZDD_RELIABILITY_DIR";

/// Trials a suite runs (guard contention: 100 under `make stress`, a small N in `make test`).
pub const STRESS_TRIALS_ENV: &str = "ZDD_STRESS_TRIALS";

/// What one trial (or one bounded batch of trials) of a suite ran and saw.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Record {
    /// The suite, as RELIABILITY.md titles it: `rollouts under faults`, `kill -9 at every
    /// phase`, `guard contention`, `kill -9 of the guard`.
    pub suite: String,
    /// What ran: `blue_green`, `canary, killed in draining_old`, `8 guards, trial 3`.
    pub scenario: String,
    /// The faults injected, in words (`20 % throttling, 2 % 5xx, 200 ms, 10 s stale reads,
    /// seed 7`), or `none`.
    pub faults: String,
    /// `kill -9`s delivered.
    pub kills: u32,
    /// Trials this record sums up.
    pub trials: u32,
    /// Load-balancer violations (the local AWS's `violation` events), capacity-floor breaches
    /// sampled from outside, overlapping applies: anything the suite forbids.
    pub violations: u64,
    /// State writes lost (a resource missing, a serial that rose by less than the applies).
    pub lost_writes: u64,
    /// AWS calls the local AWS served during the trial(s) (its `/zdd/faults/stats`).
    pub calls: u64,
    /// Faults injected during the trial(s), all kinds.
    pub faults_injected: u64,
    /// From the first apply's start to the configuration converged (a clean plan).
    pub convergence: Duration,
    /// Whether the trial converged (an unconverged trial fails its test; the record is written
    /// first, so the table shows it).
    pub converged: bool,
    /// Anything else worth a column: `re-applies: 1`, `exit codes: 0×1, 3×7`.
    pub notes: String,
}

impl Record {
    pub fn new(suite: &str, scenario: &str) -> Record {
        Record {
            suite: suite.to_string(),
            scenario: scenario.to_string(),
            faults: "none".to_string(),
            trials: 1,
            ..Record::default()
        }
    }

    pub fn to_json(&self) -> Value {
        json!({
            "suite": self.suite,
            "scenario": self.scenario,
            "faults": self.faults,
            "kills": self.kills,
            "trials": self.trials,
            "violations": self.violations,
            "lost_writes": self.lost_writes,
            "calls": self.calls,
            "faults_injected": self.faults_injected,
            "convergence_s": self.convergence.as_secs_f64(),
            "converged": self.converged,
            "notes": self.notes,
        })
    }

    pub fn from_json(value: &Value) -> anyhow::Result<Record> {
        let text = |field: &str| -> anyhow::Result<String> {
            value[field]
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| anyhow!("record field {field:?} is not text: {value}"))
        };
        let number = |field: &str| -> anyhow::Result<u64> {
            value[field]
                .as_u64()
                .ok_or_else(|| anyhow!("record field {field:?} is not a count: {value}"))
        };
        let convergence = value["convergence_s"]
            .as_f64()
            .filter(|seconds| seconds.is_finite() && *seconds >= 0.0)
            .ok_or_else(|| anyhow!("record field \"convergence_s\" is not seconds: {value}"))?;
        Ok(Record {
            suite: text("suite")?,
            scenario: text("scenario")?,
            faults: text("faults")?,
            kills: u32::try_from(number("kills")?)?,
            trials: u32::try_from(number("trials")?)?,
            violations: number("violations")?,
            lost_writes: number("lost_writes")?,
            calls: number("calls")?,
            faults_injected: number("faults_injected")?,
            convergence: Duration::from_secs_f64(convergence),
            converged: value["converged"]
                .as_bool()
                .ok_or_else(|| anyhow!("record field \"converged\" is not a bool: {value}"))?,
            notes: text("notes")?,
        })
    }

    /// Prints the record and, when [`RELIABILITY_DIR_ENV`] is set, writes it there as
    /// `<suite>--<scenario>.json` (a later trial of the same scenario replaces it).
    pub fn publish(&self) -> anyhow::Result<()> {
        println!("reliability record: {}", self.to_json());
        let Some(dir) = std::env::var_os(RELIABILITY_DIR_ENV) else {
            return Ok(());
        };
        self.write_to(Path::new(&dir)).map(|_| ())
    }

    /// Writes the record into `dir`; returns the file written.
    pub fn write_to(&self, dir: &Path) -> anyhow::Result<PathBuf> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let path = dir.join(format!(
            "{}--{}.json",
            slug(&self.suite),
            slug(&self.scenario)
        ));
        let text = serde_json::to_string_pretty(&self.to_json())?;
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        Ok(path)
    }

    /// Every record in `dir`, sorted by suite then scenario.
    pub fn read_dir(dir: &Path) -> anyhow::Result<Vec<Record>> {
        let mut records = Vec::new();
        for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
            let path = entry?.path();
            if path.extension().is_none_or(|extension| extension != "json") {
                continue;
            }
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            let value: Value = serde_json::from_str(&text)
                .with_context(|| format!("{} is not JSON", path.display()))?;
            records
                .push(Record::from_json(&value).with_context(|| format!("in {}", path.display()))?);
        }
        records.sort_by(|a, b| (&a.suite, &a.scenario).cmp(&(&b.suite, &b.scenario)));
        Ok(records)
    }
}

/// How long one suite's command ran (`scripts/reliability.sh` measures it into
/// `suite-times.tsv`: `suite<TAB>command<TAB>seconds` per line).
#[derive(Debug, Clone, PartialEq)]
pub struct SuiteTime {
    pub suite: String,
    pub command: String,
    pub seconds: f64,
}

impl SuiteTime {
    /// The lines of a `suite-times.tsv`; a malformed line is an error naming it.
    pub fn parse_tsv(text: &str) -> anyhow::Result<Vec<SuiteTime>> {
        text.lines()
            .filter(|line| !line.trim().is_empty())
            .map(|line| {
                let mut fields = line.split('\t');
                let (Some(suite), Some(command), Some(seconds), None) =
                    (fields.next(), fields.next(), fields.next(), fields.next())
                else {
                    return Err(anyhow!("suite time {line:?}: want suite, command, seconds"));
                };
                let seconds = seconds
                    .trim()
                    .parse::<f64>()
                    .with_context(|| format!("suite time {line:?}: seconds"))?;
                Ok(SuiteTime {
                    suite: suite.to_string(),
                    command: command.to_string(),
                    seconds,
                })
            })
            .collect()
    }
}

/// Where and how the figures were measured, printed above the tables.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunContext {
    /// `git describe` of the code measured.
    pub commit: String,
    /// The machine (`nproc`, OS) in words.
    pub machine: String,
    /// The command that produced the figures (`make reliability`, `make stress`).
    pub command: String,
    pub date: String,
}

/// `RELIABILITY.md`: what was run and what was seen, one table per suite, with the time each
/// suite took.
pub fn render_markdown(records: &[Record], times: &[SuiteTime], context: &RunContext) -> String {
    let mut page = String::new();
    page.push_str("# Reliability: zdd against a hostile AWS\n\n");
    page.push_str(
        "Generated by `scripts/reliability.sh` (`make reliability`: the suites at their `make test` \
         size; `make stress`: the long runs, `STRESS_TRIALS` trials each). Do not edit by hand: \
         rerun the command. Every figure comes from the suites' own assertions; a run with a \
         violation or a lost write fails its test, so a published table shows what passed.\n\n",
    );
    page.push_str(&format!(
        "- code: `{}`\n- machine: {}\n- command: `{}`\n- date: {}\n\n",
        context.commit, context.machine, context.command, context.date
    ));
    page.push_str(
        "Columns: **violations** are load-balancer violations (a target terminated before its \
         drain ended, a hook skipped), capacity-floor breaches sampled from outside, or \
         overlapping applies; **lost writes** are state writes missing at the end; **calls** \
         are AWS calls the local AWS served; **faults** the faults it injected into them; \
         **convergence** runs from the first apply's start to a clean plan (of the \
         trials a row sums up: the slowest).\n\n",
    );
    let mut suites: Vec<&str> = Vec::new();
    for record in records {
        if !suites.contains(&record.suite.as_str()) {
            suites.push(&record.suite);
        }
    }
    for suite in suites {
        page.push_str(&format!("## {suite}\n\n"));
        page.push_str(
            "| scenario | faults | trials | kills | violations | lost writes | calls | faults injected | convergence | converged | notes |\n\
             |---|---|---:|---:|---:|---:|---:|---:|---:|---|---|\n",
        );
        let rows: Vec<&Record> = records
            .iter()
            .filter(|record| record.suite == suite)
            .collect();
        for record in &rows {
            page.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} | {} | {:.1} s | {} | {} |\n",
                cell(&record.scenario),
                cell(&record.faults),
                record.trials,
                record.kills,
                record.violations,
                record.lost_writes,
                record.calls,
                record.faults_injected,
                record.convergence.as_secs_f64(),
                if record.converged { "yes" } else { "**no**" },
                cell(&record.notes),
            ));
        }
        let sum = |field: fn(&Record) -> u64| rows.iter().map(|record| field(record)).sum::<u64>();
        page.push_str(&format!(
            "| **total** | | {} | {} | {} | {} | {} | {} | | {}/{} | |\n\n",
            sum(|record| u64::from(record.trials)),
            sum(|record| u64::from(record.kills)),
            sum(|record| record.violations),
            sum(|record| record.lost_writes),
            sum(|record| record.calls),
            sum(|record| record.faults_injected),
            rows.iter().filter(|record| record.converged).count(),
            rows.len(),
        ));
    }
    if !times.is_empty() {
        page.push_str("## Time each suite takes (wall, this machine)\n\n");
        page.push_str("| suite | command | seconds |\n|---|---|---:|\n");
        for time in times {
            page.push_str(&format!(
                "| {} | `{}` | {:.0} |\n",
                cell(&time.suite),
                time.command,
                time.seconds
            ));
        }
        page.push('\n');
    }
    page
}

/// Text safe inside a Markdown table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// Trials to run: [`STRESS_TRIALS_ENV`] if set to a positive number, else `default`.
pub fn stress_trials(default: u32) -> u32 {
    std::env::var(STRESS_TRIALS_ENV)
        .ok()
        .and_then(|text| text.trim().parse::<u32>().ok())
        .filter(|trials| *trials > 0)
        .unwrap_or(default)
}

/// A file-name-safe form of `text`: lowercase ASCII letters and digits, runs of anything else
/// as one `-`.
fn slug(text: &str) -> String {
    let mut slug = String::new();
    for character in text.chars() {
        if character.is_ascii_alphanumeric() {
            slug.push(character.to_ascii_lowercase());
        } else if !slug.ends_with('-') {
            slug.push('-');
        }
    }
    slug.trim_matches('-').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_reads_back_what_it_wrote() {
        let dir = tempfile::tempdir().unwrap();
        let record = Record {
            kills: 1,
            violations: 2,
            lost_writes: 3,
            calls: 456,
            faults_injected: 78,
            convergence: Duration::from_millis(91_500),
            converged: true,
            notes: "re-applies: 1".into(),
            faults: "20 % throttling".into(),
            ..Record::new("kill -9 at every phase", "canary, killed in canary_step 1")
        };
        let path = record.write_to(dir.path()).unwrap();
        assert_eq!(
            path.file_name().unwrap().to_str().unwrap(),
            "kill-9-at-every-phase--canary-killed-in-canary-step-1.json"
        );
        assert_eq!(Record::read_dir(dir.path()).unwrap(), vec![record]);
    }

    #[test]
    fn a_damaged_record_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("x.json"), r#"{"suite": "s"}"#).unwrap();
        let error = format!("{:#}", Record::read_dir(dir.path()).unwrap_err());
        assert!(error.contains("x.json"), "{error}");
        assert!(error.contains("record field"), "{error}");
    }
    #[test]
    fn the_page_has_one_table_per_suite_with_totals_and_flags_what_did_not_converge() {
        let converged = Record {
            calls: 100,
            violations: 0,
            converged: true,
            notes: "a | b".into(),
            ..Record::new("rollouts under faults", "blue_green")
        };
        let stuck = Record {
            calls: 50,
            violations: 2,
            converged: false,
            ..Record::new("rollouts under faults", "canary")
        };
        let guard = Record {
            trials: 5,
            ..Record::new("guard contention", "8 guards")
        };
        let times = SuiteTime::parse_tsv("guard contention\tcargo test x\t61.5\n").unwrap();
        let page = render_markdown(
            &[guard, converged, stuck],
            &times,
            &RunContext {
                commit: "abc123".into(),
                ..RunContext::default()
            },
        );
        assert_eq!(
            page.matches("## rollouts under faults").count(),
            1,
            "{page}"
        );
        assert_eq!(page.matches("## guard contention").count(), 1, "{page}");
        assert!(
            page.contains("| **total** | | 2 | 0 | 2 | 0 | 150 | 0 | | 1/2 | |"),
            "{page}"
        );
        assert!(page.contains("| **no** |"), "{page}");
        assert!(page.contains("a \\| b"), "{page}");
        assert!(
            page.contains("| guard contention | `cargo test x` | 62 |"),
            "{page}"
        );
        assert!(page.contains("`abc123`"), "{page}");
    }

    #[test]
    fn a_malformed_suite_time_is_an_error_naming_the_line() {
        let error = SuiteTime::parse_tsv("suite\tcommand\n")
            .unwrap_err()
            .to_string();
        assert!(error.contains("suite\\tcommand"), "{error}");
    }
}
