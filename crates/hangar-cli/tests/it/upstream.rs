//! Issue #15: every `generate-sigstore-key`, `sign`, `signv1`, `sign validate` and `signv1
//! validate` invocation of upstream hangar's own test suite (cnrancher/hangar v1.9.4,
//! `test/suite/test_sign_v1.py` and `test_sign_v2.py`), with its flags unchanged, against a
//! local registry seeded with images of the shapes its lists name: an OCI index with a SLSA
//! provenance attestation entry (`hxstarrys/slsa-provenance-test`) and a Docker manifest
//! list (`hxstarrys/manifest-v2-list`), copied under the project the suite uses. Upstream
//! mirrors them first (`hangar mirror`, `save`, `load`: not hangar-rs commands); here the
//! registry is seeded directly. Each test checks the exit code, the output and the failed
//! file (upstream's `check` fails when the failed file is non-empty; hangar-rs leaves an
//! empty one after a passing run).

use hangar_testkit::{Registry, TempDir, seed};

use crate::{Run, run_in};

const PASSPHRASE: &str = "not_secure_passphrase\n";
const SIGN_TXT: &str = "# Image format OCI index with SLSA Provenance\nhxstarrys/slsa-provenance-test:latest\n\n# Image format docker manifest.list schema 2\nhxstarrys/manifest-v2-list:latest\n";
const SAVE_TXT: &str =
    "# Image format OCI index with SLSA Provenance\nhxstarrys/slsa-provenance-test:latest\n";
const MIRROR_TXT: &str =
    "# Image format docker manifest.list schema 2\nhxstarrys/manifest-v2-list:latest\n";

struct Suite {
    registry: Registry,
    dir: TempDir,
}

/// The suite's working folder (`data/sign/*.txt`, the passphrase) and a registry with the
/// images under the projects the suite pushes them to.
fn suite(tag: &str) -> Suite {
    let registry = Registry::start_empty().unwrap_or_else(|e| panic!("{e}"));
    let dir = TempDir::new(tag).unwrap_or_else(|e| panic!("{e}"));
    let data = dir.path().join("data/sign");
    std::fs::create_dir_all(&data).expect("mkdir");
    for (name, text) in [
        ("sign.txt", SIGN_TXT),
        ("save.txt", SAVE_TXT),
        ("mirror.txt", MIRROR_TXT),
        ("sigstore_passphrase.txt", PASSPHRASE),
    ] {
        std::fs::write(data.join(name), text).expect("write");
    }
    let a = registry.addr().to_owned();
    for project in ["sign-test", "sign-test-v2"] {
        seed::push_index_with_attestation(
            &a,
            &format!("{project}/slsa-provenance-test"),
            "latest",
            project,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        seed::push_docker_manifest_list(
            &a,
            &format!("{project}/manifest-v2-list"),
            "latest",
            project,
        )
        .unwrap_or_else(|e| panic!("{e}"));
    }
    Suite { registry, dir }
}

impl Suite {
    fn run(&self, args: &[&str]) -> Run {
        let reg = self.registry.addr().to_owned();
        let args: Vec<String> = args
            .iter()
            .map(|a| a.replace("REGISTRY_URL", &reg))
            .collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_in(self.dir.path(), &args)
    }

    /// Upstream's `check(log, FAILED)`: the run succeeded and left no failed line.
    #[track_caller]
    fn check(&self, run: &Run, failed: &str) {
        assert_eq!(run.code, 0, "{}", run.all());
        let f = std::fs::read_to_string(self.dir.path().join(failed)).unwrap_or_default();
        assert!(f.trim().is_empty(), "failed images: {f}\n{}", run.all());
        assert!(!run.all().contains("panicked"), "{}", run.all());
    }

    /// The `.sig` attachments of `repo:latest`'s platforms and index.
    fn signed_digests(&self, repo: &str) -> Vec<String> {
        let a = self.registry.addr();
        let r = hangar_testkit::http_request(a, "GET", &format!("/v2/{repo}/tags/list"), &[], &[])
            .expect("tags");
        let v: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
        let mut tags: Vec<String> = v["tags"]
            .as_array()
            .expect("tags")
            .iter()
            .filter_map(|t| t.as_str())
            .filter(|t| t.ends_with(".sig"))
            .map(str::to_owned)
            .collect();
        tags.sort();
        tags
    }
}

#[test]
fn help_pages_exist_for_every_command() {
    // test_sign_v1_help / test_signv2_help
    let s = suite("upstream-help");
    for args in [
        &["generate-sigstore-key", "--help"][..],
        &["sign", "--help"],
        &["sign", "validate", "--help"],
        &["signv1", "--help"],
        &["signv1", "validate", "--help"],
    ] {
        let run = s.run(args);
        assert_eq!(run.code, 0, "{args:?}: {}", run.all());
        assert!(run.stdout.contains("Usage:"), "{args:?}: {}", run.stdout);
    }
    // signv1 is hidden from the main help, like upstream.
    let run = s.run(&["--help"]);
    assert!(!run.stdout.contains("signv1"), "{}", run.stdout);
}

#[test]
fn test_sign_v2_invocations() {
    let s = suite("upstream-v2");
    // test_generate_sigstore_key (v2)
    let run = s.run(&[
        "generate-sigstore-key",
        "--prefix=cosign",
        "--passphrase-file=data/sign/sigstore_passphrase.txt",
        "--auto-yes",
    ]);
    assert_eq!(run.code, 0, "{}", run.all());
    let public = std::fs::read_to_string(s.dir.path().join("cosign.pub")).expect("pub");
    let private = std::fs::read_to_string(s.dir.path().join("cosign.key")).expect("key");
    assert!(public.contains("BEGIN PUBLIC KEY"));
    // Upstream asserts cosign's label; hangar writes cosign's envelope under the sigstore
    // label containers/image uses, and reads both.
    assert!(
        private.contains("ENCRYPTED SIGSTORE PRIVATE KEY")
            || private.contains("ENCRYPTED COSIGN PRIVATE KEY"),
        "{private}"
    );
    // --auto-yes again: overwrites without asking.
    let again = s.run(&[
        "generate-sigstore-key",
        "--prefix=cosign",
        "--passphrase-file=data/sign/sigstore_passphrase.txt",
        "--auto-yes",
    ]);
    assert_eq!(again.code, 0, "{}", again.all());

    // test_sign_v2: sign
    let failed = "sign-failed-v2-1.txt";
    let run = s.run(&[
        "sign",
        "--jobs=4",
        "--file=data/sign/sign.txt",
        "--registry",
        "REGISTRY_URL",
        "--project",
        "sign-test-v2",
        "--key=cosign.key",
        "--passphrase-file=data/sign/sigstore_passphrase.txt",
        "--tls-verify=false",
        "--failed",
        failed,
        "--auto-yes",
    ]);
    s.check(&run, failed);
    assert!(
        run.stderr.contains("not uploaded to a transparency log"),
        "{}",
        run.stderr
    );
    // Both platforms and the index are signed (v1.9 signs the index by default); the
    // attestation entry is never a platform image to sign.
    assert_eq!(
        s.signed_digests("sign-test-v2/slsa-provenance-test").len(),
        3
    );
    assert_eq!(s.signed_digests("sign-test-v2/manifest-v2-list").len(), 3);

    // test_sign_v2: sign validate --key (v1.9 verifies the tlog online; offline, -k needs
    // the log's key or --insecure-ignore-tlog: a setup error naming both, exit 2).
    let validate = [
        "sign",
        "validate",
        "--jobs=4",
        "--file=data/sign/sign.txt",
        "--registry",
        "REGISTRY_URL",
        "--project",
        "sign-test-v2",
        "--key=cosign.pub",
        "--tls-verify=false",
        "--failed",
        failed,
        "--auto-yes",
    ];
    let run = s.run(&validate);
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(
        run.stderr.contains("give --trusted-root FILE or --rekor-public-key FILE, or accept signatures without an entry with --insecure-ignore-tlog"),
        "{}",
        run.stderr
    );
    // The same invocation with the documented way out passes.
    let mut lenient = validate.to_vec();
    lenient.push("--insecure-ignore-tlog");
    let run = s.run(&lenient);
    s.check(&run, failed);
    // And v1.8's -p on the same signatures: hangar's `sign` names the tag, so
    // matchRepoDigestOrExact accepts them.
    let run = s.run(&[
        "sign",
        "validate",
        "--file=data/sign/sign.txt",
        "--registry",
        "REGISTRY_URL",
        "--project",
        "sign-test-v2",
        "-p",
        "cosign.pub",
        "--tls-verify=false",
        "--failed",
        failed,
        "--validate-manifest-index",
    ]);
    s.check(&run, failed);
}

#[test]
fn test_sign_v1_invocations() {
    let s = suite("upstream-v1");
    // test_generate_sigstore_key (v1)
    let run = s.run(&[
        "generate-sigstore-key",
        "--prefix=sigstore",
        "--passphrase-file=data/sign/sigstore_passphrase.txt",
        "--auto-yes",
    ]);
    assert_eq!(run.code, 0, "{}", run.all());

    // test_sign_v1: signv1, then signv1 validate
    let failed = "sign-failed-3.txt";
    let run = s.run(&[
        "signv1",
        "--jobs=4",
        "--file=data/sign/sign.txt",
        "--registry",
        "REGISTRY_URL",
        "--project",
        "sign-test",
        "--sigstore-key=sigstore.key",
        "--sigstore-passphrase-file=data/sign/sigstore_passphrase.txt",
        "--tls-verify=false",
        "--failed",
        failed,
    ]);
    s.check(&run, failed);
    // v1.8 signs the platforms only, never the index, and never warns about the tlog.
    assert_eq!(s.signed_digests("sign-test/slsa-provenance-test").len(), 2);
    assert!(!run.stderr.contains("transparency log"), "{}", run.stderr);
    for (list, failed) in [
        ("--file=data/sign/sign.txt", "sign-failed-3.txt"),
        // test_load_sigstore_sign_v1 / test_mirror_sigstore_sign_v1's validations
        ("--file=data/sign/save.txt", "sign-failed-1.txt"),
        ("--file=data/sign/mirror.txt", "sign-failed-2.txt"),
    ] {
        let run = s.run(&[
            "signv1",
            "validate",
            "--jobs=4",
            list,
            "--project=sign-test",
            "--registry",
            "REGISTRY_URL",
            "--sigstore-pubkey=sigstore.pub",
            "--tls-verify=false",
            "--failed",
            failed,
        ]);
        s.check(&run, failed);
    }
    // The report carries what v1.9's does (digest, media type, platform, tlogVerified,
    // payload), in hangar's shape: -r/--format are v1.9's spellings.
    for format in ["json", "yaml", "csv"] {
        let file = format!("report.{format}");
        let run = s.run(&[
            "signv1",
            "validate",
            "--file=data/sign/sign.txt",
            "--project=sign-test",
            "--registry",
            "REGISTRY_URL",
            "--sigstore-pubkey=sigstore.pub",
            "--tls-verify=false",
            "-r",
            &file,
            "--format",
            format,
        ]);
        assert_eq!(run.code, 0, "{format}: {}", run.all());
        let text = std::fs::read_to_string(s.dir.path().join(&file)).expect("report");
        if format == "csv" {
            assert!(
                text.contains("application/vnd.docker.distribution.manifest.v2+json"),
                "{text}"
            );
            assert!(text.contains(",false\r\n"), "{text}");
            continue;
        }
        let report: serde_json::Value = if format == "json" {
            serde_json::from_str(&text).expect("json")
        } else {
            serde_yaml_ng::from_str(&text).expect("yaml")
        };
        crate::assert_report_schema(&report);
        let oci = &report["lines"][0]["platforms"];
        let docker = &report["lines"][1]["platforms"];
        // The attestation entry is not a platform image: two platforms each.
        assert_eq!(oci.as_array().map(Vec::len), Some(2), "{report}");
        assert_eq!(
            oci[0]["media_type"],
            "application/vnd.oci.image.manifest.v1+json"
        );
        assert_eq!(
            docker[0]["media_type"],
            "application/vnd.docker.distribution.manifest.v2+json"
        );
        assert_eq!(oci[0]["tlog_verified"], false);
        assert_eq!(
            oci[0]["payload"]["critical"]["type"],
            "cosign container image signature"
        );
    }
    // An unsigned project fails every line (v1.9 only warns and exits 0).
    let run = s.run(&[
        "signv1",
        "validate",
        "--file=data/sign/sign.txt",
        "--project=sign-test-v2",
        "--registry",
        "REGISTRY_URL",
        "--sigstore-pubkey=sigstore.pub",
        "--tls-verify=false",
        "--failed",
        "unsigned.txt",
    ]);
    assert_eq!(run.code, 1, "{}", run.all());
    let f = std::fs::read_to_string(s.dir.path().join("unsigned.txt")).expect("failed file");
    assert_eq!(f.lines().count(), 2, "{f}");
}

#[test]
fn keyless_signing_and_tlog_upload_are_refused_with_the_reason() {
    let s = suite("upstream-refused");
    let keygen = s.run(&[
        "generate-sigstore-key",
        "--prefix=cosign",
        "--passphrase-file=data/sign/sigstore_passphrase.txt",
        "--auto-yes",
    ]);
    assert_eq!(keygen.code, 0, "{}", keygen.all());
    let base = [
        "sign",
        "--file=data/sign/sign.txt",
        "--registry",
        "REGISTRY_URL",
        "--project",
        "sign-test-v2",
        "--key=cosign.key",
        "--passphrase-file=data/sign/sigstore_passphrase.txt",
        "--tls-verify=false",
    ];
    for (extra, want) in [
        (
            "--oidc-provider=github-actions",
            "--oidc-provider: keyless signing needs the network",
        ),
        (
            "--fulcio-url=https://fulcio.sigstore.dev",
            "--fulcio-url: keyless signing needs the network",
        ),
        (
            "--tlog-upload=true",
            "--tlog-upload=true: hangar signs offline",
        ),
    ] {
        let mut args = base.to_vec();
        args.push(extra);
        let run = s.run(&args);
        assert_eq!(run.code, 2, "{extra}: {}", run.all());
        assert!(run.stderr.contains(want), "{extra}: {}", run.stderr);
        assert!(s.signed_digests("sign-test-v2/manifest-v2-list").is_empty());
    }
    // --tlog-upload=false and --sign-manifest-index=false: no warning, platforms only.
    let mut args = base.to_vec();
    args.extend([
        "--tlog-upload=false",
        "--sign-manifest-index=false",
        "--skip-login",
        "-y",
    ]);
    let run = s.run(&args);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(!run.stderr.contains("transparency log"), "{}", run.stderr);
    assert_eq!(s.signed_digests("sign-test-v2/manifest-v2-list").len(), 2);
}

#[test]
fn cosign_made_signatures_under_v18_rules_say_which_flag_accepts_them() {
    // cosign and v1.9 write docker-reference as the repository without a tag: -p keeps
    // matchRepoDigestOrExact, refuses it for a tag reference, and says why.
    let registry = Registry::start_empty().unwrap_or_else(|e| panic!("{e}"));
    let dir = TempDir::new("cosign-made").unwrap_or_else(|e| panic!("{e}"));
    let a = registry.addr().to_owned();
    std::fs::write(dir.path().join("pw"), "pw\n").expect("write");
    assert_eq!(
        run_in(
            dir.path(),
            &[
                "generate-sigstore-key",
                "-p",
                "k",
                "--passphrase-file",
                "pw"
            ]
        )
        .code,
        0
    );
    let key = hangar_signature::PrivateKey::from_encrypted_pem(
        &std::fs::read(dir.path().join("k.key")).expect("key"),
        b"pw",
    )
    .expect("decrypt");
    let digest = seed::push_image(&a, "cm/app", "v1", "cm").unwrap_or_else(|e| panic!("{e}"));
    let payload = hangar_testkit::sigstore::cosign_payload(&digest, &format!("{a}/cm/app"), 1);
    let sig = key.sign_base64(&payload);
    seed::push_simple_signing(&a, "cm/app", &digest, &payload, Some(&sig))
        .unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.path().join("list.txt"), format!("{a}/cm/app:v1\n")).expect("write");
    let base = [
        "sign",
        "validate",
        "-f",
        "list.txt",
        "--tls-verify=false",
        "-o",
        "failed.txt",
    ];
    let mut v18 = base.to_vec();
    v18.extend(["-p", "k.pub"]);
    let run = run_in(dir.path(), &v18);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr.contains("it names the repository without a tag, as cosign and hangar v1.9 sign: accept such signatures with -k/--key, --exact-repository REPOSITORY, or a policy with matchRepository"),
        "{}",
        run.stderr
    );
    let mut v19 = base.to_vec();
    v19.extend(["-k", "k.pub", "--insecure-ignore-tlog"]);
    let run = run_in(dir.path(), &v19);
    assert_eq!(run.code, 0, "{}", run.all());
}
