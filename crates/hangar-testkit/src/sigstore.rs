//! A fake Sigstore, all local keys: a root and an intermediate CA issuing Fulcio-style
//! leaves (OIDC issuer and GitHub claim extensions, embedded SCTs from a CT log), a Rekor
//! log key that signs entry timestamps (SETs) over hashedrekord bodies, and the
//! `trusted_root.json` describing it all. Every knob exists to make exactly one thing wrong
//! for a negative test.

use base64::Engine as _;
use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, PublicKeyData, SanType, SerialNumber,
    SigningKey,
};
use sha2::{Digest as _, Sha256};

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn at(t: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp(t).unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

fn rfc3339(t: i64) -> String {
    let d = at(t);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        d.year(),
        u8::from(d.month()),
        d.day(),
        d.hour(),
        d.minute(),
        d.second()
    )
}

fn key() -> KeyPair {
    KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap_or_else(|e| panic!("key: {e}"))
}

/// A CA: its parameters (to issue with) and key.
pub struct Ca {
    params: CertificateParams,
    key: KeyPair,
    /// DER certificate.
    pub der: Vec<u8>,
}

impl Ca {
    fn new(name: &str, parent: Option<&Ca>) -> Ca {
        let key = key();
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, name);
        params
            .distinguished_name
            .push(DnType::OrganizationName, "hangar-testkit");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.not_before = at(1_600_000_000);
        params.not_after = at(4_000_000_000);
        if parent.is_some() {
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::CodeSigning];
        }
        let cert = match parent {
            None => params.self_signed(&key),
            Some(p) => params.signed_by(&key, &Issuer::from_params(&p.params, &p.key)),
        }
        .unwrap_or_else(|e| panic!("CA {name}: {e}"));
        Ca {
            der: cert.der().to_vec(),
            params,
            key,
        }
    }

    /// The certificate as PEM.
    pub fn pem(&self) -> String {
        pem("CERTIFICATE", &self.der)
    }
}

fn pem(label: &str, der: &[u8]) -> String {
    let body = b64(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// A timestamp authority: its leaf certificate (time-stamping EKU) under its own root.
pub struct Tsa {
    /// The TSA root.
    pub root: Ca,
    leaf_key: KeyPair,
    /// The TSA leaf certificate (DER).
    pub leaf_der: Vec<u8>,
}

impl Tsa {
    fn new() -> Tsa {
        let root = Ca::new("testkit-tsa-root", None);
        let leaf_key = key();
        let mut params = CertificateParams::default();
        params
            .distinguished_name
            .push(DnType::CommonName, "testkit-tsa");
        params.not_before = at(1_600_000_000);
        params.not_after = at(4_000_000_000);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::TimeStamping];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let leaf = params
            .signed_by(&leaf_key, &Issuer::from_params(&root.params, &root.key))
            .unwrap_or_else(|e| panic!("TSA leaf: {e}"));
        Tsa {
            leaf_der: leaf.der().to_vec(),
            root,
            leaf_key,
        }
    }
}

fn der_tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    out.extend(der_len(content.len()));
    out.extend_from_slice(content);
    out
}

fn der_seq(parts: &[Vec<u8>]) -> Vec<u8> {
    der_tlv(0x30, &parts.concat())
}

const OID_SIGNED_DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02];
const OID_TST_INFO: &[u8] = &[
    0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x10, 0x01, 0x04,
];
const OID_CONTENT_TYPE: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x03];
const OID_MESSAGE_DIGEST: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x04];
const OID_SHA256: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];
const OID_ECDSA_SHA256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02];

/// What an RFC 3161 timestamp gets wrong.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub enum TimestampDefect {
    /// Nothing.
    #[default]
    None,
    /// The message imprint is of other bytes.
    OtherSignature,
    /// Signed by a key the trusted root does not know.
    UntrustedTsa,
}

/// A log (Rekor or CT): its key.
pub struct Log {
    key: KeyPair,
}

impl Log {
    fn new() -> Log {
        Log { key: key() }
    }

    /// DER SubjectPublicKeyInfo.
    pub fn spki(&self) -> Vec<u8> {
        self.key.subject_public_key_info()
    }

    /// PEM `PUBLIC KEY`.
    pub fn public_pem(&self) -> String {
        self.key.public_key_pem()
    }

    /// The log ID: SHA-256 of the SPKI.
    pub fn log_id(&self) -> Vec<u8> {
        Sha256::digest(self.spki()).to_vec()
    }

    fn sign(&self, msg: &[u8]) -> Vec<u8> {
        self.key.sign(msg).unwrap_or_else(|e| panic!("sign: {e}"))
    }
}

/// What the leaf certificate says, and what is wrong with it.
#[derive(Clone)]
pub struct LeafSpec {
    /// An email SAN (else `uri`).
    pub email: Option<String>,
    /// A URI SAN.
    pub uri: Option<String>,
    /// OIDC issuer in extension .1.1 (raw).
    pub issuer_v1: Option<String>,
    /// OIDC issuer in extension .1.8 (DER UTF8String).
    pub issuer_v2: Option<String>,
    /// GitHub claims: (extension number 2..=6, value).
    pub github: Vec<(u64, String)>,
    /// Validity (Unix seconds).
    pub not_before: i64,
    /// See `not_before`.
    pub not_after: i64,
    /// Include the code-signing EKU.
    pub code_signing: bool,
    /// Mark the leaf as a CA.
    pub is_ca: bool,
    /// Embed an SCT.
    pub sct: bool,
    /// Sign the SCT with a key the trusted root does not know.
    pub sct_by_unknown_log: bool,
    /// Sign the SCT (by the trusted CT log) over another precertificate.
    pub sct_over_other_tbs: bool,
    /// Issue from a CA the trusted root does not know.
    pub untrusted_ca: bool,
}

impl LeafSpec {
    /// A valid leaf for `email` from issuer `issuer`, valid from `t - 60` to `t + 540`.
    pub fn email(email: &str, issuer: &str, t: i64) -> LeafSpec {
        LeafSpec {
            email: Some(email.into()),
            uri: None,
            issuer_v1: Some(issuer.into()),
            issuer_v2: Some(issuer.into()),
            github: Vec::new(),
            not_before: t - 60,
            not_after: t + 540,
            code_signing: true,
            is_ca: false,
            sct: true,
            sct_by_unknown_log: false,
            sct_over_other_tbs: false,
            untrusted_ca: false,
        }
    }
}

/// An issued leaf: its certificate and key.
pub struct Leaf {
    /// DER certificate.
    pub der: Vec<u8>,
    key: KeyPair,
}

impl Leaf {
    /// PEM certificate (the `dev.sigstore.cosign/certificate` annotation).
    pub fn pem(&self) -> String {
        pem("CERTIFICATE", &self.der)
    }

    /// Signs `payload` (ECDSA P-256 SHA-256, DER), as cosign signs with its ephemeral key.
    pub fn sign(&self, payload: &[u8]) -> Vec<u8> {
        self.key
            .sign(payload)
            .unwrap_or_else(|e| panic!("sign: {e}"))
    }
}

/// What a Rekor entry says, and what is wrong with it.
#[derive(Clone, Default)]
pub struct EntrySpec {
    /// Integrated time (Unix seconds).
    pub integrated_time: i64,
    /// Log index.
    pub log_index: i64,
    /// Sign the SET with a key the trusted root does not know (and name that log).
    pub unknown_log: bool,
    /// Make the SET over another body than the one attached.
    pub set_over_other_body: bool,
    /// Name another payload digest in the body.
    pub other_digest: bool,
    /// Name another signature in the body.
    pub other_signature: bool,
    /// Name another certificate (PEM) in the body.
    pub other_certificate: Option<String>,
}

impl EntrySpec {
    /// A good entry integrated at `time` with index `log_index`.
    pub fn at(time: i64, log_index: i64) -> EntrySpec {
        EntrySpec {
            integrated_time: time,
            log_index,
            ..EntrySpec::default()
        }
    }
}

/// The current Unix time, in seconds.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The fake Sigstore.
pub struct FakeSigstore {
    /// Root CA.
    pub root: Ca,
    /// Intermediate CA (issues leaves).
    pub intermediate: Ca,
    /// A CA nobody trusts.
    pub rogue: Ca,
    /// The Rekor log.
    pub rekor: Log,
    /// The CT log.
    pub ct: Log,
    /// A log nobody trusts.
    pub rogue_log: Log,
    /// The CA's validFor window in the trusted root.
    pub ca_valid: (i64, Option<i64>),
    /// The Rekor key's validFor window.
    pub rekor_valid: (i64, Option<i64>),
    /// The timestamp authority.
    pub tsa: Tsa,
    /// The TSA's validFor window.
    pub tsa_valid: (i64, Option<i64>),
    serial: std::sync::atomic::AtomicU64,
}

impl Default for FakeSigstore {
    fn default() -> Self {
        FakeSigstore::new()
    }
}

impl FakeSigstore {
    /// New keys and CAs.
    pub fn new() -> FakeSigstore {
        let root = Ca::new("testkit-root", None);
        let intermediate = Ca::new("testkit-intermediate", Some(&root));
        let rogue = Ca::new("rogue-root", None);
        FakeSigstore {
            root,
            intermediate,
            rogue,
            rekor: Log::new(),
            ct: Log::new(),
            rogue_log: Log::new(),
            ca_valid: (1_600_000_000, None),
            rekor_valid: (1_600_000_000, None),
            tsa: Tsa::new(),
            tsa_valid: (1_600_000_000, None),
            serial: std::sync::atomic::AtomicU64::new(1),
        }
    }

    /// The `trusted_root.json` (media type version 0.1).
    pub fn trusted_root_json(&self) -> String {
        let window = |(start, end): (i64, Option<i64>)| {
            let mut v = serde_json::json!({"start": rfc3339(start)});
            if let Some(e) = end {
                v["end"] = serde_json::json!(rfc3339(e));
            }
            v
        };
        let log = |l: &Log, url: &str, valid: (i64, Option<i64>)| {
            serde_json::json!({
                "baseUrl": url,
                "hashAlgorithm": "SHA2_256",
                "publicKey": {
                    "rawBytes": b64(&l.spki()),
                    "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                    "validFor": window(valid),
                },
                "logId": {"keyId": b64(&l.log_id())},
            })
        };
        serde_json::json!({
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [log(&self.rekor, "https://rekor.testkit.invalid", self.rekor_valid)],
            "certificateAuthorities": [{
                "subject": {"organization": "hangar-testkit", "commonName": "testkit"},
                "uri": "https://fulcio.testkit.invalid",
                "certChain": {"certificates": [
                    {"rawBytes": b64(&self.intermediate.der)},
                    {"rawBytes": b64(&self.root.der)},
                ]},
                "validFor": window(self.ca_valid),
            }],
            "ctlogs": [log(&self.ct, "https://ctfe.testkit.invalid", (1_600_000_000, None))],
            "timestampAuthorities": [{
                "subject": {"organization": "hangar-testkit", "commonName": "testkit-tsa"},
                "uri": "https://tsa.testkit.invalid",
                "certChain": {"certificates": [
                    {"rawBytes": b64(&self.tsa.leaf_der)},
                    {"rawBytes": b64(&self.tsa.root.der)},
                ]},
                "validFor": window(self.tsa_valid),
            }],
        })
        .to_string()
    }

    /// Issues a leaf as Fulcio would (or with the defect `spec` asks for).
    pub fn issue(&self, spec: &LeafSpec) -> Leaf {
        let key = key();
        let mut params = CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        let serial = self
            .serial
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        params.serial_number = Some(SerialNumber::from(serial.to_be_bytes().to_vec()));
        params.not_before = at(spec.not_before);
        params.not_after = at(spec.not_after);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        if spec.code_signing {
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::CodeSigning];
        }
        if spec.is_ca {
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        }
        if let Some(e) = &spec.email {
            params.subject_alt_names.push(SanType::Rfc822Name(
                e.as_str().try_into().unwrap_or_else(|e| panic!("{e}")),
            ));
        }
        if let Some(u) = &spec.uri {
            params.subject_alt_names.push(SanType::URI(
                u.as_str().try_into().unwrap_or_else(|e| panic!("{e}")),
            ));
        }
        let fulcio = |n: u64| vec![1, 3, 6, 1, 4, 1, 57264, 1, n];
        if let Some(i) = &spec.issuer_v1 {
            params
                .custom_extensions
                .push(CustomExtension::from_oid_content(
                    &fulcio(1),
                    i.as_bytes().to_vec(),
                ));
        }
        for (n, v) in &spec.github {
            params
                .custom_extensions
                .push(CustomExtension::from_oid_content(
                    &fulcio(*n),
                    v.as_bytes().to_vec(),
                ));
        }
        if let Some(i) = &spec.issuer_v2 {
            params
                .custom_extensions
                .push(CustomExtension::from_oid_content(
                    &fulcio(8),
                    utf8_string(i),
                ));
        }
        let ca = if spec.untrusted_ca {
            &self.rogue
        } else {
            &self.intermediate
        };
        let issuer = Issuer::from_params(&ca.params, &ca.key);
        let precert = params
            .signed_by(&key, &issuer)
            .unwrap_or_else(|e| panic!("leaf: {e}"));
        if !spec.sct {
            return Leaf {
                der: precert.der().to_vec(),
                key,
            };
        }
        // The SCT signs the certificate's TBS without the SCT extension: that is exactly
        // the TBS of the same parameters without it (custom extensions come last).
        let tbs = tbs_of(precert.der());
        let timestamp_ms = (spec.not_before as u64 + 1) * 1000;
        let log = if spec.sct_by_unknown_log {
            &self.rogue_log
        } else {
            &self.ct
        };
        let issuer_key_hash = Sha256::digest(ca.key.subject_public_key_info());
        let mut signed = vec![0u8, 0u8];
        signed.extend_from_slice(&timestamp_ms.to_be_bytes());
        signed.extend_from_slice(&[0, 1]);
        signed.extend_from_slice(&issuer_key_hash);
        let n = tbs.len();
        signed.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8]);
        signed.extend_from_slice(&tbs);
        signed.extend_from_slice(&[0, 0]);
        if spec.sct_over_other_tbs {
            let last = signed.len() - 3;
            signed[last] ^= 0xff;
        }
        let signature = log.sign(&signed);
        let mut sct = vec![0u8];
        sct.extend_from_slice(&log.log_id());
        sct.extend_from_slice(&timestamp_ms.to_be_bytes());
        sct.extend_from_slice(&[0, 0]); // no extensions
        sct.extend_from_slice(&[4, 3]); // sha256, ecdsa
        sct.extend_from_slice(&(signature.len() as u16).to_be_bytes());
        sct.extend_from_slice(&signature);
        let mut list = ((sct.len() + 2) as u16).to_be_bytes().to_vec();
        list.extend_from_slice(&(sct.len() as u16).to_be_bytes());
        list.extend_from_slice(&sct);
        params
            .custom_extensions
            .push(CustomExtension::from_oid_content(
                &[1, 3, 6, 1, 4, 1, 11129, 2, 4, 2],
                der_octet_string(&list),
            ));
        let cert = params
            .signed_by(&key, &issuer)
            .unwrap_or_else(|e| panic!("leaf: {e}"));
        Leaf {
            der: cert.der().to_vec(),
            key,
        }
    }

    /// An RFC 3161 TimeStampResp (status granted, a CMS SignedData over a TSTInfo) by the
    /// TSA over `signature`, at `gen_time` (or with the defect asked for).
    pub fn timestamp(&self, signature: &[u8], gen_time: i64, defect: TimestampDefect) -> Vec<u8> {
        let imprinted: &[u8] = if defect == TimestampDefect::OtherSignature {
            b"another signature"
        } else {
            signature
        };
        let d = at(gen_time);
        let generalized = format!(
            "{:04}{:02}{:02}{:02}{:02}{:02}Z",
            d.year(),
            u8::from(d.month()),
            d.day(),
            d.hour(),
            d.minute(),
            d.second()
        );
        let sha256_alg = der_seq(&[der_tlv(0x06, OID_SHA256)]);
        let tst_info = der_seq(&[
            der_tlv(0x02, &[1]),
            der_tlv(
                0x06,
                &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x83, 0xbf, 0x30, 0x02],
            ),
            der_seq(&[
                sha256_alg.clone(),
                der_tlv(0x04, &Sha256::digest(imprinted)),
            ]),
            der_tlv(0x02, &[0x42]),
            der_tlv(0x18, generalized.as_bytes()),
        ]);
        let attrs = [
            der_seq(&[
                der_tlv(0x06, OID_CONTENT_TYPE),
                der_tlv(0x31, &der_tlv(0x06, OID_TST_INFO)),
            ]),
            der_seq(&[
                der_tlv(0x06, OID_MESSAGE_DIGEST),
                der_tlv(0x31, &der_tlv(0x04, &Sha256::digest(&tst_info))),
            ]),
        ]
        .concat();
        let signer = if defect == TimestampDefect::UntrustedTsa {
            &self.rogue_log.key
        } else {
            &self.tsa.leaf_key
        };
        let sig = signer
            .sign(&der_tlv(0x31, &attrs))
            .unwrap_or_else(|e| panic!("TSA sign: {e}"));
        let signer_info = der_seq(&[
            der_tlv(0x02, &[3]),
            der_tlv(0x80, b"testkit-tsa-key"),
            sha256_alg.clone(),
            der_tlv(0xa0, &attrs),
            der_seq(&[der_tlv(0x06, OID_ECDSA_SHA256)]),
            der_tlv(0x04, &sig),
        ]);
        let signed_data = der_seq(&[
            der_tlv(0x02, &[3]),
            der_tlv(0x31, &sha256_alg),
            der_seq(&[
                der_tlv(0x06, OID_TST_INFO),
                der_tlv(0xa0, &der_tlv(0x04, &tst_info)),
            ]),
            der_tlv(0x31, &signer_info),
        ]);
        let token = der_seq(&[der_tlv(0x06, OID_SIGNED_DATA), der_tlv(0xa0, &signed_data)]);
        der_seq(&[der_seq(&[der_tlv(0x02, &[0])]), token])
    }

    /// The hashedrekord v0.0.1 body for a signature by `signer_pem` (certificate or key).
    pub fn hashedrekord(payload: &[u8], signature: &[u8], signer_pem: &str) -> String {
        serde_json::json!({
            "apiVersion": "0.0.1",
            "kind": "hashedrekord",
            "spec": {
                "data": {"hash": {"algorithm": "sha256", "value": hex(&Sha256::digest(payload))}},
                "signature": {
                    "content": b64(signature),
                    "publicKey": {"content": b64(signer_pem.as_bytes())},
                },
            },
        })
        .to_string()
    }

    /// The `dev.sigstore.cosign/bundle` annotation: a SET over a hashedrekord entry for
    /// this payload, signature and signer (or with the defect `spec` asks for).
    pub fn cosign_bundle(
        &self,
        payload: &[u8],
        signature: &[u8],
        signer_pem: &str,
        spec: &EntrySpec,
    ) -> String {
        let digest_source: &[u8] = if spec.other_digest {
            b"another payload"
        } else {
            payload
        };
        let sig: Vec<u8> = if spec.other_signature {
            signature.iter().map(|b| b ^ 1).collect()
        } else {
            signature.to_vec()
        };
        let signer = spec.other_certificate.as_deref().unwrap_or(signer_pem);
        let body = b64(FakeSigstore::hashedrekord(digest_source, &sig, signer).as_bytes());
        let log = if spec.unknown_log {
            &self.rogue_log
        } else {
            &self.rekor
        };
        let log_id = hex(&log.log_id());
        let signed_body = if spec.set_over_other_body {
            b64(b"{}")
        } else {
            body.clone()
        };
        let canonical = format!(
            "{{\"body\":\"{signed_body}\",\"integratedTime\":{},\"logID\":\"{log_id}\",\"logIndex\":{}}}",
            spec.integrated_time, spec.log_index
        );
        let set = log.sign(canonical.as_bytes());
        serde_json::json!({
            "SignedEntryTimestamp": b64(&set),
            "Payload": {
                "body": body,
                "integratedTime": spec.integrated_time,
                "logIndex": spec.log_index,
                "logID": log_id,
            },
        })
        .to_string()
    }
}

fn der_len(n: usize) -> Vec<u8> {
    if n < 0x80 {
        vec![n as u8]
    } else {
        let b: Vec<u8> = n
            .to_be_bytes()
            .into_iter()
            .skip_while(|x| *x == 0)
            .collect();
        let mut out = vec![0x80 | b.len() as u8];
        out.extend(b);
        out
    }
}

fn der_octet_string(content: &[u8]) -> Vec<u8> {
    let mut out = vec![0x04];
    out.extend(der_len(content.len()));
    out.extend_from_slice(content);
    out
}

fn utf8_string(s: &str) -> Vec<u8> {
    let mut out = vec![0x0c];
    out.extend(der_len(s.len()));
    out.extend_from_slice(s.as_bytes());
    out
}

/// The TBSCertificate bytes of a DER certificate.
fn tbs_of(cert: &[u8]) -> Vec<u8> {
    let header = |b: &[u8]| -> (usize, usize) {
        let first = b[1];
        if first < 0x80 {
            (2, usize::from(first))
        } else {
            let n = usize::from(first & 0x7f);
            let mut len = 0;
            for k in 0..n {
                len = (len << 8) | usize::from(b[2 + k]);
            }
            (2 + n, len)
        }
    };
    let (h, _) = header(cert);
    let inner = &cert[h..];
    let (th, tl) = header(inner);
    inner[..th + tl].to_vec()
}

/// A cosign simple-signing payload as cosign writes it: `docker-reference` is what the
/// caller passes (cosign: the repository without a tag).
pub fn cosign_payload(digest: &str, docker_reference: &str, timestamp: i64) -> Vec<u8> {
    serde_json::json!({
        "critical": {
            "identity": {"docker-reference": docker_reference},
            "image": {"docker-manifest-digest": digest},
            "type": "cosign container image signature",
        },
        "optional": {"creator": "hangar-testkit", "timestamp": timestamp},
    })
    .to_string()
    .into_bytes()
}

impl FakeSigstore {
    /// Signs `digest` in `repo` of the registry at `addr` keylessly, as `cosign sign` does:
    /// a `.sig` layer with the signature, the leaf certificate and (unless `entry` is
    /// `None`) the Rekor bundle annotation; the payload names `addr/repo` without a tag.
    pub fn sign_attachment(
        &self,
        addr: &str,
        repo: &str,
        digest: &str,
        leaf: &LeafSpec,
        entry: Option<&EntrySpec>,
    ) -> Result<(), String> {
        self.sign_attachment_with(addr, repo, digest, leaf, entry, None)
    }

    /// [`FakeSigstore::sign_attachment`] with an RFC 3161 timestamp of the signature at
    /// `timestamp` (the `dev.sigstore.cosign/rfc3161timestamp` annotation) when given.
    pub fn sign_attachment_with(
        &self,
        addr: &str,
        repo: &str,
        digest: &str,
        leaf: &LeafSpec,
        entry: Option<&EntrySpec>,
        timestamp: Option<i64>,
    ) -> Result<(), String> {
        let payload = cosign_payload(digest, &format!("{addr}/{repo}"), leaf.not_before + 60);
        let cert = self.issue(leaf);
        let sig = cert.sign(&payload);
        let sig_b64 = b64(&sig);
        let pem = cert.pem();
        let bundle = entry.map(|e| self.cosign_bundle(&payload, &sig, &pem, e));
        // cosign attaches the issuing chain too: intermediate, then root.
        let chain = format!("{}{}", self.intermediate.pem(), self.root.pem());
        let mut annotations = vec![
            ("dev.cosignproject.cosign/signature", sig_b64.as_str()),
            ("dev.sigstore.cosign/certificate", pem.as_str()),
            ("dev.sigstore.cosign/chain", chain.as_str()),
        ];
        if let Some(b) = &bundle {
            annotations.push(("dev.sigstore.cosign/bundle", b.as_str()));
        }
        let ts = timestamp.map(|t| {
            format!(
                "{{\"SignedRFC3161Timestamp\":\"{}\"}}",
                b64(&self.timestamp(&sig, t, TimestampDefect::None))
            )
        });
        if let Some(t) = &ts {
            annotations.push(("dev.sigstore.cosign/rfc3161timestamp", t.as_str()));
        }
        crate::seed::push_simple_signing_with(addr, repo, digest, &[(&payload, &annotations)])
            .map(|_| ())
    }
}

fn merkle_leaf(entry: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(entry);
    h.finalize().into()
}

fn merkle_node(l: &[u8; 32], r: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(l);
    h.update(r);
    h.finalize().into()
}

/// RFC 6962 Merkle tree hash of `leaves`.
fn merkle_root(leaves: &[[u8; 32]]) -> [u8; 32] {
    match leaves.len() {
        0 => Sha256::digest([]).into(),
        1 => leaves[0],
        n => {
            let k = n.next_power_of_two() / 2;
            merkle_node(&merkle_root(&leaves[..k]), &merkle_root(&leaves[k..]))
        }
    }
}

/// RFC 6962 audit path of leaf `i`.
fn merkle_proof(leaves: &[[u8; 32]], i: usize) -> Vec<[u8; 32]> {
    if leaves.len() <= 1 {
        return Vec::new();
    }
    let k = leaves.len().next_power_of_two() / 2;
    if i < k {
        let mut p = merkle_proof(&leaves[..k], i);
        p.push(merkle_root(&leaves[k..]));
        p
    } else {
        let mut p = merkle_proof(&leaves[k..], i - k);
        p.push(merkle_root(&leaves[..k]));
        p
    }
}

/// What a bundle's inclusion proof gets wrong.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub enum ProofDefect {
    /// Nothing.
    #[default]
    None,
    /// No inclusion proof at all (only the promise).
    Missing,
    /// One proof hash flipped.
    WrongHash,
    /// The checkpoint signed by another key (with the log's key hint).
    CheckpointByOtherKey,
}

impl FakeSigstore {
    /// A Sigstore bundle v0.3 as cosign v3 attaches to an image: a DSSE envelope over an
    /// in-toto statement (predicate `https://sigstore.dev/cosign/sign/v1`, subject
    /// `sha256:<subject_hex>`), signed by `leaf`, logged as a `dsse` 0.0.1 entry with an SET
    /// and an inclusion proof (entry `log_index` of a 7-leaf tree) to a signed checkpoint.
    pub fn dsse_bundle(
        &self,
        subject_hex: &str,
        leaf: &Leaf,
        entry: &EntrySpec,
        proof: ProofDefect,
    ) -> String {
        let statement = serde_json::json!({
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": "image", "digest": {"sha256": subject_hex}}],
            "predicateType": "https://sigstore.dev/cosign/sign/v1",
            "predicate": {},
        })
        .to_string();
        let payload_type = "application/vnd.in-toto+json";
        let mut pae = format!(
            "DSSEv1 {} {payload_type} {} ",
            payload_type.len(),
            statement.len()
        )
        .into_bytes();
        pae.extend_from_slice(statement.as_bytes());
        let sig = leaf.sign(&pae);
        let envelope = serde_json::json!({
            "payload": b64(statement.as_bytes()),
            "payloadType": payload_type,
            "signatures": [{"sig": b64(&sig), "keyid": ""}],
        });
        let body = serde_json::json!({
            "apiVersion": "0.0.1",
            "kind": "dsse",
            "spec": {
                "envelopeHash": {"algorithm": "sha256", "value": hex(&Sha256::digest(envelope.to_string().as_bytes()))},
                "payloadHash": {"algorithm": "sha256", "value": hex(&Sha256::digest(statement.as_bytes()))},
                "signatures": [{"signature": b64(&sig), "verifier": b64(leaf.pem().as_bytes())}],
            },
        })
        .to_string();
        let body_b64 = b64(body.as_bytes());
        let log = if entry.unknown_log {
            &self.rogue_log
        } else {
            &self.rekor
        };
        let log_id = log.log_id();
        let canonical = format!(
            "{{\"body\":\"{body_b64}\",\"integratedTime\":{},\"logID\":\"{}\",\"logIndex\":{}}}",
            entry.integrated_time,
            hex(&log_id),
            entry.log_index
        );
        let set = log.sign(canonical.as_bytes());
        // A small tree around our entry.
        let size = 7usize;
        let index = (entry.log_index as usize) % size;
        let leaves: Vec<[u8; 32]> = (0..size)
            .map(|i| {
                if i == index {
                    merkle_leaf(body.as_bytes())
                } else {
                    merkle_leaf(format!("other entry {i}").as_bytes())
                }
            })
            .collect();
        let root = merkle_root(&leaves);
        let mut hashes = merkle_proof(&leaves, index);
        if proof == ProofDefect::WrongHash {
            hashes[0][0] ^= 1;
        }
        let note = format!("rekor.testkit.invalid - 42\n{size}\n{}\n", b64(&root));
        let signer = if proof == ProofDefect::CheckpointByOtherKey {
            &self.rogue_log
        } else {
            log
        };
        let mut sig_blob = log_id[..4].to_vec();
        sig_blob.extend(signer.sign(note.as_bytes()));
        let checkpoint = format!(
            "{note}\n\u{2014} rekor.testkit.invalid {}\n",
            b64(&sig_blob)
        );
        let mut tlog = serde_json::json!({
            "logIndex": entry.log_index.to_string(),
            "logId": {"keyId": b64(&log_id)},
            "kindVersion": {"kind": "dsse", "version": "0.0.1"},
            "integratedTime": entry.integrated_time.to_string(),
            "inclusionPromise": {"signedEntryTimestamp": b64(&set)},
            "canonicalizedBody": body_b64,
        });
        if proof != ProofDefect::Missing {
            tlog["inclusionProof"] = serde_json::json!({
                "logIndex": index.to_string(),
                "rootHash": b64(&root),
                "treeSize": size.to_string(),
                "hashes": hashes.iter().map(|h| b64(h)).collect::<Vec<_>>(),
                "checkpoint": {"envelope": checkpoint},
            });
        }
        serde_json::json!({
            "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial": {
                "certificate": {"rawBytes": b64(&leaf.der)},
                "tlogEntries": [tlog],
            },
            "dsseEnvelope": envelope,
        })
        .to_string()
    }
}
