//! Variant switches: each one makes the mock show one freedom a conformant ONTAP has
//! (ONTAP-BEHAVIOR.md §3b) where NetApp's documents are silent or allow either answer. Unlike a
//! fault, a variant breaks no rule: a harness that fails on one of them judges too hard. None is
//! on unless asked for; the default mock answers as the reference does.
//!
//! Each variant says where it is implemented ([`Variant::layer`], the same layers as the faults):
//! the ones that only rewrite a finished answer (a status, a field of the envelope) are applied in
//! [`super::rewrite`]; the others live where the behaviour they change is.

use super::faults::{Layer, UnknownName};
use std::fmt;
use std::str::FromStr;

macro_rules! variants {
    ($( $variant:ident = $name:literal @ $layer:ident : $desc:literal, )*) => {
        /// One freedom of a conformant ONTAP (`--variant NAME`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Variant {
            $( #[doc = $desc] $variant, )*
        }

        impl Variant {
            /// Every variant, in the order `--list-variants` prints them.
            pub const ALL: &[Variant] = &[ $( Variant::$variant, )* ];

            /// The name `--variant` takes.
            pub fn name(self) -> &'static str {
                match self { $( Variant::$variant => $name, )* }
            }

            /// The freedom it shows, in one line.
            pub fn description(self) -> &'static str {
                match self { $( Variant::$variant => $desc, )* }
            }

            /// Where the mock implements it.
            pub fn layer(self) -> Layer {
                match self { $( Variant::$variant => Layer::$layer, )* }
            }
        }
    };
}

variants! {
    Permission400 = "permission-400" @ Rewrite:
        "a permission denial answers 400 (code 6) instead of 403",
    NoErrorTarget = "no-error-target" @ Rewrite:
        "error envelopes carry no target",
    CollectionAllFields = "collection-all-fields" @ Query:
        "a collection GET without fields returns every gettable field, not only the keys",
    OpaqueNext = "opaque-next" @ Query:
        "_links.next is an opaque cursor (next_token=...) instead of the query with start.index",
    NewerField = "newer-field" @ Query:
        "fields=*, fields=** and instance GETs also return a field this contract does not know (a newer release's)",
    UnsetFirst = "unset-first" @ Query:
        "order_by places records whose field is unset first, in either direction",
    UnsetLast = "unset-last" @ Query:
        "order_by places records whose field is unset last, in either direction",
    Duplicate400 = "duplicate-400" @ Rewrite:
        "a duplicate POST answers 400 (code 1) instead of 409",
    CostlyField = "costly-field" @ Query:
        "fields=* (and an instance GET without fields) leaves out one costly field; fields=** returns it",
    TimeLimitedPages = "time-limited-pages" @ Query:
        "collection GETs stop after 2 records as if return_timeout ran out, with a next link, even without max_records",
    TimeLimitedCounts = "time-limited-counts" @ Query:
        "return_records=false counts 2 records at a time as if return_timeout ran out, with a next link to count on",
    LfAtLimit = "lf-at-limit" @ Validation:
        "the trailing LF is appended to banner and message at their maxLength too (2048 characters read back as 2049)",
    NoTrailingLf = "no-trailing-lf" @ Validation:
        "banner and message are stored as sent, without the trailing LF ONTAP appends",
    TrailingLf = "trailing-lf" @ Validation:
        "banner and message get the trailing LF ONTAP appends (the default once the harness accepts it)",
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Variant {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, UnknownName> {
        Variant::ALL
            .iter()
            .copied()
            .find(|x| x.name() == s)
            .ok_or_else(|| UnknownName {
                what: "variant",
                name: s.to_string(),
                expected: Variant::ALL.iter().map(|x| x.name()).collect(),
            })
    }
}

/// The `--list-variants` text: one `NAME  description` line per variant, names padded to align.
pub fn listing() -> String {
    let width = Variant::ALL
        .iter()
        .map(|v| v.name().len())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for v in Variant::ALL {
        out.push_str(&format!(
            "{:width$}  {}\n",
            v.name(),
            v.description(),
            width = width
        ));
    }
    out
}

/// The number of records a page holds under [`Variant::TimeLimitedPages`].
pub const TIME_LIMITED_PAGE: usize = 2;
/// The name of the field [`Variant::NewerField`] adds.
pub const NEWER_FIELD: &str = "newer_release_field";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        let mut seen = std::collections::BTreeSet::new();
        for v in Variant::ALL {
            assert_eq!(v.name().parse::<Variant>().unwrap(), *v);
            assert!(seen.insert(v.name()));
        }
        let e = "nope".parse::<Variant>().unwrap_err().to_string();
        assert!(e.contains("\"nope\"") && e.contains("permission-400"));
        assert_eq!(listing().lines().count(), Variant::ALL.len());
    }

    #[test]
    fn rewrite_variants_are_the_envelope_ones() {
        let rewrites: Vec<&str> = Variant::ALL
            .iter()
            .filter(|v| v.layer() == Layer::Rewrite)
            .map(|v| v.name())
            .collect();
        assert_eq!(
            rewrites,
            ["permission-400", "no-error-target", "duplicate-400"]
        );
    }
}
