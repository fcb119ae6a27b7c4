//! Serving a provider the way go-plugin does: magic cookie check, port
//! range, AutoMTLS, the handshake line on stdout, then gRPC until
//! Terraform's controller asks us to shut down.

mod convert;
mod go_plugin;
mod listener;
mod tfplugin;
pub(crate) mod tls;

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use tokio_util::sync::CancellationToken;

use crate::proto::health::health_server::HealthServer;
use crate::proto::plugin::grpc_broker_server::GrpcBrokerServer;
use crate::proto::plugin::grpc_controller_server::GrpcControllerServer;
use crate::proto::plugin::grpc_stdio_server::GrpcStdioServer;
use crate::proto::tfplugin6::provider_server::ProviderServer;
use crate::provider::{Provider, Registry, TypedProvider};

/// The environment variable Terraform sets to prove the binary runs as its plugin.
pub const MAGIC_COOKIE_KEY: &str = "TF_PLUGIN_MAGIC_COOKIE";
/// Its value.
pub const MAGIC_COOKIE_VALUE: &str =
    "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";
/// The go-plugin core protocol version.
const CORE_PROTOCOL_VERSION: u32 = 1;
/// The plugin protocol version served.
const PLUGIN_PROTOCOL_VERSION: u32 = 6;

/// Why serving failed.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The binary was started by hand, not by Terraform.
    #[error(
        "this binary is a Terraform plugin and is not meant to be run directly: Terraform starts it. \
         (To debug it under Terraform, run it with --debug and export the TF_REATTACH_PROVIDERS line it prints.)"
    )]
    NotStartedByTerraform,
    /// Terraform does not speak protocol 6.
    #[error(
        "Terraform offers plugin protocol versions {0:?}; this provider needs version 6 (Terraform 1.0 or later)"
    )]
    UnsupportedProtocol(String),
    /// No port could be bound.
    #[error("could not listen on 127.0.0.1: {0}")]
    Bind(std::io::Error),
    /// TLS setup failed.
    #[error("TLS setup failed: {0}")]
    Tls(String),
    /// The gRPC server failed.
    #[error("gRPC server failed: {0}")]
    Transport(#[from] tonic::transport::Error),
    /// Writing the handshake failed.
    #[error("could not write the handshake: {0}")]
    Handshake(std::io::Error),
    /// The async runtime could not start.
    #[error("could not start the async runtime: {0}")]
    Runtime(std::io::Error),
}

/// How to serve.
#[derive(Debug, Clone, Default)]
pub struct ServeOptions {
    /// Debug mode: no magic cookie, no TLS; print `TF_REATTACH_PROVIDERS=...`
    /// for Terraform to attach to this already-running process. Ctrl-C stops it.
    pub debug: bool,
    /// The provider's source address for debug mode, e.g. `registry.terraform.io/zdd/zdd`.
    pub provider_address: String,
}

impl ServeOptions {
    /// Options from the command line: `--debug` enables debug mode.
    pub fn from_args(provider_address: &str) -> Self {
        ServeOptions {
            debug: std::env::args().skip(1).any(|arg| arg == "--debug"),
            provider_address: provider_address.to_string(),
        }
    }
}

/// The stack of each runtime worker thread, where every RPC's handler runs.
const WORKER_STACK_BYTES: usize = 8 * 1024 * 1024;

/// The async runtime a provider binary serves on ([`serve_on`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RuntimeFlavor {
    /// Worker threads on every core: resource operations that compute run in parallel.
    /// What [`serve`] uses.
    #[default]
    MultiThread,
    /// Every RPC on the main thread, for a provider whose operations are short or mostly
    /// wait. Terraform is the plugin's one client and sends at most 10 RPCs at a time; on one
    /// thread no RPC wakes another thread, which halves the plugin's CPU per RPC (#18: 10.8 us
    /// instead of 20.5 for a small one; 23-34 ms instead of 33-40 for a 200-instance plan).
    /// Blocking work must use `spawn_blocking` (`block_in_place` panics on this flavour).
    CurrentThread,
}

/// Runs a provider binary: sets up logging (hclog JSON on stderr), the
/// runtime, and serves until Terraform shuts the plugin down. Use it as the
/// whole of `main`. `provider_address` (e.g. `registry.terraform.io/zdd/zdd`)
/// is only used by `--debug`. Serves on the multi-thread runtime; [`serve_on`] chooses.
pub fn serve<P: Provider>(provider_address: &str, provider: P) -> ExitCode {
    serve_on(RuntimeFlavor::MultiThread, provider_address, provider)
}

/// [`serve`] on the given runtime flavour.
pub fn serve_on<P: Provider>(
    flavor: RuntimeFlavor,
    provider_address: &str,
    provider: P,
) -> ExitCode {
    crate::logging::init();
    let options = ServeOptions::from_args(provider_address);
    let mut builder = match flavor {
        RuntimeFlavor::MultiThread => tokio::runtime::Builder::new_multi_thread(),
        RuntimeFlavor::CurrentThread => tokio::runtime::Builder::new_current_thread(),
    };
    let runtime = match builder
        .enable_all()
        // A stack overflow aborts the plugin mid-apply, which no panic hook can turn into a
        // diagnostic: the workers get the main thread's 8 MiB, not tokio's 2 MiB. Untouched
        // stack costs no memory; deep async state machines (a debug build's are several times
        // a release build's) get room. (The current-thread flavour runs on the main thread.)
        .thread_stack_size(WORKER_STACK_BYTES)
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => return fail(&ServeError::Runtime(error)),
    };
    let result = runtime.block_on(serve_with(provider, options));
    // Do not wait for operations still running after Shutdown.
    runtime.shutdown_timeout(Duration::from_millis(100));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(&error),
    }
}

fn fail(error: &ServeError) -> ExitCode {
    // Run by hand, the plain message below is all a person needs.
    if !matches!(error, ServeError::NotStartedByTerraform) {
        tracing::error!(%error, "provider failed to serve");
    }
    let _ = writeln!(std::io::stderr(), "Error: {error}");
    ExitCode::FAILURE
}

/// Keeps the plugin alive on Ctrl-C: Terraform sends SIGINT to the whole
/// process group and then asks the provider to stop through StopProvider,
/// so operations can end cleanly and their state is saved.
fn ignore_interrupts() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()) {
        Ok(mut interrupts) => {
            tokio::spawn(async move {
                while interrupts.recv().await.is_some() {
                    tracing::debug!("ignoring SIGINT: Terraform will call StopProvider");
                }
            });
        }
        Err(error) => tracing::warn!(%error, "could not install the SIGINT handler"),
    }
}

/// Stops serving when Terraform is gone without calling Shutdown (killed,
/// crashed): the plugin is re-parented then, and nobody will ever talk to it.
fn exit_when_orphaned(shutdown: CancellationToken) {
    let parent = std::os::unix::process::parent_id();
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                _ = ticks.tick() => {}
            }
            if std::os::unix::process::parent_id() != parent {
                tracing::warn!("Terraform exited without shutting the plugin down; exiting");
                shutdown.cancel();
                break;
            }
        }
    });
}

fn port_range() -> (u16, u16) {
    let read = |key: &str| {
        std::env::var(key)
            .ok()
            .and_then(|v| v.parse::<u16>().ok())
            .unwrap_or(0)
    };
    let (min, max) = (read("PLUGIN_MIN_PORT"), read("PLUGIN_MAX_PORT"));
    if min == 0 || max == 0 || min > max {
        (0, 0)
    } else {
        (min, max)
    }
}

/// Serves `provider` until Terraform's controller calls Shutdown (or, in
/// debug mode, until Ctrl-C). Must run inside a tokio runtime.
pub async fn serve_with<P: Provider>(provider: P, options: ServeOptions) -> Result<(), ServeError> {
    if !options.debug && std::env::var(MAGIC_COOKIE_KEY).as_deref() != Ok(MAGIC_COOKIE_VALUE) {
        return Err(ServeError::NotStartedByTerraform);
    }
    if !options.debug
        && let Ok(versions) = std::env::var("PLUGIN_PROTOCOL_VERSIONS")
        && !versions.split(',').any(|v| v.trim() == "6")
    {
        return Err(ServeError::UnsupportedProtocol(versions));
    }
    let shutdown = CancellationToken::new();
    if options.debug {
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                shutdown.cancel();
            }
        });
    } else {
        ignore_interrupts();
        exit_when_orphaned(shutdown.clone());
    }

    let (min_port, max_port) = port_range();
    let listener = listener::bind(min_port, max_port).await?;
    let address = listener.local_addr().map_err(ServeError::Bind)?;

    let client_certificate = if options.debug {
        None
    } else {
        std::env::var("PLUGIN_CLIENT_CERT").ok()
    };
    let (tls_config, server_certificate) = match client_certificate {
        Some(pem) => {
            let identity = tls::generate_identity()?;
            let client = tls::parse_pem_certificate(&pem)?;
            let config = tls::server_config(&identity, client)?;
            (Some(Arc::new(config)), Some(identity.certificate))
        }
        None => {
            if !options.debug {
                tracing::warn!("PLUGIN_CLIENT_CERT is not set: serving without TLS on 127.0.0.1");
            }
            (None, None)
        }
    };

    let provider_schema = provider.schema();
    let mut registry = Registry::default();
    provider.register(&mut registry);
    let stop = CancellationToken::new();
    let typed = Arc::new(TypedProvider {
        inner: provider,
        schema: provider_schema,
    });
    let provider_service = tfplugin::ProviderService::new(typed, registry, stop);

    announce(
        &options,
        address,
        server_certificate.as_ref().map(|c| c.as_ref()),
    )?;

    let incoming = listener::incoming(listener, tls_config, shutdown.clone());
    let grpc_shutdown = shutdown.clone();
    let server = tonic::transport::Server::builder()
        .add_service(
            ProviderServer::new(provider_service).max_decoding_message_size(256 * 1024 * 1024),
        )
        .add_service(GrpcControllerServer::new(go_plugin::Controller {
            shutdown: shutdown.clone(),
        }))
        .add_service(GrpcStdioServer::new(go_plugin::Stdio {
            shutdown: shutdown.clone(),
        }))
        .add_service(GrpcBrokerServer::new(go_plugin::Broker {
            shutdown: shutdown.clone(),
        }))
        .add_service(HealthServer::new(go_plugin::Health))
        .serve_with_incoming_shutdown(incoming, async move { grpc_shutdown.cancelled().await });
    tokio::pin!(server);
    tokio::select! {
        result = &mut server => result?,
        () = async {
            shutdown.cancelled().await;
            // Give the Shutdown reply time to reach Terraform, then stop
            // even if a connection lingers.
            tokio::time::sleep(Duration::from_millis(500)).await;
        } => {}
    }
    tracing::debug!("plugin server stopped");
    Ok(())
}

/// Prints the go-plugin handshake line (or, in debug mode, the reattach line).
fn announce(
    options: &ServeOptions,
    address: std::net::SocketAddr,
    certificate: Option<&[u8]>,
) -> Result<(), ServeError> {
    let mut stdout = std::io::stdout().lock();
    if options.debug {
        let reattach = serde_json::json!({
            options.provider_address.clone(): {
                "Protocol": "grpc",
                "ProtocolVersion": PLUGIN_PROTOCOL_VERSION,
                "Pid": std::process::id(),
                "Test": true,
                "Addr": { "Network": "tcp", "String": address.to_string() },
            }
        });
        writeln!(
            stdout,
            "Provider started. To attach Terraform, export this in another terminal:\n\n\tTF_REATTACH_PROVIDERS='{reattach}'\n"
        )
        .map_err(ServeError::Handshake)?;
    } else {
        let certificate = certificate
            .map(|der| base64::engine::general_purpose::STANDARD_NO_PAD.encode(der))
            .unwrap_or_default();
        writeln!(
            stdout,
            "{CORE_PROTOCOL_VERSION}|{PLUGIN_PROTOCOL_VERSION}|tcp|{address}|grpc|{certificate}"
        )
        .map_err(ServeError::Handshake)?;
    }
    stdout.flush().map_err(ServeError::Handshake)
}
