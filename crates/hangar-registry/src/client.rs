//! The HTTP side: endpoints, authentication, retries, limits and digest checks.

use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use hangar_reference::{Algorithm, Digest, Reference};
use reqwest::Method;
use reqwest::StatusCode;
use reqwest::Url;
use reqwest::blocking::Client as Http;
use reqwest::header::{
    ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, LOCATION, RETRY_AFTER,
    WWW_AUTHENTICATE,
};
use sha2::Digest as _;

use crate::challenge::{self, Challenge};
use crate::credentials::{CredentialError, CredentialStore, Credentials};
use crate::{MANIFEST_SIZE_LIMIT, media_type};

#[path = "referrers.rs"]
mod referrers;
pub use referrers::{MAX_REFERRER_PAGES, Referrer, ReferrersSource};

const ACCEPT_MANIFESTS: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.v1+prettyjws, application/vnd.docker.distribution.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.index.v1+json";
/// Error bodies are read only this far.
const ERROR_BODY_LIMIT: u64 = 64 << 10;
const TOKEN_BODY_LIMIT: u64 = 1 << 20;
/// Without a deadline, no single request may take longer than this.
const REQUEST_CAP: Duration = Duration::from_secs(300);
const MAX_429_ATTEMPTS: u32 = 5;
const MAX_TRANSIENT_ATTEMPTS: u32 = 3;

/// When the work for one image must be finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline(Option<Instant>);

impl Deadline {
    /// No deadline (each request is still capped).
    pub fn none() -> Deadline {
        Deadline(None)
    }

    /// `budget` from now.
    pub fn after(budget: Duration) -> Deadline {
        Deadline(Instant::now().checked_add(budget))
    }

    /// Time left, `None` when unbounded.
    pub fn remaining(&self) -> Option<Duration> {
        self.0.map(|d| d.saturating_duration_since(Instant::now()))
    }

    fn request_timeout(&self) -> Option<Duration> {
        match self.remaining() {
            Some(r) if r.is_zero() => None,
            Some(r) => Some(r.min(REQUEST_CAP)),
            None => Some(REQUEST_CAP),
        }
    }

    /// Whether waiting `d` would still end before the deadline.
    fn allows(&self, d: Duration) -> bool {
        self.remaining().is_none_or(|r| r > d)
    }
}

/// How TLS is used (`--tls-verify`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TlsVerify {
    /// Flag unset: HTTPS with verified certificates.
    #[default]
    Default,
    /// `--tls-verify=true`: HTTPS with verified certificates only.
    Require,
    /// `--tls-verify=false`: HTTPS without verification, plain HTTP when HTTPS fails.
    Skip,
}

/// How to build a [`Client`]; start from `Config::default()`.
#[derive(Debug, Default)]
pub struct Config {
    /// TLS verification mode.
    pub tls_verify: TlsVerify,
    /// Where credentials come from.
    pub credentials: CredentialStore,
    /// `User-Agent` header; empty for the default.
    pub user_agent: String,
    /// Registries (`host[:port]` or `*.domain`) reached without TLS verification, and over
    /// plain HTTP when HTTPS fails, while `tls_verify` is `Default` (`registries.conf`
    /// `insecure = true`; see [`crate::registries_conf`]).
    pub insecure_registries: Vec<String>,
    /// Folders laid out like `certs.d`: `<dir>/<host[:port]>/` holds CA certificates
    /// (`*.crt`) and client certificates (`*.cert` with `*.key`). See
    /// [`Config::default_certs_dirs`].
    pub certs_dirs: Vec<PathBuf>,
    /// References registries.conf forbids contacting (`blocked = true`): requests for them
    /// fail with [`Error::Blocked`] before any traffic.
    pub blocked: crate::registries_conf::Blocklist,
}

impl Config {
    /// The same configuration with TLS verification mode `tls_verify`.
    pub fn with_tls_verify(mut self, tls_verify: TlsVerify) -> Config {
        self.tls_verify = tls_verify;
        self
    }

    /// containers' and docker's `certs.d` folders: `~/.config/containers/certs.d`,
    /// `/etc/containers/certs.d`, `/etc/docker/certs.d`.
    pub fn default_certs_dirs() -> Vec<PathBuf> {
        let mut dirs = Vec::new();
        let config_home = std::env::var_os("XDG_CONFIG_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")));
        if let Some(c) = config_home {
            dirs.push(c.join("containers/certs.d"));
        }
        dirs.push(PathBuf::from("/etc/containers/certs.d"));
        dirs.push(PathBuf::from("/etc/docker/certs.d"));
        dirs
    }
}

/// Errors from registry requests. Messages name the URL and never carry credentials.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The connection failed or broke.
    #[error("{request}: {message}")]
    Transport {
        /// The request: method and URL.
        request: String,
        /// The whole cause chain, flattened.
        message: String,
    },
    /// The time budget ran out.
    #[error("{request}: timed out")]
    Timeout {
        /// The request: method and URL.
        request: String,
    },
    /// 404: no such manifest, tag or blob.
    #[error("{request}: not found{}", detail_suffix(detail))]
    NotFound {
        /// The request: method and URL.
        request: String,
        /// The registry's `errors` text.
        detail: String,
    },
    /// Any other non-success status.
    #[error("{request}: HTTP status {status}{}", detail_suffix(detail))]
    Status {
        /// The request: method and URL.
        request: String,
        /// The HTTP status code.
        status: u16,
        /// The registry's `errors` text.
        detail: String,
    },
    /// A body larger than allowed.
    #[error("{request}: body exceeds the {limit}-byte limit")]
    TooLarge {
        /// The request: method and URL.
        request: String,
        /// The limit in bytes.
        limit: u64,
    },
    /// The bytes do not have the digest they must have.
    #[error("{request}: digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        /// The request: method and URL.
        request: String,
        /// The digest asked for (or announced).
        expected: String,
        /// The digest of the bytes received.
        actual: String,
    },
    /// Authentication failed.
    #[error("authenticating to {registry}: {message}")]
    Auth {
        /// The registry host.
        registry: String,
        /// What went wrong.
        message: String,
    },
    /// The registry answered with something that breaks the protocol.
    #[error("{request}: {message}")]
    Protocol {
        /// The request: method and URL.
        request: String,
        /// What is wrong with the answer.
        message: String,
    },
    /// Credentials could not be read.
    #[error(transparent)]
    Credentials(#[from] CredentialError),
    /// registries.conf blocks this reference (`blocked = true`); nothing was sent.
    #[error("{reference} is blocked in registries.conf (blocked = true); no request was sent")]
    Blocked {
        /// The reference asked for.
        reference: String,
    },
    /// The HTTP client could not be built.
    #[error("building the HTTP client: {0}")]
    Setup(String),
}

fn detail_suffix(detail: &str) -> String {
    if detail.is_empty() {
        String::new()
    } else {
        format!(": {detail}")
    }
}

/// A manifest exactly as the registry sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The raw bytes: digests are computed over these, never over a re-serialization.
    pub bytes: Vec<u8>,
    /// The media type from `Content-Type` (parameters stripped), or from the body when the
    /// header is missing or generic.
    pub media_type: String,
    /// The digest of `bytes` (in the algorithm of the requested digest, else SHA-256).
    pub digest: Digest,
}

/// What a request needs: read (`pull`) or write (`pull,push`) access to the repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    Pull,
    Push,
}

impl Access {
    fn actions(self) -> &'static str {
        match self {
            Access::Pull => "pull",
            Access::Push => "pull,push",
        }
    }
}

/// Where a request goes: under `/v2/<path>/`, or to a URL the registry gave (upload
/// locations), resolved against the endpoint.
enum Place<'a> {
    Suffix(&'a str),
    Location(&'a str),
}

/// One HTTP call, before authentication.
struct Call<'a> {
    method: Method,
    place: Place<'a>,
    headers: Vec<(HeaderName, String)>,
    body: &'a [u8],
    limit: u64,
}

/// A resolved registry endpoint: where to send requests and how it wants auth.
#[derive(Debug, Clone)]
struct Endpoint {
    base: Url,
    insecure: bool,
    challenge: Option<Challenge>,
}

#[derive(Clone)]
struct Token {
    value: String,
    expires: Instant,
}

type Slot<T> = Arc<Mutex<Option<T>>>;

/// A registry client, `Send + Sync`, meant to be shared by every worker of a run.
pub struct Client {
    user_agent: String,
    /// HTTP clients by (host with its own certificates or "", insecure): hosts without
    /// `certs.d` entries share one connection pool.
    clients: Mutex<HashMap<(String, bool), Http>>,
    tls_verify: TlsVerify,
    insecure_registries: Vec<String>,
    certs_dirs: Vec<PathBuf>,
    blocked: crate::registries_conf::Blocklist,
    credentials: CredentialStore,
    endpoints: Mutex<HashMap<String, Slot<Endpoint>>>,
    tokens: Mutex<HashMap<(String, String), Slot<Token>>>,
    requests: AtomicU64,
    token_requests: AtomicU64,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("tls_verify", &self.tls_verify)
            .field("requests", &self.requests)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn flatten(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        src = c.source();
    }
    s
}

/// The host a registry name is reached at.
fn host_of(registry: &str) -> &str {
    if registry == "docker.io" {
        "registry-1.docker.io"
    } else {
        registry
    }
}

fn hash(algorithm: Algorithm, bytes: &[u8]) -> Digest {
    let h: Vec<u8> = match algorithm {
        Algorithm::Sha384 => sha2::Sha384::digest(bytes).to_vec(),
        Algorithm::Sha512 => sha2::Sha512::digest(bytes).to_vec(),
        _ => sha2::Sha256::digest(bytes).to_vec(),
    };
    #[allow(clippy::expect_used)] // the hash has the algorithm's exact length
    Digest::from_bytes(algorithm, &h).expect("hash length matches algorithm")
}

/// The SHA-256 digest of `bytes`.
pub fn sha256(bytes: &[u8]) -> Digest {
    hash(Algorithm::Sha256, bytes)
}

/// The CA certificates (`*.crt`) and client identity (`*.cert` + `*.key`) in the `host`
/// folder of every `certs.d` directory.
fn certs_for(
    dirs: &[PathBuf],
    host: &str,
) -> Result<(Vec<reqwest::Certificate>, Option<reqwest::Identity>), Error> {
    let mut roots = Vec::new();
    let mut identity = None;
    let bad = |p: &std::path::Path, e: &dyn std::fmt::Display| {
        Error::Setup(format!("certificate {}: {e}", p.display()))
    };
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir.join(host)) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        files.sort();
        for f in &files {
            match f.extension().and_then(|e| e.to_str()) {
                Some("crt") => {
                    let pem = std::fs::read(f).map_err(|e| bad(f, &e))?;
                    roots.extend(
                        reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| bad(f, &e))?,
                    );
                }
                Some("cert") if identity.is_none() => {
                    let key = f.with_extension("key");
                    let mut pem = std::fs::read(f).map_err(|e| bad(f, &e))?;
                    pem.extend(std::fs::read(&key).map_err(|e| bad(&key, &e))?);
                    identity = Some(reqwest::Identity::from_pem(&pem).map_err(|e| bad(f, &e))?);
                }
                _ => {}
            }
        }
    }
    Ok((roots, identity))
}

/// What a request returned, body read within its limit.
struct Fetched {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
    /// `METHOD url` of the final request (after redirects).
    request: String,
}

impl Client {
    /// Builds the client; no network traffic happens here.
    pub fn new(config: Config) -> Result<Client, Error> {
        let user_agent = if config.user_agent.is_empty() {
            concat!("hangar/", env!("CARGO_PKG_VERSION")).to_owned()
        } else {
            config.user_agent.clone()
        };
        let client = Client {
            user_agent,
            clients: Mutex::default(),
            tls_verify: config.tls_verify,
            insecure_registries: config.insecure_registries,
            certs_dirs: config.certs_dirs,
            blocked: config.blocked,
            credentials: config.credentials,
            endpoints: Mutex::default(),
            tokens: Mutex::default(),
            requests: AtomicU64::new(0),
            token_requests: AtomicU64::new(0),
        };
        // Fail at construction, not at the first request, if TLS cannot be set up.
        client.http_for("", false)?;
        Ok(client)
    }

    /// Whether `host` is reached without TLS verification (and with the HTTP fallback).
    fn skip_tls(&self, host: &str) -> bool {
        match self.tls_verify {
            TlsVerify::Skip => true,
            TlsVerify::Require => false,
            _ => self
                .insecure_registries
                .iter()
                .any(|r| match r.strip_prefix("*.") {
                    Some(domain) => host
                        .split(':')
                        .next()
                        .is_some_and(|h| h.ends_with(&format!(".{domain}"))),
                    None => r == host,
                }),
        }
    }

    /// The HTTP client for `host`: its own when `certs.d` has certificates for it, else the
    /// shared one. Looked up once per host.
    fn http_for(&self, host: &str, insecure: bool) -> Result<Http, Error> {
        if let Some(h) = lock(&self.clients).get(&(host.to_owned(), insecure)) {
            return Ok(h.clone());
        }
        let (roots, identity) = if host.is_empty() {
            (Vec::new(), None)
        } else {
            certs_for(&self.certs_dirs, host)?
        };
        let h = if roots.is_empty() && identity.is_none() && !host.is_empty() {
            self.http_for("", insecure)?
        } else {
            let mut b = Http::builder()
                .no_proxy()
                .user_agent(self.user_agent.clone())
                .connect_timeout(Duration::from_secs(30))
                .pool_max_idle_per_host(32)
                .tls_danger_accept_invalid_certs(insecure);
            for proxy in env_proxies()? {
                b = b.proxy(proxy);
            }
            for cert in roots {
                b = b.add_root_certificate(cert);
            }
            if let Some(id) = identity {
                b = b.identity(id);
            }
            b.build().map_err(|e| Error::Setup(flatten(&e)))?
        };
        lock(&self.clients).insert((host.to_owned(), insecure), h.clone());
        Ok(h)
    }

    /// HTTP requests sent so far (pings, tokens, manifests, blobs, retries).
    pub fn request_count(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Token requests sent so far.
    pub fn token_request_count(&self) -> u64 {
        self.token_requests.load(Ordering::Relaxed)
    }

    /// Fetches the manifest `image` names (by digest if it has one, else by tag). A by-digest
    /// fetch is checked against the digest; a `Docker-Content-Digest` header must match too.
    pub fn get_manifest(&self, image: &Reference, deadline: Deadline) -> Result<Manifest, Error> {
        self.manifest(image, Access::Pull, deadline)
    }

    fn manifest(
        &self,
        image: &Reference,
        access: Access,
        deadline: Deadline,
    ) -> Result<Manifest, Error> {
        let f = self.get(
            image,
            access,
            &format!("manifests/{}", image.request_ref()),
            Some(ACCEPT_MANIFESTS),
            MANIFEST_SIZE_LIMIT,
            deadline,
        )?;
        let algorithm = image.digest().map_or(Algorithm::Sha256, Digest::algorithm);
        let digest = hash(algorithm, &f.body);
        if let Some(want) = image.digest()
            && *want != digest
        {
            return Err(Error::DigestMismatch {
                request: f.request.clone(),
                expected: want.to_string(),
                actual: digest.to_string(),
            });
        }
        let announced = f
            .headers
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok());
        if let Some(Ok(announced)) = announced.map(str::parse::<Digest>)
            && hash(announced.algorithm(), &f.body) != announced
        {
            return Err(Error::DigestMismatch {
                request: f.request.clone(),
                expected: announced.to_string(),
                actual: hash(announced.algorithm(), &f.body).to_string(),
            });
        }
        let media_type = media_type_of(&f.headers, &f.body);
        Ok(Manifest {
            bytes: f.body,
            media_type,
            digest,
        })
    }

    /// Fetches blob `digest` of `repository` (following redirects, which never carry our
    /// credentials to another host), at most `limit` bytes, digest-checked.
    pub fn get_blob(
        &self,
        repository: &Reference,
        digest: &Digest,
        limit: u64,
        deadline: Deadline,
    ) -> Result<Vec<u8>, Error> {
        let f = self.get(
            repository,
            Access::Pull,
            &format!("blobs/{digest}"),
            None,
            limit,
            deadline,
        )?;
        let actual = hash(digest.algorithm(), &f.body);
        if actual != *digest {
            return Err(Error::DigestMismatch {
                request: f.request.clone(),
                expected: digest.to_string(),
                actual: actual.to_string(),
            });
        }
        Ok(f.body)
    }

    /// Whether `repository` holds blob `digest` (HEAD, with push access: it is asked before
    /// an upload).
    pub fn blob_exists(
        &self,
        repository: &Reference,
        digest: &Digest,
        deadline: Deadline,
    ) -> Result<bool, Error> {
        let suffix = format!("blobs/{digest}");
        let call = Call {
            method: Method::HEAD,
            place: Place::Suffix(&suffix),
            headers: Vec::new(),
            body: &[],
            limit: 0,
        };
        match self.request(repository, Access::Push, call, deadline) {
            Ok(_) => Ok(true),
            Err(Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Uploads `bytes` as a blob of `repository` in one request, unless it is already
    /// there; returns its SHA-256 digest.
    pub fn push_blob(
        &self,
        repository: &Reference,
        bytes: &[u8],
        deadline: Deadline,
    ) -> Result<Digest, Error> {
        let digest = hash(Algorithm::Sha256, bytes);
        if self.blob_exists(repository, &digest, deadline)? {
            return Ok(digest);
        }
        let start = Call {
            method: Method::POST,
            place: Place::Suffix("blobs/uploads/"),
            headers: Vec::new(),
            body: &[],
            limit: ERROR_BODY_LIMIT,
        };
        let started = self.request(repository, Access::Push, start, deadline)?;
        let location = started
            .headers
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| Error::Status {
                request: started.request.clone(),
                status: started.status.as_u16(),
                detail: "upload started without a Location header".into(),
            })?;
        let sep = if location.contains('?') { '&' } else { '?' };
        let target = format!("{location}{sep}digest={digest}");
        let put = Call {
            method: Method::PUT,
            place: Place::Location(&target),
            headers: vec![(CONTENT_TYPE, "application/octet-stream".to_owned())],
            body: bytes,
            limit: ERROR_BODY_LIMIT,
        };
        self.request(repository, Access::Push, put, deadline)?;
        Ok(digest)
    }

    /// Stores `bytes` as a manifest of media type `media_type` under `image`'s tag (or
    /// digest); returns its SHA-256 digest.
    pub fn push_manifest(
        &self,
        image: &Reference,
        bytes: &[u8],
        media_type: &str,
        deadline: Deadline,
    ) -> Result<Digest, Error> {
        let suffix = format!("manifests/{}", image.request_ref());
        let put = Call {
            method: Method::PUT,
            place: Place::Suffix(&suffix),
            headers: vec![(CONTENT_TYPE, media_type.to_owned())],
            body: bytes,
            limit: ERROR_BODY_LIMIT,
        };
        self.request(image, Access::Push, put, deadline)?;
        Ok(hash(Algorithm::Sha256, bytes))
    }

    /// Fetches a manifest with push access (before changing it): one token serves both.
    pub fn get_manifest_for_update(
        &self,
        image: &Reference,
        deadline: Deadline,
    ) -> Result<Manifest, Error> {
        self.manifest(image, Access::Push, deadline)
    }

    /// GET `/v2/<path>/<suffix>` with pull access; 404 and other failures become errors.
    fn get(
        &self,
        image: &Reference,
        access: Access,
        suffix: &str,
        accept: Option<&str>,
        limit: u64,
        deadline: Deadline,
    ) -> Result<Fetched, Error> {
        let headers: Vec<(HeaderName, String)> =
            accept.map(|a| (ACCEPT, a.to_owned())).into_iter().collect();
        let call = Call {
            method: Method::GET,
            place: Place::Suffix(suffix),
            headers,
            body: &[],
            limit,
        };
        self.request(image, access, call, deadline)
    }

    /// One authenticated request about `image`'s repository: answers a 401 once with a
    /// fresh token; any non-2xx status becomes an error.
    fn request(
        &self,
        image: &Reference,
        access: Access,
        call: Call<'_>,
        deadline: Deadline,
    ) -> Result<Fetched, Error> {
        if self.blocked.is_blocked(&image.to_string()) {
            return Err(Error::Blocked {
                reference: image.to_string(),
            });
        }
        let registry = image.domain();
        let endpoint = self.endpoint(registry, deadline)?;
        let http = self.http_for(host_of(registry), endpoint.insecure)?;
        let url = match &call.place {
            Place::Suffix(suffix) => endpoint
                .base
                .join(&format!("/v2/{}/{suffix}", image.path())),
            Place::Location(location) => endpoint.base.join(location),
        }
        .map_err(|e| Error::Setup(format!("bad URL for {image}: {e}")))?;
        let mut challenge = endpoint.challenge.clone();
        let mut fresh_token = false;
        loop {
            let auth = match &challenge {
                Some(c) => {
                    self.authorization(registry, image.path(), access, c, fresh_token, deadline)?
                }
                None => None,
            };
            let mut headers = call.headers.clone();
            // Credentials go only to the registry itself, never to a host an upload
            // location points at.
            let same_host = url.host_str() == endpoint.base.host_str()
                && url.port_or_known_default() == endpoint.base.port_or_known_default();
            if let (Some(a), true) = (auth, same_host) {
                headers.push((AUTHORIZATION, a));
            }
            let f = self.fetch(
                &http,
                &call.method,
                &url,
                &headers,
                call.body,
                call.limit,
                deadline,
            )?;
            match f.status {
                s if s.is_success() => return Ok(f),
                StatusCode::UNAUTHORIZED if !fresh_token => {
                    // The token expired or the registry wants another scheme: once more.
                    challenge = first_supported(&f.headers).or(challenge);
                    if challenge.is_none() {
                        return Err(status_error(&f));
                    }
                    fresh_token = true;
                }
                _ => return Err(status_error(&f)),
            }
        }
    }

    /// Pings a registry once per run: HTTPS first, plain HTTP only with `TlsVerify::Skip`.
    fn endpoint(&self, registry: &str, deadline: Deadline) -> Result<Endpoint, Error> {
        let slot = lock(&self.endpoints)
            .entry(registry.to_owned())
            .or_default()
            .clone();
        let mut guard = lock(&slot);
        if let Some(e) = guard.as_ref() {
            return Ok(e.clone());
        }
        let host = host_of(registry);
        let skip = self.skip_tls(host);
        let mut schemes = vec![("https", skip)];
        if skip {
            schemes.push(("http", true));
        }
        let mut last_err = None;
        let fallback = schemes.len() > 1;
        for (scheme, insecure) in schemes {
            let base = Url::parse(&format!("{scheme}://{host}/"))
                .map_err(|e| Error::Setup(format!("registry {registry:?}: {e}")))?;
            let Ok(ping) = base.join("/v2/") else {
                continue;
            };
            // With a plain-HTTP fallback, a failed HTTPS probe is not retried: a TLS
            // handshake against an HTTP server fails the same way every time.
            let attempts = if fallback && scheme == "https" {
                1
            } else {
                MAX_TRANSIENT_ATTEMPTS
            };
            match self.fetch_with(
                &self.http_for(host, insecure)?,
                &Method::GET,
                &ping,
                &[],
                &[],
                ERROR_BODY_LIMIT,
                deadline,
                attempts,
            ) {
                Ok(f) if f.status.is_success() || f.status == StatusCode::UNAUTHORIZED => {
                    let e = Endpoint {
                        base,
                        insecure,
                        challenge: first_supported(&f.headers),
                    };
                    *guard = Some(e.clone());
                    return Ok(e);
                }
                Ok(f) => return Err(status_error(&f)),
                Err(e @ Error::Timeout { .. }) => return Err(e),
                Err(Error::Transport { request, message }) if !fallback => {
                    // A registry serving plain HTTP answers TLS with garbage: say what to do.
                    let message = format!(
                        "{message} (HTTPS failed; plain HTTP is tried only when TLS verification is off)"
                    );
                    last_err = Some(Error::Transport { request, message });
                }
                Err(e) => last_err = Some(e),
            }
        }
        Err(last_err.unwrap_or_else(|| Error::Setup(format!("no endpoint for {registry}"))))
    }

    /// The `Authorization` header value for one repository under `challenge`.
    fn authorization(
        &self,
        registry: &str,
        path: &str,
        access: Access,
        challenge: &Challenge,
        refresh: bool,
        deadline: Deadline,
    ) -> Result<Option<String>, Error> {
        let creds = self.credentials.lookup(registry, path)?;
        match challenge.scheme.as_str() {
            "basic" => Ok(creds.map(|c| c.basic_header())),
            "bearer" => {
                let scope = format!("repository:{path}:{}", access.actions());
                let slot = lock(&self.tokens)
                    .entry((registry.to_owned(), scope.clone()))
                    .or_default()
                    .clone();
                // Holding the slot while fetching makes other workers wait for this token
                // instead of asking for their own.
                let mut guard = lock(&slot);
                if let Some(t) = guard.as_ref()
                    && !refresh
                    && t.expires > Instant::now()
                {
                    return Ok(Some(format!("Bearer {}", t.value)));
                }
                let token =
                    self.fetch_token(registry, challenge, &scope, creds.as_ref(), deadline)?;
                let header = format!("Bearer {}", token.value);
                *guard = Some(token);
                Ok(Some(header))
            }
            _ => Ok(None),
        }
    }

    fn fetch_token(
        &self,
        registry: &str,
        challenge: &Challenge,
        scope: &str,
        creds: Option<&Credentials>,
        deadline: Deadline,
    ) -> Result<Token, Error> {
        let auth_err = |message: String| Error::Auth {
            registry: registry.to_owned(),
            message,
        };
        let realm = challenge
            .param("realm")
            .ok_or_else(|| auth_err("bearer challenge without realm".into()))?;
        let mut url =
            Url::parse(realm).map_err(|e| auth_err(format!("invalid realm {realm:?}: {e}")))?;
        // A 401 may ask for more than we asked for (`error="insufficient_scope"`): ask for both.
        let mut scopes = vec![scope.to_owned()];
        if let Some(extra) = challenge.param("scope").filter(|s| *s != scope) {
            scopes.push(extra.to_owned());
        }
        let service = challenge.param("service");
        let realm_host = match (url.host_str(), url.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            _ => String::new(),
        };
        let http = self.http_for(&realm_host, self.skip_tls(&realm_host))?;
        let started = Instant::now();
        self.token_requests.fetch_add(1, Ordering::Relaxed);
        let f = if let Some(refresh) = creds.and_then(Credentials::refresh_token) {
            // docker's identity tokens: an OAuth2 refresh_token grant, POSTed as a form.
            let mut form = url.clone();
            form.set_query(None);
            {
                let mut q = form.query_pairs_mut();
                q.append_pair("grant_type", "refresh_token");
                if let Some(service) = service {
                    q.append_pair("service", service);
                }
                q.append_pair("scope", &scopes.join(" "));
                q.append_pair("client_id", "hangar");
                q.append_pair("refresh_token", refresh);
            }
            let body = form.query().unwrap_or_default().as_bytes().to_vec();
            let headers = [(CONTENT_TYPE, "application/x-www-form-urlencoded".to_owned())];
            self.fetch(
                &http,
                &Method::POST,
                &url,
                &headers,
                &body,
                TOKEN_BODY_LIMIT,
                deadline,
            )?
        } else {
            {
                let mut q = url.query_pairs_mut();
                if let Some(service) = service {
                    q.append_pair("service", service);
                }
                for s in &scopes {
                    q.append_pair("scope", s);
                }
                if let Some(c) = creds {
                    q.append_pair("account", &c.username);
                }
            }
            let headers: Vec<(HeaderName, String)> = creds
                .map(|c| (AUTHORIZATION, c.basic_header()))
                .into_iter()
                .collect();
            self.fetch(
                &http,
                &Method::GET,
                &url,
                &headers,
                &[],
                TOKEN_BODY_LIMIT,
                deadline,
            )?
        };
        if !f.status.is_success() {
            return Err(auth_err(status_error(&f).to_string()));
        }
        #[derive(serde::Deserialize)]
        struct TokenResponse {
            #[serde(default)]
            token: String,
            #[serde(default)]
            access_token: String,
            #[serde(default)]
            expires_in: u64,
        }
        let t: TokenResponse = serde_json::from_slice(&f.body)
            .map_err(|e| auth_err(format!("token response: {e}")))?;
        let value = if t.token.is_empty() {
            t.access_token
        } else {
            t.token
        };
        if value.is_empty() {
            return Err(auth_err("token response has no token".into()));
        }
        // Tokens live at least 60 s (distribution's default); renew 5 s early.
        let life = Duration::from_secs(t.expires_in.max(60)).saturating_sub(Duration::from_secs(5));
        Ok(Token {
            value,
            expires: started + life,
        })
    }

    /// One GET with retries: 429 (honouring `Retry-After`), 5xx and broken connections or
    /// bodies, all within the deadline. The body is read up to `limit` bytes.
    #[allow(clippy::too_many_arguments)]
    fn fetch(
        &self,
        http: &Http,
        method: &Method,
        url: &Url,
        headers: &[(HeaderName, String)],
        body: &[u8],
        limit: u64,
        deadline: Deadline,
    ) -> Result<Fetched, Error> {
        self.fetch_with(
            http,
            method,
            url,
            headers,
            body,
            limit,
            deadline,
            MAX_TRANSIENT_ATTEMPTS,
        )
    }

    /// [`Client::fetch`] with at most `transient_attempts` tries on 5xx and broken connections.
    #[allow(clippy::too_many_arguments)]
    fn fetch_with(
        &self,
        http: &Http,
        method: &Method,
        url: &Url,
        headers: &[(HeaderName, String)],
        body: &[u8],
        limit: u64,
        deadline: Deadline,
        transient_attempts: u32,
    ) -> Result<Fetched, Error> {
        let request = format!("{method} {url}");
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let Some(timeout) = deadline.request_timeout() else {
                return Err(Error::Timeout { request });
            };
            let mut req = http.request(method.clone(), url.clone()).timeout(timeout);
            if !body.is_empty() || *method == Method::PUT || *method == Method::POST {
                req = req.body(body.to_vec());
            }
            for (k, v) in headers {
                req = req.header(k, v);
            }
            self.requests.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(url = %url, attempt, "{method}");
            let result = req
                .send()
                .map_err(|e| transport_error(&request, &e))
                .and_then(|resp| {
                    let status = resp.status();
                    let limit = if status.is_success() {
                        limit
                    } else {
                        ERROR_BODY_LIMIT
                    };
                    let headers = resp.headers().clone();
                    let request = format!("{method} {}", resp.url());
                    let body = if *method == Method::HEAD {
                        Vec::new()
                    } else {
                        read_limited(resp, limit, &request)?
                    };
                    Ok(Fetched {
                        status,
                        headers,
                        body,
                        request,
                    })
                });
            let wait = match &result {
                Ok(f)
                    if f.status == StatusCode::TOO_MANY_REQUESTS && attempt < MAX_429_ATTEMPTS =>
                {
                    Some(retry_after(&f.headers).unwrap_or_else(|| {
                        backoff(attempt, Duration::from_secs(2), Duration::from_secs(60))
                    }))
                }
                Ok(f) if f.status.is_server_error() && attempt < transient_attempts => Some(
                    backoff(attempt, Duration::from_millis(200), Duration::from_secs(5)),
                ),
                Err(Error::Transport { .. }) if attempt < transient_attempts => Some(backoff(
                    attempt,
                    Duration::from_millis(100),
                    Duration::from_secs(5),
                )),
                _ => None,
            };
            match wait {
                Some(w) if deadline.allows(w) => {
                    if let Ok(f) = &result {
                        tracing::debug!(url = %url, status = f.status.as_u16(), wait_ms = w.as_millis() as u64, "retrying");
                    }
                    std::thread::sleep(w);
                }
                _ => {
                    if let Ok(f) = &result {
                        tracing::debug!(url = %url, status = f.status.as_u16(), bytes = f.body.len(), "response");
                    }
                    return result;
                }
            }
        }
    }
}

/// Loopback and `localhost` are never proxied, whatever `NO_PROXY` says (Go's net/http rule,
/// which containers/image and upstream hangar inherit): a registry on this machine must not
/// see its requests, and their `Authorization` headers, sent through a proxy.
const NEVER_PROXIED: &str = "localhost,127.0.0.0/8,::1";

/// The proxies the environment names, read as Go's `ProxyFromEnvironment` reads them:
/// `HTTPS_PROXY` for https URLs, `HTTP_PROXY` for http URLs (ignored in a CGI process, where
/// a client could set it), lower-case forms too, and `NO_PROXY` plus [`NEVER_PROXIED`].
fn env_proxies() -> Result<Vec<reqwest::Proxy>, Error> {
    proxies_from(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
}

fn proxies_from(var: impl Fn(&str) -> Option<String>) -> Result<Vec<reqwest::Proxy>, Error> {
    let either = |upper: &str, lower: &str| var(upper).or_else(|| var(lower));
    let no_proxy = match either("NO_PROXY", "no_proxy") {
        Some(list) => format!("{list},{NEVER_PROXIED}"),
        None => NEVER_PROXIED.to_owned(),
    };
    let cgi = var("REQUEST_METHOD").is_some();
    let mut out = Vec::new();
    let bad = |name: &str, e: reqwest::Error| Error::Setup(format!("{name}: {}", flatten(&e)));
    if let Some(url) = either("HTTPS_PROXY", "https_proxy") {
        out.push(
            reqwest::Proxy::https(url.as_str())
                .map_err(|e| bad("HTTPS_PROXY", e))?
                .no_proxy(reqwest::NoProxy::from_string(&no_proxy)),
        );
    }
    if let Some(url) = either("HTTP_PROXY", "http_proxy").filter(|_| !cgi) {
        out.push(
            reqwest::Proxy::http(url.as_str())
                .map_err(|e| bad("HTTP_PROXY", e))?
                .no_proxy(reqwest::NoProxy::from_string(&no_proxy)),
        );
    }
    Ok(out)
}

fn backoff(attempt: u32, first: Duration, cap: Duration) -> Duration {
    first.saturating_mul(1 << (attempt - 1).min(16)).min(cap)
}

/// `Retry-After` as seconds or an HTTP date, capped at 60 s.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let d = match v.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => httpdate_to_system_time(v)?
            .duration_since(SystemTime::now())
            .unwrap_or_default(),
    };
    Some(d.min(Duration::from_secs(60)))
}

/// Parses the IMF-fixdate form (`Sun, 06 Nov 1994 08:49:37 GMT`), the only one servers
/// must send.
fn httpdate_to_system_time(s: &str) -> Option<SystemTime> {
    let parts: Vec<&str> = s.split_whitespace().collect();
    let [_, day, month, year, time, "GMT"] = parts.as_slice() else {
        return None;
    };
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| m == month)? as i64
        + 1;
    let (day, year): (i64, i64) = (day.parse().ok()?, year.parse().ok()?);
    let hms: Vec<i64> = time
        .split(':')
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    let [h, m, sec] = hms.as_slice() else {
        return None;
    };
    // Days from civil (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + m * 60 + sec;
    u64::try_from(secs)
        .ok()
        .map(|s| SystemTime::UNIX_EPOCH + Duration::from_secs(s))
}

fn transport_error(request: &str, e: &reqwest::Error) -> Error {
    if e.is_timeout() {
        Error::Timeout {
            request: request.to_owned(),
        }
    } else {
        Error::Transport {
            request: request.to_owned(),
            message: flatten(e),
        }
    }
}

fn read_limited(
    resp: reqwest::blocking::Response,
    limit: u64,
    request: &str,
) -> Result<Vec<u8>, Error> {
    if resp.content_length().is_some_and(|n| n > limit) {
        return Err(Error::TooLarge {
            request: request.to_owned(),
            limit,
        });
    }
    let mut body = Vec::new();
    resp.take(limit + 1).read_to_end(&mut body).map_err(|e| {
        let timed_out =
            e.kind() == std::io::ErrorKind::TimedOut || flatten(&e).contains("timed out");
        if timed_out {
            Error::Timeout {
                request: request.to_owned(),
            }
        } else {
            Error::Transport {
                request: request.to_owned(),
                message: format!("reading body: {}", flatten(&e)),
            }
        }
    })?;
    if body.len() as u64 > limit {
        return Err(Error::TooLarge {
            request: request.to_owned(),
            limit,
        });
    }
    Ok(body)
}

/// The first challenge we can answer (Bearer or Basic).
fn first_supported(headers: &HeaderMap) -> Option<Challenge> {
    headers
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(challenge::parse)
        .find(|c| c.scheme == "bearer" || c.scheme == "basic")
}

/// The registry's `{"errors":[{"code","message"}]}` as text.
fn error_detail(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Errors {
        errors: Vec<ErrorItem>,
    }
    #[derive(serde::Deserialize)]
    struct ErrorItem {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    match serde_json::from_slice::<Errors>(body) {
        Ok(e) => e
            .errors
            .iter()
            .map(|i| match (i.code.is_empty(), i.message.is_empty()) {
                (false, false) => format!("{}: {}", i.code, i.message),
                (false, true) => i.code.clone(),
                _ => i.message.clone(),
            })
            .collect::<Vec<_>>()
            .join("; "),
        Err(_) => String::new(),
    }
}

fn status_error(f: &Fetched) -> Error {
    let detail = error_detail(&f.body);
    if f.status == StatusCode::NOT_FOUND {
        Error::NotFound {
            request: f.request.clone(),
            detail,
        }
    } else {
        Error::Status {
            request: f.request.clone(),
            status: f.status.as_u16(),
            detail,
        }
    }
}

/// `Content-Type` without parameters; when absent or generic, the body's `mediaType`.
fn media_type_of(headers: &HeaderMap, body: &[u8]) -> String {
    let header = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().trim().to_owned())
        .unwrap_or_default();
    let generic = header.is_empty()
        || header == "text/plain"
        || header == "application/json"
        || header == "application/octet-stream";
    if !generic {
        return header;
    }
    #[derive(serde::Deserialize)]
    struct Sniff {
        #[serde(rename = "mediaType", default)]
        media_type: String,
        #[serde(rename = "schemaVersion", default)]
        schema_version: u32,
        #[serde(default)]
        manifests: Option<serde::de::IgnoredAny>,
    }
    match serde_json::from_slice::<Sniff>(body) {
        Ok(s) if !s.media_type.is_empty() => s.media_type,
        Ok(s) if s.schema_version == 1 => media_type::DOCKER_SCHEMA1_SIGNED.to_owned(),
        Ok(s) if s.manifests.is_some() => media_type::OCI_INDEX.to_owned(),
        Ok(_) => media_type::OCI_MANIFEST.to_owned(),
        Err(_) => header,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, "3".parse().expect("header"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
        h.insert(RETRY_AFTER, "999".parse().expect("header"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(60)));
        h.insert(
            RETRY_AFTER,
            "Sun, 06 Nov 1994 08:49:37 GMT".parse().expect("header"),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
        assert_eq!(
            httpdate_to_system_time("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777))
        );
        h.insert(RETRY_AFTER, "soon".parse().expect("header"));
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn backoff_is_bounded() {
        let two = Duration::from_secs(2);
        let cap = Duration::from_secs(60);
        let got: Vec<u64> = (1..=7).map(|a| backoff(a, two, cap).as_secs()).collect();
        assert_eq!(got, [2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(backoff(200, two, cap), cap);
    }

    #[test]
    fn error_bodies() {
        assert_eq!(
            error_detail(br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"x"}}]}"#),
            "MANIFEST_UNKNOWN: manifest unknown"
        );
        assert_eq!(error_detail(b"<html>"), "");
    }

    #[test]
    fn media_types() {
        let mut h = HeaderMap::new();
        h.insert(
            CONTENT_TYPE,
            "application/vnd.oci.image.index.v1+json; charset=utf-8"
                .parse()
                .expect("h"),
        );
        assert_eq!(media_type_of(&h, b"{}"), media_type::OCI_INDEX);
        let none = HeaderMap::new();
        assert_eq!(
            media_type_of(&none, br#"{"schemaVersion":1}"#),
            media_type::DOCKER_SCHEMA1_SIGNED
        );
        assert_eq!(media_type_of(&none, br#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json"}"#), media_type::DOCKER_MANIFEST);
    }

    #[test]
    fn client_is_shareable() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Client>();
    }
}
