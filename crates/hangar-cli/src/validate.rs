//! `hangar sign validate`: setup (fail fast, before any network traffic), the worker pool,
//! per-line output, the failed-list file and the exit code.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use hangar_imagelist::{Entry, EntryKind, Overrides};
use hangar_policy::SignedIdentity;
use hangar_reference::Reference;
use hangar_registry::{Client, Config, CredentialStore, Deadline, TlsVerify};
use hangar_signature::PublicKey;
use hangar_validate::{PlatformFilter, Validator, Verdict};

use crate::log;
use crate::{EXIT_SETUP, ValidateArgs};

const MAX_JOBS: i64 = 20;

/// How one list line ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LineVerdict {
    Passed,
    Failed,
    Skipped,
}

struct Setup {
    entries: Vec<Entry>,
    keys: Vec<PublicKey>,
    identity: SignedIdentity,
    platforms: PlatformFilter,
    client: Client,
    jobs: usize,
    failed: PathBuf,
}

pub(crate) fn run(args: &ValidateArgs) -> ExitCode {
    let setup = match prepare(args) {
        Ok(s) => s,
        Err(e) => {
            log::fatal(&format!("{e:#}"));
            return ExitCode::from(EXIT_SETUP);
        }
    };
    let cancelled = Arc::new(AtomicBool::new(false));
    {
        let c = Arc::clone(&cancelled);
        if let Err(e) = ctrlc::set_handler(move || c.store(true, Ordering::SeqCst)) {
            log::warn(None, &format!("cannot handle Ctrl-C: {e}"));
        }
    }
    let started = Instant::now();
    let verdicts = run_lines(&setup, args.timeout.0, &cancelled);
    finish(args, &setup.entries, &verdicts, started.elapsed())
}

fn prepare(args: &ValidateArgs) -> Result<Setup> {
    let jobs = if (1..=MAX_JOBS).contains(&args.jobs) {
        args.jobs as usize
    } else {
        log::warn(
            None,
            &format!(
                "Invalid worker count {}: it must be between 1 and {MAX_JOBS}; using 1",
                args.jobs
            ),
        );
        1
    };
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
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("reading image list {}", args.file.display()))?;
    let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    let overrides = Overrides {
        registry: non_empty(&args.registry),
        project: non_empty(&args.project),
    };
    let entries: Vec<Entry> = hangar_imagelist::entries(text.lines(), &overrides).collect();
    let tls_verify = match args.tls_verify {
        None => TlsVerify::Default,
        Some(true) => TlsVerify::Require,
        Some(false) => TlsVerify::Skip,
    };
    let credentials = CredentialStore::from_env().context("loading registry credentials")?;
    let client = Client::new(Config {
        tls_verify,
        credentials,
        ..Config::default()
    })?;
    if args.failed.is_dir() {
        bail!("failed-list file {} is a directory", args.failed.display());
    }
    Ok(Setup {
        entries,
        keys,
        identity,
        platforms: PlatformFilter::new(&args.arch, &args.os),
        client,
        jobs,
        failed: args.failed.clone(),
    })
}

/// Validates every line on a pool of `setup.jobs` threads; returns one verdict per entry.
/// On Ctrl-C, lines not finished yet are recorded as failed and the run ends at once.
fn run_lines(setup: &Setup, timeout: Option<Duration>, cancelled: &AtomicBool) -> Vec<LineVerdict> {
    let mut verdicts: Vec<Option<LineVerdict>> = vec![None; setup.entries.len()];
    let mut work: Vec<(usize, usize, Reference)> = Vec::new();
    for (i, entry) in setup.entries.iter().enumerate() {
        match &entry.kind {
            EntryKind::MirrorFormat => {
                log::warn(
                    Some(entry.id),
                    &format!("Ignore image list line {:?}: invalid format", entry.line),
                );
                verdicts[i] = Some(LineVerdict::Skipped);
            }
            EntryKind::Invalid(e) => {
                log::error(
                    None,
                    &format!(
                        "error occurred on [IMG: {}] [{}]: {}: {}",
                        entry.id, entry.line, e, e.source
                    ),
                );
                verdicts[i] = Some(LineVerdict::Failed);
            }
            EntryKind::Image(r) => work.push((i, entry.id, r.clone())),
        }
    }
    let validator = Validator {
        client: &setup.client,
        keys: &setup.keys,
        identity: &setup.identity,
        platforms: &setup.platforms,
    };
    let pool = match rayon::ThreadPoolBuilder::new()
        .num_threads(setup.jobs)
        .build()
    {
        Ok(p) => p,
        Err(e) => {
            log::fatal(&format!("cannot start {} worker threads: {e}", setup.jobs));
            return verdicts
                .into_iter()
                .map(|v| v.unwrap_or(LineVerdict::Failed))
                .collect();
        }
    };
    let (tx, rx) = mpsc::channel::<(usize, LineVerdict)>();
    let pending = work.len();
    std::thread::scope(|s| {
        s.spawn(|| {
            pool.scope_fifo(|scope| {
                for (i, id, image) in work {
                    let tx = tx.clone();
                    scope.spawn_fifo(move |_| {
                        let verdict = if cancelled.load(Ordering::SeqCst) {
                            LineVerdict::Failed
                        } else {
                            validate_line(&validator, id, &image, timeout)
                        };
                        let _ = tx.send((i, verdict));
                    });
                }
            });
            drop(tx);
        });
        let mut received = 0;
        while received < pending {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok((i, v)) => {
                    verdicts[i] = Some(v);
                    received += 1;
                }
                Err(mpsc::RecvTimeoutError::Timeout) if cancelled.load(Ordering::SeqCst) => {
                    interrupted(setup, std::mem::take(&mut verdicts));
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
    });
    verdicts
        .into_iter()
        .map(|v| v.unwrap_or(LineVerdict::Failed))
        .collect()
}

/// Ctrl-C: every unfinished line fails, the failed file is written, and the process ends
/// without waiting for requests in flight.
fn interrupted(setup: &Setup, verdicts: Vec<Option<LineVerdict>>) -> ! {
    log::warn(None, "Interrupted: recording unfinished images as failed");
    for (entry, v) in setup.entries.iter().zip(&verdicts) {
        if v.is_none() {
            log::error(
                None,
                &format!(
                    "error occurred on [IMG: {}] [{}]: interrupted before validation finished",
                    entry.id, entry.line
                ),
            );
        }
    }
    let all: Vec<LineVerdict> = verdicts
        .into_iter()
        .map(|v| v.unwrap_or(LineVerdict::Failed))
        .collect();
    match write_failed(&setup.failed, &setup.entries, &all) {
        Ok(()) => log::error(
            None,
            &format!(
                "Failed image list exported to {:?}",
                setup.failed.display().to_string()
            ),
        ),
        Err(e) => log::error(
            None,
            &format!(
                "writing failed image list {}: {e:#}",
                setup.failed.display()
            ),
        ),
    }
    std::process::exit(1);
}

fn validate_line(
    validator: &Validator<'_>,
    id: usize,
    image: &Reference,
    timeout: Option<Duration>,
) -> LineVerdict {
    log::set_current_image(Some(id));
    let deadline = timeout.map_or(Deadline::none(), Deadline::after);
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
    log::set_current_image(None);
    verdict
}

fn finish(
    args: &ValidateArgs,
    entries: &[Entry],
    verdicts: &[LineVerdict],
    elapsed: Duration,
) -> ExitCode {
    let count = |v: LineVerdict| verdicts.iter().filter(|x| **x == v).count();
    let (passed, failed, skipped) = (
        count(LineVerdict::Passed),
        count(LineVerdict::Failed),
        count(LineVerdict::Skipped),
    );
    log::info(
        None,
        &format!(
            "Validated {} image list lines in {:.1}s: {passed} passed, {failed} failed, {skipped} skipped",
            entries.len(),
            elapsed.as_secs_f64()
        ),
    );
    if failed == 0 {
        log::info(None, "Done");
        return ExitCode::SUCCESS;
    }
    log::error(None, "Signature validate failed image list:");
    for (e, v) in entries.iter().zip(verdicts) {
        if *v == LineVerdict::Failed {
            log::error(None, &e.line);
        }
    }
    match write_failed(&args.failed, entries, verdicts) {
        Ok(()) => log::error(
            None,
            &format!(
                "Failed image list exported to {:?}",
                args.failed.display().to_string()
            ),
        ),
        Err(e) => log::error(
            None,
            &format!("writing failed image list {}: {e:#}", args.failed.display()),
        ),
    }
    ExitCode::from(1)
}

/// Writes the failed lines, as written in the list and in list order, atomically
/// (temporary file, then rename).
fn write_failed(path: &Path, entries: &[Entry], verdicts: &[LineVerdict]) -> Result<()> {
    let mut text = String::new();
    for (e, v) in entries.iter().zip(verdicts) {
        if *v == LineVerdict::Failed {
            text.push_str(&e.line);
            text.push('\n');
        }
    }
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "failed".into());
    let tmp = path.with_file_name(format!(".{file_name}.tmp-{}", std::process::id()));
    std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path)
        .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))?;
    Ok(())
}
