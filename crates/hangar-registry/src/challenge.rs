//! `WWW-Authenticate` parsing (RFC 7235): one header may carry several challenges, each a
//! scheme followed by `key=value` parameters, values being tokens or quoted strings.

/// One authentication challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The scheme, lower-cased (`basic`, `bearer`).
    pub scheme: String,
    /// Parameters with lower-cased keys, in order.
    pub params: Vec<(String, String)>,
}

impl Challenge {
    /// The value of parameter `key` (case-insensitive).
    pub fn param(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~/:".contains(c)
}

/// Parses every challenge in a header value; malformed parts end the parse, keeping what
/// was read so far.
pub fn parse(header: &str) -> Vec<Challenge> {
    let mut out: Vec<Challenge> = Vec::new();
    let s: Vec<char> = header.chars().collect();
    let mut i = 0;
    let skip_ws = |i: &mut usize| {
        while *i < s.len() && (s[*i] == ' ' || s[*i] == '\t' || s[*i] == ',') {
            *i += 1;
        }
    };
    let read_token = |i: &mut usize| {
        let start = *i;
        while *i < s.len() && is_token_char(s[*i]) && s[*i] != '=' {
            *i += 1;
        }
        s[start..*i].iter().collect::<String>()
    };
    loop {
        skip_ws(&mut i);
        if i >= s.len() {
            break;
        }
        // Either a new scheme, or (after a comma) another parameter of the current one.
        let save = i;
        let word = read_token(&mut i);
        if word.is_empty() {
            break;
        }
        let mut j = i;
        while j < s.len() && s[j] == ' ' {
            j += 1;
        }
        if j < s.len() && s[j] == '=' && !out.is_empty() {
            // key=value of the current challenge.
            i = j + 1;
            while i < s.len() && s[i] == ' ' {
                i += 1;
            }
            let value = if i < s.len() && s[i] == '"' {
                i += 1;
                let mut v = String::new();
                while i < s.len() && s[i] != '"' {
                    if s[i] == '\\' && i + 1 < s.len() {
                        i += 1;
                    }
                    v.push(s[i]);
                    i += 1;
                }
                i += 1; // closing quote
                v
            } else {
                let start = i;
                while i < s.len() && s[i] != ',' && s[i] != ' ' {
                    i += 1;
                }
                s[start..i].iter().collect()
            };
            if let Some(last) = out.last_mut() {
                last.params.push((word.to_ascii_lowercase(), value));
            }
        } else if j < s.len() && s[j] == '=' {
            // Parameters before any scheme: not a challenge.
            let _ = save;
            break;
        } else {
            out.push(Challenge {
                scheme: word.to_ascii_lowercase(),
                params: Vec::new(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(header: &str, expected: &str) {
        let got: Vec<String> = parse(header)
            .iter()
            .map(|c| {
                let p: Vec<String> = c.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!("{}[{}]", c.scheme, p.join(";"))
            })
            .collect();
        assert_eq!(got.join(" "), expected, "{header:?}");
    }

    #[test]
    fn challenges() {
        check(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull""#,
            "bearer[realm=https://auth.docker.io/token;service=registry.docker.io;scope=repository:library/nginx:pull]",
        );
        check(
            r#"Basic realm="Registry Realm""#,
            "basic[realm=Registry Realm]",
        );
        check(
            r#"basic realm=x, Bearer realm="r", service=s"#,
            "basic[realm=x] bearer[realm=r;service=s]",
        );
        check(
            r#"Bearer realm="a\"b\\c",error="insufficient_scope""#,
            r#"bearer[realm=a"b\c;error=insufficient_scope]"#,
        );
        check("BEARER REALM=\"x\"", "bearer[realm=x]");
        check("", "");
        check("=x", "");
        check("Bearer realm=\"unterminated", "bearer[realm=unterminated]");
    }
}
