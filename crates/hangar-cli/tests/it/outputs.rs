//! Issue #12: output files never destroy anything, and no input slips through unvalidated.
//! Each numbered defect of the issue has a test here (the number is in the test's comment).

use std::net::TcpListener;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hangar_testkit::{TempDir, fixture_dir};

use crate::{Run, fixture, lab_pub, run_in, spawn_in, validate_in, wait_run};

const SINGLE: &str = "127.0.0.1:5000/fixtures/single:v1";

/// A loopback port that accepts and counts connections (and answers none): a registry
/// line naming it fails, and the count shows whether anything was sent.
struct Listener {
    addr: String,
    connections: Arc<AtomicUsize>,
}

fn listener() -> Listener {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("addr").to_string();
    let connections = Arc::new(AtomicUsize::new(0));
    let c = Arc::clone(&connections);
    std::thread::spawn(move || {
        for stream in l.incoming().flatten() {
            c.fetch_add(1, Ordering::SeqCst);
            drop(stream);
        }
    });
    Listener { addr, connections }
}

fn key() -> String {
    lab_pub().to_str().expect("utf-8").to_owned()
}

/// A folder with `list.txt` naming one image on a port that counts connections.
fn setup(tag: &str) -> (TempDir, Listener) {
    let dir = TempDir::new(tag).expect("tmp");
    let l = listener();
    std::fs::write(dir.path().join("list.txt"), format!("{}/a/b:1\n", l.addr)).expect("write");
    std::fs::copy(lab_pub(), dir.path().join("key.pub")).expect("copy key");
    (dir, l)
}

#[track_caller]
fn assert_setup_error(run: &Run, l: &Listener, want: &str) {
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(
        run.stderr.contains("[FATA]") && run.stderr.contains(want),
        "want {want:?}: {}",
        run.stderr
    );
    assert_eq!(
        l.connections.load(Ordering::SeqCst),
        0,
        "traffic before setup"
    );
}

fn validate_args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec![
        "sign",
        "validate",
        "-f",
        "list.txt",
        "-p",
        "key.pub",
        "--tls-verify=false",
    ];
    a.extend_from_slice(extra);
    a
}

#[test]
fn an_output_aliasing_an_input_or_another_output_is_refused_before_traffic() {
    // Defect 3: -o = the list, --report = the list, -o = the key, -o X --report X; also a
    // hard link and a symlink to the list, and the --authfile.
    let (dir, l) = setup("alias");
    let d = dir.path();
    std::fs::hard_link(d.join("list.txt"), d.join("hard.txt")).expect("hard link");
    std::os::unix::fs::symlink(d.join("list.txt"), d.join("soft.txt")).expect("symlink");
    std::fs::write(d.join("auth.json"), "{\"auths\":{}}").expect("write");
    let list_before = std::fs::read(d.join("list.txt")).expect("read");
    let key_before = std::fs::read(d.join("key.pub")).expect("read");
    let cases: &[(&[&str], &str)] = &[
        (
            &["-o", "list.txt"],
            "--failed list.txt is the file given to --file",
        ),
        (&["-o", "./hard.txt"], "is the file given to --file"),
        (&["-o", "soft.txt"], "is the file given to --file"),
        (
            &["--report", "list.txt"],
            "--report list.txt is the file given to --file",
        ),
        (
            &["-o", "key.pub"],
            "--failed key.pub is the file given to --sigstore-pubkey",
        ),
        (
            &["-o", "x.txt", "--report", "x.txt"],
            "--report x.txt is also the output file x.txt",
        ),
        (
            &["--authfile", "auth.json", "-o", "auth.json"],
            "is the file given to --authfile",
        ),
    ];
    for (extra, want) in cases {
        let run = run_in(d, &validate_args(extra));
        assert_setup_error(&run, &l, want);
    }
    assert_eq!(
        std::fs::read(d.join("list.txt")).expect("read"),
        list_before
    );
    assert_eq!(std::fs::read(d.join("key.pub")).expect("read"), key_before);
    assert!(!d.join("x.txt").exists());

    // `hangar sign -o` = the private key or its passphrase file.
    let keys = fixture_dir().join("keys");
    for f in ["lab.key", "passphrase"] {
        std::fs::copy(keys.join(f), d.join(f)).expect("copy");
    }
    let private_before = std::fs::read(d.join("lab.key")).expect("read");
    for (target, flag) in [
        ("lab.key", "--sigstore-key"),
        ("passphrase", "--sigstore-passphrase-file"),
    ] {
        let run = run_in(
            d,
            &[
                "sign",
                "-f",
                "list.txt",
                "-k",
                "lab.key",
                "--sigstore-passphrase-file",
                "passphrase",
                "--tls-verify=false",
                "-o",
                target,
            ],
        );
        assert_setup_error(&run, &l, &format!("is the file given to {flag}"));
    }
    assert_eq!(
        std::fs::read(d.join("lab.key")).expect("read"),
        private_before
    );

    // A policy and the keys it names are inputs too.
    std::fs::write(
        d.join("policy.json"),
        format!(
            "{{\"default\":[{{\"type\":\"sigstoreSigned\",\"keyPath\":\"{}\",\"signedIdentity\":{{\"type\":\"matchRepoDigestOrExact\"}}}}]}}",
            d.join("key.pub").display()
        ),
    )
    .expect("write");
    for (target, want) in [
        ("policy.json", "is the file given to --policy"),
        ("key.pub", "is the file given to --policy (keyPath)"),
    ] {
        let run = run_in(
            d,
            &[
                "sign",
                "validate",
                "-f",
                "list.txt",
                "--policy",
                "policy.json",
                "-o",
                target,
            ],
        );
        assert_setup_error(&run, &l, want);
    }
}

#[test]
fn missing_folders_directories_and_dangling_links_are_setup_errors() {
    // Defects 4, 5 and 6: noticed before any traffic, exit 2, no file left behind.
    let (dir, l) = setup("folders");
    let d = dir.path();
    std::fs::create_dir(d.join("adir")).expect("mkdir");
    let cases: &[(&[&str], &str)] = &[
        (
            &["--report", "nodir/r.json"],
            "--report nodir/r.json: folder nodir does not exist",
        ),
        (
            &["-o", "nodir/f.txt"],
            "--failed nodir/f.txt: folder nodir does not exist",
        ),
        (&["--report", "adir"], "--report adir is a directory"),
        (&["-o", "adir"], "--failed adir is a directory"),
    ];
    for (extra, want) in cases {
        let run = run_in(d, &validate_args(extra));
        assert_setup_error(&run, &l, want);
    }
    assert_eq!(std::fs::read_dir(d.join("adir")).expect("adir").count(), 0);
    // Only what the test made is in the folder: no temporary file survived.
    let mut names: Vec<String> = std::fs::read_dir(d)
        .expect("read")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["adir", "key.pub", "list.txt"]);
}

/// Runs `hangar` as an unprivileged user (nobody) when the tests run as root, so that a
/// read-only folder is read-only for it too.
fn run_unprivileged(dir: &Path, args: &[&str]) -> Run {
    let me = std::fs::metadata("/proc/self").expect("/proc/self").uid();
    let bin = env!("CARGO_BIN_EXE_hangar");
    let mut cmd = if me == 0 {
        assert!(
            Path::new("/usr/bin/setpriv").exists(),
            "/usr/bin/setpriv is missing: install it with `apt-get install -y util-linux`"
        );
        let mut c = std::process::Command::new("/usr/bin/setpriv");
        c.args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--reset-env",
        ])
        .arg(bin);
        c
    } else {
        std::process::Command::new(bin)
    };
    let child = cmd
        .args(args)
        .current_dir(dir)
        .env("HOME", dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn hangar");
    wait_run(dir, child, args)
}

#[test]
fn read_only_folders_are_setup_errors_even_for_the_default_failed_file() {
    // Defects 4 and 5: a read-only output folder, and a read-only current directory with
    // the default `-o sign-failed.txt`, are refused before any traffic.
    let (dir, l) = setup("readonly");
    let d = dir.path();
    let ro = d.join("ro");
    std::fs::create_dir(&ro).expect("mkdir");
    for f in ["list.txt", "key.pub"] {
        std::fs::copy(d.join(f), ro.join(f)).expect("copy");
    }
    for p in [d, ro.as_path()] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).expect("chmod ro");
    let rw = d.join("rw");
    std::fs::create_dir(&rw).expect("mkdir");
    std::fs::set_permissions(&rw, std::fs::Permissions::from_mode(0o777)).expect("chmod rw");
    let run = run_unprivileged(
        d,
        &validate_args(&["-o", "rw/f.txt", "--report", "ro/r.json"]),
    );
    assert_setup_error(
        &run,
        &l,
        "--report ro/r.json: cannot create a file in folder ro",
    );
    let run = run_unprivileged(d, &validate_args(&["-o", "ro/f.txt"]));
    assert_setup_error(
        &run,
        &l,
        "--failed ro/f.txt: cannot create a file in folder ro",
    );
    let run = run_unprivileged(&ro, &validate_args(&[]));
    assert_setup_error(
        &run,
        &l,
        "--failed sign-failed.txt: cannot create a file in folder .",
    );
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755)).expect("chmod back");
}

#[test]
fn dev_null_fifos_and_stdout_stay_what_they_were() {
    // Defect 2: as root these were replaced by regular files.
    let (dir, l) = setup("devnull");
    let d = dir.path();
    let run = run_in(
        d,
        &validate_args(&["-o", "/dev/null", "--report", "/dev/null"]),
    );
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(l.connections.load(Ordering::SeqCst) > 0);
    let null = std::fs::symlink_metadata("/dev/null").expect("/dev/null");
    assert!(null.file_type().is_char_device(), "/dev/null was replaced");
    assert!(
        run.stderr
            .contains("Failed image list exported to \"/dev/null\"")
    );

    // A FIFO receives the failed list, in place.
    let fifo = d.join("fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo (coreutils)");
    assert!(made.success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read_to_string(fifo).expect("read fifo"))
    };
    let run = run_in(d, &validate_args(&["-o", "fifo"]));
    assert_eq!(run.code, 1, "{}", run.all());
    assert_eq!(
        reader.join().expect("reader"),
        format!("{}/a/b:1\n", l.addr)
    );
    assert!(
        std::fs::symlink_metadata(&fifo)
            .expect("fifo")
            .file_type()
            .is_fifo()
    );

    // /dev/stdout (a link to the test's pipe) and a link to /dev/null.
    std::os::unix::fs::symlink("/dev/null", d.join("null-link")).expect("symlink");
    let run = run_in(
        d,
        &validate_args(&["-o", "/dev/stdout", "--report", "null-link"]),
    );
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stdout
            .lines()
            .any(|line| line == format!("{}/a/b:1", l.addr)),
        "{}",
        run.stdout
    );
    assert!(
        std::fs::symlink_metadata(d.join("null-link"))
            .expect("link")
            .file_type()
            .is_symlink()
    );
    assert!(
        std::fs::symlink_metadata("/dev/stdout")
            .expect("/dev/stdout")
            .file_type()
            .is_symlink()
    );
}

#[test]
fn a_passing_run_empties_a_stale_failed_file() {
    let _fx = fixture();
    let dir = TempDir::new("stale").expect("tmp");
    std::fs::write(dir.path().join("failed.txt"), "old/failure:1\n").expect("write");
    let run = validate_in(dir.path(), &format!("{SINGLE}\n"), &[], &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(run.failed.as_deref(), Some(""), "{}", run.all());
}

#[test]
fn a_comment_after_an_image_never_turns_it_into_a_skipped_mirror_line() {
    // Defect 7: `IMAGE # comment` has three fields; it was skipped and passed.
    let (dir, l) = setup("comment");
    let line = format!("{}/a/b:1 # unsigned!", l.addr);
    std::fs::write(dir.path().join("list.txt"), format!("{line}\n")).expect("write");
    let run = run_in(dir.path(), &validate_args(&["-o", "failed.txt"]));
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(!run.stderr.contains("invalid format"), "{}", run.stderr);
    assert!(l.connections.load(Ordering::SeqCst) > 0, "never validated");
    assert_eq!(run.failed.as_deref(), Some(format!("{line}\n").as_str()));
}

#[test]
fn unknown_architectures_and_oses_are_usage_errors_with_a_suggestion() {
    // Defect 8: `--arch x86_64` skipped every line and passed.
    let (dir, l) = setup("arch");
    let cases: &[(&[&str], &str)] = &[
        (
            &["--arch", "x86_64"],
            "--arch \"x86_64\" is not an architecture name images use (GOARCH); did you mean \"amd64\"?",
        ),
        (&["--arch", "amd64,AMD64"], "did you mean \"amd64\"?"),
        (&["--arch", "arm/v11"], "\"v11\" is not a variant of arm"),
        (&["--os", "Linux"], "did you mean \"linux\"?"),
    ];
    for (extra, want) in cases {
        let run = run_in(dir.path(), &validate_args(extra));
        assert_setup_error(&run, &l, want);
    }
}

#[test]
fn registry_and_project_overrides_are_checked() {
    // Defect 10.
    let (dir, l) = setup("overrides");
    for (extra, want) in [
        (
            ["--registry", "reg.io/"],
            "--registry \"reg.io/\" is not a registry",
        ),
        (
            ["--registry", "reg.io/ns"],
            "--registry \"reg.io/ns\" is not a registry",
        ),
        (["--project", "/p"], "--project \"/p\" is not a project"),
        (["--project", "p/"], "--project \"p/\" is not a project"),
    ] {
        let run = run_in(dir.path(), &validate_args(&extra));
        assert_setup_error(&run, &l, want);
    }
    // A scheme is dropped with a warning; the line is then validated on that registry.
    let scheme = format!("http://{}", l.addr);
    let run = run_in(
        dir.path(),
        &validate_args(&["--registry", &scheme, "-o", "failed.txt"]),
    );
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr
            .contains("image references have no scheme; using"),
        "{}",
        run.stderr
    );
    assert!(l.connections.load(Ordering::SeqCst) > 0);
}

#[test]
fn a_bad_utf8_line_fails_alone_and_a_bom_is_ignored() {
    // Defect 11.
    let _fx = fixture();
    let dir = TempDir::new("utf8").expect("tmp");
    let mut list = b"\xEF\xBB\xBF".to_vec();
    list.extend_from_slice(format!("{SINGLE}\nbad").as_bytes());
    list.push(0xFF);
    list.extend_from_slice(format!("/line:1\n{SINGLE}\n").as_bytes());
    std::fs::write(dir.path().join("list.txt"), &list).expect("write");
    let key = key();
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
            "-o",
            "failed.txt",
        ],
    );
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stdout.contains(&format!("[IMG:1] PASS: [{SINGLE}]")),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(&format!("[IMG:3] PASS: [{SINGLE}]")),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr.contains(
            "image list line 2 \"bad\u{fffd}/line:1\": not valid UTF-8 (at byte 3 of the line)"
        ),
        "{}",
        run.stderr
    );
    assert_eq!(run.failed.as_deref(), Some("bad\u{fffd}/line:1\n"));
}

#[test]
fn inspect_with_an_invalid_reference_is_a_usage_error_with_the_reason() {
    // Defect 12.
    let dir = TempDir::new("inspect").expect("tmp");
    let run = run_in(dir.path(), &["inspect", "--raw", "docker://reg.io/A/b:1"]);
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(
        run.stderr
            .contains("invalid image reference \"reg.io/A/b:1\": invalid reference format: repository name (A/b) must be lowercase"),
        "{}",
        run.stderr
    );
}

#[test]
fn loopback_registries_are_never_proxied() {
    // Defect 9: HTTP(S)_PROXY must not see requests (or their Authorization headers) for
    // 127.0.0.0/8, ::1 or localhost, whatever NO_PROXY says.
    let _fx = fixture();
    let proxy = listener();
    let dir = TempDir::new("noproxy").expect("tmp");
    let url = format!("http://{}", proxy.addr);
    let envs = [
        ("HTTP_PROXY", url.as_str()),
        ("http_proxy", url.as_str()),
        ("HTTPS_PROXY", url.as_str()),
        ("https_proxy", url.as_str()),
        ("ALL_PROXY", url.as_str()),
        ("NO_PROXY", ""),
        ("no_proxy", ""),
    ];
    let run = validate_in(
        dir.path(),
        &format!("{SINGLE}\nlocalhost:5000/fixtures/single:v1\n"),
        &["--exact-repository", "127.0.0.1:5000/fixtures/single"],
        &envs,
    );
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(
        proxy.connections.load(Ordering::SeqCst),
        0,
        "a loopback request was proxied"
    );
}

#[test]
fn blocked_registries_are_refused_per_line_without_traffic() {
    let (dir, l) = setup("blocked");
    let d = dir.path();
    std::fs::write(
        d.join("registries.conf"),
        format!("[[registry]]\nprefix = \"{}/a\"\nblocked = true\n", l.addr),
    )
    .expect("write");
    let other = listener();
    std::fs::write(
        d.join("list.txt"),
        format!("{}/a/b:1\n{}/c/d:1\n", l.addr, other.addr),
    )
    .expect("write");
    let conf = d.join("registries.conf");
    let args = validate_args(&["-o", "failed.txt"]);
    let run = wait_run(
        d,
        spawn_in(
            d,
            &args,
            &[("CONTAINERS_REGISTRIES_CONF", conf.to_str().expect("utf-8"))],
        ),
        &args,
    );
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr.contains(&format!(
            "{}/a/b:1 is blocked in registries.conf (blocked = true); no request was sent",
            l.addr
        )),
        "{}",
        run.stderr
    );
    assert_eq!(l.connections.load(Ordering::SeqCst), 0);
    // The other line is not blocked: it is tried (and fails on its silent port).
    assert!(other.connections.load(Ordering::SeqCst) > 0);
    assert_eq!(run.failed.as_deref().map(|f| f.lines().count()), Some(2));
}

#[test]
fn a_key_file_with_several_keys_is_refused() {
    let (dir, l) = setup("twokeys");
    let one = std::fs::read_to_string(dir.path().join("key.pub")).expect("read");
    let other = std::fs::read_to_string(fixture_dir().join("keys/other.pub")).expect("read");
    std::fs::write(dir.path().join("two.pub"), format!("{one}{other}")).expect("write");
    let run = run_in(
        dir.path(),
        &["sign", "validate", "-f", "list.txt", "-p", "two.pub"],
    );
    assert_setup_error(
        &run,
        &l,
        "sigstore public key two.pub: the file holds 2 PEM blocks",
    );
}

#[test]
fn bidi_controls_schemes_and_empty_lists_are_shown_safely() {
    let (dir, l) = setup("bidi");
    let d = dir.path();
    let list = format!("{}/a/b:1\u{202e}1:tset\nhttp://{}/a/b:1\n", l.addr, l.addr);
    std::fs::write(d.join("list.txt"), &list).expect("write");
    let run = run_in(d, &validate_args(&["-o", "failed.txt"]));
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(!run.all().contains('\u{202e}'), "{}", run.all());
    assert!(run.stderr.contains("\\u{202e}"), "{}", run.stderr);
    // The line is quoted as written, scheme and all.
    assert!(
        run.stderr.contains(&format!(
            "image list line 2 \"http://{}/a/b:1\": an image reference has no URL scheme: remove \"http://\"",
            l.addr
        )),
        "{}",
        run.stderr
    );
    // The failed file keeps both lines exactly.
    assert_eq!(run.failed.as_deref(), Some(list.as_str()));

    std::fs::write(d.join("list.txt"), "# nothing here\n\n").expect("write");
    let run = run_in(d, &validate_args(&[]));
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        run.stderr.contains("has no image lines") && run.stderr.contains("[WARN]"),
        "{}",
        run.stderr
    );
}

#[test]
fn sigterm_exits_143_and_records_the_run() {
    let (dir, _l) = setup("sigterm");
    let args = validate_args(&["-o", "failed.txt", "--timeout", "60s"]);
    // A port that never accepts: the kernel completes the handshake, nothing answers, so
    // the line is still in flight when the signal comes.
    let blackhole = TcpListener::bind("127.0.0.1:0").expect("bind");
    let hold = format!("{}/slow/image:1\n", blackhole.local_addr().expect("addr"));
    std::fs::write(dir.path().join("list.txt"), hold.clone()).expect("write");
    let child = spawn_in(dir.path(), &args, &[]);
    std::thread::sleep(Duration::from_millis(800));
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let run = wait_run(dir.path(), child, &args);
    assert_eq!(run.code, 143, "{}", run.all());
    assert!(
        run.stderr.contains("Interrupted by SIGTERM"),
        "{}",
        run.stderr
    );
    assert_eq!(run.failed.as_deref(), Some(hold.as_str()));
}

#[test]
fn generating_a_key_with_an_empty_passphrase_warns() {
    let dir = TempDir::new("emptypw").expect("tmp");
    std::fs::write(dir.path().join("pw"), "\n").expect("write");
    let run = run_in(
        dir.path(),
        &[
            "generate-sigstore-key",
            "-p",
            "k",
            "--passphrase-file",
            "pw",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stderr.contains("[WARN]") && run.stderr.contains("passphrase is empty"));
    let mode = std::fs::metadata(dir.path().join("k.key"))
        .expect("key")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    // The prefix may not name the passphrase file's key pair: `-p pw` writes pw.key and
    // pw.pub, never pw; but `--passphrase-file k.pub` with `-p k -y` would destroy it.
    std::fs::write(dir.path().join("k.pub"), "secret\n").expect("write");
    let run = run_in(
        dir.path(),
        &[
            "generate-sigstore-key",
            "-p",
            "k",
            "--passphrase-file",
            "k.pub",
            "-y",
        ],
    );
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(
        run.stderr
            .contains("is the file given to --passphrase-file"),
        "{}",
        run.stderr
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("k.pub")).expect("read"),
        "secret\n"
    );
}
