//! SARIF output validated against the SARIF 2.1.0 JSON schema (OASIS errata 01, draft-04),
//! committed at test-fixtures/check/sarif-schema-2.1.0.json (see the README there for its origin).

// Helpers shared by the tests abort on broken fixtures: clippy.toml only exempts #[test] fns.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use zdd_check::render::sarif;
use zdd_check::{CheckError, DEFAULT_RULES_URL, Settings, Severity, check_dir};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../test-fixtures/check")
}

fn validator() -> jsonschema::Validator {
    let text = std::fs::read_to_string(fixtures().join("sarif-schema-2.1.0.json")).expect("schema");
    let schema: serde_json::Value = serde_json::from_str(&text).expect("schema is JSON");
    jsonschema::draft4::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("schema compiles")
}

fn assert_valid(validator: &jsonschema::Validator, log: &serde_json::Value, what: &str) {
    let errors: Vec<String> = validator
        .iter_errors(log)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{what}: SARIF invalid: {errors:#?}");
}

#[test]
fn sarif_of_every_fixture_is_valid() {
    let validator = validator();
    let mut dirs: Vec<PathBuf> = Vec::new();
    for entry in std::fs::read_dir(fixtures()).expect("fixtures") {
        let path = entry.expect("entry").path();
        if path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("ZDD"))
        {
            dirs.push(path.join("bad"));
            dirs.push(path.join("good"));
        }
    }
    dirs.push(fixtures().join("cases/suppression"));
    dirs.push(fixtures().join("cases/modules/root"));
    dirs.push(fixtures().join("cases/autoscaling_modules/root"));
    assert!(dirs.len() >= 30);
    let mut results = 0;
    for dir in dirs {
        let report = check_dir(&dir).expect("parses");
        let log = sarif::render(&report, &Settings::published(Severity::Warning));
        results += log["runs"][0]["results"].as_array().expect("results").len();
        assert_valid(&validator, &log, &dir.display().to_string());
    }
    assert!(
        results > 20,
        "only {results} results: the fixtures should produce many"
    );
}

/// Each rule's bad fixture yields results of that rule, and every result's `ruleIndex` points at
/// the driver's entry for its `ruleId` (GitHub shows the rule's help from that entry).
#[test]
fn sarif_results_point_at_their_rule_in_the_driver() {
    for entry in std::fs::read_dir(fixtures()).expect("fixtures") {
        let dir = entry.expect("entry").path();
        let Some(rule_id) = dir
            .file_name()
            .and_then(|n| n.to_str())
            .filter(|n| n.starts_with("ZDD"))
            .map(str::to_owned)
        else {
            continue;
        };
        let report = check_dir(&dir.join("bad")).expect("parses");
        let log = sarif::render(&report, &Settings::published(Severity::Warning));
        let run = &log["runs"][0];
        let rules = run["tool"]["driver"]["rules"].as_array().expect("rules");
        let results = run["results"].as_array().expect("results");
        assert!(!results.is_empty(), "{rule_id}: no results");
        for result in results {
            assert_eq!(result["ruleId"], rule_id.as_str(), "{rule_id}: {result}");
            let index = result["ruleIndex"].as_u64().expect("ruleIndex") as usize;
            assert_eq!(rules[index]["id"], rule_id.as_str(), "{rule_id}: {result}");
            let level = result["level"].as_str().expect("level");
            assert!(level == "error" || level == "warning", "{result}");
        }
    }
}

#[test]
fn sarif_of_a_parse_error_is_valid_and_located() {
    let validator = validator();
    let error = check_dir(&fixtures().join("cases/parse_error")).expect_err("parse error");
    assert!(
        matches!(
            error,
            CheckError::Parse {
                line: 9,
                column: 10,
                ..
            }
        ),
        "{error:?}"
    );
    let log = sarif::render_error(&error, DEFAULT_RULES_URL);
    assert_valid(&validator, &log, "parse error");
    let invocation = &log["runs"][0]["invocations"][0];
    assert_eq!(invocation["executionSuccessful"], false);
    let region =
        &invocation["toolExecutionNotifications"][0]["locations"][0]["physicalLocation"]["region"];
    assert_eq!(region["startLine"], 9);
}

#[test]
fn suppressed_findings_carry_an_in_source_suppression() {
    let report = check_dir(&fixtures().join("cases/suppression")).expect("parses");
    let log = sarif::render(&report, &Settings::published(Severity::Warning));
    let suppressed: Vec<&serde_json::Value> = log["runs"][0]["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter(|result| result.get("suppressions").is_some())
        .collect();
    assert_eq!(suppressed.len(), 1);
    assert_eq!(suppressed[0]["suppressions"][0]["kind"], "inSource");
    assert_eq!(suppressed[0]["ruleId"], "ZDD020");
}

#[test]
fn the_schema_rejects_a_broken_log() {
    // Guards against a validator that accepts everything.
    let validator = validator();
    let broken = serde_json::json!({ "version": "2.1.0", "runs": [{ "results": [] }] });
    assert!(
        !validator.is_valid(&broken),
        "a run without `tool` must be invalid"
    );
    let bad_region = serde_json::json!({ "version": "2.1.0", "runs": [{
        "tool": { "driver": { "name": "x" } },
        "results": [{ "message": { "text": "m" }, "locations": [{ "physicalLocation": {
            "artifactLocation": { "uri": "main.tf" }, "region": { "startLine": 0 } } }] }]
    }]});
    assert!(
        !validator.is_valid(&bad_region),
        "startLine 0 must be invalid"
    );
}

/// Rule links must work outside this repository: `helpUri` is an absolute URL under the
/// configured base (issue #17), and the default is the published pages.
#[test]
fn every_rule_links_its_page_under_the_configured_base() {
    let validator = validator();
    let report = check_dir(&fixtures().join("ZDD010/bad")).expect("parses");
    for base in [DEFAULT_RULES_URL, "https://mirror.example.com/zdd/rules/"] {
        let settings = Settings {
            threshold: Severity::Warning,
            rules_url: base,
        };
        let log = sarif::render(&report, &settings);
        assert_valid(&validator, &log, base);
        let rules = log["runs"][0]["tool"]["driver"]["rules"]
            .as_array()
            .expect("rules");
        assert!(!rules.is_empty());
        for rule in rules {
            let id = rule["id"].as_str().expect("id");
            let url = format!("{}/{id}.md", base.trim_end_matches('/'));
            assert_eq!(rule["helpUri"], url.as_str(), "{rule}");
            let help = rule["help"]["text"].as_str().expect("help text");
            assert!(help.contains(&url), "{help}");
        }
    }
}
