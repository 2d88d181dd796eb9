//! Saved queries: the catalogue of `queries/*.rq`, each a SPARQL query with a
//! grlc-style metadata header declaring typed parameters.
//!
//! - `header` parses and checks one file (errors name the file and line);
//! - `params` turns supplied strings into typed RDF terms and binds them;
//! - `openapi` and `describe` publish the catalogue as OpenAPI 3.1 and as RDF;
//! - `cache` keeps answers keyed by query version, bindings, format and data version.
//!
//! The [`Registry`] holds the catalogue in service and reloads it when the folder
//! changes (polled every two seconds, or at once on SIGHUP); a broken new file is
//! logged and the previous catalogue stays in service.

pub mod cache;
pub mod describe;
pub mod header;
pub mod openapi;
pub mod params;

pub use header::SavedQuery;

use crate::error::AppError;
use crate::store::{KgStore, QueryJob};
use oxigraph::model::{Term, Variable};
use params::ParamType;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// Why the saved queries do not load.
#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    /// What is wrong with the folder or its files, one problem per line.
    #[error("{}", .0.join("\n"))]
    Files(Vec<String>),
    /// The deep-stack pool lost the parsing task.
    #[error(transparent)]
    Task(#[from] crate::exec::TaskFailed),
}

/// The saved queries in service, by name.
#[derive(Debug, Default)]
pub struct Catalogue {
    queries: BTreeMap<String, Arc<SavedQuery>>,
}

impl Catalogue {
    /// Loads every `.rq` file of `dir`; all problems are reported together.
    /// Parsing recurses, so it runs on the deep-stack pool; this call blocks.
    pub fn load(dir: &Path) -> Result<Self, CatalogueError> {
        let dir = dir.to_owned();
        crate::exec::run_blocking(move || Self::load_here(&dir))?
    }

    fn load_here(dir: &Path) -> Result<Self, CatalogueError> {
        let mut queries = BTreeMap::new();
        let mut problems = Vec::new();
        let files = rq_files(dir).map_err(|e| {
            CatalogueError::Files(vec![format!("{}: cannot list the queries folder: {e}", dir.display())])
        })?;
        for path in files {
            let display = display_path(&path);
            let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            match std::fs::read_to_string(&path) {
                Ok(text) => match header::parse(&name, &display, &text) {
                    Ok(q) => {
                        queries.insert(name, Arc::new(q));
                    }
                    Err(e) => problems.push(e),
                },
                Err(e) => problems.push(format!("{display}: cannot read: {e}")),
            }
        }
        if problems.is_empty() {
            Ok(Catalogue { queries })
        } else {
            Err(CatalogueError::Files(problems))
        }
    }

    pub fn get(&self, name: &str) -> Option<Arc<SavedQuery>> {
        self.queries.get(name).cloned()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<SavedQuery>> {
        self.queries.values()
    }

    pub fn len(&self) -> usize {
        self.queries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queries.is_empty()
    }
}

fn rq_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    // An entry that cannot be read fails the listing: a query is never skipped unsaid.
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "rq") && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

fn display_path(path: &Path) -> String {
    let parent = path.parent().and_then(|p| p.file_name()).map(|n| n.to_string_lossy().into_owned());
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    match parent {
        Some(parent) => format!("{parent}/{name}"),
        None => name,
    }
}

/// What identifies the folder's state: each file's name, length and mtime.
fn fingerprint(dir: &Path) -> String {
    rq_files(dir)
        .unwrap_or_default()
        .iter()
        .map(|p| {
            let meta = std::fs::metadata(p).ok();
            let modified = meta.as_ref().and_then(|m| m.modified().ok()).map(|t| format!("{t:?}")).unwrap_or_default();
            format!("{}:{}:{modified}", p.display(), meta.map(|m| m.len()).unwrap_or(0))
        })
        .collect::<Vec<_>>()
        .join("|")
}

/// The catalogue in service, reloadable while the server runs.
pub struct Registry {
    dir: Option<PathBuf>,
    current: RwLock<Arc<Catalogue>>,
    seen: Mutex<String>,
}

impl Registry {
    /// Loads `dir` (a failure stops the server at start). `None`: no saved queries.
    pub fn open(dir: Option<PathBuf>) -> Result<Self, CatalogueError> {
        let catalogue = match &dir {
            Some(d) => Catalogue::load(d)?,
            None => Catalogue::default(),
        };
        let seen = dir.as_deref().map(fingerprint).unwrap_or_default();
        Ok(Registry { dir, current: RwLock::new(Arc::new(catalogue)), seen: Mutex::new(seen) })
    }

    pub fn current(&self) -> Arc<Catalogue> {
        self.current.read().expect("catalogue lock").clone()
    }

    /// Reloads when the folder changed (or `force`). Returns whether a new
    /// catalogue went into service; a broken folder is an error and changes nothing.
    pub fn reload(&self, force: bool) -> Result<bool, CatalogueError> {
        let Some(dir) = &self.dir else { return Ok(false) };
        let now = fingerprint(dir);
        {
            let mut seen = self.seen.lock().expect("catalogue lock");
            if !force && *seen == now {
                return Ok(false);
            }
            *seen = now;
        }
        let catalogue = Catalogue::load(dir)?;
        *self.current.write().expect("catalogue lock") = Arc::new(catalogue);
        Ok(true)
    }

    /// Polls the folder every `interval` and reloads on change; SIGHUP forces a reload.
    pub fn watch(self: &Arc<Self>, interval: Duration) {
        let registry = self.clone();
        tokio::spawn(async move {
            #[cfg(unix)]
            let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
            loop {
                #[cfg(unix)]
                let forced = match hangup.as_mut() {
                    Some(h) => tokio::select! {
                        _ = h.recv() => true,
                        () = tokio::time::sleep(interval) => false,
                    },
                    None => {
                        tokio::time::sleep(interval).await;
                        false
                    }
                };
                #[cfg(not(unix))]
                let forced = {
                    tokio::time::sleep(interval).await;
                    false
                };
                let r = registry.clone();
                match tokio::task::spawn_blocking(move || r.reload(forced)).await {
                    Ok(Ok(true)) => tracing::info!(queries = registry.current().len(), "saved queries reloaded"),
                    Ok(Ok(false)) => {}
                    Ok(Err(e)) => {
                        tracing::error!(error = %e, "saved queries not reloaded; the previous catalogue stays in service")
                    }
                    Err(e) => tracing::error!(error = %e, "saved-query reload task failed"),
                }
            }
        });
    }
}

/// Checks what only the data can tell: an IRI is of the declared class, a value
/// is among those a `values_query` allows.
pub async fn check_against_store(
    store: &KgStore,
    query: &SavedQuery,
    bindings: &[(Variable, Term)],
) -> Result<(), AppError> {
    for (variable, term) in bindings {
        let Some(param) = query.params.iter().find(|p| p.name == variable.as_str()) else { continue };
        if let ParamType::Iri { class: Some(class) } = &param.kind {
            let ask = "ASK { ?value a ?type . ?type <http://www.w3.org/2000/01/rdf-schema#subClassOf>* ?class }";
            let job = QueryJob {
                bindings: vec![
                    (Variable::new_unchecked("value"), term.clone()),
                    (Variable::new_unchecked("class"), Term::from(class.clone())),
                ],
                ..QueryJob::text(ask, "parameter class check")
            };
            if !store.ask(job).await? {
                return Err(AppError::BadRequest(format!(
                    "parameter `{}`: {term} is not {} in this dataset",
                    param.name,
                    param.kind.describe()
                )));
            }
        }
        if let Some(text) = &param.values_query {
            let allowed = match &param.values_variable {
                // The value bound into the values query: one lookup, and exact
                // however many values there are (the listing below stops at
                // 10,000, and at 10M quads missed the parameter's own default).
                Some(variable) => {
                    let job =
                        QueryJob { bindings: vec![(variable.clone(), term.clone())], ..QueryJob::text(text, text) };
                    !store.select_terms(job, 1).await?.is_empty()
                }
                None => allowed_values(store, text).await?.contains(term),
            };
            if !allowed {
                let shown: Vec<String> = allowed_values(store, text).await?.iter().take(20).map(plain).collect();
                return Err(AppError::BadRequest(format!(
                    "parameter `{}`: {term} is not one of the allowed values ({})",
                    param.name,
                    shown.join(", ")
                )));
            }
        }
    }
    Ok(())
}

/// The values of the first variable of a parameter's `values_query`.
pub async fn allowed_values(store: &KgStore, text: &str) -> Result<Vec<Term>, AppError> {
    Ok(store.select_terms(QueryJob::text(text, text), 10_000).await?)
}

/// A term as plain text: IRIs bare, literals by value.
pub fn plain(term: &Term) -> String {
    match term {
        Term::NamedNode(n) => n.as_str().to_owned(),
        Term::Literal(l) => l.value().to_owned(),
        other => other.to_string(),
    }
}
