//! `hangar sign validate`: keys and identity rule, then one [`Validator`] call per line.

use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use std::collections::HashMap;

use hangar_policy::{KeySource, Policy, Requirement, SignedIdentity};
use hangar_reference::Reference;
use hangar_registry::Deadline;
use hangar_signature::PublicKey;
use hangar_sigstore::{
    CertificateIdentity, ChainCache, GithubClaims, KeylessPolicy, Matcher, TrustedRoot,
};
use hangar_validate::{
    ImageResult, RejectionKind, SignatureCache, SigstoreTrust, Validator, Verdict,
};
use serde_json::{Value, json};

use crate::output::Input;
use crate::runner::{self, Labels, LineResult, LineVerdict};
use crate::{EXIT_SETUP, ValidateArgs, log};

const LABELS: Labels = Labels {
    done: "Validated",
    failed_title: "Signature validate failed image list:",
};

/// What decides acceptance: `-p`/`-k` keys (and keyless identities) with one identity
/// rule, or a policy.json.
enum Mode {
    Keys(Vec<PublicKey>, SignedIdentity),
    Policy(Policy, HashMap<KeySource, PublicKey>, PolicyTrusts),
}

/// The Sigstore trust each `sigstoreSigned` requirement with `fulcio`, `pki` or Rekor keys
/// needs, keyed by the requirement's address in the loaded policy.
type PolicyTrusts = HashMap<usize, Sigstore>;

fn requirement_key(r: &Requirement) -> usize {
    std::ptr::from_ref(r) as usize
}

/// Sigstore trust material and rules, loaded before any traffic.
struct Sigstore {
    root: TrustedRoot,
    keyless: Option<KeylessPolicy>,
    require_tlog: bool,
}

impl Sigstore {
    fn trust<'a>(&'a self, chains: &'a ChainCache) -> SigstoreTrust<'a> {
        SigstoreTrust {
            root: &self.root,
            keyless: self.keyless.as_ref(),
            require_tlog: self.require_tlog,
            chains: Some(chains),
        }
    }
}

pub(crate) fn run(args: &ValidateArgs) -> ExitCode {
    let (setup, mode, sigstore) = match prepare(args) {
        Ok(s) => s,
        Err(e) => {
            log::fatal(&format!("{e:#}"));
            return ExitCode::from(EXIT_SETUP);
        }
    };
    // Lines of the same repository share their signature fetches (tags of one release, a
    // tag and its digest); repositories named once are not cached, so memory stays flat.
    let cache = SignatureCache::only_for(repeated_repositories(&setup.entries));
    // A release is signed by a handful of certificates: each path is checked once.
    let chains = ChainCache::default();
    let trust = sigstore.as_ref().map(|s| s.trust(&chains));
    let check = |keys: &[PublicKey],
                 identity: &SignedIdentity,
                 trust: Option<SigstoreTrust<'_>>,
                 image: &Reference,
                 deadline: Deadline| {
        let validator = Validator {
            require_index_signature: args.validate_manifest_index,
            accept_unnamed_signatures: args.accept_unnamed_signatures,
            cache: Some(&cache),
            sigstore: trust,
            ..Validator::new(&setup.client, keys, identity, &setup.platforms)
        };
        validator.validate(image, deadline)
    };
    runner::run(&setup, &LABELS, |id, image, deadline| {
        let result = match &mode {
            Mode::Keys(keys, identity) => check(keys, identity, trust, image, deadline),
            Mode::Policy(policy, loaded, trusts) => by_policy(policy, loaded, image, |r, k, i| {
                // A requirement's own trust (fulcio, pki, Rekor keys), else the flags'.
                let t = trusts
                    .get(&requirement_key(r))
                    .map(|s| s.trust(&chains))
                    .or(trust);
                check(k, i, t, image, deadline)
            }),
        };
        report_line(result, id, image, args.report.is_some())
    })
}

/// The repositories that more than one image line names.
fn repeated_repositories(entries: &[hangar_imagelist::Entry]) -> Vec<String> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    for e in entries {
        if let hangar_imagelist::EntryKind::Image(r) = &e.kind {
            *seen.entry(r.repository().to_string()).or_default() += 1;
        }
    }
    seen.into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(repo, _)| repo)
        .collect()
}

/// Every requirement of the image's scope must accept it (containers/image semantics).
fn by_policy(
    policy: &Policy,
    loaded: &HashMap<KeySource, PublicKey>,
    image: &Reference,
    check: impl Fn(&Requirement, &[PublicKey], &SignedIdentity) -> ImageResult,
) -> ImageResult {
    let mut last = ImageResult {
        verdict: Verdict::Passed,
        reason: None,
        platforms: Vec::new(),
    };
    for requirement in policy.requirements_for(image) {
        let result = match requirement {
            Requirement::InsecureAcceptAnything => continue,
            Requirement::SigstoreSigned {
                keys,
                signed_identity,
                ..
            } => {
                let keys: Vec<PublicKey> =
                    keys.iter().filter_map(|k| loaded.get(k).cloned()).collect();
                check(requirement, &keys, signed_identity)
            }
            // Reject, and any requirement kind a newer library may add: fail closed.
            _ => ImageResult {
                verdict: Verdict::Failed,
                reason: Some(format!("Running image {image} is rejected by policy.")),
                platforms: Vec::new(),
            },
        };
        if result.verdict == Verdict::Failed {
            return result;
        }
        last = result;
    }
    last
}

fn prepare(args: &ValidateArgs) -> Result<(runner::ListSetup, Mode, Option<Sigstore>)> {
    // Every file the run reads; no output may be one of them.
    let mut inputs: Vec<Input<'_>> = args
        .pubkeys
        .iter()
        .map(|p| Input {
            flag: "--sigstore-pubkey",
            path: p,
        })
        .chain(args.key.iter().map(|p| Input {
            flag: "--key",
            path: p,
        }))
        .collect();
    let sigstore = sigstore(args, &mut inputs)?;
    let mut policy_key_paths: Vec<std::path::PathBuf> = Vec::new();
    let mode = match &args.policy {
        Some(path) => {
            let bytes = std::fs::read(path)
                .with_context(|| format!("reading policy {}", path.display()))?;
            let policy =
                Policy::from_json(&bytes).with_context(|| format!("policy {}", path.display()))?;
            let mut loaded = HashMap::new();
            let mut trusts = PolicyTrusts::new();
            let mut read = |source: &KeySource, what: &str| -> Result<Vec<u8>> {
                match source {
                    KeySource::Path(p) => {
                        policy_key_paths.push(p.into());
                        std::fs::read(p).with_context(|| format!("reading policy {what} {p}"))
                    }
                    KeySource::Data(d) => Ok(d.clone()),
                    other => anyhow::bail!("unsupported key source {other:?}"),
                }
            };
            for requirement in policy.all_requirements() {
                if let Requirement::SigstoreSigned {
                    keys,
                    fulcio,
                    pki,
                    rekor_keys,
                    ..
                } = requirement
                {
                    for source in keys {
                        let pem = read(source, "key")?;
                        let key = PublicKey::from_pem(&pem)
                            .with_context(|| format!("policy key {source:?}"))?;
                        loaded.insert(source.clone(), key);
                    }
                    if let Some(t) =
                        policy_trust(fulcio.as_deref(), pki.as_deref(), rekor_keys, &mut read)?
                    {
                        trusts.insert(requirement_key(requirement), t);
                    }
                }
            }
            Mode::Policy(policy, loaded, trusts)
        }
        None => {
            let mut keys = Vec::new();
            for path in args.pubkeys.iter().chain(&args.key) {
                let pem = std::fs::read(path)
                    .with_context(|| format!("reading sigstore public key {}", path.display()))?;
                keys.push(
                    PublicKey::from_pem(&pem)
                        .with_context(|| format!("sigstore public key {}", path.display()))?,
                );
            }
            // cosign (and so hangar v1.9) writes docker-reference as the repository without
            // a tag and never checks it: under -k or keyless rules the signature must name
            // this image's repository (still stricter than cosign); -p keeps v1.8's rule.
            let cosign_style =
                !args.key.is_empty() || sigstore.as_ref().is_some_and(|s| s.keyless.is_some());
            let identity = if !args.exact_repository.is_empty() {
                SignedIdentity::exact_repository(&args.exact_repository)
                    .with_context(|| format!("--exact-repository {:?}", args.exact_repository))?
            } else if cosign_style {
                SignedIdentity::MatchRepository
            } else {
                SignedIdentity::MatchRepoDigestOrExact
            };
            Mode::Keys(keys, identity)
        }
    };
    if let Some(p) = &args.policy {
        inputs.push(Input {
            flag: "--policy",
            path: p,
        });
    }
    inputs.extend(policy_key_paths.iter().map(|p| Input {
        flag: "--policy (keyPath)",
        path: p,
    }));
    let report = args.report.as_deref().map(|p| (p, args.report_format));
    let setup = runner::prepare(&args.list, &inputs, report)?;
    Ok((setup, mode, sigstore))
}

/// The Sigstore trust a `sigstoreSigned` requirement describes, evaluated as
/// containers/image does: `fulcio` = its CA certificates as roots (intermediates from the
/// signature's chain), the signing time from a Rekor entry by one of its keys, the issuer
/// and an email SAN exactly, no SCT; `pki` = its roots and intermediates, checked now, no
/// Rekor, an email SAN and/or host name; keys with Rekor keys = a verified entry required.
fn policy_trust(
    fulcio: Option<&hangar_policy::Fulcio>,
    pki: Option<&hangar_policy::Pki>,
    rekor_keys: &[KeySource],
    read: &mut dyn FnMut(&KeySource, &str) -> Result<Vec<u8>>,
) -> Result<Option<Sigstore>> {
    if fulcio.is_none() && pki.is_none() && rekor_keys.is_empty() {
        return Ok(None);
    }
    let mut root = TrustedRoot::default();
    for source in rekor_keys {
        let pem = read(source, "Rekor key")?;
        root.add_rekor_key(&format!("{source:?}"), &pem)
            .with_context(|| format!("policy Rekor key {source:?}"))?;
    }
    let keyless = match (fulcio, pki) {
        (Some(f), _) => {
            let ca = read(&f.ca, "Fulcio CA")?;
            root.add_pem_ca("policy fulcio CA", &ca, b"")
                .context("policy fulcio CA")?;
            Some(KeylessPolicy {
                identities: vec![CertificateIdentity {
                    subject: Matcher::Email(f.subject_email.clone()),
                    issuer: Matcher::Exact(f.oidc_issuer.clone()),
                    github: GithubClaims::default(),
                }],
                require_sct: false,
                use_signature_chain: true,
                pki_time: None,
            })
        }
        (None, Some(p)) => {
            let roots = read(&p.ca_roots, "PKI roots")?;
            let intermediates = match &p.ca_intermediates {
                Some(i) => read(i, "PKI intermediates")?,
                None => Vec::new(),
            };
            root.add_pem_ca("policy pki CA", &roots, &intermediates)
                .context("policy pki CA")?;
            let mut subject = Vec::new();
            subject.extend(p.subject_email.clone().map(Matcher::Email));
            subject.extend(p.subject_hostname.clone().map(Matcher::Hostname));
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0);
            Some(KeylessPolicy {
                identities: vec![CertificateIdentity {
                    subject: Matcher::AllOf(subject),
                    issuer: Matcher::Any,
                    github: GithubClaims::default(),
                }],
                require_sct: false,
                use_signature_chain: true,
                pki_time: Some(now),
            })
        }
        (None, None) => None,
    };
    Ok(Some(Sigstore {
        require_tlog: keyless.is_none() && !rekor_keys.is_empty(),
        root,
        keyless,
    }))
}

/// Loads the trust material and keyless rules (setup errors name the file or flag), and
/// adds the files read to `inputs`.
fn sigstore<'a>(args: &'a ValidateArgs, inputs: &mut Vec<Input<'a>>) -> Result<Option<Sigstore>> {
    if let Some(url) = &args.rekor_url {
        log::warn(
            None,
            &format!(
                "--rekor-url {url:?} is ignored: verification is always offline, from the trust material given"
            ),
        );
    }
    if args.offline {
        log::warn(
            None,
            "--offline changes nothing: verification is always offline",
        );
    }
    let read = |flag: &'static str, path: &'a std::path::Path, inputs: &mut Vec<Input<'a>>| {
        inputs.push(Input { flag, path });
        std::fs::read(path).with_context(|| format!("reading {flag} {}", path.display()))
    };
    let mut root: Option<TrustedRoot> = None;
    if let Some(p) = &args.trusted_root {
        let bytes = read("--trusted-root", p, inputs)?;
        root = Some(
            TrustedRoot::from_json(&bytes)
                .with_context(|| format!("--trusted-root {}", p.display()))?,
        );
    }
    if let Some(p) = &args.ca_roots {
        let roots = read("--ca-roots", p, inputs)?;
        let intermediates = match &args.ca_intermediates {
            Some(i) => read("--ca-intermediates", i, inputs)?,
            None => Vec::new(),
        };
        root.get_or_insert_default()
            .add_pem_ca(&p.display().to_string(), &roots, &intermediates)
            .with_context(|| format!("--ca-roots {}", p.display()))?;
    }
    for p in &args.rekor_public_key {
        let pem = read("--rekor-public-key", p, inputs)?;
        root.get_or_insert_default()
            .add_rekor_key(&p.display().to_string(), &pem)
            .with_context(|| format!("--rekor-public-key {}", p.display()))?;
    }
    for p in &args.ct_log_public_key {
        let pem = read("--ct-log-public-key", p, inputs)?;
        root.get_or_insert_default()
            .add_ct_log_key(&p.display().to_string(), &pem)
            .with_context(|| format!("--ct-log-public-key {}", p.display()))?;
    }
    let keyless = keyless_policy(args)?;
    if keyless.is_some()
        && root
            .as_ref()
            .is_none_or(|r| r.certificate_authorities.is_empty())
    {
        bail!(
            "keyless verification needs trusted certificate authorities: give --trusted-root FILE, or --ca-roots FILE (with --rekor-public-key FILE)"
        );
    }
    let require_tlog = !args.key.is_empty() && !args.insecure_ignore_tlog;
    if require_tlog && root.as_ref().is_none_or(|r| r.tlogs.is_empty()) {
        bail!(
            "-k/--key requires a verified transparency-log entry for each signature, so it needs the log's key: give --trusted-root FILE or --rekor-public-key FILE, or accept signatures without an entry with --insecure-ignore-tlog"
        );
    }
    Ok(root.map(|root| Sigstore {
        root,
        keyless,
        require_tlog,
    }))
}

/// The keyless identity rule, when any of its flags is given: an identity and an issuer
/// rule are both required (cosign refuses keyless verification without them).
fn keyless_policy(args: &ValidateArgs) -> Result<Option<KeylessPolicy>> {
    let github = GithubClaims {
        trigger: args.certificate_github_workflow_trigger.clone(),
        sha: args.certificate_github_workflow_sha.clone(),
        name: args.certificate_github_workflow_name.clone(),
        repository: args.certificate_github_workflow_repository.clone(),
        git_ref: args.certificate_github_workflow_ref.clone(),
    };
    let subject = match (
        &args.certificate_identity,
        &args.certificate_identity_regexp,
    ) {
        (Some(s), _) => Some(Matcher::Exact(s.clone())),
        (None, Some(r)) => Some(
            Matcher::regex(r).map_err(|e| anyhow::anyhow!("--certificate-identity-regexp: {e}"))?,
        ),
        (None, None) => None,
    };
    let issuer = match (
        &args.certificate_oidc_issuer,
        &args.certificate_oidc_issuer_regexp,
    ) {
        (Some(s), _) => Some(Matcher::Exact(s.clone())),
        (None, Some(r)) => Some(
            Matcher::regex(r)
                .map_err(|e| anyhow::anyhow!("--certificate-oidc-issuer-regexp: {e}"))?,
        ),
        (None, None) => None,
    };
    let any_claim = github != GithubClaims::default();
    match (subject, issuer) {
        (None, None) if !any_claim && !args.insecure_ignore_sct => Ok(None),
        (Some(subject), Some(issuer)) => Ok(Some(KeylessPolicy {
            identities: vec![CertificateIdentity {
                subject,
                issuer,
                github,
            }],
            require_sct: !args.insecure_ignore_sct,
            use_signature_chain: false,
            pki_time: None,
        })),
        _ => bail!(
            "keyless verification needs both an identity rule (--certificate-identity or --certificate-identity-regexp) and an issuer rule (--certificate-oidc-issuer or --certificate-oidc-issuer-regexp)"
        ),
    }
}

/// The report's view of one line: its verdict (passed, unsigned, invalid, error, skipped),
/// reason and every platform image with its digest, verdict and accepted identity and key.
fn detail(result: &ImageResult) -> Value {
    let platforms: Vec<Value> = result
        .platforms
        .iter()
        .map(|p| {
            let mut o = json!({"platform": p.platform.to_string(), "reference": p.reference.to_string(), "digest": p.digest.to_string(), "media_type": p.media_type});
            if let Some(v) = &p.platform.os_version {
                o["os_version"] = json!(v);
            }
            match &p.outcome {
                Ok(a) => o.as_object_mut().map(|m| {
                    m.extend([("verdict".into(), json!("passed")), ("identity".into(), json!(a.identity)), ("signature_format".into(), json!(a.format.as_str())), ("key".into(), json!(a.key_fingerprint)), ("key_algorithm".into(), json!(a.key_algorithm))]);
                    if let Some(c) = &a.certificate {
                        m.insert("certificate".into(), certificate_json(c));
                    }
                    m.insert("tlog_verified".into(), json!(a.tlog.is_some()));
                    if let Some(payload) = a.payload.as_deref().and_then(|t| serde_json::from_str::<Value>(t).ok()) {
                        m.insert("payload".into(), payload);
                    }
                    if let Some(t) = &a.tlog {
                        m.insert("tlog".into(), json!({"log_index": t.log_index, "integrated_time": hangar_sigstore::format_rfc3339(t.integrated_time), "log": t.log, "time_source": t.time_source}));
                    }
                }),
                Err(r) => o.as_object_mut().map(|m| m.extend([("verdict".into(), json!(r.kind.as_str())), ("reason".into(), json!(r.reason))])),
            };
            o
        })
        .collect();
    let verdict = match result.verdict {
        Verdict::Passed => "passed",
        Verdict::Skipped => "skipped",
        // A failure before any platform was checked is a registry or manifest error.
        Verdict::Failed => result
            .platforms
            .iter()
            .filter_map(|p| p.outcome.as_ref().err().map(|r| r.kind))
            .max()
            .unwrap_or(RejectionKind::Error)
            .as_str(),
    };
    json!({"verdict": verdict, "reason": result.reason, "platforms": platforms})
}

/// A keyless signature's certificate facts, as the report shows them.
fn certificate_json(c: &hangar_validate::CertificateSummary) -> Value {
    let mut github = serde_json::Map::new();
    for (k, v) in [
        ("trigger", &c.github.trigger),
        ("sha", &c.github.sha),
        ("name", &c.github.name),
        ("repository", &c.github.repository),
        ("ref", &c.github.git_ref),
    ] {
        if let Some(v) = v {
            github.insert(k.into(), json!(v));
        }
    }
    let timestamps: Vec<Value> = c
        .timestamps
        .iter()
        .map(|t| json!({"time": hangar_sigstore::format_rfc3339(t.time), "authority": t.authority}))
        .collect();
    json!({"sans": c.sans, "issuer": c.issuer, "ca": c.ca, "github": github, "timestamps": timestamps})
}

/// Logs one line's result and turns it into the runner's [`LineResult`].
/// The per-platform detail is kept only for a `--report`: it is most of what a line costs in
/// memory until the run ends.
fn report_line(result: ImageResult, id: usize, image: &Reference, keep_detail: bool) -> LineResult {
    let detail = if keep_detail {
        detail(&result)
    } else {
        Value::Null
    };
    for p in &result.platforms {
        match &p.outcome {
            Ok(a) => {
                let signer = match &a.certificate {
                    Some(c) => format!(
                        "keyless signature by {:?} (issuer {}, CA {})",
                        c.sans,
                        c.issuer.as_deref().unwrap_or("none"),
                        c.ca
                    ),
                    None => format!(
                        "signature by key {}",
                        &a.key_fingerprint[..12.min(a.key_fingerprint.len())]
                    ),
                };
                let logged = a
                    .tlog
                    .as_ref()
                    .map(|t| {
                        format!(
                            ", logged at index {} of {} at {} (signing time from {})",
                            t.log_index,
                            t.log,
                            hangar_sigstore::format_rfc3339(t.integrated_time),
                            t.time_source
                        )
                    })
                    .unwrap_or_default();
                log::debug(
                    Some(id),
                    &format!(
                        "{} [{}]: {} {signer}{logged} for identity {} accepted",
                        p.platform,
                        p.reference,
                        a.format.as_str(),
                        a.identity
                            .as_deref()
                            .unwrap_or("(none: accepted by --accept-unnamed-signatures)")
                    ),
                )
            }
            Err(r) => log::debug(Some(id), &format!("{} [{}]: {r}", p.platform, p.reference)),
        }
    }
    let verdict = match result.verdict {
        Verdict::Passed => {
            log::info(Some(id), &format!("PASS: [{image}]"));
            LineVerdict::Passed
        }
        Verdict::Skipped => {
            let reason = result.reason.unwrap_or_default();
            log::warn(
                Some(id),
                &format!("Skip validate image signature [{image}]: {reason}"),
            );
            LineVerdict::Skipped
        }
        Verdict::Failed => {
            let reason = result.reason.unwrap_or_default();
            log::error(
                None,
                &format!(
                    "error occurred on [IMG: {id}] [{image}]: failed to validate signature [docker://{image}]: {reason}"
                ),
            );
            LineVerdict::Failed
        }
    };
    LineResult { verdict, detail }
}
