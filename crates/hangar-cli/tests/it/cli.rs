//! Flags, setup errors, list handling, output and the failed file.

use crate::{
    assert_report_schema, check_report_schema, fixture, hangar, lab_pub, run_in, validate,
};
use hangar_testkit::{TempDir, fixture_dir, free_port, http_request};

const SINGLE: &str = "127.0.0.1:5000/fixtures/single:v1";
const SINGLE_DIGEST: &str =
    "sha256:9d787d7bfc4d7b2f3d15e7a1e31329166fc3adbc938a52590056b8b3cc8e6ac4";

fn key_arg() -> String {
    lab_pub().to_str().expect("utf-8").to_owned()
}

#[test]
fn missing_flags_are_usage_errors() {
    let run = hangar("nginx\n", &["sign", "validate", "-f", "list.txt"]);
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(run.stderr.contains("--sigstore-pubkey"), "{}", run.stderr);
    let run = hangar("nginx\n", &["sign", "validate", "-p", &key_arg()]);
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(run.stderr.contains("--file"), "{}", run.stderr);
    let run = hangar(
        "nginx\n",
        &[
            "sign",
            "validate",
            "-f",
            "list.txt",
            "-p",
            &key_arg(),
            "--timeout",
            "soon",
        ],
    );
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(
        run.stderr.contains("invalid duration \"soon\""),
        "{}",
        run.stderr
    );
}

#[test]
fn setup_errors_name_the_cause_before_any_traffic() {
    let dir = TempDir::new("setup").expect("tmp");
    std::fs::write(dir.path().join("list.txt"), "127.0.0.1:9/x/y:1\n").expect("write");
    std::fs::write(dir.path().join("not.pem"), "hello").expect("write");
    std::fs::write(
        dir.path().join("secp256k1.pub"),
        "-----BEGIN PUBLIC KEY-----\nMFYwEAYHKoZIzj0CAQYFK4EEAAoDQgAEsuR5cbmUzP3ynxnxqMX8T6/oC7pEfuiC\nb7NDC+1dJBOHKNHQmjKQ0QkGKa9M4U9XV1qB3dsB2xVUVPqjbIfnXg==\n-----END PUBLIC KEY-----\n",
    )
    .expect("write");
    let key = key_arg();
    let cases = [
        (
            vec!["-f", "missing.txt", "-p", &key],
            "reading image list missing.txt",
        ),
        (
            vec!["-f", "list.txt", "-p", "missing.pub"],
            "reading sigstore public key missing.pub",
        ),
        (
            vec!["-f", "list.txt", "-p", "not.pem"],
            "sigstore public key not.pem: not a PEM file",
        ),
        (
            vec!["-f", "list.txt", "-p", "secp256k1.pub"],
            "unsupported public key type ECDSA with curve OID 1.3.132.0.10",
        ),
        (
            vec![
                "-f",
                "list.txt",
                "-p",
                &key,
                "--exact-repository",
                "Bad/Repo",
            ],
            "--exact-repository \"Bad/Repo\"",
        ),
    ];
    for (flags, want) in cases {
        let mut args = vec!["sign", "validate"];
        args.extend(flags.iter().copied());
        let run = run_in(dir.path(), &args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.all());
        assert!(
            run.stderr.contains("[FATA]") && run.stderr.contains(want),
            "{args:?}: {}",
            run.stderr
        );
        assert!(
            !run.stderr.contains("GET "),
            "{args:?}: traffic before setup finished: {}",
            run.stderr
        );
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    }
}

#[test]
fn unreachable_registry_fails_each_line_and_continues() {
    let port = free_port().expect("port");
    let list = format!("127.0.0.1:{port}/a/b:1\n127.0.0.1:{port}/a/c:2\n");
    let run = validate(&list, &["-j", "2", "--timeout", "20s"]);
    assert_eq!(run.code, 1, "{}", run.all());
    for (n, line) in list.lines().enumerate() {
        assert!(
            run.stderr
                .contains(&format!("error occurred on [IMG: {}] [{line}]", n + 1)),
            "{}",
            run.stderr
        );
    }
    assert!(
        run.stderr.contains("Connection refused") || run.stderr.contains("connect"),
        "{}",
        run.stderr
    );
    assert_eq!(run.failed.as_deref(), Some(list.as_str()));
}

#[test]
fn jobs_outside_range_warn_and_use_one() {
    let _fx = fixture();
    for jobs in ["0", "99", "-3"] {
        let run = validate(&format!("{SINGLE}\n"), &["-j", jobs]);
        assert_eq!(run.code, 0, "{}", run.all());
        assert!(
            run.stderr
                .contains(&format!("[WARN] Invalid worker count {jobs}")),
            "{}",
            run.stderr
        );
        assert!(
            run.stdout.contains(&format!("PASS: [{SINGLE}]")),
            "{}",
            run.stdout
        );
    }
}

#[test]
fn list_rules_and_failed_file_keep_original_lines_in_order() {
    let _fx = fixture();
    let list = format!(
        "# comment\n// another\n\n  {SINGLE}  \n127.0.0.1:5000/fixtures/unsigned:v1\nsrc.io/a dst.io/a v1\nREG.IO/Upper/Case:1\n127.0.0.1:5000/fixtures/wrongkey:v1\n{SINGLE}@{SINGLE_DIGEST}\n127.0.0.1:5000/fixtures/single@{SINGLE_DIGEST}\n"
    );
    let run = validate(&list, &["-j", "3"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr.contains(
            "[WARN] [IMG:3] Ignore image list line \"src.io/a dst.io/a v1\": invalid format"
        ),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("error occurred on [IMG: 4] [REG.IO/Upper/Case:1]"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("must be lowercase"), "{}", run.stderr);
    assert!(
        run.stdout.contains(&format!("[IMG:1] PASS: [{SINGLE}]")),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains(&format!("[IMG:6] PASS: [{SINGLE}@{SINGLE_DIGEST}]")),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(&format!(
            "[IMG:7] PASS: [127.0.0.1:5000/fixtures/single@{SINGLE_DIGEST}]"
        )),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("7 image list lines")
            && run.stdout.contains("3 passed, 3 failed, 1 skipped"),
        "{}",
        run.stdout
    );
    assert_eq!(
        run.failed.as_deref(),
        Some(
            "127.0.0.1:5000/fixtures/unsigned:v1\nREG.IO/Upper/Case:1\n127.0.0.1:5000/fixtures/wrongkey:v1\n"
        )
    );
    assert!(
        run.stderr
            .contains("Failed image list exported to \"failed.txt\""),
        "{}",
        run.stderr
    );
}

#[test]
fn passing_run_says_done_and_registry_rewrite_applies() {
    let _fx = fixture();
    let run = validate("fixtures/single:v1\n", &["--registry", "127.0.0.1:5000"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        run.stdout.contains(&format!("PASS: [{SINGLE}]")),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("[INFO] Done"), "{}", run.stdout);
    // Nothing failed: the failed file exists and is empty (no stale failures).
    assert_eq!(run.failed.as_deref(), Some(""));
    let run = validate(
        "other.io/whatever/single:v1\n",
        &["--registry", "127.0.0.1:5000", "--project", "fixtures"],
    );
    assert_eq!(run.code, 0, "{}", run.all());
}

#[test]
fn filtered_out_platforms_are_skipped_not_failed() {
    let _fx = fixture();
    let run = validate(
        "127.0.0.1:5000/fixtures/multi:v1\n127.0.0.1:5000/fixtures/single:v1\n",
        &["--arch", "s390x"],
    );
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        run.stderr.contains("Skip validate image signature [127.0.0.1:5000/fixtures/multi:v1]: no available image for specified arch and os"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("[IMG:2] Skip validate image signature [127.0.0.1:5000/fixtures/single:v1]"),
        "{}",
        run.stderr
    );
    assert!(
        run.stdout.contains("0 passed, 0 failed, 2 skipped"),
        "{}",
        run.stdout
    );
}

#[test]
fn signature_for_another_digest_is_rejected() {
    let fx = fixture();
    let addr = fx.registry.addr();
    // Store the amd64 signature manifest of fixtures/multi under the arm64 digest's tag.
    let amd64 = "e7aaf8022eefdaa3aa9de6ea148e1028835ab93b16d10c5f046eb4fa4f7a65dc";
    let arm64 = "7d635632b4a44cf4438c1ff8da0de14e042af2f426151806c88a48f58acf6bc7";
    let oci = "application/vnd.oci.image.manifest.v1+json";
    let get = http_request(
        addr,
        "GET",
        &format!("/v2/fixtures/multi/manifests/sha256-{amd64}.sig"),
        &[("Accept", oci)],
        &[],
    )
    .expect("GET");
    assert_eq!(get.status, 200);
    let put = http_request(
        addr,
        "PUT",
        &format!("/v2/fixtures/multi/manifests/sha256-{arm64}.sig"),
        &[("Content-Type", oci)],
        &get.body,
    )
    .expect("PUT");
    assert_eq!(put.status, 201, "{}", String::from_utf8_lossy(&put.body));
    let run = validate("127.0.0.1:5000/fixtures/multi:v1\n", &["--arch", "arm64"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr.contains(&format!(
            "Signature for digest sha256:{amd64} does not match"
        )),
        "{}",
        run.stderr
    );
}

#[test]
fn mirrored_image_needs_exact_repository() {
    let _fx = fixture();
    let line = "127.0.0.1:5000/fixtures-mirror/multi:v1\n";
    let run = validate(line, &[]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr
            .contains("Signature for identity 127.0.0.1:5000/fixtures/multi:v1 is not accepted"),
        "{}",
        run.stderr
    );
    let run = validate(
        line,
        &["--exact-repository", "127.0.0.1:5000/fixtures/multi"],
    );
    assert_eq!(run.code, 0, "{}", run.all());
}

#[test]
fn any_of_several_keys_may_verify() {
    let _fx = fixture();
    let other = fixture_dir().join("keys/other.pub");
    let run = validate(
        "127.0.0.1:5000/fixtures/wrongkey:v1\n",
        &["-p", other.to_str().expect("utf-8")],
    );
    assert_eq!(run.code, 0, "{}", run.all());
}

#[test]
fn debug_shows_requests() {
    let _fx = fixture();
    let run = validate(&format!("{SINGLE}\n"), &["--debug"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stdout.contains("[DEBU] [IMG:1] hangar_registry::client: GET url=http://127.0.0.1:5000/v2/fixtures/single/manifests/v1"), "{}", run.stdout);
    let plain = validate(&format!("{SINGLE}\n"), &[]);
    assert!(!plain.stdout.contains("DEBU"), "{}", plain.stdout);
}

#[test]
fn tls_verification_is_the_default_and_plain_http_needs_tls_verify_false() {
    let _fx = fixture();
    let key = key_arg();
    for flags in [vec![], vec!["--tls-verify"], vec!["--tls-verify=true"]] {
        let mut args = vec![
            "sign",
            "validate",
            "-f",
            "list.txt",
            "-p",
            &key,
            "-o",
            "failed.txt",
        ];
        args.extend(flags.iter().copied());
        let run = hangar(&format!("{SINGLE}\n"), &args);
        assert_eq!(run.code, 1, "{flags:?}: {}", run.all());
        assert!(
            run.stderr.contains("GET https://127.0.0.1:5000/v2/"),
            "{flags:?}: {}",
            run.stderr
        );
    }
    let run = validate(&format!("{SINGLE}\n"), &[]);
    assert_eq!(run.code, 0, "{}", run.all());
}

#[test]
fn report_lists_every_line_once_with_platform_verdicts() {
    let _fx = fixture();
    let port = free_port().expect("port");
    let list = format!(
        "{SINGLE}\n127.0.0.1:5000/fixtures/unsigned:v1\n127.0.0.1:5000/fixtures/wrongkey:v1\n127.0.0.1:{port}/down/image:v1\nsrc.io/a dst.io/a v1\nBAD/Line\n127.0.0.1:5000/fixtures/multi:v1\n"
    );
    let dir = TempDir::new("report").expect("tmp");
    std::fs::write(dir.path().join("list.txt"), &list).expect("write");
    let key = key_arg();
    // The run, with its report in `format` written to `file`.
    let run_format = |format: &str, file: &str| {
        let run = run_in(
            dir.path(),
            &[
                "sign",
                "validate",
                "-f",
                "list.txt",
                "-p",
                &key,
                "--tls-verify=false",
                "--report",
                file,
                "--report-format",
                format,
                "-j",
                "3",
            ],
        );
        assert_eq!(run.code, 1, "{}", run.all());
        std::fs::read_to_string(dir.path().join(file)).expect("report")
    };
    let report: serde_json::Value =
        serde_json::from_str(&run_format("json", "report.json")).expect("JSON");
    assert_eq!(report["schema"], "hangar.validate.report/v1");
    let lines = report["lines"].as_array().expect("lines");
    let got: Vec<(u64, &str, &str)> = lines
        .iter()
        .map(|l| {
            (
                l["id"].as_u64().expect("id"),
                l["line"].as_str().expect("line"),
                l["verdict"].as_str().expect("verdict"),
            )
        })
        .collect();
    let want_lines: Vec<&str> = list.lines().collect();
    let want = [
        (1, want_lines[0], "passed"),
        (2, want_lines[1], "unsigned"),
        (3, want_lines[2], "invalid"),
        (4, want_lines[3], "error"),
        (5, want_lines[4], "skipped"),
        (6, want_lines[5], "error"),
        (7, want_lines[6], "passed"),
    ];
    assert_eq!(got, want);
    let summary = &report["summary"];
    for (k, n) in [
        ("lines", 7),
        ("passed", 2),
        ("unsigned", 1),
        ("invalid", 1),
        ("error", 2),
        ("skipped", 1),
    ] {
        assert_eq!(summary[k], n, "summary {k}");
    }
    let multi = &lines[6]["platforms"];
    assert_eq!(multi.as_array().map(Vec::len), Some(2));
    for p in multi.as_array().expect("platforms") {
        assert_eq!(p["verdict"], "passed");
        assert_eq!(p["identity"], "127.0.0.1:5000/fixtures/multi:v1");
        assert_eq!(
            p["key"],
            "173a6033efae9da710369b1079885236e8ef252b387ad98939a43a6ccfa624bd"
        );
        assert!(
            p["digest"]
                .as_str()
                .is_some_and(|d| d.starts_with("sha256:"))
        );
    }
    assert_eq!(
        lines[2]["platforms"][0]["reason"],
        "cryptographic signature verification failed: invalid signature when validating ASN.1 encoded signature"
    );
    assert_eq!(lines[0]["reference"], SINGLE);
    assert!(lines[5].get("reference").is_none());
    assert_report_schema(&report);
    // The schema is not vacuous: a line without its verdict, or an accepted platform
    // without its key, does not match.
    for broken in [
        |r: &mut serde_json::Value| {
            r["lines"][1].as_object_mut().map(|o| o.remove("verdict"));
        },
        |r: &mut serde_json::Value| {
            r["lines"][0]["platforms"][0]
                .as_object_mut()
                .map(|o| o.remove("key"));
        },
        |r: &mut serde_json::Value| r["summary"]["surprise"] = 1.into(),
    ] {
        let mut bad = report.clone();
        broken(&mut bad);
        assert!(check_report_schema(&bad).is_err(), "schema accepted {bad}");
    }

    // The same run as YAML is the same tree; as CSV, one row per platform (or per line).
    let without_time = |mut v: serde_json::Value| {
        v["summary"]["elapsed_seconds"] = 0.into();
        v
    };
    let yaml: serde_json::Value =
        serde_yaml_ng::from_str(&run_format("yaml", "report.yaml")).expect("YAML parses");
    assert_report_schema(&yaml);
    assert_eq!(without_time(yaml), without_time(report.clone()));
    let csv = run_format("csv", "report.csv");
    let rows = parse_csv(&csv);
    assert_eq!(
        rows[0].join(","),
        "id,line_number,line,reference,line_verdict,line_reason,platform,digest,verdict,reason,identity,signature_format,key,key_algorithm,certificate_sans,certificate_issuer,github_workflow_repository,github_workflow_ref,tlog_log_index,tlog_integrated_time,signing_time_source,media_type,os_version,tlog_verified"
    );
    let want_rows: usize = lines
        .iter()
        .map(|l| l["platforms"].as_array().map_or(1, |p| p.len().max(1)))
        .sum();
    assert_eq!(rows.len() - 1, want_rows, "{csv}");
    for row in &rows[1..] {
        assert_eq!(row.len(), 24, "{row:?}");
        let line = &lines[row[0].parse::<usize>().expect("id") - 1];
        assert_eq!(row[2], line["line"].as_str().expect("line"));
        assert_eq!(row[4], line["verdict"].as_str().expect("verdict"));
    }
    let multi_rows: Vec<&Vec<String>> = rows.iter().filter(|r| r[0] == "7").collect();
    assert_eq!(multi_rows.len(), 2);
    assert!(multi_rows.iter().all(|r| r[8] == "passed"
        && r[10] == "127.0.0.1:5000/fixtures/multi:v1"
        && r[11] == "simple-signing"
        && r[13] == "ECDSA P-256"));
}

/// RFC 4180: quoted fields may hold commas, doubled quotes and line breaks.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let (mut rows, mut row, mut field) = (Vec::new(), Vec::new(), String::new());
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    rows
}

#[test]
fn progress_line_on_a_terminal_only() {
    hangar_testkit::require_tool("/usr/bin/script", "bsdutils").unwrap_or_else(|e| panic!("{e}"));
    let _fx = fixture();
    let dir = TempDir::new("progress").expect("tmp");
    let list = format!("{SINGLE}\n").repeat(3) + "127.0.0.1:5000/fixtures/unsigned:v1\n";
    std::fs::write(dir.path().join("list.txt"), &list).expect("write");
    let command = format!(
        "'{}' sign validate -f list.txt -p '{}' --tls-verify=false -o failed.txt",
        env!("CARGO_BIN_EXE_hangar"),
        key_arg()
    );
    // `script` runs the command on a pseudo-terminal and copies what it printed.
    let out = std::process::Command::new("timeout")
        .args(["60", "script", "-q", "-e", "-c", &command, "/dev/null"])
        .current_dir(dir.path())
        .env("HOME", dir.path())
        .env("NO_PROXY", "127.0.0.1")
        .output()
        .expect("run script");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("/4 lines · "), "no progress line: {text:?}");
    assert!(
        text.contains("\r\x1b[2K"),
        "progress never erased: {text:?}"
    );
    // The summary comes after the last progress line was erased.
    let last_erase = text.rfind("\r\x1b[2K").expect("erase");
    let summary = text.find("image list lines in").expect("summary");
    assert!(summary > last_erase, "{text:?}");

    // Piped (as every other test runs it): no progress line at all.
    let run = validate(&list, &[]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        !run.all().contains('\r') && !run.all().contains("lines · "),
        "{}",
        run.all()
    );
}

#[test]
fn completions_and_man_pages_cover_every_flag() {
    let dir = TempDir::new("assets").expect("tmp");
    let help = run_in(dir.path(), &["sign", "validate", "--help"]);
    assert_eq!(help.code, 0, "{}", help.all());
    let flags: Vec<&str> = help
        .stdout
        .split_whitespace()
        .filter(|w| w.starts_with("--") && w.len() > 2)
        .map(|w| {
            let end = w[2..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                .map_or(w.len(), |i| i + 2);
            &w[..end]
        })
        .collect();
    assert!(flags.contains(&"--accept-unnamed-signatures"), "{flags:?}");
    let bash = run_in(dir.path(), &["completion", "bash"]);
    assert_eq!(bash.code, 0, "{}", bash.all());
    std::fs::write(dir.path().join("hangar.bash"), &bash.stdout).expect("write");
    let syntax = std::process::Command::new("bash")
        .arg("-n")
        .arg(dir.path().join("hangar.bash"))
        .output()
        .expect("bash");
    assert!(syntax.status.success(), "{syntax:?}");
    let man = run_in(dir.path(), &["man", "--dir", "man"]);
    assert_eq!(man.code, 0, "{}", man.all());
    let mut pages: Vec<String> = std::fs::read_dir(dir.path().join("man"))
        .expect("man dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    pages.sort();
    assert_eq!(
        pages,
        [
            "hangar-completion.1",
            "hangar-generate-sigstore-key.1",
            "hangar-inspect.1",
            "hangar-sign-validate.1",
            "hangar-sign.1",
            "hangar-signv1-validate.1",
            "hangar-signv1.1",
            "hangar.1"
        ]
    );
    let page =
        std::fs::read_to_string(dir.path().join("man/hangar-sign-validate.1")).expect("man page");
    assert!(page.starts_with(".ie") && page.contains(".TH HANGAR-SIGN-VALIDATE 1"));
    for flag in flags {
        assert!(bash.stdout.contains(flag), "bash completion lacks {flag}");
        // roff escapes every '-' as '\-'.
        assert!(
            page.contains(&flag.replace('-', "\\-")),
            "man page lacks {flag}"
        );
    }
}

#[test]
fn lines_naming_the_same_images_share_their_signature_fetches() {
    let _fx = fixture();
    let multi = "127.0.0.1:5000/fixtures/multi:v1";
    let run = validate(&format!("{multi}\n{multi}\n{multi}\n"), &["-j", "1"]);
    assert_eq!(run.code, 0, "{}", run.all());
    // Ping (HTTPS refused, then plain HTTP: 2), index + 2 platforms × (attachment +
    // payload) for the first line, then the index alone for each repeat: 2 + 5 + 1 + 1.
    assert!(
        run.stdout
            .contains("3 passed, 0 failed, 0 skipped; 9 registry requests"),
        "{}",
        run.stdout
    );
}
