//! The few EC2 calls the fixture makes (a VPC, subnets, a launch template and its versions),
//! sent as EC2 Query requests (form-encoded POST, XML answer) over the control client's HTTP.
//!
//! Why not `aws-sdk-ec2`: it was the largest crate of a cold build (EC2 has ~700 operations
//! of generated code) and nothing but this fixture used it: the provider and the guard make no
//! EC2 call. The local AWS (moto) does not check signatures, so the request carries the
//! credential scope moto routes by (service `ec2`, the access key that picks its account) and
//! no real signature.

use anyhow::{Context, anyhow, bail};
use aws_sdk_s3::config::ProvideCredentials;

use crate::control::request_text;

/// The EC2 Query API version every SDK sends.
const API_VERSION: &str = "2016-11-15";

/// Where and as whom EC2 calls go: the endpoint, region and access key of an `SdkConfig`.
#[derive(Debug, Clone)]
pub(crate) struct Ec2 {
    endpoint: String,
    region: String,
    access_key_id: String,
}

impl Ec2 {
    pub(crate) async fn of(cfg: &aws_config::SdkConfig) -> anyhow::Result<Ec2> {
        let endpoint = cfg
            .endpoint_url()
            .ok_or_else(|| anyhow!("the SDK config has no endpoint_url (the local AWS's)"))?
            .to_string();
        let region = cfg
            .region()
            .ok_or_else(|| anyhow!("the SDK config has no region"))?
            .to_string();
        let credentials = cfg
            .credentials_provider()
            .ok_or_else(|| anyhow!("the SDK config has no credentials"))?
            .provide_credentials()
            .await
            .context("reading the SDK config's credentials")?;
        Ok(Ec2 {
            endpoint,
            region,
            access_key_id: credentials.access_key_id().to_string(),
        })
    }

    /// Sends `action` with `params` (Query names such as `TagSpecification.1.ResourceType`)
    /// and returns the XML answer of a 2xx; any other status is an error carrying EC2's
    /// error code and message.
    pub(crate) async fn call(
        &self,
        action: &str,
        params: &[(&str, &str)],
    ) -> anyhow::Result<String> {
        let body = query_body(action, params);
        let authorization = format!(
            "AWS4-HMAC-SHA256 Credential={}/20260101/{}/ec2/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date, Signature={}",
            self.access_key_id,
            self.region,
            "0".repeat(64)
        );
        let endpoint = self.endpoint.clone();
        // The control client is blocking: off the runtime's worker threads.
        let (status, answer) = tokio::task::spawn_blocking(move || {
            request_text(
                &endpoint,
                "POST",
                "/",
                &[
                    ("Authorization", authorization.as_str()),
                    ("X-Amz-Date", "20260101T000000Z"),
                ],
                "application/x-www-form-urlencoded; charset=utf-8",
                &body,
            )
        })
        .await
        .context("the EC2 request's thread")??;
        if !(200..300).contains(&status) {
            let code = element(&answer, "Code").unwrap_or("?");
            let message = element(&answer, "Message").unwrap_or(&answer);
            bail!("EC2 {action} answered HTTP {status}: {code}: {message}");
        }
        Ok(answer)
    }
}

/// The state (`pending`, `running`, `terminated`, ...) EC2 reports for one instance: what the
/// local AWS's instance lifecycle did, seen as a user's tools see it.
pub async fn ec2_instance_state(
    cfg: &aws_config::SdkConfig,
    instance_id: &str,
) -> anyhow::Result<String> {
    let answer = Ec2::of(cfg)
        .await?
        .call("DescribeInstances", &[("InstanceId.1", instance_id)])
        .await?;
    let state = required(&answer, "instanceState", "DescribeInstances")?;
    Ok(required(state, "name", "DescribeInstances")?.to_string())
}

/// `Action=...&Version=...&name=value...`, form-encoded.
fn query_body(action: &str, params: &[(&str, &str)]) -> String {
    let mut pairs = vec![("Action", action), ("Version", API_VERSION)];
    pairs.extend_from_slice(params);
    pairs
        .iter()
        .map(|(name, value)| format!("{}={}", form_encode(name), form_encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Percent-encodes all but RFC 3986's unreserved characters (what AWS's Query parsers expect).
fn form_encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// The text of the first `<name>` element of `xml` (EC2's answers name each field once at the
/// depth the fixture reads, e.g. `<vpcId>` in CreateVpc's `<vpc>`).
pub(crate) fn element<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let start = xml.find(&open)? + open.len();
    let length = xml[start..].find(&close)?;
    Some(&xml[start..start + length])
}

/// [`element`], or an error naming the action whose answer lacked it.
pub(crate) fn required<'a>(xml: &'a str, name: &str, action: &str) -> anyhow::Result<&'a str> {
    element(xml, name).ok_or_else(|| anyhow!("{action} answered without <{name}>: {xml}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_carries_action_version_and_encoded_params() {
        let body = query_body(
            "CreateVpc",
            &[
                ("CidrBlock", "10.0.0.0/16"),
                ("TagSpecification.1.Tag.1.Value", "a b&c=d"),
            ],
        );
        assert_eq!(
            body,
            "Action=CreateVpc&Version=2016-11-15&CidrBlock=10.0.0.0%2F16\
             &TagSpecification.1.Tag.1.Value=a%20b%26c%3Dd"
        );
    }

    #[test]
    fn elements_are_found_by_exact_name() {
        let xml = "<CreateSubnetResponse><subnet><subnetIdx>no</subnetIdx>\
                   <subnetId>subnet-1</subnetId><vpcId>vpc-9</vpcId></subnet></CreateSubnetResponse>";
        assert_eq!(element(xml, "subnetId"), Some("subnet-1"));
        assert_eq!(element(xml, "vpcId"), Some("vpc-9"));
        assert_eq!(element(xml, "cidrBlock"), None);
        let missing = required(xml, "cidrBlock", "CreateSubnet").unwrap_err();
        assert!(
            missing
                .to_string()
                .contains("CreateSubnet answered without <cidrBlock>")
        );
    }
}
