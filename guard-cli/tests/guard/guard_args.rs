//! Every duration flag of `zdd-guard run` is checked before anything is taken (issue #11, item 5):
//! a bad value exits 6 with a message naming the flag, takes no lease, no lock, and starts no
//! terraform. `--watch-interval 0s` used to panic after the lease was taken and terraform had
//! started, leaving terraform unsupervised and the lease held.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::guard_support::{Bed, Locking, text};
use zdd_test_support::terraform_bin;

const QUICK: &str = r#"
resource "terraform_data" "a" {
  input = "one"
}
"#;

#[tokio::test(flavor = "multi_thread")]
async fn bad_durations_exit_6_before_a_lease_a_lock_or_terraform() {
    for (name, locking) in [
        ("bad-args-ddb", Locking::DynamoDb),
        ("bad-args-lockfile", Locking::Lockfile),
    ] {
        let bed = Bed::new(name, locking, QUICK).await;
        // A terraform that leaves a mark when it starts, so "never ran" is a fact.
        let marker = bed.tf.path().join("../terraform-started");
        let wrapper = bed.tf.path().join("../marking-terraform");
        std::fs::write(
            &wrapper,
            format!(
                "#!/bin/sh\ntouch '{}'\nexec '{}' \"$@\"\n",
                marker.display(),
                terraform_bin().unwrap().display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(
            &wrapper,
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        for (flags, named) in [
            (&["--watch-interval", "0s"][..], "--watch-interval"),
            (&["--lease-ttl", "0s"], "--lease-ttl"),
            (&["--lease-ttl", "10ms"], "--lease-ttl"),
            (&["--lease-ttl", "9600h"], "--lease-ttl"),
            (
                &["--lease-ttl", "5s", "--watch-interval", "10s"],
                "--watch-interval",
            ),
            (&["--wait", "9600h"], "--wait"),
        ] {
            let mut args = vec!["run"];
            args.extend_from_slice(flags);
            args.extend_from_slice(&["--", "apply", "-auto-approve", "-no-color"]);
            let output = bed
                .guard(&args)
                .env("TERRAFORM", &wrapper)
                .output()
                .unwrap();
            let all = text(&output);
            assert_eq!(output.status.code(), Some(6), "{flags:?}: {all}");
            assert!(
                all.contains(named),
                "{flags:?}: the message must name {named}: {all}"
            );
            assert!(!all.contains("panicked"), "{flags:?}: {all}");
            assert!(!marker.exists(), "{flags:?}: terraform was started: {all}");
            assert!(
                !bed.lease_exists().await,
                "{flags:?}: a lease was taken: {all}"
            );
            bed.assert_nothing_held().await;
            assert!(bed.state_bytes().await.is_none(), "{flags:?}: {all}");
        }
        // The same wrapper with good values does run terraform (the mark is real).
        let output = bed
            .guard(&["run", "--", "apply", "-auto-approve", "-no-color"])
            .env("TERRAFORM", &wrapper)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{}", text(&output));
        assert!(marker.exists());
    }
}
