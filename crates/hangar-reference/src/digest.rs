//! Content digests (`algorithm:hex`), validated as go-digest validates them.

use std::fmt;
use std::str::FromStr;

/// A digest algorithm hangar knows how to check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// SHA-256: 64 hex characters.
    Sha256,
    /// SHA-384: 96 hex characters.
    Sha384,
    /// SHA-512: 128 hex characters.
    Sha512,
}

impl Algorithm {
    /// The name used in digest strings.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha384 => "sha384",
            Algorithm::Sha512 => "sha512",
        }
    }

    fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 64,
            Algorithm::Sha384 => 96,
            Algorithm::Sha512 => 128,
        }
    }
}

/// Why a string is not a valid digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DigestError {
    /// No `:` between algorithm and hex.
    #[error("invalid checksum digest format")]
    Format,
    /// The algorithm is not sha256, sha384 or sha512.
    #[error("unsupported digest algorithm")]
    Unsupported,
    /// The hex part has the wrong length for the algorithm.
    #[error("invalid checksum digest length")]
    Length,
    /// The hex part is not lower-case hexadecimal.
    #[error("invalid checksum digest format")]
    Hex,
}

/// A validated `algorithm:hex` digest.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Digest {
    algorithm: Algorithm,
    hex: String,
}

impl Digest {
    /// Builds a digest from an algorithm and the hash bytes it produced.
    pub fn from_bytes(algorithm: Algorithm, hash: &[u8]) -> Result<Digest, DigestError> {
        let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
        Digest::new(algorithm, hex)
    }

    fn new(algorithm: Algorithm, hex: String) -> Result<Digest, DigestError> {
        if hex.len() != algorithm.hex_len() {
            return Err(DigestError::Length);
        }
        if !hex
            .bytes()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
        {
            return Err(DigestError::Hex);
        }
        Ok(Digest { algorithm, hex })
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The lower-case hex of the hash.
    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// The tag cosign stores this digest's signatures under: `sha256-<hex>.sig`.
    pub fn signature_tag(&self) -> String {
        format!("{}-{}.sig", self.algorithm.name(), self.hex)
    }
}

impl FromStr for Digest {
    type Err = DigestError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (algo, hex) = s.split_once(':').ok_or(DigestError::Format)?;
        let algorithm = match algo {
            "sha256" => Algorithm::Sha256,
            "sha384" => Algorithm::Sha384,
            "sha512" => Algorithm::Sha512,
            _ => return Err(DigestError::Unsupported),
        };
        Digest::new(algorithm, hex.to_owned())
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm.name(), self.hex)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(input: &str, expected: Result<&str, DigestError>) {
        let got = input.parse::<Digest>().map(|d| d.to_string());
        assert_eq!(got.as_deref().map_err(Clone::clone), expected, "{input:?}");
    }

    #[test]
    fn digests() {
        let h64 = "a".repeat(64);
        check(&format!("sha256:{h64}"), Ok(&format!("sha256:{h64}")));
        check(
            &format!("sha384:{}", "0".repeat(96)),
            Ok(&format!("sha384:{}", "0".repeat(96))),
        );
        check(
            &format!("sha512:{}", "f".repeat(128)),
            Ok(&format!("sha512:{}", "f".repeat(128))),
        );
        check(&format!("sha256:{}", "A".repeat(64)), Err(DigestError::Hex));
        check(&format!("sha256:{}", "g".repeat(64)), Err(DigestError::Hex));
        check(
            &format!("sha256:{}", "a".repeat(63)),
            Err(DigestError::Length),
        );
        check(&format!("sha384:{h64}"), Err(DigestError::Length));
        check(&format!("md5:{h64}"), Err(DigestError::Unsupported));
        check(&format!("SHA256:{h64}"), Err(DigestError::Unsupported));
        check(&h64, Err(DigestError::Format));
        check("", Err(DigestError::Format));
    }

    #[test]
    fn signature_tag() {
        let d: Digest = format!("sha256:{}", "1".repeat(64)).parse().expect("valid");
        assert_eq!(d.signature_tag(), format!("sha256-{}.sig", "1".repeat(64)));
        assert_eq!(
            Digest::from_bytes(Algorithm::Sha256, &[0xab; 32]),
            Ok(format!("sha256:{}", "ab".repeat(32))
                .parse()
                .expect("valid"))
        );
    }
}
