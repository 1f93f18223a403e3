//! ONTAP release numbers (`9.14.1`), for `introduced_in` gates and `--ontap-version`.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OntapVersion {
    pub major: u32,
    pub minor: u32,
    pub micro: u32,
}

impl OntapVersion {
    pub const fn new(major: u32, minor: u32, micro: u32) -> Self {
        OntapVersion {
            major,
            minor,
            micro,
        }
    }
}

/// Why a text is not an ONTAP release number; both kinds say what was expected and what was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    /// Not two or three parts separated by dots.
    #[error("expected an ONTAP version like 9.14 or 9.14.1, found {0:?}")]
    Parts(String),
    /// A part that is not a number of one to four digits.
    #[error("expected an ONTAP version like 9.14 or 9.14.1, found {0:?}")]
    Number(String),
}

impl FromStr for OntapVersion {
    type Err = VersionError;
    fn from_str(s: &str) -> Result<Self, VersionError> {
        let parts: Vec<&str> = s.trim().split('.').collect();
        if !(2..=3).contains(&parts.len()) {
            return Err(VersionError::Parts(s.to_string()));
        }
        let num = |p: &str| -> Result<u32, VersionError> {
            let bad = || VersionError::Number(s.to_string());
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) || p.len() > 4 {
                return Err(bad());
            }
            p.parse().map_err(|_| bad())
        };
        Ok(OntapVersion {
            major: num(parts[0])?,
            minor: num(parts[1])?,
            micro: if parts.len() == 3 { num(parts[2])? } else { 0 },
        })
    }
}

impl TryFrom<String> for OntapVersion {
    type Error = VersionError;
    fn try_from(s: String) -> Result<Self, VersionError> {
        s.parse()
    }
}

impl From<OntapVersion> for String {
    fn from(v: OntapVersion) -> String {
        v.to_string()
    }
}

impl fmt::Display for OntapVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.micro)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_orders() {
        let a: OntapVersion = "9.13".parse().unwrap();
        let b: OntapVersion = "9.13.1".parse().unwrap();
        let c: OntapVersion = "9.14.1".parse().unwrap();
        assert!(a < b && b < c);
        assert_eq!(c.to_string(), "9.14.1");
        assert_eq!(
            "9".parse::<OntapVersion>(),
            Err(VersionError::Parts("9".into()))
        );
        assert_eq!(
            "9.x".parse::<OntapVersion>(),
            Err(VersionError::Number("9.x".into()))
        );
        assert!("9.14.1.2".parse::<OntapVersion>().is_err());
        assert_eq!(
            "9.x".parse::<OntapVersion>().unwrap_err().to_string(),
            r#"expected an ONTAP version like 9.14 or 9.14.1, found "9.x""#
        );
    }
}
