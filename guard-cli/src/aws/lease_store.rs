//! Where the lease lives: an item `<bucket>/<key>.zdd-lease` in the DynamoDB lock table when the
//! backend has one, else an object `<key>.zdd-lease` beside the state. Every write is
//! conditional on what was read, so two runs can never both believe they hold it.

use super::{DynamoLocks, S3State};
use crate::core::lease::Lease;

/// A conditional write lost a race (the stored record changed since it was read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteConflict;

/// A lease as read, with the token a conditional write must present (JSON text or ETag).
#[derive(Debug, Clone)]
pub struct StoredLease {
    pub lease: Lease,
    pub token: String,
}

#[derive(Clone, Debug)]
pub enum LeaseStore {
    Dynamo { locks: DynamoLocks, id: String },
    S3 { state: S3State, key: String },
}

const LEASE_ATTRIBUTE: &str = "Lease";

impl LeaseStore {
    pub fn location(&self) -> String {
        match self {
            LeaseStore::Dynamo { locks, id } => format!("dynamodb:{}/{id}", locks.table()),
            LeaseStore::S3 { state, key } => format!("s3://{}/{key}", state.bucket()),
        }
    }

    pub async fn read(&self) -> anyhow::Result<Option<StoredLease>> {
        let (text, token) = match self {
            LeaseStore::Dynamo { locks, id } => {
                let Some(text) = locks.get_attribute(id, LEASE_ATTRIBUTE).await? else {
                    return Ok(None);
                };
                (text.clone(), text)
            }
            LeaseStore::S3 { state, key } => {
                let Some((head, bytes)) = state.get(key, None).await? else {
                    return Ok(None);
                };
                (String::from_utf8_lossy(&bytes).into_owned(), head.etag)
            }
        };
        let lease = Lease::from_json(&self.location(), &text)?;
        Ok(Some(StoredLease { lease, token }))
    }

    /// Writes `lease` if none is stored (`expected` None) or the stored one still has `expected`.
    /// Returns the new token.
    ///
    /// The SDK retries a request whose response was lost (a timeout, a reset connection), and a
    /// conditional write that had succeeded then fails its own condition on the retry
    /// (`ConditionalCheckFailed`, HTTP 412). So a conflict is checked by reading the record back:
    /// when it is exactly what we wrote (our lease id and this write's heartbeat), the write was
    /// ours and its token is returned.
    pub async fn write(
        &self,
        lease: &Lease,
        expected: Option<&str>,
    ) -> anyhow::Result<Result<String, WriteConflict>> {
        let body = lease.to_json();
        let written = match self {
            LeaseStore::Dynamo { locks, id } => locks
                .put_conditional(id, LEASE_ATTRIBUTE, &body, expected)
                .await?
                .map(|()| body),
            LeaseStore::S3 { state, key } => state.put_conditional(key, &body, expected).await?,
        };
        match written {
            Ok(token) => Ok(Ok(token)),
            Err(WriteConflict) => match self.read().await? {
                Some(stored) if lease.is_same_write(&stored.lease) => Ok(Ok(stored.token)),
                _ => Ok(Err(WriteConflict)),
            },
        }
    }

    /// Removes the lease only while it still has `token`.
    pub async fn delete(&self, token: &str) -> anyhow::Result<Result<(), WriteConflict>> {
        match self {
            LeaseStore::Dynamo { locks, id } => {
                locks.delete_conditional(id, LEASE_ATTRIBUTE, token).await
            }
            LeaseStore::S3 { state, key } => state.delete_conditional(key, token).await,
        }
    }
}
