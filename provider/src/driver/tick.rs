//! When a rollout's loop wakes: on a provider-wide grid, so that the resources of one apply
//! observe at the same instants and their reads coalesce (see `crate::aws::coalesce`).
//!
//! Every `zdd_rollout` resource sleeps `min(engine's next wake-up, max poll)` between turns.
//! Left alone, each keeps the phase it started at, and their reads, 20 ms windows apart at
//! best, rarely meet. Here a sleep ends instead at the last grid point (multiples of the grid
//! period since one origin per process) at or before the time asked for, if that point is at
//! least a minimum gap away; otherwise at the time asked for.
//!
//! - Never later than the engine asked: its deadlines (a drain's end, a bake's end) hold.
//! - Earlier by less than one grid period.
//! - Never a spin: a sleep is shortened only down to the minimum gap.
//!
//! The cost: a deadline between two grid points gets one extra look (at the grid point before
//! it); the engine then asks again for the same deadline, now closer than a grid point, and
//! the loop sleeps until it exactly. Waking early is safe because the engine decides from
//! what it sees each turn, never from how long it slept: an early look finds the deadline not
//! reached and schedules it again, like the `max_poll` cap's looks already do.

use std::time::Duration;

/// The shortest sleep alignment may leave (a loop never wakes more often than this for the
/// grid's sake).
pub const MIN_GAP: Duration = Duration::from_millis(100);

/// How long to sleep from `now` (time since the grid's origin) when the engine wants to look
/// again in `wanted`: until the last multiple of `period` at or before `now + wanted` if that
/// is at least `min_gap` away, else `wanted` itself.
pub fn aligned_sleep(
    now: Duration,
    wanted: Duration,
    period: Duration,
    min_gap: Duration,
) -> Duration {
    let period_nanos = period.as_nanos();
    if period_nanos == 0 {
        return wanted;
    }
    let wake = now.saturating_add(wanted).as_nanos();
    let grid_point = wake - wake % period_nanos;
    let until_grid_point = grid_point.saturating_sub(now.as_nanos());
    let until_grid_point =
        Duration::from_nanos(u64::try_from(until_grid_point).unwrap_or(u64::MAX));
    if until_grid_point >= min_gap && until_grid_point <= wanted {
        until_grid_point
    } else {
        wanted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(millis: u64) -> Duration {
        Duration::from_millis(millis)
    }

    const PERIOD: Duration = Duration::from_secs(2);

    #[test]
    fn a_poll_ends_on_the_grid_point_before_the_time_asked_for() {
        // Two resources at different phases both wake at 4 s.
        assert_eq!(
            aligned_sleep(ms(2_300), ms(2_000), PERIOD, MIN_GAP),
            ms(1_700)
        );
        assert_eq!(
            aligned_sleep(ms(3_100), ms(2_000), PERIOD, MIN_GAP),
            ms(900)
        );
        // On the grid already: the full poll.
        assert_eq!(
            aligned_sleep(ms(4_000), ms(2_000), PERIOD, MIN_GAP),
            ms(2_000)
        );
    }

    #[test]
    fn a_resource_that_finished_its_turn_just_after_a_grid_point_stays_on_the_grid() {
        // Woke at 4 s, its turn took 70 ms: next wake at 6 s, not 6.07 s.
        assert_eq!(
            aligned_sleep(ms(4_070), ms(2_000), PERIOD, MIN_GAP),
            ms(1_930)
        );
    }

    #[test]
    fn a_grid_point_closer_than_the_gap_is_skipped_not_spun_on() {
        // The point before 5.95 s is 4 s, 50 ms from now: sleep the whole 2 s.
        assert_eq!(
            aligned_sleep(ms(3_950), ms(2_000), PERIOD, MIN_GAP),
            ms(2_000)
        );
        // A deadline already at hand is kept as it is.
        assert_eq!(aligned_sleep(ms(4_000), ms(30), PERIOD, MIN_GAP), ms(30));
        assert_eq!(
            aligned_sleep(ms(4_000), Duration::ZERO, PERIOD, MIN_GAP),
            Duration::ZERO
        );
    }

    #[test]
    fn an_engine_deadline_costs_at_most_one_early_look() {
        // The engine wants 5.5 s; now 4.2 s. First sleep: to the grid point 4 s? No, that
        // is past: the grid point before 5.5 s is 4 s < now, so it sleeps until 5.5 s.
        assert_eq!(
            aligned_sleep(ms(4_200), ms(1_300), PERIOD, MIN_GAP),
            ms(1_300)
        );
        // From 3.9 s the grid point 4 s is too close; from 3.0 s it is the early look, and
        // from there the deadline is kept exactly.
        assert_eq!(
            aligned_sleep(ms(3_000), ms(2_500), ms(1_000), MIN_GAP),
            ms(2_000)
        );
        assert_eq!(
            aligned_sleep(ms(5_000), ms(500), ms(1_000), MIN_GAP),
            ms(500)
        );
    }

    #[test]
    fn properties_hold_over_a_sweep() {
        for period in [ms(250), ms(1_000), ms(2_000), ms(3_333)] {
            for now in (0..20_000).step_by(37).map(ms) {
                for wanted in [0, 1, 50, 99, 100, 101, 700, 1_999, 2_000, 2_001, 5_000].map(ms) {
                    let sleep = aligned_sleep(now, wanted, period, MIN_GAP);
                    assert!(sleep <= wanted, "never later than asked");
                    assert!(wanted - sleep < period, "earlier by less than a period");
                    assert!(
                        sleep >= wanted.min(MIN_GAP),
                        "never shortened below the gap"
                    );
                    let wake = now + sleep;
                    assert!(
                        sleep == wanted || wake.as_nanos().is_multiple_of(period.as_nanos()),
                        "shortened only to land on the grid"
                    );
                }
            }
        }
    }

    #[test]
    fn a_zero_period_disables_alignment() {
        assert_eq!(
            aligned_sleep(ms(1_234), ms(2_000), Duration::ZERO, MIN_GAP),
            ms(2_000)
        );
    }
}
