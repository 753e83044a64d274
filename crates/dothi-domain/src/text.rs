//! Diacritics-insensitive text: "duong" must find "đường".
//!
//! Search columns store the folded form, and queries are folded the same way, so both
//! databases can use a plain `LIKE` with no collation or extension.

use unicode_normalization::UnicodeNormalization;

/// Lower-case, strip combining marks, and map the two Vietnamese letters that are not
/// decomposable (đ, Đ) to `d`. Whitespace runs collapse to one space.
pub fn fold(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    let mut last_space = true;
    for c in input.nfd() {
        if unicode_normalization::char::is_combining_mark(c) {
            continue;
        }
        let c = match c {
            'đ' | 'Đ' => 'd',
            c => c,
        };
        if c.is_whitespace() {
            if !last_space {
                out.push(' ');
                last_space = true;
            }
            continue;
        }
        last_space = false;
        out.extend(c.to_lowercase());
    }
    if out.ends_with(' ') {
        out.pop();
    }
    out
}

/// Folded search terms of a user query, with LIKE wildcards removed so a query can never
/// widen itself.
pub fn search_terms(query: &str) -> Vec<String> {
    fold(query)
        .split(' ')
        .map(|t| t.replace(['%', '_', '\\'], ""))
        .filter(|t| !t.is_empty())
        .take(8)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_removes_vietnamese_diacritics() {
        assert_eq!(fold("Đường Lê Lợi"), "duong le loi");
        assert_eq!(fold("Phường Vỹ Dạ"), "phuong vy da");
        assert_eq!(fold("  Cầu   Trường Tiền "), "cau truong tien");
        assert_eq!(fold("ĐÈN ĐƯỜNG hỏng"), "den duong hong");
    }

    #[test]
    fn unaccented_query_matches_accented_text() {
        let text = fold("Ổ gà lớn trên đường Hùng Vương");
        for term in search_terms("duong hung VUONG") {
            assert!(text.contains(&term), "{term} not in {text}");
        }
    }

    #[test]
    fn search_terms_drop_like_wildcards() {
        assert_eq!(
            search_terms("50% _x"),
            vec!["50".to_string(), "x".to_string()]
        );
        assert!(search_terms("  %% ").is_empty());
    }
}
