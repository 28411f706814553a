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

/// An exact value or an unanchored regular expression (cosign's rules), or one of
/// containers/image's policy.json rules.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Matcher {
    /// Equal to this string.
    Exact(String),
    /// Matched (anywhere) by this expression.
    Regex(regex::Regex),
    /// An email SAN equal to this (policy.json `subjectEmail`).
    Email(String),
    /// A DNS SAN valid for this host name, one `*.` wildcard label allowed (policy.json
    /// `subjectHostname`, Go's `VerifyHostname`).
    Hostname(String),
    /// Every one of these.
    AllOf(Vec<Matcher>),
    /// Anything, even nothing (an issuer rule that `pki` does not have).
    Any,
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
            Matcher::Exact(s) | Matcher::Email(s) => s == value,
            Matcher::Regex(r) => r.is_match(value),
            Matcher::Hostname(h) => hostname_matches(value, h),
            Matcher::AllOf(all) => all.iter().all(|m| m.matches(value)),
            Matcher::Any => true,
        }
    }

    /// Whether the certificate's SANs satisfy this subject rule.
    fn subject_ok(&self, leaf: &Leaf) -> bool {
        match self {
            Matcher::Email(e) => leaf.emails.iter().any(|x| x == e),
            Matcher::Hostname(h) => leaf.dns_names.iter().any(|d| hostname_matches(d, h)),
            Matcher::AllOf(all) => all.iter().all(|m| m.subject_ok(leaf)),
            Matcher::Any => true,
            m => leaf.sans.iter().any(|s| m.matches(s)),
        }
    }
}

/// A DNS SAN `pattern` (possibly `*.domain`) valid for `host`, case-insensitively.
fn hostname_matches(pattern: &str, host: &str) -> bool {
    let (pattern, host) = (pattern.to_ascii_lowercase(), host.to_ascii_lowercase());
    let host = host.trim_end_matches('.');
    match pattern.strip_prefix("*.") {
        Some(domain) => host
            .split_once('.')
            .is_some_and(|(label, rest)| !label.is_empty() && rest == domain),
        None => pattern == host,
    }
}

impl std::fmt::Display for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Matcher::Exact(s) => write!(f, "{s:?}"),
            Matcher::Regex(r) => write!(f, "/{}/", r.as_str()),
            Matcher::Email(e) => write!(f, "email {e:?}"),
            Matcher::Hostname(h) => write!(f, "host name {h:?}"),
            Matcher::AllOf(all) => {
                let parts: Vec<String> = all.iter().map(ToString::to_string).collect();
                write!(f, "{}", parts.join(" and "))
            }
            Matcher::Any => f.write_str("anything"),
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
        if !id.subject.subject_ok(leaf) {
            reasons.push(format!(
                "subject alternative name {} does not match {}",
                show(&leaf.sans),
                id.subject
            ));
            continue;
        }
        let issuer = leaf.issuer.as_deref().unwrap_or_default();
        if !matches!(id.issuer, Matcher::Any)
            && (leaf.issuer.is_none() || !id.issuer.matches(issuer))
        {
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
