//! No AWS call of the provider hangs for ever (issue #11, item 3): every client carries
//! connect, attempt and operation timeouts, and a call to an endpoint that accepts the
//! connection and never answers fails with the transient `Timeout` error in bounded time.

use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use terraform_provider_zdd::aws::{AwsClients, AwsError, CallTimeouts, Endpoints};

/// The whole test's bound: far above the timeouts under test, so a hang fails the test
/// instead of CI.
const OUTER_BOUND: Duration = Duration::from_secs(90);

/// A TCP listener on loopback that accepts every connection and never answers (the sockets
/// are kept open so the client sees neither a reset nor an EOF).
// A test set-up helper (not a #[test] function, so clippy.toml's test allowance does not reach
// it): a loopback listener that cannot be made must fail the test loudly.
#[allow(clippy::unwrap_used)]
fn black_hole() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held: Vec<TcpStream> = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    format!("http://{address}")
}

async fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_autoscaling::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .endpoint_url(endpoint)
        .load()
        .await
}

fn assert_timeout<T: std::fmt::Debug>(service: &str, answer: Result<T, AwsError>) {
    match answer {
        Err(error @ AwsError::Api { .. }) => {
            assert_eq!(error.code(), Some("Timeout"), "{service}: {error}");
            assert!(
                error.is_transient(),
                "{service}: a timeout is worth retrying: {error}"
            );
        }
        other => panic!("{service}: expected a Timeout error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_silent_endpoint_times_out_on_every_client() {
    let endpoint = black_hole();
    let sdk = sdk_config(&endpoint).await;
    let timeouts = CallTimeouts {
        connect: Duration::from_secs(2),
        attempt: Duration::from_millis(500),
        operation: Duration::from_secs(2),
    };
    let aws = AwsClients::with_timeouts(&sdk, &Endpoints::default(), timeouts);
    let calls = async {
        let started = Instant::now();
        assert_timeout("autoscaling", aws.describe_rollout_asgs("web").await);
        assert_timeout(
            "elbv2",
            aws.target_health("arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/a/1")
                .await,
        );
        assert_timeout(
            "cloudwatch",
            aws.alarm_states(&["web-5xx".to_string()]).await,
        );
        started.elapsed()
    };
    let elapsed = tokio::time::timeout(OUTER_BOUND, calls)
        .await
        .expect("an AWS call hung past the outer bound");
    // Three operations of at most 2 s each (plus scheduling slack): the bound held.
    assert!(elapsed < Duration::from_secs(30), "{elapsed:?}");
}

#[tokio::test]
async fn clients_from_a_configuration_without_timeouts_get_the_defaults() {
    // A shared configuration with no timeouts at all (as a caller might build one).
    let sdk = sdk_config(&black_hole()).await;
    let aws = AwsClients::new(&sdk, &Endpoints::default());
    for (service, timeouts) in aws.timeouts().await {
        assert_eq!(
            timeouts,
            Some(CallTimeouts::from_env()),
            "{service} must carry connect, attempt and operation timeouts"
        );
    }
}
