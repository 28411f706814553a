//! Trust material: a Sigstore `trusted_root.json` (protobuf-specs `TrustedRoot`, media
//! types `application/vnd.dev.sigstore.trustedroot+json;version=0.1` and `0.2`), or
//! bring-your-own PKI (PEM root and intermediate bundles, Rekor and CT log keys). Loaded
//! once, before any traffic; read from bytes (this crate reads no files).

use base64::Engine as _;
use hangar_signature::PublicKey;
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use crate::time::parse_rfc3339;

/// When a CA or a log key may be used: `start` to `end` (Unix seconds), open-ended when
/// `end` is `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidFor {
    /// First valid second.
    pub start: i64,
    /// Last valid second, if any.
    pub end: Option<i64>,
}

impl ValidFor {
    /// Always valid.
    pub const ALWAYS: ValidFor = ValidFor {
        start: i64::MIN,
        end: None,
    };

    /// Whether `t` (Unix seconds) is inside the window.
    pub fn contains(&self, t: i64) -> bool {
        t >= self.start && self.end.is_none_or(|e| t <= e)
    }
}

/// A certificate authority: its chain, intermediates first, the root last.
#[derive(Debug, Clone)]
pub struct CertificateAuthority {
    /// `uri` from the trusted root (for messages), or where the PEM came from.
    pub name: String,
    /// DER certificates: `chain[..n-1]` intermediates, `chain[n-1]` the trust anchor.
    pub chain: Vec<Vec<u8>>,
    /// When certificates it issued count.
    pub valid_for: ValidFor,
}

/// A transparency log (Rekor) or certificate-transparency log key.
#[derive(Debug, Clone)]
pub struct LogKey {
    /// `baseUrl`, or where the key came from.
    pub name: String,
    /// The log ID: SHA-256 of the key's DER SubjectPublicKeyInfo (or the root's `logId`).
    pub log_id: Vec<u8>,
    /// The key.
    pub key: PublicKey,
    /// When entries it signed count.
    pub valid_for: ValidFor,
}

/// Everything trusted: CAs, transparency logs, CT logs. Timestamp authorities are read
/// but not used yet.
#[derive(Debug, Clone, Default)]
pub struct TrustedRoot {
    /// Fulcio (or your own) certificate authorities.
    pub certificate_authorities: Vec<CertificateAuthority>,
    /// Rekor log keys.
    pub tlogs: Vec<LogKey>,
    /// Certificate-transparency log keys (for SCTs).
    pub ctlogs: Vec<LogKey>,
    /// Timestamp authorities (RFC 3161), chain as for CAs.
    pub timestamp_authorities: Vec<CertificateAuthority>,
}

/// Trust material that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
#[non_exhaustive]
pub struct TrustError(pub String);

fn err(m: impl Into<String>) -> TrustError {
    TrustError(m.into())
}

const MEDIA_TYPES: &[&str] = &[
    "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
    "application/vnd.dev.sigstore.trustedroot.v0.1+json",
    "application/vnd.dev.sigstore.trustedroot+json;version=0.2",
    "application/vnd.dev.sigstore.trustedroot.v0.2+json",
];

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RootJson {
    media_type: String,
    #[serde(default)]
    tlogs: Vec<TlogJson>,
    #[serde(default)]
    certificate_authorities: Vec<CaJson>,
    #[serde(default)]
    ctlogs: Vec<TlogJson>,
    #[serde(default)]
    timestamp_authorities: Vec<CaJson>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TlogJson {
    #[serde(default)]
    base_url: String,
    #[serde(default)]
    hash_algorithm: Option<String>,
    public_key: PublicKeyJson,
    log_id: LogIdJson,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PublicKeyJson {
    raw_bytes: String,
    #[serde(default)]
    key_details: Option<String>,
    #[serde(default)]
    valid_for: Option<ValidForJson>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LogIdJson {
    key_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CaJson {
    #[serde(default)]
    uri: String,
    cert_chain: CertChainJson,
    #[serde(default)]
    valid_for: Option<ValidForJson>,
}

#[derive(Deserialize)]
struct CertChainJson {
    certificates: Vec<RawJson>,
}

/// protobuf-specs' `bytes` wrappers (`{"rawBytes": "<base64>"}`), in trusted roots and bundles.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RawJson {
    pub(crate) raw_bytes: String,
}

#[derive(Deserialize)]
struct ValidForJson {
    start: Option<String>,
    end: Option<String>,
}

fn b64(s: &str, at: &str) -> Result<Vec<u8>, TrustError> {
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|e| err(format!("{at}: not base64: {e}")))
}

fn valid_for(v: Option<&ValidForJson>, at: &str) -> Result<ValidFor, TrustError> {
    let Some(v) = v else {
        return Ok(ValidFor::ALWAYS);
    };
    if v.start.is_none() {
        // protobuf-specs: a validity window always has a start.
        return Err(err(format!("{at}: validFor has no start")));
    }
    let time = |s: &Option<String>, which: &str| -> Result<Option<i64>, TrustError> {
        s.as_deref()
            .map(|t| {
                parse_rfc3339(t).ok_or_else(|| {
                    err(format!(
                        "{at}: validFor.{which} {t:?} is not an RFC 3339 time"
                    ))
                })
            })
            .transpose()
    };
    let start = time(&v.start, "start")?.unwrap_or(i64::MIN);
    let end = time(&v.end, "end")?;
    if end.is_some_and(|e| e < start) {
        return Err(err(format!("{at}: validFor ends before it starts")));
    }
    Ok(ValidFor { start, end })
}

impl TrustedRoot {
    /// Parses a `trusted_root.json`. Unknown media types, keys that cannot verify, and
    /// certificates that are not DER are errors naming where they are.
    pub fn from_json(bytes: &[u8]) -> Result<TrustedRoot, TrustError> {
        let root: RootJson =
            serde_json::from_slice(bytes).map_err(|e| err(format!("not a trusted root: {e}")))?;
        if !MEDIA_TYPES.contains(&root.media_type.as_str()) {
            return Err(err(format!(
                "unsupported trusted root media type {:?} (supported: {})",
                root.media_type,
                MEDIA_TYPES.join(", ")
            )));
        }
        let logs = |list: &[TlogJson], kind: &str| -> Result<Vec<LogKey>, TrustError> {
            list.iter()
                .enumerate()
                .map(|(i, l)| {
                    let at = format!("{kind}[{i}]");
                    if let Some(h) = &l.hash_algorithm
                        && h != "SHA2_256"
                    {
                        return Err(err(format!("{at}: hash algorithm {h} is not supported")));
                    }
                    let der = b64(&l.public_key.raw_bytes, &format!("{at}.publicKey.rawBytes"))?;
                    let details = l.public_key.key_details.as_deref().unwrap_or_default();
                    // PKCS1_RSA_* keys are a bare RSAPublicKey; every other type is PKIX.
                    let parsed = if details.starts_with("PKCS1_RSA_") {
                        PublicKey::from_pkcs1_der(&der)
                    } else {
                        PublicKey::from_spki_der(&der)
                    };
                    let key = parsed.map_err(|e| {
                        err(format!(
                            "{at}: public key ({}): {e}",
                            l.public_key
                                .key_details
                                .as_deref()
                                .unwrap_or("no keyDetails")
                        ))
                    })?;
                    Ok(LogKey {
                        name: l.base_url.clone(),
                        log_id: b64(&l.log_id.key_id, &format!("{at}.logId.keyId"))?,
                        key,
                        valid_for: valid_for(l.public_key.valid_for.as_ref(), &at)?,
                    })
                })
                .collect()
        };
        let cas = |list: &[CaJson], kind: &str| -> Result<Vec<CertificateAuthority>, TrustError> {
            list.iter()
                .enumerate()
                .map(|(i, c)| {
                    let at = format!("{kind}[{i}]");
                    let chain = c
                        .cert_chain
                        .certificates
                        .iter()
                        .enumerate()
                        .map(|(j, r)| {
                            b64(&r.raw_bytes, &format!("{at}.certChain.certificates[{j}]"))
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    if chain.is_empty() {
                        return Err(err(format!("{at}: an empty certificate chain")));
                    }
                    for (j, der) in chain.iter().enumerate() {
                        crate::cert::check_der_certificate(der)
                            .map_err(|e| err(format!("{at}.certChain.certificates[{j}]: {e}")))?;
                    }
                    Ok(CertificateAuthority {
                        name: c.uri.clone(),
                        chain,
                        valid_for: valid_for(c.valid_for.as_ref(), &at)?,
                    })
                })
                .collect()
        };
        Ok(TrustedRoot {
            tlogs: logs(&root.tlogs, "tlogs")?,
            ctlogs: logs(&root.ctlogs, "ctlogs")?,
            certificate_authorities: cas(&root.certificate_authorities, "certificateAuthorities")?,
            timestamp_authorities: cas(&root.timestamp_authorities, "timestampAuthorities")?,
        })
    }

    /// Adds a CA from PEM bundles: every root in `roots` is an anchor, each with all of
    /// `intermediates` (cosign's `--ca-roots` / `--ca-intermediates`).
    pub fn add_pem_ca(
        &mut self,
        name: &str,
        roots: &[u8],
        intermediates: &[u8],
    ) -> Result<(), TrustError> {
        let roots = crate::der::pem_blocks(roots, "CERTIFICATE")
            .map_err(|e| err(format!("{name}: {e}")))?;
        let intermediates = crate::der::pem_blocks(intermediates, "CERTIFICATE")
            .map_err(|e| err(format!("{name}: {e}")))?;
        if roots.is_empty() {
            return Err(err(format!("{name}: no CERTIFICATE block")));
        }
        for der in roots.iter().chain(&intermediates) {
            crate::cert::check_der_certificate(der).map_err(|e| err(format!("{name}: {e}")))?;
        }
        for root in roots {
            let mut chain = intermediates.clone();
            chain.push(root);
            self.certificate_authorities.push(CertificateAuthority {
                name: name.to_owned(),
                chain,
                valid_for: ValidFor::ALWAYS,
            });
        }
        Ok(())
    }

    /// Adds a Rekor public key (PEM `PUBLIC KEY`), valid at all times.
    pub fn add_rekor_key(&mut self, name: &str, pem: &[u8]) -> Result<(), TrustError> {
        let key = log_key(name, pem)?;
        self.tlogs.push(key);
        Ok(())
    }

    /// Adds a CT log public key (PEM `PUBLIC KEY`), valid at all times.
    pub fn add_ct_log_key(&mut self, name: &str, pem: &[u8]) -> Result<(), TrustError> {
        let key = log_key(name, pem)?;
        self.ctlogs.push(key);
        Ok(())
    }

    /// The Rekor key with this log ID.
    pub(crate) fn tlog(&self, log_id: &[u8]) -> Option<&LogKey> {
        self.tlogs.iter().find(|l| l.log_id == log_id)
    }

    /// The CT log key with this log ID.
    pub(crate) fn ctlog(&self, log_id: &[u8]) -> Option<&LogKey> {
        self.ctlogs.iter().find(|l| l.log_id == log_id)
    }
}

fn log_key(name: &str, pem: &[u8]) -> Result<LogKey, TrustError> {
    let key = PublicKey::from_pem(pem).map_err(|e| err(format!("{name}: {e}")))?;
    let der = crate::der::pem_blocks(pem, "PUBLIC KEY")
        .map_err(|e| err(format!("{name}: {e}")))?
        .into_iter()
        .next()
        .ok_or_else(|| err(format!("{name}: a log key must be a PEM PUBLIC KEY")))?;
    Ok(LogKey {
        name: name.to_owned(),
        log_id: Sha256::digest(&der).to_vec(),
        key,
        valid_for: ValidFor::ALWAYS,
    })
}
