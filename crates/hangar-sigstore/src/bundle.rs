//! Sigstore bundles (v0.1–v0.3, protobuf-specs `Bundle` in JSON) verified over an artifact:
//! a message signature or a DSSE envelope, by a Fulcio certificate or a known key, with one
//! Rekor entry (a v0.1 bundle needs its inclusion promise, v0.2 and later an inclusion
//! proof with a signed checkpoint, as sigstore-go requires).
//!
//! RFC 3161 timestamps are verified with the trust material's timestamp authorities; every
//! one a bundle carries must verify, and the certificate must be valid at every verified
//! time (the SET's integrated time and each timestamp's). Entries: `hashedrekord` and
//! `dsse` 0.0.1 (Rekor v1), `intoto` 0.0.2, and Rekor v2's `hashedrekord` / `dsse` 0.0.2
//! (no integrated time: a timestamp is then required; a DSSE envelope may be logged as a
//! `hashedrekord` over its PAE). Other kinds are refused (fail closed).

use base64::Engine as _;
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use crate::cert::Leaf;
use crate::rekor::{self, LogEntry, Signer};
use crate::trust::{RawJson, TrustedRoot};
use crate::{ChainCache, KeylessError, KeylessPolicy, chain_and_sct_cached};

const MEDIA_TYPES: &[(&str, u8)] = &[
    ("application/vnd.dev.sigstore.bundle+json;version=0.1", 1),
    ("application/vnd.dev.sigstore.bundle+json;version=0.2", 2),
    ("application/vnd.dev.sigstore.bundle+json;version=0.3", 3),
    ("application/vnd.dev.sigstore.bundle.v0.3+json", 3),
];

/// What was signed.
#[derive(Debug, Clone, Copy)]
pub enum Artifact<'a> {
    /// The artifact's bytes.
    Bytes(&'a [u8]),
    /// Only its SHA-256 (enough for ECDSA and RSA message signatures and for DSSE
    /// statements; an Ed25519 message signature needs the bytes).
    Sha256([u8; 32]),
}

impl Artifact<'_> {
    fn sha256(&self) -> [u8; 32] {
        match self {
            Artifact::Bytes(b) => Sha256::digest(b).into(),
            Artifact::Sha256(d) => *d,
        }
    }
}

/// Who may have signed a bundle.
#[derive(Debug, Clone, Copy)]
pub enum BundleSigner<'a> {
    /// A Fulcio certificate accepted by these rules.
    Keyless(&'a KeylessPolicy),
    /// This key (a bundle whose verification material is a public key hint).
    Key(&'a hangar_signature::PublicKey),
}

/// A bundle that passed every check.
#[derive(Debug, Clone)]
pub struct BundleVerified {
    /// The verified log entry.
    pub log_entry: LogEntry,
    /// Whether its integrated time is vouched for by its SET (then it is a signing time).
    pub set_verified: bool,
    /// The verified RFC 3161 timestamps (each a signing time).
    pub timestamps: Vec<crate::Timestamp>,
    /// For a keyless bundle: the certificate's SANs, issuer, GitHub claims and CA.
    pub certificate: Option<crate::KeylessVerified>,
    /// For a DSSE bundle: its payload type and payload (the in-toto statement).
    pub dsse: Option<(String, Vec<u8>)>,
}

fn b64(s: &str, what: &str) -> Result<Vec<u8>, KeylessError> {
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|e| KeylessError::Certificate(format!("{what} is not base64: {e}")))
}

/// A protobuf int64 in JSON: a string or a number.
fn int(v: &serde_json::Value, what: &str) -> Result<i64, KeylessError> {
    match v {
        serde_json::Value::String(s) => s.parse().ok(),
        serde_json::Value::Number(n) => n.as_i64(),
        _ => None,
    }
    .ok_or_else(|| KeylessError::Tlog(format!("{what} is not an integer")))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BundleJson {
    media_type: String,
    verification_material: MaterialJson,
    #[serde(default)]
    message_signature: Option<MessageSignatureJson>,
    #[serde(default)]
    dsse_envelope: Option<DsseJson>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MaterialJson {
    #[serde(default)]
    x509_certificate_chain: Option<ChainJson>,
    #[serde(default)]
    certificate: Option<RawJson>,
    #[serde(default)]
    public_key: Option<serde_json::Value>,
    #[serde(default)]
    tlog_entries: Vec<serde_json::Value>,
    #[serde(default)]
    timestamp_verification_data: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct ChainJson {
    #[serde(default)]
    certificates: Vec<RawJson>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MessageSignatureJson {
    #[serde(default)]
    message_digest: Option<DigestJson>,
    signature: String,
}

#[derive(Deserialize)]
struct DigestJson {
    algorithm: String,
    digest: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DsseJson {
    payload: String,
    payload_type: String,
    signatures: Vec<DsseSignatureJson>,
}

#[derive(Deserialize)]
struct DsseSignatureJson {
    sig: String,
}

/// The most RFC 3161 timestamps checked in one bundle (sigstore-go's limit).
const MAX_TIMESTAMPS: usize = 32;

/// The signature bytes a timestamp vouches for: the message signature, or the DSSE
/// envelope's signature.
fn signature_bytes(b: &BundleJson) -> Result<Vec<u8>, KeylessError> {
    let sig = match (&b.message_signature, &b.dsse_envelope) {
        (Some(ms), None) => &ms.signature,
        (None, Some(env)) => match env.signatures.as_slice() {
            [one] => &one.sig,
            _ => {
                return Err(KeylessError::Signature(
                    "the DSSE envelope must carry exactly one signature".into(),
                ));
            }
        },
        _ => {
            return Err(KeylessError::Certificate(
                "bundle: the bundle must carry exactly one of a message signature and a DSSE envelope".into(),
            ));
        }
    };
    b64(sig, "the signature").map_err(|e| KeylessError::Signature(e.to_string()))
}

/// Verifies a Sigstore bundle (JSON bytes) over `artifact` with `root` and `signer`, in
/// sigstore-go's order: the bundle's shape and version, the log entry (SET by a known log
/// valid at the integrated time; for v0.2 and later an inclusion proof to a checkpoint
/// signed by that log), the certificate at the signing time (chain, EKU, SCT) or the key,
/// the entry's binding to this signature, artifact and signer, the identity rules, then the
/// signature (a message signature over the artifact, or the DSSE envelope and its in-toto
/// subject naming the artifact's digest).
pub fn verify_bundle(
    root: &TrustedRoot,
    bundle: &[u8],
    artifact: Artifact<'_>,
    signer: BundleSigner<'_>,
    cache: Option<&ChainCache>,
) -> Result<BundleVerified, KeylessError> {
    let shape = |m: String| KeylessError::Certificate(format!("bundle: {m}"));
    let b: BundleJson =
        serde_json::from_slice(bundle).map_err(|e| shape(format!("not a Sigstore bundle: {e}")))?;
    let version = MEDIA_TYPES
        .iter()
        .find(|(m, _)| *m == b.media_type)
        .map(|(_, v)| *v)
        .ok_or_else(|| shape(format!("unsupported bundle media type {:?}", b.media_type)))?;
    let m = &b.verification_material;
    let tokens: Vec<Vec<u8>> = m
        .timestamp_verification_data
        .as_ref()
        .and_then(|t| t["rfc3161Timestamps"].as_array())
        .map(|a| a.as_slice())
        .unwrap_or_default()
        .iter()
        .map(|t| {
            t["signedTimestamp"]
                .as_str()
                .and_then(rekor::b64)
                .ok_or_else(|| {
                    KeylessError::SigningTime("an RFC 3161 timestamp is not base64".into())
                })
        })
        .collect::<Result<_, _>>()?;
    if tokens.len() > MAX_TIMESTAMPS {
        return Err(KeylessError::SigningTime(format!(
            "{} RFC 3161 timestamps, at most {MAX_TIMESTAMPS} are checked",
            tokens.len()
        )));
    }
    // The signer's material.
    if let Some(chain) = &m.x509_certificate_chain {
        for c in &chain.certificates {
            if crate::cert::is_self_issued(&b64(&c.raw_bytes, "a chain certificate")?) {
                return Err(shape(
                    "the certificate chain contains a root certificate: roots come only from the trust material".into(),
                ));
            }
        }
    }
    let leaf_der = match (&m.x509_certificate_chain, &m.certificate, &m.public_key) {
        (Some(chain), None, None) if version < 3 => Some(b64(
            &chain
                .certificates
                .first()
                .ok_or_else(|| shape("an empty certificate chain".into()))?
                .raw_bytes,
            "the certificate",
        )?),
        (None, Some(cert), None) if version >= 3 => Some(b64(&cert.raw_bytes, "the certificate")?),
        (None, None, Some(_)) => None,
        _ => {
            return Err(shape(
                "the verification material is not one certificate (or chain) or one public key"
                    .into(),
            ));
        }
    };
    // The log entry.
    let [tlog] = m.tlog_entries.as_slice() else {
        return Err(KeylessError::SigningTime(format!(
            "the bundle must carry exactly one transparency log entry, it has {}",
            m.tlog_entries.len()
        )));
    };
    let (entry, set_verified) = verify_tlog_entry(root, tlog, version, !tokens.is_empty())?;
    // Every signing time: the SET's integrated time, and each timestamp's genTime.
    let signed_bytes = signature_bytes(&b)?;
    let mut timestamps = Vec::new();
    for token in &tokens {
        timestamps.push(
            crate::tsa::verify(token, &signed_bytes, root).map_err(KeylessError::SigningTime)?,
        );
    }
    let mut times: Vec<i64> = timestamps.iter().map(|t| t.time).collect();
    if set_verified {
        times.push(entry.integrated_time);
    }
    if times.is_empty() {
        return Err(KeylessError::SigningTime(
            "no signed entry timestamp and no trusted timestamp: the signing time is not verified"
                .into(),
        ));
    }
    // The signer.
    let (signer_ref, keyless, key) = match (signer, &leaf_der) {
        (BundleSigner::Keyless(policy), Some(der)) => {
            let leaf = Leaf::from_der(der).map_err(KeylessError::Certificate)?;
            let mut ca = 0;
            for &time in &times {
                ca = chain_and_sct_cached(&leaf, root, time, policy.require_sct, &[], cache)?;
            }
            let key = hangar_signature::PublicKey::from_spki_der(&leaf.spki)
                .map_err(|e| KeylessError::Certificate(format!("the certificate's key: {e}")))?;
            (Signer::Certificate(der), Some((leaf, ca, policy)), key)
        }
        (BundleSigner::Key(k), None) => (Signer::Key(k.spki_der()), None, k.clone()),
        (BundleSigner::Keyless(_), None) => {
            return Err(KeylessError::Certificate(
                "the bundle is signed by a key, and no key was given to verify it".into(),
            ));
        }
        (BundleSigner::Key(_), Some(_)) => {
            return Err(KeylessError::Certificate(
                "the bundle is signed keylessly (a certificate), not by the given key".into(),
            ));
        }
    };
    let digest = artifact.sha256();
    // Binding, then the signature itself.
    let dsse = match (&b.message_signature, &b.dsse_envelope) {
        (Some(ms), None) => {
            let sig = b64(&ms.signature, "the signature")
                .map_err(|e| KeylessError::Signature(e.to_string()))?;
            if let Some(md) = &ms.message_digest {
                let claimed = b64(&md.digest, "the message digest")?;
                if md.algorithm != "SHA2_256" || claimed != digest {
                    return Err(KeylessError::Signature(
                        "the bundle's message digest is not the artifact's SHA-256".into(),
                    ));
                }
            }
            let binding = rekor::Binding {
                payload_sha256: digest,
                signature: &sig,
                signer: signer_ref,
            };
            if entry.body["apiVersion"] == "0.0.2" {
                check_hashedrekord_v002(&entry, &binding)?;
            } else {
                rekor::check_binding(&entry, &binding).map_err(KeylessError::Binding)?;
            }
            if let Some((leaf, _, policy)) = &keyless {
                crate::identity::check(&policy.identities, leaf).map_err(KeylessError::Identity)?;
            }
            match artifact {
                Artifact::Bytes(bytes) => key.verify_raw(bytes, &sig),
                Artifact::Sha256(d) => key.verify_sha256_digest(&d, &sig),
            }
            .map_err(KeylessError::Signature)?;
            None
        }
        (None, Some(env)) => {
            let payload = b64(&env.payload, "the DSSE payload")?;
            let [one] = env.signatures.as_slice() else {
                return Err(KeylessError::Signature(format!(
                    "the DSSE envelope must carry exactly one signature, it has {}",
                    env.signatures.len()
                )));
            };
            let sig = b64(&one.sig, "the DSSE signature")?;
            let pae_bytes = hangar_signature::dsse_pae(&env.payload_type, &payload);
            if entry.body["kind"] == "hashedrekord" && entry.body["apiVersion"] == "0.0.2" {
                // Rekor v2 logs a DSSE envelope as a hashedrekord over its PAE.
                let binding = rekor::Binding {
                    payload_sha256: Sha256::digest(&pae_bytes).into(),
                    signature: &sig,
                    signer: signer_ref,
                };
                check_hashedrekord_v002(&entry, &binding)?;
            } else {
                check_dsse_binding(&entry, &payload, &sig, &signer_ref)?;
            }
            if let Some((leaf, _, policy)) = &keyless {
                crate::identity::check(&policy.identities, leaf).map_err(KeylessError::Identity)?;
            }
            key.verify_raw(&pae_bytes, &sig)
                .map_err(KeylessError::Signature)?;
            check_statement_subject(&env.payload_type, &payload, &digest)?;
            Some((env.payload_type.clone(), payload))
        }
        _ => {
            return Err(shape(
                "the bundle must carry exactly one of a message signature and a DSSE envelope"
                    .into(),
            ));
        }
    };
    let certificate = keyless.map(|(leaf, ca, _)| crate::KeylessVerified {
        sans: leaf.sans,
        issuer: leaf.issuer,
        github: leaf.github,
        log_entry: Some(entry.clone()),
        ca: root.certificate_authorities[ca].name.clone(),
        key: key.clone(),
        timestamps: timestamps.clone(),
        signature: None,
    });
    Ok(BundleVerified {
        log_entry: entry,
        set_verified,
        timestamps,
        certificate,
        dsse,
    })
}

/// The bundle's tlog entry: known log valid at the integrated time, kind and version that
/// match the body, an SET (required for v0.1), an inclusion proof to a checkpoint the log
/// signed (required from v0.2 on). The signing time is the integrated time only when the
/// SET vouches for it.
fn verify_tlog_entry(
    root: &TrustedRoot,
    t: &serde_json::Value,
    version: u8,
    has_timestamps: bool,
) -> Result<(LogEntry, bool), KeylessError> {
    let err = KeylessError::Tlog;
    let log_index = int(&t["logIndex"], "the entry's logIndex")?;
    // Rekor v2 entries have no integrated time: their time comes from a timestamp.
    let integrated_time = match &t["integratedTime"] {
        serde_json::Value::Null => 0,
        v => int(v, "the entry's integratedTime")?,
    };
    let log_id = t["logId"]["keyId"]
        .as_str()
        .and_then(rekor::b64)
        .ok_or_else(|| err("the entry has no logId".into()))?;
    let body_b64 = t["canonicalizedBody"]
        .as_str()
        .ok_or_else(|| err("the entry has no canonicalizedBody".into()))?;
    let body = rekor::b64(body_b64).ok_or_else(|| err("the entry body is not base64".into()))?;
    let kind = t["kindVersion"]["kind"].as_str().unwrap_or_default();
    let kind_version = t["kindVersion"]["version"].as_str().unwrap_or_default();
    match (kind, kind_version) {
        ("hashedrekord" | "dsse", "0.0.1" | "0.0.2") | ("intoto", "0.0.2") => {}
        (k, v) => {
            return Err(KeylessError::UnsupportedEntry(format!(
                "{k} {v} entries cannot be verified yet: refused"
            )));
        }
    }
    if log_index < 0 {
        return Err(err(format!(
            "the entry's log index {log_index} is negative"
        )));
    }
    let set = t["inclusionPromise"]["signedEntryTimestamp"].as_str();
    let (entry, set_verified) = match set {
        Some(set) => {
            let set = rekor::b64(set).ok_or_else(|| err("the SET is not base64".into()))?;
            let e = rekor::verify_set_fields(
                root,
                body_b64,
                integrated_time,
                log_index,
                &log_id,
                &set,
            )?;
            (e, true)
        }
        None if version < 2 => {
            return Err(err("a v0.1 bundle needs an inclusion promise (SET)".into()));
        }
        None if has_timestamps => {
            // The entry is proven by its inclusion proof below; the time comes from the
            // timestamps, not from the unsigned integrated time.
            rekor::known_log_any_time(root, &log_id)?;
            (
                rekor::entry(root, body_b64, integrated_time, log_index, &log_id).map_err(err)?,
                false,
            )
        }
        None => {
            return Err(KeylessError::SigningTime(
                "no signed entry timestamp and no trusted timestamp: the signing time is not verified".into(),
            ));
        }
    };
    let body_json: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| err(format!("the entry body is not JSON: {e}")))?;
    if body_json["kind"] != kind || body_json["apiVersion"] != kind_version {
        return Err(KeylessError::Binding(
            "the entry's kindVersion does not match its body".into(),
        ));
    }
    match &t.get("inclusionProof") {
        Some(p) if !p.is_null() => {
            verify_inclusion(root, p, &log_id, &body, integrated_time, set_verified)?;
        }
        _ if version >= 2 => {
            return Err(err(
                "a v0.2 or later bundle needs an inclusion proof (an inclusion promise alone is not enough)".into(),
            ));
        }
        _ => {}
    }
    Ok((entry, set_verified))
}

fn verify_inclusion(
    root: &TrustedRoot,
    p: &serde_json::Value,
    log_id: &[u8],
    body: &[u8],
    time: i64,
    time_verified: bool,
) -> Result<(), KeylessError> {
    let err = KeylessError::Tlog;
    let log = if time_verified {
        rekor::known_log(root, log_id, time)?
    } else {
        rekor::known_log_any_time(root, log_id)?
    };
    let index = int(&p["logIndex"], "the inclusion proof's logIndex")?;
    let size = int(&p["treeSize"], "the inclusion proof's treeSize")?;
    let root_hash = p["rootHash"]
        .as_str()
        .and_then(rekor::b64)
        .ok_or_else(|| err("the inclusion proof has no rootHash".into()))?;
    let hashes: Vec<[u8; 32]> = p["hashes"]
        .as_array()
        .map(|a| a.as_slice())
        .unwrap_or_default()
        .iter()
        .map(|h| {
            h.as_str()
                .and_then(rekor::b64)
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
        })
        .collect::<Option<_>>()
        .ok_or_else(|| err("an inclusion proof hash is malformed".into()))?;
    if index < 0 || size <= 0 {
        return Err(err(
            "the inclusion proof's index or size is out of range".into()
        ));
    }
    let computed = crate::merkle::root_from_proof(
        index as u64,
        size as u64,
        crate::merkle::leaf_hash(body),
        &hashes,
    )
    .ok_or_else(|| {
        err("the inclusion proof has the wrong shape for its index and tree size".into())
    })?;
    if computed.as_slice() != root_hash {
        return Err(err(
            "the inclusion proof does not lead to its root hash".into()
        ));
    }
    let envelope = p["checkpoint"]["envelope"]
        .as_str()
        .ok_or_else(|| err("the inclusion proof has no checkpoint".into()))?;
    let checkpoint = crate::merkle::verify_checkpoint(envelope, log).map_err(err)?;
    if checkpoint.size != size as u64 || checkpoint.root != root_hash {
        return Err(err(
            "the checkpoint is for another tree than the inclusion proof".into(),
        ));
    }
    Ok(())
}

/// A Rekor v2 verifier object names `signer`: `x509Certificate.rawBytes` is its
/// certificate, or `publicKey.rawBytes` its key.
fn verifier_is(v: &serde_json::Value, signer: &Signer<'_>) -> bool {
    match *signer {
        Signer::Certificate(der) => {
            v["x509Certificate"]["rawBytes"]
                .as_str()
                .and_then(rekor::b64)
                .as_deref()
                == Some(der)
        }
        Signer::Key(spki) => {
            v["publicKey"]["rawBytes"]
                .as_str()
                .and_then(rekor::b64)
                .as_deref()
                == Some(spki)
        }
    }
}

/// A `hashedrekord` 0.0.2 (Rekor v2) body names this artifact digest, signature and signer.
fn check_hashedrekord_v002(entry: &LogEntry, b: &rekor::Binding<'_>) -> Result<(), KeylessError> {
    let bad = KeylessError::Binding;
    let spec = &entry.body["spec"]["hashedRekordV002"];
    let data = &spec["data"];
    if data["algorithm"] != "SHA2_256"
        || data["digest"].as_str().and_then(rekor::b64).as_deref() != Some(&b.payload_sha256[..])
    {
        return Err(bad(
            "the transparency log entry names another payload digest".into(),
        ));
    }
    let sig = &spec["signature"];
    if sig["content"].as_str().and_then(rekor::b64).as_deref() != Some(b.signature) {
        return Err(bad(
            "the transparency log entry names another signature".into()
        ));
    }
    if !verifier_is(&sig["verifier"], &b.signer) {
        return Err(bad("the transparency log entry names another signer".into()));
    }
    Ok(())
}

/// A `dsse` body (0.0.1, or 0.0.2 for Rekor v2) or an `intoto` 0.0.2 body names this
/// envelope's payload hash and this signature by this signer.
fn check_dsse_binding(
    entry: &LogEntry,
    payload: &[u8],
    sig: &[u8],
    signer: &Signer<'_>,
) -> Result<(), KeylessError> {
    use serde_json::Value;
    let bad = KeylessError::Binding;
    let another_payload = || bad("the transparency log entry names another DSSE payload".into());
    let (kind, version) = (&entry.body["kind"], &entry.body["apiVersion"]);
    let hex_sha256 = |h: &Value| {
        h["algorithm"] == "sha256" && h["value"] == rekor::hex(&Sha256::digest(payload)).as_str()
    };
    let b64 = |v: &Value| v.as_str().and_then(rekor::b64);
    let pem_signer =
        |v: &Value| b64(v).is_some_and(|pem| rekor::check_signer(&pem, signer).is_ok());
    let any = |list: &Value, ours: &dyn Fn(&Value) -> bool| {
        list.as_array().is_some_and(|a| a.iter().any(ours))
    };
    let ours = if kind == "intoto" && version == "0.0.2" {
        // intoto 0.0.2 keeps the envelope with its payload and signatures base64-encoded
        // once more than DSSE does.
        let content = &entry.body["spec"]["content"];
        if !hex_sha256(&content["payloadHash"]) {
            return Err(another_payload());
        }
        let twice = |v: &Value| {
            b64(v)
                .and_then(|b| String::from_utf8(b).ok())
                .and_then(|s| rekor::b64(&s))
        };
        if twice(&content["envelope"]["payload"]).as_deref() != Some(payload) {
            return Err(bad(
                "the transparency log entry holds another DSSE payload".into()
            ));
        }
        any(&content["envelope"]["signatures"], &|s| {
            twice(&s["sig"]).as_deref() == Some(sig) && pem_signer(&s["publicKey"])
        })
    } else if kind != "dsse" {
        return Err(bad(format!(
            "a DSSE bundle's entry must be of kind dsse, not {kind}"
        )));
    } else if version == "0.0.2" {
        let spec = &entry.body["spec"]["dsseV002"];
        let hash = &spec["payloadHash"];
        let want: [u8; 32] = Sha256::digest(payload).into();
        if hash["algorithm"] != "SHA2_256" || b64(&hash["digest"]).as_deref() != Some(&want[..]) {
            return Err(another_payload());
        }
        any(&spec["signatures"], &|s| {
            b64(&s["content"]).as_deref() == Some(sig) && verifier_is(&s["verifier"], signer)
        })
    } else {
        let spec = &entry.body["spec"];
        if !hex_sha256(&spec["payloadHash"]) {
            return Err(another_payload());
        }
        any(&spec["signatures"], &|s| {
            b64(&s["signature"]).as_deref() == Some(sig) && pem_signer(&s["verifier"])
        })
    };
    if !ours {
        return Err(bad(
            "the transparency log entry names another DSSE signature or signer".into(),
        ));
    }
    Ok(())
}

/// An in-toto statement's subjects must include the artifact's SHA-256.
fn check_statement_subject(
    payload_type: &str,
    payload: &[u8],
    digest: &[u8; 32],
) -> Result<(), KeylessError> {
    if payload_type != "application/vnd.in-toto+json" {
        return Err(KeylessError::Signature(format!(
            "DSSE payload type {payload_type:?} is not an in-toto statement"
        )));
    }
    let statement: serde_json::Value = serde_json::from_slice(payload)
        .map_err(|e| KeylessError::Signature(format!("the in-toto statement is not JSON: {e}")))?;
    let want = rekor::hex(digest);
    let named = statement["subject"]
        .as_array()
        .map(|a| a.as_slice())
        .unwrap_or_default()
        .iter()
        .any(|s| s["digest"]["sha256"] == want.as_str());
    if !named {
        return Err(KeylessError::Signature(
            "the in-toto statement does not name the artifact's digest".into(),
        ));
    }
    Ok(())
}
