//! Running one property against the target: draw the cases from a proptest strategy (seeded by
//! `--seed` and the property's name), run them (concurrently when they only read), and shrink the
//! first failure to a minimal request whose curl reproducer goes into the report.

use crate::checks::ctx::Ctx;
use crate::checks::rule_evidence;
use crate::client::Exchange;
use crate::generate;
use crate::spec::Endpoint;
use crate::spec::model::Evidence;
use crate::verdict::Finding;
use futures_util::stream::{self, StreamExt};
use proptest::strategy::{Strategy, ValueTree};
use std::fmt::Debug;
use std::future::Future;

/// How one generated case went.
#[allow(clippy::large_enum_variant)]
pub enum Case {
    Pass,
    Fail(Failure),
    /// The case does not apply (e.g. an operator that does not fit the field).
    Skip,
}

pub struct Failure {
    pub rule: String,
    /// Overrides the rule's evidence (field-level rules: a field's maxLength is doc, its enum lib).
    pub evidence: Option<Evidence>,
    pub message: String,
    pub exchange: Option<Exchange>,
    pub expected: String,
}

impl Failure {
    pub fn rule(rule: &str, message: String, x: Exchange, expected: String) -> Self {
        Failure {
            rule: rule.into(),
            evidence: None,
            message,
            exchange: Some(x),
            expected,
        }
    }
    pub fn plain(rule: &str, message: String) -> Self {
        Failure {
            rule: rule.into(),
            evidence: None,
            message,
            exchange: None,
            expected: String::new(),
        }
    }
    pub fn with_evidence(mut self, e: Evidence) -> Self {
        self.evidence = Some(e);
        self
    }
}

/// Parallel cases in flight for one read-only property.
const IN_FLIGHT: usize = 8;
/// Cases drawn at a time.
const CHUNK: u32 = 256;
/// Re-runs spent shrinking one failure at most.
const SHRINK_BUDGET: u32 = 64;

/// Which property runs where, and how.
pub struct Property<'a> {
    pub check: &'a str,
    pub ep: &'a Endpoint,
    pub method: &'a str,
    /// Cases to draw.
    pub cases: u32,
    /// Whether the cases may run at once (they only read).
    pub concurrent: bool,
}

/// Sends one case's request and hands back its answer when it is a success; otherwise how the
/// case ends: skipped without an answer, failed under `rule` ("{asked} answered {status}",
/// expecting 200).
pub async fn send_ok(
    ctx: &Ctx,
    check: &str,
    ep: &Endpoint,
    req: crate::client::Request,
    rule: &str,
    asked: &str,
) -> Result<Exchange, Case> {
    let Some(x) = ctx.send(check, ep, req).await else {
        return Err(Case::Skip);
    };
    if !x.response.is_success() {
        let message = format!("{asked} answered {}", x.response.summary());
        return Err(Case::Fail(Failure::rule(rule, message, x, "200".into())));
    }
    Ok(x)
}

/// Runs cases chosen rather than drawn (each with a label saying why it was chosen), concurrently
/// when the property only reads, before the property's drawn cases. The first failing one, in the
/// order given, is recorded as a finding of `p.check` (already minimal: nothing to shrink).
/// Returns whether one failed.
pub async fn chosen<T, F, Fut>(
    ctx: &Ctx,
    p: &Property<'_>,
    cases: Vec<(String, T)>,
    test: F,
) -> bool
where
    T: Clone + Send,
    F: Fn(T) -> Fut + Send + Sync,
    Fut: Future<Output = Case> + Send,
{
    if cases.is_empty() || ctx.stop.requested() {
        return false;
    }
    let total = cases.len();
    let test = &test;
    let values: Vec<T> = cases.iter().map(|c| c.1.clone()).collect();
    let mut outcomes: Vec<(usize, Case)> = stream::iter(values.into_iter().enumerate())
        .map(|(i, v)| async move { (i, test(v).await) })
        .buffer_unordered(if p.concurrent { IN_FLIGHT } else { 1 })
        .collect()
        .await;
    outcomes.sort_by_key(|(i, _)| *i);
    let mut applicable = 0u64;
    let mut failures = 0u64;
    let mut first: Option<(usize, Failure)> = None;
    for (i, case) in outcomes {
        match case {
            Case::Pass => applicable += 1,
            Case::Skip => {}
            Case::Fail(f) => {
                applicable += 1;
                failures += 1;
                if first.is_none() {
                    first = Some((i, f));
                }
            }
        }
    }
    ctx.findings.count_cases(applicable);
    if applicable > 0 {
        ctx.findings.ran(p.check, p.ep);
    }
    let Some((i, failure)) = first else {
        return false;
    };
    let shrunk = format!(
        "{failures} of {total} chosen cases failed; this one {}",
        cases[i].0
    );
    record(ctx, (p.check, p.ep, p.method), failure, shrunk, failures);
    true
}

/// Records the finding of a property's failing case: the rule's evidence (unless the case
/// set its own), the reproducer of its exchange with `shrunk` saying which case it was, and
/// how many cases failed.
fn record(
    ctx: &Ctx,
    (check, ep, method): (&str, &Endpoint, &str),
    failure: Failure,
    shrunk: String,
    failures: u64,
) {
    let evidence = failure
        .evidence
        .unwrap_or_else(|| rule_evidence(ctx.spec, &failure.rule));
    let mut reproducer = failure
        .exchange
        .as_ref()
        .map(|x| ctx.reproducer(x, &failure.expected));
    if let Some(r) = reproducer.as_mut() {
        r.shrunk = Some(shrunk);
    }
    ctx.findings.push(
        Finding::new(check, ep.path(), method, &failure.rule, evidence)
            .message(failure.message)
            .reproducer(reproducer)
            .occurrences(failures),
    );
}

/// Runs `test` on `p.cases` values drawn from `strategy`; the earliest failure is shrunk and
/// recorded as a finding of `p.check`.
pub async fn property<S, F, Fut>(ctx: &Ctx, p: Property<'_>, strategy: S, test: F)
where
    S: Strategy + Send + Sync,
    S::Value: Clone + Debug + Send,
    F: Fn(S::Value) -> Fut + Send + Sync,
    Fut: Future<Output = Case> + Send,
{
    let Property {
        check,
        ep,
        method,
        cases,
        concurrent,
    } = p;
    let property_name = format!("{check} {}", ep.path());
    // Values are drawn a chunk at a time, so memory stays flat whatever --cases is. The trees are
    // not Send: each chunk's trees are dropped before the first await, and a failing case's tree is
    // redrawn (deterministically, from the same seed) only when it must be shrunk. Drawing in
    // chunks from one runner gives the same sequence as drawing everything at once.
    let mut runner = generate::runner(ctx.settings.seed, &property_name);
    let mut total = 0usize;
    // Only the earliest failure is kept (with its value); the others, and every pass or skip,
    // cost a counter.
    let mut applicable = 0usize;
    let mut failures = 0usize;
    let mut earliest: Option<(usize, S::Value, Box<Failure>)> = None;
    let mut remaining = cases.max(1);
    // A stopped run (a signal, the deadline, the transport) draws no more cases.
    while remaining > 0 && !ctx.stop.requested() {
        let n = remaining.min(CHUNK);
        remaining -= n;
        let chunk: Vec<S::Value> = generate::draw(&mut runner, &strategy, n)
            .iter()
            .map(|t| t.current())
            .collect();
        let offset = total;
        total += chunk.len();
        let mut tally = |i: usize, v: &S::Value, case: Case| match case {
            Case::Pass => applicable += 1,
            Case::Skip => {}
            Case::Fail(f) => {
                applicable += 1;
                failures += 1;
                if earliest.as_ref().is_none_or(|(j, _, _)| offset + i < *j) {
                    earliest = Some((offset + i, v.clone(), Box::new(f)));
                }
            }
        };
        if concurrent {
            let test = &test;
            let mut done = stream::iter(chunk.iter().cloned().enumerate())
                .map(|(i, v)| async move { (i, test(v).await) })
                .buffer_unordered(IN_FLIGHT);
            while let Some((i, case)) = done.next().await {
                tally(i, &chunk[i], case);
            }
        } else {
            for (i, v) in chunk.iter().enumerate() {
                let out = test(v.clone()).await;
                let stop = matches!(out, Case::Fail(_));
                tally(i, v, out);
                if stop {
                    remaining = 0;
                    break;
                }
            }
        }
    }
    ctx.findings.count_cases(applicable as u64);
    if applicable == 0 {
        ctx.findings.skip(
            check,
            ep,
            "no generated case applied to this endpoint's data",
        );
        return;
    }
    ctx.findings.ran(check, ep);
    let Some((first, original, first_failure)) = earliest else {
        return;
    };
    let (minimal, steps) = tokio::task::block_in_place(|| {
        let mut runner = generate::runner(ctx.settings.seed, &property_name);
        let tree = generate::draw(&mut runner, &strategy, first as u32 + 1)
            .pop()
            .expect("the same draw");
        let handle = tokio::runtime::Handle::current();
        generate::shrink(
            tree,
            |v| matches!(handle.block_on(test(v)), Case::Fail(_)),
            SHRINK_BUDGET,
        )
    });
    // Run the minimal case once more for its exchange; fall back to the first failure.
    let failure = match test(minimal.clone()).await {
        Case::Fail(f) => f,
        _ => *first_failure,
    };
    let of = if concurrent {
        format!("{failures} of {total} cases failed")
    } else {
        format!("case {} of {total} failed", first + 1)
    };
    let shrunk = if format!("{original:?}") == format!("{minimal:?}") {
        format!(
            "{of}; already minimal: {}",
            crate::redact::redact_text(ctx.spec, &format!("{minimal:?}"))
        )
    } else {
        format!(
            "{of}; shrunk in {steps} steps from {} to {}",
            crate::redact::redact_text(ctx.spec, &format!("{original:?}")),
            crate::redact::redact_text(ctx.spec, &format!("{minimal:?}"))
        )
    };
    record(ctx, (check, ep, method), failure, shrunk, failures as u64);
}
