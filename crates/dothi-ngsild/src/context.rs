//! JSON-LD `@context` handling for the NGSI-LD broker (ETSI GS CIM 009 v1.8, §5.5.7).
//!
//! Clients name attributes and types with short terms (`temperature`, `AirQualityObserved`);
//! storage keeps full IRIs so that two clients with different contexts see the same data. This
//! module turns the `@context` a request carries (body member or `Link` header) into a
//! [`Context`] that maps a term to its IRI ([`Context::expand`]) and back
//! ([`Context::compact`]). The NGSI-LD core context (bundled, see `contexts/README.md`) is always
//! applied last, so its terms (`location`, `observedAt`, `value`, …) cannot be redefined; unknown
//! terms expand through its `@vocab` to `https://uri.etsi.org/ngsi-ld/default-context/<term>`.
//!
//! This is deliberately not the full JSON-LD 1.1 context processing algorithm. NGSI-LD only
//! uses the part of JSON-LD that names things: term definitions (a string or an object's
//! `@id`), compact IRIs (`prefix:suffix`), `@vocab`, keyword aliases (`id` → `@id`),
//! `@protected` and `@import`. Value coercion (`@type`, `@container`, `@language`) and scoped
//! contexts do not change a term's IRI and are ignored. The JSON-LD crates that do implement
//! the whole algorithm are asynchronous, pull in a large dependency tree, and do not expose the
//! inverse (IRI → term) map that compacting every attribute name of every response needs; here
//! both directions are single hash lookups.
//!
//! Documents behind URLs are not fetched here: [`missing_urls`] tells the broker which URLs it
//! must fetch and [`ContextDocuments::insert`] stores them, after which [`resolve`] succeeds.
//! Resolution results are memoised per `@context` value, because nearly every request of a
//! given client carries the same one.
//!
//! Two places where NGSI-LD's "core is last" rule is read narrowly, on purpose:
//! * The core's *terms* win over any user definition, but the core's `@vocab` is only the
//!   default: a client that sets `@vocab` gets it for its unknown terms (otherwise a user
//!   `@vocab` could never have any effect). `"@vocab": null` restores that default.
//! * A term mapped to `null` (or `{"@id": null}`) removes an earlier definition so that the
//!   term falls back to `@vocab`; a broker cannot silently drop attributes as JSON-LD would.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::Value;

/// The URL of the NGSI-LD core context this broker implements.
pub const CORE_CONTEXT_URL: &str =
    "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld";

/// The `rel` of a `Link` header that carries a JSON-LD context.
pub const JSONLD_CONTEXT_REL: &str = "http://www.w3.org/ns/json-ld#context";

/// Older official core context URLs. Clients written against earlier versions of the
/// specification still send them, and the core is never fetched, so they get the bundled v1.8
/// definitions. Later versions mostly add terms; the unversioned URL (which ETSI updates to
/// the latest core) once served a pre-v1.3 core in which a few terms (`name`, `description`,
/// `geometry`, …) had other IRIs — v1.8 semantics apply to it too.
const CORE_ALIAS_URLS: [&str; 6] = [
    "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld",
    "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.3.jsonld",
    "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.4.jsonld",
    "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.5.jsonld",
    "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.6.jsonld",
    "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.7.jsonld",
];

const CORE_CONTEXT_JSON: &str = include_str!("../contexts/ngsi-ld-core-context-v1.8.jsonld");

/// How many documents may reference one another in a chain before we give up; real contexts
/// nest two or three deep, so a longer chain is a mistake or an attack.
const MAX_DEPTH: usize = 16;
/// Bounds the memo so that clients sending ever-different inline contexts cannot grow it
/// without limit; clearing it wholesale is fine because rebuilding an entry is cheap.
const MEMO_CAPACITY: usize = 256;
/// Larger `@context` values are resolved without memoising: their key would cost memory and
/// they are rare on a request path.
const MEMO_MAX_KEY_LEN: usize = 16 * 1024;

/// JSON-LD keywords (JSON-LD 1.1 §1.7) that a term may alias.
const KEYWORDS: [&str; 25] = [
    "@base",
    "@container",
    "@context",
    "@direction",
    "@graph",
    "@id",
    "@import",
    "@included",
    "@index",
    "@json",
    "@language",
    "@list",
    "@nest",
    "@none",
    "@prefix",
    "@propagate",
    "@protected",
    "@reverse",
    "@set",
    "@type",
    "@value",
    "@version",
    "@vocab",
    "@any",
    "@null",
];

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ContextError {
    /// The context references a URL whose document has not been inserted (yet).
    #[error("the JSON-LD context {url} is not available")]
    NotAvailable { url: String },
    #[error("invalid JSON-LD context: {reason}")]
    Invalid { reason: String },
}

fn invalid(reason: impl Into<String>) -> ContextError {
    ContextError::Invalid {
        reason: reason.into(),
    }
}

/// Prefixes the reason of an `Invalid` error with where it happened, so a client can tell
/// which of its (possibly nested) documents is at fault.
fn within(url: &str, err: ContextError) -> ContextError {
    match err {
        ContextError::Invalid { reason } => invalid(format!("in {url}: {reason}")),
        other => other,
    }
}

/// One element of a context value once validated: what `resolve` folds over.
#[derive(Debug)]
enum Item {
    /// `null`: back to the initial (core-only) context.
    Reset,
    Url(String),
    Inline(Arc<Inline>),
}

/// A validated context object (a "local context" in JSON-LD terms).
#[derive(Debug, Default, Clone)]
struct Inline {
    /// Absent, `null` (`Some(None)`), or a value still to be expanded.
    vocab: Option<Option<String>>,
    import: Option<String>,
    protected: bool,
    /// Ordered so that errors (which of two cyclic terms is reported) are deterministic.
    terms: BTreeMap<String, TermDef>,
}

#[derive(Debug, Clone)]
enum TermDef {
    Null,
    Def {
        /// `None` when the definition is an object without `@id`.
        id: Option<String>,
        protected: Option<bool>,
    },
}

/// A stored document and its parsed `@context`, computed once at insert time.
#[derive(Clone)]
struct Stored {
    doc: Arc<Value>,
    items: Arc<[Item]>,
}

/// The context documents the broker knows, by URL, and a memo of resolved contexts.
///
/// Cloning is cheap-ish (documents are shared); a clone shares the memo until either side is
/// modified, at which point the modified side starts a fresh one.
#[derive(Clone, Default)]
pub struct ContextDocuments {
    entries: HashMap<String, Stored>,
    memo: Arc<Mutex<HashMap<String, Context>>>,
}

impl fmt::Debug for ContextDocuments {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ContextDocuments")
            .field("urls", &self.urls())
            .finish()
    }
}

impl ContextDocuments {
    /// The bundled core context, under its v1.8 URL and the URLs of older core versions.
    pub fn with_core() -> Self {
        let core = core();
        let items: Arc<[Item]> = Arc::from(Vec::new());
        let stored = Stored {
            doc: core.doc.clone(),
            items,
        };
        let mut entries = HashMap::new();
        for url in std::iter::once(CORE_CONTEXT_URL).chain(CORE_ALIAS_URLS) {
            entries.insert(url.to_owned(), stored.clone());
        }
        ContextDocuments {
            entries,
            memo: Arc::default(),
        }
    }

    /// Stores the document fetched from `url`. The document must be a JSON object with an
    /// `@context` member; that member is validated here, and as far as the documents it
    /// references are already known, resolved, so that a broken context is refused when it
    /// is fetched rather than on every later request. Replacing a document is allowed (the
    /// broker may refresh a cached one); the core context cannot be replaced.
    pub fn insert(&mut self, url: &str, doc: Value) -> Result<(), ContextError> {
        if Self::is_core(url) {
            return Err(invalid(format!(
                "{url} is the NGSI-LD core context, which is built in and cannot be replaced"
            )));
        }
        check_url(url)?;
        let items = match &doc {
            Value::Object(map) => match map.get("@context") {
                Some(ctx) => parse_items(ctx).map_err(|e| within(url, e))?,
                None => {
                    return Err(invalid(format!(
                        "the document at {url} has no top-level @context member"
                    )))
                }
            },
            other => {
                return Err(invalid(format!(
                    "the document at {url} must be a JSON object with an @context member, \
                     found {}",
                    kind(other)
                )))
            }
        };
        let mut candidate = self.entries.clone();
        candidate.insert(
            url.to_owned(),
            Stored {
                doc: Arc::new(doc),
                items: items.into(),
            },
        );
        let candidate = ContextDocuments {
            entries: candidate,
            memo: Arc::default(),
        };
        match resolve(&Value::String(url.to_owned()), &candidate) {
            Ok(_) | Err(ContextError::NotAvailable { .. }) => {}
            Err(err) => return Err(err),
        }
        // Keeps the trial's memo: it holds the entry for this URL, and nothing else can be
        // stale because the candidate started empty.
        *self = candidate;
        Ok(())
    }

    /// The document as inserted (or the bundled core for a core URL after [`Self::with_core`]).
    pub fn get(&self, url: &str) -> Option<Arc<Value>> {
        self.entries.get(url).map(|stored| stored.doc.clone())
    }

    /// Forgets a document; `false` if it was unknown or is the core context (which stays).
    pub fn remove(&mut self, url: &str) -> bool {
        if Self::is_core(url) || self.entries.remove(url).is_none() {
            return false;
        }
        self.memo = Arc::default();
        true
    }

    /// Known URLs, sorted.
    pub fn urls(&self) -> Vec<String> {
        let mut urls: Vec<String> = self.entries.keys().cloned().collect();
        urls.sort();
        urls
    }

    /// Whether `url` names the NGSI-LD core context (v1.8 or an older official version).
    pub fn is_core(url: &str) -> bool {
        url == CORE_CONTEXT_URL || CORE_ALIAS_URLS.contains(&url)
    }

    fn memo_get(&self, key: &str) -> Option<Context> {
        // A panic while holding the lock cannot leave a half-inserted entry behind, so a
        // poisoned memo is still consistent.
        let memo = self
            .memo
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        memo.get(key).cloned()
    }

    fn memo_put(&self, key: String, context: Context) {
        let mut memo = self
            .memo
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if memo.len() >= MEMO_CAPACITY {
            memo.clear();
        }
        memo.insert(key, context);
    }
}

/// An active context: expands terms to IRIs and compacts IRIs to terms. Cheap to clone.
#[derive(Clone)]
pub struct Context {
    inner: Arc<Active>,
}

struct Active {
    /// Term → IRI, or → keyword for aliases such as `id` → `@id`.
    terms: HashMap<String, String>,
    vocab: String,
    /// IRI (or keyword) → the term chosen to compact it.
    reverse: HashMap<String, String>,
    /// IRI ending in `/`, `#`, … → the term chosen to write compact IRIs with it.
    prefixes: HashMap<String, String>,
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("terms", &self.inner.terms.len())
            .field("vocab", &self.inner.vocab)
            .finish()
    }
}

impl Context {
    /// The core context alone (what a request without `@context` or `Link` uses).
    pub fn core(_docs: &ContextDocuments) -> Context {
        core().context.clone()
    }

    /// The IRI of an attribute or type name. Keyword aliases yield the keyword (`id` → `@id`).
    pub fn expand(&self, term: &str) -> String {
        let active = &*self.inner;
        if let Some(iri) = active.terms.get(term) {
            return iri.clone();
        }
        if term.starts_with('@') {
            return term.to_owned();
        }
        if let Some((prefix, suffix)) = term.split_once(':') {
            if prefix != "_" && !suffix.starts_with("//") {
                if let Some(base) = active.terms.get(prefix).filter(|iri| !is_keyword_like(iri)) {
                    return format!("{base}{suffix}");
                }
            }
            // An absolute IRI, a URN or a blank node identifier.
            return term.to_owned();
        }
        format!("{}{}", active.vocab, term)
    }

    /// The shortest faithful name for `iri`: a term mapped to it, else the remainder after
    /// `@vocab`, else a compact IRI, else `iri` itself. `compact(expand(t)) == t` holds for
    /// every term the user context defines (bar aliases of one IRI) and for undefined terms.
    pub fn compact(&self, iri: &str) -> String {
        let active = &*self.inner;
        if let Some(term) = active.reverse.get(iri) {
            return term.clone();
        }
        if iri.starts_with('@') {
            return iri.to_owned();
        }
        // Before compact IRIs, as in JSON-LD: the core's `ngsi-ld:` prefix would otherwise
        // turn an undefined `speed` into `ngsi-ld:default-context/speed`.
        if let Some(rest) = iri.strip_prefix(active.vocab.as_str()) {
            if !rest.is_empty()
                && !rest.contains(':')
                && !rest.starts_with('@')
                && !active.terms.contains_key(rest)
            {
                return rest.to_owned();
            }
        }
        // Longest prefix first: each gen-delim is a possible end of a prefix IRI.
        for (at, c) in iri.char_indices().rev() {
            if !is_gen_delim(c) {
                continue;
            }
            let (base, suffix) = iri.split_at(at + c.len_utf8());
            if suffix.is_empty() || suffix.starts_with("//") {
                continue;
            }
            if let Some(prefix) = active.prefixes.get(base) {
                let compacted = format!("{prefix}:{suffix}");
                if !active.terms.contains_key(&compacted) {
                    return compacted;
                }
            }
        }
        iri.to_owned()
    }
}

/// `local` is the @context value as sent: a URL string, an object, an array of those, or Null.
/// The core context is always applied last (it cannot be overridden, §5.5.7).
pub fn resolve(local: &Value, docs: &ContextDocuments) -> Result<Context, ContextError> {
    match local {
        Value::Null => return Ok(core().context.clone()),
        Value::String(url) if ContextDocuments::is_core(url) => return Ok(core().context.clone()),
        _ => {}
    }
    let key = serde_json::to_string(local)
        .ok()
        .filter(|key| key.len() <= MEMO_MAX_KEY_LEN);
    if let Some(hit) = key.as_deref().and_then(|key| docs.memo_get(key)) {
        return Ok(hit);
    }
    let core = core();
    let items = parse_items(local)?;
    let mut state = State::over_core(core);
    state.apply_items(&items, docs, &mut Vec::new())?;
    let mut terms = state.terms;
    // The core is applied last: its terms replace any user definition of the same name.
    for (term, entry) in &core.terms {
        terms.insert(term.clone(), entry.clone());
    }
    let context = build_context(terms, state.vocab);
    if let Some(key) = key {
        docs.memo_put(key, context.clone());
    }
    Ok(context)
}

/// URLs referenced by `local` (recursively through documents already known) that `docs` lacks.
pub fn missing_urls(local: &Value, docs: &ContextDocuments) -> Vec<String> {
    let mut pending: Vec<String> = Vec::new();
    collect_urls(local, &mut pending);
    pending.reverse();
    let mut seen = HashSet::new();
    let mut missing = Vec::new();
    // Depth-first with an explicit stack: a long chain of documents must not overflow ours.
    while let Some(url) = pending.pop() {
        // A relative or malformed reference cannot be fetched; `resolve` reports it as Invalid.
        if ContextDocuments::is_core(&url) || !is_absolute_iri(&url) || !seen.insert(url.clone()) {
            continue;
        }
        match docs.entries.get(&url) {
            None => missing.push(url),
            Some(stored) => {
                let mut nested = Vec::new();
                for item in stored.items.iter() {
                    match item {
                        Item::Url(u) => nested.push(u.clone()),
                        Item::Inline(inline) => nested.extend(inline.import.iter().cloned()),
                        Item::Reset => {}
                    }
                }
                pending.extend(nested.into_iter().rev());
            }
        }
    }
    missing
}

fn collect_urls(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(url) => out.push(url.clone()),
        Value::Array(items) => items.iter().for_each(|item| collect_urls(item, out)),
        Value::Object(map) => {
            if let Some(Value::String(url)) = map.get("@import") {
                out.push(url.clone());
            }
        }
        _ => {}
    }
}

/// Parses a Link header value; Ok(None) when no rel="http://www.w3.org/ns/json-ld#context" link.
///
/// RFC 8288 syntax: `<target>; param=value; param="quoted", <target2>; …`. Several links with
/// the JSON-LD context relation are ambiguous (which context applies?) and refused.
pub fn parse_link_header(value: &str) -> Result<Option<String>, ContextError> {
    let mut cursor = Cursor { text: value, at: 0 };
    let mut found: Option<String> = None;
    loop {
        while cursor.peek().is_some_and(|c| c == ',' || is_ows(c)) {
            cursor.bump();
        }
        if cursor.peek().is_none() {
            return Ok(found);
        }
        if cursor.peek() != Some('<') {
            return Err(invalid(format!(
                "Link header: expected '<' at offset {}, found {:?}",
                cursor.at,
                cursor.rest()
            )));
        }
        let open = cursor.at;
        cursor.bump();
        let Some(len) = cursor.rest().find('>') else {
            return Err(invalid(format!(
                "Link header: the '<' at offset {open} is not closed by '>'"
            )));
        };
        let target = cursor.rest()[..len].trim().to_owned();
        cursor.at += len + 1;
        if target.is_empty() {
            return Err(invalid(format!(
                "Link header: empty link target at offset {open}"
            )));
        }
        let mut rel: Option<String> = None;
        loop {
            cursor.skip_ows();
            match cursor.peek() {
                None | Some(',') => break,
                Some(';') => cursor.bump(),
                Some(other) => {
                    return Err(invalid(format!(
                        "Link header: expected ';' or ',' at offset {}, found {other:?}",
                        cursor.at
                    )))
                }
            }
            cursor.skip_ows();
            let name = cursor.take_token();
            if name.is_empty() {
                // A trailing ';' with nothing after it is harmless.
                if matches!(cursor.peek(), None | Some(',')) {
                    continue;
                }
                return Err(invalid(format!(
                    "Link header: expected a parameter name at offset {}",
                    cursor.at
                )));
            }
            cursor.skip_ows();
            let mut param_value = String::new();
            if cursor.peek() == Some('=') {
                cursor.bump();
                cursor.skip_ows();
                param_value = if cursor.peek() == Some('"') {
                    cursor.take_quoted()?
                } else {
                    cursor.take_token().to_owned()
                };
            }
            // RFC 8288 §3.3: occurrences of rel after the first are ignored.
            if name.eq_ignore_ascii_case("rel") && rel.is_none() {
                rel = Some(param_value);
            }
        }
        let is_context = rel.is_some_and(|rel| {
            rel.split_ascii_whitespace()
                .any(|r| r == JSONLD_CONTEXT_REL)
        });
        if is_context {
            if found.is_some() {
                return Err(invalid(
                    "Link header: more than one link has rel=\"http://www.w3.org/ns/json-ld#context\"",
                ));
            }
            found = Some(target);
        }
    }
}

struct Cursor<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Cursor<'a> {
    fn rest(&self) -> &'a str {
        &self.text[self.at..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn bump(&mut self) {
        if let Some(c) = self.peek() {
            self.at += c.len_utf8();
        }
    }

    fn skip_ows(&mut self) {
        while self.peek().is_some_and(is_ows) {
            self.bump();
        }
    }

    /// Up to the next delimiter of the parameter grammar.
    fn take_token(&mut self) -> &'a str {
        let rest = self.rest();
        let len = rest
            .find(|c: char| matches!(c, ';' | ',' | '=') || is_ows(c))
            .unwrap_or(rest.len());
        self.at += len;
        &rest[..len]
    }

    fn take_quoted(&mut self) -> Result<String, ContextError> {
        let open = self.at;
        self.bump();
        let mut out = String::new();
        loop {
            match self.peek() {
                None => {
                    return Err(invalid(format!(
                        "Link header: the quoted string at offset {open} is not closed"
                    )))
                }
                Some('"') => {
                    self.bump();
                    return Ok(out);
                }
                Some('\\') => {
                    self.bump();
                    if let Some(escaped) = self.peek() {
                        out.push(escaped);
                        self.bump();
                    }
                }
                Some(c) => {
                    out.push(c);
                    self.bump();
                }
            }
        }
    }
}

fn is_ows(c: char) -> bool {
    c == ' ' || c == '\t'
}

// ---------------------------------------------------------------------------------------------
// Parsing and validation of context values.

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn parse_items(value: &Value) -> Result<Vec<Item>, ContextError> {
    let mut items = Vec::new();
    match value {
        Value::Array(elements) => {
            for element in elements {
                if element.is_array() {
                    return Err(invalid("an @context array cannot contain another array"));
                }
                items.push(parse_item(element)?);
            }
        }
        other => items.push(parse_item(other)?),
    }
    Ok(items)
}

fn parse_item(value: &Value) -> Result<Item, ContextError> {
    match value {
        Value::Null => Ok(Item::Reset),
        Value::String(url) => {
            check_url(url)?;
            Ok(Item::Url(url.clone()))
        }
        Value::Object(map) => Ok(Item::Inline(Arc::new(parse_inline(map)?))),
        other => Err(invalid(format!(
            "@context must be a URL, an object, an array of those, or null; found {}",
            kind(other)
        ))),
    }
}

fn parse_inline(map: &serde_json::Map<String, Value>) -> Result<Inline, ContextError> {
    let mut inline = Inline::default();
    for (key, value) in map {
        match key.as_str() {
            "" => return Err(invalid("a term in @context is the empty string")),
            "@vocab" => {
                inline.vocab = Some(match value {
                    Value::Null => None,
                    Value::String(vocab) => {
                        // "" is allowed: it means "the current vocabulary".
                        if !vocab.is_empty() && !is_valid_iri_chars(vocab) {
                            return Err(invalid(format!("@vocab \"{vocab}\" is not a valid IRI")));
                        }
                        Some(vocab.clone())
                    }
                    other => {
                        return Err(invalid(format!(
                            "@vocab must be a string or null, found {}",
                            kind(other)
                        )))
                    }
                });
            }
            "@version" => {
                if value.as_f64() != Some(1.1) {
                    return Err(invalid(format!("@version must be 1.1, found {value}")));
                }
            }
            "@protected" => {
                inline.protected = value.as_bool().ok_or_else(|| {
                    invalid(format!(
                        "@protected must be true or false, found {}",
                        kind(value)
                    ))
                })?;
            }
            "@import" => match value {
                Value::String(url) => {
                    check_url(url)?;
                    inline.import = Some(url.clone());
                }
                other => {
                    return Err(invalid(format!(
                        "@import must be a URL string, found {}",
                        kind(other)
                    )))
                }
            },
            // These shape values, not names; @type here is JSON-LD 1.1's `{"@container": "@set"}`.
            "@base" | "@language" | "@direction" | "@propagate" | "@type" => {}
            keyword if KEYWORDS.contains(&keyword) => {
                return Err(invalid(format!(
                    "the keyword {keyword} cannot be redefined"
                )));
            }
            // JSON-LD 1.1 reserves every other `@name` and says to ignore it.
            reserved if is_keyword_like(reserved) => {}
            term => {
                inline
                    .terms
                    .insert(term.to_owned(), parse_term(term, value)?);
            }
        }
    }
    Ok(inline)
}

fn parse_term(term: &str, value: &Value) -> Result<TermDef, ContextError> {
    match value {
        Value::Null => Ok(TermDef::Null),
        Value::String(id) => {
            check_id(term, id)?;
            Ok(TermDef::Def {
                id: Some(id.clone()),
                protected: None,
            })
        }
        Value::Object(def) => {
            // A reverse property still names an IRI; NGSI-LD has no use for the direction.
            let id = match def.get("@id").or_else(|| def.get("@reverse")) {
                None => None,
                Some(Value::Null) => return Ok(TermDef::Null),
                Some(Value::String(id)) => {
                    check_id(term, id)?;
                    Some(id.clone())
                }
                Some(other) => {
                    return Err(invalid(format!(
                        "term \"{term}\": @id must be a string or null, found {}",
                        kind(other)
                    )))
                }
            };
            if let Some(coercion) = def.get("@type") {
                if !coercion.is_string() {
                    return Err(invalid(format!(
                        "term \"{term}\": @type must be a string, found {}",
                        kind(coercion)
                    )));
                }
            }
            let protected = match def.get("@protected") {
                None => None,
                Some(Value::Bool(flag)) => Some(*flag),
                Some(other) => {
                    return Err(invalid(format!(
                        "term \"{term}\": @protected must be true or false, found {}",
                        kind(other)
                    )))
                }
            };
            if let Some(prefix) = def.get("@prefix") {
                if !prefix.is_boolean() {
                    return Err(invalid(format!(
                        "term \"{term}\": @prefix must be true or false, found {}",
                        kind(prefix)
                    )));
                }
            }
            Ok(TermDef::Def { id, protected })
        }
        other => Err(invalid(format!(
            "term \"{term}\" must map to a string, an object or null; found {}",
            kind(other)
        ))),
    }
}

fn check_id(term: &str, id: &str) -> Result<(), ContextError> {
    if id == "@context" {
        return Err(invalid(format!(
            "term \"{term}\": @context cannot be aliased"
        )));
    }
    if id.starts_with('@') {
        return Ok(());
    }
    if is_valid_iri_chars(id) {
        Ok(())
    } else {
        Err(invalid(format!(
            "term \"{term}\": \"{id}\" in @id is not a valid IRI"
        )))
    }
}

/// Rejects characters RFC 3987 never allows in an IRI: catches prose or broken templates.
fn is_valid_iri_chars(iri: &str) -> bool {
    let bad = |c: char| {
        c.is_whitespace()
            || c.is_control()
            || matches!(c, '<' | '>' | '"' | '{' | '}' | '|' | '\\' | '^' | '`')
    };
    !iri.is_empty() && !iri.contains(bad)
}

/// `scheme ":" …` with RFC 3986's scheme syntax.
fn has_scheme(iri: &str) -> bool {
    let Some((scheme, _)) = iri.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

fn is_absolute_iri(iri: &str) -> bool {
    has_scheme(iri) && is_valid_iri_chars(iri)
}

fn check_url(url: &str) -> Result<(), ContextError> {
    if is_absolute_iri(url) {
        Ok(())
    } else {
        Err(invalid(format!(
            "\"{url}\" is not an absolute URL; context references must be"
        )))
    }
}

/// `@` followed by letters only: JSON-LD's reserved keyword form.
fn is_keyword_like(s: &str) -> bool {
    s.strip_prefix('@')
        .is_some_and(|rest| !rest.is_empty() && rest.chars().all(|c| c.is_ascii_alphabetic()))
}

/// RFC 3986 gen-delims: where a prefix IRI may end.
fn is_gen_delim(c: char) -> bool {
    matches!(c, ':' | '/' | '?' | '#' | '[' | ']' | '@')
}

// ---------------------------------------------------------------------------------------------
// Applying contexts.

#[derive(Debug, Clone)]
struct Entry {
    /// An absolute IRI, a blank node identifier or a keyword.
    iri: String,
    protected: bool,
    /// Defined by a user context (not the core): preferred when compacting.
    user: bool,
}

struct State<'a> {
    terms: HashMap<String, Entry>,
    vocab: String,
    /// What `null` resets to and what `"@vocab": null` restores.
    base_terms: &'a HashMap<String, Entry>,
    base_vocab: &'a str,
    user: bool,
}

impl<'a> State<'a> {
    fn over_core(core: &'a Core) -> Self {
        State {
            terms: core.terms.clone(),
            vocab: core.vocab.clone(),
            base_terms: &core.terms,
            base_vocab: &core.vocab,
            user: true,
        }
    }

    fn apply_items(
        &mut self,
        items: &[Item],
        docs: &ContextDocuments,
        stack: &mut Vec<String>,
    ) -> Result<(), ContextError> {
        // Errors about definitions name the document they are in (the innermost one); errors
        // about the chain itself already spell the chain out.
        fn here(stack: &[String], err: ContextError) -> ContextError {
            match stack.last() {
                Some(url) => within(url, err),
                None => err,
            }
        }
        for item in items {
            match item {
                Item::Reset => self.reset().map_err(|e| here(stack, e))?,
                Item::Url(url) => {
                    // The core is applied last anyway, and its terms are already in place.
                    if ContextDocuments::is_core(url) {
                        continue;
                    }
                    let stored = docs
                        .entries
                        .get(url)
                        .ok_or_else(|| ContextError::NotAvailable { url: url.clone() })?;
                    if stack.contains(url) {
                        let chain = stack.iter().map(String::as_str).chain([url.as_str()]);
                        return Err(invalid(format!(
                            "cyclic context reference: {}",
                            chain.collect::<Vec<_>>().join(" -> ")
                        )));
                    }
                    if stack.len() == MAX_DEPTH {
                        return Err(invalid(format!(
                            "context documents nest more than {MAX_DEPTH} levels deep \
                             (reached {url})"
                        )));
                    }
                    stack.push(url.clone());
                    self.apply_items(&stored.items, docs, stack)?;
                    stack.pop();
                }
                Item::Inline(inline) => self
                    .apply_inline(inline, docs)
                    .map_err(|e| here(stack, e))?,
            }
        }
        Ok(())
    }

    fn reset(&mut self) -> Result<(), ContextError> {
        if let Some((term, _)) = self.terms.iter().find(|(_, e)| e.user && e.protected) {
            return Err(invalid(format!(
                "a null @context cannot clear the protected term \"{term}\""
            )));
        }
        self.terms = self.base_terms.clone();
        self.vocab = self.base_vocab.to_owned();
        Ok(())
    }

    fn apply_inline(
        &mut self,
        inline: &Inline,
        docs: &ContextDocuments,
    ) -> Result<(), ContextError> {
        let merged;
        let inline = match &inline.import {
            None => inline,
            Some(url) => {
                merged = import(url, inline, docs)?;
                &merged
            }
        };
        if let Some(vocab) = &inline.vocab {
            self.vocab = match vocab {
                None => self.base_vocab.to_owned(),
                Some(vocab) => self.expand_vocab(vocab)?,
            };
        }
        // Definitions may use one another in any order (`"sdm:NO2"` before `"sdm"`), so each
        // term is defined on demand; `done` also detects cycles.
        let mut done: HashMap<&str, bool> = HashMap::with_capacity(inline.terms.len());
        for term in inline.terms.keys() {
            self.define(inline, term, &mut done)?;
        }
        Ok(())
    }

    fn expand_vocab(&self, vocab: &str) -> Result<String, ContextError> {
        if vocab.is_empty() {
            return Ok(self.vocab.clone());
        }
        let expanded = if let Some(entry) = self.terms.get(vocab) {
            entry.iri.clone()
        } else if let Some(iri) = self.expand_prefixed(vocab) {
            iri
        } else if has_scheme(vocab) || vocab.starts_with("_:") {
            vocab.to_owned()
        } else {
            // JSON-LD 1.1: a relative @vocab is relative to the current one.
            format!("{}{vocab}", self.vocab)
        };
        if is_keyword_like(&expanded) || !(is_absolute_iri(&expanded) || expanded.starts_with("_:"))
        {
            return Err(invalid(format!(
                "@vocab \"{vocab}\" does not expand to an absolute IRI"
            )));
        }
        Ok(expanded)
    }

    /// `prefix:suffix` with a known, non-keyword prefix.
    fn expand_prefixed(&self, value: &str) -> Option<String> {
        let (prefix, suffix) = value.split_once(':')?;
        if prefix == "_" || suffix.starts_with("//") {
            return None;
        }
        let entry = self.terms.get(prefix)?;
        (!is_keyword_like(&entry.iri)).then(|| format!("{}{suffix}", entry.iri))
    }

    fn define<'i>(
        &mut self,
        inline: &'i Inline,
        term: &'i str,
        done: &mut HashMap<&'i str, bool>,
    ) -> Result<(), ContextError> {
        match done.get(term) {
            Some(true) => return Ok(()),
            Some(false) => {
                return Err(invalid(format!(
                    "term \"{term}\" is defined through itself (cyclic IRI mapping)"
                )))
            }
            None => {}
        }
        let Some(def) = inline.terms.get_key_value(term) else {
            return Ok(());
        };
        let (term, def) = (def.0.as_str(), def.1);
        done.insert(term, false);
        let (iri, protected) = match def {
            TermDef::Null => (None, inline.protected),
            TermDef::Def { id, protected } => {
                let iri = match id {
                    Some(id) if id != term => self.expand_id(inline, id, done)?,
                    _ => Some(self.expand_self(inline, term, done)?),
                };
                (iri, protected.unwrap_or(inline.protected))
            }
        };
        // `@id` of keyword form that is no keyword: JSON-LD ignores the definition.
        let ignored = matches!(def, TermDef::Def { .. }) && iri.is_none();
        if !ignored {
            if let Some(iri) = &iri {
                let valid = KEYWORDS.contains(&iri.as_str())
                    || iri.starts_with("_:")
                    || is_absolute_iri(iri);
                if !valid {
                    return Err(invalid(format!(
                        "term \"{term}\" expands to \"{iri}\", which is not an absolute IRI"
                    )));
                }
            }
            if let Some(old) = self.terms.get(term) {
                if old.user && old.protected && iri.as_deref() != Some(old.iri.as_str()) {
                    return Err(invalid(format!(
                        "term \"{term}\" is protected by an earlier context and cannot be \
                         redefined"
                    )));
                }
            }
            match iri {
                None => {
                    self.terms.remove(term);
                }
                Some(iri) => {
                    let entry = Entry {
                        iri,
                        protected,
                        user: self.user,
                    };
                    self.terms.insert(term.to_owned(), entry);
                }
            }
        }
        done.insert(term, true);
        Ok(())
    }

    /// IRI expansion of an `@id` value (vocabulary-relative, JSON-LD 1.1 §5.2).
    fn expand_id<'i>(
        &mut self,
        inline: &'i Inline,
        id: &'i str,
        done: &mut HashMap<&'i str, bool>,
    ) -> Result<Option<String>, ContextError> {
        if id.starts_with('@') {
            return Ok(KEYWORDS.contains(&id).then(|| id.to_owned()));
        }
        if inline.terms.contains_key(id) {
            self.define(inline, id, done)?;
        }
        if let Some(entry) = self.terms.get(id) {
            return Ok(Some(entry.iri.clone()));
        }
        if let Some((prefix, _)) = id.split_once(':') {
            if inline.terms.contains_key(prefix) {
                self.define(inline, prefix, done)?;
            }
            return Ok(Some(
                self.expand_prefixed(id).unwrap_or_else(|| id.to_owned()),
            ));
        }
        Ok(Some(format!("{}{id}", self.vocab)))
    }

    /// The IRI of a term defined without `@id` (or with `@id` equal to itself).
    fn expand_self<'i>(
        &mut self,
        inline: &'i Inline,
        term: &'i str,
        done: &mut HashMap<&'i str, bool>,
    ) -> Result<String, ContextError> {
        if let Some((prefix, _)) = term.split_once(':') {
            if inline.terms.contains_key(prefix) && prefix != term {
                self.define(inline, prefix, done)?;
            }
            return Ok(self
                .expand_prefixed(term)
                .unwrap_or_else(|| term.to_owned()));
        }
        if self.vocab.is_empty() {
            return Err(invalid(format!(
                "term \"{term}\" has no @id and there is no @vocab"
            )));
        }
        Ok(format!("{}{term}", self.vocab))
    }
}

/// JSON-LD 1.1 `@import`: the imported context object, overridden by the importing one.
fn import(url: &str, inline: &Inline, docs: &ContextDocuments) -> Result<Inline, ContextError> {
    if ContextDocuments::is_core(url) {
        return Err(invalid(
            "@import of the core context is not supported; reference it instead",
        ));
    }
    let stored = docs
        .entries
        .get(url)
        .ok_or_else(|| ContextError::NotAvailable {
            url: url.to_owned(),
        })?;
    let imported = match &stored.items[..] {
        [Item::Inline(imported)] if imported.import.is_none() => imported,
        _ => {
            return Err(invalid(format!(
                "@import {url}: the imported @context must be a single object without @import"
            )))
        }
    };
    let mut merged = (**imported).clone();
    merged.import = None;
    if inline.vocab.is_some() {
        merged.vocab = inline.vocab.clone();
    }
    merged.protected = inline.protected || imported.protected;
    for (term, def) in &inline.terms {
        merged.terms.insert(term.clone(), def.clone());
    }
    Ok(merged)
}

/// Builds the lookup tables. Reverse candidates are ranked: user terms before core terms, then
/// shorter, then lexicographically smaller — deterministic whatever the hash order.
fn build_context(entries: HashMap<String, Entry>, vocab: String) -> Context {
    fn offer(map: &mut HashMap<String, (bool, String)>, iri: &str, term: &str, user: bool) {
        let candidate = (!user, term.len(), term);
        match map.get(iri) {
            Some((current_user, current))
                if (!*current_user, current.len(), current.as_str()) <= candidate => {}
            _ => {
                map.insert(iri.to_owned(), (user, term.to_owned()));
            }
        }
    }
    let mut reverse = HashMap::with_capacity(entries.len());
    let mut prefixes = HashMap::new();
    for (term, entry) in &entries {
        if KEYWORDS.contains(&entry.iri.as_str()) {
            // NGSI-LD payloads must say `id` and `type`: user aliases of keywords expand but
            // never replace the core's aliases in output.
            if !entry.user {
                offer(&mut reverse, &entry.iri, term, false);
            }
            continue;
        }
        offer(&mut reverse, &entry.iri, term, entry.user);
        if !term.contains(':') && entry.iri.ends_with(is_gen_delim) {
            offer(&mut prefixes, &entry.iri, term, entry.user);
        }
    }
    let strip = |map: HashMap<String, (bool, String)>| {
        map.into_iter()
            .map(|(iri, (_, term))| (iri, term))
            .collect::<HashMap<_, _>>()
    };
    let terms = entries
        .into_iter()
        .map(|(term, entry)| (term, entry.iri))
        .collect();
    Context {
        inner: Arc::new(Active {
            terms,
            vocab,
            reverse: strip(reverse),
            prefixes: strip(prefixes),
        }),
    }
}

struct Core {
    doc: Arc<Value>,
    terms: HashMap<String, Entry>,
    vocab: String,
    context: Context,
}

fn core() -> &'static Core {
    static CORE: OnceLock<Core> = OnceLock::new();
    CORE.get_or_init(|| {
        // The document is compiled in; if it failed to parse, every build would fail the
        // `bundled_core_context_*` tests, so these `expect`s guard an invariant of the source
        // tree, not a runtime condition.
        let doc: Value =
            serde_json::from_str(CORE_CONTEXT_JSON).expect("bundled core context is valid JSON");
        let items = parse_items(&doc["@context"]).expect("bundled core context is valid");
        let empty = HashMap::new();
        let mut state = State {
            terms: HashMap::new(),
            vocab: String::new(),
            base_terms: &empty,
            base_vocab: "",
            user: false,
        };
        state
            .apply_items(&items, &ContextDocuments::default(), &mut Vec::new())
            .expect("bundled core context resolves on its own");
        let (terms, vocab) = (state.terms, state.vocab);
        let context = build_context(terms.clone(), vocab.clone());
        Core {
            doc: Arc::new(doc),
            terms,
            vocab,
            context,
        }
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const NGSI: &str = "https://uri.etsi.org/ngsi-ld/";
    const DEFAULT: &str = "https://uri.etsi.org/ngsi-ld/default-context/";
    const SDM_AQO: &str = "https://smartdatamodels.org/dataModel.Environment/AirQualityObserved";

    fn docs() -> ContextDocuments {
        ContextDocuments::with_core()
    }

    fn ctx(local: Value) -> Context {
        resolve(&local, &docs()).unwrap()
    }

    fn invalid_reason(result: Result<Context, ContextError>) -> String {
        match result {
            Err(ContextError::Invalid { reason }) => reason,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    /// Documents chained `https://example.org/c{i}.jsonld` → `c{i+1}` for `i < len`, the
    /// last one defining `deep`. Inserted top-down: each insert only sees its own, shallower
    /// part of the chain, so all succeed and only resolving `c0` can find the chain too deep.
    fn chain(len: usize) -> ContextDocuments {
        let mut docs = docs();
        for i in 0..len {
            let local = if i + 1 == len {
                json!({"deep": "https://example.org/deep"})
            } else {
                json!(format!("https://example.org/c{}.jsonld", i + 1))
            };
            let url = format!("https://example.org/c{i}.jsonld");
            docs.insert(&url, json!({ "@context": local })).unwrap();
        }
        docs
    }

    #[test]
    fn bundled_core_context_is_the_v1_8_document() {
        let docs = docs();
        let doc = docs.get(CORE_CONTEXT_URL).unwrap();
        let context = &doc["@context"];
        assert_eq!(context["@vocab"], json!(DEFAULT));
        assert_eq!(context["@protected"], json!(true));
        // Terms that first appeared in v1.8.
        assert_eq!(
            context["contextSourceAlias"],
            json!("ngsi-ld:contextSourceAlias")
        );
        assert_eq!(context["jsonKeys"], json!("ngsi-ld:jsonKeys"));
        assert_eq!(
            context["contextSourceTimeAt"],
            json!({"@id": "ngsi-ld:contextSourceTimeAt", "@type": "DateTime"})
        );
    }

    #[test]
    fn bundled_core_context_resolves_every_term_to_an_absolute_iri() {
        let core = core();
        assert_eq!(core.vocab, DEFAULT);
        assert_eq!(core.terms.len(), 181);
        for (term, entry) in &core.terms {
            let ok = KEYWORDS.contains(&entry.iri.as_str()) || is_absolute_iri(&entry.iri);
            assert!(ok, "{term} -> {}", entry.iri);
            assert!(!entry.user, "{term}");
        }
    }

    #[test]
    fn core_terms_expand_to_ngsi_ld_iris() {
        let core = Context::core(&docs());
        let cases = [
            ("location", "https://uri.etsi.org/ngsi-ld/location"),
            ("observedAt", "https://uri.etsi.org/ngsi-ld/observedAt"),
            ("value", "https://uri.etsi.org/ngsi-ld/hasValue"),
            ("object", "https://uri.etsi.org/ngsi-ld/hasObject"),
            ("languageMap", "https://uri.etsi.org/ngsi-ld/hasLanguageMap"),
            ("unitCode", "https://uri.etsi.org/ngsi-ld/unitCode"),
            ("datasetId", "https://uri.etsi.org/ngsi-ld/datasetId"),
            ("createdAt", "https://uri.etsi.org/ngsi-ld/createdAt"),
            ("Property", "https://uri.etsi.org/ngsi-ld/Property"),
            ("GeoProperty", "https://uri.etsi.org/ngsi-ld/GeoProperty"),
            ("Point", "https://purl.org/geojson/vocab#Point"),
            ("containedBy", "https://uri.etsi.org/ngsi-ld/isContainedBy"),
            ("description", "http://purl.org/dc/terms/description"),
            ("id", "@id"),
            ("type", "@type"),
        ];
        for (term, iri) in cases {
            assert_eq!(core.expand(term), iri, "{term}");
            assert_eq!(core.compact(iri), term, "{iri}");
        }
    }

    #[test]
    fn undefined_terms_expand_through_the_core_vocab() {
        let core = ctx(Value::Null);
        assert_eq!(core.expand("temperature"), format!("{DEFAULT}temperature"));
        assert_eq!(
            core.expand("AirQualityObserved"),
            format!("{DEFAULT}AirQualityObserved")
        );
        // Defined by the core as itself, i.e. relative to its @vocab.
        assert_eq!(
            core.expand("attributeCount"),
            format!("{DEFAULT}attributeCount")
        );
        assert_eq!(
            core.compact(&format!("{DEFAULT}temperature")),
            "temperature"
        );
    }

    #[test]
    fn absolute_iris_urns_and_keywords_expand_to_themselves() {
        let core = ctx(Value::Null);
        for iri in [
            "https://example.org/speed",
            "urn:ngsi-ld:Vehicle:A1",
            "_:b0",
            "@id",
        ] {
            assert_eq!(core.expand(iri), iri);
        }
    }

    #[test]
    fn compact_iris_use_core_and_user_prefixes() {
        let context = ctx(json!({"sdm": "https://smartdatamodels.org/"}));
        assert_eq!(context.expand("ngsi-ld:foo"), format!("{NGSI}foo"));
        assert_eq!(
            context.expand("geojson:Point"),
            "https://purl.org/geojson/vocab#Point"
        );
        assert_eq!(context.expand("sdm:NO2"), "https://smartdatamodels.org/NO2");
        assert_eq!(
            context.compact("https://smartdatamodels.org/NO2"),
            "sdm:NO2"
        );
        assert_eq!(context.compact(&format!("{NGSI}foo")), "ngsi-ld:foo");
        assert_eq!(
            context.compact("https://purl.org/geojson/vocab#bar"),
            "geojson:bar"
        );
    }

    #[test]
    fn smart_data_models_terms_expand_and_compact_back() {
        let local = json!({
            "AirQualityObserved": SDM_AQO,
            "NO2": "https://smartdatamodels.org/dataModel.Environment/NO2",
            "dateObserved": "https://smartdatamodels.org/dateObserved",
        });
        let context = ctx(local);
        assert_eq!(context.expand("AirQualityObserved"), SDM_AQO);
        assert_eq!(
            context.expand("NO2"),
            "https://smartdatamodels.org/dataModel.Environment/NO2"
        );
        for term in [
            "AirQualityObserved",
            "NO2",
            "dateObserved",
            "location",
            "speed",
            "value",
        ] {
            assert_eq!(context.compact(&context.expand(term)), term, "{term}");
        }
    }

    #[test]
    fn definitions_may_use_prefixes_defined_later_in_the_same_object() {
        // `aqi` sorts before `z`, so it is processed first.
        let context = ctx(json!({"aqi": "z:aqi", "z": "https://z.example/"}));
        assert_eq!(context.expand("aqi"), "https://z.example/aqi");
        let context =
            ctx(json!({"aqi": {"@id": "z:aqi", "@type": "@vocab"}, "z": "https://z.example/"}));
        assert_eq!(context.expand("aqi"), "https://z.example/aqi");
    }

    #[test]
    fn term_without_id_expands_relative_to_vocab_or_as_compact_iri() {
        let context = ctx(json!([
            {"@vocab": "https://example.org/v/", "ex": "https://example.org/ns#"},
            {"speed": {"@type": "xsd:float"}, "ex:colour": {"@container": "@set"}},
        ]));
        assert_eq!(context.expand("speed"), "https://example.org/v/speed");
        assert_eq!(context.expand("ex:colour"), "https://example.org/ns#colour");
    }

    #[test]
    fn later_contexts_in_an_array_override_earlier_ones() {
        let context = ctx(json!([
            {"speed": "https://a.example/speed", "colour": "https://a.example/colour"},
            {"speed": "https://b.example/speed"},
        ]));
        assert_eq!(context.expand("speed"), "https://b.example/speed");
        assert_eq!(context.expand("colour"), "https://a.example/colour");
        assert_eq!(
            context.compact("https://a.example/speed"),
            "https://a.example/speed"
        );
    }

    #[test]
    fn core_terms_win_over_user_redefinitions_without_error() {
        let context = ctx(json!([
            {"location": "https://example.org/where", "value": "https://example.org/v"},
            CORE_CONTEXT_URL,
            {"observedAt": "https://example.org/when"},
        ]));
        assert_eq!(context.expand("location"), format!("{NGSI}location"));
        assert_eq!(context.expand("value"), format!("{NGSI}hasValue"));
        assert_eq!(context.expand("observedAt"), format!("{NGSI}observedAt"));
        assert_eq!(
            context.compact("https://example.org/where"),
            "https://example.org/where"
        );
    }

    #[test]
    fn user_vocab_applies_and_null_vocab_restores_the_core_default() {
        let sdm = ctx(json!({"@vocab": "https://smartdatamodels.org/"}));
        assert_eq!(
            sdm.expand("temperature"),
            "https://smartdatamodels.org/temperature"
        );
        assert_eq!(
            sdm.compact("https://smartdatamodels.org/temperature"),
            "temperature"
        );
        assert_eq!(sdm.expand("location"), format!("{NGSI}location"));

        let restored = ctx(json!([{"@vocab": "https://smartdatamodels.org/"}, {"@vocab": null}]));
        assert_eq!(
            restored.expand("temperature"),
            format!("{DEFAULT}temperature")
        );
    }

    #[test]
    fn relative_vocab_is_relative_to_the_current_vocab() {
        let context = ctx(json!([
            {"@vocab": "https://example.org/terms/"},
            {"@vocab": "traffic/"},
        ]));
        assert_eq!(
            context.expand("speed"),
            "https://example.org/terms/traffic/speed"
        );
        let from_core = ctx(json!({"@vocab": "dothi/"}));
        assert_eq!(from_core.expand("speed"), format!("{DEFAULT}dothi/speed"));
        // @vocab is processed before the terms of its own object, as in JSON-LD.
        let via_prefix = ctx(json!([{"ex": "https://example.org/"}, {"@vocab": "ex:v/"}]));
        assert_eq!(via_prefix.expand("speed"), "https://example.org/v/speed");
    }

    #[test]
    fn null_term_removes_an_earlier_definition() {
        let context = ctx(json!([
            {"speed": "https://a.example/speed", "colour": "https://a.example/colour"},
            {"speed": null, "colour": {"@id": null}},
        ]));
        assert_eq!(context.expand("speed"), format!("{DEFAULT}speed"));
        assert_eq!(context.expand("colour"), format!("{DEFAULT}colour"));
    }

    #[test]
    fn null_in_an_array_resets_earlier_user_contexts() {
        let context = ctx(json!([
            {"speed": "https://a.example/speed", "@vocab": "https://a.example/"},
            null,
            {"colour": "https://b.example/colour"},
        ]));
        assert_eq!(context.expand("speed"), format!("{DEFAULT}speed"));
        assert_eq!(context.expand("colour"), "https://b.example/colour");
        assert_eq!(context.expand("location"), format!("{NGSI}location"));
    }

    #[test]
    fn keyword_aliases_expand_but_output_keeps_core_id_and_type() {
        let context = ctx(json!({"uuid": "@id", "kind": "@type"}));
        assert_eq!(context.expand("uuid"), "@id");
        assert_eq!(context.expand("kind"), "@type");
        assert_eq!(context.compact("@id"), "id");
        assert_eq!(context.compact("@type"), "type");
    }

    #[test]
    fn compaction_prefers_user_terms_then_shortest_then_lexicographic() {
        let iri = "https://example.org/speed";
        let context = ctx(json!({"velocity": iri, "vel": iri, "spd": iri}));
        assert_eq!(context.compact(iri), "spd");
        assert_eq!(context.expand("velocity"), iri);

        // Over a core term mapped to the same IRI, however long.
        let place = ctx(json!({"placeOfObservation": format!("{NGSI}location")}));
        assert_eq!(
            place.compact(&format!("{NGSI}location")),
            "placeOfObservation"
        );
        assert_eq!(place.expand("location"), format!("{NGSI}location"));
    }

    #[test]
    fn round_trips_user_terms_undefined_terms_and_core_terms() {
        let context = ctx(json!([
            {"sdm": "https://smartdatamodels.org/", "NO2": "sdm:NO2"},
            {"AirQualityObserved": SDM_AQO, "reliability": {"@id": "sdm:reliability"}},
        ]));
        let terms = [
            "sdm",
            "NO2",
            "AirQualityObserved",
            "reliability",
            "temperature",
            "refDevice",
            "location",
            "observedAt",
            "unitCode",
            "Property",
            "Relationship",
            "sdm:other",
            "ngsi-ld:something",
        ];
        for term in terms {
            assert_eq!(context.compact(&context.expand(term)), term, "{term}");
        }
    }

    #[test]
    fn vocab_remainder_is_not_used_when_it_would_expand_differently() {
        let context = ctx(json!({"speed": "https://example.org/speed"}));
        // `speed` is a term for another IRI, so the remainder would not round-trip.
        let iri = format!("{DEFAULT}speed");
        assert_eq!(context.compact(&iri), "ngsi-ld:default-context/speed");
        assert_eq!(context.expand("ngsi-ld:default-context/speed"), iri);
        assert_eq!(
            context.compact("https://elsewhere.example/x"),
            "https://elsewhere.example/x"
        );
    }

    #[test]
    fn core_urls_of_any_version_resolve_to_the_core_context() {
        let docs = docs();
        for url in std::iter::once(CORE_CONTEXT_URL).chain(CORE_ALIAS_URLS) {
            assert!(ContextDocuments::is_core(url), "{url}");
            assert!(docs.get(url).is_some(), "{url}");
            let context = resolve(&json!(url), &docs).unwrap();
            assert_eq!(context.expand("location"), format!("{NGSI}location"));
            assert!(Arc::ptr_eq(&context.inner, &Context::core(&docs).inner));
        }
        assert!(!ContextDocuments::is_core(
            "https://uri.etsi.org/ngsi-ld/v1/other.jsonld"
        ));
        assert!(missing_urls(&json!(CORE_ALIAS_URLS), &docs).is_empty());
    }

    #[test]
    fn nested_documents_are_resolved_through_the_known_documents() {
        let mut docs = docs();
        let a = "https://example.org/a.jsonld";
        let b = "https://example.org/b.jsonld";
        docs.insert(
            a,
            json!({"@context": [b, {"speed": "https://a.example/speed"}, CORE_CONTEXT_URL]}),
        )
        .unwrap();
        docs.insert(b, json!({"@context": {"speed": "https://b.example/speed", "colour": "https://b.example/colour"}}))
            .unwrap();
        let context = resolve(&json!(a), &docs).unwrap();
        assert_eq!(context.expand("speed"), "https://a.example/speed");
        assert_eq!(context.expand("colour"), "https://b.example/colour");
        assert_eq!(docs.urls().len(), 9);
    }

    #[test]
    fn unknown_urls_are_not_available_and_listed_as_missing() {
        let mut docs = docs();
        let a = "https://example.org/a.jsonld";
        let b = "https://example.org/b.jsonld";
        let c = "https://example.org/c.jsonld";
        let local = json!([a, {"@import": c, "x": "https://x.example/"}, CORE_CONTEXT_URL]);
        assert_eq!(
            resolve(&local, &docs).unwrap_err(),
            ContextError::NotAvailable { url: a.to_owned() }
        );
        assert_eq!(
            missing_urls(&local, &docs),
            vec![a.to_owned(), c.to_owned()]
        );
        let with_relative = json!(["contexts/mine.jsonld", a, a, 7]);
        assert_eq!(missing_urls(&with_relative, &docs), vec![a.to_owned()]);

        docs.insert(a, json!({"@context": [b, {"y": "https://y.example/"}]}))
            .unwrap();
        assert_eq!(
            missing_urls(&local, &docs),
            vec![b.to_owned(), c.to_owned()]
        );
        assert_eq!(
            resolve(&local, &docs).unwrap_err(),
            ContextError::NotAvailable { url: b.to_owned() }
        );
        docs.insert(b, json!({"@context": {"z": "https://z.example/"}}))
            .unwrap();
        docs.insert(
            c,
            json!({"@context": {"x": "https://c.example/x", "w": "https://c.example/w"}}),
        )
        .unwrap();
        assert!(missing_urls(&local, &docs).is_empty());
        let context = resolve(&local, &docs).unwrap();
        // The importing context overrides what it imports.
        assert_eq!(context.expand("x"), "https://x.example/");
        assert_eq!(context.expand("w"), "https://c.example/w");
        assert_eq!(context.expand("z"), "https://z.example/");
    }

    #[test]
    fn cyclic_document_references_are_invalid() {
        let mut docs = docs();
        let a = "https://example.org/a.jsonld";
        let b = "https://example.org/b.jsonld";
        docs.insert(a, json!({"@context": b})).unwrap();
        let reason = match docs.insert(b, json!({"@context": [a]})) {
            Err(ContextError::Invalid { reason }) => reason,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            reason,
            format!("cyclic context reference: {b} -> {a} -> {b}")
        );
        assert!(docs.get(b).is_none());
        assert_eq!(missing_urls(&json!(a), &docs), vec![b.to_owned()]);
    }

    #[test]
    fn errors_in_nested_documents_name_the_document() {
        let mut docs = docs();
        let (a, p, q) = (
            "https://example.org/a.jsonld",
            "https://example.org/p.jsonld",
            "https://example.org/q.jsonld",
        );
        docs.insert(
            p,
            json!({"@context": {"@protected": true, "speed": "https://p.example/s"}}),
        )
        .unwrap();
        docs.insert(q, json!({"@context": {"speed": "https://q.example/s"}}))
            .unwrap();
        assert_eq!(
            docs.insert(a, json!({"@context": [p, q]})),
            Err(invalid(format!(
                "in {q}: term \"speed\" is protected by an earlier context and cannot be redefined"
            )))
        );
        assert_eq!(
            docs.insert(a, json!({"@context": [{"x": "y"}, {"y": "x", "x": "y"}]})),
            Err(invalid(format!(
                "in {a}: term \"x\" is defined through itself (cyclic IRI mapping)"
            )))
        );
    }

    #[test]
    fn sixteen_nested_documents_resolve_and_seventeen_are_invalid() {
        let ok = chain(16);
        let context = resolve(&json!("https://example.org/c0.jsonld"), &ok).unwrap();
        assert_eq!(context.expand("deep"), "https://example.org/deep");

        let too_deep = chain(17);
        let reason = invalid_reason(resolve(&json!("https://example.org/c0.jsonld"), &too_deep));
        assert!(reason.eq("context documents nest more than 16 levels deep (reached https://example.org/c16.jsonld)"), "{reason}");
    }

    #[test]
    fn malformed_context_values_are_invalid_with_a_precise_reason() {
        let docs = docs();
        let cases = [
            (
                json!(42),
                "@context must be a URL, an object, an array of those, or null; found a number",
            ),
            (
                json!(true),
                "@context must be a URL, an object, an array of those, or null; found a boolean",
            ),
            (
                json!([[]]),
                "an @context array cannot contain another array",
            ),
            (
                json!("contexts/mine.jsonld"),
                "\"contexts/mine.jsonld\" is not an absolute URL; context references must be",
            ),
            (
                json!({"speed": 3}),
                "term \"speed\" must map to a string, an object or null; found a number",
            ),
            (
                json!({"speed": ["a"]}),
                "term \"speed\" must map to a string, an object or null; found an array",
            ),
            (
                json!({"speed": "https://example.org/has space"}),
                "term \"speed\": \"https://example.org/has space\" in @id is not a valid IRI",
            ),
            (
                json!({"speed": {"@id": 7}}),
                "term \"speed\": @id must be a string or null, found a number",
            ),
            (
                json!({"speed": {"@id": "https://e.org/s", "@type": 1}}),
                "term \"speed\": @type must be a string, found a number",
            ),
            (
                json!({"ctx": "@context"}),
                "term \"ctx\": @context cannot be aliased",
            ),
            (
                json!({"@id": "https://e.org/"}),
                "the keyword @id cannot be redefined",
            ),
            (
                json!({"@vocab": 5}),
                "@vocab must be a string or null, found a number",
            ),
            (json!({"@version": 1.0}), "@version must be 1.1, found 1.0"),
            (
                json!({"": "https://e.org/"}),
                "a term in @context is the empty string",
            ),
            (
                json!({"a": "b", "b": "a"}),
                "term \"a\" is defined through itself (cyclic IRI mapping)",
            ),
        ];
        for (local, expected) in cases {
            assert_eq!(invalid_reason(resolve(&local, &docs)), expected, "{local}");
        }
    }

    #[test]
    fn unknown_scheme_in_id_is_taken_as_an_absolute_iri() {
        // `nope:` is no prefix, but it has scheme syntax, so JSON-LD takes it as an IRI.
        let context = ctx(json!({"a": "nope:x"}));
        assert_eq!(context.expand("a"), "nope:x");
        assert_eq!(context.compact("nope:x"), "a");
    }

    #[test]
    fn protected_user_terms_cannot_be_redefined_differently() {
        let protected = json!({"@protected": true, "speed": "https://a.example/speed"});
        let same = ctx(json!([protected.clone(), {"speed": "https://a.example/speed"}]));
        assert_eq!(same.expand("speed"), "https://a.example/speed");
        let reason = invalid_reason(resolve(
            &json!([protected.clone(), {"speed": "https://b.example/speed"}]),
            &docs(),
        ));
        assert_eq!(
            reason,
            "term \"speed\" is protected by an earlier context and cannot be redefined"
        );
        let reason = invalid_reason(resolve(&json!([protected, null]), &docs()));
        assert_eq!(
            reason,
            "a null @context cannot clear the protected term \"speed\""
        );
    }

    #[test]
    fn insert_rejects_documents_that_are_not_contexts() {
        let mut docs = docs();
        let url = "https://example.org/x.jsonld";
        assert_eq!(
            docs.insert(url, json!({"speed": "https://a.example/speed"})),
            Err(invalid(format!(
                "the document at {url} has no top-level @context member"
            )))
        );
        assert_eq!(
            docs.insert(url, json!(["https://a.example/"])),
            Err(invalid(format!(
                "the document at {url} must be a JSON object with an @context member, found an array"
            )))
        );
        assert_eq!(
            docs.insert(url, json!({"@context": {"speed": false}})),
            Err(invalid(format!(
                "in {url}: term \"speed\" must map to a string, an object or null; found a boolean"
            )))
        );
        assert_eq!(
            docs.insert(CORE_CONTEXT_URL, json!({"@context": {}})),
            Err(invalid(format!(
                "{CORE_CONTEXT_URL} is the NGSI-LD core context, which is built in and cannot \
                 be replaced"
            )))
        );
        assert!(docs.get(url).is_none());
    }

    #[test]
    fn remove_forgets_user_documents_but_keeps_the_core() {
        let mut docs = docs();
        let url = "https://example.org/x.jsonld";
        docs.insert(
            url,
            json!({"@context": {"speed": "https://a.example/speed"}}),
        )
        .unwrap();
        assert!(resolve(&json!(url), &docs).is_ok());
        assert!(docs.remove(url));
        assert!(!docs.remove(url));
        assert!(!docs.remove(CORE_CONTEXT_URL));
        assert_eq!(
            resolve(&json!(url), &docs).unwrap_err(),
            ContextError::NotAvailable {
                url: url.to_owned()
            }
        );
        assert!(Context::core(&docs).expand("location").starts_with(NGSI));
    }

    #[test]
    fn resolving_the_same_value_again_reuses_the_memoised_context() {
        let mut docs = docs();
        let url = "https://example.org/x.jsonld";
        docs.insert(
            url,
            json!({"@context": {"speed": "https://a.example/speed"}}),
        )
        .unwrap();
        let local = json!([url, CORE_CONTEXT_URL]);
        let first = resolve(&local, &docs).unwrap();
        let second = resolve(&local, &docs).unwrap();
        assert!(Arc::ptr_eq(&first.inner, &second.inner));

        // Replacing the document invalidates what was memoised from it.
        docs.insert(
            url,
            json!({"@context": {"speed": "https://b.example/speed"}}),
        )
        .unwrap();
        let third = resolve(&local, &docs).unwrap();
        assert_eq!(third.expand("speed"), "https://b.example/speed");
        assert_eq!(first.expand("speed"), "https://a.example/speed");
    }

    #[test]
    fn a_modified_clone_does_not_see_or_spoil_the_original_memo() {
        let original = docs();
        let url = "https://example.org/x.jsonld";
        let local = json!(url);
        let mut clone = original.clone();
        clone
            .insert(
                url,
                json!({"@context": {"speed": "https://a.example/speed"}}),
            )
            .unwrap();
        assert!(resolve(&local, &clone).is_ok());
        assert_eq!(
            resolve(&local, &original).unwrap_err(),
            ContextError::NotAvailable {
                url: url.to_owned()
            }
        );
    }

    #[test]
    fn link_header_with_one_context_link() {
        let header = "<https://example.org/ctx.jsonld>; rel=\"http://www.w3.org/ns/json-ld#context\"; type=\"application/ld+json\"";
        assert_eq!(
            parse_link_header(header),
            Ok(Some("https://example.org/ctx.jsonld".to_owned()))
        );
    }

    #[test]
    fn link_header_picks_the_context_link_among_several() {
        let header = concat!(
            "<https://example.org/next?page=2,3>; rel=\"next\", ",
            "  <https://example.org/ctx.jsonld> ;rel=http://www.w3.org/ns/json-ld#context;",
            "type=application/ld+json ,<https://example.org/t>; title=\"a, b; c\"; rel=\"alternate\""
        );
        assert_eq!(
            parse_link_header(header),
            Ok(Some("https://example.org/ctx.jsonld".to_owned()))
        );
    }

    #[test]
    fn link_header_rel_may_list_several_relation_types() {
        let header = "<https://example.org/ctx.jsonld>;REL=\"alternate http://www.w3.org/ns/json-ld#context\";rel=\"next\";";
        assert_eq!(
            parse_link_header(header),
            Ok(Some("https://example.org/ctx.jsonld".to_owned()))
        );
    }

    #[test]
    fn link_header_without_a_context_link_is_none() {
        assert_eq!(
            parse_link_header("<https://example.org/p2>; rel=\"next\""),
            Ok(None)
        );
        assert_eq!(parse_link_header("<https://example.org/p2>"), Ok(None));
        assert_eq!(parse_link_header("  "), Ok(None));
        assert_eq!(parse_link_header(""), Ok(None));
    }

    #[test]
    fn malformed_link_headers_are_invalid() {
        let cases = [
            ("https://example.org/ctx.jsonld; rel=\"http://www.w3.org/ns/json-ld#context\"", "Link header: expected '<' at offset 0, found \"https://example.org/ctx.jsonld; rel=\\\"http://www.w3.org/ns/json-ld#context\\\"\""),
            ("<https://example.org/ctx.jsonld; rel=x", "Link header: the '<' at offset 0 is not closed by '>'"),
            ("<>; rel=x", "Link header: empty link target at offset 0"),
            ("<https://e.org/c> rel=x", "Link header: expected ';' or ',' at offset 18, found 'r'"),
            ("<https://e.org/c>; rel=\"http://www.w3.org/ns/json-ld#context", "Link header: the quoted string at offset 23 is not closed"),
            ("<https://e.org/c>; =x", "Link header: expected a parameter name at offset 19"),
        ];
        for (header, reason) in cases {
            assert_eq!(parse_link_header(header), Err(invalid(reason)), "{header}");
        }
    }

    #[test]
    fn link_header_with_two_context_links_is_invalid() {
        let header = "<https://e.org/a>; rel=\"http://www.w3.org/ns/json-ld#context\", <https://e.org/b>; rel=\"http://www.w3.org/ns/json-ld#context\"";
        assert_eq!(
            parse_link_header(header),
            Err(invalid(
                "Link header: more than one link has rel=\"http://www.w3.org/ns/json-ld#context\""
            ))
        );
    }
}
