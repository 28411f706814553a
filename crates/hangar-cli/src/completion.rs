//! `hangar completion SHELL` (as cobra-built Go hangar has it) and the hidden `hangar man
//! --dir DIR`, both generated from the same clap definition as the parser, so they cannot
//! drift from the flags. `cargo xtask assets` runs both.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::{EXIT_SETUP, log};

/// Arguments of `hangar completion`.
#[derive(Args, Debug)]
pub(crate) struct CompletionArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

/// Arguments of `hangar man`.
#[derive(Args, Debug)]
pub(crate) struct ManArgs {
    /// Folder to write `hangar.1`, `hangar-sign.1`, `hangar-sign-validate.1`, … into.
    #[arg(long, value_name = "DIR")]
    dir: PathBuf,
}

pub(crate) fn completion(args: &CompletionArgs, mut cmd: clap::Command) -> ExitCode {
    clap_complete::generate(args.shell, &mut cmd, "hangar", &mut std::io::stdout());
    ExitCode::SUCCESS
}

pub(crate) fn man(args: &ManArgs, mut cmd: clap::Command) -> ExitCode {
    // Building propagates the global flags (--debug, --quiet, …) into every subcommand page.
    cmd.build();
    let result = std::fs::create_dir_all(&args.dir)
        .map_err(|e| e.to_string())
        .and_then(|()| write_pages(&args.dir, cmd, "hangar"));
    match result {
        Ok(n) => {
            log::info(
                None,
                &format!("{n} man pages written to {}", args.dir.display()),
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            log::fatal(&format!("writing man pages to {}: {e}", args.dir.display()));
            ExitCode::from(EXIT_SETUP)
        }
    }
}

/// One page for `cmd` (named `name`, e.g. `hangar-sign-validate`) and one per subcommand
/// but the internal `man` (hidden commands such as `signv1` get pages: they are hidden from
/// the main help only, like upstream's); returns how many were written.
fn write_pages(dir: &std::path::Path, cmd: clap::Command, name: &str) -> Result<usize, String> {
    let cmd = cmd.bin_name(name.replace('-', " "));
    let mut page = Vec::new();
    clap_mangen::Man::new(cmd.clone())
        .title(name.to_uppercase())
        .render(&mut page)
        .map_err(|e| e.to_string())?;
    let path = dir.join(format!("{name}.1"));
    std::fs::write(&path, page).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut written = 1;
    // `help` is clap's own subcommand: it has no page of its own.
    for sub in cmd
        .get_subcommands()
        .filter(|s| s.get_name() != "help" && s.get_name() != "man")
    {
        let sub_name = format!("{name}-{}", sub.get_name());
        written += write_pages(dir, sub.clone(), &sub_name)?;
    }
    Ok(written)
}
