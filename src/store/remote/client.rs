//! The HTTP exchange with a remote SPARQL engine: one client, credentials
//! (HTTP Basic, or Digest when the engine challenges for it), a deadline on
//! every request, faults sorted by cause, latency and errors counted, and
//! answers read as a blocking stream that stops when the work is cancelled.
//!
//! Everything here runs on the deep-stack pool's threads, which belong to a
//! tokio runtime of their own: requests are futures driven to completion with
//! that runtime's `block_on`, and an answer's body is read through a bridge.

use crate::store::error::StoreError;
use crate::store::job::Credentials;
use crate::store::running::RunningGuard;
use futures::StreamExt;
use oxigraph::sparql::CancellationToken;
use std::io::Read;
use std::time::{Duration, Instant};

/// What the engine's requests cost: counted for `/metrics`.
#[derive(Default)]
pub struct EngineStats {
    pub requests: std::sync::atomic::AtomicU64,
    pub errors: std::sync::atomic::AtomicU64,
    /// Total request time, in microseconds.
    pub micros: std::sync::atomic::AtomicU64,
}

/// One request to the engine.
pub struct Exchange<'a> {
    pub url: &'a str,
    pub method: reqwest::Method,
    pub body: Body<'a>,
    pub accept: &'static str,
}

/// What a request to the engine carries.
pub enum Body<'a> {
    /// Form fields (`query=`, `update=`, dataset parameters).
    Form(Vec<(&'a str, String)>),
    /// A document in a media type (Graph Store writes).
    Document(Vec<u8>, &'static str),
    None,
}

impl Body<'_> {
    /// The bytes sent, and their media type.
    fn encoded(&self) -> (Vec<u8>, Option<&'static str>) {
        match self {
            Body::Form(form) => (
                form_urlencoded::Serializer::new(String::new()).extend_pairs(form.iter()).finish().into_bytes(),
                Some("application/x-www-form-urlencoded"),
            ),
            Body::Document(bytes, media) => (bytes.clone(), Some(media)),
            Body::None => (Vec::new(), None),
        }
    }
}

/// What a request to the engine authenticates with.
enum Authorization {
    /// The credentials, if any, by HTTP Basic (sent up front).
    Basic,
    /// Nothing: to be challenged (engines that turn Basic away without saying why).
    None,
    /// The answer to the engine's Digest challenge.
    Answer(String),
}

/// The engine's HTTP client.
pub struct Client {
    http: reqwest::Client,
    credentials: Option<Credentials>,
    /// Set once the engine turned Basic away without a challenge (Virtuoso's
    /// `/sparql-auth` does): later requests go unauthenticated first, to be
    /// challenged for Digest.
    digest_only: std::sync::atomic::AtomicBool,
    timeout: Duration,
    pub stats: EngineStats,
}

impl Client {
    pub fn new(credentials: Option<Credentials>, timeout: Duration) -> Result<Self, StoreError> {
        let http = reqwest::Client::builder()
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|e| StoreError::EngineUnavailable(format!("the HTTP client cannot start: {e}")))?;
        Ok(Client { http, credentials, digest_only: Default::default(), timeout, stats: EngineStats::default() })
    }

    /// Sends `exchange` and returns the engine's answer once its head arrived:
    /// 2xx, or the fault sorted by cause (502 engine down or failing, 504 past
    /// the deadline, 400 with the engine's message for a request it refused).
    pub fn send(&self, exchange: &Exchange<'_>, guard: Option<&RunningGuard>) -> Result<reqwest::Response, StoreError> {
        let started = Instant::now();
        let outcome = block_on(self.send_async(exchange), guard.map(|g| g.token.clone()), self.timeout);
        self.stats.requests.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.stats.micros.fetch_add(started.elapsed().as_micros() as u64, std::sync::atomic::Ordering::Relaxed);
        if outcome.as_ref().is_err_and(StoreError::is_engine_fault) {
            self.stats.errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        outcome
    }

    async fn send_async(&self, exchange: &Exchange<'_>) -> Result<reqwest::Response, StoreError> {
        let (body, content_type) = exchange.body.encoded();
        let request = |authorization: Authorization| {
            let mut request = self
                .http
                .request(exchange.method.clone(), exchange.url)
                .timeout(self.timeout)
                .header(reqwest::header::ACCEPT, exchange.accept)
                .body(body.clone());
            if let Some(media) = content_type {
                request = request.header(reqwest::header::CONTENT_TYPE, media);
            }
            match (authorization, &self.credentials) {
                (Authorization::Basic, Some(c)) => request = request.basic_auth(&c.user, Some(c.password())),
                (Authorization::Answer(value), _) => request = request.header(reqwest::header::AUTHORIZATION, value),
                (Authorization::Basic | Authorization::None, _) => {}
            }
            request
        };
        let first = if self.digest_only.load(std::sync::atomic::Ordering::Relaxed) {
            Authorization::None
        } else {
            Authorization::Basic
        };
        let (url, timeout) = (exchange.url, self.timeout);
        let send = |authorization: Authorization| {
            let pending = request(authorization).send();
            async move { pending.await.map_err(|e| transport(url, &e, timeout)) }
        };
        let mut response = send(first).await?;
        let unauthorized = |r: &reqwest::Response| r.status() == reqwest::StatusCode::UNAUTHORIZED;
        if unauthorized(&response)
            && self.credentials.is_some()
            && !response.headers().contains_key(reqwest::header::WWW_AUTHENTICATE)
        {
            // Basic turned away without saying what would do: ask unauthenticated for the challenge.
            response = send(Authorization::None).await?;
            if response.headers().contains_key(reqwest::header::WWW_AUTHENTICATE) {
                self.digest_only.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        }
        if unauthorized(&response) {
            if let Some(authorization) = self.digest(&response, &exchange.method, exchange.url, &body) {
                response = send(Authorization::Answer(authorization)).await?;
            }
        }
        answered(response).await
    }
}

/// The engine's answer, or its refusal sorted by fault: a client error but
/// 401/403 is the request's (the engine's own message), anything else the engine's.
async fn answered(response: reqwest::Response) -> Result<reqwest::Response, StoreError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let text = response.text().await.unwrap_or_default();
    let message: String = text.trim().chars().take(1000).collect();
    if status.is_client_error()
        && status != reqwest::StatusCode::UNAUTHORIZED
        && status != reqwest::StatusCode::FORBIDDEN
    {
        Err(StoreError::EngineRefused(message))
    } else {
        Err(StoreError::EngineUnavailable(format!("the engine answered {status}: {message}")))
    }
}

impl Client {
    /// The `Authorization` answering an engine's Digest challenge, if it made one.
    fn digest(&self, response: &reqwest::Response, method: &reqwest::Method, url: &str, body: &[u8]) -> Option<String> {
        let credentials = self.credentials.as_ref()?;
        let challenge = response.headers().get(reqwest::header::WWW_AUTHENTICATE)?.to_str().ok()?;
        if !challenge.trim_start().to_ascii_lowercase().starts_with("digest") {
            return None;
        }
        let path = reqwest::Url::parse(url).ok().map(|u| match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_owned(),
        })?;
        let context = digest_auth::AuthContext::new_with_method(
            &credentials.user,
            credentials.password(),
            &path,
            Some(body),
            digest_auth::HttpMethod::from(method.as_str()),
        );
        let mut prompt = digest_auth::parse(challenge).ok()?;
        prompt.respond(&context).ok().map(|answer| answer.to_header_string())
    }
}

/// Sorts a transport error: the deadline passed (504) or the engine is unreachable (502).
fn transport(url: &str, error: &reqwest::Error, timeout: Duration) -> StoreError {
    if error.is_timeout() {
        StoreError::EngineTimeout(timeout.as_secs())
    } else {
        // The URL, never the credentials (they are not part of it).
        StoreError::EngineUnavailable(format!(
            "{url}: {}",
            std::error::Error::source(error).map_or_else(|| error.to_string(), ToString::to_string)
        ))
    }
}

/// Drives `future` on the pool's runtime, giving up when the work is cancelled
/// (which drops the request, closing its connection) or past `timeout`.
pub fn block_on<T>(
    future: impl std::future::Future<Output = Result<T, StoreError>>,
    token: Option<CancellationToken>,
    timeout: Duration,
) -> Result<T, StoreError> {
    let handle = tokio::runtime::Handle::current();
    handle.block_on(async move {
        tokio::select! {
            outcome = future => outcome,
            () = cancelled(token) => Err(StoreError::Cancelled),
            () = tokio::time::sleep(timeout + Duration::from_secs(1)) => Err(StoreError::EngineTimeout(timeout.as_secs())),
        }
    })
}

/// Resolves once `token` is cancelled (never without a token).
async fn cancelled(token: Option<CancellationToken>) {
    let Some(token) = token else { return std::future::pending().await };
    while !token.is_cancelled() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The body of an answer as a blocking reader, on a pool thread. The stream
/// ends early when the work is cancelled (dropping the connection), which the
/// parser reading it reports as an error the guard resolves to the reason.
pub fn body_reader(response: reqwest::Response, token: Option<CancellationToken>) -> impl Read + Send {
    let stream = response
        .bytes_stream()
        .map(|chunk| chunk.map_err(std::io::Error::other))
        .take_until(Box::pin(cancelled(token)));
    BlankNodeLabels::new(tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(stream)))
}

/// Virtuoso names blank nodes `nodeID://b10001`, which is not a blank node
/// label (RDF's parsers refuse `:` and `/` in one): `"nodeID://` becomes
/// `"nodeID___` as the answer streams past (same length, across chunk
/// boundaries too). A literal starting with `nodeID://` would be changed as
/// well; no other engine writes the pattern.
struct BlankNodeLabels<R> {
    inner: R,
    /// Bytes read but not yet handed out (a possible start of the pattern).
    pending: Vec<u8>,
    done: bool,
}

const VIRTUOSO_BNODE: &[u8] = b"\"nodeID://";
const RENAMED_BNODE: &[u8] = b"\"nodeID___";

impl<R: Read> BlankNodeLabels<R> {
    fn new(inner: R) -> Self {
        BlankNodeLabels { inner, pending: Vec::new(), done: false }
    }
}

impl<R: Read> Read for BlankNodeLabels<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        // Keep at least the pattern's length buffered, unless the input ended.
        while !self.done && self.pending.len() < VIRTUOSO_BNODE.len() + out.len().min(64 * 1024) {
            let mut chunk = vec![0u8; 16 * 1024];
            let n = self.inner.read(&mut chunk)?;
            if n == 0 {
                self.done = true;
            }
            self.pending.extend_from_slice(&chunk[..n]);
        }
        let mut i = 0;
        while i + VIRTUOSO_BNODE.len() <= self.pending.len() {
            if self.pending[i..].starts_with(VIRTUOSO_BNODE) {
                self.pending[i..i + RENAMED_BNODE.len()].copy_from_slice(RENAMED_BNODE);
                i += VIRTUOSO_BNODE.len();
            } else {
                i += 1;
            }
        }
        // Hand out all but a tail that could still begin the pattern.
        let keep = if self.done { 0 } else { (VIRTUOSO_BNODE.len() - 1).min(self.pending.len()) };
        let ready = (self.pending.len() - keep).min(out.len());
        out[..ready].copy_from_slice(&self.pending[..ready]);
        self.pending.drain(..ready);
        Ok(ready)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtuoso_blank_node_labels_are_renamed_across_reads() {
        let text = b"{\"value\": \"nodeID://b1\"}, {\"value\": \"nodeID://b2\"}";
        for chunk in [1, 3, 7, 64] {
            struct Trickle<'a>(&'a [u8], usize);
            impl Read for Trickle<'_> {
                fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
                    let n = self.1.min(self.0.len()).min(out.len());
                    out[..n].copy_from_slice(&self.0[..n]);
                    self.0 = &self.0[n..];
                    Ok(n)
                }
            }
            let mut renamed = String::new();
            BlankNodeLabels::new(Trickle(text, chunk)).read_to_string(&mut renamed).unwrap();
            assert_eq!(renamed, "{\"value\": \"nodeID___b1\"}, {\"value\": \"nodeID___b2\"}", "chunks of {chunk}");
        }
    }
}
