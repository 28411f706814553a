//! A small HTTP/1.1 server on loopback that answers each request as a test's handler says:
//! forward it to a real registry, answer it itself (tokens, 401s, 429s), or delay it. It is
//! how tests bring auth services and hostile behaviour in front of a real registry.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::{HttpResponse, http_request};

/// One request as the proxy received it.
#[derive(Debug, Clone)]
pub struct Request {
    /// `GET`, `PUT`, ...
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Header names (lower-cased) and values.
    pub headers: Vec<(String, String)>,
    /// The proxy's own `host:port`.
    pub proxy_addr: String,
    /// The request body.
    pub body: Vec<u8>,
}

impl Request {
    /// The first value of header `name` (lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Edits a forwarded response before it is sent.
pub type Edit = Arc<dyn Fn(&mut HttpResponse) + Send + Sync>;

/// What to do with a request.
#[derive(Clone)]
pub enum Action {
    /// Send it to the upstream registry (without its `Authorization` header) and relay the
    /// answer.
    Forward,
    /// Wait, then forward.
    DelayThenForward(Duration),
    /// Answer with this status, headers and body.
    Respond {
        /// Status code.
        status: u16,
        /// Extra headers.
        headers: Vec<(String, String)>,
        /// Body.
        body: Vec<u8>,
    },
    /// Forward, then let the closure change status, headers or body.
    ForwardEdited(Edit),
    /// Forward, announce the whole body, send only its first `n` bytes and close: a
    /// connection reset mid-body.
    Truncate(usize),
}

impl Action {
    /// The 401 of a Bearer-protected registry: a challenge whose realm is this proxy's
    /// `/token`, for `service`, plus `extra` parameters (`,scope="..."`).
    pub fn bearer_challenge(req: &Request, service: &str, extra: &str) -> Action {
        Action::Respond {
            status: 401,
            headers: vec![(
                "WWW-Authenticate".into(),
                format!(
                    r#"Bearer realm="http://{}/token",service="{service}"{extra}"#,
                    req.proxy_addr
                ),
            )],
            body: br#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#
                .to_vec(),
        }
    }

    /// A response with a JSON body.
    pub fn json(status: u16, body: &str) -> Action {
        Action::Respond {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.as_bytes().to_vec(),
        }
    }
}

type Handler = dyn Fn(&Request) -> Action + Send + Sync;

/// A running proxy; stopped when dropped.
pub struct Proxy {
    addr: String,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl Proxy {
    /// Starts a proxy on a free loopback port in front of `upstream` (`host:port`).
    pub fn start(
        upstream: &str,
        handler: impl Fn(&Request) -> Action + Send + Sync + 'static,
    ) -> Result<Proxy, String> {
        let listener =
            TcpListener::bind("127.0.0.1:0").map_err(|e| format!("binding proxy: {e}"))?;
        let addr = listener
            .local_addr()
            .map_err(|e| e.to_string())?
            .to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let handler: Arc<Handler> = Arc::new(handler);
        let upstream = upstream.to_owned();
        let (stop2, addr2) = (Arc::clone(&stop), addr.clone());
        let accept = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (h, up, me, st) = (
                    Arc::clone(&handler),
                    upstream.clone(),
                    addr2.clone(),
                    Arc::clone(&stop2),
                );
                std::thread::spawn(move || serve(conn, &*h, &up, &me, &st));
            }
        });
        Ok(Proxy {
            addr,
            stop,
            accept: Some(accept),
        })
    }

    /// `host:port` of the proxy.
    pub fn addr(&self) -> &str {
        &self.addr
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.addr);
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

/// Serves one keep-alive connection until the client closes it (or 60 s of silence).
fn serve(conn: TcpStream, handler: &Handler, upstream: &str, me: &str, stop: &AtomicBool) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(60)));
    // Answers go out in one write with Nagle off: otherwise delayed ACKs add ~40 ms.
    let _ = conn.set_nodelay(true);
    let Ok(mut writer) = conn.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(conn);
    while !stop.load(Ordering::SeqCst) {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let (Some(method), Some(path)) = (parts.next(), parts.next()) else {
            return;
        };
        // As an HTTP forward proxy (HTTP_PROXY) it receives absolute URIs: keep the path.
        let path = match path.strip_prefix("http://") {
            Some(rest) => rest.find('/').map_or("/", |i| &rest[i..]),
            None => path,
        };
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
            }
        }
        let len: usize = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; len.min(64 << 20)];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let req = Request {
            method: method.to_owned(),
            path: path.to_owned(),
            headers,
            proxy_addr: me.to_owned(),
            body: body.clone(),
        };
        let mut cut = None;
        let r = match handler(&req) {
            Action::Respond {
                status,
                headers,
                body,
            } => HttpResponse {
                status,
                headers,
                body,
            },
            Action::DelayThenForward(d) => {
                std::thread::sleep(d);
                forward(&req, &body, upstream)
            }
            Action::Forward => forward(&req, &body, upstream),
            Action::ForwardEdited(edit) => {
                let mut r = forward(&req, &body, upstream);
                edit(&mut r);
                r
            }
            Action::Truncate(n) => {
                cut = Some(n);
                forward(&req, &body, upstream)
            }
        };
        let mut head = format!(
            "HTTP/1.1 {} X\r\nContent-Length: {}\r\n",
            r.status,
            r.body.len()
        );
        for (k, v) in &r.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        let body = &r.body[..cut.unwrap_or(r.body.len()).min(r.body.len())];
        let mut out = head.into_bytes();
        out.extend_from_slice(body);
        if writer.write_all(&out).is_err() || cut.is_some() {
            let _ = writer.shutdown(std::net::Shutdown::Both);
            return;
        }
    }
}

fn forward(req: &Request, body: &[u8], upstream: &str) -> HttpResponse {
    let skip = [
        "host",
        "authorization",
        "connection",
        "content-length",
        "transfer-encoding",
    ];
    let headers: Vec<(&str, &str)> = req
        .headers
        .iter()
        .filter(|(k, _)| !skip.contains(&k.as_str()))
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    match http_request(upstream, &req.method, &req.path, &headers, body) {
        Some(r) => {
            let keep: Vec<(String, String)> = r
                .headers
                .into_iter()
                .filter(|(k, _)| {
                    ![
                        "content-length",
                        "connection",
                        "transfer-encoding",
                        "www-authenticate",
                    ]
                    .contains(&k.as_str())
                })
                .collect();
            HttpResponse {
                status: r.status,
                headers: keep,
                body: r.body,
            }
        }
        None => HttpResponse {
            status: 502,
            headers: Vec::new(),
            body: b"upstream unreachable".to_vec(),
        },
    }
}
