//! Fault switches: each one makes the mock break exactly one rule of the contract, so the
//! harness's own tests can prove that every check catches what it claims to catch. None of them
//! is on unless asked for; the default mock keeps every rule.

use std::fmt;
use std::str::FromStr;

macro_rules! faults {
    ($( $variant:ident = $name:literal : $desc:literal, )*) => {
        /// One deliberate defect of the mock (`--fault NAME`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Fault {
            $( #[doc = $desc] $variant, )*
        }

        impl Fault {
            /// Every fault, in the order `--list-faults` prints them.
            pub const ALL: &[Fault] = &[ $( Fault::$variant, )* ];

            /// The name `--fault` takes.
            pub fn name(self) -> &'static str {
                match self { $( Fault::$variant => $name, )* }
            }

            /// The one rule it breaks, in one line.
            pub fn description(self) -> &'static str {
                match self { $( Fault::$variant => $desc, )* }
            }
        }
    };
}

faults! {
    WrongType = "wrong-type":
        "GET answers render every boolean field as the string \"true\"/\"false\"",
    MissingKey = "missing-key":
        "GET answers omit the first key field of each record (uuid, owner.uuid)",
    LeakSecret = "leak-secret":
        "GET returns stored write-only and POST-response-only fields when fields=* or when named in fields",
    FieldsIgnored = "fields-ignored":
        "the fields parameter is ignored (collections give keys only, instances every field)",
    FieldsExtra = "fields-extra":
        "fields=a,b returns every gettable field anyway",
    FilterIgnored = "filter-ignored":
        "query filters on GET are accepted and not applied",
    FilterNegated = "filter-negated":
        "query filters on GET select the records that do NOT match",
    MaxRecordsIgnored = "max-records-ignored":
        "max_records is ignored: every record, no next link",
    PagingSkip = "paging-skip":
        "the next link skips one record",
    PagingRepeat = "paging-repeat":
        "the next link repeats the last record of the page",
    NumRecordsWrong = "num-records-wrong":
        "collection GET reports num_records one more than the records returned",
    OrderIgnored = "order-ignored":
        "order_by is accepted and not applied",
    OrderReversed = "order-reversed":
        "order_by sorts in the opposite direction",
    PatchReadOnlyAccepted = "patch-read-only-accepted":
        "read-only fields in a PATCH body are silently ignored (200) instead of 262196",
    PatchOwnerAccepted = "patch-owner-accepted":
        "PATCH-forbidden fields (owner.name, owner.uuid) are silently ignored (200) instead of 262196",
    RangeUnchecked = "range-unchecked":
        "values outside enum, minimum, maximum or length are accepted and stored (type still checked)",
    PatchPartial = "patch-partial":
        "a PATCH rejected for one invalid field has already stored its other valid fields",
    CrlfKept = "crlf-kept":
        "CRLF is stored and returned as CRLF",
    PatchNotStored = "patch-not-stored":
        "PATCH answers 200 but stores nothing",
    ErrorCodeNumber = "error-code-number":
        "error envelopes carry code as a JSON number",
    ErrorMessageMissing = "error-message-missing":
        "error envelopes lack message",
    NotFoundWrongCode = "not-found-wrong-code":
        "a missing record answers 404 with code \"2\" instead of \"4\"",
    BadInput500 = "bad-input-500":
        "malformed JSON or a non-object body answers 500 (with the envelope) instead of 400",
    UnknownParamIgnored = "unknown-param-ignored":
        "unknown query parameters are ignored instead of 400/262179",
    AdminOnlyUnenforced = "admin-only-unenforced":
        "the SVM administrator may change admin-only fields",
    AuthUnenforced = "auth-unenforced":
        "requests without (or with wrong) credentials are served as the admin",
    MethodNotAllowedAccepted = "method-not-allowed-accepted":
        "a method the catalog does not list answers 200 {} instead of 405",
    VersionGateIgnored = "version-gate-ignored":
        "endpoints introduced after --ontap-version are served",
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Fault {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Fault::ALL
            .iter()
            .copied()
            .find(|f| f.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Fault::ALL.iter().map(|f| f.name()).collect();
                format!("unknown fault {s:?}; expected one of: {}", names.join(", "))
            })
    }
}

/// The `--list-faults` text: one `NAME  description` line per fault, names padded to align.
pub fn listing() -> String {
    let width = Fault::ALL.iter().map(|f| f.name().len()).max().unwrap_or(0);
    let mut out = String::new();
    for f in Fault::ALL {
        out.push_str(&format!(
            "{:width$}  {}\n",
            f.name(),
            f.description(),
            width = width
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        let mut seen = std::collections::BTreeSet::new();
        for f in Fault::ALL {
            assert_eq!(f.name().parse::<Fault>().unwrap(), *f);
            assert!(seen.insert(f.name()));
        }
        assert_eq!(Fault::ALL.len(), 28);
    }

    #[test]
    fn unknown_name_lists_valid_ones() {
        let e = "nope".parse::<Fault>().unwrap_err();
        assert!(
            e.contains("\"nope\"")
                && e.contains("wrong-type")
                && e.contains("version-gate-ignored")
        );
    }

    #[test]
    fn listing_has_one_line_per_fault() {
        assert_eq!(listing().lines().count(), Fault::ALL.len());
    }
}
