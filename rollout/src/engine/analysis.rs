//! Canary analysis: a pure judgement of a soak from the load balancer's metric periods of the
//! canary and the stable target group over the same window.
//!
//! The window is a run of whole CloudWatch periods: it starts at the first period that begins
//! at or after the step's weights were applied (earlier periods carry traffic routed by the
//! previous weights) and holds only periods that are complete ([`MetricTiming::is_complete`]):
//! a period that ended less than the publish delay ago is empty or partial, and judging it
//! would see too few requests or too few errors.
//!
//! Figures over a window:
//! - the 5xx ratio is `(target 5xx + ELB 5xx) / requests`, exact (sums add up);
//! - the p99 latency is the request-weighted mean of the periods' p99. CloudWatch cannot merge
//!   percentiles of different periods exactly (it keeps no histogram a client can read back),
//!   so this is an estimate: a period with more requests weighs more, and a window whose
//!   periods all exceed a limit has a mean that exceeds it too.
//!
//! Verdicts: an absolute limit crossed (`max_5xx_ratio`, `max_p99_latency`) or a regression
//! against stable (`max_regression`) fails. A breach is acted on as soon as the window holds
//! [`MIN_REQUESTS_FOR_RATIO`] canary requests (no need to wait for the soak's end); fewer
//! than `min_requests` at the soak's end is not evidence enough to pass.

use std::time::Duration;

use crate::metrics::{MetricPeriod, MetricTiming, TargetGroupPeriods};
use crate::time::Timestamp;

use super::MIN_REQUESTS_FOR_RATIO;

/// Stable's 5xx ratio is compared as at least this (0.1 %): a stable group with no error at
/// all (a ratio of 0) would make a single canary 5xx an infinite regression.
pub const REGRESSION_5XX_FLOOR: f64 = 0.001;

/// A 5xx regression needs at least this many canary 5xx answers: two or three errors among a
/// few hundred requests are noise, whatever stable's ratio.
pub const MIN_5XX_FOR_REGRESSION: u64 = 5;

/// A 5xx regression needs the canary's errors above what `max_regression` × stable's ratio
/// would give on its requests by this many standard deviations of that difference. Errors are
/// rare, independent events: Poisson counts, whose variance is their mean. Both counts are
/// noisy: the canary's, and stable's, from which the expected count is scaled (a canary taking
/// half the traffic sees as many errors as stable, so stable's ratio is no exact reference).
/// Without this, a canary exactly as good as a stable with a 0.3 % baseline fails
/// `max_regression` 1.5 now and then on a few hundred requests, by chance alone; with
/// stable's ratio taken as exact, a 50 % canary as good as a 0.2 % stable failed 1.2 ‰ of its
/// one-minute windows of 12,000 requests (0.03 ‰ with both counts' noise).
pub const REGRESSION_5XX_SIGMAS: f64 = 3.0;

/// A p99 regression is judged only on a window of at least this many periods with a p99 in
/// both groups, and only when the canary is worse than `max_regression` × stable's in most of
/// them as well as over the window: one minute's p99 of a noisy baseline can be a third off
/// (the simulator's noisy baseline draws it lognormal with σ 0.3), which alone would fail a
/// canary as good as stable one period in ten at `max_regression` 1.5. Shorter windows are
/// judged on the absolute limit only (the timeline says so).
pub const MIN_PERIODS_FOR_REGRESSION: usize = 3;

/// A p99 regression must stand out of the window's own noise: the mean of the periods'
/// `ln(canary / stable)` above `ln(max_regression)` by this many standard errors (the sample
/// standard deviation of those log ratios over the square root of their count): a one-sided
/// paired test at about 97.5 %. Kayenta judges with a Mann-Whitney test for the same reason.
/// Measured in the simulator (stable p99 lognormal with σ up to 0.3 per minute): without it,
/// a few false rollbacks in 8,000 random healthy canaries (3-period windows whose stable
/// minutes all came in low); with it none in 6,000, and all of 3,000 random canaries 3× slower
/// still rolled back on the regression alone (`tests/rollout/canary_analysis.rs`).
pub const REGRESSION_P99_SIGMAS: f64 = 2.0;

/// A contiguous run of metric periods: `[from, until)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub from: Timestamp,
    pub until: Timestamp,
}

impl Window {
    /// The complete periods of `[from, until)` at `now`: the window as far as it can be
    /// judged (its end moves back to the end of the last complete period; empty if none).
    pub fn complete_part(self, timing: &MetricTiming, now: Timestamp) -> Window {
        let complete_until = timing.first_incomplete(now);
        let mut until = self.from;
        while until + timing.period <= self.until && until < complete_until {
            until = until + timing.period;
        }
        Window {
            from: self.from,
            until,
        }
    }
}

/// One target group's figures over a window.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Figures {
    pub requests: u64,
    /// Target and ELB 5xx answers.
    pub errors: u64,
    /// Request-weighted mean of the periods' p99 (ms); `None` without a p99 datapoint.
    pub p99_ms: Option<f64>,
    /// Periods with a datapoint.
    pub periods: usize,
}

impl Figures {
    /// Sums the periods of `group` that start inside `window` (the caller passes a window of
    /// complete periods only).
    pub fn over(group: Option<&TargetGroupPeriods>, window: Window) -> Figures {
        let mut figures = Figures::default();
        let mut weighted = 0.0;
        let mut weight = 0u64;
        let periods = group.map_or(&[][..], |g| g.periods.as_slice());
        for period in periods
            .iter()
            .filter(|p| p.start >= window.from && p.start < window.until)
        {
            figures.add(period, &mut weighted, &mut weight);
        }
        if weight > 0 {
            figures.p99_ms = Some(weighted / weight as f64);
        }
        figures
    }

    fn add(&mut self, period: &MetricPeriod, weighted: &mut f64, weight: &mut u64) {
        self.periods += 1;
        self.requests += period.requests;
        self.errors += period.target_5xx + period.elb_5xx;
        if let Some(p99) = period.p99_ms.filter(|p| p.is_finite() && *p >= 0.0) {
            // A period with a p99 but no counted request (the metrics disagree) still counts once.
            let w = period.requests.max(1);
            *weighted += p99 * w as f64;
            *weight += w;
        }
    }

    /// `None` without requests.
    pub fn ratio(&self) -> Option<f64> {
        (self.requests > 0).then(|| self.errors as f64 / self.requests as f64)
    }
}

/// The limits a soak is judged against (the canary block's).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    pub max_5xx_ratio: Option<f64>,
    pub max_p99_latency: Option<Duration>,
    pub max_regression: Option<f64>,
    pub min_requests: u64,
}

/// The metric a breach is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    Latency,
    Errors,
}

/// A limit the canary crossed.
#[derive(Debug, Clone, PartialEq)]
pub struct Breach {
    pub metric: Metric,
    /// What was crossed, e.g. `exceeds max_p99_latency 800ms`.
    pub what: String,
}

/// What a window says.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Enough evidence and no limit crossed.
    Pass,
    /// A limit crossed on enough requests to judge.
    Fail(Breach),
    /// No limit crossed, but fewer than `min_requests` canary requests.
    Insufficient,
}

/// Both groups' figures over one window, and the verdict on them.
#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    pub window: Window,
    pub canary: Figures,
    /// `None`: stable has no datapoint in the window (only absolute limits apply).
    pub stable: Option<Figures>,
    pub verdict: Verdict,
    /// Periods compared one by one for a p99 regression.
    pub paired: Paired,
}

/// Judges the window: limits first (acted on from [`MIN_REQUESTS_FOR_RATIO`] canary requests
/// on), then the evidence.
pub fn analyse(
    limits: &Limits,
    window: Window,
    canary: Option<&TargetGroupPeriods>,
    stable: Option<&TargetGroupPeriods>,
) -> Analysis {
    let canary_figures = Figures::over(canary, window);
    let stable_figures = Figures::over(stable, window);
    let stable_figures = (stable_figures.requests > 0).then_some(stable_figures);
    let judgeable = canary_figures.requests >= MIN_REQUESTS_FOR_RATIO;
    let paired = limits
        .max_regression
        .map(|factor| paired_periods(canary, stable, window, factor))
        .unwrap_or_default();
    let verdict = match breach(limits, &canary_figures, stable_figures.as_ref(), paired) {
        Some(breach) if judgeable => Verdict::Fail(breach),
        // A breach seen on too few requests to act on is not a pass either, whatever
        // `min_requests` says (the bake judges with none).
        Some(_) => Verdict::Insufficient,
        None if canary_figures.requests < limits.min_requests => Verdict::Insufficient,
        _ => Verdict::Pass,
    };
    Analysis {
        window,
        canary: canary_figures,
        stable: stable_figures,
        verdict,
        paired,
    }
}

/// The window's periods with a p99 in both groups, and how many of them have the canary's
/// above `factor` × stable's.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Paired {
    pub periods: usize,
    pub worse: usize,
    /// Mean of `ln(canary p99 / stable p99)` over the periods.
    pub mean_log_ratio: f64,
    /// Sample standard deviation of that log ratio: how much the two groups' p99 wobble
    /// against each other from one period to the next (0 with fewer than 2 periods).
    pub sd_log_ratio: f64,
}

impl Paired {
    /// Whether the canary's p99 exceeds `factor` × stable's beyond the noise the window shows:
    /// the mean log ratio above `ln(factor)` by [`REGRESSION_P99_SIGMAS`] standard errors.
    fn stands_out(&self, factor: f64) -> bool {
        let standard_error = self.sd_log_ratio / (self.periods.max(1) as f64).sqrt();
        self.mean_log_ratio > factor.ln() + REGRESSION_P99_SIGMAS * standard_error
    }
}

fn paired_periods(
    canary: Option<&TargetGroupPeriods>,
    stable: Option<&TargetGroupPeriods>,
    window: Window,
    factor: f64,
) -> Paired {
    let (Some(canary), Some(stable)) = (canary, stable) else {
        return Paired::default();
    };
    let mut paired = Paired::default();
    let mut log_ratios = Vec::new();
    for period in canary
        .periods
        .iter()
        .filter(|p| p.start >= window.from && p.start < window.until)
    {
        let Some(c) = period.p99_ms.filter(|c| c.is_finite() && *c > 0.0) else {
            continue;
        };
        let Some(s) = stable
            .periods
            .iter()
            .find(|p| p.start == period.start)
            .and_then(|p| p.p99_ms)
            .filter(|s| *s > 0.0)
        else {
            continue;
        };
        paired.periods += 1;
        paired.worse += usize::from(c > factor * s);
        log_ratios.push((c / s).ln());
    }
    let n = log_ratios.len() as f64;
    if n >= 1.0 {
        paired.mean_log_ratio = log_ratios.iter().sum::<f64>() / n;
    }
    if n >= 2.0 {
        let squares: f64 = log_ratios
            .iter()
            .map(|d| (d - paired.mean_log_ratio).powi(2))
            .sum();
        paired.sd_log_ratio = (squares / (n - 1.0)).sqrt();
    }
    paired
}

/// The first limit the canary crosses: latency before errors (a slow canary that also errs is
/// first of all slow).
fn breach(
    limits: &Limits,
    canary: &Figures,
    stable: Option<&Figures>,
    paired: Paired,
) -> Option<Breach> {
    let regression = limits.max_regression;
    if let Some(p99) = canary.p99_ms {
        if let Some(max) = limits.max_p99_latency
            && p99 > max.as_secs_f64() * 1000.0
        {
            return Some(Breach {
                metric: Metric::Latency,
                what: format!(
                    "exceeds max_p99_latency {}",
                    crate::time::HumanDuration(max)
                ),
            });
        }
        if let Some(factor) = regression
            && let Some(stable_p99) = stable.and_then(|s| s.p99_ms)
            && stable_p99 > 0.0
            && p99 > factor * stable_p99
            && paired.periods >= MIN_PERIODS_FOR_REGRESSION
            && paired.worse * 2 > paired.periods
            && paired.stands_out(factor)
        {
            return Some(Breach {
                metric: Metric::Latency,
                what: format!("exceeds max_regression {factor} × stable's"),
            });
        }
    }
    let ratio = canary.ratio()?;
    if let Some(max) = limits.max_5xx_ratio
        && ratio > max
    {
        return Some(Breach {
            metric: Metric::Errors,
            what: format!("exceeds max_5xx_ratio {}", percent(max)),
        });
    }
    if let Some(factor) = regression
        && let Some(stable) = stable
        && canary.errors >= MIN_5XX_FOR_REGRESSION
        && significant_excess(canary, stable, factor)
    {
        return Some(Breach {
            metric: Metric::Errors,
            what: format!("exceeds max_regression {factor} × stable's"),
        });
    }
    None
}

/// Whether the canary's errors exceed `factor` × stable's ratio (at least the floor) on its
/// requests, so its ratio exceeds `factor` × stable's too, by [`REGRESSION_5XX_SIGMAS`]
/// standard deviations of the difference: the canary's count varies by its expected value, and
/// the expected value itself by `scale`² × stable's count, where `scale` turns stable's errors
/// into the canary's expected ones.
fn significant_excess(canary: &Figures, stable: &Figures, factor: f64) -> bool {
    let Some(stable_ratio) = stable.ratio() else {
        return false;
    };
    let expected = canary.requests as f64 * factor * stable_ratio.max(REGRESSION_5XX_FLOOR);
    let scale = factor * canary.requests as f64 / stable.requests as f64;
    let variance = expected + scale * scale * stable.errors as f64;
    canary.errors as f64 > expected + REGRESSION_5XX_SIGMAS * variance.sqrt()
}

fn percent(ratio: f64) -> String {
    format!("{:.2} %", ratio * 100.0)
}

fn seconds(ms: f64) -> String {
    format!("{:.2} s", ms / 1000.0)
}

/// `HH:MM:SS` of `t` in UTC: wall-clock times for real rollouts, `01:02:00`-style times for
/// the simulator's virtual clock. Pure arithmetic on milliseconds since the epoch.
pub fn utc_time_of_day(t: Timestamp) -> String {
    let secs = t.as_millis() / 1000 % 86_400;
    format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

/// `14:02:00–14:07:00 UTC`.
pub fn window_text(window: Window) -> String {
    format!(
        "{}–{} UTC",
        utc_time_of_day(window.from),
        utc_time_of_day(window.until)
    )
}

/// Names of the two target groups, for messages.
#[derive(Debug, Clone, Copy)]
pub struct Names<'a> {
    pub canary: &'a str,
    pub stable: &'a str,
}

impl Analysis {
    /// One metric's canary and stable figures: `p99 latency 2.41 s in target group green`
    /// followed by `(stable blue: 0.80 s; canary 3.0× stable)` or `(stable blue: no data)`.
    fn metric_text(&self, metric: Metric, names: Names<'_>) -> String {
        let (head, tail) = self.metric_parts(metric, names);
        format!("{head} {tail}")
    }

    /// [`Analysis::metric_text`] in two: the canary's figure, and stable's in parentheses.
    fn metric_parts(&self, metric: Metric, names: Names<'_>) -> (String, String) {
        let (canary, stable) = match metric {
            Metric::Latency => (
                self.canary.p99_ms.map(seconds),
                self.stable.and_then(|s| s.p99_ms),
            ),
            Metric::Errors => (self.canary.ratio().map(percent), None),
        };
        let head = match metric {
            Metric::Latency => format!(
                "p99 latency {} in target group {}",
                canary.unwrap_or_else(|| "no data".into()),
                names.canary
            ),
            Metric::Errors => format!(
                "5xx ratio {} ({} of {} requests) in target group {}",
                canary.unwrap_or_else(|| "no data".into()),
                self.canary.errors,
                self.canary.requests,
                names.canary
            ),
        };
        let stable_value = match metric {
            Metric::Latency => stable.map(seconds),
            Metric::Errors => self.stable.and_then(|s| s.ratio()).map(percent),
        };
        let stable_ratio = self.stable.and_then(|s| s.ratio());
        let multiple = match metric {
            Metric::Latency => self.canary.p99_ms.zip(stable).map(|(c, s)| c / s),
            Metric::Errors => self
                .canary
                .ratio()
                .filter(|c| *c > 0.0)
                .zip(stable_ratio)
                .map(|(c, s)| c / s.max(REGRESSION_5XX_FLOOR)),
        };
        let compared_with = match (metric, stable_ratio) {
            (Metric::Errors, Some(s)) if s < REGRESSION_5XX_FLOOR => {
                format!("the {} floor", percent(REGRESSION_5XX_FLOOR))
            }
            _ => "stable".to_string(),
        };
        let tail = match (stable_value, multiple) {
            (Some(value), Some(m)) if m.is_finite() => {
                format!(
                    "(stable {}: {value}; canary {m:.1}× {compared_with})",
                    names.stable
                )
            }
            (Some(value), _) => format!("(stable {}: {value})", names.stable),
            (None, _) => format!(
                "(stable {}: no data, compared with absolute limits only)",
                names.stable
            ),
        };
        (head, tail)
    }

    /// The failure diagnostic: metric, canary value, limit, stable value, window.
    pub fn failure_text(&self, breach: &Breach, names: Names<'_>, during: &str) -> String {
        let (head, tail) = self.metric_parts(breach.metric, names);
        format!(
            "{head} {} {tail} over {} during {during}",
            breach.what,
            window_text(self.window)
        )
    }

    /// A timeline line: both metrics for both groups, the window and the verdict.
    pub fn summary(&self, names: Names<'_>, limits: &Limits) -> String {
        let verdict = match &self.verdict {
            Verdict::Pass => "pass".to_string(),
            Verdict::Fail(breach) => format!("fail: {:?} {}", breach.metric, breach.what)
                .replace("Latency", "latency")
                .replace("Errors", "5xx ratio"),
            Verdict::Insufficient => format!(
                "insufficient evidence: {} of {} requests",
                self.canary.requests, limits.min_requests
            ),
        };
        let short = if limits.max_regression.is_some()
            && self.paired.periods < MIN_PERIODS_FOR_REGRESSION
        {
            format!(
                " (p99 regression not judged: {} of {MIN_PERIODS_FOR_REGRESSION} periods)",
                self.paired.periods
            )
        } else {
            String::new()
        };
        format!(
            "{}{short}; {}; over {}: {verdict}",
            self.metric_text(Metric::Latency, names),
            self.metric_text(Metric::Errors, names),
            window_text(self.window)
        )
    }
}

#[cfg(test)]
#[path = "analysis_tests.rs"]
mod tests;
