//! containers/image's recorded verdicts (skopeo 1.13.3) against `hangar sign validate`.

use crate::{fixture, validate};
use hangar_testkit::{fixture_dir, read_tsv};

/// skopeo's message without the wrappers it adds around the policy reason.
fn oracle_reason(msg: &str) -> &str {
    let msg = msg
        .strip_prefix("copying system image from manifest list: ")
        .unwrap_or(msg);
    msg.strip_prefix("Source image rejected: ").unwrap_or(msg)
}

/// Every row of cases.tsv (one reference, one platform), in both identity modes.
#[test]
fn every_skopeo_case() {
    let _fx = fixture();
    let rows = read_tsv(&fixture_dir().join("cases.tsv")).expect("cases.tsv");
    assert_eq!(rows.len(), 55);
    let mut mismatches = Vec::new();
    for row in &rows {
        let (os, arch) = row["platform"].split_once('/').expect("os/arch");
        for (mode, verdict, msg) in [
            (
                "match",
                &row["verdict_matchRepoDigestOrExact"],
                &row["msg_matchRepoDigestOrExact"],
            ),
            (
                "exact",
                &row["verdict_exactRepository"],
                &row["msg_exactRepository"],
            ),
        ] {
            let mut flags = vec!["--os", os, "--arch", arch];
            if mode == "exact" {
                flags.extend_from_slice(&["--exact-repository", &row["exact_repository"]]);
            }
            let run = validate(&format!("{}\n", row["ref"]), &flags);
            let want_code = if verdict == "accept" { 0 } else { 1 };
            let what = format!("{} {} {mode}", row["ref"], row["platform"]);
            if run.code != want_code {
                mismatches.push(format!(
                    "{what}: exit {} want {want_code}\n{}",
                    run.code,
                    run.all()
                ));
                continue;
            }
            if verdict == "accept" {
                if !run.stdout.contains(&format!("PASS: [{}]", row["ref"])) {
                    mismatches.push(format!("{what}: no PASS line\n{}", run.all()));
                }
            } else {
                let reason = oracle_reason(msg);
                if !run.stderr.contains(reason) {
                    mismatches.push(format!("{what}: output lacks {reason:?}\n{}", run.all()));
                }
                if run.failed.as_deref() != Some(&format!("{}\n", row["ref"])) {
                    mismatches.push(format!("{what}: failed file {:?}", run.failed));
                }
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

/// Every row of lines.tsv: whole references with all platforms selected (`--arch ""`).
#[test]
fn every_recorded_line() {
    let _fx = fixture();
    let rows = read_tsv(&fixture_dir().join("lines.tsv")).expect("lines.tsv");
    assert_eq!(rows.len(), 70);
    let mut mismatches = Vec::new();
    for row in &rows {
        let mut flags = vec!["--arch", "", "--os", ""];
        if row["mode"] == "exact" {
            flags.extend_from_slice(&["--exact-repository", &row["exact_repository"]]);
        }
        let run = validate(&format!("{}\n", row["line"]), &flags);
        let what = format!("line {} {} {}", row["n"], row["line"], row["mode"]);
        let want_code = if row["expected"] == "pass" { 0 } else { 1 };
        if run.code != want_code {
            mismatches.push(format!(
                "{what}: exit {} want {want_code}\n{}",
                run.code,
                run.all()
            ));
        } else if want_code == 1 && !run.stderr.contains(&row["key_phrase"]) {
            mismatches.push(format!(
                "{what}: output lacks {:?}\n{}",
                row["key_phrase"],
                run.all()
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}
