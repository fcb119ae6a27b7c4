//! Which backend a Terraform working directory uses, and whether it locks its state.
//!
//! Sources, in order: `.terraform/terraform.tfstate` written by `terraform init` (it includes
//! `-backend-config` values), else the `terraform { backend "..." {} }` block of the `*.tf` files.
//! Pure: callers read the files and pass their contents in.

use std::collections::BTreeMap;
use std::time::Duration;

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
    /// A setting that changes how Terraform reads or writes the state, which the guard cannot
    /// do the same way: refused, so that the guard never reads or locks another state.
    #[error(
        "the S3 backend uses {setting}, which zdd-guard cannot honour: {why}; zdd-guard refuses \
         to run rather than read or lock the state differently from Terraform"
    )]
    Unsupported { setting: String, why: String },
}

/// The backend in use.
// One value per command, moved once: boxing the large variant would buy nothing.
#[allow(clippy::large_enum_variant)]
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
    pub sts_endpoint: Option<String>,
    /// `sts_region`: the region of STS calls (AssumeRole), else the backend's region.
    pub sts_region: Option<String>,
    pub use_path_style: bool,
    pub use_fips_endpoint: bool,
    pub use_dualstack_endpoint: bool,
    /// `skip_s3_checksum`: send no checksums with S3 writes (S3-compatible stores without them).
    pub skip_s3_checksum: bool,
    /// The backend's credentials, as Terraform uses them (see [`Credentials`]).
    pub credentials: Credentials,
    /// `assume_role { role_arn ... }` (or the older top-level `role_arn`).
    pub assume_role: Option<AssumeRole>,
    /// Settings the guard cannot honour, as Terraform names them with why: refused by
    /// [`refuse_unsupported`].
    pub unsupported: Vec<(String, String)>,
}

/// A credential from the backend block: never printed (`Debug` shows `(sensitive)`).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("(sensitive)")
    }
}

/// Where the backend's base credentials come from, in Terraform's order: static keys in the
/// block, else the named `profile` (which wins over environment credentials, as in Terraform),
/// else the default chain (environment, shared files, web identity, container, instance).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Credentials {
    pub access_key: Option<Secret>,
    pub secret_key: Option<Secret>,
    pub token: Option<Secret>,
    pub profile: Option<String>,
    pub shared_config_files: Vec<String>,
    pub shared_credentials_files: Vec<String>,
}

/// Where the base credentials come from, resolved from [`Credentials`] (see
/// [`Credentials::source`]); the AWS layer follows it and decides nothing itself.
#[derive(Debug, Clone, PartialEq)]
pub enum CredentialSource<'a> {
    /// `access_key` and `secret_key` (and `token`, if given) from the backend block.
    Static {
        access_key: &'a Secret,
        secret_key: &'a Secret,
        token: Option<&'a Secret>,
    },
    /// The backend's `profile`, from the shared files.
    Profile(&'a str),
    /// The SDK's default chain.
    DefaultChain,
}

impl Credentials {
    /// The source Terraform uses: static keys, else `profile`, else the default chain. Only
    /// one of `access_key` / `secret_key` is refused rather than silently falling through to
    /// other credentials than Terraform's.
    pub fn source(&self) -> Result<CredentialSource<'_>, String> {
        match (&self.access_key, &self.secret_key) {
            (Some(access_key), Some(secret_key)) => Ok(CredentialSource::Static {
                access_key,
                secret_key,
                token: self.token.as_ref(),
            }),
            (Some(_), None) => Err(HALF_KEYS
                .replace("{given}", "access_key")
                .replace("{missing}", "secret_key")),
            (None, Some(_)) => Err(HALF_KEYS
                .replace("{given}", "secret_key")
                .replace("{missing}", "access_key")),
            (None, None) => Ok(match &self.profile {
                Some(profile) => CredentialSource::Profile(profile),
                None => CredentialSource::DefaultChain,
            }),
        }
    }
}

const HALF_KEYS: &str = "`{given}` is set without `{missing}`: set both (static credentials) or \
     neither (profile or default credentials); zdd-guard does not guess which credentials \
     Terraform uses";

/// The role the backend assumes with its base credentials (STS AssumeRole).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AssumeRole {
    pub role_arn: String,
    pub session_name: Option<String>,
    pub external_id: Option<String>,
    pub duration: Option<Duration>,
    pub policy: Option<String>,
    pub policy_arns: Vec<String>,
    pub tags: BTreeMap<String, String>,
}

/// Refuses a backend whose settings the guard cannot honour, and SSE-C given to Terraform
/// through the environment (`AWS_SSE_CUSTOMER_KEY`). `env` looks up environment variables.
pub fn refuse_unsupported(
    backend: &S3Backend,
    env: impl Fn(&str) -> Option<String>,
) -> Result<(), BackendError> {
    if let Some((setting, why)) = backend.unsupported.first() {
        return Err(BackendError::Unsupported {
            setting: format!("`{setting}`"),
            why: why.clone(),
        });
    }
    if env("AWS_SSE_CUSTOMER_KEY").is_some_and(|key| !key.is_empty()) {
        return Err(BackendError::Unsupported {
            setting: "SSE-C through the environment variable AWS_SSE_CUSTOMER_KEY".to_string(),
            why: SSE_C_WHY.to_string(),
        });
    }
    Ok(())
}

const SSE_C_WHY: &str = "with SSE-C (a customer-provided key) every read of the state needs the \
     key, which the guard does not pass; use SSE-KMS (`kms_key_id`) or SSE-S3 (`encrypt = true`)";

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
            let secret = |name: &str| Ok::<_, BackendError>(text(name)?.map(Secret));
            let credentials = Credentials {
                access_key: secret("access_key")?,
                secret_key: secret("secret_key")?,
                token: secret("token")?,
                profile: text("profile")?,
                shared_config_files: string_list(config, "shared_config_files")
                    .map_err(&malformed)?,
                shared_credentials_files: string_list(config, "shared_credentials_files")
                    .map_err(&malformed)?,
            };
            credentials.source().map_err(&malformed)?;
            let mut unsupported = Vec::new();
            if text("sse_customer_key")?.is_some() {
                unsupported.push(("sse_customer_key".to_string(), SSE_C_WHY.to_string()));
            }
            if present(config.get("assume_role_with_web_identity")) {
                unsupported.push((
                    "assume_role_with_web_identity".to_string(),
                    "the guard assumes roles with AssumeRole only; set AWS_ROLE_ARN and \
                     AWS_WEB_IDENTITY_TOKEN_FILE in the environment instead (both Terraform and \
                     the guard read them)"
                        .to_string(),
                ));
            }
            if text("custom_ca_bundle")?.is_some() {
                unsupported.push((
                    "custom_ca_bundle".to_string(),
                    "set AWS_CA_BUNDLE in the environment instead".to_string(),
                ));
            }
            for name in ["http_proxy", "https_proxy"] {
                if text(name)?.is_some() {
                    unsupported.push((
                        name.to_string(),
                        "the guard's AWS calls do not go through a proxy".to_string(),
                    ));
                }
            }
            if flag("insecure")? {
                unsupported.push((
                    "insecure".to_string(),
                    "the guard always verifies TLS certificates; set AWS_CA_BUNDLE in the \
                     environment to trust the endpoint's certificate instead"
                        .to_string(),
                ));
            }
            let assume_role = assume_role(config, &mut unsupported).map_err(&malformed)?;
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
                sts_endpoint: endpoint("sts").or(text("sts_endpoint")?),
                sts_region: text("sts_region")?,
                use_path_style: flag("use_path_style")? || flag("force_path_style")?,
                use_fips_endpoint: flag("use_fips_endpoint")?,
                use_dualstack_endpoint: flag("use_dualstack_endpoint")?,
                skip_s3_checksum: flag("skip_s3_checksum")?,
                credentials,
                assume_role,
                unsupported,
            }))
        }
        other => Ok(Backend::Other {
            kind: other.to_string(),
        }),
    }
}

/// Whether a setting is given at all (init state records unset ones as `null`).
fn present(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => false,
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(items)) => !items.is_empty(),
        Some(Value::Object(map)) => !map.is_empty(),
        Some(_) => true,
    }
}

fn string_list(config: &Map<String, Value>, name: &str) -> Result<Vec<String>, String> {
    match config.get(name) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("`{name}` must be a list of strings, got {item}"))
            })
            .collect(),
        Some(other) => Err(format!("`{name}` must be a list of strings, got {other}")),
    }
}

/// `assume_role = { role_arn = ..., ... }` (also written as a block), or the older (before
/// Terraform 1.6) top-level `role_arn`, `session_name`, `external_id`,
/// `assume_role_duration_seconds`, `assume_role_policy`, `assume_role_policy_arns`,
/// `assume_role_tags`. Parts the guard cannot pass on are added to `unsupported`.
fn assume_role(
    config: &Map<String, Value>,
    unsupported: &mut Vec<(String, String)>,
) -> Result<Option<AssumeRole>, String> {
    let nested = match config.get("assume_role") {
        None | Some(Value::Null) => None,
        Some(value) => Some(
            first_object(value)
                .ok_or_else(|| "`assume_role` must be an object".to_string())?
                .clone(),
        ),
    };
    // A setting's key in `source` and its name for messages; `None` when the older form has
    // no such setting.
    let key = |nested_name: &str| -> Option<(String, String)> {
        if nested.is_some() {
            return Some((
                nested_name.to_string(),
                format!("assume_role.{nested_name}"),
            ));
        }
        let legacy = match nested_name {
            "role_arn" | "session_name" | "external_id" => nested_name,
            "duration" => "assume_role_duration_seconds",
            "policy" => "assume_role_policy",
            "policy_arns" => "assume_role_policy_arns",
            "tags" => "assume_role_tags",
            "transitive_tag_keys" => "assume_role_transitive_tag_keys",
            _ => return None,
        };
        Some((legacy.to_string(), legacy.to_string()))
    };
    let source = nested.as_ref().unwrap_or(config);
    let text = |nested_name: &str| -> Result<Option<String>, String> {
        let Some((key, full)) = key(nested_name) else {
            return Ok(None);
        };
        match source.get(&key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(format!("`{full}` must be a string, got {other}")),
        }
    };
    let Some(role_arn) = text("role_arn")? else {
        if nested.is_some() {
            return Err("`assume_role.role_arn` is required".to_string());
        }
        return Ok(None);
    };
    let duration = if nested.is_some() {
        match text("duration")? {
            None => None,
            // Terraform reads it with Go's time.ParseDuration: so does zdd_duration.
            Some(duration) => Some(zdd_duration::parse(&duration).map_err(|e| {
                format!("`assume_role.duration` {duration:?} is not a duration ({e})")
            })?),
        }
    } else {
        let key = "assume_role_duration_seconds";
        let seconds = match config.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => n.as_u64(),
            Some(Value::String(s)) if s.is_empty() => None,
            Some(Value::String(s)) => s.parse::<u64>().ok(),
            Some(_) => None,
        };
        match (seconds, present(config.get(key))) {
            (Some(0), _) | (None, false) => None,
            (Some(seconds), _) => Some(Duration::from_secs(seconds)),
            (None, true) => {
                return Err(format!(
                    "`{key}` must be a whole number of seconds, got {}",
                    config[key]
                ));
            }
        }
    };
    let (tags_key, tags_name) = key("tags").unwrap_or_default();
    let tags = match source.get(&tags_key) {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(Value::Object(tags)) => tags
            .iter()
            .map(|(k, v)| match v {
                Value::String(v) => Ok((k.clone(), v.clone())),
                other => Err(format!("`{tags_name}.{k}` must be a string, got {other}")),
            })
            .collect::<Result<_, _>>()?,
        Some(other) => return Err(format!("`{tags_name}` must be a map, got {other}")),
    };
    for nested_name in ["source_identity", "transitive_tag_keys"] {
        if let Some((key, full)) = key(nested_name)
            && present(source.get(&key))
        {
            unsupported.push((
                full,
                "the guard's AssumeRole does not pass it on".to_string(),
            ));
        }
    }
    let (policy_arns_key, _) = key("policy_arns").unwrap_or_default();
    Ok(Some(AssumeRole {
        role_arn,
        session_name: text("session_name")?,
        external_id: text("external_id")?,
        duration,
        policy: text("policy")?,
        policy_arns: string_list(source, &policy_arns_key)?,
        tags,
    }))
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
mod tests;
