//! A fake AWS endpoint for the adapter's unit tests: the SDK's HTTP client replaced by a
//! function from a request's body to its answer, every body kept. (Integration tests use the
//! local AWS; these need an answer no real endpoint gives on demand: a throttle on every
//! attempt, a refusal naming one group of a batch.)

use std::fmt;
use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;

/// One answer: status, headers and body.
#[derive(Debug, Clone, Copy)]
pub struct Answer {
    pub status: u16,
    pub headers: &'static [(&'static str, &'static str)],
    pub body: &'static str,
}

impl Answer {
    /// An XML answer (the query protocol's) with `status`.
    pub const fn xml(status: u16, body: &'static str) -> Answer {
        Answer {
            status,
            headers: &[("content-type", "text/xml")],
            body,
        }
    }
}

type Respond = dyn Fn(&str) -> Answer + Send + Sync;

/// Answers each request with what `respond` makes of its body; keeps every body sent.
#[derive(Clone)]
pub struct FakeEndpoint {
    respond: Arc<Respond>,
    bodies: Arc<Mutex<Vec<String>>>,
}

impl FakeEndpoint {
    pub fn new(respond: impl Fn(&str) -> Answer + Send + Sync + 'static) -> FakeEndpoint {
        FakeEndpoint {
            respond: Arc::new(respond),
            bodies: Arc::default(),
        }
    }

    /// Every request's body, in the order sent.
    pub fn bodies(&self) -> Vec<String> {
        self.bodies
            .lock()
            .expect("no test panicked holding it")
            .clone()
    }
}

impl fmt::Debug for FakeEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeEndpoint")
            .field("requests", &self.bodies().len())
            .finish()
    }
}

impl HttpConnector for FakeEndpoint {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let body = String::from_utf8_lossy(request.body().bytes().unwrap_or_default()).into_owned();
        let answer = (self.respond)(&body);
        self.bodies
            .lock()
            .expect("no test panicked holding it")
            .push(body);
        let status =
            StatusCode::try_from(answer.status).expect("a test's answer has a valid status");
        let mut response = HttpResponse::new(status, SdkBody::from(answer.body));
        for (name, value) in answer.headers {
            response.headers_mut().insert(*name, *value);
        }
        HttpConnectorFuture::ready(Ok(response))
    }
}

impl HttpClient for FakeEndpoint {
    fn http_connector(
        &self,
        _settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}
