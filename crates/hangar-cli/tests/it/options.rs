//! Validation options beyond upstream: `--validate-manifest-index`, `--quiet`.

use hangar_testkit::{Registry, TempDir, free_port};

use crate::{Run, spawn_in, wait_run};

fn run(registry: &Registry, image: &str, repo: &str, extra: &[&str]) -> Run {
    let dir = TempDir::new("options").expect("tmp");
    let exact = format!("127.0.0.1:5000/{repo}");
    let mut flags = vec!["--exact-repository", exact.as_str()];
    flags.extend_from_slice(extra);
    crate::validate_in(
        dir.path(),
        &format!("{}/{image}\n", registry.addr()),
        &flags,
        &[],
    )
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

#[test]
fn policy_json_end_to_end() {
    use base64::Engine as _;
    let registry = Registry::start_fixture(&format!("127.0.0.1:{}", free_port().expect("port")))
        .unwrap_or_else(|e| panic!("{e}"));
    let a = registry.addr().to_owned();
    let keys = hangar_testkit::fixture_dir().join("keys");
    let other = base64::engine::general_purpose::STANDARD
        .encode(std::fs::read(keys.join("other.pub")).expect("other.pub"));
    let lab = keys.join("lab.pub").display().to_string();
    let policy = format!(
        r#"{{"default": [{{"type": "reject"}}],
  "transports": {{"docker": {{
    "{a}/fixtures/single": [{{"type": "sigstoreSigned", "keyPath": "{lab}",
        "signedIdentity": {{"type": "exactRepository", "dockerRepository": "127.0.0.1:5000/fixtures/single"}}}}],
    "{a}/fixtures/unsigned": [{{"type": "insecureAcceptAnything"}}],
    "{a}/fixtures-mirror": [{{"type": "sigstoreSigned", "keyPaths": ["{lab}"],
        "signedIdentity": {{"type": "remapIdentity", "prefix": "{a}/fixtures-mirror", "signedPrefix": "127.0.0.1:5000/fixtures"}}}}],
    "{a}/fixtures/wrongkey": [{{"type": "sigstoreSigned", "keyData": "{other}", "signedIdentity": {{"type": "exactRepository", "dockerRepository": "127.0.0.1:5000/fixtures/wrongkey"}}}}]
  }}}}}}"#
    );
    let dir = TempDir::new("policy").expect("tmp");
    std::fs::write(dir.path().join("policy.json"), policy).expect("write");
    let list = format!(
        "{a}/fixtures/single:v1\n{a}/fixtures/unsigned:v1\n{a}/fixtures-mirror/multi:v1\n{a}/fixtures/wrongkey:v1\n{a}/fixtures/identity:v1\n"
    );
    std::fs::write(dir.path().join("list.txt"), &list).expect("write");
    let args = [
        "sign",
        "validate",
        "-f",
        "list.txt",
        "--policy",
        "policy.json",
        "--tls-verify=false",
        "-o",
        "failed.txt",
    ];
    let run = wait_run(dir.path(), spawn_in(dir.path(), &args, &[]), &args);
    assert_eq!(run.code, 1, "{}", run.all());
    for n in 1..=4 {
        assert!(
            run.stdout.contains(&format!("[IMG:{n}] PASS:")),
            "line {n}: {}",
            run.all()
        );
    }
    assert!(
        run.stderr.contains(&format!(
            "Running image {a}/fixtures/identity:v1 is rejected by policy."
        )),
        "{}",
        run.stderr
    );
    assert_eq!(
        run.failed.as_deref(),
        Some(format!("{a}/fixtures/identity:v1\n").as_str())
    );

    std::fs::write(
        dir.path().join("gpg.json"),
        r#"{"default":[{"type":"signedBy","keyType":"GPGKeys","keyPath":"/k"}]}"#,
    )
    .expect("write");
    let args = ["sign", "validate", "-f", "list.txt", "--policy", "gpg.json"];
    let run = wait_run(dir.path(), spawn_in(dir.path(), &args, &[]), &args);
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(
        run.stderr
            .contains("requirement type \\\"signedBy\\\" is not supported")
            || run
                .stderr
                .contains("requirement type \"signedBy\" is not supported"),
        "{}",
        run.stderr
    );
}
