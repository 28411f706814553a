//! `hangar sign validate`: keys and identity rule, then one [`Validator`] call per line.

use std::process::ExitCode;

use anyhow::{Context, Result};
use hangar_policy::SignedIdentity;
use hangar_reference::Reference;
use hangar_registry::Deadline;
use hangar_signature::PublicKey;
use hangar_validate::{ImageResult, RejectionKind, Validator, Verdict};
use serde_json::{Value, json};

use crate::runner::{self, Labels, LineResult, LineVerdict};
use crate::{EXIT_SETUP, ValidateArgs, log};

const LABELS: Labels = Labels {
    done: "Validated",
    failed_title: "Signature validate failed image list:",
};

pub(crate) fn run(args: &ValidateArgs) -> ExitCode {
    let (setup, keys, identity) = match prepare(args) {
        Ok(s) => s,
        Err(e) => {
            log::fatal(&format!("{e:#}"));
            return ExitCode::from(EXIT_SETUP);
        }
    };
    let validator = Validator {
        require_index_signature: args.validate_manifest_index,
        ..Validator::new(&setup.client, &keys, &identity, &setup.platforms)
    };
    runner::run(&setup, &LABELS, |id, image, deadline| {
        validate_line(&validator, id, image, deadline)
    })
}

fn prepare(args: &ValidateArgs) -> Result<(runner::ListSetup, Vec<PublicKey>, SignedIdentity)> {
    let mut keys = Vec::new();
    for path in &args.pubkeys {
        let pem = std::fs::read(path)
            .with_context(|| format!("reading sigstore public key {}", path.display()))?;
        let key = PublicKey::from_pem(&pem)
            .with_context(|| format!("sigstore public key {}", path.display()))?;
        keys.push(key);
    }
    let identity = if args.exact_repository.is_empty() {
        SignedIdentity::MatchRepoDigestOrExact
    } else {
        SignedIdentity::exact_repository(&args.exact_repository)
            .with_context(|| format!("--exact-repository {:?}", args.exact_repository))?
    };
    let mut setup = runner::prepare(&args.list)?;
    setup.report = args.report.clone();
    Ok((setup, keys, identity))
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
                Ok(a) => o.as_object_mut().map(|m| m.extend([("verdict".into(), json!("passed")), ("identity".into(), json!(a.identity)), ("key".into(), json!(a.key_fingerprint))])),
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

fn validate_line(
    validator: &Validator<'_>,
    id: usize,
    image: &Reference,
    deadline: Deadline,
) -> LineResult {
    let result = validator.validate(image, deadline);
    let detail = detail(&result);
    for p in &result.platforms {
        match &p.outcome {
            Ok(a) => log::debug(
                Some(id),
                &format!(
                    "{} [{}]: signature by key {} for identity {} accepted",
                    p.platform,
                    p.reference,
                    &a.key_fingerprint[..12.min(a.key_fingerprint.len())],
                    a.identity
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
