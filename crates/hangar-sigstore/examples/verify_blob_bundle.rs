//! Verifies a Sigstore bundle over a file, offline, the way `cosign verify-blob --bundle`
//! does with a trusted root:
//!
//! ```text
//! cargo run -p hangar-sigstore --example verify_blob_bundle -- \
//!     trusted_root.json artifact bundle.sigstore.json IDENTITY ISSUER
//! ```
use hangar_sigstore::{
    Artifact, BundleSigner, CertificateIdentity, KeylessPolicy, Matcher, TrustedRoot, verify_bundle,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [root, artifact, bundle, identity, issuer] = args.as_slice() else {
        return Err(
            "usage: verify_blob_bundle TRUSTED_ROOT ARTIFACT BUNDLE IDENTITY ISSUER".into(),
        );
    };
    let root = TrustedRoot::from_json(&std::fs::read(root)?)?;
    let policy = KeylessPolicy {
        identities: vec![CertificateIdentity {
            subject: Matcher::Exact(identity.clone()),
            issuer: Matcher::Exact(issuer.clone()),
            github: Default::default(),
        }],
        require_sct: true,
        use_signature_chain: false,
        pki_time: None,
    };
    let artifact = std::fs::read(artifact)?;
    let verified = verify_bundle(
        &root,
        &std::fs::read(bundle)?,
        Artifact::Bytes(&artifact),
        BundleSigner::Keyless(&policy),
        None,
    )?;
    println!(
        "verified: signed by {:?} (issuer {:?}), logged at index {} on {}",
        verified.certificate.as_ref().map(|c| &c.sans),
        verified
            .certificate
            .as_ref()
            .and_then(|c| c.issuer.as_deref()),
        verified.log_entry.log_index,
        hangar_sigstore::format_rfc3339(verified.log_entry.integrated_time),
    );
    Ok(())
}
