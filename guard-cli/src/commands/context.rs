//! Resolving what a command works on: the backend of a Terraform directory, the state key of the
//! current workspace, and the AWS adapters for it.

use std::path::Path;

use anyhow::Context as _;

use crate::aws::{Clients, DynamoLocks, LeaseStore, S3State};
use crate::core::backend::{self, Backend, S3Backend};
use crate::core::limits::AwsTimeouts;

/// Reads `.terraform/terraform.tfstate`, else the `*.tf` files of `dir`.
pub fn resolve_backend(dir: &Path) -> anyhow::Result<Backend> {
    let init_state = dir.join(".terraform").join("terraform.tfstate");
    if let Ok(json) = std::fs::read_to_string(&init_state)
        && let Some(backend) = backend::from_init_state(&init_state.display().to_string(), &json)?
    {
        return Ok(backend);
    }
    let mut files = Vec::new();
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))?;
    for entry in entries {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "tf") {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            files.push((path.display().to_string(), text));
        }
    }
    files.sort();
    Ok(backend::from_tf_files(&files)?)
}

/// `TF_WORKSPACE`, else `.terraform/environment`, else `default` (as terraform decides).
pub fn workspace(dir: &Path) -> String {
    if let Ok(name) = std::env::var("TF_WORKSPACE")
        && !name.is_empty()
    {
        return name;
    }
    std::fs::read_to_string(dir.join(".terraform").join("environment"))
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "default".to_string())
}

/// An S3 backend with its adapters.
#[derive(Clone, Debug)]
pub struct Remote {
    pub backend: S3Backend,
    pub state_key: String,
    pub s3: S3State,
    pub dynamodb: Option<DynamoLocks>,
    pub lease: LeaseStore,
}

impl Remote {
    /// Connects as Terraform would (see [`Clients::for_backend`]), with `timeouts` on every
    /// client; refuses a backend whose settings the guard cannot honour.
    pub async fn connect(
        backend: S3Backend,
        workspace: &str,
        timeouts: &AwsTimeouts,
    ) -> anyhow::Result<Remote> {
        backend::refuse_unsupported(&backend, |name| std::env::var(name).ok())?;
        let clients = Clients::for_backend(&backend, timeouts).await?;
        Remote::with_clients(&clients, backend, workspace)
    }

    /// The backend's state, locks and lease through `clients`. A backend that names a lock
    /// table needs a DynamoDB client: without one the lease would silently move to S3, where
    /// another run of the same state (holding it in the table) would never see it.
    pub fn with_clients(
        clients: &Clients,
        backend: S3Backend,
        workspace: &str,
    ) -> anyhow::Result<Remote> {
        let state_key = backend.state_key(workspace);
        let s3 = S3State::new(clients.s3.clone(), &backend.bucket);
        let dynamodb = match (backend.dynamodb_table.as_deref(), clients.dynamodb.as_ref()) {
            (Some(table), Some(client)) => Some(DynamoLocks::new(client.clone(), table)),
            (Some(table), None) => anyhow::bail!(
                "the backend names the lock table {table:?} but no DynamoDB client was built \
                 for it"
            ),
            (None, _) => None,
        };
        let lease = match &dynamodb {
            Some(locks) => LeaseStore::Dynamo {
                locks: locks.clone(),
                id: format!("{}.zdd-lease", backend.lock_id(&state_key)),
            },
            None => LeaseStore::S3 {
                state: s3.clone(),
                key: format!("{state_key}.zdd-lease"),
            },
        };
        Ok(Remote {
            backend,
            state_key,
            s3,
            dynamodb,
            lease,
        })
    }

    pub fn state_location(&self) -> String {
        format!("s3://{}/{}", self.backend.bucket, self.state_key)
    }

    /// Connects to the S3 backend of `dir`, or explains why there is none.
    pub async fn for_dir(dir: &Path) -> anyhow::Result<Remote> {
        let timeouts = AwsTimeouts::from_env(|name| std::env::var(name).ok())?;
        match resolve_backend(dir)? {
            Backend::S3(s3) => Remote::connect(s3, &workspace(dir), &timeouts).await,
            other => anyhow::bail!(
                "{} does not use the S3 backend ({other:?}); zdd-guard reads locks and state from S3",
                dir.display()
            ),
        }
    }
}
