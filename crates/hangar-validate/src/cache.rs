//! What a run has already fetched of signatures: a platform image named by several lines
//! (the tags of one release, a tag and its digest) costs its signature requests once.
//! Only registry answers are kept (an attachment manifest, "no such tag", a payload), never
//! transport or status errors, and the bytes kept are bounded.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use hangar_reference::Digest;
use hangar_registry::{Manifest, Referrer};

/// The most bytes a cache keeps; past it, answers are used but not kept.
pub const CACHE_BYTE_LIMIT: usize = 64 << 20;
/// The largest payload kept (real simple-signing payloads are a few hundred bytes).
pub const CACHED_PAYLOAD_LIMIT: usize = 64 << 10;

/// Signature material shared by all lines of a run. `Send + Sync`: give every worker the
/// same one through [`crate::Validator::cache`].
#[derive(Debug, Default)]
pub struct SignatureCache {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// `None`: the registry said the attachment tag does not exist.
    attachments: HashMap<(String, Digest), Option<Arc<Manifest>>>,
    payloads: HashMap<(String, Digest), Arc<Vec<u8>>>,
    referrers: HashMap<(String, Digest), Arc<Vec<Referrer>>>,
    bytes: usize,
    hits: u64,
}

impl SignatureCache {
    /// An empty cache.
    pub fn new() -> SignatureCache {
        SignatureCache::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many fetches the cache answered.
    pub fn hits(&self) -> u64 {
        self.lock().hits
    }

    pub(crate) fn attachment(&self, repo: &str, digest: &Digest) -> Option<Option<Arc<Manifest>>> {
        let mut inner = self.lock();
        let found = inner
            .attachments
            .get(&(repo.to_owned(), digest.clone()))
            .cloned();
        if found.is_some() {
            inner.hits += 1;
        }
        found
    }

    pub(crate) fn keep_attachment(&self, repo: &str, digest: &Digest, m: Option<Arc<Manifest>>) {
        let size = m.as_ref().map_or(0, |m| m.bytes.len()) + repo.len() + 80;
        let mut inner = self.lock();
        if inner.bytes + size <= CACHE_BYTE_LIMIT {
            inner.bytes += size;
            inner
                .attachments
                .insert((repo.to_owned(), digest.clone()), m);
        }
    }

    pub(crate) fn payload(&self, repo: &str, blob: &Digest) -> Option<Arc<Vec<u8>>> {
        let mut inner = self.lock();
        let found = inner
            .payloads
            .get(&(repo.to_owned(), blob.clone()))
            .cloned();
        if found.is_some() {
            inner.hits += 1;
        }
        found
    }

    pub(crate) fn keep_payload(&self, repo: &str, blob: &Digest, bytes: Arc<Vec<u8>>) {
        if bytes.len() > CACHED_PAYLOAD_LIMIT {
            return;
        }
        let size = bytes.len() + repo.len() + 80;
        let mut inner = self.lock();
        if inner.bytes + size <= CACHE_BYTE_LIMIT {
            inner.bytes += size;
            inner
                .payloads
                .insert((repo.to_owned(), blob.clone()), bytes);
        }
    }

    pub(crate) fn referrers(&self, repo: &str, digest: &Digest) -> Option<Arc<Vec<Referrer>>> {
        let mut inner = self.lock();
        let found = inner
            .referrers
            .get(&(repo.to_owned(), digest.clone()))
            .cloned();
        if found.is_some() {
            inner.hits += 1;
        }
        found
    }

    pub(crate) fn keep_referrers(&self, repo: &str, digest: &Digest, list: Arc<Vec<Referrer>>) {
        let size = list.len() * 200 + repo.len() + 80;
        let mut inner = self.lock();
        if inner.bytes + size <= CACHE_BYTE_LIMIT {
            inner.bytes += size;
            inner
                .referrers
                .insert((repo.to_owned(), digest.clone()), list);
        }
    }
}
