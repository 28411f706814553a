//! `--report FILE --report-format json|yaml|csv`: one document, three renderings. The JSON
//! shape is the contract (`docs/report.schema.json`); YAML is the same tree, CSV one row per
//! platform image (or per line when no platform was checked).

use serde_json::Value;

/// How the report file is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub(crate) enum ReportFormat {
    /// The documented JSON document.
    #[default]
    Json,
    /// The same tree in YAML (block style, every string double-quoted).
    Yaml,
    /// One row per platform image; RFC 4180 quoting.
    Csv,
}

/// The report in `format`.
pub(crate) fn render(report: &Value, format: ReportFormat) -> String {
    match format {
        ReportFormat::Json => serde_json::to_string_pretty(report).unwrap_or_default() + "\n",
        ReportFormat::Yaml => {
            let mut out = String::new();
            yaml_value(&mut out, report, 0, false);
            if !out.ends_with('\n') {
                out.push('\n');
            }
            out
        }
        ReportFormat::Csv => csv(report),
    }
}

/// A YAML scalar: JSON's number, boolean and null forms are YAML's too, and a JSON string
/// is a valid YAML double-quoted scalar (same escapes).
fn yaml_scalar(v: &Value) -> String {
    v.to_string()
}

fn yaml_key(k: &str) -> String {
    let plain = !k.is_empty()
        && k.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !k.as_bytes()[0].is_ascii_digit();
    if plain {
        k.to_owned()
    } else {
        Value::from(k).to_string()
    }
}

/// Writes `v` at `indent`. `inline` means the cursor is after `- ` or `key:` on a line.
fn yaml_value(out: &mut String, v: &Value, indent: usize, inline: bool) {
    let pad = " ".repeat(indent);
    match v {
        Value::Object(map) if !map.is_empty() => {
            for (i, (k, child)) in map.iter().enumerate() {
                if !(inline && i == 0) {
                    out.push_str(&pad);
                }
                out.push_str(&yaml_key(k));
                out.push(':');
                match child {
                    Value::Object(m) if !m.is_empty() => {
                        out.push('\n');
                        yaml_value(out, child, indent + 2, false);
                    }
                    Value::Array(a) if !a.is_empty() => {
                        out.push('\n');
                        yaml_value(out, child, indent, false);
                    }
                    _ => {
                        out.push(' ');
                        yaml_value(out, child, indent + 2, true);
                    }
                }
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for item in items {
                out.push_str(&pad);
                out.push_str("- ");
                match item {
                    Value::Array(a) if !a.is_empty() => {
                        out.push('\n');
                        yaml_value(out, item, indent + 2, false);
                    }
                    _ => yaml_value(out, item, indent + 2, true),
                }
            }
        }
        Value::Object(_) => out.push_str("{}\n"),
        Value::Array(_) => out.push_str("[]\n"),
        scalar => {
            out.push_str(&yaml_scalar(scalar));
            out.push('\n');
        }
    }
}

/// The CSV columns, in order.
pub(crate) const CSV_COLUMNS: [&str; 24] = [
    "id",
    "line_number",
    "line",
    "reference",
    "line_verdict",
    "line_reason",
    "platform",
    "digest",
    "verdict",
    "reason",
    "identity",
    "signature_format",
    "key",
    "key_algorithm",
    "certificate_sans",
    "certificate_issuer",
    "github_workflow_repository",
    "github_workflow_ref",
    "tlog_log_index",
    "tlog_integrated_time",
    "signing_time_source",
    "media_type",
    "os_version",
    "tlog_verified",
];

/// One CSV field: quoted when it holds a comma, quote or line break; a leading `=`, `+`,
/// `-`, `@` or tab (which a spreadsheet would run as a formula: registry-controlled text
/// reaches this file) is neutralised with a `'`.
fn csv_field(v: &Value) -> String {
    let text = match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

/// `p[path[0]][path[1]]…`, `Null` when absent.
fn nested(p: Option<&Value>, path: &[&str]) -> Value {
    let Some(mut v) = p else {
        return Value::Null;
    };
    for k in path {
        v = &v[*k];
    }
    v.clone()
}

fn csv(report: &Value) -> String {
    let mut out = CSV_COLUMNS.join(",") + "\r\n";
    let empty = Vec::new();
    for line in report["lines"].as_array().unwrap_or(&empty) {
        let platforms = line["platforms"].as_array().unwrap_or(&empty);
        let rows: Vec<Option<&Value>> = if platforms.is_empty() {
            vec![None]
        } else {
            platforms.iter().map(Some).collect()
        };
        for p in rows {
            let field = |name: &str| -> Value {
                match name {
                    "id" | "line_number" | "line" | "reference" => line[name].clone(),
                    "line_verdict" => line["verdict"].clone(),
                    "line_reason" => line["reason"].clone(),
                    // Nested platform facts, flattened: SANs joined by spaces.
                    "certificate_sans" => p.map_or(Value::Null, |p| {
                        p["certificate"]["sans"]
                            .as_array()
                            .map_or(Value::Null, |a| {
                                Value::from(
                                    a.iter()
                                        .filter_map(Value::as_str)
                                        .collect::<Vec<_>>()
                                        .join(" "),
                                )
                            })
                    }),
                    "certificate_issuer" => nested(p, &["certificate", "issuer"]),
                    "github_workflow_repository" => {
                        nested(p, &["certificate", "github", "repository"])
                    }
                    "github_workflow_ref" => nested(p, &["certificate", "github", "ref"]),
                    "tlog_log_index" => nested(p, &["tlog", "log_index"]),
                    "tlog_integrated_time" => nested(p, &["tlog", "integrated_time"]),
                    "signing_time_source" => nested(p, &["tlog", "time_source"]),
                    _ => p.map_or(Value::Null, |p| p[name].clone()),
                }
            };
            let cells: Vec<String> = CSV_COLUMNS.iter().map(|c| csv_field(&field(c))).collect();
            out.push_str(&cells.join(","));
            out.push_str("\r\n");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn yaml_shapes() {
        let v = json!({"a": 1, "b": {"c": "x: y", "d": []}, "e": [{"f": null, "g": [1, 2]}, "h"], "i": {}});
        assert_eq!(
            render(&v, ReportFormat::Yaml),
            "a: 1\nb:\n  c: \"x: y\"\n  d: []\ne:\n- f: null\n  g:\n  - 1\n  - 2\n- \"h\"\ni: {}\n"
        );
    }

    #[test]
    fn csv_quoting_and_formulas() {
        assert_eq!(csv_field(&json!("a,b")), "\"a,b\"");
        assert_eq!(csv_field(&json!("say \"hi\"")), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field(&json!("=HYPERLINK(1)")), "'=HYPERLINK(1)");
        assert_eq!(csv_field(&json!(null)), "");
        assert_eq!(csv_field(&json!(7)), "7");
        let report = json!({"lines": [
            {"id": 1, "line_number": 2, "line": "a", "verdict": "error", "reason": "x\ny"},
            {"id": 2, "line_number": 3, "line": "b", "reference": "r", "verdict": "passed", "reason": null,
             "platforms": [{"platform": "linux/amd64", "digest": "d1", "verdict": "passed"},
                           {"platform": "linux/arm64", "digest": "d2", "verdict": "passed",
                            "certificate": {"sans": ["a@b.c", "https://x"], "issuer": "https://i", "ca": "ca",
                                            "github": {"repository": "o/r", "ref": "refs/tags/v1"}},
                            "tlog": {"log_index": 5, "integrated_time": "2026-01-01T00:00:00Z", "log": "l", "time_source": "tlog"}}]}
        ]});
        let text = render(&report, ReportFormat::Csv);
        let rows: Vec<&str> = text.split("\r\n").collect();
        assert_eq!(rows.len(), 1 + 1 + 2 + 1, "{text}");
        assert_eq!(rows[1], "1,2,a,,error,\"x\ny\",,,,,,,,,,,,,,,,,,");
        assert_eq!(
            rows[2],
            "2,3,b,r,passed,,linux/amd64,d1,passed,,,,,,,,,,,,,,,"
        );
        assert_eq!(
            rows[3],
            "2,3,b,r,passed,,linux/arm64,d2,passed,,,,,,a@b.c https://x,https://i,o/r,refs/tags/v1,5,2026-01-01T00:00:00Z,tlog,,,"
        );
    }
}
