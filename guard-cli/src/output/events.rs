//! Every event the guard's `--json` lines can carry: the one table from which the docs page
//! `docs/guides/zdd-guard-json-events.md` is rendered, and against which a test checks the
//! names and levels the code passes to [`super::Reporter`].

use std::fmt::Write as _;

use super::Level;

/// The version of the JSON line's shape (`schema_version` on every line): fields are only ever
/// added; it changes if a field is removed or changes meaning.
pub const SCHEMA_VERSION: u32 = 1;

/// One event name: the levels it is emitted at, what `data` holds, what it means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventSpec {
    pub name: &'static str,
    pub levels: &'static [Level],
    /// `data`'s content; `null` unless said otherwise.
    pub data: &'static str,
    pub meaning: &'static str,
}

const I: Level = Level::Info;
const W: Level = Level::Warning;
const E: Level = Level::Error;

/// Every event, by name.
pub const EVENTS: &[EventSpec] = &[
    EventSpec {
        name: "backend",
        levels: &[W, E],
        data: "null",
        meaning: "A backend setting worth knowing (warning), or the state object could not be read while watching (error after repeated failures).",
    },
    EventSpec {
        name: "change_set",
        levels: &[I],
        data: "`{\"addresses\": [string]}`: the resources the saved plan may change",
        meaning: "What this run may change; a state write touching anything else is interference.",
    },
    EventSpec {
        name: "drift",
        levels: &[I, W, E],
        data: "`{\"drift\": [{address, action, attributes}]}` from `zdd-guard drift`; `null` from `run --verify-drift`",
        meaning: "No drift (info), drift found (warning, exit 5), or the drift check failed or was interrupted (error).",
    },
    EventSpec {
        name: "lease",
        levels: &[I],
        data: "`{\"lease\", \"expired\", \"can_be_taken_over\", \"takeover_at\"}`",
        meaning: "`lock status`: the zdd-guard lease in place.",
    },
    EventSpec {
        name: "lease_acquired",
        levels: &[I],
        data: "`{\"location\", \"lease_id\", \"ttl_ms\"}`",
        meaning: "The run took its lease.",
    },
    EventSpec {
        name: "lease_broken",
        levels: &[W],
        data: "null",
        meaning: "`lock break --if-stale` deleted an expired lease.",
    },
    EventSpec {
        name: "lease_heartbeat",
        levels: &[W],
        data: "null",
        meaning: "A lease renewal failed; the run goes on until the lease would expire.",
    },
    EventSpec {
        name: "lease_lost",
        levels: &[E],
        data: "null",
        meaning: "The lease is no longer this run's (taken over, broken or not renewed in time): interference, exit 4.",
    },
    EventSpec {
        name: "lease_released",
        levels: &[I, W],
        data: "null",
        meaning: "The lease was released at the end of the run (info), or could not be (warning: it expires after its TTL).",
    },
    EventSpec {
        name: "lease_renewed",
        levels: &[I],
        data: "null",
        meaning: "A renewal succeeded after failed ones.",
    },
    EventSpec {
        name: "lease_takeover",
        levels: &[W],
        data: "null",
        meaning: "An expired lease of another run was taken over.",
    },
    EventSpec {
        name: "lease_wait",
        levels: &[I],
        data: "null",
        meaning: "Another run holds the lease; waiting up to `--wait`.",
    },
    EventSpec {
        name: "lock_broken",
        levels: &[W],
        data: "null",
        meaning: "`lock break --if-stale` deleted a Terraform lock left by a dead run.",
    },
    EventSpec {
        name: "lock_released",
        levels: &[I],
        data: "null",
        meaning: "`lock release` deleted a Terraform lock this job's lease recorded.",
    },
    EventSpec {
        name: "lock_taken_over",
        levels: &[W],
        data: "null",
        meaning: "A Terraform lock recorded by a taken-over lease was removed, its terraform known to be dead.",
    },
    EventSpec {
        name: "nothing_released",
        levels: &[I],
        data: "null",
        meaning: "`lock release`: this job's lease held nothing.",
    },
    EventSpec {
        name: "plan",
        levels: &[I, W],
        data: "null",
        meaning: "The saved plan was made (info), or could not be summarised (warning).",
    },
    EventSpec {
        name: "report_written",
        levels: &[I],
        data: "`{\"path\", \"rollouts\", \"bytes\", \"source\"}`: the page written, how many rollouts it draws, its size, and where the state came from (a file, `stdin`, or the backend's `s3://` location)",
        meaning: "`zdd-guard report` wrote its page.",
    },
    EventSpec {
        name: "rollout_events",
        levels: &[W],
        data: "`{\"path\", \"unreadable\", \"other_version\", \"too_long\"}`: lines skipped; `null` when the file could not be read or removed",
        meaning: "The live view skipped lines of the provider's events file (not event lines, another `schema_version`: a newer provider, or too long), could not read it, or could not remove the run's own; reported once, at the end of the run.",
    },
    EventSpec {
        name: "rollout_finished",
        levels: &[I, W],
        data: "`{\"rollout\", \"region\", \"at\", \"status\", \"detail\"}`: `status` is `last_rollout.status` (`succeeded`, `rolled_back`, `failed`, `interrupted`)",
        meaning: "A `zdd_rollout`'s run ended: succeeded (info) or not (warning).",
    },
    EventSpec {
        name: "rollout_phase",
        levels: &[I],
        data: "`{\"rollout\", \"region\", \"at\", \"phase\", \"detail\"}`: `phase` is the `zdd:phase` value, `detail` why it was entered",
        meaning: "A `zdd_rollout` entered a phase.",
    },
    EventSpec {
        name: "rollout_progress",
        levels: &[I],
        data: "`{\"rollout\", \"region\", \"at\", \"phase\", \"generations\": [{role, generation, asg, desired, healthy, draining, attached}], \"new_weight_percent\", \"served\", \"floor\", \"waiting\": {what, seconds_left}}`; `at` is when the provider saw it, `seconds_left` is counted down to the line's time",
        meaning: "A `zdd_rollout`'s health, weight and wait: when they change (at most one line per rollout per 10 s, or per `--progress-every` when that is shorter) and every `--progress-every` (default 30 s) while it waits; `--progress-every 0s` turns these off.",
    },
    EventSpec {
        name: "rollout_started",
        levels: &[I],
        data: "`{\"rollout\", \"region\", \"at\", \"operation\", \"strategy\", \"from_generation\", \"to_generation\"}`: `operation` is `rollout`, `rollback` (finishing an interrupted rollback of `to_generation`; `from_generation` serves again) or `teardown` (a destroy)",
        meaning: "A `zdd_rollout`'s run began (the provider's own events, read live while terraform applies). Every `rollout_*` event names the fleet by `rollout` and `region` (`null` when the provider did not say): one apply may roll out two fleets of one name in two regions.",
    },
    EventSpec {
        name: "signal",
        levels: &[W],
        data: "null",
        meaning: "A signal was forwarded to terraform, or forwarding it failed.",
    },
    EventSpec {
        name: "state_changed",
        levels: &[E],
        data: "the state diff: `{serial_before, serial_after, lineage_before, lineage_after, added, removed, changed}`",
        meaning: "Someone else changed the state during the run: interference, exit 4.",
    },
    EventSpec {
        name: "state_diff",
        levels: &[I],
        data: "the state diff, as for `state_changed`",
        meaning: "`state diff --json`: two versions of the state compared.",
    },
    EventSpec {
        name: "state_malformed",
        levels: &[E],
        data: "null",
        meaning: "Someone wrote a state object that is not Terraform state: interference, exit 4.",
    },
    EventSpec {
        name: "terraform_killed",
        levels: &[E],
        data: "`{\"pid\": number}`",
        meaning: "Terraform still ran at the lost lease's expiry: its process group was killed.",
    },
    EventSpec {
        name: "terraform_lock",
        levels: &[I, W],
        data: "Terraform's `LockInfo` from `lock status`; `null` while watching",
        meaning: "A Terraform lock: shown by `lock status`, or seen changing while terraform runs.",
    },
    EventSpec {
        name: "terraform_lock_held",
        levels: &[W],
        data: "null",
        meaning: "Terraform's lock is held by someone else, or a recorded one is left to `lock break`.",
    },
    EventSpec {
        name: "terraform_lock_left",
        levels: &[W, E],
        data: "null",
        meaning: "A Terraform lock is left behind after the run.",
    },
    EventSpec {
        name: "terraform_lock_lost",
        levels: &[E],
        data: "null",
        meaning: "Terraform's lock was replaced, or removed under a terraform that then failed to release it: interference, exit 4.",
    },
    EventSpec {
        name: "terraform_lock_missing",
        levels: &[W],
        data: "null",
        meaning: "Terraform's lock went missing while terraform runs; judged when terraform exits.",
    },
    EventSpec {
        name: "terraform_output",
        levels: &[W],
        data: "null",
        meaning: "Terraform exited but a process it started kept its output open 10 s later; the verdict on its lock used what terraform wrote until then.",
    },
    EventSpec {
        name: "unlocked",
        levels: &[I, W],
        data: "null",
        meaning: "Terraform runs without locking, lease or watch (`--allow-unlocked`), or `lock status` found no lock.",
    },
    EventSpec {
        name: "verify",
        levels: &[I, E],
        data: "null",
        meaning: "`run --verify-drift`'s checks after apply: state, digest and locks as expected (info) or not (error).",
    },
    EventSpec {
        name: "watch_error",
        levels: &[W],
        data: "null",
        meaning: "One look of the watch failed or started without a baseline; the watch goes on.",
    },
];

pub fn level_name(level: Level) -> &'static str {
    match level {
        Level::Info => "info",
        Level::Warning => "warning",
        Level::Error => "error",
    }
}

/// The registry guide listing the events (`docs/guides/zdd-guard-json-events.md`).
pub fn render_markdown() -> String {
    let mut out = String::from(
        "---\npage_title: \"zdd-guard JSON events\"\nsubcategory: \"\"\ndescription: |-\n  \
         The events of zdd-guard's --json lines.\n---\n\n",
    );
    out.push_str("# zdd-guard JSON events\n\n");
    let _ = write!(
        out,
        "With `--json`, `zdd-guard` writes one JSON object per line on stdout, and nothing else \
         there: terraform's own output goes to stderr, and so do GitHub Actions annotations \
         (when `GITHUB_ACTIONS=true`).\n\n\
         ```json\n{{\"schema_version\":{SCHEMA_VERSION},\"level\":\"warning\",\"event\":\"unlocked\",\
         \"message\":\"running terraform without locking, lease or watch (--allow-unlocked)\",\
         \"data\":null}}\n```\n\n\
         | field | type | meaning |\n|---|---|---|\n\
         | `schema_version` | integer | {SCHEMA_VERSION}; fields are only ever added, and it \
         changes if one is removed or changes meaning |\n\
         | `level` | `info`, `warning` or `error` | |\n\
         | `event` | string | one of the names below |\n\
         | `message` | string | the human line the guard prints without `--json` |\n\
         | `data` | any | per event, below; `null` when it has none |\n\n\
         ## Events\n\n\
         This list is rendered from the table in `guard-cli/src/output/events.rs`; a test fails \
         when the code emits an event or a level the table does not list, or when this page is \
         stale.\n\n\
         | event | levels | data | meaning |\n|---|---|---|---|\n"
    );
    for spec in EVENTS {
        let levels: Vec<&str> = spec.levels.iter().copied().map(level_name).collect();
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} |",
            spec.name,
            levels.join(", "),
            spec.data,
            spec.meaning
        );
    }
    out
}
