//! Rekor entries as cosign attaches them (`dev.sigstore.cosign/bundle`: a signed entry
//! timestamp over `{body, integratedTime, logIndex, logID}`), and the binding of the
//! entry's body to this signature, certificate or key, and payload.

use base64::Engine as _;
use serde::Deserialize;

use crate::KeylessError;
use crate::trust::TrustedRoot;

/// The verified facts of a log entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// The entry's index in the log.
    pub log_index: i64,
    /// When the log integrated it (Unix seconds): the signing time.
    pub integrated_time: i64,
    /// The log's ID (hex).
    pub log_id: String,
    /// The log's name in the trust material.
    pub log_name: String,
    /// The canonicalized entry body (JSON).
    pub(crate) body: serde_json::Value,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CosignBundle {
    signed_entry_timestamp: String,
    payload: BundlePayload,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BundlePayload {
    body: String,
    integrated_time: i64,
    log_index: i64,
    #[serde(rename = "logID")]
    log_id: String,
}

pub(crate) fn b64(s: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD.decode(s).ok()
}

pub(crate) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Verifies the SET of a cosign `dev.sigstore.cosign/bundle` annotation: the log is known
/// by its ID, its key was valid at the integrated time, and it signed exactly these fields.
pub(crate) fn verify_set(annotation: &str, root: &TrustedRoot) -> Result<LogEntry, KeylessError> {
    let tlog = |m: &str| KeylessError::Tlog(m.to_owned());
    let b: CosignBundle = serde_json::from_str(annotation)
        .map_err(|e| tlog(&format!("the Rekor bundle annotation is malformed: {e}")))?;
    let log_id =
        parse_hex(&b.payload.log_id).ok_or_else(|| tlog("the Rekor bundle's logID is not hex"))?;
    let set = b64(&b.signed_entry_timestamp).ok_or_else(|| tlog("the SET is not base64"))?;
    verify_set_fields(
        root,
        &b.payload.body,
        b.payload.integrated_time,
        b.payload.log_index,
        &log_id,
        &set,
    )
}

/// The SET check itself: `log_id` names a log of `root` whose key was valid at
/// `integrated_time` and signed the canonical `{body, integratedTime, logID, logIndex}`.
pub(crate) fn verify_set_fields(
    root: &TrustedRoot,
    body_b64: &str,
    integrated_time: i64,
    log_index: i64,
    log_id: &[u8],
    set: &[u8],
) -> Result<LogEntry, KeylessError> {
    let log = known_log(root, log_id, integrated_time)?;
    if log_index < 0 {
        return Err(KeylessError::Tlog(format!(
            "the entry's log index {log_index} is negative"
        )));
    }
    // Canonical JSON (RFC 8785): keys sorted, no whitespace; the body is a string.
    let canonical = format!(
        "{{\"body\":{},\"integratedTime\":{integrated_time},\"logID\":\"{}\",\"logIndex\":{log_index}}}",
        serde_json::Value::String(body_b64.to_owned()),
        hex(log_id),
    );
    log.key.verify_raw(canonical.as_bytes(), set).map_err(|_| {
        KeylessError::Tlog(format!(
            "the SET does not verify with transparency log {}",
            log.name
        ))
    })?;
    entry(root, body_b64, integrated_time, log_index, log_id).map_err(KeylessError::Tlog)
}

/// The log of `root` with `log_id`, if its key was valid at `time`.
pub(crate) fn known_log<'r>(
    root: &'r TrustedRoot,
    log_id: &[u8],
    time: i64,
) -> Result<&'r crate::trust::LogKey, KeylessError> {
    let log = root.tlog(log_id).ok_or_else(|| {
        KeylessError::UnknownLog(format!(
            "the SET is from an unknown transparency log ({})",
            hex(log_id)
        ))
    })?;
    if !log.valid_for.contains(time) {
        return Err(KeylessError::Tlog(format!(
            "the transparency log key ({}) was not valid at the entry's integrated time {}",
            log.name,
            crate::time::format_rfc3339(time)
        )));
    }
    Ok(log)
}

/// The log of `root` with `log_id`, whatever its validity window (an entry whose time comes
/// from a timestamp, not from the log).
pub(crate) fn known_log_any_time<'r>(
    root: &'r TrustedRoot,
    log_id: &[u8],
) -> Result<&'r crate::trust::LogKey, KeylessError> {
    root.tlog(log_id).ok_or_else(|| {
        KeylessError::UnknownLog(format!(
            "the entry is from an unknown transparency log ({})",
            hex(log_id)
        ))
    })
}

/// A [`LogEntry`] from its parts, the body decoded.
pub(crate) fn entry(
    root: &TrustedRoot,
    body_b64: &str,
    integrated_time: i64,
    log_index: i64,
    log_id: &[u8],
) -> Result<LogEntry, String> {
    let body = b64(body_b64).ok_or("the Rekor entry body is not base64")?;
    let body: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| format!("the Rekor entry body is not JSON: {e}"))?;
    Ok(LogEntry {
        log_index,
        integrated_time,
        log_id: hex(log_id),
        log_name: root
            .tlog(log_id)
            .map(|l| l.name.clone())
            .unwrap_or_default(),
        body,
    })
}

pub(crate) fn parse_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// What the entry must be bound to.
pub(crate) struct Binding<'a> {
    /// SHA-256 of the signed artifact (the payload).
    pub(crate) payload_sha256: [u8; 32],
    pub(crate) signature: &'a [u8],
    /// The leaf certificate's DER, or the key's DER SubjectPublicKeyInfo.
    pub(crate) signer: Signer<'a>,
}

pub(crate) enum Signer<'a> {
    Certificate(&'a [u8]),
    Key(&'a [u8]),
}

/// Checks a `hashedrekord` v0.0.1 body names this payload digest, signature and signer.
pub(crate) fn check_binding(entry: &LogEntry, b: &Binding<'_>) -> Result<(), String> {
    let body = &entry.body;
    let kind = body["kind"].as_str().unwrap_or_default();
    let version = body["apiVersion"].as_str().unwrap_or_default();
    if kind != "hashedrekord" || version != "0.0.1" {
        return Err(format!(
            "the transparency log entry is a {kind:?} {version:?} entry, not hashedrekord 0.0.1"
        ));
    }
    let spec = &body["spec"];
    let algorithm = spec["data"]["hash"]["algorithm"]
        .as_str()
        .unwrap_or_default();
    let value = spec["data"]["hash"]["value"].as_str().unwrap_or_default();
    if algorithm != "sha256" || value != hex(&b.payload_sha256) {
        return Err("the transparency log entry names another payload digest".into());
    }
    let sig = spec["signature"]["content"].as_str().and_then(b64);
    if sig.as_deref() != Some(b.signature) {
        return Err("the transparency log entry names another signature".into());
    }
    let pem = spec["signature"]["publicKey"]["content"]
        .as_str()
        .and_then(b64)
        .unwrap_or_default();
    check_signer(&pem, &b.signer)
}

/// The PEM `pem` (from a log entry) names `signer`: its first certificate, or its key.
pub(crate) fn check_signer(pem: &[u8], signer: &Signer<'_>) -> Result<(), String> {
    match *signer {
        Signer::Certificate(der) => {
            let certs = crate::der::pem_blocks(pem, "CERTIFICATE").unwrap_or_default();
            if certs.first().map(Vec::as_slice) != Some(der) {
                return Err("the transparency log entry names another certificate".into());
            }
        }
        Signer::Key(spki) => {
            let keys = crate::der::pem_blocks(pem, "PUBLIC KEY").unwrap_or_default();
            if keys.first().map(Vec::as_slice) != Some(spki) {
                return Err("the transparency log entry names another public key".into());
            }
        }
    }
    Ok(())
}
