//! The streamable HTTP endpoint (`/mcp`). It binds loopback unless told
//! otherwise; any other address needs a bearer token, and a request without
//! it gets 401. The `Host` and `Origin` headers are checked (the MCP
//! specification asks for the Origin check, against DNS rebinding).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};

use super::server::RobotServer;

/// Where and how to serve.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// The address to bind (port 0: any free port).
    pub addr: SocketAddr,
    /// The bearer token every request must carry; required off loopback.
    pub token: Option<String>,
    /// Browser origins allowed besides the loopback ones ("https://app.example.com:443").
    pub origins: Vec<String>,
    /// Host names the server answers to besides the loopback ones and the bound address.
    pub hosts: Vec<String>,
}

/// Why the endpoint could not be served.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// A non-loopback address without a token.
    #[error("{0} is not a loopback address: serving it needs a bearer token (--token-file FILE), so that no one else on the network can drive the robot")]
    NeedsToken(SocketAddr),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// Serving failed.
    #[error("the HTTP server failed: {0}")]
    Serve(std::io::Error),
}

/// Binds the endpoint; returns the listener and its real address (for port 0).
pub async fn bind(opts: &HttpOptions) -> Result<(tokio::net::TcpListener, SocketAddr), HttpError> {
    if !opts.addr.ip().is_loopback() && opts.token.is_none() {
        return Err(HttpError::NeedsToken(opts.addr));
    }
    let listener = tokio::net::TcpListener::bind(opts.addr)
        .await
        .map_err(|source| HttpError::Bind {
            addr: opts.addr,
            source,
        })?;
    let addr = listener.local_addr().map_err(HttpError::Serve)?;
    Ok((listener, addr))
}

/// Binds the endpoint and serves `server` on `runtime` until Ctrl-C;
/// `bound` hears the real address first (for port 0).
///
/// Blocking and never inlined, so that the SDK's generic service is built
/// in this crate, not again in every program that serves.
#[inline(never)]
pub fn serve_until_ctrl_c(
    runtime: &tokio::runtime::Runtime,
    server: RobotServer,
    opts: HttpOptions,
    bound: &dyn Fn(SocketAddr),
) -> Result<(), HttpError> {
    runtime.block_on(async move {
        let (listener, addr) = bind(&opts).await?;
        bound(addr);
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        serve(server, listener, opts, shutdown).await
    })
}

/// Serves `server` on `listener` until `shutdown` completes.
pub async fn serve(
    server: RobotServer,
    listener: tokio::net::TcpListener,
    opts: HttpOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), HttpError> {
    let addr = listener.local_addr().map_err(HttpError::Serve)?;
    let mut hosts: Vec<String> = vec![
        "localhost".into(),
        "127.0.0.1".into(),
        "::1".into(),
        "[::1]".into(),
    ];
    hosts.push(addr.ip().to_string());
    hosts.extend(opts.hosts.iter().cloned());
    let mut origins: Vec<String> = ["http://localhost:*", "http://127.0.0.1:*", "http://[::1]:*"]
        .map(String::from)
        .to_vec();
    origins.extend(opts.origins.iter().cloned());
    let config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(hosts)
        .with_allowed_origins(origins)
        .enforce_origin_validation();
    let service = StreamableHttpService::new(
        move || Ok(server.clone()),
        LocalSessionManager::default().into(),
        config,
    );
    let token = Arc::new(opts.token.clone());
    let app = axum::Router::new()
        .nest_service("/mcp", service)
        .layer(middleware::from_fn(answer_malformed))
        .layer(middleware::from_fn_with_state(token, require_token));
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(HttpError::Serve)
}

/// Lets a request through only with the bearer token, when there is one.
async fn require_token(
    State(token): State<Arc<Option<String>>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(token) = token.as_deref() else {
        return next.run(request).await;
    };
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if given.is_some_and(|g| same(g.as_bytes(), token.as_bytes())) {
        return next.run(request).await;
    }
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer")],
        "this endpoint needs the bearer token it was started with (Authorization: Bearer TOKEN)\n",
    )
        .into_response()
}

/// The largest request body read, bytes.
const MAX_BODY: usize = 16 << 20;

/// Answers a POST whose body is not JSON with JSON-RPC's parse error (the
/// SDK would answer 415 in plain text, which a JSON-RPC client cannot read).
async fn answer_malformed(request: Request, next: Next) -> Response {
    if request.method() != axum::http::Method::POST {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(bytes) => bytes,
        Err(e) => return malformed(&format!("the body could not be read ({e})")),
    };
    if let Err(e) = serde_json::from_slice::<serde_json::Value>(&bytes) {
        return malformed(&e.to_string());
    }
    next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
        .await
}

fn malformed(why: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        [(header::CONTENT_TYPE, "application/json")],
        super::stdio::parse_error(why),
    )
        .into_response()
}

/// Compares secrets in time that does not depend on where they differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::same;

    #[test]
    fn tokens_compare_whole() {
        assert!(same(b"secret", b"secret"));
        assert!(!same(b"secret", b"secreT"));
        assert!(!same(b"secret", b"secret2"));
        assert!(!same(b"", b"x"));
    }
}
