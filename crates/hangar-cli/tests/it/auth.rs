//! Registry authentication: htpasswd Basic auth on a real registry, and a Bearer token
//! service (a test proxy in front of a real registry), with credentials from auth files.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine as _;
use hangar_testkit::proxy::{Action, Proxy};
use hangar_testkit::{Registry, TempDir, free_port};

use crate::{lab_pub, spawn_in, wait_run};

const USER: &str = "hangar";
const PASSWORD: &str = "hangar-test-secret";
/// bcrypt (cost 4) of PASSWORD.
const HTPASSWD: &str = "hangar:$2b$04$PtqBIydTlSWWaAr8Tu90oemv4C7J40kVePyh6HY87IUuiZ.oBDTYq\n";
const TOKEN: &str = "tok-3f9a1c-not-for-logs";
const DIGEST: &str = "sha256:9d787d7bfc4d7b2f3d15e7a1e31329166fc3adbc938a52590056b8b3cc8e6ac4";

fn basic() -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"))
}

fn auth_json(registry: &str) -> String {
    format!(r#"{{"auths":{{"{registry}":{{"auth":"{}"}}}}}}"#, basic())
}

/// Validates `lines` from `addr` with the lab key, --exact-repository (the recorded
/// identities name 127.0.0.1:5000), --debug and `envs`.
fn validate_at(dir: &TempDir, lines: &str, envs: &[(&str, &str)]) -> crate::Run {
    std::fs::write(dir.path().join("list.txt"), lines).expect("write list");
    let key = lab_pub();
    let args = [
        "sign",
        "validate",
        "-f",
        "list.txt",
        "-p",
        key.to_str().expect("utf-8"),
        "--tls-verify=false",
        "-o",
        "failed.txt",
        "-j",
        "4",
        "--debug",
        "--exact-repository",
        "127.0.0.1:5000/fixtures/single",
    ];
    wait_run(dir.path(), spawn_in(dir.path(), &args, envs), &args)
}

fn assert_no_secrets(run: &crate::Run) {
    let all = run.all();
    for secret in [PASSWORD, &basic(), TOKEN] {
        assert!(!all.contains(secret), "output leaks {secret:?}:\n{all}");
    }
}

#[test]
fn basic_auth_from_registry_auth_file_and_docker_config() {
    let registry = Registry::start_fixture_htpasswd(HTPASSWD).unwrap_or_else(|e| panic!("{e}"));
    let addr = registry.addr().to_owned();
    let line = format!("{addr}/fixtures/single:v1\n{addr}/fixtures/single@{DIGEST}\n");

    let dir = TempDir::new("basic").expect("tmp");
    let run = validate_at(&dir, &line, &[]);
    assert_eq!(run.code, 1, "anonymous access must fail: {}", run.all());
    assert!(run.stderr.contains("HTTP status 401"), "{}", run.stderr);

    let auth = dir.path().join("auth.json");
    std::fs::write(&auth, auth_json(&addr)).expect("write");
    let run = validate_at(
        &dir,
        &line,
        &[("REGISTRY_AUTH_FILE", auth.to_str().expect("utf-8"))],
    );
    assert_eq!(run.code, 0, "{}", run.all());
    assert_no_secrets(&run);

    // The same credentials in ~/.docker/config.json (HOME is the test folder).
    let dir = TempDir::new("basic-docker").expect("tmp");
    std::fs::create_dir_all(dir.path().join(".docker")).expect("mkdir");
    std::fs::write(dir.path().join(".docker/config.json"), auth_json(&addr)).expect("write");
    let run = validate_at(&dir, &line, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_no_secrets(&run);
}

#[test]
fn bearer_tokens_are_fetched_once_per_scope_and_never_logged() {
    let addr = format!("127.0.0.1:{}", free_port().expect("port"));
    let registry = Registry::start_fixture(&addr).unwrap_or_else(|e| panic!("{e}"));
    let token_requests = Arc::new(AtomicUsize::new(0));
    let bad_token_requests = Arc::new(AtomicUsize::new(0));
    let (count, bad) = (Arc::clone(&token_requests), Arc::clone(&bad_token_requests));
    let proxy = Proxy::start(registry.addr(), move |req| {
        if req.path.starts_with("/token?") {
            count.fetch_add(1, Ordering::SeqCst);
            let basic_ok = req.header("authorization") == Some(&format!("Basic {}", basic()));
            let query_ok = req.path.contains("service=hangar-test")
                && req.path.contains("scope=repository%3Afixtures%2Fsingle%3Apull")
                && req.path.contains(&format!("account={USER}"));
            if !(basic_ok && query_ok) {
                bad.fetch_add(1, Ordering::SeqCst);
                return Action::json(401, r#"{"errors":[{"code":"UNAUTHORIZED","message":"bad token request"}]}"#);
            }
            return Action::json(200, &format!(r#"{{"token":"{TOKEN}","expires_in":300}}"#));
        }
        if req.header("authorization") == Some(&format!("Bearer {TOKEN}")) {
            return Action::Forward;
        }
        Action::Respond {
            status: 401,
            headers: vec![(
                "WWW-Authenticate".into(),
                format!(r#"Bearer realm="http://{}/token",service="hangar-test",scope="repository:fixtures/single:pull""#, req.proxy_addr),
            )],
            body: br#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#.to_vec(),
        }
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let p = proxy.addr();
    let lines: String = (0..6)
        .map(|i| {
            if i % 2 == 0 {
                format!("{p}/fixtures/single:v1\n")
            } else {
                format!("{p}/fixtures/single@{DIGEST}\n")
            }
        })
        .collect();

    let dir = TempDir::new("bearer").expect("tmp");
    let auth = dir.path().join("auth.json");
    std::fs::write(&auth, auth_json(p)).expect("write");
    let run = validate_at(
        &dir,
        &lines,
        &[("REGISTRY_AUTH_FILE", auth.to_str().expect("utf-8"))],
    );
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(bad_token_requests.load(Ordering::SeqCst), 0);
    assert_eq!(
        token_requests.load(Ordering::SeqCst),
        1,
        "one token for one repository scope, shared by 4 workers"
    );
    assert!(
        run.stdout.contains("/token?"),
        "debug output shows the token request: {}",
        run.stdout
    );
    assert_no_secrets(&run);
}
