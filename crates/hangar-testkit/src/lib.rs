//! Test harness shared by the integration tests, `cargo xtask demo` and benchmarks: real
//! CNCF distribution registries (`docker-registry`) on loopback, each with its own config
//! and storage in a temporary folder, stopped by pid when dropped.
//!
//! Never published; only loopback addresses are ever used.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub mod proxy;
pub mod seed;
pub mod sigstore;
pub mod tls;
pub mod token;

/// The registry binary from Debian's `docker-registry` package.
pub const REGISTRY_BIN: &str = "/usr/bin/docker-registry";
/// The address the recorded signatures' identities name.
pub const FIXTURE_ADDR: &str = "127.0.0.1:5000";

/// The recorded skopeo-signed data (registry storage, verdicts, keys).
pub fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/skopeo-signed")
}

/// Fails with the install command when `path` is missing: tests never skip.
pub fn require_tool(path: &str, package: &str) -> Result<(), String> {
    if Path::new(path).exists() {
        Ok(())
    } else {
        Err(format!(
            "{path} is missing: install it with `apt-get install -y {package}` (or run `cargo xtask ci`, which installs what tests need)"
        ))
    }
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("binding 127.0.0.1:0: {e}"))?;
    l.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

/// User + system CPU seconds of this process, from /proc/self/stat (clock ticks of
/// 1/100 s), for the micro-benchmarks; 0 where it cannot be read.
pub fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let after = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .unwrap_or_default();
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A fresh temporary folder, removed by [`TempDir`]'s drop.
pub struct TempDir(PathBuf);

impl TempDir {
    /// Creates `$TMPDIR/hangar-<tag>-<pid>-<n>`.
    pub fn new(tag: &str) -> Result<TempDir, String> {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("hangar-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).map_err(|e| format!("creating {}: {e}", p.display()))?;
        Ok(TempDir(p))
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What a test registry is started with.
#[derive(Default)]
struct Options<'a> {
    /// A storage tarball to unpack.
    storage: Option<PathBuf>,
    /// htpasswd file content: Basic auth.
    htpasswd: Option<&'a str>,
    /// YAML appended under `http:` (indented two spaces).
    http_extra: Option<&'a str>,
    /// YAML appended at the top level.
    top_extra: Option<&'a str>,
}

impl Options<'_> {
    /// The recorded skopeo-signed storage.
    fn fixture() -> Self {
        Options {
            storage: Some(fixture_dir().join("registry.tar.gz")),
            ..Options::default()
        }
    }
}

/// A running `docker-registry serve` process.
pub struct Registry {
    child: Child,
    addr: String,
    dir: TempDir,
}

impl Registry {
    /// An empty registry on a free loopback port.
    pub fn start_empty() -> Result<Registry, String> {
        let addr = format!("127.0.0.1:{}", free_port()?);
        Registry::start(&addr, Options::default())
    }

    /// The recorded skopeo-signed data, served at `addr` (use [`FIXTURE_ADDR`] for the
    /// identities to match). The storage is unpacked fresh, so tests may write to it.
    pub fn start_fixture(addr: &str) -> Result<Registry, String> {
        Registry::start(addr, Options::fixture())
    }

    /// The recorded data on a free port with distribution's token authentication: tokens
    /// from `realm` for `service`, issued by `issuer`, signed by the key of `cert_bundle`.
    pub fn start_fixture_token_auth(
        realm: &str,
        service: &str,
        issuer: &str,
        cert_bundle: &Path,
    ) -> Result<Registry, String> {
        let addr = format!("127.0.0.1:{}", free_port()?);
        let auth = format!(
            "auth:\n  token:\n    realm: {realm}\n    service: {service}\n    issuer: {issuer}\n    rootcertbundle: {}\n",
            cert_bundle.display()
        );
        Registry::start(
            &addr,
            Options {
                top_extra: Some(&auth),
                ..Options::fixture()
            },
        )
    }

    /// The recorded data on a free port over HTTPS with `pki`'s server certificate; with
    /// `require_client_cert`, only clients presenting a certificate from `pki`'s CA get in.
    pub fn start_fixture_tls(
        pki: &tls::Pki,
        require_client_cert: bool,
    ) -> Result<Registry, String> {
        let addr = format!("127.0.0.1:{}", free_port()?);
        let mut yaml = format!(
            "  tls:\n    certificate: {}\n    key: {}\n",
            pki.server_cert.display(),
            pki.server_key.display()
        );
        if require_client_cert {
            yaml.push_str(&format!(
                "    clientcas:\n      - {}\n",
                pki.ca_cert.display()
            ));
        }
        Registry::start(
            &addr,
            Options {
                http_extra: Some(&yaml),
                ..Options::fixture()
            },
        )
    }

    /// The recorded data on a free port behind htpasswd Basic auth; `htpasswd` is the
    /// file's content (`user:bcrypt-hash` lines).
    pub fn start_fixture_htpasswd(htpasswd: &str) -> Result<Registry, String> {
        let addr = format!("127.0.0.1:{}", free_port()?);
        Registry::start(
            &addr,
            Options {
                htpasswd: Some(htpasswd),
                ..Options::fixture()
            },
        )
    }

    fn start(addr: &str, opts: Options<'_>) -> Result<Registry, String> {
        let Options {
            storage,
            htpasswd,
            http_extra,
            top_extra,
        } = opts;
        require_tool(REGISTRY_BIN, "docker-registry")?;
        let dir = TempDir::new("registry")?;
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).map_err(|e| e.to_string())?;
        if let Some(tar) = storage.as_deref() {
            let status = Command::new("tar")
                .arg("-xzf")
                .arg(tar)
                .arg("-C")
                .arg(&data)
                .status()
                .map_err(|e| format!("running tar: {e}"))?;
            if !status.success() {
                return Err(format!("tar -xzf {} failed: {status}", tar.display()));
            }
        }
        let config = dir.path().join("config.yml");
        let mut yaml = format!(
            "version: 0.1\nlog: {{level: warn}}\nstorage:\n  filesystem: {{rootdirectory: {}}}\n  delete: {{enabled: true}}\nhttp:\n  addr: {addr}\n",
            data.display()
        );
        if let Some(extra) = http_extra {
            yaml.push_str(extra);
        }
        if let Some(extra) = top_extra {
            yaml.push_str(extra);
        }
        if let Some(h) = htpasswd {
            let file = dir.path().join("htpasswd");
            std::fs::write(&file, h).map_err(|e| e.to_string())?;
            yaml.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: hangar-test\n    path: {}\n",
                file.display()
            ));
        }
        std::fs::write(&config, yaml).map_err(|e| e.to_string())?;
        let log =
            std::fs::File::create(dir.path().join("registry.log")).map_err(|e| e.to_string())?;
        let child = Command::new(REGISTRY_BIN)
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("starting {REGISTRY_BIN}: {e}"))?;
        let mut reg = Registry {
            child,
            addr: addr.to_owned(),
            dir,
        };
        reg.wait_ready()?;
        Ok(reg)
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(15) {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "docker-registry on {} exited ({status}): {}",
                    self.addr,
                    self.log()
                ));
            }
            // Any HTTP answer means it listens (a TLS registry answers plain HTTP with 400).
            if http_status(&self.addr, "/v2/").is_some() {
                // Something answers; make sure it is ours and not another process on a
                // taken port (ours would then be exiting with "address already in use").
                std::thread::sleep(Duration::from_millis(100));
                if let Ok(Some(status)) = self.child.try_wait() {
                    return Err(format!(
                        "docker-registry on {} exited ({status}): {}",
                        self.addr,
                        self.log()
                    ));
                }
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!(
            "docker-registry on {} not ready after 15 s: {}",
            self.addr,
            self.log()
        ))
    }

    /// `host:port`.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// The registry's own log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// The pid, for callers that report it.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The status code of a plain-HTTP GET on loopback, or `None` if it fails.
pub fn http_status(addr: &str, path: &str) -> Option<u16> {
    http_request(addr, "GET", path, &[], &[]).map(|r| r.status)
}

/// A response read by [`http_request`].
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// Header names (lower-cased) and values, in order.
    pub headers: Vec<(String, String)>,
    /// The whole body.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first value of header `name` (lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A plain-HTTP/1.0 request on loopback (2 s to connect, 10 s per read), for harness code
/// that must not depend on the client under test.
pub fn http_request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Option<HttpResponse> {
    let sock = addr.parse().ok()?;
    let mut s = TcpStream::connect_timeout(&sock, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let mut req = format!(
        "{method} {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    // One write with Nagle off, so a small request never waits for a delayed ACK.
    s.set_nodelay(true).ok()?;
    let mut out = req.into_bytes();
    out.extend_from_slice(body);
    s.write_all(&out).ok()?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).ok()?;
    let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Some(HttpResponse {
        status,
        headers,
        body: buf[head_end + 4..].to_vec(),
    })
}

/// Reads a TSV file with a header row into maps from column name to value.
pub fn read_tsv(path: &Path) -> Result<Vec<std::collections::BTreeMap<String, String>>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().ok_or("empty TSV")?.split('\t').collect();
    Ok(lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            header
                .iter()
                .map(|h| h.to_string())
                .zip(l.split('\t').map(str::to_owned))
                .collect()
        })
        .collect())
}
