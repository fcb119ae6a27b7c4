//! Terraform's lock record (`statemgr.LockInfo`), as stored in the DynamoDB lock item's `Info`
//! attribute and in the S3 `<key>.tflock` object.

use serde::{Deserialize, Serialize};

/// Terraform's lock info JSON: `{ID, Operation, Info, Who, Version, Created, Path}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LockInfo {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(default)]
    pub operation: String,
    #[serde(default)]
    pub info: String,
    #[serde(default)]
    pub who: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub created: String,
    #[serde(default)]
    pub path: String,
}

/// A lock record that is not Terraform's lock info JSON.
#[derive(Debug, thiserror::Error)]
#[error(
    "Terraform lock at {location} is malformed ({message}); content starts with {excerpt:?}. \
         Check who wrote it; `terraform force-unlock` removes it"
)]
pub struct LockInfoError {
    pub location: String,
    pub message: String,
    pub excerpt: String,
}

impl LockInfo {
    pub fn parse(location: &str, json: &str) -> Result<LockInfo, LockInfoError> {
        let error = |message: String| LockInfoError {
            location: location.to_string(),
            message,
            excerpt: json.chars().take(80).collect(),
        };
        let info: LockInfo = serde_json::from_str(json).map_err(|e| error(e.to_string()))?;
        if info.id.is_empty() {
            return Err(error("`ID` is empty".to_string()));
        }
        Ok(info)
    }

    /// `apply by alice@host since 2026-... (lock 1f2e...)`.
    pub fn describe(&self) -> String {
        let operation = if self.operation.is_empty() {
            "?"
        } else {
            &self.operation
        };
        format!(
            "{operation} by {} since {} (lock {})",
            self.who, self.created, self.id
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_terraform_lock_info() {
        let json = r#"{"ID":"0b6f","Operation":"OperationTypeApply","Info":"","Who":"alice@ci",
            "Version":"1.15.5","Created":"2026-11-26T12:00:00.1Z","Path":"b/k"}"#;
        let info = LockInfo::parse("x", json).unwrap();
        assert_eq!(info.id, "0b6f");
        assert_eq!(info.who, "alice@ci");
        assert!(info.describe().contains("OperationTypeApply by alice@ci"));
    }

    #[test]
    fn malformed_lock_info_is_a_clear_error() {
        for bad in [
            "",
            "{",
            "[]",
            r#"{"ID":5}"#,
            r#"{"Who":"x"}"#,
            r#"{"ID":""}"#,
        ] {
            let error = LockInfo::parse("dynamodb:locks/b/k", bad)
                .unwrap_err()
                .to_string();
            assert!(
                error.contains("dynamodb:locks/b/k") && error.contains("malformed"),
                "{error}"
            );
        }
    }
}
