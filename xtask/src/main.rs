//! The project's build system: `cargo xtask <ci|demo>`. Installs what a fresh Debian
//! machine lacks (with apt-get, only when missing), then runs cargo.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Duration;

use hangar_testkit::{FIXTURE_ADDR, REGISTRY_BIN, Registry, TempDir, fixture_dir};

type Result<T = ()> = std::result::Result<T, String>;

const USAGE: &str = "usage: cargo xtask <command>

commands:
  ci     install test prerequisites, then fmt --check, clippy -D warnings, test --workspace
  demo   start a throwaway registry with signed images and validate them with hangar";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("demo") => demo(),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Runs a command in the workspace root; fails on a non-zero exit.
fn run(program: &str, args: &[&str]) -> Result {
    eprintln!("$ {program} {}", args.join(" "));
    let status = Command::new(program)
        .args(args)
        .current_dir(root())
        .status()
        .map_err(|e| format!("running {program}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{program} {}` failed: {status}", args.join(" ")))
    }
}

/// Installs the Debian packages providing `files` that are missing.
fn ensure_packages(needs: &[(&str, &str)]) -> Result {
    let missing: Vec<&str> = needs
        .iter()
        .filter(|(file, _)| !Path::new(file).exists())
        .map(|(_, pkg)| *pkg)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let root_user = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.trim_ascii() == b"0")
        .unwrap_or(false);
    let sudo: &[&str] = if root_user { &[] } else { &["sudo", "-n"] };
    let apt = |args: &[&str]| {
        let mut full: Vec<&str> = sudo.to_vec();
        full.extend_from_slice(&["timeout", "900", "apt-get"]);
        full.extend_from_slice(args);
        let status = Command::new(full[0])
            .args(&full[1..])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .map_err(|e| format!("running apt-get: {e}"))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("`{}` failed: {status}", full.join(" ")))
        }
    };
    eprintln!("xtask: installing missing packages: {}", missing.join(" "));
    apt(&["update", "-qq"])?;
    let mut install = vec!["install", "-y", "-qq", "--no-install-recommends"];
    install.extend(missing.iter().copied());
    apt(&install).map_err(|e| {
        format!(
            "{e}\ninstall them by hand: apt-get install -y {}",
            missing.join(" ")
        )
    })
}

const TEST_PACKAGES: &[(&str, &str)] = &[(REGISTRY_BIN, "docker-registry")];

fn ci() -> Result {
    ensure_packages(TEST_PACKAGES)?;
    run("cargo", &["fmt", "--all", "--", "--check"])?;
    run(
        "cargo",
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--locked",
            "--",
            "-D",
            "warnings",
        ],
    )?;
    run("cargo", &["test", "--workspace", "--locked"])?;
    eprintln!("xtask: ci passed");
    Ok(())
}

/// Builds `hangar` (debug, sharing the test build) and returns its path.
fn build_hangar() -> Result<PathBuf> {
    run(
        "cargo",
        &[
            "build",
            "--quiet",
            "--package",
            "hangar-cli",
            "--bin",
            "hangar",
        ],
    )?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"));
    Ok(target.join("debug/hangar"))
}

/// One step of the demo: runs hangar, shows its output, checks the exit code.
fn step(hangar: &Path, dir: &Path, title: &str, args: &[&str], want: i32) -> Result<String> {
    println!("\n=== {title}");
    println!("$ hangar {}", args.join(" "));
    let mut child = Command::new(hangar)
        .args(args)
        .current_dir(dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("running {}: {e}", hangar.display()))?;
    let start = std::time::Instant::now();
    while child.try_wait().map_err(|e| e.to_string())?.is_none() {
        if start.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            return Err(format!("hangar {} did not finish in 120 s", args.join(" ")));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    print!("{text}");
    let code = out.status.code().unwrap_or(-1);
    println!("(exit status {code})");
    if code != want {
        return Err(format!(
            "step {title:?}: hangar exited {code}, expected {want}"
        ));
    }
    Ok(text)
}

fn demo() -> Result {
    ensure_packages(TEST_PACKAGES)?;
    let hangar = build_hangar()?;
    // The recorded signatures name 127.0.0.1:5000, so the demo registry must serve there.
    let registry = Registry::start_fixture(FIXTURE_ADDR)
        .map_err(|e| format!("{e}\n(is something else listening on {FIXTURE_ADDR}?)"))?;
    println!(
        "Started docker-registry (pid {}) on {} with images signed by skopeo.",
        registry.pid(),
        registry.addr()
    );
    let dir = TempDir::new("demo")?;
    let key = fixture_dir().join("keys/lab.pub");
    std::fs::copy(&key, dir.path().join("sigstore.pub")).map_err(|e| e.to_string())?;
    std::fs::write(
        dir.path().join("example_image_list.txt"),
        "# images signed in fixtures/\nfixtures/multi:v1\nfixtures/single:v1\n",
    )
    .map_err(|e| e.to_string())?;
    std::fs::write(
        dir.path().join("mirrored_image_list.txt"),
        "fixtures/multi:v1\n",
    )
    .map_err(|e| e.to_string())?;
    println!(
        "Image lists and the public key are in {}",
        dir.path().display()
    );
    let base = [
        "sign",
        "validate",
        "--sigstore-pubkey",
        "sigstore.pub",
        "--registry",
        FIXTURE_ADDR,
        "--tls-verify=false",
        "--jobs",
        "4",
    ];
    let with = |extra: &[&'static str]| -> Vec<&'static str> {
        base.iter().copied().chain(extra.iter().copied()).collect()
    };

    step(
        &hangar,
        dir.path(),
        "1. Validate the signed images (passes)",
        &with(&["--file", "example_image_list.txt"]),
        0,
    )?;
    let out = step(
        &hangar,
        dir.path(),
        "2. Validate the mirrored copy in project fixtures-mirror (fails: its signatures name the original repository)",
        &with(&[
            "--file",
            "mirrored_image_list.txt",
            "--project",
            "fixtures-mirror",
        ]),
        1,
    )?;
    let want = "Signature for identity 127.0.0.1:5000/fixtures/multi:v1 is not accepted";
    if !out.contains(want) {
        return Err(format!("step 2 did not report {want:?}"));
    }
    let failed = std::fs::read_to_string(dir.path().join("sign-failed.txt"))
        .map_err(|e| format!("sign-failed.txt: {e}"))?;
    println!("sign-failed.txt:\n{failed}");
    step(
        &hangar,
        dir.path(),
        "3. Validate the mirrored copy with --exact-repository naming where it was signed (passes)",
        &with(&[
            "--file",
            "mirrored_image_list.txt",
            "--project",
            "fixtures-mirror",
            "--exact-repository",
            "127.0.0.1:5000/fixtures/multi",
        ]),
        0,
    )?;
    drop(registry);
    println!("\nDemo finished: registry stopped, temporary files removed.");
    Ok(())
}
