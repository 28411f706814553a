//! Signs container images in a registry the way containers/image (`skopeo copy
//! --sign-by-sigstore-private-key`, upstream `hangar sign`) does: one simple-signing layer per
//! platform image, appended to the OCI manifest tagged `sha256-<hex>.sig` in the image's
//! repository.
//!
//! Identities: an index entry is signed as `REPO@sha256:<platform digest>`, a single-platform
//! image as the reference it was named by (its tag), so `hangar sign validate` with
//! `matchRepoDigestOrExact` accepts both.
//!
//! ```no_run
//! // no_run: needs a registry on 127.0.0.1:5000 and a key file.
//! use hangar_reference::Reference;
//! use hangar_registry::{Client, Config, Deadline, TlsVerify};
//! use hangar_sign::Signer;
//! use hangar_signature::PrivateKey;
//! use hangar_validate::PlatformFilter;
//!
//! let client = Client::new(Config { tls_verify: TlsVerify::Skip, ..Config::default() })?;
//! let key = PrivateKey::from_encrypted_pem(&std::fs::read("sigstore.key")?, b"passphrase")?;
//! let platforms = PlatformFilter::default();
//! let signer = Signer::new(&client, &key, &platforms);
//! let image = Reference::parse_normalized("127.0.0.1:5000/library/app:v1")?;
//! let result = signer.sign(&image, Deadline::none());
//! println!("{:?}", result.reason);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use hangar_reference::{Digest, Reference};
use hangar_registry::{Client, Deadline, Error as RegistryError, media_type, sha256};
use hangar_signature::{
    PrivateKey, SIGNATURE_ANNOTATION, SIMPLE_SIGNING_MEDIA_TYPE, payload_bytes,
};
use hangar_validate::{Platform, PlatformFilter, Target, resolve_all};
use serde::{Deserialize, Serialize};

/// The config media type of a signature attachment manifest.
pub const OCI_CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";

/// How signing one image ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Every selected platform image carries our signature.
    Signed,
    /// At least one platform image could not be signed.
    Failed,
    /// No platform image passed the filter.
    Skipped,
}

/// What happened to one platform image's attachment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignOutcome {
    /// A layer was appended; the attachment now has this many.
    Appended {
        /// Layers in the attachment after the append.
        layers: usize,
    },
    /// An identical signature layer was already there.
    AlreadySigned,
}

/// The result for one platform image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformResult {
    /// `os/arch[/variant]`.
    pub platform: Platform,
    /// The identity signed.
    pub reference: Reference,
    /// The platform manifest's digest.
    pub digest: Digest,
    /// What happened, or why it failed.
    pub outcome: Result<SignOutcome, String>,
}

/// The result for one image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignResult {
    /// Signed, failed or skipped.
    pub verdict: Verdict,
    /// Why it failed or was skipped.
    pub reason: Option<String>,
    /// Every platform image handled.
    pub platforms: Vec<PlatformResult>,
}

#[derive(Serialize, Deserialize, Clone)]
struct Descriptor {
    #[serde(rename = "mediaType")]
    media_type: String,
    digest: String,
    size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    annotations: Option<BTreeMap<String, String>>,
    /// Fields we do not know are kept as they were.
    #[serde(flatten)]
    other: BTreeMap<String, serde_json::Value>,
}

#[derive(Serialize, Deserialize)]
struct AttachmentManifest {
    #[serde(rename = "schemaVersion")]
    schema_version: u32,
    #[serde(rename = "mediaType")]
    media_type: String,
    config: Descriptor,
    layers: Vec<Descriptor>,
}

/// The config skopeo writes for an attachment: empty platform, one diff ID per layer.
#[derive(Serialize)]
struct AttachmentConfig {
    architecture: &'static str,
    os: &'static str,
    config: BTreeMap<String, String>,
    rootfs: RootFs,
}

#[derive(Serialize)]
struct RootFs {
    #[serde(rename = "type")]
    kind: &'static str,
    diff_ids: Vec<String>,
}

/// Signs images; share one by reference across threads. Attachments are updated under a
/// per-tag lock, so concurrent signatures of one image are all kept.
pub struct Signer<'a> {
    client: &'a Client,
    key: &'a PrivateKey,
    platforms: &'a PlatformFilter,
    creator: String,
    locks: Mutex<HashMap<String, Arc<Mutex<()>>>>,
    sign_index: bool,
}

impl<'a> Signer<'a> {
    /// A signer with `creator` = `hangar <version>`.
    pub fn new(
        client: &'a Client,
        key: &'a PrivateKey,
        platforms: &'a PlatformFilter,
    ) -> Signer<'a> {
        Signer {
            client,
            key,
            platforms,
            creator: concat!("hangar ", env!("CARGO_PKG_VERSION")).to_owned(),
            locks: Mutex::default(),
            sign_index: false,
        }
    }

    /// Also sign each index / manifest list digest itself, under the reference it was named
    /// by (cosign and hangar v1.9 `sign` do; containers/image never checks it).
    pub fn sign_index_digests(mut self, yes: bool) -> Self {
        self.sign_index = yes;
        self
    }

    /// Signs every selected platform image of `image`.
    pub fn sign(&self, image: &Reference, deadline: Deadline) -> SignResult {
        let (mut targets, index) = match resolve_all(self.client, image, self.platforms, deadline) {
            Ok(r) => (r.targets, r.index.zip(r.index_media_type)),
            Err(reason) => {
                return SignResult {
                    verdict: Verdict::Failed,
                    reason: Some(reason),
                    platforms: Vec::new(),
                };
            }
        };
        if targets.is_empty() {
            return SignResult {
                verdict: Verdict::Skipped,
                reason: Some(hangar_validate::NO_PLATFORM.to_owned()),
                platforms: Vec::new(),
            };
        }
        if let (true, Some((index, media_type))) = (self.sign_index, index) {
            targets.push(Target {
                platform: Platform::new("index", "*", None),
                reference: image.clone(),
                repository: image.repository(),
                digest: index,
                media_type,
            });
        }
        let platforms: Vec<PlatformResult> = targets
            .into_iter()
            .map(|t| {
                let outcome = self.sign_target(&t, deadline);
                PlatformResult {
                    platform: t.platform,
                    reference: t.reference,
                    digest: t.digest,
                    outcome,
                }
            })
            .collect();
        let failures: Vec<String> = platforms
            .iter()
            .filter_map(|p| {
                p.outcome
                    .as_ref()
                    .err()
                    .map(|e| format!("{} [{}]: {e}", p.platform, p.reference))
            })
            .collect();
        SignResult {
            verdict: if failures.is_empty() {
                Verdict::Signed
            } else {
                Verdict::Failed
            },
            reason: (!failures.is_empty()).then(|| failures.join("; ")),
            platforms,
        }
    }

    fn lock_for(&self, tag: String) -> Arc<Mutex<()>> {
        self.locks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(tag)
            .or_default()
            .clone()
    }

    fn sign_target(&self, t: &Target, deadline: Deadline) -> Result<SignOutcome, String> {
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let payload = payload_bytes(
            &t.digest,
            &t.reference.to_string(),
            &self.creator,
            timestamp,
        );
        let signature = self.key.sign_base64(&payload);
        let payload_digest = sha256(&payload).to_string();
        let tag = t.digest.signature_tag();
        let sig_ref = t.repository.with_tag(&tag).map_err(|e| e.to_string())?;
        let lock = self.lock_for(sig_ref.to_string());
        let _guard = lock.lock().unwrap_or_else(PoisonError::into_inner);
        let ours = Ours {
            payload: &payload,
            digest: &payload_digest,
            signature: &signature,
        };
        // The registry has no compare-and-swap for manifests: another process appending to
        // the same attachment at the same time can overwrite our layer. So after writing,
        // wait well beyond one read-modify-write, read the attachment back,
        // and append again if our layer is gone; a bounded number of times.
        let mut appended = None;
        for _ in 0..MAX_APPEND_ROUNDS {
            let started = std::time::Instant::now();
            let layers = self.attachment_layers(&sig_ref, &tag, deadline)?;
            if ours.is_in(&layers) {
                return Ok(match appended {
                    Some(count) => SignOutcome::Appended { layers: count },
                    None => SignOutcome::AlreadySigned,
                });
            }
            appended = Some(self.append(t, &sig_ref, &tag, layers, &ours, deadline)?);
            let settle = (started.elapsed() * 3).clamp(SETTLE_MIN, SETTLE_MAX);
            if deadline.remaining().is_some_and(|r| r <= settle) {
                break;
            }
            std::thread::sleep(settle);
            let layers = self.attachment_layers(&sig_ref, &tag, deadline)?;
            if ours.is_in(&layers) {
                return Ok(SignOutcome::Appended {
                    layers: layers.len(),
                });
            }
            // Lost to another writer: step out of its rhythm before trying again.
            std::thread::sleep(jitter(settle));
        }
        Err(format!(
            "another writer kept replacing the signature attachment {tag}: our signature was not kept after {MAX_APPEND_ROUNDS} attempts (or the time budget ran out); sign again"
        ))
    }

    /// The layers of the attachment `sig_ref` (none when it does not exist yet).
    fn attachment_layers(
        &self,
        sig_ref: &Reference,
        tag: &str,
        deadline: Deadline,
    ) -> Result<Vec<Descriptor>, String> {
        match self.client.get_manifest_for_update(sig_ref, deadline) {
            Ok(m) if m.media_type != media_type::OCI_MANIFEST => Err(format!(
                "unexpected MIME type for sigstore attachment manifest {tag}: {:?}",
                m.media_type
            )),
            Ok(m) => Ok(serde_json::from_slice::<AttachmentManifest>(&m.bytes)
                .map_err(|e| format!("invalid sigstore attachment manifest {tag}: {e}"))?
                .layers),
            Err(RegistryError::NotFound { .. }) => Ok(Vec::new()),
            Err(e) => Err(format!("reading signatures: {e}")),
        }
    }

    /// Appends our layer to `layers` and stores the attachment; returns the layer count.
    fn append(
        &self,
        t: &Target,
        sig_ref: &Reference,
        tag: &str,
        mut layers: Vec<Descriptor>,
        ours: &Ours<'_>,
        deadline: Deadline,
    ) -> Result<usize, String> {
        let (payload, payload_digest, signature) = (ours.payload, ours.digest, ours.signature);
        let repo = &t.repository;
        self.client
            .push_blob(repo, payload, deadline)
            .map_err(|e| format!("uploading signature: {e}"))?;
        layers.push(Descriptor {
            media_type: SIMPLE_SIGNING_MEDIA_TYPE.to_owned(),
            digest: payload_digest.to_owned(),
            size: payload.len() as u64,
            annotations: Some(BTreeMap::from([(
                SIGNATURE_ANNOTATION.to_owned(),
                signature.to_owned(),
            )])),
            other: BTreeMap::new(),
        });
        let config = AttachmentConfig {
            architecture: "",
            os: "",
            config: BTreeMap::new(),
            rootfs: RootFs {
                kind: "layers",
                diff_ids: layers.iter().map(|l| l.digest.clone()).collect(),
            },
        };
        let config = serde_json::to_vec(&config).map_err(|e| e.to_string())?;
        let config_digest = self
            .client
            .push_blob(repo, &config, deadline)
            .map_err(|e| format!("uploading signature config: {e}"))?;
        let count = layers.len();
        let manifest = AttachmentManifest {
            schema_version: 2,
            media_type: media_type::OCI_MANIFEST.to_owned(),
            config: Descriptor {
                media_type: OCI_CONFIG_MEDIA_TYPE.to_owned(),
                digest: config_digest.to_string(),
                size: config.len() as u64,
                annotations: None,
                other: BTreeMap::new(),
            },
            layers,
        };
        let bytes = serde_json::to_vec(&manifest).map_err(|e| e.to_string())?;
        self.client
            .push_manifest(sig_ref, &bytes, media_type::OCI_MANIFEST, deadline)
            .map_err(|e| format!("storing {tag}: {e}"))?;
        Ok(count)
    }
}

/// Our signature layer, to look for in an attachment.
struct Ours<'p> {
    payload: &'p [u8],
    digest: &'p str,
    signature: &'p str,
}

impl Ours<'_> {
    fn is_in(&self, layers: &[Descriptor]) -> bool {
        layers.iter().any(|l| {
            l.digest == self.digest
                && l.annotations
                    .as_ref()
                    .and_then(|a| a.get(SIGNATURE_ANNOTATION))
                    .is_some_and(|s| s == self.signature)
        })
    }
}

/// How many times our layer is appended again when a concurrent writer dropped it.
const MAX_APPEND_ROUNDS: usize = 8;

/// A pseudo-random wait in `[0, max)`: enough to desynchronize two writers (no secrecy
/// needed, so the clock and the thread id are the seed).
fn jitter(max: std::time::Duration) -> std::time::Duration {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    let nanos = max.as_nanos().max(1) as u64;
    std::time::Duration::from_nanos(h.finish() % nanos)
}
/// The wait before reading an attachment back: three times our own read-modify-write,
/// within these. A concurrent writer can drop our layer only if its own read-modify-write
/// straddles our write and lasts longer than this wait.
const SETTLE_MIN: std::time::Duration = std::time::Duration::from_millis(300);
const SETTLE_MAX: std::time::Duration = std::time::Duration::from_secs(3);
