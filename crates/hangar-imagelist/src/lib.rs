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

impl Overrides {
    /// `--registry` and `--project` as given (empty = no override), checked: the registry
    /// must be a `host[:port]` and the project one or more lower-case path components.
    pub fn new(registry: &str, project: &str) -> Result<Overrides, OverrideError> {
        let registry = match registry {
            "" => None,
            r if hangar_reference::is_valid_domain(r) => Some(r.to_owned()),
            r => return Err(OverrideError::Registry(r.to_owned())),
        };
        let project = match project {
            "" => None,
            p if hangar_reference::is_valid_path(p) => Some(p.to_owned()),
            p => return Err(OverrideError::Project(p.to_owned())),
        };
        Ok(Overrides { registry, project })
    }
}

/// An override that no reference could contain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OverrideError {
    /// Not a `host[:port]`.
    #[error(
        "--registry {0:?} is not a registry: give host[:port] only (e.g. registry.example.io:5000), without a path or trailing slash"
    )]
    Registry(String),
    /// Not `/`-separated lower-case path components.
    #[error(
        "--project {0:?} is not a project: give lower-case path components separated by single slashes (e.g. library or mirror/rancher), without leading or trailing slashes"
    )]
    Project(String),
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
#[error("image list line {line_number} {line:?}: {problem}")]
#[non_exhaustive]
pub struct LineError {
    /// The 1-based line number in the file.
    pub line_number: usize,
    /// The line as written (invalid UTF-8 shown as U+FFFD).
    pub line: String,
    /// What is wrong with it.
    pub problem: LineProblem,
}

/// What is wrong with a line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LineProblem {
    /// The reference grammar refused the rewritten line.
    #[error("{rewritten:?} is not a valid reference: {source}")]
    Reference {
        /// The reference string after the registry/project rewrite.
        rewritten: String,
        /// What the grammar objected to.
        source: ParseError,
    },
    /// The line starts with a URL scheme such as `https://`.
    #[error("an image reference has no URL scheme: remove {0:?}")]
    Scheme(String),
    /// The line's bytes are not UTF-8.
    #[error("not valid UTF-8 (at byte {valid_up_to} of the line)")]
    NotUtf8 {
        /// How many bytes of the line are valid UTF-8.
        valid_up_to: usize,
    },
}

/// Turns the lines of a list into entries: blank lines and `#` / `//` comments are dropped,
/// every other line is numbered and classified. A `#` after whitespace starts a comment
/// (a `#` can never be part of a reference); a UTF-8 byte-order mark before the first line
/// is ignored.
pub fn entries<'a, I, S>(lines: I, overrides: &'a Overrides) -> impl Iterator<Item = Entry> + 'a
where
    I: IntoIterator<Item = S> + 'a,
    S: AsRef<str>,
{
    numbered(
        lines.into_iter().map(|l| Ok::<S, (String, usize)>(l)),
        overrides,
    )
}

/// [`entries`] over the raw bytes of a list file: lines split at `\n` (a `\r` before it is
/// dropped); a line that is not UTF-8 becomes an [`EntryKind::Invalid`] entry with its line
/// number, and the other lines are read as usual.
pub fn entries_from_bytes<'a>(
    bytes: &'a [u8],
    overrides: &'a Overrides,
) -> impl Iterator<Item = Entry> + 'a {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    let lines = (!bytes.is_empty())
        .then(|| bytes.split(|b| *b == b'\n'))
        .into_iter()
        .flatten()
        .map(|raw| {
            let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
            std::str::from_utf8(raw).map_err(|e| {
                (
                    String::from_utf8_lossy(raw).trim().to_owned(),
                    e.valid_up_to(),
                )
            })
        });
    numbered(lines, overrides)
}

/// Numbers the kept lines; `Err` items are lines that could not be decoded.
fn numbered<'a, I, S>(lines: I, overrides: &'a Overrides) -> impl Iterator<Item = Entry> + 'a
where
    I: IntoIterator<Item = Result<S, (String, usize)>> + 'a,
    S: AsRef<str>,
{
    lines
        .into_iter()
        .enumerate()
        .filter_map(|(i, raw)| match raw {
            Ok(raw) => {
                let raw = raw.as_ref();
                let raw = if i == 0 {
                    raw.strip_prefix('\u{feff}').unwrap_or(raw)
                } else {
                    raw
                };
                let line = raw.trim();
                let kept = !(line.is_empty()
                    || line.starts_with('#')
                    || line.starts_with("//")
                    || without_comment(line).is_empty());
                kept.then(|| (i + 1, line.to_owned(), None))
            }
            Err((lossy, valid_up_to)) => Some((i + 1, lossy, Some(valid_up_to))),
        })
        .enumerate()
        .map(move |(k, (line_number, line, not_utf8))| {
            let kind = match not_utf8 {
                Some(valid_up_to) => EntryKind::Invalid(LineError {
                    line_number,
                    line: line.clone(),
                    problem: LineProblem::NotUtf8 { valid_up_to },
                }),
                None => classify(&line, line_number, overrides),
            };
            Entry {
                id: k + 1,
                line_number,
                line,
                kind,
            }
        })
}

/// The line without a trailing comment: a `#` after whitespace and all that follows.
fn without_comment(line: &str) -> &str {
    let mut previous_blank = false;
    for (i, c) in line.char_indices() {
        if c == '#' && previous_blank {
            return line[..i].trim_end();
        }
        previous_blank = c.is_whitespace();
    }
    line
}

fn classify(line: &str, line_number: usize, overrides: &Overrides) -> EntryKind {
    let text = without_comment(line);
    let invalid = |problem| {
        EntryKind::Invalid(LineError {
            line_number,
            line: line.to_owned(),
            problem,
        })
    };
    if text.split(' ').filter(|f| !f.is_empty()).count() == 3 {
        return EntryKind::MirrorFormat;
    }
    if let Some(i) = text.find("://") {
        return invalid(LineProblem::Scheme(text[..i + 3].to_owned()));
    }
    let rewritten = rewrite(text, overrides);
    match Reference::parse_normalized(&rewritten) {
        Ok(r) => EntryKind::Image(r),
        Err(source) => invalid(LineProblem::Reference { rewritten, source }),
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
                EntryKind::Invalid(err) => format!("error: {err}"),
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
    fn a_hash_after_whitespace_starts_a_comment() {
        // Issue #12 item 7: `IMAGE # comment` has three fields but is an image, not a
        // mirror line: it is validated, never skipped.
        check(
            "nginx # comment",
            None,
            None,
            "docker.io/library/nginx:latest",
        );
        check(
            "nginx:1.0\t# tabbed",
            None,
            None,
            "docker.io/library/nginx:1.0",
        );
        check("a b c # a mirror line", None, None, "mirror-format");
        check(
            "nginx#x",
            None,
            None,
            "error: image list line 1 \"nginx#x\": \"docker.io/library/nginx#x:latest\" is not a valid reference: invalid reference format: \"docker.io/library/nginx#x:latest\"",
        );
        let kept: Vec<String> = entries(["  # only", "   ", "x # y"], &Overrides::default())
            .map(|e| e.line)
            .collect();
        // The line is kept as written (the failed file gets it back unchanged).
        assert_eq!(kept, ["x # y"]);
    }

    #[test]
    fn schemes_are_named() {
        check(
            "http://reg.io/a/b:1",
            None,
            None,
            "error: image list line 1 \"http://reg.io/a/b:1\": an image reference has no URL scheme: remove \"http://\"",
        );
        check(
            "docker://nginx",
            None,
            None,
            "error: image list line 1 \"docker://nginx\": an image reference has no URL scheme: remove \"docker://\"",
        );
    }

    #[test]
    fn bytes_bom_and_bad_utf8() {
        let list = b"\xEF\xBB\xBFnginx\r\nbad\xFFline\n# c\nbusybox:1\n";
        let got: Vec<(usize, usize, String)> = entries_from_bytes(list, &Overrides::default())
            .map(|e| {
                let what = match e.kind {
                    EntryKind::Image(r) => r.to_string(),
                    EntryKind::Invalid(err) => err.to_string(),
                    EntryKind::MirrorFormat => "mirror".into(),
                };
                (e.id, e.line_number, what)
            })
            .collect();
        assert_eq!(
            got,
            [
                (1, 1, "docker.io/library/nginx:latest".to_owned()),
                (
                    2,
                    2,
                    "image list line 2 \"bad\u{fffd}line\": not valid UTF-8 (at byte 3 of the line)"
                        .to_owned()
                ),
                (3, 4, "docker.io/library/busybox:1".to_owned()),
            ]
        );
        let bom_str: Vec<String> = entries(["\u{feff}nginx"], &Overrides::default())
            .filter_map(|e| match e.kind {
                EntryKind::Image(r) => Some(r.to_string()),
                _ => None,
            })
            .collect();
        assert_eq!(bom_str, ["docker.io/library/nginx:latest"]);
        assert_eq!(entries_from_bytes(b"", &Overrides::default()).count(), 0);
        assert_eq!(
            entries_from_bytes(b"\n\n", &Overrides::default()).count(),
            0
        );
    }

    #[test]
    fn overrides_are_checked() {
        assert_eq!(Overrides::new("", ""), Ok(Overrides::default()));
        let ok = Overrides::new("reg.io:5000", "mirror/rancher").expect("valid");
        assert_eq!(ok.registry.as_deref(), Some("reg.io:5000"));
        assert_eq!(ok.project.as_deref(), Some("mirror/rancher"));
        for bad in ["reg.io/", "http://reg.io", "reg.io/ns", "reg io", "reg.io:"] {
            let e = Overrides::new(bad, "").expect_err(bad);
            assert!(e.to_string().starts_with("--registry"), "{e}");
        }
        for bad in ["/p", "p/", "p//q", "P", "p q"] {
            let e = Overrides::new("", bad).expect_err(bad);
            assert!(e.to_string().starts_with("--project"), "{e}");
        }
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
