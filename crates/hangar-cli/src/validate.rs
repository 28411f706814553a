//! `hangar sign validate`: keys and identity rule, then one [`Validator`] call per line.

use std::process::ExitCode;

use anyhow::{Context, Result};
use std::collections::HashMap;

use hangar_policy::{KeySource, Policy, Requirement, SignedIdentity};
use hangar_reference::Reference;
use hangar_registry::Deadline;
use hangar_signature::PublicKey;
use hangar_validate::{ImageResult, RejectionKind, SignatureCache, Validator, Verdict};
use serde_json::{Value, json};

use crate::output::Input;
use crate::runner::{self, Labels, LineResult, LineVerdict};
use crate::{EXIT_SETUP, ValidateArgs, log};

const LABELS: Labels = Labels {
    done: "Validated",
    failed_title: "Signature validate failed image list:",
};

/// What decides acceptance: `-p` keys with one identity rule, or a policy.json.
enum Mode {
    Keys(Vec<PublicKey>, SignedIdentity),
    Policy(Policy, HashMap<KeySource, PublicKey>),
}

pub(crate) fn run(args: &ValidateArgs) -> ExitCode {
    let (setup, mode) = match prepare(args) {
        Ok(s) => s,
        Err(e) => {
            log::fatal(&format!("{e:#}"));
            return ExitCode::from(EXIT_SETUP);
        }
    };
    // Lines of the same repository share their signature fetches (tags of one release, a
    // tag and its digest); repositories named once are not cached, so memory stays flat.
    let cache = SignatureCache::only_for(repeated_repositories(&setup.entries));
    let check =
        |keys: &[PublicKey], identity: &SignedIdentity, image: &Reference, deadline: Deadline| {
            let validator = Validator {
                require_index_signature: args.validate_manifest_index,
                accept_unnamed_signatures: args.accept_unnamed_signatures,
                cache: Some(&cache),
                ..Validator::new(&setup.client, keys, identity, &setup.platforms)
            };
            validator.validate(image, deadline)
        };
    runner::run(&setup, &LABELS, |id, image, deadline| {
        let result = match &mode {
            Mode::Keys(keys, identity) => check(keys, identity, image, deadline),
            Mode::Policy(policy, loaded) => {
                by_policy(policy, loaded, image, |k, i| check(k, i, image, deadline))
            }
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
    check: impl Fn(&[PublicKey], &SignedIdentity) -> ImageResult,
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
            } => {
                let keys: Vec<PublicKey> =
                    keys.iter().filter_map(|k| loaded.get(k).cloned()).collect();
                check(&keys, signed_identity)
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

fn prepare(args: &ValidateArgs) -> Result<(runner::ListSetup, Mode)> {
    // Every file the run reads; no output may be one of them.
    let mut inputs: Vec<Input<'_>> = args
        .pubkeys
        .iter()
        .map(|p| Input {
            flag: "--sigstore-pubkey",
            path: p,
        })
        .collect();
    let mut policy_key_paths: Vec<std::path::PathBuf> = Vec::new();
    let mode = match &args.policy {
        Some(path) => {
            let bytes = std::fs::read(path)
                .with_context(|| format!("reading policy {}", path.display()))?;
            let policy =
                Policy::from_json(&bytes).with_context(|| format!("policy {}", path.display()))?;
            let mut loaded = HashMap::new();
            for requirement in policy.all_requirements() {
                if let Requirement::SigstoreSigned { keys, .. } = requirement {
                    for source in keys {
                        let pem = match source {
                            KeySource::Path(p) => {
                                policy_key_paths.push(p.into());
                                std::fs::read(p)
                                    .with_context(|| format!("reading policy key {p}"))?
                            }
                            KeySource::Data(d) => d.clone(),
                            other => anyhow::bail!("unsupported key source {other:?}"),
                        };
                        let key = PublicKey::from_pem(&pem)
                            .with_context(|| format!("policy key {source:?}"))?;
                        loaded.insert(source.clone(), key);
                    }
                }
            }
            Mode::Policy(policy, loaded)
        }
        None => {
            let mut keys = Vec::new();
            for path in &args.pubkeys {
                let pem = std::fs::read(path)
                    .with_context(|| format!("reading sigstore public key {}", path.display()))?;
                keys.push(
                    PublicKey::from_pem(&pem)
                        .with_context(|| format!("sigstore public key {}", path.display()))?,
                );
            }
            let identity = if args.exact_repository.is_empty() {
                SignedIdentity::MatchRepoDigestOrExact
            } else {
                SignedIdentity::exact_repository(&args.exact_repository)
                    .with_context(|| format!("--exact-repository {:?}", args.exact_repository))?
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
    Ok((setup, mode))
}

/// The report's view of one line: its verdict (passed, unsigned, invalid, error, skipped),
/// reason and every platform image with its digest, verdict and accepted identity and key.
fn detail(result: &ImageResult) -> Value {
    let platforms: Vec<Value> = result
        .platforms
        .iter()
        .map(|p| {
            let mut o = json!({"platform": p.platform.to_string(), "reference": p.reference.to_string(), "digest": p.digest.to_string()});
            match &p.outcome {
                Ok(a) => o.as_object_mut().map(|m| m.extend([("verdict".into(), json!("passed")), ("identity".into(), json!(a.identity)), ("signature_format".into(), json!(a.format.as_str())), ("key".into(), json!(a.key_fingerprint)), ("key_algorithm".into(), json!(a.key_algorithm))])),
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
            Ok(a) => log::debug(
                Some(id),
                &format!(
                    "{} [{}]: {} signature by key {} for identity {} accepted",
                    p.platform,
                    p.reference,
                    a.format.as_str(),
                    &a.key_fingerprint[..12.min(a.key_fingerprint.len())],
                    a.identity
                        .as_deref()
                        .unwrap_or("(none: accepted by --accept-unnamed-signatures)")
                ),
            ),
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
