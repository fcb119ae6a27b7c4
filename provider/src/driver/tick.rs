//! When a rollout's loop wakes: on a provider-wide grid, so that the resources of one apply
//! look at their fleets at the same instants and their reads coalesce (`crate::aws::coalesce`).
//!
//! Every `zdd_rollout` resource sleeps until the engine's next wake-up, capped by the maximum
//! poll interval. Left alone, each keeps the phase it started at (plus its turns' own time),
//! and their reads, 20 ms windows, rarely meet. Here a sleep that the cap ends (the engine has
//! nothing due sooner) ends instead at the last grid point at or before the cap, where the grid
//! is every multiple of the cap since one origin per process, if that point is at least a
//! minimum gap away. A sleep the engine ends sooner (a drain's end, a health wait's next
//! check) ends exactly when it asked.
//!
//! - Never later than the engine asked, nor than the cap.
//! - Earlier than the cap by less than one grid period.
//! - Never a spin: a sleep is shortened only down to the minimum gap.
//!
//! The cost: capped looks come once per grid period instead of once per period plus the turn's
//! own time (a few per cent more looks at a 2 s cap), and the first capped sleep of a run is
//! shorter, by up to a period: at most one extra look per run and per engine deadline that
//! the cap cut short. Waking early is safe because the engine decides from what it sees each
//! turn, never from how long it slept: an early look finds nothing due and asks again, as the
//! cap's looks always did.
//!
//! Engine deadlines shorter than the cap are not moved onto the grid: the look at the grid
//! point before such a deadline would be one more look, and the look at the deadline itself
//! would still be alone.
//!
//! Measured (`aws_coalesce.rs`, 4 fleets started 55 ms apart, 250 ms cap, turns of ~100 ms):
//! 143 group reads in 62-68 calls on the grid, 107 reads in 79 calls without it; aligning the
//! engine's deadlines as well gave 149 reads in 71 calls. At this small cap the extra looks
//! (a turn's time is a large part of the period) eat much of the saving; at the default 2 s
//! cap they are a few per cent.

use std::time::Duration;

/// The shortest sleep alignment may leave (a loop never wakes more often than this for the
/// grid's sake).
pub const MIN_GAP: Duration = Duration::from_millis(100);

/// How long to sleep from `now` (time since the grid's origin) when the engine wants to look
/// again in `engine_wants`, with looks at most `max_poll` apart: `engine_wants` if it is
/// shorter than `max_poll`, else until the last multiple of `max_poll` at or before
/// `now + max_poll` if that is at least `min_gap` away, else `max_poll`.
pub fn next_sleep(
    now: Duration,
    engine_wants: Duration,
    max_poll: Duration,
    min_gap: Duration,
) -> Duration {
    if engine_wants < max_poll {
        return engine_wants;
    }
    let period = max_poll.as_nanos();
    if period == 0 {
        return max_poll;
    }
    let wake = now.saturating_add(max_poll).as_nanos();
    let grid_point = wake - wake % period;
    let until_grid_point = grid_point.saturating_sub(now.as_nanos());
    let until_grid_point =
        Duration::from_nanos(u64::try_from(until_grid_point).unwrap_or(u64::MAX));
    if until_grid_point >= min_gap {
        until_grid_point
    } else {
        max_poll
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(millis: u64) -> Duration {
        Duration::from_millis(millis)
    }

    const CAP: Duration = Duration::from_secs(2);
    const LONG: Duration = Duration::from_secs(300);

    #[test]
    fn a_capped_poll_ends_on_the_grid_point_before_the_cap() {
        // Two resources at different phases, both waiting out a drain, both wake at 4 s.
        assert_eq!(next_sleep(ms(2_300), LONG, CAP, MIN_GAP), ms(1_700));
        assert_eq!(next_sleep(ms(3_100), LONG, CAP, MIN_GAP), ms(900));
        // On the grid already: the full cap. An engine asking for exactly the cap too.
        assert_eq!(next_sleep(ms(4_000), LONG, CAP, MIN_GAP), ms(2_000));
        assert_eq!(next_sleep(ms(4_000), CAP, CAP, MIN_GAP), ms(2_000));
    }

    #[test]
    fn a_resource_that_finished_its_turn_just_after_a_grid_point_stays_on_the_grid() {
        // Woke at 4 s, its turn took 70 ms: next look at 6 s, not 6.07 s.
        assert_eq!(next_sleep(ms(4_070), LONG, CAP, MIN_GAP), ms(1_930));
    }

    #[test]
    fn a_grid_point_closer_than_the_gap_is_skipped_not_spun_on() {
        // The point before 5.95 s is 4 s, 50 ms from now: sleep the whole cap.
        assert_eq!(next_sleep(ms(3_950), LONG, CAP, MIN_GAP), ms(2_000));
    }

    #[test]
    fn an_engine_deadline_before_the_cap_is_kept_exactly() {
        assert_eq!(next_sleep(ms(4_200), ms(1_300), CAP, MIN_GAP), ms(1_300));
        assert_eq!(next_sleep(ms(3_000), ms(1_999), CAP, MIN_GAP), ms(1_999));
        assert_eq!(next_sleep(ms(4_000), ms(30), CAP, MIN_GAP), ms(30));
        assert_eq!(
            next_sleep(ms(4_000), Duration::ZERO, CAP, MIN_GAP),
            Duration::ZERO
        );
    }

    #[test]
    fn properties_hold_over_a_sweep() {
        for cap in [ms(250), ms(1_000), ms(2_000), ms(3_333)] {
            for now in (0..20_000).step_by(37).map(ms) {
                for wants in [0, 1, 50, 99, 100, 101, 700, 1_999, 2_000, 2_001, 5_000].map(ms) {
                    let sleep = next_sleep(now, wants, cap, MIN_GAP);
                    let asked = wants.min(cap);
                    assert!(sleep <= asked, "never later than asked nor than the cap");
                    assert!(asked - sleep < cap, "earlier by less than a period");
                    assert!(sleep >= asked.min(MIN_GAP), "never shortened below the gap");
                    let wake = now + sleep;
                    assert!(
                        sleep == asked || wake.as_nanos().is_multiple_of(cap.as_nanos()),
                        "shortened only to land on the grid"
                    );
                }
            }
        }
    }

    #[test]
    fn resources_out_of_step_meet_after_one_sleep() {
        // Four resources whose turns end at scattered times all next wake at 6 s.
        for now in [4_010, 4_370, 4_800, 5_550] {
            assert_eq!(ms(now) + next_sleep(ms(now), LONG, CAP, MIN_GAP), ms(6_000));
        }
    }

    #[test]
    fn a_zero_cap_never_sleeps() {
        assert_eq!(
            next_sleep(ms(1_234), LONG, Duration::ZERO, MIN_GAP),
            Duration::ZERO
        );
    }
}
