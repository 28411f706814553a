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
}

impl Platform {
    /// Builds a platform; an empty variant counts as none.
    pub fn new(os: &str, architecture: &str, variant: Option<&str>) -> Platform {
        Platform {
            os: os.to_owned(),
            architecture: architecture.to_owned(),
            variant: variant.filter(|v| !v.is_empty()).map(str::to_owned),
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(filter: &PlatformFilter, platform: (&str, &str, Option<&str>), expected: bool) {
        let p = Platform::new(platform.0, platform.1, platform.2);
        assert_eq!(filter.matches(&p), expected, "{filter:?} {p}");
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
