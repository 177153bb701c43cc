//! The server: the routes, the limits every request meets (body size, requests waiting for the
//! model), the guard in front of them, and starting and stopping on an address.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use oa_app::App;
use oa_types::ApiSettings;
use serde::de::DeserializeOwned;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

use crate::error::ApiError;
use crate::guard::Guard;
use crate::wire::{ModelList, WireModel};

/// Largest request body: a long conversation with tools fits many times over.
pub const MAX_BODY_BYTES: usize = 4 << 20;
/// Requests that may wait for the model at once; more are told to come back later.
pub const MAX_WAITING: usize = 16;

/// How a server is set up.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Where it listens (port 0: any free port).
    pub addr: SocketAddr,
    /// The key, checked when `require_key` (always when listening beyond loopback).
    pub key: String,
    /// Whether requests must carry the key.
    pub require_key: bool,
    /// Origins allowed to call from a browser.
    pub allowed_origins: Vec<String>,
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
    /// Requests that may wait for the model at once.
    pub max_waiting: usize,
}

impl ServeOptions {
    /// The options the person's settings give.
    pub fn from_settings(settings: &ApiSettings) -> ServeOptions {
        let ip = if settings.beyond_loopback {
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        } else {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        };
        ServeOptions {
            addr: SocketAddr::new(ip, settings.port),
            key: settings.key.clone(),
            require_key: settings.key_required(),
            allowed_origins: settings.allowed_origins.clone(),
            max_body_bytes: MAX_BODY_BYTES,
            max_waiting: MAX_WAITING,
        }
    }
}

/// What every handler shares.
pub struct Ctx {
    /// The app whose areas serve the requests.
    pub app: Arc<App>,
    waiting: Arc<Semaphore>,
}

impl Ctx {
    /// A place among the requests waiting for the model, or 429 when there is none.
    pub fn admit(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        self.waiting
            .clone()
            .try_acquire_owned()
            .map_err(|_| ApiError {
                status: StatusCode::TOO_MANY_REQUESTS,
                message: "Too many requests are waiting for the model; try again when some have \
                      finished."
                    .into(),
                kind: "rate_limit_error",
                param: None,
                code: Some("too_many_waiting"),
            })
    }

    /// Keeps an answer in the history when the person asked for that (the app checks the
    /// setting); a failure to keep it is logged, never the caller's error.
    pub async fn keep(
        &self,
        model: &str,
        request: &oa_engine::GenerateRequest,
        reply: &str,
        engine: &oa_engine::Engine,
        stats: &oa_engine::GenerationStats,
    ) {
        let Some(exchange) = crate::history::exchange(model, request, reply, engine, stats) else {
            return;
        };
        if let Err(e) = self.app.api().keep(exchange).await {
            tracing::warn!(error = %e, "an API answer could not be kept in the history");
        }
    }
}

/// Reads a JSON body; a body that is not the request names the field at fault.
pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let param = (path != ".").then_some(path.clone());
        let message = if inner.is_syntax() || inner.is_eof() {
            format!("the body is not JSON: {inner}")
        } else if path == "." {
            format!("the request is not valid: {inner}")
        } else {
            format!("{path}: {inner}")
        };
        ApiError::invalid(param, message)
    })
}

async fn models(State(ctx): State<Arc<Ctx>>) -> Response {
    match ctx.app.api().models().await {
        Ok(models) => axum::Json(ModelList {
            object: "list",
            data: models
                .iter()
                .filter(|m| m.problem.is_none())
                .map(|m| WireModel {
                    id: oa_app::model_id(m),
                    object: "model",
                    created: std::fs::metadata(&m.path)
                        .and_then(|md| md.modified())
                        .ok()
                        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                        .map_or(0, |d| d.as_secs()),
                    owned_by: "local",
                })
                .collect(),
        })
        .into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

async fn embeddings() -> Response {
    ApiError::invalid(
        None,
        "This app has no embedding model yet, so /v1/embeddings is not served; it arrives with \
         document search.",
    )
    .with_status(StatusCode::NOT_FOUND)
    .with_code("embeddings_unavailable")
    .into_response()
}

async fn not_found() -> Response {
    ApiError::invalid(
        None,
        "No such endpoint; this API serves GET /v1/models, POST /v1/chat/completions and POST \
         /v1/completions.",
    )
    .with_status(StatusCode::NOT_FOUND)
    .with_code("unknown_url")
    .into_response()
}

/// The routes behind the guard, for `app`.
pub fn router(app: Arc<App>, options: &ServeOptions, port: u16) -> Router {
    let ctx = Arc::new(Ctx {
        app,
        waiting: Arc::new(Semaphore::new(options.max_waiting)),
    });
    let guard = Arc::new(Guard {
        port,
        beyond_loopback: !options.addr.ip().is_loopback(),
        required_key: (options.require_key || !options.addr.ip().is_loopback())
            .then(|| options.key.clone()),
        allowed_origins: options.allowed_origins.clone(),
    });
    let too_large = options.max_body_bytes;
    Router::new()
        .route("/v1/models", get(models))
        .route("/v1/chat/completions", post(crate::chat::completions))
        .route("/v1/completions", post(crate::completions::completions))
        .route("/v1/embeddings", post(embeddings))
        .fallback(not_found)
        .with_state(ctx)
        .layer(axum::middleware::map_response(
            move |r: Response| async move { oversized(r, too_large) },
        ))
        .layer(DefaultBodyLimit::max(options.max_body_bytes))
        .layer(axum::middleware::from_fn_with_state(
            guard,
            crate::guard::check,
        ))
}

/// axum's own answer to a body over the limit, in OpenAI's shape.
fn oversized(response: Response, limit: usize) -> Response {
    if response.status() != StatusCode::PAYLOAD_TOO_LARGE {
        return response;
    }
    let mut response = ApiError::invalid(
        None,
        format!("The request is larger than {} MiB.", limit >> 20),
    )
    .with_status(StatusCode::PAYLOAD_TOO_LARGE)
    .with_code("request_too_large")
    .into_response();
    // The rest of the body was never read, so this connection cannot carry another request:
    // say so, or the client's next request on it fails.
    response.headers_mut().insert(
        axum::http::header::CONNECTION,
        axum::http::HeaderValue::from_static("close"),
    );
    response
}

/// A running server; [`ApiServer::stop`] ends it (dropping it does too).
#[derive(Debug)]
pub struct ApiServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl ApiServer {
    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL clients use, such as `http://127.0.0.1:4315/v1`.
    pub fn url(&self) -> String {
        let host = if self.addr.ip().is_unspecified() {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else {
            self.addr.ip()
        };
        format!("http://{}/v1", SocketAddr::new(host, self.addr.port()))
    }

    /// Stops listening and waits for the server to end (streams in flight are cut).
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Starts serving `app` as `options` say. Fails when the address cannot be had (the port is
/// taken, say), with words the person can act on.
pub async fn serve(app: Arc<App>, options: ServeOptions) -> Result<ApiServer, String> {
    let listener = tokio::net::TcpListener::bind(options.addr)
        .await
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AddrInUse => format!(
                "port {} is in use by another program; choose another port",
                options.addr.port()
            ),
            _ => format!("cannot listen on {}: {e}", options.addr),
        })?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("cannot listen on {}: {e}", options.addr))?;
    let router = router(app, &options, addr.port());
    let (stop, stopped) = oneshot::channel::<()>();
    // Each streamed token is a small write: without TCP_NODELAY the kernel holds it back
    // waiting for the previous one's acknowledgement.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY could not be set");
        }
    });
    let task = tokio::spawn(async move {
        let served = axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await;
        if let Err(e) = served {
            tracing::warn!(error = %e, "the local API stopped");
        }
    });
    tracing::info!(%addr, "the local API listens");
    Ok(ApiServer {
        addr,
        stop: Some(stop),
        task: Some(task),
    })
}
