//! Parsing one saved-query file: its grlc-style metadata header (`#+ key: value`
//! lines, YAML) and its SPARQL text, into a [`SavedQuery`].
//!
//! Every error names the file and the line it is about.

use super::params::{Param, ParamType};
use serde::Deserialize;
use std::time::Duration;

/// The default row cap of a saved query (its header may set another).
pub const DEFAULT_ROW_CAP: usize = 10_000;

/// A parsed, checked saved query.
#[derive(Debug, Clone)]
pub struct SavedQuery {
    /// The file stem: `queries/withdrawals.rq` is `withdrawals`.
    pub name: String,
    pub file: String,
    pub source: String,
    /// `sha256:<hex>` of the file's bytes: cite it with a result.
    pub version: String,
    pub summary: String,
    pub description: String,
    pub tags: Vec<String>,
    pub params: Vec<Param>,
    pub example: Option<String>,
    pub timeout: Option<Duration>,
    /// At most this many rows (or triples) are returned; a longer answer is truncated and says so.
    pub row_cap: usize,
    pub query: spargebra::Query,
}

impl SavedQuery {
    /// Whether the query answers with a graph (CONSTRUCT/DESCRIBE) rather than results.
    pub fn is_graph(&self) -> bool {
        matches!(self.query, spargebra::Query::Construct { .. } | spargebra::Query::Describe { .. })
    }

    pub fn form(&self) -> &'static str {
        match self.query {
            spargebra::Query::Select { .. } => "SELECT",
            spargebra::Query::Ask { .. } => "ASK",
            spargebra::Query::Construct { .. } => "CONSTRUCT",
            spargebra::Query::Describe { .. } => "DESCRIBE",
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHeader {
    summary: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    params: Vec<RawParam>,
    example: Option<String>,
    /// Seconds.
    timeout: Option<u64>,
    /// Row cap.
    limit: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawParam {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    class: Option<String>,
    #[serde(default)]
    required: bool,
    default: Option<String>,
    #[serde(default)]
    description: String,
    values: Option<Vec<String>>,
    values_query: Option<String>,
}

/// How deep `[` and `{` may nest in a header (the YAML parser's time grows fast
/// with nesting; real headers nest two levels).
const MAX_HEADER_NESTING: usize = 16;

/// The line and column (1-based, in the header) where flow collections nest
/// deeper than `limit`, outside quoted strings and comments.
fn too_deep(yaml: &str, limit: usize) -> Option<(usize, usize)> {
    let (mut depth, mut line, mut column) = (0usize, 1usize, 0usize);
    let mut quote: Option<char> = None;
    let mut escaped = false;
    let mut comment = false;
    for c in yaml.chars() {
        column += 1;
        if c == '\n' {
            (line, column, comment) = (line + 1, 0, false);
            continue;
        }
        if comment {
            continue;
        }
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' && q == '"' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                '"' | '\'' => quote = Some(c),
                '#' => comment = true,
                '[' | '{' => {
                    depth += 1;
                    if depth > limit {
                        return Some((line, column));
                    }
                }
                ']' | '}' => depth = depth.saturating_sub(1),
                _ => {}
            },
        }
    }
    None
}

/// Parses a saved query. `file` is the path shown in errors.
pub fn parse(name: &str, file: &str, text: &str) -> Result<SavedQuery, String> {
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
        return Err(format!("{file}: the file name must be lower-case letters, digits and hyphens, ending in .rq"));
    }
    let (yaml, yaml_lines) = header_yaml(text);
    if yaml_lines.is_empty() {
        return Err(format!("{file}:1: no metadata header; start the file with `#+ summary: …` lines"));
    }
    if let Some((line, column)) = too_deep(&yaml, MAX_HEADER_NESTING) {
        let line = yaml_lines.get(line - 1).copied().unwrap_or(yaml_lines[0]);
        return Err(format!(
            "{file}:{line}: the header nests `[`/`{{` more than {MAX_HEADER_NESTING} deep (column {column}); a header is a flat list of fields"
        ));
    }
    let raw: RawHeader = serde_yaml::from_str(&yaml).map_err(|e| {
        let line =
            e.location().and_then(|l| yaml_lines.get(l.line().saturating_sub(1)).copied()).unwrap_or(yaml_lines[0]);
        format!("{file}:{line}: bad metadata header: {e}")
    })?;
    let header_line = |needle: &str| {
        text.lines().position(|l| l.starts_with("#+") && l.contains(needle)).map(|i| i + 1).unwrap_or(yaml_lines[0])
    };
    let query = parse_query(text).map_err(|e| format!("{file}: {e}"))?;
    let params = params(raw.params, &query, |name| format!("{file}:{}", header_line(&format!("name: {name}"))))?;
    let version = format!("sha256:{}", crate::sources::content_hash(text.as_bytes()));
    Ok(SavedQuery {
        name: name.to_owned(),
        file: file.to_owned(),
        source: text.to_owned(),
        version,
        summary: raw.summary,
        description: raw.description.trim().to_owned(),
        tags: raw.tags,
        params,
        example: raw.example,
        timeout: raw.timeout.map(Duration::from_secs),
        row_cap: raw.limit.unwrap_or(DEFAULT_ROW_CAP),
        query,
    })
}

/// The header as YAML (every `#+` line), and each YAML line's line number in the file.
fn header_yaml(text: &str) -> (String, Vec<usize>) {
    let mut yaml = String::new();
    let mut yaml_lines = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if let Some(rest) = line.strip_prefix("#+") {
            yaml.push_str(rest.strip_prefix(' ').unwrap_or(rest));
            yaml.push('\n');
            yaml_lines.push(index + 1);
        }
    }
    (yaml, yaml_lines)
}

/// The declared parameters, each once and each binding a variable `query`
/// uses; `at` says where a parameter is declared (`file:line`).
fn params(raw: Vec<RawParam>, query: &spargebra::Query, at: impl Fn(&str) -> String) -> Result<Vec<Param>, String> {
    let mut params: Vec<Param> = Vec::new();
    for raw_param in raw {
        let place = at(&raw_param.name);
        let param = build_param(raw_param).map_err(|e| format!("{place}: {e}"))?;
        if params.iter().any(|p| p.name == param.name) {
            return Err(format!("{place}: parameter `{}` is declared twice", param.name));
        }
        if !crate::sparql::bind::mentions(query, &param.name) {
            return Err(format!(
                "{place}: parameter `{}` binds ?{}, which the query does not use",
                param.name, param.name
            ));
        }
        params.push(param);
    }
    Ok(params)
}

fn build_param(raw: RawParam) -> Result<Param, String> {
    if raw.name.is_empty() || !raw.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') || raw.name == "format" {
        return Err(format!(
            "parameter name {:?} must be letters, digits and underscores (and not `format`, which chooses the output format)",
            raw.name
        ));
    }
    let kind = ParamType::parse(&raw.kind, raw.class.as_deref())?;
    let mut param = Param {
        name: raw.name,
        kind,
        required: raw.required,
        default: raw.default,
        description: raw.description,
        values: raw.values,
        values_query: raw.values_query,
        values_variable: None,
    };
    if let Some(default) = &param.default {
        param.kind.term(default).map_err(|e| format!("parameter `{}`: bad default: {e}", param.name))?;
        if param.required {
            return Err(format!("parameter `{}` is required and has a default; choose one", param.name));
        }
    }
    for value in param.values.iter().flatten() {
        param.kind.term(value).map_err(|e| format!("parameter `{}`: bad allowed value: {e}", param.name))?;
    }
    if let Some(q) = &param.values_query {
        match parse_query(q) {
            Ok(spargebra::Query::Select { pattern, .. }) => param.values_variable = first_variable(&pattern),
            Ok(_) => return Err(format!("parameter `{}`: values_query must be a SELECT", param.name)),
            Err(e) => return Err(format!("parameter `{}`: values_query: {e}", param.name)),
        }
    }
    Ok(param)
}

/// The first variable a SELECT projects, under its solution modifiers.
fn first_variable(pattern: &spargebra::algebra::GraphPattern) -> Option<oxigraph::model::Variable> {
    use spargebra::algebra::GraphPattern;
    match pattern {
        GraphPattern::Project { variables, .. } => variables.first().cloned(),
        GraphPattern::Distinct { inner }
        | GraphPattern::Reduced { inner }
        | GraphPattern::Slice { inner, .. }
        | GraphPattern::OrderBy { inner, .. } => first_variable(inner),
        _ => None,
    }
}

/// Parses a saved query's SPARQL (on the deep-stack pool's thread that loads
/// the catalogue; the depth limit applies as to any other text).
fn parse_query(text: &str) -> Result<spargebra::Query, String> {
    crate::sparql::parse::query(text, None, crate::sparql::depth::DEFAULT_MAX_DEPTH)
        .map_err(|e| format!("malformed SPARQL: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "#+ summary: Test\n#+ tags: [a]\n#+ params:\n#+   - name: state\n#+     type: iri\n#+     class: tkg:SovereignState\n#+     required: true\nSELECT ?state ?l WHERE { ?state <http://www.w3.org/2000/01/rdf-schema#label> ?l }\n";

    #[test]
    fn a_good_header_parses() {
        let q = parse("test", "queries/test.rq", GOOD).unwrap();
        assert_eq!(q.summary, "Test");
        assert_eq!(q.params.len(), 1);
        assert!(q.params[0].required);
        assert!(q.version.starts_with("sha256:"));
        assert_eq!(q.row_cap, DEFAULT_ROW_CAP);
    }

    #[test]
    fn errors_name_the_file_and_line() {
        let bad_yaml = "#+ summary: x\n#+ params: [\nSELECT * {}";
        let e = parse("t", "queries/t.rq", bad_yaml).unwrap_err();
        assert!(e.starts_with("queries/t.rq:"), "{e}");
        let unknown_key = "#+ summary: x\n#+ colour: red\nSELECT * {}";
        let e = parse("t", "queries/t.rq", unknown_key).unwrap_err();
        assert!(e.starts_with("queries/t.rq:2:") && e.contains("colour"), "{e}");
        let bad_sparql = "#+ summary: x\nSELECT * WHERE { ?s ?p }";
        let e = parse("t", "queries/t.rq", bad_sparql).unwrap_err();
        assert!(e.starts_with("queries/t.rq: malformed SPARQL") && e.contains("2:"), "{e}");
        let bad_type = "#+ summary: x\n#+ params:\n#+   - name: n\n#+     type: xsd:colour\nSELECT ?n {}";
        let e = parse("t", "queries/t.rq", bad_type).unwrap_err();
        assert!(e.starts_with("queries/t.rq:3:") && e.contains("xsd:colour"), "{e}");
        let unused =
            "#+ summary: x\n#+ params:\n#+   - name: n\n#+     type: xsd:integer\nSELECT ?m { BIND(?nn AS ?m) }";
        let e = parse("t", "queries/t.rq", unused).unwrap_err();
        assert!(e.starts_with("queries/t.rq:3:") && e.contains("does not use"), "{e}");
        let bad_default =
            "#+ summary: x\n#+ params:\n#+   - name: n\n#+     type: xsd:integer\n#+     default: ten\nSELECT ?n {}";
        let e = parse("t", "queries/t.rq", bad_default).unwrap_err();
        assert!(e.contains("bad default"), "{e}");
        assert!(parse("Bad_Name", "queries/Bad_Name.rq", GOOD).is_err());
        assert!(parse("t", "queries/t.rq", "SELECT * {}").unwrap_err().contains("no metadata header"));
    }
}
