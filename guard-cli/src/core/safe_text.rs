//! Text that AWS, Terraform or the provider wrote (tag values, names, phases, reasons), made safe
//! to print on a terminal: the one rule every view of the guard shows such text by.
//!
//! Control characters (escape sequences, newlines, carriage returns, C1 controls), Unicode line
//! and paragraph separators and invisible or bidirectional formatting characters are shown
//! escaped (`\u{1b}`, `\u{202e}`): a value must not move the cursor, recolour the terminal, end
//! a line early or reorder what follows it (a "Trojan Source" override).

/// `text`, every character that could change how a terminal shows it escaped.
pub fn clean(text: &str) -> String {
    clean_at_most(text, usize::MAX)
}

/// [`clean`], cut after `max_chars` characters of `text` ("..." marks the cut).
pub fn clean_at_most(text: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max_chars.saturating_add(3)));
    for (count, c) in text.chars().enumerate() {
        if count == max_chars {
            out.push_str("...");
            break;
        }
        if c.is_control() || is_invisible_format(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Characters that change how a line displays without showing themselves: bidirectional
/// controls (U+061C, U+200E/F, U+202A-202E, U+2066-2069), zero-width ones (U+200B-200D,
/// U+2060-2064, U+FEFF), line and paragraph separators (U+2028/2029).
fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{061C}'
            | '\u{200B}'..='\u{200F}'
            | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{2069}'
            | '\u{FEFF}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_text_is_left_alone() {
        let text = "canary_step 2/4 25% (p99 1.2x, ünïcode ✓, 日本語, emoji 🚀)";
        assert_eq!(clean(text), text);
    }

    #[test]
    fn controls_separators_and_bidi_overrides_are_escaped() {
        for (raw, shown) in [
            ("a\u{1b}[2Jb", "a\\u{1b}[2Jb"),
            ("a\nb\rc\td", "a\\nb\\rc\\td"),
            ("c1 \u{9b}31m", "c1 \\u{9b}31m"),
            ("admin\u{202E}gpj.exe", "admin\\u{202e}gpj.exe"),
            ("\u{2066}isolate\u{2069}", "\\u{2066}isolate\\u{2069}"),
            ("zero\u{200B}width\u{FEFF}", "zero\\u{200b}width\\u{feff}"),
            ("line\u{2028}para\u{2029}", "line\\u{2028}para\\u{2029}"),
            ("arabic mark \u{061C}", "arabic mark \\u{61c}"),
        ] {
            let cleaned = clean(raw);
            assert_eq!(cleaned, shown, "{raw:?}");
            assert!(
                cleaned
                    .chars()
                    .all(|c| !c.is_control() && !is_invisible_format(c)),
                "{cleaned:?}"
            );
        }
    }

    #[test]
    fn a_long_text_is_cut_only_when_asked() {
        let long = "x".repeat(300);
        assert_eq!(clean(&long), long);
        let cut = clean_at_most(&long, 200);
        assert_eq!(cut, format!("{}...", "x".repeat(200)));
        assert_eq!(clean_at_most("short", 200), "short");
        // Cut by characters, never inside one.
        assert_eq!(clean_at_most("ééé", 2), "éé...");
    }
}
