//! Registry credentials from the files containers tools and docker write: `auth.json`
//! (`REGISTRY_AUTH_FILE`, `$XDG_RUNTIME_DIR/containers`, `~/.config/containers`), docker's
//! `config.json` and the legacy `~/.dockercfg`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::Deserialize;

/// A username and password (or token) for one registry. `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name.
    pub username: String,
    password: String,
    identity_token: Option<String>,
}

impl Credentials {
    /// Wraps a user name and a secret.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Credentials {
        Credentials {
            username: username.into(),
            password: password.into(),
            identity_token: None,
        }
    }

    /// An OAuth2 refresh token (`identitytoken`), exchanged at the token service with a
    /// `refresh_token` grant instead of Basic credentials.
    pub fn identity_token(username: impl Into<String>, token: impl Into<String>) -> Credentials {
        Credentials {
            username: username.into(),
            password: String::new(),
            identity_token: Some(token.into()),
        }
    }

    pub(crate) fn refresh_token(&self) -> Option<&str> {
        self.identity_token.as_deref()
    }

    /// The secret. Callers must not log it.
    pub fn password(&self) -> &str {
        &self.password
    }

    pub(crate) fn basic_header(&self) -> String {
        let raw = format!("{}:{}", self.username, self.password);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field(
                "identity_token",
                &self.identity_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// A credentials file that exists but cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("credentials file {path}: {message}")]
#[non_exhaustive]
pub struct CredentialError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong with it (never its secrets).
    pub message: String,
}

#[derive(Deserialize, Default)]
struct AuthFile {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    #[serde(default, rename = "credHelpers")]
    cred_helpers: BTreeMap<String, String>,
    #[serde(default, rename = "credsStore")]
    creds_store: String,
}

#[derive(Deserialize, Default, Clone)]
struct AuthEntry {
    #[serde(default)]
    auth: String,
    #[serde(default)]
    identitytoken: String,
}

struct LoadedFile {
    path: PathBuf,
    legacy: bool,
    auths: BTreeMap<String, AuthEntry>,
    cred_helpers: BTreeMap<String, String>,
    creds_store: String,
}

/// How long a `docker-credential-*` helper may take.
#[cfg(feature = "credential-helpers")]
const HELPER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

type Cache = std::sync::Mutex<std::collections::HashMap<(String, String), Option<Credentials>>>;

/// The credential files found at construction, searched in order; the first hit wins.
/// Results are cached, so a credential helper runs once per repository.
#[derive(Default)]
pub struct CredentialStore {
    files: Vec<LoadedFile>,
    cache: Cache,
}

impl fmt::Debug for CredentialStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let paths: Vec<&Path> = self.files.iter().map(|f| f.path.as_path()).collect();
        f.debug_struct("CredentialStore")
            .field("files", &paths)
            .finish()
    }
}

impl CredentialStore {
    /// No credentials: every registry is accessed anonymously.
    pub fn empty() -> CredentialStore {
        CredentialStore::default()
    }

    /// The standard search order, from the environment (`REGISTRY_AUTH_FILE`,
    /// `XDG_RUNTIME_DIR`, `XDG_CONFIG_HOME`, `DOCKER_CONFIG`, `HOME`). Missing files are
    /// skipped; a file that exists but does not parse is an error.
    pub fn from_env() -> Result<CredentialStore, CredentialError> {
        let env = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let home = env("HOME");
        let mut paths: Vec<(PathBuf, bool)> = Vec::new();
        if let Some(p) = env("REGISTRY_AUTH_FILE") {
            paths.push((p, false));
        }
        if let Some(d) = env("XDG_RUNTIME_DIR") {
            paths.push((d.join("containers/auth.json"), false));
        }
        if let Some(d) = env("XDG_CONFIG_HOME").or_else(|| home.as_ref().map(|h| h.join(".config")))
        {
            paths.push((d.join("containers/auth.json"), false));
        }
        if let Some(d) = env("DOCKER_CONFIG").or_else(|| home.as_ref().map(|h| h.join(".docker"))) {
            paths.push((d.join("config.json"), false));
        }
        if let Some(h) = &home {
            paths.push((h.join(".dockercfg"), true));
        }
        CredentialStore::from_files(paths.iter().map(|(p, l)| (p.as_path(), *l)))
    }

    /// Loads the given files in order (`legacy` = the `~/.dockercfg` layout).
    pub fn from_files<'a>(
        files: impl IntoIterator<Item = (&'a Path, bool)>,
    ) -> Result<CredentialStore, CredentialError> {
        let mut out = Vec::new();
        for (path, legacy) in files {
            let bytes = match std::fs::read(path) {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => {
                    return Err(CredentialError {
                        path: path.to_owned(),
                        message: e.to_string(),
                    });
                }
            };
            let parse_err = |e: serde_json::Error| CredentialError {
                path: path.to_owned(),
                // serde_json's messages name the position and expected type, not the content.
                message: format!("invalid JSON: {e}"),
            };
            let file = if legacy {
                AuthFile {
                    auths: serde_json::from_slice(&bytes).map_err(parse_err)?,
                    ..AuthFile::default()
                }
            } else {
                serde_json::from_slice::<AuthFile>(&bytes).map_err(parse_err)?
            };
            out.push(LoadedFile {
                path: path.to_owned(),
                legacy,
                auths: file.auths,
                cred_helpers: file.cred_helpers,
                creds_store: file.creds_store,
            });
        }
        Ok(CredentialStore {
            files: out,
            cache: Cache::default(),
        })
    }

    /// Credentials for `repository` (`path` inside `registry`). Per file: its
    /// `credHelpers` entry for the registry, then `auths` by the repository, its parents,
    /// the registry and normalized keys such as `https://index.docker.io/v1/`, then its
    /// `credsStore`.
    pub fn lookup(
        &self,
        registry: &str,
        repository: &str,
    ) -> Result<Option<Credentials>, CredentialError> {
        let key = (registry.to_owned(), repository.to_owned());
        if let Some(hit) = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&key)
        {
            return Ok(hit.clone());
        }
        let found = self.search(registry, repository)?;
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(key, found.clone());
        Ok(found)
    }

    fn search(
        &self,
        registry: &str,
        repository: &str,
    ) -> Result<Option<Credentials>, CredentialError> {
        let mut keys = vec![format!("{registry}/{repository}")];
        let mut path = repository;
        while let Some((parent, _)) = path.rsplit_once('/') {
            keys.push(format!("{registry}/{parent}"));
            path = parent;
        }
        keys.push(registry.to_owned());
        for file in &self.files {
            let err = |message: String| CredentialError {
                path: file.path.clone(),
                message,
            };
            if let Some(helper) = file.cred_helpers.get(registry) {
                if let Some(c) = run_helper(helper, registry).map_err(err)? {
                    return Ok(Some(c));
                }
                continue;
            }
            let exact = keys.iter().find_map(|k| file.auths.get(k));
            let normalized = || {
                file.auths
                    .iter()
                    .find(|(k, _)| normalize_key(k, file.legacy) == registry)
                    .map(|(_, v)| v)
            };
            if let Some(entry) = exact.or_else(normalized) {
                if !entry.identitytoken.is_empty() {
                    let user = decode_auth(&entry.auth)
                        .map(|c| c.username)
                        .unwrap_or_default();
                    return Ok(Some(Credentials::identity_token(
                        user,
                        entry.identitytoken.clone(),
                    )));
                }
                if !entry.auth.is_empty() {
                    return decode_auth(&entry.auth)
                        .map(Some)
                        .map_err(|m| err(format!("entry for {registry}: {m}")));
                }
            }
            if !file.creds_store.is_empty()
                && let Some(c) = run_helper(&file.creds_store, registry).map_err(err)?
            {
                return Ok(Some(c));
            }
        }
        Ok(None)
    }
}

/// Without feature `credential-helpers` no program is ever run: a file that names a helper
/// for the registry is an error, never silently anonymous access.
#[cfg(not(feature = "credential-helpers"))]
fn run_helper(name: &str, _registry: &str) -> Result<Option<Credentials>, String> {
    Err(format!(
        "credential helper docker-credential-{name} is configured, but this build runs no helpers (feature credential-helpers)"
    ))
}

/// Runs `docker-credential-<name> get` with the server on stdin (the docker protocol),
/// within [`HELPER_TIMEOUT`]. "Not found" answers are `None`.
#[cfg(feature = "credential-helpers")]
fn run_helper(name: &str, registry: &str) -> Result<Option<Credentials>, String> {
    use std::io::{Read as _, Write as _};
    use std::process::{Command, Stdio};
    let program = format!("docker-credential-{name}");
    let server = if registry == "docker.io" {
        "https://index.docker.io/v1/"
    } else {
        registry
    };
    let mut child = Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("running {program}: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(server.as_bytes());
    }
    let start = std::time::Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if start.elapsed() > HELPER_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{program} did not answer within {} s",
                    HELPER_TIMEOUT.as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(std::time::Duration::from_millis(10)),
            Err(e) => return Err(format!("waiting for {program}: {e}")),
        }
    };
    let mut out = String::new();
    if let Some(mut o) = child.stdout.take() {
        let _ = o.read_to_string(&mut out);
    }
    if !status.success() {
        if out.contains("credentials not found") {
            return Ok(None);
        }
        // The helper's output may hold secrets: report only its status.
        return Err(format!("{program} get failed: {status}"));
    }
    #[derive(Deserialize)]
    struct HelperAnswer {
        #[serde(rename = "Username", default)]
        username: String,
        #[serde(rename = "Secret", default)]
        secret: String,
    }
    let a: HelperAnswer = serde_json::from_str(&out)
        .map_err(|_| format!("{program} get: output is not the expected JSON"))?;
    if a.username == "<token>" {
        return Ok(Some(Credentials::identity_token(String::new(), a.secret)));
    }
    Ok(Some(Credentials::new(a.username, a.secret)))
}

fn normalize_key(key: &str, legacy: bool) -> String {
    let stripped = key
        .trim_start_matches("http://")
        .trim_start_matches("https://");
    let host = if legacy || stripped.len() != key.len() {
        stripped.split('/').next().unwrap_or(stripped)
    } else {
        stripped
    };
    match host {
        "index.docker.io" | "registry-1.docker.io" => "docker.io".to_owned(),
        h => h.to_owned(),
    }
}

fn decode_auth(auth: &str) -> Result<Credentials, String> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(auth.trim())
        .map_err(|_| "\"auth\" is not base64".to_owned())?;
    let text = String::from_utf8(raw).map_err(|_| "\"auth\" is not UTF-8".to_owned())?;
    let (user, pass) = text
        .split_once(':')
        .ok_or_else(|| "\"auth\" is not user:password".to_owned())?;
    Ok(Credentials::new(user, pass))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[test]
    fn lookup_order_and_keys() {
        let dir = std::env::temp_dir().join(format!("hangar-cred-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("tmp");
        let a = dir.join("auth.json");
        let d = dir.join("config.json");
        let legacy = dir.join(".dockercfg");
        std::fs::write(
            &a,
            format!(
                r#"{{"auths":{{"reg.io/team/app":{{"auth":"{}"}},"reg.io":{{"auth":"{}"}}}}}}"#,
                b64("repo:1"),
                b64("reg:2")
            ),
        )
        .expect("write");
        std::fs::write(
            &d,
            format!(
                r#"{{"auths":{{"https://index.docker.io/v1/":{{"auth":"{}"}},"other.io":{{}}}}}}"#,
                b64("hub:3")
            ),
        )
        .expect("write");
        std::fs::write(
            &legacy,
            format!(
                r#"{{"https://old.io/v1/":{{"auth":"{}","email":"x"}}}}"#,
                b64("old:4:5")
            ),
        )
        .expect("write");
        let store = CredentialStore::from_files([
            (a.as_path(), false),
            (d.as_path(), false),
            (legacy.as_path(), true),
        ])
        .expect("load");
        let user = |reg: &str, repo: &str| {
            store
                .lookup(reg, repo)
                .expect("lookup")
                .map(|c| format!("{}:{}", c.username, c.password()))
        };
        assert_eq!(user("reg.io", "team/app/sub").as_deref(), Some("repo:1"));
        assert_eq!(user("reg.io", "team/other").as_deref(), Some("reg:2"));
        assert_eq!(user("docker.io", "library/nginx").as_deref(), Some("hub:3"));
        assert_eq!(user("old.io", "x").as_deref(), Some("old:4:5"));
        assert_eq!(user("other.io", "x"), None);
        assert_eq!(user("none.io", "x"), None);
        let c = store.lookup("reg.io", "x").expect("lookup").expect("found");
        assert!(!format!("{c:?}").contains("2"), "{c:?}");

        std::fs::write(&a, "{not json").expect("write");
        let err = CredentialStore::from_files([(a.as_path(), false)]).expect_err("invalid");
        assert!(err.to_string().contains("auth.json: invalid JSON"), "{err}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
