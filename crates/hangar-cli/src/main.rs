//! `hangar`: the command line. Parses arguments, sizes the thread pool, prints, writes
//! files and picks the exit code; every decision lives in the library crates.
#![forbid(unsafe_code)]

mod duration;
mod log;
mod validate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// Exit status for usage and setup errors.
pub(crate) const EXIT_SETUP: u8 = 2;

#[derive(Parser, Debug)]
#[command(
    name = "hangar",
    version,
    about = "Mirror, sign and validate container images"
)]
struct Cli {
    /// Enable debug output (HTTP requests, decisions); never prints credentials.
    #[arg(long, global = true)]
    debug: bool,
    /// Run without policy check (accepted for compatibility; validate builds its own policy).
    #[arg(long, global = true)]
    insecure_policy: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Sign images, or validate their signatures.
    Sign {
        #[command(subcommand)]
        command: SignCommand,
    },
}

#[derive(Subcommand, Debug)]
enum SignCommand {
    /// Validate the signed images by sigstore public key with the matchRepoDigestOrExact
    /// signedIdentity.
    #[command(
        after_help = "Example:\n  hangar sign validate --file IMAGE_LIST.txt --sigstore-pubkey SIGSTORE.pub \\\n      --arch amd64,arm64 --os linux --exact-repository registry.example.io/library/NAME"
    )]
    Validate(ValidateArgs),
}

/// Flags of `hangar sign validate`.
#[derive(Args, Debug)]
pub(crate) struct ValidateArgs {
    /// Image list file.
    #[arg(short = 'f', long = "file", value_name = "IMAGE_LIST.txt")]
    pub(crate) file: PathBuf,
    /// Sigstore public key file (PEM); repeat it to trust several keys.
    #[arg(
        short = 'p',
        long = "sigstore-pubkey",
        value_name = "SIGSTORE.pub",
        required = true
    )]
    pub(crate) pubkeys: Vec<PathBuf>,
    /// Override all image registry URLs in the image list.
    #[arg(long, default_value = "")]
    pub(crate) registry: String,
    /// Override all image projects in the image list.
    #[arg(long, default_value = "")]
    pub(crate) project: String,
    /// Architecture list of images ("" = all; arm/v7 selects a variant).
    #[arg(
        short = 'a',
        long,
        value_delimiter = ',',
        default_value = "amd64,arm64"
    )]
    pub(crate) arch: Vec<String>,
    /// OS list of images ("" = all).
    #[arg(long, value_delimiter = ',', default_value = "linux")]
    pub(crate) os: Vec<String>,
    /// Validate with the exactRepository signedIdentity instead of matchRepoDigestOrExact.
    #[arg(long, default_value = "")]
    pub(crate) exact_repository: String,
    /// File name of the failed image list.
    #[arg(short = 'o', long, default_value = "sign-failed.txt")]
    pub(crate) failed: PathBuf,
    /// Worker number, validate images in parallel (1-20).
    #[arg(short = 'j', long, default_value_t = 1, allow_negative_numbers = true)]
    pub(crate) jobs: i64,
    /// Time budget for each image (Go duration: 30s, 10m0s, 1h; 0 = none).
    #[arg(long, default_value = "10m", value_parser = parse_timeout)]
    pub(crate) timeout: Timeout,
    /// Require HTTPS and verify certificates (=false: skip verification, allow plain HTTP).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub(crate) tls_verify: Option<bool>,
}

/// `--timeout`: `None` when the budget is unlimited (`0`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timeout(pub(crate) Option<std::time::Duration>);

fn parse_timeout(s: &str) -> Result<Timeout, String> {
    duration::parse(s).map(Timeout)
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_SETUP } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    if cli.debug {
        log::enable_debug();
    }
    match cli.command {
        Command::Sign {
            command: SignCommand::Validate(args),
        } => validate::run(&args),
    }
}
