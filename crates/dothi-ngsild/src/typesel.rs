//! The entity type selection language of the `type` parameter (§4.17): `A,B` and `A|B` select
//! either type, `A;B` both, and parentheses group, as in `(Gauge;Device)|Station`.
//!
//! The result is in disjunctive normal form (an OR of ANDs of type names), which is what
//! storage filters on: an entity matches when, for some conjunction, it has every type in it.

/// An OR of ANDs of (unexpanded) type names.
pub type TypeSelection = Vec<Vec<String>>;

/// Parses a type selection; the error says where and what was expected.
pub fn parse(input: &str) -> Result<TypeSelection, String> {
    let mut parser = Parser {
        chars: input.char_indices().collect(),
        pos: 0,
    };
    if input.is_empty() {
        return Err("the type selection is empty".into());
    }
    let selection = parser.disjunction()?;
    if parser.pos < parser.chars.len() {
        let (at, c) = parser.chars[parser.pos];
        return Err(format!(
            "unexpected '{c}' at position {at} of the type selection"
        ));
    }
    Ok(selection)
}

struct Parser {
    chars: Vec<(usize, char)>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).map(|(_, c)| *c)
    }

    fn offset(&self) -> usize {
        self.chars.get(self.pos).map_or_else(
            || self.chars.last().map_or(0, |(i, c)| i + c.len_utf8()),
            |(i, _)| *i,
        )
    }

    fn disjunction(&mut self) -> Result<TypeSelection, String> {
        let mut out = self.conjunction()?;
        while matches!(self.peek(), Some(',' | '|')) {
            self.pos += 1;
            out.extend(self.conjunction()?);
        }
        Ok(out)
    }

    /// A conjunction of factors, each itself in DNF: the product distributes over the ORs.
    fn conjunction(&mut self) -> Result<TypeSelection, String> {
        let mut out = self.factor()?;
        while self.peek() == Some(';') {
            self.pos += 1;
            let right = self.factor()?;
            let mut product = Vec::with_capacity(out.len() * right.len());
            for left in &out {
                for r in &right {
                    let mut both = left.clone();
                    for t in r {
                        if !both.contains(t) {
                            both.push(t.clone());
                        }
                    }
                    product.push(both);
                }
            }
            out = product;
        }
        Ok(out)
    }

    fn factor(&mut self) -> Result<TypeSelection, String> {
        if self.peek() == Some('(') {
            self.pos += 1;
            let inner = self.disjunction()?;
            if self.peek() != Some(')') {
                return Err(format!(
                    "expected ')' at position {} of the type selection",
                    self.offset()
                ));
            }
            self.pos += 1;
            return Ok(inner);
        }
        let start = self.pos;
        while let Some(c) = self.peek() {
            if matches!(c, ',' | '|' | ';' | '(' | ')') || c.is_whitespace() {
                break;
            }
            self.pos += 1;
        }
        if self.pos == start {
            return Err(format!(
                "expected a type name at position {} of the type selection",
                self.offset()
            ));
        }
        let name: String = self.chars[start..self.pos].iter().map(|(_, c)| c).collect();
        Ok(vec![vec![name]])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(groups: &[&[&str]]) -> TypeSelection {
        groups
            .iter()
            .map(|g| g.iter().map(|s| s.to_string()).collect())
            .collect()
    }

    #[test]
    fn comma_and_bar_both_mean_either_type() {
        assert_eq!(parse("A,B|C").unwrap(), sel(&[&["A"], &["B"], &["C"]]));
    }

    #[test]
    fn semicolon_means_both_types_and_binds_tighter() {
        assert_eq!(parse("A;B|C").unwrap(), sel(&[&["A", "B"], &["C"]]));
    }

    #[test]
    fn parentheses_distribute_into_normal_form() {
        assert_eq!(parse("(A|B);C").unwrap(), sel(&[&["A", "C"], &["B", "C"]]));
        assert_eq!(
            parse("https://ex.org/T;(urn:x:U,V)").unwrap(),
            sel(&[&["https://ex.org/T", "urn:x:U"], &["https://ex.org/T", "V"]])
        );
    }

    #[test]
    fn malformed_selections_name_the_position() {
        assert_eq!(parse("").unwrap_err(), "the type selection is empty");
        assert_eq!(
            parse("A;").unwrap_err(),
            "expected a type name at position 2 of the type selection"
        );
        assert_eq!(
            parse("(A|B").unwrap_err(),
            "expected ')' at position 4 of the type selection"
        );
        assert_eq!(
            parse("A)").unwrap_err(),
            "unexpected ')' at position 1 of the type selection"
        );
    }
}
