//! A token service for distribution's `auth: token` mode: JWTs (ES256) signed with a key
//! whose certificate is the registry's `rootcertbundle`, named by its libtrust key ID.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::{DecodePrivateKey, EncodePublicKey};
use sha2::{Digest as _, Sha256};

/// Issues registry tokens.
pub struct Issuer {
    key: SigningKey,
    kid: String,
    /// `iss` claim; the registry's `issuer`.
    pub issuer: String,
    /// `aud` claim; the registry's `service`.
    pub service: String,
}

/// libtrust's key ID: base32 of the first 30 bytes of SHA-256(SPKI DER), in 4-character
/// groups joined by ':'.
fn libtrust_kid(spki_der: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let hash = Sha256::digest(spki_der);
    let bytes = &hash[..30];
    let mut bits = 0u32;
    let mut nbits = 0;
    let mut out = String::new();
    for &b in bytes {
        bits = (bits << 8) | u32::from(b);
        nbits += 8;
        while nbits >= 5 {
            nbits -= 5;
            out.push(ALPHABET[((bits >> nbits) & 31) as usize] as char);
        }
    }
    let groups: Vec<String> = out
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    groups.join(":")
}

impl Issuer {
    /// Loads the PKCS#8 PEM key whose certificate the registry trusts.
    pub fn from_key_file(key: &Path, issuer: &str, service: &str) -> Result<Issuer, String> {
        let pem = std::fs::read_to_string(key).map_err(|e| format!("{}: {e}", key.display()))?;
        let key = SigningKey::from_pkcs8_pem(&pem).map_err(|e| format!("token key: {e}"))?;
        let der = key
            .verifying_key()
            .to_public_key_der()
            .map_err(|e| e.to_string())?;
        Ok(Issuer {
            kid: libtrust_kid(der.as_bytes()),
            key,
            issuer: issuer.to_owned(),
            service: service.to_owned(),
        })
    }

    /// A token granting `actions` on repository `name`, valid five minutes.
    pub fn issue(&self, name: &str, actions: &[&str]) -> String {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let header = serde_json::json!({"typ": "JWT", "alg": "ES256", "kid": self.kid});
        let claims = serde_json::json!({
            "iss": self.issuer, "sub": "hangar-test", "aud": self.service,
            "exp": now + 300, "nbf": now - 10, "iat": now, "jti": format!("{now}-{name}"),
            "access": [{"type": "repository", "name": name, "actions": actions}],
        });
        let signing_input = format!(
            "{}.{}",
            b64.encode(header.to_string()),
            b64.encode(claims.to_string())
        );
        let sig: Signature = self.key.sign(signing_input.as_bytes());
        format!("{signing_input}.{}", b64.encode(sig.to_bytes()))
    }
}
