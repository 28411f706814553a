//! Every parser the keyless path runs on registry bytes, on damaged copies of real bundles:
//! each base64 field of sigstore-conformance's valid bundles is truncated and has bytes flipped
//! at about 80 places and is emptied, and every such bundle must be refused without a panic
//! (flips in the parts of a timestamp token its signature does not cover excepted).

use std::path::{Path, PathBuf};

use base64::Engine as _;
use hangar_sigstore::{
    Artifact, BundleSigner, CertificateIdentity, GithubClaims, KeylessPolicy, Matcher, TrustedRoot,
    verify_bundle,
};
use serde_json::Value;

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/conformance")
}

/// Paths (as JSON pointers) of every string leaf that decodes as base64.
fn base64_leaves(v: &Value, at: String, out: &mut Vec<(String, Vec<u8>)>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                base64_leaves(
                    x,
                    format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                );
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                base64_leaves(x, format!("{at}/{i}"), out);
            }
        }
        Value::String(s) if s.len() >= 8 => {
            if let Ok(b) = base64::engine::general_purpose::STANDARD.decode(s) {
                out.push((at, b));
            }
        }
        _ => {}
    }
}

/// Damaged copies of `bytes`: truncations, single flipped bytes, and nothing.
fn damaged(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = vec![Vec::new()];
    let step = (bytes.len() / 80).max(1);
    for n in (0..bytes.len()).step_by(step) {
        out.push(bytes[..n].to_vec());
        for flip in [0x01u8, 0x80, 0xff] {
            let mut b = bytes.to_vec();
            b[n] ^= flip;
            out.push(b);
        }
    }
    out
}

#[test]
fn damaged_bundles_are_refused_without_a_panic() {
    let root_json = std::fs::read(data().join("trusted-root-public-good.json")).expect("root");
    let artifact = std::fs::read(data().join("bundle-verify/a.txt")).expect("a.txt");
    let policy = KeylessPolicy {
        identities: vec![CertificateIdentity {
            subject: Matcher::regex(".*").expect("regex"),
            issuer: Matcher::regex(".*").expect("regex"),
            github: GithubClaims::default(),
        }],
        require_sct: true,
        use_signature_chain: false,
        pki_time: None,
    };
    let (mut runs, mut unsigned_flips) = (0usize, 0usize);
    for case in [
        "happy-path-v0.1",
        "happy-path-v0.3",
        "happy-path-intoto-in-dsse-v3",
        "rekor2-happy-path",
        "rekor2-dsse-happy-path",
        "rekor2-timestamp-with-embedded-cert",
    ] {
        let dir = data().join("bundle-verify").join(case);
        let root = match std::fs::read(dir.join("trusted_root.json")) {
            Ok(j) => TrustedRoot::from_json(&j).expect("case root"),
            Err(_) => TrustedRoot::from_json(&root_json).expect("root"),
        };
        let artifact = std::fs::read(dir.join("artifact")).unwrap_or_else(|_| artifact.clone());
        let bundle = std::fs::read(dir.join("bundle.sigstore.json")).expect("bundle");
        let json: Value = serde_json::from_slice(&bundle).expect("json");
        let mut leaves = Vec::new();
        base64_leaves(&json, String::new(), &mut leaves);
        for (pointer, bytes) in leaves {
            for d in damaged(&bytes) {
                if d == bytes {
                    continue;
                }
                let mut j = json.clone();
                *j.pointer_mut(&pointer).expect("pointer") =
                    Value::String(base64::engine::general_purpose::STANDARD.encode(&d));
                let b = serde_json::to_vec(&j).expect("json");
                let r = std::panic::catch_unwind(|| {
                    verify_bundle(
                        &root,
                        &b,
                        Artifact::Bytes(&artifact),
                        BundleSigner::Keyless(&policy),
                        None,
                    )
                    .is_ok()
                });
                runs += 1;
                match r {
                    Err(_) => panic!("{case}: {pointer} damaged ({} bytes) panicked", d.len()),
                    // A timestamp token's CMS wrapping outside what its signature covers
                    // (the digestAlgorithms set, the SignerInfo's issuer and serial, the
                    // signatureAlgorithm, the embedded certificates) is not interpreted: the
                    // token's key comes from the trusted root and is used with SHA-256.
                    Ok(true) if pointer.ends_with("/signedTimestamp") && d.len() == bytes.len() => {
                        unsigned_flips += 1;
                    }
                    Ok(true) => panic!(
                        "{case}: {pointer} damaged ({} bytes, first change at {:?}) still verifies",
                        d.len(),
                        d.iter().zip(&bytes).position(|(a, b)| a != b)
                    ),
                    Ok(false) => {}
                }
            }
        }
    }
    assert!(runs > 1000, "{runs}");
    assert!(unsigned_flips < runs / 10, "{unsigned_flips} of {runs}");
}
