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
    let extra = [
        "-j",
        "4",
        "--debug",
        "--exact-repository",
        "127.0.0.1:5000/fixtures/single",
    ];
    crate::validate_in(dir.path(), lines, &extra, envs)
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
                && req
                    .path
                    .contains("scope=repository%3Afixtures%2Fsingle%3Apull")
                && req.path.contains(&format!("account={USER}"));
            if !(basic_ok && query_ok) {
                bad.fetch_add(1, Ordering::SeqCst);
                return Action::json(
                    401,
                    r#"{"errors":[{"code":"UNAUTHORIZED","message":"bad token request"}]}"#,
                );
            }
            return Action::json(200, &format!(r#"{{"token":"{TOKEN}","expires_in":300}}"#));
        }
        if req.header("authorization") == Some(&format!("Bearer {TOKEN}")) {
            return Action::Forward;
        }
        Action::bearer_challenge(
            req,
            "hangar-test",
            r#",scope="repository:fixtures/single:pull""#,
        )
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

/// Writes an executable `docker-credential-<name>` into `dir` that answers `get` with the
/// test credentials (the docker credential-helper protocol).
fn write_helper(dir: &std::path::Path, name: &str, registry: &str) {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(format!("docker-credential-{name}"));
    let script = format!(
        "#!/bin/sh\nread server\nif [ \"$1\" = get ] && [ \"$server\" = \"{registry}\" ]; then\n  printf '{{\"ServerURL\":\"%s\",\"Username\":\"{USER}\",\"Secret\":\"{PASSWORD}\"}}' \"$server\"\nelse\n  echo 'credentials not found in native keychain'; exit 1\nfi\n"
    );
    std::fs::write(&path, script).expect("write helper");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

#[test]
fn credential_helpers_and_creds_store() {
    let registry = Registry::start_fixture_htpasswd(HTPASSWD).unwrap_or_else(|e| panic!("{e}"));
    let addr = registry.addr().to_owned();
    let line = format!("{addr}/fixtures/single:v1\n");
    for (name, config) in [
        (
            "hangarhelper",
            format!(r#"{{"credHelpers":{{"{addr}":"hangarhelper"}}}}"#),
        ),
        ("hangarstore", r#"{"credsStore":"hangarstore"}"#.to_owned()),
    ] {
        let dir = TempDir::new("helper").expect("tmp");
        write_helper(dir.path(), name, &addr);
        std::fs::create_dir_all(dir.path().join(".docker")).expect("mkdir");
        std::fs::write(dir.path().join(".docker/config.json"), config).expect("write");
        let path = format!(
            "{}:{}",
            dir.path().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let run = validate_at(&dir, &line, &[("PATH", &path)]);
        assert_eq!(run.code, 0, "{name}: {}", run.all());
        assert_no_secrets(&run);
    }
}

#[test]
fn authfile_flag_replaces_the_search() {
    let registry = Registry::start_fixture_htpasswd(HTPASSWD).unwrap_or_else(|e| panic!("{e}"));
    let addr = registry.addr().to_owned();
    let dir = TempDir::new("authfile").expect("tmp");
    std::fs::write(dir.path().join("creds.json"), auth_json(&addr)).expect("write");
    std::fs::write(
        dir.path().join("list.txt"),
        format!("{addr}/fixtures/single:v1\n"),
    )
    .expect("write");
    let key = lab_pub();
    let base = [
        "sign",
        "validate",
        "-f",
        "list.txt",
        "-p",
        key.to_str().expect("utf-8"),
        "--tls-verify=false",
        "--exact-repository",
        "127.0.0.1:5000/fixtures/single",
    ];
    let mut args = base.to_vec();
    args.extend(["--authfile", "creds.json"]);
    let run = wait_run(dir.path(), spawn_in(dir.path(), &args, &[]), &args);
    assert_eq!(run.code, 0, "{}", run.all());
    let mut args = base.to_vec();
    args.extend(["--authfile", "missing.json"]);
    let run = wait_run(dir.path(), spawn_in(dir.path(), &args, &[]), &args);
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(
        run.stderr.contains("--authfile missing.json: no such file"),
        "{}",
        run.stderr
    );
}

#[test]
fn identity_tokens_use_the_refresh_token_grant() {
    let addr = format!("127.0.0.1:{}", free_port().expect("port"));
    let registry = Registry::start_fixture(&addr).unwrap_or_else(|e| panic!("{e}"));
    const REFRESH: &str = "refresh-7d1e-secret";
    let grants = Arc::new(AtomicUsize::new(0));
    let g = Arc::clone(&grants);
    let proxy = Proxy::start(registry.addr(), move |req| {
        if req.path.starts_with("/token") {
            let body = String::from_utf8_lossy(&req.body);
            let ok = req.method == "POST"
                && body.contains("grant_type=refresh_token")
                && body.contains(&format!("refresh_token={REFRESH}"))
                && body.contains("scope=repository%3Afixtures%2Fsingle%3Apull");
            if !ok {
                return Action::json(
                    400,
                    r#"{"errors":[{"code":"DENIED","message":"bad grant"}]}"#,
                );
            }
            g.fetch_add(1, Ordering::SeqCst);
            return Action::json(
                200,
                &format!(r#"{{"access_token":"{TOKEN}","expires_in":120}}"#),
            );
        }
        if req.header("authorization") == Some(&format!("Bearer {TOKEN}")) {
            return Action::Forward;
        }
        Action::bearer_challenge(req, "s", "")
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let p = proxy.addr().to_owned();
    let dir = TempDir::new("idtoken").expect("tmp");
    let auth = dir.path().join("auth.json");
    let user_only = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:"));
    std::fs::write(
        &auth,
        format!(r#"{{"auths":{{"{p}":{{"auth":"{user_only}","identitytoken":"{REFRESH}"}}}}}}"#),
    )
    .expect("write");
    let run = validate_at(
        &dir,
        &format!("{p}/fixtures/single:v1\n"),
        &[("REGISTRY_AUTH_FILE", auth.to_str().expect("utf-8"))],
    );
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(grants.load(Ordering::SeqCst), 1);
    assert!(!run.all().contains(REFRESH), "{}", run.all());
    assert_no_secrets(&run);
}

/// `%XX` decoding of a query value.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// distribution's own token authentication (`auth: token`): the registry checks JWTs
/// signed by a key of its `rootcertbundle`, which a small token service issues.
#[test]
fn distribution_token_auth() {
    use hangar_testkit::tls::Pki;
    use hangar_testkit::token::Issuer;
    let pki_dir = TempDir::new("tokenpki").expect("tmp");
    let pki = Pki::generate(pki_dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let issuer = Arc::new(
        Issuer::from_key_file(&pki.ca_key, "hangar-test-issuer", "hangar-registry")
            .unwrap_or_else(|e| panic!("{e}")),
    );
    let issued = Arc::new(AtomicUsize::new(0));
    let (i2, n2) = (Arc::clone(&issuer), Arc::clone(&issued));
    // The token service needs no upstream; it answers every request itself.
    let token_service = Proxy::start("127.0.0.1:9", move |req| {
        let scope = req
            .path
            .split(['?', '&'])
            .find_map(|kv| kv.strip_prefix("scope="))
            .map(percent_decode)
            .unwrap_or_default();
        let Some(name) = scope
            .strip_prefix("repository:")
            .and_then(|s| s.rsplit_once(':'))
            .map(|(n, _)| n.to_owned())
        else {
            return Action::json(
                400,
                r#"{"errors":[{"code":"DENIED","message":"no scope"}]}"#,
            );
        };
        if req.header("authorization") != Some(&format!("Basic {}", basic())) {
            return Action::json(
                401,
                r#"{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}"#,
            );
        }
        n2.fetch_add(1, Ordering::SeqCst);
        Action::json(
            200,
            &format!(
                r#"{{"token":"{}","expires_in":300}}"#,
                i2.issue(&name, &["pull"])
            ),
        )
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let realm = format!("http://{}/token", token_service.addr());
    let registry = Registry::start_fixture_token_auth(
        &realm,
        "hangar-registry",
        "hangar-test-issuer",
        &pki.ca_cert,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let addr = registry.addr().to_owned();
    let dir = TempDir::new("tokenauth").expect("tmp");
    let lines = format!("{addr}/fixtures/single:v1\n{addr}/fixtures/single@{DIGEST}\n");

    let run = validate_at(&dir, &lines, &[]);
    assert_eq!(run.code, 1, "no credentials, no token: {}", run.all());

    let auth = dir.path().join("auth.json");
    std::fs::write(&auth, auth_json(&addr)).expect("write");
    let run = validate_at(
        &dir,
        &lines,
        &[("REGISTRY_AUTH_FILE", auth.to_str().expect("utf-8"))],
    );
    assert_eq!(
        run.code,
        0,
        "{}\nregistry log:\n{}",
        run.all(),
        registry.log()
    );
    assert_eq!(
        issued.load(Ordering::SeqCst),
        1,
        "one token for the repository, shared by both lines"
    );
    assert_no_secrets(&run);
}
