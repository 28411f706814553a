//! sigstore-conformance's `bundle-verify` cases (tests/data/conformance, copied unchanged):
//! every bundle is verified with `verify_bundle` against the trusted root the case names (or
//! the public-good one), with the case's artifact, identity, issuer or key, and must pass
//! exactly when its name does not end in `_fail`.
//!
//! Cases hangar cannot verify yet are listed in [`NOT_YET`] with the reason; each of them
//! must still fail (closed), and the list is checked to be exact, so a case that starts
//! passing must leave it.

use std::path::{Path, PathBuf};

use hangar_sigstore::{
    Artifact, BundleSigner, CertificateIdentity, GithubClaims, KeylessPolicy, Matcher, TrustedRoot,
    verify_bundle,
};

const DEFAULT_IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const DEFAULT_ISSUER: &str = "https://token.actions.githubusercontent.com";

/// Valid bundles hangar refuses for now, and why.
const NOT_YET: &[(&str, &str)] = &[];

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/conformance")
}

fn read_opt(dir: &Path, name: &str) -> Option<Vec<u8>> {
    std::fs::read(dir.join(name)).ok()
}

/// Our verdict for one case: `Ok(())` when the bundle verifies.
fn verdict(dir: &Path) -> Result<(), String> {
    let root_json = read_opt(dir, "trusted_root.json").unwrap_or_else(|| {
        std::fs::read(data().join("trusted-root-public-good.json")).expect("public-good root")
    });
    let root = TrustedRoot::from_json(&root_json).map_err(|e| format!("trusted root: {e}"))?;
    let bundle = std::fs::read(dir.join("bundle.sigstore.json")).expect("bundle");
    let artifact = read_opt(dir, "artifact")
        .unwrap_or_else(|| std::fs::read(data().join("bundle-verify/a.txt")).expect("a.txt"));
    let text = |name: &str, default: &str| {
        read_opt(dir, name)
            .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
            .unwrap_or_else(|| default.to_owned())
    };
    let result = match read_opt(dir, "key.pub") {
        Some(pem) => {
            let key = hangar_signature::PublicKey::from_pem(&pem).map_err(|e| e.to_string())?;
            verify_bundle(
                &root,
                &bundle,
                Artifact::Bytes(&artifact),
                BundleSigner::Key(&key),
                None,
            )
        }
        None => {
            let policy = KeylessPolicy {
                identities: vec![CertificateIdentity {
                    subject: Matcher::Exact(text("identity", DEFAULT_IDENTITY)),
                    issuer: Matcher::Exact(text("issuer", DEFAULT_ISSUER)),
                    github: GithubClaims::default(),
                }],
                require_sct: true,
                use_signature_chain: false,
                pki_time: None,
            };
            verify_bundle(
                &root,
                &bundle,
                Artifact::Bytes(&artifact),
                BundleSigner::Keyless(&policy),
                None,
            )
        }
    };
    result.map(|_| ()).map_err(|e| e.to_string())
}

#[test]
fn every_bundle_verify_case_gets_the_suites_verdict() {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(data().join("bundle-verify"))
        .expect("cases")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(cases.len() >= 70, "{} cases", cases.len());
    let mut wrong = Vec::new();
    let mut not_yet_seen = Vec::new();
    let (mut passed, mut failed) = (0, 0);
    for dir in &cases {
        let name = dir
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let want_pass = !name.ends_with("_fail");
        let got = verdict(dir);
        if let Some((_, why)) = NOT_YET.iter().find(|(n, _)| *n == name) {
            not_yet_seen.push(name.clone());
            assert!(
                want_pass,
                "{name} is listed as not yet supported but is a _fail case"
            );
            match got {
                Ok(()) => wrong.push(format!(
                    "{name}: verifies now; remove it from NOT_YET ({why})"
                )),
                Err(_) => failed += 1,
            }
            continue;
        }
        match (want_pass, &got) {
            (true, Ok(())) => passed += 1,
            (false, Err(e)) => {
                eprintln!("{name}: refused: {e}");
                failed += 1;
            }
            (true, Err(e)) => wrong.push(format!("{name}: must verify, refused: {e}")),
            (false, Ok(())) => wrong.push(format!("{name}: must be refused, but verified")),
        }
    }
    assert_eq!(
        not_yet_seen.len(),
        NOT_YET.len(),
        "NOT_YET names a missing case"
    );
    assert!(
        wrong.is_empty(),
        "{} wrong verdicts:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    assert!(passed > 0, "nothing verified");
    eprintln!(
        "{passed} verified, {failed} refused, {} not yet supported (refused)",
        NOT_YET.len()
    );
}
