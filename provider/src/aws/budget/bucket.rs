//! The budget's decision, pure: a token bucket per API and the queue of calls waiting for it.
//! Time is an argument (`now`, a [`Duration`] since an origin the caller chose), so every
//! decision replays in a test with virtual time; the async gate in `super` only sleeps.

use std::collections::BTreeSet;
use std::time::Duration;

use super::limits::RateLimit;

/// One token, in the bucket's integer units: whole nanotokens keep refills exact (`0.2 s × 5/s`
/// is one token, not 0.9999).
const UNITS_PER_TOKEN: u128 = 1_000_000_000;
const NANOS_PER_SECOND: u128 = 1_000_000_000;
/// A rate is stored in thousandths of a call per second.
const MILLI: u128 = 1_000;

/// A token bucket: full (`burst` tokens) at first, refilled at `rate` tokens per second up to
/// `burst`; a call takes one token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenBucket {
    limit: RateLimit,
    units: u128,
    updated: Duration,
}

impl TokenBucket {
    pub fn new(limit: RateLimit, now: Duration) -> TokenBucket {
        TokenBucket {
            limit,
            units: capacity(limit),
            updated: now,
        }
    }

    pub fn limit(&self) -> RateLimit {
        self.limit
    }

    /// Whole tokens available at `now`.
    pub fn tokens(&mut self, now: Duration) -> u64 {
        self.refill(now);
        u64::try_from(self.units / UNITS_PER_TOKEN).unwrap_or(u64::MAX)
    }

    /// Takes one token if there is one at `now`.
    pub fn try_take(&mut self, now: Duration) -> bool {
        self.refill(now);
        if self.units >= UNITS_PER_TOKEN {
            self.units -= UNITS_PER_TOKEN;
            true
        } else {
            false
        }
    }

    /// How long from `now` until `tokens` whole tokens are there (zero if they already are).
    /// A bucket whose burst is smaller than `tokens` never holds them at once; the answer is
    /// then the time for that many tokens to flow in, which is what a queue position needs.
    pub fn time_until(&mut self, tokens: u64, now: Duration) -> Duration {
        self.refill(now);
        let needed = u128::from(tokens) * UNITS_PER_TOKEN;
        if needed <= self.units {
            return Duration::ZERO;
        }
        let missing = needed - self.units;
        let per_second = u128::from(self.limit.millicalls_per_second()).max(1);
        // Rounded up: waking a nanosecond early would find the token not yet there.
        let nanos = (missing * NANOS_PER_SECOND * MILLI).div_ceil(per_second * UNITS_PER_TOKEN);
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    fn refill(&mut self, now: Duration) {
        // A `now` before the last update (callers racing on the lock) adds nothing.
        let elapsed = now.saturating_sub(self.updated);
        if elapsed.is_zero() {
            return;
        }
        self.updated = now;
        let added =
            elapsed.as_nanos() * u128::from(self.limit.millicalls_per_second()) * UNITS_PER_TOKEN
                / (NANOS_PER_SECOND * MILLI);
        self.units = self.units.saturating_add(added).min(capacity(self.limit));
    }
}

fn capacity(limit: RateLimit) -> u128 {
    u128::from(limit.burst()) * UNITS_PER_TOKEN
}

/// Whose call it is. Commands go first: a rollout waiting to detach, delete or shift weights
/// is the one whose delay costs something, while a late observation only delays the next
/// decision (and the engine looks again anyway).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    /// A write, or a read a command makes on its way (the describe before an attach).
    Command,
    /// A read that observes.
    Observation,
}

/// A place in a [`Lane`]'s queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ticket {
    priority: Priority,
    sequence: u64,
}

/// The answer to "may this call go now?".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Go: a token was taken.
    Admitted,
    /// Look again at this time (since the origin) or when the queue changes, whichever is
    /// first.
    WaitUntil(Duration),
}

/// One API's bucket and the calls waiting for it, served commands first, then in arrival
/// order. A call is admitted only at the head of the queue, so a read that arrives while a
/// write waits never takes the write's token, however the waiters' wake-ups interleave.
#[derive(Debug, Clone)]
pub struct Lane {
    bucket: TokenBucket,
    waiting: BTreeSet<Ticket>,
    next_sequence: u64,
}

impl Lane {
    pub fn new(limit: RateLimit, now: Duration) -> Lane {
        Lane {
            bucket: TokenBucket::new(limit, now),
            waiting: BTreeSet::new(),
            next_sequence: 0,
        }
    }

    pub fn limit(&self) -> RateLimit {
        self.bucket.limit()
    }

    /// Joins the queue.
    pub fn enqueue(&mut self, priority: Priority) -> Ticket {
        let ticket = Ticket {
            priority,
            sequence: self.next_sequence,
        };
        self.next_sequence += 1;
        self.waiting.insert(ticket);
        ticket
    }

    /// Admits `ticket` if it heads the queue and a token is there; otherwise says when its
    /// turn can come, counting one token for each call ahead of it. A ticket not in the queue
    /// (already admitted or cancelled) is admitted without a token: that cannot happen through
    /// the gate, and refusing for ever would hang a call.
    pub fn poll(&mut self, ticket: Ticket, now: Duration) -> Admission {
        if !self.waiting.contains(&ticket) {
            return Admission::Admitted;
        }
        let ahead = self.waiting.range(..ticket).count();
        if ahead == 0 && self.bucket.try_take(now) {
            self.waiting.remove(&ticket);
            return Admission::Admitted;
        }
        let position = u64::try_from(ahead).unwrap_or(u64::MAX).saturating_add(1);
        let wait = self.bucket.time_until(position, now);
        // At least a nanosecond: a zero wait with the token taken by the head would spin.
        Admission::WaitUntil(now + wait.max(Duration::from_nanos(1)))
    }

    /// Takes a token for a call that does not queue (a record for readers, written later when
    /// the budget is short): only when nobody waits, so it never takes a queued call's token.
    pub fn try_take_unqueued(&mut self, now: Duration) -> bool {
        self.waiting.is_empty() && self.bucket.try_take(now)
    }

    /// Leaves the queue without a token (the caller gave up: its future was dropped).
    pub fn cancel(&mut self, ticket: Ticket) {
        self.waiting.remove(&ticket);
    }

    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unqueued_call_takes_a_free_token_but_never_one_a_waiting_call_needs() {
        let start = Duration::ZERO;
        let mut lane = Lane::new(RateLimit::new(1, 2), start);
        assert!(
            lane.try_take_unqueued(start),
            "a full bucket, nobody waiting"
        );
        let queued = lane.enqueue(Priority::Observation);
        assert!(
            !lane.try_take_unqueued(start),
            "a token is left, but a queued call comes first"
        );
        assert_eq!(lane.poll(queued, start), Admission::Admitted);
        assert!(
            !lane.try_take_unqueued(start),
            "the bucket is empty: the call is not made now"
        );
        assert!(lane.try_take_unqueued(start + Duration::from_secs(1)));
    }

    fn ms(millis: u64) -> Duration {
        Duration::from_millis(millis)
    }

    fn limit(per_second: u32, burst: u32) -> RateLimit {
        RateLimit::new(per_second, burst)
    }

    #[test]
    fn a_full_bucket_serves_its_burst_then_the_rate() {
        let mut bucket = TokenBucket::new(limit(5, 3), ms(0));
        for _ in 0..3 {
            assert!(bucket.try_take(ms(0)));
        }
        assert!(!bucket.try_take(ms(0)), "burst spent");
        assert_eq!(bucket.time_until(1, ms(0)), ms(200));
        assert!(!bucket.try_take(ms(199)));
        assert!(bucket.try_take(ms(200)), "one token per 200 ms at 5/s");
        assert!(!bucket.try_take(ms(200)));
        // A long idle refills to the burst, never beyond.
        assert_eq!(bucket.tokens(ms(60_000)), 3);
    }

    #[test]
    fn over_any_window_a_bucket_admits_at_most_burst_plus_rate_times_window() {
        let mut bucket = TokenBucket::new(limit(5, 2), ms(0));
        let mut admitted = 0;
        for step in 0..=1000 {
            // A greedy caller every 10 ms for 10 s.
            if bucket.try_take(ms(step * 10)) {
                admitted += 1;
            }
        }
        assert_eq!(admitted, 2 + 5 * 10);
    }

    #[test]
    fn fractional_rates_refill_exactly() {
        let mut bucket = TokenBucket::new(RateLimit::per_mille(500, 1), ms(0));
        assert!(bucket.try_take(ms(0)));
        assert_eq!(bucket.time_until(1, ms(0)), ms(2000));
        assert!(!bucket.try_take(ms(1999)));
        assert!(bucket.try_take(ms(2000)));
    }

    #[test]
    fn a_waiting_write_goes_before_the_reads_queued_before_it() {
        let mut lane = Lane::new(limit(1, 1), ms(0));
        let first = lane.enqueue(Priority::Observation);
        assert_eq!(lane.poll(first, ms(0)), Admission::Admitted);
        // The bucket is empty: two reads queue, then a write.
        let read_1 = lane.enqueue(Priority::Observation);
        let read_2 = lane.enqueue(Priority::Observation);
        let write = lane.enqueue(Priority::Command);
        assert_eq!(lane.poll(read_1, ms(0)), Admission::WaitUntil(ms(2000)));
        assert_eq!(lane.poll(write, ms(0)), Admission::WaitUntil(ms(1000)));
        // The reads wake first (they were polled first) and still do not get the token.
        assert_eq!(lane.poll(read_1, ms(1000)), Admission::WaitUntil(ms(2000)));
        assert_eq!(lane.poll(read_2, ms(1000)), Admission::WaitUntil(ms(3000)));
        assert_eq!(lane.poll(write, ms(1000)), Admission::Admitted);
        assert_eq!(lane.poll(read_1, ms(2000)), Admission::Admitted);
        assert_eq!(lane.poll(read_2, ms(3000)), Admission::Admitted);
        assert_eq!(lane.waiting(), 0);
    }

    #[test]
    fn reads_are_served_in_order_when_no_write_waits() {
        let mut lane = Lane::new(limit(2, 1), ms(0));
        let reads: Vec<Ticket> = (0..3)
            .map(|_| lane.enqueue(Priority::Observation))
            .collect();
        assert_eq!(lane.poll(reads[0], ms(0)), Admission::Admitted);
        assert_eq!(lane.poll(reads[2], ms(500)), Admission::WaitUntil(ms(1000)));
        assert_eq!(lane.poll(reads[1], ms(500)), Admission::Admitted);
        assert_eq!(lane.poll(reads[2], ms(1000)), Admission::Admitted);
    }

    #[test]
    fn writes_among_themselves_keep_their_arrival_order() {
        let mut lane = Lane::new(limit(1, 1), ms(0));
        let occupy = lane.enqueue(Priority::Command);
        assert_eq!(lane.poll(occupy, ms(0)), Admission::Admitted);
        let first = lane.enqueue(Priority::Command);
        let second = lane.enqueue(Priority::Command);
        assert!(matches!(
            lane.poll(second, ms(1000)),
            Admission::WaitUntil(_)
        ));
        assert_eq!(lane.poll(first, ms(1000)), Admission::Admitted);
        assert_eq!(lane.poll(second, ms(2000)), Admission::Admitted);
    }

    #[test]
    fn a_cancelled_call_gives_its_place_to_the_next() {
        let mut lane = Lane::new(limit(1, 1), ms(0));
        let occupy = lane.enqueue(Priority::Observation);
        assert_eq!(lane.poll(occupy, ms(0)), Admission::Admitted);
        let gone = lane.enqueue(Priority::Command);
        let next = lane.enqueue(Priority::Observation);
        assert_eq!(lane.poll(next, ms(0)), Admission::WaitUntil(ms(2000)));
        lane.cancel(gone);
        assert_eq!(lane.poll(next, ms(1000)), Admission::Admitted);
    }

    #[test]
    fn two_apis_have_separate_buckets() {
        // One API's callers spending their whole budget hold nobody else back.
        let mut describe_groups = Lane::new(limit(1, 2), ms(0));
        let mut target_health = Lane::new(limit(1, 2), ms(0));
        for _ in 0..2 {
            let ticket = describe_groups.enqueue(Priority::Observation);
            assert_eq!(describe_groups.poll(ticket, ms(0)), Admission::Admitted);
        }
        let starved = describe_groups.enqueue(Priority::Observation);
        assert!(matches!(
            describe_groups.poll(starved, ms(0)),
            Admission::WaitUntil(_)
        ));
        for _ in 0..2 {
            let ticket = target_health.enqueue(Priority::Observation);
            assert_eq!(target_health.poll(ticket, ms(0)), Admission::Admitted);
        }
    }
}
