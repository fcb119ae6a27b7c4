//! The only code that knows AWS SDK types: S3 (state, lockfile, lease object), DynamoDB
//! (lock table, lock/digest/lease items), and `status`'s reads of a fleet (Auto Scaling,
//! ELBv2: `fleet.rs`). Endpoints come from the backend's `endpoints` block,
//! else `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL_DYNAMODB` / `AWS_ENDPOINT_URL` (read by
//! aws-config), so the same binary runs against AWS and the local test bed.

mod dynamodb;
mod fleet;
mod lease_store;
mod s3;

pub use dynamodb::{DynamoLocks, TableCheck};
pub use fleet::FleetReader;
pub use lease_store::{LeaseStore, StoredLease, WriteConflict};
pub use s3::{ObjectHead, ObjectVersion, S3State};

use anyhow::Context as _;
use aws_config::profile::ProfileFileCredentialsProvider;
// The new names live in aws-runtime, which is not a direct dependency; these aliases are what
// aws-config itself exports.
#[allow(deprecated)]
use aws_config::profile::profile_file::{ProfileFileKind, ProfileFiles};
use aws_config::retry::RetryConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_s3::config::{Credentials, ProvideCredentials, SharedCredentialsProvider};

use crate::core::backend::{CredentialSource, S3Backend};
use crate::core::limits::AwsTimeouts;

/// SDK clients configured for one S3 backend.
#[derive(Clone, Debug)]
pub struct Clients {
    pub s3: aws_sdk_s3::Client,
    /// Built only for a backend that names a lock table (`dynamodb_table`): nothing else calls
    /// DynamoDB, and a client costs ~0.4 ms to build, before a run's lease write (issue #18).
    pub dynamodb: Option<aws_sdk_dynamodb::Client>,
}

/// The SDK's form of [`AwsTimeouts`]: connect, per attempt, and per call with its retries.
pub fn timeout_config(timeouts: &AwsTimeouts) -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(timeouts.connect)
        .operation_attempt_timeout(timeouts.attempt)
        .operation_timeout(timeouts.operation)
        .build()
}

/// Attempts per guard call, the first included (the SDK's standard mode makes 3).
pub const MAX_ATTEMPTS: u32 = 5;

/// The retries of every guard client: the SDK's adaptive mode (backoff with jitter, and a
/// client-side rate that drops when S3 answers `SlowDown` or DynamoDB throttles) in its Retry
/// Behavior 2.1 (a throttled retry backs off exponentially; under 2.0 it waits up to the whole
/// backoff cap for the limiter), 5 attempts, backoff from 1 s doubling up to 10 s. All the
/// backoffs together (at most 15 s) fit in the default operation bound (60 s, itself inside
/// the lease TTL) with room for the attempts.
pub fn retry_config() -> RetryConfig {
    RetryConfig::adaptive()
        .with_retry_spec(aws_smithy_types::retry::RetrySpec::v2_1())
        .with_max_attempts(MAX_ATTEMPTS)
        .with_initial_backoff(std::time::Duration::from_secs(1))
        .with_max_backoff(std::time::Duration::from_secs(10))
}

impl Clients {
    /// Clients that reach the state as Terraform does: the backend's region, endpoints,
    /// static keys or `profile` (a named profile wins over environment credentials, as in
    /// Terraform), shared config files, and `assume_role` through STS at the backend's STS
    /// endpoint. Credentials that come from the backend's own settings are resolved here, once,
    /// so that a missing profile or a refused role fails before anything is taken.
    pub async fn for_backend(
        backend: &S3Backend,
        timeouts: &AwsTimeouts,
    ) -> anyhow::Result<Clients> {
        let credentials = &backend.credentials;
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .timeout_config(timeout_config(timeouts))
            .retry_config(retry_config())
            .use_fips(backend.use_fips_endpoint)
            .use_dual_stack(backend.use_dualstack_endpoint);
        if let Some(region) = &backend.region {
            loader = loader.region(Region::new(region.clone()));
        }
        let files = profile_files(backend);
        if let Some(files) = &files {
            loader = loader.profile_files(files.clone());
        }
        if let Some(profile) = &credentials.profile {
            loader = loader.profile_name(profile);
        }
        let mut what = "the default AWS credentials".to_string();
        let mut resolve_now = false;
        match credentials.source().map_err(anyhow::Error::msg)? {
            CredentialSource::Static {
                access_key,
                secret_key,
                token,
            } => {
                loader = loader.credentials_provider(Credentials::new(
                    access_key.0.clone(),
                    secret_key.0.clone(),
                    token.map(|t| t.0.clone()),
                    None,
                    "backend-config",
                ));
                what = "the backend's `access_key`".to_string();
            }
            CredentialSource::Profile(profile) => {
                let mut provider = ProfileFileCredentialsProvider::builder().profile_name(profile);
                if let Some(files) = &files {
                    provider = provider.profile_files(files.clone());
                }
                loader = loader.credentials_provider(provider.build());
                what = format!("the credentials of profile `{profile}` (the backend's `profile`)");
                resolve_now = true;
            }
            CredentialSource::DefaultChain => {}
        }
        let mut shared = loader.load().await;
        crate::timings::mark("  AWS config: shared config loaded");
        if let Some(role) = &backend.assume_role {
            let base = shared
                .credentials_provider()
                .context("no AWS credentials to assume the backend's `assume_role` with")?;
            // The backend's STS endpoint is set through a loader of its own: only there does
            // it outrank `AWS_ENDPOINT_URL` (the SDK lets the environment win over an endpoint
            // set on an already loaded config), as the backend's setting does in Terraform.
            // `sts_region` likewise.
            let sts = if backend.sts_endpoint.is_some() || backend.sts_region.is_some() {
                let mut sts = aws_config::defaults(BehaviorVersion::latest())
                    .timeout_config(timeout_config(timeouts))
                    .retry_config(retry_config())
                    .use_fips(backend.use_fips_endpoint)
                    .use_dual_stack(backend.use_dualstack_endpoint)
                    .credentials_provider(base.clone());
                if let Some(endpoint) = &backend.sts_endpoint {
                    sts = sts.endpoint_url(endpoint);
                }
                if let Some(region) = &backend.sts_region {
                    sts = sts.region(Region::new(region.clone()));
                } else if let Some(region) = shared.region() {
                    sts = sts.region(region.clone());
                }
                sts.load().await
            } else {
                shared.clone()
            };
            let mut builder = AssumeRoleProvider::builder(role.role_arn.clone())
                .configure(&sts)
                .policy_arns(role.policy_arns.clone())
                .tags(role.tags.clone());
            if let Some(name) = &role.session_name {
                builder = builder.session_name(name);
            }
            if let Some(id) = &role.external_id {
                builder = builder.external_id(id);
            }
            if let Some(policy) = &role.policy {
                builder = builder.policy(policy);
            }
            if let Some(duration) = role.duration {
                builder = builder.session_length(duration);
            }
            let provider = builder.build_from_provider(base).await;
            shared = shared
                .into_builder()
                .credentials_provider(SharedCredentialsProvider::new(provider))
                .build();
            what = format!(
                "role {} (the backend's `assume_role`) through STS{}",
                role.role_arn,
                backend
                    .sts_endpoint
                    .as_deref()
                    .map(|e| format!(" at {e}"))
                    .unwrap_or_default()
            );
            resolve_now = true;
        }
        if resolve_now && let Some(provider) = shared.credentials_provider() {
            provider
                .provide_credentials()
                .await
                .map_err(|e| anyhow::anyhow!("{}", aws_sdk_s3::error::DisplayErrorContext(e)))
                .with_context(|| format!("cannot get AWS credentials: {what}"))?;
        }
        Ok(Clients::with_timeouts(&shared, backend, timeouts))
    }

    /// Clients from an already loaded shared config, with the backend's endpoint overrides and
    /// the default timeouts.
    pub fn from_shared(shared: &aws_config::SdkConfig, backend: &S3Backend) -> Clients {
        Clients::with_timeouts(shared, backend, &AwsTimeouts::DEFAULT)
    }

    /// Clients from a loaded shared config with `timeouts` and [`retry_config`] on every
    /// client, whatever the shared config says: no guard call may hang for ever, and none
    /// gives up after the SDK's default three attempts.
    pub fn with_timeouts(
        shared: &aws_config::SdkConfig,
        backend: &S3Backend,
        timeouts: &AwsTimeouts,
    ) -> Clients {
        let timeouts = timeout_config(timeouts);
        let mut s3 = aws_sdk_s3::config::Builder::from(shared)
            .force_path_style(backend.use_path_style)
            .timeout_config(timeouts.clone())
            .retry_config(retry_config());
        if backend.skip_s3_checksum {
            // As Terraform's `skip_s3_checksum`: no checksums unless an operation requires one.
            s3 = s3.request_checksum_calculation(
                aws_sdk_s3::config::RequestChecksumCalculation::WhenRequired,
            );
        }
        if let Some(endpoint) = &backend.s3_endpoint {
            s3 = s3.endpoint_url(endpoint);
        }
        let s3 = aws_sdk_s3::Client::from_conf(s3.build());
        crate::timings::mark("  AWS config: S3 client built");
        let dynamodb = backend.dynamodb_table.is_some().then(|| {
            let mut dynamodb = aws_sdk_dynamodb::config::Builder::from(shared)
                .timeout_config(timeouts)
                .retry_config(retry_config());
            if let Some(endpoint) = &backend.dynamodb_endpoint {
                dynamodb = dynamodb.endpoint_url(endpoint);
            }
            let client = aws_sdk_dynamodb::Client::from_conf(dynamodb.build());
            crate::timings::mark("  AWS config: DynamoDB client built");
            client
        });
        Clients { s3, dynamodb }
    }
}

/// The backend's `shared_config_files` / `shared_credentials_files`, replacing the default
/// files as in Terraform; `None` when it names none.
#[allow(deprecated)] // see the `use` above
fn profile_files(backend: &S3Backend) -> Option<ProfileFiles> {
    let credentials = &backend.credentials;
    if credentials.shared_config_files.is_empty() && credentials.shared_credentials_files.is_empty()
    {
        return None;
    }
    let mut files = ProfileFiles::builder();
    if credentials.shared_config_files.is_empty() {
        files = files.include_default_config_file(true);
    }
    if credentials.shared_credentials_files.is_empty() {
        files = files.include_default_credentials_file(true);
    }
    for file in &credentials.shared_config_files {
        files = files.with_file(ProfileFileKind::Config, file);
    }
    for file in &credentials.shared_credentials_files {
        files = files.with_file(ProfileFileKind::Credentials, file);
    }
    Some(files.build())
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

#[cfg(test)]
mod tests {
    use aws_config::retry::RetryMode;

    use super::*;

    /// A shared config that says nothing (no region, retries or timeouts), as a caller might
    /// build one.
    fn bare_shared_config() -> aws_config::SdkConfig {
        aws_config::SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .build()
    }

    #[test]
    fn a_dynamodb_client_only_for_a_backend_with_a_lock_table() {
        let shared = bare_shared_config();
        let lockfile = S3Backend {
            use_lockfile: true,
            ..S3Backend::default()
        };
        assert!(Clients::from_shared(&shared, &lockfile).dynamodb.is_none());
        let table = S3Backend {
            dynamodb_table: Some("locks".into()),
            ..lockfile
        };
        assert!(Clients::from_shared(&shared, &table).dynamodb.is_some());
    }

    #[test]
    fn a_backend_with_a_lock_table_is_refused_clients_without_dynamodb() {
        // Clients built for a lockfile backend, handed a backend of the same state that names
        // a lock table: the lease must not silently move to S3, where a run holding it in the
        // table would never see it.
        let shared = bare_shared_config();
        let lockfile = S3Backend {
            bucket: "state".into(),
            key: "fleet/terraform.tfstate".into(),
            use_lockfile: true,
            ..S3Backend::default()
        };
        let table = S3Backend {
            dynamodb_table: Some("locks".into()),
            ..lockfile.clone()
        };
        let clients = Clients::from_shared(&shared, &lockfile);
        let refused = crate::commands::context::Remote::with_clients(&clients, table, "default")
            .err()
            .map(|err| err.to_string());
        assert!(
            refused
                .as_deref()
                .is_some_and(|err| err.contains("\"locks\"")),
            "{refused:?}"
        );
        let remote = crate::commands::context::Remote::with_clients(&clients, lockfile, "default");
        assert!(remote.is_ok_and(|remote| remote.dynamodb.is_none()));
    }

    #[test]
    fn every_client_retries_adaptively_and_its_backoffs_fit_the_operation_bound() {
        let shared = bare_shared_config();
        let backend = S3Backend {
            dynamodb_table: Some("locks".into()),
            ..S3Backend::default()
        };
        let clients = Clients::from_shared(&shared, &backend);
        let dynamodb = clients
            .dynamodb
            .as_ref()
            .expect("the backend names a lock table");
        for (service, config) in [
            ("s3", clients.s3.config().retry_config().cloned()),
            ("dynamodb", dynamodb.config().retry_config().cloned()),
        ] {
            let config = config.unwrap_or_else(|| panic!("{service}: no retry config"));
            assert_eq!(config.mode(), RetryMode::Adaptive, "{service}");
            assert_eq!(
                config.retry_spec(),
                Some(&aws_smithy_types::retry::RetrySpec::v2_1()),
                "{service}"
            );
            assert_eq!(config.max_attempts(), MAX_ATTEMPTS, "{service}");
        }
        let config = retry_config();
        let backoffs: std::time::Duration = (0..MAX_ATTEMPTS - 1)
            .map(|retry| (config.initial_backoff() * 2u32.pow(retry)).min(config.max_backoff()))
            .sum();
        let operation = AwsTimeouts::DEFAULT.operation;
        assert!(
            backoffs * 2 <= operation,
            "backoffs {backoffs:?} leave too little of {operation:?} to the attempts"
        );
    }
}
