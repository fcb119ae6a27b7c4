//! Terraform's DynamoDB lock table: the lock item, the digest item, and conditional writes of
//! other items (the lease) in the same table.

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, KeyType, ScalarAttributeType};

use super::lease_store::WriteConflict;
use crate::core::lockinfo::LockInfo;

/// Why the lock table cannot be used.
#[derive(Debug)]
pub enum TableCheck {
    /// Locking is not set up: no such table, or a key Terraform cannot lock with.
    NotConfigured(String),
    /// The table could not be read at all (timeout, access denied, endpoint down).
    Unreadable(anyhow::Error),
}

#[derive(Clone, Debug)]
pub struct DynamoLocks {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

fn describe<E, R>(error: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match error {
        SdkError::ServiceError(service) => format!(
            "{}: {}",
            service.err().code().unwrap_or("ServiceError"),
            service.err().message().unwrap_or("(no message)")
        ),
        other => format!("{}", aws_sdk_dynamodb::error::DisplayErrorContext(other)),
    }
}

fn is_conditional_failure<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> bool {
    error.code() == Some("ConditionalCheckFailedException")
}

impl DynamoLocks {
    pub fn new(client: aws_sdk_dynamodb::Client, table: &str) -> DynamoLocks {
        DynamoLocks {
            client,
            table: table.to_string(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// The table exists and its hash key is the string attribute `LockID`, as Terraform needs.
    ///
    /// A missing table or a wrong key is [`TableCheck::NotConfigured`] (locking is not set up);
    /// any other failure (a timeout, access denied, an unreachable endpoint) is
    /// [`TableCheck::Unreadable`]: the guard could not ask, which says nothing about the table.
    pub async fn check_table(&self) -> Result<(), TableCheck> {
        let out = match self
            .client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                return Err(TableCheck::NotConfigured(format!(
                    "lock table {} does not exist ({})",
                    self.table,
                    describe(&e)
                )));
            }
            Err(e) => {
                return Err(TableCheck::Unreadable(anyhow::anyhow!(
                    "lock table {} cannot be read: {}",
                    self.table,
                    describe(&e)
                )));
            }
        };
        let table = out.table();
        let hash_key = table
            .map(|t| t.key_schema())
            .unwrap_or_default()
            .iter()
            .find(|k| k.key_type() == &KeyType::Hash)
            .map(|k| k.attribute_name().to_string());
        let key_type = table
            .map(|t| t.attribute_definitions())
            .unwrap_or_default()
            .iter()
            .find(|d| Some(d.attribute_name()) == hash_key.as_deref())
            .map(|d| d.attribute_type().clone());
        if hash_key.as_deref() != Some("LockID") || key_type != Some(ScalarAttributeType::S) {
            return Err(TableCheck::NotConfigured(format!(
                "lock table {} must have the string hash key `LockID` (found {:?} of type {:?}); \
                 Terraform cannot lock with it",
                self.table, hash_key, key_type
            )));
        }
        Ok(())
    }

    /// A string attribute of item `lock_id`; `None` when the item or attribute is absent.
    pub async fn get_attribute(
        &self,
        lock_id: &str,
        attribute: &str,
    ) -> anyhow::Result<Option<String>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("LockID", AttributeValue::S(lock_id.to_string()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "cannot read {lock_id} from {}: {}",
                    self.table,
                    describe(&e)
                )
            })?;
        let Some(item) = out.item() else {
            return Ok(None);
        };
        match item.get(attribute) {
            None => Ok(None),
            Some(AttributeValue::S(text)) => Ok(Some(text.clone())),
            Some(other) => anyhow::bail!(
                "item {lock_id} in {}: attribute {attribute} is not a string ({other:?})",
                self.table
            ),
        }
    }

    /// Terraform's lock item parsed, with the raw `Info` text (for conditional deletes).
    pub async fn lock(&self, lock_id: &str) -> anyhow::Result<Option<(String, LockInfo)>> {
        let Some(raw) = self.get_attribute(lock_id, "Info").await? else {
            return Ok(None);
        };
        let info = LockInfo::parse(&format!("dynamodb:{}/{lock_id}", self.table), &raw)?;
        Ok(Some((raw, info)))
    }

    /// Writes `attribute = body` on item `id`: when absent (`expected` None) or while the
    /// attribute still equals `expected`.
    pub async fn put_conditional(
        &self,
        id: &str,
        attribute: &str,
        body: &str,
        expected: Option<&str>,
    ) -> anyhow::Result<Result<(), WriteConflict>> {
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("LockID", AttributeValue::S(id.to_string()))
            .item(attribute, AttributeValue::S(body.to_string()));
        let request = match expected {
            None => request.condition_expression("attribute_not_exists(LockID)"),
            Some(previous) => request
                .condition_expression("#a = :previous")
                .expression_attribute_names("#a", attribute)
                .expression_attribute_values(":previous", AttributeValue::S(previous.to_string())),
        };
        match request.send().await {
            Ok(_) => Ok(Ok(())),
            Err(error) if is_conditional_failure(&error) => Ok(Err(WriteConflict)),
            Err(error) => {
                anyhow::bail!("cannot write {id} to {}: {}", self.table, describe(&error))
            }
        }
    }

    /// Deletes item `id` only while `attribute` still equals `expected`.
    pub async fn delete_conditional(
        &self,
        id: &str,
        attribute: &str,
        expected: &str,
    ) -> anyhow::Result<Result<(), WriteConflict>> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("LockID", AttributeValue::S(id.to_string()))
            .condition_expression("#a = :expected")
            .expression_attribute_names("#a", attribute)
            .expression_attribute_values(":expected", AttributeValue::S(expected.to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Ok(())),
            Err(error) if is_conditional_failure(&error) => Ok(Err(WriteConflict)),
            Err(error) => anyhow::bail!(
                "cannot delete {id} from {}: {}",
                self.table,
                describe(&error)
            ),
        }
    }
}
