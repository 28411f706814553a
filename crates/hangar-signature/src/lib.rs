//! Cosign "simple signing" signatures as containers/image (`sigstoreSigned`) checks them:
//! public keys, the strict payload parser and the cryptographic check.
//!
//! [`verify`] is the only way to get a [`VerifiedSignature`]: it runs the checks in
//! containers/image's order (annotation present → base64 → signature over the raw payload bytes
//! → strict payload parse). Comparing the signed digest with the manifest and the signed
//! identity with the policy is the caller's next step; both inputs are on the result.
//!
//! ```
//! use hangar_signature::{PublicKey, verify};
//!
//! let key = PublicKey::from_pem(include_bytes!("../tests/data/lab.pub"))?;
//! let payload = include_bytes!("../tests/data/single.payload");
//! let signature = include_str!("../tests/data/single.sig").trim();
//! let verified = verify(&[key], payload, Some(signature))?;
//! assert_eq!(verified.payload().docker_reference, "127.0.0.1:5000/fixtures/single:v1");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod bundle;
mod key;
mod payload;
#[cfg(feature = "sign")]
mod private;

pub use bundle::{
    BUNDLE_MEDIA_TYPE, BundleError, COSIGN_SIGN_PREDICATE, IN_TOTO_PAYLOAD_TYPE,
    IN_TOTO_STATEMENT_V1, VerifiedBundle, cosign_statement, dsse_pae, verify_bundle,
};
pub use key::{KeyError, MIN_RSA_BITS, PublicKey};
pub use payload::{Payload, PayloadError, SIGNATURE_TYPE, parse_payload, payload_bytes};
#[cfg(feature = "sign")]
pub use private::{
    COSIGN_PRIVATE_KEY_LABEL, PrivateKey, PrivateKeyError, SIGSTORE_PRIVATE_KEY_LABEL,
};

use base64::Engine as _;

/// The OCI annotation that carries the base64 signature of a simple-signing layer.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// The media type of a simple-signing layer in a `sha256-<hex>.sig` manifest.
pub const SIMPLE_SIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";

/// Why one signature was rejected. The texts are containers/image's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// The layer has no signature annotation.
    #[error("missing {SIGNATURE_ANNOTATION} annotation")]
    MissingAnnotation,
    /// The annotation is not standard padded base64.
    #[error("base64 decoding: {0}")]
    Base64(String),
    /// No trusted key verifies the signature over the payload bytes.
    #[error("cryptographic signature verification failed: {0}")]
    Cryptographic(String),
    /// The signature verified, but the payload is not a valid simple-signing payload.
    #[error("invalid signature payload: {0}")]
    Payload(#[from] PayloadError),
}

/// A signature that a trusted key made over a well-formed payload. Only [`verify`] makes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedSignature {
    payload: Payload,
    key_fingerprint: String,
    key_algorithm: String,
}

impl VerifiedSignature {
    /// The parsed payload: signed manifest digest and identity.
    pub fn payload(&self) -> &Payload {
        &self.payload
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

/// Checks one signature layer: `signature_b64` is the annotation value (`None` when the
/// annotation is absent) and `payload` the layer blob, exactly as received.
pub fn verify(
    keys: &[PublicKey],
    payload: &[u8],
    signature_b64: Option<&str>,
) -> Result<VerifiedSignature, SignatureError> {
    let b64 = signature_b64.ok_or(SignatureError::MissingAnnotation)?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|e| SignatureError::Base64(e.to_string()))?;
    verify_raw(keys, payload, &raw)
}

/// [`verify`] with the signature already decoded from its annotation: the cryptographic
/// check with `keys`, then the strict payload parse.
pub fn verify_raw(
    keys: &[PublicKey],
    payload: &[u8],
    raw: &[u8],
) -> Result<VerifiedSignature, SignatureError> {
    let key = key::verify_any(keys, payload, raw).map_err(SignatureError::Cryptographic)?;
    let payload = parse_payload(payload)?;
    Ok(VerifiedSignature {
        payload,
        key_fingerprint: key.fingerprint().to_owned(),
        key_algorithm: key.algorithm(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::{Signature, SigningKey, signature::Signer};

    const LAB_PUB: &[u8] = include_bytes!("../tests/data/lab.pub");
    const OTHER_PUB: &[u8] = include_bytes!("../tests/data/other.pub");
    const PAYLOAD: &[u8] = include_bytes!("../tests/data/single.payload");
    const SIG: &str = include_str!("../tests/data/single.sig");

    fn b64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    fn lab() -> PublicKey {
        PublicKey::from_pem(LAB_PUB).expect("lab.pub")
    }

    /// A throwaway key pair for signatures the recorded data does not have.
    fn test_key() -> (SigningKey, PublicKey) {
        let sk = SigningKey::from_slice(&[7u8; 32]).expect("scalar");
        let pk = PublicKey::from_verifying_key(*sk.verifying_key());
        (sk, pk)
    }

    #[track_caller]
    fn check_err(keys: &[PublicKey], payload: &[u8], sig: Option<&str>, expected: &str) {
        match verify(keys, payload, sig) {
            Ok(v) => panic!("accepted: {v:?}"),
            Err(e) => assert_eq!(e.to_string(), expected),
        }
    }

    #[test]
    fn recorded_skopeo_signature_verifies() {
        let v = verify(&[lab()], PAYLOAD, Some(SIG.trim())).expect("valid");
        assert_eq!(
            v.payload().docker_manifest_digest.to_string(),
            "sha256:9d787d7bfc4d7b2f3d15e7a1e31329166fc3adbc938a52590056b8b3cc8e6ac4"
        );
        assert_eq!(v.key_fingerprint(), lab().fingerprint());
        assert_eq!(
            lab().fingerprint(),
            "173a6033efae9da710369b1079885236e8ef252b387ad98939a43a6ccfa624bd"
        );
    }

    #[test]
    fn any_key_may_verify() {
        let other = PublicKey::from_pem(OTHER_PUB).expect("other.pub");
        assert!(verify(&[other.clone(), lab()], PAYLOAD, Some(SIG.trim())).is_ok());
        check_err(
            &[other],
            PAYLOAD,
            Some(SIG.trim()),
            "cryptographic signature verification failed: invalid signature when validating ASN.1 encoded signature",
        );
    }

    #[test]
    fn tampered_payload_and_annotation() {
        let mut tampered = PAYLOAD.to_vec();
        let at = tampered.len() - 3;
        tampered[at] ^= 1;
        check_err(
            &[lab()],
            &tampered,
            Some(SIG.trim()),
            "cryptographic signature verification failed: invalid signature when validating ASN.1 encoded signature",
        );
        let mut sig = base64::engine::general_purpose::STANDARD
            .decode(SIG.trim())
            .expect("b64");
        let last = sig.len() - 1;
        sig[last] ^= 0x40;
        check_err(
            &[lab()],
            PAYLOAD,
            Some(&b64(&sig)),
            "cryptographic signature verification failed: invalid signature when validating ASN.1 encoded signature",
        );
        check_err(
            &[lab()],
            PAYLOAD,
            None,
            "missing dev.cosignproject.cosign/signature annotation",
        );
        check_err(
            &[lab()],
            PAYLOAD,
            Some("not base64!"),
            "base64 decoding: Invalid symbol 32, offset 3.",
        );
        check_err(
            &[lab()],
            PAYLOAD,
            Some(&b64(b"short")),
            "cryptographic signature verification failed: invalid signature: neither ASN.1 DER nor IEEE-P1363 (r||s)",
        );
    }

    #[test]
    fn der_and_p1363_signatures() {
        let (sk, pk) = test_key();
        let payload = payload::tests::payload_with("\"sha256:".to_owned() + &"a".repeat(64) + "\"");
        let sig: Signature = sk.sign(payload.as_bytes());
        let der = sig.to_der();
        assert!(
            verify(
                std::slice::from_ref(&pk),
                payload.as_bytes(),
                Some(&b64(der.as_bytes()))
            )
            .is_ok()
        );
        assert!(
            verify(
                std::slice::from_ref(&pk),
                payload.as_bytes(),
                Some(&b64(&sig.to_bytes()))
            )
            .is_ok()
        );
        check_err(
            std::slice::from_ref(&lab()),
            payload.as_bytes(),
            Some(&b64(&sig.to_bytes())),
            "cryptographic signature verification failed: invalid signature when validating IEEE-P1363 encoded signature",
        );
    }

    #[test]
    fn signature_checked_before_payload() {
        let (sk, pk) = test_key();
        let bad = br#"{"critical":{},"optional":null}"#;
        let sig: Signature = sk.sign(bad);
        // Verified with the right key, the payload is parsed and rejected...
        match verify(
            std::slice::from_ref(&pk),
            bad,
            Some(&b64(sig.to_der().as_bytes())),
        ) {
            Err(SignatureError::Payload(_)) => {}
            other => panic!("{other:?}"),
        }
        // ...with the wrong key, the bad payload is never looked at.
        match verify(&[lab()], bad, Some(&b64(sig.to_der().as_bytes()))) {
            Err(SignatureError::Cryptographic(_)) => {}
            other => panic!("{other:?}"),
        }
    }
}
