//! Why `check` could not analyse a configuration (exit code 6), or could not print its result.

use std::path::PathBuf;

/// A failure to read or parse the configuration, with its location when it has one.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("{}:{line}:{column}: invalid HCL: {message}", file.display())]
    Parse {
        file: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{}:{line}:{column}: local module `{source_path}` not found ({reason})", file.display())]
    ModuleNotFound {
        file: PathBuf,
        line: usize,
        column: usize,
        source_path: String,
        reason: String,
    },
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no .tf files in {}", dir.display())]
    NoConfiguration { dir: PathBuf },
}

impl CheckError {
    /// File, line and column of the error, when it has a location.
    pub fn location(&self) -> Option<(&PathBuf, usize, usize)> {
        match self {
            CheckError::Parse {
                file, line, column, ..
            }
            | CheckError::ModuleNotFound {
                file, line, column, ..
            } => Some((file, *line, *column)),
            CheckError::Io { .. } | CheckError::NoConfiguration { .. } => None,
        }
    }

    /// A short machine-readable kind for JSON output.
    pub fn kind(&self) -> &'static str {
        match self {
            CheckError::Parse { .. } => "parse",
            CheckError::ModuleNotFound { .. } => "module_not_found",
            CheckError::Io { .. } => "io",
            CheckError::NoConfiguration { .. } => "no_configuration",
        }
    }
}

/// The output of `check` could not be produced or written (e.g. a closed stdout).
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error(transparent)]
    Write(#[from] std::io::Error),
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}
