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
    if !v.accept_unnamed_signatures {
        return Err(invalid(format!(
            "valid signature by key {}, but a bundle names no repository to check against the identity rule; accept such signatures with --accept-unnamed-signatures",
            &verified.key_fingerprint()[..12.min(verified.key_fingerprint().len())]
        )));
    }
    Ok(Accepted {
        certificate: None,
        tlog: None,
        identity: None,
        format: SignatureFormat::Bundle,
        key_fingerprint: verified.key_fingerprint().to_owned(),
        key_algorithm: verified.key_algorithm().to_owned(),
    })
}
