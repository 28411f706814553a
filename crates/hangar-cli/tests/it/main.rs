//! Integration tests of the `hangar` binary against real `docker-registry` processes.

mod adversarial;
mod auth;
mod bundles;
mod cli;
mod keyless;
mod keytypes;
mod options;
mod oracle;
mod outputs;
mod resilience;
mod signing;
mod tls;
mod upstream;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use hangar_testkit::{FIXTURE_ADDR, Registry, TempDir, fixture_dir};

/// The recorded identities are bound to 127.0.0.1:5000, so only one fixture registry may
/// run at a time.
static FIXTURE_PORT: Mutex<()> = Mutex::new(());

/// A fixture registry on 127.0.0.1:5000, held for the duration of a test.
pub(crate) struct Fixture {
    pub(crate) registry: Registry,
    _lock: MutexGuard<'static, ()>,
}

pub(crate) fn fixture() -> Fixture {
    let lock = FIXTURE_PORT.lock().unwrap_or_else(PoisonError::into_inner);
    let registry = Registry::start_fixture(FIXTURE_ADDR).unwrap_or_else(|e| panic!("{e}"));
    Fixture {
        registry,
        _lock: lock,
    }
}

pub(crate) fn lab_pub() -> PathBuf {
    fixture_dir().join("keys/lab.pub")
}

/// The result of one `hangar` run.
pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
    /// The failed-list file, if written.
    pub(crate) failed: Option<String>,
}

impl Run {
    pub(crate) fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// Runs `hangar` with `args` in a fresh folder holding `list` as `list.txt`; the failed
/// file is `failed.txt` there. Killed after 120 s.
pub(crate) fn hangar(list: &str, args: &[&str]) -> Run {
    let dir = TempDir::new("cli").unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.path().join("list.txt"), list).expect("write list");
    run_in(dir.path(), args)
}

pub(crate) fn run_in(dir: &Path, args: &[&str]) -> Run {
    wait_run(dir, spawn_in(dir, args, &[]), args)
}

/// Starts `hangar` in `dir` with a clean credential environment (HOME = `dir`) plus `envs`.
pub(crate) fn spawn_in(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_hangar"))
        .args(args)
        .current_dir(dir)
        .env_remove("REGISTRY_AUTH_FILE")
        .env_remove("DOCKER_CONFIG")
        .env_remove("XDG_CONFIG_HOME")
        .env("HOME", dir)
        .env("XDG_RUNTIME_DIR", dir)
        .env("NO_PROXY", "127.0.0.1,localhost")
        .envs(envs.iter().copied())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn hangar")
}

/// Waits (at most 120 s) for a `hangar` started in `dir` and collects its output.
pub(crate) fn wait_run(dir: &Path, mut child: std::process::Child, args: &[&str]) -> Run {
    // Drain both pipes while waiting: a chatty run must not block on a full pipe.
    let drain = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut out = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut out);
            }
            out
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
    );
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if start.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            panic!("hangar {args:?} did not finish in 120 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let text = |h: std::thread::JoinHandle<Vec<u8>>| {
        String::from_utf8_lossy(&h.join().unwrap_or_default()).into_owned()
    };
    Run {
        code: status.code().unwrap_or(-1),
        stdout: text(stdout),
        stderr: text(stderr),
        failed: std::fs::read_to_string(dir.join("failed.txt")).ok(),
    }
}

/// `sign validate` of `lines` (written to `dir/list.txt`) with the lab key, plain HTTP
/// allowed, failed file `failed.txt`, plus `extra` flags and `envs`.
pub(crate) fn validate_in(dir: &Path, lines: &str, extra: &[&str], envs: &[(&str, &str)]) -> Run {
    std::fs::write(dir.join("list.txt"), lines).expect("write list");
    let key = lab_pub();
    let mut args = vec![
        "sign",
        "validate",
        "-f",
        "list.txt",
        "-p",
        key.to_str().expect("utf-8"),
        "--tls-verify=false",
        "-o",
        "failed.txt",
    ];
    args.extend_from_slice(extra);
    wait_run(dir, spawn_in(dir, &args, envs), &args)
}

/// `sign validate` on the fixture registry with the lab key, plain HTTP, failed file
/// `failed.txt`, plus `extra` flags.
pub(crate) fn validate(list: &str, extra: &[&str]) -> Run {
    let key = lab_pub();
    let mut args = vec![
        "sign",
        "validate",
        "-f",
        "list.txt",
        "-p",
        key.to_str().expect("utf-8 path"),
        "--tls-verify=false",
        "-o",
        "failed.txt",
    ];
    args.extend_from_slice(extra);
    hangar(list, &args)
}

/// A key or signature from hangar-signature's OpenSSL-made test vectors.
pub(crate) fn key_file(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../hangar-signature/tests/data/keys")
        .join(name)
}

/// Signs `payload` with OpenSSL: `hash` for ECDSA and RSA, `None` for Ed25519 (pure).
pub(crate) fn openssl_sign(
    dir: &std::path::Path,
    key: &str,
    hash: Option<&str>,
    payload: &[u8],
) -> String {
    use base64::Engine as _;
    let input = dir.join("payload.json");
    std::fs::write(&input, payload).expect("write payload");
    let key = key_file(key);
    let mut cmd = Command::new("openssl");
    match hash {
        Some(h) => cmd
            .args(["dgst", &format!("-{h}"), "-sign"])
            .arg(&key)
            .arg(&input),
        None => cmd
            .args(["pkeyutl", "-sign", "-rawin", "-inkey"])
            .arg(&key)
            .arg("-in")
            .arg(&input),
    };
    let out = cmd.output().expect("run openssl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    base64::engine::general_purpose::STANDARD.encode(out.stdout)
}

/// Checks `report` against docs/report.schema.json with a generic JSON Schema validator.
#[track_caller]
pub(crate) fn assert_report_schema(report: &serde_json::Value) {
    if let Err(e) = check_report_schema(report) {
        panic!("report does not match docs/report.schema.json: {e}\n{report:#}");
    }
}

/// The schema validator's complaint about `report`, if any.
pub(crate) fn check_report_schema(report: &serde_json::Value) -> Result<(), String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/report.schema.json");
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("schema file"))
            .expect("schema JSON");
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    compiler
        .add_resource("report.schema.json", schema)
        .expect("add schema");
    let index = compiler
        .compile("report.schema.json", &mut schemas)
        .unwrap_or_else(|e| panic!("schema does not compile: {e:#}"));
    schemas
        .validate(report, index)
        .map_err(|e| format!("{e:#}"))
}
