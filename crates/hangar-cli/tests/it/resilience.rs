//! Time budgets and Ctrl-C: nothing hangs, nothing is lost.

use std::time::{Duration, Instant};

use hangar_testkit::proxy::{Action, Proxy};
use hangar_testkit::{Registry, TempDir, free_port};

use crate::{lab_pub, spawn_in, wait_run};

fn slow_registry(delay: Duration) -> (Registry, Proxy) {
    let addr = format!("127.0.0.1:{}", free_port().expect("port"));
    let registry = Registry::start_fixture(&addr).unwrap_or_else(|e| panic!("{e}"));
    let proxy = Proxy::start(registry.addr(), move |_| Action::DelayThenForward(delay))
        .unwrap_or_else(|e| panic!("{e}"));
    (registry, proxy)
}

fn args<'a>(key: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec![
        "sign",
        "validate",
        "-f",
        "list.txt",
        "-p",
        key,
        "--tls-verify=false",
        "-o",
        "failed.txt",
    ];
    a.extend_from_slice(extra);
    a
}

#[test]
fn per_line_timeout_fails_the_line_quickly() {
    let (_registry, proxy) = slow_registry(Duration::from_millis(800));
    let dir = TempDir::new("timeout").expect("tmp");
    let list = format!("{}/fixtures/single:v1\n", proxy.addr());
    std::fs::write(dir.path().join("list.txt"), &list).expect("write");
    let key = lab_pub();
    let a = args(key.to_str().expect("utf-8"), &["--timeout", "1s"]);
    let start = Instant::now();
    let run = wait_run(dir.path(), spawn_in(dir.path(), &a, &[]), &a);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stderr.contains("timed out"), "{}", run.stderr);
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "took {:?}",
        start.elapsed()
    );
    assert_eq!(run.failed.as_deref(), Some(list.as_str()));
}

#[test]
fn ctrl_c_records_every_unfinished_line_as_failed() {
    let (_registry, proxy) = slow_registry(Duration::from_secs(2));
    let dir = TempDir::new("sigint").expect("tmp");
    let list: String = (0..6)
        .map(|_| format!("{}/fixtures/single:v1\n", proxy.addr()))
        .collect();
    std::fs::write(dir.path().join("list.txt"), &list).expect("write");
    let key = lab_pub();
    let a = args(
        key.to_str().expect("utf-8"),
        &[
            "-j",
            "2",
            "--exact-repository",
            "127.0.0.1:5000/fixtures/single",
            "--report",
            "report.json",
        ],
    );
    let child = spawn_in(dir.path(), &a, &[]);
    std::thread::sleep(Duration::from_millis(1500));
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let start = Instant::now();
    let run = wait_run(dir.path(), child, &a);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "exit took {:?}",
        start.elapsed()
    );
    // 128 + SIGINT, as a shell reports death by Ctrl-C.
    assert_eq!(run.code, 130, "{}", run.all());
    assert!(
        run.stderr.contains("Interrupted by SIGINT"),
        "{}",
        run.stderr
    );
    // Each line needs several 2-second requests: none can have passed.
    assert_eq!(run.failed.as_deref(), Some(list.as_str()), "{}", run.all());
    // The report is complete too: every line once, as an error, in the documented shape.
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("report.json")).expect("report"),
    )
    .expect("JSON");
    crate::assert_report_schema(&report);
    assert_eq!(report["summary"]["error"], 6, "{report}");
    assert!(
        report["lines"].as_array().is_some_and(|l| l.len() == 6
            && l.iter()
                .all(|l| l["reason"] == "interrupted before it finished")),
        "{report}"
    );
}

#[test]
fn http_proxy_is_used_for_other_hosts_and_never_for_loopback() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let addr = format!("127.0.0.1:{}", free_port().expect("port"));
    let registry = Registry::start_fixture(&addr).unwrap_or_else(|e| panic!("{e}"));
    let through = Arc::new(AtomicUsize::new(0));
    let t = Arc::clone(&through);
    let proxy = Proxy::start(registry.addr(), move |_| {
        t.fetch_add(1, Ordering::SeqCst);
        Action::Forward
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let dir = TempDir::new("httpproxy").expect("tmp");
    let key = lab_pub();
    let a = args(
        key.to_str().expect("utf-8"),
        &["--exact-repository", "127.0.0.1:5000/fixtures/single"],
    );
    let proxy_url = format!("http://{}", proxy.addr());
    let envs = [
        ("HTTP_PROXY", proxy_url.as_str()),
        ("http_proxy", proxy_url.as_str()),
        // HTTPS goes to the same proxy (which cannot CONNECT), so the plain-HTTP fallback
        // of --tls-verify=false is what reaches the registry; no name is ever resolved.
        ("HTTPS_PROXY", proxy_url.as_str()),
        ("https_proxy", proxy_url.as_str()),
        ("NO_PROXY", ""),
        ("no_proxy", ""),
    ];
    // A registry by a name only the proxy knows how to reach: proxied.
    let port = addr.rsplit(':').next().expect("port");
    std::fs::write(
        dir.path().join("list.txt"),
        format!("registry.invalid:{port}/fixtures/single:v1\n"),
    )
    .expect("write");
    let run = wait_run(dir.path(), spawn_in(dir.path(), &a, &envs), &a);
    assert_eq!(run.code, 0, "{}", run.all());
    let proxied = through.load(Ordering::SeqCst);
    assert!(proxied >= 4, "requests went through HTTP_PROXY: {proxied}");
    // The same registry by its loopback address: never proxied, even with NO_PROXY empty.
    std::fs::write(
        dir.path().join("list.txt"),
        format!("{addr}/fixtures/single:v1\n"),
    )
    .expect("write");
    let run = wait_run(dir.path(), spawn_in(dir.path(), &a, &envs), &a);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(
        through.load(Ordering::SeqCst),
        proxied,
        "a loopback registry was reached through the proxy"
    );
}
