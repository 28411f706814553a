//! Transparency-log inclusion proofs (RFC 6962 / RFC 9162 §2.1.3) and the signed checkpoints
//! (signed notes) they are checked against.

use sha2::{Digest as _, Sha256};

use crate::trust::LogKey;

fn hash_children(l: &[u8], r: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(l);
    h.update(r);
    h.finalize().into()
}

/// The leaf hash of an entry: SHA-256(0x00 ‖ entry).
pub(crate) fn leaf_hash(entry: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(entry);
    h.finalize().into()
}

/// The root an inclusion proof leads to, or `None` when the proof has the wrong shape.
pub(crate) fn root_from_proof(
    index: u64,
    size: u64,
    leaf: [u8; 32],
    proof: &[[u8; 32]],
) -> Option<[u8; 32]> {
    if index >= size {
        return None;
    }
    // RFC 9162 §2.1.3.2: the inner part is as long as the bit length of index ^ (size - 1);
    // the border part climbs the right edge.
    let inner = (64 - (index ^ (size - 1)).leading_zeros()) as usize;
    let border = (index >> inner).count_ones() as usize;
    if proof.len() != inner + border {
        return None;
    }
    let mut res = leaf;
    for (i, h) in proof[..inner].iter().enumerate() {
        res = if (index >> i) & 1 == 0 {
            hash_children(&res, h)
        } else {
            hash_children(h, &res)
        };
    }
    for h in &proof[inner..] {
        res = hash_children(h, &res);
    }
    Some(res)
}

/// A signed checkpoint: origin, tree size and root hash, signed by the log.
pub(crate) struct Checkpoint {
    pub(crate) size: u64,
    pub(crate) root: Vec<u8>,
}

/// Parses a signed note and verifies a signature on it by `log` (the one whose key hint is
/// the first 4 bytes of the log's key ID).
pub(crate) fn verify_checkpoint(envelope: &str, log: &LogKey) -> Result<Checkpoint, String> {
    use base64::Engine as _;
    let (text, signatures) = envelope
        .split_once("\n\n")
        .ok_or("the checkpoint is not a signed note")?;
    let text = format!("{text}\n");
    let mut lines = text.lines();
    let _origin = lines
        .next()
        .filter(|o| !o.is_empty())
        .ok_or("the checkpoint has no origin")?;
    let size: u64 = lines
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or("the checkpoint has no tree size")?;
    let root = lines
        .next()
        .and_then(|r| base64::engine::general_purpose::STANDARD.decode(r).ok())
        .filter(|r| r.len() == 32)
        .ok_or("the checkpoint has no root hash")?;
    let hint = log.log_id.get(..4).ok_or("the log ID is too short")?;
    let mut matched = false;
    for line in signatures.lines().filter(|l| !l.is_empty()) {
        let Some(rest) = line.strip_prefix("\u{2014} ") else {
            return Err("a checkpoint signature line does not start with an em dash".into());
        };
        let Some((_name, sig)) = rest.rsplit_once(' ') else {
            return Err("a checkpoint signature line has no signature".into());
        };
        let Ok(sig) = base64::engine::general_purpose::STANDARD.decode(sig) else {
            return Err("a checkpoint signature is not base64".into());
        };
        if sig.len() < 5 || &sig[..4] != hint {
            continue;
        }
        matched = true;
        if log.key.verify_raw(text.as_bytes(), &sig[4..]).is_ok() {
            return Ok(Checkpoint { size, root });
        }
    }
    Err(if matched {
        format!(
            "the checkpoint signature does not verify with transparency log {}",
            log.name
        )
    } else {
        format!(
            "the checkpoint is not signed by transparency log {}",
            log.name
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The RFC 6962 root of `leaves` (the reference for proofs).
    fn root(leaves: &[[u8; 32]]) -> [u8; 32] {
        match leaves.len() {
            1 => leaves[0],
            n => {
                let k = n.next_power_of_two() / 2;
                let k = if k == n { n / 2 } else { k };
                hash_children(&root(&leaves[..k]), &root(&leaves[k..]))
            }
        }
    }

    fn proof(leaves: &[[u8; 32]], index: usize) -> Vec<[u8; 32]> {
        if leaves.len() == 1 {
            return Vec::new();
        }
        let n = leaves.len();
        let k = n.next_power_of_two() / 2;
        let k = if k == n { n / 2 } else { k };
        if index < k {
            let mut p = proof(&leaves[..k], index);
            p.push(root(&leaves[k..]));
            p
        } else {
            let mut p = proof(&leaves[k..], index - k);
            p.push(root(&leaves[..k]));
            p
        }
    }

    #[test]
    fn proofs_for_every_leaf_of_every_small_tree() {
        for n in 1..=33usize {
            let leaves: Vec<[u8; 32]> = (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect();
            let r = root(&leaves);
            for i in 0..n {
                let p = proof(&leaves, i);
                assert_eq!(
                    root_from_proof(i as u64, n as u64, leaves[i], &p),
                    Some(r),
                    "n={n} i={i}"
                );
                // Any flipped bit or wrong index breaks it.
                if let Some(first) = p.first() {
                    let mut bad = p.clone();
                    let mut h = *first;
                    h[0] ^= 1;
                    bad[0] = h;
                    assert_ne!(
                        root_from_proof(i as u64, n as u64, leaves[i], &bad),
                        Some(r)
                    );
                }
                assert_ne!(
                    root_from_proof(i as u64, n as u64, leaf_hash(b"other"), &p),
                    Some(r)
                );
            }
            assert_eq!(root_from_proof(n as u64, n as u64, leaves[0], &[]), None);
        }
    }
}
