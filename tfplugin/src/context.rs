//! What every operation receives: diagnostics to add warnings to, the
//! cancellation token StopProvider cancels, and the resource's private state.

use std::fmt::Display;

use tokio_util::sync::CancellationToken;

use crate::diagnostics::{AttributePath, Diagnostic, Diagnostics};

/// The context of one provider operation.
#[derive(Debug)]
pub struct Ctx {
    /// Warnings (and errors) reported alongside the result.
    pub diagnostics: Diagnostics,
    cancel: CancellationToken,
    private: Vec<u8>,
}

impl Ctx {
    /// A context with the given cancellation token and private state.
    pub fn new(cancel: CancellationToken, private: Vec<u8>) -> Self {
        Ctx {
            diagnostics: Diagnostics::new(),
            cancel,
            private,
        }
    }

    /// Cancelled when Terraform calls StopProvider (the user pressed Ctrl-C).
    /// Long operations should `select!` on [`CancellationToken::cancelled`]
    /// and return what they achieved so far (see [`Failure::with_partial_state`]).
    pub fn cancellation(&self) -> &CancellationToken {
        &self.cancel
    }

    /// True once StopProvider was called.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// The resource's private state (opaque bytes Terraform stores beside the state).
    pub fn private_state(&self) -> &[u8] {
        &self.private
    }

    /// Replaces the private state that will be stored.
    pub fn set_private_state(&mut self, private: Vec<u8>) {
        self.private = private;
    }

    pub(crate) fn into_parts(self) -> (Diagnostics, Vec<u8>) {
        (self.diagnostics, self.private)
    }
}

/// A failed operation: its error diagnostics and, optionally, the state the
/// resource reached before failing (so Terraform saves progress).
#[derive(Debug, Clone, Default)]
pub struct Failure {
    /// The errors (and warnings).
    pub diagnostics: Diagnostics,
    pub(crate) partial_state: Option<serde_json::Value>,
}

impl Failure {
    /// A failure with one error diagnostic.
    pub fn error(summary: impl Into<String>, detail: impl Into<String>) -> Self {
        Failure::from(Diagnostic::error(summary, detail))
    }

    /// The failure saved the resource as it is now (e.g. created but not
    /// yet healthy, or interrupted half-way). Terraform stores this state
    /// (marked tainted after a failed create) instead of losing the resource.
    pub fn with_partial_state<S: serde::Serialize>(mut self, state: &S) -> Self {
        match serde_json::to_value(state) {
            Ok(json) => self.partial_state = Some(json),
            Err(error) => self
                .diagnostics
                .error("Partial state could not be encoded", error.to_string()),
        }
        self
    }

    /// Points the first diagnostic at an attribute.
    pub fn at(mut self, path: AttributePath) -> Self {
        let diagnostics = std::mem::take(&mut self.diagnostics);
        let mut first = true;
        self.diagnostics = diagnostics
            .into_iter()
            .map(|d| {
                if std::mem::take(&mut first) {
                    d.at(path.clone())
                } else {
                    d
                }
            })
            .collect();
        self
    }
}

impl From<Diagnostic> for Failure {
    fn from(diagnostic: Diagnostic) -> Self {
        Failure {
            diagnostics: diagnostic.into(),
            partial_state: None,
        }
    }
}

impl From<Diagnostics> for Failure {
    fn from(diagnostics: Diagnostics) -> Self {
        Failure {
            diagnostics,
            partial_state: None,
        }
    }
}

/// The result of an operation.
pub type Outcome<T> = Result<T, Failure>;

/// Turns any error into a [`Failure`] with a summary: `call().await.or_diag("Creating the group")?`.
pub trait OrDiag<T> {
    /// Maps the error to an error diagnostic with `summary` and the error's text as detail.
    fn or_diag(self, summary: &str) -> Outcome<T>;
}

impl<T, E: Display> OrDiag<T> for Result<T, E> {
    fn or_diag(self, summary: &str) -> Outcome<T> {
        self.map_err(|error| Failure::error(summary, error.to_string()))
    }
}
