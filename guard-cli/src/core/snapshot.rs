//! Terraform state snapshots (format version 4) and their comparison by resource address and
//! attribute. Pure: bytes in, differences out.
//!
//! Parsing is lazy, so that a 50 MB state diffs in well under a second and a few times its size
//! in memory: a snapshot keeps the state text and, per resource instance, only where its
//! `attributes` and `sensitive_attributes` are in that text. Two instances whose raw texts are
//! equal are equal; only instances whose texts differ are parsed into values and compared.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

pub use super::sensitive::SENSITIVE;
use super::sensitive::mask_state_paths;

/// A parsed state: identity, plus where each resource instance's attributes are in the text.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub serial: u64,
    pub lineage: String,
    /// The state text the ranges below index into (valid UTF-8 JSON, checked by `parse`).
    text: String,
    /// Address (`module.m.aws_s3_bucket.b["k"]`) → the instance's raw attribute texts.
    instances: BTreeMap<String, InstanceText>,
}

/// Byte ranges of one instance's `attributes` (an object or absent) and `sensitive_attributes`.
#[derive(Debug, Clone, PartialEq)]
struct InstanceText {
    attributes: Option<Range<usize>>,
    sensitive: Option<Range<usize>>,
}

/// State bytes that are not a Terraform state.
#[derive(Debug, thiserror::Error)]
#[error("state {location} is not a Terraform state (format version 4): {message}")]
pub struct SnapshotError {
    pub location: String,
    pub message: String,
}

#[derive(Deserialize)]
struct RawState<'a> {
    version: u64,
    serial: u64,
    lineage: String,
    #[serde(default, borrow)]
    resources: Vec<RawResource<'a>>,
}

#[derive(Deserialize)]
struct RawResource<'a> {
    #[serde(default, borrow)]
    module: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    mode: std::borrow::Cow<'a, str>,
    #[serde(rename = "type", borrow)]
    kind: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    name: std::borrow::Cow<'a, str>,
    #[serde(default, borrow)]
    instances: Vec<RawInstance<'a>>,
}

#[derive(Deserialize)]
struct RawInstance<'a> {
    #[serde(default)]
    index_key: Option<Value>,
    #[serde(default, borrow)]
    attributes: Option<&'a RawValue>,
    #[serde(default, borrow)]
    sensitive_attributes: Option<&'a RawValue>,
    // Everything else (`private`, `dependencies`...) is skipped by serde without being built.
}

/// Where `part` (a slice of `whole`) lies in `whole`.
fn range_in(whole: &str, part: &str) -> Range<usize> {
    let start = (part.as_ptr() as usize).saturating_sub(whole.as_ptr() as usize);
    start..start + part.len()
}

impl Snapshot {
    /// Parses a state, taking ownership of its bytes (no copy is made).
    pub fn parse(location: &str, bytes: Vec<u8>) -> Result<Snapshot, SnapshotError> {
        let error = |message: String| SnapshotError {
            location: location.to_string(),
            message,
        };
        let text = String::from_utf8(bytes).map_err(|e| error(e.to_string()))?;
        let raw: RawState = serde_json::from_str(&text).map_err(|e| error(e.to_string()))?;
        if raw.version != 4 {
            return Err(error(format!(
                "format version {} is not supported",
                raw.version
            )));
        }
        let mut instances = BTreeMap::new();
        for resource in raw.resources {
            let mut base = String::new();
            if let Some(module) = resource.module.as_deref().filter(|m| !m.is_empty()) {
                base.push_str(module);
                base.push('.');
            }
            if resource.mode == "data" {
                base.push_str("data.");
            }
            base.push_str(&resource.kind);
            base.push('.');
            base.push_str(&resource.name);
            for instance in resource.instances {
                let address = match &instance.index_key {
                    None | Some(Value::Null) => base.clone(),
                    Some(Value::String(key)) => format!("{base}[{}]", Value::String(key.clone())),
                    Some(other) => format!("{base}[{other}]"),
                };
                let attributes = match instance.attributes.map(RawValue::get) {
                    None | Some("null") => None,
                    Some(object) if object.starts_with('{') => Some(range_in(&text, object)),
                    Some(other) => {
                        return Err(error(format!(
                            "attributes of {address} must be an object, got {other:.40}"
                        )));
                    }
                };
                let sensitive = instance
                    .sensitive_attributes
                    .map(|raw| range_in(&text, raw.get()));
                instances.insert(
                    address,
                    InstanceText {
                        attributes,
                        sensitive,
                    },
                );
            }
        }
        Ok(Snapshot {
            serial: raw.serial,
            lineage: raw.lineage,
            text,
            instances,
        })
    }

    /// A state with no resources (what there was before the first write).
    pub fn empty(lineage: &str) -> Snapshot {
        Snapshot {
            serial: 0,
            lineage: lineage.to_string(),
            text: String::new(),
            instances: BTreeMap::new(),
        }
    }

    /// Resource instance addresses, sorted.
    pub fn addresses(&self) -> impl Iterator<Item = &str> {
        self.instances.keys().map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.instances.len()
    }

    pub fn is_empty(&self) -> bool {
        self.instances.is_empty()
    }

    /// The attributes of `address`, parsed, with sensitive values masked; `None` when absent.
    pub fn attributes(&self, address: &str) -> Option<Map<String, Value>> {
        self.instances
            .get(address)
            .map(|instance| self.parse_instance(instance))
    }

    fn slice(&self, range: &Option<Range<usize>>) -> &str {
        range
            .as_ref()
            .and_then(|r| self.text.get(r.clone()))
            .unwrap_or("")
    }

    /// The instance's attributes and sensitive paths as values. `parse` checked that the
    /// attributes are a JSON object and the paths valid JSON, but not how deep they nest: a
    /// value nested deeper than serde_json's recursion limit (128) is `None`, never a panic.
    fn raw_instance(&self, instance: &InstanceText) -> Option<(Map<String, Value>, Option<Value>)> {
        let text = self.slice(&instance.attributes);
        let attributes: Map<String, Value> = if text.is_empty() {
            Map::new()
        } else {
            serde_json::from_str(text).ok()?
        };
        let text = self.slice(&instance.sensitive);
        // Paths present but unreadable: `mask_state_paths` then masks every attribute.
        let paths = if text.is_empty() {
            None
        } else {
            Some(serde_json::from_str(text).unwrap_or(Value::Bool(true)))
        };
        Some((attributes, paths))
    }

    /// The attributes with every path of `sensitive_attributes` masked.
    fn parse_instance(&self, instance: &InstanceText) -> Map<String, Value> {
        let Some((mut attributes, paths)) = self.raw_instance(instance) else {
            return Map::new();
        };
        mask_state_paths(&mut attributes, paths.as_ref());
        attributes
    }

    /// Whether two instances are certainly equal without parsing them: the same raw texts.
    fn same_text(&self, mine: &InstanceText, other: &Snapshot, theirs: &InstanceText) -> bool {
        self.slice(&mine.attributes) == other.slice(&theirs.attributes)
            && self.slice(&mine.sensitive) == other.slice(&theirs.sensitive)
    }
}

/// One attribute that differs; `None` means absent on that side. Values Terraform marks
/// sensitive (on either side) are [`SENSITIVE`]: a changed secret shows as a change whose two
/// sides may read the same.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttributeChange {
    pub name: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResourceChange {
    pub address: String,
    pub attributes: Vec<AttributeChange>,
}

/// The difference between two snapshots.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StateDiff {
    pub serial_before: u64,
    pub serial_after: u64,
    pub lineage_before: String,
    pub lineage_after: String,
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<ResourceChange>,
}

impl StateDiff {
    pub fn lineage_changed(&self) -> bool {
        self.lineage_before != self.lineage_after
    }

    pub fn is_empty(&self) -> bool {
        !self.lineage_changed()
            && self.added.is_empty()
            && self.removed.is_empty()
            && self.changed.is_empty()
    }

    /// Every address added, removed or changed.
    pub fn touched(&self) -> impl Iterator<Item = &str> {
        self.added
            .iter()
            .chain(&self.removed)
            .map(String::as_str)
            .chain(self.changed.iter().map(|c| c.address.as_str()))
    }

    /// Addresses touched that this run was not going to change. Data sources are re-read by
    /// every run, so they never count as someone else's change.
    pub fn outside(&self, change_set: &BTreeSet<String>) -> Vec<String> {
        self.touched()
            .filter(|address| !change_set.contains(*address) && !is_data_source(address))
            .map(str::to_string)
            .collect()
    }
}

fn is_data_source(address: &str) -> bool {
    address.starts_with("data.") || address.contains(".data.")
}

/// Compares two snapshots by address, then attribute by attribute. Instances with identical raw
/// texts are skipped unparsed; only the others are parsed and compared value by value.
pub fn diff(before: &Snapshot, after: &Snapshot) -> StateDiff {
    let mut added = Vec::new();
    let mut removed = Vec::new();
    let mut changed = Vec::new();
    for (address, old) in &before.instances {
        match after.instances.get(address) {
            None => removed.push(address.clone()),
            Some(new) if before.same_text(old, after, new) => {}
            Some(new) => {
                // Texts differ but a side is too deep to read as values: a change all the same
                // (reading both as empty once hid a foreign write), without attribute details.
                let (Some((old, old_paths)), Some((new, new_paths))) =
                    (before.raw_instance(old), after.raw_instance(new))
                else {
                    changed.push(ResourceChange {
                        address: address.clone(),
                        attributes: Vec::new(),
                    });
                    continue;
                };
                // Compared unmasked (someone changing only a secret is still a change), shown
                // masked with both sides' sensitive paths.
                if old != new {
                    let masked = |attributes: &Map<String, Value>| {
                        let mut attributes = attributes.clone();
                        mask_state_paths(&mut attributes, old_paths.as_ref());
                        mask_state_paths(&mut attributes, new_paths.as_ref());
                        attributes
                    };
                    changed.push(ResourceChange {
                        address: address.clone(),
                        attributes: attribute_changes(&old, &new, &masked(&old), &masked(&new)),
                    });
                }
            }
        }
    }
    for address in after.instances.keys() {
        if !before.instances.contains_key(address) {
            added.push(address.clone());
        }
    }
    StateDiff {
        serial_before: before.serial,
        serial_after: after.serial,
        lineage_before: before.lineage.clone(),
        lineage_after: after.lineage.clone(),
        added,
        removed,
        changed,
    }
}

/// The attributes whose raw values differ, with their masked values.
pub(crate) fn attribute_changes(
    old: &Map<String, Value>,
    new: &Map<String, Value>,
    old_masked: &Map<String, Value>,
    new_masked: &Map<String, Value>,
) -> Vec<AttributeChange> {
    let names: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    names
        .into_iter()
        .filter(|name| old.get(*name) != new.get(*name))
        .map(|name| AttributeChange {
            name: name.clone(),
            before: old_masked.get(name).cloned(),
            after: new_masked.get(name).cloned(),
        })
        .collect()
}

/// What a new state version means for a run that may change `change_set`.
#[derive(Debug, Clone, PartialEq)]
pub enum Assessment {
    /// Only this run's resources changed (Terraform persisting its progress).
    Expected,
    /// Someone else wrote the state: lineage replaced, resources outside the change set
    /// touched, or the serial went backwards.
    Foreign {
        reasons: Vec<String>,
        diff: StateDiff,
    },
}

pub fn assess(before: &Snapshot, after: &Snapshot, change_set: &BTreeSet<String>) -> Assessment {
    let diff = diff(before, after);
    let mut reasons = Vec::new();
    if diff.lineage_changed() {
        reasons.push(format!(
            "lineage changed from {} to {} (a different state was uploaded)",
            diff.lineage_before, diff.lineage_after
        ));
    }
    if diff.serial_after < diff.serial_before {
        reasons.push(format!(
            "serial went backwards from {} to {}",
            diff.serial_before, diff.serial_after
        ));
    }
    let outside = diff.outside(change_set);
    if !outside.is_empty() {
        reasons.push(format!(
            "resources outside this run's plan changed: {}",
            outside.join(", ")
        ));
    }
    if reasons.is_empty() {
        Assessment::Expected
    } else {
        Assessment::Foreign { reasons, diff }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn state(serial: u64, lineage: &str, resources: &str) -> Vec<u8> {
        format!(
            r#"{{"version":4,"terraform_version":"1.15.5","serial":{serial},"lineage":"{lineage}",
                "outputs":{{}},"resources":[{resources}],"check_results":null}}"#
        )
        .into_bytes()
    }

    pub fn data_resource(name: &str, input: &str) -> String {
        format!(
            r#"{{"mode":"managed","type":"terraform_data","name":"{name}",
                "provider":"provider[\"terraform.io/builtin/terraform\"]",
                "instances":[{{"schema_version":0,"attributes":{{"id":"{name}-id","input":"{input}"}},
                "sensitive_attributes":[]}}]}}"#
        )
    }

    #[test]
    fn addresses_cover_modules_data_sources_and_keys() {
        let bytes = state(
            1,
            "L",
            r#"{"module":"module.app","mode":"managed","type":"t","name":"n","instances":[
                 {"index_key":0,"attributes":{}},{"index_key":"a","attributes":{}}]},
               {"mode":"data","type":"d","name":"x","instances":[{"attributes":{}}]}"#,
        );
        let snapshot = Snapshot::parse("x", bytes).unwrap();
        let addresses: Vec<&str> = snapshot.addresses().collect();
        assert_eq!(
            addresses,
            ["data.d.x", "module.app.t.n[\"a\"]", "module.app.t.n[0]"]
        );
    }

    #[test]
    fn sensitive_values_are_masked() {
        let bytes = state(
            1,
            "L",
            r#"{"mode":"managed","type":"t","name":"n","instances":[{"attributes":
               {"password":"hunter2","name":"x"},
               "sensitive_attributes":[[{"type":"get_attr","value":"password"}]]}]}"#,
        );
        let snapshot = Snapshot::parse("x", bytes).unwrap();
        let attributes = snapshot.attributes("t.n").unwrap();
        assert_eq!(attributes["password"], SENSITIVE);
        assert_eq!(attributes["name"], "x");
    }

    #[test]
    fn malformed_states_are_clear_errors() {
        for bad in [
            &b"{"[..],
            b"[]",
            b"\xff",
            br#"{"version":4,"serial":1,"lineage":"x","resources":[
                {"mode":"managed","type":"t","name":"n","instances":[{"attributes":5}]}]}"#,
            b"{\"version\":4}",
            br#"{"version":3,"serial":1,"lineage":"x"}"#,
        ] {
            let error = Snapshot::parse("s3://b/k", bad.to_vec())
                .unwrap_err()
                .to_string();
            assert!(
                error.contains("s3://b/k") && error.contains("not a Terraform state"),
                "{error}"
            );
        }
    }

    #[test]
    fn diff_by_address_and_attribute() {
        let a = Snapshot::parse(
            "a",
            state(
                1,
                "L",
                &[data_resource("x", "1"), data_resource("y", "1")].join(","),
            ),
        )
        .unwrap();
        let b = Snapshot::parse(
            "b",
            state(
                2,
                "L",
                &[data_resource("x", "2"), data_resource("z", "1")].join(","),
            ),
        )
        .unwrap();
        let d = diff(&a, &b);
        assert_eq!(d.added, ["terraform_data.z"]);
        assert_eq!(d.removed, ["terraform_data.y"]);
        assert_eq!(d.changed.len(), 1);
        assert_eq!(d.changed[0].address, "terraform_data.x");
        assert_eq!(d.changed[0].attributes[0].name, "input");
        assert_eq!(d.changed[0].attributes[0].after, Some(Value::from("2")));
        assert!(diff(&a, &a).is_empty());
    }

    #[test]
    fn reformatting_is_not_a_change() {
        let compact = r#"{"mode":"managed","type":"t","name":"n","instances":[{"attributes":
            {"a":1,"secret":"old"},"sensitive_attributes":[[{"type":"get_attr","value":"secret"}]]}]}"#;
        let spaced = r#"{"mode":"managed","type":"t","name":"n","instances":[{"attributes":
            { "secret" : "old", "a" : 1 },
            "sensitive_attributes":[[{"type":"get_attr","value":"secret"}]],"private":"eA=="}]}"#;
        let a = Snapshot::parse("a", state(1, "L", compact)).unwrap();
        let b = Snapshot::parse("b", state(2, "L", spaced)).unwrap();
        assert!(diff(&a, &b).is_empty(), "{:?}", diff(&a, &b));
        assert_eq!(a.attributes("t.n"), b.attributes("t.n"));
        assert_eq!(a.attributes("t.missing"), None);
        assert_eq!(
            (a.len(), a.is_empty(), Snapshot::empty("L").is_empty()),
            (1, false, true)
        );
    }

    /// A change of a secret alone is a change (someone else's write must not hide behind a
    /// mask), shown masked on both sides, nested paths exactly, and by either side's paths.
    #[test]
    fn a_sensitive_change_is_a_change_shown_masked() {
        let version = |serial: u64, password: &str, paths: &str| {
            let resource = format!(
                r#"{{"mode":"managed","type":"t","name":"n","instances":[{{"attributes":
                {{"a":1,"login":{{"user":"app","password":"{password}"}}}},
                "sensitive_attributes":{paths}}}]}}"#
            );
            Snapshot::parse("x", state(serial, "L", &resource)).unwrap()
        };
        let nested =
            r#"[[{"type":"get_attr","value":"login"},{"type":"get_attr","value":"password"}]]"#;
        let before = version(1, "hunter1", nested);
        let after = version(2, "hunter2", nested);
        let d = diff(&before, &after);
        assert_eq!(d.changed.len(), 1, "{d:?}");
        let change = &d.changed[0].attributes[0];
        assert_eq!(change.name, "login");
        let masked = serde_json::json!({"user": "app", "password": SENSITIVE});
        assert_eq!(change.before, Some(masked.clone()));
        assert_eq!(change.after, Some(masked));
        // Marked on one side only: masked on both.
        let unmarked = version(3, "hunter3", "[]");
        let d = diff(&before, &unmarked);
        let text = serde_json::to_string(&d).unwrap();
        assert!(!text.contains("hunter"), "{text}");
    }

    #[test]
    fn changes_inside_the_change_set_are_expected() {
        let a = Snapshot::parse("a", state(1, "L", &data_resource("x", "1"))).unwrap();
        let b = Snapshot::parse("b", state(2, "L", &data_resource("x", "2"))).unwrap();
        let plan: BTreeSet<String> = ["terraform_data.x".to_string()].into();
        assert_eq!(assess(&a, &b, &plan), Assessment::Expected);
        let Assessment::Foreign { reasons, .. } = assess(&a, &b, &BTreeSet::new()) else {
            panic!()
        };
        assert!(reasons[0].contains("terraform_data.x"), "{reasons:?}");
    }

    #[test]
    fn a_new_lineage_is_foreign_even_inside_the_change_set() {
        let a = Snapshot::parse("a", state(1, "L1", &data_resource("x", "1"))).unwrap();
        let b = Snapshot::parse("b", state(2, "L2", &data_resource("x", "1"))).unwrap();
        let Assessment::Foreign { reasons, .. } = assess(&a, &b, &BTreeSet::new()) else {
            panic!()
        };
        assert!(reasons[0].contains("lineage"), "{reasons:?}");
    }

    #[test]
    fn data_sources_are_never_foreign() {
        let d = StateDiff {
            serial_before: 1,
            serial_after: 2,
            lineage_before: "L".into(),
            lineage_after: "L".into(),
            added: vec!["data.x.y".into(), "module.m.data.x.y".into()],
            removed: vec![],
            changed: vec![],
        };
        assert!(d.outside(&BTreeSet::new()).is_empty());
    }
}
