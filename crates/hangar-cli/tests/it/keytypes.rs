//! Every supported key type, end to end: images on a real registry signed by OpenSSL (an
//! independent signer) with P-384, P-521, Ed25519 and RSA keys and the hashes the two
//! signers in the wild use, validated with several `--sigstore-pubkey` at once.

use hangar_reference::Digest;
use hangar_signature::payload_bytes;
use hangar_testkit::{Registry, TempDir, require_tool, seed};
use serde_json::Value;

use crate::{assert_report_schema, key_file, openssl_sign, validate_in};

#[test]
fn every_key_type_signed_by_openssl_validates_and_wrong_hashes_do_not() {
    require_tool("/usr/bin/openssl", "openssl").unwrap_or_else(|e| panic!("{e}"));
    let registry = Registry::start_empty().unwrap_or_else(|e| panic!("{e}"));
    let addr = registry.addr().to_owned();
    let dir = TempDir::new("keytypes").unwrap_or_else(|e| panic!("{e}"));
    // (key, hash, accepted?)
    let cases = [
        ("p384", Some("sha256"), true),
        ("p384", Some("sha384"), true),
        ("p384", Some("sha512"), false),
        ("p521", Some("sha256"), true),
        ("p521", Some("sha512"), true),
        ("p521", Some("sha384"), false),
        ("ed25519", None, true),
        ("rsa", Some("sha256"), true),
        ("rsa", Some("sha512"), false),
    ];
    let mut lines = String::new();
    for (key, hash, _) in cases {
        let repo = format!("keys/{key}-{}", hash.unwrap_or("pure"));
        let image = format!("{addr}/{repo}:v1");
        let digest = seed::push_image(&addr, &repo, "v1", &repo).unwrap_or_else(|e| panic!("{e}"));
        let payload = payload_bytes(
            &digest.parse::<Digest>().expect("digest"),
            &image,
            "test",
            1,
        );
        let sig = openssl_sign(dir.path(), &format!("{key}.key"), hash, &payload);
        seed::push_simple_signing(&addr, &repo, &digest, &payload, Some(&sig))
            .unwrap_or_else(|e| panic!("{e}"));
        lines.push_str(&image);
        lines.push('\n');
    }
    let keys: Vec<String> = ["p384.pub", "p521.pub", "ed25519.pub", "rsa-pkcs1.pub"]
        .iter()
        .map(|k| key_file(k).display().to_string())
        .collect();
    let mut extra = vec!["--report", "report.json"];
    for k in &keys {
        extra.extend(["-p", k.as_str()]);
    }
    let run = validate_in(dir.path(), &lines, &extra, &[]);
    assert_eq!(run.code, 1, "{}", run.all());
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("report.json")).expect("report"),
    )
    .expect("json");
    assert_report_schema(&report);
    let rows = report["lines"].as_array().expect("lines");
    assert_eq!(rows.len(), cases.len());
    for ((key, hash, accepted), row) in cases.iter().zip(rows) {
        let what = format!("{key} {hash:?}: {row}");
        if *accepted {
            assert_eq!(row["verdict"], "passed", "{what}");
            let want_algorithm = match *key {
                "p384" => "ECDSA P-384",
                "p521" => "ECDSA P-521",
                "ed25519" => "Ed25519",
                _ => "RSA 2048",
            };
            assert_eq!(
                row["platforms"][0]["key_algorithm"], want_algorithm,
                "{what}"
            );
        } else {
            assert_eq!(row["verdict"], "invalid", "{what}");
            let reason = row["reason"].as_str().unwrap_or_default();
            assert!(
                reason.contains("cryptographic signature verification failed"),
                "{what}"
            );
        }
    }
    let failed: Vec<&str> = run.failed.as_deref().unwrap_or_default().lines().collect();
    assert_eq!(failed.len(), 3, "{:?}", run.failed);
}
