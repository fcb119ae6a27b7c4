//! The guard's `--json` events (issue #17): every line carries `schema_version`, every event the
//! code emits is listed in `zdd_guard::output::events::EVENTS` at the levels it is emitted at,
//! the docs page is rendered from that table, and GitHub annotations never reach stdout.

// Helpers shared by the tests abort on broken fixtures: clippy.toml only exempts #[test] fns.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use zdd_guard::output::events::{EVENTS, SCHEMA_VERSION, level_name, render_markdown};

const DOCS_PAGE: &str = "docs/guides/zdd-guard-json-events.md";

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Regenerate with `ZDD_UPDATE_DOCS=1 cargo test --workspace --test guard -- json_events::`.
#[test]
fn the_events_page_is_rendered_from_the_table() {
    let path = repository().join(DOCS_PAGE);
    let rendered = render_markdown();
    if std::env::var_os("ZDD_UPDATE_DOCS").is_some() {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, &rendered).unwrap();
    }
    let committed = fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == rendered,
        "{DOCS_PAGE} is stale: run `ZDD_UPDATE_DOCS=1 cargo test --workspace --test guard -- json_events::` and commit it"
    );
    for spec in EVENTS {
        assert!(committed.contains(&format!("| `{}` |", spec.name)));
    }
}

/// `(event, level)` for every call a reporter is given a literal event name in, and the
/// non-literal first arguments (forwarders such as `report_interference`'s `event`).
fn emitted_in(source: &str) -> (BTreeSet<(String, String)>, BTreeSet<String>) {
    const CALLS: &[(&str, Option<&str>)] = &[
        ("reporter.info(", Some("info")),
        ("reporter.warn(", Some("warning")),
        ("reporter.error(", Some("error")),
        ("reporter.emit(", None),
        ("report_interference(", Some("error")),
    ];
    let mut literal = BTreeSet::new();
    let mut forwarded = BTreeSet::new();
    for (call, level) in CALLS {
        for (at, _) in source.match_indices(call) {
            let mut rest = source[at + call.len()..].trim_start();
            if call.starts_with("report_interference") {
                // Its first argument is the reporter; the definition's is `&mut self`.
                match rest.strip_prefix("reporter,") {
                    Some(after) => rest = after.trim_start(),
                    None => continue,
                }
            }
            let level = match level {
                Some(level) => (*level).to_owned(),
                None => {
                    // `Level::X,` or `crate::output::Level::X,`
                    let (path, after) = rest.split_once(',').unwrap();
                    rest = after.trim_start();
                    match path.rsplit("::").next().unwrap().trim() {
                        "Info" => "info",
                        "Warning" => "warning",
                        "Error" => "error",
                        other => panic!("unknown level {other}"),
                    }
                    .to_owned()
                }
            };
            if let Some(after_quote) = rest.strip_prefix('"') {
                let name = after_quote.split('"').next().unwrap().to_owned();
                literal.insert((name, level));
            } else {
                let argument: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                forwarded.insert(argument);
            }
        }
    }
    (literal, forwarded)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn the_table_lists_exactly_the_events_the_code_emits() {
    let mut files = Vec::new();
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    let mut emitted = BTreeSet::new();
    let mut forwarded = BTreeSet::new();
    for file in files {
        let (literal, names) = emitted_in(&fs::read_to_string(&file).unwrap());
        emitted.extend(literal);
        forwarded.extend(names);
    }
    let listed: BTreeSet<(String, String)> = EVENTS
        .iter()
        .flat_map(|spec| {
            spec.levels
                .iter()
                .map(|level| (spec.name.to_owned(), level_name(*level).to_owned()))
        })
        .collect();
    assert!(emitted.len() > 30, "the scan found too little: {emitted:?}");
    assert_eq!(
        emitted.difference(&listed).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "emitted but not in EVENTS"
    );
    assert_eq!(
        listed.difference(&emitted).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "in EVENTS but never emitted"
    );
    // Only the reporter's own helpers and `report_interference` pass a name through.
    assert_eq!(
        forwarded,
        BTreeSet::from(["event".to_owned()]),
        "an event name the scan cannot read"
    );
}

#[test]
fn the_scan_reads_every_call_form() {
    let (literal, forwarded) = emitted_in(
        r#"reporter.warn(
            "a", "m"); held.reporter.info("b", m); reporter.emit(
            crate::output::Level::Error, "c", m, d); self.report_interference(
            reporter, "d", m, d); fn report_interference(&mut self, reporter: &Reporter) {}
            reporter.emit(Level::Info, event, m, d);"#,
    );
    let pairs: Vec<(&str, &str)> = literal
        .iter()
        .map(|(name, level)| (name.as_str(), level.as_str()))
        .collect();
    assert_eq!(
        pairs,
        vec![
            ("a", "warning"),
            ("b", "info"),
            ("c", "error"),
            ("d", "error")
        ]
    );
    assert_eq!(forwarded, BTreeSet::from(["event".to_owned()]));
}

/// `--json` under GitHub Actions: the warning is a JSON line on stdout with `schema_version`,
/// and its annotation is on stderr, as is terraform's own output.
#[test]
fn json_stdout_stays_json_lines_when_github_annotations_are_on() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("main.tf"), "").unwrap();
    let terraform = dir.path().join("fake-terraform");
    fs::write(
        &terraform,
        "#!/bin/sh\necho 'terraform says: 100% done, a:b'\n",
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        fs::set_permissions(&terraform, fs::Permissions::from_mode(0o755)).unwrap();
    }
    let output = Command::new(env!("CARGO_BIN_EXE_zdd-guard"))
        .args(["run", "--json", "--allow-unlocked", "--chdir"])
        .arg(dir.path())
        .arg("--terraform")
        .arg(&terraform)
        .args(["--", "plan"])
        .env("GITHUB_ACTIONS", "true")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect();
    assert!(
        lines
            .iter()
            .any(|line| line["event"] == "unlocked" && line["level"] == "warning"),
        "{stdout}"
    );
    for line in &lines {
        assert_eq!(line["schema_version"], SCHEMA_VERSION, "{line}");
    }
    assert!(
        stderr.contains("::warning title=zdd-guard::running terraform without locking"),
        "{stderr}"
    );
    assert!(stderr.contains("terraform says: 100% done"), "{stderr}");
}
