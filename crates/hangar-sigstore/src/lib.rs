//! Sigstore trust without the network: trusted roots, Fulcio certificate chains, embedded
//! SCTs, Rekor signed entry timestamps and their binding to a signature, and cosign's
//! certificate identity rules — verified from bytes, with no I/O, in the order sigstore-go
//! checks them. Each failure names the check that failed.
//!
//! ```no_run
//! use hangar_sigstore::{CertificateIdentity, KeylessPolicy, Matcher, TrustedRoot, CosignSignature};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let root = TrustedRoot::from_json(&std::fs::read("trusted_root.json")?)?;
//! let policy = KeylessPolicy::cosign(vec![CertificateIdentity {
//!     subject: Matcher::Exact("release@example.com".into()),
//!     issuer: Matcher::Exact("https://accounts.example.com".into()),
//!     github: Default::default(),
//! }]);
//! # let (payload, signature, cert_pem, bundle) = (b"".as_slice(), b"".as_slice(), "", "");
//! let verified = hangar_sigstore::verify_cosign(&root, &policy, &CosignSignature {
//!     payload, signature, certificate_pem: cert_pem, bundle: Some(bundle), chain_pem: None, rfc3161_timestamp: None,
//! }, None)?;
//! println!("signed by {:?} at {:?}", verified.sans, verified.log_entry.map(|e| e.integrated_time));
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod bundle;
mod cert;
mod der;
mod identity;
mod merkle;
mod rekor;
mod sct;
mod time;
mod trust;
mod tsa;

use std::collections::HashMap;
use std::sync::Mutex;

use sha2::{Digest as _, Sha256};

pub use bundle::{Artifact, BundleSigner, BundleVerified, verify_bundle};
pub use cert::{ChainError, GithubClaims, Leaf};
pub use identity::{CertificateIdentity, Matcher};
pub use rekor::LogEntry;
pub use time::format_rfc3339;
pub use trust::{CertificateAuthority, LogKey, TrustError, TrustedRoot, ValidFor};
pub use tsa::Timestamp;

/// What a keyless signature must satisfy besides the trust material.
#[derive(Debug, Clone)]
pub struct KeylessPolicy {
    /// Acceptable signers; any one may match.
    pub identities: Vec<CertificateIdentity>,
    /// Require an SCT from a trusted CT log (cosign's default; `--insecure-ignore-sct`
    /// turns it off; containers/image's `fulcio` and `pki` never check one).
    pub require_sct: bool,
    /// Also take intermediates from the signature's own chain
    /// (`dev.sigstore.cosign/chain`), as containers/image's `fulcio` and `pki` do; never an
    /// anchor.
    pub use_signature_chain: bool,
    /// containers/image's `pki`: no transparency log at all; the path is checked at this
    /// time (Unix seconds: now). `None`: the signing time comes from a verified log entry.
    pub pki_time: Option<i64>,
}

impl KeylessPolicy {
    /// cosign's rules for `identities`: SCT required, only the trust material's
    /// intermediates, the signing time from the log.
    pub fn cosign(identities: Vec<CertificateIdentity>) -> KeylessPolicy {
        KeylessPolicy {
            identities,
            require_sct: true,
            use_signature_chain: false,
            pki_time: None,
        }
    }
}

/// A cosign "simple signing" signature with a Fulcio certificate, as a `.sig` layer carries
/// it.
#[derive(Debug, Clone, Copy)]
pub struct CosignSignature<'a> {
    /// The payload bytes as stored.
    pub payload: &'a [u8],
    /// The raw signature (the `dev.cosignproject.cosign/signature` annotation, decoded).
    pub signature: &'a [u8],
    /// The `dev.sigstore.cosign/certificate` annotation (PEM).
    pub certificate_pem: &'a str,
    /// The `dev.sigstore.cosign/bundle` annotation (Rekor SET), if any.
    pub bundle: Option<&'a str>,
    /// The `dev.sigstore.cosign/chain` annotation (PEM intermediates, then the root), if any;
    /// consulted only under [`KeylessPolicy::use_signature_chain`].
    pub chain_pem: Option<&'a str>,
    /// The `dev.sigstore.cosign/rfc3161timestamp` annotation
    /// (`{"SignedRFC3161Timestamp": "<base64 DER>"}`), if any.
    pub rfc3161_timestamp: Option<&'a str>,
}

/// Which check refused a keyless signature, with its reason. The checks run in this order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeylessError {
    /// The certificate annotation is not one PEM certificate.
    #[error("certificate: {0}")]
    Certificate(String),
    /// No verified signing time: no tlog entry (and no trusted timestamp).
    #[error("signing time: {0}")]
    SigningTime(String),
    /// The transparency-log entry (SET) does not verify.
    #[error("transparency log: {0}")]
    Tlog(String),
    /// The entry (or its SET) is from a log the trust material does not name.
    #[error("transparency log: {0}")]
    UnknownLog(String),
    /// An entry of a kind or version this version cannot verify.
    #[error("transparency log: {0}")]
    UnsupportedEntry(String),
    /// The certificate path.
    #[error("certificate chain: {0}")]
    Chain(ChainError),
    /// The embedded SCT.
    #[error("SCT: {0}")]
    Sct(String),
    /// The log entry's body is not about this signature.
    #[error("transparency log entry: {0}")]
    Binding(String),
    /// The identity rules.
    #[error("certificate identity: {0}")]
    Identity(String),
    /// The signature over the payload, with the certificate's key.
    #[error("signature: {0}")]
    Signature(String),
}

/// A keyless signature that passed every check.
#[derive(Debug, Clone)]
pub struct KeylessVerified {
    /// The certificate's subject alternative names.
    pub sans: Vec<String>,
    /// The OIDC issuer.
    pub issuer: Option<String>,
    /// GitHub workflow claims.
    pub github: GithubClaims,
    /// The verified log entry (the signing time is its integrated time); `None` under
    /// containers/image's `pki`, which has no log.
    pub log_entry: Option<LogEntry>,
    /// The CA that issued the certificate (its `uri` or PEM name).
    pub ca: String,
    /// The certificate's key, which verified the payload signature.
    pub key: hangar_signature::PublicKey,
    /// The verified RFC 3161 timestamps (each a signing time).
    pub timestamps: Vec<Timestamp>,
    /// The signature verified with that key and its payload parsed strictly (`None` for a
    /// bundle, whose payload is not a simple-signing document).
    pub signature: Option<hangar_signature::VerifiedSignature>,
}

/// Verified certificate paths (and SCTs) of a run, keyed by certificate and signing time: a release is
/// signed by a handful of certificates, each checked once. Share one across threads.
#[derive(Debug, Default)]
pub struct ChainCache {
    verified: Mutex<HashMap<ChainKey, Result<usize, KeylessError>>>,
}

/// SHA-256 of the leaf certificate, the signing time, and whether the SCT was required.
type ChainKey = ([u8; 32], i64, bool);

/// Verifies a cosign keyless signature in sigstore-go's order: the Rekor SET (which gives
/// the signing time, by a log key valid then), the certificate path at that time (a CA
/// valid then, code-signing EKU, leaf not a CA), the SCT, the entry's binding to this
/// payload, signature and certificate, the identity rules, and last the signature itself.
/// The payload's own rules (digest, `docker-reference`) are the caller's.
pub fn verify_cosign(
    root: &TrustedRoot,
    policy: &KeylessPolicy,
    sig: &CosignSignature<'_>,
    cache: Option<&ChainCache>,
) -> Result<KeylessVerified, KeylessError> {
    let certs = der::pem_blocks(sig.certificate_pem.as_bytes(), "CERTIFICATE")
        .map_err(KeylessError::Certificate)?;
    let [leaf_der] = certs.as_slice() else {
        return Err(KeylessError::Certificate(format!(
            "expected one PEM certificate, found {}",
            certs.len()
        )));
    };
    let leaf = Leaf::from_der(leaf_der).map_err(KeylessError::Certificate)?;
    let extra = if policy.use_signature_chain {
        signature_chain(sig.chain_pem)?
    } else {
        Vec::new()
    };
    let (entry, times, timestamps) = match policy.pki_time {
        // containers/image's pki: no log; the path at the current time.
        Some(now) => (None, vec![now], Vec::new()),
        None => {
            let entry = sig.bundle.map(|b| rekor::verify_set(b, root)).transpose()?;
            let timestamps = match sig.rfc3161_timestamp {
                Some(annotation) => vec![cosign_timestamp(annotation, sig.signature, root)?],
                None => Vec::new(),
            };
            let mut times: Vec<i64> = timestamps.iter().map(|t: &Timestamp| t.time).collect();
            times.extend(entry.as_ref().map(|e| e.integrated_time));
            if times.is_empty() {
                return Err(KeylessError::SigningTime(
                    "no transparency log entry (and no trusted timestamp) gives a verified signing time"
                        .into(),
                ));
            }
            (entry, times, timestamps)
        }
    };
    // The certificate must be valid, and its CA trusted, at every verified time.
    let mut ca_index = 0;
    for &time in &times {
        ca_index = chain_and_sct_cached(&leaf, root, time, policy.require_sct, &extra, cache)?;
    }
    if let Some(entry) = &entry {
        rekor::check_binding(
            entry,
            &rekor::Binding {
                payload_sha256: Sha256::digest(sig.payload).into(),
                signature: sig.signature,
                signer: rekor::Signer::Certificate(leaf_der),
            },
        )
        .map_err(KeylessError::Binding)?;
    }
    identity::check(&policy.identities, &leaf).map_err(KeylessError::Identity)?;
    let public = hangar_signature::PublicKey::from_spki_der(&leaf.spki)
        .map_err(|e| KeylessError::Certificate(format!("the certificate's key: {e}")))?;
    // One check of the signature with the certificate's key, then the strict payload parse.
    let verified =
        hangar_signature::verify_raw(std::slice::from_ref(&public), sig.payload, sig.signature)
            .map_err(|e| KeylessError::Signature(e.to_string()))?;
    Ok(KeylessVerified {
        timestamps,
        signature: Some(verified),
        sans: leaf.sans,
        issuer: leaf.issuer,
        github: leaf.github,
        log_entry: entry,
        ca: root.certificate_authorities[ca_index].name.clone(),
        key: public,
    })
}

/// [`chain_and_sct`] through the run's cache: the CA index in `root`.
pub(crate) fn chain_and_sct_cached(
    leaf: &Leaf,
    root: &TrustedRoot,
    time: i64,
    require_sct: bool,
    extra: &[Vec<u8>],
    cache: Option<&ChainCache>,
) -> Result<usize, KeylessError> {
    let mut h = Sha256::new();
    h.update(&leaf.der);
    for c in extra {
        h.update(Sha256::digest(c));
    }
    let key = (h.finalize().into(), time, require_sct);
    let lock = |c: &'_ ChainCache| {
        c.verified
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&key)
            .cloned()
    };
    if let Some(r) = cache.and_then(lock) {
        return r;
    }
    let r = chain_and_sct(leaf, root, time, require_sct, extra);
    if let Some(c) = cache {
        c.verified
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(key, r.clone());
    }
    r
}

fn chain_and_sct(
    leaf: &Leaf,
    root: &TrustedRoot,
    time: i64,
    require_sct: bool,
    extra: &[Vec<u8>],
) -> Result<usize, KeylessError> {
    let ca = leaf
        .verify_chain(root, time, extra)
        .map_err(KeylessError::Chain)?;
    let index = root
        .certificate_authorities
        .iter()
        .position(|c| std::ptr::eq(c, ca))
        .unwrap_or_default();
    if require_sct {
        sct::verify(leaf, ca, root).map_err(KeylessError::Sct)?;
    }
    Ok(index)
}

/// cosign's `dev.sigstore.cosign/rfc3161timestamp` annotation, verified over `signature`.
fn cosign_timestamp(
    annotation: &str,
    signature: &[u8],
    root: &TrustedRoot,
) -> Result<Timestamp, KeylessError> {
    let v: serde_json::Value = serde_json::from_str(annotation).map_err(|e| {
        KeylessError::SigningTime(format!(
            "the RFC 3161 timestamp annotation is malformed: {e}"
        ))
    })?;
    let token = v["SignedRFC3161Timestamp"]
        .as_str()
        .and_then(rekor::b64)
        .ok_or_else(|| {
            KeylessError::SigningTime(
                "the RFC 3161 timestamp annotation has no SignedRFC3161Timestamp".into(),
            )
        })?;
    tsa::verify(&token, signature, root).map_err(KeylessError::SigningTime)
}

/// The certificates of a `dev.sigstore.cosign/chain` annotation except the last (the root,
/// which only the trust material may provide), as containers/image reads it.
fn signature_chain(pem: Option<&str>) -> Result<Vec<Vec<u8>>, KeylessError> {
    let Some(pem) = pem else {
        return Ok(Vec::new());
    };
    let mut certs = der::pem_blocks(pem.as_bytes(), "CERTIFICATE")
        .map_err(|e| KeylessError::Certificate(format!("the certificate chain: {e}")))?;
    certs.pop();
    Ok(certs)
}

/// Verifies the Rekor entry of a key-signed signature: its SET by a known log valid at the
/// integrated time, and its body bound to this payload, signature and key (DER SPKI).
pub fn verify_key_tlog(
    root: &TrustedRoot,
    bundle: &str,
    payload: &[u8],
    signature: &[u8],
    key_spki: &[u8],
) -> Result<LogEntry, KeylessError> {
    let entry = rekor::verify_set(bundle, root)?;
    rekor::check_binding(
        &entry,
        &rekor::Binding {
            payload_sha256: Sha256::digest(payload).into(),
            signature,
            signer: rekor::Signer::Key(key_spki),
        },
    )
    .map_err(KeylessError::Binding)?;
    Ok(entry)
}
