//! The `signedIdentity` rules of containers-policy.json(5): does the identity a signature
//! claims (`critical.identity.docker-reference`) fit the image being validated?
//!
//! Pure functions over parsed references, and containers-policy.json parsing from bytes:
//! this crate does no I/O.
//!
//! ```
//! use hangar_policy::SignedIdentity;
//! use hangar_reference::Reference;
//!
//! let intended = Reference::parse_normalized("mirror.local/fixtures/multi:v1")?;
//! let signed_as = "127.0.0.1:5000/fixtures/multi:v1";
//! assert!(!SignedIdentity::MatchRepoDigestOrExact.matches(&intended, signed_as));
//! let exact = SignedIdentity::exact_repository("127.0.0.1:5000/fixtures/multi")?;
//! assert!(exact.matches(&intended, signed_as));
//! # Ok::<(), hangar_reference::ParseError>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod file;
mod strict_json;

pub use file::{Fulcio, KeySource, Pki, Policy, PolicyError, Requirement};
use hangar_reference::{ParseError, Reference};

/// How a signature's claimed identity must relate to the image being validated.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignedIdentity {
    /// `matchExact`: both references carry a tag or digest and are equal.
    MatchExact,
    /// `matchRepoDigestOrExact`: a tagged image needs the exact reference; an image named by
    /// digest only needs the same repository (the digest itself is checked separately).
    MatchRepoDigestOrExact,
    /// `matchRepository`: the same repository, whatever the tag or digest.
    MatchRepository,
    /// `exactReference`: the signature names exactly this reference (tag or digest required).
    ExactReference(Reference),
    /// `exactRepository`: the signature names this repository, with any tag or digest. This
    /// is how mirrored images validate: their signatures keep naming the original repository.
    ExactRepository(Reference),
    /// `remapIdentity`: when the image's reference starts with `prefix` (a whole host, or
    /// host/path components), that part is replaced by `signed_prefix`, and the result is
    /// matched with `matchRepoDigestOrExact`. Build it with [`SignedIdentity::remap_identity`].
    RemapIdentity {
        /// What the image's reference starts with (e.g. the mirror).
        prefix: String,
        /// What the signatures name instead (e.g. the original registry).
        signed_prefix: String,
    },
}

impl SignedIdentity {
    /// `exactRepository` with `repository` (normalized; a tag or digest in it is ignored).
    pub fn exact_repository(repository: &str) -> Result<SignedIdentity, ParseError> {
        Ok(SignedIdentity::ExactRepository(
            Reference::parse_normalized(repository)?.repository(),
        ))
    }

    /// `exactReference` with `reference`, which must carry a tag or a digest.
    pub fn exact_reference(reference: &str) -> Result<SignedIdentity, ParseError> {
        let r = Reference::parse_normalized(reference)?;
        if r.tag().is_none() && r.digest().is_none() {
            return Err(ParseError::InvalidFormat(format!(
                "{reference}: exactReference needs a tag or digest"
            )));
        }
        Ok(SignedIdentity::ExactReference(r))
    }

    /// `remapIdentity` with `prefix` and `signed_prefix`, each checked as containers/image's
    /// `validateIdentityRemappingPrefix` does: a whole domain (`host[:port]`), or a name that
    /// starts with a domain and a `/` (`host/ns`, `docker.io/library`), in the reference
    /// grammar without normalization (`busybox` or `repo_with_underscores` are refused).
    pub fn remap_identity(prefix: &str, signed_prefix: &str) -> Result<SignedIdentity, ParseError> {
        for p in [prefix, signed_prefix] {
            if !valid_remap_prefix(p) {
                return Err(ParseError::InvalidFormat(format!(
                    "{p}: a remapIdentity prefix must be a host[:port] or a host[:port]/path name"
                )));
            }
        }
        Ok(SignedIdentity::RemapIdentity {
            prefix: prefix.to_owned(),
            signed_prefix: signed_prefix.to_owned(),
        })
    }

    /// containers/image's `remapReferencePrefix`: when `intended`'s name is `prefix` or starts
    /// with `prefix/`, the first `prefix` in its string is replaced by `signed_prefix` and the
    /// result must parse as an already canonical reference (`ParseNamed`); otherwise
    /// `intended` is returned unchanged.
    fn remap(
        prefix: &str,
        signed_prefix: &str,
        intended: &Reference,
    ) -> Result<Reference, ParseError> {
        if !ref_matches_prefix(intended, prefix) {
            return Ok(intended.clone());
        }
        let rewritten = intended.to_string().replacen(prefix, signed_prefix, 1);
        Reference::parse_named(&rewritten)
    }

    /// Whether a signature claiming `signed` (as written in its payload) is acceptable for
    /// `intended`. A claim that does not parse as a reference never matches.
    pub fn matches(&self, intended: &Reference, signed: &str) -> bool {
        let Ok(signed) = Reference::parse_normalized(signed) else {
            return false;
        };
        let name_only = |r: &Reference| r.tag().is_none() && r.digest().is_none();
        match self {
            SignedIdentity::MatchExact => {
                !name_only(intended) && !name_only(&signed) && signed == *intended
            }
            SignedIdentity::MatchRepoDigestOrExact => {
                if name_only(&signed) {
                    false
                } else if intended.tag().is_some() {
                    signed == *intended
                } else if intended.digest().is_some() {
                    signed.name() == intended.name()
                } else {
                    false
                }
            }
            SignedIdentity::MatchRepository => signed.name() == intended.name(),
            SignedIdentity::ExactReference(r) => !name_only(&signed) && signed == *r,
            SignedIdentity::ExactRepository(r) => signed.name() == r.name(),
            SignedIdentity::RemapIdentity {
                prefix,
                signed_prefix,
            } => match SignedIdentity::remap(prefix, signed_prefix, intended) {
                Ok(r) => SignedIdentity::MatchRepoDigestOrExact.matches(&r, &signed.to_string()),
                Err(_) => false,
            },
        }
    }
}

/// containers/image's `refMatchesPrefix`: the reference's name is `prefix` or starts with
/// `prefix/`. Only the name is compared, so the only separator is '/': a prefix `example.com`
/// never matches `example.com:5000/…`.
fn ref_matches_prefix(r: &Reference, prefix: &str) -> bool {
    let name = r.name();
    name == prefix
        || (name.len() > prefix.len()
            && name.starts_with(prefix)
            && name.as_bytes()[prefix.len()] == b'/')
}

/// containers/image's `validateIdentityRemappingPrefix`: `^domain$`, or `^name$` that also
/// starts with `domain/` (domain: `host[:port]`, upper case allowed; name: lower-case path
/// components).
fn valid_remap_prefix(s: &str) -> bool {
    if hangar_reference::is_valid_domain(s) {
        return true;
    }
    match s.split_once('/') {
        Some((domain, path)) => {
            hangar_reference::is_valid_domain(domain) && hangar_reference::is_valid_path(path)
        }
        None => false,
    }
}

#[cfg(test)]
mod containers_image_tests;

#[cfg(test)]
mod tests {
    use super::*;

    const D1: &str = "sha256:9d787d7bfc4d7b2f3d15e7a1e31329166fc3adbc938a52590056b8b3cc8e6ac4";
    const D2: &str = "sha256:7ab1a333e3b89055397a7e5cdf586e8f8c904157eadff7dd9202fb470b897170";

    #[track_caller]
    fn check(rule: &SignedIdentity, intended: &str, signed: &str, expected: bool) {
        let intended = Reference::parse_normalized(intended).expect("valid intended");
        assert_eq!(
            rule.matches(&intended, signed),
            expected,
            "{rule:?}: {intended} vs {signed}"
        );
    }

    #[test]
    fn match_repo_digest_or_exact() {
        let m = &SignedIdentity::MatchRepoDigestOrExact;
        check(m, "reg.io/a/b:v1", "reg.io/a/b:v1", true);
        check(m, "docker.io/library/busybox:1", "busybox:1", true);
        check(m, "reg.io/a/b:v1", "reg.io/a/b:v2", false);
        check(m, "reg.io/a/b:v1", "reg.io/a/b", false);
        check(m, "reg.io/a/b:v1", &format!("reg.io/a/b@{D1}"), false);
        check(m, "reg.io/a/b:v1", "other.io/a/b:v1", false);
        check(
            m,
            "127.0.0.1:5001/fixtures/single:v1",
            "127.0.0.1:5000/fixtures/single:v1",
            false,
        );
        check(
            m,
            &format!("reg.io/a/b@{D1}"),
            &format!("reg.io/a/b@{D2}"),
            true,
        );
        check(m, &format!("reg.io/a/b@{D1}"), "reg.io/a/b:v1", true);
        check(m, &format!("reg.io/a/b@{D1}"), "reg.io/a/b", false);
        check(m, &format!("reg.io/a/b@{D1}"), "reg.io/a/c:v1", false);
        check(m, "reg.io/a/b", "reg.io/a/b:latest", false);
        check(m, "reg.io/a/b:v1", "not a reference", false);
        check(m, "reg.io/a/b:v1", "REG.IO/A/B:v1", false);
    }

    #[test]
    fn exact_repository() {
        let e = SignedIdentity::exact_repository("127.0.0.1:5000/fixtures/multi").expect("valid");
        check(
            &e,
            "mirror.io/x/multi:v1",
            "127.0.0.1:5000/fixtures/multi:v1",
            true,
        );
        check(
            &e,
            &format!("mirror.io/x/multi@{D1}"),
            &format!("127.0.0.1:5000/fixtures/multi@{D2}"),
            true,
        );
        check(
            &e,
            "mirror.io/x/multi:v1",
            "127.0.0.1:5000/fixtures/multi",
            true,
        );
        check(
            &e,
            "mirror.io/x/multi:v1",
            "127.0.0.1:5000/fixtures/other:v1",
            false,
        );
        check(
            &e,
            "127.0.0.1:5000/fixtures/multi:v1",
            "127.0.0.1:5001/fixtures/multi:v1",
            false,
        );
        let with_tag =
            SignedIdentity::exact_repository("docker.io/user/alpine:latest").expect("valid");
        check(
            &with_tag,
            "reg.io/user/alpine:latest",
            "user/alpine:3",
            true,
        );
        assert!(SignedIdentity::exact_repository("Bad/Repo").is_err());
    }

    #[test]
    fn remap_identity() {
        let r = SignedIdentity::remap_identity("mirror.local:5000/rancher", "docker.io/rancher")
            .expect("valid");
        check(
            &r,
            "mirror.local:5000/rancher/rancher:v2.9",
            "docker.io/rancher/rancher:v2.9",
            true,
        );
        check(
            &r,
            "mirror.local:5000/rancher/rancher:v2.9",
            "rancher/rancher:v2.9",
            true,
        );
        check(
            &r,
            "mirror.local:5000/rancher/rancher:v2.9",
            "docker.io/rancher/rancher:v2.8",
            false,
        );
        check(
            &r,
            &format!("mirror.local:5000/rancher/x@{D1}"),
            "docker.io/rancher/x:any",
            true,
        );
        check(
            &r,
            "mirror.local:5000/ranchers/x:1",
            "docker.io/ranchers/x:1",
            false,
        );
        check(
            &r,
            "mirror.local:5000/rancherx/y:1",
            "docker.io/rancherx/y:1",
            false,
        );
        check(
            &r,
            "other.io/rancher/rancher:v2.9",
            "docker.io/rancher/rancher:v2.9",
            false,
        );
        let host = SignedIdentity::remap_identity("mirror.local", "quay.io").expect("valid");
        check(&host, "mirror.local/a/b:1", "quay.io/a/b:1", true);
        check(&host, "mirror.local.evil/a/b:1", "quay.io/a/b:1", false);
        assert!(SignedIdentity::remap_identity("reg.io/a:tag", "x.io").is_err());
        assert!(SignedIdentity::remap_identity("reg.io/A", "x.io").is_err());
    }

    #[test]
    fn other_rules() {
        let x = &SignedIdentity::MatchExact;
        check(x, "reg.io/a/b:v1", "reg.io/a/b:v1", true);
        check(
            x,
            &format!("reg.io/a/b@{D1}"),
            &format!("reg.io/a/b@{D1}"),
            true,
        );
        check(
            x,
            &format!("reg.io/a/b@{D1}"),
            &format!("reg.io/a/b@{D2}"),
            false,
        );
        check(x, "reg.io/a/b", "reg.io/a/b", false);
        let r = &SignedIdentity::MatchRepository;
        check(r, "reg.io/a/b:v1", "reg.io/a/b", true);
        check(r, "reg.io/a/b:v1", "reg.io/a/b:v9", true);
        check(r, "reg.io/a/b:v1", "reg.io/a/c:v1", false);
        let e = SignedIdentity::exact_reference("reg.io/a/b:v1").expect("valid");
        check(&e, "other.io/z:w", "reg.io/a/b:v1", true);
        check(&e, "other.io/z:w", "reg.io/a/b:v2", false);
        assert!(SignedIdentity::exact_reference("reg.io/a/b").is_err());
    }
}
