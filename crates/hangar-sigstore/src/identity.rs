//! Certificate identity rules, with cosign's flags and meaning: `--certificate-identity`
//! (`-regexp`), `--certificate-oidc-issuer` (`-regexp`) and the GitHub workflow claims.
//!
//! As cosign and sigstore-go do: the identity matches when any subject alternative name
//! (email, URI, DNS name, IP address, Fulcio username) equals the value, or matches the
//! regular expression; a regular expression is not anchored (Go's `MatchString`: it matches
//! anywhere in the value unless it says `^…$`); the issuer is extension
//! 1.3.6.1.4.1.57264.1.8, else .1.1. Several identities may be given: any one that matches
//! in full (identity, issuer and every claim it names) accepts the certificate.

use crate::cert::{GithubClaims, Leaf};

/// An exact value or an unanchored regular expression.
#[derive(Debug, Clone)]
pub enum Matcher {
    /// Equal to this string.
    Exact(String),
    /// Matched (anywhere) by this expression.
    Regex(regex::Regex),
}

impl Matcher {
    /// A regular expression matcher; the error is the regex crate's.
    pub fn regex(pattern: &str) -> Result<Matcher, String> {
        regex::Regex::new(pattern)
            .map(Matcher::Regex)
            .map_err(|e| format!("invalid regular expression {pattern:?}: {e}"))
    }

    /// Whether `value` is accepted.
    pub fn matches(&self, value: &str) -> bool {
        match self {
            Matcher::Exact(s) => s == value,
            Matcher::Regex(r) => r.is_match(value),
        }
    }
}

impl std::fmt::Display for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Matcher::Exact(s) => write!(f, "{s:?}"),
            Matcher::Regex(r) => write!(f, "/{}/", r.as_str()),
        }
    }
}

/// One acceptable signer identity.
#[derive(Debug, Clone)]
pub struct CertificateIdentity {
    /// The subject alternative name rule.
    pub subject: Matcher,
    /// The OIDC issuer rule.
    pub issuer: Matcher,
    /// GitHub workflow claims that must be equal, when given.
    pub github: GithubClaims,
}

/// Why a certificate's identity was refused.
pub(crate) fn check(identities: &[CertificateIdentity], leaf: &Leaf) -> Result<(), String> {
    if identities.is_empty() {
        return Err("no certificate identity rule is configured".into());
    }
    let mut reasons = Vec::new();
    for id in identities {
        if !leaf.sans.iter().any(|s| id.subject.matches(s)) {
            reasons.push(format!(
                "subject alternative name {} does not match {}",
                show(&leaf.sans),
                id.subject
            ));
            continue;
        }
        let issuer = leaf.issuer.as_deref().unwrap_or_default();
        if leaf.issuer.is_none() || !id.issuer.matches(issuer) {
            reasons.push(format!(
                "OIDC issuer {issuer:?} does not match {}",
                id.issuer
            ));
            continue;
        }
        let claims = [
            ("trigger", &id.github.trigger, &leaf.github.trigger),
            ("sha", &id.github.sha, &leaf.github.sha),
            ("name", &id.github.name, &leaf.github.name),
            ("repository", &id.github.repository, &leaf.github.repository),
            ("ref", &id.github.git_ref, &leaf.github.git_ref),
        ];
        if let Some((claim, want, got)) = claims
            .iter()
            .find(|(_, want, got)| want.as_ref().is_some_and(|w| got.as_ref() != Some(w)))
        {
            reasons.push(format!(
                "GitHub workflow {claim} {:?} is not {:?}",
                got.as_deref().unwrap_or_default(),
                want.as_deref().unwrap_or_default()
            ));
            continue;
        }
        return Ok(());
    }
    Err(reasons.join("; "))
}

fn show(sans: &[String]) -> String {
    match sans {
        [] => "(none)".to_owned(),
        [one] => format!("{one:?}"),
        many => format!("{many:?}"),
    }
}
