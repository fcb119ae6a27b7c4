//! The only code that knows AWS SDK types: S3 (state, lockfile, lease object) and DynamoDB
//! (lock table, lock/digest/lease items). Endpoints come from the backend's `endpoints` block,
//! else `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL_DYNAMODB` / `AWS_ENDPOINT_URL` (read by
//! aws-config), so the same binary runs against AWS and the local test bed.

mod dynamodb;
mod lease_store;
mod s3;

pub use dynamodb::DynamoLocks;
pub use lease_store::{LeaseStore, StoredLease, WriteConflict};
pub use s3::{ObjectHead, ObjectVersion, S3State};

use aws_config::{BehaviorVersion, Region};

use crate::core::backend::S3Backend;

/// SDK clients configured for one S3 backend.
#[derive(Clone, Debug)]
pub struct Clients {
    pub s3: aws_sdk_s3::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
}

impl Clients {
    pub async fn for_backend(backend: &S3Backend) -> Clients {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(region) = &backend.region {
            loader = loader.region(Region::new(region.clone()));
        }
        Clients::from_shared(&loader.load().await, backend)
    }

    /// Clients from an already loaded shared config, with the backend's endpoint overrides.
    pub fn from_shared(shared: &aws_config::SdkConfig, backend: &S3Backend) -> Clients {
        let mut s3 =
            aws_sdk_s3::config::Builder::from(shared).force_path_style(backend.use_path_style);
        if let Some(endpoint) = &backend.s3_endpoint {
            s3 = s3.endpoint_url(endpoint);
        }
        let mut dynamodb = aws_sdk_dynamodb::config::Builder::from(shared);
        if let Some(endpoint) = &backend.dynamodb_endpoint {
            dynamodb = dynamodb.endpoint_url(endpoint);
        }
        Clients {
            s3: aws_sdk_s3::Client::from_conf(s3.build()),
            dynamodb: aws_sdk_dynamodb::Client::from_conf(dynamodb.build()),
        }
    }
}

/// An SDK error with its service code and message, for humans.
pub(crate) fn describe_sdk_error<E, R>(error: &aws_sdk_s3::error::SdkError<E, R>) -> String
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + s3::HttpStatus,
{
    match error {
        aws_sdk_s3::error::SdkError::ServiceError(service) => {
            let err = service.err();
            format!(
                "{}: {} (HTTP {:?})",
                err.code().unwrap_or("ServiceError"),
                err.message().unwrap_or("(no message)"),
                service.raw().status_code()
            )
        }
        other => format!("{}", aws_sdk_s3::error::DisplayErrorContext(other)),
    }
}
