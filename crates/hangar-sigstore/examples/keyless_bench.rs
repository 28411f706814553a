//! Micro-benchmark: CPU time of one keyless signature check as `hangar sign validate` does
//! it per platform — the Rekor SET, the certificate path and SCT (from the run's cache after
//! the first), the entry's binding, the identity rules, the signature, then the payload's
//! strict parse — on a fake-Sigstore signature.
//! `cargo xtask bench` runs it; by hand:
//! `cargo run --release -p hangar-sigstore --example keyless_bench [ITERATIONS]`.

use std::time::Instant;

use hangar_sigstore::{
    CertificateIdentity, ChainCache, CosignSignature, KeylessPolicy, Matcher, TrustedRoot,
    verify_cosign,
};
use hangar_testkit::cpu_seconds;
use hangar_testkit::sigstore::{EntrySpec, FakeSigstore, LeafSpec, cosign_payload};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5000);
    let t = 1_750_000_000;
    let fake = FakeSigstore::new();
    let root = TrustedRoot::from_json(fake.trusted_root_json().as_bytes())?;
    let leaf = fake.issue(&LeafSpec::email(
        "release@example.com",
        "https://issuer.example",
        t,
    ));
    let payload = cosign_payload(
        "sha256:9d787d7bfc4d7b2f3d15e7a1e31329166fc3adbc938a52590056b8b3cc8e6ac4",
        "registry.example/app",
        t,
    );
    let sig = leaf.sign(&payload);
    let bundle = fake.cosign_bundle(
        &payload,
        &sig,
        &leaf.pem(),
        &EntrySpec {
            integrated_time: t,
            log_index: 1,
            ..EntrySpec::default()
        },
    );
    let policy = KeylessPolicy {
        identities: vec![CertificateIdentity {
            subject: Matcher::Exact("release@example.com".into()),
            issuer: Matcher::Exact("https://issuer.example".into()),
            github: Default::default(),
        }],
        require_sct: true,
        use_signature_chain: false,
        pki_time: None,
    };
    let cache = ChainCache::default();
    let pem = leaf.pem();
    let check = || -> Result<(), Box<dyn std::error::Error>> {
        verify_cosign(
            &root,
            &policy,
            &CosignSignature {
                payload: &payload,
                signature: &sig,
                certificate_pem: &pem,
                bundle: Some(&bundle),
                chain_pem: None,
                rfc3161_timestamp: None,
            },
            Some(&cache),
        )?
        .signature
        .ok_or("no payload")?;
        Ok(())
    };
    // The first check builds and caches the path.
    let (cpu0, wall0) = (cpu_seconds(), Instant::now());
    check()?;
    let first_ms = (cpu_seconds() - cpu0) * 1000.0;
    let first_wall = wall0.elapsed().as_secs_f64() * 1000.0;
    let (cpu0, wall0) = (cpu_seconds(), Instant::now());
    for _ in 0..n {
        check()?;
    }
    let (cpu, wall) = (cpu_seconds() - cpu0, wall0.elapsed().as_secs_f64());
    println!(
        "keyless_bench iterations={n} cpu_ms_per_check={:.4} wall_ms_per_check={:.4} first_check_wall_ms={first_wall:.2} (cpu {first_ms:.0} ms at 10 ms resolution)",
        cpu * 1000.0 / f64::from(n),
        wall * 1000.0 / f64::from(n)
    );
    Ok(())
}
