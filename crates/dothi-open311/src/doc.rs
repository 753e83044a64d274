//! One response tree, two serialisations.
//!
//! GeoReport v2 defines every document twice, as JSON and as XML, and the two must never
//! drift apart. Handlers therefore build a [`Node`] tree once and [`render`] writes it in
//! the format the path asked for. JSON needs the field order of the spec (clients and
//! humans diff these documents), which `serde_json::Value` without `preserve_order` would
//! lose, so the tree is serialised directly. XML needs a name for each list item, which JSON
//! has no place for, so lists carry it.

use std::borrow::Cow;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::Serialize;

pub(crate) const JSON_CONTENT_TYPE: &str = "application/json; charset=utf-8";
pub(crate) const XML_CONTENT_TYPE: &str = "text/xml; charset=utf-8";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    Json,
    Xml,
}

impl Format {
    /// Split `name.json` / `name.xml` into the name and the format. Only the last dot counts,
    /// because service codes may themselves contain dots.
    pub(crate) fn split(file: &str) -> Option<(&str, Format)> {
        let (stem, ext) = file.rsplit_once('.')?;
        let format = match ext {
            "json" => Format::Json,
            "xml" => Format::Xml,
            _ => return None,
        };
        (!stem.is_empty()).then_some((stem, format))
    }

    /// The format for answers to paths that matched no route: XML only if the client
    /// clearly asked for it.
    pub(crate) fn of_path(path: &str) -> Format {
        if path.ends_with(".xml") {
            Format::Xml
        } else {
            Format::Json
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Format::Json => JSON_CONTENT_TYPE,
            Format::Xml => XML_CONTENT_TYPE,
        }
    }
}

pub(crate) enum Node {
    /// JSON `null`, an empty element in XML.
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// Fields in output order.
    Object(Vec<(&'static str, Node)>),
    /// A list and the XML element name of each item.
    List(&'static str, Vec<Node>),
    /// Our extensions that have no agreed XML shape; XML clients never see them.
    JsonOnly(Box<Node>),
}

impl Node {
    pub(crate) fn str(s: impl Into<String>) -> Node {
        Node::Str(s.into())
    }

    pub(crate) fn opt_str(s: Option<impl Into<String>>) -> Node {
        s.map_or(Node::Null, Node::str)
    }

    pub(crate) fn opt_float(f: Option<f64>) -> Node {
        f.map_or(Node::Null, Node::Float)
    }
}

impl Serialize for Node {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Node::Null => s.serialize_unit(),
            Node::Bool(b) => s.serialize_bool(*b),
            Node::Int(i) => s.serialize_i64(*i),
            Node::Float(f) => s.serialize_f64(*f),
            Node::Str(v) => s.serialize_str(v),
            Node::Object(fields) => {
                let mut map = s.serialize_map(Some(fields.len()))?;
                for (k, v) in fields {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
            Node::List(_, items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Node::JsonOnly(inner) => inner.serialize(s),
        }
    }
}

/// A whole response: the tree and the name of the XML root element.
pub(crate) struct Doc {
    pub root: &'static str,
    pub node: Node,
}

impl Doc {
    pub(crate) fn new(root: &'static str, node: Node) -> Doc {
        Doc { root, node }
    }
}

pub(crate) fn render(format: Format, status: StatusCode, doc: &Doc) -> Response {
    let body = match format {
        Format::Json => {
            // A 1,000-request page is ~0.5 MB: growing the buffer by doubling would copy it
            // a dozen times.
            let mut body = Vec::with_capacity(64 * 1024);
            serde_json::to_writer(&mut body, &doc.node)
                .map(|_| body)
                .map_err(|e| e.to_string())
        }
        Format::Xml => to_xml(doc).map_err(|e| e.to_string()),
    };
    match body {
        Ok(body) => (
            status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static(format.content_type()),
            )],
            body,
        )
            .into_response(),
        // Unreachable with in-memory writers, but a response must still go out.
        Err(e) => {
            tracing::error!(error = %e, "could not serialise an Open311 response");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

fn to_xml(doc: &Doc) -> std::io::Result<Vec<u8>> {
    let mut w = Writer::new(Vec::with_capacity(64 * 1024));
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("utf-8"), None)))?;
    write_node(&mut w, doc.root, &doc.node)?;
    Ok(w.into_inner())
}

fn write_node(w: &mut Writer<Vec<u8>>, name: &str, node: &Node) -> std::io::Result<()> {
    match node {
        Node::JsonOnly(_) => Ok(()),
        Node::Null => w.write_event(Event::Empty(BytesStart::new(name))),
        Node::Bool(b) => write_text(w, name, if *b { "true" } else { "false" }),
        Node::Int(i) => write_text(w, name, &i.to_string()),
        Node::Float(f) => write_text(w, name, &f.to_string()),
        Node::Str(s) => write_text(w, name, s),
        Node::Object(fields) => {
            w.write_event(Event::Start(BytesStart::new(name)))?;
            for (k, v) in fields {
                write_node(w, k, v)?;
            }
            w.write_event(Event::End(BytesEnd::new(name)))
        }
        Node::List(item, items) => {
            w.write_event(Event::Start(BytesStart::new(name)))?;
            for i in items {
                write_node(w, item, i)?;
            }
            w.write_event(Event::End(BytesEnd::new(name)))
        }
    }
}

fn write_text(w: &mut Writer<Vec<u8>>, name: &str, text: &str) -> std::io::Result<()> {
    w.write_event(Event::Start(BytesStart::new(name)))?;
    let text = xml_chars(text);
    if !text.is_empty() {
        // BytesText::new escapes &, <, >, ' and ".
        w.write_event(Event::Text(BytesText::new(&text)))?;
    }
    w.write_event(Event::End(BytesEnd::new(name)))
}

/// XML 1.0 cannot carry most C0 controls even as character references, and a stray one
/// would make the whole feed unparseable for every client, so they are dropped.
fn xml_chars(text: &str) -> Cow<'_, str> {
    let allowed = |c: char| {
        matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}')
    };
    if text.chars().all(allowed) {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(text.chars().filter(|c| allowed(*c)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Doc {
        Doc::new(
            "things",
            Node::List(
                "thing",
                vec![Node::Object(vec![
                    ("id", Node::str("7")),
                    ("note", Node::str("a < b & \"c\"\u{1}")),
                    ("none", Node::Null),
                    ("n", Node::Float(16.5)),
                    ("ok", Node::Bool(true)),
                    ("extra", Node::JsonOnly(Box::new(Node::Int(1)))),
                ])],
            ),
        )
    }

    #[test]
    fn json_keeps_field_order_and_extensions() {
        let json = String::from_utf8(serde_json::to_vec(&sample().node).unwrap()).unwrap();
        assert_eq!(
            json,
            r#"[{"id":"7","note":"a < b & \"c\"\u0001","none":null,"n":16.5,"ok":true,"extra":1}]"#
        );
    }

    #[test]
    fn xml_escapes_text_drops_controls_and_json_only_fields() {
        let xml = String::from_utf8(to_xml(&sample()).unwrap()).unwrap();
        assert_eq!(
            xml,
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><things><thing><id>7</id>\
             <note>a &lt; b &amp; &quot;c&quot;</note><none/><n>16.5</n><ok>true</ok></thing></things>"
        );
    }

    #[test]
    fn format_comes_from_the_last_suffix_only() {
        assert_eq!(
            Format::split("services.json"),
            Some(("services", Format::Json))
        );
        assert_eq!(Format::split("A.B.xml"), Some(("A.B", Format::Xml)));
        assert_eq!(Format::split("services"), None);
        assert_eq!(Format::split("services.html"), None);
        assert_eq!(Format::split(".json"), None);
    }
}
