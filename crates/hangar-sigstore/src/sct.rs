//! Signed certificate timestamps embedded in a leaf (RFC 6962 §3.2–3.3): each is a CT log's
//! signature over the precertificate (the leaf's TBSCertificate without the SCT list) and
//! the issuer's key hash.

use sha2::{Digest as _, Sha256};

use crate::cert::{Leaf, SCT_LIST_OID, spki_of};
use crate::trust::{CertificateAuthority, TrustedRoot};

/// One parsed SCT.
struct Sct<'a> {
    log_id: &'a [u8],
    timestamp_ms: u64,
    extensions: &'a [u8],
    signature: &'a [u8],
}

fn take<'a>(b: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if b.len() < n {
        return None;
    }
    let (head, tail) = b.split_at(n);
    *b = tail;
    Some(head)
}

fn take_u16_prefixed<'a>(b: &mut &'a [u8]) -> Option<&'a [u8]> {
    let len = take(b, 2)?;
    take(b, usize::from(u16::from_be_bytes([len[0], len[1]])))
}

fn parse_list(list: &[u8]) -> Option<Vec<Sct<'_>>> {
    let mut outer = list;
    let mut body = take_u16_prefixed(&mut outer)?;
    if !outer.is_empty() {
        return None;
    }
    let mut out = Vec::new();
    while !body.is_empty() {
        let mut sct = take_u16_prefixed(&mut body)?;
        let version = take(&mut sct, 1)?[0];
        if version != 0 {
            continue; // unknown versions are skipped, as RFC 6962 says
        }
        let log_id = take(&mut sct, 32)?;
        let ts = take(&mut sct, 8)?;
        let timestamp_ms = u64::from_be_bytes(ts.try_into().ok()?);
        let extensions = take_u16_prefixed(&mut sct)?;
        let _algorithms = take(&mut sct, 2)?;
        let signature = take_u16_prefixed(&mut sct)?;
        if !sct.is_empty() {
            return None;
        }
        out.push(Sct {
            log_id,
            timestamp_ms,
            extensions,
            signature,
        });
    }
    Some(out)
}

/// Verifies that at least one embedded SCT is signed by a CT log of `root` that was valid
/// at the SCT's time, over this leaf issued by `ca`.
pub(crate) fn verify(
    leaf: &Leaf,
    ca: &CertificateAuthority,
    root: &TrustedRoot,
) -> Result<(), String> {
    let list = leaf
        .sct_list
        .as_deref()
        .ok_or("the certificate has no embedded SCT")?;
    let scts = parse_list(list).ok_or("the embedded SCT list is malformed")?;
    if scts.is_empty() {
        return Err("the certificate has no embedded SCT".into());
    }
    let issuer = leaf
        .issuer_in(ca)
        .ok_or("the certificate's issuer is not in the trusted chain")?;
    let issuer_key_hash = Sha256::digest(spki_of(issuer).ok_or("the issuer's key cannot be read")?);
    let (_, precert_tbs) = crate::der::tbs_without_extension(&leaf.der, SCT_LIST_OID)
        .ok_or("the precertificate cannot be rebuilt from the certificate")?;
    let mut last = "no SCT is from a trusted CT log".to_owned();
    for sct in scts {
        let Some(log) = root.ctlog(sct.log_id) else {
            continue;
        };
        let secs = (sct.timestamp_ms / 1000) as i64;
        if !log.valid_for.contains(secs) {
            last = format!(
                "the SCT's CT log key ({}) was not valid at the SCT's time",
                log.name
            );
            continue;
        }
        let mut signed = vec![0u8, 0u8];
        signed.extend_from_slice(&sct.timestamp_ms.to_be_bytes());
        signed.extend_from_slice(&[0, 1]); // precert_entry
        signed.extend_from_slice(&issuer_key_hash);
        let n = precert_tbs.len();
        if n >= 1 << 24 {
            return Err("the precertificate is too large".into());
        }
        signed.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8]);
        signed.extend_from_slice(&precert_tbs);
        signed.extend_from_slice(&(sct.extensions.len() as u16).to_be_bytes());
        signed.extend_from_slice(sct.extensions);
        match log.key.verify_raw(&signed, sct.signature) {
            Ok(()) => return Ok(()),
            Err(_) => last = format!("the SCT signature does not verify with CT log {}", log.name),
        }
    }
    Err(last)
}
