//! The project's build system: `cargo xtask <ci|demo>`. Installs what a fresh Debian
//! machine lacks (with apt-get, only when missing), then runs cargo.

mod bench;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Duration;

use hangar_testkit::tls::OPENSSL_BIN;
use hangar_testkit::{REGISTRY_BIN, Registry, TempDir, seed};

pub(crate) type Result<T = ()> = std::result::Result<T, String>;

const USAGE: &str = "usage: cargo xtask <command>

commands:
  ci     install test prerequisites, then fmt --check, clippy -D warnings, test --workspace,
         docs with warnings denied, examples, cargo package of every library
  demo   start a throwaway registry with signed images and validate them with hangar
  bench  [--images N] [--platforms P] [--rss-images M] [--runs R] [--delay-ms D]
         validation speed vs a curl floor, requests per line, peak RSS, CPU per signature
  assets [--out DIR]  shell completions and man pages (default DIR: target/assets)
  fuzz   [--seconds N] [--target NAME]
         every cargo-fuzz target in fuzz/, N seconds in total (default 600), on nightly";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("demo") => demo(),
        Some("bench") => bench::bench(&args[1..]),
        Some("assets") => assets(&args[1..]),
        Some("fuzz") => fuzz(&args[1..]),
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

/// Cargo's target folder (`CARGO_TARGET_DIR` or `<workspace>/target`).
pub(crate) fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Runs a command in the workspace root; fails on a non-zero exit.
pub(crate) fn run(program: &str, args: &[&str]) -> Result {
    run_with(program, args, &[])
}

/// `cargo package --workspace` unpacks the sibling crates it just packaged into
/// `$CARGO_HOME/registry/src/-<hash>/` (a local overlay registry, named by a hash of the
/// target path) and reuses an unpacked copy of the same version as it is: stale sources from
/// an earlier run would be verified instead of today's. Only those overlay copies of our own
/// crates are removed; crates.io's folders are not touched.
fn forget_overlay_sources() {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    let Some(home) = cargo_home else { return };
    for kind in ["src", "cache"] {
        let Ok(registries) = std::fs::read_dir(home.join("registry").join(kind)) else {
            continue;
        };
        for registry in registries.flatten() {
            if !registry.file_name().to_string_lossy().starts_with('-') {
                continue;
            }
            let Ok(entries) = std::fs::read_dir(registry.path()) else {
                continue;
            };
            for e in entries.flatten() {
                if e.file_name().to_string_lossy().starts_with("hangar-") {
                    let p = e.path();
                    let _ = if p.is_dir() {
                        std::fs::remove_dir_all(&p)
                    } else {
                        std::fs::remove_file(&p)
                    };
                }
            }
        }
    }
}

/// Runs a command in the workspace root with extra environment variables; fails on a
/// non-zero exit.
fn run_with(program: &str, args: &[&str], envs: &[(&str, &str)]) -> Result {
    let shown: Vec<String> = envs.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    eprintln!(
        "$ {}{program} {}",
        shown.iter().map(|s| format!("{s} ")).collect::<String>(),
        args.join(" ")
    );
    let status = Command::new(program)
        .args(args)
        .envs(envs.iter().copied())
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
pub(crate) fn ensure_packages(needs: &[(&str, &str)]) -> Result {
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

const TEST_PACKAGES: &[(&str, &str)] = &[
    (REGISTRY_BIN, "docker-registry"),
    (OPENSSL_BIN, "openssl"),
    ("/usr/bin/setpriv", "util-linux"),
    ("/usr/bin/mkfifo", "coreutils"),
];

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
    // fuzz/ is a workspace of its own (cargo-fuzz wants nightly to run it): on the stable
    // toolchain it is at least formatted and linted, so an API change cannot leave it broken.
    let target = target_dir().to_string_lossy().into_owned();
    run(
        "cargo",
        &["fmt", "--manifest-path", "fuzz/Cargo.toml", "--", "--check"],
    )?;
    run(
        "cargo",
        &[
            "clippy",
            "--manifest-path",
            "fuzz/Cargo.toml",
            "--locked",
            "--target-dir",
            &target,
            "--",
            "-D",
            "warnings",
        ],
    )?;
    run("cargo", &["test", "--workspace", "--locked"])?;
    // The workspace build unifies hangar-signature's features (the binary turns on aws-lc);
    // test the library's default pure-Rust verification on its own too.
    run(
        "cargo",
        &["test", "--locked", "--package", "hangar-signature", "--lib"],
    )?;
    run(
        "cargo",
        &[
            "build",
            "--locked",
            "--package",
            "hangar-registry",
            "--no-default-features",
        ],
    )?;
    run(
        "cargo",
        &[
            "run",
            "--locked",
            "--quiet",
            "--package",
            "hangar-signature",
            "--example",
            "verify_in_memory",
        ],
    )?;
    // The blob-bundle example on a production-signed bundle of sigstore-conformance.
    let vectors = "crates/hangar-sigstore/tests/data/conformance";
    let root = format!("{vectors}/trusted-root-public-good.json");
    let artifact = format!("{vectors}/bundle-verify/a.txt");
    let bundle = format!("{vectors}/bundle-verify/happy-path-v0.3/bundle.sigstore.json");
    run(
        "cargo",
        &[
            "run",
            "--locked",
            "--quiet",
            "--package",
            "hangar-sigstore",
            "--example",
            "verify_blob_bundle",
            "--",
            &root,
            &artifact,
            &bundle,
            "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main",
            "https://token.actions.githubusercontent.com",
        ],
    )?;
    run_with(
        "cargo",
        &[
            "doc",
            "--workspace",
            "--no-deps",
            "--locked",
            "--exclude",
            "xtask",
        ],
        &[("RUSTDOCFLAGS", "-D warnings")],
    )?;
    // Each library packages and builds on its own (unpublished siblings come from the
    // workspace), in dependency order. Old tarballs of the same version would be reused
    // as they are, so they go first.
    let target = target_dir();
    // Registry-sourced builds are never rebuilt for changed sources, so verification gets a
    // target folder of its own, fresh every time.
    let verify_dir = target.join("package-verify");
    let _ = std::fs::remove_dir_all(target.join("package"));
    let _ = std::fs::remove_dir_all(&verify_dir);
    forget_overlay_sources();
    let verify_dir = verify_dir.to_string_lossy().into_owned();
    run(
        "cargo",
        &[
            "package",
            "--workspace",
            "--locked",
            "--allow-dirty",
            "--exclude",
            "hangar-testkit",
            "--exclude",
            "xtask",
            "--target-dir",
            &verify_dir,
        ],
    )?;
    assets(&[])?;
    msrv_declarations()?;
    eprintln!("xtask: ci passed");
    Ok(())
}

/// `cargo xtask assets`: completion scripts for every shell clap knows and one man page per
/// command, generated by the binary from its own argument definitions.
fn assets(args: &[String]) -> Result {
    let out = match args {
        [] => target_dir().join("assets"),
        [flag, dir] if flag == "--out" => PathBuf::from(dir),
        _ => return Err(format!("usage: cargo xtask assets [--out DIR]\n\n{USAGE}")),
    };
    let hangar = build_hangar()?;
    let completions = out.join("completions");
    std::fs::create_dir_all(&completions)
        .map_err(|e| format!("creating {}: {e}", completions.display()))?;
    for (shell, file) in [
        ("bash", "hangar.bash"),
        ("zsh", "_hangar"),
        ("fish", "hangar.fish"),
        ("elvish", "hangar.elv"),
        ("powershell", "_hangar.ps1"),
    ] {
        let output = Command::new(&hangar)
            .args(["completion", shell])
            .output()
            .map_err(|e| format!("running hangar completion {shell}: {e}"))?;
        if !output.status.success() || output.stdout.is_empty() {
            return Err(format!(
                "hangar completion {shell} failed: {}",
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        let path = completions.join(file);
        std::fs::write(&path, &output.stdout)
            .map_err(|e| format!("writing {}: {e}", path.display()))?;
    }
    // The bash script must at least parse.
    run(
        "bash",
        &["-n", &completions.join("hangar.bash").to_string_lossy()],
    )?;
    let man = out.join("man");
    run(
        &hangar.to_string_lossy(),
        &["man", "--dir", &man.to_string_lossy()],
    )?;
    eprintln!(
        "xtask: completions in {}, man pages in {}",
        completions.display(),
        man.display()
    );
    Ok(())
}

/// The machine has one toolchain, so the declared MSRV cannot be built here; what can be
/// checked is that no dependency (dev and build ones included) declares a newer
/// `rust-version` than the workspace does.
fn msrv_declarations() -> Result {
    let out = Command::new("cargo")
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(root())
        .output()
        .map_err(|e| format!("running cargo metadata: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let meta: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| format!("cargo metadata: {e}"))?;
    // "1.88" and "1.88.0" are the same version: compare three numbers, missing ones 0.
    let version = |v: &str| -> [u64; 3] {
        let mut out = [0; 3];
        for (slot, part) in out.iter_mut().zip(v.split('.')) {
            *slot = part.parse().unwrap_or(0);
        }
        out
    };
    let packages = meta["packages"].as_array().cloned().unwrap_or_default();
    let ours = packages
        .iter()
        .find(|p| p["name"] == "hangar-cli")
        .and_then(|p| p["rust_version"].as_str())
        .ok_or("hangar-cli declares no rust-version")?
        .to_owned();
    let newer: Vec<String> = packages
        .iter()
        .filter_map(|p| {
            let rv = p["rust_version"].as_str()?;
            (version(rv) > version(&ours))
                .then(|| format!("{} {} needs {rv}", p["name"], p["version"]))
        })
        .collect();
    if newer.is_empty() {
        eprintln!("xtask: no dependency declares a rust-version newer than {ours}");
        Ok(())
    } else {
        Err(format!(
            "dependencies newer than our MSRV {ours}: {}",
            newer.join(", ")
        ))
    }
}

/// The fuzz targets, in the order `cargo xtask fuzz` runs them (fuzz/README.md).
const FUZZ_TARGETS: &[&str] = &[
    "reference",
    "imagelist",
    "payload",
    "manifest",
    "challenge",
    "policy",
    "public_key",
    "private_key",
    "bundle",
];

/// `cargo xtask fuzz`: runs every target (or one) with cargo-fuzz on the nightly toolchain,
/// the time budget split evenly; stops at the first crash, whose input libFuzzer leaves in
/// fuzz/artifacts/<target>/.
fn fuzz(args: &[String]) -> Result {
    let mut seconds: u64 = 600;
    let mut only: Option<String> = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match (a.as_str(), it.next()) {
            ("--seconds", Some(n)) => {
                seconds = n
                    .parse()
                    .map_err(|_| format!("--seconds wants a number, got {n:?}"))?;
            }
            ("--target", Some(t)) if FUZZ_TARGETS.contains(&t.as_str()) => only = Some(t.clone()),
            _ => {
                return Err(format!(
                    "usage: cargo xtask fuzz [--seconds N] [--target NAME]\ntargets: {}",
                    FUZZ_TARGETS.join(", ")
                ));
            }
        }
    }
    let nightly = Command::new("cargo")
        .args(["+nightly", "--version"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !nightly {
        return Err(
            "cargo-fuzz needs a nightly toolchain: rustup toolchain install nightly".into(),
        );
    }
    let has_fuzz = Command::new("cargo")
        .args(["fuzz", "--version"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !has_fuzz {
        run("cargo", &["install", "--locked", "cargo-fuzz"])?;
    }
    let targets: Vec<&str> = match &only {
        Some(t) => vec![t.as_str()],
        None => FUZZ_TARGETS.to_vec(),
    };
    let each = (seconds / targets.len() as u64).max(1);
    let fuzz_dir = root().join("fuzz");
    // The committed corpus (minimized, one folder per target) is unpacked on first use;
    // libFuzzer then adds to the folders.
    if !fuzz_dir.join("corpus").exists() {
        run("tar", &["-xzf", "fuzz/corpus.tar.gz", "-C", "fuzz"])?;
    }
    for t in &targets {
        let corpus = fuzz_dir.join("corpus").join(t);
        std::fs::create_dir_all(&corpus)
            .map_err(|e| format!("creating {}: {e}", corpus.display()))?;
        eprintln!("xtask: fuzzing {t} for {each} s");
        let status = Command::new("cargo")
            .args(["+nightly", "fuzz", "run", "--release", t])
            .arg(&corpus)
            .args([
                "--",
                &format!("-max_total_time={each}"),
                "-rss_limit_mb=4096",
                "-timeout=30",
                "-print_final_stats=1",
            ])
            .current_dir(&fuzz_dir)
            // One build folder beside the workspace's (fuzz/ is a workspace of its own).
            .env("CARGO_TARGET_DIR", target_dir().join("fuzz"))
            .status()
            .map_err(|e| format!("running cargo fuzz: {e}"))?;
        if !status.success() {
            return Err(format!(
                "fuzz target {t} failed ({status}); the input is in fuzz/artifacts/{t}/"
            ));
        }
    }
    eprintln!(
        "xtask: {} fuzz targets ran {each} s each without a crash",
        targets.len()
    );
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
    let target = target_dir();
    Ok(target.join("debug/hangar"))
}

/// One step of the demo: runs hangar, shows its output, checks the exit code.
fn step<S: AsRef<std::ffi::OsStr> + std::fmt::Display>(
    hangar: &Path,
    dir: &Path,
    title: &str,
    args: &[S],
    want: i32,
) -> Result<String> {
    let shown: Vec<String> = args
        .iter()
        .map(|a| a.to_string())
        .map(|a| if a.is_empty() { "\"\"".to_owned() } else { a })
        .collect();
    println!("\n=== {title}");
    println!("$ hangar {}", shown.join(" "));
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
            return Err(format!(
                "hangar {} did not finish in 120 s",
                shown.join(" ")
            ));
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
    let registry = Registry::start_empty()?;
    let addr = registry.addr().to_owned();
    println!(
        "Started a throwaway docker-registry (pid {}) on {addr}.",
        registry.pid()
    );
    let all = [
        ("linux", "amd64", None),
        ("linux", "arm64", None),
        ("linux", "arm", Some("v7")),
    ];
    seed::push_multiarch(&addr, "demo/app", "v1", &all, "demo")?;
    seed::push_multiarch(&addr, "demo/tool", "v2", &all[..2], "demo")?;
    println!(
        "Pushed demo/app:v1 (linux/amd64, linux/arm64, linux/arm/v7) and demo/tool:v2 (linux/amd64, linux/arm64)."
    );
    let dir = TempDir::new("demo")?;
    let d = dir.path();
    let write = |name: &str, text: &str| {
        std::fs::write(d.join(name), text).map_err(|e| format!("{name}: {e}"))
    };
    write("passphrase", "demo-passphrase\n")?;
    write(
        "example_image_list.txt",
        "# images to sign and validate\ndemo/app:v1\ndemo/tool:v2\n",
    )?;
    write("mirrored_image_list.txt", "demo/app:v1\n")?;
    println!("Working folder: {}", d.display());
    let reg: &str = &addr;
    let common = ["--registry", reg, "--tls-verify=false", "--jobs", "4"];
    let cmd = |head: &[&'static str], tail: &[&str]| -> Vec<String> {
        head.iter()
            .map(|s| s.to_string())
            .chain(common.iter().map(|s| s.to_string()))
            .chain(tail.iter().map(|s| s.to_string()))
            .collect()
    };
    let validate = |tail: &[&str]| {
        cmd(
            &["sign", "validate", "--sigstore-pubkey", "sigstore.pub"],
            tail,
        )
    };

    step(
        &hangar,
        d,
        "1. Generate a sigstore key pair",
        &[
            "generate-sigstore-key",
            "--prefix",
            "sigstore",
            "--passphrase-file",
            "passphrase",
        ],
        0,
    )?;
    let out = step(
        &hangar,
        d,
        "2. Validate before signing (fails: no signatures yet)",
        &validate(&["--file", "example_image_list.txt"]),
        1,
    )?;
    expect(&out, "A signature was required, but no signature exists")?;
    step(
        &hangar,
        d,
        "3. Sign every platform image of the list",
        &cmd(
            &[
                "sign",
                "--file",
                "example_image_list.txt",
                "--sigstore-key",
                "sigstore.key",
                "--sigstore-passphrase-file",
                "passphrase",
                "--arch",
                "",
            ],
            &[],
        ),
        0,
    )?;
    step(
        &hangar,
        d,
        "4. Validate the signed images (passes)",
        &validate(&["--file", "example_image_list.txt"]),
        0,
    )?;

    let copied = seed::copy_repository(&addr, "demo/app", "mirror/app")?;
    println!(
        "\nMirrored demo/app to mirror/app with its signatures (tags: {}).",
        copied.join(", ")
    );
    let out = step(
        &hangar,
        d,
        "5. Validate the mirrored copy (fails: its signatures name the original repository)",
        &validate(&["--file", "mirrored_image_list.txt", "--project", "mirror"]),
        1,
    )?;
    expect(&out, "is not accepted")?;
    let original = format!("{addr}/demo/app");
    step(
        &hangar,
        d,
        "6. Validate the mirrored copy with --exact-repository naming where it was signed (passes)",
        &validate(&[
            "--file",
            "mirrored_image_list.txt",
            "--project",
            "mirror",
            "--exact-repository",
            &original,
        ]),
        0,
    )?;
    keyless_act(&hangar, d, &addr, &cmd)?;
    drop(registry);
    println!("\nDemo finished: registry stopped, temporary files removed.");
    Ok(())
}

/// Builds a demo command line: the head, the shared flags, then the tail.
type DemoCommand<'a> = dyn Fn(&[&'static str], &[&str]) -> Vec<String> + 'a;

/// The keyless act: a throwaway local Sigstore (CAs, CT and Rekor log keys, its
/// trusted_root.json), images signed keylessly as cosign signs them, validated offline with
/// the right identity (passes) and the wrong one (fails).
fn keyless_act(hangar: &Path, d: &Path, addr: &str, cmd: &DemoCommand<'_>) -> Result {
    use hangar_testkit::sigstore::{EntrySpec, FakeSigstore, LeafSpec};
    let fake = FakeSigstore::new();
    std::fs::write(d.join("trusted_root.json"), fake.trusted_root_json())
        .map_err(|e| format!("trusted_root.json: {e}"))?;
    let index = seed::push_multiarch(
        addr,
        "demo/keyless",
        "v1",
        &[("linux", "amd64", None), ("linux", "arm64", None)],
        "keyless",
    )?;
    let now = hangar_testkit::sigstore::unix_now();
    let leaf = LeafSpec::email("release@demo.example", "https://issuer.demo.example", now);
    let entry = EntrySpec::at(now, 1);
    for digest in seed::index_digests(addr, "demo/keyless", &index)? {
        fake.sign_attachment(addr, "demo/keyless", &digest, &leaf, Some(&entry))?;
    }
    std::fs::write(d.join("keyless_image_list.txt"), "demo/keyless:v1\n")
        .map_err(|e| format!("keyless_image_list.txt: {e}"))?;
    println!(
        "\nStarted a throwaway local Sigstore (root and intermediate CA, CT and Rekor log keys) and wrote its trusted_root.json;\nsigned both platforms of demo/keyless:v1 keylessly, as cosign does: a certificate for release@demo.example with an SCT, and a Rekor SET."
    );
    let keyless = |identity: &str| {
        cmd(
            &["sign", "validate", "--file", "keyless_image_list.txt"],
            &[
                "--trusted-root",
                "trusted_root.json",
                "--certificate-identity",
                identity,
                "--certificate-oidc-issuer",
                "https://issuer.demo.example",
            ],
        )
    };
    step(
        hangar,
        d,
        "7. Validate the keyless signatures offline, from trusted_root.json (passes)",
        &keyless("release@demo.example"),
        0,
    )?;
    let out = step(
        hangar,
        d,
        "8. Validate them expecting another signer (fails: certificate identity)",
        &keyless("someone-else@demo.example"),
        1,
    )?;
    expect(&out, "certificate identity")
}

fn expect(output: &str, phrase: &str) -> Result {
    if output.contains(phrase) {
        Ok(())
    } else {
        Err(format!("expected the output to contain {phrase:?}"))
    }
}
