//! Go-style durations (`30s`, `10m0s`, `1h30m`, `1.5h`, `500ms`) for `--timeout`.

use std::time::Duration;

/// Parses a Go duration; `0` means "no limit" and yields `None`.
pub(crate) fn parse(s: &str) -> Result<Option<Duration>, String> {
    let bad = || format!("invalid duration {s:?} (examples: 30s, 10m0s, 1h)");
    let t = s.trim();
    if t == "0" {
        return Ok(None);
    }
    if t.is_empty() {
        return Err(bad());
    }
    let mut total = 0f64;
    let mut rest = t;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        if num_len == 0 {
            return Err(bad());
        }
        let n: f64 = rest[..num_len].parse().map_err(|_| bad())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        total += n * scale;
        rest = &rest[unit_len..];
    }
    if !total.is_finite() || total > 1e12 {
        return Err(bad());
    }
    Ok((total > 0.0).then(|| Duration::from_secs_f64(total)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(s: &str, expected: Result<Option<u64>, ()>) {
        assert_eq!(
            parse(s)
                .map(|d| d.map(|d| d.as_millis() as u64))
                .map_err(|_| ()),
            expected,
            "{s:?}"
        );
    }

    #[test]
    fn durations() {
        check("10m", Ok(Some(600_000)));
        check("10m0s", Ok(Some(600_000)));
        check("30s", Ok(Some(30_000)));
        check("1h30m", Ok(Some(5_400_000)));
        check("1.5h", Ok(Some(5_400_000)));
        check("250ms", Ok(Some(250)));
        check("0", Ok(None));
        check("0s", Ok(None));
        check("", Err(()));
        check("10", Err(()));
        check("s", Err(()));
        check("10x", Err(()));
        check("-1s", Err(()));
    }
}
