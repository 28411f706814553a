//! Sigstore bundles (v0.3) as cosign v3 attaches them to images through OCI 1.1 referrers:
//! a DSSE envelope whose in-toto statement names the signed image by digest.
//!
//! The checks run in the safe order: envelope shape → DSSE signature over the pre-auth
//! encoding (PAE) with a trusted key → only then the statement is parsed. Transparency-log
//! entries and certificates in `verificationMaterial` are not consulted: trust comes from
//! the keys alone, as with simple signing (air-gapped sites have no Rekor to ask).

use base64::Engine as _;
use hangar_reference::Digest;
use serde::Deserialize;

use crate::PublicKey;
use crate::key::verify_any;

/// The media type of a Sigstore bundle v0.3 (layer and `artifactType` of the referrer).
pub const BUNDLE_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// The DSSE payload type of an in-toto statement.
pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// The in-toto statement type cosign writes.
pub const IN_TOTO_STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";
/// The predicate type of a cosign v3 image signature.
pub const COSIGN_SIGN_PREDICATE: &str = "https://sigstore.dev/cosign/sign/v1";

/// Why a bundle was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    /// Not a v0.3 bundle with a DSSE envelope of the expected shape.
    #[error("invalid sigstore bundle: {0}")]
    Shape(String),
    /// No trusted key verifies any of the envelope's signatures.
    #[error("cryptographic signature verification failed: {0}")]
    Cryptographic(String),
    /// The signature verified, but the statement is not a cosign image signature.
    #[error("invalid in-toto statement: {0}")]
    Statement(String),
}

/// A bundle whose envelope a trusted key signed, holding a cosign signing statement. Only
/// [`verify_bundle`] makes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedBundle {
    subjects: Vec<Digest>,
    key_fingerprint: String,
    key_algorithm: String,
}

impl VerifiedBundle {
    /// The digests the statement's subjects name (SHA-256 and SHA-512 entries).
    pub fn subject_digests(&self) -> &[Digest] {
        &self.subjects
    }

    /// The [`PublicKey::fingerprint`] of the key that verified it.
    pub fn key_fingerprint(&self) -> &str {
        &self.key_fingerprint
    }

    /// The [`PublicKey::algorithm`] of the key that verified it.
    pub fn key_algorithm(&self) -> &str {
        &self.key_algorithm
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MediaTypeOnly {
    media_type: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Bundle {
    #[serde(default)]
    dsse_envelope: Option<Envelope>,
    #[serde(default)]
    message_signature: Option<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Envelope {
    payload: String,
    payload_type: String,
    signatures: Vec<EnvelopeSignature>,
}

#[derive(Deserialize)]
struct EnvelopeSignature {
    sig: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Statement {
    #[serde(rename = "_type")]
    kind: String,
    subject: Vec<Subject>,
    predicate_type: String,
}

#[derive(Deserialize)]
struct Subject {
    #[serde(default)]
    digest: std::collections::BTreeMap<String, String>,
}

/// DSSE's pre-authentication encoding: what the envelope's signatures are made over.
pub fn dsse_pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

/// Protobuf JSON writes bytes as standard base64; URL-safe is accepted too, as protobuf
/// parsers do.
fn decode_b64(s: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, URL_SAFE};
    STANDARD.decode(s).or_else(|_| URL_SAFE.decode(s)).ok()
}

/// Checks a bundle blob: a v0.3 bundle holding a DSSE envelope of an in-toto statement,
/// signed by one of `keys`, whose predicate is a cosign image signature. The caller then
/// checks that [`VerifiedBundle::subject_digests`] names the image.
pub fn verify_bundle(keys: &[PublicKey], bytes: &[u8]) -> Result<VerifiedBundle, BundleError> {
    let shape = |m: String| BundleError::Shape(m);
    // The media type first: an older bundle version gets a clear message.
    let kind: MediaTypeOnly = serde_json::from_slice(bytes).map_err(|e| shape(e.to_string()))?;
    if kind.media_type != BUNDLE_MEDIA_TYPE {
        return Err(shape(format!(
            "media type {:?} (only {BUNDLE_MEDIA_TYPE} is supported)",
            kind.media_type
        )));
    }
    let bundle: Bundle = serde_json::from_slice(bytes).map_err(|e| shape(e.to_string()))?;
    let envelope = match (bundle.dsse_envelope, bundle.message_signature) {
        (Some(e), None) => e,
        (None, Some(_)) => {
            return Err(shape(
                "a message signature bundle carries no image digest a key signed; only DSSE envelopes are supported".into(),
            ));
        }
        _ => {
            return Err(shape(
                "needs exactly one of dsseEnvelope, messageSignature".into(),
            ));
        }
    };
    if envelope.payload_type != IN_TOTO_PAYLOAD_TYPE {
        return Err(shape(format!(
            "DSSE payload type {:?}, want {IN_TOTO_PAYLOAD_TYPE}",
            envelope.payload_type
        )));
    }
    let payload =
        decode_b64(&envelope.payload).ok_or_else(|| shape("DSSE payload is not base64".into()))?;
    if envelope.signatures.is_empty() {
        return Err(shape("DSSE envelope has no signatures".into()));
    }
    let pae = dsse_pae(&envelope.payload_type, &payload);
    let mut first_error = None;
    let mut key = None;
    for s in &envelope.signatures {
        let Some(raw) = decode_b64(&s.sig) else {
            first_error.get_or_insert_with(|| "signature is not base64".to_owned());
            continue;
        };
        match verify_any(keys, &pae, &raw) {
            Ok(k) => {
                key = Some(k);
                break;
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    let key = key.ok_or_else(|| BundleError::Cryptographic(first_error.unwrap_or_default()))?;
    let statement = |m: String| BundleError::Statement(m);
    let st: Statement = serde_json::from_slice(&payload).map_err(|e| statement(e.to_string()))?;
    if st.kind != IN_TOTO_STATEMENT_V1 {
        return Err(statement(format!(
            "_type {:?}, want {IN_TOTO_STATEMENT_V1}",
            st.kind
        )));
    }
    if st.predicate_type != COSIGN_SIGN_PREDICATE {
        return Err(statement(format!(
            "predicateType {:?} is not an image signature ({COSIGN_SIGN_PREDICATE})",
            st.predicate_type
        )));
    }
    let mut subjects = Vec::new();
    for s in &st.subject {
        for (algorithm, hex) in &s.digest {
            if let Ok(d) = format!("{algorithm}:{hex}").parse::<Digest>() {
                subjects.push(d);
            }
        }
    }
    if subjects.is_empty() {
        return Err(statement(
            "no subject with a sha256 or sha512 digest".into(),
        ));
    }
    Ok(VerifiedBundle {
        subjects,
        key_fingerprint: key.fingerprint().to_owned(),
        key_algorithm: key.algorithm(),
    })
}

/// Builds the in-toto statement cosign v3 signs for `digest` named `name`, as bytes.
pub fn cosign_statement(name: &str, digest: &Digest) -> Vec<u8> {
    let (algorithm, hex) = digest
        .to_string()
        .split_once(':')
        .map(|(a, h)| (a.to_owned(), h.to_owned()))
        .unwrap_or_default();
    serde_json::json!({
        "_type": IN_TOTO_STATEMENT_V1,
        "subject": [{"name": name, "digest": {algorithm: hex}}],
        "predicateType": COSIGN_SIGN_PREDICATE,
        "predicate": {},
    })
    .to_string()
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::{Signature, SigningKey, signature::Signer};

    fn b64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    fn key() -> (SigningKey, PublicKey) {
        let sk = SigningKey::from_slice(&[9u8; 32]).expect("scalar");
        let pk = PublicKey::from_verifying_key(*sk.verifying_key());
        (sk, pk)
    }

    fn digest() -> Digest {
        format!("sha256:{}", "ab".repeat(32))
            .parse()
            .expect("digest")
    }

    /// A bundle as cosign v3 writes it, signed over the PAE of `statement`.
    fn bundle(sk: &SigningKey, payload_type: &str, statement: &[u8], sign_over: &[u8]) -> Vec<u8> {
        let sig: Signature = sk.sign(&dsse_pae(payload_type, sign_over));
        serde_json::json!({
            "mediaType": BUNDLE_MEDIA_TYPE,
            "verificationMaterial": {"publicKey": {"hint": "test"}, "tlogEntries": []},
            "dsseEnvelope": {
                "payload": b64(statement),
                "payloadType": payload_type,
                "signatures": [{"sig": b64(sig.to_der().as_bytes()), "keyid": ""}],
            },
        })
        .to_string()
        .into_bytes()
    }

    #[test]
    fn pae_matches_the_dsse_spec_example() {
        // From the DSSE specification's protocol description.
        assert_eq!(
            dsse_pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
    }

    #[test]
    fn a_signed_statement_verifies_and_names_its_subject() {
        let (sk, pk) = key();
        let st = cosign_statement("r.example/a", &digest());
        let v = verify_bundle(
            std::slice::from_ref(&pk),
            &bundle(&sk, IN_TOTO_PAYLOAD_TYPE, &st, &st),
        )
        .expect("valid");
        assert_eq!(v.subject_digests(), &[digest()]);
        assert_eq!(v.key_fingerprint(), pk.fingerprint());
    }

    #[track_caller]
    fn rejected(keys: &[PublicKey], bytes: &[u8], want: &str) {
        match verify_bundle(keys, bytes) {
            Ok(v) => panic!("accepted {v:?}"),
            Err(e) => assert!(e.to_string().contains(want), "{e}"),
        }
    }

    #[test]
    fn rejections() {
        let (sk, pk) = key();
        let keys = std::slice::from_ref(&pk);
        let st = cosign_statement("r.example/a", &digest());
        // Signed over other bytes than the envelope carries.
        let mut other = st.clone();
        other.push(b' ');
        rejected(
            keys,
            &bundle(&sk, IN_TOTO_PAYLOAD_TYPE, &st, &other),
            "cryptographic signature verification failed",
        );
        // Another key.
        let stranger = PublicKey::from_pem(include_bytes!("../tests/data/lab.pub")).expect("pem");
        rejected(
            &[stranger],
            &bundle(&sk, IN_TOTO_PAYLOAD_TYPE, &st, &st),
            "cryptographic signature verification failed",
        );
        // Payload type outside the PAE would let a signature be replayed: refused.
        rejected(
            keys,
            &bundle(&sk, "text/plain", &st, &st),
            "DSSE payload type \"text/plain\"",
        );
        // Signed, but an attestation of something else.
        let slsa = br#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"a","digest":{"sha256":"ab"}}],"predicateType":"https://slsa.dev/provenance/v1","predicate":{}}"#;
        rejected(
            keys,
            &bundle(&sk, IN_TOTO_PAYLOAD_TYPE, slsa, slsa),
            "is not an image signature",
        );
        let no_subject = br#"{"_type":"https://in-toto.io/Statement/v1","subject":[],"predicateType":"https://sigstore.dev/cosign/sign/v1","predicate":{}}"#;
        rejected(
            keys,
            &bundle(&sk, IN_TOTO_PAYLOAD_TYPE, no_subject, no_subject),
            "no subject",
        );
        rejected(keys, b"{}", "invalid sigstore bundle");
        rejected(keys, b"\xff", "invalid sigstore bundle");
        rejected(
            keys,
            br#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","messageSignature":{}}"#,
            "only DSSE envelopes",
        );
        rejected(
            keys,
            br#"{"mediaType":"application/vnd.dev.sigstore.bundle+json;version=0.1","dsseEnvelope":{}}"#,
            "only application/vnd.dev.sigstore.bundle.v0.3+json",
        );
    }
}
