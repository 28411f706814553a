//! The simple-signing payload, parsed as strictly as containers/image's
//! `untrustedSigstorePayload`: exact key sets, no duplicates, no trailing data.

use std::fmt;

use hangar_reference::Digest;
use serde::Deserialize;
use serde::de::{self, IgnoredAny, MapAccess, Visitor};

/// The only `critical.type` a container image signature may have.
pub const SIGNATURE_TYPE: &str = "cosign container image signature";

/// Why a payload is not a valid simple-signing payload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PayloadError {
    /// Not JSON of the required shape: missing, unknown or duplicate keys, wrong types,
    /// trailing data.
    #[error("{0}")]
    Json(String),
    /// `critical.type` is not [`SIGNATURE_TYPE`].
    #[error("unrecognized signature type {0:?}")]
    Type(String),
    /// `critical.image.docker-manifest-digest` is not a valid digest.
    #[error("invalid docker-manifest-digest {digest:?}: {source}")]
    Digest {
        /// The value as written.
        digest: String,
        /// What is wrong with it.
        source: hangar_reference::DigestError,
    },
}

/// The claims of a verified signature.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Payload {
    /// `critical.image.docker-manifest-digest`: the manifest that was signed.
    pub docker_manifest_digest: Digest,
    /// `critical.identity.docker-reference`, as written (the policy parses it).
    pub docker_reference: String,
    /// `optional.creator`, if present.
    pub creator: Option<String>,
    /// `optional.timestamp` (Unix seconds), if present.
    pub timestamp: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Untrusted {
    critical: Critical,
    #[serde(deserialize_with = "optional_object")]
    optional: Optional,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Critical {
    #[serde(rename = "type")]
    kind: String,
    image: Image,
    identity: Identity,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Image {
    #[serde(rename = "docker-manifest-digest")]
    digest: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Identity {
    #[serde(rename = "docker-reference")]
    reference: String,
}

#[derive(Default)]
struct Optional {
    creator: Option<String>,
    timestamp: Option<i64>,
}

/// `optional` is required, and may be `null` or an object.
fn optional_object<'de, D: de::Deserializer<'de>>(d: D) -> Result<Optional, D::Error> {
    d.deserialize_option(OptionalVisitor)
}

struct OptionalVisitor;

impl<'de> Visitor<'de> for OptionalVisitor {
    type Value = Optional;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("null or an object")
    }

    fn visit_none<E: de::Error>(self) -> Result<Optional, E> {
        Ok(Optional::default())
    }

    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Optional, D::Error> {
        d.deserialize_map(OptionalVisitor)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Optional, A::Error> {
        let mut out = Optional::default();
        let mut seen = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(de::Error::custom(format!(
                    "duplicate key {key:?} in optional"
                )));
            }
            match key.as_str() {
                "creator" => out.creator = Some(map.next_value::<String>()?),
                "timestamp" => {
                    let n = map.next_value::<serde_json::Number>()?;
                    // containers/image reads JSON numbers as float64 and wants an integer.
                    let ts = n.as_i64().or_else(|| {
                        n.as_f64()
                            .filter(|f| f.fract() == 0.0 && f.abs() < 9.2e18)
                            .map(|f| f as i64)
                    });
                    out.timestamp = Some(ts.ok_or_else(|| {
                        de::Error::custom(format!("optional.timestamp {n} is not an integer"))
                    })?);
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(out)
    }
}

/// The payload containers/image signs, byte for byte the same layout: `critical`
/// (`identity`, `image`, `type`) then `optional` (`creator`, `timestamp`).
pub fn payload_bytes(
    digest: &Digest,
    docker_reference: &str,
    creator: &str,
    timestamp: i64,
) -> Vec<u8> {
    let v = serde_json::json!({
        "critical": {
            "identity": {"docker-reference": docker_reference},
            "image": {"docker-manifest-digest": digest.to_string()},
            "type": SIGNATURE_TYPE,
        },
        "optional": {"creator": creator, "timestamp": timestamp},
    });
    // serde_json's map is ordered by key, which is exactly this layout.
    serde_json::to_vec(&v).unwrap_or_default()
}

/// Parses payload bytes strictly. Call it only on bytes whose signature verified.
pub fn parse_payload(bytes: &[u8]) -> Result<Payload, PayloadError> {
    let u: Untrusted =
        serde_json::from_slice(bytes).map_err(|e| PayloadError::Json(e.to_string()))?;
    if u.critical.kind != SIGNATURE_TYPE {
        return Err(PayloadError::Type(u.critical.kind));
    }
    let docker_manifest_digest =
        u.critical
            .image
            .digest
            .parse()
            .map_err(|source| PayloadError::Digest {
                digest: u.critical.image.digest.clone(),
                source,
            })?;
    Ok(Payload {
        docker_manifest_digest,
        docker_reference: u.critical.identity.reference,
        creator: u.optional.creator,
        timestamp: u.optional.timestamp,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    const D: &str = "sha256:9d787d7bfc4d7b2f3d15e7a1e31329166fc3adbc938a52590056b8b3cc8e6ac4";

    /// A payload whose digest value is the given JSON text.
    pub(crate) fn payload_with(digest_json: String) -> String {
        format!(
            r#"{{"critical":{{"identity":{{"docker-reference":"reg.io/a/b:v1"}},"image":{{"docker-manifest-digest":{digest_json}}},"type":"cosign container image signature"}},"optional":{{"creator":"hangar","timestamp":1795800540}}}}"#
        )
    }

    #[track_caller]
    fn check(json: &str, expected: &str) {
        let got = match parse_payload(json.as_bytes()) {
            Ok(p) => format!(
                "ok {} {} {:?} {:?}",
                p.docker_manifest_digest, p.docker_reference, p.creator, p.timestamp
            ),
            // Positions are serde_json's business; the reason is ours to check.
            Err(e) => e
                .to_string()
                .split(" at line ")
                .next()
                .unwrap_or_default()
                .to_owned(),
        };
        assert_eq!(got, expected, "{json}");
    }

    fn body(critical_extra: &str, optional: &str, top_extra: &str) -> String {
        format!(
            r#"{{"critical":{{"identity":{{"docker-reference":"reg.io/a/b:v1"}},"image":{{"docker-manifest-digest":"{D}"}},"type":"cosign container image signature"{critical_extra}}},"optional":{optional}{top_extra}}}"#
        )
    }

    #[test]
    fn payload_bytes_match_containers_image_byte_for_byte() {
        let recorded = include_bytes!("../tests/data/single.payload");
        let made = payload_bytes(
            &D.parse().expect("digest"),
            "127.0.0.1:5000/fixtures/single:v1",
            "containers/image 5.26.2",
            1_795_800_539,
        );
        assert_eq!(
            String::from_utf8_lossy(&made),
            String::from_utf8_lossy(recorded)
        );
        assert!(parse_payload(&made).is_ok());
    }

    #[test]
    fn accepts() {
        check(
            &payload_with(format!("\"{D}\"")),
            &format!("ok {D} reg.io/a/b:v1 Some(\"hangar\") Some(1795800540)"),
        );
        check(
            &body("", "null", ""),
            &format!("ok {D} reg.io/a/b:v1 None None"),
        );
        check(
            &body("", "{}", ""),
            &format!("ok {D} reg.io/a/b:v1 None None"),
        );
        check(
            &body("", r#"{"other":[1,{"x":2}],"timestamp":1.7e9}"#, ""),
            &format!("ok {D} reg.io/a/b:v1 None Some(1700000000)"),
        );
        check(
            &(body("", "null", "") + " \n"),
            &format!("ok {D} reg.io/a/b:v1 None None"),
        );
    }

    #[test]
    fn rejects() {
        check(
            &body(",\"x\":1", "null", ""),
            "unknown field `x`, expected one of `type`, `image`, `identity`",
        );
        check(
            &body("", "null", ",\"extra\":{}"),
            "unknown field `extra`, expected `critical` or `optional`",
        );
        check(
            &body(",\"type\":\"cosign container image signature\"", "null", ""),
            "duplicate field `type`",
        );
        check(
            &body("", "null", ",\"optional\":null"),
            "duplicate field `optional`",
        );
        check(
            &body("", r#"{"creator":"a","creator":"b"}"#, ""),
            "duplicate key \"creator\" in optional",
        );
        check(
            &body("", r#"{"creator":1}"#, ""),
            "invalid type: integer `1`, expected a string",
        );
        check(
            &body("", r#"{"timestamp":"1"}"#, ""),
            "invalid type: string \"1\", expected a JSON number",
        );
        check(
            &body("", r#"{"timestamp":1.5}"#, ""),
            "optional.timestamp 1.5 is not an integer",
        );
        check(
            &body("", "[]", ""),
            "invalid type: sequence, expected null or an object",
        );
        check(&(body("", "null", "") + "{}"), "trailing characters");
        check(r#"{"critical":{},"optional":null}"#, "missing field `type`");
        check(
            r#"{"critical":null}"#,
            "invalid type: null, expected struct Critical",
        );
        check(
            &payload_with("\"sha256:abc\"".into()),
            "invalid docker-manifest-digest \"sha256:abc\": invalid checksum digest length",
        );
        check(
            &payload_with(format!(
                "\"{}\"",
                D.to_uppercase().replace("SHA256", "sha256")
            )),
            &format!(
                "invalid docker-manifest-digest {:?}: invalid checksum digest format",
                D.to_uppercase().replace("SHA256", "sha256")
            ),
        );
        check(
            &payload_with("123".into()),
            "invalid type: integer `123`, expected a string",
        );
        check(
            &body("", "null", "").replace(
                "cosign container image signature",
                "atomic container signature",
            ),
            "unrecognized signature type \"atomic container signature\"",
        );
        check(
            &body("", "null", "").replace("\"optional\":null", "\"optionalx\":null"),
            "unknown field `optionalx`, expected `critical` or `optional`",
        );
        check(
            r#"{"critical":{"identity":{"docker-reference":"a"},"image":{"docker-manifest-digest":"sha256:x"},"type":"cosign container image signature"}}"#,
            "missing field `optional`",
        );
        check("", "EOF while parsing a value");
    }

    /// containers/image `signature/internal/sigstore_payload_test.go`
    /// (`TestUntrustedSigstorePayloadUnmarshalJSON`): every `breakFns` row must be refused,
    /// the allowed modifications accepted. Each row names its source line.
    #[test]
    fn containers_image_break_fns() {
        use serde_json::{Map, Value, json};
        let valid = json!({
            "critical": {
                "type": "cosign container image signature",
                "image": {"docker-manifest-digest": D},
                "identity": {"docker-reference": "reg.io/a/b:v1"},
            },
            "optional": {"creator": "c", "timestamp": 1},
        });
        let parse = |v: &Value| parse_payload(v.to_string().as_bytes());
        assert!(parse(&valid).is_ok());
        fn x<'v>(v: &'v mut Map<String, Value>, path: &[&str]) -> &'v mut Map<String, Value> {
            let mut cur = v;
            for k in path {
                cur = cur
                    .get_mut(*k)
                    .and_then(Value::as_object_mut)
                    .expect("object");
            }
            cur
        }
        type Break = fn(&mut Map<String, Value>);
        let breaks: &[(u32, Break)] = &[
            (143, |v| {
                v.remove("critical");
            }),
            (144, |v| {
                v.remove("optional");
            }),
            (146, |v| {
                v.insert("unexpected".into(), json!(1));
            }),
            (148, |v| {
                v.insert("critical".into(), json!(1));
            }),
            (150, |v| {
                v.insert("optional".into(), json!(1));
            }),
            (152, |v| {
                x(v, &["critical"]).remove("type");
            }),
            (153, |v| {
                x(v, &["critical"]).remove("image");
            }),
            (154, |v| {
                x(v, &["critical"]).remove("identity");
            }),
            (156, |v| {
                x(v, &["critical"]).insert("unexpected".into(), json!(1));
            }),
            (158, |v| {
                x(v, &["critical"]).insert("type".into(), json!(1));
            }),
            (159, |v| {
                x(v, &["critical"]).insert("type".into(), json!("unexpected"));
            }),
            (161, |v| {
                x(v, &["critical"]).insert("image".into(), json!(1));
            }),
            (162, |v| {
                x(v, &["critical", "image"]).remove("docker-manifest-digest");
            }),
            (163, |v| {
                x(v, &["critical", "image"]).insert("unexpected".into(), json!(1));
            }),
            (165, |v| {
                x(v, &["critical", "image"]).insert("docker-manifest-digest".into(), json!(1));
            }),
            (166, |v| {
                x(v, &["critical", "image"])
                    .insert("docker-manifest-digest".into(), json!("sha256:../.."));
            }),
            (168, |v| {
                x(v, &["critical"]).insert("identity".into(), json!(1));
            }),
            (169, |v| {
                x(v, &["critical", "identity"]).remove("docker-reference");
            }),
            (170, |v| {
                x(v, &["critical", "identity"]).insert("unexpected".into(), json!(1));
            }),
            (172, |v| {
                x(v, &["critical", "identity"]).insert("docker-reference".into(), json!(1));
            }),
            (174, |v| {
                x(v, &["optional"]).insert("creator".into(), json!(1));
            }),
            (176, |v| {
                x(v, &["optional"]).insert("timestamp".into(), json!("unexpected"));
            }),
            (177, |v| {
                x(v, &["optional"]).insert("timestamp".into(), json!(0.5));
            }),
        ];
        for (line, f) in breaks {
            let mut v = valid.clone();
            f(v.as_object_mut().expect("object"));
            assert!(
                parse(&v).is_err(),
                "sigstore_payload_test.go:{line}: {v} must be refused"
            );
        }
        // Line 187: unrecognized fields in "optional" are allowed and ignored.
        let mut v = valid.clone();
        x(v.as_object_mut().expect("object"), &["optional"]).insert("unexpected".into(), json!(1));
        assert!(parse(&v).is_ok());
        // Lines 195-: optional fields can be missing.
        for field in ["creator", "timestamp"] {
            let mut v = valid.clone();
            x(v.as_object_mut().expect("object"), &["optional"]).remove(field);
            assert!(parse(&v).is_ok(), "{field}");
        }
        // Line 131: a /usr/bin/cosign-generated payload (optional: null).
        let cosign = format!(
            r#"{{"critical":{{"identity":{{"docker-reference":"192.168.64.2:5000/cosign-signed-multi"}},"image":{{"docker-manifest-digest":"{D}"}},"type":"cosign container image signature"}},"optional":null}}"#
        );
        assert!(parse_payload(cosign.as_bytes()).is_ok());
    }
}
