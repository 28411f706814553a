//! Every check of `verify_cosign`, against hangar-testkit's fake Sigstore: one signature
//! that passes, then one negative case per check with exactly one defect.

use hangar_sigstore::{
    ChainCache, ChainError, CosignSignature, GithubClaims, KeylessError, KeylessPolicy, Matcher,
    TrustedRoot, verify_cosign, verify_key_tlog,
};
use hangar_testkit::sigstore::{EntrySpec, FakeSigstore, LeafSpec};

const T: i64 = 1_750_000_000;
const EMAIL: &str = "release@example.com";
const ISSUER: &str = "https://accounts.example.com";
const PAYLOAD: &[u8] = br#"{"critical":{"identity":{"docker-reference":"reg.io/a/b"},"image":{"docker-manifest-digest":"sha256:9d787d7bfc4d7b2f3d15e7a1e31329166fc3adbc938a52590056b8b3cc8e6ac4"},"type":"cosign container image signature"},"optional":null}"#;

fn email_policy() -> KeylessPolicy {
    KeylessPolicy {
        identities: vec![hangar_sigstore::CertificateIdentity {
            subject: Matcher::Exact(EMAIL.into()),
            issuer: Matcher::Exact(ISSUER.into()),
            github: GithubClaims::default(),
        }],
        require_sct: true,
        use_signature_chain: false,
        pki_time: None,
    }
}

fn entry() -> EntrySpec {
    EntrySpec::at(T, 42)
}

/// Signs PAYLOAD with a leaf made from `leaf`, attaches an entry made from `entry`, and
/// verifies it with `policy` against the fake's trusted root.
fn run(
    fake: &FakeSigstore,
    leaf: &LeafSpec,
    entry: Option<&EntrySpec>,
    policy: &KeylessPolicy,
) -> Result<hangar_sigstore::KeylessVerified, KeylessError> {
    let root = TrustedRoot::from_json(fake.trusted_root_json().as_bytes()).expect("root");
    let cert = fake.issue(leaf);
    let sig = cert.sign(PAYLOAD);
    let bundle = entry.map(|e| fake.cosign_bundle(PAYLOAD, &sig, &cert.pem(), e));
    verify_cosign(
        &root,
        policy,
        &CosignSignature {
            payload: PAYLOAD,
            signature: &sig,
            certificate_pem: &cert.pem(),
            bundle: bundle.as_deref(),
            chain_pem: None,
            rfc3161_timestamp: None,
        },
        None,
    )
}

#[track_caller]
fn fails(r: Result<hangar_sigstore::KeylessVerified, KeylessError>, want: &str) -> KeylessError {
    match r {
        Ok(v) => panic!("expected {want:?}, but it verified: {v:?}"),
        Err(e) => {
            assert!(e.to_string().contains(want), "expected {want:?}, got {e}");
            e
        }
    }
}

#[test]
fn a_good_signature_verifies_and_reports_what_it_proves() {
    let fake = FakeSigstore::new();
    let v = run(
        &fake,
        &LeafSpec::email(EMAIL, ISSUER, T),
        Some(&entry()),
        &email_policy(),
    )
    .expect("verifies");
    assert_eq!(v.sans, [EMAIL]);
    assert_eq!(v.issuer.as_deref(), Some(ISSUER));
    let e = v.log_entry.as_ref().expect("entry");
    assert_eq!(e.log_index, 42);
    assert_eq!(e.integrated_time, T);
    assert_eq!(v.ca, "https://fulcio.testkit.invalid");
}

#[test]
fn chain_checks() {
    let fake = FakeSigstore::new();
    let mut untrusted = LeafSpec::email(EMAIL, ISSUER, T);
    untrusted.untrusted_ca = true;
    let e = fails(
        run(&fake, &untrusted, Some(&entry()), &email_policy()),
        "trusted root",
    );
    assert_eq!(e, KeylessError::Chain(ChainError::UntrustedRoot));
    let mut no_eku = LeafSpec::email(EMAIL, ISSUER, T);
    no_eku.code_signing = false;
    let e = fails(
        run(&fake, &no_eku, Some(&entry()), &email_policy()),
        "code-signing",
    );
    assert_eq!(e, KeylessError::Chain(ChainError::NoCodeSigningEku));
    let mut ca_leaf = LeafSpec::email(EMAIL, ISSUER, T);
    ca_leaf.is_ca = true;
    let e = fails(
        run(&fake, &ca_leaf, Some(&entry()), &email_policy()),
        "is a CA",
    );
    assert_eq!(e, KeylessError::Chain(ChainError::LeafIsCa));
    // Expired at signing time: the entry was integrated after the leaf's notAfter.
    let late = EntrySpec {
        integrated_time: T + 3600,
        ..entry()
    };
    let e = fails(
        run(
            &fake,
            &LeafSpec::email(EMAIL, ISSUER, T),
            Some(&late),
            &email_policy(),
        ),
        "not valid at the signing time",
    );
    assert_eq!(e, KeylessError::Chain(ChainError::NotValidAtTime));
}

#[test]
fn time_outside_the_cas_or_the_logs_valid_for() {
    let mut fake = FakeSigstore::new();
    fake.ca_valid = (1_600_000_000, Some(T - 10));
    let e = fails(
        run(
            &fake,
            &LeafSpec::email(EMAIL, ISSUER, T),
            Some(&entry()),
            &email_policy(),
        ),
        "no trusted certificate authority was valid at the signing time",
    );
    assert_eq!(e, KeylessError::Chain(ChainError::NoCaAtTime));
    let mut fake = FakeSigstore::new();
    fake.rekor_valid = (T + 10, None);
    fails(
        run(
            &fake,
            &LeafSpec::email(EMAIL, ISSUER, T),
            Some(&entry()),
            &email_policy(),
        ),
        "was not valid at the entry's integrated time",
    );
}

#[test]
fn tlog_checks() {
    let fake = FakeSigstore::new();
    let leaf = LeafSpec::email(EMAIL, ISSUER, T);
    fails(
        run(&fake, &leaf, None, &email_policy()),
        "signing time: no transparency log entry",
    );
    let unknown = EntrySpec {
        unknown_log: true,
        ..entry()
    };
    fails(
        run(&fake, &leaf, Some(&unknown), &email_policy()),
        "unknown transparency log",
    );
    let other_body = EntrySpec {
        set_over_other_body: true,
        ..entry()
    };
    fails(
        run(&fake, &leaf, Some(&other_body), &email_policy()),
        "the SET does not verify",
    );
    let digest = EntrySpec {
        other_digest: true,
        ..entry()
    };
    fails(
        run(&fake, &leaf, Some(&digest), &email_policy()),
        "names another payload digest",
    );
    let sig = EntrySpec {
        other_signature: true,
        ..entry()
    };
    fails(
        run(&fake, &leaf, Some(&sig), &email_policy()),
        "names another signature",
    );
    let other_cert = fake.issue(&LeafSpec::email(EMAIL, ISSUER, T)).pem();
    let cert = EntrySpec {
        other_certificate: Some(other_cert),
        ..entry()
    };
    fails(
        run(&fake, &leaf, Some(&cert), &email_policy()),
        "names another certificate",
    );
}

#[test]
fn sct_checks() {
    let fake = FakeSigstore::new();
    let mut none = LeafSpec::email(EMAIL, ISSUER, T);
    none.sct = false;
    fails(
        run(&fake, &none, Some(&entry()), &email_policy()),
        "SCT: the certificate has no embedded SCT",
    );
    let mut wrong = LeafSpec::email(EMAIL, ISSUER, T);
    wrong.sct_by_unknown_log = true;
    fails(
        run(&fake, &wrong, Some(&entry()), &email_policy()),
        "SCT: no SCT is from a trusted CT log",
    );
    let mut tampered = LeafSpec::email(EMAIL, ISSUER, T);
    tampered.sct_over_other_tbs = true;
    fails(
        run(&fake, &tampered, Some(&entry()), &email_policy()),
        "SCT: the SCT signature does not verify with CT log",
    );
    // --insecure-ignore-sct
    let mut lax = email_policy();
    lax.require_sct = false;
    run(&fake, &none, Some(&entry()), &lax).expect("SCT not required");
}

#[test]
fn identity_rules() {
    let fake = FakeSigstore::new();
    let leaf = LeafSpec::email(EMAIL, ISSUER, T);
    let rule = |subject: Matcher, issuer: Matcher| KeylessPolicy {
        identities: vec![hangar_sigstore::CertificateIdentity {
            subject,
            issuer,
            github: GithubClaims::default(),
        }],
        require_sct: true,
        use_signature_chain: false,
        pki_time: None,
    };
    fails(
        run(
            &fake,
            &leaf,
            Some(&entry()),
            &rule(
                Matcher::Exact("other@example.com".into()),
                Matcher::Exact(ISSUER.into()),
            ),
        ),
        "subject alternative name \"release@example.com\" does not match \"other@example.com\"",
    );
    fails(
        run(
            &fake,
            &leaf,
            Some(&entry()),
            &rule(
                Matcher::Exact(EMAIL.into()),
                Matcher::Exact("https://evil.example".into()),
            ),
        ),
        "OIDC issuer \"https://accounts.example.com\" does not match",
    );
    // Regexps are unanchored, as in cosign and sigstore-go: `example.com` matches inside.
    run(
        &fake,
        &leaf,
        Some(&entry()),
        &rule(
            Matcher::regex("example\\.com").expect("re"),
            Matcher::regex("^https://accounts\\.").expect("re"),
        ),
    )
    .expect("unanchored regexp matches");
    // An anchored regexp that must not match a look-alike.
    let lookalike = LeafSpec::email("release@example.com.evil.test", ISSUER, T);
    fails(
        run(
            &fake,
            &lookalike,
            Some(&entry()),
            &rule(
                Matcher::regex("^release@example\\.com$").expect("re"),
                Matcher::Exact(ISSUER.into()),
            ),
        ),
        "does not match /^release@example\\.com$/",
    );
    // Extension .8 is read first, .1 otherwise; a certificate whose two extensions differ
    // is refused (containers/image's rule; sigstore-go would take .8).
    let mut both = LeafSpec::email(EMAIL, ISSUER, T);
    both.issuer_v1 = Some("https://v1.example".into());
    fails(
        run(&fake, &both, Some(&entry()), &email_policy()),
        "names two different OIDC issuers",
    );
    let mut v2_only = LeafSpec::email(EMAIL, ISSUER, T);
    v2_only.issuer_v1 = None;
    let v = run(&fake, &v2_only, Some(&entry()), &email_policy()).expect("v2 issuer alone");
    assert_eq!(v.issuer.as_deref(), Some(ISSUER));
    let mut v1_only = LeafSpec::email(EMAIL, ISSUER, T);
    v1_only.issuer_v2 = None;
    run(&fake, &v1_only, Some(&entry()), &email_policy()).expect("v1 issuer alone");
}

#[test]
fn github_workflow_identities() {
    let fake = FakeSigstore::new();
    let san = "https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1.0.0";
    let issuer = "https://token.actions.githubusercontent.com";
    let mut leaf = LeafSpec::email(EMAIL, issuer, T);
    leaf.email = None;
    leaf.uri = Some(san.into());
    leaf.github = vec![
        (2, "push".into()),
        (3, "0123456789abcdef0123456789abcdef01234567".into()),
        (4, "release".into()),
        (5, "acme/app".into()),
        (6, "refs/tags/v1.0.0".into()),
    ];
    let policy = |github: GithubClaims| KeylessPolicy {
        identities: vec![hangar_sigstore::CertificateIdentity {
            subject: Matcher::regex("^https://github\\.com/acme/app/").expect("re"),
            issuer: Matcher::Exact(issuer.into()),
            github,
        }],
        require_sct: true,
        use_signature_chain: false,
        pki_time: None,
    };
    let claims = GithubClaims {
        trigger: Some("push".into()),
        repository: Some("acme/app".into()),
        git_ref: Some("refs/tags/v1.0.0".into()),
        ..GithubClaims::default()
    };
    let v = run(&fake, &leaf, Some(&entry()), &policy(claims.clone())).expect("verifies");
    assert_eq!(v.github.repository.as_deref(), Some("acme/app"));
    assert_eq!(
        v.github.sha.as_deref(),
        Some("0123456789abcdef0123456789abcdef01234567")
    );
    fails(
        run(
            &fake,
            &leaf,
            Some(&entry()),
            &policy(GithubClaims {
                repository: Some("acme/other".into()),
                ..claims
            }),
        ),
        "GitHub workflow repository \"acme/app\" is not \"acme/other\"",
    );
}

#[test]
fn the_signature_itself_must_verify_with_the_certificates_key() {
    let fake = FakeSigstore::new();
    let root = TrustedRoot::from_json(fake.trusted_root_json().as_bytes()).expect("root");
    let cert = fake.issue(&LeafSpec::email(EMAIL, ISSUER, T));
    let other = fake.issue(&LeafSpec::email(EMAIL, ISSUER, T));
    // Signed by another key, but logged as if by this certificate.
    let sig = other.sign(PAYLOAD);
    let bundle = fake.cosign_bundle(PAYLOAD, &sig, &cert.pem(), &entry());
    let e = verify_cosign(
        &root,
        &email_policy(),
        &CosignSignature {
            payload: PAYLOAD,
            signature: &sig,
            certificate_pem: &cert.pem(),
            bundle: Some(&bundle),
            chain_pem: None,
            rfc3161_timestamp: None,
        },
        None,
    )
    .expect_err("wrong key");
    assert!(matches!(e, KeylessError::Signature(_)), "{e}");
}

#[test]
fn cached_chains_give_the_same_answers() {
    let fake = FakeSigstore::new();
    let root = TrustedRoot::from_json(fake.trusted_root_json().as_bytes()).expect("root");
    let cache = ChainCache::default();
    let cert = fake.issue(&LeafSpec::email(EMAIL, ISSUER, T));
    let sig = cert.sign(PAYLOAD);
    let bundle = fake.cosign_bundle(PAYLOAD, &sig, &cert.pem(), &entry());
    let input = CosignSignature {
        payload: PAYLOAD,
        signature: &sig,
        certificate_pem: &cert.pem(),
        bundle: Some(&bundle),
        chain_pem: None,
        rfc3161_timestamp: None,
    };
    for _ in 0..3 {
        verify_cosign(&root, &email_policy(), &input, Some(&cache)).expect("verifies");
    }
    let mut untrusted = LeafSpec::email(EMAIL, ISSUER, T);
    untrusted.untrusted_ca = true;
    let bad = fake.issue(&untrusted);
    let sig = bad.sign(PAYLOAD);
    let bundle = fake.cosign_bundle(PAYLOAD, &sig, &bad.pem(), &entry());
    let input = CosignSignature {
        payload: PAYLOAD,
        signature: &sig,
        certificate_pem: &bad.pem(),
        bundle: Some(&bundle),
        chain_pem: None,
        rfc3161_timestamp: None,
    };
    for _ in 0..2 {
        let e = verify_cosign(&root, &email_policy(), &input, Some(&cache)).expect_err("untrusted");
        assert_eq!(e, KeylessError::Chain(ChainError::UntrustedRoot));
    }
}

#[test]
fn key_signed_entries_are_bound_to_the_key() {
    let fake = FakeSigstore::new();
    let root = TrustedRoot::from_json(fake.trusted_root_json().as_bytes()).expect("root");
    let leaf = fake.issue(&LeafSpec::email(EMAIL, ISSUER, T));
    // Any key will do: use the leaf's, logged as a PUBLIC KEY.
    let spki = hangar_sigstore::Leaf::from_der(&leaf.der)
        .expect("leaf")
        .spki;
    let key_pem = {
        use base64::Engine as _;
        let b = base64::engine::general_purpose::STANDARD.encode(&spki);
        format!("-----BEGIN PUBLIC KEY-----\n{b}\n-----END PUBLIC KEY-----\n")
    };
    let sig = leaf.sign(PAYLOAD);
    let bundle = fake.cosign_bundle(PAYLOAD, &sig, &key_pem, &entry());
    let e = verify_key_tlog(&root, &bundle, PAYLOAD, &sig, &spki).expect("bound");
    assert_eq!(e.integrated_time, T);
    let other =
        hangar_sigstore::Leaf::from_der(&fake.issue(&LeafSpec::email(EMAIL, ISSUER, T)).der)
            .expect("leaf")
            .spki;
    let e = verify_key_tlog(&root, &bundle, PAYLOAD, &sig, &other).expect_err("other key");
    assert!(e.to_string().contains("names another public key"), "{e}");
}

#[test]
fn trusted_root_errors_name_the_problem() {
    let fake = FakeSigstore::new();
    let good = fake.trusted_root_json();
    let bad_media = good.replace("version=0.1", "version=9");
    let e = TrustedRoot::from_json(bad_media.as_bytes()).expect_err("media type");
    assert!(
        e.to_string()
            .contains("unsupported trusted root media type"),
        "{e}"
    );
    let e = TrustedRoot::from_json(b"{}").expect_err("no media type");
    assert!(e.to_string().contains("not a trusted root"), "{e}");
    let v2 = good.replace("+json;version=0.1", "+json;version=0.2");
    TrustedRoot::from_json(v2.as_bytes()).expect("0.2");
    let mut root = TrustedRoot::default();
    root.add_pem_ca(
        "ca.pem",
        fake.root.pem().as_bytes(),
        fake.intermediate.pem().as_bytes(),
    )
    .expect("pem ca");
    root.add_rekor_key("rekor.pub", fake.rekor.public_pem().as_bytes())
        .expect("rekor");
    root.add_ct_log_key("ct.pub", fake.ct.public_pem().as_bytes())
        .expect("ct");
    // The same signature verifies with bring-your-own PKI.
    let cert = fake.issue(&LeafSpec::email(EMAIL, ISSUER, T));
    let sig = cert.sign(PAYLOAD);
    let bundle = fake.cosign_bundle(PAYLOAD, &sig, &cert.pem(), &entry());
    verify_cosign(
        &root,
        &email_policy(),
        &CosignSignature {
            payload: PAYLOAD,
            signature: &sig,
            certificate_pem: &cert.pem(),
            bundle: Some(&bundle),
            chain_pem: None,
            rfc3161_timestamp: None,
        },
        None,
    )
    .expect("BYO PKI");
    assert!(root.add_pem_ca("x", b"nothing", b"").is_err());
}

#[test]
fn keyless_dsse_bundles_with_inclusion_proofs() {
    use hangar_sigstore::{Artifact, BundleSigner, verify_bundle};
    use hangar_testkit::sigstore::ProofDefect;
    let fake = FakeSigstore::new();
    let root = TrustedRoot::from_json(fake.trusted_root_json().as_bytes()).expect("root");
    let subject = [7u8; 32];
    let subject_hex: String = subject.iter().map(|b| format!("{b:02x}")).collect();
    let leaf = fake.issue(&LeafSpec::email(EMAIL, ISSUER, T));
    let policy = email_policy();
    let check = |bundle: &str, artifact: [u8; 32]| {
        verify_bundle(
            &root,
            bundle.as_bytes(),
            Artifact::Sha256(artifact),
            BundleSigner::Keyless(&policy),
            None,
        )
    };
    for index in [0, 3, 6] {
        let spec = EntrySpec {
            log_index: index,
            ..entry()
        };
        let good = fake.dsse_bundle(&subject_hex, &leaf, &spec, ProofDefect::None);
        let v = check(&good, subject).expect("verifies");
        assert_eq!(v.log_entry.integrated_time, T);
        assert!(v.dsse.is_some());
        assert_eq!(v.certificate.expect("keyless").sans, [EMAIL]);
    }
    let good = fake.dsse_bundle(&subject_hex, &leaf, &entry(), ProofDefect::None);
    let e = check(&good, [8u8; 32]).expect_err("another artifact");
    assert!(
        e.to_string()
            .contains("does not name the artifact's digest"),
        "{e}"
    );
    for (defect, want) in [
        (
            ProofDefect::Missing,
            "needs an inclusion proof (an inclusion promise alone is not enough)",
        ),
        (
            ProofDefect::WrongHash,
            "the inclusion proof does not lead to its root hash",
        ),
        (
            ProofDefect::CheckpointByOtherKey,
            "the checkpoint signature does not verify",
        ),
    ] {
        let bad = fake.dsse_bundle(&subject_hex, &leaf, &entry(), defect);
        let e = check(&bad, subject).expect_err(want);
        assert!(e.to_string().contains(want), "{want}: {e}");
    }
    let unknown = EntrySpec {
        unknown_log: true,
        ..entry()
    };
    let bad = fake.dsse_bundle(&subject_hex, &leaf, &unknown, ProofDefect::None);
    let e = check(&bad, subject).expect_err("unknown log");
    assert!(e.to_string().contains("unknown transparency log"), "{e}");
}

#[test]
fn rfc3161_timestamps_give_a_signing_time_and_are_checked() {
    use hangar_testkit::sigstore::TimestampDefect;
    let check = |fake: &FakeSigstore,
                 leaf: &LeafSpec,
                 ts_time: i64,
                 defect: TimestampDefect,
                 with_set: bool| {
        let root = TrustedRoot::from_json(fake.trusted_root_json().as_bytes()).expect("root");
        let cert = fake.issue(leaf);
        let sig = cert.sign(PAYLOAD);
        let token = fake.timestamp(&sig, ts_time, defect);
        let annotation = {
            use base64::Engine as _;
            format!(
                "{{\"SignedRFC3161Timestamp\":\"{}\"}}",
                base64::engine::general_purpose::STANDARD.encode(&token)
            )
        };
        let bundle = with_set.then(|| fake.cosign_bundle(PAYLOAD, &sig, &cert.pem(), &entry()));
        verify_cosign(
            &root,
            &email_policy(),
            &CosignSignature {
                payload: PAYLOAD,
                signature: &sig,
                certificate_pem: &cert.pem(),
                bundle: bundle.as_deref(),
                chain_pem: None,
                rfc3161_timestamp: Some(&annotation),
            },
            None,
        )
    };
    let fake = FakeSigstore::new();
    let leaf = LeafSpec::email(EMAIL, ISSUER, T);
    // A timestamp alone (cosign --tlog-upload=false with a TSA) gives the signing time.
    let v = check(&fake, &leaf, T, TimestampDefect::None, false).expect("TSA only");
    assert_eq!(v.timestamps.len(), 1);
    assert_eq!(v.timestamps[0].time, T);
    assert!(v.log_entry.is_none());
    // With a SET too: both times are checked.
    let v = check(&fake, &leaf, T + 10, TimestampDefect::None, true).expect("both");
    assert!(v.log_entry.is_some() && v.timestamps.len() == 1);
    fails(
        check(&fake, &leaf, T, TimestampDefect::OtherSignature, false),
        "the RFC 3161 timestamp is for another signature",
    );
    fails(
        check(&fake, &leaf, T, TimestampDefect::UntrustedTsa, false),
        "not signed by a trusted timestamp authority",
    );
    // A timestamp outside the certificate's validity, even with a good SET.
    fails(
        check(&fake, &leaf, T + 3600, TimestampDefect::None, true),
        "not valid at the signing time",
    );
    let mut late = FakeSigstore::new();
    late.tsa_valid = (T + 100, None);
    fails(
        check(&late, &leaf, T, TimestampDefect::None, false),
        "was not valid at",
    );
}
