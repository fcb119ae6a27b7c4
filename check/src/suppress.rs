//! `# zdd:ignore ZDD013 reason text` on the line(s) directly before a block silences the named
//! rules inside that block. The reason is required; a malformed or misplaced directive is itself
//! reported (ZDD000) and silences nothing.

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::path::Path;

use hcl::edit::Span;
use hcl::edit::structure::Body;

use super::finding::{Finding, Severity, SuppressedFinding};
use super::rules::{self, INVALID_SUPPRESSION};
use super::source::{Position, Region, SourceFile};

const MARKER: &str = "zdd:ignore";

/// A valid directive: which rules, why, and the byte range of the block it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Directive {
    rule_ids: Vec<String>,
    reason: String,
    scope: Range<usize>,
}

/// Directives of one file, and the findings about malformed ones.
#[derive(Debug, Default)]
struct FileDirectives {
    directives: Vec<Directive>,
    problems: Vec<Finding>,
}

/// Splits `findings` into active and suppressed ones, and adds ZDD000 findings for malformed
/// directives in `files`.
pub fn apply(
    files: &[&SourceFile],
    findings: Vec<Finding>,
) -> (Vec<Finding>, Vec<SuppressedFinding>) {
    let per_file: HashMap<&Path, FileDirectives> = files
        .iter()
        .map(|file| (file.path.as_path(), collect(file)))
        .collect();
    let mut active = Vec::new();
    let mut suppressed = Vec::new();
    for finding in findings {
        let directive = per_file
            .get(finding.file.as_path())
            .into_iter()
            .flat_map(|found| &found.directives)
            .find(|directive| {
                directive.scope.contains(&finding.region.start_offset)
                    && directive.rule_ids.iter().any(|id| id == finding.rule_id)
            });
        match directive {
            Some(directive) => suppressed.push(SuppressedFinding {
                finding,
                reason: directive.reason.clone(),
            }),
            None => active.push(finding),
        }
    }
    active.extend(per_file.into_values().flat_map(|found| found.problems));
    (active, suppressed)
}

fn collect(file: &SourceFile) -> FileDirectives {
    let mut found = FileDirectives::default();
    let mut consumed_lines = HashSet::new();
    collect_in_body(file, &file.body, &mut found, &mut consumed_lines);
    // Directives that precede no block would silently do nothing: say so.
    for (index, line) in file.text.lines().enumerate() {
        let line_number = index + 1;
        if comment_text(line).is_some_and(|text| text.starts_with(MARKER))
            && !consumed_lines.contains(&line_number)
        {
            found.problems.push(problem(
                file,
                line_number,
                line,
                "`zdd:ignore` must be on the line directly before the block it silences",
            ));
        }
    }
    found
}

fn collect_in_body(
    file: &SourceFile,
    body: &Body,
    found: &mut FileDirectives,
    consumed_lines: &mut HashSet<usize>,
) {
    for block in body.blocks() {
        if let Some(scope) = block.span() {
            let block_line = file.lines.position(&file.text, scope.start).line;
            let mut line_number = block_line;
            while line_number > 1 {
                line_number -= 1;
                let Some(line) = file.lines.line_text(&file.text, line_number) else {
                    break;
                };
                let Some(comment) = comment_text(line) else {
                    break; // only the comment lines directly above the block count
                };
                if let Some(arguments) = comment.strip_prefix(MARKER) {
                    consumed_lines.insert(line_number);
                    match parse_arguments(arguments) {
                        Ok((rule_ids, reason)) => found.directives.push(Directive {
                            rule_ids,
                            reason,
                            scope: scope.clone(),
                        }),
                        Err(message) => {
                            found
                                .problems
                                .push(problem(file, line_number, line, &message))
                        }
                    }
                }
            }
        }
        collect_in_body(file, &block.body, found, consumed_lines);
    }
}

/// The text of a `#` or `//` comment line, trimmed; `None` for any other line.
fn comment_text(line: &str) -> Option<&str> {
    let trimmed = line.trim_start();
    trimmed
        .strip_prefix('#')
        .or_else(|| trimmed.strip_prefix("//"))
        .map(str::trim)
}

/// `ZDD013,ZDD010 reason text` → the rule ids and the reason.
fn parse_arguments(arguments: &str) -> Result<(Vec<String>, String), String> {
    let arguments = arguments.trim();
    let (ids, reason) = arguments
        .split_once(char::is_whitespace)
        .unwrap_or((arguments, ""));
    let rule_ids: Vec<String> = ids
        .split(',')
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
        .collect();
    if rule_ids.is_empty() {
        return Err("`zdd:ignore` names no rule: write `# zdd:ignore ZDDxxx <reason>`".to_owned());
    }
    if let Some(unknown) = rule_ids.iter().find(|id| rules::rule(id).is_none()) {
        return Err(format!("`zdd:ignore` names the unknown rule {unknown}"));
    }
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(format!(
            "`zdd:ignore {}` has no reason: say why the risk is acceptable",
            rule_ids.join(",")
        ));
    }
    Ok((rule_ids, reason.to_owned()))
}

fn problem(file: &SourceFile, line_number: usize, line: &str, message: &str) -> Finding {
    let indent = line.chars().take_while(|c| c.is_whitespace()).count();
    let start = Position {
        line: line_number,
        column: indent + 1,
    };
    let end = Position {
        line: line_number,
        column: line.chars().count() + 1,
    };
    let start_offset =
        file.lines.line_start(line_number).unwrap_or(0) + (line.len() - line.trim_start().len());
    Finding {
        rule_id: INVALID_SUPPRESSION,
        severity: rules::rule(INVALID_SUPPRESSION).map_or(Severity::Error, |rule| rule.severity),
        file: file.path.clone(),
        region: Region {
            start,
            end,
            start_offset,
        },
        subject: MARKER.to_owned(),
        message: message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_need_known_rules_and_a_reason() {
        assert_eq!(
            parse_arguments(" ZDD013 the ALB is not in service yet"),
            Ok((
                vec!["ZDD013".to_owned()],
                "the ALB is not in service yet".to_owned()
            ))
        );
        assert_eq!(
            parse_arguments(" ZDD010,ZDD011 legacy group").map(|(ids, _)| ids),
            Ok(vec!["ZDD010".to_owned(), "ZDD011".to_owned()])
        );
        assert!(parse_arguments(" ZDD013").is_err());
        assert!(parse_arguments(" ZDD999 because").is_err());
        assert!(parse_arguments("").is_err());
    }

    #[test]
    fn a_directive_before_a_nested_block_covers_only_that_block() {
        let text = r#"terraform {
  backend "s3" {
    bucket       = "b"
    encrypt      = true
    use_lockfile = true
  }
}

resource "aws_lb_target_group" "web" {
  deregistration_delay = 0

  // zdd:ignore ZDD020 the app serves its health on / by design
  health_check {
    path    = "/"
    matcher = "200"
  }
}
"#;
        let files = [(
            std::path::PathBuf::from("main.tf"),
            text.as_bytes().to_vec(),
        )];
        let report = crate::check_sources(std::path::Path::new("."), &files).unwrap();
        let active: Vec<&str> = report.findings.iter().map(|f| f.rule_id).collect();
        let suppressed: Vec<&str> = report
            .suppressed
            .iter()
            .map(|s| s.finding.rule_id)
            .collect();
        assert_eq!(active, vec!["ZDD021"]);
        assert_eq!(suppressed, vec!["ZDD020"]);
        assert_eq!(
            report.suppressed[0].reason,
            "the app serves its health on / by design"
        );
    }
}
