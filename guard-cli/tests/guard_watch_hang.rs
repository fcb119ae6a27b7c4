//! A watch tick whose AWS read never returns must never delay signal forwarding (issue #11,
//! item 3): the guard's supervise loop against an S3 endpoint that accepts connections and never
//! answers, a child that exits 7 on SIGINT, and a SIGINT sent to this test process (the
//! guard's signal handlers catch it, as they catch a Ctrl-C in CI).
//!
//! One test in this binary: the SIGINT goes to the whole process.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{TcpListener, TcpStream};
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

use aws_config::{BehaviorVersion, Region};
use tokio::sync::watch;
use zdd_guard::aws::Clients;
use zdd_guard::commands::context::Remote;
use zdd_guard::commands::supervise::{Signals, supervise};
use zdd_guard::commands::watcher::Watcher;
use zdd_guard::core::backend::{Backend, from_tf_files};
use zdd_guard::exit::Outcome;
use zdd_guard::output::Reporter;
use zdd_test_support::send_signal;

/// An endpoint that accepts every connection, keeps it open and never answers; each accepted
/// connection is sent on the returned channel.
fn silent_endpoint() -> (String, Receiver<TcpStream>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (sender, accepted) = channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            if sender.send(stream).is_err() {
                break;
            }
        }
    });
    (url, accepted)
}

/// A remote whose every S3 read hangs: no retries, no timeouts of the SDK's own.
async fn hanging_remote(url: &str) -> Remote {
    let backend = from_tf_files(&[(
        "backend.tf".to_string(),
        format!(
            "terraform {{\n  backend \"s3\" {{\n    bucket = \"b\"\n    key = \"k\"\n    \
             region = \"us-east-1\"\n    use_path_style = true\n    \
             endpoints = {{ s3 = \"{url}\" }}\n  }}\n}}\n"
        ),
    )])
    .unwrap();
    let Backend::S3(backend) = backend else {
        panic!("not an S3 backend: {backend:?}")
    };
    let shared = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .load()
        .await;
    let clients = Clients {
        s3: aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&shared)
                .endpoint_url(url)
                .force_path_style(true)
                .build(),
        ),
        dynamodb: Some(aws_sdk_dynamodb::Client::new(&shared)),
    };
    Remote::with_clients(&clients, backend, "default").expect("the clients fit the backend")
}

/// A child that exits 7 on SIGINT, started once its trap is set.
async fn child_exiting_7_on_interrupt(dir: &std::path::Path) -> tokio::process::Child {
    let ready = dir.join("ready");
    let child = tokio::process::Command::new("sh")
        .args([
            "-c",
            &format!(
                "trap 'exit 7' INT; touch '{}'; while :; do sleep 0.05; done",
                ready.display()
            ),
        ])
        // A failed test must not leave it running.
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    while !ready.exists() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    child
}

/// Waits (in a blocking thread) for the endpoint's next connection: a watch read has started.
async fn next_connection(accepted: Receiver<TcpStream>) -> (TcpStream, Receiver<TcpStream>) {
    tokio::task::spawn_blocking(move || {
        let connection = accepted
            .recv_timeout(Duration::from_secs(30))
            .expect("no watch read reached the endpoint");
        (connection, accepted)
    })
    .await
    .unwrap()
}

/// Runs `watcher` over a child that exits 7 on SIGINT; once `reads` watch reads have reached
/// the endpoint (none answered), sends SIGINT to this process. Returns the child's exit code.
async fn interrupted_during_hung_reads(
    signals: &mut Signals,
    watcher: &mut Watcher,
    accepted: Receiver<TcpStream>,
    reads: usize,
) -> (Option<i32>, Receiver<TcpStream>) {
    let reporter = Reporter::new(false);
    let dir = tempfile::tempdir().unwrap();
    let child = child_exiting_7_on_interrupt(dir.path()).await;
    let (_lost_sender, mut lost) = watch::channel(None);
    let interrupt = async {
        let mut accepted = accepted;
        let mut open = Vec::new();
        for _ in 0..reads {
            let (connection, rest) = next_connection(accepted).await;
            open.push(connection);
            accepted = rest;
        }
        send_signal(std::process::id(), "INT").unwrap();
        (open, accepted)
    };
    let supervised = supervise(
        child,
        Some(watcher),
        Duration::from_millis(20),
        signals,
        &mut lost,
        &reporter,
    );
    // The bound only turns a hang into a failure; a forwarded signal ends this in milliseconds.
    let (code, (_open, accepted)) = tokio::time::timeout(Duration::from_secs(60), async {
        tokio::join!(supervised, interrupt)
    })
    .await
    .expect("the SIGINT was not forwarded while a watch read hung");
    (code.unwrap(), accepted)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hung_watch_read_never_delays_signal_forwarding_and_times_out() {
    let mut signals = Signals::install().unwrap();
    let (url, accepted) = silent_endpoint();

    // A read that would hang for an hour: the SIGINT is forwarded while it hangs.
    let mut watcher = Watcher::new(hanging_remote(&url).await, None);
    watcher.set_read_timeout(Duration::from_secs(3600));
    let (code, accepted) =
        interrupted_during_hung_reads(&mut signals, &mut watcher, accepted, 1).await;
    assert_eq!(code, Some(7), "terraform's stand-in got the SIGINT");

    // Each tick's reads time out: a second read starts after the first was given up (one read
    // per tick here: no lock table, no lockfile, no lease), and the loop still forwards.
    let mut watcher = Watcher::new(hanging_remote(&url).await, None);
    watcher.set_read_timeout(Duration::from_millis(200));
    let (code, _) = interrupted_during_hung_reads(&mut signals, &mut watcher, accepted, 2).await;
    assert_eq!(code, Some(7));

    // The first look (state baseline, versioning), read while terraform starts, is bounded too:
    // an unreadable baseline only warns.
    let mut watcher = Watcher::new(hanging_remote(&url).await, None);
    watcher.set_read_timeout(Duration::from_millis(200));
    let outcome = tokio::time::timeout(
        Duration::from_secs(60),
        watcher.first_look(&Reporter::new(false)),
    )
    .await
    .expect("the first look hung");
    assert_eq!(outcome, Outcome::Ok);
}
