//! Validate one image from Rust: `validate_one REFERENCE SIGSTORE.pub` (plain HTTP allowed).
use hangar_policy::SignedIdentity;
use hangar_reference::Reference;
use hangar_registry::{Client, Config, Deadline, TlsVerify};
use hangar_signature::PublicKey;
use hangar_validate::{PlatformFilter, Validator};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let image = Reference::parse_normalized(&args.next().ok_or("REFERENCE?")?)?;
    let key_pem = std::fs::read(args.next().ok_or("SIGSTORE.pub?")?)?;
    let keys = [PublicKey::from_pem(&key_pem)?];
    let client = Client::new(Config::default().with_tls_verify(TlsVerify::Skip))?;
    let identity = SignedIdentity::MatchRepoDigestOrExact;
    let platforms = PlatformFilter::all();
    let validator = Validator::new(&client, &keys, &identity, &platforms);
    let result = validator.validate(&image, Deadline::none());
    println!("{:?} {}", result.verdict, result.reason.unwrap_or_default());
    Ok(())
}
