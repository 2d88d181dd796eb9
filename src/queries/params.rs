//! Typed saved-query parameters: declaring them, turning a supplied string into
//! an RDF term of the declared type, and binding the terms to the query.
//!
//! Invariant: a value is only ever turned into one RDF term (an IRI or a typed
//! literal) that is substituted for a variable of the parsed query; it is never
//! spliced into query text, so no value can change what the query does.

use crate::error::AppError;
use crate::sparql::results::PREFIXES;
use oxigraph::model::{Literal, NamedNode, Term, Variable};
use std::str::FromStr;

const XSD: &str = "http://www.w3.org/2001/XMLSchema#";

/// The type of a parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamType {
    /// An IRI, optionally required to be an instance of a class.
    Iri { class: Option<NamedNode> },
    /// A literal of an XSD datatype (`xsd:string`, `xsd:integer`, `xsd:date`…).
    Literal { datatype: NamedNode },
}

/// The XSD datatypes parameters may take, with an example value each.
const DATATYPES: &[(&str, &str)] = &[
    ("string", "Latvia"),
    ("integer", "42"),
    ("decimal", "3.14"),
    ("double", "1.5e3"),
    ("boolean", "true"),
    ("date", "2025-03-18"),
    ("dateTime", "2025-03-18T12:00:00Z"),
    ("gYear", "2022"),
];

impl ParamType {
    /// Parses a declared type: `iri` (with an optional class, prefixed or full),
    /// or an XSD datatype (`xsd:date`, `date`, or the full IRI).
    pub fn parse(kind: &str, class: Option<&str>) -> Result<Self, String> {
        let kind = kind.trim();
        if kind.eq_ignore_ascii_case("iri") || kind.eq_ignore_ascii_case("uri") {
            let class = class.map(expand).transpose()?;
            return Ok(ParamType::Iri { class });
        }
        if class.is_some() {
            return Err(format!("`class` only applies to type `iri`, not {kind:?}"));
        }
        let local = kind.strip_prefix("xsd:").or_else(|| kind.strip_prefix(XSD)).unwrap_or(kind);
        if DATATYPES.iter().any(|(d, _)| *d == local) {
            Ok(ParamType::Literal { datatype: NamedNode::new_unchecked(format!("{XSD}{local}")) })
        } else {
            Err(format!(
                "unknown parameter type {kind:?}; use `iri` or one of {}",
                DATATYPES.iter().map(|(d, _)| format!("xsd:{d}")).collect::<Vec<_>>().join(", ")
            ))
        }
    }

    /// The type as people read it: `IRI of tkg:Treaty`, `xsd:date`.
    pub fn describe(&self) -> String {
        match self {
            ParamType::Iri { class: Some(c) } => format!("an IRI of a {}", compact(c.as_str())),
            ParamType::Iri { class: None } => "an IRI".into(),
            ParamType::Literal { datatype } => compact(datatype.as_str()),
        }
    }

    /// An example value of this type.
    pub fn example(&self) -> &'static str {
        match self {
            ParamType::Iri { .. } => "https://w3id.org/treaty-kg/id/state/latvia",
            ParamType::Literal { datatype } => {
                let local = datatype.as_str().trim_start_matches(XSD);
                DATATYPES.iter().find(|(d, _)| *d == local).map(|(_, e)| *e).unwrap_or("")
            }
        }
    }

    /// Turns a supplied value into a term of this type, checking its lexical form.
    pub fn term(&self, value: &str) -> Result<Term, String> {
        match self {
            ParamType::Iri { .. } => NamedNode::new(value.trim())
                .map(Term::from)
                .map_err(|e| format!("expected {}, got {value:?}: {e}", self.describe())),
            ParamType::Literal { datatype } => {
                let local = datatype.as_str().trim_start_matches(XSD);
                let valid = match local {
                    "string" => true,
                    "integer" => oxsdatatypes::Integer::from_str(value).is_ok(),
                    "decimal" => oxsdatatypes::Decimal::from_str(value).is_ok(),
                    "double" => oxsdatatypes::Double::from_str(value).is_ok(),
                    "boolean" => oxsdatatypes::Boolean::from_str(value).is_ok(),
                    "date" => oxsdatatypes::Date::from_str(value).is_ok(),
                    "dateTime" => oxsdatatypes::DateTime::from_str(value).is_ok(),
                    "gYear" => oxsdatatypes::GYear::from_str(value).is_ok(),
                    _ => false,
                };
                if !valid {
                    return Err(format!(
                        "expected {} (for example {}), got {value:?}",
                        self.describe(),
                        self.example()
                    ));
                }
                Ok(if local == "string" {
                    Literal::new_simple_literal(value).into()
                } else {
                    Literal::new_typed_literal(value, datatype.clone()).into()
                })
            }
        }
    }
}

/// A declared parameter of a saved query.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    /// Also the name of the query variable it binds (`?name`).
    pub name: String,
    pub kind: ParamType,
    pub required: bool,
    pub default: Option<String>,
    pub description: String,
    /// The only values allowed, if declared as a list.
    pub values: Option<Vec<String>>,
    /// A SELECT whose first variable gives the allowed values (checked per request).
    pub values_query: Option<String>,
    /// The `values_query`'s first projected variable: a supplied value is
    /// checked by binding it there (one lookup, whatever the list's length).
    pub values_variable: Option<Variable>,
}

/// Binds supplied `(name, value)` pairs to the parameters of a query: unknown,
/// repeated, missing or ill-typed parameters are 400s naming the parameter and
/// the type it expects. Parameters neither supplied nor defaulted stay unbound.
pub fn bind(params: &[Param], supplied: &[(String, String)]) -> Result<Vec<(Variable, Term)>, AppError> {
    for (i, (name, _)) in supplied.iter().enumerate() {
        if !params.iter().any(|p| &p.name == name) {
            let known: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
            return Err(AppError::BadRequest(if known.is_empty() {
                format!("unknown parameter `{name}`: this query takes no parameters")
            } else {
                format!("unknown parameter `{name}`; this query takes: {}", known.join(", "))
            }));
        }
        if supplied[..i].iter().any(|(n, _)| n == name) {
            return Err(AppError::BadRequest(format!("parameter `{name}` is given more than once")));
        }
    }
    let mut bindings = Vec::new();
    for param in params {
        let value = supplied.iter().find(|(n, _)| n == &param.name).map(|(_, v)| v.as_str());
        let value = match (value, &param.default) {
            (Some(v), _) => v,
            (None, Some(default)) => default.as_str(),
            (None, None) if param.required => {
                return Err(AppError::BadRequest(format!(
                    "missing required parameter `{}` ({}, for example {})",
                    param.name,
                    param.kind.describe(),
                    param.kind.example()
                )))
            }
            (None, None) => continue,
        };
        let term =
            param.kind.term(value).map_err(|e| AppError::BadRequest(format!("parameter `{}`: {e}", param.name)))?;
        if let Some(allowed) = &param.values {
            let allowed_terms: Vec<Term> = allowed.iter().filter_map(|v| param.kind.term(v).ok()).collect();
            if !allowed_terms.contains(&term) {
                return Err(AppError::BadRequest(format!(
                    "parameter `{}`: {value:?} is not one of the allowed values: {}",
                    param.name,
                    allowed.join(", ")
                )));
            }
        }
        bindings.push((Variable::new_unchecked(param.name.clone()), term));
    }
    Ok(bindings)
}

/// Expands `prefix:local` with our prefix table, or checks a full IRI.
fn expand(name: &str) -> Result<NamedNode, String> {
    let name = name.trim().trim_start_matches('<').trim_end_matches('>');
    if let Some((prefix, local)) = name.split_once(':') {
        if let Some((_, ns)) = PREFIXES.iter().find(|(p, _)| *p == prefix) {
            return NamedNode::new(format!("{ns}{local}")).map_err(|e| format!("bad class {name:?}: {e}"));
        }
    }
    NamedNode::new(name).map_err(|e| format!("class {name:?} is neither a known prefixed name nor an IRI: {e}"))
}

/// Shortens an IRI with our prefix table when possible.
pub fn compact(iri: &str) -> String {
    PREFIXES
        .iter()
        .find_map(|(p, ns)| {
            iri.strip_prefix(ns).filter(|l| !l.is_empty() && !l.contains('/')).map(|l| format!("{p}:{l}"))
        })
        .unwrap_or_else(|| iri.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn param(name: &str, kind: &str, required: bool, default: Option<&str>) -> Param {
        Param {
            name: name.into(),
            kind: ParamType::parse(kind, None).unwrap(),
            required,
            default: default.map(Into::into),
            description: String::new(),
            values: None,
            values_query: None,
            values_variable: None,
        }
    }

    fn supplied(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(a, b)| ((*a).into(), (*b).into())).collect()
    }

    #[test]
    fn types_check_lexical_forms() {
        let date = ParamType::parse("xsd:date", None).unwrap();
        assert!(date.term("2025-03-18").is_ok());
        assert!(date.term("18/03/2025").unwrap_err().contains("xsd:date"));
        let int = ParamType::parse("integer", None).unwrap();
        assert!(int.term("12").is_ok() && int.term("12.5").is_err());
        let iri = ParamType::parse("iri", Some("tkg:Treaty")).unwrap();
        assert_eq!(iri.describe(), "an IRI of a tkg:Treaty");
        assert!(iri.term("not an iri").is_err());
        assert!(iri.term("http://a/b>").is_err());
        assert!(ParamType::parse("xsd:colour", None).is_err());
        let s = ParamType::parse("xsd:string", None).unwrap();
        assert_eq!(s.term("} ; DROP ALL ; {").unwrap(), Term::from(Literal::new_simple_literal("} ; DROP ALL ; {")));
    }

    #[test]
    fn binding_rules() {
        let params = [param("from", "xsd:date", false, Some("1990-01-01")), param("q", "xsd:string", true, None)];
        let b = bind(&params, &supplied(&[("q", "x")])).unwrap();
        assert_eq!(b.len(), 2, "the default is bound too");
        let e = bind(&params, &supplied(&[])).unwrap_err().to_string();
        assert!(e.contains("missing required parameter `q`") && e.contains("xsd:string"), "{e}");
        let e = bind(&params, &supplied(&[("q", "x"), ("zzz", "1")])).unwrap_err().to_string();
        assert!(e.contains("unknown parameter `zzz`") && e.contains("from, q"), "{e}");
        let e = bind(&params, &supplied(&[("q", "x"), ("from", "yesterday")])).unwrap_err().to_string();
        assert!(e.contains("parameter `from`") && e.contains("xsd:date"), "{e}");
        let e = bind(&params, &supplied(&[("q", "x"), ("q", "y")])).unwrap_err().to_string();
        assert!(e.contains("more than once"), "{e}");
    }
}
