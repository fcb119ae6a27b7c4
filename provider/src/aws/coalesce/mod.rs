//! Identical reads coalesced across every `zdd_rollout` resource of an apply (issue #16).
//!
//! Terraform runs up to 10 resource operations at once in one provider process; each polls
//! its fleet. A [`Coalescer`] lets the reads of one kind that are asked for while a call is
//! still gathering share that call: the groups of many rollouts come from one
//! `DescribeAutoScalingGroups` (a `tag:zdd:rollout` filter takes many values), the targets of
//! a target group from one `DescribeTargetHealth` however many resources read it.
//!
//! Only calls not yet sent are joined: an answer always reflects AWS after every participant
//! asked (a resource that just attached a target group never gets a view from before its
//! attach). The first caller of a batch waits the window for others, and keeps gathering
//! while the rate budget holds its call: the batch's keys are fixed ([`Seal::keys`]) only
//! once the budget admitted the call, the instant before it is sent. A batch holding
//! `max_keys` keys takes no new key (the next caller opens the next batch) and, if it can
//! hold several, is sent without waiting out its window; a one-key kind (target health) waits
//! its window for identical readers.
//!
//! The call goes at its most urgent member's [`Priority`]: when a command's read joins a batch
//! of observations still waiting for its budget, the sender gives up its place in the queue
//! and waits again as a command (nothing was sent: the batch was not sealed yet).
//!
//! Cancellation: a caller whose future is dropped leaves its batch; if it was the sender, the
//! earliest member left sends the call itself (again, with the same keys, if it was already
//! out). Nobody is stranded, no lock is held across an await.
//!
//! The decision (who joins what, who sends) is pure, in [`gather`]; this module only waits.
//!
//! The key type is what one caller asks for (a rollout name, a target group ARN); `fetch`
//! answers a batch of keys in one or more calls (pages), and a key it leaves out of its
//! answer gets `V::default()` (no groups for that rollout).
//!
//! Writes gather the same way ([`Coalescer::get_with`]): a key carries a payload `P` (what to
//! write for it), the last caller's for a key wins, and `fetch` reads the sealed batch's
//! payloads with [`Seal::entries`]. The phase records of many fleets share one
//! `CreateOrUpdateTags` that way (`super::records`).

pub mod gather;

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::pin;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use self::gather::{BatchId, Gathering, Left, MemberId, Stage};
use super::budget::Priority;

/// Calls of one kind, gathered into shared calls. `E` is the calls' error, handed to every
/// member of a failed call; `P` is what a caller hands in with its key (`()` for a read).
pub struct Coalescer<K, V, E, P = ()> {
    /// How long a call waits for others to join before it is sent (its budget wait counts
    /// too: a call held by the rate budget gathers the whole time).
    window: Duration,
    /// The most keys one call may carry.
    max_keys: usize,
    shared: Arc<Shared<K, V, E, P>>,
}

impl<K, V, E, P> std::fmt::Debug for Coalescer<K, V, E, P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Coalescer")
            .field("window", &self.window)
            .field("max_keys", &self.max_keys)
            .finish_non_exhaustive()
    }
}

/// What coalescing saved for one kind of read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KindStats {
    /// Callers answered (an error counts: it was answered).
    pub callers: u64,
    /// Calls sent for them (a batch re-sent after its sender gave up counts twice; a call of
    /// several pages counts once).
    pub calls: u64,
    /// Keys those calls carried, summed.
    pub keys: u64,
}

impl KindStats {
    /// Calls the callers would have made alone, minus the calls sent.
    pub fn saved(&self) -> u64 {
        self.callers.saturating_sub(self.calls)
    }

    /// What happened after `earlier` (a snapshot of the same coalescer).
    pub fn since(&self, earlier: &KindStats) -> KindStats {
        KindStats {
            callers: self.callers.saturating_sub(earlier.callers),
            calls: self.calls.saturating_sub(earlier.calls),
            keys: self.keys.saturating_sub(earlier.keys),
        }
    }
}

struct Shared<K, V, E, P> {
    state: Mutex<State<K, V, E, P>>,
}

struct State<K, V, E, P> {
    gathering: Gathering<K, P>,
    slots: BTreeMap<BatchId, Slot<K, V, E>>,
    stats: KindStats,
}

/// The async side of a batch: when its window ends, how its members are woken, its answer.
struct Slot<K, V, E> {
    window_ends: Instant,
    /// Woken when the batch fills, its priority rises, its sender changes or it is answered.
    changed: Arc<Notify>,
    answer: Option<Result<Arc<BTreeMap<K, V>>, E>>,
}

impl<K, V, E, P> Shared<K, V, E, P> {
    fn with_state<T>(&self, f: impl FnOnce(&mut State<K, V, E, P>) -> T) -> T {
        // Every update under the lock is complete before anything can panic: keep using the
        // state after a panic elsewhere.
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut state)
    }
}

/// The keys of the call a `fetch` is about to send: reading them seals the batch (nobody
/// joins it any more). Read them at the last moment, once the budget admitted the call, so
/// callers arriving while it waited still ride along.
pub struct Seal<K, P = ()> {
    source: Source<K, P>,
    sealed: OnceLock<Sealed<K, P>>,
}

/// A sealed batch's keys and, in the same order, their payloads.
struct Sealed<K, P> {
    keys: Vec<K>,
    payloads: Vec<P>,
}

enum Source<K, P> {
    Batch {
        sealer: Arc<dyn SealBatch<K, P> + Send + Sync>,
        batch: BatchId,
    },
    /// Keys fixed in advance (a call outside any batch, part of a batch's keys, or a test's).
    Fixed(Vec<(K, P)>),
}

trait SealBatch<K, P> {
    fn seal(&self, batch: BatchId) -> Vec<(K, P)>;
}

impl<K, V, E, P> SealBatch<K, P> for Shared<K, V, E, P>
where
    K: Ord + Clone,
    P: Clone,
{
    fn seal(&self, batch: BatchId) -> Vec<(K, P)> {
        self.with_state(|state| {
            state.gathering.seal(batch);
            let entries = state.gathering.entries(batch).unwrap_or_default();
            state.stats.calls += 1;
            state.stats.keys += u64::try_from(entries.len()).unwrap_or(u64::MAX);
            entries
        })
    }
}

impl<K: Clone> Seal<K> {
    /// Keys fixed in advance: a call nobody else can join.
    pub fn fixed(keys: Vec<K>) -> Seal<K> {
        Seal::fixed_entries(keys.into_iter().map(|key| (key, ())).collect())
    }
}

impl<K: Clone, P: Clone> Seal<K, P> {
    /// Keys with their payloads fixed in advance: a call nobody else can join (a part of a
    /// sealed batch's keys, sent again on its own).
    pub fn fixed_entries(entries: Vec<(K, P)>) -> Seal<K, P> {
        Seal {
            source: Source::Fixed(entries),
            sealed: OnceLock::new(),
        }
    }

    fn sealed(&self) -> &Sealed<K, P> {
        self.sealed.get_or_init(|| {
            let entries = match &self.source {
                Source::Batch { sealer, batch } => sealer.seal(*batch),
                Source::Fixed(entries) => entries.clone(),
            };
            let (keys, payloads) = entries.into_iter().unzip();
            Sealed { keys, payloads }
        })
    }

    /// The call's keys, distinct and in order. The first read seals the batch; later reads
    /// (the next pages) answer the same keys.
    pub fn keys(&self) -> &[K] {
        &self.sealed().keys
    }

    /// The call's keys with their payloads (the last caller's for each key), in key order.
    /// Seals the batch as [`Seal::keys`] does.
    pub fn entries(&self) -> impl Iterator<Item = (&K, &P)> {
        let sealed = self.sealed();
        sealed.keys.iter().zip(&sealed.payloads)
    }
}

/// What a waiting member sees when it looks.
enum Look<V, E> {
    Answered(Result<V, E>),
    /// It is the batch's sender and the batch is not answered: send.
    Send,
    Wait,
}

impl<K, V, E> Coalescer<K, V, E>
where
    K: Ord + Clone + Send + Sync + 'static,
    V: Default + Clone + Send + Sync + 'static,
    E: Clone + Send + 'static,
{
    /// The answer for `key`, from a call that carries it and whatever else was asked while
    /// the call gathered. `fetch` is called by whichever member sends the call, with the
    /// batch's [`Seal`] (read its keys right before sending: that closes the batch) and the
    /// batch's priority (its most urgent member's). It may be called again before it read the
    /// keys (the priority rose: the first future is dropped) and by another member after its
    /// sender gave up; a `fetch` that never reads the keys answers them all the same.
    ///
    /// # Cancellation
    /// Dropping the future leaves the batch; the others are still answered.
    pub async fn get<F, Fut>(&self, key: K, priority: Priority, fetch: F) -> Result<V, E>
    where
        F: Fn(Seal<K>, Priority) -> Fut,
        Fut: Future<Output = Result<BTreeMap<K, V>, E>>,
    {
        self.get_with(key, (), priority, fetch).await
    }
}

impl<K, V, E, P> Coalescer<K, V, E, P>
where
    K: Ord + Clone + Send + Sync + 'static,
    V: Default + Clone + Send + Sync + 'static,
    E: Clone + Send + 'static,
    P: Clone + Send + Sync + 'static,
{
    pub fn new(window: Duration, max_keys: usize) -> Coalescer<K, V, E, P> {
        let max_keys = max_keys.max(1);
        Coalescer {
            window,
            max_keys,
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    gathering: Gathering::new(max_keys),
                    slots: BTreeMap::new(),
                    stats: KindStats::default(),
                }),
            }),
        }
    }

    pub fn window(&self) -> Duration {
        self.window
    }

    pub fn max_keys(&self) -> usize {
        self.max_keys
    }

    /// Callers answered and calls sent so far.
    pub fn stats(&self) -> KindStats {
        self.shared.with_state(|state| state.stats)
    }

    /// [`Coalescer::get`] for a call that carries a payload per key (a write): `payload` is
    /// what this caller hands in for `key`; a later caller joining the same gathering batch
    /// with the same key replaces it (the last writer wins), and both are answered by the one
    /// call. `fetch` reads the payloads with [`Seal::entries`].
    ///
    /// # Cancellation
    /// Dropping the future leaves the batch; the others are still answered (a gathering
    /// batch keeps the key and its payload, as it keeps a read's key).
    pub async fn get_with<F, Fut>(
        &self,
        key: K,
        payload: P,
        priority: Priority,
        fetch: F,
    ) -> Result<V, E>
    where
        F: Fn(Seal<K, P>, Priority) -> Fut,
        Fut: Future<Output = Result<BTreeMap<K, V>, E>>,
    {
        let now = Instant::now();
        let (joined, changed) = self.shared.with_state(|state| {
            let joined = state.gathering.join_with(key.clone(), payload, priority);
            let slot = state.slots.entry(joined.batch).or_insert_with(|| Slot {
                window_ends: now + self.window,
                changed: Arc::new(Notify::new()),
                answer: None,
            });
            let changed = Arc::clone(&slot.changed);
            if state.gathering.sends_early(joined.batch) || joined.upgraded {
                changed.notify_waiters();
            }
            (joined, changed)
        });
        let _membership = Membership {
            shared: &self.shared,
            member: joined.member,
        };
        loop {
            let mut notified = pin!(changed.notified());
            // Registered before the look: a change right after it still wakes us.
            notified.as_mut().enable();
            match self.look(joined.batch, joined.member, &key) {
                Look::Answered(answer) => return answer,
                Look::Send => self.send(joined.batch, &changed, &fetch).await,
                Look::Wait => notified.await,
            }
        }
    }

    fn look(&self, batch: BatchId, member: MemberId, key: &K) -> Look<V, E> {
        self.shared.with_state(|state| {
            match state
                .slots
                .get(&batch)
                .and_then(|slot| slot.answer.as_ref())
            {
                Some(Ok(answers)) => {
                    state.stats.callers += 1;
                    Look::Answered(Ok(answers.get(key).cloned().unwrap_or_default()))
                }
                Some(Err(error)) => {
                    state.stats.callers += 1;
                    Look::Answered(Err(error.clone()))
                }
                None if state.gathering.sender(batch) == Some(member) => Look::Send,
                None => Look::Wait,
            }
        })
    }

    /// The sender's part: waits out the window (unless the batch fills), then sends the call,
    /// starting over at the higher priority if a command joins before the budget admitted it;
    /// leaves the answer in the batch's slot.
    async fn send<F, Fut>(&self, batch: BatchId, changed: &Notify, fetch: &F)
    where
        F: Fn(Seal<K, P>, Priority) -> Fut,
        Fut: Future<Output = Result<BTreeMap<K, V>, E>>,
    {
        loop {
            let mut notified = pin!(changed.notified());
            notified.as_mut().enable();
            let window_ends = self.shared.with_state(|state| {
                let gathering = state.gathering.stage(batch) == Some(Stage::Gathering)
                    && !state.gathering.sends_early(batch);
                let window_ends = state.slots.get(&batch).map(|slot| slot.window_ends);
                window_ends.filter(|_| gathering)
            });
            match window_ends {
                Some(at) if Instant::now() < at => {
                    tokio::select! {
                        () = tokio::time::sleep_until(at) => {}
                        () = &mut notified => {}
                    }
                }
                _ => break,
            }
        }
        let answer = loop {
            let priority = self
                .shared
                .with_state(|state| state.gathering.priority(batch))
                .unwrap_or(Priority::Observation);
            let seal = Seal {
                source: Source::Batch {
                    sealer: Arc::clone(&self.shared) as Arc<dyn SealBatch<K, P> + Send + Sync>,
                    batch,
                },
                sealed: OnceLock::new(),
            };
            let mut call = pin!(fetch(seal, priority));
            let finished = loop {
                let mut notified = pin!(changed.notified());
                notified.as_mut().enable();
                tokio::select! {
                    biased;
                    answer = &mut call => break Some(answer),
                    () = &mut notified => {
                        let raised = self.shared.with_state(|state| {
                            state.gathering.stage(batch) == Some(Stage::Gathering)
                                && state.gathering.priority(batch).is_some_and(|now| now < priority)
                        });
                        if raised {
                            // Not sealed: nothing went out; wait again as the more urgent.
                            break None;
                        }
                    }
                }
            };
            if let Some(answer) = finished {
                break answer;
            }
        };
        self.shared.with_state(|state| {
            if state.gathering.stage(batch) == Some(Stage::Gathering) {
                // A fetch that never read its keys: nobody joins what is already answered.
                let keys = state.gathering.seal(batch).unwrap_or_default();
                state.stats.calls += 1;
                state.stats.keys += u64::try_from(keys.len()).unwrap_or(u64::MAX);
            }
            state.gathering.answer(batch);
            if let Some(slot) = state.slots.get_mut(&batch) {
                slot.answer = Some(answer.map(Arc::new));
            }
        });
        changed.notify_waiters();
    }
}

/// A caller's place in its batch, given up when its `get` returns or is dropped.
struct Membership<'a, K: Ord + Clone, V, E, P: Clone> {
    shared: &'a Shared<K, V, E, P>,
    member: MemberId,
}

impl<K: Ord + Clone, V, E, P: Clone> Drop for Membership<'_, K, V, E, P> {
    fn drop(&mut self) {
        self.shared.with_state(|state| {
            let batch = state.gathering.batch_of(self.member);
            match state.gathering.leave(self.member) {
                Left::Quietly => {}
                Left::SenderIsNow(_) => {
                    if let Some(slot) = batch.and_then(|batch| state.slots.get(&batch)) {
                        slot.changed.notify_waiters();
                    }
                }
                Left::Forgotten(batch) => {
                    state.slots.remove(&batch);
                }
            }
        });
    }
}

/// DescribeAutoScalingGroups takes up to 100 records per page; a batch of 50 rollouts (two
/// groups each while they roll) fills about one page.
pub const ROLLOUTS_PER_CALL: usize = 50;
/// How long a read waits for others to join it by default.
pub const DEFAULT_WINDOW: Duration = Duration::from_millis(20);

/// What coalescing saved, per kind of read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CoalesceStats {
    pub rollout_groups: KindStats,
    pub target_health: KindStats,
}

impl CoalesceStats {
    /// What happened after `earlier` (a snapshot of the same reads).
    pub fn since(&self, earlier: &CoalesceStats) -> CoalesceStats {
        CoalesceStats {
            rollout_groups: self.rollout_groups.since(&earlier.rollout_groups),
            target_health: self.target_health.since(&earlier.target_health),
        }
    }
}

/// The coalesced reads every clone of [`super::AwsClients`] shares, and the phase records
/// gathered the same way.
#[derive(Debug)]
pub struct SharedReads {
    /// Each rollout's groups (`zdd:rollout = <name>`), by rollout name.
    pub rollout_groups: Coalescer<String, Vec<super::types::AsgInfo>, super::AwsError>,
    /// Each target group's targets, by ARN (the API takes one target group).
    pub target_health: Coalescer<String, Vec<super::types::TargetHealth>, super::AwsError>,
    /// Each rollout's groups with their lifecycle hooks, for a refresh (Terraform's Read): a
    /// batch is answered once every hook of it is read, so the reads of a wave end together;
    /// a hooks read AWS refuses fails its own rollout's answer only.
    pub refreshed_groups: Coalescer<String, super::types::RefreshedRollout, super::AwsError>,
    /// Groups by name, for the commands' own reads: one `DescribeAutoScalingGroups` names
    /// many.
    pub groups_by_name: Coalescer<String, Option<super::types::AsgInfo>, super::AwsError>,
    /// The phase records of every rollout, by group: one `CreateOrUpdateTags` for many.
    pub records: super::records::PhaseRecords,
}

impl SharedReads {
    pub fn new(window: Duration) -> SharedReads {
        SharedReads {
            rollout_groups: Coalescer::new(window, ROLLOUTS_PER_CALL),
            target_health: Coalescer::new(window, 1),
            refreshed_groups: Coalescer::new(window, ROLLOUTS_PER_CALL),
            groups_by_name: Coalescer::new(window, ROLLOUTS_PER_CALL),
            records: super::records::PhaseRecords::new(window, super::records::GROUPS_PER_CALL),
        }
    }

    pub fn stats(&self) -> CoalesceStats {
        CoalesceStats {
            rollout_groups: self.rollout_groups.stats(),
            target_health: self.target_health.stats(),
        }
    }
}

impl super::AwsClients {
    /// What coalescing saved so far, across every clone (every resource of the apply).
    pub fn coalesce_stats(&self) -> CoalesceStats {
        self.shared().stats()
    }

    /// Phase records asked for and the `CreateOrUpdateTags` calls that carried them, across
    /// every clone.
    pub fn phase_record_stats(&self) -> KindStats {
        self.shared().records.stats()
    }
}

#[cfg(test)]
mod tests;
