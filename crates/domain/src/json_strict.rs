//! Parsing a request body into a `serde_json::Value` while noticing what `Value`'s own
//! deserializer hides: a key that appears twice in one object. serde_json keeps the last
//! occurrence silently, so `{"script": "a", "script": "b"}` would be judged on "b" while a
//! client (or a proxy that logs the body) may believe "a" was sent. Every duplicate is
//! recorded with its JSON path, at any depth, so the request can be refused.

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::cell::RefCell;
use std::fmt;

/// A parsed body and the JSON paths (`a.b[2].c`) of every key that appeared more than
/// once in its object, in document order.
pub struct Parsed {
    pub value: Value,
    pub duplicate_keys: Vec<String>,
}

/// Parse `body` as JSON; syntax errors are serde_json's own (with line and column).
pub fn parse(body: &[u8]) -> Result<Parsed, serde_json::Error> {
    let duplicates = RefCell::new(Vec::new());
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = Node {
        path: String::new(),
        duplicates: &duplicates,
    }
    .deserialize(&mut de)?;
    de.end()?;
    Ok(Parsed {
        value,
        duplicate_keys: duplicates.into_inner(),
    })
}

/// One JSON value at `path`.
struct Node<'d> {
    path: String,
    duplicates: &'d RefCell<Vec<String>>,
}

impl<'de> DeserializeSeed<'de> for Node<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Node<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        loop {
            let child = Node {
                path: crate::json::index(&self.path, items.len()),
                duplicates: self.duplicates,
            };
            match seq.next_element_seed(child)? {
                Some(v) => items.push(v),
                None => return Ok(Value::Array(items)),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = crate::json::join(&self.path, &key);
            let child = Node {
                path: path.clone(),
                duplicates: self.duplicates,
            };
            let value = map.next_value_seed(child)?;
            if object.insert(key, value).is_some() {
                let mut duplicates = self.duplicates.borrow_mut();
                if !duplicates.contains(&path) {
                    duplicates.push(path);
                }
            }
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_are_found_at_every_depth_and_values_survive() {
        let body =
            br#"{"a": 1, "b": {"c": [{"d": 1, "d": 2, "d": 3}], "e": "x"}, "a": 2.5, "f": null}"#;
        let parsed = parse(body).unwrap();
        assert_eq!(parsed.duplicate_keys, ["b.c[0].d", "a"]);
        assert_eq!(parsed.value["a"], 2.5);
        assert_eq!(parsed.value["b"]["c"][0]["d"], 3);
        assert_eq!(parsed.value["f"], Value::Null);
        let plain: Value =
            serde_json::from_slice(br#"{"x": [1, -2, 3.5, "s", true, null, {}]}"#).unwrap();
        let ours = parse(br#"{"x": [1, -2, 3.5, "s", true, null, {}]}"#).unwrap();
        assert_eq!(ours.value, plain);
        assert!(ours.duplicate_keys.is_empty());
    }

    #[test]
    fn syntax_errors_and_trailing_bytes_are_refused() {
        assert!(parse(b"{\"a\": 1} x").is_err());
        assert!(parse(b"{\"a\": }").is_err());
        let deep = "[".repeat(200) + &"]".repeat(200);
        assert!(
            parse(deep.as_bytes()).is_err(),
            "serde_json's depth limit still applies"
        );
    }
}
