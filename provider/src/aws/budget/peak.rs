//! The most calls in any one-second window, from admission times alone (pure: times are
//! arguments), to compare with a budget's `burst + rate × 1 s`; for the whole process
//! ([`SlidingPeak`]) and within each open run ([`RunPeaks`]: a rollout's report names the
//! busiest second of its own run, not of every run before it).

use std::collections::{BTreeMap, VecDeque};
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

/// The peak of every key (an API) within each open run: a run sees the admissions made
/// between its opening and its closing (every caller's: the budget is shared), from an empty
/// window, so a busier second before it opened is not its peak. Runs overlap freely.
#[derive(Debug, Clone)]
pub struct RunPeaks<K> {
    open: BTreeMap<u64, BTreeMap<K, SlidingPeak>>,
    next: u64,
}

impl<K> Default for RunPeaks<K> {
    fn default() -> Self {
        RunPeaks {
            open: BTreeMap::new(),
            next: 0,
        }
    }
}

impl<K: Ord + Copy> RunPeaks<K> {
    /// Opens a run; answers its id, for [`RunPeaks::close`].
    pub fn open(&mut self) -> u64 {
        let id = self.next;
        self.next += 1;
        self.open.insert(id, BTreeMap::new());
        id
    }

    /// Counts an admission of `key` at `at` in every open run.
    pub fn record(&mut self, key: K, at: Duration, window: Duration) {
        for peaks in self.open.values_mut() {
            peaks.entry(key).or_default().record(at, window);
        }
    }

    /// The peaks of run `id` so far, per key it saw (empty for a closed or unknown run).
    pub fn peaks(&self, id: u64) -> BTreeMap<K, u64> {
        self.open.get(&id).map_or_else(BTreeMap::new, |peaks| {
            peaks
                .iter()
                .map(|(key, peak)| (*key, peak.peak()))
                .collect()
        })
    }

    /// Closes run `id`: it counts nothing more.
    pub fn close(&mut self, id: u64) {
        self.open.remove(&id);
    }

    /// Runs open now (tests check that a dropped window closes its run).
    #[cfg(test)]
    pub fn open_runs(&self) -> usize {
        self.open.len()
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

    #[test]
    fn a_run_counts_only_the_seconds_it_was_open() {
        let mut process = SlidingPeak::default();
        let mut runs = RunPeaks::default();
        let mut admit = |runs: &mut RunPeaks<&'static str>, key: &'static str, at| {
            process.record(at, PEAK_WINDOW);
            runs.record(key, at, PEAK_WINDOW);
        };
        // A burst of 5 before the run opens.
        for at in [0, 100, 200, 300, 400] {
            admit(&mut runs, "groups", ms(at));
        }
        let run = runs.open();
        // The run opens mid-second: 2 more in the burst's second, then a calmer pace.
        for at in [500, 600, 2_000, 2_900, 3_950] {
            admit(&mut runs, "groups", ms(at));
        }
        admit(&mut runs, "health", ms(4_000));
        assert_eq!(process.peak(), 7, "the process saw 7 in [0, 1000)");
        let peaks = runs.peaks(run);
        assert_eq!(peaks["groups"], 2, "the run saw 2 in one second: {peaks:?}");
        assert_eq!(peaks["health"], 1);
        assert_eq!(peaks.len(), 2, "only the keys it saw");
    }

    #[test]
    fn overlapping_runs_each_keep_their_own_peak_and_a_closed_run_stops() {
        let mut runs = RunPeaks::default();
        let first = runs.open();
        runs.record("groups", ms(0), PEAK_WINDOW);
        let second = runs.open();
        for at in [10, 20, 30] {
            runs.record("groups", ms(at), PEAK_WINDOW);
        }
        runs.close(first);
        assert_eq!(runs.peaks(first), BTreeMap::new(), "closed: nothing");
        // After the first closed, the second still counts, across one window boundary.
        for at in [1_005, 1_010, 1_015, 1_020] {
            runs.record("groups", ms(at), PEAK_WINDOW);
        }
        assert_eq!(
            runs.peaks(second)["groups"],
            5,
            "5 of its own within one second"
        );
        assert_ne!(first, second);
        assert_eq!(runs.open_runs(), 1);
        runs.close(second);
        runs.close(second);
        assert_eq!(runs.open_runs(), 0);
        // With no run open an admission is kept nowhere.
        runs.record("groups", ms(5_000), PEAK_WINDOW);
        let third = runs.open();
        assert_eq!(runs.peaks(third), BTreeMap::new());
    }
}
