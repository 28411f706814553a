//! The `insecure` and `blocked` settings of containers-registries.conf(5): which registries
//! are reached without TLS verification when `--tls-verify` is not given, and which must
//! not be contacted at all.
//!
//! Only what hangar uses is read: `[[registry]]` tables with `location` (or `prefix`),
//! `insecure` and `blocked`, and the v1 `[registries.insecure]` / `[registries.block]`
//! `registries = [...]` lists. Other keys and tables are ignored; a line that cannot be read
//! is an error naming the file and line.

use std::path::{Path, PathBuf};

/// A registries.conf file that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}:{line}: {message}")]
#[non_exhaustive]
pub struct ConfError {
    /// The file.
    pub path: String,
    /// The 1-based line.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// The files containers tools read: `$CONTAINERS_REGISTRIES_CONF`, else
/// `~/.config/containers/registries.conf` if it exists, else
/// `/etc/containers/registries.conf`; plus the `registries.conf.d/*.conf` drop-ins next to it.
pub fn default_files() -> Vec<PathBuf> {
    if let Some(p) = std::env::var_os("CONTAINERS_REGISTRIES_CONF").filter(|v| !v.is_empty()) {
        return vec![PathBuf::from(p)];
    }
    let user = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .map(|c| c.join("containers/registries.conf"));
    let main = user
        .filter(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("/etc/containers/registries.conf"));
    let mut files = vec![main.clone()];
    if let Some(dir) = main.parent().map(|d| d.join("registries.conf.d"))
        && let Ok(entries) = std::fs::read_dir(dir)
    {
        let mut dropins: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "conf"))
            .collect();
        dropins.sort();
        files.extend(dropins);
    }
    files
}

/// The insecure registries (`host[:port]` or `*.domain`) declared in `files`; missing
/// files are skipped.
pub fn insecure_registries(files: &[PathBuf]) -> Result<Vec<String>, ConfError> {
    let mut out = Vec::new();
    for f in files {
        let Ok(text) = std::fs::read_to_string(f) else {
            continue;
        };
        out.extend(parse(&text, f)?.insecure);
    }
    Ok(out)
}

/// The `blocked` settings of `files` (missing files are skipped): later files' tables
/// override earlier ones with the same prefix, as containers/image merges drop-ins.
pub fn blocklist(files: &[PathBuf]) -> Result<Blocklist, ConfError> {
    let mut out = Blocklist::default();
    for f in files {
        let Ok(text) = std::fs::read_to_string(f) else {
            continue;
        };
        for (prefix, blocked) in parse(&text, f)?.blocked {
            out.entries.retain(|(p, _)| *p != prefix);
            out.entries.push((prefix, blocked));
        }
    }
    Ok(out)
}

/// Which references registries.conf forbids contacting (`blocked = true`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Blocklist {
    /// `(prefix, blocked)` of every `[[registry]]` table (and v1 `[registries.block]` entry).
    entries: Vec<(String, bool)>,
}

impl Blocklist {
    /// Whether `reference` (`host[:port]/path[:tag][@digest]`) is blocked: the table with the
    /// longest matching prefix decides, as in containers/image. A prefix matches the whole
    /// reference or a leading part of it followed by `/`, `:` or `@`; `*.domain` matches the
    /// hosts under `domain`.
    pub fn is_blocked(&self, reference: &str) -> bool {
        self.entries
            .iter()
            .filter_map(|(prefix, blocked)| {
                matching_prefix(reference, prefix).map(|n| (n, *blocked))
            })
            .max_by_key(|(n, _)| *n)
            .is_some_and(|(_, blocked)| blocked)
    }
}

/// The length of `prefix` when it matches `reference`, as containers/image's
/// `refMatchingPrefix`.
fn matching_prefix(reference: &str, prefix: &str) -> Option<usize> {
    if let Some(domain) = prefix.strip_prefix("*.") {
        let host = reference.split('/').next().unwrap_or_default();
        let host = host.split(':').next().unwrap_or_default();
        return host
            .ends_with(&format!(".{domain}"))
            .then_some(prefix.len());
    }
    let rest = reference.strip_prefix(prefix)?;
    match rest.chars().next() {
        None | Some('/' | ':' | '@') if !prefix.is_empty() => Some(prefix.len()),
        _ => None,
    }
}

#[derive(PartialEq)]
enum Table {
    Registry,
    InsecureV1,
    BlockV1,
    Other,
}

/// What one file declares.
#[derive(Debug, Default, PartialEq)]
struct Parsed {
    insecure: Vec<String>,
    blocked: Vec<(String, bool)>,
}

/// The `[[registry]]` table being read.
#[derive(Default)]
struct RegistryTable {
    location: Option<String>,
    prefix: Option<String>,
    insecure: bool,
    blocked: bool,
}

impl RegistryTable {
    /// Adds the table to `out`: its `prefix` (what it matches) wins over its `location`.
    fn record(self, out: &mut Parsed) {
        if let Some(l) = self.prefix.or(self.location) {
            if self.insecure {
                // The registry part of a location such as "reg.io:5000/ns".
                out.insecure
                    .push(l.split('/').next().unwrap_or_default().to_owned());
            }
            out.blocked.push((l, self.blocked));
        }
    }
}

fn parse(text: &str, path: &Path) -> Result<Parsed, ConfError> {
    let err = |line: usize, message: String| ConfError {
        path: path.display().to_string(),
        line,
        message,
    };
    let mut out = Parsed::default();
    let mut table = Table::Other;
    let mut current = RegistryTable::default();
    for (i, raw) in text.lines().enumerate() {
        let line = strip_comment(raw).trim();
        if line.is_empty() {
            continue;
        }
        if line.starts_with('[') {
            if table == Table::Registry {
                std::mem::take(&mut current).record(&mut out);
            }
            table = match line {
                "[[registry]]" => Table::Registry,
                "[registries.insecure]" => Table::InsecureV1,
                "[registries.block]" => Table::BlockV1,
                _ => Table::Other,
            };
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(err(i + 1, format!("expected key = value, found {line:?}")));
        };
        let (key, value) = (key.trim(), value.trim());
        match (&table, key) {
            (Table::Registry, "location") => {
                current.location = Some(
                    string(value).ok_or_else(|| err(i + 1, "location must be a string".into()))?,
                )
            }
            (Table::Registry, "prefix") => {
                current.prefix = Some(
                    string(value).ok_or_else(|| err(i + 1, "prefix must be a string".into()))?,
                )
            }
            (Table::Registry, "insecure" | "blocked") => {
                let flag = match value {
                    "true" => true,
                    "false" => false,
                    _ => {
                        return Err(err(
                            i + 1,
                            format!("{key} must be true or false, found {value}"),
                        ));
                    }
                };
                if key == "insecure" {
                    current.insecure = flag;
                } else {
                    current.blocked = flag;
                }
            }
            (Table::InsecureV1 | Table::BlockV1, "registries") => {
                let inner = value
                    .strip_prefix('[')
                    .and_then(|v| v.strip_suffix(']'))
                    .ok_or_else(|| err(i + 1, "registries must be a one-line array".into()))?;
                for item in inner.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    let item = string(item)
                        .ok_or_else(|| err(i + 1, format!("{item} is not a string")))?;
                    if table == Table::InsecureV1 {
                        out.insecure.push(item);
                    } else {
                        out.blocked.push((item, true));
                    }
                }
            }
            _ => {}
        }
    }
    if table == Table::Registry {
        current.record(&mut out);
    }
    Ok(out)
}

fn strip_comment(line: &str) -> &str {
    let mut in_string = None;
    for (i, c) in line.char_indices() {
        match (c, in_string) {
            ('"' | '\'', None) => in_string = Some(c),
            (c, Some(q)) if c == q => in_string = None,
            ('#', None) => return &line[..i],
            _ => {}
        }
    }
    line
}

fn string(v: &str) -> Option<String> {
    let v = v.trim();
    let inner = v
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))?;
    Some(inner.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(text: &str, expected: Result<&[&str], &str>) {
        let got = parse(text, Path::new("r.conf")).map(|p| p.insecure);
        match expected {
            Ok(want) => assert_eq!(got, Ok(want.iter().map(|s| s.to_string()).collect())),
            Err(msg) => assert_eq!(got.map_err(|e| e.to_string()), Err(msg.to_owned())),
        }
    }

    #[test]
    fn registries() {
        check(
            "unqualified-search-registries = [\"docker.io\"]\n\n[[registry]]\nlocation = \"mirror.local:5000\"\ninsecure = true # plain HTTP\n\n[[registry]]\nlocation = \"secure.io\"\ninsecure = false\n[[registry]]\nprefix = \"*.lab\"\nlocation = \"x.lab/ns\"\ninsecure = true\n[[registry.mirror]]\nlocation = \"m.io\"\n",
            Ok(&["mirror.local:5000", "*.lab"]),
        );
        check(
            "[registries.insecure]\nregistries = ['a.io:5000', \"b.io\"]\n",
            Ok(&["a.io:5000", "b.io"]),
        );
        check(
            "[[registry]]\nlocation = \"a#b.io\"\ninsecure = true\n",
            Ok(&["a#b.io"]),
        );
        check(
            "[[registry]]\nlocation = \"a.io\"\ninsecure = yes\n",
            Err("r.conf:3: insecure must be true or false, found yes"),
        );
        check(
            "[[registry]]\nbogus line\n",
            Err("r.conf:2: expected key = value, found \"bogus line\""),
        );
        check("", Ok(&[]));
    }

    #[test]
    fn blocked_registries() {
        let text = "[[registry]]\nprefix = \"bad.io\"\nblocked = true\n[[registry]]\nlocation = \"bad.io/ok\"\n[[registry]]\nlocation = \"reg.io:5000/secret\"\nblocked = true\n[[registry]]\nprefix = \"*.evil.example\"\nblocked = true\n[registries.block]\nregistries = [\"old.io\"]\n";
        let list = Blocklist {
            entries: parse(text, Path::new("r.conf")).expect("parse").blocked,
        };
        for (reference, want) in [
            ("bad.io/a/b:1", true),
            ("bad.io", true),
            ("bad.io:443/a/b", true),
            ("bad.iox/a/b", false),
            // The longer prefix of the second table (blocked = false) wins.
            ("bad.io/ok/b:1", false),
            ("bad.io/okay/b", true),
            ("reg.io:5000/secret/x", true),
            ("reg.io:5000/secrets/x", false),
            ("reg.io:5000/other/x", false),
            ("a.evil.example/x", true),
            ("evil.example/x", false),
            ("old.io/x@sha256:00", true),
            ("docker.io/library/nginx:1", false),
        ] {
            assert_eq!(list.is_blocked(reference), want, "{reference}");
        }
        check(
            "[[registry]]\nlocation = \"a.io\"\nblocked = maybe\n",
            Err("r.conf:3: blocked must be true or false, found maybe"),
        );
    }
}
