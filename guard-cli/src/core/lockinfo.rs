//! Terraform's lock record (`statemgr.LockInfo`), as stored in the DynamoDB lock item's `Info`
//! attribute and in the S3 `<key>.tflock` object.

use std::time::SystemTime;

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

    /// When the lock was taken, from `Created` (RFC 3339 in UTC, as Terraform writes it with
    /// nanoseconds); `None` when it is not such a time.
    pub fn created_at(&self) -> Option<SystemTime> {
        humantime::parse_rfc3339(&self.created).ok()
    }

    /// `held by alice@host (OperationTypeApply), taken 2m3s ago (lock 1f2e...)`: the holder,
    /// its operation and the lock's age at `now`, for refusals.
    pub fn describe_age(&self, now: SystemTime) -> String {
        let operation = if self.operation.is_empty() {
            "?"
        } else {
            &self.operation
        };
        let age = match self.created_at() {
            Some(created) => format!(
                "taken {} ago",
                super::lease::human(super::lease::age(created, now))
            ),
            None => format!("taken at {:?}", self.created),
        };
        format!(
            "held by {} ({operation}), {age} (lock {})",
            self.who, self.id
        )
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
    fn created_is_read_with_nanoseconds_and_the_age_is_described() {
        let json = r#"{"ID":"0b6f","Operation":"OperationTypeApply","Who":"alice@ci",
            "Created":"2026-11-26T12:00:00.123456789Z"}"#;
        let info = LockInfo::parse("x", json).unwrap();
        let created = info.created_at().unwrap();
        assert_eq!(
            humantime::format_rfc3339_nanos(created).to_string(),
            "2026-11-26T12:00:00.123456789Z"
        );
        let text = info.describe_age(created + std::time::Duration::from_secs(125));
        assert_eq!(
            text,
            "held by alice@ci (OperationTypeApply), taken 2m5s ago (lock 0b6f)"
        );
        let odd = LockInfo {
            created: "yesterday".into(),
            ..info
        };
        assert_eq!(odd.created_at(), None);
        assert!(odd.describe_age(created).contains("taken at \"yesterday\""));
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
