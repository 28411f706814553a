//! The few DER and PEM operations X.509 parsing libraries do not offer: splitting a PEM
//! bundle, and removing one extension from a TBSCertificate (the precertificate an SCT
//! signs, RFC 6962 §3.2) with every enclosing length re-encoded.

use base64::Engine as _;

/// The DER bodies of every `-----BEGIN {label}-----` block of `pem`, in order.
pub(crate) fn pem_blocks(pem: &[u8], label: &str) -> Result<Vec<Vec<u8>>, String> {
    let text = std::str::from_utf8(pem).map_err(|_| "not UTF-8 text".to_owned())?;
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(&begin) {
        let body = &rest[i + begin.len()..];
        let j = body.find(&end).ok_or_else(|| format!("no {end:?} line"))?;
        let b64: String = body[..j].split_whitespace().collect();
        out.push(
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|e| format!("base64 in a {label} block: {e}"))?,
        );
        rest = &body[j + end.len()..];
    }
    Ok(out)
}

/// One TLV: tag byte, header length, content length.
pub(crate) struct Tlv {
    pub(crate) tag: u8,
    pub(crate) header: usize,
    pub(crate) len: usize,
}

pub(crate) fn tlv(b: &[u8]) -> Option<Tlv> {
    let tag = *b.first()?;
    if tag & 0x1f == 0x1f {
        return None; // high tag numbers never occur here
    }
    let first = *b.get(1)?;
    let (header, len) = if first < 0x80 {
        (2, usize::from(first))
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for k in 0..n {
            len = (len << 8) | usize::from(*b.get(2 + k)?);
        }
        (2 + n, len)
    };
    (b.len() >= header + len).then_some(Tlv { tag, header, len })
}

fn encode(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = content.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes: Vec<u8> = n
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

/// The elements of a constructed value's content.
pub(crate) fn children(content: &[u8]) -> Option<Vec<&[u8]>> {
    let mut out = Vec::new();
    let mut rest = content;
    while !rest.is_empty() {
        let t = tlv(rest)?;
        out.push(&rest[..t.header + t.len]);
        rest = &rest[t.header + t.len..];
    }
    Some(out)
}

/// The certificate's TBSCertificate DER and the TBSCertificate without the extension whose
/// DER-encoded OID is `oid` (the whole `[3]` wrapper dropped if it was the only one).
/// The content of a TLV (after its header).
pub(crate) fn content(b: &[u8]) -> Option<&[u8]> {
    let t = tlv(b)?;
    Some(&b[t.header..t.header + t.len])
}

/// The elements of the constructed TLV `b` (its tag unchecked).
pub(crate) fn elements(b: &[u8]) -> Option<Vec<&[u8]>> {
    children(content(b)?)
}

/// The first element of `b`'s content, which must have tag `tag`.
pub(crate) fn tagged(b: &[u8], tag: u8) -> Option<&[u8]> {
    (tlv(b)?.tag == tag).then_some(b)
}

pub(crate) fn tbs_without_extension(cert: &[u8], oid: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let c = tlv(cert)?;
    if c.tag != 0x30 {
        return None;
    }
    let parts = children(&cert[c.header..c.header + c.len])?;
    let tbs = *parts.first()?;
    let t = tlv(tbs)?;
    if t.tag != 0x30 {
        return None;
    }
    let fields = children(&tbs[t.header..t.header + t.len])?;
    let mut out_fields: Vec<Vec<u8>> = Vec::new();
    let mut found = false;
    for f in fields {
        let ft = tlv(f)?;
        if ft.tag != 0xa3 {
            out_fields.push(f.to_vec());
            continue;
        }
        let seq = &f[ft.header..ft.header + ft.len];
        let st = tlv(seq)?;
        let exts = children(&seq[st.header..st.header + st.len])?;
        let mut kept = Vec::new();
        for e in exts {
            let et = tlv(e)?;
            let inner = children(&e[et.header..et.header + et.len])?;
            let id = inner.first()?;
            let it = tlv(id)?;
            if it.tag == 0x06 && &id[it.header..it.header + it.len] == oid {
                found = true;
            } else {
                kept.extend_from_slice(e);
            }
        }
        if !kept.is_empty() {
            out_fields.push(encode(0xa3, &encode(0x30, &kept)));
        }
    }
    if !found {
        return None;
    }
    Some((tbs.to_vec(), encode(0x30, &out_fields.concat())))
}
