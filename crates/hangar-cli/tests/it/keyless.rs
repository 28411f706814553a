//! Keyless signatures end to end (issue #14): images on a real registry signed as cosign
//! signs keylessly — a Fulcio-style certificate, an embedded SCT and a Rekor SET in the
//! `.sig` layer's annotations — by hangar-testkit's fake Sigstore, validated offline from
//! its `trusted_root.json`. Also `-k` with transparency-log entries, and the setup rules.

use hangar_reference::Digest;
use hangar_signature::payload_bytes;
use hangar_testkit::sigstore::{EntrySpec, FakeSigstore, LeafSpec};
use hangar_testkit::{Registry, TempDir, seed};
use serde_json::Value;

use crate::{Run, assert_report_schema, run_in, spawn_in, wait_run};

const EMAIL: &str = "release@example.com";
const ISSUER: &str = "https://accounts.example.com";

fn now() -> i64 {
    hangar_testkit::sigstore::unix_now()
}

struct Lab {
    registry: Registry,
    dir: TempDir,
    fake: FakeSigstore,
}

fn lab(tag: &str) -> Lab {
    let registry = Registry::start_empty().unwrap_or_else(|e| panic!("{e}"));
    let dir = TempDir::new(tag).unwrap_or_else(|e| panic!("{e}"));
    let fake = FakeSigstore::new();
    std::fs::write(dir.path().join("root.json"), fake.trusted_root_json()).expect("write root");
    Lab {
        registry,
        dir,
        fake,
    }
}

impl Lab {
    fn addr(&self) -> &str {
        self.registry.addr()
    }

    /// Signs `digest` of `repo` keylessly with a leaf from `leaf` and an entry from
    /// `entry` (None: no tlog entry), the payload naming the repository without a tag, as
    /// cosign writes it.
    fn sign(&self, repo: &str, digest: &str, leaf: &LeafSpec, entry: Option<&EntrySpec>) {
        self.fake
            .sign_attachment(self.addr(), repo, digest, leaf, entry)
            .unwrap_or_else(|e| panic!("{e}"));
    }

    fn validate(&self, lines: &str, flags: &[&str]) -> Run {
        std::fs::write(self.dir.path().join("list.txt"), lines).expect("write list");
        let mut args = vec![
            "sign",
            "validate",
            "-f",
            "list.txt",
            "--tls-verify=false",
            "-o",
            "failed.txt",
        ];
        args.extend_from_slice(flags);
        run_in(self.dir.path(), &args)
    }
}

const KEYLESS: &[&str] = &[
    "--trusted-root",
    "root.json",
    "--certificate-identity",
    EMAIL,
    "--certificate-oidc-issuer",
    ISSUER,
];

fn entry(t: i64) -> EntrySpec {
    EntrySpec::at(t, 7)
}

#[test]
fn keyless_signatures_validate_offline_by_tag_and_digest_and_report_their_proof() {
    let lab = lab("keyless-ok");
    let t = now();
    let digest =
        seed::push_image(lab.addr(), "rel/app", "v1", "app").unwrap_or_else(|e| panic!("{e}"));
    lab.sign(
        "rel/app",
        &digest,
        &LeafSpec::email(EMAIL, ISSUER, t),
        Some(&entry(t)),
    );
    // A multi-arch index: every platform signed.
    let index = seed::push_multiarch(
        lab.addr(),
        "rel/multi",
        "v1",
        &[("linux", "amd64", None), ("linux", "arm64", None)],
        "multi",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let platforms =
        seed::index_digests(lab.addr(), "rel/multi", &index).unwrap_or_else(|e| panic!("{e}"));
    for d in &platforms {
        lab.sign(
            "rel/multi",
            d,
            &LeafSpec::email(EMAIL, ISSUER, t),
            Some(&entry(t)),
        );
    }
    let a = lab.addr().to_owned();
    let lines = format!("{a}/rel/app:v1\n{a}/rel/app@{digest}\n{a}/rel/multi:v1\n");
    // No proxy would be reachable: any request beyond the loopback registry would fail.
    let mut args = vec![
        "sign",
        "validate",
        "-f",
        "list.txt",
        "--tls-verify=false",
        "-o",
        "failed.txt",
        "--report",
        "report.json",
        "-j",
        "3",
    ];
    args.extend_from_slice(KEYLESS);
    std::fs::write(lab.dir.path().join("list.txt"), &lines).expect("write");
    let dead = "http://127.0.0.1:9";
    let run = wait_run(
        lab.dir.path(),
        spawn_in(
            lab.dir.path(),
            &args,
            &[
                ("HTTPS_PROXY", dead),
                ("HTTP_PROXY", dead),
                ("ALL_PROXY", dead),
                ("NO_PROXY", ""),
            ],
        ),
        &args,
    );
    assert_eq!(run.code, 0, "{}", run.all());
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(lab.dir.path().join("report.json")).expect("report"),
    )
    .expect("json");
    assert_report_schema(&report);
    let p = &report["lines"][0]["platforms"][0];
    assert_eq!(p["certificate"]["sans"], serde_json::json!([EMAIL]), "{p}");
    assert_eq!(p["certificate"]["issuer"], ISSUER, "{p}");
    assert_eq!(
        p["certificate"]["ca"], "https://fulcio.testkit.invalid",
        "{p}"
    );
    assert_eq!(p["tlog"]["log_index"], 7, "{p}");
    assert_eq!(p["tlog"]["time_source"], "tlog", "{p}");
    assert_eq!(
        report["lines"][2]["platforms"].as_array().map(Vec::len),
        Some(2),
        "{report}"
    );
}

#[test]
fn each_defect_fails_its_line_naming_the_check() {
    let lab = lab("keyless-bad");
    let t = now();
    let a = lab.addr().to_owned();
    let mut lines = String::new();
    let mut untrusted = LeafSpec::email(EMAIL, ISSUER, t);
    untrusted.untrusted_ca = true;
    let mut no_sct = LeafSpec::email(EMAIL, ISSUER, t);
    no_sct.sct = false;
    let other = LeafSpec::email("intruder@example.com", ISSUER, t);
    let good = LeafSpec::email(EMAIL, ISSUER, t);
    let unknown_log = EntrySpec {
        unknown_log: true,
        ..entry(t)
    };
    let other_digest = EntrySpec {
        other_digest: true,
        ..entry(t)
    };
    let plain = entry(t);
    let cases: Vec<(&str, &LeafSpec, Option<&EntrySpec>, &str)> = vec![
        (
            "untrusted",
            &untrusted,
            Some(&plain),
            "certificate chain: certificate chain does not lead to a trusted root",
        ),
        (
            "nosct",
            &no_sct,
            Some(&plain),
            "SCT: the certificate has no embedded SCT",
        ),
        (
            "intruder",
            &other,
            Some(&plain),
            "certificate identity: subject alternative name \"intruder@example.com\" does not match",
        ),
        (
            "notlog",
            &good,
            None,
            "signing time: no transparency log entry",
        ),
        (
            "unknownlog",
            &good,
            Some(&unknown_log),
            "transparency log: the SET is from an unknown transparency log",
        ),
        (
            "otherdigest",
            &good,
            Some(&other_digest),
            "transparency log entry: the transparency log entry names another payload digest",
        ),
    ];
    for (name, leaf, e, _) in &cases {
        let repo = format!("bad/{name}");
        let digest = seed::push_image(&a, &repo, "v1", name).unwrap_or_else(|e| panic!("{e}"));
        lab.sign(&repo, &digest, leaf, *e);
        lines.push_str(&format!("{a}/{repo}:v1\n"));
    }
    let run = lab.validate(&lines, KEYLESS);
    assert_eq!(run.code, 1, "{}", run.all());
    for (i, (name, _, _, want)) in cases.iter().enumerate() {
        let line = run
            .stderr
            .lines()
            .find(|l| l.contains(&format!("[IMG: {}]", i + 1)))
            .unwrap_or_else(|| panic!("{name}: no error line: {}", run.stderr));
        assert!(line.contains("keyless signature refused"), "{name}: {line}");
        assert!(line.contains(want), "{name}: want {want:?} in {line}");
    }
    assert_eq!(run.failed.as_deref(), Some(lines.as_str()));
    // --insecure-ignore-sct lets the SCT-less one through, nothing else.
    let mut flags = KEYLESS.to_vec();
    flags.push("--insecure-ignore-sct");
    let run = lab.validate(&format!("{a}/bad/nosct:v1\n{a}/bad/intruder:v1\n"), &flags);
    assert_eq!(run.code, 1, "{}", run.all());
    assert_eq!(
        run.failed.as_deref(),
        Some(format!("{a}/bad/intruder:v1\n").as_str())
    );
}

#[test]
fn the_signature_must_name_this_repository() {
    // cosign writes the repository without a tag; the keyless default is matchRepository:
    // a signature copied from another repository is refused.
    let lab = lab("keyless-repo");
    let t = now();
    let a = lab.addr().to_owned();
    let digest = seed::push_image(&a, "orig/app", "v1", "same").unwrap_or_else(|e| panic!("{e}"));
    lab.sign(
        "orig/app",
        &digest,
        &LeafSpec::email(EMAIL, ISSUER, t),
        Some(&entry(t)),
    );
    seed::copy_repository(&a, "orig/app", "copy/app").unwrap_or_else(|e| panic!("{e}"));
    let run = lab.validate(&format!("{a}/orig/app:v1\n{a}/copy/app:v1\n"), KEYLESS);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr.contains(&format!(
            "Signature for identity {a}/orig/app is not accepted"
        )),
        "{}",
        run.stderr
    );
    let mut flags = KEYLESS.to_vec();
    let repo = format!("{a}/orig/app");
    flags.extend(["--exact-repository", repo.as_str()]);
    let run = lab.validate(&format!("{a}/copy/app:v1\n"), &flags);
    assert_eq!(run.code, 0, "{}", run.all());
}

#[test]
fn key_signatures_with_transparency_log_entries() {
    let lab = lab("keytlog");
    let a = lab.addr().to_owned();
    let t = now();
    // A key pair made by hangar itself; its entry is a hashedrekord naming the PUBLIC KEY.
    std::fs::write(lab.dir.path().join("pw"), "pw\n").expect("write");
    let gen_args = [
        "generate-sigstore-key",
        "-p",
        "k",
        "--passphrase-file",
        "pw",
    ];
    assert_eq!(run_in(lab.dir.path(), &gen_args).code, 0);
    let key_pem = std::fs::read_to_string(lab.dir.path().join("k.pub")).expect("pub");
    let key = hangar_signature::PrivateKey::from_encrypted_pem(
        &std::fs::read(lab.dir.path().join("k.key")).expect("key"),
        b"pw",
    )
    .expect("decrypt");
    let mut lines = String::new();
    for (name, with_entry, unknown) in [
        ("logged", true, false),
        ("unlogged", false, false),
        ("otherlog", true, true),
    ] {
        let repo = format!("keys/{name}");
        let digest = seed::push_image(&a, &repo, "v1", name).unwrap_or_else(|e| panic!("{e}"));
        let payload = payload_bytes(
            &digest.parse::<Digest>().expect("d"),
            &format!("{a}/{repo}"),
            "t",
            t,
        );
        let sig_b64 = key.sign_base64(&payload);
        let sig = {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD
                .decode(&sig_b64)
                .expect("b64")
        };
        let spec = EntrySpec {
            unknown_log: unknown,
            ..entry(t)
        };
        let bundle = lab.fake.cosign_bundle(&payload, &sig, &key_pem, &spec);
        let mut annotations = vec![("dev.cosignproject.cosign/signature", sig_b64.as_str())];
        if with_entry {
            annotations.push(("dev.sigstore.cosign/bundle", bundle.as_str()));
        }
        seed::push_simple_signing_with(&a, &repo, &digest, &[(&payload, &annotations)])
            .unwrap_or_else(|e| panic!("{e}"));
        lines.push_str(&format!("{a}/{repo}:v1\n"));
    }
    // -k needs an entry by a known log: only the first passes.
    let run = lab.validate(&lines, &["-k", "k.pub", "--trusted-root", "root.json"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stdout.contains(&format!("PASS: [{a}/keys/logged:v1]")),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr.contains("no transparency log entry"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("unknown transparency log"),
        "{}",
        run.stderr
    );
    // --insecure-ignore-tlog without trust material: entries are neither required nor
    // consulted.
    let run = lab.validate(&lines, &["-k", "k.pub", "--insecure-ignore-tlog"]);
    assert_eq!(run.code, 0, "{}", run.all());
    // -p keeps v1.8's meaning: no entry needed, an entry of an unknown log ignored, a known
    // log's entry verified.
    let run = lab.validate(
        &lines,
        &[
            "-p",
            "k.pub",
            "--trusted-root",
            "root.json",
            "--exact-repository",
            &format!("{a}/keys/logged"),
        ],
    );
    assert!(
        run.stdout.contains(&format!("PASS: [{a}/keys/logged:v1]")),
        "{}",
        run.all()
    );
}

#[test]
fn setup_rules_for_keyless_and_k() {
    let lab = lab("keyless-setup");
    let a = lab.addr().to_owned();
    let list = format!("{a}/x/y:1\n");
    for (flags, want) in [
        (
            vec![
                "--trusted-root",
                "root.json",
                "--certificate-identity",
                EMAIL,
            ],
            "keyless verification needs both an identity rule",
        ),
        (
            vec![
                "--certificate-identity",
                EMAIL,
                "--certificate-oidc-issuer",
                ISSUER,
            ],
            "keyless verification needs trusted certificate authorities",
        ),
        (
            vec![
                "--trusted-root",
                "missing.json",
                "--certificate-identity",
                EMAIL,
                "--certificate-oidc-issuer",
                ISSUER,
            ],
            "reading --trusted-root missing.json",
        ),
        (
            vec![
                "--trusted-root",
                "list.txt",
                "--certificate-identity",
                EMAIL,
                "--certificate-oidc-issuer",
                ISSUER,
            ],
            "--trusted-root list.txt: not a trusted root",
        ),
        (
            vec![
                "--trusted-root",
                "root.json",
                "--certificate-identity-regexp",
                "(",
                "--certificate-oidc-issuer",
                ISSUER,
            ],
            "--certificate-identity-regexp: invalid regular expression",
        ),
    ] {
        let run = lab.validate(&list, &flags);
        assert_eq!(run.code, 2, "{flags:?}: {}", run.all());
        assert!(
            run.stderr.contains(want),
            "{flags:?}: want {want:?}: {}",
            run.stderr
        );
    }
    std::fs::write(lab.dir.path().join("k.pub"), lab.fake.rekor.public_pem()).expect("write");
    let run = lab.validate(&list, &["-k", "k.pub"]);
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(
        run.stderr.contains("give --trusted-root FILE or --rekor-public-key FILE, or accept signatures without an entry with --insecure-ignore-tlog"),
        "{}",
        run.stderr
    );
    // --rekor-url and --offline are accepted with a warning.
    let mut flags = KEYLESS.to_vec();
    flags.extend(["--rekor-url", "https://rekor.sigstore.dev", "--offline"]);
    let run = lab.validate(&list, &flags);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr
            .contains("--rekor-url \"https://rekor.sigstore.dev\" is ignored"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("--offline changes nothing"),
        "{}",
        run.stderr
    );
}

#[test]
fn keyless_cosign_v3_bundles_through_the_referrers() {
    use hangar_testkit::sigstore::ProofDefect;
    let lab = lab("keyless-v3");
    let t = now();
    let a = lab.addr().to_owned();
    let digest = seed::push_image(&a, "v3/app", "v1", "v3").unwrap_or_else(|e| panic!("{e}"));
    let hex = digest.strip_prefix("sha256:").expect("sha256");
    let leaf = lab.fake.issue(&LeafSpec::email(EMAIL, ISSUER, t));
    let bundle = lab
        .fake
        .dsse_bundle(hex, &leaf, &entry(t), ProofDefect::None);
    let (m, size) = seed::push_bundle(&a, "v3/app", &digest, bundle.as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
    seed::push_referrers_tag(
        &a,
        "v3/app",
        &digest,
        &[(m, size, hangar_signature::BUNDLE_MEDIA_TYPE.into())],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let list = format!("{a}/v3/app:v1\n");
    let mut flags = KEYLESS.to_vec();
    flags.extend(["--accept-unnamed-signatures", "--report", "report.json"]);
    let run = lab.validate(&list, &flags);
    assert_eq!(run.code, 0, "{}", run.all());
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(lab.dir.path().join("report.json")).expect("report"),
    )
    .expect("json");
    assert_report_schema(&report);
    let p = &report["lines"][0]["platforms"][0];
    assert_eq!(p["signature_format"], "sigstore-bundle", "{p}");
    assert_eq!(p["certificate"]["sans"], serde_json::json!([EMAIL]), "{p}");
    assert_eq!(p["tlog"]["log_index"], 7, "{p}");
    // Without the flag the valid bundle is found and reported, not accepted.
    let run = lab.validate(&list, KEYLESS);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr
            .contains("valid keyless signature by [\"release@example.com\"]"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("--accept-unnamed-signatures"),
        "{}",
        run.stderr
    );
    // Another identity: refused by the identity check.
    let run = lab.validate(
        &list,
        &[
            "--trusted-root",
            "root.json",
            "--certificate-identity",
            "other@example.com",
            "--certificate-oidc-issuer",
            ISSUER,
            "--accept-unnamed-signatures",
        ],
    );
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr
            .contains("certificate identity: subject alternative name"),
        "{}",
        run.stderr
    );
}

fn b64(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(b)
}

#[test]
fn policy_json_fulcio_pki_and_rekor_keys_as_containers_image_reads_them() {
    let lab = lab("keyless-policy");
    let t = now();
    let a = lab.addr().to_owned();
    let digest = seed::push_image(&a, "pol/app", "v1", "pol").unwrap_or_else(|e| panic!("{e}"));
    lab.sign(
        "pol/app",
        &digest,
        &LeafSpec::email(EMAIL, ISSUER, t),
        Some(&entry(t)),
    );
    let list = format!("{a}/pol/app:v1\n");
    let run_policy = |requirement: serde_json::Value| {
        let policy = serde_json::json!({
            "default": [{"type": "reject"}],
            "transports": {"docker": {format!("{a}/pol"): [requirement]}},
        });
        std::fs::write(lab.dir.path().join("policy.json"), policy.to_string()).expect("write");
        lab.validate(&list, &["--policy", "policy.json"])
    };
    let root_pem = lab.fake.root.pem();
    let rekor = b64(lab.fake.rekor.public_pem().as_bytes());
    let fulcio = |email: &str| {
        serde_json::json!({
            "type": "sigstoreSigned",
            "fulcio": {"caData": b64(root_pem.as_bytes()), "oidcIssuer": ISSUER, "subjectEmail": email},
            "rekorPublicKeyData": rekor,
            "signedIdentity": {"type": "matchRepository"},
        })
    };
    // fulcio: the root from the policy, the intermediate from the signature's chain, the
    // signing time from the Rekor entry, issuer and email exactly; no SCT needed.
    let run = run_policy(fulcio(EMAIL));
    assert_eq!(run.code, 0, "{}", run.all());
    let run = run_policy(fulcio("other@example.com"));
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr
            .contains("does not match email \"other@example.com\""),
        "{}",
        run.stderr
    );
    // pki: roots and intermediates from the policy, checked now, no log.
    let pki = |extra: serde_json::Value| {
        let mut p = serde_json::json!({
            "caRootsData": b64(root_pem.as_bytes()),
            "caIntermediatesData": b64(lab.fake.intermediate.pem().as_bytes()),
        });
        p.as_object_mut()
            .expect("object")
            .extend(extra.as_object().expect("object").clone());
        serde_json::json!({"type": "sigstoreSigned", "pki": p, "signedIdentity": {"type": "matchRepository"}})
    };
    let run = run_policy(pki(serde_json::json!({"subjectEmail": EMAIL})));
    assert_eq!(run.code, 0, "{}", run.all());
    let run = run_policy(pki(
        serde_json::json!({"subjectEmail": EMAIL, "subjectHostname": "host.example"}),
    ));
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr.contains("host name \"host.example\""),
        "{}",
        run.stderr
    );
    // A CA the policy does not name: refused.
    let rogue = serde_json::json!({
        "type": "sigstoreSigned",
        "fulcio": {"caData": b64(lab.fake.rogue.pem().as_bytes()), "oidcIssuer": ISSUER, "subjectEmail": EMAIL},
        "rekorPublicKeyData": rekor,
        "signedIdentity": {"type": "matchRepository"},
    });
    let run = run_policy(rogue);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stderr.contains("certificate chain"), "{}", run.stderr);
}

#[test]
fn github_workflow_identities_and_timestamps_end_to_end() {
    let lab = lab("keyless-github");
    let t = now();
    let a = lab.addr().to_owned();
    let issuer = "https://token.actions.githubusercontent.com";
    let san = "https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1.0.0";
    let mut leaf = LeafSpec::email(EMAIL, issuer, t);
    leaf.email = None;
    leaf.uri = Some(san.into());
    leaf.github = vec![
        (2, "push".into()),
        (5, "acme/app".into()),
        (6, "refs/tags/v1.0.0".into()),
    ];
    let digest = seed::push_image(&a, "gh/app", "v1", "gh").unwrap_or_else(|e| panic!("{e}"));
    // A TSA timestamp as well as the Rekor entry: the certificate is checked at both.
    lab.fake
        .sign_attachment_with(&a, "gh/app", &digest, &leaf, Some(&entry(t)), Some(t + 5))
        .unwrap_or_else(|e| panic!("{e}"));
    let list = format!("{a}/gh/app:v1\n");
    let flags = |repo: &str| -> Vec<String> {
        [
            "--trusted-root",
            "root.json",
            "--certificate-identity-regexp",
            "^https://github\\.com/acme/app/\\.github/workflows/",
            "--certificate-oidc-issuer",
            issuer,
            "--certificate-github-workflow-repository",
            repo,
            "--certificate-github-workflow-trigger",
            "push",
            "--report",
            "report.json",
            "--debug",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let good = flags("acme/app");
    let run = lab.validate(&list, &good.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        run.stdout
            .contains("keyless signature by [\"https://github.com/acme/app/"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("signing time from tlog+tsa"),
        "{}",
        run.stdout
    );
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(lab.dir.path().join("report.json")).expect("report"),
    )
    .expect("json");
    assert_report_schema(&report);
    let c = &report["lines"][0]["platforms"][0]["certificate"];
    assert_eq!(c["github"]["repository"], "acme/app", "{c}");
    assert_eq!(c["github"]["ref"], "refs/tags/v1.0.0", "{c}");
    assert_eq!(
        c["timestamps"][0]["authority"], "https://tsa.testkit.invalid",
        "{c}"
    );
    let bad = flags("acme/other");
    let run = lab.validate(&list, &bad.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr
            .contains("GitHub workflow repository \"acme/app\" is not \"acme/other\""),
        "{}",
        run.stderr
    );
}
