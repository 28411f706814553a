//! Trusted public keys: PEM loading and the ECDSA check over payload bytes.

use p256::ecdsa::{DerSignature, Signature, VerifyingKey};
use p256::pkcs8::{
    DecodePublicKey, EncodePublicKey, ObjectIdentifier, spki::SubjectPublicKeyInfoRef,
};
use sha2::{Digest as _, Sha256};

const ID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const SECP256R1: &str = "1.2.840.10045.3.1.7";

/// Why a public key file cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The bytes are not a PEM block.
    #[error("not a PEM file: {0}")]
    NotPem(String),
    /// The PEM block is of another type.
    #[error("unexpected PEM block type {found:?}, want {want}")]
    WrongPemType {
        /// The label found.
        found: String,
        /// What was expected.
        want: &'static str,
    },
    /// The DER inside is not a SubjectPublicKeyInfo.
    #[error("malformed public key: {0}")]
    Malformed(String),
    /// A well-formed key of a type hangar does not verify with.
    #[error("unsupported public key type {0} (only ECDSA P-256 is supported)")]
    Unsupported(String),
}

/// A trusted ECDSA P-256 public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    key: VerifyingKey,
    fingerprint: String,
}

impl PublicKey {
    /// Loads a PEM `PUBLIC KEY` (PKIX SubjectPublicKeyInfo), as cosign and skopeo write them.
    pub fn from_pem(pem: &[u8]) -> Result<PublicKey, KeyError> {
        let (label, der) = decode_pem(pem)?;
        if label != "PUBLIC KEY" {
            return Err(KeyError::WrongPemType {
                found: label,
                want: "\"PUBLIC KEY\"",
            });
        }
        let spki = SubjectPublicKeyInfoRef::try_from(der.as_slice())
            .map_err(|e| KeyError::Malformed(e.to_string()))?;
        let algorithm = spki.algorithm.oid;
        let curve = spki.algorithm.parameters_oid().ok();
        let ec: ObjectIdentifier = ObjectIdentifier::new_unwrap(ID_EC_PUBLIC_KEY);
        let p256: ObjectIdentifier = ObjectIdentifier::new_unwrap(SECP256R1);
        if algorithm != ec || curve != Some(p256) {
            let what = match (algorithm.to_string().as_str(), curve) {
                ("1.2.840.113549.1.1.1", _) => "RSA".to_owned(),
                ("1.3.101.112", _) => "Ed25519".to_owned(),
                (ID_EC_PUBLIC_KEY, Some(c)) => format!("ECDSA with curve OID {c}"),
                (oid, _) => format!("with algorithm OID {oid}"),
            };
            return Err(KeyError::Unsupported(what));
        }
        let key = VerifyingKey::from_public_key_der(&der)
            .map_err(|e| KeyError::Malformed(e.to_string()))?;
        Ok(PublicKey::from_verifying_key(key))
    }

    /// Wraps an in-memory key.
    pub fn from_verifying_key(key: VerifyingKey) -> PublicKey {
        let fingerprint = match key.to_public_key_der() {
            Ok(der) => hex(&Sha256::digest(der.as_bytes())),
            Err(_) => String::new(),
        };
        PublicKey { key, fingerprint }
    }

    /// The SHA-256 of the key's DER SubjectPublicKeyInfo, in hex: names the key in reports.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads the first PEM block: its label and decoded body.
pub(crate) fn decode_pem(pem: &[u8]) -> Result<(String, Vec<u8>), KeyError> {
    use base64::Engine as _;
    let text = std::str::from_utf8(pem).map_err(|_| KeyError::NotPem("not UTF-8 text".into()))?;
    let begin = text
        .find("-----BEGIN ")
        .ok_or_else(|| KeyError::NotPem("no \"-----BEGIN\" line".into()))?;
    let rest = &text[begin + "-----BEGIN ".len()..];
    let (label, rest) = rest
        .split_once("-----")
        .ok_or_else(|| KeyError::NotPem("unterminated BEGIN line".into()))?;
    let end_line = format!("-----END {label}-----");
    let body = rest
        .find(&end_line)
        .map(|i| &rest[..i])
        .ok_or_else(|| KeyError::NotPem(format!("no {end_line:?} line")))?;
    let b64: String = body.split_whitespace().collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|e| KeyError::NotPem(format!("base64 body: {e}")))?;
    Ok((label.to_owned(), der))
}

/// Verifies `sig` over `payload` with each key in turn; returns the first key that accepts.
/// The error text is sigstore-go's, which containers/image reports.
pub(crate) fn verify_any<'k>(
    keys: &'k [PublicKey],
    payload: &[u8],
    sig: &[u8],
) -> Result<&'k PublicKey, String> {
    // DER first, as cosign writes it; a 64-byte r||s (IEEE P1363) is accepted too.
    let (parsed, encoding) = match DerSignature::from_bytes(sig).and_then(Signature::try_from) {
        Ok(s) => (s, "ASN.1"),
        Err(_) => match Signature::from_slice(sig) {
            Ok(s) if sig.len() == 64 => (s, "IEEE-P1363"),
            _ => {
                return Err("invalid signature: neither ASN.1 DER nor IEEE-P1363 (r||s)".to_owned());
            }
        },
    };
    keys.iter()
        .find(|k| k.verifies(payload, &parsed))
        .ok_or_else(|| format!("invalid signature when validating {encoding} encoded signature"))
}

impl PublicKey {
    /// The ECDSA check itself. With feature `aws-lc` it runs in aws-lc (about 6× faster
    /// than the pure-Rust arithmetic; the key and signature were already parsed by p256).
    #[cfg(not(feature = "aws-lc"))]
    fn verifies(&self, payload: &[u8], sig: &Signature) -> bool {
        use p256::ecdsa::signature::Verifier as _;
        self.key.verify(payload, sig).is_ok()
    }

    #[cfg(feature = "aws-lc")]
    fn verifies(&self, payload: &[u8], sig: &Signature) -> bool {
        use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};
        let point = self.key.to_sec1_bytes();
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &point[..])
            .verify(payload, &sig.to_bytes())
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(pem: &str, expected: &str) {
        let got = match PublicKey::from_pem(pem.as_bytes()) {
            Ok(k) => format!("ok {}", k.fingerprint()),
            Err(e) => e.to_string(),
        };
        assert_eq!(got, expected);
    }

    #[test]
    fn key_files() {
        check(
            include_str!("../tests/data/other.pub"),
            "ok f9d6d37a0dabd66f434708381e989ce16fcf48ceca10bfdad3351470766a505c",
        );
        check("hello", "not a PEM file: no \"-----BEGIN\" line");
        check(
            "-----BEGIN PUBLIC KEY-----\nAAAA\n",
            "not a PEM file: no \"-----END PUBLIC KEY-----\" line",
        );
        check(
            "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n",
            "unexpected PEM block type \"EC PRIVATE KEY\", want \"PUBLIC KEY\"",
        );
        check(
            "-----BEGIN PUBLIC KEY-----\n!!\n-----END PUBLIC KEY-----\n",
            "not a PEM file: base64 body: Invalid symbol 33, offset 0.",
        );
        // A real Ed25519 key (RFC 8410 example).
        check(
            "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n",
            "unsupported public key type Ed25519 (only ECDSA P-256 is supported)",
        );
        // A P-384 key.
        check(
            "-----BEGIN PUBLIC KEY-----\nMHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEOSnRLrooLz4unAetLXNA06InDrZDh0mY\nfzjkjSdp927QJyEmA6hY98r+ZDR46qSN2Giu/2tObAZdP8YAdYtZwN4HahbH6OBr\njAShk0ebDoNhiEOdcXGT0IC2ZqZgdZjA\n-----END PUBLIC KEY-----\n",
            "unsupported public key type ECDSA with curve OID 1.3.132.0.34 (only ECDSA P-256 is supported)",
        );
    }
}
