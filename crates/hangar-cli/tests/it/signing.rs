//! `hangar sign`, `generate-sigstore-key` and `inspect --raw` on a real registry, checked
//! with `hangar sign validate` and against the shapes skopeo recorded.

use std::collections::BTreeSet;

use hangar_testkit::proxy::{Action, Proxy};
use hangar_testkit::{Registry, TempDir, fixture_dir, free_port, http_request};
use serde_json::Value;

use crate::{Run, spawn_in, wait_run};

const OCI: &str = "application/vnd.oci.image.manifest.v1+json";
const UNSIGNED: &str = "sha256:a5a4b9fc875de91617caa44aa35953ca23544dd510b16269f2472f8c4e8776da";

struct Lab {
    registry: Registry,
    dir: TempDir,
}

/// The recorded data on a free port (signatures made here name that port).
fn lab() -> Lab {
    let addr = format!("127.0.0.1:{}", free_port().expect("port"));
    let registry = Registry::start_fixture(&addr).unwrap_or_else(|e| panic!("{e}"));
    let dir = TempDir::new("sign").expect("tmp");
    let keys = fixture_dir().join("keys");
    for f in ["lab.key", "lab.pub", "passphrase", "other.pub"] {
        std::fs::copy(keys.join(f), dir.path().join(f)).expect("copy key");
    }
    Lab { registry, dir }
}

impl Lab {
    fn addr(&self) -> &str {
        self.registry.addr()
    }

    fn hangar(&self, list: &str, args: &[&str]) -> Run {
        std::fs::write(self.dir.path().join("list.txt"), list).expect("write list");
        wait_run(self.dir.path(), spawn_in(self.dir.path(), args, &[]), args)
    }

    fn sign(&self, list: &str, extra: &[&str]) -> Run {
        let mut args = vec![
            "sign",
            "-f",
            "list.txt",
            "-k",
            "lab.key",
            "--sigstore-passphrase-file",
            "passphrase",
            "--tls-verify=false",
            "-o",
            "failed.txt",
        ];
        args.extend_from_slice(extra);
        self.hangar(list, &args)
    }

    fn validate(&self, list: &str, extra: &[&str]) -> Run {
        let mut args = vec![
            "sign",
            "validate",
            "-f",
            "list.txt",
            "-p",
            "lab.pub",
            "--tls-verify=false",
            "-o",
            "failed.txt",
        ];
        args.extend_from_slice(extra);
        self.hangar(list, &args)
    }

    fn json(&self, path: &str) -> Value {
        let accept = format!("{OCI}, application/vnd.oci.image.index.v1+json");
        let r = http_request(self.addr(), "GET", path, &[("Accept", &accept)], &[]).expect("GET");
        assert_eq!(r.status, 200, "{path}");
        serde_json::from_slice(&r.body).expect("JSON")
    }

    fn attachment(&self, repo: &str, digest: &str) -> Value {
        self.json(&format!(
            "/v2/{repo}/manifests/{}.sig",
            digest.replace(':', "-")
        ))
    }
}

fn keys_of(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

/// Compares the structure (keys, media types, types) of two attachments, their configs and
/// their payloads, field by field.
fn assert_same_shape(lab: &Lab, ours_repo: &str, ours: &Value, recorded: &Value) {
    assert_eq!(keys_of(ours), keys_of(recorded));
    for k in ["schemaVersion", "mediaType"] {
        assert_eq!(ours[k], recorded[k], "{k}");
    }
    assert_eq!(keys_of(&ours["config"]), keys_of(&recorded["config"]));
    assert_eq!(ours["config"]["mediaType"], recorded["config"]["mediaType"]);
    let (ol, rl) = (&ours["layers"][0], &recorded["layers"][0]);
    assert_eq!(keys_of(ol), keys_of(rl));
    assert_eq!(ol["mediaType"], rl["mediaType"]);
    assert_eq!(keys_of(&ol["annotations"]), keys_of(&rl["annotations"]));
    // Configs: same keys and values but for the diff IDs, which list the layers.
    let oc = lab.json(&format!(
        "/v2/{ours_repo}/blobs/{}",
        ours["config"]["digest"].as_str().expect("digest")
    ));
    let rc = lab.json(&format!(
        "/v2/fixtures/single/blobs/{}",
        recorded["config"]["digest"].as_str().expect("digest")
    ));
    assert_eq!(keys_of(&oc), keys_of(&rc));
    for k in ["architecture", "os", "config"] {
        assert_eq!(oc[k], rc[k], "config {k}");
    }
    assert_eq!(oc["rootfs"]["type"], rc["rootfs"]["type"]);
    let layer_digests: Vec<&Value> = ours["layers"]
        .as_array()
        .expect("layers")
        .iter()
        .map(|l| &l["digest"])
        .collect();
    let diff_ids: Vec<&Value> = oc["rootfs"]["diff_ids"]
        .as_array()
        .expect("diff_ids")
        .iter()
        .collect();
    assert_eq!(diff_ids, layer_digests, "diff_ids follow the layers");
    // Payloads: same structure, same type.
    let op = lab.json(&format!(
        "/v2/{ours_repo}/blobs/{}",
        ol["digest"].as_str().expect("digest")
    ));
    let rp = lab.json(&format!(
        "/v2/fixtures/single/blobs/{}",
        rl["digest"].as_str().expect("digest")
    ));
    assert_eq!(keys_of(&op), keys_of(&rp));
    assert_eq!(keys_of(&op["critical"]), keys_of(&rp["critical"]));
    assert_eq!(
        keys_of(&op["critical"]["identity"]),
        keys_of(&rp["critical"]["identity"])
    );
    assert_eq!(
        keys_of(&op["critical"]["image"]),
        keys_of(&rp["critical"]["image"])
    );
    assert_eq!(op["critical"]["type"], rp["critical"]["type"]);
    assert_eq!(keys_of(&op["optional"]), keys_of(&rp["optional"]));
    assert!(op["optional"]["timestamp"].is_i64() && op["optional"]["creator"].is_string());
}

#[test]
fn sign_then_validate_with_skopeo_shapes_and_appends() {
    let lab = lab();
    let a = lab.addr().to_owned();
    let list = format!("{a}/fixtures/unsigned:v1\n{a}/fixtures/multi-indexonly:v1\n");
    let before = lab.validate(&list, &["--arch", ""]);
    assert_eq!(before.code, 1, "{}", before.all());

    let run = lab.sign(&list, &["--arch", "", "-j", "2"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        run.stdout
            .contains(&format!("Signed image [{a}/fixtures/unsigned:v1]")),
        "{}",
        run.stdout
    );
    let after = lab.validate(&list, &["--arch", ""]);
    assert_eq!(after.code, 0, "{}", after.all());

    let recorded = lab.attachment(
        "fixtures/single",
        "sha256:9d787d7bfc4d7b2f3d15e7a1e31329166fc3adbc938a52590056b8b3cc8e6ac4",
    );
    let ours = lab.attachment("fixtures/unsigned", UNSIGNED);
    assert_eq!(ours["layers"].as_array().map(Vec::len), Some(1));
    assert_same_shape(&lab, "fixtures/unsigned", &ours, &recorded);
    let payload = lab.json(&format!(
        "/v2/fixtures/unsigned/blobs/{}",
        ours["layers"][0]["digest"].as_str().expect("digest")
    ));
    assert_eq!(
        payload["critical"]["identity"]["docker-reference"],
        format!("{a}/fixtures/unsigned:v1")
    );
    assert_eq!(
        payload["critical"]["image"]["docker-manifest-digest"],
        UNSIGNED
    );

    // A second signature (a later timestamp) is appended; both stay valid.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let again = lab.sign(&format!("{a}/fixtures/unsigned:v1\n"), &[]);
    assert_eq!(again.code, 0, "{}", again.all());
    let ours = lab.attachment("fixtures/unsigned", UNSIGNED);
    assert_eq!(ours["layers"].as_array().map(Vec::len), Some(2));
    assert_same_shape(&lab, "fixtures/unsigned", &ours, &recorded);
    let after = lab.validate(&list, &["--arch", ""]);
    assert_eq!(after.code, 0, "{}", after.all());
}

#[test]
fn wrong_passphrase_fails_before_any_request() {
    let lab = lab();
    let requests = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = std::sync::Arc::clone(&requests);
    let proxy = Proxy::start(lab.addr(), move |_| {
        seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Action::Forward
    })
    .unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(lab.dir.path().join("wrong"), "not-the-passphrase\n").expect("write");
    let list = format!("{}/fixtures/unsigned:v1\n", proxy.addr());
    let args = [
        "sign",
        "-f",
        "list.txt",
        "-k",
        "lab.key",
        "--sigstore-passphrase-file",
        "wrong",
        "--tls-verify=false",
    ];
    let run = lab.hangar(&list, &args);
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(run.stderr.contains("wrong passphrase"), "{}", run.stderr);
    assert_eq!(
        requests.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "nothing may reach the registry"
    );
    let sig = http_request(
        lab.addr(),
        "GET",
        &format!(
            "/v2/fixtures/unsigned/manifests/{}.sig",
            UNSIGNED.replace(':', "-")
        ),
        &[("Accept", OCI)],
        &[],
    )
    .expect("GET");
    assert_eq!(sig.status, 404);
    // No passphrase source at all (no file, no COSIGN_PASSWORD, no terminal) is an error too.
    let run = lab.hangar(
        &list,
        &[
            "sign",
            "-f",
            "list.txt",
            "-k",
            "lab.key",
            "--tls-verify=false",
        ],
    );
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(run.stderr.contains("no passphrase"), "{}", run.stderr);
}

#[test]
fn concurrent_signing_loses_no_signature() {
    let lab = lab();
    let a = lab.addr().to_owned();
    // Eight tags of one manifest: eight identities, one attachment to append to.
    let manifest = http_request(
        &a,
        "GET",
        &format!("/v2/fixtures/unsigned/manifests/{UNSIGNED}"),
        &[("Accept", OCI)],
        &[],
    )
    .expect("GET");
    for i in 0..8 {
        let put = http_request(
            &a,
            "PUT",
            &format!("/v2/fixtures/unsigned/manifests/t{i}"),
            &[("Content-Type", OCI)],
            &manifest.body,
        )
        .expect("PUT");
        assert_eq!(put.status, 201);
    }
    let mut list: String = (0..8)
        .map(|i| format!("{a}/fixtures/unsigned:t{i}\n"))
        .collect();
    list.push_str(&format!(
        "{a}/fixtures/multi-indexonly:v1\n{a}/fixtures/multi-instonly:v1\n"
    ));
    let run = lab.sign(&list, &["--arch", "", "-j", "8"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(
        lab.attachment("fixtures/unsigned", UNSIGNED)["layers"]
            .as_array()
            .map(Vec::len),
        Some(8)
    );
    let platforms = |repo: &str| -> Vec<String> {
        let index = lab.json(&format!("/v2/{repo}/manifests/v1"));
        index["manifests"]
            .as_array()
            .expect("manifests")
            .iter()
            .map(|m| m["digest"].as_str().expect("digest").to_owned())
            .collect()
    };
    for d in platforms("fixtures/multi-indexonly") {
        assert_eq!(
            lab.attachment("fixtures/multi-indexonly", &d)["layers"]
                .as_array()
                .map(Vec::len),
            Some(1),
            "{d}"
        );
    }
    for d in platforms("fixtures/multi-instonly") {
        assert_eq!(
            lab.attachment("fixtures/multi-instonly", &d)["layers"]
                .as_array()
                .map(Vec::len),
            Some(2),
            "{d}"
        );
    }
    let check = lab.validate(&list, &["--arch", "", "-j", "8"]);
    assert_eq!(check.code, 0, "{}", check.all());
}

#[test]
fn two_processes_signing_one_image_keep_both_signatures() {
    // Issue #12 defect 13: two `hangar sign` runs (two keys) append to the same `.sig`
    // attachments at once; the registry has no compare-and-swap, so each reads its
    // attachment back and appends again when the other run's write dropped its layer.
    let lab = lab();
    let a = lab.addr().to_owned();
    let d = lab.dir.path();
    std::fs::write(d.join("pw2"), "second key\n").expect("write");
    let gen_args = [
        "generate-sigstore-key",
        "-p",
        "second",
        "--passphrase-file",
        "pw2",
    ];
    assert_eq!(lab.hangar("", &gen_args).code, 0);
    let manifest = http_request(
        &a,
        "GET",
        &format!("/v2/fixtures/unsigned/manifests/{UNSIGNED}"),
        &[("Accept", OCI)],
        &[],
    )
    .expect("GET");
    let list: String = (0..4)
        .map(|i| {
            let put = http_request(
                &a,
                "PUT",
                &format!("/v2/fixtures/unsigned/manifests/c{i}"),
                &[("Content-Type", OCI)],
                &manifest.body,
            )
            .expect("PUT");
            assert_eq!(put.status, 201);
            format!("{a}/fixtures/unsigned:c{i}\n")
        })
        .collect();
    std::fs::write(d.join("list.txt"), &list).expect("write list");
    let sign_args = |key: &'static str, pw: &'static str, failed: &'static str| {
        vec![
            "sign",
            "-f",
            "list.txt",
            "-k",
            key,
            "--sigstore-passphrase-file",
            pw,
            "--tls-verify=false",
            "-j",
            "4",
            "-o",
            failed,
        ]
    };
    let first = sign_args("lab.key", "passphrase", "failed-1.txt");
    let second = sign_args("second.key", "pw2", "failed-2.txt");
    let one = spawn_in(d, &first, &[]);
    let two = spawn_in(d, &second, &[]);
    let (one, two) = (wait_run(d, one, &first), wait_run(d, two, &second));
    assert_eq!(one.code, 0, "{}", one.all());
    assert_eq!(two.code, 0, "{}", two.all());
    // Four identities signed by each key: eight layers on the one attachment.
    assert_eq!(
        lab.attachment("fixtures/unsigned", UNSIGNED)["layers"]
            .as_array()
            .map(Vec::len),
        Some(8)
    );
    for key in ["lab.pub", "second.pub"] {
        let run = lab.hangar(
            &list,
            &[
                "sign",
                "validate",
                "-f",
                "list.txt",
                "-p",
                key,
                "--tls-verify=false",
            ],
        );
        assert_eq!(run.code, 0, "{key}: {}", run.all());
    }
}

#[test]
fn generated_keys_sign_and_validate() {
    let lab = lab();
    std::fs::write(lab.dir.path().join("pw"), "correct horse\n").expect("write");
    let gen_args = [
        "generate-sigstore-key",
        "-p",
        "mine",
        "--passphrase-file",
        "pw",
    ];
    let run = lab.hangar("", &gen_args);
    assert_eq!(run.code, 0, "{}", run.all());
    let key = lab.dir.path().join("mine.key");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&key).expect("key").permissions().mode() & 0o777,
        0o600
    );
    let again = lab.hangar("", &gen_args);
    assert_eq!(again.code, 2, "{}", again.all());
    assert!(again.stderr.contains("exists; use -y"), "{}", again.stderr);
    assert_eq!(
        lab.hangar(
            "",
            &[
                "generate-sigstore-key",
                "-p",
                "mine",
                "--passphrase-file",
                "pw",
                "-y"
            ]
        )
        .code,
        0
    );

    let list = format!("{}/fixtures/unsigned:v1\n", lab.addr());
    let args = [
        "sign",
        "-f",
        "list.txt",
        "-k",
        "mine.key",
        "--sigstore-passphrase-file",
        "pw",
        "--tls-verify=false",
    ];
    let run = lab.hangar(&list, &args);
    assert_eq!(run.code, 0, "{}", run.all());
    let run = lab.hangar(
        &list,
        &[
            "sign",
            "validate",
            "-f",
            "list.txt",
            "-p",
            "mine.pub",
            "--tls-verify=false",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.all());
    let run = lab.validate(&list, &[]);
    assert_eq!(run.code, 1, "the lab key did not sign it: {}", run.all());
}

#[test]
fn inspect_raw_prints_the_bytes_served() {
    let lab = lab();
    let a = lab.addr().to_owned();
    let served = http_request(
        &a,
        "GET",
        "/v2/fixtures/multi/manifests/v1",
        &[("Accept", "application/vnd.oci.image.index.v1+json")],
        &[],
    )
    .expect("GET");
    let run = lab.hangar(
        "",
        &[
            "inspect",
            "--raw",
            "--tls-verify=false",
            &format!("docker://{a}/fixtures/multi:v1"),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(run.stdout.as_bytes(), served.body.as_slice());
}
