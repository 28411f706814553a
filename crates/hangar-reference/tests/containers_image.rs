//! containers/image's own reference tests, as data: `docker/reference/reference_test.go`
//! (`TestReferenceParse`) and `docker/reference/normalize_test.go` (`TestValidateReferenceName`,
//! `TestValidateRemoteName`, `TestParseRepositoryInfo`, `TestNormalizedSplitHostname`,
//! `TestParseReferenceWithTagAndDigest`, `TestInvalidReferenceComponents`), copied from
//! containers/image at commit df7e80d2; each row names its source line.
//!
//! How rows map onto our API, which only has normalized references:
//! - `TestReferenceParse` uses Go's `Parse` (no normalization). A row with an explicit
//!   domain must parse with `parse_normalized` to the same name, domain, tag and digest and
//!   print back as written; a row without a domain (or whose "domain" normalization does not
//!   take for one) is checked on its normalized form (`docker.io/[library/]NAME`); a row
//!   expecting an error must fail here too.
//! - Left out: `FamiliarName` columns (we never print the short `busybox` form);
//!   `ParseAnyReference`, `ParseDockerRef`, `TagNameOnly`, `WithName` and the `Match` helpers
//!   (`TestParseAnyReference`, `TestParseDockerRef`, `TestMatch`, `TestMatchError`), which have
//!   no counterpart here; `TestWithTag`/`TestWithDigest` rows that build names without a domain.

use hangar_reference::Reference;

/// (input, error expected, repository, domain, tag, digest)
const REFERENCE_PARSE: &[(&str, bool, &str, &str, &str, &str)] = &[
    // reference_test.go:31
    ("test_com", false, "test_com", "", "", ""),
    // reference_test.go:35
    ("test.com:tag", false, "test.com", "", "tag", ""),
    // reference_test.go:40
    ("test.com:5000", false, "test.com", "", "5000", ""),
    // reference_test.go:45
    (
        "test.com/repo:tag",
        false,
        "test.com/repo",
        "test.com",
        "tag",
        "",
    ),
    // reference_test.go:51
    (
        "test:5000/repo",
        false,
        "test:5000/repo",
        "test:5000",
        "",
        "",
    ),
    // reference_test.go:56
    (
        "test:5000/repo:tag",
        false,
        "test:5000/repo",
        "test:5000",
        "tag",
        "",
    ),
    // reference_test.go:62
    (
        "test:5000/repo@sha256:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        false,
        "test:5000/repo",
        "test:5000",
        "",
        "sha256:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    ),
    // reference_test.go:68
    (
        "test:5000/repo:tag@sha256:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        false,
        "test:5000/repo",
        "test:5000",
        "tag",
        "sha256:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    ),
    // reference_test.go:75
    (
        "test:5000/repo",
        false,
        "test:5000/repo",
        "test:5000",
        "",
        "",
    ),
    // reference_test.go:80
    ("", true, "", "", "", ""),
    // reference_test.go:84
    (":justtag", true, "", "", "", ""),
    // reference_test.go:88
    (
        "@sha256:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        true,
        "",
        "",
        "",
        "",
    ),
    // reference_test.go:92
    (
        "repo@sha256:ffffffffffffffffffffffffffffffffff",
        true,
        "",
        "",
        "",
        "",
    ),
    // reference_test.go:96
    (
        "validname@invaliddigest:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        true,
        "",
        "",
        "",
        "",
    ),
    // reference_test.go:100
    ("Uppercase:tag", true, "", "", "", ""),
    // reference_test.go:110
    ("test:5000/Uppercase/lowercase:tag", true, "", "", "", ""),
    // reference_test.go:114
    (
        "lowercase:Uppercase",
        false,
        "lowercase",
        "",
        "Uppercase",
        "",
    ),
    // reference_test.go:129
    ("aa/asdf$$^/aa", true, "", "", "", ""),
    // reference_test.go:133
    (
        "sub-dom1.foo.com/bar/baz/quux",
        false,
        "sub-dom1.foo.com/bar/baz/quux",
        "sub-dom1.foo.com",
        "",
        "",
    ),
    // reference_test.go:138
    (
        "sub-dom1.foo.com/bar/baz/quux:some-long-tag",
        false,
        "sub-dom1.foo.com/bar/baz/quux",
        "sub-dom1.foo.com",
        "some-long-tag",
        "",
    ),
    // reference_test.go:144
    (
        "b.gcr.io/test.example.com/my-app:test.example.com",
        false,
        "b.gcr.io/test.example.com/my-app",
        "b.gcr.io",
        "test.example.com",
        "",
    ),
    // reference_test.go:150
    (
        "xn--n3h.com/myimage:xn--n3h.com",
        false,
        "xn--n3h.com/myimage",
        "xn--n3h.com",
        "xn--n3h.com",
        "",
    ),
    // reference_test.go:156
    (
        "xn--7o8h.com/myimage:xn--7o8h.com@sha512:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        false,
        "xn--7o8h.com/myimage",
        "xn--7o8h.com",
        "xn--7o8h.com",
        "sha512:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    ),
    // reference_test.go:163
    ("foo_bar.com:8080", false, "foo_bar.com", "", "8080", ""),
    // reference_test.go:168
    (
        "foo/foo_bar.com:8080",
        false,
        "foo/foo_bar.com",
        "foo",
        "8080",
        "",
    ),
];

#[test]
fn reference_parse_table() {
    let mut rows: Vec<(String, bool, String, String, String, String)> = REFERENCE_PARSE
        .iter()
        .map(|(i, e, r, d, t, g)| {
            (
                i.to_string(),
                *e,
                r.to_string(),
                d.to_string(),
                t.to_string(),
                g.to_string(),
            )
        })
        .collect();
    // reference_test.go:119 (built with strings.Repeat). Row :123 (a 255-character name
    // without a domain) is left out: normalized, `docker.io/` makes it too long, in Go too.
    rows.push((
        format!("{}a:tag", "a/".repeat(128)),
        true,
        String::new(),
        String::new(),
        String::new(),
        String::new(),
    ));
    for (input, err, repository, domain, tag, digest) in rows {
        let got = Reference::parse_normalized(&input);
        if err {
            assert!(got.is_err(), "{input:?} must be refused, got {got:?}");
            continue;
        }
        let r = got.unwrap_or_else(|e| panic!("{input:?}: {e}"));
        // Go's Parse takes any first component for a domain ("foo" in foo/foo_bar.com:8080);
        // normalization keeps only those with a '.' or ':' or localhost.
        let normalized_domain = domain.contains(['.', ':']) || domain == "localhost";
        let want_name = if !normalized_domain {
            // Normalized, the name lives on docker.io.
            if repository.contains('/') {
                format!("docker.io/{repository}")
            } else {
                format!("docker.io/library/{repository}")
            }
        } else {
            assert_eq!(r.domain(), domain, "{input:?}");
            assert_eq!(r.to_string(), input, "{input:?} prints back as written");
            repository.clone()
        };
        assert_eq!(r.name(), want_name, "{input:?}");
        assert_eq!(r.tag().unwrap_or_default(), tag, "{input:?}");
        assert_eq!(
            r.digest().map(|d| d.to_string()).unwrap_or_default(),
            digest,
            "{input:?}"
        );
    }
}

/// (source line in normalize_test.go, name, valid)
const NORMALIZED_NAMES: &[(u32, &str, bool)] = &[
    // validRepoNames (TestValidateReferenceName)
    (12, "docker/docker", true),
    (13, "library/debian", true),
    (14, "debian", true),
    (15, "docker.io/docker/docker", true),
    (16, "docker.io/library/debian", true),
    (17, "docker.io/debian", true),
    (18, "index.docker.io/docker/docker", true),
    (19, "index.docker.io/library/debian", true),
    (20, "index.docker.io/debian", true),
    (21, "127.0.0.1:5000/docker/docker", true),
    (22, "127.0.0.1:5000/library/debian", true),
    (23, "127.0.0.1:5000/debian", true),
    (
        24,
        "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev",
        true,
    ),
    (
        29,
        "docker.io/1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
        true,
    ),
    // invalidRepoNames (TestValidateReferenceName)
    (32, "https://github.com/docker/docker", false),
    (33, "docker/Docker", false),
    (34, "-docker", false),
    (35, "-docker/docker", false),
    (36, "-docker.io/docker/docker", false),
    (37, "docker///docker", false),
    (38, "docker.io/docker/Docker", false),
    (39, "docker.io/docker///docker", false),
    (
        40,
        "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
        false,
    ),
    // validRepositoryNames (TestValidateRemoteName)
    (61, "docker/docker", true),
    (
        64,
        "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev",
        true,
    ),
    (67, "docker-rules/docker", true),
    (70, "docker---rules/docker", true),
    (73, "doc/docker", true),
    (76, "d/docker", true),
    (77, "jess/t", true),
    (80, "dock__er/docker", true),
    // invalidRepositoryNames (TestValidateRemoteName)
    (91, "docker/Docker", false),
    (94, "docker///docker", false),
    (
        97,
        "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
        false,
    ),
    (100, "-docker/docker", false),
    (101, "docker-/docker", false),
    (102, "-docker-/docker", false),
    (105, "____/____", false),
    (107, "_docker/_docker", false),
    (110, "dock..er/docker", false),
    (111, "dock_.er/docker", false),
    (112, "dock-.er/docker", false),
    (115, "docker/", false),
    (
        118,
        "this_is_not_a_valid_namespace_because_its_length_is_greater_than_255_this_is_not_a_valid_namespace_because_its_length_is_greater_than_255_this_is_not_a_valid_namespace_because_its_length_is_greater_than_255_this_is_not_a_valid_namespace_because_its_length_is_greater_than_255/docker",
        false,
    ),
];

#[test]
fn validate_reference_and_remote_names() {
    for (line, name, valid) in NORMALIZED_NAMES {
        let got = Reference::parse_normalized(name);
        assert_eq!(
            got.is_ok(),
            *valid,
            "normalize_test.go:{line} {name:?}: {got:?}"
        );
    }
}

/// (line, RemoteName, FamiliarName, FullName, AmbiguousName, Domain)
const REPOSITORY_INFO: &[(u32, &str, &str, &str, &str, &str)] = &[
    (
        133,
        "fooo/bar",
        "fooo/bar",
        "docker.io/fooo/bar",
        "index.docker.io/fooo/bar",
        "docker.io",
    ),
    (
        140,
        "library/ubuntu",
        "ubuntu",
        "docker.io/library/ubuntu",
        "library/ubuntu",
        "docker.io",
    ),
    (
        147,
        "nonlibrary/ubuntu",
        "nonlibrary/ubuntu",
        "docker.io/nonlibrary/ubuntu",
        "",
        "docker.io",
    ),
    (
        154,
        "other/library",
        "other/library",
        "docker.io/other/library",
        "",
        "docker.io",
    ),
    (
        161,
        "private/moonbase",
        "127.0.0.1:8000/private/moonbase",
        "127.0.0.1:8000/private/moonbase",
        "",
        "127.0.0.1:8000",
    ),
    (
        168,
        "privatebase",
        "127.0.0.1:8000/privatebase",
        "127.0.0.1:8000/privatebase",
        "",
        "127.0.0.1:8000",
    ),
    (
        175,
        "private/moonbase",
        "example.com/private/moonbase",
        "example.com/private/moonbase",
        "",
        "example.com",
    ),
    (
        182,
        "privatebase",
        "example.com/privatebase",
        "example.com/privatebase",
        "",
        "example.com",
    ),
    (
        189,
        "private/moonbase",
        "example.com:8000/private/moonbase",
        "example.com:8000/private/moonbase",
        "",
        "example.com:8000",
    ),
    (
        196,
        "privatebasee",
        "example.com:8000/privatebasee",
        "example.com:8000/privatebasee",
        "",
        "example.com:8000",
    ),
    (
        203,
        "library/ubuntu-12.04-base",
        "ubuntu-12.04-base",
        "docker.io/library/ubuntu-12.04-base",
        "index.docker.io/library/ubuntu-12.04-base",
        "docker.io",
    ),
    (
        210,
        "library/foo",
        "foo",
        "docker.io/library/foo",
        "docker.io/foo",
        "docker.io",
    ),
    (
        217,
        "library/foo/bar",
        "library/foo/bar",
        "docker.io/library/foo/bar",
        "",
        "docker.io",
    ),
    (
        224,
        "store/foo/bar",
        "store/foo/bar",
        "docker.io/store/foo/bar",
        "",
        "docker.io",
    ),
];

#[test]
fn parse_repository_info() {
    for (line, remote, familiar, full, ambiguous, domain) in REPOSITORY_INFO {
        let mut inputs = vec![*familiar, *full];
        if !ambiguous.is_empty() {
            inputs.push(ambiguous);
        }
        for input in inputs {
            let r = Reference::parse_normalized(input)
                .unwrap_or_else(|e| panic!("normalize_test.go:{line} {input:?}: {e}"));
            assert_eq!(r.to_string(), *full, "normalize_test.go:{line} {input:?}");
            assert_eq!(r.domain(), *domain, "normalize_test.go:{line} {input:?}");
            assert_eq!(r.path(), *remote, "normalize_test.go:{line} {input:?}");
        }
    }
}

/// (line, input, domain, path)
const SPLIT_HOSTNAME: &[(u32, &str, &str, &str)] = &[
    (420, "test.com/foo", "test.com", "foo"),
    (425, "test_com/foo", "docker.io", "test_com/foo"),
    (430, "docker/migrator", "docker.io", "docker/migrator"),
    (435, "test.com:8080/foo", "test.com:8080", "foo"),
    (440, "test-com:8080/foo", "test-com:8080", "foo"),
    (445, "foo", "docker.io", "library/foo"),
    (450, "xn--n3h.com/foo", "xn--n3h.com", "foo"),
    (455, "xn--n3h.com:18080/foo", "xn--n3h.com:18080", "foo"),
    (460, "docker.io/foo", "docker.io", "library/foo"),
    (465, "docker.io/library/foo", "docker.io", "library/foo"),
    (
        470,
        "docker.io/library/foo/bar",
        "docker.io",
        "library/foo/bar",
    ),
];

#[test]
fn normalized_split_hostname() {
    for (line, input, domain, path) in SPLIT_HOSTNAME {
        let r = Reference::parse_normalized(input)
            .unwrap_or_else(|e| panic!("normalize_test.go:{line} {input:?}: {e}"));
        assert_eq!(
            (r.domain(), r.path()),
            (*domain, *path),
            "normalize_test.go:{line}"
        );
    }
}

#[test]
fn tag_and_digest_and_invalid_components() {
    // normalize_test.go:265 TestParseReferenceWithTagAndDigest
    let short =
        "busybox:latest@sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa";
    let r = Reference::parse_normalized(short).expect("valid");
    assert_eq!(r.to_string(), format!("docker.io/library/{short}"));
    assert!(r.tag().is_some() && r.digest().is_some());
    // normalize_test.go:286 TestInvalidReferenceComponents
    assert!(Reference::parse_normalized("-foo").is_err());
    let busybox = Reference::parse_normalized("busybox").expect("valid");
    assert!(busybox.with_tag("-foo").is_err());
    assert!("foo".parse::<hangar_reference::Digest>().is_err());
}

#[test]
fn containers_image_grammar_not_distributions() {
    // Where distribution/reference (>= 0.6) and containers/image's copy differ, we follow
    // containers/image, whose verdicts ours must be: no IPv6 hosts, and an upper-case first
    // component is a (refused) docker.io path, not a host.
    for input in [
        "[::1]:5000/repo",
        "[fe80::1%eth0]:5000/repo",
        "Foo/bar",
        "LOCALDOMAIN/debian",
        "Uppercase/lowercase:tag",
    ] {
        assert!(Reference::parse_normalized(input).is_err(), "{input:?}");
    }
}
