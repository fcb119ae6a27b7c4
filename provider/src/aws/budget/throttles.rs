//! Counting throttled attempts: every attempt AWS answers with a throttling code, including
//! those the SDK's adaptive retry then retries (which the adapter never sees as errors).
//!
//! An SDK interceptor on each client ([`ThrottleCounter`]) notes the attempt's action before
//! it is sent (the query protocol's `Action=` parameter: all three services speak it) and
//! reads the answer's error code after it is deserialized; the code is judged by the
//! adapter's throttling list (`super::super::error::is_throttling_code`). The parsing is pure.

use std::sync::Arc;

use aws_sdk_autoscaling::config::interceptors::{
    AfterDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_sdk_autoscaling::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_types::config_bag::{Storable, StoreReplace};

use super::super::error::is_throttling_code;
use super::RateBudget;
use super::limits::{Api, DEFAULT_LIMITS};

/// The header a query-compatible JSON answer names its query error code in (`Code;Fault`).
const QUERY_ERROR_HEADER: &str = "x-amzn-query-error";

/// The action of a query-protocol request body (`Action=DescribeAutoScalingGroups&...`).
pub fn query_action(body: &[u8]) -> Option<&str> {
    let body = std::str::from_utf8(body).ok()?;
    body.split('&')
        .find_map(|pair| pair.strip_prefix("Action="))
        .filter(|action| action.chars().all(|c| c.is_ascii_alphanumeric()) && !action.is_empty())
}

/// The error code of an answer: the query-error header's, else the XML body's first
/// `<Code>` (query protocol: `<ErrorResponse><Error><Code>Throttling</Code>`). `None` for
/// a success.
pub fn error_code<'a>(
    status: u16,
    query_error: Option<&'a str>,
    body: &'a [u8],
) -> Option<&'a str> {
    if status < 400 {
        return None;
    }
    if let Some(header) = query_error {
        let code = header.split(';').next().unwrap_or_default().trim();
        if !code.is_empty() {
            return Some(code);
        }
    }
    let body = std::str::from_utf8(body).ok()?;
    let start = body.find("<Code>")? + "<Code>".len();
    let length = body[start..].find("</Code>")?;
    Some(body[start..start + length].trim()).filter(|code| !code.is_empty())
}

/// The API named by `service` and a request's action, as the budget knows it (`None`: an
/// action the budget has no bucket for).
fn known_api(service: &str, action: &str) -> Option<Api> {
    DEFAULT_LIMITS
        .iter()
        .map(|(api, _)| *api)
        .find(|api| api.service == service && api.action == action)
}

/// The action of the attempt in flight, kept in the operation's config bag between the
/// interceptor's hooks.
#[derive(Debug, Clone)]
struct AttemptAction(Option<Api>);

impl Storable for AttemptAction {
    type Storer = StoreReplace<Self>;
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

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_autoscaling::error::BoxError> {
        let api = context
            .request()
            .body()
            .bytes()
            .and_then(query_action)
            .and_then(|action| known_api(self.service, action));
        cfg.interceptor_state().store_put(AttemptAction(api));
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_autoscaling::error::BoxError> {
        let response = context.response();
        let code = error_code(
            response.status().as_u16(),
            response.headers().get(QUERY_ERROR_HEADER),
            response.body().bytes().unwrap_or_default(),
        );
        if code.is_some_and(is_throttling_code) {
            let api = cfg.load::<AttemptAction>().and_then(|attempt| attempt.0);
            self.budget.record_throttle(api);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_action_is_read_from_the_query_body() {
        assert_eq!(
            query_action(b"Action=DescribeAutoScalingGroups&Version=2011-01-01&MaxRecords=100"),
            Some("DescribeAutoScalingGroups")
        );
        assert_eq!(
            query_action(b"Version=2015-12-01&Action=DescribeTargetHealth"),
            Some("DescribeTargetHealth")
        );
        assert_eq!(query_action(b"Version=1&NotAction=X"), None);
        assert_eq!(query_action(b"Action=&Version=1"), None);
        assert_eq!(query_action(b"Action=Describe%20Evil"), None);
        assert_eq!(query_action(&[0xff, 0xfe]), None);
        assert_eq!(
            known_api("autoscaling", "DescribeAutoScalingGroups"),
            Some(Api::new("autoscaling", "DescribeAutoScalingGroups"))
        );
        assert_eq!(
            known_api("elasticloadbalancing", "DescribeAutoScalingGroups"),
            None
        );
    }

    #[test]
    fn the_error_code_comes_from_the_header_or_the_xml_body() {
        let xml = b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>1</RequestId></ErrorResponse>";
        assert_eq!(error_code(400, None, xml), Some("Throttling"));
        assert_eq!(error_code(200, None, xml), None, "a success has no code");
        assert_eq!(
            error_code(400, Some("ThrottlingException;Sender"), b"{}"),
            Some("ThrottlingException")
        );
        assert_eq!(error_code(500, Some(""), b"<Code></Code>"), None);
        assert_eq!(error_code(400, None, b"<Code>unterminated"), None);
        assert_eq!(error_code(503, None, b"Service Unavailable"), None);
        // A message cannot fake a code: XML escapes its angle brackets.
        let escaped = b"<ErrorResponse><Error><Code>ValidationError</Code><Message>&lt;Code&gt;Throttling&lt;/Code&gt;</Message></Error></ErrorResponse>";
        assert_eq!(error_code(400, None, escaped), Some("ValidationError"));
        assert!(!is_throttling_code("ValidationError"));
        assert!(is_throttling_code("Throttling"));
        assert!(is_throttling_code("RequestLimitExceeded"));
    }
}
