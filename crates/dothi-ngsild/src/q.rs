//! Parser for the NGSI-LD `q` parameter (ETSI GS CIM 009 v1.8, §4.9).
//!
//! ```text
//! Query          = (QueryTerm / QueryTermAssoc) *(logicalOp (QueryTerm / QueryTermAssoc))
//! QueryTermAssoc = "(" QueryTerm *(logicalOp QueryTerm) ")"
//! QueryTerm      = Attribute
//!                / Attribute Operator ComparableValue
//!                / Attribute equal CompEqualityValue
//!                / Attribute unequal CompEqualityValue
//!                / Attribute patternOp RegExp
//!                / Attribute notPatternOp RegExp
//! logicalOp      = ";" (AND) / "|" (OR)
//! ```
//!
//! Notes on choices made where the grammar is loose:
//! * `;` (AND) binds tighter than `|` (OR); parentheses override this and
//!   may nest (a superset of `QueryTermAssoc`, which only holds terms).
//! * `,` is *not* a logical operator: it separates the items of a value list
//!   (`colour=="red","blue"`).
//! * An attribute is a dotted path (`a.b.observedAt`) optionally followed by
//!   a bracketed trailing path into a compound value (`address[city]`).
//! * Value lists may also hold URIs; a range's bounds must be comparable
//!   values (number, string, date, time or date-time) of the same kind.
//! * No whitespace is allowed (the spec's grammar has none).

use std::fmt;

/// A parsed query: a single term, or a conjunction/disjunction.
#[derive(Debug, Clone, PartialEq)]
pub enum Query {
    Term(QueryTerm),
    /// `a;b;c` — at least two operands, flattened.
    And(Vec<Query>),
    /// `a|b|c` — at least two operands, flattened.
    Or(Vec<Query>),
}

/// `Attribute [Operator Value]`. Without a condition, the term means
/// "the attribute exists".
#[derive(Debug, Clone, PartialEq)]
pub struct QueryTerm {
    pub attribute: Attribute,
    pub condition: Option<Condition>,
}

/// An attribute reference: `path[0].path[1]...[trailing[0]][trailing[1]]...`.
///
/// `temperature.observedAt` gives `path == ["temperature", "observedAt"]`;
/// `address[addressLocality]` gives `path == ["address"]`,
/// `trailing == ["addressLocality"]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    pub path: Vec<String>,
    pub trailing: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// `> >= < <=` with a comparable value.
    Compare { op: CompareOp, value: Value },
    /// `==`
    Equal(EqualityValue),
    /// `!=`
    NotEqual(EqualityValue),
    /// `~=` with a regular expression (not compiled here).
    Pattern(String),
    /// `!~=`
    NotPattern(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Greater,
    GreaterEq,
    Less,
    LessEq,
}

impl CompareOp {
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Greater => ">",
            CompareOp::GreaterEq => ">=",
            CompareOp::Less => "<",
            CompareOp::LessEq => "<=",
        }
    }
}

/// The right-hand side of `==` / `!=`.
#[derive(Debug, Clone, PartialEq)]
pub enum EqualityValue {
    Single(Value),
    /// `low..high`, inclusive.
    Range(Value, Value),
    /// `a,b,c` — at least two items.
    List(Vec<Value>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Number(f64),
    /// A quoted string, unescaped (`\"` and `\\`).
    Text(String),
    /// ISO 8601 date-time, e.g. `2018-12-04T12:00:00Z` (validated, kept verbatim).
    DateTime(String),
    /// ISO 8601 date `YYYY-MM-DD`.
    Date(String),
    /// ISO 8601 time `hh:mm:ss[.fff]`.
    Time(String),
    Bool(bool),
    /// An unquoted URI such as `urn:ngsi-ld:Vehicle:A4567`.
    Uri(String),
}

impl Value {
    fn kind(&self) -> &'static str {
        match self {
            Value::Number(_) => "number",
            Value::Text(_) => "string",
            Value::DateTime(_) => "date-time",
            Value::Date(_) => "date",
            Value::Time(_) => "time",
            Value::Bool(_) => "boolean",
            Value::Uri(_) => "URI",
        }
    }

    fn is_comparable(&self) -> bool {
        !matches!(self, Value::Bool(_) | Value::Uri(_))
    }
}

/// A parse error: where (0-based character offset into the input) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError {
    pub position: usize,
    pub kind: QueryErrorKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryErrorKind {
    /// The whole query is empty.
    Empty,
    /// Something else was expected; `found` is `None` at end of input.
    Unexpected {
        expected: &'static str,
        found: Option<char>,
    },
    /// A `"` string with no closing quote (position = opening quote).
    UnterminatedString,
    /// A `(` with no matching `)` (position = the `(`).
    UnclosedParen,
    /// A `)` with no matching `(`.
    UnmatchedParen,
    /// An unquoted token that is no number, date/time, boolean or URI.
    InvalidValue { value: String },
    /// Looks like a date/time but is not a valid one.
    InvalidDateTime { value: String, reason: &'static str },
    /// A value of the wrong kind for the operator (e.g. `>true`).
    NotComparable {
        operator: &'static str,
        found: &'static str,
    },
    /// A range or list after an operator that only takes one value.
    NotAllowed {
        operator: &'static str,
        what: &'static str,
    },
    /// Range bounds of different kinds (`1.."a"`).
    RangeMismatch {
        low: &'static str,
        high: &'static str,
    },
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid q at position {}: ", self.position)?;
        match &self.kind {
            QueryErrorKind::Empty => write!(f, "empty query"),
            QueryErrorKind::Unexpected { expected, found } => match found {
                Some(c) => write!(f, "expected {expected}, found '{c}'"),
                None => write!(f, "expected {expected}, found end of query"),
            },
            QueryErrorKind::UnterminatedString => write!(f, "unterminated string"),
            QueryErrorKind::UnclosedParen => write!(f, "'(' is never closed"),
            QueryErrorKind::UnmatchedParen => write!(f, "')' without matching '('"),
            QueryErrorKind::InvalidValue { value } => write!(
                f,
                "invalid value '{value}': expected a number, quoted string, date/time, true/false or URI"
            ),
            QueryErrorKind::InvalidDateTime { value, reason } => {
                write!(f, "invalid date/time '{value}': {reason}")
            }
            QueryErrorKind::NotComparable { operator, found } => write!(
                f,
                "'{operator}' needs a number, string, date, time or date-time, found {found}"
            ),
            QueryErrorKind::NotAllowed { operator, what } => {
                write!(f, "{what} not allowed after '{operator}'")
            }
            QueryErrorKind::RangeMismatch { low, high } => {
                write!(f, "range bounds differ in kind: {low} .. {high}")
            }
        }
    }
}

impl std::error::Error for QueryError {}

/// Parses a `q` parameter (already URL-decoded).
pub fn parse(input: &str) -> Result<Query, QueryError> {
    let mut p = Parser {
        chars: input.chars().collect(),
        pos: 0,
    };
    if p.chars.is_empty() {
        return Err(p.err(QueryErrorKind::Empty));
    }
    let q = p.parse_or()?;
    match p.peek() {
        None => Ok(q),
        Some(')') => Err(p.err(QueryErrorKind::UnmatchedParen)),
        found => Err(p.err(QueryErrorKind::Unexpected {
            expected: "';', '|' or end of query",
            found,
        })),
    }
}

const LOGICAL_END: &str = "operator, ';', '|', ')' or end of query";

struct Parser {
    chars: Vec<char>,
    pos: usize,
}

fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | ':' | '@' | '#' | '/')
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<char> {
        self.chars.get(self.pos + offset).copied()
    }

    fn err(&self, kind: QueryErrorKind) -> QueryError {
        QueryError {
            position: self.pos,
            kind,
        }
    }

    fn unexpected(&self, expected: &'static str) -> QueryError {
        self.err(QueryErrorKind::Unexpected {
            expected,
            found: self.peek(),
        })
    }

    fn parse_or(&mut self) -> Result<Query, QueryError> {
        let mut items = vec![self.parse_and()?];
        while self.peek() == Some('|') {
            self.pos += 1;
            items.push(self.parse_and()?);
        }
        Ok(collapse(items, Query::Or))
    }

    fn parse_and(&mut self) -> Result<Query, QueryError> {
        let mut items = vec![self.parse_primary()?];
        while self.peek() == Some(';') {
            self.pos += 1;
            items.push(self.parse_primary()?);
        }
        Ok(collapse(items, Query::And))
    }

    fn parse_primary(&mut self) -> Result<Query, QueryError> {
        if self.peek() == Some('(') {
            let open = self.pos;
            self.pos += 1;
            let q = self.parse_or()?;
            return match self.peek() {
                Some(')') => {
                    self.pos += 1;
                    Ok(q)
                }
                None => Err(QueryError {
                    position: open,
                    kind: QueryErrorKind::UnclosedParen,
                }),
                _ => Err(self.unexpected("';', '|' or ')'")),
            };
        }
        self.parse_term().map(Query::Term)
    }

    fn parse_name(&mut self, expected: &'static str) -> Result<String, QueryError> {
        let start = self.pos;
        while self.peek().is_some_and(is_name_char) {
            self.pos += 1;
        }
        if start == self.pos {
            return Err(self.unexpected(expected));
        }
        Ok(self.chars[start..self.pos].iter().collect())
    }

    fn parse_attribute(&mut self) -> Result<Attribute, QueryError> {
        let mut path = vec![self.parse_name("attribute name or '('")?];
        while self.peek() == Some('.') {
            self.pos += 1;
            path.push(self.parse_name("attribute name after '.'")?);
        }
        let mut trailing = Vec::new();
        while self.peek() == Some('[') {
            self.pos += 1;
            // `name[*]`: any language of a LanguageProperty (§4.9).
            if self.peek() == Some('*') {
                self.pos += 1;
                trailing.push("*".to_string());
            } else {
                trailing.push(self.parse_name("attribute name after '['")?);
            }
            if self.peek() != Some(']') {
                return Err(self.unexpected("']'"));
            }
            self.pos += 1;
        }
        Ok(Attribute { path, trailing })
    }

    fn eat(&mut self, s: &str) -> bool {
        let n = s.chars().count();
        if self.pos + n <= self.chars.len()
            && s.chars()
                .eq(self.chars[self.pos..self.pos + n].iter().copied())
        {
            self.pos += n;
            true
        } else {
            false
        }
    }

    fn parse_term(&mut self) -> Result<QueryTerm, QueryError> {
        let attribute = self.parse_attribute()?;
        let condition = match self.peek() {
            None | Some(';') | Some('|') | Some(')') => None,
            _ => Some(self.parse_condition()?),
        };
        Ok(QueryTerm {
            attribute,
            condition,
        })
    }

    fn parse_condition(&mut self) -> Result<Condition, QueryError> {
        if self.eat("==") {
            return Ok(Condition::Equal(self.parse_equality_value()?));
        }
        if self.eat("!=") {
            return Ok(Condition::NotEqual(self.parse_equality_value()?));
        }
        if self.eat("~=") {
            return Ok(Condition::Pattern(self.parse_regex()?));
        }
        if self.eat("!~=") {
            return Ok(Condition::NotPattern(self.parse_regex()?));
        }
        let op = if self.eat(">=") {
            CompareOp::GreaterEq
        } else if self.eat(">") {
            CompareOp::Greater
        } else if self.eat("<=") {
            CompareOp::LessEq
        } else if self.eat("<") {
            CompareOp::Less
        } else {
            return Err(self.unexpected(LOGICAL_END));
        };
        let start = self.pos;
        let value = self.parse_value()?;
        if !value.is_comparable() {
            return Err(QueryError {
                position: start,
                kind: QueryErrorKind::NotComparable {
                    operator: op.as_str(),
                    found: value.kind(),
                },
            });
        }
        if self.at_range() {
            return Err(self.err(QueryErrorKind::NotAllowed {
                operator: op.as_str(),
                what: "a range",
            }));
        }
        if self.peek() == Some(',') {
            return Err(self.err(QueryErrorKind::NotAllowed {
                operator: op.as_str(),
                what: "a value list",
            }));
        }
        Ok(Condition::Compare { op, value })
    }

    fn at_range(&self) -> bool {
        self.peek() == Some('.') && self.peek_at(1) == Some('.')
    }

    fn parse_equality_value(&mut self) -> Result<EqualityValue, QueryError> {
        let start = self.pos;
        let first = self.parse_value()?;
        if self.at_range() {
            if !first.is_comparable() {
                return Err(QueryError {
                    position: start,
                    kind: QueryErrorKind::NotComparable {
                        operator: "..",
                        found: first.kind(),
                    },
                });
            }
            self.pos += 2;
            let high_start = self.pos;
            let high = self.parse_value()?;
            if !high.is_comparable() {
                return Err(QueryError {
                    position: high_start,
                    kind: QueryErrorKind::NotComparable {
                        operator: "..",
                        found: high.kind(),
                    },
                });
            }
            if first.kind() != high.kind() {
                return Err(QueryError {
                    position: high_start,
                    kind: QueryErrorKind::RangeMismatch {
                        low: first.kind(),
                        high: high.kind(),
                    },
                });
            }
            if self.at_range() || self.peek() == Some(',') {
                return Err(self.unexpected("';', '|', ')' or end of query after a range"));
            }
            return Ok(EqualityValue::Range(first, high));
        }
        if self.peek() != Some(',') {
            return Ok(EqualityValue::Single(first));
        }
        let mut items = vec![first];
        while self.peek() == Some(',') {
            self.pos += 1;
            items.push(self.parse_value()?);
        }
        if self.at_range() {
            return Err(self.err(QueryErrorKind::NotAllowed {
                operator: ",",
                what: "a range inside a value list",
            }));
        }
        Ok(EqualityValue::List(items))
    }

    /// Reads a quoted string starting at `"`. With `keep_escapes`, only `\"`
    /// is unescaped (regular expressions keep their backslashes).
    fn parse_quoted(&mut self, keep_escapes: bool) -> Result<String, QueryError> {
        let open = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            match self.peek() {
                None => {
                    return Err(QueryError {
                        position: open,
                        kind: QueryErrorKind::UnterminatedString,
                    })
                }
                Some('"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some('\\') if matches!(self.peek_at(1), Some('"')) => {
                    out.push('"');
                    self.pos += 2;
                }
                Some('\\') if !keep_escapes && matches!(self.peek_at(1), Some('\\')) => {
                    out.push('\\');
                    self.pos += 2;
                }
                Some(c) => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    fn parse_regex(&mut self) -> Result<String, QueryError> {
        if self.peek() == Some('"') {
            let start = self.pos;
            let re = self.parse_quoted(true)?;
            if re.is_empty() {
                return Err(QueryError {
                    position: start + 1,
                    kind: QueryErrorKind::Unexpected {
                        expected: "regular expression",
                        found: Some('"'),
                    },
                });
            }
            return Ok(re);
        }
        let start = self.pos;
        while self.peek().is_some_and(|c| !matches!(c, ';' | '|' | ')')) {
            self.pos += 1;
        }
        if start == self.pos {
            return Err(self.unexpected("regular expression"));
        }
        Ok(self.chars[start..self.pos].iter().collect())
    }

    fn parse_value(&mut self) -> Result<Value, QueryError> {
        if self.peek() == Some('"') {
            return self.parse_quoted(false).map(Value::Text);
        }
        let start = self.pos;
        while let Some(c) = self.peek() {
            if matches!(c, ';' | '|' | ')' | '(' | ',' | '"') || self.at_range() {
                break;
            }
            self.pos += 1;
        }
        if start == self.pos {
            return Err(self.unexpected("value"));
        }
        let raw: String = self.chars[start..self.pos].iter().collect();
        classify(&raw).map_err(|kind| QueryError {
            position: start,
            kind,
        })
    }
}

fn collapse(mut items: Vec<Query>, make: fn(Vec<Query>) -> Query) -> Query {
    if items.len() == 1 {
        items.pop().expect("one item")
    } else {
        make(items)
    }
}

fn classify(raw: &str) -> Result<Value, QueryErrorKind> {
    match raw {
        "true" => return Ok(Value::Bool(true)),
        "false" => return Ok(Value::Bool(false)),
        _ => {}
    }
    let b = raw.as_bytes();
    let invalid = |reason| QueryErrorKind::InvalidDateTime {
        value: raw.to_string(),
        reason,
    };
    // Dates and date-times start with `YYYY-`.
    if b.len() >= 5 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-' {
        return if let Some((date, time)) = raw.split_once('T') {
            validate_date(date).map_err(invalid)?;
            validate_time_with_zone(time).map_err(invalid)?;
            Ok(Value::DateTime(raw.to_string()))
        } else {
            validate_date(raw).map_err(invalid)?;
            Ok(Value::Date(raw.to_string()))
        };
    }
    // Times start with `hh:`.
    if b.len() >= 3 && b[..2].iter().all(u8::is_ascii_digit) && b[2] == b':' {
        validate_time(raw).map_err(invalid)?;
        return Ok(Value::Time(raw.to_string()));
    }
    if is_number(raw) {
        if let Ok(n) = raw.parse::<f64>() {
            if n.is_finite() {
                return Ok(Value::Number(n));
            }
        }
    }
    if is_uri(raw) {
        return Ok(Value::Uri(raw.to_string()));
    }
    Err(QueryErrorKind::InvalidValue {
        value: raw.to_string(),
    })
}

/// `-?digits(.digits)?([eE][+-]?digits)?`
fn is_number(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i > start
    };
    if b.first() == Some(&b'-') {
        i += 1;
    }
    if !digits(&mut i) {
        return false;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if !digits(&mut i) {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !digits(&mut i) {
            return false;
        }
    }
    i == b.len()
}

/// `scheme ":" rest` with an RFC 3986 scheme and a non-empty rest.
fn is_uri(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once(':') else {
        return false;
    };
    let mut sc = scheme.chars();
    sc.next().is_some_and(|c| c.is_ascii_alphabetic())
        && sc.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        && !rest.is_empty()
        && !s.chars().any(char::is_whitespace)
}

fn two_digits(s: &str) -> Option<u32> {
    if s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse().ok()
    } else {
        None
    }
}

fn validate_date(s: &str) -> Result<(), &'static str> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return Err("expected YYYY-MM-DD");
    }
    let year: u32 = s[..4].parse().map_err(|_| "expected YYYY-MM-DD")?;
    let month = two_digits(&s[5..7]).ok_or("expected YYYY-MM-DD")?;
    let day = two_digits(&s[8..10]).ok_or("expected YYYY-MM-DD")?;
    if !(1..=12).contains(&month) {
        return Err("month out of range");
    }
    let leap = matches!((year % 4, year % 100, year % 400), (0, 1.., _) | (_, _, 0));
    let days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if day == 0 || day > days {
        return Err("day out of range");
    }
    Ok(())
}

fn validate_time(s: &str) -> Result<(), &'static str> {
    const FORMAT: &str = "expected hh:mm:ss[.fff]";
    if !s.is_ascii() || s.len() < 8 {
        return Err(FORMAT);
    }
    let (hms, frac) = s.split_at(8);
    let b = hms.as_bytes();
    if b[2] != b':' || b[5] != b':' {
        return Err(FORMAT);
    }
    let h = two_digits(&hms[..2]).ok_or(FORMAT)?;
    let m = two_digits(&hms[3..5]).ok_or(FORMAT)?;
    let sec = two_digits(&hms[6..8]).ok_or(FORMAT)?;
    if h > 23 || m > 59 || sec > 59 {
        return Err("time out of range");
    }
    if !frac.is_empty() {
        let digits = frac.strip_prefix('.').ok_or(FORMAT)?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(FORMAT);
        }
    }
    Ok(())
}

fn validate_time_with_zone(s: &str) -> Result<(), &'static str> {
    if let Some(t) = s.strip_suffix('Z') {
        return validate_time(t);
    }
    if s.len() > 6 && s.is_ascii() {
        let (t, zone) = s.split_at(s.len() - 6);
        let zb = zone.as_bytes();
        if matches!(zb[0], b'+' | b'-') && zb[3] == b':' {
            let zh = two_digits(&zone[1..3]).ok_or("invalid time zone offset")?;
            let zm = two_digits(&zone[4..6]).ok_or("invalid time zone offset")?;
            if zh > 23 || zm > 59 {
                return Err("time zone offset out of range");
            }
            return validate_time(t);
        }
    }
    validate_time(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(path: &[&str]) -> Attribute {
        Attribute {
            path: path.iter().map(|s| s.to_string()).collect(),
            trailing: vec![],
        }
    }

    fn term(path: &[&str], condition: Option<Condition>) -> Query {
        Query::Term(QueryTerm {
            attribute: attr(path),
            condition,
        })
    }

    fn cmp(path: &str, op: CompareOp, value: Value) -> Query {
        term(&[path], Some(Condition::Compare { op, value }))
    }

    fn eq(path: &str, v: Value) -> Query {
        term(&[path], Some(Condition::Equal(EqualityValue::Single(v))))
    }

    fn err(position: usize, kind: QueryErrorKind) -> Result<Query, QueryError> {
        Err(QueryError { position, kind })
    }

    fn unexpected(
        position: usize,
        expected: &'static str,
        found: Option<char>,
    ) -> Result<Query, QueryError> {
        err(position, QueryErrorKind::Unexpected { expected, found })
    }

    #[test]
    fn spec_and() {
        assert_eq!(
            parse("temperature>20;humidity<=80"),
            Ok(Query::And(vec![
                cmp("temperature", CompareOp::Greater, Value::Number(20.0)),
                cmp("humidity", CompareOp::LessEq, Value::Number(80.0)),
            ]))
        );
    }

    #[test]
    fn spec_unequal_string() {
        assert_eq!(
            parse(r#"brandName!="Mercedes""#),
            Ok(term(
                &["brandName"],
                Some(Condition::NotEqual(EqualityValue::Single(Value::Text(
                    "Mercedes".into()
                ))))
            ))
        );
    }

    #[test]
    fn spec_quoted_urn() {
        assert_eq!(
            parse(r#"isParked=="urn:ngsi-ld:OffStreetParking:Downtown1""#),
            Ok(eq(
                "isParked",
                Value::Text("urn:ngsi-ld:OffStreetParking:Downtown1".into())
            ))
        );
    }

    #[test]
    fn unquoted_uri() {
        assert_eq!(
            parse("isParked==urn:ngsi-ld:OffStreetParking:Downtown1"),
            Ok(eq(
                "isParked",
                Value::Uri("urn:ngsi-ld:OffStreetParking:Downtown1".into())
            ))
        );
    }

    #[test]
    fn spec_parenthesised_or() {
        assert_eq!(
            parse("(temperature>=20;temperature<=25)|capacity<10"),
            Ok(Query::Or(vec![
                Query::And(vec![
                    cmp("temperature", CompareOp::GreaterEq, Value::Number(20.0)),
                    cmp("temperature", CompareOp::LessEq, Value::Number(25.0)),
                ]),
                cmp("capacity", CompareOp::Less, Value::Number(10.0)),
            ]))
        );
    }

    #[test]
    fn and_binds_tighter_than_or() {
        assert_eq!(
            parse("a|b;c"),
            Ok(Query::Or(vec![
                term(&["a"], None),
                Query::And(vec![term(&["b"], None), term(&["c"], None)]),
            ]))
        );
    }

    #[test]
    fn nested_parentheses() {
        assert_eq!(
            parse("((a|b);c)"),
            Ok(Query::And(vec![
                Query::Or(vec![term(&["a"], None), term(&["b"], None)]),
                term(&["c"], None),
            ]))
        );
    }

    #[test]
    fn spec_trailing_path() {
        assert_eq!(
            parse(r#"address[addressLocality]=="Huế""#),
            Ok(Query::Term(QueryTerm {
                attribute: Attribute {
                    path: vec!["address".into()],
                    trailing: vec!["addressLocality".into()],
                },
                condition: Some(Condition::Equal(EqualityValue::Single(Value::Text(
                    "Huế".into()
                )))),
            }))
        );
    }

    #[test]
    fn dotted_path_and_nested_trailing() {
        assert_eq!(
            parse("a.b[c][d]"),
            Ok(Query::Term(QueryTerm {
                attribute: Attribute {
                    path: vec!["a".into(), "b".into()],
                    trailing: vec!["c".into(), "d".into()],
                },
                condition: None,
            }))
        );
    }

    #[test]
    fn observed_at_meta() {
        assert_eq!(
            parse("temperature.observedAt>=2017-12-24T12:00:00Z"),
            Ok(term(
                &["temperature", "observedAt"],
                Some(Condition::Compare {
                    op: CompareOp::GreaterEq,
                    value: Value::DateTime("2017-12-24T12:00:00Z".into()),
                })
            ))
        );
    }

    #[test]
    fn spec_range() {
        assert_eq!(
            parse("speed==50..60"),
            Ok(term(
                &["speed"],
                Some(Condition::Equal(EqualityValue::Range(
                    Value::Number(50.0),
                    Value::Number(60.0)
                )))
            ))
        );
    }

    #[test]
    fn date_range_and_decimal_range() {
        assert_eq!(
            parse("d!=2020-01-01..2020-12-31;x==1.5..-2e3"),
            Ok(Query::And(vec![
                term(
                    &["d"],
                    Some(Condition::NotEqual(EqualityValue::Range(
                        Value::Date("2020-01-01".into()),
                        Value::Date("2020-12-31".into())
                    )))
                ),
                term(
                    &["x"],
                    Some(Condition::Equal(EqualityValue::Range(
                        Value::Number(1.5),
                        Value::Number(-2000.0)
                    )))
                ),
            ]))
        );
    }

    #[test]
    fn value_list() {
        assert_eq!(
            parse(r#"colour=="red","blue",3,true,urn:x:y"#),
            Ok(term(
                &["colour"],
                Some(Condition::Equal(EqualityValue::List(vec![
                    Value::Text("red".into()),
                    Value::Text("blue".into()),
                    Value::Number(3.0),
                    Value::Bool(true),
                    Value::Uri("urn:x:y".into()),
                ])))
            ))
        );
    }

    #[test]
    fn spec_pattern() {
        assert_eq!(
            parse(r#"name~=".*Huế.*""#),
            Ok(term(&["name"], Some(Condition::Pattern(".*Huế.*".into()))))
        );
    }

    #[test]
    fn not_pattern_unquoted_and_escapes_kept() {
        assert_eq!(
            parse(r#"name!~=^a\.b$;x~="q\"\d""#),
            Ok(Query::And(vec![
                term(&["name"], Some(Condition::NotPattern(r"^a\.b$".into()))),
                term(&["x"], Some(Condition::Pattern(r#"q"\d"#.into()))),
            ]))
        );
    }

    #[test]
    fn booleans_times_and_offsets() {
        assert_eq!(
            parse("a==false;b<12:30:00.5;c>2018-01-01T00:00:00+07:00"),
            Ok(Query::And(vec![
                eq("a", Value::Bool(false)),
                cmp("b", CompareOp::Less, Value::Time("12:30:00.5".into())),
                cmp(
                    "c",
                    CompareOp::Greater,
                    Value::DateTime("2018-01-01T00:00:00+07:00".into())
                ),
            ]))
        );
    }

    #[test]
    fn string_escapes() {
        assert_eq!(
            parse(r#"a=="x\"y\\z""#),
            Ok(eq("a", Value::Text(r#"x"y\z"#.into())))
        );
    }

    #[test]
    fn existence_only() {
        assert_eq!(parse("temperature"), Ok(term(&["temperature"], None)));
    }

    #[test]
    fn error_empty() {
        assert_eq!(parse(""), err(0, QueryErrorKind::Empty));
    }

    #[test]
    fn error_missing_attribute() {
        assert_eq!(
            parse(";a"),
            unexpected(0, "attribute name or '('", Some(';'))
        );
        assert_eq!(parse("a;"), unexpected(2, "attribute name or '('", None));
    }

    #[test]
    fn error_bad_operator() {
        assert_eq!(parse("a=1"), unexpected(1, LOGICAL_END, Some('=')));
        assert_eq!(parse("temp erature"), unexpected(4, LOGICAL_END, Some(' ')));
    }

    #[test]
    fn error_comma_is_not_logical() {
        assert_eq!(
            parse("a>1,b<2"),
            err(
                3,
                QueryErrorKind::NotAllowed {
                    operator: ">",
                    what: "a value list"
                }
            )
        );
    }

    #[test]
    fn error_missing_value() {
        assert_eq!(parse("a=="), unexpected(3, "value", None));
        assert_eq!(parse("a==1,"), unexpected(5, "value", None));
    }

    #[test]
    fn error_unterminated_string() {
        assert_eq!(
            parse(r#"a=="abc"#),
            err(3, QueryErrorKind::UnterminatedString)
        );
    }

    #[test]
    fn error_parens() {
        assert_eq!(parse("(a;b"), err(0, QueryErrorKind::UnclosedParen));
        assert_eq!(parse("a)"), err(1, QueryErrorKind::UnmatchedParen));
        assert_eq!(parse("(a b)"), unexpected(2, LOGICAL_END, Some(' ')));
    }

    #[test]
    fn error_trailing_bracket() {
        assert_eq!(parse("a[b"), unexpected(3, "']'", None));
        assert_eq!(
            parse("a[]"),
            unexpected(2, "attribute name after '['", Some(']'))
        );
        assert_eq!(parse("a."), unexpected(2, "attribute name after '.'", None));
    }

    #[test]
    fn error_invalid_value() {
        assert_eq!(
            parse("brandName==Mercedes"),
            err(
                11,
                QueryErrorKind::InvalidValue {
                    value: "Mercedes".into()
                }
            )
        );
    }

    #[test]
    fn error_invalid_dates() {
        assert_eq!(
            parse("d==2021-02-29"),
            err(
                3,
                QueryErrorKind::InvalidDateTime {
                    value: "2021-02-29".into(),
                    reason: "day out of range"
                }
            )
        );
        assert_eq!(
            parse("d>2021-13-01T00:00:00Z"),
            err(
                2,
                QueryErrorKind::InvalidDateTime {
                    value: "2021-13-01T00:00:00Z".into(),
                    reason: "month out of range"
                }
            )
        );
        assert_eq!(
            parse("t<25:00:00"),
            err(
                2,
                QueryErrorKind::InvalidDateTime {
                    value: "25:00:00".into(),
                    reason: "time out of range"
                }
            )
        );
        assert_eq!(
            parse("t<12:00"),
            err(
                2,
                QueryErrorKind::InvalidDateTime {
                    value: "12:00".into(),
                    reason: "expected hh:mm:ss[.fff]"
                }
            )
        );
    }

    #[test]
    fn error_not_comparable() {
        assert_eq!(
            parse("a>true"),
            err(
                2,
                QueryErrorKind::NotComparable {
                    operator: ">",
                    found: "boolean"
                }
            )
        );
        assert_eq!(
            parse("a==true..false"),
            err(
                3,
                QueryErrorKind::NotComparable {
                    operator: "..",
                    found: "boolean"
                }
            )
        );
    }

    #[test]
    fn error_range_after_compare_and_mismatch() {
        assert_eq!(
            parse("a>1..2"),
            err(
                3,
                QueryErrorKind::NotAllowed {
                    operator: ">",
                    what: "a range"
                }
            )
        );
        assert_eq!(
            parse(r#"a==1.."z""#),
            err(
                6,
                QueryErrorKind::RangeMismatch {
                    low: "number",
                    high: "string"
                }
            )
        );
        assert_eq!(
            parse("a==1,2..3"),
            err(
                6,
                QueryErrorKind::NotAllowed {
                    operator: ",",
                    what: "a range inside a value list"
                }
            )
        );
    }

    #[test]
    fn error_empty_regex() {
        assert_eq!(parse("a~="), unexpected(3, "regular expression", None));
        assert_eq!(
            parse(r#"a~="""#),
            unexpected(4, "regular expression", Some('"'))
        );
    }

    #[test]
    fn error_display() {
        let e = parse("a=1").unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid q at position 1: expected operator, ';', '|', ')' or end of query, found '='"
        );
        let e = parse("a>").unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid q at position 2: expected value, found end of query"
        );
    }
}
