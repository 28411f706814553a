//! The `insecure` settings of containers-registries.conf(5): which registries are reached
//! without TLS verification when `--tls-verify` is not given.
//!
//! Only what hangar uses is read: `[[registry]]` tables with `location` (or `prefix`) and
//! `insecure`, and the v1 `[registries.insecure] registries = [...]` list. Other keys and
//! tables are ignored; a line that cannot be read is an error naming the file and line.

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
        out.extend(parse(&text, f)?);
    }
    Ok(out)
}

#[derive(PartialEq)]
enum Table {
    Registry,
    InsecureV1,
    Other,
}

fn parse(text: &str, path: &Path) -> Result<Vec<String>, ConfError> {
    let err = |line: usize, message: String| ConfError {
        path: path.display().to_string(),
        line,
        message,
    };
    let mut out = Vec::new();
    let mut table = Table::Other;
    // A table's `prefix` (what it matches) wins over its `location`.
    let mut location: Option<String> = None;
    let mut prefix: Option<String> = None;
    let mut insecure = false;
    let flush = |location: &mut Option<String>,
                 prefix: &mut Option<String>,
                 insecure: &mut bool,
                 out: &mut Vec<String>| {
        if let (Some(l), true) = (prefix.take().or(location.take()), *insecure) {
            // The registry part of a location such as "reg.io:5000/ns".
            out.push(l.split('/').next().unwrap_or_default().to_owned());
        }
        *location = None;
        *insecure = false;
    };
    for (i, raw) in text.lines().enumerate() {
        let line = strip_comment(raw).trim();
        if line.is_empty() {
            continue;
        }
        if line.starts_with('[') {
            if table == Table::Registry {
                flush(&mut location, &mut prefix, &mut insecure, &mut out);
            }
            table = match line {
                "[[registry]]" => Table::Registry,
                "[registries.insecure]" => Table::InsecureV1,
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
                location = Some(
                    string(value).ok_or_else(|| err(i + 1, "location must be a string".into()))?,
                )
            }
            (Table::Registry, "prefix") => {
                prefix = Some(
                    string(value).ok_or_else(|| err(i + 1, "prefix must be a string".into()))?,
                )
            }
            (Table::Registry, "insecure") => {
                insecure = match value {
                    "true" => true,
                    "false" => false,
                    _ => {
                        return Err(err(
                            i + 1,
                            format!("insecure must be true or false, found {value}"),
                        ));
                    }
                };
            }
            (Table::InsecureV1, "registries") => {
                let inner = value
                    .strip_prefix('[')
                    .and_then(|v| v.strip_suffix(']'))
                    .ok_or_else(|| err(i + 1, "registries must be a one-line array".into()))?;
                for item in inner.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    out.push(
                        string(item)
                            .ok_or_else(|| err(i + 1, format!("{item} is not a string")))?,
                    );
                }
            }
            _ => {}
        }
    }
    if table == Table::Registry {
        flush(&mut location, &mut prefix, &mut insecure, &mut out);
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
        let got = parse(text, Path::new("r.conf"));
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
}
