//! The pure core's own checks: errors, escaping, the page's frame. The rendered rollouts
//! (rolled back, 200 steps, hostile text) are checked in `tests/guard/report.rs` and in a
//! browser in `tests/guard/report_browser.rs`.

use serde_json::json;

use super::*;

fn raw_state(attributes: serde_json::Value) -> String {
    json!({
        "version": 4,
        "resources": [{"mode": "managed", "type": "zdd_rollout", "name": "web",
                       "instances": [{"attributes": attributes}]}]
    })
    .to_string()
}

fn small_rollout() -> serde_json::Value {
    json!({
        "name": "web",
        "generation": 2,
        "strategy": "blue_green",
        "last_rollout": {
            "status": "succeeded",
            "started_at": "2026-12-02T19:00:00Z",
            "finished_at": "2026-12-02T19:02:00Z",
            "steps": [
                {"at": "2026-12-02T19:00:00Z", "action": "phase", "detail": "launching: blue_green generation 1 → 2 (lt:2)"},
                {"at": "2026-12-02T19:01:00Z", "action": "phase", "detail": "draining_old: 30s"},
                {"at": "2026-12-02T19:02:00Z", "action": "phase", "detail": "complete"}
            ],
            "samples": [
                {"at": "2026-12-02T19:00:00Z", "healthy_new": 0, "healthy_old": 2, "weight_new": null},
                {"at": "2026-12-02T19:00:40Z", "healthy_new": 2, "healthy_old": 2, "weight_new": null},
                {"at": "2026-12-02T19:01:40Z", "healthy_new": 2, "healthy_old": 0, "weight_new": null}
            ]
        }
    })
}

#[test]
fn escape_leaves_no_markup_and_no_attribute_exit() {
    assert_eq!(
        escape(r#"</svg><script>x("a")</script> 'b' & c"#),
        "&lt;/svg&gt;&lt;script&gt;x(&quot;a&quot;)&lt;/script&gt; &#39;b&#39; &amp; c"
    );
    assert_eq!(escape("plain → text"), "plain → text");
}

#[test]
fn the_page_is_self_contained_and_locked_down() {
    let page = render(&raw_state(small_rollout()), None, "terraform.tfstate").unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains(&format!(
        r#"<meta http-equiv="Content-Security-Policy" content="{}">"#,
        html::CONTENT_SECURITY_POLICY
    )));
    for outside in [
        "<script",
        "<link",
        "src=",
        "@import",
        "url(http",
        "href=\"http",
    ] {
        assert!(!page.contains(outside), "{outside} in the page");
    }
    // The one address in the page is the SVG namespace, an identifier never fetched.
    let addresses = page.matches("http://").count() + page.matches("https://").count();
    assert_eq!(
        addresses,
        page.matches("http://www.w3.org/2000/svg").count()
    );
    assert_eq!(page.matches(r#"data-kind="rollout""#).count(), 1);
    assert_eq!(page.matches(r#"data-kind="phase-band""#).count(), 3);
    assert_eq!(page.matches(r#"data-kind="health""#).count(), 2);
    assert_eq!(
        page.matches(r#"data-kind="weight""#).count(),
        0,
        "no canary listener"
    );
    assert_eq!(page.matches(r#"data-kind="drain""#).count(), 1);
    assert_eq!(page.matches(r#"data-kind="failure""#).count(), 0);
    assert_eq!(page.matches(r#"data-kind="rollback""#).count(), 0);
    assert!(
        page.contains(r#"<dd data-fact="generation">1 → 2</dd>"#),
        "{page}"
    );
    assert!(page.contains(r#"<dd data-fact="duration">2m</dd>"#));
}

#[test]
fn a_state_that_cannot_be_drawn_says_why() {
    let error =
        |state: &str, resource: Option<&str>| rollouts(state, resource).unwrap_err().to_string();
    assert!(error("not json", None).starts_with("the state is not JSON"));
    assert!(error(r#"{"a": 1}"#, None).contains("not a Terraform state"));
    assert_eq!(
        error(r#"{"version": 4, "resources": []}"#, None),
        "the state has no zdd_rollout resource"
    );
    assert_eq!(
        error(
            &raw_state(json!({"name": "web", "last_rollout": null})),
            None
        ),
        "no zdd_rollout in the state has a last_rollout (none has rolled out yet): zdd_rollout.web"
    );
    let unknown = error(&raw_state(small_rollout()), Some("zdd_rollout.webb"));
    assert!(unknown.contains("--resource zdd_rollout.webb"), "{unknown}");
    assert!(unknown.ends_with("it has: zdd_rollout.web"), "{unknown}");
}

#[test]
fn resource_picks_one_rollout_and_the_default_is_every_one_with_a_last_rollout() {
    let state = json!({
        "version": 4,
        "resources": [
            {"mode": "managed", "type": "zdd_rollout", "name": "web", "instances": [{"attributes": small_rollout()}]},
            {"mode": "managed", "type": "zdd_rollout", "name": "new", "instances": [{"attributes": {"name": "new", "last_rollout": null}}]},
            {"module": "module.api", "mode": "managed", "type": "zdd_rollout", "name": "web", "instances": [{"attributes": small_rollout()}]}
        ]
    })
    .to_string();
    let all: Vec<String> = rollouts(&state, None)
        .unwrap()
        .into_iter()
        .map(|r| r.address)
        .collect();
    assert_eq!(all, ["zdd_rollout.web", "module.api.zdd_rollout.web"]);
    let one: Vec<String> = rollouts(&state, Some("module.api.zdd_rollout.web"))
        .unwrap()
        .into_iter()
        .map(|r| r.address)
        .collect();
    assert_eq!(one, ["module.api.zdd_rollout.web"]);
    assert!(matches!(
        rollouts(&state, Some("zdd_rollout.new")),
        Err(ReportError::NoLastRollout { .. })
    ));
}

/// A sample of `healthy_new` 4294967295 once wrapped the health axis's tick loop (a hang in
/// release, an overflow panic in debug); now the page is drawn and says why the sample is gone.
#[test]
fn a_health_count_of_u32_max_renders_with_a_note() {
    let mut rollout = small_rollout();
    rollout["last_rollout"]["samples"][1]["healthy_new"] = json!(u32::MAX);
    let page = render(&raw_state(rollout), None, "terraform.tfstate").unwrap();
    assert!(page.contains(r#"data-kind="health-axis""#));
    assert!(
        !page.contains("4294967295"),
        "the absurd sample is not drawn"
    );
    assert!(page.contains("count more than 100000 healthy targets"));
}
