//! What a log line says: the time, the level, the request it was written for
//! (`request{id=… method=… route=…}`), where it comes from, and its fields.
//!
//! The request a line belongs to is not a tracing span. A span per request
//! (created, its fields formatted, entered and left at every poll of the
//! request's future, closed) was about a twentieth of the server's work on a
//! point lookup (BENCHMARKS.md, "The front end's tax, again"). The request is a
//! task-local value instead, set by the request middleware ([`scope`]), carried
//! to the deep-stack pool by `exec` ([`current`], [`on_thread`]), and written by
//! this module's format ([`LineFormat`]) in the place the span's name was:
//! lines look as they did.

use crate::log_writer::BatchedWriter;
use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, OnceLock};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// The request a line is written for.
#[derive(Debug)]
pub struct Request {
    /// Unique across restarts; sent back as `X-Request-Id`.
    pub id: String,
    pub method: axum::http::Method,
    /// The route's pattern (`/sparql`, `/page/{*path}`); `None` when none matched.
    pub route: Option<axum::extract::MatchedPath>,
}

impl Request {
    /// The route's pattern, or `unmatched`.
    pub fn route(&self) -> &str {
        self.route.as_ref().map_or("unmatched", axum::extract::MatchedPath::as_str)
    }
}

impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "request{{id={} method={} route={}}}", self.id, self.method, self.route())
    }
}

/// A duration in milliseconds with three decimals (`12.345`), written
/// without formatting a float.
pub struct Millis(pub std::time::Duration);

impl fmt::Display for Millis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // In u64: `as_micros` is a u128, whose division is a library call.
        let micros = self.0.as_secs().saturating_mul(1_000_000).saturating_add(u64::from(self.0.subsec_micros()));
        write!(f, "{}.{:03}", micros / 1000, micros % 1000)
    }
}

tokio::task_local! {
    /// The request the running task answers.
    static REQUEST: Arc<Request>;
}

thread_local! {
    /// The request whose work runs on this (pool) thread.
    static ON_THREAD: RefCell<Option<Arc<Request>>> = const { RefCell::new(None) };
}

/// Runs `work` as the task answering `request`.
pub async fn scope<F: Future>(request: Arc<Request>, work: F) -> F::Output {
    REQUEST.scope(request, work).await
}

/// Runs `work` (synchronous) as answering `request`: what it logs names it.
pub fn in_scope<T>(request: Arc<Request>, work: impl FnOnce() -> T) -> T {
    REQUEST.sync_scope(request, work)
}

/// The request the calling task or thread works for, if any.
pub fn current() -> Option<Arc<Request>> {
    REQUEST.try_with(Arc::clone).ok().or_else(|| ON_THREAD.with(|r| r.borrow().clone()))
}

/// The id of the request the calling task or thread works for.
pub fn current_id() -> Option<String> {
    current().map(|r| r.id.clone())
}

/// Runs `work` on this thread as working for `request` (the pool's side of
/// [`current`]).
pub fn on_thread<T>(request: Option<Arc<Request>>, work: impl FnOnce() -> T) -> T {
    struct Restore(Option<Arc<Request>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            ON_THREAD.with(|r| *r.borrow_mut() = self.0.take());
        }
    }
    let _restore = Restore(ON_THREAD.with(|r| std::mem::replace(&mut *r.borrow_mut(), request)));
    work()
}

/// Where [`access`] writes its lines itself: set when the log has no
/// colours (a file, a pipe, a journal), which is where the server runs.
static DIRECT: OnceLock<BatchedWriter> = OnceLock::new();

/// Writes access lines straight to `writer` from now on (the log's writer,
/// given when the log has no colours).
pub fn write_access_lines_to(writer: BatchedWriter) {
    let _ = DIRECT.set(writer);
}

/// The access line of one request, as the event
/// `info!(path = %path, status, duration_ms = %Millis(elapsed), "request")`
/// in `target` is written by [`LineFormat`] (the tests hold them equal),
/// written here without tracing's field visitor. The event's formatting, a
/// `fmt` call per piece behind a visitor per field, was about 2 % of a point
/// lookup. The caller checks that the event is enabled; `false` when no
/// direct writer is set, and the caller logs the event itself.
pub fn access(request: &Request, target: &str, path: &str, status: u16, elapsed: std::time::Duration) -> bool {
    let Some(writer) = DIRECT.get() else {
        return false;
    };
    thread_local! {
        static LINE: RefCell<String> = const { RefCell::new(String::new()) };
    }
    LINE.with(|line| {
        let mut line = line.borrow_mut();
        line.clear();
        let _ = access_line(&mut line, request, target, path, status, elapsed);
        writer.append(line.as_bytes());
    });
    true
}

fn access_line(
    line: &mut String,
    request: &Request,
    target: &str,
    path: &str,
    status: u16,
    elapsed: std::time::Duration,
) -> fmt::Result {
    let mut writer = Writer::new(line);
    write_head(&mut writer, &tracing::Level::INFO, Some(request), target)?;
    writeln!(writer, "request path={path} status={status} duration_ms={}", Millis(elapsed))
}

/// `2026-12-07T03:30:51.362688Z  INFO request{id=… method=GET route=/sparql}: treaty_kg::http::ops: request path=/sparql status=200`
/// (tracing-subscriber's own layout; only the fields are coloured on a terminal).
pub struct LineFormat;

impl<S, N> FormatEvent<S, N> for LineFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let metadata = event.metadata();
        write_head(&mut writer, metadata.level(), current().as_deref(), metadata.target())?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

/// What comes before a line's fields: the time, the level, the request and
/// the target (one layout for [`LineFormat`] and [`access`]).
fn write_head(writer: &mut Writer<'_>, level: &tracing::Level, request: Option<&Request>, target: &str) -> fmt::Result {
    write_time(writer)?;
    write!(writer, " {level:>5} ")?;
    if let Some(request) = request {
        write!(writer, "{request}: ")?;
    }
    write!(writer, "{target}: ")
}

/// The time of a line as tracing-subscriber's `SystemTime` writes it (RFC
/// 3339, UTC, microseconds: `2026-12-07T03:30:51.362688Z`). The part up to
/// the second is formatted once per second on each thread; the calendar
/// arithmetic and formatting for every line was a third of the access log's cost.
fn write_time(writer: &mut Writer<'_>) -> fmt::Result {
    thread_local! {
        /// The second last written on this thread, and its text.
        static SECOND: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
    }
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let seconds = since.as_secs();
    SECOND.with(|second| {
        let mut second = second.borrow_mut();
        if second.0 != seconds {
            let at = i64::try_from(seconds).ok().and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok());
            let Some(at) = at else {
                return SystemTime.format_time(writer);
            };
            second.1 = format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
                at.year(),
                u8::from(at.month()),
                at.day(),
                at.hour(),
                at.minute(),
                at.second()
            );
            second.0 = seconds;
        }
        write!(writer, "{}.{:06}Z", second.1, since.subsec_micros())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log_writer::tests::{text, Sink};

    /// A subscriber writing lines as the server does (no colours) into `lines`.
    fn subscriber_into(lines: &Sink) -> impl tracing::Subscriber + Send + Sync {
        let sink = lines.clone();
        tracing_subscriber::fmt()
            .with_ansi(false)
            .event_format(LineFormat)
            .with_writer(move || sink.clone())
            .with_max_level(tracing::Level::INFO)
            .finish()
    }

    #[test]
    fn a_line_names_its_request_on_the_task_and_on_the_pool_and_none_outside() {
        let lines = Sink::default();
        let subscriber = subscriber_into(&lines);
        tracing::subscriber::with_default(subscriber, || {
            let request = Arc::new(Request { id: "abc-1".into(), method: axum::http::Method::GET, route: None });
            in_scope(request.clone(), || tracing::info!(status = 200, "request"));
            let carried = in_scope(request, current);
            on_thread(carried, || tracing::warn!("on the pool"));
            tracing::info!("outside");
        });
        let text = text(&lines);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(
            lines[0].ends_with(
                "  INFO request{id=abc-1 method=GET route=unmatched}: treaty_kg::log_line::tests: request status=200"
            ),
            "{}",
            lines[0]
        );
        assert!(
            lines[1].ends_with(
                "  WARN request{id=abc-1 method=GET route=unmatched}: treaty_kg::log_line::tests: on the pool"
            ),
            "{}",
            lines[1]
        );
        assert!(lines[2].ends_with("  INFO treaty_kg::log_line::tests: outside"), "{}", lines[2]);
        let stamp = lines[0].split(' ').next().unwrap();
        assert!(stamp.len() == 27 && stamp.ends_with('Z') && stamp.as_bytes()[10] == b'T', "RFC 3339: {stamp}");
        let written = time::OffsetDateTime::parse(stamp, &time::format_description::well_known::Rfc3339).unwrap();
        let off = (time::OffsetDateTime::now_utc() - written).abs();
        assert!(off < time::Duration::seconds(5), "the time written is the time now: {stamp}");
    }

    #[test]
    fn an_access_line_written_directly_is_the_event_s_line() {
        let lines = Sink::default();
        let subscriber = subscriber_into(&lines);
        let route = None;
        let request = Arc::new(Request { id: "abc-2".into(), method: axum::http::Method::POST, route });
        let elapsed = std::time::Duration::from_micros(12_345_678);
        let status: u16 = 503;
        tracing::subscriber::with_default(subscriber, || {
            in_scope(request.clone(), || {
                tracing::info!(path = %"/sparql", status, duration_ms = %Millis(elapsed), "request");
            });
        });
        let mut direct = String::new();
        access_line(&mut direct, &request, module_path!(), "/sparql", status, elapsed).unwrap();
        let event = text(&lines);
        // Past the time, the lines are equal.
        let after_time = |line: &str| line.split_once(' ').map(|(_, rest)| rest.to_owned());
        assert_eq!(after_time(&direct), after_time(&event), "{direct}{event}");
        assert!(direct.ends_with("request path=/sparql status=503 duration_ms=12345.678\n"), "{direct}");
        assert_eq!(direct.split(' ').next().map(str::len), Some(27), "{direct}");
    }
}
