//! Validates the sigstore signatures of one container image in a registry, with
//! containers/image's `sigstoreSigned` semantics: the pipeline behind
//! `hangar sign validate`, callable for one image from any Rust program.
//!
//! For an index or manifest list every platform image that passes the [`PlatformFilter`] is
//! validated by its digest reference (the index's own signature is never consulted); a
//! single manifest is validated by the reference as written. Each platform image needs one
//! signature that a trusted key made over a payload naming its digest and an acceptable
//! identity, found in its `sha256-<hex>.sig` attachment; failing that, a cosign v3 Sigstore
//! bundle among its OCI 1.1 referrers is checked too (accepted only with
//! [`Validator::accept_unnamed_signatures`]: bundles name no repository). A
//! [`SignatureCache`] shared by the lines of a run fetches each signature once.
//!
//! ```no_run
//! // no_run: needs the recorded fixture registry on 127.0.0.1:5000.
//! use hangar_policy::SignedIdentity;
//! use hangar_reference::Reference;
//! use hangar_registry::{Client, Config, Deadline, TlsVerify};
//! use hangar_signature::PublicKey;
//! use hangar_validate::{PlatformFilter, Validator, Verdict};
//!
//! let client = Client::new(Config { tls_verify: TlsVerify::Skip, ..Config::default() })?;
//! let keys = [PublicKey::from_pem(&std::fs::read("lab.pub")?)?];
//! let (identity, platforms) = (SignedIdentity::MatchRepoDigestOrExact, PlatformFilter::default());
//! let validator = Validator::new(&client, &keys, &identity, &platforms);
//! let image = Reference::parse_normalized("127.0.0.1:5000/fixtures/multi:v1")?;
//! let result = validator.validate(&image, Deadline::none());
//! assert_eq!(result.verdict, Verdict::Passed, "{:?}", result.reason);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod bundle;
mod cache;
mod platform;

use hangar_policy::SignedIdentity;
use hangar_reference::{Digest, Reference};
use hangar_registry::{Client, Deadline, Error as RegistryError, media_type};
use hangar_signature::{PublicKey, SIGNATURE_ANNOTATION, SIMPLE_SIGNING_MEDIA_TYPE, verify};

pub use bundle::MAX_BUNDLES;
pub use cache::{CACHE_BYTE_LIMIT, CACHED_PAYLOAD_LIMIT, SignatureCache};
pub use platform::{Platform, PlatformError, PlatformFilter};

/// The largest signature payload read (containers/image's limit).
pub const SIGNATURE_SIZE_LIMIT: u64 = 4 << 20;
/// The largest image config read to learn a single manifest's platform.
pub const CONFIG_SIZE_LIMIT: u64 = 4 << 20;

/// containers/image's text when a platform image has no signature at all.
pub const NO_SIGNATURE: &str = "A signature was required, but no signature exists";
/// The skip reason when no platform image passes the filter.
pub const NO_PLATFORM: &str = "no available image for specified arch and os";

/// How one image (a list line) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Every selected platform image has an accepted signature.
    Passed,
    /// Something is unsigned, badly signed, or could not be checked.
    Failed,
    /// No platform image passed the filter: nothing to validate.
    Skipped,
}

/// How an accepted signature was stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignatureFormat {
    /// A cosign simple-signing layer in the `sha256-<hex>.sig` attachment (cosign ≤ 2,
    /// containers/image, Go hangar).
    SimpleSigning,
    /// A Sigstore bundle (DSSE + in-toto) attached as an OCI 1.1 referrer (cosign ≥ 3).
    Bundle,
}

impl SignatureFormat {
    /// `simple-signing` or `sigstore-bundle`.
    pub fn as_str(self) -> &'static str {
        match self {
            SignatureFormat::SimpleSigning => "simple-signing",
            SignatureFormat::Bundle => "sigstore-bundle",
        }
    }
}

/// A signature that was accepted for a platform image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The identity the signature claims (`docker-reference`, as written); `None` for a
    /// bundle, which names no repository and is accepted only with
    /// [`Validator::accept_unnamed_signatures`].
    pub identity: Option<String>,
    /// How the signature was stored.
    pub format: SignatureFormat,
    /// The fingerprint of the key that verified it.
    pub key_fingerprint: String,
    /// The type of the key that verified it (`ECDSA P-256`, `Ed25519`, `RSA 4096`, …).
    pub key_algorithm: String,
    /// For a keyless signature: what its certificate proves.
    pub certificate: Option<CertificateSummary>,
    /// The verified transparency-log entry, if the signature has one the trust knows.
    pub tlog: Option<TlogSummary>,
    /// The signed payload (the simple-signing document or the in-toto statement), as text.
    pub payload: Option<String>,
}

/// What a keyless signature's Fulcio certificate proves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateSummary {
    /// Subject alternative names (email, URI, …).
    pub sans: Vec<String>,
    /// The OIDC issuer.
    pub issuer: Option<String>,
    /// GitHub workflow claims.
    pub github: hangar_sigstore::GithubClaims,
    /// The CA that issued it.
    pub ca: String,
    /// The verified RFC 3161 timestamps (each a signing time the certificate was checked at).
    pub timestamps: Vec<hangar_sigstore::Timestamp>,
}

/// A verified transparency-log entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlogSummary {
    /// Index in the log.
    pub log_index: i64,
    /// Integrated time (Unix seconds).
    pub integrated_time: i64,
    /// The log (its name in the trust material).
    pub log: String,
    /// Where the signing time came from: `tlog` (the entry's integrated time), `tsa` (an
    /// RFC 3161 timestamp), or `tlog+tsa` (both, each checked).
    pub time_source: &'static str,
}

impl TlogSummary {
    fn of(e: &hangar_sigstore::LogEntry) -> TlogSummary {
        TlogSummary {
            log_index: e.log_index,
            integrated_time: e.integrated_time,
            log: e.log_name.clone(),
            time_source: "tlog",
        }
    }
}

/// Sigstore trust: for keyless signatures (certificates) and for transparency-log entries of
/// key-signed ones.
#[derive(Debug, Clone, Copy)]
pub struct SigstoreTrust<'a> {
    /// CAs, Rekor and CT log keys.
    pub root: &'a hangar_sigstore::TrustedRoot,
    /// Who may sign keylessly; `None`: certificates are not trusted at all.
    pub keyless: Option<&'a hangar_sigstore::KeylessPolicy>,
    /// A key-signed signature also needs a verified tlog entry (`-k` without
    /// `--insecure-ignore-tlog`); otherwise an entry present is verified when its log is known.
    pub require_tlog: bool,
    /// Verified certificate paths shared by the run.
    pub chains: Option<&'a hangar_sigstore::ChainCache>,
}

/// cosign's annotation with the signing certificate (PEM).
pub const CERTIFICATE_ANNOTATION: &str = "dev.sigstore.cosign/certificate";
/// cosign's annotation with the certificate's chain (intermediates, then the root).
pub const CHAIN_ANNOTATION: &str = "dev.sigstore.cosign/chain";
/// cosign's annotation with an RFC 3161 timestamp of the signature.
pub const TIMESTAMP_ANNOTATION: &str = "dev.sigstore.cosign/rfc3161timestamp";
/// cosign's annotation with the Rekor entry and its SET.
pub const BUNDLE_ANNOTATION: &str = "dev.sigstore.cosign/bundle";

/// What kind of failure a rejection is: for reports that tell "nobody signed this" from
/// "a signature is wrong" from "we could not check".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum RejectionKind {
    /// No signature at all.
    Unsigned,
    /// Signatures exist, but none is acceptable (wrong key, digest, identity, format).
    Invalid,
    /// The registry could not be read (network, HTTP status, limits, digests of transport).
    Error,
}

impl RejectionKind {
    /// `unsigned`, `invalid` or `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectionKind::Unsigned => "unsigned",
            RejectionKind::Invalid => "invalid",
            RejectionKind::Error => "error",
        }
    }
}

/// Why a platform image has no acceptable signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The kind of failure.
    pub kind: RejectionKind,
    /// containers/image's message.
    pub reason: String,
}

impl Rejection {
    fn new(kind: RejectionKind, reason: impl Into<String>) -> Rejection {
        Rejection {
            kind,
            reason: reason.into(),
        }
    }
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)
    }
}

/// The result for one platform image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformResult {
    /// `os/arch[/variant]`.
    pub platform: Platform,
    /// The reference validated (a digest reference for index entries).
    pub reference: Reference,
    /// The platform manifest's digest.
    pub digest: Digest,
    /// The platform manifest's media type.
    pub media_type: String,
    /// The accepted signature, or why none was.
    pub outcome: Result<Accepted, Rejection>,
}

/// The result for one image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageResult {
    /// Passed, failed or skipped.
    pub verdict: Verdict,
    /// Why it failed or was skipped; `None` when it passed.
    pub reason: Option<String>,
    /// Every platform image that was validated.
    pub platforms: Vec<PlatformResult>,
}

impl ImageResult {
    fn failed(reason: String) -> ImageResult {
        ImageResult {
            verdict: Verdict::Failed,
            reason: Some(reason),
            platforms: Vec::new(),
        }
    }
}

/// Everything validation needs, borrowed: build it once and share it across threads.
#[derive(Debug, Clone, Copy)]
pub struct Validator<'a> {
    /// The registry client.
    pub client: &'a Client,
    /// Trusted keys: any of them may verify a signature.
    pub keys: &'a [PublicKey],
    /// How a signature's identity must match the image.
    pub identity: &'a SignedIdentity,
    /// Which platforms of an index to validate.
    pub platforms: &'a PlatformFilter,
    /// Also require an accepted signature on an index's own digest (containers/image never
    /// checks it; `--validate-manifest-index`).
    pub require_index_signature: bool,
    /// Accept a valid cosign v3 bundle signature, which names the image by digest only and
    /// so cannot be checked against `identity` (`--accept-unnamed-signatures`). Without it
    /// such a signature is found and reported, never accepted.
    pub accept_unnamed_signatures: bool,
    /// Signature material already fetched by other lines of the run; `None` fetches
    /// everything every time.
    pub cache: Option<&'a SignatureCache>,
    /// Sigstore trust (keyless signatures, tlog entries); `None`: keys only, entries ignored.
    pub sigstore: Option<SigstoreTrust<'a>>,
}

#[derive(serde::Deserialize)]
struct IndexJson {
    manifests: Vec<DescriptorJson>,
}

#[derive(serde::Deserialize)]
struct DescriptorJson {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    digest: String,
    #[serde(default)]
    platform: Option<PlatformJson>,
}

#[derive(serde::Deserialize)]
struct PlatformJson {
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    os: String,
    #[serde(default)]
    variant: Option<String>,
    #[serde(default, rename = "os.version")]
    os_version: Option<String>,
}

/// One platform image selected by the filter: what validation checks and signing signs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `os/arch[/variant]`.
    pub platform: Platform,
    /// The identity to check or sign: `REPO@<digest>` for index entries, the reference as
    /// written for a single manifest.
    pub reference: Reference,
    /// The repository the image (and its signatures) live in.
    pub repository: Reference,
    /// The platform manifest's digest.
    pub digest: Digest,
    /// The platform manifest's media type.
    pub media_type: String,
}

/// Fetches `image` and lists the platform images `filter` selects: every passing entry of an
/// index or manifest list, or the single manifest itself (its platform read from its
/// config). An empty list means nothing passed the filter. Schema 1 is refused.
pub fn resolve(
    client: &Client,
    image: &Reference,
    filter: &PlatformFilter,
    deadline: Deadline,
) -> Result<Vec<Target>, String> {
    resolve_all(client, image, filter, deadline).map(|r| r.targets)
}

/// The entries of an image index or manifest list (its raw bytes) that `filter` selects:
/// platform and digest, in index order. Entries without a platform are not images and are
/// passed over; a selected entry with a bad digest or a schema-1 media type fails the whole
/// index (fail closed).
pub fn index_entries(
    bytes: &[u8],
    filter: &PlatformFilter,
) -> Result<Vec<(Platform, Digest)>, String> {
    index_entries_typed(bytes, filter).map(|v| v.into_iter().map(|(p, d, _)| (p, d)).collect())
}

/// [`index_entries`] with each entry's media type.
fn index_entries_typed(
    bytes: &[u8],
    filter: &PlatformFilter,
) -> Result<Vec<(Platform, Digest, String)>, String> {
    // oci-spec would refuse a whole index over one odd entry; entries are judged one by one.
    let index: IndexJson =
        serde_json::from_slice(bytes).map_err(|e| format!("invalid manifest list: {e}"))?;
    let mut out = Vec::new();
    for entry in &index.manifests {
        let Some(p) = &entry.platform else { continue };
        let platform = Platform::new(&p.os, &p.architecture, p.variant.as_deref())
            .with_os_version(p.os_version.as_deref());
        if !filter.matches(&platform) {
            continue;
        }
        let digest = entry.digest.parse::<Digest>().map_err(|e| {
            format!(
                "manifest list entry {platform} has invalid digest {:?}: {e}",
                entry.digest
            )
        })?;
        if entry.media_type == media_type::DOCKER_SCHEMA1
            || entry.media_type == media_type::DOCKER_SCHEMA1_SIGNED
        {
            return Err(format!(
                "{platform}: unsupported to sign for deprecated image MIME type {:?}",
                entry.media_type
            ));
        }
        out.push((platform, digest, entry.media_type.clone()));
    }
    Ok(out)
}

/// What [`resolve_all`] found: the selected platform images, and the index's own digest when
/// the reference names an index or manifest list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// Selected platform images.
    pub targets: Vec<Target>,
    /// The digest of the index, if the reference names one.
    pub index: Option<Digest>,
    /// The index's media type, if the reference names one.
    pub index_media_type: Option<String>,
}

/// [`resolve`], also reporting the index digest.
pub fn resolve_all(
    client: &Client,
    image: &Reference,
    filter: &PlatformFilter,
    deadline: Deadline,
) -> Result<Resolved, String> {
    // `name:tag@digest` names the digest; the tag is only informational.
    let image = match image.digest() {
        Some(d) if image.tag().is_some() => image.with_digest(d.clone()),
        _ => image.clone(),
    };
    let manifest = client
        .get_manifest(&image, deadline)
        .map_err(|e| format!("fetching manifest: {e}"))?;
    let repository = image.repository();
    match manifest.media_type.as_str() {
        media_type::OCI_INDEX | media_type::DOCKER_LIST => {
            let targets = index_entries_typed(&manifest.bytes, filter)?
                .into_iter()
                .map(|(platform, digest, media_type)| Target {
                    platform,
                    reference: image.with_digest(digest.clone()),
                    repository: repository.clone(),
                    digest,
                    media_type,
                })
                .collect();
            Ok(Resolved {
                targets,
                index: Some(manifest.digest),
                index_media_type: Some(manifest.media_type.clone()),
            })
        }
        media_type::OCI_MANIFEST | media_type::DOCKER_MANIFEST => {
            let m = oci_spec::image::ImageManifest::from_reader(manifest.bytes.as_slice())
                .map_err(|e| format!("invalid image manifest: {e}"))?;
            let config_digest = m
                .config()
                .digest()
                .to_string()
                .parse::<Digest>()
                .map_err(|e| format!("invalid config digest: {e}"))?;
            let config = client
                .get_blob(&repository, &config_digest, CONFIG_SIZE_LIMIT, deadline)
                .map_err(|e| format!("fetching image config: {e}"))?;
            let p: PlatformJson = serde_json::from_slice(&config)
                .map_err(|e| format!("invalid image config: {e}"))?;
            let platform = Platform::new(&p.os, &p.architecture, p.variant.as_deref())
                .with_os_version(p.os_version.as_deref());
            if !filter.matches(&platform) {
                return Ok(Resolved {
                    targets: Vec::new(),
                    index: None,
                    index_media_type: None,
                });
            }
            Ok(Resolved {
                index: None,
                index_media_type: None,
                targets: vec![Target {
                    media_type: manifest.media_type.clone(),
                    platform,
                    reference: image,
                    repository,
                    digest: manifest.digest,
                }],
            })
        }
        mt @ (media_type::DOCKER_SCHEMA1 | media_type::DOCKER_SCHEMA1_SIGNED) => Err(format!(
            "unsupported to sign for deprecated image MIME type {mt:?}"
        )),
        mt => Err(format!("unsupported manifest MIME type {mt:?}")),
    }
}

impl<'a> Validator<'a> {
    /// A validator over a shared client, trusted keys, an identity rule and a platform filter.
    pub fn new(
        client: &'a Client,
        keys: &'a [PublicKey],
        identity: &'a SignedIdentity,
        platforms: &'a PlatformFilter,
    ) -> Self {
        Validator {
            client,
            keys,
            identity,
            platforms,
            require_index_signature: false,
            accept_unnamed_signatures: false,
            cache: None,
            sigstore: None,
        }
    }

    /// Validates `image` (tag or digest reference) within `deadline`.
    pub fn validate(&self, image: &Reference, deadline: Deadline) -> ImageResult {
        let resolved = match resolve_all(self.client, image, self.platforms, deadline) {
            Ok(r) => r,
            Err(reason) => return ImageResult::failed(reason),
        };
        let mut platforms: Vec<PlatformResult> = resolved
            .targets
            .into_iter()
            .map(|t| {
                let outcome =
                    self.validate_platform(&t.repository, &t.digest, &t.reference, deadline);
                PlatformResult {
                    platform: t.platform,
                    reference: t.reference,
                    digest: t.digest,
                    media_type: t.media_type,
                    outcome,
                }
            })
            .collect();
        if let (true, Some(index), false) = (
            self.require_index_signature,
            resolved.index,
            platforms.is_empty(),
        ) {
            // The index is signed under the reference it was named by (its tag).
            let outcome = self.validate_platform(&image.repository(), &index, image, deadline);
            platforms.push(PlatformResult {
                media_type: resolved.index_media_type.clone().unwrap_or_default(),
                platform: Platform::new("index", "*", None),
                reference: image.with_digest(index.clone()),
                digest: index,
                outcome,
            });
        }
        summarize(image, platforms)
    }

    /// Looks for one acceptable signature of `digest` in `repository`, for `intended`: in
    /// the `.sig` attachment first, then (only if that gave none) among the referrers.
    fn validate_platform(
        &self,
        repository: &Reference,
        digest: &Digest,
        intended: &Reference,
        deadline: Deadline,
    ) -> Result<Accepted, Rejection> {
        let simple = self.simple_signing(repository, digest, intended, deadline);
        let Err(simple) = simple else { return simple };
        if simple.kind == RejectionKind::Error {
            return Err(simple);
        }
        let bundles = match bundle::check_referrers(self, repository, digest, deadline) {
            Ok(a) => return Ok(a),
            Err(r) => r,
        };
        Err(combine(
            [simple, bundles]
                .into_iter()
                .filter(|r| r.kind != RejectionKind::Unsigned)
                .collect(),
        ))
    }

    /// The `.sig` attachment manifest of `digest` (`None`: there is none), from the cache
    /// when another line fetched it.
    fn attachment(
        &self,
        repository: &Reference,
        digest: &Digest,
        sig_ref: &Reference,
        deadline: Deadline,
    ) -> Result<Option<std::sync::Arc<hangar_registry::Manifest>>, RegistryError> {
        let repo = repository.to_string();
        if let Some(found) = self.cache.and_then(|c| c.attachment(&repo, digest)) {
            return Ok(found);
        }
        let fetched = match self.client.get_manifest(sig_ref, deadline) {
            Ok(m) => Some(std::sync::Arc::new(m)),
            Err(RegistryError::NotFound { .. }) => None,
            Err(e) => return Err(e),
        };
        if let Some(c) = self.cache {
            c.keep_attachment(&repo, digest, fetched.clone());
        }
        Ok(fetched)
    }

    /// A signature payload blob, from the cache when another line fetched it.
    fn payload(
        &self,
        repository: &Reference,
        blob: &Digest,
        deadline: Deadline,
    ) -> Result<std::sync::Arc<Vec<u8>>, RegistryError> {
        let repo = repository.to_string();
        if let Some(found) = self.cache.and_then(|c| c.payload(&repo, blob)) {
            return Ok(found);
        }
        let bytes = std::sync::Arc::new(self.client.get_blob(
            repository,
            blob,
            SIGNATURE_SIZE_LIMIT,
            deadline,
        )?);
        if let Some(c) = self.cache {
            c.keep_payload(&repo, blob, std::sync::Arc::clone(&bytes));
        }
        Ok(bytes)
    }

    /// Looks for one acceptable simple-signing signature in the `.sig` attachment.
    fn simple_signing(
        &self,
        repository: &Reference,
        digest: &Digest,
        intended: &Reference,
        deadline: Deadline,
    ) -> Result<Accepted, Rejection> {
        use RejectionKind::{Error, Invalid, Unsigned};
        let tag = digest.signature_tag();
        let sig_ref = repository
            .with_tag(&tag)
            .map_err(|e| Rejection::new(Error, e.to_string()))?;
        let sig_manifest = match self.attachment(repository, digest, &sig_ref, deadline) {
            Ok(Some(m)) => m,
            Ok(None) => return Err(Rejection::new(Unsigned, NO_SIGNATURE)),
            Err(e) => return Err(Rejection::new(Error, format!("fetching signatures: {e}"))),
        };
        if sig_manifest.media_type != media_type::OCI_MANIFEST {
            let reason = format!(
                "unexpected MIME type for sigstore attachment manifest {tag}: {:?}",
                sig_manifest.media_type
            );
            return Err(Rejection::new(Invalid, reason));
        }
        let attachment = oci_spec::image::ImageManifest::from_reader(sig_manifest.bytes.as_slice())
            .map_err(|e| {
                Rejection::new(
                    Invalid,
                    format!("invalid sigstore attachment manifest {tag}: {e}"),
                )
            })?;
        let mut rejections = Vec::new();
        for layer in attachment.layers() {
            if layer.media_type().to_string() != SIMPLE_SIGNING_MEDIA_TYPE {
                continue;
            }
            match self.check_signature(repository, layer, digest, intended, deadline) {
                Ok(a) => return Ok(a),
                Err(r) => rejections.push(r),
            }
        }
        Err(combine(rejections))
    }

    fn check_signature(
        &self,
        repository: &Reference,
        layer: &oci_spec::image::Descriptor,
        digest: &Digest,
        intended: &Reference,
        deadline: Deadline,
    ) -> Result<Accepted, Rejection> {
        use RejectionKind::{Error, Invalid};
        let annotation = layer
            .annotations()
            .as_ref()
            .and_then(|a| a.get(SIGNATURE_ANNOTATION));
        // containers/image's order: a layer without the annotation is refused before its
        // payload is even fetched.
        if annotation.is_none() {
            return Err(Rejection::new(
                Invalid,
                hangar_signature::SignatureError::MissingAnnotation.to_string(),
            ));
        }
        if layer.size() > SIGNATURE_SIZE_LIMIT {
            let reason = format!(
                "signature payload of {} bytes exceeds the {SIGNATURE_SIZE_LIMIT}-byte limit",
                layer.size()
            );
            return Err(Rejection::new(Invalid, reason));
        }
        let blob_digest =
            layer.digest().to_string().parse::<Digest>().map_err(|e| {
                Rejection::new(Invalid, format!("invalid signature layer digest: {e}"))
            })?;
        let payload = self
            .payload(repository, &blob_digest, deadline)
            .map_err(|e| Rejection::new(Error, format!("fetching signature payload: {e}")))?;
        let annotations = layer.annotations().as_ref();
        let get = |k: &str| annotations.and_then(|a| a.get(k)).map(String::as_str);
        let (verified, certificate, tlog) = match (get(CERTIFICATE_ANNOTATION), self.sigstore) {
            (Some(cert), Some(trust)) if trust.keyless.is_some() => {
                let material = hangar_sigstore::CosignSignature {
                    payload: &payload,
                    signature: &decode_signature(annotation)?,
                    certificate_pem: cert,
                    bundle: get(BUNDLE_ANNOTATION),
                    chain_pem: get(CHAIN_ANNOTATION),
                    rfc3161_timestamp: get(TIMESTAMP_ANNOTATION),
                };
                self.keyless(&trust, &material)?
            }
            _ => {
                let verified = verify(self.keys, &payload, annotation.map(String::as_str))
                    .map_err(|e| Rejection::new(Invalid, e.to_string()))?;
                let tlog =
                    self.key_tlog(&payload, annotation, &verified, get(BUNDLE_ANNOTATION))?;
                (verified, None, tlog)
            }
        };
        let claimed = verified.payload();
        if claimed.docker_manifest_digest != *digest {
            return Err(Rejection::new(
                Invalid,
                format!(
                    "Signature for digest {} does not match",
                    claimed.docker_manifest_digest
                ),
            ));
        }
        if !self.identity.matches(intended, &claimed.docker_reference) {
            return Err(Rejection::new(
                Invalid,
                format!(
                    "Signature for identity {} is not accepted{}",
                    claimed.docker_reference,
                    cosign_hint(self.identity, intended, &claimed.docker_reference)
                ),
            ));
        }
        Ok(Accepted {
            identity: Some(claimed.docker_reference.clone()),
            format: SignatureFormat::SimpleSigning,
            key_fingerprint: verified.key_fingerprint().to_owned(),
            key_algorithm: verified.key_algorithm().to_owned(),
            certificate,
            tlog,
            payload: Some(String::from_utf8_lossy(&payload).into_owned()),
        })
    }

    /// A keyless layer: the certificate, its chain, SCT and tlog entry, the identity rules
    /// (hangar-sigstore), then the payload parsed strictly under the certificate's key.
    fn keyless(
        &self,
        trust: &SigstoreTrust<'_>,
        material: &hangar_sigstore::CosignSignature<'_>,
    ) -> Result<Verified, Rejection> {
        use RejectionKind::Invalid;
        let policy = trust
            .keyless
            .ok_or_else(|| Rejection::new(Invalid, "keyless signatures are not trusted here"))?;
        let v = hangar_sigstore::verify_cosign(trust.root, policy, material, trust.chains)
            .map_err(|e| Rejection::new(Invalid, format!("keyless signature refused: {e}")))?;
        let verified = v
            .signature
            .ok_or_else(|| Rejection::new(Invalid, "keyless signature without a payload"))?;
        let tlog = v.log_entry.as_ref().map(TlogSummary::of);
        let time_source = match (&tlog, v.timestamps.is_empty()) {
            (Some(_), true) => "tlog",
            (Some(_), false) => "tlog+tsa",
            (None, false) => "tsa",
            (None, true) => "none",
        };
        let tlog = tlog.map(|t| TlogSummary { time_source, ..t });
        let summary = CertificateSummary {
            sans: v.sans,
            issuer: v.issuer,
            github: v.github,
            ca: v.ca,
            timestamps: v.timestamps,
        };
        Ok((verified, Some(summary), tlog))
    }

    /// The tlog entry of a key-signed layer: verified when the trust knows its log (or
    /// always, when an entry is required); a failure refuses the signature.
    fn key_tlog(
        &self,
        payload: &[u8],
        annotation: Option<&String>,
        verified: &hangar_signature::VerifiedSignature,
        bundle: Option<&str>,
    ) -> Result<Option<TlogSummary>, Rejection> {
        use RejectionKind::Invalid;
        let Some(trust) = self.sigstore else {
            return Ok(None);
        };
        let Some(bundle) = bundle else {
            return if trust.require_tlog {
                Err(Rejection::new(
                    Invalid,
                    "no transparency log entry: the signature has no dev.sigstore.cosign/bundle (use --insecure-ignore-tlog to accept signatures without one)",
                ))
            } else {
                Ok(None)
            };
        };
        let key = self
            .keys
            .iter()
            .find(|k| k.fingerprint() == verified.key_fingerprint())
            .ok_or_else(|| {
                Rejection::new(Invalid, "the verifying key is not among the trusted keys")
            })?;
        let raw = decode_signature(annotation)?;
        match hangar_sigstore::verify_key_tlog(trust.root, bundle, payload, &raw, key.spki_der()) {
            Ok(e) => Ok(Some(TlogSummary::of(&e))),
            Err(hangar_sigstore::KeylessError::UnknownLog(_)) if !trust.require_tlog => {
                // v1.8's meaning of -p: an entry from a log we were not told about is ignored.
                Ok(None)
            }
            Err(e) => Err(Rejection::new(Invalid, format!("signature refused: {e}"))),
        }
    }
}

/// When matchRepoDigestOrExact refuses a tag reference because the signature names this
/// very repository without a tag — how cosign and hangar v1.9 write it — say so, and which
/// rule accepts it.
fn cosign_hint(identity: &SignedIdentity, intended: &Reference, claimed: &str) -> &'static str {
    let cosign_made = matches!(identity, SignedIdentity::MatchRepoDigestOrExact)
        && intended.tag().is_some()
        && Reference::parse_normalized(claimed).is_ok_and(|c| {
            c.tag().is_none() && c.digest().is_none() && c.name() == intended.name()
        });
    if cosign_made {
        " (it names the repository without a tag, as cosign and hangar v1.9 sign: accept such signatures with -k/--key, --exact-repository REPOSITORY, or a policy with matchRepository)"
    } else {
        ""
    }
}

/// A verified signature, with what its certificate and tlog entry proved.
type Verified = (
    hangar_signature::VerifiedSignature,
    Option<CertificateSummary>,
    Option<TlogSummary>,
);

fn decode_signature(annotation: Option<&String>) -> Result<Vec<u8>, Rejection> {
    use base64::Engine as _;
    let b64 = annotation.ok_or_else(|| {
        Rejection::new(
            RejectionKind::Invalid,
            hangar_signature::SignatureError::MissingAnnotation.to_string(),
        )
    })?;
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|e| {
            Rejection::new(
                RejectionKind::Invalid,
                hangar_signature::SignatureError::Base64(e.to_string()).to_string(),
            )
        })
}

/// One rejection from several: none is "unsigned"; one is itself; more are listed, the
/// most serious kind winning.
fn combine(mut rejections: Vec<Rejection>) -> Rejection {
    use RejectionKind::{Invalid, Unsigned};
    match rejections.len() {
        0 => Rejection::new(Unsigned, NO_SIGNATURE),
        1 => rejections.remove(0),
        _ => {
            let kind = rejections.iter().map(|r| r.kind).max().unwrap_or(Invalid);
            // Identical reasons are told once with a count: a hostile attachment with
            // thousands of layers must not produce a megabyte of log.
            let mut counted: Vec<(&str, usize)> = Vec::new();
            for r in &rejections {
                match counted.iter_mut().find(|(text, _)| *text == r.reason) {
                    Some((_, n)) => *n += 1,
                    None => counted.push((&r.reason, 1)),
                }
            }
            let reasons: Vec<String> = counted
                .iter()
                .map(|(t, n)| {
                    if *n == 1 {
                        (*t).to_owned()
                    } else {
                        format!("{t} ({n} times)")
                    }
                })
                .collect();
            Rejection::new(
                kind,
                format!(
                    "None of the signatures were accepted, reasons: {}",
                    reasons.join("; ")
                ),
            )
        }
    }
}

/// Folds platform results into the image's verdict and reason; a platform image validated
/// under another reference than `image` (an index entry) is named in its reason.
fn summarize(image: &Reference, platforms: Vec<PlatformResult>) -> ImageResult {
    if platforms.is_empty() {
        return ImageResult {
            verdict: Verdict::Skipped,
            reason: Some(NO_PLATFORM.to_owned()),
            platforms,
        };
    }
    let failures: Vec<String> = platforms
        .iter()
        .filter_map(|p| match &p.outcome {
            Ok(_) => None,
            Err(r) if p.reference != *image => {
                Some(format!("{} [{}]: {r}", p.platform, p.reference))
            }
            Err(r) => Some(r.reason.clone()),
        })
        .collect();
    ImageResult {
        verdict: if failures.is_empty() {
            Verdict::Passed
        } else {
            Verdict::Failed
        },
        reason: (!failures.is_empty()).then(|| failures.join("; ")),
        platforms,
    }
}
