//! Platforms (`os/arch[/variant]`) and the `--arch` / `--os` filter.

use std::fmt;

/// The platform of one image manifest.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Platform {
    /// `linux`, `windows`, ...
    pub os: String,
    /// `amd64`, `arm64`, `arm`, ...
    pub architecture: String,
    /// `v7`, `v8`, ... when given.
    pub variant: Option<String>,
    /// `os.version` (Windows builds), when the index gives it.
    pub os_version: Option<String>,
}

impl Platform {
    /// Builds a platform; an empty variant counts as none.
    pub fn new(os: &str, architecture: &str, variant: Option<&str>) -> Platform {
        Platform {
            os: os.to_owned(),
            architecture: architecture.to_owned(),
            variant: variant.filter(|v| !v.is_empty()).map(str::to_owned),
            os_version: None,
        }
    }

    /// The same platform with `os.version` (empty = none).
    pub fn with_os_version(mut self, os_version: Option<&str>) -> Platform {
        self.os_version = os_version.filter(|v| !v.is_empty()).map(str::to_owned);
        self
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// Which platform images to validate. An empty list means "all" for that dimension;
/// `unknown` platforms (attestations) never pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformFilter {
    archs: Vec<(String, Option<String>)>,
    oses: Vec<String>,
}

impl Default for PlatformFilter {
    /// `--arch amd64,arm64 --os linux`, hangar's defaults.
    fn default() -> Self {
        PlatformFilter::new(["amd64", "arm64"], ["linux"])
    }
}

impl PlatformFilter {
    /// `archs` items are `arch` or `arch/variant`; empty items are dropped.
    pub fn new<A, O>(
        archs: impl IntoIterator<Item = A>,
        oses: impl IntoIterator<Item = O>,
    ) -> PlatformFilter
    where
        A: AsRef<str>,
        O: AsRef<str>,
    {
        let archs = archs
            .into_iter()
            .filter_map(|a| {
                let a = a.as_ref().trim();
                match a.split_once('/') {
                    _ if a.is_empty() => None,
                    Some((arch, variant)) => Some((arch.to_owned(), Some(variant.to_owned()))),
                    None => Some((a.to_owned(), None)),
                }
            })
            .collect();
        let oses = oses
            .into_iter()
            .map(|o| o.as_ref().trim().to_owned())
            .filter(|o| !o.is_empty())
            .collect();
        PlatformFilter { archs, oses }
    }

    /// [`PlatformFilter::new`] for values a user typed (`--arch`, `--os`): every
    /// architecture, variant and OS must be a name Go (and so every image builder) uses;
    /// otherwise the error names the value and suggests the right spelling. Without this a
    /// typo such as `x86_64` would select nothing, skip every line and pass.
    pub fn parse<A, O>(
        archs: impl IntoIterator<Item = A>,
        oses: impl IntoIterator<Item = O>,
    ) -> Result<PlatformFilter, PlatformError>
    where
        A: AsRef<str>,
        O: AsRef<str>,
    {
        let filter = PlatformFilter::new(archs, oses);
        for os in &filter.oses {
            if !KNOWN_OSES.contains(&os.as_str()) {
                return Err(PlatformError::Os {
                    value: os.clone(),
                    suggestion: suggest(os, OS_ALIASES, KNOWN_OSES),
                });
            }
        }
        for (arch, variant) in &filter.archs {
            if !KNOWN_ARCHS.contains(&arch.as_str()) {
                return Err(PlatformError::Architecture {
                    value: arch.clone(),
                    suggestion: suggest(arch, ARCH_ALIASES, KNOWN_ARCHS),
                });
            }
            if let Some(v) = variant {
                let known = known_variants(arch);
                if !known.contains(&v.as_str()) {
                    return Err(PlatformError::Variant {
                        architecture: arch.clone(),
                        value: v.clone(),
                        known: known.join(", "),
                    });
                }
            }
        }
        Ok(filter)
    }

    /// Every platform but `unknown` ones.
    pub fn all() -> PlatformFilter {
        PlatformFilter {
            archs: Vec::new(),
            oses: Vec::new(),
        }
    }

    /// Whether `p` is selected.
    pub fn matches(&self, p: &Platform) -> bool {
        if p.os.is_empty()
            || p.architecture.is_empty()
            || p.os == "unknown"
            || p.architecture == "unknown"
        {
            return false;
        }
        let os_ok = self.oses.is_empty() || self.oses.contains(&p.os);
        let arch_ok = self.archs.is_empty()
            || self.archs.iter().any(|(a, v)| {
                *a == p.architecture && v.as_ref().is_none_or(|v| Some(v) == p.variant.as_ref())
            });
        os_ok && arch_ok
    }
}

/// A `--arch` or `--os` value no image uses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PlatformError {
    /// Not a GOARCH value.
    #[error(
        "--arch {value:?} is not an architecture name images use (GOARCH){}",
        hint(suggestion)
    )]
    Architecture {
        /// As given.
        value: String,
        /// The likely intended name.
        suggestion: Option<String>,
    },
    /// Not a GOOS value.
    #[error(
        "--os {value:?} is not an operating system name images use (GOOS){}",
        hint(suggestion)
    )]
    Os {
        /// As given.
        value: String,
        /// The likely intended name.
        suggestion: Option<String>,
    },
    /// Not a variant of that architecture.
    #[error(
        "--arch {architecture}/{value}: {value:?} is not a variant of {architecture} (known: {known})"
    )]
    Variant {
        /// The architecture.
        architecture: String,
        /// The variant as given.
        value: String,
        /// The variants that exist for it.
        known: String,
    },
}

fn hint(suggestion: &Option<String>) -> String {
    suggestion
        .as_ref()
        .map(|s| format!("; did you mean {s:?}?"))
        .unwrap_or_default()
}

/// Go's `knownArch` list (`go/build/syslist.go`).
const KNOWN_ARCHS: &[&str] = &[
    "386",
    "amd64",
    "amd64p32",
    "arm",
    "armbe",
    "arm64",
    "arm64be",
    "loong64",
    "mips",
    "mipsle",
    "mips64",
    "mips64le",
    "mips64p32",
    "mips64p32le",
    "ppc",
    "ppc64",
    "ppc64le",
    "riscv",
    "riscv64",
    "s390",
    "s390x",
    "sparc",
    "sparc64",
    "wasm",
];

/// Go's `knownOS` list (`go/build/syslist.go`).
const KNOWN_OSES: &[&str] = &[
    "aix",
    "android",
    "darwin",
    "dragonfly",
    "freebsd",
    "hurd",
    "illumos",
    "ios",
    "js",
    "linux",
    "nacl",
    "netbsd",
    "openbsd",
    "plan9",
    "solaris",
    "wasip1",
    "windows",
    "zos",
];

/// Names other tools use (uname, Debian, Rust targets) for GOARCH values.
const ARCH_ALIASES: &[(&str, &str)] = &[
    ("x86_64", "amd64"),
    ("x86-64", "amd64"),
    ("x64", "amd64"),
    ("aarch64", "arm64"),
    ("armv8", "arm64"),
    ("arm64v8", "arm64"),
    ("armhf", "arm/v7"),
    ("armv7", "arm/v7"),
    ("armv7l", "arm/v7"),
    ("armel", "arm/v6"),
    ("armv6", "arm/v6"),
    ("armv6l", "arm/v6"),
    ("i386", "386"),
    ("i686", "386"),
    ("x86", "386"),
    ("ppc64el", "ppc64le"),
    ("powerpc64le", "ppc64le"),
    ("riscv64gc", "riscv64"),
    ("loongarch64", "loong64"),
];

const OS_ALIASES: &[(&str, &str)] = &[("macos", "darwin"), ("osx", "darwin"), ("win", "windows")];

/// The variants images carry for `arch` (OCI image-spec, containers/image's platform
/// matcher, Go's GOARM / GOARM64 / GOAMD64 levels).
fn known_variants(arch: &str) -> &'static [&'static str] {
    match arch {
        "arm" => &["v5", "v6", "v7", "v8"],
        "arm64" => &[
            "v8", "v8.0", "v8.1", "v8.2", "v8.3", "v8.4", "v8.5", "v8.6", "v8.7", "v8.8", "v8.9",
            "v9", "v9.0", "v9.1", "v9.2", "v9.3", "v9.4", "v9.5",
        ],
        "amd64" => &["v1", "v2", "v3", "v4"],
        "386" => &["sse2", "softfloat"],
        "ppc64" | "ppc64le" => &["power8", "power9", "power10"],
        "riscv64" => &["rva20u64", "rva22u64", "rva23u64"],
        "mips" | "mipsle" | "mips64" | "mips64le" => &["hardfloat", "softfloat"],
        _ => &[],
    }
}

/// The intended name: an alias, the same name in lower case, or the known name one edit away.
fn suggest(value: &str, aliases: &[(&str, &str)], known: &[&str]) -> Option<String> {
    let lower = value.to_ascii_lowercase();
    if let Some((_, to)) = aliases.iter().find(|(from, _)| *from == lower) {
        return Some((*to).to_owned());
    }
    if known.contains(&lower.as_str()) {
        return Some(lower);
    }
    known
        .iter()
        .map(|k| (edit_distance(&lower, k), *k))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, k)| k.to_owned())
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(filter: &PlatformFilter, platform: (&str, &str, Option<&str>), expected: bool) {
        let p = Platform::new(platform.0, platform.1, platform.2);
        assert_eq!(filter.matches(&p), expected, "{filter:?} {p}");
    }

    #[test]
    fn typed_values_must_exist() {
        let ok = PlatformFilter::parse(["amd64", "arm/v7", "arm64/v8", ""], ["linux", "windows"]);
        assert!(ok.is_ok(), "{ok:?}");
        assert_eq!(
            PlatformFilter::parse([""], [""]).expect("all"),
            PlatformFilter::all()
        );
        let cases: &[(&[&str], &[&str], &str)] = &[
            (
                &["x86_64"],
                &["linux"],
                "--arch \"x86_64\" is not an architecture name images use (GOARCH); did you mean \"amd64\"?",
            ),
            (
                &["AMD64"],
                &["linux"],
                "--arch \"AMD64\" is not an architecture name images use (GOARCH); did you mean \"amd64\"?",
            ),
            (
                &["aarch64"],
                &["linux"],
                "--arch \"aarch64\" is not an architecture name images use (GOARCH); did you mean \"arm64\"?",
            ),
            (
                &["amd46"],
                &["linux"],
                "--arch \"amd46\" is not an architecture name images use (GOARCH); did you mean \"amd64\"?",
            ),
            (
                &["zzzzzz"],
                &["linux"],
                "--arch \"zzzzzz\" is not an architecture name images use (GOARCH)",
            ),
            (
                &["amd64"],
                &["Linux"],
                "--os \"Linux\" is not an operating system name images use (GOOS); did you mean \"linux\"?",
            ),
            (
                &["arm/v9"],
                &["linux"],
                "--arch arm/v9: \"v9\" is not a variant of arm (known: v5, v6, v7, v8)",
            ),
            (
                &["s390x/v1"],
                &["linux"],
                "--arch s390x/v1: \"v1\" is not a variant of s390x (known: )",
            ),
        ];
        for (archs, oses, want) in cases {
            let e = PlatformFilter::parse(archs.iter(), oses.iter()).expect_err(want);
            assert_eq!(e.to_string(), *want);
        }
    }

    #[test]
    fn filters() {
        let d = PlatformFilter::default();
        check(&d, ("linux", "amd64", None), true);
        check(&d, ("linux", "arm64", Some("v8")), true);
        check(&d, ("linux", "arm", Some("v7")), false);
        check(&d, ("windows", "amd64", None), false);
        check(&d, ("unknown", "unknown", None), false);
        let v7 = PlatformFilter::new(["arm/v7"], ["linux"]);
        check(&v7, ("linux", "arm", Some("v7")), true);
        check(&v7, ("linux", "arm", Some("v6")), false);
        check(&v7, ("linux", "arm", None), false);
        let all = PlatformFilter::new([""], [""]);
        assert_eq!(all, PlatformFilter::all());
        check(&all, ("windows", "amd64", None), true);
        check(&all, ("linux", "s390x", None), true);
        check(&all, ("unknown", "unknown", None), false);
        check(&all, ("", "amd64", None), false);
        assert_eq!(
            Platform::new("linux", "arm", Some("v7")).to_string(),
            "linux/arm/v7"
        );
        assert_eq!(
            Platform::new("linux", "amd64", Some("")).to_string(),
            "linux/amd64"
        );
    }
}
