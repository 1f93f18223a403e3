//! The plan: every (check, endpoint) pair of the registry either runs (reads together, writes
//! family by family) or is skipped with the reason (version, safety mode, `--allow-writes`, a
//! nested collection, the check's own `applies`).

use crate::checks::read::is_nested_collection;
use crate::checks::{self, Applies, CheckFn, Needs, ctx::Ctx};
use crate::spec::Endpoint;
use std::collections::BTreeMap;

/// Why the writes of a collection under a parent's key are not sent: its reads run under one
/// parent record, its records' writes on their own instance path.
const NESTED_WRITES_SKIP: &str = "a nested collection: its reads run under one parent record; writes go to its records' instance path";

/// Every (check, endpoint) pair that runs: the reads, and the writes by family.
pub(super) struct Schedule {
    pub reads: Vec<(CheckFn, &'static str, &'static Endpoint)>,
    /// Write checks by family: one family's checks run one after the other.
    pub writes: BTreeMap<String, Vec<(CheckFn, &'static str, &'static Endpoint)>>,
}

pub(super) fn plan(ctx: &Ctx, endpoints: &[&'static Endpoint]) -> Schedule {
    let mut plan = Schedule {
        reads: Vec::new(),
        writes: BTreeMap::new(),
    };
    let version = ctx.version;
    for c in checks::CHECKS.iter().filter(|c| ctx.selected(c.name)) {
        for ep in endpoints {
            let available = ep.available_in(version);
            let why_not = match (c.applies, available) {
                (Applies::Unavailable, true) => {
                    Some(format!("available in the target's {version}"))
                }
                (Applies::Unavailable, false) => None,
                (_, false) => Some(format!(
                    "introduced in {}; the target runs {version}",
                    ep.def.introduced_in
                )),
                (_, true) if c.needs == Needs::Writes && !ctx.may_write() => {
                    Some("--read-only".into())
                }
                (_, true) if c.needs == Needs::Probes && !ctx.may_probe() => {
                    Some("--read-only".into())
                }
                (_, true) if c.needs == Needs::Writes && !ctx.may_write_family(&ep.family) => {
                    Some("--allow-writes does not name this family".into())
                }
                (_, true) if is_nested_collection(ep) && c.needs != Needs::Reads => {
                    Some(NESTED_WRITES_SKIP.into())
                }
                (_, true) if is_nested_collection(ep) && !ctx.nested.contains_key(&ep.family) => {
                    Some(no_parent_record(ctx, ep))
                }
                (_, true) => c.applies_to(ctx.spec, ep).err().map(|why| why.to_string()),
            };
            if let Some(why) = why_not {
                ctx.findings.skip(c.name, ep, why);
                continue;
            }
            match c.run {
                Some(f) if c.needs == Needs::Reads => plan.reads.push((f, c.name, ep)),
                Some(f) => plan
                    .writes
                    .entry(ep.family.clone())
                    .or_default()
                    .push((f, c.name, ep)),
                None => {}
            }
        }
    }
    plan
}

/// Why a nested collection's checks do not run: no record of its parent family to read it under.
fn no_parent_record(ctx: &Ctx, ep: &Endpoint) -> String {
    match ctx.spec.parent_of(ep) {
        Some((parent, _)) => format!(
            "a nested collection under {}, which has no record to read it under",
            parent.family
        ),
        None => "a nested collection whose parent family the contract does not name".into(),
    }
}

impl Schedule {
    /// The (check, endpoint) pairs to run.
    pub(super) fn len(&self) -> usize {
        self.reads.len() + self.writes.values().map(Vec::len).sum::<usize>()
    }
    /// The (check, endpoint) pairs to run, per family.
    pub(super) fn per_family(&self) -> BTreeMap<String, usize> {
        let mut n: BTreeMap<String, usize> = BTreeMap::new();
        let eps = self
            .reads
            .iter()
            .map(|r| r.2)
            .chain(self.writes.values().flatten().map(|w| w.2));
        for ep in eps {
            *n.entry(ep.family.clone()).or_default() += 1;
        }
        n
    }
}
