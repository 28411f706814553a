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
}

impl Credentials {
    /// Wraps a user name and a secret.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Credentials {
        Credentials {
            username: username.into(),
            password: password.into(),
        }
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
}

#[derive(Deserialize, Default, Clone)]
struct AuthEntry {
    #[serde(default)]
    auth: String,
}

struct LoadedFile {
    path: PathBuf,
    legacy: bool,
    auths: BTreeMap<String, AuthEntry>,
}

/// The credential files found at construction, searched in order; the first hit wins.
#[derive(Default)]
pub struct CredentialStore {
    files: Vec<LoadedFile>,
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
            let auths = if legacy {
                serde_json::from_slice::<BTreeMap<String, AuthEntry>>(&bytes).map_err(parse_err)?
            } else {
                serde_json::from_slice::<AuthFile>(&bytes)
                    .map_err(parse_err)?
                    .auths
            };
            out.push(LoadedFile {
                path: path.to_owned(),
                legacy,
                auths,
            });
        }
        Ok(CredentialStore { files: out })
    }

    /// Credentials for `repository` (`path` inside `registry`), trying the repository, its
    /// parents, then the registry, then normalized keys such as `https://index.docker.io/v1/`.
    pub fn lookup(
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
            let exact = keys.iter().find_map(|k| file.auths.get(k));
            let normalized = || {
                file.auths
                    .iter()
                    .find(|(k, _)| normalize_key(k, file.legacy) == registry)
                    .map(|(_, v)| v)
            };
            if let Some(entry) = exact.or_else(normalized) {
                if entry.auth.is_empty() {
                    continue;
                }
                return decode_auth(&entry.auth)
                    .map(Some)
                    .map_err(|message| CredentialError {
                        path: file.path.clone(),
                        message: format!("entry for {registry}: {message}"),
                    });
            }
        }
        Ok(None)
    }
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
