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
//! attach).
//!
//! The key type is what one caller asks for (a rollout name, a target group ARN); `fetch`
//! answers a batch of keys in one or more calls (pages), and a key it leaves out of its
//! answer gets `V::default()` (no groups for that rollout).

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use super::budget::Priority;

/// Reads of one kind, gathered into shared calls.
#[derive(Debug)]
pub struct Coalescer<K, V> {
    /// How long a call waits for others to join before it is sent (its budget wait counts
    /// too: a call held by the rate budget gathers the whole time).
    window: Duration,
    /// The most keys one call may carry.
    max_keys: usize,
    _answers: std::marker::PhantomData<fn(K) -> V>,
}

impl<K, V> Coalescer<K, V>
where
    K: Ord + Clone + Send,
    V: Default + Clone + Send,
{
    pub fn new(window: Duration, max_keys: usize) -> Coalescer<K, V> {
        Coalescer {
            window,
            max_keys: max_keys.max(1),
            _answers: std::marker::PhantomData,
        }
    }

    pub fn window(&self) -> Duration {
        self.window
    }

    pub fn max_keys(&self) -> usize {
        self.max_keys
    }

    /// The answer for `key`, from a call that carries it and whatever else was asked while
    /// the call gathered. `fetch` is called with the batch's keys by whichever caller sends
    /// the call; `priority` is this caller's (a batch goes with its most urgent member's).
    pub async fn get<F, Fut, E>(&self, key: K, priority: Priority, fetch: F) -> Result<V, E>
    where
        F: FnOnce(Vec<K>, Priority) -> Fut,
        Fut: Future<Output = Result<BTreeMap<K, V>, E>>,
        E: Clone,
    {
        // Not yet gathering: every caller sends its own call.
        let mut answers = fetch(vec![key.clone()], priority).await?;
        Ok(answers.remove(&key).unwrap_or_default())
    }
}

/// DescribeAutoScalingGroups takes up to 100 records per page; a batch of 50 rollouts (two
/// groups each while they roll) fills about one page.
pub const ROLLOUTS_PER_CALL: usize = 50;
/// How long a read waits for others to join it by default.
pub const DEFAULT_WINDOW: Duration = Duration::from_millis(20);

/// The coalesced reads every clone of [`super::AwsClients`] shares.
#[derive(Debug)]
pub struct SharedReads {
    /// Each rollout's groups (`zdd:rollout = <name>`), by rollout name.
    pub rollout_groups: Coalescer<String, Vec<super::types::AsgInfo>>,
    /// Each target group's targets, by ARN (the API takes one target group).
    pub target_health: Coalescer<String, Vec<super::types::TargetHealth>>,
}

impl SharedReads {
    pub fn new(window: Duration) -> SharedReads {
        SharedReads {
            rollout_groups: Coalescer::new(window, ROLLOUTS_PER_CALL),
            target_health: Coalescer::new(window, 1),
        }
    }
}
