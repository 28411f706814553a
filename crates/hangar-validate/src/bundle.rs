//! cosign v3 signatures: Sigstore bundles attached to a platform image as OCI 1.1
//! referrers (or listed under the referrers tag), each checked with the trusted keys and
//! against the image digest.

use hangar_reference::{Digest, Reference};
use hangar_registry::{Deadline, Referrer, media_type};
use hangar_signature::{BUNDLE_MEDIA_TYPE, verify_bundle};

use crate::{
    Accepted, Rejection, RejectionKind, SIGNATURE_SIZE_LIMIT, SignatureFormat, Validator, combine,
};

/// The most bundle referrers checked for one image; more are ignored (fail closed).
pub const MAX_BUNDLES: usize = 32;

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct BundleManifest {
    #[serde(default)]
    media_type: String,
    #[serde(default)]
    artifact_type: String,
    #[serde(default)]
    subject: Option<Descriptor>,
    #[serde(default)]
    layers: Vec<Descriptor>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Descriptor {
    #[serde(default)]
    media_type: String,
    digest: String,
    #[serde(default)]
    size: u64,
}

/// Finds bundle referrers of `digest` and accepts the first valid one (if unnamed
/// signatures are accepted); `Unsigned` when there is none.
pub(crate) fn check_referrers(
    v: &Validator<'_>,
    repository: &Reference,
    digest: &Digest,
    deadline: Deadline,
) -> Result<Accepted, Rejection> {
    let repo = repository.to_string();
    let referrers = match v.cache.and_then(|c| c.referrers(&repo, digest)) {
        Some(list) => list,
        None => {
            let (list, _) = v
                .client
                .get_referrers(repository, digest, BUNDLE_MEDIA_TYPE, deadline)
                .map_err(|e| {
                    Rejection::new(RejectionKind::Error, format!("listing referrers: {e}"))
                })?;
            let list = std::sync::Arc::new(list);
            if let Some(c) = v.cache {
                c.keep_referrers(&repo, digest, std::sync::Arc::clone(&list));
            }
            list
        }
    };
    let mut rejections = Vec::new();
    for r in referrers.iter().take(MAX_BUNDLES) {
        match check_one(v, repository, digest, r, deadline) {
            Ok(a) => return Ok(a),
            Err(e) => rejections.push(e),
        }
    }
    if referrers.len() > MAX_BUNDLES {
        rejections.push(Rejection::new(
            RejectionKind::Invalid,
            format!(
                "{} sigstore bundles refer to {digest}; only the first {MAX_BUNDLES} were checked",
                referrers.len()
            ),
        ));
    }
    Err(combine(rejections))
}

fn check_one(
    v: &Validator<'_>,
    repository: &Reference,
    digest: &Digest,
    referrer: &Referrer,
    deadline: Deadline,
) -> Result<Accepted, Rejection> {
    use RejectionKind::{Error, Invalid};
    let name = &referrer.digest;
    let invalid = |m: String| Rejection::new(Invalid, format!("sigstore bundle {name}: {m}"));
    let manifest = v
        .client
        .get_manifest(&repository.with_digest(name.clone()), deadline)
        .map_err(|e| Rejection::new(Error, format!("fetching sigstore bundle manifest: {e}")))?;
    if manifest.media_type != media_type::OCI_MANIFEST {
        return Err(invalid(format!(
            "unexpected manifest MIME type {:?}",
            manifest.media_type
        )));
    }
    let m: BundleManifest = serde_json::from_slice(&manifest.bytes)
        .map_err(|e| invalid(format!("invalid manifest: {e}")))?;
    if !m.media_type.is_empty() && m.media_type != media_type::OCI_MANIFEST {
        return Err(invalid(format!("manifest mediaType {:?}", m.media_type)));
    }
    if m.artifact_type != BUNDLE_MEDIA_TYPE {
        return Err(invalid(format!("artifactType {:?}", m.artifact_type)));
    }
    // The list said it refers to this image; the manifest itself must say so too.
    let subject = m.subject.as_ref().map(|s| s.digest.as_str());
    if subject != Some(digest.to_string().as_str()) {
        return Err(invalid(format!(
            "its subject is {}, not {digest}",
            subject.unwrap_or("missing")
        )));
    }
    let [layer] = m.layers.as_slice() else {
        return Err(invalid(format!("{} layers, want 1", m.layers.len())));
    };
    if layer.media_type != BUNDLE_MEDIA_TYPE {
        return Err(invalid(format!("layer media type {:?}", layer.media_type)));
    }
    if layer.size > SIGNATURE_SIZE_LIMIT {
        return Err(invalid(format!(
            "bundle of {} bytes exceeds the {SIGNATURE_SIZE_LIMIT}-byte limit",
            layer.size
        )));
    }
    let blob_digest = layer
        .digest
        .parse::<Digest>()
        .map_err(|e| invalid(format!("invalid layer digest: {e}")))?;
    let bytes = v
        .client
        .get_blob(repository, &blob_digest, SIGNATURE_SIZE_LIMIT, deadline)
        .map_err(|e| Rejection::new(Error, format!("fetching sigstore bundle: {e}")))?;
    if let Some(trust) = v.sigstore.filter(|t| t.keyless.is_some())
        && has_certificate(&bytes)
    {
        return keyless_bundle(v, &trust, &bytes, digest).map_err(invalid);
    }
    let verified = verify_bundle(v.keys, &bytes).map_err(|e| invalid(e.to_string()))?;
    if !verified.subject_digests().contains(digest) {
        let named: Vec<String> = verified
            .subject_digests()
            .iter()
            .map(ToString::to_string)
            .collect();
        return Err(invalid(format!(
            "Signature for digest {} does not match",
            named.join(", ")
        )));
    }
    // With trust material, the bundle's log entry is verified too: required under -k;
    // otherwise an entry from a log the trust does not know (or evidence hangar cannot
    // check yet) is ignored, and any other defect refuses the signature.
    let tlog = match v.sigstore {
        Some(trust) => {
            let key = v
                .keys
                .iter()
                .find(|k| k.fingerprint() == verified.key_fingerprint())
                .ok_or_else(|| invalid("the verifying key is not among the trusted keys".into()))?;
            let checked = match artifact(digest) {
                Some(sha) => hangar_sigstore::verify_bundle(
                    trust.root,
                    &bytes,
                    hangar_sigstore::Artifact::Sha256(sha),
                    hangar_sigstore::BundleSigner::Key(key),
                    trust.chains,
                ),
                None => Err(hangar_sigstore::KeylessError::Tlog(
                    "only sha256 image digests can be checked against a log entry".into(),
                )),
            };
            match checked {
                Ok(b) => Some(crate::TlogSummary::of(&b.log_entry)),
                Err(e) if trust.require_tlog => {
                    return Err(invalid(format!("transparency log entry refused: {e}")));
                }
                Err(
                    hangar_sigstore::KeylessError::UnknownLog(_)
                    | hangar_sigstore::KeylessError::UnsupportedEntry(_),
                ) => None,
                Err(hangar_sigstore::KeylessError::SigningTime(_)) => None,
                Err(e) => return Err(invalid(format!("transparency log entry refused: {e}"))),
            }
        }
        None => None,
    };
    if !v.accept_unnamed_signatures {
        return Err(invalid(format!(
            "valid signature by key {}, but a bundle names no repository to check against the identity rule; accept such signatures with --accept-unnamed-signatures",
            &verified.key_fingerprint()[..12.min(verified.key_fingerprint().len())]
        )));
    }
    Ok(Accepted {
        payload: None,
        certificate: None,
        tlog,
        identity: None,
        format: SignatureFormat::Bundle,
        key_fingerprint: verified.key_fingerprint().to_owned(),
        key_algorithm: verified.key_algorithm().to_owned(),
    })
}

/// The SHA-256 bytes of a `sha256:` digest: the artifact a cosign v3 image bundle signs is
/// the manifest itself.
fn artifact(digest: &Digest) -> Option<[u8; 32]> {
    let hex = digest.to_string();
    let hex = hex.strip_prefix("sha256:")?;
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// Whether a bundle's verification material is a certificate (keyless).
fn has_certificate(bytes: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(bytes).is_ok_and(|b| {
        let m = &b["verificationMaterial"];
        !m["certificate"].is_null() || !m["x509CertificateChain"].is_null()
    })
}

/// A keyless cosign v3 bundle: everything hangar-sigstore checks (log entry, chain, SCT,
/// binding, identity, DSSE signature, subject = this digest), then cosign's predicate.
fn keyless_bundle(
    v: &Validator<'_>,
    trust: &crate::SigstoreTrust<'_>,
    bytes: &[u8],
    digest: &Digest,
) -> Result<Accepted, String> {
    let policy = trust
        .keyless
        .ok_or("keyless signatures are not trusted here")?;
    let sha = artifact(digest).ok_or("only sha256 image digests can be checked keylessly")?;
    let b = hangar_sigstore::verify_bundle(
        trust.root,
        bytes,
        hangar_sigstore::Artifact::Sha256(sha),
        hangar_sigstore::BundleSigner::Keyless(policy),
        trust.chains,
    )
    .map_err(|e| format!("keyless signature refused: {e}"))?;
    let (_, statement) = b
        .dsse
        .as_ref()
        .ok_or("a cosign image bundle must carry a DSSE envelope")?;
    let predicate = serde_json::from_slice::<serde_json::Value>(statement)
        .ok()
        .and_then(|s| s["predicateType"].as_str().map(str::to_owned))
        .unwrap_or_default();
    if predicate != hangar_signature::COSIGN_SIGN_PREDICATE {
        return Err(format!(
            "predicateType {predicate:?} is not an image signature ({})",
            hangar_signature::COSIGN_SIGN_PREDICATE
        ));
    }
    let cert = b.certificate.ok_or("no certificate")?;
    if !v.accept_unnamed_signatures {
        return Err(format!(
            "valid keyless signature by {:?}, but a bundle names no repository to check against the identity rule; accept such signatures with --accept-unnamed-signatures",
            cert.sans
        ));
    }
    Ok(Accepted {
        identity: None,
        format: SignatureFormat::Bundle,
        key_fingerprint: cert.key.fingerprint().to_owned(),
        key_algorithm: cert.key.algorithm(),
        tlog: Some(crate::TlogSummary::of(&b.log_entry)),
        payload: Some(String::from_utf8_lossy(statement).into_owned()),
        certificate: Some(crate::CertificateSummary {
            sans: cert.sans,
            issuer: cert.issuer,
            github: cert.github,
            ca: cert.ca,
            timestamps: b.timestamps.clone(),
        }),
    })
}
