//! `tracing` output as hclog JSON lines on stderr: Terraform reads a
//! plugin's stderr and logs each line at its `@level`, so `TF_LOG` and
//! `TF_LOG_PROVIDER` filter provider logs like Go providers' logs.

use std::io::Write;

use serde_json::{Map, Value as Json};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

/// The level from `TF_LOG_PROVIDER` or `TF_LOG` (`JSON` means trace);
/// warnings only when neither is set.
pub fn level_from_env() -> LevelFilter {
    let value = std::env::var("TF_LOG_PROVIDER")
        .or_else(|_| std::env::var("TF_LOG"))
        .unwrap_or_default();
    match value.trim().to_ascii_lowercase().as_str() {
        "trace" | "json" => LevelFilter::TRACE,
        "debug" => LevelFilter::DEBUG,
        "info" => LevelFilter::INFO,
        "error" => LevelFilter::ERROR,
        "off" => LevelFilter::OFF,
        _ => LevelFilter::WARN,
    }
}

/// Installs the hclog JSON layer (once; later calls do nothing) and a panic
/// hook that logs panics as one error line without a backtrace.
pub fn init() {
    let level = level_from_env();
    // Transport crates are chatty at debug/trace; keep them to warnings.
    let filter = Targets::new()
        .with_default(level)
        .with_target("h2", LevelFilter::WARN.min(level))
        .with_target("hyper", LevelFilter::WARN.min(level))
        .with_target("hyper_util", LevelFilter::WARN.min(level))
        .with_target("rustls", LevelFilter::WARN.min(level))
        .with_target("tower", LevelFilter::WARN.min(level))
        .with_target("tonic", LevelFilter::INFO.min(level));
    let layer = HclogLayer {
        module: module_name(),
    }
    .with_filter(filter);
    if tracing_subscriber::registry()
        .with(layer)
        .try_init()
        .is_ok()
    {
        std::panic::set_hook(Box::new(|info| {
            let location = info
                .location()
                .map(|l| format!("{}:{}", l.file(), l.line()))
                .unwrap_or_default();
            let payload = info.payload();
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            // Not "panic: ...": Terraform reads a line starting so as a plugin crash.
            tracing::error!(%location, "provider code panicked: {message}");
        }));
    }
}

fn module_name() -> String {
    let binary = std::env::args().next().unwrap_or_default();
    let name = std::path::Path::new(&binary)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("provider")
        .to_string();
    format!(
        "provider.{}",
        name.strip_prefix("terraform-provider-").unwrap_or(&name)
    )
}

/// Formats events as hclog JSON lines.
pub struct HclogLayer {
    module: String,
}

impl HclogLayer {
    /// A layer logging under `@module` = `module`.
    pub fn new(module: impl Into<String>) -> Self {
        HclogLayer {
            module: module.into(),
        }
    }
}

struct FieldVisitor(Map<String, Json>);

impl Visit for FieldVisitor {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().to_string(), Json::String(format!("{value:?}")));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0
            .insert(field.name().to_string(), Json::String(value.to_string()));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_string(), Json::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_string(), Json::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_string(), Json::Bool(value));
    }
}

/// One hclog JSON line (without the newline) for an event.
pub fn format_line(
    level: &Level,
    module: &str,
    timestamp: &str,
    fields: Map<String, Json>,
) -> String {
    let mut fields = fields;
    let message = fields
        .remove("message")
        .unwrap_or(Json::String(String::new()));
    let level = match *level {
        Level::TRACE => "trace",
        Level::DEBUG => "debug",
        Level::INFO => "info",
        Level::WARN => "warn",
        Level::ERROR => "error",
    };
    let mut line = Map::new();
    line.insert("@level".into(), Json::String(level.into()));
    line.insert("@message".into(), message);
    line.insert("@module".into(), Json::String(module.into()));
    line.insert("@timestamp".into(), Json::String(timestamp.into()));
    line.extend(fields);
    Json::Object(line).to_string()
}

fn now_timestamp() -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
    );
    time::OffsetDateTime::now_utc()
        .format(&format)
        .unwrap_or_default()
}

impl<S: Subscriber> Layer<S> for HclogLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut visitor = FieldVisitor(Map::new());
        event.record(&mut visitor);
        let line = format_line(
            event.metadata().level(),
            &self.module,
            &now_timestamp(),
            visitor.0,
        );
        let mut stderr = std::io::stderr().lock();
        let _ = writeln!(stderr, "{line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_carry_hclog_keys() {
        let mut fields = Map::new();
        fields.insert("message".into(), Json::String("hello".into()));
        fields.insert("count".into(), Json::from(3));
        let line = format_line(
            &Level::WARN,
            "provider.zddtest",
            "2026-01-01T00:00:00.000000Z",
            fields,
        );
        let parsed: Json = serde_json::from_str(&line).unwrap();
        assert_eq!(parsed["@level"], "warn");
        assert_eq!(parsed["@message"], "hello");
        assert_eq!(parsed["@module"], "provider.zddtest");
        assert_eq!(parsed["count"], 3);
    }
}
