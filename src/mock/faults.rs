//! Fault switches: each one makes the mock break exactly one rule of the contract, so the
//! harness's own tests can prove that every check catches what it claims to catch. None of them
//! is on unless asked for; the default mock keeps every rule.
//!
//! Each fault says where it is implemented ([`Fault::layer`]). The faults that only rewrite an
//! otherwise-correct answer (a status, a field of the envelope, a value, a link) are all in
//! [`super::rewrite`], applied once to every answer after the handler; the handler itself always
//! answers by the contract. The faults that change what the mock does (serves, stores, accepts,
//! selects, filters, orders, pages) stay where that behaviour is, so that it happens for real.

use std::fmt;
use std::str::FromStr;

/// Where in the mock a fault (or a variant) is implemented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    /// [`super::rewrite`]: bends the finished answer, after the handler.
    Rewrite,
    /// `handler/auth.rs`: who a request runs as.
    Auth,
    /// `handler/routing.rs`: which endpoints and methods are served.
    Routing,
    /// `query/`: which records and fields the query engine selects, filters, orders and pages,
    /// and which query parameters it accepts.
    Query,
    /// `handler/validate.rs`: what a write body may hold, and the value that is stored.
    Validation,
    /// `handler/writes.rs`: what a write stores.
    Store,
}

macro_rules! faults {
    ($( $variant:ident = $name:literal @ $layer:ident : $desc:literal, )*) => {
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

            /// Where the mock implements it.
            pub fn layer(self) -> Layer {
                match self { $( Fault::$variant => Layer::$layer, )* }
            }
        }
    };
}

faults! {
    WrongType = "wrong-type" @ Rewrite:
        "GET answers render every boolean field as the string \"true\"/\"false\"",
    MissingKey = "missing-key" @ Rewrite:
        "GET answers omit the first key field of each record (uuid, owner.uuid)",
    LeakSecret = "leak-secret" @ Query:
        "GET returns stored write-only and POST-response-only fields when fields=* or when named in fields",
    FieldsIgnored = "fields-ignored" @ Query:
        "the fields parameter is ignored (collections give keys only, instances every field)",
    FieldsExtra = "fields-extra" @ Query:
        "fields=a,b returns every gettable field anyway",
    FilterIgnored = "filter-ignored" @ Query:
        "query filters on GET are accepted and not applied",
    FilterNegated = "filter-negated" @ Query:
        "query filters on GET select the records that do NOT match",
    MaxRecordsIgnored = "max-records-ignored" @ Query:
        "max_records is ignored: every record, no next link",
    PagingSkip = "paging-skip" @ Rewrite:
        "the next link skips one record",
    PagingRepeat = "paging-repeat" @ Rewrite:
        "the next link repeats the last record of the page",
    NextPlaceholder = "next-placeholder" @ Rewrite:
        "the next link's href is the placeholder \"string\" (as a generic mock serving the OpenAPI export gives)",
    NumRecordsWrong = "num-records-wrong" @ Rewrite:
        "collection GET reports num_records one more than the records returned",
    OrderIgnored = "order-ignored" @ Query:
        "order_by is accepted and not applied",
    OrderReversed = "order-reversed" @ Query:
        "order_by sorts in the opposite direction",
    PatchReadOnlyAccepted = "patch-read-only-accepted" @ Validation:
        "read-only fields in a PATCH body are silently ignored (200) instead of 262196",
    PatchOwnerAccepted = "patch-owner-accepted" @ Validation:
        "PATCH-forbidden fields (owner.name, owner.uuid) are silently ignored (200) instead of 262196",
    RangeUnchecked = "range-unchecked" @ Validation:
        "values outside enum, minimum, maximum or length are accepted and stored (type still checked)",
    PatchPartial = "patch-partial" @ Store:
        "a PATCH rejected for one invalid field has already stored its other valid fields",
    CrlfKept = "crlf-kept" @ Validation:
        "CRLF is stored and returned as CRLF",
    PatchNotStored = "patch-not-stored" @ Store:
        "PATCH answers 200 but stores nothing",
    ErrorCodeNumber = "error-code-number" @ Rewrite:
        "error envelopes carry code as a JSON number",
    ErrorMessageMissing = "error-message-missing" @ Rewrite:
        "error envelopes lack message",
    NotFoundWrongCode = "not-found-wrong-code" @ Rewrite:
        "a missing record answers 404 with code \"2\" instead of \"4\"",
    BadInput500 = "bad-input-500" @ Rewrite:
        "malformed JSON or a non-object body answers 500 (with the envelope) instead of 400",
    UnknownParamIgnored = "unknown-param-ignored" @ Query:
        "unknown query parameters are ignored instead of 400/262179",
    AdminOnlyUnenforced = "admin-only-unenforced" @ Validation:
        "the SVM administrator may change admin-only fields",
    SvmSeesAll = "svm-sees-all" @ Auth:
        "an SVM administrator (and a request tunnelled into an SVM) sees every SVM's records and the cluster's",
    AuthUnenforced = "auth-unenforced" @ Auth:
        "requests without (or with wrong) credentials are served as the admin",
    MethodNotAllowedAccepted = "method-not-allowed-accepted" @ Rewrite:
        "a method the catalog does not list answers 200 {} instead of 405",
    VersionGateIgnored = "version-gate-ignored" @ Routing:
        "endpoints introduced after --ontap-version are served",
    UnknownBodyFieldIgnored = "unknown-body-field-ignored" @ Validation:
        "a field the resource does not have, in a PATCH or POST body, is ignored instead of 400",
    CollectionWriteFilterIgnored = "collection-write-filter-ignored" @ Store:
        "a PATCH or DELETE on a collection changes every record, whatever its query filters select",
    HeadOptionsRefused = "head-options-refused" @ Routing:
        "HEAD and OPTIONS answer 405 instead of being served",
    UnconfiguredAsNotFound = "unconfigured-as-not-found" @ Store:
        "a change for an existing owner without a record answers 404 code \"4\" instead of its documented code (TOTP 144834566)",
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name `--fault` (or `--variant`) does not know; the message lists the names it does.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {name:?}; expected one of: {}", expected.join(", "))]
pub struct UnknownName {
    /// What was named: `fault` or `variant`.
    pub what: &'static str,
    /// The name given.
    pub name: String,
    /// Every name there is, in listing order.
    pub expected: Vec<&'static str>,
}

impl FromStr for Fault {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, UnknownName> {
        Fault::ALL
            .iter()
            .copied()
            .find(|x| x.name() == s)
            .ok_or_else(|| UnknownName {
                what: "fault",
                name: s.to_string(),
                expected: Fault::ALL.iter().map(|x| x.name()).collect(),
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
        assert_eq!(Fault::ALL.len(), 34);
    }

    #[test]
    fn unknown_name_lists_valid_ones() {
        let e = "nope".parse::<Fault>().unwrap_err().to_string();
        assert!(
            e.contains("\"nope\"")
                && e.contains("wrong-type")
                && e.contains("version-gate-ignored")
        );
    }

    #[test]
    fn every_fault_has_a_layer_and_rewrite_faults_are_the_documented_ones() {
        let rewrites: Vec<&str> = Fault::ALL
            .iter()
            .filter(|f| f.layer() == Layer::Rewrite)
            .map(|f| f.name())
            .collect();
        assert_eq!(
            rewrites,
            [
                "wrong-type",
                "missing-key",
                "paging-skip",
                "paging-repeat",
                "next-placeholder",
                "num-records-wrong",
                "error-code-number",
                "error-message-missing",
                "not-found-wrong-code",
                "bad-input-500",
                "method-not-allowed-accepted",
            ]
        );
    }

    #[test]
    fn listing_has_one_line_per_fault() {
        assert_eq!(listing().lines().count(), Fault::ALL.len());
    }
}
