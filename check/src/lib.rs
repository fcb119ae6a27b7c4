//! `zdd-guard check`: static analysis of Terraform configuration for settings that cause
//! downtime during deploys, before they are applied. A library with no AWS dependency: the
//! guard's `check` subcommand calls [`run`].
//!
//! Layout: [`loader`] reads and parses files (the only I/O besides printing in [`run`]),
//! [`model`] gives the rules a view of one module, [`calls`] links the modules that call each
//! other (for rules that follow a value through `var.*` or `module.*`), [`rules`] holds the rule table and one module
//! per rule family, [`suppress`] handles `# zdd:ignore`, [`report`] ties them together and
//! [`render`] prints text, JSON, SARIF or GitHub annotations. Exit codes: 0 clean, 5 findings at or above
//! `--min-severity`, 6 the configuration could not be read or parsed: the numbers of zdd-guard's
//! exit-code contract (its "drift" and "error" rows), which a guard test ties to these constants.

pub mod calls;
pub mod error;
pub mod finding;
pub mod loader;
pub mod model;
pub mod render;
pub mod report;
pub mod rules;
pub mod source;
pub mod suppress;
pub mod value;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub use error::{CheckError, OutputError};
pub use finding::{Finding, Severity};
pub use render::Settings;
pub use report::Report;
pub use rules::DEFAULT_RULES_URL;

/// Exit code when no finding reaches the threshold.
pub const EXIT_CLEAN: u8 = 0;
/// Exit code when at least one finding reaches the threshold (the contract's "drift" row).
pub const EXIT_FINDINGS: u8 = 5;
/// Exit code when the configuration cannot be read or parsed (zdd-guard's own error).
pub const EXIT_PARSE_ERROR: u8 = 6;

/// Output format of `zdd-guard check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// `file:line:column: severity[RULE]: message`, then how to fix it.
    #[default]
    Text,
    /// A stable JSON document (see check/rules/README.md).
    Json,
    /// SARIF 2.1.0, for GitHub code scanning.
    Sarif,
    /// GitHub Actions annotations (`::error file=...,line=...::...`), on stderr like every
    /// annotation zdd-guard writes; stdout stays empty.
    Github,
}

/// Arguments of `zdd-guard check`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Exit codes: 0 clean, 5 findings at or above --min-severity, 6 parse error.\n\
Silence one rule for one block with `# zdd:ignore ZDDxxx <reason>` on the line before it.\n\
Rule links (text `see:`, JSON `docs`, SARIF `helpUri`, GitHub annotations) are \
<--rules-url>/<RULE>.md."
)]
pub struct CheckArgs {
    /// Directory holding the Terraform configuration (local modules are followed).
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Report (and fail on) findings of this severity and above.
    #[arg(long, value_enum, default_value_t = Severity::Warning)]
    pub min_severity: Severity,
    /// Base URL of the rule pages, e.g. a fork's or an internal mirror's copy of check/rules.
    #[arg(
        long,
        env = "ZDD_RULES_URL",
        value_name = "BASE",
        default_value = DEFAULT_RULES_URL,
        value_parser = parse_rules_url,
    )]
    pub rules_url: String,
}

/// A base URL: a scheme (`https://...`, `file:///...`) and no whitespace, so that SARIF's
/// `helpUri` stays a URI and every output prints the same link.
fn parse_rules_url(value: &str) -> Result<String, String> {
    let scheme = value.split_once("://").map_or("", |(scheme, _)| scheme);
    let scheme_ok = !scheme.is_empty()
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    if !scheme_ok || value.chars().any(char::is_whitespace) {
        return Err(format!(
            "`{value}` is not a URL: give the scheme, e.g. https://example.com/zdd/rules"
        ));
    }
    Ok(value.to_owned())
}

/// Reads, parses and analyses the configuration in `dir` and the local modules it calls.
pub fn check_dir(dir: &Path) -> Result<Report, CheckError> {
    let modules = loader::load(dir)?;
    Ok(report::analyze(&modules))
}

/// Analyses in-memory files as one root module (no module loading): for tests and fuzzing.
pub fn check_sources(dir: &Path, files: &[(PathBuf, Vec<u8>)]) -> Result<Report, CheckError> {
    let mut parsed = Vec::with_capacity(files.len());
    for (path, bytes) in files {
        parsed.push(loader::parse_file(path.clone(), bytes)?);
    }
    let module = model::Module {
        dir: dir.to_path_buf(),
        is_root: true,
        files: parsed,
    };
    Ok(report::analyze(std::slice::from_ref(&module)))
}

/// The exit code for a finished analysis.
pub fn exit_code(report: &Report, threshold: Severity) -> u8 {
    if report.at_or_above(threshold).next().is_some() {
        EXIT_FINDINGS
    } else {
        EXIT_CLEAN
    }
}

/// The rendered output of a finished analysis.
pub fn render(
    report: &Report,
    format: Format,
    settings: &Settings<'_>,
) -> Result<String, OutputError> {
    Ok(match format {
        Format::Text => render::text::render(report, settings),
        Format::Json => to_json(&render::json::render(report, settings))?,
        Format::Sarif => to_json(&render::sarif::render(report, settings))?,
        Format::Github => render::github::render(report, settings),
    })
}

fn to_json(value: &serde_json::Value) -> Result<String, OutputError> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    Ok(text)
}

/// Runs `check` and returns the process exit code (0 clean, 5 findings, 6 parse error); an
/// error only when the output cannot be written.
pub fn run(args: &CheckArgs) -> Result<ExitCode, OutputError> {
    let mut stdout = std::io::stdout().lock();
    let mut stderr = std::io::stderr().lock();
    let settings = Settings {
        threshold: args.min_severity,
        rules_url: &args.rules_url,
    };
    match check_dir(&args.dir) {
        Ok(report) => {
            let rendered = render(&report, args.format, &settings)?;
            // Annotations go to stderr (the runner reads workflow commands on both streams):
            // stdout only ever carries the report a script parses.
            match args.format {
                Format::Github => stderr.write_all(rendered.as_bytes())?,
                Format::Text | Format::Json | Format::Sarif => {
                    stdout.write_all(rendered.as_bytes())?
                }
            }
            Ok(ExitCode::from(exit_code(&report, args.min_severity)))
        }
        Err(error) => {
            match args.format {
                Format::Text => {}
                Format::Json => {
                    stdout.write_all(to_json(&render::json::render_error(&error))?.as_bytes())?
                }
                Format::Sarif => stdout.write_all(
                    to_json(&render::sarif::render_error(&error, &args.rules_url))?.as_bytes(),
                )?,
                Format::Github => {
                    stderr.write_all(render::github::render_error(&error).as_bytes())?
                }
            }
            stderr.write_all(render::text::render_error(&error).as_bytes())?;
            Ok(ExitCode::from(EXIT_PARSE_ERROR))
        }
    }
}
