//! Every query fault of the mock (each one plausible wrong reading of a filter operator or of
//! `order_by`, and a next link that drops the query) is caught by its check with every seed, not
//! only with lucky ones, and the clean mock passes with every seed (issue 20 item 2).

mod common;

use ontap_conform::checks::Severity;
use ontap_conform::mock::Fault;
use ontap_conform::run::config::RunConfig;

const SEEDS: std::ops::RangeInclusive<u64> = 1..=10;

/// The query faults and the check meant to catch each.
const QUERY_FAULTS: &[(&str, &str)] = &[
    ("filter-ignored", "query-filter"),
    ("filter-negated", "query-filter"),
    ("filter-bound-inclusive", "query-filter"),
    ("filter-bound-exclusive", "query-filter"),
    ("filter-range-exclusive", "query-filter"),
    ("filter-wildcard-substring", "query-filter"),
    ("filter-case-insensitive", "query-filter"),
    ("filter-not-unset", "query-filter"),
    ("filter-not-or-grouped", "query-filter"),
    ("filter-or-first", "query-filter"),
    ("filter-quoted-glob", "query-filter"),
    ("filter-null-literal", "query-filter"),
    ("order-ignored", "ordering"),
    ("order-reversed", "ordering"),
    ("order-by-second-key-ignored", "ordering"),
    ("next-drops-query", "paging"),
];

/// Whether a run of `check` with `seed` against the mock with `faults` has a failure of it.
fn fails(check: &str, seed: u64, faults: &[&str]) -> bool {
    let cfg = RunConfig::builder()
        .seed(seed)
        .checks([check])
        .faults(faults.iter().map(|f| f.parse::<Fault>().expect("a fault")))
        .build()
        .expect("valid config");
    let r = common::run::report(&cfg);
    r.findings
        .iter()
        .any(|f| f.check == check && f.severity == Severity::Failure)
}

#[test]
fn every_query_fault_is_caught_with_every_seed() {
    // Every query-layer fault that bends filters or ordering is in the list.
    for f in Fault::ALL {
        let n = f.name();
        if n.starts_with("filter-") || n.starts_with("order-") {
            assert!(
                QUERY_FAULTS.iter().any(|(q, _)| *q == n),
                "{n} is not in QUERY_FAULTS"
            );
        }
    }
    let mut missed = Vec::new();
    for (fault, check) in QUERY_FAULTS {
        let seeds: Vec<u64> = SEEDS.filter(|s| !fails(check, *s, &[fault])).collect();
        if !seeds.is_empty() {
            missed.push(format!(
                "--fault {fault}: {check} missed it with seeds {seeds:?}"
            ));
        }
    }
    assert!(missed.is_empty(), "{}", missed.join("\n"));
}

#[test]
fn the_clean_mock_passes_with_every_seed() {
    let mut failed = Vec::new();
    for check in ["query-filter", "ordering", "paging"] {
        for seed in SEEDS {
            if fails(check, seed, &[]) {
                failed.push(format!("{check} failed with seed {seed}"));
            }
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}
