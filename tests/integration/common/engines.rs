//! Real SPARQL engines for the remote backend's tests, each started fresh on
//! loopback ports with a temporary database: Virtuoso Open Source 7 (Debian's
//! `virtuoso-opensource`, installed by `.ci/setup.sh`) and `oxigraph serve`
//! (PyPI, in `target/bench-venv`). Dropping an engine stops it.

use super::repo_may_not_exist;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The backends the parameterised tests run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Embedded,
    Virtuoso,
    Oxigraph,
}

/// A running engine and where it answers.
pub struct Engine {
    pub query: String,
    pub update: String,
    /// Its Graph Store endpoint, when it has one that follows the Recommendation.
    pub store: Option<String>,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Engine {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port for an engine to listen on, never handed out twice in one
/// test run. Ports come from below Linux's ephemeral range (32768 and up), so
/// neither an outgoing connection nor another test's `bind(0)` can take one
/// between the check here and the engine's own bind: with ephemeral ports, one
/// engine in a parallel run occasionally found its port taken, or a peer's
/// engine answering on it.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    const FIRST: u16 = 20_000;
    const LAST: u16 = 32_000;
    // Each test process starts at its own offset, so two runs at once rarely meet.
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let _ =
        NEXT.compare_exchange(0, FIRST + (std::process::id() % 1000) as u16 * 10, Ordering::SeqCst, Ordering::SeqCst);
    loop {
        let port = NEXT.fetch_add(1, Ordering::SeqCst);
        assert!(port < LAST, "no free loopback port left below {LAST}");
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// Waits until `url` answers an ASK, or panics with the engine's log: after
/// `limit`, or as soon as the engine has exited (whatever answers then is not it).
fn wait_until_up(url: &str, child: &mut Child, log: &std::path::Path, limit: Duration) {
    let started = Instant::now();
    let client = reqwest::blocking::Client::new();
    while started.elapsed() < limit {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the engine for {url} exited ({status}):\n{}", std::fs::read_to_string(log).unwrap_or_default());
        }
        let answer =
            client.get(url).query(&[("query", "ASK {}")]).header("accept", "application/sparql-results+json").send();
        if answer.is_ok_and(|r| r.status().is_success()) {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("the engine at {url} did not start:\n{}", std::fs::read_to_string(log).unwrap_or_default());
}

impl Engine {
    pub fn start(backend: Backend) -> Engine {
        match backend {
            Backend::Virtuoso => Self::virtuoso(),
            Backend::Oxigraph => Self::oxigraph(),
            Backend::Embedded => panic!("the embedded store is not an engine"),
        }
    }

    /// Virtuoso with both listeners on loopback, a temporary database, and
    /// `SPARQL_UPDATE` granted to the anonymous SPARQL user (as its docs say).
    fn virtuoso() -> Engine {
        let dir = tempfile::tempdir().unwrap();
        let (sql, http) = (free_port(), free_port());
        let template = std::fs::read_to_string("/etc/virtuoso-opensource-7/virtuoso.ini")
            .expect("Virtuoso is not installed (apt-get install virtuoso-opensource; .ci/setup.sh does it)");
        let db = dir.path().display().to_string();
        let ini = template
            .replace("/var/lib/virtuoso-opensource-7/db", &db)
            .replace("ServerPort               = 1111", &format!("ServerPort               = 127.0.0.1:{sql}"))
            .replace("ServerPort                  = 8890", &format!("ServerPort                  = 127.0.0.1:{http}"));
        let ini_path = dir.path().join("virtuoso.ini");
        std::fs::write(&ini_path, ini).unwrap();
        let log = dir.path().join("virtuoso.log");
        let mut child = Command::new("virtuoso-t")
            .args(["+foreground", "+configfile"])
            .arg(&ini_path)
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let query = format!("http://127.0.0.1:{http}/sparql");
        wait_until_up(&query, &mut child, &log, Duration::from_secs(60));
        let granted = Command::new("isql-vt")
            .arg(format!("127.0.0.1:{sql}"))
            .args(["dba", "dba", "exec=GRANT SPARQL_UPDATE TO \"SPARQL\";"])
            .output()
            .unwrap();
        assert!(granted.status.success(), "isql-vt: {}", String::from_utf8_lossy(&granted.stderr));
        // Virtuoso's `/sparql-graph-crud` departs from the Recommendation (engines.md).
        Engine { update: query.clone(), query, store: None, child, _dir: dir }
    }

    /// `oxigraph serve` on a temporary store, its default graph the union of
    /// its graphs (as the embedded store's default).
    fn oxigraph() -> Engine {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("store");
        Self::oxigraph_in(free_port(), &store, dir)
    }

    /// `oxigraph serve` on `port` with its store at `location` (which outlives
    /// the engine: a restart finds the same data).
    pub fn oxigraph_at(port: u16, location: &std::path::Path) -> Engine {
        Self::oxigraph_in(port, location, tempfile::tempdir().unwrap())
    }

    fn oxigraph_in(port: u16, location: &std::path::Path, dir: tempfile::TempDir) -> Engine {
        let binary: PathBuf = repo_may_not_exist("target/bench-venv/bin/oxigraph");
        assert!(binary.exists(), "oxigraph serve is not installed (.ci/setup.sh installs it into target/bench-venv)");
        let log = dir.path().join("oxigraph.log");
        let mut child = Command::new(binary)
            .args(["serve", "--union-default-graph", "--bind", &format!("127.0.0.1:{port}"), "--location"])
            .arg(location)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        wait_until_up(&format!("{base}/query"), &mut child, &log, Duration::from_secs(30));
        Engine {
            query: format!("{base}/query"),
            update: format!("{base}/update"),
            store: Some(format!("{base}/store")),
            child,
            _dir: dir,
        }
    }
}

/// A fresh engine for `backend` (none for the embedded store, which then lives
/// in `dir/store`) and the flags that point the binary at it.
pub async fn target_for(backend: Backend, dir: &std::path::Path) -> (Option<Engine>, Vec<String>) {
    let engine = match backend {
        Backend::Embedded => None,
        engine => Some(tokio::task::spawn_blocking(move || Engine::start(engine)).await.unwrap()),
    };
    let target = match &engine {
        None => vec!["--store".into(), dir.join("store").display().to_string()],
        Some(e) => vec!["--remote".into(), e.query.clone(), "--remote-update".into(), e.update.clone()],
    };
    (engine, target)
}
