//! Private keys in cosign's encrypted PEM format, key generation and signing (feature
//! `sign`).
//!
//! The PEM body is JSON: `{"kdf":{"name":"scrypt","params":{"N","r","p"},"salt"},
//! "cipher":{"name":"nacl/secretbox","nonce"},"ciphertext"}`; the secretbox key is
//! `scrypt(passphrase, salt, N, r, p, 32)` and the plaintext the PKCS#8 DER of the key.

use std::fmt;

use base64::Engine as _;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use p256::elliptic_curve::Generate as _;
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use poly1305::Poly1305;
use poly1305::universal_hash::KeyInit as _;
use salsa20::XSalsa20;
use salsa20::cipher::{KeyIvInit as _, StreamCipher as _};
use serde::{Deserialize, Serialize};

use crate::key::decode_pem;
use crate::{KeyError, PublicKey};

/// The PEM label cosign writes today.
pub const SIGSTORE_PRIVATE_KEY_LABEL: &str = "ENCRYPTED SIGSTORE PRIVATE KEY";
/// The PEM label older cosign and skopeo write.
pub const COSIGN_PRIVATE_KEY_LABEL: &str = "ENCRYPTED COSIGN PRIVATE KEY";

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Why a private key cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PrivateKeyError {
    /// Not PEM, or a PEM block of another type.
    #[error(transparent)]
    Pem(#[from] KeyError),
    /// The JSON envelope is malformed or uses an unsupported KDF or cipher.
    #[error("invalid encrypted key: {0}")]
    Format(String),
    /// The secretbox did not open: wrong passphrase (or a corrupted key).
    #[error("decrypting the private key failed: wrong passphrase or corrupted key")]
    Decrypt,
    /// The system random number generator failed.
    #[error("random number generator: {0}")]
    Random(String),
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    kdf: Kdf,
    cipher: Cipher,
    ciphertext: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Kdf {
    name: String,
    params: ScryptParams,
    salt: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScryptParams {
    #[serde(rename = "N")]
    n: u64,
    r: u32,
    p: u32,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Cipher {
    name: String,
    nonce: String,
}

/// An ECDSA P-256 signing key. `Debug` never shows it.
#[derive(Clone)]
pub struct PrivateKey {
    key: SigningKey,
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("public", &self.public_key().fingerprint())
            .finish_non_exhaustive()
    }
}

impl PrivateKey {
    /// A new random key.
    pub fn generate() -> Result<PrivateKey, PrivateKeyError> {
        let key = SigningKey::try_generate().map_err(|e| PrivateKeyError::Random(e.to_string()))?;
        Ok(PrivateKey { key })
    }

    /// Decrypts a cosign/skopeo encrypted private key with `passphrase`.
    pub fn from_encrypted_pem(
        pem: &[u8],
        passphrase: &[u8],
    ) -> Result<PrivateKey, PrivateKeyError> {
        let (label, body) = decode_pem(pem)?;
        if label != SIGSTORE_PRIVATE_KEY_LABEL && label != COSIGN_PRIVATE_KEY_LABEL {
            return Err(KeyError::WrongPemType {
                found: label,
                want: "\"ENCRYPTED SIGSTORE PRIVATE KEY\" or \"ENCRYPTED COSIGN PRIVATE KEY\"",
            }
            .into());
        }
        let fmt_err = |m: String| PrivateKeyError::Format(m);
        let env: Envelope = serde_json::from_slice(&body).map_err(|e| fmt_err(e.to_string()))?;
        if env.kdf.name != "scrypt" {
            return Err(fmt_err(format!("unsupported kdf {:?}", env.kdf.name)));
        }
        if env.cipher.name != "nacl/secretbox" {
            return Err(fmt_err(format!("unsupported cipher {:?}", env.cipher.name)));
        }
        let ScryptParams { n, r, p } = env.kdf.params;
        // cosign writes N = 32768 (or 65536/131072 for stronger keys), r = 8, p = 1; anything
        // else is refused rather than letting a key file choose our memory use.
        let log_n = match n {
            32768 => 15,
            65536 => 16,
            131072 => 17,
            _ => return Err(fmt_err(format!("unsupported scrypt N {n}"))),
        };
        if r != 8 || p != 1 {
            return Err(fmt_err(format!("unsupported scrypt r {r}, p {p}")));
        }
        let decode =
            |what: &str, s: &str| B64.decode(s).map_err(|e| fmt_err(format!("{what}: {e}")));
        let salt = decode("salt", &env.kdf.salt)?;
        let nonce = decode("nonce", &env.cipher.nonce)?;
        let sealed = decode("ciphertext", &env.ciphertext)?;
        let nonce: [u8; 24] = nonce
            .try_into()
            .map_err(|_| fmt_err("nonce is not 24 bytes".into()))?;
        let secret = derive_key(passphrase, &salt, log_n)?;
        let der = secretbox_open(&secret, &nonce, &sealed).ok_or(PrivateKeyError::Decrypt)?;
        let key = SigningKey::from_pkcs8_der(&der).map_err(|e| fmt_err(format!("PKCS#8: {e}")))?;
        Ok(PrivateKey { key })
    }

    /// Encrypts the key as cosign does (scrypt N=32768, r=8, p=1; nacl/secretbox), PEM
    /// `ENCRYPTED SIGSTORE PRIVATE KEY`.
    pub fn to_encrypted_pem(&self, passphrase: &[u8]) -> Result<String, PrivateKeyError> {
        let mut salt = [0u8; 32];
        let mut nonce = [0u8; 24];
        getrandom::fill(&mut salt).map_err(|e| PrivateKeyError::Random(e.to_string()))?;
        getrandom::fill(&mut nonce).map_err(|e| PrivateKeyError::Random(e.to_string()))?;
        let secret = derive_key(passphrase, &salt, 15)?;
        let der = self
            .key
            .to_pkcs8_der()
            .map_err(|e| PrivateKeyError::Format(e.to_string()))?;
        let sealed = secretbox_seal(&secret, &nonce, der.as_bytes());
        let env = Envelope {
            kdf: Kdf {
                name: "scrypt".into(),
                params: ScryptParams {
                    n: 32768,
                    r: 8,
                    p: 1,
                },
                salt: B64.encode(salt),
            },
            cipher: Cipher {
                name: "nacl/secretbox".into(),
                nonce: B64.encode(nonce),
            },
            ciphertext: B64.encode(sealed),
        };
        let json = serde_json::to_vec(&env).map_err(|e| PrivateKeyError::Format(e.to_string()))?;
        Ok(encode_pem(SIGSTORE_PRIVATE_KEY_LABEL, &json))
    }

    /// The public half.
    pub fn public_key(&self) -> PublicKey {
        PublicKey::from_verifying_key(*self.key.verifying_key())
    }

    /// The public half as PEM `PUBLIC KEY`.
    pub fn public_key_pem(&self) -> Result<String, PrivateKeyError> {
        self.key
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| PrivateKeyError::Format(e.to_string()))
    }

    /// Signs `payload` (ECDSA P-256, SHA-256) and returns the standard base64 of the ASN.1
    /// DER signature: the value of the signature annotation.
    pub fn sign_base64(&self, payload: &[u8]) -> String {
        let sig: Signature = self.key.sign(payload);
        B64.encode(sig.to_der().as_bytes())
    }
}

fn derive_key(passphrase: &[u8], salt: &[u8], log_n: u8) -> Result<[u8; 32], PrivateKeyError> {
    let params = scrypt::Params::new(log_n, 8, 1)
        .map_err(|e| PrivateKeyError::Format(format!("scrypt params: {e}")))?;
    let mut out = [0u8; 32];
    scrypt::scrypt(passphrase, salt, &params, &mut out)
        .map_err(|e| PrivateKeyError::Format(format!("scrypt: {e}")))?;
    Ok(out)
}

/// NaCl `secretbox` (XSalsa20-Poly1305): the first 32 keystream bytes key Poly1305, the rest
/// encrypt; the box is `tag || ciphertext`.
fn secretbox_seal(key: &[u8; 32], nonce: &[u8; 24], plaintext: &[u8]) -> Vec<u8> {
    let mut cipher = XSalsa20::new(&(*key).into(), &(*nonce).into());
    let mut poly_key = [0u8; 32];
    cipher.apply_keystream(&mut poly_key);
    let mut ct = plaintext.to_vec();
    cipher.apply_keystream(&mut ct);
    let tag = Poly1305::new(&poly_key.into()).compute_unpadded(&ct);
    let mut out = tag.to_vec();
    out.extend_from_slice(&ct);
    out
}

fn secretbox_open(key: &[u8; 32], nonce: &[u8; 24], sealed: &[u8]) -> Option<Vec<u8>> {
    if sealed.len() < 16 {
        return None;
    }
    let (tag, ct) = sealed.split_at(16);
    let mut cipher = XSalsa20::new(&(*key).into(), &(*nonce).into());
    let mut poly_key = [0u8; 32];
    cipher.apply_keystream(&mut poly_key);
    let expected = Poly1305::new(&poly_key.into()).compute_unpadded(ct);
    // Compare without an early exit.
    let diff = expected
        .iter()
        .zip(tag)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b));
    if diff != 0 {
        return None;
    }
    let mut pt = ct.to_vec();
    cipher.apply_keystream(&mut pt);
    Some(pt)
}

fn encode_pem(label: &str, body: &[u8]) -> String {
    let b64 = B64.encode(body);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify;

    const PASS: &[u8] = b"lab-passphrase";

    fn payload() -> Vec<u8> {
        crate::payload_bytes(
            &"sha256:9d787d7bfc4d7b2f3d15e7a1e31329166fc3adbc938a52590056b8b3cc8e6ac4"
                .parse()
                .expect("digest"),
            "127.0.0.1:5000/fixtures/single:v1",
            "hangar test",
            1_795_800_539,
        )
    }

    #[track_caller]
    fn check_fixture_key(pem: &[u8], public: &[u8]) {
        let key = PrivateKey::from_encrypted_pem(pem, PASS).expect("decrypts");
        let public = PublicKey::from_pem(public).expect("public");
        assert_eq!(key.public_key(), public);
        let p = payload();
        let sig = key.sign_base64(&p);
        assert!(verify(&[public], &p, Some(&sig)).is_ok());
    }

    #[test]
    fn skopeo_and_cosign_keys_decrypt_and_sign() {
        check_fixture_key(
            include_bytes!("../tests/data/lab.key"),
            include_bytes!("../tests/data/lab.pub"),
        );
        check_fixture_key(
            include_bytes!("../tests/data/lab-cosigntype.key"),
            include_bytes!("../tests/data/lab.pub"),
        );
        check_fixture_key(
            include_bytes!("../tests/data/skopeo-generated.private"),
            include_bytes!("../tests/data/skopeo-generated.pub"),
        );
    }

    #[test]
    fn wrong_passphrase_and_bad_files() {
        let lab = include_bytes!("../tests/data/lab.key");
        assert_eq!(
            PrivateKey::from_encrypted_pem(lab, b"nope").err(),
            Some(PrivateKeyError::Decrypt)
        );
        let public = include_bytes!("../tests/data/lab.pub");
        assert_eq!(
            PrivateKey::from_encrypted_pem(public, PASS).err().map(|e| e.to_string()),
            Some("unexpected PEM block type \"PUBLIC KEY\", want \"ENCRYPTED SIGSTORE PRIVATE KEY\" or \"ENCRYPTED COSIGN PRIVATE KEY\"".to_owned())
        );
        let weird = encode_pem(COSIGN_PRIVATE_KEY_LABEL, br#"{"kdf":{"name":"scrypt","params":{"N":1048576,"r":8,"p":1},"salt":""},"cipher":{"name":"nacl/secretbox","nonce":""},"ciphertext":""}"#);
        assert_eq!(
            PrivateKey::from_encrypted_pem(weird.as_bytes(), PASS)
                .err()
                .map(|e| e.to_string()),
            Some("invalid encrypted key: unsupported scrypt N 1048576".to_owned())
        );
    }

    #[test]
    fn generated_keys_round_trip() {
        let key = PrivateKey::generate().expect("generate");
        let pem = key.to_encrypted_pem(b"pw").expect("encrypt");
        assert!(pem.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"));
        let back = PrivateKey::from_encrypted_pem(pem.as_bytes(), b"pw").expect("decrypt");
        assert_eq!(back.public_key(), key.public_key());
        let public =
            PublicKey::from_pem(key.public_key_pem().expect("pem").as_bytes()).expect("public pem");
        assert_eq!(public, key.public_key());
        assert!(format!("{key:?}").starts_with("PrivateKey { public: "));
    }
}
