//! `hangar sign validate`: keys and identity rule, then one [`Validator`] call per line.

use std::process::ExitCode;

use anyhow::{Context, Result};
use hangar_policy::SignedIdentity;
use hangar_reference::Reference;
use hangar_registry::Deadline;
use hangar_signature::PublicKey;
use hangar_validate::{Validator, Verdict};

use crate::runner::{self, Labels, LineVerdict};
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
        client: &setup.client,
        keys: &keys,
        identity: &identity,
        platforms: &setup.platforms,
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
    Ok((runner::prepare(&args.list)?, keys, identity))
}

fn validate_line(
    validator: &Validator<'_>,
    id: usize,
    image: &Reference,
    deadline: Deadline,
) -> LineVerdict {
    let result = validator.validate(image, deadline);
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
    match result.verdict {
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
    }
}
