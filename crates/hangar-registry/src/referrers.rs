//! OCI 1.1 referrers: the artifacts (cosign v3 signature bundles among them) whose `subject`
//! is a given manifest. The referrers API first; when the registry has none (404), the
//! referrers tag schema `<alg>-<hex>` that clients maintain for such registries.

use hangar_reference::{Digest, Reference};
use reqwest::Method;
use reqwest::header::{ACCEPT, HeaderMap, LINK};

use super::{Access, Call, Client, Deadline, Error, Fetched, Place};
use crate::{MANIFEST_SIZE_LIMIT, media_type};

/// The most pages of a paged referrers list that are read.
pub const MAX_REFERRER_PAGES: usize = 16;

/// One entry of a referrers list: a manifest that names the subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Referrer {
    /// The referring manifest's digest.
    pub digest: Digest,
    /// Its media type (an OCI image manifest for bundles).
    pub media_type: String,
    /// Its `artifactType`.
    pub artifact_type: String,
    /// Its size in bytes.
    pub size: u64,
}

/// Where a referrers list came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReferrersSource {
    /// `GET /v2/<name>/referrers/<digest>`.
    Api,
    /// The fallback tag `<alg>-<hex>` (registries without the referrers API).
    TagSchema,
}

#[derive(serde::Deserialize)]
struct Index {
    #[serde(default)]
    manifests: Vec<Entry>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Entry {
    #[serde(default)]
    media_type: String,
    digest: String,
    #[serde(default)]
    size: u64,
    #[serde(default)]
    artifact_type: String,
}

/// The entries of a referrers index whose `artifactType` is `artifact_type` (whether or not
/// the registry applied the filter); entries with unusable digests are dropped.
fn entries(f: &Fetched, artifact_type: &str, out: &mut Vec<Referrer>) -> Result<(), Error> {
    let index: Index = serde_json::from_slice(&f.body).map_err(|e| Error::Protocol {
        request: f.request.clone(),
        message: format!("invalid referrers index: {e}"),
    })?;
    out.extend(
        index
            .manifests
            .into_iter()
            .filter(|e| e.artifact_type == artifact_type)
            .filter_map(|e| {
                Some(Referrer {
                    digest: e.digest.parse().ok()?,
                    media_type: e.media_type,
                    artifact_type: e.artifact_type,
                    size: e.size,
                })
            }),
    );
    Ok(())
}

/// The target of a `Link: <url>; rel="next"` header.
fn next_link(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(LINK)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|link| {
            let (target, params) = link.trim().split_once(';')?;
            let is_next = params
                .split(';')
                .any(|p| p.trim().replace(' ', "") == "rel=\"next\"" || p.trim() == "rel=next");
            let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
            is_next.then(|| target.to_owned())
        })
}

/// `+` and other reserved characters of a media type, percent-encoded for a query.
fn query_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl Client {
    /// Lists the manifests of `repository` whose subject is `subject` and whose
    /// `artifactType` is `artifact_type`: from the referrers API (following `Link` pages, at
    /// most [`MAX_REFERRER_PAGES`]), or, when the registry answers 404 or 405 there, from the
    /// referrers tag `<alg>-<hex>`. No list at all is an empty list.
    pub fn get_referrers(
        &self,
        repository: &Reference,
        subject: &Digest,
        artifact_type: &str,
        deadline: Deadline,
    ) -> Result<(Vec<Referrer>, ReferrersSource), Error> {
        let suffix = format!(
            "referrers/{subject}?artifactType={}",
            query_escape(artifact_type)
        );
        let first = self.get(
            repository,
            Access::Pull,
            &suffix,
            Some(media_type::OCI_INDEX),
            MANIFEST_SIZE_LIMIT,
            deadline,
        );
        let mut page = match first {
            Ok(f) => f,
            Err(Error::NotFound { .. } | Error::Status { status: 405, .. }) => {
                return self
                    .referrers_tag(repository, subject, artifact_type, deadline)
                    .map(|r| (r, ReferrersSource::TagSchema));
            }
            Err(e) => return Err(e),
        };
        let mut out = Vec::new();
        for _ in 0..MAX_REFERRER_PAGES {
            entries(&page, artifact_type, &mut out)?;
            let Some(next) = next_link(&page.headers) else {
                return Ok((out, ReferrersSource::Api));
            };
            let call = Call {
                method: Method::GET,
                place: Place::Location(&next),
                headers: vec![(ACCEPT, media_type::OCI_INDEX.to_owned())],
                body: &[],
                limit: MANIFEST_SIZE_LIMIT,
            };
            page = self.request(repository, Access::Pull, call, deadline)?;
        }
        Err(Error::Protocol {
            request: page.request,
            message: format!("more than {MAX_REFERRER_PAGES} pages of referrers"),
        })
    }

    fn referrers_tag(
        &self,
        repository: &Reference,
        subject: &Digest,
        artifact_type: &str,
        deadline: Deadline,
    ) -> Result<Vec<Referrer>, Error> {
        let tag: String = subject.to_string().replacen(':', "-", 1);
        let tag = &tag[..tag.len().min(128)];
        let image = repository
            .with_tag(tag)
            .map_err(|e| Error::Setup(format!("referrers tag {tag:?}: {e}")))?;
        let manifest = match self.manifest(&image, Access::Pull, deadline) {
            Ok(m) => m,
            Err(Error::NotFound { .. }) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let request = format!("GET {image}");
        if manifest.media_type != media_type::OCI_INDEX {
            return Err(Error::Protocol {
                request,
                message: format!(
                    "referrers tag {tag} holds a {:?}, not an image index",
                    manifest.media_type
                ),
            });
        }
        let f = Fetched {
            status: reqwest::StatusCode::OK,
            headers: HeaderMap::new(),
            body: manifest.bytes,
            request,
        };
        let mut out = Vec::new();
        entries(&f, artifact_type, &mut out)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn link_headers() {
        let mut h = HeaderMap::new();
        assert_eq!(next_link(&h), None);
        h.append(
            LINK,
            HeaderValue::from_static("</v2/a/referrers/sha256:x?n=1&last=b>; rel=\"next\""),
        );
        assert_eq!(
            next_link(&h).as_deref(),
            Some("/v2/a/referrers/sha256:x?n=1&last=b")
        );
        let mut h = HeaderMap::new();
        h.append(
            LINK,
            HeaderValue::from_static("<https://x/prev>; rel=\"prev\", <https://x/next>; rel=next"),
        );
        assert_eq!(next_link(&h).as_deref(), Some("https://x/next"));
        let mut h = HeaderMap::new();
        h.append(LINK, HeaderValue::from_static("garbage; rel=\"next\""));
        assert_eq!(next_link(&h), None);
    }

    #[test]
    fn artifact_type_is_escaped() {
        assert_eq!(
            query_escape("application/vnd.dev.sigstore.bundle.v0.3+json"),
            "application/vnd.dev.sigstore.bundle.v0.3%2Bjson"
        );
    }
}
