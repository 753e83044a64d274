//! A category's extra questions (Open311 "service definition" attributes) and the
//! validation of a citizen's answers to them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::DomainError;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Datatype {
    String,
    Number,
    Datetime,
    Text,
    Singlevaluelist,
    Multivaluelist,
}

impl Datatype {
    pub fn as_str(self) -> &'static str {
        match self {
            Datatype::String => "string",
            Datatype::Number => "number",
            Datatype::Datetime => "datetime",
            Datatype::Text => "text",
            Datatype::Singlevaluelist => "singlevaluelist",
            Datatype::Multivaluelist => "multivaluelist",
        }
    }

    pub fn parse(s: &str) -> Result<Self, DomainError> {
        serde_json::from_value(serde_json::Value::String(s.to_string())).map_err(|_| {
            DomainError::invalid(
                "datatype",
                format!("unknown datatype '{s}'; expected string, number, datetime, text, singlevaluelist or multivaluelist"),
            )
        })
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AttributeValue {
    pub key: String,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AttributeDef {
    pub code: String,
    pub datatype: Datatype,
    #[serde(default)]
    pub required: bool,
    /// Open311's `variable`: false for informational text the citizen does not answer.
    #[serde(default = "yes")]
    pub variable: bool,
    pub description: String,
    #[serde(default)]
    pub description_en: Option<String>,
    #[serde(default)]
    pub datatype_description: Option<String>,
    #[serde(default)]
    pub order: i64,
    #[serde(default)]
    pub values: Vec<AttributeValue>,
}

fn yes() -> bool {
    true
}

impl AttributeDef {
    pub fn check(&self) -> Result<(), DomainError> {
        let field = format!("attribute {}", self.code);
        if self.code.is_empty()
            || !self
                .code
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(DomainError::invalid(
                "attribute code",
                format!("'{}' must be ASCII letters, digits, '_' or '-'", self.code),
            ));
        }
        let is_list = matches!(
            self.datatype,
            Datatype::Singlevaluelist | Datatype::Multivaluelist
        );
        if is_list && self.values.is_empty() {
            return Err(DomainError::invalid(
                field,
                "a list attribute needs at least one value",
            ));
        }
        if !is_list && !self.values.is_empty() {
            return Err(DomainError::invalid(
                field,
                "only list attributes take values",
            ));
        }
        Ok(())
    }
}

/// Validate answers (`attribute[code]` → one or more values) against the definitions and
/// return the normalised answers to store: lists keep their keys, numbers are checked.
pub fn validate_answers(
    defs: &[AttributeDef],
    answers: &BTreeMap<String, Vec<String>>,
) -> Result<BTreeMap<String, serde_json::Value>, DomainError> {
    let mut out = BTreeMap::new();
    for code in answers.keys() {
        if !defs.iter().any(|d| &d.code == code) {
            return Err(DomainError::invalid(
                format!("attribute[{code}]"),
                "this service has no such attribute",
            ));
        }
    }
    for def in defs.iter().filter(|d| d.variable) {
        let field = format!("attribute[{}]", def.code);
        let values: Vec<&str> = answers
            .get(&def.code)
            .map(|v| {
                v.iter()
                    .map(|s| s.trim())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        if values.is_empty() {
            if def.required {
                return Err(DomainError::invalid(field, "is required for this service"));
            }
            continue;
        }
        let key_ok = |v: &str| def.values.iter().any(|x| x.key == v);
        let value = match def.datatype {
            Datatype::String
            | Datatype::Text
            | Datatype::Datetime
            | Datatype::Number
            | Datatype::Singlevaluelist
                if values.len() > 1 =>
            {
                return Err(DomainError::invalid(field, "takes a single value"));
            }
            Datatype::String | Datatype::Text => {
                if values[0].chars().count() > 2000 {
                    return Err(DomainError::invalid(
                        field,
                        "is longer than 2000 characters",
                    ));
                }
                serde_json::Value::String(values[0].to_string())
            }
            Datatype::Number => {
                let n: f64 = values[0]
                    .parse()
                    .ok()
                    .filter(|n: &f64| n.is_finite())
                    .ok_or_else(|| {
                        DomainError::invalid(
                            field.clone(),
                            format!("'{}' is not a number", values[0]),
                        )
                    })?;
                serde_json::json!(n)
            }
            Datatype::Datetime => {
                chrono::DateTime::parse_from_rfc3339(values[0]).map_err(|_| {
                    DomainError::invalid(
                        field.clone(),
                        format!("'{}' is not an ISO 8601 date-time with offset", values[0]),
                    )
                })?;
                serde_json::Value::String(values[0].to_string())
            }
            Datatype::Singlevaluelist => {
                if !key_ok(values[0]) {
                    return Err(DomainError::invalid(
                        field,
                        format!("'{}' is not one of the listed values", values[0]),
                    ));
                }
                serde_json::Value::String(values[0].to_string())
            }
            Datatype::Multivaluelist => {
                if let Some(bad) = values.iter().find(|v| !key_ok(v)) {
                    return Err(DomainError::invalid(
                        field,
                        format!("'{bad}' is not one of the listed values"),
                    ));
                }
                serde_json::json!(values)
            }
        };
        out.insert(def.code.clone(), value);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defs() -> Vec<AttributeDef> {
        vec![
            AttributeDef {
                code: "lamp_state".into(),
                datatype: Datatype::Singlevaluelist,
                required: true,
                variable: true,
                description: "Tình trạng đèn".into(),
                description_en: None,
                datatype_description: None,
                order: 1,
                values: vec![
                    AttributeValue {
                        key: "off".into(),
                        name: "Không sáng".into(),
                    },
                    AttributeValue {
                        key: "day".into(),
                        name: "Sáng ban ngày".into(),
                    },
                ],
            },
            AttributeDef {
                code: "poles".into(),
                datatype: Datatype::Number,
                required: false,
                variable: true,
                description: "Số trụ".into(),
                description_en: None,
                datatype_description: None,
                order: 2,
                values: vec![],
            },
        ]
    }

    fn answers(pairs: &[(&str, &str)]) -> BTreeMap<String, Vec<String>> {
        let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (k, v) in pairs {
            m.entry(k.to_string()).or_default().push(v.to_string());
        }
        m
    }

    #[test]
    fn valid_answers_are_normalised() {
        let out =
            validate_answers(&defs(), &answers(&[("lamp_state", "off"), ("poles", "3")])).unwrap();
        assert_eq!(
            serde_json::to_value(out).unwrap(),
            serde_json::json!({"lamp_state": "off", "poles": 3.0})
        );
    }

    #[test]
    fn missing_required_attribute_is_refused() {
        let err = validate_answers(&defs(), &answers(&[])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid attribute[lamp_state]: is required for this service"
        );
    }

    #[test]
    fn unknown_list_key_and_non_number_are_refused() {
        let err = validate_answers(&defs(), &answers(&[("lamp_state", "blue")])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid attribute[lamp_state]: 'blue' is not one of the listed values"
        );
        let err = validate_answers(
            &defs(),
            &answers(&[("lamp_state", "off"), ("poles", "many")]),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid attribute[poles]: 'many' is not a number"
        );
        let err = validate_answers(&defs(), &answers(&[("lamp_state", "off"), ("colour", "x")]))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid attribute[colour]: this service has no such attribute"
        );
    }
}
