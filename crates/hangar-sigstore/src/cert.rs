//! Fulcio-style leaf certificates: what they claim (SANs, OIDC issuer, GitHub workflow
//! claims), and whether their path leads to a trusted CA at the signing time (built and
//! checked by rustls-webpki, with the code-signing EKU required).

use std::time::Duration;

use der::{Decode, Encode};
use rustls_pki_types::{CertificateDer, UnixTime};
use x509_cert::Certificate;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;

use crate::trust::{CertificateAuthority, TrustedRoot};

/// id-kp-codeSigning (1.3.6.1.5.5.7.3.3), DER content bytes.
const CODE_SIGNING: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x03];
/// 1.3.6.1.4.1.11129.2.4.2: the embedded SCT list, DER content bytes.
pub(crate) const SCT_LIST_OID: &[u8] =
    &[0x2b, 0x06, 0x01, 0x04, 0x01, 0xd6, 0x79, 0x02, 0x04, 0x02];

/// Fulcio's extension arc 1.3.6.1.4.1.57264.1.N.
fn fulcio_oid(n: u32) -> der::asn1::ObjectIdentifier {
    der::asn1::ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1")
        .push_arc(n)
        .unwrap_or(der::asn1::ObjectIdentifier::new_unwrap(
            "1.3.6.1.4.1.57264.1",
        ))
}

/// Checks that `der` is one DER certificate.
pub(crate) fn check_der_certificate(der: &[u8]) -> Result<(), String> {
    Certificate::from_der(der)
        .map(|_| ())
        .map_err(|e| format!("not a DER X.509 certificate: {e}"))
}

/// The GitHub Actions claims Fulcio records (legacy extensions .2 to .6, which cosign's
/// `--certificate-github-workflow-*` flags compare).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GithubClaims {
    /// 1.3.6.1.4.1.57264.1.2: the event that triggered the workflow.
    pub trigger: Option<String>,
    /// 1.3.6.1.4.1.57264.1.3: the commit SHA.
    pub sha: Option<String>,
    /// 1.3.6.1.4.1.57264.1.4: the workflow name.
    pub name: Option<String>,
    /// 1.3.6.1.4.1.57264.1.5: `owner/repo`.
    pub repository: Option<String>,
    /// 1.3.6.1.4.1.57264.1.6: the git ref.
    pub git_ref: Option<String>,
}

/// A parsed leaf certificate.
#[derive(Debug, Clone)]
pub struct Leaf {
    /// The certificate as received.
    pub der: Vec<u8>,
    /// Subject alternative names as strings: emails, URIs, DNS names, IP addresses, and
    /// Fulcio's `OtherName` username (1.3.6.1.4.1.57264.1.7).
    pub sans: Vec<String>,
    /// The OIDC issuer: extension .8 (DER UTF8String) if present, else .1 (raw). A
    /// certificate whose two extensions differ is refused when parsed (as containers/image).
    pub issuer: Option<String>,
    /// The email SANs alone.
    pub emails: Vec<String>,
    /// The DNS SANs alone.
    pub dns_names: Vec<String>,
    /// GitHub workflow claims, when Fulcio recorded them.
    pub github: GithubClaims,
    /// The DER SubjectPublicKeyInfo (what signed the payload).
    pub spki: Vec<u8>,
    /// `notBefore` and `notAfter`, Unix seconds.
    pub not_before: i64,
    /// See `not_before`.
    pub not_after: i64,
    /// The embedded SCT list (TLS-encoded), if any.
    pub(crate) sct_list: Option<Vec<u8>>,
    /// The DER of the issuer's distinguished name.
    pub(crate) issuer_name: Vec<u8>,
}

impl Leaf {
    /// Parses a DER certificate.
    pub fn from_der(der: &[u8]) -> Result<Leaf, String> {
        let cert =
            Certificate::from_der(der).map_err(|e| format!("not a DER X.509 certificate: {e}"))?;
        let tbs = cert.tbs_certificate();
        let mut sans = Vec::new();
        let mut emails = Vec::new();
        let mut dns_names = Vec::new();
        let mut issuer_v1 = None;
        let mut issuer_v2 = None;
        let mut github = GithubClaims::default();
        let mut sct_list = None;
        let raw_string = |v: &[u8]| String::from_utf8_lossy(v).into_owned();
        for ext in tbs.extensions().map(|e| e.as_slice()).unwrap_or_default() {
            let value = ext.extn_value.as_bytes();
            let id = ext.extn_id;
            if id == der::asn1::ObjectIdentifier::new_unwrap("2.5.29.17") {
                let san =
                    SubjectAltName::from_der(value).map_err(|e| format!("subjectAltName: {e}"))?;
                for name in san.0 {
                    match name {
                        GeneralName::Rfc822Name(s) => {
                            emails.push(s.to_string());
                            sans.push(s.to_string());
                        }
                        GeneralName::UniformResourceIdentifier(s) => sans.push(s.to_string()),
                        GeneralName::DnsName(s) => {
                            dns_names.push(s.to_string());
                            sans.push(s.to_string());
                        }
                        GeneralName::IpAddress(ip) => sans.push(ip_string(ip.as_bytes())),
                        GeneralName::OtherName(o) if o.type_id == fulcio_oid(7) => {
                            if let Ok(s) = o.value.decode_as::<der::asn1::Utf8StringRef<'_>>() {
                                sans.push(s.as_str().to_owned());
                            }
                        }
                        _ => {}
                    }
                }
            } else if id == fulcio_oid(1) {
                issuer_v1 = Some(raw_string(value));
            } else if id == fulcio_oid(8) {
                issuer_v2 = Some(
                    der::asn1::Utf8StringRef::from_der(value)
                        .map(|s| s.as_str().to_owned())
                        .map_err(|e| {
                            format!("OIDC issuer extension (1.3.6.1.4.1.57264.1.8): {e}")
                        })?,
                );
            } else if id == fulcio_oid(2) {
                github.trigger = Some(raw_string(value));
            } else if id == fulcio_oid(3) {
                github.sha = Some(raw_string(value));
            } else if id == fulcio_oid(4) {
                github.name = Some(raw_string(value));
            } else if id == fulcio_oid(5) {
                github.repository = Some(raw_string(value));
            } else if id == fulcio_oid(6) {
                github.git_ref = Some(raw_string(value));
            } else if id.as_bytes() == SCT_LIST_OID {
                let inner = der::asn1::OctetString::from_der(value)
                    .map_err(|e| format!("SCT list extension: {e}"))?;
                sct_list = Some(inner.as_bytes().to_vec());
            }
        }
        if let (Some(v1), Some(v2)) = (&issuer_v1, &issuer_v2)
            && v1 != v2
        {
            return Err(format!(
                "the certificate names two different OIDC issuers ({v1:?} and {v2:?})"
            ));
        }
        let spki = tbs
            .subject_public_key_info()
            .to_der()
            .map_err(|e| format!("subjectPublicKeyInfo: {e}"))?;
        let validity = tbs.validity();
        let secs = |t: x509_cert::time::Time| t.to_unix_duration().as_secs() as i64;
        Ok(Leaf {
            der: der.to_vec(),
            sans,
            issuer: issuer_v2.or(issuer_v1),
            emails,
            dns_names,
            github,
            spki,
            not_before: secs(validity.not_before),
            not_after: secs(validity.not_after),
            sct_list,
            issuer_name: tbs.issuer().to_der().map_err(|e| format!("issuer: {e}"))?,
        })
    }

    /// The CA of `root` whose chain verifies this leaf at `time` (Unix seconds): a CA whose
    /// `validFor` holds `time`, a path from the leaf through the CA's intermediates to its
    /// root with every certificate valid at `time`, the code-signing EKU, and a leaf that is
    /// not a CA. Intermediates come from the trusted root, plus `extra_intermediates` (the
    /// signature's own chain, which containers/image's `fulcio` and `pki` use; sigstore-go's
    /// rules use none): an extra certificate can complete a path, never be its anchor.
    pub fn verify_chain<'r>(
        &self,
        root: &'r TrustedRoot,
        time: i64,
        extra_intermediates: &[Vec<u8>],
    ) -> Result<&'r CertificateAuthority, ChainError> {
        let leaf = CertificateDer::from(self.der.as_slice());
        let ee = webpki::EndEntityCert::try_from(&leaf)
            .map_err(|e| ChainError::Malformed(e.to_string()))?;
        let at = UnixTime::since_unix_epoch(Duration::from_secs(time.max(0) as u64));
        let mut worst: Option<ChainError> = None;
        let mut any_ca_in_window = false;
        for ca in &root.certificate_authorities {
            if !ca.valid_for.contains(time) {
                continue;
            }
            any_ca_in_window = true;
            let Some((anchor_der, intermediates)) = ca.chain.split_last() else {
                continue;
            };
            let anchor_cert = CertificateDer::from(anchor_der.as_slice());
            let Ok(anchor) = webpki::anchor_from_trusted_cert(&anchor_cert) else {
                continue;
            };
            let intermediates: Vec<CertificateDer<'_>> = intermediates
                .iter()
                .chain(extra_intermediates)
                .map(|d| CertificateDer::from(d.as_slice()))
                .collect();
            match ee.verify_for_usage(
                webpki::ALL_VERIFICATION_ALGS,
                &[anchor],
                &intermediates,
                at,
                webpki::KeyUsage::required(CODE_SIGNING),
                None,
                None,
            ) {
                Ok(_) => return Ok(ca),
                Err(e) => {
                    let e = ChainError::from_webpki(&e);
                    // Keep the most telling reason: anything beats "unknown issuer".
                    if worst
                        .as_ref()
                        .is_none_or(|w| *w == ChainError::UntrustedRoot)
                    {
                        worst = Some(e);
                    }
                }
            }
        }
        Err(if any_ca_in_window {
            worst.unwrap_or(ChainError::UntrustedRoot)
        } else {
            ChainError::NoCaAtTime
        })
    }

    /// The issuer's certificate in `ca`'s chain (the one whose subject is this leaf's issuer).
    pub(crate) fn issuer_in<'c>(&self, ca: &'c CertificateAuthority) -> Option<&'c [u8]> {
        ca.chain.iter().map(Vec::as_slice).find(|c| {
            Certificate::from_der(c)
                .ok()
                .and_then(|c| c.tbs_certificate().subject().to_der().ok())
                .is_some_and(|s| s == self.issuer_name)
        })
    }
}

/// Whether a certificate names itself as its issuer (a root, or a self-signed leaf).
pub(crate) fn is_self_issued(der: &[u8]) -> bool {
    Certificate::from_der(der).is_ok_and(|c| {
        let t = c.tbs_certificate();
        t.subject().to_der().ok() == t.issuer().to_der().ok()
    })
}

/// The issuer certificate's DER SubjectPublicKeyInfo.
pub(crate) fn spki_of(cert_der: &[u8]) -> Option<Vec<u8>> {
    Certificate::from_der(cert_der)
        .ok()?
        .tbs_certificate()
        .subject_public_key_info()
        .to_der()
        .ok()
}

fn ip_string(b: &[u8]) -> String {
    match b.len() {
        4 => std::net::Ipv4Addr::new(b[0], b[1], b[2], b[3]).to_string(),
        16 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(b);
            std::net::Ipv6Addr::from(a).to_string()
        }
        _ => String::new(),
    }
}

/// Why a certificate path was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChainError {
    /// No CA of the trust material was valid at the signing time.
    #[error("no trusted certificate authority was valid at the signing time")]
    NoCaAtTime,
    /// The path does not end at a trusted root.
    #[error("certificate chain does not lead to a trusted root")]
    UntrustedRoot,
    /// A certificate of the path was expired or not yet valid at the signing time.
    #[error("a certificate of the chain was not valid at the signing time")]
    NotValidAtTime,
    /// The leaf lacks the code-signing extended key usage.
    #[error("the leaf certificate lacks the code-signing extended key usage")]
    NoCodeSigningEku,
    /// The leaf is a CA certificate.
    #[error("the leaf certificate is a CA certificate")]
    LeafIsCa,
    /// Anything else webpki refused.
    #[error("certificate chain refused: {0}")]
    Malformed(String),
}

impl ChainError {
    fn from_webpki(e: &webpki::Error) -> ChainError {
        match e {
            webpki::Error::UnknownIssuer => ChainError::UntrustedRoot,
            webpki::Error::CertExpired { .. } | webpki::Error::CertNotValidYet { .. } => {
                ChainError::NotValidAtTime
            }
            webpki::Error::RequiredEkuNotFoundContext(_) => ChainError::NoCodeSigningEku,
            webpki::Error::CaUsedAsEndEntity => ChainError::LeafIsCa,
            other => ChainError::Malformed(format!("{other:?}")),
        }
    }
}
