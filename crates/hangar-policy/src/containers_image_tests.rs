//! containers/image's own identity-rule tests, as data: every table of
//! `signature/policy_reference_match_test.go` (containers/image at commit df7e80d2), each row
//! with its source line, run through [`SignedIdentity::matches`] with the helpers' logic
//! (`testImageAndSig`, `testPossiblyInvalidImageAndSig`, `testExactPRMAndSig`,
//! `prmRemapIdentityMRDOETestCase`) translated.
//!
//! Left out: `TestParseImageAndDockerReference` and `TestParseDockerReferences` (Go helpers we
//! do not have; their failure rows are covered by the "invalid format" rows below) and the
//! "unidentified image" checks (our API cannot express an image without a reference).
//! Rows whose `exactReference` / `exactRepository` value our constructors refuse (the Go tests
//! build unvalidated structs) must expect `false`, which is what an invalid value gives there.

use super::*;

/// (line, refA, refB, result): symmetric.
const EXACT: &[(u32, &str, &str, bool)] = &[
    (93, "busybox:latest", "busybox:latest", true),
    (
        94,
        "registry.access.redhat.com/rhel7/rhel:7.2.3",
        "registry.access.redhat.com/rhel7/rhel:7.2.3",
        true,
    ),
    (
        95,
        "busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        true,
    ),
    (97, "library/busybox:latest", "busybox:latest", true),
    (
        98,
        "docker.io/library/busybox:latest",
        "busybox:latest",
        true,
    ),
    (
        99,
        "library/busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        true,
    ),
    (101, "busybox:latest", "busybox:notlatest", false),
    (102, "busybox:latest", "notbusybox:latest", false),
    (
        103,
        "busybox:latest",
        "hostname/library/busybox:notlatest",
        false,
    ),
    (
        104,
        "hostname/library/busybox:latest",
        "busybox:notlatest",
        false,
    ),
    (
        105,
        "busybox:latest",
        "registry.access.redhat.com/rhel7/rhel:7.2.3",
        false,
    ),
    (
        106,
        "busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "notbusybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        false,
    ),
    (
        107,
        "busybox:latest",
        "busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        false,
    ),
    (
        108,
        "busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "busybox@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        false,
    ),
    (110, "busybox", "busybox:latest", false),
    (
        111,
        "busybox",
        "busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        false,
    ),
    (112, "busybox", "busybox", false),
    (
        115,
        "busybox:latest@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "busybox:latest@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        true,
    ),
    (
        116,
        "busybox:latest@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "busybox:latest@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        false,
    ),
    (
        117,
        "busybox:latest@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "busybox:notlatest@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        false,
    ),
    (
        118,
        "busybox:latest@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        false,
    ),
    (
        119,
        "busybox:latest@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "busybox:latest",
        false,
    ),
    (
        121,
        "UPPERCASE_IS_INVALID_IN_DOCKER_REFERENCES",
        "busybox:latest",
        false,
    ),
    (122, "", "UPPERCASE_IS_INVALID_IN_DOCKER_REFERENCES", false),
    (124, "INVALID", "INVALID", false),
];

/// (line, refA, refB, result): symmetric.
const REPOSITORY: &[(u32, &str, &str, bool)] = &[
    (130, "busybox:latest", "busybox:latest", true),
    (
        131,
        "registry.access.redhat.com/rhel7/rhel:7.2.3",
        "registry.access.redhat.com/rhel7/rhel:7.2.3",
        true,
    ),
    (
        132,
        "busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        true,
    ),
    (134, "library/busybox:latest", "busybox:latest", true),
    (
        135,
        "docker.io/library/busybox:latest",
        "busybox:latest",
        true,
    ),
    (
        136,
        "library/busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        true,
    ),
    (138, "busybox:latest", "busybox:notlatest", true),
    (
        139,
        "registry.access.redhat.com/rhel7/rhel:7.2.3tagsuffix",
        "registry.access.redhat.com/rhel7/rhel:7.2.3",
        true,
    ),
    (140, "library/busybox:latest", "busybox:notlatest", true),
    (141, "busybox:latest", "library/busybox:notlatest", true),
    (
        142,
        "docker.io/library/busybox:notlatest",
        "busybox:latest",
        true,
    ),
    (
        143,
        "busybox:notlatest",
        "docker.io/library/busybox:latest",
        true,
    ),
    (
        144,
        "busybox:latest",
        "busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        true,
    ),
    (
        145,
        "busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "busybox@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        true,
    ),
    (147, "busybox", "busybox:notlatest", true),
    (
        148,
        "registry.access.redhat.com/rhel7/rhel:7.2.3",
        "registry.access.redhat.com/rhel7/rhel",
        true,
    ),
    (
        149,
        "busybox",
        "busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        true,
    ),
    (150, "library/busybox", "busybox", true),
    (151, "docker.io/library/busybox", "busybox", true),
    (153, "busybox:latest", "notbusybox:latest", false),
    (
        154,
        "hostname/library/busybox:latest",
        "busybox:notlatest",
        false,
    ),
    (
        155,
        "busybox:latest",
        "registry.access.redhat.com/rhel7/rhel:7.2.3",
        false,
    ),
    (
        156,
        "busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "notbusybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        false,
    ),
    (
        158,
        "busybox:latest@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "busybox:latest@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        true,
    ),
    (
        159,
        "busybox:latest@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "busybox:latest@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        true,
    ),
    (
        160,
        "busybox:latest@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "busybox:notlatest@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        true,
    ),
    (
        161,
        "busybox:latest@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        true,
    ),
    (
        162,
        "busybox:latest@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "busybox:latest",
        true,
    ),
    (
        164,
        "UPPERCASE_IS_INVALID_IN_DOCKER_REFERENCES",
        "busybox:latest",
        false,
    ),
    (165, "", "UPPERCASE_IS_INVALID_IN_DOCKER_REFERENCES", false),
    (167, "INVALID", "INVALID", false),
];

/// (line, imageRef, sigRef, result)
const MRDOE: &[(u32, &str, &str, bool)] = &[
    (176, "busybox:latest", "busybox:notlatest", false),
    (
        177,
        "registry.access.redhat.com/rhel7/rhel:7.2.3tagsuffix",
        "registry.access.redhat.com/rhel7/rhel:7.2.3",
        false,
    ),
    (178, "library/busybox:latest", "busybox:notlatest", false),
    (179, "busybox:latest", "library/busybox:notlatest", false),
    (
        180,
        "docker.io/library/busybox:notlatest",
        "busybox:latest",
        false,
    ),
    (
        181,
        "busybox:notlatest",
        "docker.io/library/busybox:latest",
        false,
    ),
    (183, "busybox", "busybox:latest", false),
    (184, "busybox:latest", "busybox", false),
    (
        185,
        "busybox",
        "busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        false,
    ),
    (
        186,
        "busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "busybox",
        false,
    ),
    (
        187,
        "registry.access.redhat.com/rhel7/rhel:7.2.3",
        "registry.access.redhat.com/rhel7/rhel",
        false,
    ),
    (188, "busybox", "busybox", false),
    (
        190,
        "busybox:latest",
        "busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        false,
    ),
    (
        192,
        "busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "busybox:latest",
        true,
    ),
    (
        193,
        "busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "busybox@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        true,
    ),
    (
        195,
        "busybox:latest@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "busybox:latest",
        false,
    ),
    (
        196,
        "busybox:latest@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "busybox:notlatest",
        false,
    ),
    (
        197,
        "busybox:latest",
        "busybox:latest@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        false,
    ),
    (
        198,
        "busybox:latest@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "busybox:latest@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        false,
    ),
    (
        199,
        "busybox:latest@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "busybox:notlatest@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        false,
    ),
];

/// (line, ref, prefix, matches)
const PREFIX: &[(u32, &str, &str, bool)] = &[
    (374, "docker.io/image", "docker.io", true),
    (375, "docker.io/image", "example.com", false),
    (376, "example.com:5000/image", "example.com:5000", true),
    (377, "example.com:50000/image", "example.com:5000", false),
    (378, "example.com:5000/image", "example.com", false),
    (379, "example.com/foo", "example.com", true),
    (380, "example.com/foo/bar", "example.com", true),
    (381, "example.com/foo/bar:baz", "example.com", true),
    (
        382,
        "example.com/foo/bar@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "example.com",
        true,
    ),
    (384, "docker.io/ns/image", "docker.io/library", false),
    (385, "example.com/library", "docker.io/library", false),
    (386, "docker.io/libraryy/image", "docker.io/library", false),
    (387, "docker.io/library/busybox", "docker.io/library", true),
    (388, "example.com/ns/image", "example.com/ns", true),
    (389, "example.com/ns2/image", "example.com/ns", false),
    (390, "example.com/n2/image", "example.com/ns", false),
    (391, "example.com", "example.com/library/busybox", false),
    (392, "example.com:5000/ns/image", "example.com/ns", false),
    (393, "example.com/ns/image", "example.com:5000/ns", false),
    (
        394,
        "docker.io/library/busybox",
        "docker.io/library/busybox",
        true,
    ),
    (
        395,
        "example.com/library/busybox",
        "docker.io/library/busybox",
        false,
    ),
    (
        396,
        "docker.io/library/busybox2",
        "docker.io/library/busybox",
        false,
    ),
    (397, "example.com/ns/image", "example.com/ns/image", true),
    (398, "example.com/ns/imag2", "example.com/ns/image", false),
    (399, "example.com/ns/imagee", "example.com/ns/image", false),
    (
        400,
        "example.com:5000/ns/image",
        "example.com/ns/image",
        false,
    ),
    (
        401,
        "example.com/ns/image",
        "example.com:5000/ns/image",
        false,
    ),
    (
        402,
        "example.com/ns/image:tag",
        "example.com/ns/image",
        true,
    ),
    (
        403,
        "example.com/ns/image@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "example.com/ns/image",
        true,
    ),
    (
        404,
        "example.com/ns/image:tag@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "example.com/ns/image",
        true,
    ),
];

/// (line, prefix, signedPrefix, ref, rewritten or "" for an error)
const REWRITE: &[(u32, &str, &str, &str, &str)] = &[
    (
        418,
        "mirror.example",
        "vendor.example",
        "mirror.example/ns/image:tag",
        "vendor.example/ns/image:tag",
    ),
    (
        419,
        "mirror.example",
        "vendor.example",
        "different.com/ns/image:tag",
        "different.com/ns/image:tag",
    ),
    (
        420,
        "mirror.example/ns",
        "vendor.example/vendor-ns",
        "mirror.example/different-ns/image:tag",
        "mirror.example/different-ns/image:tag",
    ),
    (
        421,
        "docker.io",
        "not-docker-signed.example/ns",
        "busybox",
        "not-docker-signed.example/ns/library/busybox",
    ),
    (
        423,
        "mirror.example",
        "vendor.example",
        "mirror.example/ns/image:tag",
        "vendor.example/ns/image:tag",
    ),
    (
        424,
        "example.com/mirror",
        "example.com/vendor",
        "example.com/mirror/image:tag",
        "example.com/vendor/image:tag",
    ),
    (
        425,
        "example.com/ns/mirror",
        "example.com/ns/vendor",
        "example.com/ns/mirror:tag",
        "example.com/ns/vendor:tag",
    ),
    (
        426,
        "mirror.example",
        "vendor.example",
        "prefixmirror.example/ns/image:tag",
        "prefixmirror.example/ns/image:tag",
    ),
    (
        427,
        "docker.io",
        "not-docker-signed.example",
        "busybox",
        "not-docker-signed.example/library/busybox",
    ),
    (
        428,
        "docker.io/library",
        "not-docker-signed.example/ns",
        "busybox",
        "not-docker-signed.example/ns/busybox",
    ),
    (
        429,
        "docker.io/library/busybox",
        "not-docker-signed.example/ns/notbusybox",
        "busybox",
        "not-docker-signed.example/ns/notbusybox",
    ),
    (
        431,
        "mirror.example",
        "vendor.example",
        "mirror.example/image",
        "vendor.example/image",
    ),
    (
        432,
        "mirror.example",
        "vendor.example",
        "mirror.example/image:tag",
        "vendor.example/image:tag",
    ),
    (
        433,
        "mirror.example",
        "vendor.example",
        "mirror.example/image@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "vendor.example/image@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    ),
    (
        434,
        "mirror.example",
        "vendor.example",
        "mirror.example/image:tag@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "vendor.example/image:tag@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    ),
    (
        436,
        "mirror.example/ns/image",
        "vendor.example:5000",
        "mirror.example/ns/image:tag",
        "",
    ),
    (
        438,
        "mirror.example/ns/image",
        "vendor.example:5000",
        "mirror.example/ns/image@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "",
    ),
    (
        439,
        "mirror.example/ns/image",
        "notlocalhost",
        "mirror.example/ns/image:tag",
        "",
    ),
];

/// (line, prefix, signedPrefix, imageRef, sigRef, result)
const REMAP: &[(u32, &str, &str, &str, &str, bool)] = &[
    (
        505,
        "does-not-match.com",
        "does-not-match.rewritten",
        "busybox:latest",
        "busybox:latest",
        true,
    ),
    (
        506,
        "does-not-match.com",
        "does-not-match.rewritten",
        "busybox:latest",
        "notbusybox:latest",
        false,
    ),
    (
        508,
        "mirror.example",
        "public.com",
        "mirror.example/busybox:1",
        "public.com/busybox:1",
        true,
    ),
    (
        509,
        "mirror.example",
        "public.com",
        "mirror.example/busybox:1",
        "public.com/busybox:not1",
        false,
    ),
    (
        511,
        "mirror.example",
        "docker.io/library",
        "mirror.example/busybox:latest",
        "busybox:latest",
        true,
    ),
    (
        512,
        "mirror.example",
        "docker.io/library",
        "mirror.example/alpine:latest",
        "busybox:latest",
        false,
    ),
    (
        514,
        "docker.io/library",
        "original.com",
        "copied:latest",
        "original.com/copied:latest",
        true,
    ),
    (
        515,
        "docker.io/library",
        "original.com",
        "copied:latest",
        "original.com/ns/copied:latest",
        false,
    ),
    (
        517,
        "busybox",
        "example.com/busybox",
        "busybox:latest",
        "example.com/busybox:latest",
        false,
    ),
    (
        519,
        "docker.io/library/busybox",
        "busybox",
        "docker.io/library/busybox:latest",
        "busybox:latest",
        false,
    ),
    (
        521,
        "UPPERCASE",
        "example.com",
        "example.com/foo:latest",
        "example.com/foo:latest",
        true,
    ),
    (
        522,
        "example.com",
        "UPPERCASE",
        "example.com/foo:latest",
        "UPPERCASE/foo:latest",
        false,
    ),
];

/// `testImageAndSig`: the image reference must be valid.
#[track_caller]
fn image_and_sig(rule: &SignedIdentity, line: u32, image: &str, sig: &str, want: bool) {
    let intended = Reference::parse_normalized(image)
        .unwrap_or_else(|e| panic!("line {line}: image {image:?}: {e}"));
    assert_eq!(
        rule.matches(&intended, sig),
        want,
        "policy_reference_match_test.go:{line}: {rule:?}: {image} vs. {sig}"
    );
}

/// `testPossiblyInvalidImageAndSig`: rows with an invalid image reference are skipped.
#[track_caller]
fn possibly_invalid(rule: &SignedIdentity, line: u32, image: &str, sig: &str, want: bool) {
    if Reference::parse_normalized(image).is_ok() {
        image_and_sig(rule, line, image, sig, want);
    }
}

#[test]
fn match_exact() {
    for &(line, a, b, want) in EXACT {
        possibly_invalid(&SignedIdentity::MatchExact, line, a, b, want);
        possibly_invalid(&SignedIdentity::MatchExact, line, b, a, want);
    }
}

#[test]
fn match_repo_digest_or_exact() {
    let rule = SignedIdentity::MatchRepoDigestOrExact;
    for &(line, a, b, want) in EXACT.iter().filter(|r| r.3) {
        possibly_invalid(&rule, line, a, b, want);
        possibly_invalid(&rule, line, b, a, want);
    }
    for &(line, a, b, want) in REPOSITORY.iter().filter(|r| !r.3) {
        possibly_invalid(&rule, line, a, b, want);
        possibly_invalid(&rule, line, b, a, want);
    }
    for &(line, image, sig, want) in MRDOE {
        image_and_sig(&rule, line, image, sig, want);
    }
}

#[test]
fn match_repository() {
    for &(line, a, b, want) in REPOSITORY {
        possibly_invalid(&SignedIdentity::MatchRepository, line, a, b, want);
        possibly_invalid(&SignedIdentity::MatchRepository, line, b, a, want);
    }
}

/// `testExactPRMAndSig`: the rule is built from the first reference. Any image will do:
/// these rules never look at it.
#[track_caller]
fn exact_rule(
    build: fn(&str) -> Result<SignedIdentity, ParseError>,
    line: u32,
    rule_ref: &str,
    sig: &str,
    want: bool,
) {
    let any = Reference::parse_normalized("unrelated.example/any:1").expect("valid");
    match build(rule_ref) {
        Ok(rule) => assert_eq!(
            rule.matches(&any, sig),
            want,
            "policy_reference_match_test.go:{line}: {rule_ref} vs. {sig}"
        ),
        Err(_) => assert!(
            !want,
            "policy_reference_match_test.go:{line}: {rule_ref:?} refused but expected to match"
        ),
    }
}

#[test]
fn exact_reference() {
    for &(line, a, b, want) in EXACT {
        exact_rule(SignedIdentity::exact_reference, line, a, b, want);
        exact_rule(SignedIdentity::exact_reference, line, b, a, want);
    }
}

#[test]
fn exact_repository() {
    for &(line, a, b, want) in REPOSITORY {
        exact_rule(SignedIdentity::exact_repository, line, a, b, want);
        exact_rule(SignedIdentity::exact_repository, line, b, a, want);
    }
}

#[test]
fn remap_identity_ref_matches_prefix() {
    for &(line, r, prefix, want) in PREFIX {
        SignedIdentity::remap_identity(prefix, "docker.io/library/signed-prefix")
            .unwrap_or_else(|e| panic!("line {line}: {e}"));
        let r = Reference::parse_normalized(r).expect("valid");
        assert_eq!(
            ref_matches_prefix(&r, prefix),
            want,
            "policy_reference_match_test.go:{line}: {r} vs. {prefix}"
        );
    }
}

#[test]
fn remap_identity_remap_reference_prefix() {
    for &(line, prefix, signed_prefix, r, want) in REWRITE {
        SignedIdentity::remap_identity(prefix, signed_prefix)
            .unwrap_or_else(|e| panic!("line {line}: {e}"));
        let r = Reference::parse_normalized(r).expect("valid");
        let got = SignedIdentity::remap(prefix, signed_prefix, &r).map(|r| r.to_string());
        if want.is_empty() {
            assert!(
                got.is_err(),
                "policy_reference_match_test.go:{line}: {got:?}"
            );
        } else {
            assert_eq!(
                got.as_deref(),
                Ok(want),
                "policy_reference_match_test.go:{line}"
            );
        }
    }
}

/// `modifiedString`: the first letter moved on by one.
fn modified(s: &str) -> String {
    let mut chars = s.chars();
    let first = chars.next().expect("non-empty");
    let next = match first {
        'a'..='y' => char::from(first as u8 + 1),
        'z' => 'a',
        other => panic!("unimplemented leading character {other:?}"),
    };
    format!("{next}{}", chars.as_str())
}

/// `prmRemapIdentityMRDOETestCase`: remapIdentity behaves as matchRepoDigestOrExact, with
/// and without a rewrite.
fn remap_as_mrdoe(line: u32, ignore_invalid: bool, image: &str, sig: &str, want: bool) {
    let Ok(parsed) = Reference::parse_normalized(image) else {
        assert!(ignore_invalid, "line {line}: {image:?} invalid");
        return;
    };
    let none = SignedIdentity::remap_identity(
        "never-causes-a-rewrite.example",
        "never-causes-a-rewrite.example",
    )
    .expect("valid");
    image_and_sig(&none, line, image, sig, want);
    let domain = parsed.domain();
    let rewrite = SignedIdentity::remap_identity(&modified(domain), domain).expect("valid");
    let modified_image =
        Reference::parse_normalized(&modified(&parsed.to_string())).expect("valid modified image");
    image_and_sig(&rewrite, line, &modified_image.to_string(), sig, want);
}

#[test]
fn remap_identity_matches_docker_reference() {
    for &(line, prefix, signed_prefix, image, sig, want) in REMAP {
        // Built directly, as the Go test does, to include invalid prefixes.
        let rule = SignedIdentity::RemapIdentity {
            prefix: prefix.to_owned(),
            signed_prefix: signed_prefix.to_owned(),
        };
        image_and_sig(&rule, line, image, sig, want);
    }
    for &(line, a, b, want) in EXACT.iter().filter(|r| r.3) {
        remap_as_mrdoe(line, true, a, b, want);
        remap_as_mrdoe(line, true, b, a, want);
    }
    for &(line, a, b, want) in REPOSITORY.iter().filter(|r| !r.3) {
        remap_as_mrdoe(line, true, a, b, want);
        remap_as_mrdoe(line, true, b, a, want);
    }
    for &(line, image, sig, want) in MRDOE {
        remap_as_mrdoe(line, false, image, sig, want);
    }
}

#[test]
fn remap_prefixes_refused_as_containers_image_refuses_them() {
    // policy_config_test.go (TestNewPRMRemapIdentity / validateIdentityRemappingPrefix).
    for ok in [
        "example.com",
        "example.com:5000",
        "example.com/ns",
        "docker.io/library",
        "docker.io/library/busybox",
        "UPPERCASE",
        "notlocalhost",
        // Not refused there either (its FIXME): a first component without '.' passes the
        // domain pattern.
        "ns/image",
    ] {
        assert!(valid_remap_prefix(ok), "{ok:?}");
    }
    for bad in [
        "repo_with_underscores",
        "example.com/",
        "example.com/UPPER",
        "example.com/ns:tag",
        "example.com/ns@sha256:0000",
        "",
        "[::1]:5000",
    ] {
        assert!(!valid_remap_prefix(bad), "{bad:?}");
        assert!(SignedIdentity::remap_identity(bad, "example.com").is_err());
        assert!(SignedIdentity::remap_identity("example.com", bad).is_err());
    }
}
