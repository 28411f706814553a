//! Puts images into a registry with plain HTTP requests (independent of the client under
//! test): small multi-platform OCI images, and repository copies the way a mirror makes
//! them (every tag, signatures included, byte for byte).

use sha2::{Digest as _, Sha256};

use crate::http_request;

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const ACCEPT_ALL: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json";

fn digest(bytes: &[u8]) -> String {
    let h = Sha256::digest(bytes);
    format!(
        "sha256:{}",
        h.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

/// Uploads a blob (monolithic); returns its digest.
pub fn push_blob(addr: &str, repo: &str, bytes: &[u8]) -> Result<String, String> {
    let d = digest(bytes);
    let start = http_request(
        addr,
        "POST",
        &format!("/v2/{repo}/blobs/uploads/"),
        &[],
        &[],
    )
    .ok_or("upload start failed")?;
    if start.status != 202 {
        return Err(format!("upload start: HTTP {}", start.status));
    }
    let loc = start.header("location").ok_or("no Location")?;
    let path = loc
        .split_once("://")
        .map_or(loc, |(_, rest)| rest.find('/').map_or(rest, |i| &rest[i..]));
    let sep = if path.contains('?') { '&' } else { '?' };
    let put = http_request(
        addr,
        "PUT",
        &format!("{path}{sep}digest={d}"),
        &[("Content-Type", "application/octet-stream")],
        bytes,
    )
    .ok_or("upload failed")?;
    if put.status != 201 {
        return Err(format!("upload: HTTP {}", put.status));
    }
    Ok(d)
}

/// Stores a manifest under `reference` (tag or digest); returns its digest.
pub fn push_manifest(
    addr: &str,
    repo: &str,
    reference: &str,
    media_type: &str,
    bytes: &[u8],
) -> Result<String, String> {
    let put = http_request(
        addr,
        "PUT",
        &format!("/v2/{repo}/manifests/{reference}"),
        &[("Content-Type", media_type)],
        bytes,
    )
    .ok_or("manifest PUT failed")?;
    if put.status != 201 {
        return Err(format!(
            "manifest PUT {repo}:{reference}: HTTP {}: {}",
            put.status,
            String::from_utf8_lossy(&put.body)
        ));
    }
    Ok(digest(bytes))
}

/// Stores an OCI image manifest under its own digest; returns the digest and its length.
fn push_by_digest(addr: &str, repo: &str, manifest: &str) -> Result<(String, usize), String> {
    let d = push_manifest(
        addr,
        repo,
        &digest(manifest.as_bytes()),
        OCI_MANIFEST,
        manifest.as_bytes(),
    )?;
    Ok((d, manifest.len()))
}

/// Pushes one tiny OCI image manifest (its layer and config too) by digest; returns its
/// digest and the manifest's length.
fn push_platform_image(
    addr: &str,
    repo: &str,
    (os, arch, variant): (&str, &str, Option<&str>),
    salt: &str,
) -> Result<(String, usize), String> {
    let layer_bytes = format!("layer of {repo} {os}/{arch} {salt}");
    let layer = push_blob(addr, repo, layer_bytes.as_bytes())?;
    let variant_json = variant
        .map(|v| format!(r#","variant":"{v}""#))
        .unwrap_or_default();
    let config = format!(
        r#"{{"architecture":"{arch}","os":"{os}"{variant_json},"rootfs":{{"type":"layers","diff_ids":["{layer}"]}}}}"#
    );
    let config_digest = push_blob(addr, repo, config.as_bytes())?;
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config_digest}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{layer}","size":{}}}]}}"#,
        config.len(),
        layer_bytes.len()
    );
    push_by_digest(addr, repo, &manifest)
}

/// Pushes a tiny single-platform (linux/amd64) OCI image as `repo:tag`; `salt` makes its
/// digest unique. Returns the manifest digest.
pub fn push_image(addr: &str, repo: &str, tag: &str, salt: &str) -> Result<String, String> {
    let (d, _) = push_platform_image(addr, repo, ("linux", "amd64", None), salt)?;
    let (media_type, bytes) = get_manifest(addr, repo, &d)?;
    push_manifest(addr, repo, tag, &media_type, &bytes)
}

/// Pushes a tiny OCI image index `repo:tag` with one image per `(os, arch, variant)`;
/// `salt` makes the content (and digests) unique. Returns the index digest.
pub fn push_multiarch(
    addr: &str,
    repo: &str,
    tag: &str,
    platforms: &[(&str, &str, Option<&str>)],
    salt: &str,
) -> Result<String, String> {
    let mut entries = Vec::new();
    for &(os, arch, variant) in platforms {
        let (d, size) =
            push_platform_image(addr, repo, (os, arch, variant), &format!("{tag} {salt}"))?;
        let variant_json = variant
            .map(|v| format!(r#","variant":"{v}""#))
            .unwrap_or_default();
        entries.push(format!(
            r#"{{"mediaType":"{OCI_MANIFEST}","digest":"{d}","size":{size},"platform":{{"architecture":"{arch}","os":"{os}"{variant_json}}}}}"#
        ));
    }
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{}]}}"#,
        entries.join(",")
    );
    push_manifest(addr, repo, tag, OCI_INDEX, index.as_bytes())
}

/// The digests of the entries of the index `repo@index`.
pub fn index_digests(addr: &str, repo: &str, index: &str) -> Result<Vec<String>, String> {
    let (_, bytes) = get_manifest(addr, repo, index)?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
    Ok(v["manifests"]
        .as_array()
        .ok_or("not an index")?
        .iter()
        .filter_map(|m| m["digest"].as_str().map(str::to_owned))
        .collect())
}

/// Stores a cosign simple-signing attachment for `signed` (a manifest digest) at the tag
/// `sha256-<hex>.sig`, replacing any there: one layer holding `payload`, with `signature`
/// (base64, or `None` for no annotation) in its annotation. Returns the attachment digest.
pub fn push_simple_signing(
    addr: &str,
    repo: &str,
    signed: &str,
    payload: &[u8],
    signature: Option<&str>,
) -> Result<String, String> {
    let annotations: Vec<(&str, &str)> = signature
        .map(|s| ("dev.cosignproject.cosign/signature", s))
        .into_iter()
        .collect();
    push_simple_signing_with(addr, repo, signed, &[(payload, &annotations)])
}

/// One simple-signing layer: its payload and its annotations.
pub type SignatureLayer<'a> = (&'a [u8], &'a [(&'a str, &'a str)]);

/// [`push_simple_signing`] with one layer per `(payload, annotations)`: cosign's keyless
/// layers carry `dev.sigstore.cosign/certificate`, `…/chain` and `…/bundle` too.
pub fn push_simple_signing_with(
    addr: &str,
    repo: &str,
    signed: &str,
    layers: &[SignatureLayer<'_>],
) -> Result<String, String> {
    let config = br#"{"architecture":"","config":{},"created":"0001-01-01T00:00:00Z","history":[{"created":"0001-01-01T00:00:00Z"}],"os":"","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let config_digest = push_blob(addr, repo, config)?;
    let mut descriptors = Vec::new();
    for (payload, annotations) in layers {
        let layer = push_blob(addr, repo, payload)?;
        let annotations = if annotations.is_empty() {
            String::new()
        } else {
            let map: serde_json::Map<String, serde_json::Value> = annotations
                .iter()
                .map(|(k, v)| ((*k).to_owned(), serde_json::Value::from(*v)))
                .collect();
            format!(r#","annotations":{}"#, serde_json::Value::Object(map))
        };
        descriptors.push(format!(
            r#"{{"mediaType":"application/vnd.dev.cosign.simplesigning.v1+json","size":{},"digest":"{layer}"{annotations}}}"#,
            payload.len()
        ));
    }
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","size":{},"digest":"{config_digest}"}},"layers":[{}]}}"#,
        config.len(),
        descriptors.join(",")
    );
    let tag = format!("{}.sig", signed.replacen(':', "-", 1));
    push_manifest(addr, repo, &tag, OCI_MANIFEST, manifest.as_bytes())
}

fn get_manifest(addr: &str, repo: &str, reference: &str) -> Result<(String, Vec<u8>), String> {
    let r = http_request(
        addr,
        "GET",
        &format!("/v2/{repo}/manifests/{reference}"),
        &[("Accept", ACCEPT_ALL)],
        &[],
    )
    .ok_or("manifest GET failed")?;
    if r.status != 200 {
        return Err(format!("GET {repo}:{reference}: HTTP {}", r.status));
    }
    Ok((
        r.header("content-type").unwrap_or(OCI_MANIFEST).to_owned(),
        r.body,
    ))
}

/// Copies one manifest (and, for an index, its children) with every blob it names.
fn copy_manifest(addr: &str, from: &str, to: &str, reference: &str) -> Result<(), String> {
    let (media_type, bytes) = get_manifest(addr, from, reference)?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
    if let Some(children) = v["manifests"].as_array() {
        for c in children {
            copy_manifest(
                addr,
                from,
                to,
                c["digest"].as_str().ok_or("child without digest")?,
            )?;
        }
    }
    let blobs = v["layers"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(std::iter::once(&v["config"]));
    for b in blobs {
        if let Some(d) = b["digest"].as_str() {
            let r = http_request(
                addr,
                "POST",
                &format!("/v2/{to}/blobs/uploads/?mount={d}&from={from}"),
                &[],
                &[],
            )
            .ok_or("mount failed")?;
            if r.status != 201 {
                return Err(format!("mounting {d} into {to}: HTTP {}", r.status));
            }
        }
    }
    push_manifest(addr, to, reference, &media_type, &bytes).map(|_| ())
}

/// Copies every tag of `from` to `to` unchanged, signatures (`sha256-*.sig`) included: what
/// a mirror does.
pub fn copy_repository(addr: &str, from: &str, to: &str) -> Result<Vec<String>, String> {
    let r = http_request(addr, "GET", &format!("/v2/{from}/tags/list"), &[], &[])
        .ok_or("tags list failed")?;
    let v: serde_json::Value = serde_json::from_slice(&r.body).map_err(|e| e.to_string())?;
    let tags: Vec<String> = v["tags"]
        .as_array()
        .ok_or("no tags")?
        .iter()
        .filter_map(|t| t.as_str().map(str::to_owned))
        .collect();
    for t in &tags {
        copy_manifest(addr, from, to, t)?;
    }
    Ok(tags)
}

/// The media type of a Sigstore bundle v0.3, as cosign v3 stores it.
pub const BUNDLE_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";

/// Stores a cosign v3 signature the way cosign's bundle specification describes it: the
/// bundle as a blob, the empty config, and an OCI 1.1 manifest with `artifactType` the
/// bundle type and `subject` the signed manifest (pushed by digest). Returns the referring
/// manifest's digest and size.
pub fn push_bundle(
    addr: &str,
    repo: &str,
    subject: &str,
    bundle: &[u8],
) -> Result<(String, usize), String> {
    let (subject_type, subject_bytes) = get_manifest(addr, repo, subject)?;
    let empty = push_blob(addr, repo, b"{}")?;
    let layer = push_blob(addr, repo, bundle)?;
    let title = layer.replacen(':', "-", 1);
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","artifactType":"{BUNDLE_MEDIA_TYPE}","config":{{"mediaType":"application/vnd.oci.empty.v1+json","digest":"{empty}","size":2}},"layers":[{{"mediaType":"{BUNDLE_MEDIA_TYPE}","digest":"{layer}","size":{},"annotations":{{"org.opencontainers.image.title":"{title}.sigstore.json"}}}}],"subject":{{"mediaType":"{subject_type}","digest":"{subject}","size":{}}},"annotations":{{"dev.sigstore.bundle.content":"dsse-envelope","dev.sigstore.bundle.predicateType":"https://sigstore.dev/cosign/sign/v1"}}}}"#,
        bundle.len(),
        subject_bytes.len()
    );
    push_by_digest(addr, repo, &manifest)
}

/// The referrers index listing `referrers` (digest, size, artifactType), as the referrers
/// API or the fallback tag serves it.
pub fn referrers_index(referrers: &[(String, usize, String)]) -> String {
    let entries: Vec<String> = referrers
        .iter()
        .map(|(d, size, artifact_type)| {
            format!(
                r#"{{"mediaType":"{OCI_MANIFEST}","digest":"{d}","size":{size},"artifactType":"{artifact_type}"}}"#
            )
        })
        .collect();
    format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{}]}}"#,
        entries.join(",")
    )
}

/// Writes the referrers tag `sha256-<hex>` of `subject` (the OCI fallback for registries
/// without the referrers API, such as distribution 2.8) listing `referrers`.
pub fn push_referrers_tag(
    addr: &str,
    repo: &str,
    subject: &str,
    referrers: &[(String, usize, String)],
) -> Result<String, String> {
    let index = referrers_index(referrers);
    push_manifest(
        addr,
        repo,
        &subject.replacen(':', "-", 1),
        OCI_INDEX,
        index.as_bytes(),
    )
}

/// Pushes an OCI index as `docker buildx --provenance=true` makes one: linux/amd64 and
/// linux/arm64 images plus a SLSA provenance attestation manifest (platform
/// `unknown/unknown`, annotations `vnd.docker.reference.type: attestation-manifest` and
/// `vnd.docker.reference.digest`). Returns the index digest.
pub fn push_index_with_attestation(
    addr: &str,
    repo: &str,
    tag: &str,
    salt: &str,
) -> Result<String, String> {
    let mut entries = Vec::new();
    let mut first = None;
    for arch in ["amd64", "arm64"] {
        let (d, size) = push_platform_image(addr, repo, ("linux", arch, None), salt)?;
        first.get_or_insert_with(|| d.clone());
        entries.push(format!(
            r#"{{"mediaType":"{OCI_MANIFEST}","digest":"{d}","size":{size},"platform":{{"architecture":"{arch}","os":"linux"}}}}"#
        ));
    }
    let statement = format!(
        r#"{{"_type":"https://in-toto.io/Statement/v0.1","predicateType":"https://slsa.dev/provenance/v0.2","subject":[],"predicate":{{"builder":{{"id":"{salt}"}}}}}}"#
    );
    let layer = push_blob(addr, repo, statement.as_bytes())?;
    let config = push_blob(addr, repo, b"{}")?;
    let attestation = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config}","size":2}},"layers":[{{"mediaType":"application/vnd.in-toto+json","digest":"{layer}","size":{},"annotations":{{"in-toto.io/predicate-type":"https://slsa.dev/provenance/v0.2"}}}}]}}"#,
        statement.len()
    );
    let (att, att_size) = push_by_digest(addr, repo, &attestation)?;
    entries.push(format!(
        r#"{{"mediaType":"{OCI_MANIFEST}","digest":"{att}","size":{att_size},"annotations":{{"vnd.docker.reference.digest":"{}","vnd.docker.reference.type":"attestation-manifest"}},"platform":{{"architecture":"unknown","os":"unknown"}}}}"#,
        first.unwrap_or_default()
    ));
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{}]}}"#,
        entries.join(",")
    );
    push_manifest(addr, repo, tag, OCI_INDEX, index.as_bytes())
}

/// Pushes a Docker manifest list (schema 2) of linux/amd64 and linux/arm64 Docker v2 images
/// as `repo:tag`. Returns the list's digest.
pub fn push_docker_manifest_list(
    addr: &str,
    repo: &str,
    tag: &str,
    salt: &str,
) -> Result<String, String> {
    const DOCKER_V2: &str = "application/vnd.docker.distribution.manifest.v2+json";
    const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
    let mut entries = Vec::new();
    for arch in ["amd64", "arm64"] {
        let layer_bytes = format!("docker layer of {repo} {arch} {salt}");
        let layer = push_blob(addr, repo, layer_bytes.as_bytes())?;
        let config = format!(
            r#"{{"architecture":"{arch}","os":"linux","rootfs":{{"type":"layers","diff_ids":["{layer}"]}}}}"#
        );
        let config_digest = push_blob(addr, repo, config.as_bytes())?;
        let manifest = format!(
            r#"{{"schemaVersion":2,"mediaType":"{DOCKER_V2}","config":{{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"{config_digest}","size":{}}},"layers":[{{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","digest":"{layer}","size":{}}}]}}"#,
            config.len(),
            layer_bytes.len()
        );
        let d = digest(manifest.as_bytes());
        push_manifest(addr, repo, &d, DOCKER_V2, manifest.as_bytes())?;
        entries.push(format!(
            r#"{{"mediaType":"{DOCKER_V2}","digest":"{d}","size":{},"platform":{{"architecture":"{arch}","os":"linux"}}}}"#,
            manifest.len()
        ));
    }
    let list = format!(
        r#"{{"schemaVersion":2,"mediaType":"{DOCKER_LIST}","manifests":[{}]}}"#,
        entries.join(",")
    );
    push_manifest(addr, repo, tag, DOCKER_LIST, list.as_bytes())
}
