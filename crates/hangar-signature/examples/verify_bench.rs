//! Micro-benchmark: CPU time of one signature check (base64, ECDSA P-256 over the payload,
//! strict payload parse), on skopeo's recorded signature. `cargo xtask bench` runs it; by
//! hand: `cargo run --release -p hangar-signature --example verify_bench [ITERATIONS]`.

use std::time::Instant;

use hangar_signature::{PublicKey, verify};
use hangar_testkit::cpu_seconds;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5000);
    let key = PublicKey::from_pem(include_bytes!("../tests/data/lab.pub"))?;
    let payload = include_bytes!("../tests/data/single.payload");
    let sig = include_str!("../tests/data/single.sig").trim();
    let keys = [key];
    verify(&keys, payload, Some(sig))?;
    let (cpu0, wall0) = (cpu_seconds(), Instant::now());
    for _ in 0..n {
        verify(&keys, payload, Some(sig))?;
    }
    let (cpu, wall) = (cpu_seconds() - cpu0, wall0.elapsed().as_secs_f64());
    println!(
        "verify_bench iterations={n} cpu_ms_per_verify={:.4} wall_ms_per_verify={:.4}",
        cpu * 1000.0 / f64::from(n),
        wall * 1000.0 / f64::from(n)
    );
    Ok(())
}
