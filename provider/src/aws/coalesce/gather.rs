//! Who shares which call, pure: the batches of one kind of read, their members, and who sends
//! each. No clock, no I/O: the async glue in `super` waits (the window, the budget, the call)
//! and tells this state what happened; every decision replays in a unit test.
//!
//! A batch is *gathering* until its call is about to go (the budget admitted it): only then is
//! it *sealed*, and a sealed batch is never joined, so an answer always reflects AWS after each
//! of its members asked. One batch at a time gathers; it stops taking new keys when it holds
//! `max_keys` of them (a caller with another key opens the next batch).
//!
//! Every batch has one *sender*, a member: the first, or when it leaves (its future was
//! dropped) the earliest member left, which then sends the call itself. A batch nobody waits
//! for any more is forgotten.
//!
//! A key may carry a payload `P` (a write's: the tags of a group's record; `()` for a read).
//! A caller joining a gathering batch that has its key replaces the payload: the last writer
//! wins, in the order callers joined, and the call carries one payload per key.

use std::collections::BTreeMap;

use super::super::budget::Priority;

/// A batch, by the order batches were opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BatchId(u64);

/// A caller waiting for an answer, by the order callers arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MemberId(u64);

/// Where a batch is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Not sent yet: new callers join it (while it has room).
    Gathering,
    /// Its call is out (or about to go); its keys are fixed.
    Sealed,
    /// Answered: its members take their answers and leave.
    Answered,
}

#[derive(Debug, Clone)]
struct Batch<K, P> {
    /// Each key with the payload of the last caller that joined with it.
    keys: BTreeMap<K, P>,
    members: BTreeMap<MemberId, Priority>,
    stage: Stage,
    sender: MemberId,
}

impl<K, P> Batch<K, P> {
    /// The most urgent member's priority (commands before observations).
    fn priority(&self) -> Priority {
        self.members
            .values()
            .copied()
            .min()
            .unwrap_or(Priority::Observation)
    }
}

/// What joining did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Joined {
    pub member: MemberId,
    pub batch: BatchId,
    /// This caller sends the batch's call (it opened the batch).
    pub sends: bool,
    /// The batch now holds `max_keys` keys (new keys go to the next batch).
    pub full: bool,
    /// The batch's priority rose with this caller (a command joined observations): a sender
    /// waiting for its budget at the old priority should wait at the new one.
    pub upgraded: bool,
}

/// What a member's leaving did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Left {
    /// Nothing anybody must act on.
    Quietly,
    /// The leaver was the sender and others still wait: this member sends now.
    SenderIsNow(MemberId),
    /// The batch has nobody left and is forgotten (its call, if out, answers nobody).
    Forgotten(BatchId),
}

/// The batches of one kind of call.
#[derive(Debug, Clone)]
pub struct Gathering<K, P = ()> {
    max_keys: usize,
    batches: BTreeMap<BatchId, Batch<K, P>>,
    member_batch: BTreeMap<MemberId, BatchId>,
    /// The batch new callers join, if one gathers and has room.
    open: Option<BatchId>,
    next_batch: u64,
    next_member: u64,
}

impl<K: Ord + Clone> Gathering<K> {
    /// A caller asks for `key` (a read: no payload); see [`Gathering::join_with`].
    pub fn join(&mut self, key: K, priority: Priority) -> Joined {
        self.join_with(key, (), priority)
    }
}

impl<K: Ord + Clone, P: Clone> Gathering<K, P> {
    pub fn new(max_keys: usize) -> Gathering<K, P> {
        Gathering {
            max_keys: max_keys.max(1),
            batches: BTreeMap::new(),
            member_batch: BTreeMap::new(),
            open: None,
            next_batch: 0,
            next_member: 0,
        }
    }

    /// A caller asks for `key` with `payload`: it joins the gathering batch if that batch has
    /// the key (its payload replaces the one there: the last writer wins) or room for it,
    /// otherwise it opens a batch and sends it.
    pub fn join_with(&mut self, key: K, payload: P, priority: Priority) -> Joined {
        let member = MemberId(self.next_member);
        self.next_member += 1;
        // A gathering batch that already has the key (full or not: the key takes no room),
        // else the open one if it has room.
        let with_key = self
            .batches
            .iter()
            .find(|(_, batch)| batch.stage == Stage::Gathering && batch.keys.contains_key(&key))
            .map(|(id, _)| *id);
        let with_room = self.open.filter(|id| {
            self.batches.get(id).is_some_and(|batch| {
                batch.stage == Stage::Gathering && batch.keys.len() < self.max_keys
            })
        });
        let joinable = with_key.or(with_room);
        let (batch_id, sends) = match joinable {
            Some(id) => (id, false),
            None => {
                let id = BatchId(self.next_batch);
                self.next_batch += 1;
                self.batches.insert(
                    id,
                    Batch {
                        keys: BTreeMap::new(),
                        members: BTreeMap::new(),
                        stage: Stage::Gathering,
                        sender: member,
                    },
                );
                self.open = Some(id);
                (id, true)
            }
        };
        self.member_batch.insert(member, batch_id);
        let max_keys = self.max_keys;
        let (full, upgraded) = match self.batches.get_mut(&batch_id) {
            Some(batch) => {
                let before = batch.priority();
                batch.keys.insert(key, payload);
                batch.members.insert(member, priority);
                let upgraded = !sends && batch.priority() < before;
                (batch.keys.len() >= max_keys, upgraded)
            }
            None => (false, false),
        };
        if full && self.open == Some(batch_id) {
            // It still takes callers of keys it has; a new key opens the next batch.
            self.open = None;
        }
        Joined {
            member,
            batch: batch_id,
            sends,
            full,
            upgraded,
        }
    }

    /// The batch's call goes now: its keys, fixed from here on (the same keys again for a
    /// batch already sealed, which a new sender re-sends). `None` for a forgotten batch.
    pub fn seal(&mut self, batch: BatchId) -> Option<Vec<K>> {
        let entry = self.batches.get_mut(&batch)?;
        if entry.stage == Stage::Gathering {
            entry.stage = Stage::Sealed;
        }
        if self.open == Some(batch) {
            self.open = None;
        }
        Some(entry.keys.keys().cloned().collect())
    }

    /// The batch's keys with their payloads, in key order (read once it is sealed: nobody
    /// changes them any more). `None` for a forgotten batch.
    pub fn entries(&self, batch: BatchId) -> Option<Vec<(K, P)>> {
        let entry = self.batches.get(&batch)?;
        Some(
            entry
                .keys
                .iter()
                .map(|(key, payload)| (key.clone(), payload.clone()))
                .collect(),
        )
    }

    /// The call answered (or failed): members take their answers.
    pub fn answer(&mut self, batch: BatchId) {
        if let Some(entry) = self.batches.get_mut(&batch) {
            entry.stage = Stage::Answered;
        }
        if self.open == Some(batch) {
            self.open = None;
        }
    }

    /// A member leaves: it took its answer, or its caller gave up.
    pub fn leave(&mut self, member: MemberId) -> Left {
        let Some(batch_id) = self.member_batch.remove(&member) else {
            return Left::Quietly;
        };
        let Some(batch) = self.batches.get_mut(&batch_id) else {
            return Left::Quietly;
        };
        batch.members.remove(&member);
        if batch.members.is_empty() {
            self.batches.remove(&batch_id);
            if self.open == Some(batch_id) {
                self.open = None;
            }
            return Left::Forgotten(batch_id);
        }
        if batch.sender == member && batch.stage != Stage::Answered {
            // The earliest member left takes over; the keys of a gathering batch stay (a key
            // nobody asks for any more costs nothing in a filter, and its answer is dropped).
            if let Some(next) = batch.members.keys().next().copied() {
                batch.sender = next;
                return Left::SenderIsNow(next);
            }
        }
        Left::Quietly
    }

    /// The batch `member` waits in (none once it left).
    pub fn batch_of(&self, member: MemberId) -> Option<BatchId> {
        self.member_batch.get(&member).copied()
    }

    pub fn stage(&self, batch: BatchId) -> Option<Stage> {
        self.batches.get(&batch).map(|entry| entry.stage)
    }

    pub fn sender(&self, batch: BatchId) -> Option<MemberId> {
        self.batches.get(&batch).map(|entry| entry.sender)
    }

    /// The priority the batch's call goes at: its most urgent member's.
    pub fn priority(&self, batch: BatchId) -> Option<Priority> {
        self.batches.get(&batch).map(Batch::priority)
    }

    /// The batch holds `max_keys` keys and more than one: no new key can join, so its sender
    /// need not wait out the window. A batch of one key (a read that takes one key per call)
    /// waits all the same: its window is for identical readers, who take no room.
    pub fn sends_early(&self, batch: BatchId) -> bool {
        self.max_keys > 1
            && self
                .batches
                .get(&batch)
                .is_some_and(|entry| entry.keys.len() >= self.max_keys)
    }

    /// Batches not yet forgotten (for tests: nothing leaks).
    pub fn batches(&self) -> usize {
        self.batches.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OBSERVE: Priority = Priority::Observation;
    const COMMAND: Priority = Priority::Command;

    #[test]
    fn callers_join_the_gathering_batch_and_the_first_sends_it() {
        let mut gathering = Gathering::new(50);
        let first = gathering.join("web", OBSERVE);
        let second = gathering.join("api", OBSERVE);
        let third = gathering.join("web", OBSERVE);
        assert!(first.sends);
        assert!(!second.sends && !third.sends);
        assert_eq!(first.batch, second.batch);
        assert_eq!(first.batch, third.batch);
        assert_eq!(gathering.seal(first.batch), Some(vec!["api", "web"]));
    }

    #[test]
    fn a_sealed_batch_is_never_joined() {
        let mut gathering = Gathering::new(50);
        let first = gathering.join("web", OBSERVE);
        gathering.seal(first.batch);
        let late = gathering.join("web", OBSERVE);
        assert!(late.sends, "a caller after the seal opens its own batch");
        assert_ne!(late.batch, first.batch);
        assert_eq!(gathering.seal(first.batch), Some(vec!["web"]));
    }

    #[test]
    fn a_full_batch_sends_the_next_key_to_a_new_batch() {
        let mut gathering = Gathering::new(2);
        let a = gathering.join("a", OBSERVE);
        assert!(!a.full);
        let b = gathering.join("b", OBSERVE);
        assert!(b.full, "two keys fill a batch of two");
        assert!(gathering.sends_early(a.batch));
        let c = gathering.join("c", OBSERVE);
        assert!(c.sends);
        assert_ne!(c.batch, a.batch);
        // A key the full batch has still joins it.
        let b_again = gathering.join("b", OBSERVE);
        assert_eq!(b_again.batch, a.batch);
        assert!(!b_again.sends);
        assert_eq!(gathering.seal(a.batch), Some(vec!["a", "b"]));
        assert_eq!(gathering.seal(c.batch), Some(vec!["c"]));
    }

    #[test]
    fn identical_reads_of_a_one_key_kind_share_a_batch_that_waits_its_window() {
        let mut gathering = Gathering::new(1);
        let first = gathering.join("arn:blue", OBSERVE);
        assert!(first.full);
        assert!(
            !gathering.sends_early(first.batch),
            "identical readers may still come"
        );
        let same = gathering.join("arn:blue", OBSERVE);
        assert_eq!(same.batch, first.batch);
        let other = gathering.join("arn:green", OBSERVE);
        assert_ne!(other.batch, first.batch);
        assert!(other.sends);
        assert_eq!(gathering.join("arn:blue", COMMAND).batch, first.batch);
    }

    #[test]
    fn a_repeated_key_takes_no_room() {
        let mut gathering = Gathering::new(2);
        let a = gathering.join("a", OBSERVE);
        let again = gathering.join("a", OBSERVE);
        assert_eq!(again.batch, a.batch);
        assert!(!again.full);
        assert_eq!(gathering.join("b", OBSERVE).batch, a.batch);
    }

    #[test]
    fn a_command_joining_observations_raises_the_batch_priority() {
        let mut gathering = Gathering::new(50);
        let first = gathering.join("a", OBSERVE);
        assert_eq!(gathering.priority(first.batch), Some(OBSERVE));
        assert!(!gathering.join("b", OBSERVE).upgraded);
        let command = gathering.join("c", COMMAND);
        assert!(command.upgraded);
        assert_eq!(gathering.priority(first.batch), Some(COMMAND));
        assert!(
            !gathering.join("d", COMMAND).upgraded,
            "already a command's"
        );
        // One command gives up: the other still makes it a command's batch.
        gathering.leave(command.member);
        assert_eq!(gathering.priority(first.batch), Some(COMMAND));
    }

    #[test]
    fn the_earliest_member_left_takes_over_from_a_sender_that_leaves() {
        let mut gathering = Gathering::new(50);
        let first = gathering.join("a", OBSERVE);
        let second = gathering.join("b", OBSERVE);
        let third = gathering.join("c", OBSERVE);
        assert_eq!(
            gathering.leave(first.member),
            Left::SenderIsNow(second.member)
        );
        assert_eq!(gathering.sender(first.batch), Some(second.member));
        // A non-sender leaving changes nothing.
        assert_eq!(gathering.leave(third.member), Left::Quietly);
        // Still gathering: a newcomer joins the same batch.
        assert_eq!(gathering.join("d", OBSERVE).batch, first.batch);
    }

    #[test]
    fn a_sender_leaving_a_sealed_batch_hands_the_same_keys_to_the_next() {
        let mut gathering = Gathering::new(50);
        let first = gathering.join("a", OBSERVE);
        let second = gathering.join("b", OBSERVE);
        assert_eq!(gathering.seal(first.batch), Some(vec!["a", "b"]));
        assert_eq!(
            gathering.leave(first.member),
            Left::SenderIsNow(second.member)
        );
        assert_eq!(gathering.stage(first.batch), Some(Stage::Sealed));
        assert_eq!(
            gathering.seal(first.batch),
            Some(vec!["a", "b"]),
            "the re-send carries the sealed keys"
        );
    }

    #[test]
    fn the_last_member_leaving_forgets_the_batch() {
        let mut gathering = Gathering::new(50);
        let first = gathering.join("a", OBSERVE);
        let second = gathering.join("b", OBSERVE);
        gathering.seal(first.batch);
        gathering.answer(first.batch);
        assert_eq!(
            gathering.leave(first.member),
            Left::Quietly,
            "answered: no new sender"
        );
        assert_eq!(gathering.leave(second.member), Left::Forgotten(first.batch));
        assert_eq!(gathering.batches(), 0);
        assert_eq!(
            gathering.leave(second.member),
            Left::Quietly,
            "leaving twice is harmless"
        );
    }

    #[test]
    fn a_gathering_batch_everybody_left_is_not_joined() {
        let mut gathering = Gathering::new(50);
        let first = gathering.join("a", OBSERVE);
        assert_eq!(gathering.leave(first.member), Left::Forgotten(first.batch));
        let next = gathering.join("a", OBSERVE);
        assert!(next.sends);
        assert_ne!(next.batch, first.batch);
    }

    #[test]
    fn the_last_caller_with_a_key_sets_its_payload() {
        let mut gathering: Gathering<&str, u32> = Gathering::new(50);
        let first = gathering.join_with("web-g2", 1, OBSERVE);
        gathering.join_with("api-g1", 7, OBSERVE);
        let second = gathering.join_with("web-g2", 2, OBSERVE);
        assert_eq!(second.batch, first.batch);
        assert!(!second.sends);
        assert_eq!(gathering.seal(first.batch), Some(vec!["api-g1", "web-g2"]));
        assert_eq!(
            gathering.entries(first.batch),
            Some(vec![("api-g1", 7), ("web-g2", 2)]),
            "one payload per key, the last joiner's"
        );
        // Sealed: a later write goes to the next batch, the sealed one keeps its payload.
        let third = gathering.join_with("web-g2", 3, OBSERVE);
        assert_ne!(third.batch, first.batch);
        assert_eq!(
            gathering.entries(first.batch),
            Some(vec![("api-g1", 7), ("web-g2", 2)])
        );
        assert_eq!(gathering.entries(third.batch), Some(vec![("web-g2", 3)]));
    }

    #[test]
    fn a_forgotten_batch_has_no_keys_to_seal() {
        let mut gathering: Gathering<&str> = Gathering::new(50);
        let first = gathering.join("a", OBSERVE);
        gathering.leave(first.member);
        assert_eq!(gathering.seal(first.batch), None);
        assert_eq!(gathering.priority(first.batch), None);
    }
}
