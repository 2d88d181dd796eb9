//! The store layer's one error type. Each variant says whose fault it is: the
//! request's (mapped to 4xx in `http`), the load's (503), or the server's (5xx,
//! logged with its whole chain of causes and never shown to the client).

use crate::exec::TaskFailed;
use crate::sparql::depth::TooDeep;
use oxigraph::sparql::QueryEvaluationError;
use oxigraph::store::StorageError;

/// What went wrong in the store layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    // --- the load -------------------------------------------------------
    /// The evaluation ran past its deadline and was cancelled.
    #[error("evaluation exceeded the time limit of {0} s")]
    Timeout(u64),
    /// An operator cancelled the evaluation.
    #[error("cancelled by an operator")]
    Cancelled,
    /// Too many evaluations are running and waiting; try again shortly.
    #[error("the server is busy: {reason}")]
    Overloaded { reason: &'static str, retry_after_secs: u64 },

    // --- the request ----------------------------------------------------
    /// The text nests deeper than the parsers may recurse.
    #[error(transparent)]
    TooDeep(#[from] TooDeep),
    /// The SPARQL text does not parse (the message carries the position).
    #[error("malformed SPARQL: {message}")]
    Syntax {
        message: String,
        #[source]
        source: Option<spargebra::SparqlSyntaxError>,
    },
    /// The operation would make an outbound request, which is switched off.
    #[error("{0}")]
    Refused(String),
    /// Evaluation failed because of what the request asks (DROP of a missing
    /// graph, CREATE of an existing one, a binding the query cannot take…).
    #[error("{0}")]
    Request(String),
    /// A body in an RDF syntax failed to parse; nothing was written.
    #[error("{0}")]
    BadBody(String),
    #[error("graph {0} does not exist")]
    GraphNotFound(String),
    /// The remote engine refused the request (its own message).
    #[error("the SPARQL engine refused the request: {0}")]
    EngineRefused(String),
    /// This backend cannot do it; the message says what to do instead.
    #[error("{0}")]
    NotSupported(String),

    // --- the remote engine ----------------------------------------------
    /// The engine is unreachable, failing, or answered something unreadable.
    #[error("the SPARQL engine is unavailable: {0}")]
    EngineUnavailable(String),
    /// The engine did not answer within `--remote-timeout`.
    #[error("the SPARQL engine did not answer within {0} s")]
    EngineTimeout(u64),

    // --- the server -----------------------------------------------------
    /// A query tried on the request's own thread went past its budget and is
    /// evaluated on the pool instead ([`super::inline`]); never shown to a client.
    #[error("the query went past the inline budget")]
    GaveWay,
    /// The storage itself failed.
    #[error("storage failure")]
    Storage(#[from] StorageError),
    /// The engine failed for a reason that is not the request's.
    #[error("evaluation failed inside the engine")]
    Engine(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A file or directory the server works with.
    #[error("{context}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// A background task panicked or was lost.
    #[error(transparent)]
    Task(#[from] TaskFailed),
}

impl StoreError {
    /// Whether the server, not the request or the load, is at fault.
    pub fn is_server_fault(&self) -> bool {
        matches!(self, StoreError::Storage(_) | StoreError::Engine(_) | StoreError::Io { .. } | StoreError::Task(_))
    }

    /// Whether the remote engine is at fault (502/504).
    pub fn is_engine_fault(&self) -> bool {
        matches!(self, StoreError::EngineUnavailable(_) | StoreError::EngineTimeout(_))
    }

    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        StoreError::Io { context: context.into(), source }
    }

    pub(crate) fn syntax(source: spargebra::SparqlSyntaxError) -> Self {
        StoreError::Syntax { message: source.to_string(), source: Some(source) }
    }

    pub(crate) fn overloaded(reason: &'static str) -> Self {
        StoreError::Overloaded { reason, retry_after_secs: 1 }
    }

    /// The whole chain of causes, for the log.
    pub fn chain(&self) -> String {
        let mut text = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        text
    }
}

impl From<crate::sparql::parse::ParseError> for StoreError {
    fn from(e: crate::sparql::parse::ParseError) -> Self {
        use crate::sparql::parse::ParseError;
        match e {
            ParseError::TooDeep(e) => StoreError::TooDeep(e),
            ParseError::Syntax(e) => StoreError::syntax(e),
            ParseError::Base(m) => StoreError::Request(m),
        }
    }
}

/// A source file that does not read as RDF is refused as its body would be.
impl From<crate::sources::SourceError> for StoreError {
    fn from(e: crate::sources::SourceError) -> Self {
        StoreError::BadBody(e.to_string())
    }
}

impl From<crate::sparql::checkpoints::ServiceError> for StoreError {
    fn from(e: crate::sparql::checkpoints::ServiceError) -> Self {
        use crate::sparql::checkpoints::ServiceError;
        match e {
            ServiceError::Request(message) => StoreError::Request(message),
            ServiceError::Busy(reason) => StoreError::overloaded(reason),
            ServiceError::Failed(source) => StoreError::Engine(source),
        }
    }
}

/// The refusal of `SERVICE` (the server makes no outbound requests).
pub(crate) fn service_refusal() -> StoreError {
    StoreError::Refused("SERVICE is switched off: this server makes no outbound requests from SPARQL".into())
}

/// A fault in reading an engine's answer, carried through the engine's error
/// type and sorted as the engine's fault (502) by [`from_query_error`].
#[derive(Debug, thiserror::Error)]
#[error("the engine's answer does not parse: {0}")]
pub struct BadAnswer(pub String);

/// Sorts the engine's query errors by fault. `Cancelled` is resolved by the
/// caller, which knows why the token was cancelled.
pub(crate) fn from_query_error(error: QueryEvaluationError) -> StoreError {
    match error {
        QueryEvaluationError::Dataset(e) => match e.downcast::<StorageError>() {
            Ok(storage) => StoreError::Storage(*storage),
            Err(other) => match other.downcast::<BadAnswer>() {
                Ok(bad) => StoreError::EngineUnavailable(bad.to_string()),
                Err(other) => StoreError::Engine(other),
            },
        },
        QueryEvaluationError::Unexpected(e) => StoreError::Engine(e),
        QueryEvaluationError::Service(_)
        | QueryEvaluationError::UnsupportedService(_)
        | QueryEvaluationError::UnboundService
        | QueryEvaluationError::InvalidServiceName(_) => service_refusal(),
        QueryEvaluationError::Cancelled => StoreError::Cancelled,
        other => StoreError::Request(other.to_string()),
    }
}

/// A count an engine answered: anything but a number is the engine's fault
/// (502), never read as zero (counts feed the data version and VoID).
pub fn engine_count(term: Option<&oxigraph::model::Term>) -> Result<u64, StoreError> {
    match term {
        Some(oxigraph::model::Term::Literal(l)) => l
            .value()
            .parse()
            .map_err(|_| StoreError::EngineUnavailable(format!("the engine answered a count that is not one: {l}"))),
        other => Err(StoreError::EngineUnavailable(format!("the engine answered no count: {other:?}"))),
    }
}
