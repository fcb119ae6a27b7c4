//! Human rendering of state differences: by resource address, then attribute, with `similar`
//! line diffs of the pretty-printed values. Colour is the caller's decision (only on a TTY).

use anstyle::{AnsiColor, Style};
use serde_json::Value;
use similar::{ChangeTag, TextDiff};

use super::snapshot::{AttributeChange, StateDiff};

const RED: Style = AnsiColor::Red.on_default();
const GREEN: Style = AnsiColor::Green.on_default();
const YELLOW: Style = AnsiColor::Yellow.on_default();

/// Renders `diff` as lines of text.
pub fn render_state_diff(diff: &StateDiff, colour: bool) -> String {
    let paint = |style: Style, text: &str| {
        if colour {
            format!("{style}{text}{style:#}")
        } else {
            text.to_string()
        }
    };
    let mut out = String::new();
    if diff.lineage_changed() {
        out.push_str(&format!(
            "lineage: {} -> {}\n",
            diff.lineage_before, diff.lineage_after
        ));
    }
    out.push_str(&format!(
        "serial: {} -> {}\n",
        diff.serial_before, diff.serial_after
    ));
    for address in &diff.added {
        out.push_str(&paint(GREEN, &format!("+ {address} (added)")));
        out.push('\n');
    }
    for address in &diff.removed {
        out.push_str(&paint(RED, &format!("- {address} (removed)")));
        out.push('\n');
    }
    for change in &diff.changed {
        out.push_str(&paint(YELLOW, &format!("~ {}", change.address)));
        out.push('\n');
        for attribute in &change.attributes {
            render_attribute(&mut out, attribute, &paint);
        }
    }
    if diff.is_empty() {
        out.push_str("no resource changed\n");
    }
    out
}

fn render_attribute(
    out: &mut String,
    change: &AttributeChange,
    paint: &dyn Fn(Style, &str) -> String,
) {
    if change.before.is_some() && change.before == change.after {
        // Only differences are rendered: equal sides mean the mask hid what changed.
        out.push_str(&format!("    {}: (sensitive value changed)\n", change.name));
        return;
    }
    let before = pretty(change.before.as_ref());
    let after = pretty(change.after.as_ref());
    if !before.contains('\n') && !after.contains('\n') {
        let before = change
            .before
            .as_ref()
            .map_or("(absent)".to_string(), |_| before);
        let after = change
            .after
            .as_ref()
            .map_or("(absent)".to_string(), |_| after);
        out.push_str(&format!(
            "    {}: {} -> {}\n",
            change.name,
            paint(RED, &before),
            paint(GREEN, &after)
        ));
        return;
    }
    out.push_str(&format!("    {}:\n", change.name));
    let text_diff = TextDiff::from_lines(&before, &after);
    for line in text_diff.iter_all_changes() {
        let text = line.value().trim_end_matches('\n');
        let rendered = match line.tag() {
            ChangeTag::Delete => paint(RED, &format!("      - {text}")),
            ChangeTag::Insert => paint(GREEN, &format!("      + {text}")),
            ChangeTag::Equal => format!("        {text}"),
        };
        out.push_str(&rendered);
        out.push('\n');
    }
}

fn pretty(value: Option<&Value>) -> String {
    match value {
        None => String::new(),
        Some(value) => serde_json::to_string_pretty(value).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::snapshot::{ResourceChange, SENSITIVE, StateDiff};

    fn sample() -> StateDiff {
        StateDiff {
            serial_before: 3,
            serial_after: 4,
            lineage_before: "L".into(),
            lineage_after: "L".into(),
            added: vec!["terraform_data.new".into()],
            removed: vec![],
            changed: vec![ResourceChange {
                address: "terraform_data.x".into(),
                attributes: vec![
                    AttributeChange {
                        name: "input".into(),
                        before: Some("a".into()),
                        after: Some("b".into()),
                    },
                    AttributeChange {
                        name: "tags".into(),
                        before: Some(serde_json::json!({"team": "a", "env": "prod"})),
                        after: Some(serde_json::json!({"team": "b", "env": "prod"})),
                    },
                ],
            }],
        }
    }

    #[test]
    fn renders_addresses_and_attribute_line_diffs() {
        let text = render_state_diff(&sample(), false);
        assert_eq!(
            text,
            "serial: 3 -> 4\n+ terraform_data.new (added)\n~ terraform_data.x\n    input: \"a\" -> \"b\"\n    tags:\n        {\n          \"env\": \"prod\",\n      -   \"team\": \"a\"\n      +   \"team\": \"b\"\n        }\n"
        );
    }

    #[test]
    fn a_masked_change_says_so_without_values() {
        let diff = StateDiff {
            changed: vec![ResourceChange {
                address: "t.x".into(),
                attributes: vec![
                    AttributeChange {
                        name: "password".into(),
                        before: Some(SENSITIVE.into()),
                        after: Some(SENSITIVE.into()),
                    },
                    AttributeChange {
                        name: "login".into(),
                        before: Some(serde_json::json!({"user": "a", "password": SENSITIVE})),
                        after: Some(serde_json::json!({"user": "b", "password": SENSITIVE})),
                    },
                ],
            }],
            ..sample()
        };
        let text = render_state_diff(&diff, false);
        assert!(
            text.contains("    password: (sensitive value changed)\n"),
            "{text}"
        );
        assert!(text.contains("-   \"user\": \"a\""), "{text}");
        assert!(text.contains("\"password\": \"(sensitive)\""), "{text}");
    }

    #[test]
    fn colour_only_when_asked() {
        assert!(!render_state_diff(&sample(), false).contains('\x1b'));
        assert!(render_state_diff(&sample(), true).contains("\x1b[32m+ "));
    }
}
