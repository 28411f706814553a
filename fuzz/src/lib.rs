//! The bodies of the fuzz targets: every parser of untrusted input, with the round-trip
//! properties that hold. Each function must never panic, whatever `data` is; a panic or a
//! failed property is a finding (`cargo xtask fuzz`, see fuzz/README.md).

use hangar_imagelist::{EntryKind, Overrides};
use hangar_policy::Policy;
use hangar_reference::{Digest, Reference};
use hangar_signature::{
    PrivateKey, PublicKey, parse_payload, payload_bytes, verify, verify_bundle,
};
use hangar_validate::PlatformFilter;

fn text(data: &[u8]) -> &str {
    std::str::from_utf8(data).unwrap_or("")
}

/// A fixed trusted key for the signature targets.
fn lab_key() -> PublicKey {
    PublicKey::from_pem(include_bytes!(
        "../../crates/hangar-signature/tests/data/lab.pub"
    ))
    .expect("lab.pub")
}

/// Reference grammar: what parses prints back to a string that parses to the same value.
pub fn reference(data: &[u8]) {
    let s = text(data);
    if let Ok(r) = Reference::parse_normalized(s) {
        let again = Reference::parse_normalized(&r.to_string())
            .unwrap_or_else(|e| panic!("{r} does not parse again: {e}"));
        assert_eq!(again, r);
        let _ = (r.repository(), r.domain(), r.path(), r.request_ref());
        if let Some(d) = r.digest() {
            assert_eq!(d.to_string().parse::<Digest>().as_ref(), Ok(d));
            let _ = d.signature_tag();
        }
    }
    if let Ok(d) = s.parse::<Digest>() {
        assert_eq!(d.to_string(), s, "digests are kept exactly as written");
    }
}

/// Image lists, with overrides taken from the first line: every kept line comes back once,
/// numbered in order, and every image line parses again after printing.
pub fn imagelist(data: &[u8]) {
    let s = text(data);
    let (head, body) = s.split_once('\n').unwrap_or(("", s));
    let mut parts = head.splitn(2, ' ');
    let overrides = Overrides {
        registry: parts.next().filter(|p| !p.is_empty()).map(str::to_owned),
        project: parts.next().filter(|p| !p.is_empty()).map(str::to_owned),
    };
    let mut last = (0, 0);
    for e in hangar_imagelist::entries(body.lines(), &overrides) {
        assert_eq!(e.id, last.0 + 1);
        assert!(e.line_number > last.1);
        last = (e.id, e.line_number);
        assert!(
            body.lines()
                .nth(e.line_number - 1)
                .is_some_and(|l| l.trim_start_matches('\u{feff}').trim() == e.line)
        );
        if let EntryKind::Image(r) = &e.kind {
            assert_eq!(Reference::parse_normalized(&r.to_string()).as_ref(), Ok(r));
        }
        let _ = hangar_imagelist::rewrite(&e.line, &overrides);
    }
    // The raw bytes (any encoding): every line is kept or dropped, never lost, and the
    // numbering stays in order.
    let mut last = (0, 0);
    for e in hangar_imagelist::entries_from_bytes(data, &overrides) {
        assert_eq!(e.id, last.0 + 1);
        assert!(e.line_number > last.1);
        last = (e.id, e.line_number);
    }
}

/// The strict simple-signing payload parser; what it accepts, `payload_bytes` writes back
/// to bytes it accepts with the same meaning.
pub fn payload(data: &[u8]) {
    if let Ok(p) = parse_payload(data) {
        let (Some(creator), Some(ts)) = (&p.creator, p.timestamp) else {
            return;
        };
        let again = payload_bytes(&p.docker_manifest_digest, &p.docker_reference, creator, ts);
        assert_eq!(parse_payload(&again).as_ref(), Ok(&p));
    }
}

/// Manifests and indexes as the registry sends them: our index reader (all platforms and
/// the default filter) and the oci-spec image manifest reader used for attachments.
pub fn manifest(data: &[u8]) {
    let everything = PlatformFilter::new(Vec::<String>::new(), Vec::<String>::new());
    for filter in [PlatformFilter::default(), everything] {
        if let Ok(entries) = hangar_validate::index_entries(data, &filter) {
            for (platform, digest) in entries {
                let _ = (platform.to_string(), digest.signature_tag());
            }
        }
    }
    if let Ok(m) = oci_spec::image::ImageManifest::from_reader(data) {
        for layer in m.layers() {
            let _ = (
                layer.media_type().to_string(),
                layer.digest().to_string(),
                layer.size(),
            );
            let _ = layer.annotations().as_ref().map(|a| a.len());
        }
    }
}

/// `WWW-Authenticate` headers.
pub fn challenge(data: &[u8]) {
    for c in hangar_registry::challenge::parse(text(data)) {
        let _ = (c.param("realm"), c.param("service"), c.param("scope"));
    }
}

/// containers policy.json: when it loads, scope lookups work for any image; and the same
/// document with any one object's first member repeated never loads (containers/image
/// refuses duplicate members at every level).
pub fn policy(data: &[u8]) {
    if let Ok(p) = Policy::from_json(data) {
        let _ = p.all_requirements().count();
        if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) {
            let text = value.to_string();
            let objects: Vec<usize> = text.match_indices("{\"").map(|(i, _)| i).collect();
            if !objects.is_empty() {
                let at = objects[data.len() % objects.len()] + 1;
                let end = at + member_len(&text[at..]);
                let duplicated = format!("{},{}", &text[..end], &text[at..]);
                assert!(
                    Policy::from_json(duplicated.as_bytes()).is_err(),
                    "a duplicated member was accepted: {duplicated}"
                );
            }
        }
        for image in [
            "docker.io/library/busybox:latest",
            "r.example:5000/a/b@sha256:0123456789012345678901234567890123456789012345678901234567890123",
        ] {
            if let Ok(r) = Reference::parse_normalized(image) {
                let _ = p.requirements_for(&r).len();
            }
        }
    }
}

/// The length of the `"key":value` member at the start of `s` (compact JSON, value
/// balanced).
fn member_len(s: &str) -> usize {
    let (mut depth, mut in_str, mut escaped) = (0i32, false, false);
    let mut past_colon = false;
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_str => escaped = true,
            '"' => in_str = !in_str,
            ':' if !in_str && depth == 0 => past_colon = true,
            '{' | '[' if !in_str => depth += 1,
            '}' | ']' if !in_str && depth > 0 => depth -= 1,
            ',' | '}' | ']' if !in_str && depth == 0 && past_colon => return i,
            _ => {}
        }
    }
    s.len()
}

/// Public key PEM files (`PUBLIC KEY`, `RSA PUBLIC KEY`); a loaded key checks any signature
/// without panicking.
pub fn public_key(data: &[u8]) {
    if let Ok(k) = PublicKey::from_pem(data) {
        assert_eq!(k.fingerprint().len(), 64);
        let _ = k.algorithm();
        let _ = verify(std::slice::from_ref(&k), data, Some("MEUCIQD+"));
    }
}

/// Encrypted cosign private keys, with a fixed passphrase.
pub fn private_key(data: &[u8]) {
    if let Ok(k) = PrivateKey::from_encrypted_pem(data, b"fuzz") {
        let _ = k.public_key_pem();
    }
}

/// Sigstore bundles and simple-signing signatures (`SIGNATURE\nPAYLOAD`). The lab key has
/// signed simple-signing payloads only, never a DSSE envelope, so no bundle the fuzzer
/// makes can verify with it; a simple signature that verifies has a payload that parses.
pub fn bundle(data: &[u8]) {
    let keys = [lab_key()];
    assert!(
        verify_bundle(&keys, data).is_err(),
        "a fuzzed bundle verified"
    );
    let (sig, payload) = text(data).split_once('\n').unwrap_or(("", ""));
    if let Ok(v) = verify(&keys, payload.as_bytes(), Some(sig)) {
        assert_eq!(parse_payload(payload.as_bytes()).as_ref(), Ok(v.payload()));
    }
}

#[cfg(test)]
mod tests {
    /// The targets on a few seeds, so that a property that fails on plain input shows up
    /// without a fuzzing run (`cargo test` in fuzz/).
    #[test]
    fn seeds() {
        for doc in [
            r#"{"default":[{"type":"reject"}]}"#,
            r#"{"default":[{"type":"sigstoreSigned","keyPath":"/k","signedIdentity":{"type":"remapIdentity","prefix":"a.io","signedPrefix":"b.io"}}],"transports":{"docker":{"a.io/x":[{"type":"insecureAcceptAnything"}]}}}"#,
        ] {
            for pad in 0..12 {
                let data = format!("{doc}{}", " ".repeat(pad));
                super::policy(data.as_bytes());
            }
        }
    }
}
