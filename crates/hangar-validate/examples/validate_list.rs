//! Validate a list of images on your own threads: `validate_list LIST.txt SIGSTORE.pub [THREADS]`.
//!
//! One `Client` (one connection pool, one token cache) and one `Validator` are shared by
//! reference; the library starts no threads of its own.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hangar_imagelist::{EntryKind, Overrides, entries};
use hangar_policy::SignedIdentity;
use hangar_registry::{Client, Config, Deadline, TlsVerify};
use hangar_signature::PublicKey;
use hangar_validate::{PlatformFilter, Validator, Verdict};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let list = std::fs::read_to_string(args.next().ok_or("LIST.txt?")?)?;
    let keys = [PublicKey::from_pem(&std::fs::read(
        args.next().ok_or("SIGSTORE.pub?")?,
    )?)?];
    let threads: usize = args.next().and_then(|t| t.parse().ok()).unwrap_or(4);
    let images: Vec<_> = entries(list.lines(), &Overrides::default())
        .filter_map(|e| match e.kind {
            EntryKind::Image(r) => Some(r),
            _ => None,
        })
        .collect();
    let client = Client::new(Config {
        tls_verify: TlsVerify::Skip,
        ..Config::default()
    })?;
    let (identity, platforms) = (
        SignedIdentity::MatchRepoDigestOrExact,
        PlatformFilter::default(),
    );
    let validator = Validator::new(&client, &keys, &identity, &platforms);
    let (next, failed) = (AtomicUsize::new(0), AtomicUsize::new(0));
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                while let Some(image) = images.get(next.fetch_add(1, Ordering::SeqCst)) {
                    let r = validator.validate(image, Deadline::after(Duration::from_secs(600)));
                    if r.verdict == Verdict::Failed {
                        failed.fetch_add(1, Ordering::SeqCst);
                    }
                    println!("{image}: {:?} {}", r.verdict, r.reason.unwrap_or_default());
                }
            });
        }
    });
    println!(
        "{} of {} failed",
        failed.load(Ordering::SeqCst),
        images.len()
    );
    Ok(())
}
