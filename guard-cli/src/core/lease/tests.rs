use std::collections::HashMap;

use super::*;

fn at(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + secs)
}

fn owner() -> Owner {
    Owner {
        ci_job: None,
        user: "alice".into(),
        host: "ci-7".into(),
        pid: 42,
        command: "apply".into(),
    }
}

#[test]
fn free_state_is_created() {
    assert_eq!(decide(None, at(0)), AcquireDecision::Create);
}

#[test]
fn live_lease_is_held_and_expired_one_taken_over_after_the_skew_allowance() {
    let lease = Lease::new("a".into(), owner(), at(0), Duration::from_secs(120));
    assert!(matches!(
        decide(Some(&lease), at(119)),
        AcquireDecision::Held { .. }
    ));
    // Expired by the reader's clock, but that clock may run up to 30 s ahead of the holder's.
    assert!(lease.is_expired(at(120)));
    assert!(matches!(
        decide(Some(&lease), at(149)),
        AcquireDecision::Held { .. }
    ));
    assert!(matches!(
        decide(Some(&lease), at(150)),
        AcquireDecision::TakeOver { .. }
    ));
}

#[test]
fn short_allowances_are_shown_in_milliseconds() {
    let lease = Lease::new("a".into(), owner(), at(0), Duration::from_secs(3));
    assert_eq!(human_ms(lease.skew_allowance()), "750ms");
    assert_eq!(human_ms(CLOCK_SKEW_ALLOWANCE), "30s");
}

#[test]
fn skew_allowance_is_30s_or_a_quarter_of_a_short_ttl() {
    let long = Lease::new("a".into(), owner(), at(0), Duration::from_secs(600));
    assert_eq!(long.skew_allowance(), CLOCK_SKEW_ALLOWANCE);
    let short = Lease::new("a".into(), owner(), at(0), Duration::from_secs(8));
    assert_eq!(short.skew_allowance(), Duration::from_secs(2));
    assert_eq!(short.takeover_at(), at(10));
    assert_eq!(short.lost_at(), at(6));
}

#[test]
fn holder_renews_every_third_of_the_ttl_and_retries_soon_after_an_error() {
    let lease = Lease::new("a".into(), owner(), at(0), Duration::from_secs(120));
    assert_eq!(
        next_beat(&lease, at(1), false),
        Beat::RenewAt {
            at: at(40),
            lost_at: at(90)
        }
    );
    assert_eq!(
        next_beat(&lease, at(41), true),
        Beat::RenewAt {
            at: at(46),
            lost_at: at(90)
        },
        "a failed renewal is retried after a twelfth of the TTL, at most 5 s"
    );
    assert_eq!(
        next_beat(&lease, at(88), true),
        Beat::RenewAt {
            at: at(90),
            lost_at: at(90)
        },
        "never later than the deadline"
    );
    assert_eq!(next_beat(&lease, at(90), true), Beat::Lost);
    assert_eq!(next_beat(&lease, at(90), false), Beat::Lost);
    let renewed = lease.renewed(at(40));
    assert_eq!(
        next_beat(&renewed, at(41), false),
        Beat::RenewAt {
            at: at(80),
            lost_at: at(130)
        }
    );
}

proptest::proptest! {
    /// Whatever the TTL, and however far the clocks disagree within the allowance: the
    /// holder renews before its deadline, and no reader may take the lease over before the
    /// holder has given it up (both instants on the holder's clock).
    #[test]
    fn no_takeover_before_the_holder_gives_up(
        ttl_ms in 300u64..3_600_000,
        skew_permille in -1000i64..=1000,
    ) {
        let lease = Lease::new("a".into(), owner(), at(0), Duration::from_millis(ttl_ms));
        let allowance = lease.skew_allowance().as_millis() as i64;
        let skew_ms = allowance * skew_permille / 1000;
        // The reader's clock reads `skew_ms` more than the holder's.
        let takeover_on_holder_clock = if skew_ms >= 0 {
            lease.takeover_at() - Duration::from_millis(skew_ms as u64)
        } else {
            lease.takeover_at() + Duration::from_millis((-skew_ms) as u64)
        };
        proptest::prop_assert!(lease.lost_at() <= takeover_on_holder_clock);
        proptest::prop_assert!(lease.renew_at() < lease.lost_at());
    }
}

#[test]
fn a_retried_write_is_recognised_by_its_record() {
    let lease = Lease::new("a".into(), owner(), at(0), Duration::from_secs(120))
        .renewed(SystemTime::UNIX_EPOCH + Duration::from_nanos(1_800_000_040_123_456_789));
    let stored = Lease::from_json("x", &lease.to_json()).unwrap();
    assert!(
        lease.is_same_write(&stored),
        "sub-millisecond precision is not stored"
    );
    assert!(
        !lease.renewed(at(41)).is_same_write(&stored),
        "a later heartbeat"
    );
    let other = Lease {
        lease_id: "b".into(),
        ..lease.clone()
    };
    assert!(!other.is_same_write(&stored), "another run's lease");
}

fn lock(id: &str, who: &str, created: &str) -> LockInfo {
    LockInfo {
        id: id.into(),
        operation: "OperationTypeApply".into(),
        info: String::new(),
        who: who.into(),
        version: "1.15.5".into(),
        created: created.into(),
        path: "b/k".into(),
    }
}

fn name(store: LockStore) -> String {
    format!("{store:?}")
}

#[test]
fn break_removes_only_locks_the_expired_lease_recorded() {
    let ours = lock("l1", "runner@ci-7", "2027-01-15T08:00:01.5Z");
    let lease = Lease::new("a".into(), owner(), at(0), Duration::from_secs(120))
        .with_lock(RecordedLock::new(LockStore::Dynamodb, &ours));
    assert_eq!(
        judge_break(&lease, &[(LockStore::Dynamodb, &ours)], at(150)),
        Ok(())
    );
    assert_eq!(judge_break(&lease, &[], at(150)), Ok(()), "no lock left");

    // A plain `terraform apply` holds the lock now: never broken, named with its age.
    let plain = lock("p9", "bob@laptop", "2027-01-15T08:02:00Z");
    let refusal = judge_break(&lease, &[(LockStore::Dynamodb, &plain)], at(150)).unwrap_err();
    assert!(matches!(refusal, BreakRefusal::NotRecorded { .. }));
    let text = refusal.describe(at(150), name);
    assert!(
        text.contains("held by bob@laptop (OperationTypeApply), taken 30s ago (lock p9)"),
        "{text}"
    );
    assert!(
        text.contains("Dynamodb") && text.contains("alice@ci-7"),
        "{text}"
    );

    // The same ID with another holder or time, or in the other store, is not ours either.
    for (store, info) in [
        (
            LockStore::Dynamodb,
            lock("l1", "bob@laptop", "2027-01-15T08:00:01.5Z"),
        ),
        (
            LockStore::Dynamodb,
            lock("l1", "runner@ci-7", "2027-01-15T08:09:00Z"),
        ),
        (LockStore::Lockfile, ours.clone()),
    ] {
        assert!(
            judge_break(&lease, &[(store, &info)], at(150)).is_err(),
            "{store:?} {info:?}"
        );
    }
    // One foreign lock refuses the whole break, even beside our own.
    assert!(
        judge_break(
            &lease,
            &[(LockStore::Dynamodb, &ours), (LockStore::Lockfile, &plain)],
            at(150)
        )
        .is_err()
    );
    // A lease that never recorded a lock breaks none.
    let bare = Lease::new("a".into(), owner(), at(0), Duration::from_secs(120));
    assert!(judge_break(&bare, &[(LockStore::Dynamodb, &ours)], at(150)).is_err());
}

#[test]
fn a_takeover_removes_only_locks_the_expired_lease_recorded_and_only_once_expired() {
    let ours = lock("l1", "runner@ci-7", "2027-01-15T08:00:01Z");
    let lease = Lease {
        terraform_dies_with_guard: true,
        ..Lease::new("a".into(), owner(), at(0), Duration::from_secs(120))
    }
    .with_lock(RecordedLock::new(LockStore::Dynamodb, &ours));
    let judge =
        |lease: &Lease, store, info: &LockInfo, now| judge_left_lock(lease, store, info, now);
    assert_eq!(
        judge(&lease, LockStore::Dynamodb, &ours, at(150)),
        LeftLock::Remove
    );
    assert_eq!(
        judge(&lease, LockStore::Dynamodb, &ours, at(149)),
        LeftLock::TerraformMayLive,
        "within the clock-skew allowance the holder may still be alive"
    );
    assert_eq!(
        judge(&lease, LockStore::Lockfile, &ours, at(150)),
        LeftLock::NotRecorded
    );
    let plain = lock("p9", "bob@laptop", "2027-01-15T08:02:00Z");
    assert_eq!(
        judge(&lease, LockStore::Dynamodb, &plain, at(150)),
        LeftLock::NotRecorded
    );
    // A guard whose terraform may outlive it (another OS, an older version) says nothing.
    let older = Lease {
        terraform_dies_with_guard: false,
        ..lease.clone()
    };
    assert_eq!(
        judge(&older, LockStore::Dynamodb, &ours, at(150)),
        LeftLock::TerraformMayLive
    );
    let read_back = Lease::from_json("x", &lease.renewed(at(40)).to_json()).unwrap();
    assert!(
        read_back.terraform_dies_with_guard,
        "kept by renewals and JSON"
    );
    let without = Lease::from_json("x", &older.to_json()).unwrap();
    assert!(!older.to_json().contains("terraform_dies_with_guard"));
    assert!(!without.terraform_dies_with_guard);
}

#[test]
fn break_waits_for_expiry_plus_the_skew_allowance() {
    let ours = lock("l1", "runner@ci-7", "2027-01-15T08:00:01Z");
    let lease = Lease::new("a".into(), owner(), at(0), Duration::from_secs(120))
        .with_lock(RecordedLock::new(LockStore::Lockfile, &ours));
    let live = judge_break(&lease, &[(LockStore::Lockfile, &ours)], at(100)).unwrap_err();
    assert!(live.describe(at(100), name).contains("is live"));
    let within = judge_break(&lease, &[(LockStore::Lockfile, &ours)], at(140)).unwrap_err();
    let text = within.describe(at(140), name);
    assert!(
        text.contains("is live") && text.contains("clock-skew"),
        "{text}"
    );
    assert_eq!(
        judge_break(&lease, &[(LockStore::Lockfile, &ours)], at(150)),
        Ok(())
    );
}

#[test]
fn with_lock_keeps_the_newest_lock_per_store_and_survives_renewal_and_json() {
    let first = lock("l1", "runner@ci-7", "2027-01-15T08:00:01Z");
    let second = lock("l2", "runner@ci-7", "2027-01-15T08:00:09Z");
    let lease = Lease::new("a".into(), owner(), at(0), Duration::from_secs(120))
        .with_lock(RecordedLock::new(LockStore::Dynamodb, &first))
        .with_lock(RecordedLock::new(LockStore::Lockfile, &first))
        .with_lock(RecordedLock::new(LockStore::Dynamodb, &second))
        .renewed(at(40));
    assert!(lease.recorded(LockStore::Dynamodb, &second));
    assert!(!lease.recorded(LockStore::Dynamodb, &first));
    assert!(lease.recorded(LockStore::Lockfile, &first));
    assert_eq!(Lease::from_json("x", &lease.to_json()).unwrap(), lease);
    // Older records (no `terraform_locks`) still read; a lease without locks omits it.
    let bare = Lease::new("a".into(), owner(), at(0), Duration::from_secs(120));
    assert!(!bare.to_json().contains("terraform_locks"));
}

#[test]
fn release_owns_the_lease_by_id_or_by_user_host_and_ci_job() {
    let me = |job: Option<&str>, user: &str, host: &str| Owner {
        ci_job: job.map(str::to_string),
        user: user.into(),
        host: host.into(),
        pid: 1,
        command: String::new(),
    };
    let lease = Lease::new(
        "lease-1".into(),
        me(Some("job 101"), "deployer", "ci-7"),
        at(0),
        Duration::from_secs(120),
    );
    // A later step of the same CI job (another pid).
    assert!(owns(&lease, &me(Some("job 101"), "deployer", "ci-7"), None));
    // Another job, even of the same run (the same run id), on another runner.
    assert!(!owns(
        &lease,
        &me(Some("job 101"), "deployer", "ci-8"),
        None
    ));
    assert!(!owns(
        &lease,
        &me(Some("job 202"), "deployer", "ci-7"),
        None
    ));
    assert!(
        !owns(&lease, &me(None, "deployer", "ci-7"), None),
        "outside CI"
    );
    // `--lease-id` decides when given, from anywhere.
    assert!(owns(
        &lease,
        &me(Some("job 202"), "x", "y"),
        Some("lease-1")
    ));
    assert!(!owns(
        &lease,
        &me(Some("job 101"), "deployer", "ci-7"),
        Some("lease-2")
    ));

    let local = Lease::new(
        "l".into(),
        me(None, "alice", "laptop"),
        at(0),
        Duration::from_secs(9),
    );
    assert!(owns(&local, &me(None, "alice", "laptop"), None));
    assert!(!owns(&local, &me(None, "bob", "laptop"), None));
    assert!(!owns(&local, &me(Some("job 1"), "alice", "laptop"), None));
}

#[test]
fn only_a_lock_taken_after_our_terraform_started_on_this_host_is_ours() {
    let started = humantime::parse_rfc3339("2027-01-15T08:00:00.5Z").unwrap();
    let ours = lock("l", "root@vm", "2027-01-15T08:00:00.734512345Z");
    assert!(taken_by_our_terraform(&ours, started, "vm"));
    let earlier = lock("l", "root@vm", "2027-01-15T08:00:00.4Z");
    assert!(
        !taken_by_our_terraform(&earlier, started, "vm"),
        "was there before"
    );
    assert!(!taken_by_our_terraform(&ours, started, "other-host"));
    let odd = lock("l", "root@vm", "");
    assert!(!taken_by_our_terraform(&odd, started, "vm"));
}

#[test]
fn heartbeat_extends_the_expiry_but_keeps_created() {
    let lease = Lease::new("a".into(), owner(), at(0), Duration::from_secs(120));
    let renewed = lease.renewed(at(100));
    assert_eq!(renewed.created, at(0));
    assert_eq!(renewed.expires_at, at(220));
    assert!(matches!(
        decide(Some(&renewed), at(200)),
        AcquireDecision::Held { .. }
    ));
}

#[test]
fn round_trips_through_json_and_rejects_garbage() {
    let lease = Lease::new("a".into(), owner(), at(0), Duration::from_millis(1500));
    assert_eq!(Lease::from_json("x", &lease.to_json()).unwrap(), lease);
    let error = Lease::from_json("s3://b/k", "{\"lease_id\":1}")
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("s3://b/k") && error.contains("malformed"),
        "{error}"
    );
}

#[test]
fn describe_says_who_and_since_when() {
    let lease = Lease::new("a".into(), owner(), at(0), Duration::from_secs(120));
    let text = lease.describe(at(3));
    assert!(
        text.starts_with("held by alice@ci-7 pid 42 since 2027-01-15T08:00:00Z"),
        "{text}"
    );
    assert!(
        text.contains("heartbeat 3s ago") && text.contains("expires in 1m57s"),
        "{text}"
    );
    assert!(lease.describe(at(130)).contains("expired 10s ago"));
}

#[test]
fn owner_from_github_actions_env() {
    let env: HashMap<&str, &str> = HashMap::from([
        ("GITHUB_SERVER_URL", "https://github.com"),
        ("GITHUB_REPOSITORY", "acme/app"),
        ("GITHUB_RUN_ID", "99"),
        ("GITHUB_ACTOR", "bob"),
        ("USER", "runner"),
    ]);
    let owner = Owner::from_env(
        |k| env.get(k).map(|v| v.to_string()),
        "h".into(),
        1,
        "c".into(),
    );
    assert_eq!(
        owner.ci_job.as_deref(),
        Some("https://github.com/acme/app/actions/runs/99/attempts/1")
    );
    assert_eq!(owner.user, "bob");
}

#[test]
fn owner_from_gitlab_and_plain_env() {
    let gitlab: HashMap<&str, &str> =
        HashMap::from([("CI_JOB_URL", "https://gitlab/j/5"), ("USER", "u")]);
    let owner = Owner::from_env(
        |k| gitlab.get(k).map(|v| v.to_string()),
        "h".into(),
        1,
        "c".into(),
    );
    assert_eq!(owner.ci_job.as_deref(), Some("https://gitlab/j/5"));
    let owner = Owner::from_env(|_| None, "h".into(), 1, "c".into());
    assert_eq!((owner.ci_job, owner.user.as_str()), (None, "unknown"));
}
