//! The Attribute Projection Language of `pick` and `omit` (§4.21): a list of entity members,
//! each optionally followed by `{…}`, a projection of the Linked Entity it points to. The one
//! parser of `pick`/`omit`: plain reads use the top level, `crate::linked` the whole tree.
//!
//! ```text
//! list = term *( ("," / "|") term )
//! term = name [ "{" list "}" ]
//! ```

/// One member of a projection and the projection of its Linked Entity, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectionTerm {
    pub name: String,
    /// The projection inside `{…}`; empty when there is none.
    pub linked: Vec<ProjectionTerm>,
}

/// Parses a projection. An empty member, an unbalanced or empty `{}`, or a character that may
/// not appear in a name is an error (the message says which).
pub fn parse(text: &str) -> Result<Vec<ProjectionTerm>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut pos = 0;
    let terms = parse_list(&chars, &mut pos, text)?;
    if pos != chars.len() {
        return Err(format!(
            "unexpected '{}' at position {pos} of '{text}'",
            chars[pos]
        ));
    }
    Ok(terms)
}

fn parse_list(chars: &[char], pos: &mut usize, text: &str) -> Result<Vec<ProjectionTerm>, String> {
    let mut terms = vec![parse_term(chars, pos, text)?];
    while *pos < chars.len() && matches!(chars[*pos], ',' | '|') {
        *pos += 1;
        terms.push(parse_term(chars, pos, text)?);
    }
    Ok(terms)
}

fn parse_term(chars: &[char], pos: &mut usize, text: &str) -> Result<ProjectionTerm, String> {
    let start = *pos;
    while *pos < chars.len() && !matches!(chars[*pos], ',' | '|' | '{' | '}') {
        let c = chars[*pos];
        if c.is_whitespace()
            || c.is_control()
            || matches!(
                c,
                '<' | '>' | '"' | '\'' | '=' | ';' | '(' | ')' | '[' | ']'
            )
        {
            return Err(format!("'{text}' contains the forbidden character {c:?}"));
        }
        *pos += 1;
    }
    if *pos == start {
        return Err(format!(
            "'{text}' has an empty member at position {start} (every member needs a name)"
        ));
    }
    let name: String = chars[start..*pos].iter().collect();
    let mut linked = Vec::new();
    if *pos < chars.len() && chars[*pos] == '{' {
        *pos += 1;
        linked = parse_list(chars, pos, text)?;
        if *pos >= chars.len() || chars[*pos] != '}' {
            return Err(format!("'{text}' has a '{{' that is not closed"));
        }
        *pos += 1;
    }
    Ok(ProjectionTerm { name, linked })
}

/// How many Linked Entity levels a projection reaches (0 for a flat list).
pub fn depth(terms: &[ProjectionTerm]) -> usize {
    terms
        .iter()
        .map(|t| {
            if t.linked.is_empty() {
                0
            } else {
                1 + depth(&t.linked)
            }
        })
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(terms: &[ProjectionTerm]) -> Vec<&str> {
        terms.iter().map(|t| t.name.as_str()).collect()
    }

    #[test]
    fn flat_and_nested_lists_parse() {
        let terms = parse("id,name|locatedAt{name,locatedAt{id}}").unwrap();
        assert_eq!(names(&terms), ["id", "name", "locatedAt"]);
        assert_eq!(names(&terms[2].linked), ["name", "locatedAt"]);
        assert_eq!(names(&terms[2].linked[1].linked), ["id"]);
        assert_eq!(depth(&terms), 2);
        assert_eq!(depth(&parse("a,b").unwrap()), 0);
    }

    #[test]
    fn malformed_projections_are_refused() {
        for bad in [
            "",
            "id;name",
            "id,locatedAt{name",
            "id,locatedAt{{name}",
            "id,,name",
            "name||other",
            "id,locatedAt{,name}",
            "id,locatedAt{}",
            "name}",
            "a b",
        ] {
            assert!(parse(bad).is_err(), "{bad} should be refused");
        }
    }
}
