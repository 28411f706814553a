//! The validation pipeline as a library, on the recorded fixture registry behind a Bearer
//! token service: verdicts and the exact number of requests per image.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hangar_policy::SignedIdentity;
use hangar_reference::Reference;
use hangar_registry::{Client, Config, Deadline, TlsVerify};
use hangar_signature::PublicKey;
use hangar_testkit::proxy::{Action, Proxy};
use hangar_testkit::{Registry, fixture_dir, free_port};
use hangar_validate::{PlatformFilter, Validator, Verdict};

/// A client that allows plain HTTP, and the recorded lab key.
fn plain_client_and_lab_key() -> (Client, [PublicKey; 1]) {
    let client = Client::new(Config {
        tls_verify: TlsVerify::Skip,
        ..Config::default()
    })
    .expect("client");
    let key = PublicKey::from_pem(&std::fs::read(fixture_dir().join("keys/lab.pub")).expect("key"))
        .expect("pem");
    (client, [key])
}

#[test]
fn requests_per_image_with_warm_tokens() {
    let addr = format!("127.0.0.1:{}", free_port().expect("port"));
    let registry = Registry::start_fixture(&addr).unwrap_or_else(|e| panic!("{e}"));
    let tokens = Arc::new(AtomicUsize::new(0));
    let t = Arc::clone(&tokens);
    let proxy = Proxy::start(registry.addr(), move |req| {
        if req.path.starts_with("/token?") {
            t.fetch_add(1, Ordering::SeqCst);
            return Action::json(200, r#"{"access_token":"tok","expires_in":300}"#);
        }
        if req.header("authorization") == Some("Bearer tok") {
            return Action::Forward;
        }
        Action::bearer_challenge(req, "s", "")
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let (client, keys) = plain_client_and_lab_key();
    let multi_identity =
        SignedIdentity::exact_repository("127.0.0.1:5000/fixtures/multi").expect("repo");
    let platforms = PlatformFilter::default(); // amd64 + arm64: P = 2
    let validator = Validator::new(&client, &keys, &multi_identity, &platforms);
    let multi =
        Reference::parse_normalized(&format!("{}/fixtures/multi:v1", proxy.addr())).expect("ref");
    let d = || Deadline::after(Duration::from_secs(30));

    let first = validator.validate(&multi, d());
    assert_eq!(first.verdict, Verdict::Passed, "{:?}", first.reason);
    let warm = client.request_count();
    let again = validator.validate(&multi, d());
    assert_eq!(again.verdict, Verdict::Passed, "{:?}", again.reason);
    // An index: 1 + P × (1 + S) with P = 2 platforms, S = 1 signature each.
    assert_eq!(client.request_count() - warm, 1 + 2 * (1 + 1));
    assert_eq!(
        tokens.load(Ordering::SeqCst),
        1,
        "one token for the repository scope"
    );

    // A single manifest: manifest + config + .sig manifest + S blobs = 2 + 1 + S.
    let single_identity =
        SignedIdentity::exact_repository("127.0.0.1:5000/fixtures/twosigs").expect("repo");
    let validator = Validator {
        identity: &single_identity,
        ..validator
    };
    let twosigs =
        Reference::parse_normalized(&format!("{}/fixtures/twosigs:v1", proxy.addr())).expect("ref");
    let first = validator.validate(&twosigs, d());
    assert_eq!(first.verdict, Verdict::Passed, "{:?}", first.reason);
    assert_eq!(
        tokens.load(Ordering::SeqCst),
        2,
        "one more token for the new repository"
    );
    let warm = client.request_count();
    let again = validator.validate(&twosigs, d());
    assert_eq!(again.verdict, Verdict::Passed, "{:?}", again.reason);
    // twosigs: the first layer (other key) is rejected, the second accepted: S = 2.
    assert_eq!(client.request_count() - warm, 2 + 1 + 2);
}

/// Lines naming the same platform images (a tag, another tag, the digests) share one cache:
/// only the first pays for the signatures; every verdict is still reached on its own.
#[test]
fn a_shared_cache_fetches_each_signature_once() {
    let addr = format!("127.0.0.1:{}", free_port().expect("port"));
    let _registry = Registry::start_fixture(&addr).unwrap_or_else(|e| panic!("{e}"));
    let (client, keys) = plain_client_and_lab_key();
    let identity = SignedIdentity::exact_repository("127.0.0.1:5000/fixtures/multi").expect("repo");
    let platforms = PlatformFilter::default();
    let cache = hangar_validate::SignatureCache::new();
    let validator = Validator {
        cache: Some(&cache),
        ..Validator::new(&client, &keys, &identity, &platforms)
    };
    let d = || Deadline::after(Duration::from_secs(30));
    let image = |r: &str| Reference::parse_normalized(&format!("{addr}/{r}")).expect("ref");
    let first = validator.validate(&image("fixtures/multi:v1"), d());
    assert_eq!(first.verdict, Verdict::Passed, "{:?}", first.reason);
    let cold = client.request_count();
    // The same index again: only the index itself is fetched (1 request, no signatures).
    let again = validator.validate(&image("fixtures/multi:v1"), d());
    assert_eq!(again.verdict, Verdict::Passed, "{:?}", again.reason);
    assert_eq!(client.request_count() - cold, 1);
    assert_eq!(cache.hits(), 4, "2 platforms × (attachment + payload)");
    // A wrong identity rule still fails with its own message, from cached signatures.
    let other = SignedIdentity::exact_repository("127.0.0.1:5000/elsewhere").expect("repo");
    let strict = Validator {
        identity: &other,
        ..validator
    };
    let refused = strict.validate(&image("fixtures/multi:v1"), d());
    assert_eq!(refused.verdict, Verdict::Failed);
    assert!(
        refused.reason.as_deref().is_some_and(|r| r
            .contains("Signature for identity 127.0.0.1:5000/fixtures/multi:v1 is not accepted")),
        "{:?}",
        refused.reason
    );
    // Unsigned images are remembered as unsigned, with containers/image's message: the
    // second look fetches the manifest and its config, nothing about signatures.
    let b0 = client.request_count();
    let unsigned = validator.validate(&image("fixtures/unsigned:v1"), d());
    let first_cost = client.request_count() - b0;
    let b1 = client.request_count();
    let unsigned_again = validator.validate(&image("fixtures/unsigned:v1"), d());
    assert_eq!(unsigned_again, unsigned);
    assert_eq!(
        unsigned.reason.as_deref(),
        Some("A signature was required, but no signature exists")
    );
    // First: manifest, config, .sig tag, referrers API, referrers tag. Again: the first two.
    assert_eq!((first_cost, client.request_count() - b1), (5, 2));
}

/// The `validate_one` example (validation of one image in under 20 lines) against the
/// recorded fixture registry on 127.0.0.1:5000, where its identities hold.
#[test]
fn the_validate_one_example_runs() {
    let registry =
        Registry::start_fixture(hangar_testkit::FIXTURE_ADDR).unwrap_or_else(|e| panic!("{e}"));
    let deps = std::env::current_exe()
        .expect("exe")
        .parent()
        .map(std::path::Path::to_path_buf)
        .expect("deps dir");
    let example = deps
        .parent()
        .expect("profile dir")
        .join("examples/validate_one");
    let key = fixture_dir().join("keys/lab.pub");
    let run = |image: &str| {
        let out = std::process::Command::new(&example)
            .arg(format!("{}/{image}", registry.addr()))
            .arg(&key)
            .output()
            .expect("run example");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(run("fixtures/multi:v1").trim(), "Passed");
    assert!(
        run("fixtures/unsigned:v1")
            .starts_with("Failed A signature was required, but no signature exists")
    );
    let code = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/validate_one.rs"),
    )
    .expect("source");
    let lines = code
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with("//"))
        .count();
    assert!(lines <= 20, "the example has {lines} lines of code");
}
