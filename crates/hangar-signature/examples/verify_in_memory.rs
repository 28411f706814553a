//! Verify a payload and its signature already in memory (no network): what a tool that
//! fetched them itself would do. Uses a signature skopeo made.

use hangar_signature::{PublicKey, verify};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let key = PublicKey::from_pem(include_bytes!("../tests/data/lab.pub"))?;
    let payload = include_bytes!("../tests/data/single.payload");
    let signature = include_str!("../tests/data/single.sig").trim();
    let verified = verify(&[key], payload, Some(signature))?;
    let claims = verified.payload();
    println!(
        "signed {} as {}",
        claims.docker_manifest_digest, claims.docker_reference
    );
    Ok(())
}
