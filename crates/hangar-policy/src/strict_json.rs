//! One strict JSON reading for policy.json: a member repeated in any object, at any depth,
//! is an error naming the key and where it is. serde's derived structs and
//! `serde_json::Value` keep the last value silently; containers/image refuses the document,
//! and two parsers reading one file differently is how policy bypasses are made.

use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Parses `bytes` as one JSON value (nothing after it), refusing duplicate object members.
pub(crate) fn parse(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let v = Strict { path: "$".into() }.deserialize(&mut de)?;
    de.end()?;
    Ok(v)
}

/// Deserializes one value found at `path` (`$`, `$.default[0].type`).
struct Strict {
    path: String,
}

impl<'de> DeserializeSeed<'de> for Strict {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(v.into())
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(v.into())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        serde_json::Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom(format!("{}: not a finite number", self.path)))
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
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(Strict {
            path: format!("{}[{}]", self.path, out.len()),
        })? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(de::Error::custom(format!(
                    "duplicate key {key:?} in the object at {}",
                    self.path
                )));
            }
            let v = map.next_value_seed(Strict {
                path: format!("{}.{key}", self.path),
            })?;
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_at_every_level_are_refused_with_their_path() {
        for (doc, want) in [
            (r#"{"a":1,"a":2}"#, "duplicate key \"a\" in the object at $"),
            (
                r#"{"default":[{"type":"reject","type":"insecureAcceptAnything"}]}"#,
                "duplicate key \"type\" in the object at $.default[0]",
            ),
            (
                r#"{"x":{"y":[1,{"z":{"k":1,"k":1}}]}}"#,
                "duplicate key \"k\" in the object at $.x.y[1].z",
            ),
        ] {
            let e = parse(doc.as_bytes()).expect_err(doc).to_string();
            assert!(e.starts_with(want), "{doc}: {e}");
        }
        let v = parse(br#"{"a":[1,2.5,"s",true,null,{"b":{}}],"c":{"a":1}}"#).expect("valid");
        assert_eq!(v["a"][5]["b"], serde_json::json!({}));
        assert!(parse(b"{} x").is_err(), "trailing data");
        // Keys equal after unescaping are the same key.
        assert!(parse(br#"{"a":1,"\u0061":2}"#).is_err());
    }
}
