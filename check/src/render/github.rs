//! GitHub Actions workflow commands: one `::error`/`::warning` annotation per finding, which
//! GitHub shows on the lines of a pull request's diff. Values are escaped as the runner reads
//! them (actions/toolkit's `command.ts`): `%`, `\r`, `\n` in a message; those and `:`, `,` in a
//! property.

use std::fmt::Write as _;

use super::super::error::CheckError;
use super::super::finding::{Finding, Severity};
use super::super::report::Report;
use super::super::rules;
use super::{Settings, slash_path, text};

/// The annotations, then the text report's summary line (a plain log line, no command).
pub fn render(report: &Report, settings: &Settings<'_>) -> String {
    let mut out = String::new();
    for finding in report.at_or_above(settings.threshold) {
        out.push_str(&annotation(finding, settings.rules_url));
        out.push('\n');
    }
    out.push_str(&text::summary(report, settings.threshold));
    out
}

/// A parse error as an annotation on the place that could not be read, if known.
pub fn render_error(error: &CheckError) -> String {
    let mut properties = Vec::new();
    if let Some((file, line, column)) = error.location() {
        properties.push(("file", slash_path(file)));
        properties.push(("line", line.to_string()));
        properties.push(("col", column.to_string()));
    }
    properties.push(("title", "zdd-guard check".to_owned()));
    format!("{}\n", command("error", &properties, &error.to_string()))
}

fn annotation(finding: &Finding, rules_url: &str) -> String {
    let rule = rules::rule(finding.rule_id);
    let title = match rule {
        Some(rule) => format!("{} {}", finding.rule_id, rule.title),
        None => finding.rule_id.to_owned(),
    };
    let mut message = finding.message.clone();
    if let Some(rule) = rule {
        let _ = write!(
            message,
            "\nfix: {}\nsee: {}",
            rule.fix,
            rule.docs_url(rules_url)
        );
    }
    let properties = [
        ("file", slash_path(&finding.file)),
        ("line", finding.region.start.line.to_string()),
        ("col", finding.region.start.column.to_string()),
        ("endLine", finding.region.end.line.to_string()),
        ("endColumn", finding.region.end.column.to_string()),
        ("title", title),
    ];
    command(level(finding.severity), &properties, &message)
}

/// The workflow command for a severity; `notice` is GitHub's third level, which no rule uses.
fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

/// `::name key=value,...::message`, every part escaped.
pub fn command(name: &str, properties: &[(&str, String)], message: &str) -> String {
    let properties: Vec<String> = properties
        .iter()
        .map(|(key, value)| format!("{key}={}", escape_property(value)))
        .collect();
    if properties.is_empty() {
        format!("::{name}::{}", escape_data(message))
    } else {
        format!(
            "::{name} {}::{}",
            properties.join(","),
            escape_data(message)
        )
    }
}

/// A message: `%`, `\r`, `\n` percent-encoded (the runner decodes them back).
pub fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A property value: as a message, and `:` and `,`, which end a value.
pub fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_and_properties_are_escaped_as_the_runner_reads_them() {
        assert_eq!(escape_data("a\r\nb 5% c:d,e"), "a%0D%0Ab 5%25 c:d,e");
        assert_eq!(escape_property("a\nb 5% c:d,e"), "a%0Ab 5%25 c%3Ad%2Ce");
        assert_eq!(
            command(
                "warning",
                &[
                    ("file", "dir,x/a:b.tf".to_owned()),
                    ("line", "3".to_owned())
                ],
                "100% down\nnow"
            ),
            "::warning file=dir%2Cx/a%3Ab.tf,line=3::100%25 down%0Anow"
        );
        assert_eq!(command("notice", &[], "m"), "::notice::m");
    }
}
