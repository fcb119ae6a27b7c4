//! `scripts/reliability.sh` (`make reliability`, `make stress`): renders the records the hostile
//! suites published into `ZDD_RELIABILITY_DIR` as `RELIABILITY.md`.
//!
//! Usage: `zdd-reliability DIR OUT.md COMMIT MACHINE COMMAND DATE`; `DIR/suite-times.tsv`
//! (optional) holds the time each suite took.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use zdd_test_support::{Record, RunContext, SuiteTime, render_markdown};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("zdd-reliability: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, out, commit, machine, command, date] = args.as_slice() else {
        bail!("usage: zdd-reliability DIR OUT.md COMMIT MACHINE COMMAND DATE");
    };
    let dir = PathBuf::from(dir);
    let records = Record::read_dir(&dir)?;
    if records.is_empty() {
        bail!(
            "no records in {}: did the suites run with ZDD_RELIABILITY_DIR set?",
            dir.display()
        );
    }
    let times_path = dir.join("suite-times.tsv");
    let times = if times_path.exists() {
        let text = std::fs::read_to_string(&times_path)
            .with_context(|| format!("reading {}", times_path.display()))?;
        SuiteTime::parse_tsv(&text)?
    } else {
        Vec::new()
    };
    let context = RunContext {
        commit: commit.clone(),
        machine: machine.clone(),
        command: command.clone(),
        date: date.clone(),
    };
    std::fs::write(out, render_markdown(&records, &times, &context))
        .with_context(|| format!("writing {out}"))?;
    println!("{out}: {} records", records.len());
    Ok(())
}
