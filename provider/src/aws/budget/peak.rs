//! The most calls in any one-second window, from admission times alone (pure: times are
//! arguments), to compare with a budget's `burst + rate × 1 s`.

use std::collections::VecDeque;
use std::time::Duration;

/// The window a peak is counted over.
pub const PEAK_WINDOW: Duration = Duration::from_secs(1);

/// The most of `times` that fall in one half-open window `[t, t + window)` for any `t`
/// (`times` in any order). Calls exactly `window` apart are in different windows.
pub fn peak_in_window(times: &[Duration], window: Duration) -> u64 {
    let mut sorted = times.to_vec();
    sorted.sort_unstable();
    let mut start = 0;
    let mut peak = 0;
    for (end, at) in sorted.iter().enumerate() {
        while at.saturating_sub(sorted[start]) >= window {
            start += 1;
        }
        peak = peak.max(end + 1 - start);
    }
    u64::try_from(peak).unwrap_or(u64::MAX)
}

/// [`peak_in_window`] kept up to date one admission at a time, holding only the times of
/// the last window (a long apply's admissions are not kept).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SlidingPeak {
    recent: VecDeque<Duration>,
    peak: u64,
}

impl SlidingPeak {
    /// Counts an admission at `at`; answers the peak so far. A time before the last one
    /// (callers racing for the clock) counts as the last one.
    pub fn record(&mut self, at: Duration, window: Duration) -> u64 {
        let at = self.recent.back().map_or(at, |last| at.max(*last));
        while self
            .recent
            .front()
            .is_some_and(|first| at.saturating_sub(*first) >= window)
        {
            self.recent.pop_front();
        }
        self.recent.push_back(at);
        self.peak = self
            .peak
            .max(u64::try_from(self.recent.len()).unwrap_or(u64::MAX));
        self.peak
    }

    pub fn peak(&self) -> u64 {
        self.peak
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(millis: u64) -> Duration {
        Duration::from_millis(millis)
    }

    #[test]
    fn a_peak_counts_the_busiest_second_wherever_it_starts() {
        assert_eq!(peak_in_window(&[], PEAK_WINDOW), 0);
        assert_eq!(peak_in_window(&[ms(5)], PEAK_WINDOW), 1);
        // 3 calls in [900, 1800) though no whole second from 0 holds more than 2.
        let times = [ms(0), ms(900), ms(1200), ms(1799), ms(2900)];
        assert_eq!(peak_in_window(&times, PEAK_WINDOW), 3);
        // Exactly a window apart: different windows.
        assert_eq!(peak_in_window(&[ms(0), ms(1000), ms(2000)], PEAK_WINDOW), 1);
        assert_eq!(peak_in_window(&[ms(0), ms(999)], PEAK_WINDOW), 2);
        // Order does not matter; equal times all count.
        assert_eq!(
            peak_in_window(&[ms(400), ms(0), ms(400), ms(400)], PEAK_WINDOW),
            4
        );
    }

    #[test]
    fn the_sliding_peak_agrees_with_the_whole_history() {
        // A deterministic pseudo-random walk of gaps (0 to 700 ms), in bursts and lulls.
        let mut seed: u64 = 16;
        let mut at = Duration::ZERO;
        let mut times = Vec::new();
        let mut sliding = SlidingPeak::default();
        for _ in 0..2_000 {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            at += ms((seed >> 33) % 701 / if seed.is_multiple_of(3) { 20 } else { 1 });
            times.push(at);
            let peak = sliding.record(at, PEAK_WINDOW);
            assert_eq!(peak, peak_in_window(&times, PEAK_WINDOW), "after {at:?}");
        }
        assert!(
            sliding.peak() > 2,
            "the walk has bursts: {}",
            sliding.peak()
        );
        assert!(sliding.recent.len() < 100, "only the last window is kept");
    }

    #[test]
    fn a_time_before_the_last_counts_as_the_last() {
        let mut sliding = SlidingPeak::default();
        sliding.record(ms(1500), PEAK_WINDOW);
        sliding.record(ms(1400), PEAK_WINDOW);
        assert_eq!(sliding.record(ms(2450), PEAK_WINDOW), 3);
    }
}
