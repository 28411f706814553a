//! Docker image references (`name[:tag][@digest]`) and content digests, parsed the way
//! containers/image (`docker/distribution/reference`) parses them.
//!
//! Every other hangar crate takes a parsed [`Reference`] or [`Digest`] instead of a string,
//! so a value of these types is always valid.
//!
//! ```
//! use hangar_reference::Reference;
//!
//! let r = Reference::parse_normalized("nginx:1.27")?;
//! assert_eq!(r.to_string(), "docker.io/library/nginx:1.27");
//! assert_eq!(r.name(), "docker.io/library/nginx");
//! assert_eq!(r.tag(), Some("1.27"));
//! # Ok::<(), hangar_reference::ParseError>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod digest;
mod grammar;

use std::fmt;

pub use digest::{Algorithm, Digest, DigestError};

/// The registry that short names such as `nginx` refer to.
pub const DEFAULT_DOMAIN: &str = "docker.io";
const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
const OFFICIAL_REPO_PREFIX: &str = "library/";
const NAME_TOTAL_LENGTH_MAX: usize = 255;

/// Why a string is not a valid reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The string is empty.
    #[error("repository name must have at least one component")]
    NameEmpty,
    /// The string does not follow `name[:tag][@digest]`.
    #[error("invalid reference format: {0:?}")]
    InvalidFormat(String),
    /// The repository path has upper-case letters.
    #[error("invalid reference format: repository name ({0}) must be lowercase")]
    Uppercase(String),
    /// `domain/path` is longer than 255 characters.
    #[error("repository name must not be more than 255 characters: {0:?}")]
    NameTooLong(String),
    /// The tag does not match `[\w][\w.-]{0,127}`.
    #[error("invalid tag format: {0:?}")]
    InvalidTag(String),
    /// The digest is malformed or uses an unknown algorithm.
    #[error("invalid digest {input:?}")]
    InvalidDigest {
        /// The digest as written.
        input: String,
        /// What is wrong with it.
        #[source]
        source: DigestError,
    },
    /// `parse_named`: the string is valid but not in canonical form (`busybox` for
    /// `docker.io/library/busybox`).
    #[error("invalid reference format: repository name must be canonical")]
    NotCanonical,
    /// A 64-hex-character string, which would be mistaken for an image ID.
    #[error("invalid repository name ({0}), cannot specify 64-byte hexadecimal strings")]
    HexIdentifier(String),
}

/// Whether `s` is a registry host the grammar accepts: `host[:port]` (`reg.io`,
/// `127.0.0.1:5000`, `localhost`).
pub fn is_valid_domain(s: &str) -> bool {
    grammar::is_domain(s)
}

/// Whether `s` is one or more `/`-separated lower-case repository path components
/// (`library`, `rancher/mirror`).
pub fn is_valid_path(s: &str) -> bool {
    !s.is_empty() && s.split('/').all(grammar::is_path_component)
}

/// A normalized docker reference: domain, repository path and an optional tag and digest.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl Reference {
    /// Parses `s` as docker's `ParseNormalizedNamed` does: a first component without `.` or
    /// `:` (and not `localhost`) is a path on `docker.io`, and single-component docker.io
    /// names get `library/`.
    pub fn parse_normalized(s: &str) -> Result<Reference, ParseError> {
        if s.is_empty() {
            return Err(ParseError::NameEmpty);
        }
        if grammar::is_hex_identifier(s) {
            return Err(ParseError::HexIdentifier(s.to_owned()));
        }
        let (domain, remainder) = split_docker_domain(s);
        let (name_part, _, _) = grammar::split_name_tag_digest(&remainder);
        if name_part.to_ascii_lowercase() != name_part {
            return Err(ParseError::Uppercase(name_part.to_owned()));
        }
        let r = Reference::parse_full(&format!("{domain}/{remainder}"))?;
        Ok(r)
    }

    /// Parses `s` as containers/image's `ParseNamed`: like [`Reference::parse_normalized`],
    /// but `s` must already be canonical (`docker.io/library/busybox:latest`, not
    /// `busybox:latest`). `remapIdentity` reads its rewritten references this way.
    pub fn parse_named(s: &str) -> Result<Reference, ParseError> {
        let r = Reference::parse_normalized(s)?;
        if r.to_string() != s {
            return Err(ParseError::NotCanonical);
        }
        Ok(r)
    }

    /// Parses `domain/path[:tag][@digest]` where the domain is already explicit.
    fn parse_full(s: &str) -> Result<Reference, ParseError> {
        let invalid = || ParseError::InvalidFormat(s.to_owned());
        let (name, tag, digest) = grammar::split_name_tag_digest(s);
        if digest.is_some_and(|d| d.contains('@')) {
            return Err(invalid());
        }
        let (domain, path) = name.split_once('/').ok_or_else(invalid)?;
        if !grammar::is_domain(domain) {
            return Err(invalid());
        }
        if !path.split('/').all(grammar::is_path_component) {
            if path.to_ascii_lowercase() != path {
                return Err(ParseError::Uppercase(path.to_owned()));
            }
            return Err(invalid());
        }
        if name.len() > NAME_TOTAL_LENGTH_MAX {
            return Err(ParseError::NameTooLong(name.to_owned()));
        }
        let tag = match tag {
            Some(t) if grammar::is_tag(t) => Some(t.to_owned()),
            Some(t) => return Err(ParseError::InvalidTag(t.to_owned())),
            None => None,
        };
        let digest = match digest {
            Some(d) => Some(d.parse().map_err(|source| ParseError::InvalidDigest {
                input: d.to_owned(),
                source,
            })?),
            None => None,
        };
        Ok(Reference {
            domain: domain.to_owned(),
            path: path.to_owned(),
            tag,
            digest,
        })
    }

    /// The registry host, with its port if any (`docker.io`, `127.0.0.1:5000`).
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The repository path inside the registry (`library/nginx`).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The repository name: `domain/path`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// The tag, if the reference has one.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest, if the reference has one.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// The same repository pinned to `digest`, without a tag.
    pub fn with_digest(&self, digest: Digest) -> Reference {
        Reference {
            domain: self.domain.clone(),
            path: self.path.clone(),
            tag: None,
            digest: Some(digest),
        }
    }

    /// The same repository with `tag` and no digest.
    pub fn with_tag(&self, tag: &str) -> Result<Reference, ParseError> {
        if !grammar::is_tag(tag) {
            return Err(ParseError::InvalidTag(tag.to_owned()));
        }
        Ok(Reference {
            domain: self.domain.clone(),
            path: self.path.clone(),
            tag: Some(tag.to_owned()),
            digest: None,
        })
    }

    /// The repository only: no tag, no digest.
    pub fn repository(&self) -> Reference {
        Reference {
            domain: self.domain.clone(),
            path: self.path.clone(),
            tag: None,
            digest: None,
        }
    }

    /// What a registry request names this image by: the digest if any, else the tag, else
    /// `latest`.
    pub fn request_ref(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => "latest".to_owned(),
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.domain, self.path)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Reference {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Reference::parse_normalized(s)
    }
}

/// docker's `splitDockerDomain`: decides whether the first component is a registry.
fn split_docker_domain(s: &str) -> (String, String) {
    let (domain, remainder) = match s.split_once('/') {
        Some((first, rest))
            // containers/image's copy of the grammar: an upper-case first component is a
            // (refused) path on docker.io, not a host as in distribution/reference >= 0.6.
            if first.contains(['.', ':']) || first == "localhost" =>
        {
            (first.to_owned(), rest.to_owned())
        }
        _ => (DEFAULT_DOMAIN.to_owned(), s.to_owned()),
    };
    let domain = if domain == LEGACY_DEFAULT_DOMAIN {
        DEFAULT_DOMAIN.to_owned()
    } else {
        domain
    };
    let remainder = if domain == DEFAULT_DOMAIN && !remainder.contains('/') {
        format!("{OFFICIAL_REPO_PREFIX}{remainder}")
    } else {
        remainder
    };
    (domain, remainder)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(input: &str, expected: &str) {
        let got = match Reference::parse_normalized(input) {
            Ok(r) => r.to_string(),
            Err(e) => format!("error: {e}"),
        };
        assert_eq!(got, expected, "input {input:?}");
    }

    const D: &str = "sha256:9d787d7bfc4d7b2f3d15e7a1e31329166fc3adbc938a52590056b8b3cc8e6ac4";

    #[test]
    fn normalizes() {
        check("nginx", "docker.io/library/nginx");
        check("nginx:1.0", "docker.io/library/nginx:1.0");
        check("library/nginx", "docker.io/library/nginx");
        check("index.docker.io/nginx", "docker.io/library/nginx");
        check("docker.io/nginx", "docker.io/library/nginx");
        check("a/b/c:tag", "docker.io/a/b/c:tag");
        check("localhost/x", "localhost/x");
        check("localhost:5000/x:1", "localhost:5000/x:1");
        check(
            "127.0.0.1:5000/fixtures/single:v1",
            "127.0.0.1:5000/fixtures/single:v1",
        );
        check(&format!("reg.io/a/b@{D}"), &format!("reg.io/a/b@{D}"));
        check(&format!("reg.io/a/b:t@{D}"), &format!("reg.io/a/b:t@{D}"));
        // containers/image's grammar: no IPv6 hosts, no upper-case first component as a host.
        check(
            "[::1]:5000/a/b",
            "error: invalid reference format: \"[::1]:5000/a/b\"",
        );
        check(
            "Foo/bar",
            "error: invalid reference format: repository name (Foo/bar) must be lowercase",
        );
        assert_eq!(
            Reference::parse_named("docker.io/library/busybox:1").map(|r| r.to_string()),
            Ok("docker.io/library/busybox:1".to_owned())
        );
        assert_eq!(
            Reference::parse_named("busybox:1"),
            Err(ParseError::NotCanonical)
        );
        check("Reg.IO/a", "Reg.IO/a");
        check(
            "a__b/c-d/e.f_g--h:T_1.x-",
            "docker.io/a__b/c-d/e.f_g--h:T_1.x-",
        );
    }

    #[test]
    fn rejects() {
        check(
            "",
            "error: repository name must have at least one component",
        );
        check(
            "docker.io/Nginx",
            "error: invalid reference format: repository name (library/Nginx) must be lowercase",
        );
        check(
            "NGINX",
            "error: invalid reference format: repository name (library/NGINX) must be lowercase",
        );
        check("nginx:", "error: invalid tag format: \"\"");
        check("nginx:-x", "error: invalid tag format: \"-x\"");
        check(
            &format!("nginx:{}", "a".repeat(129)),
            &format!("error: invalid tag format: \"{}\"", "a".repeat(129)),
        );
        check(
            "a//b",
            "error: invalid reference format: \"docker.io/a//b\"",
        );
        check(
            "a/b_",
            "error: invalid reference format: \"docker.io/a/b_\"",
        );
        check(
            "a/___b",
            "error: invalid reference format: \"docker.io/a/___b\"",
        );
        check(
            "reg.io/a@sha256:abc",
            "error: invalid digest \"sha256:abc\"",
        );
        check(
            "reg.io/a@md5:d41d8cd98f00b204e9800998ecf8427e",
            "error: invalid digest \"md5:d41d8cd98f00b204e9800998ecf8427e\"",
        );
        check(
            "a@b@c",
            "error: invalid reference format: \"docker.io/library/a@b@c\"",
        );
        check(
            &"a".repeat(64).replace('a', "e"),
            "error: invalid repository name (eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee), cannot specify 64-byte hexadecimal strings",
        );
        check(
            "bad host!/a",
            "error: invalid reference format: \"docker.io/bad host!/a\"",
        );
        check(
            "a b",
            "error: invalid reference format: \"docker.io/library/a b\"",
        );
    }

    #[test]
    fn name_length_limit() {
        let long = format!("reg.io/{}", "a".repeat(250));
        assert!(matches!(
            Reference::parse_normalized(&long),
            Err(ParseError::NameTooLong(_))
        ));
        let ok = format!("reg.io/{}", "a".repeat(248));
        assert_eq!(
            Reference::parse_normalized(&ok).map(|r| r.name().len()),
            Ok(255)
        );
    }

    #[test]
    fn parts_and_rewrites() {
        let r = Reference::parse_normalized(&format!("127.0.0.1:5000/fixtures/multi:v1@{D}"))
            .expect("valid");
        assert_eq!(r.domain(), "127.0.0.1:5000");
        assert_eq!(r.path(), "fixtures/multi");
        assert_eq!(r.tag(), Some("v1"));
        assert_eq!(r.digest().map(ToString::to_string).as_deref(), Some(D));
        assert_eq!(r.request_ref(), D);
        assert_eq!(r.repository().to_string(), "127.0.0.1:5000/fixtures/multi");
        assert_eq!(r.repository().request_ref(), "latest");
        assert_eq!(
            r.with_tag("v2").map(|r| r.to_string()),
            Ok("127.0.0.1:5000/fixtures/multi:v2".to_owned())
        );
    }

    #[test]
    fn round_trips() {
        for s in [
            "nginx",
            "a/b/c:tag",
            "localhost:5000/x/y:z",
            "reg.io/a/b.c/d",
        ] {
            let once = Reference::parse_normalized(s).expect("valid").to_string();
            let twice = Reference::parse_normalized(&once)
                .expect("valid")
                .to_string();
            assert_eq!(once, twice);
        }
    }
}
