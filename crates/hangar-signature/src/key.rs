//! Trusted public keys: PEM loading and the signature check over payload bytes.
//!
//! Which hash each key type is checked with follows the two signers users have:
//! containers/image (skopeo, podman, Go hangar) hashes with SHA-256 whatever the key, and
//! cosign ≥ 2.6 hashes ECDSA with the curve's own hash (SHA-384 for P-384, SHA-512 for
//! P-521). Both are accepted for ECDSA; no other hash is. RSA is PKCS#1 v1.5 with SHA-256
//! (both signers), Ed25519 is pure Ed25519 over the payload.

use ecdsa::EcdsaCurve;
use ecdsa::elliptic_curve::array::ArraySize;
use ecdsa::elliptic_curve::{CurveArithmetic, FieldBytesSize};
use ecdsa::signature::hazmat::PrehashVerifier;
use p256::pkcs8::{DecodePublicKey, EncodePublicKey, spki::SubjectPublicKeyInfoRef};
use rsa::pkcs1::DecodeRsaPublicKey as _;
use rsa::traits::PublicKeyParts as _;
use sha2::{Digest as _, Sha256, Sha384, Sha512};
use std::ops::Add;

const ID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const SECP256R1: &str = "1.2.840.10045.3.1.7";
const SECP384R1: &str = "1.3.132.0.34";
const SECP521R1: &str = "1.3.132.0.35";
const RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";
const ED25519: &str = "1.3.101.112";

/// RSA moduli below this many bits are refused at load, as cosign refuses them.
pub const MIN_RSA_BITS: usize = 2048;

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
    /// The DER inside is not a SubjectPublicKeyInfo (or PKCS#1 RSA key).
    #[error("malformed public key: {0}")]
    Malformed(String),
    /// The file holds more than one PEM block; which one is meant is not guessed.
    #[error(
        "the file holds {0} PEM blocks: give one key per file (repeat -p, or list keyPaths, to trust several)"
    )]
    SeveralBlocks(usize),
    /// A well-formed key of a type hangar does not verify with.
    #[error(
        "unsupported public key type {0} (supported: ECDSA P-256, P-384, P-521, Ed25519, RSA ≥ {MIN_RSA_BITS} bits)"
    )]
    Unsupported(String),
}

#[derive(Debug, Clone)]
enum Kind {
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
    P521(p521::ecdsa::VerifyingKey),
    Ed25519(ed25519_dalek::VerifyingKey),
    Rsa(rsa::PublicKey),
}

/// A trusted public key: ECDSA P-256, P-384 or P-521, Ed25519, or RSA (PKCS#1 v1.5).
#[derive(Debug, Clone)]
pub struct PublicKey {
    kind: Kind,
    fingerprint: String,
    spki: Vec<u8>,
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        // The fingerprint hashes the whole SubjectPublicKeyInfo: equal keys, equal hashes.
        self.fingerprint == other.fingerprint
    }
}

impl Eq for PublicKey {}

impl PublicKey {
    /// Loads a PEM `PUBLIC KEY` (PKIX SubjectPublicKeyInfo, as cosign and skopeo write
    /// them) or an `RSA PUBLIC KEY` (PKCS#1).
    pub fn from_pem(pem: &[u8]) -> Result<PublicKey, KeyError> {
        let (label, der) = decode_pem(pem)?;
        let blocks = String::from_utf8_lossy(pem).matches("-----BEGIN ").count();
        if blocks > 1 {
            return Err(KeyError::SeveralBlocks(blocks));
        }
        match label.as_str() {
            "PUBLIC KEY" => PublicKey::from_spki_der(&der),
            "RSA PUBLIC KEY" => PublicKey::from_pkcs1_der(&der),
            _ => Err(KeyError::WrongPemType {
                found: label,
                want: "\"PUBLIC KEY\" or \"RSA PUBLIC KEY\"",
            }),
        }
    }

    /// Loads a DER PKCS#1 RSAPublicKey (the body of an `RSA PUBLIC KEY` block).
    pub fn from_pkcs1_der(der: &[u8]) -> Result<PublicKey, KeyError> {
        let key =
            rsa::PublicKey::from_pkcs1_der(der).map_err(|e| KeyError::Malformed(e.to_string()))?;
        PublicKey::from_rsa(key)
    }

    /// Loads a DER SubjectPublicKeyInfo.
    pub fn from_spki_der(der: &[u8]) -> Result<PublicKey, KeyError> {
        let malformed = |e: &dyn std::fmt::Display| KeyError::Malformed(e.to_string());
        let spki = SubjectPublicKeyInfoRef::try_from(der).map_err(|e| malformed(&e))?;
        let algorithm = spki.algorithm.oid.to_string();
        let kind = match algorithm.as_str() {
            ID_EC_PUBLIC_KEY => {
                let curve = spki
                    .algorithm
                    .parameters_oid()
                    .map(|c| c.to_string())
                    .unwrap_or_default();
                match curve.as_str() {
                    SECP256R1 => Kind::P256(
                        DecodePublicKey::from_public_key_der(der).map_err(|e| malformed(&e))?,
                    ),
                    SECP384R1 => Kind::P384(
                        DecodePublicKey::from_public_key_der(der).map_err(|e| malformed(&e))?,
                    ),
                    SECP521R1 => Kind::P521(
                        DecodePublicKey::from_public_key_der(der).map_err(|e| malformed(&e))?,
                    ),
                    other => {
                        return Err(KeyError::Unsupported(format!(
                            "ECDSA with curve OID {other}"
                        )));
                    }
                }
            }
            ED25519 => {
                Kind::Ed25519(DecodePublicKey::from_public_key_der(der).map_err(|e| malformed(&e))?)
            }
            RSA_ENCRYPTION => {
                let key = rsa::PublicKey::from_public_key_der(der).map_err(|e| malformed(&e))?;
                return PublicKey::from_rsa(key);
            }
            other => {
                return Err(KeyError::Unsupported(format!("with algorithm OID {other}")));
            }
        };
        Ok(PublicKey::new(kind, der))
    }

    fn from_rsa(key: rsa::PublicKey) -> Result<PublicKey, KeyError> {
        let bits = key.size() * 8;
        if bits < MIN_RSA_BITS {
            return Err(KeyError::Unsupported(format!("RSA {bits} bits")));
        }
        let der = key
            .to_public_key_der()
            .map_err(|e| KeyError::Malformed(e.to_string()))?;
        Ok(PublicKey::new(Kind::Rsa(key), der.as_bytes()))
    }

    fn new(kind: Kind, spki_der: &[u8]) -> PublicKey {
        PublicKey {
            kind,
            fingerprint: hex(&Sha256::digest(spki_der)),
            spki: spki_der.to_vec(),
        }
    }

    /// Wraps an in-memory P-256 key.
    pub fn from_verifying_key(key: p256::ecdsa::VerifyingKey) -> PublicKey {
        let der = key
            .to_public_key_der()
            .map(|d| d.as_bytes().to_vec())
            .unwrap_or_default();
        PublicKey::new(Kind::P256(key), &der)
    }

    /// The key's DER SubjectPublicKeyInfo (what a Rekor entry names).
    pub fn spki_der(&self) -> &[u8] {
        &self.spki
    }

    /// The SHA-256 of the key's DER SubjectPublicKeyInfo, in hex: names the key in reports.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The key type, e.g. `ECDSA P-384`, `Ed25519`, `RSA 3072`.
    pub fn algorithm(&self) -> String {
        match &self.kind {
            Kind::P256(_) => "ECDSA P-256".to_owned(),
            Kind::P384(_) => "ECDSA P-384".to_owned(),
            Kind::P521(_) => "ECDSA P-521".to_owned(),
            Kind::Ed25519(_) => "Ed25519".to_owned(),
            Kind::Rsa(k) => format!("RSA {}", k.size() * 8),
        }
    }

    /// Checks a raw signature `sig` over `message` with the hashes this key type accepts
    /// (ECDSA: DER or r‖s, SHA-256 or the curve's hash; RSA PKCS#1 v1.5 SHA-256; pure
    /// Ed25519): what Rekor SETs, SCTs and Fulcio-certified signatures need.
    pub fn verify_raw(&self, message: &[u8], sig: &[u8]) -> Result<(), String> {
        self.check(message, sig)
    }

    /// Checks a raw signature over a message known only by its SHA-256 `digest` (a Sigstore
    /// bundle's message signature over an artifact): ECDSA on any supported curve and RSA
    /// PKCS#1 v1.5 with SHA-256. Ed25519 signs the message itself, so it cannot be checked
    /// from a digest.
    pub fn verify_sha256_digest(&self, digest: &[u8; 32], sig: &[u8]) -> Result<(), String> {
        match &self.kind {
            Kind::P256(k) => check_ecdsa(k, sig, &[digest]),
            Kind::P384(k) => check_ecdsa(k, sig, &[digest]),
            Kind::P521(k) => check_ecdsa(k, sig, &[digest]),
            Kind::Ed25519(_) => {
                Err("an Ed25519 signature cannot be checked from a digest: the artifact itself is needed".to_owned())
            }
            Kind::Rsa(k) => k
                .verify(rsa::Pkcs1v15Sign::new::<Sha256>(), digest, sig)
                .map_err(|_| "crypto/rsa: verification error".to_owned()),
        }
    }

    /// Checks `sig` over `payload`; the error is sigstore-go's text for this key type.
    fn check(&self, payload: &[u8], sig: &[u8]) -> Result<(), String> {
        match &self.kind {
            Kind::P256(k) => check_p256(k, payload, sig),
            Kind::P384(k) => check_ecdsa(
                k,
                sig,
                &[&Sha256::digest(payload), &Sha384::digest(payload)],
            ),
            Kind::P521(k) => check_ecdsa(
                k,
                sig,
                &[&Sha256::digest(payload), &Sha512::digest(payload)],
            ),
            Kind::Ed25519(k) => {
                let sig = ed25519_dalek::Signature::from_slice(sig)
                    .map_err(|_| "failed to verify signature".to_owned())?;
                k.verify_strict(payload, &sig)
                    .map_err(|_| "failed to verify signature".to_owned())
            }
            Kind::Rsa(k) => k
                .verify(
                    rsa::Pkcs1v15Sign::new::<Sha256>(),
                    &Sha256::digest(payload),
                    sig,
                )
                .map_err(|_| "crypto/rsa: verification error".to_owned()),
        }
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
/// When none does, the error is the first key's, in sigstore-go's words (containers/image
/// reports them).
pub(crate) fn verify_any<'k>(
    keys: &'k [PublicKey],
    payload: &[u8],
    sig: &[u8],
) -> Result<&'k PublicKey, String> {
    let mut first_error = None;
    for key in keys {
        match key.check(payload, sig) {
            Ok(()) => return Ok(key),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(first_error.unwrap_or_else(|| "no public key to verify with".to_owned()))
}

/// An ECDSA signature as cosign writes it (ASN.1 DER) or as r||s (IEEE P1363), and which
/// encoding it was, for the error text.
fn parse_ecdsa<C>(sig: &[u8]) -> Result<(ecdsa::Signature<C>, &'static str), String>
where
    C: EcdsaCurve,
    ecdsa::der::MaxSize<C>: ArraySize,
    <FieldBytesSize<C> as Add>::Output: Add<ecdsa::der::MaxOverhead> + ArraySize,
{
    if let Ok(s) = ecdsa::Signature::<C>::from_der(sig) {
        return Ok((s, "ASN.1"));
    }
    match ecdsa::Signature::<C>::from_slice(sig) {
        Ok(s) => Ok((s, "IEEE-P1363")),
        Err(_) => Err("invalid signature: neither ASN.1 DER nor IEEE-P1363 (r||s)".to_owned()),
    }
}

/// The ECDSA check for P-384 and P-521, against each accepted hash of the payload.
fn check_ecdsa<C>(key: &ecdsa::VerifyingKey<C>, sig: &[u8], digests: &[&[u8]]) -> Result<(), String>
where
    C: EcdsaCurve + CurveArithmetic,
    ecdsa::der::MaxSize<C>: ArraySize,
    <FieldBytesSize<C> as Add>::Output: Add<ecdsa::der::MaxOverhead> + ArraySize,
{
    let (parsed, encoding) = parse_ecdsa::<C>(sig)?;
    if digests
        .iter()
        .any(|d| key.verify_prehash(d, &parsed).is_ok())
    {
        Ok(())
    } else {
        Err(format!(
            "invalid signature when validating {encoding} encoded signature"
        ))
    }
}

/// The P-256 check: SHA-256 only. With feature `aws-lc` the arithmetic runs in aws-lc
/// (about 6× faster than pure Rust; the key and signature were already parsed by p256).
fn check_p256(key: &p256::ecdsa::VerifyingKey, payload: &[u8], sig: &[u8]) -> Result<(), String> {
    let (parsed, encoding) = parse_ecdsa::<p256::NistP256>(sig)?;
    if p256_verifies(key, payload, &parsed) {
        Ok(())
    } else {
        Err(format!(
            "invalid signature when validating {encoding} encoded signature"
        ))
    }
}

#[cfg(not(feature = "aws-lc"))]
fn p256_verifies(
    key: &p256::ecdsa::VerifyingKey,
    payload: &[u8],
    sig: &p256::ecdsa::Signature,
) -> bool {
    key.verify_prehash(&Sha256::digest(payload), sig).is_ok()
}

#[cfg(feature = "aws-lc")]
fn p256_verifies(
    key: &p256::ecdsa::VerifyingKey,
    payload: &[u8],
    sig: &p256::ecdsa::Signature,
) -> bool {
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};
    let point = key.to_sec1_bytes();
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &point[..])
        .verify(payload, &sig.to_bytes())
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    const PAYLOAD: &[u8] = include_bytes!("../tests/data/single.payload");

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
            "unexpected PEM block type \"EC PRIVATE KEY\", want \"PUBLIC KEY\" or \"RSA PUBLIC KEY\"",
        );
        check(
            "-----BEGIN PUBLIC KEY-----\n!!\n-----END PUBLIC KEY-----\n",
            "not a PEM file: base64 body: Invalid symbol 33, offset 0.",
        );
        // A real Ed25519 key (RFC 8410 example).
        let ed = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n";
        let key = PublicKey::from_pem(ed.as_bytes()).expect("Ed25519");
        assert_eq!(key.algorithm(), "Ed25519");
        // Two keys in one file: neither is silently dropped.
        let two = format!("{}{ed}", include_str!("../tests/data/other.pub"));
        check(
            &two,
            "the file holds 2 PEM blocks: give one key per file (repeat -p, or list keyPaths, to trust several)",
        );
        // secp256k1 (cosign cannot make these either).
        check(
            "-----BEGIN PUBLIC KEY-----\nMFYwEAYHKoZIzj0CAQYFK4EEAAoDQgAEsuR5cbmUzP3ynxnxqMX8T6/oC7pEfuiC\nb7NDC+1dJBOHKNHQmjKQ0QkGKa9M4U9XV1qB3dsB2xVUVPqjbIfnXg==\n-----END PUBLIC KEY-----\n",
            "unsupported public key type ECDSA with curve OID 1.3.132.0.10 (supported: ECDSA P-256, P-384, P-521, Ed25519, RSA ≥ 2048 bits)",
        );
        // RSA 1024: too small.
        check(
            "-----BEGIN PUBLIC KEY-----\nMIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDCxHZ4W4jhnJPGgTYQyCmwoFqY\nWyxWCGRLbvvaBTBsw1EUNLmkaZEc/5rE0rBgMm4yzJFRL2pnOYQxkVZH9P/xoxFE\nZIo1ov7lQbavU1xAZmmJtqVDKcvAs+T4e1vcb4OC/iE5kcHUbLMpyrGwgFtxMQrh\npP/+rLvjG1u9n2SB7QIDAQAB\n-----END PUBLIC KEY-----\n",
            "unsupported public key type RSA 1024 bits (supported: ECDSA P-256, P-384, P-521, Ed25519, RSA ≥ 2048 bits)",
        );
    }

    /// Keys and signatures made by openssl (see tests/data/keys/README.md), over the
    /// recorded skopeo payload.
    fn vector(name: &str) -> Vec<u8> {
        let path = format!("{}/tests/data/keys/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn key(name: &str) -> PublicKey {
        PublicKey::from_pem(&vector(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    fn sig(name: &str) -> Vec<u8> {
        let text = String::from_utf8(vector(name)).expect("text");
        base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .expect("base64")
    }

    #[track_caller]
    fn verdict(key: &PublicKey, signature: &str) -> Result<(), String> {
        key.check(PAYLOAD, &sig(signature))
    }

    #[test]
    fn each_key_type_with_its_accepted_hashes() {
        let p384 = key("p384.pub");
        assert_eq!(p384.algorithm(), "ECDSA P-384");
        // containers/image signs with SHA-256 whatever the curve; cosign ≥ 2.6 with SHA-384.
        assert_eq!(verdict(&p384, "p384-sha256.sig"), Ok(()));
        assert_eq!(verdict(&p384, "p384-sha384.sig"), Ok(()));
        assert_eq!(
            verdict(&p384, "p384-sha512.sig"),
            Err("invalid signature when validating ASN.1 encoded signature".to_owned())
        );

        let p521 = key("p521.pub");
        assert_eq!(p521.algorithm(), "ECDSA P-521");
        assert_eq!(verdict(&p521, "p521-sha256.sig"), Ok(()));
        assert_eq!(verdict(&p521, "p521-sha512.sig"), Ok(()));
        assert!(verdict(&p521, "p521-sha384.sig").is_err());

        let ed = key("ed25519.pub");
        assert_eq!(verdict(&ed, "ed25519.sig"), Ok(()));

        for pem in ["rsa.pub", "rsa-pkcs1.pub"] {
            let rsa = key(pem);
            assert_eq!(rsa.algorithm(), "RSA 2048");
            assert_eq!(verdict(&rsa, "rsa-sha256.sig"), Ok(()));
            for wrong in ["rsa-sha384.sig", "rsa-sha512.sig"] {
                assert_eq!(
                    verdict(&rsa, wrong),
                    Err("crypto/rsa: verification error".to_owned())
                );
            }
        }
        // Both RSA encodings are the same key.
        assert_eq!(key("rsa.pub"), key("rsa-pkcs1.pub"));
    }

    #[test]
    fn a_signature_never_verifies_under_another_key_or_payload() {
        let names = [
            ("p384.pub", "p384-sha384.sig"),
            ("p521.pub", "p521-sha512.sig"),
            ("ed25519.pub", "ed25519.sig"),
            ("rsa.pub", "rsa-sha256.sig"),
        ];
        let mut tampered = PAYLOAD.to_vec();
        tampered[10] ^= 1;
        for (k, s) in names {
            assert!(
                key(k).check(&tampered, &sig(s)).is_err(),
                "{k} {s} tampered"
            );
            for (other, _) in names.iter().filter(|(o, _)| *o != k) {
                assert!(verdict(&key(other), s).is_err(), "{s} under {other}");
            }
        }
        // A raw r||s P-384 signature (IEEE P1363) is accepted like its DER form.
        let der = sig("p384-sha384.sig");
        let parsed = ecdsa::Signature::<p384::NistP384>::from_der(&der).expect("der");
        assert_eq!(key("p384.pub").check(PAYLOAD, &parsed.to_bytes()), Ok(()));
        // Truncated signatures are errors, not panics.
        for (k, s) in names {
            let raw = sig(s);
            for n in [0, 1, raw.len() / 2, raw.len() - 1] {
                assert!(key(k).check(PAYLOAD, &raw[..n]).is_err());
            }
        }
    }
}
