//! `zdd-guard status NAME... [--watch] [--json]`: each fleet as AWS alone shows it
//! (generations, health per target group and generation, listener weights, phase, drain
//! countdowns, the capacity floor, the last events). No Terraform, no state.
//!
//! Exit codes: 0 when every name has groups; 6 (the guard's own error: a bad argument) when a
//! name has none, after showing the others, so a mistyped name fails a CI step instead of
//! passing with an empty view; 6 on an AWS error. `--watch` runs until Ctrl-C (exit 0) and
//! keeps watching a name with no groups yet (its first apply may create them); an AWS error
//! ends it only on the first look, later ones are said on stderr (once while they repeat) and
//! the next look comes at the next interval.

use std::io::{IsTerminal as _, Write as _};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anstream::ColorChoice;

use crate::aws::FleetReader;
use crate::core::limits::AwsTimeouts;
use crate::core::status::snapshot::FleetSnapshot;
use crate::core::status::{text, view, watch};
use crate::exit::Outcome;

/// The shortest `--interval`: each look is several AWS reads per fleet.
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, clap::Args)]
pub struct StatusArgs {
    /// The fleets' names (each `zdd_rollout`'s `name`, its groups' `zdd:rollout` tag).
    #[arg(required = true, num_args = 1..)]
    pub names: Vec<String>,
    /// Keep watching: on a terminal, draw the fleets again at every look; in a log or with
    /// --json, print them again whenever what they show changes (Ctrl-C ends).
    #[arg(long)]
    pub watch: bool,
    /// How often `--watch` reads AWS.
    #[arg(long, default_value = "5s", value_parser = zdd_duration::parse)]
    pub interval: Duration,
    /// One JSON document per look on stdout instead of text.
    #[arg(long)]
    pub json: bool,
    /// AWS region (else the standard chain: AWS_REGION, the profile).
    #[arg(long)]
    pub region: Option<String>,
}

pub async fn run(args: &StatusArgs) -> anyhow::Result<Outcome> {
    if args.watch && args.interval < MIN_INTERVAL {
        anyhow::bail!(
            "invalid --interval {}: must be at least {} (each look is several AWS reads)",
            zdd_duration::format(args.interval),
            zdd_duration::format(MIN_INTERVAL)
        );
    }
    let timeouts = AwsTimeouts::from_env(|name| std::env::var(name).ok())?;
    let reader = FleetReader::connect(args.region.as_deref(), &timeouts).await?;
    let mut names: Vec<&str> = Vec::new();
    for name in &args.names {
        if !names.contains(&name.as_str()) {
            names.push(name);
        }
    }
    if !args.watch {
        let view = look(&reader, &names).await?.1;
        print(&view, args.json, false)?;
        let missing = view.missing();
        if missing.is_empty() {
            return Ok(Outcome::Ok);
        }
        eprintln!(
            "zdd-guard: no Auto Scaling group is tagged zdd:rollout = {} in {}",
            missing.join(", "),
            reader.region().unwrap_or("this region")
        );
        return Ok(Outcome::Error);
    }
    let output = watch::Output::of(args.json, std::io::stdout().is_terminal());
    let mut watching = watch::Watch::default();
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        let looked = tokio::select! {
            _ = &mut ctrl_c => return Ok(Outcome::Ok),
            looked = look(&reader, &names) => looked,
        };
        match looked {
            Ok((snapshots, view)) => {
                if let watch::Shown::Print { again } = watching.answered(snapshots, output) {
                    print(&view, args.json, again)?;
                }
            }
            // Mid-drain throttling past the retries must not end the watch: only a first look
            // that fails does (nothing shown yet, likely a wrong region or credentials).
            Err(error) => match watching.failed(&format!("{error:#}")) {
                watch::Failed::End => return Err(error),
                watch::Failed::Say => {
                    eprintln!(
                        "zdd-guard: {error:#} (still watching; the view above is the last look that answered)"
                    );
                }
                watch::Failed::Quiet => {}
            },
        }
        tokio::select! {
            _ = &mut ctrl_c => return Ok(Outcome::Ok),
            () = tokio::time::sleep(args.interval) => {}
        }
    }
}

async fn look(
    reader: &FleetReader,
    names: &[&str],
) -> anyhow::Result<(Vec<FleetSnapshot>, view::StatusView)> {
    let mut snapshots = Vec::new();
    for name in names {
        snapshots.push(reader.read(name).await?);
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX)
        });
    let view = view::status(&snapshots, reader.region(), now);
    Ok((snapshots, view))
}

/// One look on stdout: a JSON document on one line, or the text (after a separator, or a
/// cleared screen on a terminal, when it follows an earlier look).
fn print(view: &view::StatusView, json: bool, again: bool) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    if json {
        serde_json::to_writer(&mut stdout, view)?;
        writeln!(stdout)?;
    } else {
        let terminal = std::io::stdout().is_terminal();
        let colour = anstream::AutoStream::choice(&std::io::stdout()) != ColorChoice::Never;
        if again {
            if terminal {
                write!(stdout, "\x1b[2J\x1b[H")?;
            } else {
                write!(stdout, "\n{}", text::separator(view.at))?;
            }
        }
        write!(stdout, "{}", text::render(view, colour))?;
    }
    stdout.flush()?;
    Ok(())
}
