//! `cargo xtask bench`: `hangar sign validate` against a local registry, directly and
//! through a proxy adding 25 ms per request, next to the floor of the same GETs fetched by
//! `curl --parallel`; requests per line, tokens, peak RSS and CPU per signature check.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hangar_reference::Reference;
use hangar_registry::{Client, Config, Deadline, TlsVerify};
use hangar_testkit::proxy::{Action, Proxy};
use hangar_testkit::{REGISTRY_BIN, Registry, TempDir};

use crate::{Result, ensure_packages, run, target_dir};

const CURL: &str = "/usr/bin/curl";
const TIME: &str = "/usr/bin/time";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

struct Opts {
    images: usize,
    platforms: usize,
    rss_images: usize,
    runs: usize,
    delay_ms: u64,
    keyless_images: usize,
}

fn parse(args: &[String]) -> Result<Opts> {
    let mut o = Opts {
        images: 500,
        platforms: 2,
        rss_images: 5000,
        runs: 3,
        delay_ms: 25,
        keyless_images: 200,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut num = |name: &str| -> Result<usize> {
            it.next()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("{name} needs a number"))
        };
        match a.as_str() {
            "--images" => o.images = num("--images")?,
            "--platforms" => o.platforms = num("--platforms")?.clamp(1, 4),
            "--rss-images" => o.rss_images = num("--rss-images")?,
            "--runs" => o.runs = num("--runs")?.max(1),
            "--delay-ms" => o.delay_ms = num("--delay-ms")? as u64,
            "--keyless-images" => o.keyless_images = num("--keyless-images")?,
            other => return Err(format!("unknown bench flag {other}")),
        }
    }
    Ok(o)
}

/// One seeded image set: list lines and the GETs validation needs.
struct ImageSet {
    lines: Vec<String>,
    /// (path, Accept) of every GET a validation makes after the ping.
    gets: Vec<(String, &'static str)>,
}

const ARCHS: [&str; 4] = ["amd64", "arm64", "ppc64le", "s390x"];

/// Pushes `n` distinct images of `platforms` platforms with hangar's registry client, 8
/// threads at a time. Returns the image references (`host/bench-<set>/img-<i>:v1`).
fn seed(host: &str, set: &str, n: usize, platforms: usize) -> Result<Vec<String>> {
    let client = Client::new(Config {
        tls_verify: TlsVerify::Skip,
        ..Config::default()
    })
    .map_err(|e| e.to_string())?;
    let d = || Deadline::after(Duration::from_secs(120));
    let push_one = |i: usize| -> Result<String> {
        let name = format!("{host}/bench-{set}/img-{i}:v1");
        let image = Reference::parse_normalized(&name).map_err(|e| e.to_string())?;
        let repo = image.repository();
        let mut entries = Vec::new();
        for arch in ARCHS.iter().take(platforms) {
            let layer = format!("layer {set} {i} {arch}");
            let layer_d = client
                .push_blob(&repo, layer.as_bytes(), d())
                .map_err(|e| e.to_string())?;
            let config = format!(
                r#"{{"architecture":"{arch}","os":"linux","rootfs":{{"type":"layers","diff_ids":["{layer_d}"]}}}}"#
            );
            let config_d = client
                .push_blob(&repo, config.as_bytes(), d())
                .map_err(|e| e.to_string())?;
            let manifest = format!(
                r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config_d}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{layer_d}","size":{}}}]}}"#,
                config.len(),
                layer.len()
            );
            let md = hangar_registry::sha256(manifest.as_bytes());
            client
                .push_manifest(
                    &repo.with_digest(md.clone()),
                    manifest.as_bytes(),
                    OCI_MANIFEST,
                    d(),
                )
                .map_err(|e| e.to_string())?;
            entries.push(format!(
                r#"{{"mediaType":"{OCI_MANIFEST}","digest":"{md}","size":{},"platform":{{"architecture":"{arch}","os":"linux"}}}}"#,
                manifest.len()
            ));
        }
        let index = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{}]}}"#,
            entries.join(",")
        );
        client
            .push_manifest(&image, index.as_bytes(), OCI_INDEX, d())
            .map_err(|e| e.to_string())?;
        Ok(name)
    };
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = std::sync::Mutex::new(vec![String::new(); n]);
    let errors = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    if i >= n {
                        break;
                    }
                    match push_one(i) {
                        Ok(name) => {
                            results
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner)[i] = name
                        }
                        Err(e) => errors
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .push(e),
                    }
                }
            });
        }
    });
    if let Some(e) = errors.into_inner().unwrap_or_default().into_iter().next() {
        return Err(format!("seeding: {e}"));
    }
    Ok(results.into_inner().unwrap_or_default())
}

/// The GETs a validation of `lines` makes after the ping: each index, each platform's
/// `.sig` manifest, each signature blob (read once from the registry to list them).
fn gets_of(lines: &[String]) -> Result<Vec<(String, &'static str)>> {
    let client = Client::new(Config {
        tls_verify: TlsVerify::Skip,
        ..Config::default()
    })
    .map_err(|e| e.to_string())?;
    let d = || Deadline::after(Duration::from_secs(60));
    let mut gets = Vec::new();
    for line in lines {
        let image = Reference::parse_normalized(line).map_err(|e| e.to_string())?;
        let path = image.path().to_owned();
        gets.push((format!("/v2/{path}/manifests/v1"), OCI_INDEX));
        let index = client
            .get_manifest(&image, d())
            .map_err(|e| e.to_string())?;
        let v: serde_json::Value =
            serde_json::from_slice(&index.bytes).map_err(|e| e.to_string())?;
        for m in v["manifests"].as_array().into_iter().flatten() {
            let digest = m["digest"].as_str().unwrap_or_default();
            let tag = digest.replace(':', "-") + ".sig";
            gets.push((format!("/v2/{path}/manifests/{tag}"), OCI_MANIFEST));
            let sig = client
                .get_manifest(&image.with_tag(&tag).map_err(|e| e.to_string())?, d())
                .map_err(|e| e.to_string())?;
            let sv: serde_json::Value =
                serde_json::from_slice(&sig.bytes).map_err(|e| e.to_string())?;
            for l in sv["layers"].as_array().into_iter().flatten() {
                gets.push((
                    format!(
                        "/v2/{path}/blobs/{}",
                        l["digest"].as_str().unwrap_or_default()
                    ),
                    "*/*",
                ));
            }
        }
    }
    Ok(gets)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Runs `cmd` `runs` times; the median wall time, and stdout of the last run.
fn time_runs(runs: usize, mut cmd: impl FnMut() -> Command) -> Result<(Duration, String)> {
    let mut times = Vec::new();
    let mut last = String::new();
    for _ in 0..runs {
        let start = Instant::now();
        let out = cmd()
            .stdin(Stdio::null())
            .output()
            .map_err(|e| e.to_string())?;
        times.push(start.elapsed());
        if !out.status.success() {
            return Err(format!(
                "{:?} failed: {}\n{}",
                cmd(),
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        last = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
    }
    Ok((median(times), last))
}

/// A curl config fetching every GET, with the token validation would hold (warm). `next`
/// keeps each URL's headers its own (config options otherwise accumulate).
fn curl_config(dir: &Path, name: &str, host: &str, gets: &[(String, &str)]) -> Result<PathBuf> {
    let mut cfg = String::new();
    for (i, (path, accept)) in gets.iter().enumerate() {
        if i > 0 {
            cfg.push_str("next\n");
        }
        cfg.push_str(&format!(
            "url = \"http://{host}{path}\"\nheader = \"Accept: {accept}\"\nheader = \"Authorization: Bearer bench\"\noutput = \"/dev/null\"\n"
        ));
    }
    let p = dir.join(name);
    std::fs::write(&p, cfg).map_err(|e| e.to_string())?;
    Ok(p)
}

fn curl_cmd(cfg: &Path, jobs: usize) -> Command {
    let mut c = Command::new(CURL);
    c.args(["-s", "--fail", "--noproxy", "*"]);
    if jobs > 1 {
        c.args([
            "--parallel",
            "--parallel-immediate",
            "--parallel-max",
            &jobs.to_string(),
        ]);
    }
    c.arg("-K").arg(cfg);
    c
}

/// `hangar sign validate` of `list` (all platforms, plain HTTP) with `jobs` workers.
fn validate_args(list: &str, jobs: usize) -> Vec<String> {
    let fixed = [
        "sign",
        "validate",
        "-f",
        list,
        "-p",
        "sigstore.pub",
        "--tls-verify=false",
        "--arch",
        "",
        "-o",
        "failed.txt",
        "-j",
    ];
    fixed
        .iter()
        .map(|a| a.to_string())
        .chain([jobs.to_string()])
        .collect()
}

/// The keyless row: `o.keyless_images` images whose platforms are signed keylessly (one
/// fake-Sigstore certificate, an SCT and a Rekor SET per signature, as cosign signs a
/// release), validated at `--jobs 20` from a trusted root, next to as many key-signed images
/// of the local set.
fn keyless_row(o: &Opts, hangar: &Path, d: &Path, addr: &str, key_signed: &[String]) -> Result {
    use hangar_testkit::sigstore::{EntrySpec, FakeSigstore, LeafSpec};
    let n = o.keyless_images.min(key_signed.len());
    println!(
        "\nSeeding {n} images × {} platforms signed keylessly...",
        o.platforms
    );
    let names = seed(addr, "keyless", n, o.platforms)?;
    let fake = FakeSigstore::new();
    std::fs::write(d.join("trusted_root.json"), fake.trusted_root_json())
        .map_err(|e| e.to_string())?;
    let now = hangar_testkit::sigstore::unix_now();
    let leaf = LeafSpec::email("release@bench.example", "https://issuer.bench.example", now);
    let entry = EntrySpec::at(now, 1);
    for name in &names {
        let (repo, tag) = name
            .strip_prefix(&format!("{addr}/"))
            .and_then(|r| r.rsplit_once(':'))
            .ok_or("bad seeded name")?;
        for digest in hangar_testkit::seed::index_digests(addr, repo, tag)? {
            fake.sign_attachment(addr, repo, &digest, &leaf, Some(&entry))?;
        }
    }
    std::fs::write(d.join("keyless.txt"), names.join("\n") + "\n").map_err(|e| e.to_string())?;
    std::fs::write(d.join("keyed.txt"), key_signed[..n].join("\n") + "\n")
        .map_err(|e| e.to_string())?;
    let keyless = || {
        let mut c = Command::new(hangar);
        c.args(
            validate_args("keyless.txt", 20)
                .into_iter()
                .filter(|a| a != "-p" && a != "sigstore.pub"),
        );
        c.args([
            "--trusted-root",
            "trusted_root.json",
            "--certificate-identity",
            "release@bench.example",
            "--certificate-oidc-issuer",
            "https://issuer.bench.example",
        ]);
        c.current_dir(d);
        c
    };
    let keyed = || {
        let mut c = Command::new(hangar);
        c.args(validate_args("keyed.txt", 20));
        c.current_dir(d);
        c
    };
    let (tk, out) = time_runs(o.runs, keyless)?;
    let (tp, _) = time_runs(o.runs, keyed)?;
    let (reqs, _) = requests_in(&out).unwrap_or((0, 0));
    println!("| signatures | jobs | lines | seconds | lines/s | requests/line | keyless / key |");
    println!("|---|---|---|---|---|---|---|");
    println!(
        "| key (-p) | 20 | {n} | {:.2} | {:.0} | | |",
        tp.as_secs_f64(),
        n as f64 / tp.as_secs_f64()
    );
    println!(
        "| keyless (certificate, SCT, SET) | 20 | {n} | {:.2} | {:.0} | {:.2} | {:.2}× |",
        tk.as_secs_f64(),
        n as f64 / tk.as_secs_f64(),
        (reqs as f64 - 2.0) / n as f64,
        tk.as_secs_f64() / tp.as_secs_f64()
    );
    Ok(())
}

/// `registry requests` from hangar's summary line.
fn requests_in(summary: &str) -> Option<(u64, u64)> {
    let tail = summary.split("skipped; ").nth(1)?;
    let total = tail.split_whitespace().next()?.parse().ok()?;
    let tokens = tail
        .split('(')
        .nth(1)?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some((total, tokens))
}

pub(crate) fn bench(args: &[String]) -> Result {
    let o = parse(args)?;
    ensure_packages(&[
        (REGISTRY_BIN, "docker-registry"),
        (CURL, "curl"),
        (TIME, "time"),
    ])?;
    run(
        "cargo",
        &[
            "build",
            "--release",
            "--quiet",
            "--package",
            "hangar-cli",
            "--bin",
            "hangar",
        ],
    )?;
    let target = target_dir();
    let hangar = target.join("release/hangar");
    let dir = TempDir::new("bench")?;
    let d = dir.path();

    let registry = Registry::start_empty()?;
    let addr = registry.addr().to_owned();
    // A "remote" registry: the same one behind a proxy that adds a delay to every request
    // and wants Bearer tokens (one per repository), like a hosted registry.
    let delay = Duration::from_millis(o.delay_ms);
    let proxy = Proxy::start(&addr, move |req| {
        if req.path.starts_with("/token?") {
            return Action::json(200, r#"{"token":"bench","expires_in":3600}"#);
        }
        if req.header("authorization") == Some("Bearer bench") {
            return Action::DelayThenForward(delay);
        }
        Action::bearer_challenge(req, "bench", "")
    })?;
    let remote = proxy.addr().to_owned();

    println!(
        "Seeding {} images × {} platforms for the local runs and as many for the proxied runs...",
        o.images, o.platforms
    );
    let started = Instant::now();
    let local = seed(&addr, "local", o.images, o.platforms)?;
    let proxied = seed(&addr, "remote", o.images, o.platforms)?
        .into_iter()
        .map(|l| l.replacen(&addr, &remote, 1))
        .collect::<Vec<_>>();
    std::fs::write(d.join("pw"), "bench\n").map_err(|e| e.to_string())?;
    let status = Command::new(&hangar)
        .args(["generate-sigstore-key", "--passphrase-file", "pw"])
        .current_dir(d)
        .stdout(Stdio::null())
        .status()
        .map_err(|e| e.to_string())?;
    if !status.success() {
        return Err("generate-sigstore-key failed".into());
    }
    let sign = |lines: &[String], name: &str| -> Result {
        std::fs::write(d.join(name), lines.join("\n") + "\n").map_err(|e| e.to_string())?;
        let out = Command::new(&hangar)
            .args([
                "sign",
                "-f",
                name,
                "-k",
                "sigstore.key",
                "--sigstore-passphrase-file",
                "pw",
                "--tls-verify=false",
                "--arch",
                "",
                "-j",
                "16",
                "-o",
                "sign-failed.txt",
            ])
            .current_dir(d)
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "signing failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    };
    sign(&local, "local.txt")?;
    // Proxied images are signed through the proxy so their identities name it (no delay
    // needed for seeding: a second proxy without delay would do, but signing is not timed).
    sign(&proxied, "remote.txt")?;
    let local_gets = gets_of(&local)?;
    let remote_gets: Vec<(String, &str)> = gets_of(
        &proxied
            .iter()
            .map(|l| l.replacen(&remote, &addr, 1))
            .collect::<Vec<_>>(),
    )?;
    println!(
        "Seeded and signed in {:.0}s.\n",
        started.elapsed().as_secs_f64()
    );
    let remote_label = format!("+{} ms per request, Bearer auth", o.delay_ms);
    let sets = [
        (
            "local registry",
            &addr,
            ImageSet {
                lines: local,
                gets: local_gets,
            },
            "local.txt",
        ),
        (
            remote_label.as_str(),
            &remote,
            ImageSet {
                lines: proxied,
                gets: remote_gets,
            },
            "remote.txt",
        ),
    ];

    let validate = |list: &str, jobs: usize| {
        let mut c = Command::new(&hangar);
        c.args(validate_args(list, jobs));
        c.current_dir(d);
        c.env("NO_PROXY", "*");
        c
    };
    let n = o.images as f64;
    println!(
        "| registry | jobs | hangar s | hangar lines/s | curl floor s | floor lines/s | hangar / floor | requests/line | token requests |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for (label, host, set, list) in &sets {
        let cfg = curl_config(d, &format!("{list}.curl"), host, &set.gets)?;
        let mut jobs1 = None;
        for jobs in [1usize, 4, 20] {
            // Unproxied runs are fast; one run of --jobs 1 through the delay is enough.
            let runs = if *label != "local registry" && jobs == 1 {
                1
            } else {
                o.runs
            };
            let (t, out) = time_runs(runs, || validate(list, jobs))?;
            let (floor, _) = time_runs(runs, || curl_cmd(&cfg, jobs))?;
            let (reqs, tokens) = requests_in(&out).unwrap_or((0, 0));
            let pings = 2.0; // HTTPS probe + HTTP ping, once per run
            let per_line = (reqs as f64 - pings - tokens as f64) / n;
            println!(
                "| {label} | {jobs} | {:.2} | {:.0} | {:.2} | {:.0} | {:.2}× | {per_line:.2} | {tokens} |",
                t.as_secs_f64(),
                n / t.as_secs_f64(),
                floor.as_secs_f64(),
                n / floor.as_secs_f64(),
                t.as_secs_f64() / floor.as_secs_f64()
            );
            if jobs == 1 {
                jobs1 = Some(t);
            } else if jobs == 20
                && let Some(j1) = jobs1
            {
                println!(
                    "|   | speed-up --jobs 20 vs 1: {:.1}× | | | | | | | |",
                    j1.as_secs_f64() / t.as_secs_f64()
                );
            }
        }
    }
    println!(
        "\nExpected requests per line: 1 + P × (1 + S) = {} (P = {}, S = 1).",
        1 + o.platforms * 2,
        o.platforms
    );

    if o.keyless_images > 0 {
        keyless_row(&o, &hangar, d, &addr, &sets[0].2.lines)?;
    }

    // Peak RSS: the same validation with a list o.rss_images long.
    let rss = |list: &str| -> Result<u64> {
        let out = Command::new(TIME)
            .args(["-f", "%M"])
            .arg(&hangar)
            .args(validate_args(list, 20))
            .current_dir(d)
            .output()
            .map_err(|e| e.to_string())?;
        let err = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() {
            return Err(format!("validation for RSS failed: {err}"));
        }
        err.lines()
            .last()
            .and_then(|l| l.trim().parse().ok())
            .ok_or_else(|| format!("no RSS in {err:?}"))
    };
    let small = rss("local.txt")?;
    println!("\nPeak RSS, --jobs 20: {} lines: {small} KiB", o.images);
    if o.rss_images > o.images {
        println!(
            "Seeding {} more images for the memory run...",
            o.rss_images - o.images
        );
        let mut big = sets[0].2.lines.clone();
        big.extend(seed(&addr, "rss", o.rss_images - o.images, o.platforms)?);
        let extra: Vec<String> = big[o.images..].to_vec();
        sign(&extra, "rss-extra.txt")?;
        std::fs::write(d.join("big.txt"), big.join("\n") + "\n").map_err(|e| e.to_string())?;
        let large = rss("big.txt")?;
        println!(
            "Peak RSS, --jobs 20: {} lines: {large} KiB ({:.2}× the {}-line run)",
            o.rss_images,
            large as f64 / small as f64,
            o.images
        );
    }

    // The binary checks signatures with aws-lc (feature `aws-lc`); the library's default is
    // pure-Rust p256. Both are measured.
    for (label, features) in [
        ("aws-lc (hangar binary)", "aws-lc"),
        ("pure-Rust p256 (library default)", ""),
    ] {
        let mut args = vec![
            "build",
            "--release",
            "--quiet",
            "--package",
            "hangar-signature",
            "--example",
            "verify_bench",
        ];
        if !features.is_empty() {
            args.extend(["--features", features]);
        }
        run("cargo", &args)?;
        let out = Command::new(target.join("release/examples/verify_bench"))
            .arg("20000")
            .output()
            .map_err(|e| e.to_string())?;
        println!(
            "Signature check (base64 + ECDSA P-256 + payload parse), {label}: {}",
            String::from_utf8_lossy(&out.stdout).trim()
        );
        // A keyless check: SET, cached path and SCT, binding, identity, signature, payload.
        let mut args = vec![
            "build",
            "--release",
            "--quiet",
            "--package",
            "hangar-sigstore",
            "--example",
            "keyless_bench",
        ];
        if !features.is_empty() {
            args.extend(["--features", "hangar-signature/aws-lc"]);
        }
        run("cargo", &args)?;
        let out = Command::new(target.join("release/examples/keyless_bench"))
            .arg("5000")
            .output()
            .map_err(|e| e.to_string())?;
        println!(
            "Keyless check (SET + cached chain and SCT + binding + identity + signature + payload), {label}: {}",
            String::from_utf8_lossy(&out.stdout).trim()
        );
    }
    Ok(())
}
