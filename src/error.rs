//! The one error type of the HTTP layer, and the one place where errors become
//! status codes.
//!
//! Every handler returns `Result<_, AppError>`. 4xx answers say exactly what was
//! wrong (and where, when a parser told us); 5xx answers are logged with their
//! details and sent to the client as a generic sentence with the request's id,
//! so internals never leak and an operator can find the cause in the log.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// An error answered to an HTTP client.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AppError {
    /// The request is malformed (parameters, protocol rules).
    #[error("{0}")]
    BadRequest(String),
    /// The SPARQL text does not parse; the message carries the parser's position.
    #[error("malformed SPARQL: {0}")]
    MalformedSparql(String),
    /// The text nests deeper than the parsers may recurse.
    #[error("{0}")]
    TooDeep(String),
    /// A request body in an RDF syntax that does not parse.
    #[error("malformed RDF body: {0}")]
    MalformedRdf(String),
    /// The request (or one part of it) is larger than this server takes.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// No offered format satisfies the `Accept` header.
    #[error("none of the formats offered here is acceptable; offered: {}", .offered.join(", "))]
    NotAcceptable { offered: Vec<&'static str> },
    /// The request body has a media type this route does not take.
    #[error("unsupported media type {got:?}; this route accepts: {}", .accepted.join(", "))]
    UnsupportedMediaType { got: String, accepted: Vec<&'static str> },
    /// The method is not allowed on this route.
    #[error("{message}")]
    MethodNotAllowed { message: String, allow: &'static str },
    /// No or a wrong write token.
    #[error("{0}")]
    Unauthorized(String),
    /// The server is read-only, or the operation is switched off.
    #[error("{0}")]
    Forbidden(String),
    /// The named resource (graph, running query…) does not exist.
    #[error("{0}")]
    NotFound(String),
    /// Evaluation ran past the configured timeout and was cancelled.
    #[error("evaluation exceeded the time limit of {secs} s and was cancelled; narrow the query or ask the operator to raise --timeout")]
    Timeout { secs: u64 },
    /// Too many requests are being evaluated or waiting.
    #[error("the server is busy: {reason}")]
    Overloaded { reason: String, retry_after_secs: u64 },
    /// Evaluation was cancelled by an operator.
    #[error("the query was cancelled by an operator")]
    Cancelled,
    /// This server cannot do it here (a remote backend has no local files to back up…).
    #[error("{0}")]
    NotImplemented(String),
    /// The remote SPARQL engine is down, failing or answered something unreadable.
    #[error("the SPARQL engine is unavailable: {0}")]
    BadGateway(String),
    /// The remote SPARQL engine did not answer in time.
    #[error("the SPARQL engine did not answer within {secs} s (--remote-timeout)")]
    GatewayTimeout { secs: u64 },
    /// Anything else: a bug or a storage failure. Its whole chain of causes is
    /// logged, never sent (shared, since a memo hands one failure to every waiter).
    #[error("internal error: {0}")]
    Internal(Arc<anyhow::Error>),
}

impl AppError {
    /// The status code of each variant, in one place.
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::BadRequest(_)
            | AppError::MalformedSparql(_)
            | AppError::TooDeep(_)
            | AppError::MalformedRdf(_) => StatusCode::BAD_REQUEST,
            AppError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::NotAcceptable { .. } => StatusCode::NOT_ACCEPTABLE,
            AppError::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Timeout { .. } => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Cancelled => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Overloaded { .. } => StatusCode::SERVICE_UNAVAILABLE,
            AppError::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            AppError::BadGateway(_) => StatusCode::BAD_GATEWAY,
            AppError::GatewayTimeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A stable machine-readable code, sent in the `X-Error-Code` header.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::BadRequest(_) => "bad_request",
            AppError::MalformedSparql(_) => "malformed_sparql",
            AppError::TooDeep(_) => "too_deep",
            AppError::MalformedRdf(_) => "malformed_rdf",
            AppError::PayloadTooLarge(_) => "payload_too_large",
            AppError::NotAcceptable { .. } => "not_acceptable",
            AppError::UnsupportedMediaType { .. } => "unsupported_media_type",
            AppError::MethodNotAllowed { .. } => "method_not_allowed",
            AppError::Unauthorized(_) => "unauthorized",
            AppError::Forbidden(_) => "forbidden",
            AppError::NotFound(_) => "not_found",
            AppError::Timeout { .. } => "timeout",
            AppError::Cancelled => "cancelled",
            AppError::Overloaded { .. } => "overloaded",
            AppError::NotImplemented(_) => "not_implemented",
            AppError::BadGateway(_) => "engine_unavailable",
            AppError::GatewayTimeout { .. } => "engine_timeout",
            AppError::Internal(_) => "internal",
        }
    }

    /// A server fault, with its causes (`anyhow!` for one made here).
    pub fn internal(error: impl Into<anyhow::Error>) -> Self {
        AppError::Internal(Arc::new(error.into()))
    }

    /// The body sent to the client.
    fn message(&self) -> String {
        let request = crate::log_line::current_id();
        let text = if matches!(self, AppError::Internal(_)) {
            "internal server error; the details are in the server log".to_owned()
        } else {
            self.to_string()
        };
        match request.filter(|_| self.status().is_server_error()) {
            Some(id) => format!("{text} (request id {id})\n"),
            None => format!("{text}\n"),
        }
    }
}

/// Marks a response that answers a timed-out request (read by the metrics).
#[derive(Clone, Copy, Debug)]
pub struct TimedOut;

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        if let AppError::Internal(details) = &self {
            tracing::error!(error = format!("{details:#}"), "internal error");
        }
        let mut response = (status, self.message()).into_response();
        if matches!(self, AppError::Timeout { .. }) {
            response.extensions_mut().insert(TimedOut);
        }
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
        headers.insert("x-error-code", HeaderValue::from_static(self.code()));
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"treaty-kg\""));
        }
        if let AppError::Overloaded { retry_after_secs, .. } = &self {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
        }
        if let AppError::MethodNotAllowed { allow, .. } = &self {
            headers.insert(header::ALLOW, HeaderValue::from_static(allow));
        }
        response
    }
}
