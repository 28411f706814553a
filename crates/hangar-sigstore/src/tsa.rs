//! RFC 3161 signed timestamps (a CMS SignedData over a TSTInfo), as Sigstore uses them: a
//! trusted timestamp authority vouches that a signature existed at `genTime`. Parsed with
//! the few DER operations needed; the TSA's key and chain come from the trust material only.

use sha2::{Digest as _, Sha256, Sha384, Sha512};

use crate::der::{content, elements, tagged, tlv};
use crate::trust::TrustedRoot;

const SIGNED_DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02];
const TST_INFO: &[u8] = &[
    0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x10, 0x01, 0x04,
];
const CONTENT_TYPE_ATTR: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x03];
const MESSAGE_DIGEST_ATTR: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x04];
const SHA256: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];
const SHA384: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02];
const SHA512: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03];
/// id-kp-timeStamping (1.3.6.1.5.5.7.3.8).
const TIME_STAMPING: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x08];

/// A verified timestamp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timestamp {
    /// `genTime`, Unix seconds.
    pub time: i64,
    /// The TSA (its `uri` in the trust material).
    pub authority: String,
}

fn digest(alg: &[u8], data: &[u8]) -> Option<Vec<u8>> {
    match alg {
        SHA256 => Some(Sha256::digest(data).to_vec()),
        SHA384 => Some(Sha384::digest(data).to_vec()),
        SHA512 => Some(Sha512::digest(data).to_vec()),
        _ => None,
    }
}

/// The OID content bytes of an AlgorithmIdentifier.
fn algorithm(ai: &[u8]) -> Option<&[u8]> {
    content(elements(ai)?.first()?)
}

/// GeneralizedTime `YYYYMMDDHHMMSS[.f*]Z` as Unix seconds.
fn generalized_time(b: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(content(tagged(b, 0x18)?)?).ok()?;
    let s = s.strip_suffix('Z')?;
    let (main, _frac) = s.split_once('.').unwrap_or((s, ""));
    if main.len() != 14 || !main.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let rfc = format!(
        "{}-{}-{}T{}:{}:{}Z",
        &main[0..4],
        &main[4..6],
        &main[6..8],
        &main[8..10],
        &main[10..12],
        &main[12..14]
    );
    crate::time::parse_rfc3339(&rfc)
}

/// The parts of a timestamp token that are checked.
struct Token<'a> {
    tst_info: &'a [u8],
    digest_alg: &'a [u8],
    signed_attrs: &'a [u8],
    signature: &'a [u8],
}

/// The timestamp token of a TimeStampResp (`{status, timeStampToken}`, status granted), or
/// the token itself when given bare.
fn unwrap_response(b: &[u8]) -> Result<&[u8], String> {
    let parts = elements(tagged(b, 0x30).ok_or("not DER")?).ok_or("not DER")?;
    match parts.first().and_then(|p| tlv(p)) {
        Some(t) if t.tag == 0x30 => {
            let status = elements(parts[0])
                .and_then(|s| s.first().copied())
                .and_then(content)
                .ok_or("malformed timestamp response status")?;
            if status != [0] && status != [1] {
                return Err("the timestamp response was not granted".into());
            }
            parts
                .get(1)
                .copied()
                .ok_or_else(|| "the timestamp response has no token".into())
        }
        _ => Ok(b),
    }
}

fn parse_token(token: &[u8]) -> Option<Token<'_>> {
    let ci = elements(tagged(token, 0x30)?)?;
    if content(ci.first()?)? != SIGNED_DATA {
        return None;
    }
    let signed_data = content(tagged(ci.get(1)?, 0xa0)?)?;
    let sd = elements(tagged(signed_data, 0x30)?)?;
    // version, digestAlgorithms, encapContentInfo, [0] certificates?, [1] crls?, signerInfos
    let encap = elements(sd.get(2)?)?;
    if content(encap.first()?)? != TST_INFO {
        return None;
    }
    let e_content = content(tagged(encap.get(1)?, 0xa0)?)?;
    let tst_info = content(tagged(e_content, 0x04)?)?;
    let signer_infos = elements(tagged(sd.last()?, 0x31)?)?;
    let [signer] = signer_infos.as_slice() else {
        return None;
    };
    let si = elements(signer)?;
    // version, sid, digestAlgorithm, [0] signedAttrs, signatureAlgorithm, signature, ...
    let digest_alg = algorithm(si.get(2)?)?;
    let signed_attrs = *si.get(3)?;
    if tlv(signed_attrs)?.tag != 0xa0 {
        return None;
    }
    let signature = content(tagged(si.get(5)?, 0x04)?)?;
    Some(Token {
        tst_info,
        digest_alg,
        signed_attrs,
        signature,
    })
}

/// Verifies an RFC 3161 timestamp token over `signature` (the bytes it must timestamp):
/// its message imprint is the signature's hash, its signed attributes name the TSTInfo and
/// its digest, a trusted TSA valid at `genTime` signed them, and that TSA's certificate
/// chains to its root with the time-stamping EKU at `genTime`.
pub(crate) fn verify(
    token: &[u8],
    signature: &[u8],
    root: &TrustedRoot,
) -> Result<Timestamp, String> {
    let token = unwrap_response(token)?;
    let t = parse_token(token)
        .ok_or("the RFC 3161 timestamp is not a CMS SignedData over a TSTInfo")?;
    let tst = elements(tagged(t.tst_info, 0x30).ok_or("malformed TSTInfo")?)
        .ok_or("malformed TSTInfo")?;
    // version, policy, messageImprint, serialNumber, genTime, ...
    let imprint = elements(tst.get(2).ok_or("TSTInfo without messageImprint")?)
        .ok_or("malformed messageImprint")?;
    let imprint_alg = algorithm(imprint.first().ok_or("malformed messageImprint")?)
        .ok_or("malformed messageImprint")?;
    let hashed = content(imprint.get(1).ok_or("malformed messageImprint")?)
        .ok_or("malformed messageImprint")?;
    let want = digest(imprint_alg, signature).ok_or("unsupported messageImprint hash")?;
    if hashed != want.as_slice() {
        return Err("the RFC 3161 timestamp is for another signature".into());
    }
    let time = generalized_time(tst.get(4).ok_or("TSTInfo without genTime")?)
        .ok_or("the timestamp's genTime is malformed")?;
    // Signed attributes: content type TSTInfo, message digest of the TSTInfo.
    let attrs = elements(t.signed_attrs).ok_or("malformed signed attributes")?;
    let attr = |oid: &[u8]| -> Option<&[u8]> {
        attrs.iter().find_map(|a| {
            let parts = elements(a)?;
            (content(parts.first()?)? == oid).then(|| parts.get(1).copied())?
        })
    };
    let ct = attr(CONTENT_TYPE_ATTR)
        .and_then(elements)
        .and_then(|v| v.first().copied());
    if ct.and_then(content) != Some(TST_INFO) {
        return Err("the timestamp's signed content type is not TSTInfo".into());
    }
    let md = attr(MESSAGE_DIGEST_ATTR)
        .and_then(elements)
        .and_then(|v| v.first().copied())
        .and_then(content)
        .ok_or("the timestamp has no message digest attribute")?;
    if digest(t.digest_alg, t.tst_info).as_deref() != Some(md) {
        return Err("the timestamp's message digest does not match its TSTInfo".into());
    }
    // The signature is over the attributes as a SET (tag 0x31 instead of [0]).
    let mut signed = t.signed_attrs.to_vec();
    signed[0] = 0x31;
    let mut last = "no trusted timestamp authority was valid at the timestamp's time".to_owned();
    for tsa in &root.timestamp_authorities {
        if !tsa.valid_for.contains(time) {
            last = format!(
                "the timestamp authority {} was not valid at {}",
                tsa.name,
                crate::time::format_rfc3339(time)
            );
            continue;
        }
        let Some(leaf) = tsa.chain.first() else {
            continue;
        };
        let Some(spki) = crate::cert::spki_of(leaf) else {
            continue;
        };
        let Ok(key) = hangar_signature::PublicKey::from_spki_der(&spki) else {
            continue;
        };
        if key.verify_raw(&signed, t.signature).is_err() {
            last = "the timestamp is not signed by a trusted timestamp authority".into();
            continue;
        }
        if tsa.chain.len() > 1 {
            check_tsa_chain(tsa, time)?;
        }
        return Ok(Timestamp {
            time,
            authority: tsa.name.clone(),
        });
    }
    Err(last)
}

/// The TSA's leaf chains to the TSA's root, with the time-stamping EKU, at `time`.
fn check_tsa_chain(tsa: &crate::trust::CertificateAuthority, time: i64) -> Result<(), String> {
    use rustls_pki_types::{CertificateDer, UnixTime};
    let (anchor, rest) = tsa.chain.split_last().ok_or("empty TSA chain")?;
    let (leaf, intermediates) = rest.split_first().ok_or("empty TSA chain")?;
    let leaf = CertificateDer::from(leaf.as_slice());
    let ee =
        webpki::EndEntityCert::try_from(&leaf).map_err(|e| format!("TSA certificate: {e:?}"))?;
    let anchor_der = CertificateDer::from(anchor.as_slice());
    let anchor =
        webpki::anchor_from_trusted_cert(&anchor_der).map_err(|e| format!("TSA root: {e:?}"))?;
    let intermediates: Vec<CertificateDer<'_>> = intermediates
        .iter()
        .map(|d| CertificateDer::from(d.as_slice()))
        .collect();
    ee.verify_for_usage(
        webpki::ALL_VERIFICATION_ALGS,
        &[anchor],
        &intermediates,
        UnixTime::since_unix_epoch(std::time::Duration::from_secs(time.max(0) as u64)),
        webpki::KeyUsage::required(TIME_STAMPING),
        None,
        None,
    )
    .map(|_| ())
    .map_err(|e| format!("the timestamp authority's certificate chain is not valid at the timestamp's time: {e:?}"))
}
