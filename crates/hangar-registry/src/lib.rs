//! A blocking client for the registry HTTP API v2 (OCI distribution), for pulling what
//! signature validation needs: manifests and small blobs, digest-checked and size-limited.
//!
//! One [`Client`] is shared by reference across threads: it keeps one connection pool, one
//! endpoint per registry (pinged once) and one token per repository scope.
//!
//! ```no_run
//! // no_run: needs a registry on 127.0.0.1:5000.
//! use hangar_registry::{Client, Config, Deadline, TlsVerify};
//! use hangar_reference::Reference;
//!
//! let client = Client::new(Config { tls_verify: TlsVerify::Skip, ..Config::default() })?;
//! let image = Reference::parse_normalized("127.0.0.1:5000/fixtures/single:v1")?;
//! let manifest = client.get_manifest(&image, Deadline::after(std::time::Duration::from_secs(30)))?;
//! println!("{} {}", manifest.media_type, manifest.digest);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod challenge;
mod client;
mod credentials;
pub mod registries_conf;

pub use client::{
    Client, Config, Deadline, Error, MAX_REFERRER_PAGES, Manifest, Referrer, ReferrersSource,
    TlsVerify, sha256,
};
pub use credentials::{CredentialError, CredentialStore, Credentials};

/// Media types of the manifests a registry may serve.
pub mod media_type {
    /// OCI image manifest.
    pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    /// OCI image index.
    pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
    /// Docker image manifest, schema 2.
    pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
    /// Docker manifest list.
    pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
    /// Docker schema 1, signed.
    pub const DOCKER_SCHEMA1_SIGNED: &str =
        "application/vnd.docker.distribution.manifest.v1+prettyjws";
    /// Docker schema 1.
    pub const DOCKER_SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+json";
}

/// The most manifest bytes read from a registry.
pub const MANIFEST_SIZE_LIMIT: u64 = 4 << 20;
