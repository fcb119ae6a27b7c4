//! How fast the provider calls each AWS API: the defaults, where they come from, and the
//! `ZDD_AWS_RATE_LIMITS` override.

use std::fmt;

/// An AWS API action, named as in IAM policies: `autoscaling:DescribeAutoScalingGroups`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Api {
    pub service: &'static str,
    pub action: &'static str,
}

/// The services the provider calls, by their IAM prefixes.
pub const AUTOSCALING: &str = "autoscaling";
pub const ELBV2: &str = "elasticloadbalancing";
pub const CLOUDWATCH: &str = "cloudwatch";

impl Api {
    pub const fn new(service: &'static str, action: &'static str) -> Api {
        Api { service, action }
    }

    /// A read (`Describe*`, `Get*`, `List*`): it observes and changes nothing. Everything else
    /// is a write, served first when the budget is short.
    pub fn is_read(&self) -> bool {
        ["Describe", "Get", "List"]
            .iter()
            .any(|verb| self.action.starts_with(verb))
    }
}

impl fmt::Display for Api {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.service, self.action)
    }
}

/// A token bucket's shape: `burst` calls at once, then a sustained rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    millicalls_per_second: u64,
    burst: u32,
}

impl RateLimit {
    /// `per_second` calls per second, `burst` at once (each at least 1: a budget slows calls
    /// down, it never switches an API off).
    pub const fn new(per_second: u32, burst: u32) -> RateLimit {
        RateLimit::per_mille(per_second as u64 * 1000, burst)
    }

    /// A rate in thousandths of a call per second (`500` is one call every 2 s).
    pub const fn per_mille(millicalls_per_second: u64, burst: u32) -> RateLimit {
        RateLimit {
            millicalls_per_second: if millicalls_per_second == 0 {
                1
            } else {
                millicalls_per_second
            },
            burst: if burst == 0 { 1 } else { burst },
        }
    }

    pub fn millicalls_per_second(&self) -> u64 {
        self.millicalls_per_second
    }

    pub fn burst(&self) -> u32 {
        self.burst
    }

    /// Calls per second, for display and for bounds in tests.
    pub fn per_second(&self) -> f64 {
        // Rates are far below 2^52 millicalls: the conversion is exact.
        #[allow(clippy::cast_precision_loss)]
        let rate = self.millicalls_per_second as f64 / 1000.0;
        rate
    }
}

impl fmt::Display for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/s burst {}", self.per_second(), self.burst)
    }
}

/// The environment variable of the provider's process that overrides [`DEFAULT_LIMITS`]:
/// comma-separated `API=RATE/s` entries, each optionally followed by `burst N`, where API is
/// `service:Action`, `service:*` or `*` (the most specific entry wins), e.g.
/// `ZDD_AWS_RATE_LIMITS="autoscaling:DescribeAutoScalingGroups=2/s burst 4, elasticloadbalancing:*=0.5/s"`.
/// An entry without `burst` keeps the default burst. An unreadable entry, or one naming no API
/// the provider calls, is ignored with a warning. The provider block's `api_rate_limits`
/// takes the same keys and values ([`RateLimits::with_block`]) and wins over this variable.
pub const RATE_LIMITS_ENV: &str = "ZDD_AWS_RATE_LIMITS";

/// Every API the adapter calls, with its default budget: kept below what AWS publishes, and
/// conservative where AWS publishes nothing, because the account's limits are shared with
/// every other tool (other applies, CI jobs, the console, Auto Scaling itself).
///
/// - **Auto Scaling** publishes no figures; every EC2 Auto Scaling call of an account and
///   region draws on one shared bucket (AWS Knowledge Center, "autoscaling-api-calls-
///   throttled"). `DescribeAutoScalingGroups`, which every fleet makes on every look, gets
///   5/s (burst 10); so does `DescribeLifecycleHooks`: a refresh (`terraform plan`) reads one
///   per fleet (the API takes one group), a wave of Terraform's 10 at once, while its
///   `DescribeAutoScalingGroups` is one call per wave; a rollout reads hooks once per group.
///   The two are not busy at once. `DescribePolicies` is read on a run's first look (on every
///   look only for an autoscaled fleet); `CreateAutoScalingGroup`,
///   `DetachLoadBalancerTargetGroups` and `DeleteAutoScalingGroup` are called once a
///   blue/green rollout: 2/s, but a burst of 10 for the fleets of an apply that start
///   together and so reach each step together (with 5, the tenth of ten fleets waited 2.5 s
///   at each: `bench_fleets`' spans). The other reads and each write 2/s (burst 5).
/// - **Elastic Load Balancing v2**: `Describe*` actions share a bucket of 40 tokens refilled
///   at 10 per second per account and region (ELB user guide, "Request throttling for the
///   ELB API"). Our four describes together stay under that refill, 9/s: `DescribeTargetHealth`
///   6/s (burst 10), `DescribeListeners` 2/s (burst 5), `DescribeTargetGroups` and
///   `DescribeTargetGroupAttributes` 0.5/s (burst 10 each; 35 in all). Target health is read
///   on every look of every fleet with its own target group: 10 fleets (Terraform's default
///   parallelism) looking every 2 s, plus the looks the engine asks for sooner, want 5.3/s
///   (the scale bench), so 5/s would pace them. The target groups' settings are read once per
///   run: a slow rate, but a burst for the 10 fleets that start together. The figures for
///   mutating actions were not found: `ModifyListener` gets 1/s (burst 3).
/// - **CloudWatch** publishes a quota per API (CloudWatch service quotas): `DescribeAlarms` 9
///   TPS, `GetMetricData` 50 TPS. We take 3/s (burst 5) and 5/s (burst 10): one
///   `GetMetricData` per observation answers both of a canary's target groups.
/// - **EC2**: the provider makes no EC2 call. (EC2 publishes a bucket per API, e.g.
///   `DescribeHosts` 100 tokens refilled at 20 per second.)
pub const DEFAULT_LIMITS: &[(Api, RateLimit)] = &[
    (
        Api::new(AUTOSCALING, "DescribeAutoScalingGroups"),
        RateLimit::new(5, 10),
    ),
    (
        Api::new(AUTOSCALING, "DescribePolicies"),
        RateLimit::new(2, 10),
    ),
    (
        Api::new(AUTOSCALING, "DescribeLifecycleHooks"),
        RateLimit::new(5, 10),
    ),
    (
        Api::new(AUTOSCALING, "CreateAutoScalingGroup"),
        RateLimit::new(2, 10),
    ),
    (
        Api::new(AUTOSCALING, "UpdateAutoScalingGroup"),
        AUTOSCALING_OTHER,
    ),
    (
        Api::new(AUTOSCALING, "DeleteAutoScalingGroup"),
        RateLimit::new(2, 10),
    ),
    (
        Api::new(AUTOSCALING, "AttachLoadBalancerTargetGroups"),
        AUTOSCALING_OTHER,
    ),
    (
        Api::new(AUTOSCALING, "DetachLoadBalancerTargetGroups"),
        RateLimit::new(2, 10),
    ),
    (
        Api::new(AUTOSCALING, "CreateOrUpdateTags"),
        AUTOSCALING_OTHER,
    ),
    (Api::new(AUTOSCALING, "PutScalingPolicy"), AUTOSCALING_OTHER),
    (Api::new(AUTOSCALING, "DeletePolicy"), AUTOSCALING_OTHER),
    (Api::new(AUTOSCALING, "SuspendProcesses"), AUTOSCALING_OTHER),
    (Api::new(AUTOSCALING, "ResumeProcesses"), AUTOSCALING_OTHER),
    (Api::new(AUTOSCALING, "PutLifecycleHook"), AUTOSCALING_OTHER),
    (
        Api::new(AUTOSCALING, "DeleteLifecycleHook"),
        AUTOSCALING_OTHER,
    ),
    (
        Api::new(ELBV2, "DescribeTargetHealth"),
        RateLimit::new(6, 10),
    ),
    (Api::new(ELBV2, "DescribeListeners"), RateLimit::new(2, 5)),
    (
        Api::new(ELBV2, "DescribeTargetGroups"),
        RateLimit::per_mille(500, 10),
    ),
    (
        Api::new(ELBV2, "DescribeTargetGroupAttributes"),
        RateLimit::per_mille(500, 10),
    ),
    (Api::new(ELBV2, "ModifyListener"), RateLimit::new(1, 3)),
    (Api::new(CLOUDWATCH, "DescribeAlarms"), RateLimit::new(3, 5)),
    (Api::new(CLOUDWATCH, "GetMetricData"), RateLimit::new(5, 10)),
];

const AUTOSCALING_OTHER: RateLimit = RateLimit::new(2, 5);

/// What AWS publishes about `api`'s limit (per account and region), for the docs: the
/// figures [`DEFAULT_LIMITS`] stays below, from the sources its documentation names.
pub fn published_limit(api: Api) -> &'static str {
    match (api.service, api.action) {
        (AUTOSCALING, _) => "not published; one bucket for every Auto Scaling call",
        (ELBV2, action) if action.starts_with("Describe") => {
            "all `Describe*` together: 10/s, burst 40"
        }
        (CLOUDWATCH, "DescribeAlarms") => "9/s",
        (CLOUDWATCH, "GetMetricData") => "50/s",
        _ => "not published",
    }
}

/// An action missing from [`DEFAULT_LIMITS`] (none today: a unit test lists every action the
/// adapter calls) gets the most conservative budget.
pub const FALLBACK_LIMIT: RateLimit = RateLimit::new(1, 3);

/// The budget of every API: [`DEFAULT_LIMITS`] with overrides, from the environment
/// ([`RATE_LIMITS_ENV`]) and then the provider block (`api_rate_limits`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RateLimits {
    overrides: Vec<Override>,
}

/// Where an override was written. For an API that entries of both name, the provider block's
/// decide (however specific the environment's): the configuration a user reviews wins over
/// a variable of the process that runs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Source {
    Environment,
    ProviderBlock,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Override {
    source: Source,
    /// `service:Action`, `service:*` or `*`.
    pattern: String,
    rate: Rate,
}

/// A rate as written after an API, in both places: `RATE/s`, optionally followed by
/// `burst N` (`"2/s burst 4"`, `"0.5/s"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Rate {
    millicalls_per_second: u64,
    /// `None`: the API's default burst.
    burst: Option<u32>,
}

impl Override {
    /// How well the pattern matches `api`: `None` when it does not, higher is more specific.
    fn specificity(&self, api: Api) -> Option<u8> {
        pattern_specificity(&self.pattern, api)
    }
}

fn pattern_specificity(pattern: &str, api: Api) -> Option<u8> {
    if pattern == "*" {
        return Some(0);
    }
    let (service, action) = pattern.split_once(':')?;
    if service != api.service {
        return None;
    }
    match action {
        "*" => Some(1),
        action if action == api.action => Some(2),
        _ => None,
    }
}

/// An entry of the provider block's `api_rate_limits` that cannot be used: its key (the
/// attribute path's) and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("api_rate_limits[{key:?}]: {problem}")]
pub struct BlockEntryError {
    pub key: String,
    pub problem: String,
}

impl RateLimits {
    /// The defaults with the overrides `lookup` finds in [`RATE_LIMITS_ENV`] (pure: pass
    /// `std::env::var` or a map in tests); each unreadable entry is ignored with a warning.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> RateLimits {
        let Some(text) = lookup(RATE_LIMITS_ENV) else {
            return RateLimits::default();
        };
        let (limits, problems) = RateLimits::parse(&text);
        for problem in problems {
            tracing::warn!("{RATE_LIMITS_ENV}: {problem}; entry ignored");
        }
        limits
    }

    pub fn from_env() -> RateLimits {
        RateLimits::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the [`RATE_LIMITS_ENV`] grammar; answers the entries it read and a description of
    /// each it could not (an entry naming no API the provider calls among them).
    pub fn parse(text: &str) -> (RateLimits, Vec<String>) {
        let mut overrides = Vec::new();
        let mut problems = Vec::new();
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let parsed = entry
                .split_once('=')
                .ok_or_else(|| "expected API=RATE/s [burst N]".to_string())
                .and_then(|(pattern, value)| {
                    let pattern = pattern.trim();
                    check_pattern(pattern)?;
                    Ok(Override {
                        source: Source::Environment,
                        pattern: pattern.to_string(),
                        rate: parse_rate(value)?,
                    })
                });
            match parsed {
                Ok(entry) => overrides.push(entry),
                Err(problem) => problems.push(format!("{entry:?}: {problem}")),
            }
        }
        (RateLimits { overrides }, problems)
    }

    /// These limits with the provider block's `api_rate_limits` (key: `service:Action`,
    /// `service:*` or `*`; value: `RATE/s [burst N]`) on top. Unlike the environment's, an
    /// entry that cannot be used is an error, each one reported: a typo must not silently
    /// leave the default in place.
    pub fn with_block<'a>(
        mut self,
        entries: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<RateLimits, Vec<BlockEntryError>> {
        let mut errors = Vec::new();
        for (key, value) in entries {
            let parsed = check_pattern(key).and_then(|()| parse_rate(value));
            match parsed {
                Ok(rate) => self.overrides.push(Override {
                    source: Source::ProviderBlock,
                    pattern: key.to_string(),
                    rate,
                }),
                Err(problem) => errors.push(BlockEntryError {
                    key: key.to_string(),
                    problem,
                }),
            }
        }
        if errors.is_empty() {
            Ok(self)
        } else {
            Err(errors)
        }
    }

    /// The budget of `api`: the most specific override of the latest source (the last one
    /// among equals) on top of its default.
    pub fn limit(&self, api: Api) -> RateLimit {
        let default = DEFAULT_LIMITS
            .iter()
            .find(|(known, _)| *known == api)
            .map_or(FALLBACK_LIMIT, |(_, limit)| *limit);
        let mut best: Option<((Source, u8), &Override)> = None;
        for entry in &self.overrides {
            if let Some(rank) = entry.specificity(api)
                && best.is_none_or(|(top, _)| (entry.source, rank) >= top)
            {
                best = Some(((entry.source, rank), entry));
            }
        }
        best.map_or(default, |(_, entry)| {
            RateLimit::per_mille(
                entry.rate.millicalls_per_second,
                entry.rate.burst.unwrap_or(default.burst()),
            )
        })
    }
}

impl RateLimits {
    /// Every API whose budget differs from its default, with the budget it has.
    pub fn overridden(&self) -> Vec<(Api, RateLimit)> {
        DEFAULT_LIMITS
            .iter()
            .map(|(api, _)| (*api, self.limit(*api)))
            .filter(|(api, limit)| RateLimits::default().limit(*api) != *limit)
            .collect()
    }
}

/// The services the provider calls, in [`DEFAULT_LIMITS`]' order.
fn services() -> Vec<&'static str> {
    let mut services: Vec<&'static str> = Vec::new();
    for (api, _) in DEFAULT_LIMITS {
        if !services.contains(&api.service) {
            services.push(api.service);
        }
    }
    services
}

/// Checks that `pattern` is `service:Action`, `service:*` or `*` and names at least one API
/// the provider calls; the refusal lists the valid names.
fn check_pattern(pattern: &str) -> Result<(), String> {
    if pattern == "*" {
        return Ok(());
    }
    let Some((service, action)) = pattern
        .split_once(':')
        .filter(|(service, action)| !service.is_empty() && !action.is_empty())
    else {
        return Err(format!("{pattern:?} is not service:Action, service:* or *"));
    };
    if !services().contains(&service) {
        return Err(format!(
            "the provider calls no service {service:?}; its services: {}",
            services().join(", ")
        ));
    }
    if action == "*"
        || DEFAULT_LIMITS
            .iter()
            .any(|(api, _)| pattern_specificity(pattern, *api) == Some(2))
    {
        return Ok(());
    }
    let actions: Vec<&str> = DEFAULT_LIMITS
        .iter()
        .filter(|(api, _)| api.service == service)
        .map(|(api, _)| api.action)
        .collect();
    Err(format!(
        "the provider never calls {pattern:?}; the {service} actions it calls (or {service}:* for all): {}",
        actions.join(", ")
    ))
}

/// Reads `RATE/s [burst N]` (the value after an API, in the environment and the block alike).
fn parse_rate(value: &str) -> Result<Rate, String> {
    let mut words = value.split_whitespace();
    let rate = words
        .next()
        .ok_or("no rate: expected RATE/s [burst N], e.g. \"2/s burst 4\"")?;
    let rate = rate
        .strip_suffix("/s")
        .ok_or_else(|| format!("rate {rate:?} must end in /s, e.g. \"2/s burst 4\""))?;
    let millicalls_per_second = parse_millis(rate)?;
    let burst = match (words.next(), words.next(), words.next()) {
        (None, _, _) => None,
        (Some("burst"), Some(burst), None) => Some(
            burst
                .parse::<u32>()
                .ok()
                .filter(|burst| *burst > 0)
                .ok_or_else(|| format!("burst {burst:?} is not a whole number above 0"))?,
        ),
        _ => return Err("expected `burst N` after the rate".to_string()),
    };
    Ok(Rate {
        millicalls_per_second,
        burst,
    })
}

/// A positive decimal with at most three decimals, in thousandths.
fn parse_millis(text: &str) -> Result<u64, String> {
    let refuse = || format!("rate {text:?} is not a number of calls above 0");
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if fraction.len() > 3
        || !whole.chars().all(|c| c.is_ascii_digit())
        || !fraction.chars().all(|c| c.is_ascii_digit())
        || (whole.is_empty() && fraction.is_empty())
    {
        return Err(refuse());
    }
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| refuse())?
    };
    let fraction: u64 = format!("{fraction:0<3}").parse().map_err(|_| refuse())?;
    let millis = whole
        .checked_mul(1000)
        .and_then(|millis| millis.checked_add(fraction))
        .ok_or_else(refuse)?;
    if millis == 0 {
        return Err(refuse());
    }
    Ok(millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GROUPS: Api = Api::new(AUTOSCALING, "DescribeAutoScalingGroups");
    const HEALTH: Api = Api::new(ELBV2, "DescribeTargetHealth");

    #[test]
    fn reads_and_writes_are_told_apart_by_their_verb() {
        for (api, _) in DEFAULT_LIMITS {
            let verb_is_read = ["Describe", "Get", "List"]
                .iter()
                .any(|verb| api.action.starts_with(verb));
            assert_eq!(api.is_read(), verb_is_read, "{api}");
        }
        assert!(GROUPS.is_read());
        assert!(!Api::new(AUTOSCALING, "UpdateAutoScalingGroup").is_read());
        assert!(!Api::new(ELBV2, "ModifyListener").is_read());
    }

    #[test]
    fn defaults_stay_under_what_aws_publishes() {
        let sum = |service: &str, reads: bool| -> (f64, u32) {
            DEFAULT_LIMITS
                .iter()
                .filter(|(api, _)| api.service == service && api.is_read() == reads)
                .fold((0.0, 0), |(rate, burst), (_, limit)| {
                    (rate + limit.per_second(), burst + limit.burst())
                })
        };
        // ELBv2: Describe* share 40 tokens refilled at 10/s; ours leave 1/s to other tools.
        let (rate, burst) = sum(ELBV2, true);
        assert!(rate <= 9.0 && burst <= 40, "{rate}/s burst {burst}");
        let limits = RateLimits::default();
        assert!(
            limits
                .limit(Api::new(CLOUDWATCH, "DescribeAlarms"))
                .per_second()
                < 9.0
        );
        assert!(
            limits
                .limit(Api::new(CLOUDWATCH, "GetMetricData"))
                .per_second()
                < 50.0
        );
        let mut seen = std::collections::BTreeSet::new();
        for (api, _) in DEFAULT_LIMITS {
            assert!(seen.insert(*api), "{api} listed twice");
        }
    }

    #[test]
    fn the_most_specific_override_wins_and_keeps_the_default_burst() {
        let (limits, problems) = RateLimits::parse(
            "*=1/s, autoscaling:*=2/s burst 4 ,autoscaling:DescribeAutoScalingGroups=0.5/s",
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(limits.limit(GROUPS), RateLimit::per_mille(500, 10));
        assert_eq!(
            limits.limit(Api::new(AUTOSCALING, "DeletePolicy")),
            RateLimit::new(2, 4)
        );
        assert_eq!(limits.limit(HEALTH), RateLimit::new(1, 10));
        assert_eq!(RateLimits::default().limit(HEALTH), RateLimit::new(6, 10));
        assert_eq!(
            RateLimits::default().limit(Api::new(AUTOSCALING, "SetDesiredCapacity")),
            FALLBACK_LIMIT
        );
    }

    #[test]
    fn unreadable_entries_are_reported_and_the_rest_apply() {
        let (limits, problems) = RateLimits::parse(
            "autoscaling:DescribeAutoScalingGroups=5, DescribeTargetHealth=1/s, *=0/s, \
             elasticloadbalancing:*=1/s burst, cloudwatch:*=fast/s, autoscaling:*=3/s burst 0, \
             elasticloadbalancing:DescribeTargetHealth=2.5/s burst 6",
        );
        assert_eq!(problems.len(), 6, "{problems:?}");
        assert_eq!(limits.limit(HEALTH), RateLimit::per_mille(2500, 6));
        assert_eq!(limits.limit(GROUPS), RateLimit::new(5, 10));
    }

    #[test]
    fn the_environment_is_read_from_its_variable_only() {
        let limits = RateLimits::from_lookup(|name| {
            (name == RATE_LIMITS_ENV).then(|| "autoscaling:*=1/s burst 1".to_string())
        });
        assert_eq!(limits.limit(GROUPS), RateLimit::new(1, 1));
        assert_eq!(RateLimits::from_lookup(|_| None), RateLimits::default());
    }

    fn block<'a>(entries: &[(&'a str, &'a str)]) -> Result<RateLimits, Vec<BlockEntryError>> {
        RateLimits::default().with_block(entries.iter().copied())
    }

    #[test]
    fn the_block_reads_the_environments_syntax() {
        let limits = block(&[
            ("autoscaling:DescribeAutoScalingGroups", "2/s burst 4"),
            ("elasticloadbalancing:*", "0.5/s"),
            ("*", " 3/s "),
        ])
        .unwrap();
        assert_eq!(limits.limit(GROUPS), RateLimit::new(2, 4));
        assert_eq!(limits.limit(HEALTH), RateLimit::per_mille(500, 10));
        assert_eq!(
            limits.limit(Api::new(CLOUDWATCH, "GetMetricData")),
            RateLimit::new(3, 10)
        );
    }

    #[test]
    fn the_block_wins_over_the_environment_even_when_less_specific() {
        let (env, problems) = RateLimits::parse(
            "autoscaling:DescribeAutoScalingGroups=9/s burst 9, cloudwatch:*=4/s",
        );
        assert!(problems.is_empty(), "{problems:?}");
        let limits = env.with_block([("autoscaling:*", "1/s burst 2")]).unwrap();
        assert_eq!(limits.limit(GROUPS), RateLimit::new(1, 2));
        let overridden = limits.overridden();
        assert!(overridden.contains(&(GROUPS, RateLimit::new(1, 2))));
        assert!(!overridden.iter().any(|(api, _)| *api == HEALTH));
        // An API the block does not name keeps the environment's override.
        assert_eq!(
            limits.limit(Api::new(CLOUDWATCH, "DescribeAlarms")),
            RateLimit::new(4, 5)
        );
    }

    #[test]
    fn every_bad_block_entry_is_an_error_naming_its_key() {
        let errors = block(&[
            ("autoscaling:DescribeAutoScalingGroup", "1/s"),
            ("autoscaling:describeautoscalinggroups", "1/s"),
            ("ec2:*", "1/s"),
            ("DescribeTargetHealth", "1/s"),
            (" autoscaling:*", "1/s"),
            ("", "1/s"),
            ("cloudwatch:*", "2"),
            ("cloudwatch:GetMetricData", "0/s"),
            ("elasticloadbalancing:*", "1/s burst 0"),
            ("elasticloadbalancing:DescribeTargetHealth", "1/s burst"),
            ("autoscaling:*", ""),
            ("autoscaling:DeletePolicy", "-1/s"),
            ("autoscaling:PutScalingPolicy", "1/s burst 2 please"),
        ])
        .unwrap_err();
        assert_eq!(errors.len(), 13, "{errors:#?}");
        let problem = |key: &str| -> &str {
            &errors
                .iter()
                .find(|error| error.key == key)
                .unwrap()
                .problem
        };
        // A misspelt action lists the ones the provider calls.
        let typo = problem("autoscaling:DescribeAutoScalingGroup");
        assert!(typo.contains("never calls"), "{typo}");
        assert!(typo.contains("DescribeAutoScalingGroups, "), "{typo}");
        assert!(!typo.contains("DescribeTargetHealth"), "{typo}");
        let service = problem("ec2:*");
        assert!(
            service.contains("autoscaling, elasticloadbalancing, cloudwatch"),
            "{service}"
        );
        assert!(problem("cloudwatch:*").contains("must end in /s"));
        assert!(problem("elasticloadbalancing:*").contains("burst"));
        assert!(problem("autoscaling:DeletePolicy").contains("above 0"));
        assert_eq!(
            errors[0].to_string(),
            format!("api_rate_limits[\"autoscaling:DescribeAutoScalingGroup\"]: {typo}")
        );
    }

    #[test]
    fn the_environment_ignores_names_the_provider_never_calls() {
        let (limits, problems) =
            RateLimits::parse("autoscaling:SetDesiredCapacity=1/s, ec2:*=1/s, autoscaling:*=3/s");
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert_eq!(limits.limit(GROUPS), RateLimit::new(3, 10));
    }
}
