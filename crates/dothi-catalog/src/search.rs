//! `package_search`'s parameters (CKAN passes them to Solr) parsed into a typed query, which
//! [`crate::index::SearchIndex::search`] answers: `q` (free text and `field:value`),
//! `fq`/`fq_list`, `rows` (at most 1000, silently capped as CKAN's `ckan.search.rows_max`
//! does), `start`, `sort`, `facet.field`, `facet.limit`, `include_private`.
//!
//! The subset of Solr's syntax understood: words and "phrases" (every word must match, as a
//! whole word, as Solr matches tokens; `word*` matches words starting so; diacritics and case
//! are ignored; a phrase's words need not be adjacent), `field:value` and `field:"a phrase"`, `field:(a OR b)`, a leading
//! `-` or `NOT` to negate, `+` and `AND` (the default anyway), `*:*`, and `field:*`. Anything
//! else is a Search Query Error rather than a silently different answer.

use serde_json::{Map, Value};

use crate::error::{CatalogError, FieldErrors};

pub const ROWS_MAX: i64 = 1000;
pub const ROWS_DEFAULT: i64 = 10;
pub const FACET_LIMIT_DEFAULT: i64 = 50;
pub const DEFAULT_SORT: &str = "score desc, metadata_modified desc";
/// Words and values a query may hold in all (each is a subquery or a bound value; Solr's own
/// default `maxBooleanClauses` is 1024, but no search of a catalogue needs more than a few).
pub const MAX_CLAUSE_VALUES: usize = 64;

/// Fields whose values are exact terms: these are the ones facets count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TermField {
    Organization,
    Groups,
    Tags,
    ResFormat,
    LicenseId,
}

impl TermField {
    pub const ALL: [TermField; 5] = [
        TermField::Organization,
        TermField::Groups,
        TermField::Tags,
        TermField::ResFormat,
        TermField::LicenseId,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TermField::Organization => "organization",
            TermField::Groups => "groups",
            TermField::Tags => "tags",
            TermField::ResFormat => "res_format",
            TermField::LicenseId => "license_id",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "tag" => Some(TermField::Tags),
            "group" => Some(TermField::Groups),
            "license" => Some(TermField::LicenseId),
            _ => TermField::ALL.into_iter().find(|f| f.as_str() == s),
        }
    }
}

/// Fields searched by words (diacritics and case ignored).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextField {
    /// Everything searchable (`text:` and bare terms).
    Any,
    Title,
    Notes,
}

/// The words of a text as the search index holds them: folded, split at every character that
/// is not a letter or a digit, each once.
pub fn words(text: &str) -> Vec<String> {
    let folded = dothi_domain::text::fold(text);
    let mut out: Vec<String> = vec![];
    for w in folded.split(|c: char| !c.is_alphanumeric()) {
        if !w.is_empty() && w.len() <= 100 && !out.iter().any(|x| x == w) {
            out.push(w.to_string());
        }
    }
    out
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Condition {
    /// Every dataset (`*:*`, `field:*` on a field every dataset has).
    All,
    /// The field has this word (`prefix`: a word starting with it).
    Word {
        field: TextField,
        word: String,
        prefix: bool,
    },
    /// The dataset's URL name contains this text.
    NameContains(String),
    /// The field holds one of these values (exact, case included, as Solr's string fields).
    Term(TermField, Vec<String>),
    /// The field holds some value (`tags:*`).
    HasTerm(TermField),
    Id(String),
    /// `capacity:public` / `capacity:private`.
    Private(bool),
    /// Never true (`dataset_type:harvest`: there is only one type).
    Nothing,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Clause {
    pub negated: bool,
    pub condition: Condition,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortKey {
    /// Relevance. Without a scoring engine every match scores the same, so this key orders
    /// nothing and the next key decides, as it would between equal Solr scores.
    Score,
    MetadataModified,
    MetadataCreated,
    Name,
    Title,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchQuery {
    /// All must hold (from `q`, `fq` and `fq_list`).
    pub clauses: Vec<Clause>,
    pub rows: i64,
    pub start: i64,
    /// (key, descending); never empty, ends with a unique key so pages are stable.
    pub sort: Vec<(SortKey, bool)>,
    pub sort_text: String,
    /// Facet fields in the order asked, with their names as given.
    pub facet_fields: Vec<(String, Option<TermField>)>,
    /// Most values per facet; `None` for no limit (`facet.limit=-1`).
    pub facet_limit: Option<i64>,
    pub facet_mincount: i64,
    pub include_private: bool,
}

fn int_param(
    params: &Map<String, Value>,
    key: &str,
    default: i64,
    errors: &mut FieldErrors,
) -> i64 {
    match params.get(key) {
        None | Some(Value::Null) => default,
        Some(Value::Number(n)) => match n.as_i64() {
            Some(i) => i,
            None => {
                errors.add(key, "Invalid integer");
                default
            }
        },
        Some(Value::String(s)) if s.trim().is_empty() => default,
        Some(Value::String(s)) => match s.trim().parse::<i64>() {
            Ok(i) => i,
            Err(_) => {
                errors.add(key, "Invalid integer");
                default
            }
        },
        Some(_) => {
            errors.add(key, "Invalid integer");
            default
        }
    }
}

fn string_param(params: &Map<String, Value>, key: &str) -> String {
    match params.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

/// `package_search`'s data dictionary to a typed query.
pub fn parse(params: &Map<String, Value>) -> Result<SearchQuery, CatalogError> {
    let mut errors = FieldErrors::new();
    let mut rows = int_param(params, "rows", ROWS_DEFAULT, &mut errors);
    if rows < 0 {
        errors.add("rows", "Must be a natural number");
    }
    rows = rows.clamp(0, ROWS_MAX);
    let start = int_param(params, "start", 0, &mut errors);
    if start < 0 {
        errors.add("start", "Must be a natural number");
    }
    let facet_limit = int_param(params, "facet.limit", FACET_LIMIT_DEFAULT, &mut errors);
    let facet_mincount = int_param(params, "facet.mincount", 1, &mut errors);

    let facet_enabled = !matches!(params.get("facet"), Some(Value::String(s)) if s == "false")
        && params.get("facet") != Some(&Value::Bool(false));
    let facet_names: Vec<String> = match params.get("facet.field") {
        None | Some(Value::Null) => vec![],
        Some(Value::String(s)) if s.trim().is_empty() => vec![],
        Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
            Ok(Value::Array(items)) => strings(&items, "facet.field", &mut errors),
            _ => {
                errors.add("facet.field", "Not a list");
                vec![]
            }
        },
        Some(Value::Array(items)) => strings(items, "facet.field", &mut errors),
        Some(_) => {
            errors.add("facet.field", "Not a list");
            vec![]
        }
    };
    let mut fq_list: Vec<String> = vec![];
    match params.get("fq_list") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => fq_list = strings(items, "fq_list", &mut errors),
        Some(Value::String(s)) => fq_list.push(s.clone()),
        Some(_) => errors.add("fq_list", "Not a list"),
    }
    if !errors.is_empty() {
        return Err(CatalogError::Validation(errors));
    }

    let mut clauses = parse_q(&string_param(params, "q"))?;
    clauses.extend(parse_q(&string_param(params, "fq"))?);
    for fq in &fq_list {
        clauses.extend(parse_q(fq)?);
    }
    clauses.retain(|c| c.condition != Condition::All || c.negated);
    let values: usize = clauses
        .iter()
        .map(|c| match &c.condition {
            Condition::Term(_, v) => v.len(),
            _ => 1,
        })
        .sum();
    if values > MAX_CLAUSE_VALUES {
        return Err(invalid(format!(
            "too many clauses ({values}); at most {MAX_CLAUSE_VALUES} words and values"
        )));
    }

    let sort_text = match string_param(params, "sort") {
        s if s.trim().is_empty() => DEFAULT_SORT.to_string(),
        s => s,
    };
    let sort = parse_sort(&sort_text)?;

    Ok(SearchQuery {
        clauses,
        rows,
        start: start.max(0),
        sort,
        sort_text,
        facet_fields: if facet_enabled {
            facet_names
                .into_iter()
                .map(|n| {
                    let f = TermField::parse(&n);
                    (n, f)
                })
                .collect()
        } else {
            vec![]
        },
        facet_limit: (facet_limit >= 0).then_some(facet_limit),
        facet_mincount: facet_mincount.max(0),
        include_private: crate::input::boolean(params.get("include_private")),
    })
}

fn strings(items: &[Value], key: &str, errors: &mut FieldErrors) -> Vec<String> {
    let mut out = vec![];
    for v in items {
        match v {
            Value::String(s) => out.push(s.clone()),
            _ => {
                errors.add(key, "Not a list of strings");
                break;
            }
        }
    }
    out
}

fn invalid(message: impl Into<String>) -> CatalogError {
    CatalogError::SearchQuery(message.into())
}

pub fn parse_sort(text: &str) -> Result<Vec<(SortKey, bool)>, CatalogError> {
    let mut keys = vec![];
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let mut words = part.split_whitespace();
        let field = words.next().unwrap_or("");
        let desc = match words.next().map(|d| d.to_ascii_lowercase()) {
            None => false,
            Some(d) if d == "asc" => false,
            Some(d) if d == "desc" => true,
            Some(d) => return Err(invalid(format!("Invalid sort direction '{d}'"))),
        };
        if words.next().is_some() {
            return Err(invalid(format!("Invalid sort '{part}'")));
        }
        let key = match field {
            "score" => SortKey::Score,
            "metadata_modified" => SortKey::MetadataModified,
            "metadata_created" => SortKey::MetadataCreated,
            "name" => SortKey::Name,
            "title_string" | "title" => SortKey::Title,
            other => return Err(invalid(format!("can not sort on field '{other}'"))),
        };
        keys.push((key, desc));
    }
    if keys.is_empty() {
        keys = parse_sort(DEFAULT_SORT)?;
    }
    if !keys.iter().any(|(k, _)| *k == SortKey::Name) {
        keys.push((SortKey::Name, false));
    }
    Ok(keys)
}

/// One token of the query: an optional field, a value (a word, a "phrase" or a parenthesised
/// OR-list), and whether it is negated.
#[derive(Debug)]
struct Token {
    negated: bool,
    field: Option<String>,
    values: Vec<String>,
    quoted: bool,
}

fn lex(q: &str) -> Result<Vec<Token>, CatalogError> {
    let chars: Vec<char> = q.chars().collect();
    let mut i = 0;
    let mut tokens = vec![];
    let mut negate_next = false;
    while i < chars.len() {
        if chars[i].is_whitespace() {
            i += 1;
            continue;
        }
        let mut negated = std::mem::take(&mut negate_next);
        match chars[i] {
            '-' | '!' => {
                negated = !negated;
                i += 1;
            }
            '+' => i += 1,
            _ => {}
        }
        // A field name: word characters followed by ':'.
        let mut j = i;
        while j < chars.len()
            && (chars[j].is_alphanumeric() || chars[j] == '_' || chars[j] == '.' || chars[j] == '*')
        {
            j += 1;
        }
        let mut field = None;
        if j < chars.len() && chars[j] == ':' && j > i {
            field = Some(chars[i..j].iter().collect::<String>());
            i = j + 1;
        }
        let (values, quoted) = if i < chars.len() && chars[i] == '"' {
            let end = chars[i + 1..]
                .iter()
                .position(|c| *c == '"')
                .ok_or_else(|| invalid("unterminated phrase"))?;
            let phrase: String = chars[i + 1..i + 1 + end].iter().collect();
            i += end + 2;
            (vec![phrase], true)
        } else if i < chars.len() && chars[i] == '(' {
            let end = chars[i + 1..]
                .iter()
                .position(|c| *c == ')')
                .ok_or_else(|| invalid("unbalanced parentheses"))?;
            let inner: String = chars[i + 1..i + 1 + end].iter().collect();
            i += end + 2;
            let mut values = vec![];
            let mut expect_value = true;
            for t in split_words(&inner)? {
                if t == "OR" && !expect_value {
                    expect_value = true;
                } else if expect_value {
                    values.push(t);
                    expect_value = false;
                } else {
                    return Err(invalid("only OR may join the values in parentheses"));
                }
            }
            if values.is_empty() || expect_value {
                return Err(invalid("empty or dangling OR in parentheses"));
            }
            (values, true)
        } else {
            let start = i;
            while i < chars.len() && !chars[i].is_whitespace() {
                if chars[i] == '(' || chars[i] == ')' {
                    return Err(invalid("parentheses are only supported as field:(a OR b)"));
                }
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            if field.is_none() && word == "AND" && !negated {
                continue;
            }
            if field.is_none() && word == "NOT" && !negated {
                negate_next = true;
                continue;
            }
            if field.is_none() && word == "OR" {
                return Err(invalid(
                    "OR between clauses is not supported; use field:(a OR b)",
                ));
            }
            (vec![word], false)
        };
        tokens.push(Token {
            negated,
            field,
            values,
            quoted,
        });
    }
    if negate_next {
        return Err(invalid("NOT at the end of the query"));
    }
    Ok(tokens)
}

/// Words and "phrases" of a parenthesised list.
fn split_words(inner: &str) -> Result<Vec<String>, CatalogError> {
    let mut out = vec![];
    let mut chars = inner.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '"' {
            chars.next();
            let phrase: String = chars.by_ref().take_while(|c| *c != '"').collect();
            out.push(phrase);
        } else {
            let mut w = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                w.push(c);
                chars.next();
            }
            out.push(w);
        }
    }
    Ok(out)
}

fn text_clauses(field: TextField, value: &str, negated: bool, quoted: bool) -> Vec<Clause> {
    let prefix = !quoted && value.ends_with('*') && !value.trim_end_matches('*').is_empty();
    let found = words(value);
    let last = found.len().saturating_sub(1);
    found
        .into_iter()
        .enumerate()
        .map(|(i, word)| Clause {
            negated,
            condition: Condition::Word {
                field,
                word,
                prefix: prefix && i == last,
            },
        })
        .collect()
}

/// A `q` or `fq` string to clauses that must all hold.
pub fn parse_q(q: &str) -> Result<Vec<Clause>, CatalogError> {
    let mut clauses = vec![];
    for token in lex(q)? {
        let negated = token.negated;
        let Some(field) = token.field else {
            for v in &token.values {
                clauses.extend(text_clauses(TextField::Any, v, negated, token.quoted));
            }
            continue;
        };
        let any_value = token.values.len() == 1 && token.values[0] == "*" && !token.quoted;
        let condition = match field.as_str() {
            "*" if any_value => Condition::All,
            "text" => {
                for v in &token.values {
                    clauses.extend(text_clauses(TextField::Any, v, negated, token.quoted));
                }
                continue;
            }
            "name" => {
                if any_value {
                    Condition::All
                } else {
                    for v in &token.values {
                        let text = v.trim_matches('*').to_lowercase();
                        if !text.is_empty() {
                            clauses.push(Clause {
                                negated,
                                condition: Condition::NameContains(text),
                            });
                        }
                    }
                    continue;
                }
            }
            "title" | "notes" | "title_ngram" => {
                let f = if field == "notes" {
                    TextField::Notes
                } else {
                    TextField::Title
                };
                if any_value {
                    Condition::All
                } else {
                    for v in &token.values {
                        clauses.extend(text_clauses(f, v, negated, token.quoted));
                    }
                    continue;
                }
            }
            "id" => Condition::Id(token.values.join(" ")),
            "capacity" => match token.values.as_slice() {
                [v] if v == "public" => Condition::Private(false),
                [v] if v == "private" => Condition::Private(true),
                _ => return Err(invalid("capacity is public or private")),
            },
            "dataset_type" | "type" => {
                if token.values.iter().any(|v| v == "dataset" || v == "*") {
                    Condition::All
                } else {
                    Condition::Nothing
                }
            }
            "state" => {
                if token.values.iter().any(|v| v == "active" || v == "*") {
                    Condition::All
                } else {
                    Condition::Nothing
                }
            }
            other => match TermField::parse(other) {
                Some(f) if any_value => Condition::HasTerm(f),
                Some(f) => Condition::Term(f, token.values.clone()),
                None => return Err(invalid(format!("undefined field {other}"))),
            },
        };
        clauses.push(Clause { negated, condition });
    }
    Ok(clauses)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn q(s: &str) -> Vec<Clause> {
        parse_q(s).unwrap()
    }

    fn word(field: TextField, w: &str, prefix: bool) -> Condition {
        Condition::Word {
            field,
            word: w.into(),
            prefix,
        }
    }

    fn c(negated: bool, condition: Condition) -> Clause {
        Clause { negated, condition }
    }

    #[test]
    fn free_text_is_folded_and_fields_are_typed() {
        assert_eq!(
            q("Chất lượng tags:\"môi trường\" -res_format:PDF organization:(sxd OR stnmt)"),
            vec![
                c(false, word(TextField::Any, "chat", false)),
                c(false, word(TextField::Any, "luong", false)),
                c(
                    false,
                    Condition::Term(TermField::Tags, vec!["môi trường".into()])
                ),
                c(
                    true,
                    Condition::Term(TermField::ResFormat, vec!["PDF".into()])
                ),
                c(
                    false,
                    Condition::Term(TermField::Organization, vec!["sxd".into(), "stnmt".into()])
                ),
            ]
        );
        assert_eq!(q("*:*"), vec![c(false, Condition::All)]);
        assert_eq!(
            q("title:\"Nước sạch\" nuo*"),
            vec![
                c(false, word(TextField::Title, "nuoc", false)),
                c(false, word(TextField::Title, "sach", false)),
                c(false, word(TextField::Any, "nuo", true)),
            ]
        );
        assert_eq!(
            q("name:ba-na"),
            vec![c(false, Condition::NameContains("ba-na".into()))]
        );
        assert_eq!(
            q("NOT tags:x"),
            vec![c(true, Condition::Term(TermField::Tags, vec!["x".into()]))]
        );
    }

    #[test]
    fn unsupported_syntax_is_a_search_query_error() {
        assert!(matches!(
            parse_q("a OR b"),
            Err(CatalogError::SearchQuery(_))
        ));
        assert!(matches!(
            parse_q("colour:red"),
            Err(CatalogError::SearchQuery(_))
        ));
        assert!(matches!(
            parse_q("title:\"open"),
            Err(CatalogError::SearchQuery(_))
        ));
    }

    #[test]
    fn rows_are_capped_and_parameters_validated() {
        let p = |v: Value| parse(v.as_object().unwrap());
        let query = p(json!({"rows": "5000", "facet.field": "[\"tags\", \"colour\"]"})).unwrap();
        assert_eq!(query.rows, 1000);
        assert_eq!(
            query.facet_fields,
            vec![
                ("tags".to_string(), Some(TermField::Tags)),
                ("colour".to_string(), None)
            ]
        );
        assert_eq!(
            query.sort,
            vec![
                (SortKey::Score, true),
                (SortKey::MetadataModified, true),
                (SortKey::Name, false)
            ]
        );
        let CatalogError::Validation(e) = p(json!({"rows": -1, "start": "x"})).unwrap_err() else {
            panic!()
        };
        assert_eq!(
            Value::Object(e.0),
            json!({"rows": ["Must be a natural number"], "start": ["Invalid integer"]})
        );
        assert!(matches!(
            p(json!({"sort": "colour asc"})),
            Err(CatalogError::SearchQuery(_))
        ));
        let long: Vec<String> = (0..65).map(|i| format!("tu{i}")).collect();
        assert!(matches!(
            p(json!({"q": long.join(" ")})),
            Err(CatalogError::SearchQuery(_))
        ));
        assert!(p(json!({"q": long[..64].join(" ")})).is_ok());
    }
}
