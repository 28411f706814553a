//! Validation options beyond upstream: `--validate-manifest-index`, `--quiet`.

use hangar_testkit::{Registry, TempDir, free_port};

use crate::{Run, lab_pub, spawn_in, wait_run};

fn run(registry: &Registry, image: &str, repo: &str, extra: &[&str]) -> Run {
    let dir = TempDir::new("options").expect("tmp");
    std::fs::write(
        dir.path().join("list.txt"),
        format!("{}/{image}\n", registry.addr()),
    )
    .expect("write");
    let key = lab_pub();
    let exact = format!("127.0.0.1:5000/{repo}");
    let mut args = vec![
        "sign",
        "validate",
        "-f",
        "list.txt",
        "-p",
        key.to_str().expect("utf-8"),
        "--tls-verify=false",
        "--exact-repository",
        &exact,
    ];
    args.extend_from_slice(extra);
    wait_run(dir.path(), spawn_in(dir.path(), &args, &[]), &args)
}

#[test]
fn validate_manifest_index_also_requires_the_index_signature() {
    let registry = Registry::start_fixture(&format!("127.0.0.1:{}", free_port().expect("port")))
        .unwrap_or_else(|e| panic!("{e}"));
    let flag = ["--validate-manifest-index"];
    assert_eq!(
        run(&registry, "fixtures/multi:v1", "fixtures/multi", &flag).code,
        0
    );
    assert_eq!(
        run(
            &registry,
            "fixtures/multi-v2s2:v1",
            "fixtures/multi-v2s2",
            &flag
        )
        .code,
        0
    );
    // Only the platform images are signed: fine for containers/image, not with the flag.
    assert_eq!(
        run(
            &registry,
            "fixtures/multi-instonly:v1",
            "fixtures/multi-instonly",
            &[]
        )
        .code,
        0
    );
    let strict = run(
        &registry,
        "fixtures/multi-instonly:v1",
        "fixtures/multi-instonly",
        &flag,
    );
    assert_eq!(strict.code, 1, "{}", strict.all());
    assert!(strict.stderr.contains("index/* ["), "{}", strict.stderr);
    assert!(
        strict
            .stderr
            .contains("A signature was required, but no signature exists"),
        "{}",
        strict.stderr
    );
    // A single manifest has no index: the flag changes nothing.
    assert_eq!(
        run(&registry, "fixtures/single:v1", "fixtures/single", &flag).code,
        0
    );
}

#[test]
fn quiet_keeps_only_warnings_and_errors() {
    let registry = Registry::start_fixture(&format!("127.0.0.1:{}", free_port().expect("port")))
        .unwrap_or_else(|e| panic!("{e}"));
    let ok = run(
        &registry,
        "fixtures/single:v1",
        "fixtures/single",
        &["--quiet"],
    );
    assert_eq!(ok.code, 0, "{}", ok.all());
    assert_eq!(ok.stdout, "", "nothing on stdout when all passed");
    let bad = run(
        &registry,
        "fixtures/unsigned:v1",
        "fixtures/unsigned",
        &["-q"],
    );
    assert_eq!(bad.code, 1);
    assert!(
        bad.stderr.contains("A signature was required"),
        "{}",
        bad.stderr
    );
}
