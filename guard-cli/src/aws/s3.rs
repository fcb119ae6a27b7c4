//! The state object, its versions, Terraform's `.tflock` lockfile, and conditional object writes.

use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::BucketVersioningStatus;

use super::describe_sdk_error;
use super::lease_store::WriteConflict;
use crate::core::lockinfo::LockInfo;

/// Identity of one version of an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectHead {
    pub etag: String,
    pub version_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectVersion {
    pub version_id: String,
    pub last_modified: String,
    pub is_latest: bool,
    pub size: i64,
}

/// S3 operations on one bucket.
#[derive(Clone, Debug)]
pub struct S3State {
    client: aws_sdk_s3::Client,
    bucket: String,
}

fn is_not_found<E: aws_sdk_s3::error::ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> bool
where
    R: HttpStatus,
{
    if let Some(raw) = error.raw_response()
        && raw.status_code() == 404
    {
        return true;
    }
    matches!(
        error.as_service_error().and_then(|e| e.code()),
        Some("NoSuchKey" | "NotFound" | "NoSuchVersion")
    )
}

fn is_precondition_failed<E: aws_sdk_s3::error::ProvideErrorMetadata, R: HttpStatus>(
    error: &SdkError<E, R>,
) -> bool {
    if let Some(raw) = error.raw_response()
        && matches!(raw.status_code(), 412 | 409)
    {
        return true;
    }
    matches!(
        error.as_service_error().and_then(|e| e.code()),
        Some("PreconditionFailed" | "ConditionalRequestConflict")
    )
}

/// The HTTP status of a raw response (SDK response type hidden behind a trait for brevity).
pub(crate) trait HttpStatus {
    fn status_code(&self) -> u16;
}

impl HttpStatus for aws_sdk_s3::config::http::HttpResponse {
    fn status_code(&self) -> u16 {
        self.status().as_u16()
    }
}

impl S3State {
    pub fn new(client: aws_sdk_s3::Client, bucket: &str) -> S3State {
        S3State {
            client,
            bucket: bucket.to_string(),
        }
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    pub async fn head(&self, key: &str) -> anyhow::Result<Option<ObjectHead>> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => Ok(Some(ObjectHead {
                etag: out.e_tag().unwrap_or_default().to_string(),
                version_id: out.version_id().map(str::to_string),
            })),
            Err(error) if is_not_found(&error) => Ok(None),
            Err(error) => anyhow::bail!(
                "cannot read s3://{}/{key}: {}",
                self.bucket,
                describe_sdk_error(&error)
            ),
        }
    }

    /// The object (a given version, else the latest) with its identity; `None` when absent.
    pub async fn get(
        &self,
        key: &str,
        version_id: Option<&str>,
    ) -> anyhow::Result<Option<(ObjectHead, Vec<u8>)>> {
        let request = self.client.get_object().bucket(&self.bucket).key(key);
        let request = match version_id {
            Some(version) => request.version_id(version),
            None => request,
        };
        match request.send().await {
            Ok(out) => {
                let head = ObjectHead {
                    etag: out.e_tag().unwrap_or_default().to_string(),
                    version_id: out.version_id().map(str::to_string),
                };
                // One copy of the chunks into the Vec (not a contiguous `Bytes` first, then a Vec).
                let bytes = out.body.collect().await?.to_vec();
                Ok(Some((head, bytes)))
            }
            Err(error) if is_not_found(&error) => Ok(None),
            Err(error) => anyhow::bail!(
                "cannot read s3://{}/{key}: {}",
                self.bucket,
                describe_sdk_error(&error)
            ),
        }
    }

    /// Versions of `key`, newest first.
    pub async fn versions(&self, key: &str) -> anyhow::Result<Vec<ObjectVersion>> {
        let mut versions = Vec::new();
        let mut key_marker: Option<String> = None;
        let mut version_marker: Option<String> = None;
        loop {
            let out = self
                .client
                .list_object_versions()
                .bucket(&self.bucket)
                .prefix(key)
                .set_key_marker(key_marker.clone())
                .set_version_id_marker(version_marker.clone())
                .send()
                .await
                .map_err(|e| {
                    anyhow::anyhow!(
                        "cannot list versions of s3://{}/{key}: {}",
                        self.bucket,
                        describe_sdk_error(&e)
                    )
                })?;
            for version in out.versions() {
                if version.key() != Some(key) {
                    continue;
                }
                versions.push(ObjectVersion {
                    version_id: version.version_id().unwrap_or("null").to_string(),
                    last_modified: version
                        .last_modified()
                        .map(|t| t.to_string())
                        .unwrap_or_default(),
                    is_latest: version.is_latest().unwrap_or(false),
                    size: version.size().unwrap_or(0),
                });
            }
            if out.is_truncated() != Some(true) {
                break;
            }
            key_marker = out.next_key_marker().map(str::to_string);
            version_marker = out.next_version_id_marker().map(str::to_string);
        }
        Ok(versions)
    }

    pub async fn versioning_enabled(&self) -> anyhow::Result<bool> {
        match self
            .client
            .get_bucket_versioning()
            .bucket(&self.bucket)
            .send()
            .await
        {
            Ok(out) => Ok(out.status() == Some(&BucketVersioningStatus::Enabled)),
            // moto names the response element `GetBucketVersioningResponse` instead of
            // `VersioningConfiguration`, which the SDK cannot parse; the status is still there.
            Err(SdkError::ServiceError(service)) if service.raw().status().as_u16() == 200 => {
                let body = service.raw().body().bytes().unwrap_or_default();
                Ok(String::from_utf8_lossy(body).contains("<Status>Enabled</Status>"))
            }
            Err(error) => anyhow::bail!(
                "cannot read versioning of bucket {}: {}",
                self.bucket,
                describe_sdk_error(&error)
            ),
        }
    }

    /// Terraform's S3 lockfile `<key>.tflock`, parsed; `None` when there is no lock.
    pub async fn lockfile(
        &self,
        state_key: &str,
    ) -> anyhow::Result<Option<(ObjectHead, LockInfo)>> {
        let key = format!("{state_key}.tflock");
        let Some((head, bytes)) = self.get(&key, None).await? else {
            return Ok(None);
        };
        let text = String::from_utf8_lossy(&bytes);
        let info = LockInfo::parse(&format!("s3://{}/{key}", self.bucket), &text)?;
        Ok(Some((head, info)))
    }

    /// Writes `body` only if the object does not exist (`None`) or still has `etag`.
    pub async fn put_conditional(
        &self,
        key: &str,
        body: &str,
        expected_etag: Option<&str>,
    ) -> anyhow::Result<Result<String, WriteConflict>> {
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("application/json")
            .body(ByteStream::from(body.as_bytes().to_vec()));
        let request = match expected_etag {
            Some(etag) => request.if_match(etag),
            None => request.if_none_match("*"),
        };
        match request.send().await {
            Ok(out) => Ok(Ok(out.e_tag().unwrap_or_default().to_string())),
            Err(error) if is_precondition_failed(&error) => Ok(Err(WriteConflict)),
            Err(error) => anyhow::bail!(
                "cannot write s3://{}/{key}: {}",
                self.bucket,
                describe_sdk_error(&error)
            ),
        }
    }

    /// Deletes `key` only while it still has `etag`.
    pub async fn delete_conditional(
        &self,
        key: &str,
        etag: &str,
    ) -> anyhow::Result<Result<(), WriteConflict>> {
        match self
            .client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .if_match(etag)
            .send()
            .await
        {
            Ok(_) => Ok(Ok(())),
            Err(error) if is_precondition_failed(&error) => Ok(Err(WriteConflict)),
            Err(error) if is_not_found(&error) => Ok(Err(WriteConflict)),
            Err(error) => anyhow::bail!(
                "cannot delete s3://{}/{key}: {}",
                self.bucket,
                describe_sdk_error(&error)
            ),
        }
    }
}
