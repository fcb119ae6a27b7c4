//! The health samples `last_rollout.samples` keeps ([`Sample`]), recorded look by look and
//! bounded to [`MAX_SAMPLES`] however long the rollout runs.
//!
//! A look becomes a sample only when one of its values (healthy new, healthy old, the new
//! weight) differs from the last sample kept; the first look is always kept, and the last look
//! closes the record (so the picture runs to the end). When the log is full, the interior
//! sample whose removal changes the picture least goes: the one whose difference from the
//! sample before it, weighed by how long it lasted, is smallest. Each series counts relative
//! to its full height (healthy counts to the most seen, the weight to 100 %), since that is
//! how far its line moves in the drawing. Never dropped: the first sample, the last one, the
//! sample showing the most healthy new targets, and the one sample of each weight value (so a
//! 200-step canary keeps every step's weight). Those are at most 105 (101 weights, `None`, the
//! first, the last, the peak), well under [`MAX_SAMPLES`], so a sample to drop always exists.
//!
//! Pure: the caller passes each look's time (Unix seconds) with its sample.

use std::collections::BTreeMap;

use crate::{MAX_SAMPLES, Sample};

/// The bounded, change-only record of a rollout's health and weight.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SampleLog {
    /// The samples kept, with their time in Unix seconds, oldest first.
    kept: Vec<(u64, Sample)>,
    /// The latest look, when it showed the same values as the last sample kept.
    latest: Option<(u64, Sample)>,
    /// The most healthy new and old targets seen (each series' full height).
    peak_new: u32,
    peak_old: u32,
}

impl SampleLog {
    pub fn new() -> SampleLog {
        SampleLog::default()
    }

    /// Records one look at `at` (Unix seconds; looks come in time order).
    pub fn push(&mut self, at: u64, sample: Sample) {
        self.peak_new = self.peak_new.max(sample.healthy_new);
        self.peak_old = self.peak_old.max(sample.healthy_old);
        if self
            .kept
            .last()
            .is_some_and(|(_, last)| same_values(last, &sample))
        {
            self.latest = Some((at, sample));
            return;
        }
        self.latest = None;
        // Room for this one and for a closing look after it.
        while self.kept.len() + 2 > MAX_SAMPLES {
            let Some(index) = self.least_loss() else {
                break;
            };
            self.remove(index);
        }
        self.kept.push((at, sample));
    }

    /// The samples to keep, oldest first: at most [`MAX_SAMPLES`].
    pub fn samples(&self) -> Vec<Sample> {
        let mut samples: Vec<Sample> = self.kept.iter().map(|(_, s)| s.clone()).collect();
        if let Some((_, latest)) = &self.latest {
            samples.push(latest.clone());
        }
        samples
    }

    /// Removes the sample at `index`, and the one after it if it now repeats the one before.
    fn remove(&mut self, index: usize) {
        self.kept.remove(index);
        if index < self.kept.len()
            && index > 0
            && same_values(&self.kept[index - 1].1, &self.kept[index].1)
            && index + 1 < self.kept.len()
        {
            self.kept.remove(index);
        }
    }

    /// The interior sample whose removal loses least, among those that may go.
    fn least_loss(&self) -> Option<usize> {
        let last = self.kept.len().checked_sub(1)?;
        let peak = self
            .kept
            .iter()
            .position(|(_, s)| s.healthy_new == self.peak_new);
        let mut per_weight: BTreeMap<Option<u32>, usize> = BTreeMap::new();
        for (_, s) in &self.kept {
            *per_weight.entry(s.weight_new).or_default() += 1;
        }
        let only_of_its_weight =
            |index: usize| per_weight.get(&self.kept[index].1.weight_new) == Some(&1);
        (1..last)
            .filter(|index| Some(*index) != peak && !only_of_its_weight(*index))
            .map(|index| (self.loss(index), index))
            .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)))
            .map(|(_, index)| index)
    }

    /// What the picture loses without the sample at `index` (interior): its values give way
    /// to the previous sample's for as long as it lasted.
    fn loss(&self, index: usize) -> f64 {
        let (at, sample) = &self.kept[index];
        let (_, before) = &self.kept[index - 1];
        let until = self.kept.get(index + 1).map_or(*at, |(next, _)| *next);
        let lasted = until.saturating_sub(*at).max(1) as f64;
        let part =
            |a: u32, b: u32, height: u32| f64::from(a.abs_diff(b)) / f64::from(height.max(1));
        let weight = match (sample.weight_new, before.weight_new) {
            (Some(a), Some(b)) => part(a, b, 100),
            (None, None) => 0.0,
            _ => 1.0,
        };
        lasted
            * (part(sample.healthy_new, before.healthy_new, self.peak_new)
                + part(sample.healthy_old, before.healthy_old, self.peak_old)
                + weight)
    }
}

fn same_values(a: &Sample, b: &Sample) -> bool {
    (a.healthy_new, a.healthy_old, a.weight_new) == (b.healthy_new, b.healthy_old, b.weight_new)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use proptest::prelude::*;

    use super::*;

    fn sample(at: u64, healthy_new: u32, healthy_old: u32, weight_new: Option<u32>) -> Sample {
        Sample {
            at: format!("t{at}"),
            healthy_new,
            healthy_old,
            weight_new,
        }
    }

    #[test]
    fn only_changes_are_kept_and_the_last_look_closes_the_record() {
        let mut log = SampleLog::new();
        log.push(0, sample(0, 0, 3, None));
        log.push(2, sample(2, 0, 3, None));
        log.push(4, sample(4, 1, 3, None));
        log.push(6, sample(6, 1, 3, None));
        log.push(8, sample(8, 1, 3, None));
        let at: Vec<String> = log.samples().into_iter().map(|s| s.at).collect();
        assert_eq!(at, ["t0", "t4", "t8"]);
        log.push(10, sample(10, 3, 0, None));
        let at: Vec<String> = log.samples().into_iter().map(|s| s.at).collect();
        assert_eq!(at, ["t0", "t4", "t10"]);
    }

    #[test]
    fn a_200_step_canary_keeps_every_weight_within_the_bound() {
        let mut log = SampleLog::new();
        let mut at = 0;
        for step in 0..=200u32 {
            let weight = step / 2;
            // Health flickers within each step: more changes than the log can hold.
            for healthy in [4, 3, 4] {
                at += 7;
                log.push(at, sample(at, healthy, 4, Some(weight)));
            }
        }
        let samples = log.samples();
        assert!(samples.len() <= MAX_SAMPLES, "{}", samples.len());
        let weights: BTreeSet<Option<u32>> = samples.iter().map(|s| s.weight_new).collect();
        assert_eq!(weights.len(), 101, "{weights:?}");
        assert_eq!(samples[0].at, "t7");
        assert_eq!(samples[samples.len() - 1].at, format!("t{at}"));
    }

    fn looks() -> impl Strategy<Value = Vec<(u64, u32, u32, Option<u32>)>> {
        prop::collection::vec(
            (1u64..120, 0u32..12, 0u32..12, prop::option::of(0u32..=100)),
            1..1500,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn the_log_is_bounded_and_keeps_the_ends_the_peak_and_every_weight(looks in looks()) {
            let mut log = SampleLog::new();
            let mut at = 0;
            let mut seen = Vec::new();
            for (gap, healthy_new, healthy_old, weight) in looks {
                at += gap;
                let look = sample(at, healthy_new, healthy_old, weight);
                log.push(at, look.clone());
                seen.push(look);
            }
            let kept = log.samples();
            prop_assert!(kept.len() <= MAX_SAMPLES);
            prop_assert_eq!(&kept[0], &seen[0]);
            let (last_kept, last_seen) = (&kept[kept.len() - 1], &seen[seen.len() - 1]);
            prop_assert_eq!(&last_kept.at, &last_seen.at);
            prop_assert!(same_values(last_kept, last_seen));
            let peak = seen.iter().map(|s| s.healthy_new).max();
            prop_assert_eq!(kept.iter().map(|s| s.healthy_new).max(), peak);
            let weights_seen: BTreeSet<Option<u32>> = seen.iter().map(|s| s.weight_new).collect();
            let weights_kept: BTreeSet<Option<u32>> = kept.iter().map(|s| s.weight_new).collect();
            prop_assert_eq!(weights_kept, weights_seen);
            // Time order, and every sample kept is a look that happened.
            let time = |s: &Sample| s.at[1..].parse::<u64>().unwrap();
            prop_assert!(kept.windows(2).all(|w| time(&w[0]) < time(&w[1])));
            prop_assert!(kept.iter().all(|k| seen.contains(k)));
        }
    }
}
