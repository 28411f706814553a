//! What `sign` and `sign validate` share: reading the list, the registry client, the worker
//! pool, per-line deadlines, Ctrl-C, the summary, the failed-list file and the exit code.

use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use hangar_imagelist::{Entry, EntryKind, Overrides};
use hangar_reference::Reference;
use hangar_registry::{Client, Config, CredentialStore, Deadline, TlsVerify, registries_conf};
use hangar_validate::PlatformFilter;
use serde_json::{Value, json};

use signal_hook::consts::{SIGINT, SIGTERM};

use crate::output::{Input, Output};
use crate::report::ReportFormat;
use crate::{ListArgs, log};

const MAX_JOBS: i64 = 20;

/// How one list line ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LineVerdict {
    Passed,
    Failed,
    Skipped,
}

/// Texts that differ between commands.
pub(crate) struct Labels {
    /// "Validated", "Signed".
    pub(crate) done: &'static str,
    /// The heading over the failed lines.
    pub(crate) failed_title: &'static str,
}

/// The parts of a run every command needs, checked before any network traffic.
pub(crate) struct ListSetup {
    pub(crate) entries: Vec<Entry>,
    pub(crate) platforms: PlatformFilter,
    pub(crate) client: Client,
    jobs: usize,
    timeout: Option<Duration>,
    failed: Output,
    /// `--report FILE` and its format, for commands that write one.
    report: Option<(Output, ReportFormat)>,
}

pub(crate) fn tls_verify(flag: Option<bool>) -> TlsVerify {
    match flag {
        None => TlsVerify::Default,
        Some(true) => TlsVerify::Require,
        Some(false) => TlsVerify::Skip,
    }
}

/// A registry client with credentials from `authfile`, else the standard files.
pub(crate) fn client(tls: Option<bool>, authfile: Option<&Path>) -> Result<Client> {
    let credentials = match authfile {
        Some(f) => {
            if !f.is_file() {
                bail!("--authfile {}: no such file", f.display());
            }
            CredentialStore::from_files([(f, false)])
        }
        None => CredentialStore::from_env(),
    }
    .context("loading registry credentials")?;
    let conf = registries_conf::default_files();
    let insecure_registries =
        registries_conf::insecure_registries(&conf).context("reading registries.conf")?;
    let blocked = registries_conf::blocklist(&conf).context("reading registries.conf")?;
    Ok(Client::new(Config {
        tls_verify: tls_verify(tls),
        credentials,
        insecure_registries,
        blocked,
        certs_dirs: Config::default_certs_dirs(),
        ..Config::default()
    })?)
}

/// Reads the list and checks every file of the run before any traffic: `inputs` are the
/// command's own input files (keys, policy, passphrase file); the list and `--authfile` are
/// added here. The failed file and `report` must alias none of them, nor each other.
pub(crate) fn prepare(
    args: &ListArgs,
    inputs: &[Input<'_>],
    report: Option<(&Path, ReportFormat)>,
) -> Result<ListSetup> {
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
    let file = args.file.as_ref().context("the --file flag is required")?;
    let overrides = overrides(args)?;
    let platforms = PlatformFilter::parse(&args.arch, &args.os)?;
    let bytes =
        std::fs::read(file).with_context(|| format!("reading image list {}", file.display()))?;
    let entries: Vec<Entry> = hangar_imagelist::entries_from_bytes(&bytes, &overrides).collect();
    if entries.is_empty() {
        log::warn(
            None,
            &format!(
                "Image list {} has no image lines (only blank lines or comments): nothing will be validated",
                file.display()
            ),
        );
    }
    let mut all_inputs = vec![Input {
        flag: "--file",
        path: file,
    }];
    if let Some(a) = &args.authfile {
        all_inputs.push(Input {
            flag: "--authfile",
            path: a,
        });
    }
    all_inputs.extend_from_slice(inputs);
    let failed = Output::prepare("--failed", &args.failed, 0o666, &all_inputs, &[])?;
    let report = match report {
        Some((path, format)) => Some((
            Output::prepare("--report", path, 0o666, &all_inputs, &[&failed])?,
            format,
        )),
        None => None,
    };
    Ok(ListSetup {
        entries,
        platforms,
        client: client(args.tls_verify, args.authfile.as_deref())?,
        jobs,
        timeout: args.timeout.0,
        failed,
        report,
    })
}

/// `--registry` and `--project`, checked: a scheme on the registry is dropped with a
/// warning; anything else that could not be a registry or project is a usage error.
fn overrides(args: &ListArgs) -> Result<Overrides> {
    let mut registry = args.registry.trim().to_owned();
    for scheme in ["https://", "http://"] {
        if let Some(rest) = registry.strip_prefix(scheme) {
            log::warn(
                None,
                &format!(
                    "--registry {:?}: image references have no scheme; using {rest:?} (plain HTTP is --tls-verify=false)",
                    args.registry
                ),
            );
            registry = rest.to_owned();
        }
    }
    Ok(Overrides::new(&registry, args.project.trim())?)
}

/// How one line ended, with the details a `--report` shows (a JSON object: `verdict`,
/// `reason`, `platforms`; `Null` when the command writes no report).
pub(crate) struct LineResult {
    pub(crate) verdict: LineVerdict,
    pub(crate) detail: Value,
}

impl LineResult {
    fn failed(kind: &str, reason: &str) -> LineResult {
        LineResult {
            verdict: LineVerdict::Failed,
            detail: json!({"verdict": kind, "reason": reason}),
        }
    }
}

/// Runs `line` for every image of the list on a pool of `--jobs` threads, then reports.
/// `line` gets the `IMG:n` id, the reference and the line's deadline, and logs its result.
pub(crate) fn run<F>(setup: &ListSetup, labels: &Labels, line: F) -> ExitCode
where
    F: Fn(usize, &Reference, Deadline) -> LineResult + Sync,
{
    // The number of the signal (SIGINT, SIGTERM) that asked us to stop; 0 while none did.
    let cancelled = Arc::new(AtomicUsize::new(0));
    for signal in [SIGINT, SIGTERM] {
        if let Err(e) =
            signal_hook::flag::register_usize(signal, Arc::clone(&cancelled), signal as usize)
        {
            log::warn(None, &format!("cannot handle signal {signal}: {e}"));
        }
    }
    let started = Instant::now();
    let results = run_lines(setup, labels, &cancelled, started, &line);
    finish(setup, labels, &results, started.elapsed())
}

fn run_lines<F>(
    setup: &ListSetup,
    labels: &Labels,
    cancelled: &AtomicUsize,
    started: Instant,
    line: &F,
) -> Vec<LineResult>
where
    F: Fn(usize, &Reference, Deadline) -> LineResult + Sync,
{
    let mut results: Vec<Option<LineResult>> = setup.entries.iter().map(|_| None).collect();
    let mut work: Vec<(usize, usize, &Reference)> = Vec::new();
    for (i, entry) in setup.entries.iter().enumerate() {
        match &entry.kind {
            EntryKind::MirrorFormat => {
                log::warn(
                    Some(entry.id),
                    &format!("Ignore image list line {:?}: invalid format", entry.line),
                );
                results[i] = Some(LineResult {
                    verdict: LineVerdict::Skipped,
                    detail: json!({"verdict": "skipped", "reason": "invalid format (a SOURCE DEST TAG mirror line)"}),
                });
            }
            EntryKind::Invalid(e) => {
                let reason = e.to_string();
                log::error(
                    None,
                    &format!(
                        "error occurred on [IMG: {}] [{}]: {reason}",
                        entry.id, entry.line
                    ),
                );
                results[i] = Some(LineResult::failed("error", &reason));
            }
            EntryKind::Image(r) => work.push((i, entry.id, r)),
        }
    }
    let pool = match rayon::ThreadPoolBuilder::new()
        .num_threads(setup.jobs)
        .build()
    {
        Ok(p) => p,
        Err(e) => {
            log::fatal(&format!("cannot start {} worker threads: {e}", setup.jobs));
            return complete(results, "no worker threads");
        }
    };
    let (tx, rx) = mpsc::channel::<(usize, LineResult)>();
    let pending = work.len();
    let timeout = setup.timeout;
    std::thread::scope(|s| {
        s.spawn(|| {
            pool.scope_fifo(|scope| {
                for (i, id, image) in work {
                    let tx = tx.clone();
                    scope.spawn_fifo(move |_| {
                        let result = if cancelled.load(Ordering::SeqCst) != 0 {
                            LineResult::failed("error", "interrupted before it started")
                        } else {
                            log::set_current_image(Some(id));
                            let r =
                                line(id, image, timeout.map_or(Deadline::none(), Deadline::after));
                            log::set_current_image(None);
                            r
                        };
                        let _ = tx.send((i, result));
                    });
                }
            });
            drop(tx);
        });
        let mut received = 0;
        let mut progress = Progress::new(&results, log::progress_wanted(), started);
        while received < pending {
            progress.draw(received);
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok((i, r)) => {
                    progress.count(&r);
                    results[i] = Some(r);
                    received += 1;
                }
                Err(mpsc::RecvTimeoutError::Timeout) if cancelled.load(Ordering::SeqCst) != 0 => {
                    progress.clear();
                    let signal = cancelled.load(Ordering::SeqCst);
                    interrupted(setup, labels, std::mem::take(&mut results), started, signal);
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        progress.clear();
    });
    complete(results, "no result")
}

/// The progress line of a run on a terminal, redrawn at most every 100 ms.
struct Progress {
    enabled: bool,
    started: Instant,
    last: Option<Instant>,
    total: usize,
    done_before: usize,
    counts: [usize; 3],
}

impl Progress {
    fn new(results: &[Option<LineResult>], enabled: bool, started: Instant) -> Progress {
        let mut p = Progress {
            enabled,
            started,
            last: None,
            total: results.len(),
            done_before: 0,
            counts: [0; 3],
        };
        for r in results.iter().flatten() {
            p.count(r);
            p.done_before += 1;
        }
        p
    }

    fn count(&mut self, r: &LineResult) {
        let slot = match r.verdict {
            LineVerdict::Passed => 0,
            LineVerdict::Failed => 1,
            LineVerdict::Skipped => 2,
        };
        self.counts[slot] += 1;
    }

    fn draw(&mut self, received: usize) {
        if !self.enabled
            || self
                .last
                .is_some_and(|t| t.elapsed() < Duration::from_millis(100))
        {
            return;
        }
        self.last = Some(Instant::now());
        let [passed, failed, skipped] = self.counts;
        log::set_progress(Some(log::progress_text(
            self.done_before + received,
            self.total,
            passed,
            failed,
            skipped,
            self.started.elapsed(),
        )));
    }

    fn clear(&mut self) {
        if self.enabled {
            log::set_progress(None);
        }
    }
}

/// Every line gets a result: one that never finished has failed.
fn complete(results: Vec<Option<LineResult>>, why: &str) -> Vec<LineResult> {
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| LineResult::failed("error", why)))
        .collect()
}

/// Ctrl-C or SIGTERM: every unfinished line fails, the failed file (and report) are
/// written, and the process ends without waiting for requests in flight, with the shell's
/// status for death by that signal (130, 143).
fn interrupted(
    setup: &ListSetup,
    labels: &Labels,
    results: Vec<Option<LineResult>>,
    started: Instant,
    signal: usize,
) -> ! {
    let name = if signal == SIGTERM as usize {
        "SIGTERM"
    } else {
        "SIGINT"
    };
    log::warn(
        None,
        &format!("Interrupted by {name}: recording unfinished images as failed"),
    );
    for (entry, r) in setup.entries.iter().zip(&results) {
        if r.is_none() {
            log::error(
                None,
                &format!(
                    "error occurred on [IMG: {}] [{}]: interrupted before it finished",
                    entry.id, entry.line
                ),
            );
        }
    }
    let all = complete(results, "interrupted before it finished");
    let _ = write_outputs(setup, labels, &all, started.elapsed());
    std::process::exit(128 + signal as i32);
}

fn finish(
    setup: &ListSetup,
    labels: &Labels,
    results: &[LineResult],
    elapsed: Duration,
) -> ExitCode {
    let count = |v: LineVerdict| results.iter().filter(|r| r.verdict == v).count();
    let (passed, failed, skipped) = (
        count(LineVerdict::Passed),
        count(LineVerdict::Failed),
        count(LineVerdict::Skipped),
    );
    log::info(
        None,
        &format!(
            "{} {} image list lines in {:.1}s: {passed} passed, {failed} failed, {skipped} skipped; {} registry requests ({} for tokens)",
            labels.done,
            setup.entries.len(),
            elapsed.as_secs_f64(),
            setup.client.request_count(),
            setup.client.token_request_count(),
        ),
    );
    let written = write_outputs(setup, labels, results, elapsed);
    match (failed, written) {
        (0, true) => {
            log::info(None, "Done");
            ExitCode::SUCCESS
        }
        _ => ExitCode::from(1),
    }
}

/// Writes the report (if asked for) and the failed file (always: empty when nothing
/// failed, so no stale failures survive a passing run), and logs the failed lines. False
/// when a file could not be written; each failure has its own message, and the failed
/// lines are in the log either way.
fn write_outputs(
    setup: &ListSetup,
    labels: &Labels,
    results: &[LineResult],
    elapsed: Duration,
) -> bool {
    let report_ok = write_report(setup, results, elapsed);
    let any_failed = results.iter().any(|r| r.verdict == LineVerdict::Failed);
    if any_failed {
        log::error(None, labels.failed_title);
        for (e, r) in setup.entries.iter().zip(results) {
            if r.verdict == LineVerdict::Failed {
                log::error(None, &e.line);
            }
        }
    }
    let path = setup.failed.path().display().to_string();
    match setup
        .failed
        .write(failed_text(&setup.entries, results).as_bytes())
    {
        Ok(()) if any_failed => {
            log::error(None, &format!("Failed image list exported to {path:?}"));
            report_ok
        }
        Ok(()) => report_ok,
        Err(e) => {
            log::error(None, &format!("writing failed image list {path}: {e:#}"));
            false
        }
    }
}

/// `--report FILE`: every line of the list exactly once, in list order (schema in
/// docs/report.schema.json), written atomically in the chosen format.
fn write_report(setup: &ListSetup, results: &[LineResult], elapsed: Duration) -> bool {
    let Some((output, format)) = &setup.report else {
        return true;
    };
    let count = |v: &str| results.iter().filter(|r| r.detail["verdict"] == v).count();
    let lines: Vec<Value> = setup
        .entries
        .iter()
        .zip(results)
        .map(|(e, r)| {
            let mut o = json!({"id": e.id, "line_number": e.line_number, "line": e.line});
            if let EntryKind::Image(reference) = &e.kind {
                o["reference"] = json!(reference.to_string());
            }
            if let (Some(obj), Some(detail)) = (o.as_object_mut(), r.detail.as_object()) {
                obj.extend(detail.clone());
            }
            o
        })
        .collect();
    let report = json!({
        "schema": "hangar.validate.report/v1",
        "summary": {
            "lines": results.len(),
            "passed": count("passed"),
            "unsigned": count("unsigned"),
            "invalid": count("invalid"),
            "error": count("error"),
            "skipped": count("skipped"),
            "elapsed_seconds": elapsed.as_secs_f64(),
        },
        "lines": lines,
    });
    let text = crate::report::render(&report, *format);
    let path = output.path().display().to_string();
    match output.write(text.as_bytes()) {
        Ok(()) => {
            log::info(None, &format!("Report written to {path:?}"));
            true
        }
        Err(e) => {
            log::error(None, &format!("writing report {path}: {e:#}"));
            false
        }
    }
}

/// The failed lines, as written in the list and in list order.
fn failed_text(entries: &[Entry], results: &[LineResult]) -> String {
    let mut text = String::new();
    for (e, r) in entries.iter().zip(results) {
        if r.verdict == LineVerdict::Failed {
            text.push_str(&e.line);
            text.push('\n');
        }
    }
    text
}
