//! Hangar image lists: which lines are images, and the reference each names after the
//! `--registry` / `--project` rewrite that `hangar mirror` applies.
//!
//! Parsing never stops at a bad line: every kept line becomes an [`Entry`], and a line
//! that is not a valid image carries its error, so the caller can fail that line alone.
//!
//! ```
//! use hangar_imagelist::{EntryKind, Overrides, entries};
//!
//! let list = "# Rancher images\nnginx:1.27\n\nreg.io/suse/sl-micro/6.0/img:t\n";
//! let overrides = Overrides { registry: Some("mirror.local:5000".into()), project: None };
//! let images: Vec<String> = entries(list.lines(), &overrides)
//!     .filter_map(|e| match e.kind {
//!         EntryKind::Image(r) => Some(r.to_string()),
//!         _ => None,
//!     })
//!     .collect();
//! assert_eq!(images, [
//!     "mirror.local:5000/library/nginx:1.27",
//!     "mirror.local:5000/suse/sl-micro/6.0/img:t",
//! ]);
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use hangar_reference::{DEFAULT_DOMAIN, ParseError, Reference};

const DEFAULT_PROJECT: &str = "library";
const DEFAULT_TAG: &str = "latest";

/// The `--registry` and `--project` overrides applied to every line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    /// Replaces the registry of every line (`--registry`).
    pub registry: Option<String>,
    /// Replaces the project of every line (`--project`); may contain `/`.
    pub project: Option<String>,
}

/// One kept line of an image list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// `n` of the `IMG:n` id: kept lines counted from 1.
    pub id: usize,
    /// The 1-based line number in the file.
    pub line_number: usize,
    /// The line as written, trimmed: what goes into the failed-list file.
    pub line: String,
    /// What the line is.
    pub kind: EntryKind,
}

/// What a kept line is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// An image to process, already rewritten with the overrides.
    Image(Reference),
    /// A `SOURCE DEST TAG` mirror-format line: skipped with a warning, not a failure.
    MirrorFormat,
    /// A line that names no valid image: it fails.
    Invalid(LineError),
}

/// Why a line does not name a valid image.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("image list line {line_number} {line:?}: {rewritten:?} is not a valid reference")]
#[non_exhaustive]
pub struct LineError {
    /// The 1-based line number in the file.
    pub line_number: usize,
    /// The line as written.
    pub line: String,
    /// The reference string after the registry/project rewrite.
    pub rewritten: String,
    /// What the reference grammar objected to.
    #[source]
    pub source: ParseError,
}

/// Turns the lines of a list into entries: blank lines and `#` / `//` comments are dropped,
/// every other line is numbered and classified.
pub fn entries<'a, I, S>(lines: I, overrides: &'a Overrides) -> impl Iterator<Item = Entry> + 'a
where
    I: IntoIterator<Item = S> + 'a,
    S: AsRef<str>,
{
    lines
        .into_iter()
        .enumerate()
        .filter_map(|(i, raw)| {
            let line = raw.as_ref().trim();
            let kept = !(line.is_empty() || line.starts_with('#') || line.starts_with("//"));
            kept.then(|| (i + 1, line.to_owned()))
        })
        .enumerate()
        .map(move |(k, (line_number, line))| {
            let kind = classify(&line, line_number, overrides);
            Entry {
                id: k + 1,
                line_number,
                line,
                kind,
            }
        })
}

fn classify(line: &str, line_number: usize, overrides: &Overrides) -> EntryKind {
    if line.split(' ').filter(|f| !f.is_empty()).count() == 3 {
        return EntryKind::MirrorFormat;
    }
    let rewritten = rewrite(line, overrides);
    match Reference::parse_normalized(&rewritten) {
        Ok(r) => EntryKind::Image(r),
        Err(source) => EntryKind::Invalid(LineError {
            line_number,
            line: line.to_owned(),
            rewritten,
            source,
        }),
    }
}

/// Decomposes `line` into registry / project / name / tag (plus digest), applies the
/// overrides and joins it back as `REGISTRY/PROJECT/NAME[:TAG][@DIGEST]`, to be read with
/// the reference grammar. A line with neither tag nor digest gets `:latest`.
pub fn rewrite(line: &str, overrides: &Overrides) -> String {
    let (name_tag, digest) = match line.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (line, None),
    };
    let parts: Vec<&str> = name_tag.split('/').filter(|p| !p.is_empty()).collect();
    let looks_like_registry = |p: &str| p.contains(['.', ':']) || p == "localhost";
    let (registry, project, name) = match parts.as_slice() {
        [] => (
            DEFAULT_DOMAIN.to_owned(),
            DEFAULT_PROJECT.to_owned(),
            String::new(),
        ),
        [name] => (
            DEFAULT_DOMAIN.to_owned(),
            DEFAULT_PROJECT.to_owned(),
            (*name).to_owned(),
        ),
        [first, name] if looks_like_registry(first) => (
            (*first).to_owned(),
            DEFAULT_PROJECT.to_owned(),
            (*name).to_owned(),
        ),
        [project, name] => (
            DEFAULT_DOMAIN.to_owned(),
            (*project).to_owned(),
            (*name).to_owned(),
        ),
        // Three parts: the first is the registry even without a dot, as upstream hangar
        // (and `hangar mirror`) reads them.
        [registry, project, name] => (
            (*registry).to_owned(),
            (*project).to_owned(),
            (*name).to_owned(),
        ),
        [first, second, rest @ ..] if looks_like_registry(first) => {
            ((*first).to_owned(), (*second).to_owned(), rest.join("/"))
        }
        [project, rest @ ..] => (
            DEFAULT_DOMAIN.to_owned(),
            (*project).to_owned(),
            rest.join("/"),
        ),
    };
    // The tag is what follows ':' in the last part (the name's last component).
    let (name, tag) = match name.rsplit_once(':') {
        Some((n, t)) if !t.contains('/') => (n.to_owned(), Some(t.to_owned())),
        _ => (name, None),
    };
    let registry = overrides.registry.clone().unwrap_or(registry);
    let project = overrides.project.clone().unwrap_or(project);
    let mut out = format!("{registry}/{project}/{name}");
    match (tag, digest) {
        (Some(t), _) => {
            out.push(':');
            out.push_str(&t);
        }
        (None, None) => {
            out.push(':');
            out.push_str(DEFAULT_TAG);
        }
        (None, Some(_)) => {}
    }
    if let Some(d) = digest {
        out.push('@');
        out.push_str(d);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "9d787d7bfc4d7b2f3d15e7a1e31329166fc3adbc938a52590056b8b3cc8e6ac4";

    #[track_caller]
    fn check(line: &str, registry: Option<&str>, project: Option<&str>, expected: &str) {
        let overrides = Overrides {
            registry: registry.map(str::to_owned),
            project: project.map(str::to_owned),
        };
        let got: Vec<String> = entries([line], &overrides)
            .map(|e| match e.kind {
                EntryKind::Image(r) => r.to_string(),
                EntryKind::MirrorFormat => "mirror-format".to_owned(),
                EntryKind::Invalid(err) => format!("error: {err}: {}", err.source),
            })
            .collect();
        assert_eq!(got.join("|"), expected, "line {line:?}");
    }

    #[test]
    fn spec_rewrite_table() {
        check("nginx", None, None, "docker.io/library/nginx:latest");
        check("nginx", Some("X.io"), None, "X.io/library/nginx:latest");
        check(
            "docker.io/library/nginx:1.0",
            Some("x.io"),
            None,
            "x.io/library/nginx:1.0",
        );
        check(
            "docker.io/library/nginx:1.0",
            None,
            Some("p"),
            "docker.io/p/nginx:1.0",
        );
        check("reg.io/nginx", None, None, "reg.io/library/nginx:latest");
        check(
            "localhost:5000/nginx:1.0",
            None,
            None,
            "localhost:5000/library/nginx:1.0",
        );
        check("a/b/c:tag", None, None, "docker.io/a/b/c:tag");
        check("a/b/c:tag", Some("x.io"), None, "x.io/b/c:tag");
        check("a/b/c:tag", None, Some("p"), "docker.io/a/p/c:tag");
        check(
            "reg.io/suse/sl-micro/6.0/img:t",
            None,
            None,
            "reg.io/suse/sl-micro/6.0/img:t",
        );
        check("suse/x/y/z:t", None, Some("p"), "docker.io/p/x/y/z:t");
        // SPEC §2's last row reads `suse/x/y:t --project P` as `docker.io/P/x/y:t`, but its
        // own three-part rule (and upstream hangar's ReplaceProjectName) makes `suse` the
        // registry, exactly as for `a/b/c:tag` above. We follow the rule and upstream.
        check("suse/x/y:t", None, Some("p"), "docker.io/suse/p/y:t");
    }

    #[test]
    fn more_rewrites() {
        check(
            "rancher/rancher:v2.9.0",
            None,
            None,
            "docker.io/rancher/rancher:v2.9.0",
        );
        check(
            "rancher/rancher:v2.9.0",
            Some("127.0.0.1:5000"),
            None,
            "127.0.0.1:5000/rancher/rancher:v2.9.0",
        );
        check(
            "rancher/rancher",
            None,
            Some("mirror/rancher"),
            "docker.io/mirror/rancher/rancher:latest",
        );
        check("reg.io//a//b:1", None, None, "reg.io/a/b:1");
        check(
            "reg.io/a/b/c/d",
            Some("x.io"),
            Some("p/q"),
            "x.io/p/q/b/c/d:latest",
        );
    }

    #[test]
    fn digest_lines() {
        check(
            &format!("reg.io/a/b@sha256:{HEX}"),
            None,
            None,
            &format!("reg.io/a/b@sha256:{HEX}"),
        );
        check(
            &format!("nginx:1.0@sha256:{HEX}"),
            None,
            None,
            &format!("docker.io/library/nginx:1.0@sha256:{HEX}"),
        );
        check(
            &format!("reg.io/a/b@sha256:{HEX}"),
            Some("x.io"),
            Some("p"),
            &format!("x.io/p/b@sha256:{HEX}"),
        );
        check(
            "reg.io/a/b@sha256:abc",
            None,
            None,
            "error: image list line 1 \"reg.io/a/b@sha256:abc\": \"reg.io/a/b@sha256:abc\" is not a valid reference: invalid digest \"sha256:abc\"",
        );
    }

    #[test]
    fn bad_lines() {
        check(
            "reg.io/A/b:1",
            None,
            None,
            "error: image list line 1 \"reg.io/A/b:1\": \"reg.io/A/b:1\" is not a valid reference: invalid reference format: repository name (A/b) must be lowercase",
        );
        check(
            "nginx:-bad",
            None,
            None,
            "error: image list line 1 \"nginx:-bad\": \"docker.io/library/nginx:-bad\" is not a valid reference: invalid tag format: \"-bad\"",
        );
        check(
            "a b",
            None,
            None,
            "error: image list line 1 \"a b\": \"docker.io/library/a b:latest\" is not a valid reference: invalid reference format: \"docker.io/library/a b:latest\"",
        );
        check("a b c", None, None, "mirror-format");
        check(
            "docker.io/a/b  reg.io/a/b   v1",
            None,
            None,
            "mirror-format",
        );
    }

    #[test]
    fn comments_blank_lines_and_ids() {
        let text = "# comment\n\n  // another\n  nginx  \nbusybox\n\n";
        let got: Vec<(usize, usize, String)> = entries(text.lines(), &Overrides::default())
            .map(|e| (e.id, e.line_number, e.line))
            .collect();
        assert_eq!(
            got,
            [(1, 4, "nginx".to_owned()), (2, 5, "busybox".to_owned())]
        );
    }
}
