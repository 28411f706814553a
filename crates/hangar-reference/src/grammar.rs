//! The character-level grammar of docker references, written out instead of as regexes.

/// Splits `name[:tag][@digest]`. The tag is after the last `:` that follows the last `/`,
/// so a registry port is never taken for a tag.
pub(crate) fn split_name_tag_digest(s: &str) -> (&str, Option<&str>, Option<&str>) {
    let (name_tag, digest) = match s.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (s, None),
    };
    let last_slash = name_tag.rfind('/').map_or(0, |i| i + 1);
    match name_tag[last_slash..].rfind(':') {
        Some(i) => {
            let colon = last_slash + i;
            (&name_tag[..colon], Some(&name_tag[colon + 1..]), digest)
        }
        None => (name_tag, None, digest),
    }
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`
pub(crate) fn is_path_component(s: &str) -> bool {
    let b = s.as_bytes();
    let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        // A separator run: ".", "_", "__" or one or more "-".
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &s[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|c| c == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// `host[:port]`, host being dot-separated `[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?` labels:
/// containers/image's `DomainRegexp`. Bracketed IPv6 addresses (accepted by
/// distribution/reference since 2023) are not: containers/image refuses them, and a
/// signature's identity must read the same here as there.
pub(crate) fn is_domain(s: &str) -> bool {
    let (host, port) = match s.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (s, None),
    };
    if let Some(port) = port
        && (port.is_empty() || !port.bytes().all(|c| c.is_ascii_digit()))
    {
        return false;
    }
    host.split('.').all(is_domain_label)
}

fn is_domain_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
}

/// `[\w][\w.-]{0,127}`
pub(crate) fn is_tag(s: &str) -> bool {
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && word(b[0])
        && b[1..].iter().all(|&c| word(c) || c == b'.' || c == b'-')
}

/// `[a-f0-9]{64}`: what docker refuses as a repository name.
pub(crate) fn is_hex_identifier(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_components() {
        for ok in ["a", "a0", "a.b", "a_b", "a__b", "a-b", "a---b", "a.b-c_d"] {
            assert!(is_path_component(ok), "{ok}");
        }
        for bad in ["", "A", "-a", "a-", "a..b", "a___b", "a.-b", "a b", "a/b"] {
            assert!(!is_path_component(bad), "{bad}");
        }
    }

    #[test]
    fn domains() {
        for ok in [
            "docker.io",
            "localhost",
            "127.0.0.1:5000",
            "a-b.c",
            "Reg.IO",
        ] {
            assert!(is_domain(ok), "{ok}");
        }
        for bad in [
            "",
            "-a.b",
            "a..b",
            "a:",
            "a:x",
            "[::1",
            "[zz]",
            "a_b.c",
            "[::1]",
            "[::1]:5000",
        ] {
            assert!(!is_domain(bad), "{bad}");
        }
    }

    #[test]
    fn splits() {
        assert_eq!(split_name_tag_digest("a:5000/b"), ("a:5000/b", None, None));
        assert_eq!(
            split_name_tag_digest("a:5000/b:t"),
            ("a:5000/b", Some("t"), None)
        );
        assert_eq!(
            split_name_tag_digest("b:t@d:x"),
            ("b", Some("t"), Some("d:x"))
        );
    }
}
