//! The registry client against a real `docker-registry`, through a fault-injecting proxy.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hangar_reference::Reference;
use hangar_registry::{Client, Config, Deadline, Error, TlsVerify};
use hangar_testkit::proxy::{Action, Proxy, Request};
use hangar_testkit::{Registry, free_port};

const SINGLE_DIGEST: &str =
    "sha256:9d787d7bfc4d7b2f3d15e7a1e31329166fc3adbc938a52590056b8b3cc8e6ac4";
/// The payload blob of fixtures/single's signature.
const PAYLOAD_DIGEST: &str =
    "sha256:e3539291b00574194358fb1eb838131b68cfc523a7b2fc4a666fcff7d4f5f099";

fn registry() -> Registry {
    let addr = format!("127.0.0.1:{}", free_port().expect("port"));
    Registry::start_fixture(&addr).unwrap_or_else(|e| panic!("{e}"))
}

fn client() -> Client {
    Client::new(Config {
        tls_verify: TlsVerify::Skip,
        ..Config::default()
    })
    .expect("client")
}

fn image(addr: &str, rest: &str) -> Reference {
    Reference::parse_normalized(&format!("{addr}/{rest}")).expect("reference")
}

/// A proxy whose handler sees the n-th (0-based) request to a path containing `needle`.
fn proxy_on(
    registry: &Registry,
    needle: &'static str,
    f: impl Fn(usize, &Request) -> Action + Send + Sync + 'static,
) -> Proxy {
    let n = AtomicUsize::new(0);
    Proxy::start(registry.addr(), move |req| {
        if req.path.contains(needle) {
            f(n.fetch_add(1, Ordering::SeqCst), req)
        } else {
            Action::Forward
        }
    })
    .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn too_many_requests_are_waited_out_with_retry_after() {
    let reg = registry();
    let proxy = proxy_on(&reg, "/manifests/", |n, _| {
        if n < 2 {
            Action::Respond {
                status: 429,
                headers: vec![("Retry-After".into(), "1".into())],
                body: br#"{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}"#.to_vec(),
            }
        } else {
            Action::Forward
        }
    });
    let c = client();
    let start = Instant::now();
    let m = c
        .get_manifest(
            &image(proxy.addr(), "fixtures/single:v1"),
            Deadline::after(Duration::from_secs(30)),
        )
        .expect("manifest after 429s");
    assert_eq!(m.digest.to_string(), SINGLE_DIGEST);
    assert!(
        start.elapsed() >= Duration::from_secs(2),
        "Retry-After honoured: {:?}",
        start.elapsed()
    );
}

#[test]
fn repeated_503_fails_clearly_within_the_deadline() {
    let reg = registry();
    let proxy = proxy_on(&reg, "/manifests/", |_, _| {
        Action::json(
            503,
            r#"{"errors":[{"code":"UNAVAILABLE","message":"down for maintenance"}]}"#,
        )
    });
    let c = client();
    let start = Instant::now();
    let err = c
        .get_manifest(
            &image(proxy.addr(), "fixtures/single:v1"),
            Deadline::after(Duration::from_secs(3)),
        )
        .expect_err("503");
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "{:?}",
        start.elapsed()
    );
    let text = err.to_string();
    assert!(
        text.contains("HTTP status 503") && text.contains("UNAVAILABLE: down for maintenance"),
        "{text}"
    );
}

#[test]
fn a_reset_mid_body_is_retried() {
    let reg = registry();
    let proxy = proxy_on(&reg, "/manifests/", |n, _| {
        if n == 0 {
            Action::Truncate(10)
        } else {
            Action::Forward
        }
    });
    let c = client();
    let m = c
        .get_manifest(
            &image(proxy.addr(), "fixtures/single:v1"),
            Deadline::after(Duration::from_secs(30)),
        )
        .expect("retried");
    assert_eq!(m.digest.to_string(), SINGLE_DIGEST);
}

#[test]
fn wrong_digests_are_refused() {
    let reg = registry();
    let edit_body = Arc::new(|r: &mut hangar_testkit::HttpResponse| r.body.push(b' '));
    let proxy = Proxy::start(reg.addr(), move |req| {
        if req.path.contains("/manifests/sha256:") || req.path.contains("/blobs/") {
            Action::ForwardEdited(edit_body.clone())
        } else if req.path.ends_with("/manifests/v1") {
            Action::ForwardEdited(Arc::new(|r| {
                r.headers.retain(|(k, _)| k != "docker-content-digest");
                r.headers.push((
                    "Docker-Content-Digest".into(),
                    format!("sha256:{}", "0".repeat(64)),
                ));
            }))
        } else {
            Action::Forward
        }
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let c = client();
    let d = Deadline::after(Duration::from_secs(30));
    let by_digest = c.get_manifest(
        &image(proxy.addr(), &format!("fixtures/single@{SINGLE_DIGEST}")),
        d,
    );
    assert!(
        matches!(by_digest, Err(Error::DigestMismatch { .. })),
        "{by_digest:?}"
    );
    let by_tag = c.get_manifest(&image(proxy.addr(), "fixtures/single:v1"), d);
    assert!(
        matches!(by_tag, Err(Error::DigestMismatch { .. })),
        "{by_tag:?}"
    );
    let blob = c.get_blob(
        &image(proxy.addr(), "fixtures/single"),
        &PAYLOAD_DIGEST.parse().expect("digest"),
        1 << 20,
        d,
    );
    assert!(
        matches!(blob, Err(Error::DigestMismatch { .. })),
        "{blob:?}"
    );
}

#[test]
fn oversized_bodies_are_refused() {
    let reg = registry();
    let proxy = proxy_on(&reg, "/manifests/", |_, _| Action::Respond {
        status: 200,
        headers: vec![(
            "Content-Type".into(),
            "application/vnd.oci.image.manifest.v1+json".into(),
        )],
        body: vec![b' '; 5 << 20],
    });
    let c = client();
    let err = c
        .get_manifest(
            &image(proxy.addr(), "fixtures/single:v1"),
            Deadline::after(Duration::from_secs(30)),
        )
        .expect_err("too large");
    assert!(
        matches!(err, Error::TooLarge { limit, .. } if limit == 4 << 20),
        "{err:?}"
    );
    let small = c.get_blob(
        &image(reg.addr(), "fixtures/single"),
        &PAYLOAD_DIGEST.parse().expect("digest"),
        100,
        Deadline::after(Duration::from_secs(30)),
    );
    assert!(
        matches!(small, Err(Error::TooLarge { limit: 100, .. })),
        "{small:?}"
    );
}

#[test]
fn redirects_to_another_host_carry_no_credentials() {
    let reg = registry();
    // B: the "storage backend" on another host name (localhost, not 127.0.0.1).
    let seen_auth: Arc<Mutex<Vec<Option<String>>>> = Arc::default();
    let seen = Arc::clone(&seen_auth);
    let backend = Proxy::start(reg.addr(), move |req| {
        seen.lock()
            .expect("lock")
            .push(req.header("authorization").map(str::to_owned));
        Action::Forward
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let backend_port = backend.addr().rsplit(':').next().expect("port").to_owned();
    // A: the registry front: Bearer auth, and blobs redirected to B.
    let front = Proxy::start(reg.addr(), move |req| {
        if req.path.starts_with("/token?") {
            return Action::json(200, r#"{"token":"front-token","expires_in":300}"#);
        }
        if req.header("authorization") != Some("Bearer front-token") {
            return Action::bearer_challenge(req, "front", "");
        }
        if req.path.contains("/blobs/") {
            return Action::Respond {
                status: 307,
                headers: vec![(
                    "Location".into(),
                    format!("http://localhost:{backend_port}{}", req.path),
                )],
                body: Vec::new(),
            };
        }
        Action::Forward
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let c = client();
    let blob = c
        .get_blob(
            &image(front.addr(), "fixtures/single"),
            &PAYLOAD_DIGEST.parse().expect("digest"),
            1 << 20,
            Deadline::after(Duration::from_secs(30)),
        )
        .expect("blob through the redirect");
    assert!(blob.starts_with(b"{\"critical\""));
    let seen = seen_auth.lock().expect("lock").clone();
    assert_eq!(
        seen,
        vec![None],
        "the backend got exactly one request, without Authorization"
    );
}

#[test]
fn one_ping_per_registry_and_counted_requests() {
    let reg = registry();
    let c = client();
    let d = Deadline::after(Duration::from_secs(30));
    let i = image(reg.addr(), "fixtures/single:v1");
    c.get_manifest(&i, d).expect("manifest");
    // https probe + http ping + manifest
    assert_eq!(c.request_count(), 3);
    c.get_manifest(&i, d).expect("manifest");
    assert_eq!(c.request_count(), 4, "no second ping");
    assert!(matches!(
        c.get_manifest(&image(reg.addr(), "fixtures/single:nope"), d),
        Err(Error::NotFound { .. })
    ));
}

#[test]
fn insufficient_scope_gets_a_token_for_both_scopes() {
    let reg = registry();
    let token_paths: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = Arc::clone(&token_paths);
    let denied_once = AtomicUsize::new(0);
    let proxy = Proxy::start(reg.addr(), move |req| {
        let challenge = |extra: &str| Action::bearer_challenge(req, "s", extra);
        if req.path.starts_with("/token?") {
            seen.lock().expect("lock").push(req.path.clone());
            let wide = req.path.contains(
                "scope=repository%3Afixtures%2Fsingle%3Apull&scope=registry%3Acatalog%3A*",
            );
            return Action::json(
                200,
                if wide {
                    r#"{"token":"wide"}"#
                } else {
                    r#"{"token":"narrow"}"#
                },
            );
        }
        match req.header("authorization") {
            Some("Bearer wide") => Action::Forward,
            Some("Bearer narrow") if denied_once.fetch_add(1, Ordering::SeqCst) == 0 => {
                challenge(r#",scope="registry:catalog:*",error="insufficient_scope""#)
            }
            _ => challenge(""),
        }
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let c = client();
    let m = c
        .get_manifest(
            &image(proxy.addr(), "fixtures/single:v1"),
            Deadline::after(Duration::from_secs(30)),
        )
        .expect("manifest");
    assert_eq!(m.digest.to_string(), SINGLE_DIGEST);
    let paths = token_paths.lock().expect("lock").clone();
    assert_eq!(paths.len(), 2, "{paths:?}");
    assert!(
        paths[1].contains("scope=registry%3Acatalog%3A*"),
        "{paths:?}"
    );
}
