//! The flags that put treaty-kg in front of a remote SPARQL engine, shared by
//! `serve` and `load`.

use crate::store::{Credentials, RemoteConfig};
use anyhow::{bail, Context};
use clap::Args;
use std::path::PathBuf;
use std::time::Duration;

/// Where the engine answers, and how to talk to it.
#[derive(Debug, Args, Clone)]
pub struct RemoteArgs {
    /// Front a remote SPARQL 1.1 engine instead of an embedded store: its query
    /// endpoint (for example Virtuoso's `http://127.0.0.1:8890/sparql`).
    #[arg(long, value_name = "URL", conflicts_with = "store")]
    pub remote: Option<String>,
    /// The engine's update endpoint (default: the query endpoint).
    #[arg(long, value_name = "URL", requires = "remote")]
    pub remote_update: Option<String>,
    /// The engine's Graph Store endpoint (indirect `?graph=` identification):
    /// graph reads and writes use it. Without it they go through SPARQL
    /// (CONSTRUCT, ASK, DROP with INSERT), which every engine does the same way.
    #[arg(long, value_name = "URL", requires = "remote")]
    pub remote_store: Option<String>,
    /// A file holding `user:password` for the engine (HTTP Basic, or Digest when
    /// the engine asks for it, as Virtuoso's `/sparql-auth` does).
    #[arg(long, value_name = "FILE", requires = "remote")]
    pub remote_credentials: Option<PathBuf>,
    /// Seconds each request to the engine may take (past it: 504).
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub remote_timeout: u64,
    /// Seconds between reads of the engine's data version (writes made to the
    /// engine directly are seen within this time).
    #[arg(long, value_name = "SECS", default_value_t = 2)]
    pub remote_version_poll: u64,
    /// A local directory (one per server) where what treaty-kg derives from the
    /// engine's data is kept across restarts, under the engine's data version,
    /// in a subdirectory per engine URL: the dataset summaries, the search index
    /// (unless `--search-index` says otherwise), and a copy of the ledger with
    /// the note of the inferred graph's last regeneration. Without it nothing is
    /// kept: each start scans the engine again, builds the search index in
    /// memory and regenerates the inferred graph.
    #[arg(long, value_name = "DIR", requires = "remote")]
    pub remote_state: Option<PathBuf>,
}

impl RemoteArgs {
    /// The engine's configuration, when `--remote` is given: URLs checked, the
    /// credentials file read.
    pub fn config(&self) -> anyhow::Result<Option<RemoteConfig>> {
        let Some(query) = &self.remote else { return Ok(None) };
        let url = |flag: &str, value: &str| -> anyhow::Result<String> {
            if value.starts_with("http://") || value.starts_with("https://") {
                Ok(value.to_owned())
            } else {
                bail!("{flag} must be an http:// or https:// URL, got {value:?}")
            }
        };
        let credentials = self.remote_credentials.as_deref().map(credentials_from_file).transpose()?;
        Ok(Some(RemoteConfig {
            query: url("--remote", query)?,
            update: url("--remote-update", self.remote_update.as_deref().unwrap_or(query))?,
            store: self.remote_store.as_deref().map(|s| url("--remote-store", s)).transpose()?,
            credentials,
            timeout: Duration::from_secs(self.remote_timeout.max(1)),
            version_poll: Duration::from_secs(self.remote_version_poll.max(1)),
            // One subdirectory per engine: two engines can have the same data version
            // (a digest of their statement count and treaty-kg's last write).
            state: self.remote_state.as_ref().map(|dir| {
                let engine = crate::sources::content_hash(query.as_bytes());
                dir.join(format!("engine-{}", &engine[..engine.len().min(16)]))
            }),
        }))
    }
}

/// Reads `user:password` from a file (its first line).
fn credentials_from_file(path: &std::path::Path) -> anyhow::Result<Credentials> {
    let text = std::fs::read_to_string(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let line = text.lines().next().unwrap_or_default().trim();
    let Some((user, password)) = line.split_once(':') else {
        bail!("{}: expected one line `user:password`", path.display())
    };
    Ok(Credentials::new(user.to_owned(), password.to_owned()))
}
