//! Triples → compact JSON-LD with the bundled context, written by hand.
//!
//! Why by hand: the oxigraph family's JSON-LD serializer writes expanded property IRIs and
//! value objects (it declares prefixes only), and the full JSON-LD compaction algorithm lives in
//! large async crates built to fetch remote contexts. Our graphs use a fixed, small set of
//! properties, all defined in `context/dcat-ap-3.jsonld`; compacting against that one context is
//! a table look-up. The context is embedded in every document, so nothing is fetched to read
//! it, and the interop test checks that the JSON-LD and the Turtle state the same graph.

use std::collections::HashMap;
use std::sync::LazyLock;

use oxrdf::{Literal, NamedOrBlankNode, Term, Triple};
use serde_json::{json, Map, Value};

use crate::vocab::{RDF, XSD};

/// The JSON-LD context embedded in every JSON-LD document of the export.
pub const CONTEXT: &str = include_str!("../context/dcat-ap-3.jsonld");

enum Coercion {
    Language,
    Id,
    Typed(String),
    Plain,
}

struct Definition {
    term: String,
    coercion: Coercion,
}

struct Context {
    body: Value,
    prefixes: Vec<(String, String)>,
    terms: HashMap<String, Definition>,
}

static PARSED: LazyLock<Context> = LazyLock::new(|| {
    // The bundled context is checked by the crate's tests; were it broken, the documents would
    // carry full IRIs (still valid JSON-LD) rather than the server panic.
    let doc: Value = serde_json::from_str(CONTEXT).unwrap_or_default();
    let body = doc["@context"].clone();
    let no_terms = Map::new();
    let entries = body.as_object().unwrap_or(&no_terms);
    let prefixes: Vec<(String, String)> = entries
        .iter()
        .filter_map(|(k, v)| v.as_str().map(|iri| (k.clone(), iri.to_owned())))
        .collect();
    let expand = |s: &str| -> String {
        if let Some((p, local)) = s.split_once(':') {
            if let Some((_, ns)) = prefixes.iter().find(|(name, _)| name == p) {
                return format!("{ns}{local}");
            }
        }
        s.to_owned()
    };
    let mut terms = HashMap::new();
    for (term, def) in entries {
        let Some(def) = def.as_object() else { continue };
        let Some(id) = def.get("@id").and_then(Value::as_str).map(expand) else {
            continue;
        };
        let coercion = match (
            def.get("@container"),
            def.get("@type").and_then(Value::as_str),
        ) {
            (Some(c), _) if c == "@language" => Coercion::Language,
            (_, Some("@id")) => Coercion::Id,
            (_, Some(t)) => Coercion::Typed(expand(t)),
            _ => Coercion::Plain,
        };
        terms.insert(
            id,
            Definition {
                term: term.clone(),
                coercion,
            },
        );
    }
    Context {
        body,
        prefixes,
        terms,
    }
});

impl Context {
    fn compact_iri(&self, iri: &str) -> String {
        self.prefixes
            .iter()
            .filter(|(_, ns)| iri.len() > ns.len() && iri.starts_with(ns.as_str()))
            .max_by_key(|(_, ns)| ns.len())
            .map(|(p, ns)| format!("{p}:{}", &iri[ns.len()..]))
            .unwrap_or_else(|| iri.to_owned())
    }

    fn value_object(&self, object: &Term) -> Value {
        if let Term::NamedNode(node) = object {
            return json!({ "@id": node.as_str() });
        }
        if let Term::Literal(literal) = object {
            return self.literal_object(literal);
        }
        // The export names every node, but a blank node still has a JSON-LD form.
        json!({ "@id": object.to_string() })
    }

    fn literal_object(&self, literal: &Literal) -> Value {
        if let Some(lang) = literal.language() {
            return json!({ "@value": literal.value(), "@language": lang });
        }
        let datatype = literal.datatype().as_str();
        if datatype == format!("{XSD}string") {
            return Value::String(literal.value().to_owned());
        }
        json!({ "@value": literal.value(), "@type": self.compact_iri(datatype) })
    }
}

#[derive(Default)]
struct Node {
    types: Vec<Value>,
    /// Keys in first-seen order, each with its plain values.
    values: Vec<(String, Vec<Value>)>,
    /// Language-map keys in first-seen order, each with its (language, text) pairs.
    languages: Vec<(String, Vec<(String, String)>)>,
}

fn push<K: PartialEq + Clone, V>(list: &mut Vec<(K, Vec<V>)>, key: &K, value: V) {
    match list.iter_mut().find(|(k, _)| k == key) {
        Some((_, values)) => values.push(value),
        None => list.push((key.clone(), vec![value])),
    }
}

fn one_or_many(mut values: Vec<Value>) -> Value {
    if values.len() == 1 {
        values.remove(0)
    } else {
        Value::Array(values)
    }
}

/// The compact JSON-LD document of `triples`: the context and a flat `@graph` of nodes in the
/// order their subjects first appear.
pub(crate) fn document(triples: &[Triple]) -> Value {
    let ctx = &*PARSED;
    let rdf_type = format!("{RDF}type");
    let mut order: Vec<String> = Vec::new();
    let mut nodes: HashMap<String, Node> = HashMap::new();
    for triple in triples {
        let subject = match &triple.subject {
            NamedOrBlankNode::NamedNode(node) => node.as_str().to_owned(),
            // The export names every node, but a blank node still has a JSON-LD form (`_:b0`).
            NamedOrBlankNode::BlankNode(node) => node.to_string(),
        };
        let node = nodes.entry(subject.clone()).or_insert_with(|| {
            order.push(subject.clone());
            Node::default()
        });
        let predicate = triple.predicate.as_str();
        if predicate == rdf_type {
            if let Term::NamedNode(class) = &triple.object {
                node.types
                    .push(Value::String(ctx.compact_iri(class.as_str())));
                continue;
            }
        }
        let definition = ctx.terms.get(predicate);
        let compacted = definition.and_then(|def| match (&def.coercion, &triple.object) {
            (Coercion::Language, Term::Literal(l)) => l.language().map(|lang| {
                push(
                    &mut node.languages,
                    &def.term,
                    (lang.to_owned(), l.value().to_owned()),
                );
            }),
            (Coercion::Id, Term::NamedNode(iri)) => {
                push(
                    &mut node.values,
                    &def.term,
                    Value::String(iri.as_str().to_owned()),
                );
                Some(())
            }
            (Coercion::Typed(datatype), Term::Literal(l))
                if l.language().is_none() && l.datatype().as_str() == datatype =>
            {
                push(
                    &mut node.values,
                    &def.term,
                    Value::String(l.value().to_owned()),
                );
                Some(())
            }
            (Coercion::Plain, object) => {
                push(&mut node.values, &def.term, ctx.value_object(object));
                Some(())
            }
            _ => None,
        });
        if compacted.is_none() {
            // A value the context has no term for: the compact IRI as key, an explicit value.
            let key = ctx.compact_iri(predicate);
            push(&mut node.values, &key, ctx.value_object(&triple.object));
        }
    }
    let graph = order
        .into_iter()
        .map(|subject| {
            // `order` holds each subject once, as it was inserted into `nodes`.
            let node = nodes.remove(&subject).unwrap_or_default();
            let mut object = Map::new();
            object.insert("@id".into(), Value::String(subject));
            if !node.types.is_empty() {
                object.insert("@type".into(), one_or_many(node.types));
            }
            for (key, values) in node.values {
                object.insert(key, one_or_many(values));
            }
            for (key, by_language) in node.languages {
                let mut map = Map::new();
                for (lang, values) in regroup(by_language) {
                    map.insert(lang, one_or_many(values));
                }
                object.insert(key, Value::Object(map));
            }
            Value::Object(object)
        })
        .collect();
    json!({ "@context": ctx.body.clone(), "@graph": Value::Array(graph) })
}

/// Groups one key's (language, text) pairs by language, languages in first-seen order.
fn regroup(pairs: Vec<(String, String)>) -> Vec<(String, Vec<Value>)> {
    let mut grouped: Vec<(String, Vec<Value>)> = Vec::new();
    for (lang, text) in pairs {
        push(&mut grouped, &lang, Value::String(text));
    }
    grouped
}
