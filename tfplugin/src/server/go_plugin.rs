//! The go-plugin services Terraform's plugin client talks to besides the
//! provider: controller (Shutdown), stdio (we log to stderr directly, so the
//! stream stays open and empty), broker (unused by Terraform; accepted and
//! held open) and gRPC health ("plugin" is serving).

use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status, Streaming};

use crate::proto::health::{
    HealthCheckRequest, HealthCheckResponse, health_check_response::ServingStatus,
};
use crate::proto::plugin::{ConnInfo, Empty, StdioData};

/// A stream that yields nothing and ends when `shutdown` is cancelled, so
/// graceful shutdown is not held up by it.
fn open_until<T: Send + 'static>(shutdown: CancellationToken) -> ReceiverStream<Result<T, Status>> {
    let (sender, receiver) = mpsc::channel(1);
    tokio::spawn(async move {
        shutdown.cancelled().await;
        drop(sender);
    });
    ReceiverStream::new(receiver)
}

/// `plugin.GRPCController`: Terraform calls Shutdown when it is done with the plugin.
pub(crate) struct Controller {
    pub shutdown: CancellationToken,
}

#[tonic::async_trait]
impl crate::proto::plugin::grpc_controller_server::GrpcController for Controller {
    async fn shutdown(&self, _request: Request<Empty>) -> Result<Response<Empty>, Status> {
        tracing::debug!("controller: shutdown requested");
        self.shutdown.cancel();
        Ok(Response::new(Empty {}))
    }
}

/// `plugin.GRPCStdio`.
pub(crate) struct Stdio {
    pub shutdown: CancellationToken,
}

#[tonic::async_trait]
impl crate::proto::plugin::grpc_stdio_server::GrpcStdio for Stdio {
    type StreamStdioStream = ReceiverStream<Result<StdioData, Status>>;

    async fn stream_stdio(
        &self,
        _request: Request<()>,
    ) -> Result<Response<Self::StreamStdioStream>, Status> {
        Ok(Response::new(open_until(self.shutdown.clone())))
    }
}

/// `plugin.GRPCBroker`.
pub(crate) struct Broker {
    pub shutdown: CancellationToken,
}

#[tonic::async_trait]
impl crate::proto::plugin::grpc_broker_server::GrpcBroker for Broker {
    type StartStreamStream = ReceiverStream<Result<ConnInfo, Status>>;

    async fn start_stream(
        &self,
        request: Request<Streaming<ConnInfo>>,
    ) -> Result<Response<Self::StartStreamStream>, Status> {
        let mut incoming = request.into_inner();
        tokio::spawn(async move {
            while let Ok(Some(info)) = incoming.message().await {
                tracing::debug!(
                    service_id = info.service_id,
                    "broker: ignoring connection info"
                );
            }
        });
        Ok(Response::new(open_until(self.shutdown.clone())))
    }
}

/// `grpc.health.v1.Health`.
pub(crate) struct Health;

#[tonic::async_trait]
impl crate::proto::health::health_server::Health for Health {
    async fn check(
        &self,
        _request: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        Ok(Response::new(HealthCheckResponse {
            status: ServingStatus::Serving as i32,
        }))
    }
}
