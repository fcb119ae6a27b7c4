//! A conditional lease write that succeeded, whose response was lost, and that the SDK then
//! retried: the retry fails its own condition (`ConditionalCheckFailedException`, HTTP 412), and
//! the lease store must still recognise the write as ours by reading the record back (issue
//! #11, item 2). A proxy in front of the local AWS drops the first response it relays.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use zdd_guard::aws::{DynamoLocks, LeaseStore, S3State, WriteConflict};
use zdd_guard::core::lease::{Lease, Owner};
use zdd_test_support::{create_lock_table, create_state_bucket, local_aws};

/// A TCP proxy to `upstream` (`host:port`) whose first connection relays the request, waits
/// for the upstream's answer and then closes the client's connection without relaying it: the
/// request took effect, the client never heard. Later connections are relayed both ways.
/// Returns the proxy's URL and the number of connections it accepted.
fn proxy_losing_the_first_response(upstream: String) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let first = counted.fetch_add(1, Ordering::SeqCst) == 0;
            let server = TcpStream::connect(&upstream).unwrap();
            relay(client.try_clone().unwrap(), server.try_clone().unwrap());
            if first {
                std::thread::spawn(move || {
                    let mut server = server;
                    let mut byte = [0u8; 1];
                    // The upstream answered: the write is done. The client hears nothing.
                    let _ = server.read(&mut byte);
                    let _ = client.shutdown(Shutdown::Both);
                    let _ = server.shutdown(Shutdown::Both);
                });
            } else {
                relay(server, client);
            }
        }
    });
    (url, connections)
}

/// Copies `from` to `to` in a thread until `from` ends.
fn relay(mut from: TcpStream, mut to: TcpStream) {
    std::thread::spawn(move || {
        let mut buffer = [0u8; 16 * 1024];
        loop {
            match from.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if to.write_all(&buffer[..n]).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    });
}

fn lease(id: &str) -> Lease {
    let owner = Owner {
        ci_job: None,
        user: "alice".into(),
        host: "ci-7".into(),
        pid: 42,
        command: "terraform apply".into(),
    };
    Lease::new(
        id.into(),
        owner,
        SystemTime::now(),
        Duration::from_secs(120),
    )
}

/// The first write's response is lost and the SDK retries it; the write is still ours. A
/// different lease written the same way conflicts.
async fn retried_create_is_recognised(store: LeaseStore, connections: Arc<AtomicUsize>) {
    let ours = lease("ours");
    let token = store
        .write(&ours, None)
        .await
        .unwrap()
        .expect("a retried create of our own lease is ours");
    assert!(
        connections.load(Ordering::SeqCst) >= 2,
        "the SDK did not retry: the test did not reach the retried write"
    );
    let stored = store.read().await.unwrap().unwrap();
    assert_eq!(stored.token, token);
    assert!(ours.is_same_write(&stored.lease));
    // A renewal presents the token the retried create returned.
    let renewed = ours.renewed(SystemTime::now() + Duration::from_secs(1));
    store.write(&renewed, Some(&token)).await.unwrap().unwrap();
    // Someone else's lease is still refused.
    assert_eq!(
        store.write(&lease("theirs"), None).await.unwrap(),
        Err(WriteConflict)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn retried_conditional_lease_writes_are_recognised_as_ours() {
    let aws = local_aws();
    let cfg = aws.sdk_config().await;
    let upstream = aws
        .endpoint()
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    create_state_bucket(&cfg, "guard-retry", true)
        .await
        .unwrap();
    create_lock_table(&cfg, "locks-retry").await.unwrap();

    let (url, connections) = proxy_losing_the_first_response(upstream.clone());
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&cfg)
            .endpoint_url(&url)
            .force_path_style(true)
            .build(),
    );
    let store = LeaseStore::S3 {
        state: S3State::new(s3, "guard-retry"),
        key: "env/app.tfstate.zdd-lease".into(),
    };
    retried_create_is_recognised(store, connections).await;

    let (url, connections) = proxy_losing_the_first_response(upstream);
    let dynamodb = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&cfg)
            .endpoint_url(&url)
            .build(),
    );
    let store = LeaseStore::Dynamo {
        locks: DynamoLocks::new(dynamodb, "locks-retry"),
        id: "guard-retry/env/app.tfstate.zdd-lease".into(),
    };
    retried_create_is_recognised(store, connections).await;
}
