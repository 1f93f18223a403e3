//! The releases of NetApp's API shipped with the harness: `contracts/ontap-X.Y.json.gz`, each the
//! intermediate document [`super::Contract`] read from `netapp-ontap` X.Y by
//! `scripts/ship-releases.py`, gzip-compressed and compiled in. `--contract ontap-9.19` (or
//! `ontap-latest`) reads one with no Python and no network.

use super::Contract;
use std::io::Read;

/// One shipped release.
#[derive(Debug, Clone, Copy)]
pub struct Release {
    /// `ontap-9.19`.
    pub name: &'static str,
    /// The `netapp-ontap` release it was read from (`9.19.1.0`).
    pub package: &'static str,
    data: &'static [u8],
}

macro_rules! release {
    ($name:literal, $pkg:literal) => {
        Release {
            name: $name,
            package: $pkg,
            data: include_bytes!(concat!("../../../contracts/", $name, ".json.gz")),
        }
    };
}

/// Every shipped release, oldest first.
pub const RELEASES: &[Release] = &[
    release!("ontap-9.6", "9.6.0"),
    release!("ontap-9.7", "9.7.3"),
    release!("ontap-9.8", "9.8.0"),
    release!("ontap-9.9", "9.9.1.0"),
    release!("ontap-9.10", "9.10.1.0"),
    release!("ontap-9.12", "9.12.1.0"),
    release!("ontap-9.13", "9.13.1.0"),
    release!("ontap-9.14", "9.14.1.0"),
    release!("ontap-9.15", "9.15.1.1"),
    release!("ontap-9.16", "9.16.1.0"),
    release!("ontap-9.17", "9.17.1.0"),
    release!("ontap-9.18", "9.18.1.0"),
    release!("ontap-9.19", "9.19.1.0"),
];

/// The name `ontap-latest` stands for.
pub const LATEST: &str = "ontap-9.19";

impl Release {
    /// The intermediate document, decompressed and parsed.
    pub fn contract(&self) -> Contract {
        let mut text = String::new();
        flate2::read::GzDecoder::new(self.data)
            .read_to_string(&mut text)
            .expect("a shipped release is valid gzip (tested)");
        serde_json::from_str(&text).expect("a shipped release parses (tested)")
    }
}

/// A release by name: `ontap-9.19`, `ontap-9.19.1`, `ontap-9.19.1.0`, `9.19`, or `ontap-latest`.
pub fn find(name: &str) -> Option<&'static Release> {
    let n = if name == "ontap-latest" || name == "latest" {
        LATEST
    } else {
        name
    };
    let short = n.strip_prefix("ontap-").unwrap_or(n);
    let short = super::short_version(short);
    RELEASES
        .iter()
        .find(|r| r.name.strip_prefix("ontap-") == Some(short.as_str()))
}

/// The names of every shipped release, for error messages and `--help`.
pub fn names() -> String {
    let mut v: Vec<&str> = RELEASES.iter().map(|r| r.name).collect();
    v.push("ontap-latest");
    v.join(", ")
}
