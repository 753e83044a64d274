//! The scope query language of `scopeQ` (§4.19): scopes (`/Madrid/Gardens`) with the
//! wildcards `+` (one level) and `#` (any remaining levels), combined with `;` (and), `,` or
//! `|` (or) and parentheses; `;` binds tighter than the or-operators.

/// A parsed `scopeQ`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScopeQuery {
    /// A scope pattern, split into its levels (`["Madrid", "+"]`).
    Scope(Vec<String>),
    And(Vec<ScopeQuery>),
    Or(Vec<ScopeQuery>),
}

/// Parses a `scopeQ`; the error says what is wrong where.
pub fn parse(text: &str) -> Result<ScopeQuery, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut pos = 0;
    let query = parse_or(&chars, &mut pos, text)?;
    if pos != chars.len() {
        return Err(format!(
            "unexpected '{}' at position {pos} of '{text}'",
            chars[pos]
        ));
    }
    Ok(query)
}

fn parse_or(chars: &[char], pos: &mut usize, text: &str) -> Result<ScopeQuery, String> {
    let mut items = vec![parse_and(chars, pos, text)?];
    while *pos < chars.len() && matches!(chars[*pos], ',' | '|') {
        *pos += 1;
        items.push(parse_and(chars, pos, text)?);
    }
    Ok(if items.len() == 1 {
        items.remove(0)
    } else {
        ScopeQuery::Or(items)
    })
}

fn parse_and(chars: &[char], pos: &mut usize, text: &str) -> Result<ScopeQuery, String> {
    let mut items = vec![parse_atom(chars, pos, text)?];
    while *pos < chars.len() && chars[*pos] == ';' {
        *pos += 1;
        items.push(parse_atom(chars, pos, text)?);
    }
    Ok(if items.len() == 1 {
        items.remove(0)
    } else {
        ScopeQuery::And(items)
    })
}

fn parse_atom(chars: &[char], pos: &mut usize, text: &str) -> Result<ScopeQuery, String> {
    if *pos < chars.len() && chars[*pos] == '(' {
        *pos += 1;
        let inner = parse_or(chars, pos, text)?;
        if *pos >= chars.len() || chars[*pos] != ')' {
            return Err(format!("'{text}' has a '(' that is not closed"));
        }
        *pos += 1;
        return Ok(inner);
    }
    let start = *pos;
    while *pos < chars.len() && !matches!(chars[*pos], ',' | '|' | ';' | '(' | ')') {
        *pos += 1;
    }
    let scope: String = chars[start..*pos].iter().collect();
    let Some(rest) = scope.strip_prefix('/') else {
        return Err(format!(
            "a scope starts with '/', not '{scope}' (position {start} of '{text}')"
        ));
    };
    let levels: Vec<String> = rest.split('/').map(str::to_string).collect();
    for (i, level) in levels.iter().enumerate() {
        let bad = level.is_empty()
            || level.chars().any(|c| c.is_whitespace() || c.is_control())
            || (level.contains(['+', '#']) && level.len() > 1)
            || (level == "#" && i + 1 != levels.len());
        if bad {
            return Err(format!("'{scope}' is not a valid scope pattern"));
        }
    }
    Ok(ScopeQuery::Scope(levels))
}

impl ScopeQuery {
    /// True when an entity with these scopes matches.
    pub fn matches(&self, scopes: &[String]) -> bool {
        match self {
            ScopeQuery::Scope(pattern) => scopes.iter().any(|s| scope_matches(pattern, s)),
            ScopeQuery::And(items) => items.iter().all(|q| q.matches(scopes)),
            ScopeQuery::Or(items) => items.iter().any(|q| q.matches(scopes)),
        }
    }
}

fn scope_matches(pattern: &[String], scope: &str) -> bool {
    let Some(rest) = scope.strip_prefix('/') else {
        return false;
    };
    let levels: Vec<&str> = rest.split('/').collect();
    for (i, p) in pattern.iter().enumerate() {
        match p.as_str() {
            "#" => return true,
            "+" if i < levels.len() => {}
            other if levels.get(i) == Some(&other) => {}
            _ => return false,
        }
    }
    pattern.len() == levels.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scopes(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn scope_patterns_match_levels_and_wildcards() {
        let both = scopes(&[
            "/Madrid/Gardens/ParqueNorte",
            "/CompanyA/OrganizationB/UnitC",
        ]);
        let one = scopes(&["/Madrid/Gardens/ParqueNorte"]);
        let cases = [
            ("/Madrid/Gardens/ParqueNorte", true, true),
            ("/Madrid/+/ParqueNorte", true, true),
            ("/CompanyA/#", true, false),
            ("/#", true, true),
            (
                "/Madrid/Gardens/ParqueNorte;/CompanyA/OrganizationB/UnitC",
                true,
                false,
            ),
            (
                "/Madrid/Gardens/ParqueNorte,/CompanyA/OrganizationB/UnitC",
                true,
                true,
            ),
            (
                "(/Madrid/Gardens/ParqueNorte;/CompanyA/OrganizationB/UnitC)",
                true,
                false,
            ),
            (
                "(/Madrid/Gardens/ParqueNorte;/CompanyA)|/Madrid/Gardens/ParqueNorte",
                true,
                true,
            ),
            ("/CompanyA/OrganizationB/UnitC|/Nowhere/AtAll", true, false),
            ("(/Madrid/Gardens/ParqueNorte;/Nowhere/AtAll)", false, false),
            ("/Madrid", false, false),
        ];
        for (q, want_both, want_one) in cases {
            let query = parse(q).unwrap();
            assert_eq!(query.matches(&both), want_both, "{q} on both");
            assert_eq!(query.matches(&one), want_one, "{q} on one");
            assert!(!query.matches(&[]), "{q} on none");
        }
    }

    #[test]
    fn malformed_scope_queries_are_refused() {
        for bad in ["", "Madrid", "/Madrid//x", "(/a", "/a#", "/#/a", "/a;"] {
            assert!(parse(bad).is_err(), "{bad} should be refused");
        }
    }
}
