//! A small strict reader over a parsed JSON value. It records which keys a schema read so
//! that every unknown key can be reported, and it collects type errors with their JSON
//! paths instead of stopping at the first one (serde's derive stops at the first error,
//! but the API must report all field errors of a request together).

use peakreel_types::{ApiError, Code, FieldError};
use serde_json::{json, Map, Value};

/// The UTF-8 byte-order mark some Windows tools put before a body; it carries no meaning
/// in UTF-8 JSON (RFC 8259 §8.1 lets a parser ignore it).
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Parse a request body: a leading UTF-8 BOM is ignored, syntax errors become
/// `INVALID_JSON` with line and column, the top level must be an object, and a key that
/// appears twice in any object is a `VALIDATION_ERROR` naming its JSON path (which of the
/// two values was meant cannot be known).
pub fn parse_object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    let body = body.strip_prefix(UTF8_BOM).unwrap_or(body);
    match crate::json_strict::parse(body) {
        Ok(parsed) if !parsed.duplicate_keys.is_empty() => Err(ApiError::validation(
            parsed
                .duplicate_keys
                .into_iter()
                .map(|path| {
                    FieldError::new(
                        path,
                        "appears more than once in its object; send each field once",
                    )
                })
                .collect(),
        )),
        Ok(crate::json_strict::Parsed {
            value: Value::Object(map),
            ..
        }) => Ok(map),
        Ok(_) => Err(
            ApiError::new(Code::InvalidJson, "The request body must be a JSON object.")
                .with_details(json!({ "line": 1, "column": 1 })),
        ),
        Err(e) => Err(ApiError::new(
            Code::InvalidJson,
            format!(
                "The request body is not valid JSON ({} at line {}, column {}).",
                describe_syntax_error(&e),
                e.line(),
                e.column()
            ),
        )
        .with_details(json!({ "line": e.line(), "column": e.column() }))),
    }
}

fn describe_syntax_error(e: &serde_json::Error) -> &'static str {
    use serde_json::error::Category;
    match e.classify() {
        Category::Eof => "unexpected end of input",
        Category::Syntax => "syntax error",
        Category::Data | Category::Io => "unreadable data",
    }
}

pub fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

pub fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

/// Field errors of one request, in the order they were found.
#[derive(Debug, Default)]
pub struct Errors(pub Vec<FieldError>);

impl Errors {
    pub fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError::new(field, message));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A JSON object being read under a schema.
pub struct Obj<'a> {
    path: String,
    map: &'a Map<String, Value>,
    read: Vec<&'static str>,
}

impl<'a> Obj<'a> {
    pub fn root(map: &'a Map<String, Value>) -> Self {
        Obj {
            path: String::new(),
            map,
            read: Vec::new(),
        }
    }

    /// Read `value` as an object at `path`, recording a type error if it is not one.
    pub fn at(path: String, value: &'a Value, errors: &mut Errors) -> Option<Self> {
        match value {
            Value::Object(map) => Some(Obj {
                path,
                map,
                read: Vec::new(),
            }),
            _ => {
                errors.push(path, "must be an object");
                None
            }
        }
    }

    pub fn path_of(&self, key: &str) -> String {
        join(&self.path, key)
    }

    /// An optional field; JSON `null` counts as absent.
    pub fn opt(&mut self, key: &'static str) -> Option<&'a Value> {
        self.read.push(key);
        self.map.get(key).filter(|v| !v.is_null())
    }

    pub fn req(&mut self, key: &'static str, errors: &mut Errors) -> Option<&'a Value> {
        let value = self.opt(key);
        if value.is_none() {
            errors.push(self.path_of(key), "is required");
        }
        value
    }

    pub fn opt_str(&mut self, key: &'static str, errors: &mut Errors) -> Option<&'a str> {
        let value = self.opt(key)?;
        expect_str(value, self.path_of(key), errors)
    }

    pub fn req_str(&mut self, key: &'static str, errors: &mut Errors) -> Option<&'a str> {
        let value = self.req(key, errors)?;
        expect_str(value, self.path_of(key), errors)
    }

    pub fn opt_bool(&mut self, key: &'static str, errors: &mut Errors) -> Option<bool> {
        match self.opt(key)? {
            Value::Bool(b) => Some(*b),
            _ => {
                errors.push(self.path_of(key), "must be true or false");
                None
            }
        }
    }

    /// An optional integer within `min..=max`.
    pub fn opt_int(
        &mut self,
        key: &'static str,
        min: i64,
        max: i64,
        errors: &mut Errors,
    ) -> Option<i64> {
        let value = self.opt(key)?;
        match value.as_i64() {
            Some(n) if (min..=max).contains(&n) => Some(n),
            _ => {
                errors.push(
                    self.path_of(key),
                    format!("must be an integer from {min} to {max}"),
                );
                None
            }
        }
    }

    /// An optional enumerated string, parsed by `parse`.
    pub fn opt_enum<T>(
        &mut self,
        key: &'static str,
        allowed: &[&str],
        parse: impl Fn(&str) -> Option<T>,
        errors: &mut Errors,
    ) -> Option<T> {
        let s = self.opt_str(key, errors)?;
        let parsed = parse(s);
        if parsed.is_none() {
            errors.push(
                self.path_of(key),
                format!("must be one of: {}", allowed.join(", ")),
            );
        }
        parsed
    }

    /// Report every key the schema did not read.
    pub fn finish(self, errors: &mut Errors) {
        let mut unknown: Vec<&String> = self
            .map
            .keys()
            .filter(|k| !self.read.contains(&k.as_str()))
            .collect();
        unknown.sort();
        for key in unknown {
            errors.push(
                join(&self.path, key),
                "is not a known field (check its spelling)",
            );
        }
    }
}

pub fn expect_str<'a>(value: &'a Value, path: String, errors: &mut Errors) -> Option<&'a str> {
    match value {
        Value::String(s) => Some(s),
        _ => {
            errors.push(path, "must be a string");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_errors_carry_line_and_column() {
        let err = parse_object(b"{\n  \"a\": 1,\n  \"b\" 2\n}").unwrap_err();
        assert_eq!(err.code, Code::InvalidJson);
        let d = err.details.unwrap();
        assert_eq!(d["line"], 3);
        assert_eq!(d["column"], 7);
        assert_eq!(parse_object(b"[1]").unwrap_err().code, Code::InvalidJson);
    }

    #[test]
    fn a_bom_is_ignored_and_duplicate_keys_are_named() {
        let map = parse_object(b"\xEF\xBB\xBF{\"a\": 1}").unwrap();
        assert_eq!(map["a"], 1);
        // A BOM anywhere else is not whitespace.
        assert_eq!(
            parse_object(b" \xEF\xBB\xBF{}").unwrap_err().code,
            Code::InvalidJson
        );
        let err = parse_object(br#"{"voice": {"voice_id": "a", "voice_id": "b"}, "x": 1, "x": 2}"#)
            .unwrap_err();
        assert_eq!(err.code, Code::ValidationError);
        let details = err.details.unwrap();
        let fields: Vec<&str> = details["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert_eq!(fields, ["voice.voice_id", "x"]);
    }

    #[test]
    fn unknown_keys_and_type_errors_are_all_reported() {
        let map = parse_object(br#"{"a": 1, "oriantation": "x", "zeta": 0}"#).unwrap();
        let mut errors = Errors::default();
        let mut obj = Obj::root(&map);
        assert!(obj.opt_str("a", &mut errors).is_none());
        obj.req("b", &mut errors);
        obj.finish(&mut errors);
        let fields: Vec<_> = errors.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, vec!["a", "b", "oriantation", "zeta"]);
    }
}
