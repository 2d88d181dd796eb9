//! The OpenAPI 3.1 document of the catalogue: one operation per saved query
//! (GET with query parameters, POST with a form or JSON body), each parameter
//! typed from its declaration, with the media types the query form can answer in.

use super::params::{Param, ParamType};
use super::{Catalogue, SavedQuery};
use crate::conneg;
use serde_json::{json, Map, Value};
use std::collections::HashMap;

/// Allowed values of parameters computed from the store, by (query, parameter).
pub type AllowedValues = HashMap<(String, String), Vec<String>>;

/// Builds the document; `base` is the server's public URL.
pub fn document(catalogue: &Catalogue, base: &str, allowed: &AllowedValues) -> Value {
    let mut paths = Map::new();
    paths.insert(
        "/queries".into(),
        json!({
            "get": {
                "operationId": "listSavedQueries",
                "summary": "The catalogue of saved queries",
                "tags": ["catalogue"],
                "responses": {
                    "200": {
                        "description": "The catalogue",
                        "content": {
                            "application/json": { "schema": { "type": "object" } },
                            "text/turtle": { "schema": { "type": "string" } }
                        }
                    }
                }
            }
        }),
    );
    for query in catalogue.iter() {
        paths.insert(format!("/queries/{}", query.name), operations(query, allowed));
        paths.insert(
            format!("/queries/{}.rq", query.name),
            json!({
                "get": {
                    "operationId": format!("{}_source", operation_id(&query.name)),
                    "summary": format!("SPARQL source of '{}'", query.summary),
                    "tags": ["sources"],
                    "responses": {
                        "200": { "description": "The query file", "content": { "application/sparql-query": { "schema": { "type": "string" } } } }
                    }
                }
            }),
        );
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "treaty-kg saved queries",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Named, documented, parameterised SPARQL queries over the treaty-kg knowledge graph. Parameter values are bound as typed RDF terms, never spliced into query text. Every answer names the query version (X-Query-Version) and the data version (X-Data-Version); a truncated answer says so in X-Result-Truncated.",
            "license": { "name": "MIT OR Apache-2.0", "identifier": "MIT OR Apache-2.0" }
        },
        "servers": [ { "url": base } ],
        "paths": paths,
    })
}

fn operation_id(name: &str) -> String {
    name.replace('-', "_")
}

fn operations(query: &SavedQuery, allowed: &AllowedValues) -> Value {
    let mut parameters: Vec<Value> = query
        .params
        .iter()
        .map(|p| {
            json!({
                "name": p.name,
                "in": "query",
                "required": p.required,
                "description": param_description(p),
                "schema": schema(query, p, allowed),
            })
        })
        .collect();
    let media_types = media_types(query);
    parameters.push(json!({
        "name": "format",
        "in": "query",
        "required": false,
        "description": "Output format, overriding the Accept header.",
        "schema": { "type": "string", "enum": media_types.clone() }
    }));
    let mut properties = Map::new();
    for p in &query.params {
        properties.insert(p.name.clone(), schema(query, p, allowed));
    }
    let required: Vec<&str> = query.params.iter().filter(|p| p.required).map(|p| p.name.as_str()).collect();
    let body_schema =
        json!({ "type": "object", "properties": properties, "required": required, "additionalProperties": false });
    let responses = responses(query, &media_types);
    let description = if query.description.is_empty() { query.summary.clone() } else { query.description.clone() };
    json!({
        "get": {
            "operationId": operation_id(&query.name),
            "summary": query.summary,
            "description": description,
            "tags": query.tags,
            "parameters": parameters,
            "responses": responses,
        },
        "post": {
            "operationId": format!("{}_post", operation_id(&query.name)),
            "summary": query.summary,
            "description": description,
            "tags": query.tags,
            "requestBody": {
                "required": false,
                "content": {
                    "application/x-www-form-urlencoded": { "schema": body_schema.clone() },
                    "application/json": { "schema": body_schema },
                }
            },
            "responses": responses,
        }
    })
}

fn param_description(p: &Param) -> String {
    let mut text = if p.description.is_empty() { format!("{}.", p.kind.describe()) } else { p.description.clone() };
    if !p.description.is_empty() {
        text.push_str(&format!(" ({})", p.kind.describe()));
    }
    text
}

fn schema(query: &SavedQuery, p: &Param, allowed: &AllowedValues) -> Value {
    let mut schema = match &p.kind {
        ParamType::Iri { .. } => json!({ "type": "string", "format": "iri" }),
        ParamType::Literal { datatype } => match datatype.as_str().rsplit('#').next().unwrap_or_default() {
            "integer" => json!({ "type": "integer" }),
            "decimal" | "double" => json!({ "type": "number" }),
            "boolean" => json!({ "type": "boolean" }),
            "date" => json!({ "type": "string", "format": "date" }),
            "dateTime" => json!({ "type": "string", "format": "date-time" }),
            "gYear" => json!({ "type": "string", "pattern": "^-?[0-9]{4,}$" }),
            _ => json!({ "type": "string" }),
        },
    };
    let values = p.values.clone().or_else(|| allowed.get(&(query.name.clone(), p.name.clone())).cloned());
    if let (Some(values), Some(object)) = (values, schema.as_object_mut()) {
        let kind = object.get("type").and_then(Value::as_str).unwrap_or("string").to_owned();
        let enumerated: Vec<Value> = values.iter().map(|v| typed(&kind, v)).collect();
        object.insert("enum".into(), Value::Array(enumerated));
    }
    if let (Some(default), Some(object)) = (&p.default, schema.as_object_mut()) {
        let kind = object.get("type").and_then(Value::as_str).unwrap_or("string").to_owned();
        object.insert("default".into(), typed(&kind, default));
    }
    schema
}

fn media_types(query: &SavedQuery) -> Vec<&'static str> {
    let mut types = if query.is_graph() {
        conneg::offered(&conneg::rdf_formats())
    } else {
        conneg::offered(conneg::RESULTS_FORMATS)
    };
    types.dedup();
    types
}

fn responses(query: &SavedQuery, media_types: &[&'static str]) -> Value {
    let mut content = Map::new();
    for media_type in media_types {
        content.insert((*media_type).to_owned(), json!({ "schema": { "type": "string" } }));
    }
    let error = json!({ "text/plain": { "schema": { "type": "string" } } });
    json!({
        "200": {
            "description": format!("The answer of this {} query", query.form()),
            "headers": {
                "ETag": { "description": "Entity tag of this answer", "schema": { "type": "string" } },
                "X-Query-Version": { "description": "sha256 of the query file", "schema": { "type": "string" } },
                "X-Data-Version": { "description": "Version of the data the answer was computed on", "schema": { "type": "string" } },
                "X-Result-Truncated": { "description": "true when the answer was cut at the query's row cap", "schema": { "type": "string", "enum": ["true", "false"] } }
            },
            "content": content,
        },
        "304": { "description": "Not modified (conditional GET with If-None-Match)" },
        "400": { "description": "A missing, unknown or ill-typed parameter", "content": error.clone() },
        "404": { "description": "No saved query has this name", "content": error.clone() },
        "406": { "description": "No acceptable format", "content": error.clone() },
        "503": { "description": "The query timed out", "content": error },
    })
}

/// A parameter's value as JSON of its schema's `type` (a number for a number).
fn typed(kind: &str, v: &str) -> Value {
    match kind {
        "integer" => v.parse::<i64>().map(Value::from).unwrap_or_else(|_| Value::from(v)),
        "number" => v.parse::<f64>().map(Value::from).unwrap_or_else(|_| Value::from(v)),
        "boolean" => Value::from(v == "true" || v == "1"),
        _ => Value::from(v),
    }
}
