//! The `signedIdentity` rules of containers-policy.json(5): does the identity a signature
//! claims (`critical.identity.docker-reference`) fit the image being validated?
//!
//! Pure functions over parsed references: this crate does no I/O.
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
        }
    }
}

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
