//! cosign v3 signatures: Sigstore bundles (DSSE envelope of an in-toto statement) attached
//! as OCI 1.1 referrers, built here per cosign's bundle specification and signed by OpenSSL.
//! distribution 2.8 has no referrers API, so the fallback tag `sha256-<hex>` is tested on
//! the real registry and the API (with paging) through a small test server in front of it.

use std::sync::{Arc, Mutex};

use base64::Engine as _;
use hangar_reference::Digest;
use hangar_signature::{IN_TOTO_PAYLOAD_TYPE, cosign_statement, dsse_pae};
use hangar_testkit::proxy::{Action, Proxy};
use hangar_testkit::seed::{self, BUNDLE_MEDIA_TYPE};
use hangar_testkit::{Registry, TempDir, require_tool};
use serde_json::Value;

use crate::{Run, assert_report_schema, key_file, openssl_sign, validate_in};

/// A bundle v0.3 whose envelope carries `statement`, signed (P-384, SHA-384, by OpenSSL)
/// over the PAE of `signed_statement`.
fn bundle(dir: &std::path::Path, statement: &[u8], signed_statement: &[u8]) -> Vec<u8> {
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let sig = openssl_sign(
        dir,
        "p384.key",
        Some("sha384"),
        &dsse_pae(IN_TOTO_PAYLOAD_TYPE, signed_statement),
    );
    serde_json::json!({
        "mediaType": BUNDLE_MEDIA_TYPE,
        "verificationMaterial": {"publicKey": {"hint": "p384"}, "tlogEntries": []},
        "dsseEnvelope": {
            "payload": b64(statement),
            "payloadType": IN_TOTO_PAYLOAD_TYPE,
            "signatures": [{"sig": sig, "keyid": ""}],
        },
    })
    .to_string()
    .into_bytes()
}

fn statement_for(addr: &str, repo: &str, digest: &str) -> Vec<u8> {
    cosign_statement(
        &format!("{addr}/{repo}"),
        &digest.parse::<Digest>().expect("digest"),
    )
}

/// `sign validate` of `lines` with the P-384 key (besides the lab key), a report, plus
/// `extra`.
fn validate(dir: &std::path::Path, lines: &str, extra: &[&str]) -> (Run, Value) {
    let key = key_file("p384.pub").display().to_string();
    let mut args = vec!["-p", key.as_str(), "--report", "report.json"];
    args.extend_from_slice(extra);
    let run = validate_in(dir, lines, &args, &[]);
    let report = std::fs::read_to_string(dir.join("report.json")).expect("report");
    let report: Value = serde_json::from_str(&report).expect("json");
    assert_report_schema(&report);
    (run, report)
}

/// A referrers index page listing one manifest, with `extra` headers.
fn referrers_page(entry: (String, usize, String), extra: Option<(String, String)>) -> Action {
    let mut headers = vec![(
        "Content-Type".to_owned(),
        "application/vnd.oci.image.index.v1+json".to_owned(),
    )];
    headers.extend(extra);
    Action::Respond {
        status: 200,
        headers,
        body: seed::referrers_index(&[entry]).into_bytes(),
    }
}

fn platform(report: &Value, line: usize) -> &Value {
    &report["lines"][line]["platforms"][0]
}

#[test]
fn bundles_under_the_referrers_tag_on_distribution_2_8() {
    require_tool("/usr/bin/openssl", "openssl").unwrap_or_else(|e| panic!("{e}"));
    let registry = Registry::start_empty().unwrap_or_else(|e| panic!("{e}"));
    let addr = registry.addr().to_owned();
    let dir = TempDir::new("bundles").unwrap_or_else(|e| panic!("{e}"));
    let push =
        |repo: &str| seed::push_image(&addr, repo, "v1", repo).unwrap_or_else(|e| panic!("{e}"));

    // Pushes a bundle carrying `statement` (signed over `signed`) for `repo`'s image
    // `subject`, and lists it under the referrers tag.
    let attach = |repo: &str, subject: &str, statement: &[u8], signed: &[u8]| {
        let (m, size) =
            seed::push_bundle(&addr, repo, subject, &bundle(dir.path(), statement, signed))
                .unwrap_or_else(|e| panic!("{e}"));
        seed::push_referrers_tag(&addr, repo, subject, &[(m, size, BUNDLE_MEDIA_TYPE.into())])
            .unwrap_or_else(|e| panic!("{e}"));
    };
    // 1: a good bundle, listed under the fallback tag.
    let good = push("v3/good");
    let st = statement_for(&addr, "v3/good", &good);
    attach("v3/good", &good, &st, &st);
    // 2: a bundle attached to this image whose signed statement names another digest.
    let moved = push("v3/moved");
    let st = statement_for(&addr, "v3/moved", &good);
    attach("v3/moved", &moved, &st, &st);
    // 3: an envelope whose statement was edited after signing.
    let edited = push("v3/edited");
    let st = statement_for(&addr, "v3/edited", &edited);
    let other = statement_for(&addr, "v3/edited-elsewhere", &edited);
    attach("v3/edited", &edited, &st, &other);
    // 4: nothing at all.
    push("v3/unsigned");

    let lines: String = ["good", "moved", "edited", "unsigned"]
        .iter()
        .map(|r| format!("{addr}/v3/{r}:v1\n"))
        .collect();

    let (run, report) = validate(dir.path(), &lines, &["--accept-unnamed-signatures"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert_eq!(report["lines"][0]["verdict"], "passed", "{report}");
    let p = platform(&report, 0);
    assert_eq!(p["signature_format"], "sigstore-bundle", "{p}");
    assert_eq!(p["identity"], Value::Null, "{p}");
    assert_eq!(p["key_algorithm"], "ECDSA P-384", "{p}");
    assert_eq!(report["lines"][1]["verdict"], "invalid");
    let reason = report["lines"][1]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains(&format!("Signature for digest {good} does not match")),
        "{reason}"
    );
    assert_eq!(report["lines"][2]["verdict"], "invalid");
    let reason = report["lines"][2]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("cryptographic signature verification failed"),
        "{reason}"
    );
    assert_eq!(report["lines"][3]["verdict"], "unsigned");
    assert_eq!(
        report["lines"][3]["reason"],
        "A signature was required, but no signature exists"
    );
    assert_eq!(
        run.failed.as_deref(),
        Some(format!("{addr}/v3/moved:v1\n{addr}/v3/edited:v1\n{addr}/v3/unsigned:v1\n").as_str())
    );

    // Without the flag a valid bundle is found and reported, never accepted.
    let (run, report) = validate(dir.path(), &lines, &[]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert_eq!(report["lines"][0]["verdict"], "invalid");
    let reason = report["lines"][0]["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("--accept-unnamed-signatures"), "{reason}");
}

#[test]
fn bundles_through_the_referrers_api_with_paging() {
    require_tool("/usr/bin/openssl", "openssl").unwrap_or_else(|e| panic!("{e}"));
    let registry = Registry::start_empty().unwrap_or_else(|e| panic!("{e}"));
    let up = registry.addr().to_owned();
    let dir = TempDir::new("referrers").unwrap_or_else(|e| panic!("{e}"));
    let push =
        |repo: &str| seed::push_image(&up, repo, "v1", repo).unwrap_or_else(|e| panic!("{e}"));

    // "api/good": the bundle is only reachable through the API, on its second page, after
    // an entry of another artifact type that a registry ignoring the filter still returns.
    let good = push("api/good");
    let st = statement_for(&up, "api/good", &good);
    let (good_bundle, good_size) =
        seed::push_bundle(&up, "api/good", &good, &bundle(dir.path(), &st, &st))
            .unwrap_or_else(|e| panic!("{e}"));
    // "api/stolen": the API lists a valid bundle of another image of the repository.
    let stolen = push("api/stolen");
    let other =
        seed::push_image(&up, "api/stolen", "other", "other").unwrap_or_else(|e| panic!("{e}"));
    let st = statement_for(&up, "api/stolen", &other);
    let (stolen_bundle, _) =
        seed::push_bundle(&up, "api/stolen", &other, &bundle(dir.path(), &st, &st))
            .unwrap_or_else(|e| panic!("{e}"));

    let pages: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = Arc::clone(&pages);
    let (good2, stolen2) = (good.clone(), stolen.clone());
    let proxy = Proxy::start(&up, move |req| {
        let path = req.path.clone();
        if !path.contains("/referrers/") {
            return Action::Forward;
        }
        seen.lock().expect("lock").push(path.clone());
        if path.starts_with(&format!("/v2/api/good/referrers/{good2}")) {
            if path.contains("last=") {
                let entry = (good_bundle.clone(), good_size, BUNDLE_MEDIA_TYPE.into());
                return referrers_page(entry, None);
            }
            let other = (
                format!("sha256:{}", "c".repeat(64)),
                100,
                "application/spdx+json".into(),
            );
            let next = format!("</v2/api/good/referrers/{good2}?n=1&last=x>; rel=\"next\"");
            return referrers_page(other, Some(("Link".into(), next)));
        }
        if path.starts_with(&format!("/v2/api/stolen/referrers/{stolen2}")) {
            let entry = (stolen_bundle.clone(), good_size, BUNDLE_MEDIA_TYPE.into());
            return referrers_page(entry, None);
        }
        Action::json(404, r#"{"errors":[{"code":"NAME_UNKNOWN"}]}"#)
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let addr = proxy.addr();
    let lines = format!("{addr}/api/good:v1\n{addr}/api/stolen:v1\n");
    let (run, report) = validate(dir.path(), &lines, &["--accept-unnamed-signatures"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert_eq!(report["lines"][0]["verdict"], "passed", "{report}");
    assert_eq!(platform(&report, 0)["signature_format"], "sigstore-bundle");
    assert_eq!(report["lines"][1]["verdict"], "invalid", "{report}");
    let reason = report["lines"][1]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains(&format!("its subject is {other}, not {stolen}")),
        "{reason}"
    );
    let pages = pages.lock().expect("lock").clone();
    assert!(
        pages.iter().any(|p| p.contains("last=x"))
            && pages.iter().all(|p| p
                .contains("artifactType=application/vnd.dev.sigstore.bundle.v0.3%2Bjson")
                || p.contains("last=x")),
        "{pages:?}"
    );
}
