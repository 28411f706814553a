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

/// `hangar signv1`: v1.8's `sign`, which never signs indexes and never uploads.
pub(crate) fn run_v1(args: &SignArgs) -> ExitCode {
    run_with(args, false, false)
}

/// `hangar sign`: also signs each index digest unless `--sign-manifest-index=false` (as
/// cosign and v1.9 do); nothing is uploaded to a transparency log (there is none offline).
pub(crate) fn run(args: &SignArgs) -> ExitCode {
    run_with(args, args.sign_manifest_index.unwrap_or(true), true)
}

fn run_with(args: &SignArgs, sign_index: bool, v19: bool) -> ExitCode {
    if let Err(e) = v19_flags(args, v19) {
        log::fatal(&format!("{e:#}"));
        return ExitCode::from(EXIT_SETUP);
    }
    let (setup, key) = match prepare(args) {
        Ok(s) => s,
        Err(e) => {
            log::fatal(&format!("{e:#}"));
            return ExitCode::from(EXIT_SETUP);
        }
    };
    let signer = Signer::new(&setup.client, &key, &setup.platforms).sign_index_digests(sign_index);
    runner::run(&setup, &LABELS, |id, image, deadline| {
        sign_line(&signer, id, image, deadline)
    })
}

/// The v1.9 signing flags hangar cannot honour offline: keyless signing is refused,
/// `--tlog-upload=true` is refused, and the default (no upload) is said out loud.
fn v19_flags(args: &SignArgs, v19: bool) -> Result<()> {
    let keyless = [
        ("--oidc-provider", args.oidc_provider.is_some()),
        ("--fulcio-url", args.fulcio_url.is_some()),
        ("--oidc-issuer", args.oidc_issuer.is_some()),
        ("--oidc-client-id", args.oidc_client_id.is_some()),
    ];
    if let Some((flag, _)) = keyless.iter().find(|(_, given)| *given) {
        anyhow::bail!(
            "{flag}: keyless signing needs the network (an OIDC provider, Fulcio and Rekor), which an air-gapped hangar never reaches; sign with a key (-p/--key), or sign keylessly where the network is and mirror the signatures"
        );
    }
    match args.tlog_upload {
        Some(true) => anyhow::bail!(
            "--tlog-upload=true: hangar signs offline and cannot upload to a transparency log (Rekor); sign with --tlog-upload=false, or sign where Rekor is reachable with cosign"
        ),
        Some(false) => {}
        // v1.8 never uploaded: nothing to say under `signv1`.
        None if !v19 => {}
        None => log::warn(
            None,
            "Signatures are not uploaded to a transparency log (hangar signs offline; v1.9 uploads by default): pass --tlog-upload=false to say so; validate them with -p, or -k with --insecure-ignore-tlog",
        ),
    }
    if let Some(url) = &args.rekor_url {
        log::warn(
            None,
            &format!("--rekor-url {url:?} is ignored: nothing is uploaded"),
        );
    }
    Ok(())
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
