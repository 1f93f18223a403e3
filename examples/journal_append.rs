//! Times the restore journal: N entries added one by one (each flushed to disk), then marked
//! restored one by one; then N entries added at once (a collection PATCH's family) followed by
//! 100 single entries. `cargo run --release --example journal_append -- N [DIR] [bulk]` (`bulk`:
//! only the second part).
use ontap_conform::undo::journal::Journal;
use ontap_conform::undo::{Change, Saved};
use serde_json::{Value, json};
use std::time::Instant;

/// An account record of about the size ONTAP returns.
fn record(i: usize) -> Value {
    json!({
        "name": format!("user{i}"),
        "owner": {"name": format!("svm{}", i / 5), "uuid": format!("{:08x}-0000-4000-8000-{:012x}", i / 5, i)},
        "applications": [{"application": "http", "authentication_methods": ["password"], "second_authentication_method": "none"}],
        "role": {"name": "vsadmin"},
        "comment": "a comment of some length to look like a real record",
        "locked": false,
        "scope": "svm"
    })
}

fn path_of(i: usize) -> String {
    format!("/api/security/accounts/{i}/user{i}")
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map(|a| a.parse().unwrap()).unwrap_or(35_000);
    let dir = tempfile::tempdir_in(args.next().unwrap_or_else(|| ".".into())).unwrap();
    let path = dir.path().join("bench.journal");

    let bulk_only = args.next().as_deref() == Some("bulk");

    if !bulk_only {
        one_by_one(n, &path);
    }
    at_once(n, &path);
}

fn one_by_one(n: usize, path: &std::path::Path) {
    let j = Journal::start(path.to_path_buf(), "https://bench", "admin").unwrap();
    let t = Instant::now();
    for i in 0..n {
        j.add("accounts", &path_of(i), Change::Changed, &record(i))
            .unwrap();
    }
    let added = t.elapsed();
    let size = std::fs::metadata(path).unwrap().len();
    let t = Instant::now();
    for i in 0..n {
        j.restored(&path_of(i)).unwrap();
    }
    let restored = t.elapsed();
    assert!(j.finish().unwrap());
    println!(
        "{n} entries one by one: add {:.2} s ({:.0} µs each), file {:.1} MB; restored {:.2} s",
        added.as_secs_f64(),
        added.as_secs_f64() * 1e6 / n as f64,
        size as f64 / 1e6,
        restored.as_secs_f64()
    );
}

fn at_once(n: usize, path: &std::path::Path) {
    let list: Vec<Saved> = (0..n)
        .map(|i| Saved::new("accounts", &path_of(i), Change::Changed, &record(i)))
        .collect();
    let j = Journal::start(path.to_path_buf(), "https://bench", "admin").unwrap();
    let t = Instant::now();
    j.add_many(list.iter().cloned()).unwrap();
    let bulk = t.elapsed();
    let t = Instant::now();
    for i in 0..100 {
        j.add(
            "accounts",
            &format!("/api/x/{i}"),
            Change::Changed,
            &record(i),
        )
        .unwrap();
    }
    let after = t.elapsed();
    println!(
        "{n} entries at once: {:.2} s; then 100 single entries {:.3} s ({:.0} µs each)",
        bulk.as_secs_f64(),
        after.as_secs_f64(),
        after.as_secs_f64() * 1e4
    );
}
