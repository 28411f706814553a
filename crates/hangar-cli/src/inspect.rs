//! `hangar inspect --raw REF`: the manifest bytes exactly as the registry serves them.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use hangar_reference::Reference;
use hangar_registry::Deadline;

use crate::{EXIT_SETUP, log, runner};

/// Flags of `hangar inspect`.
#[derive(Args, Debug)]
pub(crate) struct InspectArgs {
    /// Print the raw manifest (the only output supported).
    #[arg(long)]
    raw: bool,
    /// Require HTTPS and verify certificates (=false: skip verification, allow plain HTTP).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    tls_verify: Option<bool>,
    /// Registry credentials file to use instead of the standard search.
    #[arg(long, value_name = "FILE")]
    authfile: Option<std::path::PathBuf>,
    /// Image reference, optionally prefixed with docker://.
    reference: String,
}

pub(crate) fn run(args: &InspectArgs) -> ExitCode {
    if !args.raw {
        log::fatal("only `hangar inspect --raw REF` is supported");
        return ExitCode::from(EXIT_SETUP);
    }
    let text = args
        .reference
        .strip_prefix("docker://")
        .unwrap_or(&args.reference);
    let image = match Reference::parse_normalized(text) {
        Ok(i) => i,
        Err(e) => {
            log::fatal(&format!("invalid image reference {text:?}: {e}"));
            return ExitCode::from(EXIT_SETUP);
        }
    };
    let client = match runner::client(args.tls_verify, args.authfile.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            log::fatal(&format!("{e:#}"));
            return ExitCode::from(EXIT_SETUP);
        }
    };
    match inspect(&client, &image) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log::fatal(&format!("{e:#}"));
            ExitCode::from(1)
        }
    }
}

fn inspect(client: &hangar_registry::Client, image: &Reference) -> Result<()> {
    let manifest = client
        .get_manifest(image, Deadline::after(std::time::Duration::from_secs(600)))
        .with_context(|| format!("inspecting {image}"))?;
    std::io::stdout()
        .lock()
        .write_all(&manifest.bytes)
        .context("writing to stdout")?;
    Ok(())
}
