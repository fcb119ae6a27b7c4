//! Which backend a Terraform working directory uses, and whether it locks its state.
//!
//! Sources, in order: `.terraform/terraform.tfstate` written by `terraform init` (it includes
//! `-backend-config` values), else the `terraform { backend "..." {} }` block of the `*.tf` files.
//! Pure: callers read the files and pass their contents in.

use serde_json::{Map, Value};

/// A parse or resolution failure, with enough context to fix the input.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("{source_name}: not valid JSON: {message}")]
    InitStateJson {
        source_name: String,
        message: String,
    },
    #[error("{source_name}: not valid HCL: {message}")]
    Hcl {
        source_name: String,
        message: String,
    },
    #[error("{source_name}: backend \"{kind}\" is malformed: {message}")]
    Malformed {
        source_name: String,
        kind: String,
        message: String,
    },
    #[error("more than one backend block ({first} and {second}); Terraform allows one")]
    Duplicate { first: String, second: String },
}

/// The backend in use.
#[derive(Debug, Clone, PartialEq)]
pub enum Backend {
    /// No backend block, or `backend "local"`: state in a local file, no shared locking.
    Local,
    S3(S3Backend),
    /// Any other backend type: zdd-guard does not know how to watch or lease it.
    Other {
        kind: String,
    },
}

/// The parts of an S3 backend configuration zdd-guard needs.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct S3Backend {
    pub bucket: String,
    pub key: String,
    pub region: Option<String>,
    pub dynamodb_table: Option<String>,
    pub use_lockfile: bool,
    pub encrypt: bool,
    pub workspace_key_prefix: Option<String>,
    pub s3_endpoint: Option<String>,
    pub dynamodb_endpoint: Option<String>,
    pub use_path_style: bool,
}

impl S3Backend {
    /// The S3 key of the state for `workspace`, as Terraform's S3 backend computes it.
    pub fn state_key(&self, workspace: &str) -> String {
        if workspace == "default" {
            return self.key.clone();
        }
        let prefix = self.workspace_key_prefix.as_deref().unwrap_or("env:");
        format!("{prefix}/{workspace}/{}", self.key)
    }

    /// `LockID` of Terraform's DynamoDB lock item for `state_key`.
    pub fn lock_id(&self, state_key: &str) -> String {
        format!("{}/{}", self.bucket, state_key)
    }

    /// `LockID` of the item holding the MD5 digest of the state.
    pub fn digest_id(&self, state_key: &str) -> String {
        format!("{}/{}-md5", self.bucket, state_key)
    }
}

/// How a run will be protected.
#[derive(Debug, Clone, PartialEq)]
pub enum Locking {
    /// S3 with Terraform locking through DynamoDB, an S3 lockfile, or both.
    S3 { dynamodb: bool, lockfile: bool },
    /// `--allow-unlocked` on a backend without locking.
    Unlocked,
}

/// Why a backend is refused, with how to fix it.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub reason: String,
    pub fix: String,
}

/// Parses `.terraform/terraform.tfstate`. `Ok(None)` when it records no backend.
pub fn from_init_state(source_name: &str, json: &str) -> Result<Option<Backend>, BackendError> {
    let value: Value = serde_json::from_str(json).map_err(|e| BackendError::InitStateJson {
        source_name: source_name.to_string(),
        message: e.to_string(),
    })?;
    let Some(backend) = value.get("backend").filter(|b| !b.is_null()) else {
        return Ok(None);
    };
    let kind =
        backend
            .get("type")
            .and_then(Value::as_str)
            .ok_or_else(|| BackendError::Malformed {
                source_name: source_name.to_string(),
                kind: "?".to_string(),
                message: "`backend.type` is missing or not a string".to_string(),
            })?;
    let empty = Map::new();
    let config = backend
        .get("config")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    backend_from_config(source_name, kind, config).map(Some)
}

/// Finds the backend block among `(file name, contents)` pairs of `*.tf` files.
/// No backend block at all means the local backend.
pub fn from_tf_files(files: &[(String, String)]) -> Result<Backend, BackendError> {
    let mut found: Option<(String, Backend)> = None;
    for (name, contents) in files {
        let body: Value = hcl::from_str(contents).map_err(|e| BackendError::Hcl {
            source_name: name.clone(),
            message: e.to_string(),
        })?;
        for terraform_block in as_list(body.get("terraform")) {
            for backends in as_list(terraform_block.get("backend")) {
                let Some(backends) = backends.as_object() else {
                    continue;
                };
                for (kind, config) in backends {
                    let config = first_object(config).ok_or_else(|| BackendError::Malformed {
                        source_name: name.clone(),
                        kind: kind.clone(),
                        message: "expected a block".to_string(),
                    })?;
                    let backend = backend_from_config(name, kind, config)?;
                    let here = format!("{name}: backend \"{kind}\"");
                    if let Some((first, _)) = &found {
                        return Err(BackendError::Duplicate {
                            first: first.clone(),
                            second: here,
                        });
                    }
                    found = Some((here, backend));
                }
            }
        }
    }
    Ok(found.map_or(Backend::Local, |(_, backend)| backend))
}

/// Decides how the run is protected, or refuses with how to fix it.
pub fn locking(backend: &Backend, allow_unlocked: bool) -> Result<Locking, Refusal> {
    let refusal = match backend {
        Backend::S3(s3) if s3.dynamodb_table.is_some() || s3.use_lockfile => {
            return Ok(Locking::S3 {
                dynamodb: s3.dynamodb_table.is_some(),
                lockfile: s3.use_lockfile,
            });
        }
        Backend::S3(s3) => Refusal {
            reason: format!(
                "the S3 backend for s3://{}/{} has neither `use_lockfile` nor `dynamodb_table`, \
                 so two applies can interleave",
                s3.bucket, s3.key
            ),
            fix:
                "add `use_lockfile = true` (Terraform >= 1.10) to the backend \"s3\" block and run \
                  `terraform init -reconfigure`, or pass --allow-unlocked"
                    .to_string(),
        },
        Backend::Local => Refusal {
            reason: "the state is local (no backend block): CI jobs cannot share or lock it"
                .to_string(),
            fix: "configure `terraform { backend \"s3\" { bucket = ..., key = ..., \
                  use_lockfile = true } }` and run `terraform init -migrate-state`, or pass \
                  --allow-unlocked"
                .to_string(),
        },
        Backend::Other { kind } => Refusal {
            reason: format!("backend \"{kind}\" is not supported by zdd-guard (only \"s3\")"),
            fix: "use the S3 backend with locking, or pass --allow-unlocked to run terraform \
                  without the guard's lease and watch"
                .to_string(),
        },
    };
    if allow_unlocked {
        Ok(Locking::Unlocked)
    } else {
        Err(refusal)
    }
}

/// Warnings about an accepted backend (not refusals).
pub fn warnings(backend: &S3Backend) -> Vec<String> {
    let mut warnings = Vec::new();
    if !backend.encrypt {
        warnings.push(format!(
            "the S3 backend for s3://{}/{} does not set `encrypt = true`",
            backend.bucket, backend.key
        ));
    }
    warnings
}

fn backend_from_config(
    source_name: &str,
    kind: &str,
    config: &Map<String, Value>,
) -> Result<Backend, BackendError> {
    let malformed = |message: String| BackendError::Malformed {
        source_name: source_name.to_string(),
        kind: kind.to_string(),
        message,
    };
    match kind {
        "local" => Ok(Backend::Local),
        "s3" => {
            let text = |name: &str| -> Result<Option<String>, BackendError> {
                match config.get(name) {
                    None | Some(Value::Null) => Ok(None),
                    Some(Value::String(s)) if s.is_empty() => Ok(None),
                    Some(Value::String(s)) => Ok(Some(s.clone())),
                    Some(other) => {
                        Err(malformed(format!("`{name}` must be a string, got {other}")))
                    }
                }
            };
            let flag = |name: &str| -> Result<bool, BackendError> {
                match config.get(name) {
                    None | Some(Value::Null) => Ok(false),
                    Some(Value::Bool(b)) => Ok(*b),
                    Some(Value::String(s)) if s == "true" || s == "false" => Ok(s == "true"),
                    Some(other) => Err(malformed(format!("`{name}` must be a bool, got {other}"))),
                }
            };
            let required = |name: &str| -> Result<String, BackendError> {
                text(name)?.ok_or_else(|| malformed(format!("`{name}` is required")))
            };
            let endpoints = match config.get("endpoints") {
                None | Some(Value::Null) => Map::new(),
                Some(value) => first_object(value)
                    .cloned()
                    .ok_or_else(|| malformed("`endpoints` must be an object".to_string()))?,
            };
            let endpoint = |name: &str| {
                endpoints
                    .get(name)
                    .and_then(Value::as_str)
                    .map(str::to_string)
            };
            Ok(Backend::S3(S3Backend {
                bucket: required("bucket")?,
                key: required("key")?,
                region: text("region")?,
                dynamodb_table: text("dynamodb_table")?,
                use_lockfile: flag("use_lockfile")?,
                encrypt: flag("encrypt")?,
                workspace_key_prefix: text("workspace_key_prefix")?,
                s3_endpoint: endpoint("s3").or(text("endpoint")?),
                dynamodb_endpoint: endpoint("dynamodb").or(text("dynamodb_endpoint")?),
                use_path_style: flag("use_path_style")? || flag("force_path_style")?,
            }))
        }
        other => Ok(Backend::Other {
            kind: other.to_string(),
        }),
    }
}

/// hcl-rs turns repeated blocks into arrays; a single block is an object.
fn as_list(value: Option<&Value>) -> Vec<&Value> {
    match value {
        None => Vec::new(),
        Some(Value::Array(items)) => items.iter().collect(),
        Some(other) => vec![other],
    }
}

fn first_object(value: &Value) -> Option<&Map<String, Value>> {
    match value {
        Value::Object(map) => Some(map),
        Value::Array(items) => items.first().and_then(Value::as_object),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tf(contents: &str) -> Vec<(String, String)> {
        vec![("main.tf".to_string(), contents.to_string())]
    }

    #[test]
    fn init_state_with_dynamodb_and_endpoints() {
        let json = r#"{"version":3,"backend":{"type":"s3","config":{
            "bucket":"tfstate","key":"app/terraform.tfstate","region":"us-east-1",
            "dynamodb_table":"locks","use_lockfile":null,"encrypt":true,
            "endpoints":{"s3":"http://127.0.0.1:5000","dynamodb":"http://127.0.0.1:5001"},
            "use_path_style":true},"hash":1}}"#;
        let Some(Backend::S3(s3)) = from_init_state("x", json).unwrap() else {
            panic!()
        };
        assert_eq!(s3.bucket, "tfstate");
        assert_eq!(s3.dynamodb_table.as_deref(), Some("locks"));
        assert!(!s3.use_lockfile && s3.encrypt && s3.use_path_style);
        assert_eq!(s3.s3_endpoint.as_deref(), Some("http://127.0.0.1:5000"));
        assert_eq!(
            s3.dynamodb_endpoint.as_deref(),
            Some("http://127.0.0.1:5001")
        );
        assert_eq!(
            s3.lock_id(&s3.state_key("default")),
            "tfstate/app/terraform.tfstate"
        );
        assert_eq!(s3.digest_id("k"), "tfstate/k-md5");
    }

    #[test]
    fn init_state_without_backend_is_none() {
        assert_eq!(from_init_state("x", r#"{"version":3}"#).unwrap(), None);
    }

    #[test]
    fn malformed_init_state_is_a_clear_error() {
        let error = from_init_state("x", "{not json").unwrap_err().to_string();
        assert!(error.contains("not valid JSON"), "{error}");
        let error = from_init_state("x", r#"{"backend":{"config":{}}}"#)
            .unwrap_err()
            .to_string();
        assert!(error.contains("backend.type"), "{error}");
    }

    #[test]
    fn hcl_backend_block_with_lockfile() {
        let backend = from_tf_files(&tf(r#"
            terraform {
              required_version = ">= 1.10"
              backend "s3" {
                bucket = "b"
                key = "k"
                use_lockfile = true
                endpoints = { s3 = "http://127.0.0.1:1" }
              }
            }
            resource "terraform_data" "x" {}
        "#))
        .unwrap();
        let Backend::S3(s3) = &backend else {
            panic!("{backend:?}")
        };
        assert!(s3.use_lockfile);
        assert_eq!(s3.s3_endpoint.as_deref(), Some("http://127.0.0.1:1"));
        assert_eq!(
            locking(&backend, false),
            Ok(Locking::S3 {
                dynamodb: false,
                lockfile: true
            })
        );
        assert_eq!(warnings(s3).len(), 1);
    }

    #[test]
    fn no_backend_block_is_local_and_refused() {
        let backend = from_tf_files(&tf(r#"resource "terraform_data" "x" {}"#)).unwrap();
        assert_eq!(backend, Backend::Local);
        let refusal = locking(&backend, false).unwrap_err();
        assert!(refusal.fix.contains("--allow-unlocked"));
        assert_eq!(locking(&backend, true), Ok(Locking::Unlocked));
    }

    #[test]
    fn s3_without_locking_is_refused_with_a_fix() {
        let backend = from_tf_files(&tf(
            "terraform {\n backend \"s3\" {\n bucket = \"b\"\n key = \"k\"\n }\n}",
        ))
        .unwrap();
        let refusal = locking(&backend, false).unwrap_err();
        assert!(refusal.reason.contains("neither"), "{}", refusal.reason);
        assert!(refusal.fix.contains("use_lockfile = true"));
    }

    #[test]
    fn malformed_backend_blocks_are_clear_errors() {
        let error = from_tf_files(&tf("terraform {\n backend \"s3\" {\n key = \"k\"\n }\n}"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("`bucket` is required"), "{error}");
        let error = from_tf_files(&tf(
            "terraform {\n backend \"s3\" {\n bucket = 3\n key = \"k\"\n }\n}",
        ))
        .unwrap_err()
        .to_string();
        assert!(error.contains("must be a string"), "{error}");
        let error = from_tf_files(&tf("terraform { backend \"s3\" {"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("not valid HCL"), "{error}");
    }

    #[test]
    fn two_backend_blocks_are_refused() {
        let files = vec![
            (
                "a.tf".to_string(),
                "terraform {\n backend \"s3\" {\n bucket = \"b\"\n key = \"k\"\n }\n}".to_string(),
            ),
            (
                "b.tf".to_string(),
                "terraform {\n backend \"local\" {}\n}".to_string(),
            ),
        ];
        assert!(matches!(
            from_tf_files(&files),
            Err(BackendError::Duplicate { .. })
        ));
    }

    #[test]
    fn workspace_keys_follow_terraform() {
        let s3 = S3Backend {
            bucket: "b".into(),
            key: "k.tfstate".into(),
            ..Default::default()
        };
        assert_eq!(s3.state_key("default"), "k.tfstate");
        assert_eq!(s3.state_key("staging"), "env:/staging/k.tfstate");
    }
}
