//! Finds and parses the configuration: every `.tf` file of DIR, then of every local module
//! (`source = "./..."` or `"../..."`) reachable from it, each directory once.

use std::collections::{HashSet, VecDeque};
use std::fs;
use std::path::{Component, Path, PathBuf};

use hcl::edit::Span;

use super::error::CheckError;
use super::model::Module;
use super::source::{LineIndex, Position, SourceFile};

/// Loads the root module at `root` and every local module it calls, transitively.
pub fn load(root: &Path) -> Result<Vec<Module>, CheckError> {
    let root_files = tf_files(root)?;
    if root_files.is_empty() {
        return Err(CheckError::NoConfiguration {
            dir: root.to_path_buf(),
        });
    }
    let mut modules = Vec::new();
    let mut seen = HashSet::new();
    let mut queue = VecDeque::from([(normalize(root), true)]);
    seen.insert(canonical(root)?);
    while let Some((dir, is_root)) = queue.pop_front() {
        let mut files = Vec::new();
        for path in tf_files(&dir)? {
            let bytes = fs::read(&path).map_err(|source| CheckError::Io {
                path: path.clone(),
                source,
            })?;
            files.push(parse_file(path, &bytes)?);
        }
        for (file, source_path, span) in local_module_sources(&files) {
            let child = normalize(&dir.join(&source_path));
            let location = || file.lines.position(&file.text, span.start);
            let canonical_child = fs::canonicalize(&child).map_err(|error| {
                let at = location();
                CheckError::ModuleNotFound {
                    file: file.path.clone(),
                    line: at.line,
                    column: at.column,
                    source_path: source_path.clone(),
                    reason: error.to_string(),
                }
            })?;
            if !canonical_child.is_dir() {
                let at = location();
                return Err(CheckError::ModuleNotFound {
                    file: file.path.clone(),
                    line: at.line,
                    column: at.column,
                    source_path: source_path.clone(),
                    reason: "it is not a directory".to_owned(),
                });
            }
            if seen.insert(canonical_child) {
                queue.push_back((child, false));
            }
        }
        modules.push(Module {
            dir,
            is_root,
            files,
        });
    }
    Ok(modules)
}

/// Parses one file; a byte sequence that is not UTF-8 or not HCL is a located parse error.
pub fn parse_file(path: PathBuf, bytes: &[u8]) -> Result<SourceFile, CheckError> {
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(error) => {
            let valid =
                String::from_utf8_lossy(bytes.get(..error.valid_up_to()).unwrap_or_default())
                    .into_owned();
            let at = LineIndex::new(&valid).position(&valid, valid.len());
            return Err(CheckError::Parse {
                file: path,
                line: at.line,
                column: at.column,
                message: "the file is not valid UTF-8".to_owned(),
            });
        }
    };
    match hcl::edit::parser::parse_body(&text) {
        Ok(body) => Ok(SourceFile::new(path, text, body)),
        Err(error) => {
            let at = error_position(&text, error.location());
            Err(CheckError::Parse {
                file: path,
                line: at.line,
                column: at.column,
                message: error.message().to_owned(),
            })
        }
    }
}

/// Where a parse error is, counted as findings are. hcl-edit clamps an error at the end of the
/// input to the last byte and adds the difference to that line's column, so a truncated file
/// was reported past the end of its last line (`3:30` for a 28-character line ending in a
/// newline) instead of at the end of the file.
fn error_position(text: &str, location: &hcl::edit::parser::Location) -> Position {
    let lines = LineIndex::new(text);
    let at = lines.position(text, location.offset());
    let clamped_at_end = location.offset() + 1 >= text.len() && location.column() > at.column;
    if clamped_at_end {
        lines.position(text, text.len())
    } else {
        at
    }
}

/// `.tf` files directly in `dir`, sorted by name so output order is stable.
fn tf_files(dir: &Path) -> Result<Vec<PathBuf>, CheckError> {
    let entries = fs::read_dir(dir).map_err(|source| CheckError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| CheckError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = entry.path();
        let is_tf = path.extension().is_some_and(|extension| extension == "tf");
        if is_tf && path.is_file() {
            files.push(normalize(&path));
        }
    }
    files.sort();
    Ok(files)
}

/// `module` blocks whose `source` is a local path, with the span of the `source` value.
fn local_module_sources(
    files: &[SourceFile],
) -> Vec<(&SourceFile, String, std::ops::Range<usize>)> {
    let mut sources = Vec::new();
    for file in files {
        for block in file.body.get_blocks("module") {
            let Some(source) = block.body.get_attribute("source") else {
                continue;
            };
            let Some(path) = source.value.as_str() else {
                continue;
            };
            if path.starts_with("./") || path.starts_with("../") {
                let span = source.value.span().unwrap_or(0..0);
                sources.push((file, path.to_owned(), span));
            }
        }
    }
    sources
}

fn canonical(dir: &Path) -> Result<PathBuf, CheckError> {
    fs::canonicalize(dir).map_err(|source| CheckError::Io {
        path: dir.to_path_buf(),
        source,
    })
}

/// Removes `.` components and folds `dir/..` pairs, so findings show `modules/app/main.tf`
/// rather than `./envs/../modules/app/./main.tf`.
pub fn normalize(path: &Path) -> PathBuf {
    let mut parts: Vec<Component<'_>> = Vec::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => match parts.last() {
                Some(Component::Normal(_)) => {
                    parts.pop();
                }
                Some(Component::RootDir | Component::Prefix(_)) => {}
                _ => parts.push(component),
            },
            other => parts.push(other),
        }
    }
    if parts.is_empty() {
        return PathBuf::from(".");
    }
    parts.iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_folds_dots() {
        assert_eq!(
            normalize(Path::new("./envs/../modules/app/./main.tf")),
            PathBuf::from("modules/app/main.tf")
        );
        assert_eq!(
            normalize(Path::new("../shared/x.tf")),
            PathBuf::from("../shared/x.tf")
        );
        assert_eq!(normalize(Path::new(".")), PathBuf::from("."));
        assert_eq!(normalize(Path::new("/a/b/../c")), PathBuf::from("/a/c"));
    }

    /// Found by fuzzing: a file cut short was located past the end of its last line.
    #[test]
    fn a_truncated_file_is_located_at_its_end() {
        for (text, line, column) in [
            ("terraform {\n", 2, 1),
            ("terraform {", 1, 12),
            ("a = [\n  1,\n", 3, 1),
        ] {
            let error = parse_file(PathBuf::from("x.tf"), text.as_bytes()).unwrap_err();
            assert_eq!(
                error.location().map(|(_, l, c)| (l, c)),
                Some((line, column)),
                "{text:?}: {error}"
            );
        }
    }

    #[test]
    fn invalid_utf8_is_a_located_parse_error() {
        let error = parse_file(PathBuf::from("x.tf"), b"a = 1\nb = \"\xff\"\n").unwrap_err();
        assert!(
            matches!(
                error,
                CheckError::Parse {
                    line: 2,
                    column: 6,
                    ..
                }
            ),
            "{error:?}"
        );
    }
}
