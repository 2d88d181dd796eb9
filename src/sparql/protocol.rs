//! The SPARQL 1.1 Protocol's request rules, as pure functions from the parts of an
//! HTTP request (method, query string, content type, body) to a [`SparqlRequest`].
//!
//! Each error case the Recommendation names is an `AppError` with its status here:
//! two `query` parameters, `query` and `update` together, an update by GET, a
//! missing or wrong media type (415), a body that is not UTF-8, a graph IRI that is
//! not absolute, USING in an update that also has `using-graph-uri`.
//!
//! Nothing here parses SPARQL: the text goes to the store, which scans its depth
//! and parses it on a deep-stack thread, under admission, after the write token
//! of an update was checked.

use crate::error::AppError;
use crate::store::ProtocolDataset;
use oxigraph::model::NamedNode;
use std::borrow::Cow;

/// What a request to the SPARQL endpoint asks for.
#[derive(Debug)]
pub enum SparqlRequest {
    Query {
        text: String,
        dataset: ProtocolDataset,
        format: Option<String>,
        /// `explain=true`: the engine's plan, with rows and time per operator, instead of the answer.
        explain: bool,
    },
    Update {
        text: String,
        dataset: ProtocolDataset,
    },
    /// No operation at all: the service description.
    ServiceDescription,
}

/// Parameters gathered from the URL and a form body.
#[derive(Debug, Default)]
struct Params {
    query: Vec<String>,
    update: Vec<String>,
    default_graph_uri: Vec<String>,
    named_graph_uri: Vec<String>,
    using_graph_uri: Vec<String>,
    using_named_graph_uri: Vec<String>,
    /// `format=` (Fuseki) or `output=` (Virtuoso): a format name overriding `Accept`.
    format: Option<String>,
    /// `explain=`: `true` asks for the query's plan instead of its answer.
    explain: Option<String>,
}

impl Params {
    fn parse(&mut self, encoded: &[u8]) {
        for (name, value) in form_pairs(encoded) {
            let value = value.into_owned();
            match name.as_ref() {
                "query" => self.query.push(value),
                "update" => self.update.push(value),
                "default-graph-uri" => self.default_graph_uri.push(value),
                "named-graph-uri" => self.named_graph_uri.push(value),
                "using-graph-uri" => self.using_graph_uri.push(value),
                "using-named-graph-uri" => self.using_named_graph_uri.push(value),
                "format" | "output" => self.format = Some(value),
                "explain" => self.explain = Some(value),
                _ => {} // unknown parameters are ignored, as the protocol allows
            }
        }
    }
}

/// The name-value pairs of `application/x-www-form-urlencoded` text, decoded
/// as `form_urlencoded::parse` decodes them (the tests hold the two equal).
///
/// Our own because the query text is most of a query string, and decoding it
/// a byte at a time through iterators, then checking it as UTF-8 in a second
/// pass, was about 1 % of a point lookup: here runs without `%` or `+` are
/// copied whole, and text without either is borrowed.
fn form_pairs(encoded: &[u8]) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
    encoded.split(|&b| b == b'&').filter(|pair| !pair.is_empty()).map(|pair| {
        let (name, value) = match pair.iter().position(|&b| b == b'=') {
            Some(at) => (&pair[..at], &pair[at + 1..]),
            None => (pair, &pair[pair.len()..]),
        };
        (form_decoded(name), form_decoded(value))
    })
}

/// One name or value: `+` is a space, `%` and two hex digits a byte (any
/// other `%` stays), and bytes that are not UTF-8 become U+FFFD.
fn form_decoded(encoded: &[u8]) -> Cow<'_, str> {
    let special = |b: &u8| *b == b'%' || *b == b'+';
    let Some(first) = encoded.iter().position(special) else {
        return String::from_utf8_lossy(encoded);
    };
    let mut bytes = Vec::with_capacity(encoded.len());
    bytes.extend_from_slice(&encoded[..first]);
    let mut at = first;
    while at < encoded.len() {
        let run = encoded[at..].iter().position(special).map_or(encoded.len(), |n| at + n);
        bytes.extend_from_slice(&encoded[at..run]);
        at = run;
        match encoded.get(at) {
            Some(b'+') => {
                bytes.push(b' ');
                at += 1;
            }
            Some(_) => {
                let digit = |i: usize| encoded.get(i).and_then(|&b| char::from(b).to_digit(16));
                match (digit(at + 1), digit(at + 2)) {
                    (Some(high), Some(low)) => {
                        // Two hex digits: at most 255.
                        bytes.push(u8::try_from(high * 16 + low).unwrap_or_default());
                        at += 3;
                    }
                    _ => {
                        bytes.push(b'%');
                        at += 1;
                    }
                }
            }
            None => {}
        }
    }
    match String::from_utf8(bytes) {
        Ok(text) => Cow::Owned(text),
        Err(e) => Cow::Owned(String::from_utf8_lossy(e.as_bytes()).into_owned()),
    }
}

/// A `GET /sparql`: a query in the URL, or nothing (service description).
pub fn from_get(query_string: Option<&str>) -> Result<SparqlRequest, AppError> {
    let mut params = Params::default();
    params.parse(query_string.unwrap_or_default().as_bytes());
    if !params.update.is_empty() {
        return Err(AppError::MethodNotAllowed {
            message: "SPARQL updates must be sent by POST (SPARQL 1.1 Protocol §2.2); GET only carries queries".into(),
            allow: "POST",
        });
    }
    if params.query.is_empty() {
        return Ok(SparqlRequest::ServiceDescription);
    }
    build_query(params)
}

/// A `POST /sparql`, dispatched on its media type.
pub fn from_post(
    query_string: Option<&str>,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<SparqlRequest, AppError> {
    let mut params = Params::default();
    params.parse(query_string.unwrap_or_default().as_bytes());
    let media_type =
        content_type.and_then(|c| c.split(';').next()).map(|m| m.trim().to_ascii_lowercase()).unwrap_or_default();
    match media_type.as_str() {
        "application/x-www-form-urlencoded" => {
            params.parse(body);
            match (params.query.is_empty(), params.update.is_empty()) {
                (false, false) => {
                    Err(AppError::BadRequest("a request carries either `query` or `update`, not both".into()))
                }
                (true, true) => {
                    Err(AppError::BadRequest("the form has neither a `query` nor an `update` parameter".into()))
                }
                (false, true) => build_query(params),
                (true, false) => build_update(params),
            }
        }
        "application/sparql-query" => {
            if !params.query.is_empty() || !params.update.is_empty() {
                return Err(AppError::BadRequest(
                    "with Content-Type application/sparql-query the query is the body; remove the `query`/`update` URL parameter".into(),
                ));
            }
            params.query.push(utf8(body)?);
            build_query(params)
        }
        "application/sparql-update" => {
            if !params.query.is_empty() || !params.update.is_empty() {
                return Err(AppError::BadRequest(
                    "with Content-Type application/sparql-update the update is the body; remove the `query`/`update` URL parameter".into(),
                ));
            }
            params.update.push(utf8(body)?);
            build_update(params)
        }
        _ => Err(AppError::UnsupportedMediaType {
            got: if media_type.is_empty() { "(none)".into() } else { media_type },
            accepted: vec![
                "application/x-www-form-urlencoded",
                "application/sparql-query",
                "application/sparql-update",
            ],
        }),
    }
}

fn utf8(body: &[u8]) -> Result<String, AppError> {
    String::from_utf8(body.to_vec()).map_err(|e| {
        AppError::BadRequest(format!(
            "the request body is not UTF-8 (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        ))
    })
}

fn single(mut values: Vec<String>, name: &str) -> Result<String, AppError> {
    match values.len() {
        1 => Ok(values.remove(0)),
        0 => Err(AppError::BadRequest(format!("missing `{name}` parameter"))),
        n => Err(AppError::BadRequest(format!("{n} `{name}` parameters given; the protocol allows exactly one"))),
    }
}

fn iris(values: &[String], parameter: &str) -> Result<Vec<NamedNode>, AppError> {
    values
        .iter()
        .map(|v| {
            NamedNode::new(v.as_str())
                .map_err(|e| AppError::BadRequest(format!("`{parameter}` must be an absolute IRI; {v:?} is not: {e}")))
        })
        .collect()
}

fn build_query(params: Params) -> Result<SparqlRequest, AppError> {
    if !params.update.is_empty() {
        return Err(AppError::BadRequest("a request carries either `query` or `update`, not both".into()));
    }
    let text = single(params.query, "query")?;
    let dataset = ProtocolDataset {
        default_graphs: iris(&params.default_graph_uri, "default-graph-uri")?,
        named_graphs: iris(&params.named_graph_uri, "named-graph-uri")?,
    };
    let explain = match params.explain.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(AppError::BadRequest(format!("`explain` is `true` or `false`, not {other:?}")));
        }
    };
    Ok(SparqlRequest::Query { text, dataset, format: params.format, explain })
}

fn build_update(params: Params) -> Result<SparqlRequest, AppError> {
    if params.explain.is_some() {
        return Err(AppError::BadRequest("`explain` explains queries; an update has no plan to show".into()));
    }
    let text = single(params.update, "update")?;
    let dataset = ProtocolDataset {
        default_graphs: iris(&params.using_graph_uri, "using-graph-uri")?,
        named_graphs: iris(&params.using_named_graph_uri, "using-named-graph-uri")?,
    };
    Ok(SparqlRequest::Update { text, dataset })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(r: Result<SparqlRequest, AppError>) -> u16 {
        r.map(|_| 200).unwrap_or_else(|e| e.status().as_u16())
    }

    #[test]
    fn get_without_operation_is_the_service_description() {
        assert!(matches!(from_get(None), Ok(SparqlRequest::ServiceDescription)));
        assert!(matches!(from_get(Some("format=json")), Ok(SparqlRequest::ServiceDescription)));
    }

    #[test]
    fn get_query_with_dataset() {
        let r =
            from_get(Some("query=SELECT%20*%20%7B%7D&default-graph-uri=http%3A%2F%2Fa&named-graph-uri=http%3A%2F%2Fb"))
                .unwrap();
        let SparqlRequest::Query { dataset, .. } = r else { panic!("not a query") };
        assert_eq!(dataset.default_graphs[0].as_str(), "http://a");
        assert_eq!(dataset.named_graphs[0].as_str(), "http://b");
    }

    #[test]
    fn protocol_error_cases() {
        assert_eq!(status(from_get(Some("query=ASK%7B%7D&query=ASK%7B%7D"))), 400);
        assert_eq!(status(from_get(Some("update=CLEAR%20ALL"))), 405);
        assert_eq!(status(from_get(Some("query=ASK%7B%7D&default-graph-uri=relative"))), 400);
        assert_eq!(status(from_post(None, Some("text/plain"), b"ASK {}")), 415);
        assert_eq!(status(from_post(None, None, b"query=ASK%7B%7D")), 415);
        assert_eq!(
            status(from_post(None, Some("application/x-www-form-urlencoded"), b"query=ASK%7B%7D&update=CLEAR%20ALL")),
            400
        );
        assert_eq!(status(from_post(None, Some("application/sparql-query"), &[0xff, 0xfe])), 400);
    }

    #[test]
    fn using_clause_and_parameters_exclude_each_other() {
        let update = spargebra::SparqlParser::new()
            .parse_update("DELETE { ?s ?p ?o } USING <http://b> WHERE { ?s ?p ?o }")
            .unwrap();
        let dataset =
            ProtocolDataset { default_graphs: vec![NamedNode::new("http://a").unwrap()], named_graphs: vec![] };
        assert!(dataset.check_update(&update).is_err());
        assert!(ProtocolDataset::default().check_update(&update).is_ok());
    }

    proptest::proptest! {
        #[test]
        fn form_text_decodes_as_form_urlencoded_decodes_it(
            text in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::sample::select(b"%+=&aZ09fF\xc3\xa9\xff ".to_vec()),
                    proptest::num::u8::ANY,
                ],
                0..40,
            )
        ) {
            let ours: Vec<(String, String)> = form_pairs(&text).map(|(n, v)| (n.into_owned(), v.into_owned())).collect();
            let theirs: Vec<(String, String)> =
                form_urlencoded::parse(&text).map(|(n, v)| (n.into_owned(), v.into_owned())).collect();
            proptest::prop_assert_eq!(ours, theirs);
        }
    }

    #[test]
    fn form_decoding_cases() {
        let pairs = |t: &str| -> Vec<(String, String)> {
            form_pairs(t.as_bytes()).map(|(n, v)| (n.into_owned(), v.into_owned())).collect()
        };
        assert_eq!(
            pairs("query=ASK+%7B%7D&&x&a=b=c&%zz=%4"),
            [
                ("query".into(), "ASK {}".into()),
                ("x".into(), String::new()),
                ("a".into(), "b=c".into()),
                ("%zz".into(), "%4".into()),
            ]
        );
        assert_eq!(pairs("q=%C3%A9%FF"), [("q".into(), "é\u{fffd}".into())]);
    }

    #[test]
    fn post_forms() {
        assert_eq!(status(from_post(None, Some("application/x-www-form-urlencoded"), b"query=ASK%7B%7D")), 200);
        assert_eq!(status(from_post(None, Some("application/sparql-query; charset=utf-8"), b"ASK {}")), 200);
        assert!(matches!(
            from_post(None, Some("application/sparql-update"), b"CLEAR DEFAULT"),
            Ok(SparqlRequest::Update { .. })
        ));
    }
}
