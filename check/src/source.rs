//! One parsed `.tf` file: its display path, its text, its syntax tree, and the mapping from byte
//! offsets to the 1-based line:column positions every finding carries.

use std::ops::Range;
use std::path::PathBuf;

use hcl::edit::structure::Body;

/// A 1-based line and column; columns count Unicode scalar values, as editors do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

/// Start and end of a finding in its file, with the start's byte offset for suppression scopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    pub start: Position,
    pub end: Position,
    pub start_offset: usize,
}

/// Maps byte offsets of one text to line:column positions.
#[derive(Debug, Clone)]
pub struct LineIndex {
    line_starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(text: &str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(offset, _)| offset + 1));
        Self { line_starts }
    }

    /// The 1-based position of `offset`; offsets past the end or inside a multi-byte character
    /// are clamped to the nearest character boundary before it.
    pub fn position(&self, text: &str, offset: usize) -> Position {
        let offset = floor_char_boundary(text, offset.min(text.len()));
        let line_index = match self.line_starts.binary_search(&offset) {
            Ok(exact) => exact,
            Err(next) => next.saturating_sub(1),
        };
        let line_start = self.line_starts.get(line_index).copied().unwrap_or(0);
        let column = text
            .get(line_start..offset)
            .map_or(0, |prefix| prefix.chars().count())
            + 1;
        Position {
            line: line_index + 1,
            column,
        }
    }

    /// The text of 1-based line `line`, without its line break; `None` past the end.
    pub fn line_text<'t>(&self, text: &'t str, line: usize) -> Option<&'t str> {
        let start = *self.line_starts.get(line.checked_sub(1)?)?;
        let end = self
            .line_starts
            .get(line)
            .map_or(text.len(), |next| next - 1);
        text.get(start..end)
            .map(|line| line.strip_suffix('\r').unwrap_or(line))
    }

    /// The byte offset where 1-based line `line` starts.
    pub fn line_start(&self, line: usize) -> Option<usize> {
        self.line_starts.get(line.checked_sub(1)?).copied()
    }
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while offset > 0 && !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// A parsed `.tf` file.
#[derive(Debug)]
pub struct SourceFile {
    /// The path shown in findings: relative to the working directory when DIR was relative.
    pub path: PathBuf,
    pub text: String,
    pub body: Body,
    pub lines: LineIndex,
}

impl SourceFile {
    pub fn new(path: PathBuf, text: String, body: Body) -> Self {
        let lines = LineIndex::new(&text);
        Self {
            path,
            text,
            body,
            lines,
        }
    }

    /// The region of a syntax node's byte span; a node without a span (never the case for parsed
    /// input) points at the start of the file rather than being dropped.
    pub fn region(&self, span: Option<Range<usize>>) -> Region {
        let span = span.unwrap_or(0..0);
        Region {
            start: self.lines.position(&self.text, span.start),
            end: self.lines.position(&self.text, span.end),
            start_offset: span.start,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_and_count_characters() {
        let text = "a = 1\nbé = \"x\"\n";
        let index = LineIndex::new(text);
        assert_eq!(index.position(text, 0), Position { line: 1, column: 1 });
        assert_eq!(index.position(text, 6), Position { line: 2, column: 1 });
        // "bé " is 4 bytes but 3 characters.
        assert_eq!(index.position(text, 10), Position { line: 2, column: 4 });
        assert_eq!(index.line_text(text, 2), Some("bé = \"x\""));
        assert_eq!(index.line_text(text, 4), None);
    }
}
