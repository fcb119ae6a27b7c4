//! The go-plugin handshake and AutoMTLS, exercised the way Terraform does it:
//! start the binary with the magic cookie and a client certificate, read the
//! handshake line, dial with TLS presenting that certificate, call RPCs.

// Test helpers outside #[test] fns: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use rustix::process::{Pid, Signal, kill_process};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tonic::transport::{Channel, Endpoint};
use zdd_tfplugin::proto::tfplugin6 as pb;
use zdd_tfplugin::proto::tfplugin6::provider_client::ProviderClient;

const BINARY: &str = env!("CARGO_BIN_EXE_terraform-provider-zddtest");

/// A client identity shaped like go-plugin's (ECDSA P-521, self-signed CA);
/// see tests/fixtures/README.md.
struct ClientIdentity {
    pem: String,
    der: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
}

fn identity_from(cert_pem: &str, key_pem: &str) -> ClientIdentity {
    use rustls::pki_types::pem::PemObject;
    ClientIdentity {
        pem: cert_pem.to_string(),
        der: CertificateDer::from_pem_slice(cert_pem.as_bytes()).unwrap(),
        key: PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).unwrap(),
    }
}

fn client_identity() -> ClientIdentity {
    identity_from(
        include_str!("../fixtures/client_p521_cert.pem"),
        include_str!("../fixtures/client_p521_key.pem"),
    )
}

fn stranger_identity() -> ClientIdentity {
    identity_from(
        include_str!("../fixtures/stranger_p521_cert.pem"),
        include_str!("../fixtures/stranger_p521_key.pem"),
    )
}

struct Plugin {
    child: Child,
    address: String,
    server_certificate: CertificateDer<'static>,
}

impl Drop for Plugin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn pid_of(child_id: u32) -> Pid {
    Pid::from_raw(i32::try_from(child_id).unwrap()).unwrap()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_plugin(client: &ClientIdentity, port: u16) -> Plugin {
    let (mut plugin, certificate) = start_plugin_with(Some(client), port);
    let certificate = certificate.expect("AutoMTLS: a server certificate in the handshake line");
    assert!(
        !certificate.contains('='),
        "certificate must be base64 without padding"
    );
    let der = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(certificate)
        .unwrap();
    plugin.server_certificate = CertificateDer::from(der);
    plugin
}

/// Starts the plugin as Terraform does, with `PLUGIN_CLIENT_CERT` when `client` is given
/// (AutoMTLS) and without it otherwise (`TF_DISABLE_PLUGIN_TLS=1`: plain gRPC). Returns the
/// plugin and the handshake line's certificate field, if not empty.
fn start_plugin_with(client: Option<&ClientIdentity>, port: u16) -> (Plugin, Option<String>) {
    let mut command = Command::new(BINARY);
    command
        .env(
            zdd_tfplugin::MAGIC_COOKIE_KEY,
            zdd_tfplugin::MAGIC_COOKIE_VALUE,
        )
        .env("PLUGIN_PROTOCOL_VERSIONS", "5,6")
        .env("PLUGIN_MIN_PORT", port.to_string())
        .env("PLUGIN_MAX_PORT", port.to_string())
        .env_remove("PLUGIN_CLIENT_CERT")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if let Some(client) = client {
        command.env("PLUGIN_CLIENT_CERT", &client.pem);
    }
    let mut child = command.spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let fields: Vec<&str> = line.trim_end().split('|').collect();
    assert_eq!(fields.len(), 6, "handshake line: {line:?}");
    assert_eq!(&fields[..3], &["1", "6", "tcp"]);
    assert_eq!(fields[3], format!("127.0.0.1:{port}"));
    assert_eq!(fields[4], "grpc");
    let certificate = (!fields[5].is_empty()).then(|| fields[5].to_string());
    let plugin = Plugin {
        child,
        address: fields[3].to_string(),
        server_certificate: CertificateDer::from(Vec::new()),
    };
    (plugin, certificate)
}

async fn connect(
    plugin: &Plugin,
    identity: Option<&ClientIdentity>,
) -> Result<Channel, tonic::transport::Error> {
    crate::common::tls_client::dial_tls(
        plugin.address.clone(),
        plugin.server_certificate.clone(),
        identity.map(|identity| (identity.der.clone(), identity.key.clone_key())),
    )
    .await
}

#[tokio::test]
async fn serves_terraform_over_mutual_tls() {
    let client = client_identity();
    let plugin = start_plugin(&client, free_port());
    let channel = connect(&plugin, Some(&client)).await.unwrap();
    let mut provider = ProviderClient::new(channel.clone());

    let schema = provider
        .get_provider_schema(pb::get_provider_schema::Request {})
        .await
        .unwrap()
        .into_inner();
    assert!(schema.resource_schemas.contains_key("zddtest_thing"));
    assert!(schema.data_source_schemas.contains_key("zddtest_echo"));
    assert!(
        schema
            .server_capabilities
            .unwrap()
            .get_provider_schema_optional
    );
    let identities = provider
        .get_resource_identity_schemas(pb::get_resource_identity_schemas::Request {})
        .await
        .unwrap();
    assert!(identities.into_inner().identity_schemas.is_empty());

    // RPCs this provider does not serve answer Unimplemented, which Terraform tolerates.
    for path in [
        "/tfplugin6.Provider/ListResource",
        "/tfplugin6.Provider/ValidateEphemeralResourceConfig",
    ] {
        let mut grpc = tonic::client::Grpc::new(channel.clone());
        grpc.ready().await.unwrap();
        let codec = tonic_prost::ProstCodec::<(), ()>::default();
        let status = grpc
            .unary(tonic::Request::new(()), http_path(path), codec)
            .await
            .unwrap_err();
        assert_eq!(status.code(), tonic::Code::Unimplemented, "{path}");
    }

    assert_serving(channel.clone()).await;
}

/// The plugin's health service says it is serving, as go-plugin asks it.
async fn assert_serving(channel: Channel) {
    let mut health = zdd_tfplugin::proto::health::health_client::HealthClient::new(channel);
    let status = health
        .check(zdd_tfplugin::proto::health::HealthCheckRequest {
            service: "plugin".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .status;
    assert_eq!(
        status,
        zdd_tfplugin::proto::health::health_check_response::ServingStatus::Serving as i32
    );
}

fn http_path(path: &'static str) -> tonic::codegen::http::uri::PathAndQuery {
    tonic::codegen::http::uri::PathAndQuery::from_static(path)
}

#[tokio::test]
async fn refuses_clients_without_the_announced_certificate() {
    let client = client_identity();
    let plugin = start_plugin(&client, free_port());

    let without = async {
        let channel = connect(&plugin, None).await?;
        ProviderClient::new(channel)
            .get_provider_schema(pb::get_provider_schema::Request {})
            .await
            .map_err(|status| status.to_string())
            .map(|_| ())
            .map_err(|e| -> Box<dyn std::error::Error> { e.into() })
    };
    assert!(
        without.await.is_err(),
        "a client without a certificate must be refused"
    );

    let stranger = stranger_identity();
    let with_other = async {
        let channel = connect(&plugin, Some(&stranger)).await?;
        ProviderClient::new(channel)
            .get_provider_schema(pb::get_provider_schema::Request {})
            .await
            .map_err(|status| status.to_string())
            .map(|_| ())
            .map_err(|e| -> Box<dyn std::error::Error> { e.into() })
    };
    assert!(
        with_other.await.is_err(),
        "a client with another certificate must be refused"
    );

    // The plugin is still serving the right client.
    let channel = connect(&plugin, Some(&client)).await.unwrap();
    ProviderClient::new(channel)
        .get_provider_schema(pb::get_provider_schema::Request {})
        .await
        .unwrap();
}

#[tokio::test]
async fn survives_sigint_and_exits_on_controller_shutdown() {
    let client = client_identity();
    let mut plugin = start_plugin(&client, free_port());
    kill_process(pid_of(plugin.child.id()), Signal::INT).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        plugin.child.try_wait().unwrap().is_none(),
        "SIGINT must not stop the plugin"
    );

    let channel = connect(&plugin, Some(&client)).await.unwrap();
    let mut provider = ProviderClient::new(channel.clone());
    provider
        .get_provider_schema(pb::get_provider_schema::Request {})
        .await
        .unwrap();

    let mut controller =
        zdd_tfplugin::proto::plugin::grpc_controller_client::GrpcControllerClient::new(channel);
    controller
        .shutdown(zdd_tfplugin::proto::plugin::Empty {})
        .await
        .unwrap();
    assert_exits_cleanly(&mut plugin).await;
}

/// Waits for the plugin to exit and asserts it exited cleanly.
async fn assert_exits_cleanly(plugin: &mut Plugin) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(status) = plugin.child.try_wait().unwrap() {
            assert!(status.success(), "exit status {status}");
            return;
        }
        assert!(
            Instant::now() < deadline,
            "plugin did not exit after Shutdown"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `TF_DISABLE_PLUGIN_TLS=1` (Terraform's switch, go-plugin AutoMTLS off): Terraform sets no
/// `PLUGIN_CLIENT_CERT` and dials plain gRPC. The handshake line then carries no certificate
/// (go-plugin would try to load one), the plugin answers over plain HTTP/2 and refuses a TLS
/// client (it has no certificate to offer), and Shutdown still ends it.
#[tokio::test]
async fn serves_plain_grpc_when_terraform_sends_no_client_certificate() {
    let (mut plugin, certificate) = start_plugin_with(None, free_port());
    assert_eq!(certificate, None, "no certificate field without AutoMTLS");

    let tls_client = connect(&plugin, Some(&client_identity())).await;
    let tls_refused = match tls_client {
        Err(_) => true,
        Ok(channel) => ProviderClient::new(channel)
            .get_provider_schema(pb::get_provider_schema::Request {})
            .await
            .is_err(),
    };
    assert!(
        tls_refused,
        "a TLS client must not get an answer from a plain server"
    );

    let channel = Endpoint::from_shared(format!("http://{}", plugin.address))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let schema = ProviderClient::new(channel.clone())
        .get_provider_schema(pb::get_provider_schema::Request {})
        .await
        .unwrap()
        .into_inner();
    assert!(schema.resource_schemas.contains_key("zddtest_noop"));
    assert_serving(channel.clone()).await;
    zdd_tfplugin::proto::plugin::grpc_controller_client::GrpcControllerClient::new(channel)
        .shutdown(zdd_tfplugin::proto::plugin::Empty {})
        .await
        .unwrap();
    assert_exits_cleanly(&mut plugin).await;
}

#[test]
fn run_by_hand_explains_itself_and_exits_1() {
    let output = Command::new(BINARY)
        .env_remove(zdd_tfplugin::MAGIC_COOKIE_KEY)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("not meant to be run directly"), "{stderr}");
}

#[tokio::test]
async fn debug_mode_prints_a_reattach_line_and_serves_plaintext() {
    let mut child = Command::new(BINARY)
        .arg("--debug")
        .env_remove(zdd_tfplugin::MAGIC_COOKIE_KEY)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut reattach = None;
    for _ in 0..10 {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if let Some(json) = line.trim().strip_prefix("TF_REATTACH_PROVIDERS='") {
            reattach = Some(json.trim_end_matches('\'').to_string());
            break;
        }
    }
    let reattach: serde_json::Value =
        serde_json::from_str(&reattach.expect("a TF_REATTACH_PROVIDERS line")).unwrap();
    let entry = &reattach["registry.terraform.io/zdd/zddtest"];
    assert_eq!(entry["Protocol"], "grpc");
    assert_eq!(entry["ProtocolVersion"], 6);
    assert_eq!(entry["Pid"], child.id());
    let address = entry["Addr"]["String"].as_str().unwrap().to_string();
    assert!(address.starts_with("127.0.0.1:"));

    let channel = Endpoint::from_shared(format!("http://{address}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let schema = ProviderClient::new(channel)
        .get_provider_schema(pb::get_provider_schema::Request {})
        .await
        .unwrap();
    assert!(
        schema
            .into_inner()
            .resource_schemas
            .contains_key("zddtest_thing")
    );

    // In debug mode Ctrl-C stops the provider.
    kill_process(pid_of(child.id()), Signal::INT).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while child.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "debug-mode provider ignored Ctrl-C"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[test]
fn exits_when_terraform_disappears_without_shutdown() {
    let client = client_identity();
    // The shell starts the plugin in the background and exits: the plugin is orphaned.
    let output = Command::new("sh")
        .args([
            "-c",
            &format!("'{BINARY}' >/dev/null 2>&1 & echo $!; sleep 1"),
        ])
        .env(
            zdd_tfplugin::MAGIC_COOKIE_KEY,
            zdd_tfplugin::MAGIC_COOKIE_VALUE,
        )
        .env("PLUGIN_CLIENT_CERT", &client.pem)
        .output()
        .unwrap();
    let pid = String::from_utf8_lossy(&output.stdout).trim().to_string();
    let proc_dir = std::path::PathBuf::from(format!("/proc/{pid}"));
    let deadline = Instant::now() + Duration::from_secs(10);
    // A zombie (state Z) has exited; only its reaping is left to init.
    while proc_dir.exists()
        && !std::fs::read_to_string(proc_dir.join("stat")).is_ok_and(|stat| stat.contains(") Z "))
    {
        assert!(
            Instant::now() < deadline,
            "orphaned plugin {pid} kept running"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
