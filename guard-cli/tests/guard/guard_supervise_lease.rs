//! A lease lost while terraform runs stops terraform the way a Ctrl-C does (issue #11, item 2):
//! the supervise loop forwards SIGINT to it and counts a stop request, without any AWS.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use tokio::sync::watch;
use zdd_guard::commands::supervise::{Signals, supervise};
use zdd_guard::output::Reporter;

#[tokio::test(flavor = "multi_thread")]
async fn a_lost_lease_forwards_sigint_to_terraform() {
    let mut signals = Signals::install().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ready = dir.path().join("ready");
    let child = tokio::process::Command::new("sh")
        .args([
            "-c",
            &format!(
                "trap 'exit 7' INT; touch '{}'; while :; do sleep 0.05; done",
                ready.display()
            ),
        ])
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    while !ready.exists() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let reporter = Reporter::new(false);
    let (lost_sender, mut lost) = watch::channel(None);
    let supervised = supervise(
        child,
        None,
        Duration::from_millis(20),
        &mut signals,
        &mut lost,
        &reporter,
    );
    let lose = async {
        lost_sender
            .send(Some("the lease is gone (test)".to_string()))
            .unwrap();
    };
    // The bound only turns a hang into a failure.
    let (code, ()) = tokio::time::timeout(Duration::from_secs(60), async {
        tokio::join!(supervised, lose)
    })
    .await
    .expect("terraform was not stopped when the lease was lost");
    assert_eq!(code.unwrap(), Some(7), "terraform's stand-in got SIGINT");
    assert_eq!(
        signals.received, 1,
        "counted as a stop request, as a Ctrl-C is"
    );
}
