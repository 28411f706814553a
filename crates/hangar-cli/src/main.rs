//! `hangar`: the command line. Parses arguments, sizes the thread pool, prints, writes
//! files and picks the exit code; every decision lives in the library crates.
#![forbid(unsafe_code)]

mod completion;
mod duration;
mod inspect;
mod keys;
mod log;
mod output;
mod report;
mod runner;
mod sign;
mod validate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, CommandFactory, Parser, Subcommand};

/// Exit status for usage and setup errors.
pub(crate) const EXIT_SETUP: u8 = 2;

#[derive(Parser, Debug)]
#[command(
    name = "hangar",
    version,
    about = "Sign container images and validate their sigstore signatures"
)]
struct Cli {
    /// Enable debug output (HTTP requests, decisions); never prints credentials.
    #[arg(long, global = true)]
    debug: bool,
    /// Run without policy check (accepted for compatibility; validate builds its own policy).
    #[arg(long, global = true)]
    insecure_policy: bool,
    /// Print only warnings and errors (no PASS lines, no summary).
    #[arg(short = 'q', long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Sign the images of a list with a sigstore private key (or validate: `sign validate`).
    Sign(Box<SignCommand>),
    /// hangar v1.8's `sign` (and `signv1 validate`), as v1.9 names them: containers/image
    /// simple signing, `-p/--sigstore-pubkey` with matchRepoDigestOrExact.
    #[command(name = "signv1", hide = true)]
    Signv1(Box<SignCommand>),
    /// Generate a sigstore (cosign) key pair: PREFIX.key (encrypted) and PREFIX.pub.
    GenerateSigstoreKey(keys::GenerateArgs),
    /// Inspect an image in a registry.
    Inspect(inspect::InspectArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completion(completion::CompletionArgs),
    /// Write man pages (roff) for every command into a folder.
    #[command(hide = true)]
    Man(completion::ManArgs),
}

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
struct SignCommand {
    #[command(subcommand)]
    command: Option<SignSubcommand>,
    #[command(flatten)]
    args: SignArgs,
}

#[derive(Subcommand, Debug)]
enum SignSubcommand {
    /// Validate the signed images by sigstore public key with the matchRepoDigestOrExact
    /// signedIdentity.
    #[command(
        after_help = "Example:\n  hangar sign validate --file IMAGE_LIST.txt --sigstore-pubkey SIGSTORE.pub \\\n      --arch amd64,arm64 --os linux --exact-repository registry.example.io/library/NAME"
    )]
    Validate(ValidateArgs),
}

/// Flags shared by every command that works through an image list.
#[derive(Args, Debug)]
pub(crate) struct ListArgs {
    /// Image list file.
    #[arg(
        short = 'f',
        long = "file",
        value_name = "IMAGE_LIST.txt",
        required = true
    )]
    pub(crate) file: Option<PathBuf>,
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
    /// File name of the failed image list.
    #[arg(short = 'o', long, default_value = "sign-failed.txt")]
    pub(crate) failed: PathBuf,
    /// Worker number, process images in parallel (1-20).
    #[arg(short = 'j', long, default_value_t = 1, allow_negative_numbers = true)]
    pub(crate) jobs: i64,
    /// Time budget for each image (Go duration: 30s, 10m0s, 1h; 0 = none).
    #[arg(long, default_value = "10m", value_parser = parse_timeout)]
    pub(crate) timeout: Timeout,
    /// Require HTTPS and verify certificates (=false: skip verification, allow plain HTTP).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub(crate) tls_verify: Option<bool>,
    /// Registry credentials file to use instead of the standard search (auth.json format).
    #[arg(long, value_name = "FILE")]
    pub(crate) authfile: Option<PathBuf>,
}

/// Flags of `hangar sign`.
#[derive(Args, Debug)]
pub(crate) struct SignArgs {
    #[command(flatten)]
    pub(crate) list: ListArgs,
    /// Sigstore (cosign) encrypted private key file (v1.9 spelling: -p/--key).
    #[arg(
        short = 'k',
        long = "sigstore-key",
        visible_alias = "key",
        short_alias = 'p',
        value_name = "SIGSTORE.key",
        required = true
    )]
    pub(crate) key: Option<PathBuf>,
    /// File holding the private key's passphrase (else COSIGN_PASSWORD, else a prompt).
    #[arg(long, visible_alias = "passphrase-file", value_name = "FILE")]
    pub(crate) sigstore_passphrase_file: Option<PathBuf>,
    /// Upload signatures to a transparency log. Offline there is none: signatures are never
    /// uploaded (v1.9 uploads by default); =true is refused, =false says so explicitly.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub(crate) tlog_upload: Option<bool>,
    /// Also sign each manifest list / index digest (as cosign and v1.9 `sign` do).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL", hide = true)]
    pub(crate) sign_manifest_index: Option<bool>,
    /// Accepted for v1.9 scripts: hangar never prompts while signing a list.
    #[arg(short = 'y', long)]
    pub(crate) auto_yes: bool,
    /// Accepted for v1.9 scripts: registry credentials always come from the auth files.
    #[arg(long)]
    pub(crate) skip_login: bool,
    /// Refused: keyless signing needs the network (an OIDC provider, Fulcio, Rekor).
    #[arg(long, value_name = "PROVIDER")]
    pub(crate) oidc_provider: Option<String>,
    /// Refused: keyless signing needs the network.
    #[arg(long, value_name = "URL")]
    pub(crate) fulcio_url: Option<String>,
    /// Refused: keyless signing needs the network.
    #[arg(long, value_name = "URL")]
    pub(crate) oidc_issuer: Option<String>,
    /// Refused: keyless signing needs the network.
    #[arg(long, value_name = "ID")]
    pub(crate) oidc_client_id: Option<String>,
    /// Accepted for v1.9 scripts: nothing is uploaded, so no Rekor is used.
    #[arg(long, value_name = "URL")]
    pub(crate) rekor_url: Option<String>,
}

/// Flags of `hangar sign validate`.
#[derive(Args, Debug)]
pub(crate) struct ValidateArgs {
    #[command(flatten)]
    pub(crate) list: ListArgs,
    /// Sigstore public key file (PEM); repeat it to trust several keys.
    #[arg(
        short = 'p',
        long = "sigstore-pubkey",
        value_name = "SIGSTORE.pub",
        required_unless_present_any = ["policy", "key", "certificate_identity", "certificate_identity_regexp"],
        conflicts_with_all = ["policy", "key"]
    )]
    pub(crate) pubkeys: Vec<PathBuf>,
    /// Public key file (PEM), as hangar v1.9 / cosign: a verified transparency-log entry is
    /// required unless --insecure-ignore-tlog; the default identity rule is matchRepository.
    #[arg(
        short = 'k',
        long = "key",
        value_name = "KEY.pub",
        conflicts_with = "policy"
    )]
    pub(crate) key: Vec<PathBuf>,
    /// Sigstore trusted root (trusted_root.json): CAs, Rekor and CT log keys. Offline.
    #[arg(long, value_name = "FILE")]
    pub(crate) trusted_root: Option<PathBuf>,
    /// PEM bundle of trusted root CA certificates (bring-your-own PKI, without a trusted root).
    #[arg(long, value_name = "FILE")]
    pub(crate) ca_roots: Option<PathBuf>,
    /// PEM bundle of intermediate CA certificates for --ca-roots.
    #[arg(long, value_name = "FILE", requires = "ca_roots")]
    pub(crate) ca_intermediates: Option<PathBuf>,
    /// Rekor public key (PEM); repeatable.
    #[arg(long, value_name = "FILE")]
    pub(crate) rekor_public_key: Vec<PathBuf>,
    /// Certificate-transparency log public key (PEM), for SCTs with --ca-roots; repeatable.
    #[arg(long, value_name = "FILE")]
    pub(crate) ct_log_public_key: Vec<PathBuf>,
    /// Keyless: a subject alternative name (email, URI) the certificate must carry, exactly.
    #[arg(
        long,
        value_name = "IDENTITY",
        conflicts_with = "certificate_identity_regexp"
    )]
    pub(crate) certificate_identity: Option<String>,
    /// Keyless: a regular expression any subject alternative name must match (unanchored,
    /// as cosign: use ^...$ to match the whole name).
    #[arg(long, value_name = "REGEXP")]
    pub(crate) certificate_identity_regexp: Option<String>,
    /// Keyless: the OIDC issuer the certificate must name, exactly.
    #[arg(
        long,
        value_name = "ISSUER",
        conflicts_with = "certificate_oidc_issuer_regexp"
    )]
    pub(crate) certificate_oidc_issuer: Option<String>,
    /// Keyless: a regular expression the OIDC issuer must match (unanchored).
    #[arg(long, value_name = "REGEXP")]
    pub(crate) certificate_oidc_issuer_regexp: Option<String>,
    /// Keyless: the GitHub workflow trigger the certificate must name (e.g. push).
    #[arg(long, value_name = "TRIGGER")]
    pub(crate) certificate_github_workflow_trigger: Option<String>,
    /// Keyless: the GitHub workflow commit SHA.
    #[arg(long, value_name = "SHA")]
    pub(crate) certificate_github_workflow_sha: Option<String>,
    /// Keyless: the GitHub workflow name.
    #[arg(long, value_name = "NAME")]
    pub(crate) certificate_github_workflow_name: Option<String>,
    /// Keyless: the GitHub workflow repository (owner/repo).
    #[arg(long, value_name = "REPO")]
    pub(crate) certificate_github_workflow_repository: Option<String>,
    /// Keyless: the GitHub workflow git ref (refs/tags/v1.0.0).
    #[arg(long, value_name = "REF")]
    pub(crate) certificate_github_workflow_ref: Option<String>,
    /// Keyless: do not require an SCT from a trusted CT log in the certificate.
    #[arg(long)]
    pub(crate) insecure_ignore_sct: bool,
    /// With -k: accept signatures without a verified transparency-log entry.
    #[arg(long)]
    pub(crate) insecure_ignore_tlog: bool,
    /// Accepted for hangar v1.9 scripts; verification is always offline, so it changes nothing.
    #[arg(long, value_name = "URL")]
    pub(crate) rekor_url: Option<String>,
    /// Accepted for hangar v1.9 scripts; verification is always offline.
    #[arg(long)]
    pub(crate) offline: bool,
    /// Validate by a containers policy.json (sigstoreSigned, insecureAcceptAnything, reject)
    /// instead of -p / --exact-repository.
    #[arg(long, value_name = "POLICY.json", conflicts_with = "exact_repository")]
    pub(crate) policy: Option<PathBuf>,
    /// Validate with the exactRepository signedIdentity instead of matchRepoDigestOrExact.
    #[arg(long, default_value = "")]
    pub(crate) exact_repository: String,
    /// Also require a valid signature on each manifest list / index digest itself.
    #[arg(long)]
    pub(crate) validate_manifest_index: bool,
    /// Also accept cosign v3 signatures (Sigstore bundles found through OCI referrers),
    /// which name the image by digest but no repository, so no identity rule can apply.
    #[arg(long)]
    pub(crate) accept_unnamed_signatures: bool,
    /// Write a report of every line and platform (docs/report.md).
    #[arg(short = 'r', long, value_name = "FILE")]
    pub(crate) report: Option<PathBuf>,
    /// The report's format (v1.9 spelling: --format); without --report it changes nothing.
    #[arg(long, visible_alias = "format", value_enum, default_value_t = report::ReportFormat::Json)]
    pub(crate) report_format: report::ReportFormat,
    /// Accepted for v1.9 scripts: validation never prompts.
    #[arg(short = 'y', long)]
    pub(crate) auto_yes: bool,
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
    if cli.quiet {
        log::enable_quiet();
    }
    match cli.command {
        Command::Sign(sign) => match *sign {
            SignCommand {
                command: Some(SignSubcommand::Validate(args)),
                ..
            } => validate::run(&args),
            SignCommand {
                command: None,
                args,
            } => sign::run(&args),
        },
        Command::Signv1(sign) => match *sign {
            SignCommand {
                command: Some(SignSubcommand::Validate(args)),
                ..
            } => validate::run(&args),
            SignCommand {
                command: None,
                args,
            } => sign::run_v1(&args),
        },
        Command::GenerateSigstoreKey(args) => keys::generate(&args),
        Command::Inspect(args) => inspect::run(&args),
        Command::Completion(args) => completion::completion(&args, Cli::command()),
        Command::Man(args) => completion::man(&args, Cli::command()),
    }
}
