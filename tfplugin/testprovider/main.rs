//! terraform-provider-zddtest: a small provider built on zdd-tfplugin for the
//! Terraform-driven tests and the benchmark (source address `zdd/zddtest`).
//!
//! - `zddtest_thing`: an object stored as `<root>/<id>.json` (so tests can
//!   delete or inspect it), with a create delay that honours StopProvider,
//!   state upgrade from schema version 0, import, private state, a
//!   `timeouts` block and an opt-in panic.
//! - `zddtest_noop`: a trivial resource shaped like `terraform_data`, for the benchmark.
//! - `zddtest_echo`: a data source.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use zdd_tfplugin::{
    Attribute, Ctx, DataSource, Diagnostic, Failure, Nesting, OrDiag, Outcome, PlanChange,
    Provider, Registry, Resource, Schema, Timeouts, Type, Val, Value,
};

fn main() -> ExitCode {
    // Its resources are file writes and timers: nothing to run in parallel, and one thread
    // halves the plugin's CPU per RPC (see `RuntimeFlavor::CurrentThread`).
    zdd_tfplugin::serve_on(
        zdd_tfplugin::RuntimeFlavor::CurrentThread,
        "registry.terraform.io/zdd/zddtest",
        ZddTest::default(),
    )
}

#[derive(Default)]
struct ZddTest {
    root: Arc<OnceLock<PathBuf>>,
}

#[derive(Deserialize)]
struct ProviderConfig {
    root: Option<String>,
}

impl Provider for ZddTest {
    type Config = ProviderConfig;

    fn schema(&self) -> Schema {
        Schema::new(0).attribute(
            Attribute::string("root")
                .optional()
                .description("Directory holding `zddtest_thing` objects."),
        )
    }

    async fn configure(
        &self,
        _ctx: &mut Ctx,
        _terraform_version: &str,
        config: ProviderConfig,
    ) -> Outcome<()> {
        if let Some(root) = config.root {
            let root = PathBuf::from(root);
            std::fs::create_dir_all(&root).or_diag("Creating the root directory")?;
            let _ = self.root.set(root);
        }
        Ok(())
    }

    fn register(&self, registry: &mut Registry) {
        registry
            .resource(
                "zddtest_thing",
                Thing {
                    root: self.root.clone(),
                },
            )
            .resource("zddtest_noop", Noop)
            .data_source("zddtest_echo", Echo);
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Settings {
    mode: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ThingState {
    id: Val<String>,
    name: Val<String>,
    size: Option<i64>,
    ratio: Option<f64>,
    tags: Option<BTreeMap<String, String>>,
    replace_key: Option<String>,
    delay_ms: Option<u64>,
    panic_on: Option<String>,
    settings: Option<Settings>,
    secret: Option<String>,
    fingerprint: Val<String>,
    timeouts: Option<Timeouts>,
}

struct Thing {
    root: Arc<OnceLock<PathBuf>>,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(0);

fn new_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!(
        "thing-{nanos:x}-{}",
        NEXT_ID.fetch_add(1, Ordering::Relaxed)
    )
}

/// Known at plan time when the name is (it may come from another resource).
fn fingerprint(state: &ThingState) -> Val<String> {
    match &state.name {
        Val::Known(name) => Val::Known(format!("{name}:{}", state.size.unwrap_or(0))),
        Val::Null => Val::Null,
        Val::Unknown => Val::Unknown,
    }
}

impl Thing {
    fn root(&self) -> Outcome<&PathBuf> {
        self.root.get().ok_or_else(|| {
            Failure::error(
                "Provider not configured",
                "Set `root` in the provider block.",
            )
        })
    }

    fn path(&self, id: &str) -> Outcome<PathBuf> {
        Ok(self.root()?.join(format!("{id}.json")))
    }

    fn store(&self, state: &ThingState) -> Outcome<()> {
        let id = state
            .id
            .known()
            .ok_or_else(|| Failure::error("No id", ""))?;
        let text = serde_json::to_string_pretty(state).or_diag("Encoding the object")?;
        std::fs::write(self.path(id)?, text).or_diag("Writing the object")
    }

    fn maybe_panic(state: &ThingState, operation: &str) {
        if state.panic_on.as_deref() == Some(operation) {
            panic!("zddtest was asked to panic in {operation}");
        }
    }
}

impl Resource for Thing {
    type State = ThingState;

    fn schema(&self) -> Schema {
        Schema::new(1)
            .description("A test object stored as a JSON file.")
            .attribute(
                Attribute::string("id")
                    .computed()
                    .use_state_for_unknown()
                    .description("The object id."),
            )
            .attribute(
                Attribute::string("name")
                    .required()
                    .description("The object's **name**."),
            )
            .attribute(Attribute::number("size").optional())
            .attribute(Attribute::number("ratio").optional())
            .attribute(Attribute::map("tags", Type::String).optional())
            .attribute(
                Attribute::string("replace_key")
                    .optional()
                    .requires_replace(),
            )
            .attribute(
                Attribute::number("delay_ms")
                    .optional()
                    .description("Create takes this long (honours Ctrl-C)."),
            )
            .attribute(Attribute::string("panic_on").optional())
            .attribute(
                Attribute::nested(
                    "settings",
                    Nesting::Single,
                    vec![Attribute::string("mode").optional()],
                )
                .optional(),
            )
            .attribute(Attribute::string("secret").optional().sensitive())
            .attribute(Attribute::string("fingerprint").computed())
            .timeouts(&["create"])
    }

    fn validate(&self, ctx: &mut Ctx, config: &Value) {
        if let Some(Value::String(name)) = config.attribute("name")
            && name.is_empty()
        {
            ctx.diagnostics.push(
                Diagnostic::error("Invalid name", "name must not be empty")
                    .at(zdd_tfplugin::AttributePath::root("name")),
            );
        }
    }

    async fn plan(&self, _ctx: &mut Ctx, change: &mut PlanChange<ThingState>) -> Outcome<()> {
        // The fingerprint is known at plan time when name and size are.
        change.planned.fingerprint = fingerprint(&change.planned);
        Ok(())
    }

    async fn create(&self, ctx: &mut Ctx, planned: ThingState) -> Outcome<ThingState> {
        Self::maybe_panic(&planned, "create");
        let mut state = planned;
        state.id = Val::Known(new_id());
        state.fingerprint = fingerprint(&state);
        self.store(&state)?;
        ctx.set_private_state(b"zddtest-private-v1".to_vec());
        let delay = Duration::from_millis(state.delay_ms.unwrap_or(0));
        let limit = Timeouts::create_or(state.timeouts.as_ref(), Duration::from_secs(600))
            .or_diag("Invalid timeout")?;
        if delay.is_zero() {
            return Ok(state);
        }
        tracing::info!(id = ?state.id, ?delay, "creating slowly");
        tokio::select! {
            () = tokio::time::sleep(delay.min(limit)) => {
                if delay > limit {
                    return Err(Failure::error("Create timed out", format!("exceeded {limit:?}")).with_partial_state(&state));
                }
                Ok(state)
            }
            () = ctx.cancellation().cancelled() => {
                Err(Failure::error("Create interrupted", "The object exists; the next apply continues from here.")
                    .with_partial_state(&state))
            }
        }
    }

    async fn read(&self, _ctx: &mut Ctx, current: ThingState) -> Outcome<Option<ThingState>> {
        let Some(id) = current.id.known() else {
            return Ok(None);
        };
        match std::fs::read_to_string(self.path(id)?) {
            Ok(text) => Ok(Some(
                serde_json::from_str(&text).or_diag("Reading the object")?,
            )),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(Failure::error("Reading the object", error.to_string())),
        }
    }

    async fn update(
        &self,
        _ctx: &mut Ctx,
        prior: ThingState,
        planned: ThingState,
    ) -> Outcome<ThingState> {
        Self::maybe_panic(&planned, "update");
        let mut state = planned;
        state.id = prior.id;
        state.fingerprint = fingerprint(&state);
        self.store(&state)?;
        Ok(state)
    }

    async fn delete(&self, _ctx: &mut Ctx, prior: ThingState) -> Outcome<()> {
        if let Some(id) = prior.id.known() {
            match std::fs::remove_file(self.path(id)?) {
                Ok(()) => {}
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => return Err(Failure::error("Deleting the object", error.to_string())),
            }
        }
        Ok(())
    }

    async fn import(&self, _ctx: &mut Ctx, id: &str) -> Outcome<ThingState> {
        let text = std::fs::read_to_string(self.path(id)?).or_diag("No such object")?;
        serde_json::from_str(&text).or_diag("Reading the object")
    }

    fn upgrade_state(
        &self,
        _ctx: &mut Ctx,
        version: i64,
        mut state: serde_json::Value,
    ) -> Outcome<serde_json::Value> {
        // Version 0 called the name `title`.
        if version == 0
            && let Some(object) = state.as_object_mut()
            && let Some(title) = object.remove("title")
        {
            object.insert("name".into(), title);
        }
        Ok(state)
    }
}

/// Like `terraform_data`: an id and an opaque input echoed as output.
#[derive(Default)]
struct Noop;

#[derive(Serialize, Deserialize)]
struct NoopState {
    id: Val<String>,
    input: Option<String>,
    output: Val<String>,
}

impl Resource for Noop {
    type State = NoopState;

    fn schema(&self) -> Schema {
        Schema::new(0)
            .attribute(Attribute::string("id").computed().use_state_for_unknown())
            .attribute(Attribute::string("input").optional())
            .attribute(Attribute::string("output").computed())
    }

    async fn create(&self, _ctx: &mut Ctx, planned: NoopState) -> Outcome<NoopState> {
        Ok(NoopState {
            id: Val::Known(new_id()),
            output: planned.input.clone().into(),
            input: planned.input,
        })
    }

    async fn read(&self, _ctx: &mut Ctx, current: NoopState) -> Outcome<Option<NoopState>> {
        Ok(Some(current))
    }

    async fn update(
        &self,
        _ctx: &mut Ctx,
        prior: NoopState,
        planned: NoopState,
    ) -> Outcome<NoopState> {
        Ok(NoopState {
            id: prior.id,
            output: planned.input.clone().into(),
            input: planned.input,
        })
    }

    async fn delete(&self, _ctx: &mut Ctx, _prior: NoopState) -> Outcome<()> {
        Ok(())
    }
}

struct Echo;

#[derive(Serialize, Deserialize)]
struct EchoState {
    input: String,
    upper: Val<String>,
}

impl DataSource for Echo {
    type State = EchoState;

    fn schema(&self) -> Schema {
        Schema::new(0)
            .attribute(Attribute::string("input").required())
            .attribute(Attribute::string("upper").computed())
    }

    async fn read(&self, _ctx: &mut Ctx, config: EchoState) -> Outcome<EchoState> {
        Ok(EchoState {
            upper: Val::Known(config.input.to_uppercase()),
            input: config.input,
        })
    }
}
