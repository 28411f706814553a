//! What a run has already fetched of signatures: a platform image named by several lines
//! (the tags of one release, a tag and its digest) costs its signature requests once.
//! Only registry answers are kept (an attachment manifest, "no such tag", a payload), never
//! transport or status errors, and the bytes kept are bounded.

use std::collections::{HashMap, HashSet};
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
    /// When set, only these repositories are cached: a list of distinct repositories gains
    /// nothing from a cache, and its memory would grow with the list.
    only: Option<HashSet<String>>,
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
    /// An empty cache for every repository.
    pub fn new() -> SignatureCache {
        SignatureCache::default()
    }

    /// An empty cache that keeps answers only for `repositories` (`registry/path`, as
    /// [`hangar_reference::Reference::repository`] prints them): pass the repositories that
    /// more than one line of a list names.
    pub fn only_for(repositories: impl IntoIterator<Item = String>) -> SignatureCache {
        SignatureCache {
            inner: Mutex::default(),
            only: Some(repositories.into_iter().collect()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many fetches the cache answered.
    pub fn hits(&self) -> u64 {
        self.lock().hits
    }

    /// A kept answer, counted as a hit.
    fn get<T: Clone>(
        &self,
        map: impl Fn(&Inner) -> &HashMap<(String, Digest), T>,
        repo: &str,
        digest: &Digest,
    ) -> Option<T> {
        let mut inner = self.lock();
        let found = map(&inner).get(&(repo.to_owned(), digest.clone())).cloned();
        if found.is_some() {
            inner.hits += 1;
        }
        found
    }

    /// Keeps an answer of about `size` bytes, unless the cache is full.
    fn keep<T>(
        &self,
        map: impl Fn(&mut Inner) -> &mut HashMap<(String, Digest), T>,
        repo: &str,
        digest: &Digest,
        size: usize,
        value: T,
    ) {
        if self.only.as_ref().is_some_and(|only| !only.contains(repo)) {
            return;
        }
        let size = size + repo.len() + 80;
        let mut inner = self.lock();
        if inner.bytes + size <= CACHE_BYTE_LIMIT {
            inner.bytes += size;
            map(&mut inner).insert((repo.to_owned(), digest.clone()), value);
        }
    }

    pub(crate) fn attachment(&self, repo: &str, digest: &Digest) -> Option<Option<Arc<Manifest>>> {
        self.get(|i| &i.attachments, repo, digest)
    }

    pub(crate) fn keep_attachment(&self, repo: &str, digest: &Digest, m: Option<Arc<Manifest>>) {
        let size = m.as_ref().map_or(0, |m| m.bytes.len());
        self.keep(|i| &mut i.attachments, repo, digest, size, m);
    }

    pub(crate) fn payload(&self, repo: &str, blob: &Digest) -> Option<Arc<Vec<u8>>> {
        self.get(|i| &i.payloads, repo, blob)
    }

    pub(crate) fn keep_payload(&self, repo: &str, blob: &Digest, bytes: Arc<Vec<u8>>) {
        if bytes.len() <= CACHED_PAYLOAD_LIMIT {
            self.keep(|i| &mut i.payloads, repo, blob, bytes.len(), bytes);
        }
    }

    pub(crate) fn referrers(&self, repo: &str, digest: &Digest) -> Option<Arc<Vec<Referrer>>> {
        self.get(|i| &i.referrers, repo, digest)
    }

    pub(crate) fn keep_referrers(&self, repo: &str, digest: &Digest, list: Arc<Vec<Referrer>>) {
        self.keep(|i| &mut i.referrers, repo, digest, list.len() * 200, list);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest() -> Digest {
        format!("sha256:{}", "ab".repeat(32))
            .parse()
            .expect("digest")
    }

    #[test]
    fn only_listed_repositories_are_kept_and_bytes_are_bounded() {
        let cache = SignatureCache::only_for(["r.example/kept".to_owned()]);
        let payload = Arc::new(vec![1u8; 10]);
        cache.keep_payload("r.example/kept", &digest(), Arc::clone(&payload));
        cache.keep_payload("r.example/once", &digest(), Arc::clone(&payload));
        assert_eq!(cache.payload("r.example/kept", &digest()), Some(payload));
        assert_eq!(cache.payload("r.example/once", &digest()), None);
        assert_eq!(cache.hits(), 1);

        let all = SignatureCache::new();
        let big = Arc::new(vec![0u8; CACHED_PAYLOAD_LIMIT + 1]);
        all.keep_payload("r.example/a", &digest(), big);
        assert_eq!(
            all.payload("r.example/a", &digest()),
            None,
            "too big to keep"
        );
        // Past the byte limit nothing more is kept.
        let chunk = Arc::new(vec![0u8; CACHED_PAYLOAD_LIMIT]);
        let mut kept = 0;
        for i in 0..(CACHE_BYTE_LIMIT / CACHED_PAYLOAD_LIMIT + 10) {
            let d: Digest = format!("sha256:{i:064x}").parse().expect("digest");
            all.keep_payload("r.example/a", &d, Arc::clone(&chunk));
            kept += usize::from(all.payload("r.example/a", &d).is_some());
        }
        assert!(kept < CACHE_BYTE_LIMIT / CACHED_PAYLOAD_LIMIT, "{kept}");
        assert!(all.lock().bytes <= CACHE_BYTE_LIMIT);
    }
}
