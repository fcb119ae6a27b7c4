//! Terraform's S3 backend on the local AWS: the state bucket, the DynamoDB lock table, the
//! `backend "s3"` block that points at them, and reads of what Terraform stored there.

use std::collections::HashMap;

use anyhow::Context;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};

use crate::fixture::s3_client;

/// How the backend locks its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateLocking {
    /// `dynamodb_table`: a lock item `<bucket>/<key>` and a digest item `<bucket>/<key>-md5`.
    DynamoDb { table: String },
    /// `use_lockfile = true`: an object `<key>.tflock` beside the state.
    Lockfile,
    /// Neither: Terraform does not lock this state.
    Unlocked,
}

/// `terraform { backend "s3" { ... } }` for the state `key` in `bucket` at `endpoint` (the
/// local AWS's [`crate::LocalAws::endpoint`]): path-style addressing, static test credentials
/// and every AWS account check skipped, as moto needs.
pub fn s3_backend_block(endpoint: &str, bucket: &str, key: &str, locking: &StateLocking) -> String {
    let lock_line = match locking {
        StateLocking::DynamoDb { table } => format!("dynamodb_table = \"{table}\""),
        StateLocking::Lockfile => "use_lockfile = true".to_string(),
        StateLocking::Unlocked => String::new(),
    };
    format!(
        r#"terraform {{
  backend "s3" {{
    bucket  = "{bucket}"
    key     = "{key}"
    region  = "us-east-1"
    encrypt = true
    {lock_line}
    endpoints = {{
      s3       = "{endpoint}"
      dynamodb = "{endpoint}"
    }}
    use_path_style              = true
    access_key                  = "test"
    secret_key                  = "test"
    skip_credentials_validation = true
    skip_region_validation      = true
    skip_requesting_account_id  = true
    skip_metadata_api_check     = true
    skip_s3_checksum            = true
  }}
}}
"#
    )
}

/// Creates a state bucket; with `versioned`, bucket versioning on (as Terraform recommends).
pub async fn create_state_bucket(
    cfg: &aws_config::SdkConfig,
    bucket: &str,
    versioned: bool,
) -> anyhow::Result<()> {
    let s3 = s3_client(cfg);
    s3.create_bucket()
        .bucket(bucket)
        .send()
        .await
        .with_context(|| format!("CreateBucket {bucket}"))?;
    if versioned {
        s3.put_bucket_versioning()
            .bucket(bucket)
            .versioning_configuration(
                VersioningConfiguration::builder()
                    .status(BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .with_context(|| format!("PutBucketVersioning {bucket}"))?;
    }
    Ok(())
}

/// Creates a lock table as the S3 backend needs it: a string hash key `LockID`, on demand.
pub async fn create_lock_table(cfg: &aws_config::SdkConfig, table: &str) -> anyhow::Result<()> {
    aws_sdk_dynamodb::Client::new(cfg)
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("LockID")
                .attribute_type(ScalarAttributeType::S)
                .build()?,
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("LockID")
                .key_type(KeyType::Hash)
                .build()?,
        )
        .send()
        .await
        .with_context(|| format!("CreateTable {table}"))?;
    Ok(())
}

/// The bytes of `bucket`/`key`; `None` when there is no such object (any other error is one).
pub async fn object_bytes(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> anyhow::Result<Option<Vec<u8>>> {
    match s3.get_object().bucket(bucket).key(key).send().await {
        Ok(output) => {
            let body = output
                .body
                .collect()
                .await
                .with_context(|| format!("reading s3://{bucket}/{key}"))?;
            Ok(Some(body.into_bytes().to_vec()))
        }
        Err(error) => {
            let error = error.into_service_error();
            if error.is_no_such_key() {
                Ok(None)
            } else {
                Err(error).with_context(|| format!("GetObject s3://{bucket}/{key}"))
            }
        }
    }
}

/// Whether `bucket`/`key` exists (a HEAD; "not found" is false, any other error is one).
pub async fn object_exists(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> anyhow::Result<bool> {
    match s3.head_object().bucket(bucket).key(key).send().await {
        Ok(_) => Ok(true),
        Err(error) => {
            let error = error.into_service_error();
            if error.is_not_found() {
                Ok(false)
            } else {
                Err(error).with_context(|| format!("HeadObject s3://{bucket}/{key}"))
            }
        }
    }
}

/// The item `LockID = lock_id` of a lock table (a strongly consistent read), if any.
pub async fn lock_table_item(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
    lock_id: &str,
) -> anyhow::Result<Option<HashMap<String, AttributeValue>>> {
    let output = dynamodb
        .get_item()
        .table_name(table)
        .key("LockID", AttributeValue::S(lock_id.to_string()))
        .consistent_read(true)
        .send()
        .await
        .with_context(|| format!("GetItem {table}/{lock_id}"))?;
    Ok(output.item)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_block_names_the_lock_and_the_local_endpoints() {
        let endpoint = "http://127.0.0.1:4566";
        let table = StateLocking::DynamoDb {
            table: "locks".into(),
        };
        let block = s3_backend_block(endpoint, "b", "env/app.tfstate", &table);
        assert!(block.contains("dynamodb_table = \"locks\""), "{block}");
        assert!(block.contains("key     = \"env/app.tfstate\""), "{block}");
        assert!(
            block.contains("s3       = \"http://127.0.0.1:4566\""),
            "{block}"
        );
        let lockfile = s3_backend_block(endpoint, "b", "k", &StateLocking::Lockfile);
        assert!(lockfile.contains("use_lockfile = true"), "{lockfile}");
        let unlocked = s3_backend_block(endpoint, "b", "k", &StateLocking::Unlocked);
        assert!(
            !unlocked.contains("use_lockfile") && !unlocked.contains("dynamodb_table"),
            "{unlocked}"
        );
    }
}
