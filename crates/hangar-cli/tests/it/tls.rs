//! TLS: a private CA and a client certificate through `certs.d`, and registries.conf's
//! `insecure`, against real registries.

use std::path::Path;

use hangar_testkit::tls::Pki;
use hangar_testkit::{Registry, TempDir, free_port};

use crate::{Run, lab_pub, spawn_in, wait_run};

/// Validates `{addr}/fixtures/single:v1` from `dir` (HOME) with `extra` flags.
fn validate_in(dir: &Path, addr: &str, extra: &[&str]) -> Run {
    std::fs::write(dir.join("list.txt"), format!("{addr}/fixtures/single:v1\n")).expect("write");
    let key = lab_pub();
    let mut args = vec![
        "sign",
        "validate",
        "-f",
        "list.txt",
        "-p",
        key.to_str().expect("utf-8"),
        "--exact-repository",
        "127.0.0.1:5000/fixtures/single",
    ];
    args.extend_from_slice(extra);
    wait_run(dir, spawn_in(dir, &args, &[]), &args)
}

fn certs_d(home: &Path, addr: &str) -> std::path::PathBuf {
    let d = home.join(".config/containers/certs.d").join(addr);
    std::fs::create_dir_all(&d).expect("mkdir certs.d");
    d
}

#[test]
fn private_ca_through_certs_d() {
    let pki_dir = TempDir::new("pki").expect("tmp");
    let pki = Pki::generate(pki_dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let registry = Registry::start_fixture_tls(&pki, false).unwrap_or_else(|e| panic!("{e}"));
    let addr = registry.addr().to_owned();
    let home = TempDir::new("home").expect("tmp");

    let run = validate_in(home.path(), &addr, &[]);
    assert_eq!(run.code, 1, "an unknown CA must be refused: {}", run.all());
    assert!(
        run.stderr.contains("certificate") || run.stderr.contains("UnknownIssuer"),
        "{}",
        run.stderr
    );
    let run = validate_in(home.path(), &addr, &["--tls-verify=false"]);
    assert_eq!(run.code, 0, "verification off: {}", run.all());

    std::fs::copy(&pki.ca_cert, certs_d(home.path(), &addr).join("ca.crt")).expect("copy");
    let run = validate_in(home.path(), &addr, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    let run = validate_in(home.path(), &addr, &["--tls-verify"]);
    assert_eq!(run.code, 0, "{}", run.all());
}

#[test]
fn client_certificate_through_certs_d() {
    let pki_dir = TempDir::new("pki").expect("tmp");
    let pki = Pki::generate(pki_dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let registry = Registry::start_fixture_tls(&pki, true).unwrap_or_else(|e| panic!("{e}"));
    let addr = registry.addr().to_owned();
    let home = TempDir::new("home").expect("tmp");
    let d = certs_d(home.path(), &addr);
    std::fs::copy(&pki.ca_cert, d.join("ca.crt")).expect("copy");

    let run = validate_in(home.path(), &addr, &[]);
    assert_eq!(run.code, 1, "no client certificate: {}", run.all());

    std::fs::copy(&pki.client_cert, d.join("client.cert")).expect("copy");
    std::fs::copy(&pki.client_key, d.join("client.key")).expect("copy");
    let run = validate_in(home.path(), &addr, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
}

#[test]
fn registries_conf_insecure_allows_plain_http_unless_tls_verify_is_set() {
    let addr = format!("127.0.0.1:{}", free_port().expect("port"));
    let registry = Registry::start_fixture(&addr).unwrap_or_else(|e| panic!("{e}"));
    let home = TempDir::new("home").expect("tmp");
    let run = validate_in(home.path(), registry.addr(), &[]);
    assert_eq!(run.code, 1, "plain HTTP needs a reason: {}", run.all());

    let conf = home.path().join(".config/containers");
    std::fs::create_dir_all(&conf).expect("mkdir");
    std::fs::write(
        conf.join("registries.conf"),
        format!("[[registry]]\nlocation = \"{addr}\"\ninsecure = true\n"),
    )
    .expect("write");
    let run = validate_in(home.path(), registry.addr(), &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    let run = validate_in(home.path(), registry.addr(), &["--tls-verify=true"]);
    assert_eq!(
        run.code,
        1,
        "--tls-verify wins over registries.conf: {}",
        run.all()
    );

    std::fs::write(
        conf.join("registries.conf"),
        "[[registry]]\nlocation = \"x\"\ninsecure = maybe\n",
    )
    .expect("write");
    let run = validate_in(home.path(), registry.addr(), &[]);
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(
        run.stderr
            .contains("registries.conf:3: insecure must be true or false"),
        "{}",
        run.stderr
    );
}
