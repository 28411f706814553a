//! Hostile registries and input: every case is rejected with its message, nothing panics,
//! nothing hangs, no line is lost.

use std::sync::Arc;

use hangar_testkit::proxy::{Action, Proxy};
use hangar_testkit::{HttpResponse, Registry, TempDir, free_port};
use serde_json::Value;

use crate::{Run, lab_pub, spawn_in, wait_run};

const SIG_AMD64: &str =
    "sha256-9d787d7bfc4d7b2f3d15e7a1e31329166fc3adbc938a52590056b8b3cc8e6ac4.sig";

/// The fixture registry behind a proxy that rewrites responses whose path contains `needle`.
fn hostile(
    needle: &'static str,
    edit: impl Fn(&mut HttpResponse) + Send + Sync + 'static,
) -> (Registry, Proxy) {
    let addr = format!("127.0.0.1:{}", free_port().expect("port"));
    let registry = Registry::start_fixture(&addr).unwrap_or_else(|e| panic!("{e}"));
    let edit: Arc<dyn Fn(&mut HttpResponse) + Send + Sync> =
        Arc::new(move |r: &mut HttpResponse| {
            // The body changes: drop the digest header so only our own checks speak.
            r.headers.retain(|(k, _)| k != "docker-content-digest");
            edit(r);
        });
    let proxy = Proxy::start(registry.addr(), move |req| {
        if req.path.contains(needle) {
            Action::ForwardEdited(Arc::clone(&edit))
        } else {
            Action::Forward
        }
    })
    .unwrap_or_else(|e| panic!("{e}"));
    (registry, proxy)
}

fn edit_json(r: &mut HttpResponse, f: impl Fn(&mut Value)) {
    let mut v: Value = serde_json::from_slice(&r.body).expect("JSON body");
    f(&mut v);
    r.body = serde_json::to_vec(&v).expect("JSON");
}

/// Validates `image` (a path under the proxy) with the lab key and `exactRepository`.
fn validate(proxy: &Proxy, image: &str, repo: &str) -> Run {
    let dir = TempDir::new("hostile").expect("tmp");
    let exact = format!("127.0.0.1:5000/{repo}");
    let extra = [
        "--exact-repository",
        &exact,
        "--arch",
        "",
        "--timeout",
        "60s",
    ];
    let run = crate::validate_in(
        dir.path(),
        &format!("{}/{image}\n", proxy.addr()),
        &extra,
        &[],
    );
    assert!(!run.all().contains("panicked"), "{}", run.all());
    run
}

#[track_caller]
fn assert_rejected(run: &Run, message: &str) {
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr.contains(message),
        "want {message:?} in:\n{}",
        run.stderr
    );
}

#[test]
fn attachment_of_the_wrong_media_type() {
    let (_r, p) = hostile(SIG_AMD64, |r| {
        r.headers.retain(|(k, _)| k != "content-type");
        r.headers.push((
            "Content-Type".into(),
            "application/vnd.docker.distribution.manifest.v2+json".into(),
        ));
    });
    let run = validate(&p, "fixtures/single:v1", "fixtures/single");
    assert_rejected(
        &run,
        &format!(
            "unexpected MIME type for sigstore attachment manifest {SIG_AMD64}: \"application/vnd.docker.distribution.manifest.v2+json\""
        ),
    );
}

#[test]
fn annotation_missing_or_not_base64() {
    let (_r, p) = hostile(SIG_AMD64, |r| {
        edit_json(r, |v| v["layers"][0]["annotations"] = serde_json::json!({}))
    });
    assert_rejected(
        &validate(&p, "fixtures/single:v1", "fixtures/single"),
        "missing dev.cosignproject.cosign/signature annotation",
    );
    let (_r, p) = hostile(SIG_AMD64, |r| {
        edit_json(r, |v| {
            v["layers"][0]["annotations"]["dev.cosignproject.cosign/signature"] =
                "not*base64".into()
        })
    });
    assert_rejected(
        &validate(&p, "fixtures/single:v1", "fixtures/single"),
        "base64 decoding:",
    );
}

#[test]
fn edited_annotation_is_a_bad_signature() {
    let (_r, p) = hostile(SIG_AMD64, |r| {
        edit_json(r, |v| {
            let sig = v["layers"][0]["annotations"]["dev.cosignproject.cosign/signature"]
                .as_str()
                .expect("sig")
                .to_owned();
            // One character changed in the middle: still base64, no longer the signature.
            let mut chars: Vec<char> = sig.chars().collect();
            chars[10] = if chars[10] == 'A' { 'B' } else { 'A' };
            let edited: String = chars.into_iter().collect();
            v["layers"][0]["annotations"]["dev.cosignproject.cosign/signature"] = edited.into();
        })
    });
    assert_rejected(
        &validate(&p, "fixtures/single:v1", "fixtures/single"),
        "cryptographic signature verification failed",
    );
}

#[test]
fn thousands_of_layers_and_entries_stay_bounded() {
    // 3000 signature layers without annotations: each refused without a fetch.
    let (_r, p) = hostile(SIG_AMD64, |r| {
        edit_json(r, |v| {
            let mut layer = v["layers"][0].clone();
            layer["annotations"] = serde_json::json!({});
            v["layers"] = Value::Array(vec![layer; 3000]);
        })
    });
    assert_rejected(
        &validate(&p, "fixtures/single:v1", "fixtures/single"),
        "None of the signatures were accepted, reasons: missing dev.cosignproject.cosign/signature annotation (3000 times)",
    );
    // An index of 5000 attestation-like entries: nothing selected, skipped.
    let (_r, p) = hostile("/manifests/v1", |r| {
        edit_json(r, |v| {
            let mut entry = v["manifests"][0].clone();
            entry["platform"] = serde_json::json!({"architecture": "unknown", "os": "unknown"});
            v["manifests"] = Value::Array(vec![entry; 5000]);
        })
    });
    let run = validate(&p, "fixtures/multi:v1", "fixtures/multi");
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        run.stderr
            .contains("no available image for specified arch and os"),
        "{}",
        run.stderr
    );
}

#[test]
fn an_index_pointing_at_itself_is_not_followed() {
    let (_r, p) = hostile("/manifests/v1", |r| {
        edit_json(r, |v| {
            // The entry names a digest no manifest has (an index cannot contain its own
            // digest); it must be judged as a platform image, not fetched as an index.
            v["manifests"] = serde_json::json!([{"mediaType": "application/vnd.oci.image.index.v1+json",
                "digest": format!("sha256:{}", "ab".repeat(32)), "size": 1, "platform": {"architecture": "amd64", "os": "linux"}}]);
        })
    });
    assert_rejected(
        &validate(&p, "fixtures/multi:v1", "fixtures/multi"),
        "A signature was required, but no signature exists",
    );
}

#[test]
fn a_hundred_thousand_bad_lines_and_control_characters() {
    let dir = TempDir::new("biglist").expect("tmp");
    let mut list: String = (0..100_000).map(|i| format!("BAD/Line{i}\n")).collect();
    list.push_str("evil\u{1b}[31m/red\u{7}:1\n");
    std::fs::write(dir.path().join("list.txt"), &list).expect("write");
    let key = lab_pub();
    let args = [
        "sign",
        "validate",
        "-f",
        "list.txt",
        "-p",
        key.to_str().expect("utf-8"),
        "-o",
        "failed.txt",
    ];
    let start = std::time::Instant::now();
    let run = wait_run(dir.path(), spawn_in(dir.path(), &args, &[]), &args);
    assert_eq!(run.code, 1);
    assert!(
        start.elapsed() < std::time::Duration::from_secs(60),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(
        run.failed.as_deref(),
        Some(list.as_str()),
        "every line in the failed file, as written"
    );
    assert!(
        !run.all().contains('\u{1b}') && !run.all().contains('\u{7}'),
        "control characters reached the output"
    );
    assert!(
        run.stderr.contains("evil\\u{1b}[31m/red\\u{7}:1"),
        "escaped in the log"
    );
}

#[test]
fn a_redirect_loop_ends_in_an_error_naming_it() {
    let addr = format!("127.0.0.1:{}", free_port().expect("port"));
    let registry = Registry::start_fixture(&addr).unwrap_or_else(|e| panic!("{e}"));
    // Every blob request is sent back to itself.
    let proxy = Proxy::start(registry.addr(), |req| {
        if req.path.contains("/blobs/") {
            Action::Respond {
                status: 307,
                headers: vec![(
                    "Location".into(),
                    format!("http://{}{}", req.proxy_addr, req.path),
                )],
                body: Vec::new(),
            }
        } else {
            Action::Forward
        }
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let started = std::time::Instant::now();
    let run = validate(&proxy, "fixtures/single:v1", "fixtures/single");
    assert_rejected(&run, "redirect");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(
        run.failed.as_deref(),
        Some(format!("{}/fixtures/single:v1\n", proxy.addr()).as_str())
    );
}

#[test]
fn tags_with_odd_characters_fail_by_line_and_never_reach_a_url() {
    let registry = Registry::start_empty().unwrap_or_else(|e| panic!("{e}"));
    let seen: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
    let log = Arc::clone(&seen);
    let proxy = Proxy::start(registry.addr(), move |req| {
        log.lock().expect("lock").push(req.path.clone());
        Action::Forward
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let a = proxy.addr();
    let long_ok = "a".repeat(128);
    let too_long = "a".repeat(129);
    // Valid tags (they just do not exist) and invalid ones (never sent anywhere).
    let valid = [
        format!("{a}/odd/tags:UPPER_case.tag-1"),
        format!("{a}/odd/tags:{long_ok}"),
    ];
    let invalid = [
        format!("{a}/odd/tags:{too_long}"),
        format!("{a}/odd/tags:-lead"),
        format!("{a}/odd/tags:.lead"),
        format!("{a}/odd/tags:v1?x=1"),
        format!("{a}/odd/tags:v1#frag"),
        format!("{a}/odd/tags:ü"),
        format!("{a}/odd/tags:v1/../../x"),
        format!("{a}/odd/tags:%2e%2e"),
        format!("{a}/odd/tags:v1%0d%0aX-Injected:1"),
    ];
    let list: String = valid
        .iter()
        .chain(&invalid)
        .map(|l| format!("{l}\n"))
        .collect();
    let dir = TempDir::new("oddtags").expect("tmp");
    let run = crate::validate_in(dir.path(), &list, &["-j", "4"], &[]);
    assert!(!run.all().contains("panicked"), "{}", run.all());
    assert_eq!(run.code, 1, "{}", run.all());
    // Every line failed and is in the failed file, in list order.
    assert_eq!(run.failed.as_deref(), Some(list.as_str()), "{}", run.all());
    for (i, l) in valid.iter().chain(&invalid).enumerate() {
        assert!(
            run.stderr.contains(&format!("[IMG: {}] [{l}]", i + 1)),
            "line {} not named: {}",
            i + 1,
            run.stderr
        );
    }
    for (i, _) in invalid.iter().enumerate() {
        let id = valid.len() + i + 1;
        let line = run
            .stderr
            .lines()
            .find(|s| s.contains(&format!("[IMG: {id}]")))
            .unwrap_or_default()
            .to_owned();
        assert!(line.contains("is not a valid reference"), "{line}");
    }
    // The registry only ever saw the two valid tags (and the ping).
    let paths = seen.lock().expect("lock").clone();
    assert!(
        paths
            .iter()
            .all(|p| p == "/v2/" || p.contains("UPPER_case.tag-1") || p.contains(&long_ok)),
        "{paths:?}"
    );
    assert!(paths.iter().any(|p| p.contains(&long_ok)), "{paths:?}");
}

/// Payloads the lab key really signed, but of a shape containers/image refuses: each line is
/// rejected with the parser's message, after the signature verified.
#[test]
fn signed_payloads_of_the_wrong_shape_tampered_or_oversized() {
    use hangar_signature::PrivateKey;
    use hangar_testkit::{fixture_dir, seed};
    let registry = Registry::start_empty().unwrap_or_else(|e| panic!("{e}"));
    let addr = registry.addr().to_owned();
    let keys = fixture_dir().join("keys");
    let passphrase = std::fs::read(keys.join("passphrase")).expect("passphrase");
    let key = PrivateKey::from_encrypted_pem(
        &std::fs::read(keys.join("lab.key")).expect("lab.key"),
        passphrase.trim_ascii_end(),
    )
    .expect("decrypt lab.key");
    let payload = |digest: &str, image: &str, critical_extra: &str, optional: &str| {
        format!(
            r#"{{"critical":{{"identity":{{"docker-reference":"{image}"}},"image":{{"docker-manifest-digest":"{digest}"}},"type":"cosign container image signature"{critical_extra}}},"optional":{optional}}}"#
        )
    };
    let cases: [(&str, &str, &str, &str); 5] = [
        ("unknown", ",\"x\":1", "null", "unknown field `x`"),
        (
            "duplicate",
            ",\"type\":\"cosign container image signature\"",
            "null",
            "duplicate field `type`",
        ),
        (
            "duptime",
            "",
            r#"{"timestamp":1,"timestamp":2}"#,
            "duplicate key \"timestamp\" in optional",
        ),
        (
            "wrongtype",
            "",
            r#"{"timestamp":"yesterday"}"#,
            "invalid type: string \"yesterday\", expected a JSON number",
        ),
        ("fine", "", r#"{"creator":"test"}"#, ""),
    ];
    let mut lines = String::new();
    for (name, extra, optional, _) in cases {
        let repo = format!("shape/{name}");
        let image = format!("{addr}/{repo}:v1");
        let digest = seed::push_image(&addr, &repo, "v1", name).unwrap_or_else(|e| panic!("{e}"));
        let body = payload(&digest, &image, extra, optional);
        let sig = key.sign_base64(body.as_bytes());
        seed::push_simple_signing(&addr, &repo, &digest, body.as_bytes(), Some(&sig))
            .unwrap_or_else(|e| panic!("{e}"));
        lines.push_str(&image);
        lines.push('\n');
    }
    // A payload edited after signing (the layer digest matches the edited bytes).
    let tampered =
        seed::push_image(&addr, "shape/tampered", "v1", "t").unwrap_or_else(|e| panic!("{e}"));
    let signed = payload(&tampered, &format!("{addr}/shape/tampered:v1"), "", "null");
    let stored = signed.replace(
        "\"optional\":null",
        "\"optional\":{\"creator\":\"mallory\"}",
    );
    assert_ne!(signed, stored);
    seed::push_simple_signing(
        &addr,
        "shape/tampered",
        &tampered,
        stored.as_bytes(),
        Some(&key.sign_base64(signed.as_bytes())),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    lines.push_str(&format!("{addr}/shape/tampered:v1\n"));
    // A signature layer larger than 4 MiB: refused by its announced size, never fetched whole.
    let big = seed::push_image(&addr, "shape/big", "v1", "big").unwrap_or_else(|e| panic!("{e}"));
    let mut body = payload(&big, &format!("{addr}/shape/big:v1"), "", "null").into_bytes();
    body.resize(5 << 20, b' ');
    let sig = key.sign_base64(&body);
    seed::push_simple_signing(&addr, "shape/big", &big, &body, Some(&sig))
        .unwrap_or_else(|e| panic!("{e}"));
    lines.push_str(&format!("{addr}/shape/big:v1\n"));

    let dir = TempDir::new("shapes").expect("tmp");
    let run = crate::validate_in(dir.path(), &lines, &["--report", "report.json"], &[]);
    assert!(!run.all().contains("panicked"), "{}", run.all());
    assert_eq!(run.code, 1, "{}", run.all());
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("report.json")).expect("report"),
    )
    .expect("JSON");
    for (i, (name, _, _, message)) in cases.iter().enumerate() {
        let line = &report["lines"][i];
        if message.is_empty() {
            assert_eq!(line["verdict"], "passed", "{name}: {line}");
            continue;
        }
        assert_eq!(line["verdict"], "invalid", "{name}: {line}");
        let reason = line["reason"].as_str().unwrap_or_default();
        assert!(
            reason.starts_with("invalid signature payload: ") && reason.contains(message),
            "{name}: {reason}"
        );
    }
    let tampered_line = &report["lines"][cases.len()];
    assert_eq!(tampered_line["verdict"], "invalid", "{tampered_line}");
    assert_eq!(
        tampered_line["reason"],
        "cryptographic signature verification failed: invalid signature when validating ASN.1 encoded signature"
    );
    let big_line = &report["lines"][cases.len() + 1];
    assert_eq!(big_line["verdict"], "invalid", "{big_line}");
    assert_eq!(
        big_line["reason"],
        "signature payload of 5242880 bytes exceeds the 4194304-byte limit"
    );
}
