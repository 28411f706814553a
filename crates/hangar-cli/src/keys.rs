//! Passphrases and `hangar generate-sigstore-key`.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use anyhow::{Context, Result, bail};
use clap::Args;
use hangar_signature::PrivateKey;

use crate::output::{Input, Output};
use crate::{EXIT_SETUP, log};

/// Flags of `hangar generate-sigstore-key`.
#[derive(Args, Debug)]
pub(crate) struct GenerateArgs {
    /// Output file prefix: writes PREFIX.key and PREFIX.pub.
    #[arg(short = 'p', long, default_value = "sigstore")]
    prefix: String,
    /// File holding the passphrase (else COSIGN_PASSWORD, else a prompt).
    #[arg(long, value_name = "FILE")]
    passphrase_file: Option<PathBuf>,
    /// Overwrite existing files (v1.9 spelling: --auto-yes).
    #[arg(short = 'y', long, visible_alias = "auto-yes")]
    yes: bool,
}

/// The passphrase from `file` (trimmed), else `COSIGN_PASSWORD`, else a terminal prompt
/// (asked twice when `confirm`).
pub(crate) fn passphrase(file: Option<&Path>, confirm: bool) -> Result<Vec<u8>> {
    if let Some(f) = file {
        let text = std::fs::read_to_string(f)
            .with_context(|| format!("reading passphrase file {}", f.display()))?;
        return Ok(text.trim().as_bytes().to_vec());
    }
    if let Some(p) = std::env::var_os("COSIGN_PASSWORD") {
        return Ok(p.to_string_lossy().as_bytes().to_vec());
    }
    if !std::io::stdin().is_terminal() {
        bail!(
            "no passphrase: use --sigstore-passphrase-file (or --passphrase-file) or set COSIGN_PASSWORD"
        );
    }
    let first = prompt("Enter password for private key: ")?;
    if confirm && prompt("Enter password for private key again: ")? != first {
        bail!("passwords do not match");
    }
    Ok(first.into_bytes())
}

/// Reads a line from the terminal with echo off (`stty -echo` on /dev/tty).
fn prompt(text: &str) -> Result<String> {
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .context("opening /dev/tty")?;
    let stty = |arg: &str| -> Result<()> {
        Command::new("stty")
            .arg(arg)
            .stdin(tty.try_clone()?)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()?;
        Ok(())
    };
    let mut out = tty.try_clone()?;
    write!(out, "{text}")?;
    out.flush()?;
    stty("-echo")?;
    let mut line = String::new();
    let read = std::io::BufReader::new(tty.try_clone()?).read_line(&mut line);
    stty("echo")?;
    writeln!(out)?;
    read.context("reading the passphrase")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

pub(crate) fn generate(args: &GenerateArgs) -> ExitCode {
    match write_key_pair(args) {
        Ok((key, public)) => {
            log::info(None, &format!("Private key written to {}", key.display()));
            log::info(None, &format!("Public key written to {}", public.display()));
            ExitCode::SUCCESS
        }
        Err(e) => {
            log::fatal(&format!("{e:#}"));
            ExitCode::from(EXIT_SETUP)
        }
    }
}

fn write_key_pair(args: &GenerateArgs) -> Result<(PathBuf, PathBuf)> {
    let key_path = PathBuf::from(format!("{}.key", args.prefix));
    let pub_path = PathBuf::from(format!("{}.pub", args.prefix));
    if !args.yes {
        for p in [&key_path, &pub_path] {
            if p.exists() {
                bail!("{} exists; use -y to overwrite it", p.display());
            }
        }
    }
    // Both files are checked (and their temporary files created) before the prompt.
    let inputs: Vec<Input<'_>> = args
        .passphrase_file
        .iter()
        .map(|p| Input {
            flag: "--passphrase-file",
            path: p,
        })
        .collect();
    let key_out = Output::prepare("private key", &key_path, 0o600, &inputs, &[])?;
    let pub_out = Output::prepare("public key", &pub_path, 0o666, &inputs, &[&key_out])?;
    let pass = passphrase(args.passphrase_file.as_deref(), true)?;
    if pass.is_empty() {
        log::warn(
            None,
            &format!(
                "The passphrase is empty: {} is encrypted with a key anyone can derive; anyone who can read the file can sign",
                key_path.display()
            ),
        );
    }
    let key = PrivateKey::generate()?;
    let pem = key.to_encrypted_pem(&pass)?;
    key_out.write(pem.as_bytes())?;
    pub_out.write(key.public_key_pem()?.as_bytes())?;
    Ok((key_path, pub_path))
}
