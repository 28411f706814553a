//! `hangar sign`: decrypts the key (before any network traffic), then one [`Signer`] call
//! per line.

use std::process::ExitCode;

use anyhow::{Context, Result};
use hangar_reference::Reference;
use hangar_registry::Deadline;
use hangar_sign::{SignOutcome, Signer, Verdict};
use hangar_signature::PrivateKey;

use crate::output::Input;
use crate::runner::{self, Labels, LineResult, LineVerdict};
use crate::{EXIT_SETUP, SignArgs, keys, log};

const LABELS: Labels = Labels {
    done: "Signed",
    failed_title: "Sign failed image list:",
};

pub(crate) fn run(args: &SignArgs) -> ExitCode {
    let (setup, key) = match prepare(args) {
        Ok(s) => s,
        Err(e) => {
            log::fatal(&format!("{e:#}"));
            return ExitCode::from(EXIT_SETUP);
        }
    };
    let signer = Signer::new(&setup.client, &key, &setup.platforms);
    runner::run(&setup, &LABELS, |id, image, deadline| {
        sign_line(&signer, id, image, deadline)
    })
}

fn prepare(args: &SignArgs) -> Result<(runner::ListSetup, PrivateKey)> {
    let path = args
        .key
        .as_ref()
        .context("the --sigstore-key flag is required")?;
    let pem = std::fs::read(path)
        .with_context(|| format!("reading sigstore private key {}", path.display()))?;
    let pass = keys::passphrase(args.sigstore_passphrase_file.as_deref(), false)?;
    let key = PrivateKey::from_encrypted_pem(&pem, &pass)
        .with_context(|| format!("sigstore private key {}", path.display()))?;
    let mut inputs = vec![Input {
        flag: "--sigstore-key",
        path,
    }];
    if let Some(p) = &args.sigstore_passphrase_file {
        inputs.push(Input {
            flag: "--sigstore-passphrase-file",
            path: p,
        });
    }
    Ok((runner::prepare(&args.list, &inputs, None)?, key))
}

fn sign_line(signer: &Signer<'_>, id: usize, image: &Reference, deadline: Deadline) -> LineResult {
    let result = signer.sign(image, deadline);
    for p in &result.platforms {
        let what = match &p.outcome {
            Ok(SignOutcome::Appended { layers }) => format!("signed ({layers} signature(s) now)"),
            Ok(SignOutcome::AlreadySigned) => "already carries this signature".to_owned(),
            Err(e) => e.clone(),
        };
        log::debug(
            Some(id),
            &format!("{} [{}]: {what}", p.platform, p.reference),
        );
    }
    let verdict = match result.verdict {
        Verdict::Signed => {
            log::info(Some(id), &format!("Signed image [{image}]"));
            LineVerdict::Passed
        }
        Verdict::Skipped => {
            log::warn(
                Some(id),
                &format!(
                    "Skip sign image [{image}]: {}",
                    result.reason.unwrap_or_default()
                ),
            );
            LineVerdict::Skipped
        }
        Verdict::Failed => {
            log::error(
                None,
                &format!(
                    "error occurred on [IMG: {id}] [{image}]: failed to sign [docker://{image}]: {}",
                    result.reason.unwrap_or_default()
                ),
            );
            LineVerdict::Failed
        }
    };
    LineResult {
        verdict,
        detail: serde_json::Value::Null,
    }
}
