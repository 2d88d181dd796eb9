//! The one error type of the HTTP layer, and the one place where errors become
//! status codes.
//!
//! Every handler returns `Result<_, AppError>`. 4xx answers say exactly what was
//! wrong (and where, when a parser told us); 5xx answers are logged with their
//! details and sent to the client as a generic sentence, so internals never leak.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// An error answered to an HTTP client.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The request is malformed (parameters, protocol rules).
    #[error("{0}")]
    BadRequest(String),
    /// The SPARQL text does not parse; the message carries the parser's position.
    #[error("malformed SPARQL: {0}")]
    MalformedSparql(String),
    /// A request body in an RDF syntax that does not parse.
    #[error("malformed RDF body: {0}")]
    MalformedRdf(String),
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
    #[error("query evaluation exceeded the time limit of {secs} s and was cancelled; narrow the query or ask the operator to raise --timeout")]
    Timeout { secs: u64 },
    /// Too many requests are being evaluated or waiting.
    #[error("the server is busy: too many queries are running and waiting; retry in a moment")]
    Overloaded,
    /// Evaluation was cancelled by an operator.
    #[error("the query was cancelled by an operator")]
    Cancelled,
    /// Anything else: a bug or a storage failure. Details are logged, not sent.
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    /// The status code of each variant, in one place.
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::BadRequest(_) | AppError::MalformedSparql(_) | AppError::MalformedRdf(_) => {
                StatusCode::BAD_REQUEST
            }
            AppError::NotAcceptable { .. } => StatusCode::NOT_ACCEPTABLE,
            AppError::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Timeout { .. } => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Cancelled => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A stable machine-readable code, sent in the `X-Error-Code` header.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::BadRequest(_) => "bad_request",
            AppError::MalformedSparql(_) => "malformed_sparql",
            AppError::MalformedRdf(_) => "malformed_rdf",
            AppError::NotAcceptable { .. } => "not_acceptable",
            AppError::UnsupportedMediaType { .. } => "unsupported_media_type",
            AppError::MethodNotAllowed { .. } => "method_not_allowed",
            AppError::Unauthorized(_) => "unauthorized",
            AppError::Forbidden(_) => "forbidden",
            AppError::NotFound(_) => "not_found",
            AppError::Timeout { .. } => "timeout",
            AppError::Cancelled => "cancelled",
            AppError::Overloaded => "overloaded",
            AppError::Internal(_) => "internal",
        }
    }

    pub fn internal(error: impl std::fmt::Display) -> Self {
        AppError::Internal(error.to_string())
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = if status.is_server_error() && matches!(self, AppError::Internal(_)) {
            tracing::error!(error = %self, "internal error");
            "internal server error; the details are in the server log\n".to_owned()
        } else {
            format!("{self}\n")
        };
        let mut response = (status, message).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
        headers.insert("x-error-code", HeaderValue::from_static(self.code()));
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"treaty-kg\""));
        }
        if matches!(self, AppError::Overloaded) {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if let AppError::MethodNotAllowed { allow, .. } = &self {
            headers.insert(header::ALLOW, HeaderValue::from_static(allow));
        }
        response
    }
}
