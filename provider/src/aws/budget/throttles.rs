//! Counting throttled attempts: every attempt AWS answers with a throttling code, including
//! those the SDK's adaptive retry then retries (which the adapter never sees as errors).
//!
//! An SDK interceptor on each client ([`ThrottleCounter`]) reads the answer's error code after
//! it is deserialized, and names the attempt's action from the operation's [`Metadata`], which
//! the SDK puts in the config bag of every operation whatever its wire protocol (query, JSON or
//! CBOR: CloudWatch's SDK has moved between them). The code is judged by the adapter's
//! throttling list (`super::super::error::is_throttling_code`). The parsing is pure.

use std::sync::Arc;

use aws_sdk_autoscaling::config::interceptors::AfterDeserializationInterceptorContextRef;
use aws_sdk_autoscaling::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::client::orchestrator::Metadata;

use super::super::error::is_throttling_code;
use super::RateBudget;
use super::limits::{Api, DEFAULT_LIMITS};

/// The header a query-compatible JSON or CBOR answer names its query error code in
/// (`Code;Fault`).
const QUERY_ERROR_HEADER: &str = "x-amzn-query-error";

/// The header a JSON-protocol answer names its error type in (`Code:URL`).
const ERROR_TYPE_HEADER: &str = "x-amzn-errortype";

/// The error code of an answer (`None` for a success), wherever its protocol puts it: the
/// query-error header's (`Throttling;Sender`), the error-type header's
/// (`ThrottlingException:http://...`), a JSON body's `__type` or `code`
/// (`com.amazonaws.monitoring#ThrottlingException`), else an XML body's first `<Code>`
/// (query protocol: `<ErrorResponse><Error><Code>Throttling</Code>`).
pub fn error_code<'a>(
    status: u16,
    query_error: Option<&'a str>,
    error_type: Option<&'a str>,
    body: &'a [u8],
) -> Option<String> {
    if status < 400 {
        return None;
    }
    let from_query_header = query_error.map(|header| header.split(';').next().unwrap_or_default());
    let from_type_header = error_type.map(sanitize_error_type);
    if let Some(code) = [from_query_header, from_type_header]
        .into_iter()
        .flatten()
        .map(str::trim)
        .find(|code| !code.is_empty())
    {
        return Some(code.to_string());
    }
    let body = std::str::from_utf8(body).ok()?;
    if body.trim_start().starts_with('{') {
        return json_error_code(body);
    }
    let start = body.find("<Code>")? + "<Code>".len();
    let length = body[start..].find("</Code>")?;
    Some(body[start..start + length].trim())
        .filter(|code| !code.is_empty())
        .map(ToString::to_string)
}

/// A JSON error body's code: its `__type`, else its `code` (AWS's JSON protocols), without
/// the namespace before `#` or the URL after `:`.
fn json_error_code(body: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(body).ok()?;
    ["__type", "code"]
        .into_iter()
        .find_map(|key| value.get(key)?.as_str())
        .map(|raw| sanitize_error_type(raw).trim())
        .filter(|code| !code.is_empty())
        .map(ToString::to_string)
}

/// `ns#Code:http://url` -> `Code`, as the SDK reads a JSON error type.
fn sanitize_error_type(raw: &str) -> &str {
    let raw = raw.split(':').next().unwrap_or_default();
    raw.rsplit('#').next().unwrap_or_default()
}

/// The API named by `service` and an operation's name, as the budget knows it (`None`: an
/// action the budget has no bucket for).
fn known_api(service: &str, action: &str) -> Option<Api> {
    DEFAULT_LIMITS
        .iter()
        .map(|(api, _)| *api)
        .find(|api| api.service == service && api.action == action)
}

/// Counts the throttled attempts of one service's client into the shared budget's stats.
#[derive(Debug, Clone)]
pub struct ThrottleCounter {
    service: &'static str,
    budget: Arc<RateBudget>,
}

impl ThrottleCounter {
    pub fn new(service: &'static str, budget: Arc<RateBudget>) -> ThrottleCounter {
        ThrottleCounter { service, budget }
    }
}

impl Intercept for ThrottleCounter {
    fn name(&self) -> &'static str {
        "ThrottleCounter"
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_autoscaling::error::BoxError> {
        let response = context.response();
        let headers = response.headers();
        let code = error_code(
            response.status().as_u16(),
            headers.get(QUERY_ERROR_HEADER),
            headers.get(ERROR_TYPE_HEADER),
            response.body().bytes().unwrap_or_default(),
        );
        if code.as_deref().is_some_and(is_throttling_code) {
            let api = cfg
                .load::<Metadata>()
                .and_then(|operation| known_api(self.service, operation.name()));
            self.budget.record_throttle(api);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use aws_sdk_cloudwatch::config::interceptors::BeforeTransmitInterceptorContextMut;
    use aws_sdk_cloudwatch::config::retry::RetryConfig;
    use aws_sdk_cloudwatch::config::{BehaviorVersion, Credentials, Region};
    use aws_smithy_types::body::SdkBody;

    use super::super::super::fake_http::{Answer, FakeEndpoint};
    use super::super::BudgetStats;
    use super::super::limits::{CLOUDWATCH, RateLimits};
    use super::*;

    fn code(status: u16, query: Option<&str>, kind: Option<&str>, body: &[u8]) -> Option<String> {
        error_code(status, query, kind, body)
    }

    #[test]
    fn the_budget_knows_an_action_only_under_its_own_service() {
        assert_eq!(
            known_api("autoscaling", "DescribeAutoScalingGroups"),
            Some(Api::new("autoscaling", "DescribeAutoScalingGroups"))
        );
        assert_eq!(
            known_api("elasticloadbalancing", "DescribeAutoScalingGroups"),
            None
        );
        assert_eq!(known_api("autoscaling", "describeautoscalinggroups"), None);
    }

    #[test]
    fn the_error_code_comes_from_the_header_or_the_xml_body() {
        let xml = b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>1</RequestId></ErrorResponse>";
        assert_eq!(code(400, None, None, xml).as_deref(), Some("Throttling"));
        assert_eq!(code(200, None, None, xml), None, "a success has no code");
        assert_eq!(
            code(400, Some("ThrottlingException;Sender"), None, b"{}").as_deref(),
            Some("ThrottlingException")
        );
        assert_eq!(code(500, Some(""), None, b"<Code></Code>"), None);
        assert_eq!(code(400, None, None, b"<Code>unterminated"), None);
        assert_eq!(code(503, None, None, b"Service Unavailable"), None);
        // A message cannot fake a code: XML escapes its angle brackets.
        let escaped = b"<ErrorResponse><Error><Code>ValidationError</Code><Message>&lt;Code&gt;Throttling&lt;/Code&gt;</Message></Error></ErrorResponse>";
        assert_eq!(
            code(400, None, None, escaped).as_deref(),
            Some("ValidationError")
        );
        assert!(!is_throttling_code("ValidationError"));
        assert!(is_throttling_code("Throttling"));
        assert!(is_throttling_code("RequestLimitExceeded"));
    }

    #[test]
    fn the_error_code_of_a_json_answer_comes_from_its_type_header_or_body() {
        // awsJson: the type header (`Code:URL`) wins over the body.
        assert_eq!(
            code(
                400,
                None,
                Some("ThrottlingException:http://internal.amazon.com/coral/com.amazon.coral.availability/"),
                br#"{"__type":"ValidationException"}"#
            )
            .as_deref(),
            Some("ThrottlingException")
        );
        // A namespaced `__type`, or a bare `code`, in the body alone.
        assert_eq!(
            code(
                400,
                None,
                None,
                br#"{"__type":"com.amazonaws.monitoring#ThrottlingException","message":"Rate exceeded"}"#
            )
            .as_deref(),
            Some("ThrottlingException")
        );
        assert_eq!(
            code(400, None, None, br#" {"code":"Throttling","message":"x"}"#).as_deref(),
            Some("Throttling")
        );
        // The query-compatible header names the query code, which wins over the JSON type.
        assert_eq!(
            code(
                400,
                Some("Throttling;Sender"),
                Some("ThrottlingException"),
                br#"{"__type":"com.amazonaws.monitoring#ThrottlingException"}"#
            )
            .as_deref(),
            Some("Throttling")
        );
        // A message cannot fake a code, nor can a nested field; malformed JSON has none.
        assert_eq!(
            code(
                400,
                None,
                None,
                br#"{"message":"__type Throttling","error":{"__type":"Throttling"}}"#
            ),
            None
        );
        assert_eq!(code(400, None, None, br#"{"__type":"Throttling""#), None);
        assert_eq!(code(400, None, Some(" "), br##"{"__type":"#"}"##), None);
        assert_eq!(code(200, None, Some("ThrottlingException"), b"{}"), None);
    }

    const QUERY_THROTTLING: Answer = Answer {
        status: 400,
        headers: &[("content-type", "text/xml")],
        body: "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>1</RequestId></ErrorResponse>",
    };

    /// An answer in the shape a JSON-protocol service gives (no query-error header).
    const JSON_THROTTLING: Answer = Answer {
        status: 400,
        headers: &[
            ("content-type", "application/x-amz-json-1.0"),
            (
                "x-amzn-errortype",
                "ThrottlingException:http://internal.amazon.com/coral/",
            ),
        ],
        body: r#"{"__type":"com.amazonaws.monitoring#ThrottlingException","message":"Rate exceeded"}"#,
    };

    const JSON_VALIDATION: Answer = Answer {
        status: 400,
        headers: &[("content-type", "application/x-amz-json-1.0")],
        body: r#"{"__type":"com.amazonaws.monitoring#InvalidParameterValueException","message":"Throttling"}"#,
    };

    /// Sends each request as a JSON-protocol CloudWatch would (awsJson 1.0, the operation in
    /// `X-Amz-Target`, no `Action=` anywhere), as the SDK does for services that left the
    /// query protocol.
    #[derive(Debug)]
    struct AsJsonProtocol;

    impl Intercept for AsJsonProtocol {
        fn name(&self) -> &'static str {
            "AsJsonProtocol"
        }

        fn modify_before_signing(
            &self,
            context: &mut BeforeTransmitInterceptorContextMut<'_>,
            _runtime_components: &RuntimeComponents,
            _cfg: &mut ConfigBag,
        ) -> Result<(), aws_sdk_autoscaling::error::BoxError> {
            let request = context.request_mut();
            *request.body_mut() = SdkBody::from(r#"{"AlarmNames":["fleet-a"],"MaxRecords":100}"#);
            let headers = request.headers_mut();
            headers.insert("content-type", "application/x-amz-json-1.0");
            headers.insert(
                "x-amz-target",
                "GraniteServiceVersion20100801.DescribeAlarms",
            );
            headers.insert("content-length", "43");
            Ok(())
        }
    }

    /// Sends one DescribeAlarms (up to three attempts) through a CloudWatch client carrying
    /// the counter, against a fake AWS answering `answer`; answers the budget's stats and
    /// the bodies of the attempts sent.
    async fn describe_alarms_against(answer: Answer, json: bool) -> (BudgetStats, Vec<String>) {
        let budget = Arc::new(RateBudget::new(RateLimits::default()));
        let fake = FakeEndpoint::new(move |_| answer);
        let mut config = aws_sdk_cloudwatch::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
            .endpoint_url("http://127.0.0.1:9")
            .http_client(fake.clone())
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(3)
                    .with_initial_backoff(Duration::from_millis(1)),
            );
        if json {
            config = config.interceptor(AsJsonProtocol);
        }
        let config = config
            .interceptor(ThrottleCounter::new(CLOUDWATCH, Arc::clone(&budget)))
            .build();
        let client = aws_sdk_cloudwatch::Client::from_conf(config);
        let answer = client.describe_alarms().alarm_names("fleet-a").send().await;
        assert!(answer.is_err(), "every attempt is refused");
        let bodies = fake.bodies();
        (budget.stats(), bodies)
    }

    const DESCRIBE_ALARMS: Api = Api::new(CLOUDWATCH, "DescribeAlarms");

    #[tokio::test]
    async fn every_throttled_query_attempt_counts_under_its_action() {
        let (stats, bodies) = describe_alarms_against(QUERY_THROTTLING, false).await;
        assert_eq!(bodies.len(), 3, "the SDK retries a throttle: {bodies:?}");
        assert!(bodies[0].contains("Action=DescribeAlarms"), "{bodies:?}");
        assert_eq!(stats.throttled, 3);
        assert_eq!(stats.by_api[&DESCRIBE_ALARMS].throttled, 3);
    }

    #[tokio::test]
    async fn a_json_protocol_attempt_counts_under_its_action() {
        let (stats, bodies) = describe_alarms_against(JSON_THROTTLING, true).await;
        assert!(!bodies.is_empty());
        assert!(
            bodies.iter().all(|body| !body.contains("Action=")),
            "the request names no action in its body: {bodies:?}"
        );
        let attempts = u64::try_from(bodies.len()).unwrap();
        assert_eq!(stats.throttled, attempts, "each attempt was throttled");
        assert_eq!(
            stats.by_api.get(&DESCRIBE_ALARMS).map(|api| api.throttled),
            Some(attempts),
            "{stats:?}"
        );
    }

    #[tokio::test]
    async fn another_error_is_no_throttle_whatever_its_message_says() {
        let (stats, bodies) = describe_alarms_against(JSON_VALIDATION, true).await;
        assert_eq!(bodies.len(), 1, "a validation error is not retried");
        assert_eq!(stats.throttled, 0);
        assert!(stats.by_api.is_empty(), "{stats:?}");
    }
}
