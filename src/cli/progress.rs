//! The progress line on standard error: while records are read, which family and how many so
//! far; then the checks done of the total, the requests sent, the request rate of the last
//! seconds, the time elapsed, and what the run waits for (the check running longest, with how
//! long it has run and how many others are running). Drawn by indicatif, refreshed by a ticker
//! every quarter of a second; hidden unless the command line asks for it. With the engine's other
//! events ([`Console`]): `-v`'s exchanges, the notes on signals and on stopping early.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use ontap_conform::run::events::{Event, Observer};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The progress of one run; every method is cheap, and does nothing visible when hidden.
pub struct Progress {
    bar: ProgressBar,
    start: Instant,
    /// What runs now, by the order it started in: (started at, what).
    running: Mutex<BTreeMap<u64, (Instant, String)>>,
    /// During discovery: what is being read (None once the checks run).
    reading: Mutex<Option<String>>,
    /// (when, requests sent) of the last few seconds, for the rate.
    samples: Mutex<VecDeque<(Instant, u64)>>,
    /// Families whose checks have all ended, and how many there are.
    families: Mutex<(u64, u64)>,
}

/// The rate is measured over this window.
const RATE_WINDOW: Duration = Duration::from_secs(3);

impl Progress {
    /// A progress line on standard error when `show`, else one that draws nothing.
    pub fn new(show: bool) -> Progress {
        let bar = if show {
            ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
        } else {
            ProgressBar::hidden()
        };
        bar.set_style(ProgressStyle::with_template("{spinner} {wide_msg}").expect("template"));
        Progress {
            bar,
            start: Instant::now(),
            running: Mutex::new(BTreeMap::new()),
            reading: Mutex::new(None),
            samples: Mutex::new(VecDeque::new()),
            families: Mutex::new((0, 0)),
        }
    }

    pub fn is_hidden(&self) -> bool {
        self.bar.is_hidden()
    }

    /// Before the checks: what is being read (e.g. "the records of duo, 1200 so far").
    pub fn reading(&self, what: String) {
        *self.reading.lock().unwrap() = Some(what);
    }

    /// The checks begin: `total` of them, over `families` families.
    pub fn checks(&self, total: u64, families: u64) {
        *self.reading.lock().unwrap() = None;
        *self.families.lock().unwrap() = (0, families);
        self.bar.set_length(total);
        self.bar.set_style(
            ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} checks, {wide_msg}")
                .expect("template")
                .progress_chars("=> "),
        );
    }

    /// Every check of one more family has ended.
    pub fn family_done(&self) {
        self.families.lock().unwrap().0 += 1;
    }

    /// A check starts; `id` ends it.
    pub fn begin(&self, id: u64, what: String) {
        self.running
            .lock()
            .unwrap()
            .insert(id, (Instant::now(), what));
    }

    /// A check ended.
    pub fn end(&self, id: u64) {
        self.running.lock().unwrap().remove(&id);
        self.bar.inc(1);
    }

    /// Redraws the line with `requests` sent so far.
    pub fn refresh(&self, requests: u64) {
        let now = Instant::now();
        let rate = {
            let mut s = self.samples.lock().unwrap();
            s.push_back((now, requests));
            while s.len() > 2 && now.duration_since(s[0].0) > RATE_WINDOW {
                s.pop_front();
            }
            let (t0, r0) = s[0];
            let secs = now.duration_since(t0).as_secs_f64();
            if secs > 0.0 {
                (requests - r0) as f64 / secs
            } else {
                0.0
            }
        };
        let reading = self.reading.lock().unwrap().clone();
        let waiting = {
            let running = self.running.lock().unwrap();
            running
                .values()
                .next()
                .map(|(t, what)| (what.clone(), now.duration_since(*t), running.len() - 1))
        };
        let line = match reading {
            Some(what) => format!(
                "reading {what}; {}",
                figures(requests, rate, now.duration_since(self.start))
            ),
            None => {
                let (done, of) = *self.families.lock().unwrap();
                format!(
                    "{done}/{of} families, {}",
                    message(
                        requests,
                        rate,
                        now.duration_since(self.start),
                        waiting.as_ref().map(|(w, d, n)| (w.as_str(), *d, *n)),
                    )
                )
            }
        };
        self.bar.set_message(line);
        self.bar.tick();
    }

    /// Removes the line.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// The command line's observer of a run: the progress line (when shown), `-v`'s exchanges and
/// the notes on signals and on stopping, all on standard error. A third signal ends the process
/// with exit 5, leaving the journal for `ontap-conform restore`.
pub struct Console {
    pub progress: Progress,
    pub verbose: bool,
}

impl Observer for Console {
    fn event(&self, e: &Event<'_>) {
        let p = &self.progress;
        match *e {
            Event::Reading(what) => p.reading(what.to_string()),
            Event::Planned { checks, families } => p.checks(checks, families),
            Event::FamilyDone(_) => p.family_done(),
            Event::Started { id, what } => p.begin(id, what.to_string()),
            Event::Ended { id } => p.end(id),
            Event::Tick { requests } => p.refresh(requests),
            Event::Exchange(line) => p.bar.suspend(|| eprintln!("{line}")),
            Event::Signal {
                name,
                count,
                journal,
            } => p.bar.suspend(|| match count {
                1 => eprintln!(
                    "interrupted by {name}: no new changes; letting requests in flight finish, then restoring every record the run changed…"
                ),
                2 => eprintln!(
                    "{name}: restoring is under way; a third signal stops at once and leaves the records for `ontap-conform restore`"
                ),
                _ => {
                    match journal {
                        Some(j) => eprintln!(
                            "{name}: stopped before the restore finished; the journal {} keeps the originals: run `ontap-conform restore --journal {}` with the same --target and credentials",
                            j.display(),
                            j.display()
                        ),
                        None => eprintln!("{name}: stopped before the restore finished"),
                    }
                    std::process::exit(i32::from(super::exit::CHANGED));
                }
            }),
            Event::Stopping(why) => p
                .bar
                .suspend(|| eprintln!("{why}: stopping; restoring every record the run changed…")),
            Event::Warning(w) => p.bar.suspend(|| eprintln!("warning: {w}")),
            Event::Finished => p.finish(),
        }
    }
    fn wants_exchanges(&self) -> bool {
        self.verbose
    }
    fn wants_ticks(&self) -> bool {
        !self.progress.is_hidden()
    }
}

/// A count with thousands separators: 12,345.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A duration as m:ss (or h:mm:ss).
fn clock(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

fn figures(requests: u64, rate: f64, elapsed: Duration) -> String {
    format!(
        "{} requests, {}/s, {} elapsed",
        thousands(requests),
        thousands(rate.round() as u64),
        clock(elapsed)
    )
}

/// The message after the bar: figures, then what the run waits for (the check running longest,
/// how long it has run, how many others run).
pub fn message(
    requests: u64,
    rate: f64,
    elapsed: Duration,
    waiting: Option<(&str, Duration, usize)>,
) -> String {
    let mut line = figures(requests, rate, elapsed);
    if let Some((what, running, others)) = waiting {
        line.push_str(&format!("; waiting for {what} ({} s", running.as_secs()));
        if others > 0 {
            line.push_str(&format!(", {others} more running"));
        }
        line.push(')');
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_says_requests_rate_elapsed_and_what_it_waits_for() {
        let m = message(
            12_345,
            1_234.4,
            Duration::from_secs(152),
            Some((
                "patch-roundtrip /api/security/login/messages/{uuid}",
                Duration::from_secs(41),
                3,
            )),
        );
        assert_eq!(
            m,
            "12,345 requests, 1,234/s, 2:32 elapsed; waiting for patch-roundtrip /api/security/login/messages/{uuid} (41 s, 3 more running)"
        );
        let m = message(7, 0.0, Duration::from_secs(3725), None);
        assert_eq!(m, "7 requests, 0/s, 1:02:05 elapsed");
    }

    #[test]
    fn a_hidden_line_still_counts() {
        let p = Progress::new(false);
        assert!(p.is_hidden());
        p.checks(2, 1);
        let (a, b) = (0, 1);
        p.begin(a, "a".into());
        p.begin(b, "b".into());
        p.end(a);
        assert_eq!(p.running.lock().unwrap().len(), 1);
        p.end(b);
        p.family_done();
        assert_eq!(*p.families.lock().unwrap(), (1, 1));
        p.refresh(10);
        assert!(p.running.lock().unwrap().is_empty());
    }
}
