//! Being gentle with a production cluster, and measuring what it costs: the request rate cap
//! (`--rate`), the wait before a retry of a 429 or 503 (its `Retry-After`, or a bounded backoff),
//! the peak rate reached, and each endpoint's latency (p50 / p95 / max), for the report and for
//! recordings.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// Spaces requests out to at most `per_second`: each caller is given the next free slot of the
/// schedule (one every 1/per_second), and sleeps until it. No burst: the first request goes at
/// once, every later one at least one interval after the one before.
#[derive(Debug)]
pub struct RateLimiter {
    interval: Duration,
    next: Mutex<Option<Instant>>,
}

impl RateLimiter {
    pub fn new(per_second: f64) -> RateLimiter {
        RateLimiter {
            interval: Duration::from_secs_f64(1.0 / per_second.max(1e-6)),
            next: Mutex::new(None),
        }
    }

    /// The instant the next request may go (and books it).
    pub fn slot(&self) -> Instant {
        self.slot_at(Instant::now())
    }

    /// The slot of a request asked for at `now` (the schedule itself: no clock is read).
    pub fn slot_at(&self, now: Instant) -> Instant {
        let mut next = self.next.lock().unwrap();
        let at = next.map_or(now, |n| n.max(now));
        *next = Some(at + self.interval);
        at
    }

    /// Waits for the next slot.
    pub async fn wait(&self) {
        let at = self.slot();
        tokio::time::sleep_until(at).await;
    }
}

/// Retries of one request answered 429 or 503, at most.
pub const MAX_RETRIES: u32 = 3;
/// The longest wait before a retry, whatever `Retry-After` asks.
pub const MAX_RETRY_WAIT: Duration = Duration::from_secs(30);

/// The wait before retry `attempt` (0 for the first) of an answer 429 or 503: its `Retry-After`
/// in seconds when it has one (an HTTP date or garbage counts as none), else 1 s, 2 s, 4 s...;
/// never more than [`MAX_RETRY_WAIT`].
pub fn retry_wait(retry_after: Option<&str>, attempt: u32) -> Duration {
    let asked = retry_after
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    asked
        .unwrap_or_else(|| Duration::from_secs(1u64 << attempt.min(5)))
        .min(MAX_RETRY_WAIT)
}

/// Requests sent in each second of the run, for the peak rate reached.
#[derive(Debug)]
pub struct RateMeter {
    start: Instant,
    per_second: Mutex<Vec<u32>>,
}

impl Default for RateMeter {
    fn default() -> Self {
        RateMeter {
            start: Instant::now(),
            per_second: Mutex::new(Vec::new()),
        }
    }
}

impl RateMeter {
    pub fn tick(&self) {
        let s = self.start.elapsed().as_secs() as usize;
        let mut v = self.per_second.lock().unwrap();
        if v.len() <= s {
            v.resize(s + 1, 0);
        }
        v[s] += 1;
    }

    /// The most requests sent within one second of the run (whole seconds from its start).
    pub fn peak(&self) -> u32 {
        self.per_second
            .lock()
            .unwrap()
            .iter()
            .copied()
            .max()
            .unwrap_or(0)
    }
}

/// One endpoint and method's latency figures, in milliseconds.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LatencyRow {
    pub endpoint: String,
    pub method: String,
    pub requests: u64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub max_ms: f64,
}

/// Every exchange's duration, by endpoint (its catalog path, `{key}`s and all) and method.
#[derive(Debug, Default)]
pub struct Latencies {
    /// The catalog's paths, in the catalog's order.
    names: Vec<String>,
    /// The catalog's paths split at `/` (with their place in `names`), by how many segments
    /// they have (in the catalog's order within each count), to name a request's endpoint: a
    /// whole-API catalog has some 700, and a request is compared with those of its own length
    /// only.
    templates: HashMap<usize, Vec<(usize, Vec<Segment>)>>,
    by: Mutex<Durations>,
}

/// The durations, by endpoint then method.
#[derive(Debug, Default)]
struct Durations {
    /// A catalog path's, by its place in [`Latencies::names`] (found without hashing a path:
    /// this is every request's bookkeeping).
    known: Vec<Vec<(String, Vec<u32>)>>,
    /// A path that is no catalog path's instance, by the path (without its query).
    other: HashMap<String, Vec<(String, Vec<u32>)>>,
}

/// One segment of a catalog path: a `{key}` takes any value.
#[derive(Debug)]
enum Segment {
    Any,
    Literal(String),
}

/// A request's path split at `/` once, for the comparisons with every catalog path of its
/// length: up to this many segments (a deeper path is split again for each).
const SPLIT_ONCE: usize = 16;

impl Latencies {
    pub fn new(templates: impl IntoIterator<Item = String>) -> Latencies {
        let mut by_len: HashMap<usize, Vec<(usize, Vec<Segment>)>> = HashMap::new();
        let mut names = Vec::new();
        for t in templates {
            let parts: Vec<Segment> = t
                .split('/')
                .map(|p| match p.starts_with('{') && p.ends_with('}') {
                    true => Segment::Any,
                    false => Segment::Literal(p.to_string()),
                })
                .collect();
            by_len
                .entry(parts.len())
                .or_default()
                .push((names.len(), parts));
            names.push(t);
        }
        let by = Durations {
            known: vec![Vec::new(); names.len()],
            other: HashMap::new(),
        };
        Latencies {
            names,
            templates: by_len,
            by: Mutex::new(by),
        }
    }

    /// The place in the catalog of the path a request's path is an instance of (the first in
    /// the catalog's order), and the request's path without its query.
    fn place_of<'a>(&self, path: &'a str) -> (Option<usize>, &'a str) {
        // A query can be long: both marks are found by memchr.
        let bare = memchr::memchr2(b'?', b'#', path.as_bytes()).map_or(path, |i| &path[..i]);
        let mut segments = [""; SPLIT_ONCE];
        let mut n = 0;
        for s in crate::spec::resource::split_ascii(bare, b'/') {
            if n < SPLIT_ONCE {
                segments[n] = s;
            }
            n += 1;
        }
        let matches = |parts: &[Segment]| {
            let same = |(p, s): (&Segment, &str)| match p {
                Segment::Any => true,
                Segment::Literal(l) => l == s,
            };
            match n <= SPLIT_ONCE {
                true => parts.iter().zip(segments[..n].iter().copied()).all(same),
                false => parts
                    .iter()
                    .zip(crate::spec::resource::split_ascii(bare, b'/'))
                    .all(same),
            }
        };
        let place = self
            .templates
            .get(&n)
            .into_iter()
            .flatten()
            .find(|(_, parts)| matches(parts))
            .map(|(i, _)| *i);
        (place, bare)
    }

    /// The catalog path a request's path is an instance of (the first in the catalog's order),
    /// or the path itself (without its query) when none is.
    pub fn endpoint_of<'a>(&'a self, path: &'a str) -> &'a str {
        match self.place_of(path) {
            (Some(i), _) => &self.names[i],
            (None, bare) => bare,
        }
    }

    pub fn add(&self, method: &str, path: &str, took: Duration) {
        let (place, bare) = self.place_of(path);
        let micros = took.as_micros().min(u128::from(u32::MAX)) as u32;
        let mut by = self.by.lock().unwrap();
        let Durations { known, other } = &mut *by;
        let methods = match place {
            Some(i) => &mut known[i],
            None => match other.get_mut(bare) {
                Some(m) => m,
                None => other.entry(bare.to_string()).or_default(),
            },
        };
        match methods.iter_mut().find(|(m, _)| m == method) {
            Some((_, v)) => v.push(micros),
            None => methods.push((method.to_string(), vec![micros])),
        }
    }

    /// The figures of every endpoint and method, sorted by endpoint then method.
    pub fn rows(&self) -> Vec<LatencyRow> {
        let by = self.by.lock().unwrap();
        let known = by
            .known
            .iter()
            .enumerate()
            .map(|(i, m)| (&self.names[i], m));
        let mut rows: Vec<LatencyRow> = known
            .chain(by.other.iter())
            .flat_map(|(endpoint, m)| m.iter().map(move |(method, v)| (endpoint, method, v)))
            .map(|(endpoint, method, v)| {
                let mut v = v.clone();
                v.sort_unstable();
                LatencyRow {
                    endpoint: endpoint.clone(),
                    method: method.clone(),
                    requests: v.len() as u64,
                    p50_ms: ms(percentile(&v, 50)),
                    p95_ms: ms(percentile(&v, 95)),
                    max_ms: ms(v.last().copied().unwrap_or(0)),
                }
            })
            .collect();
        rows.sort_by(|a, b| (&a.endpoint, &a.method).cmp(&(&b.endpoint, &b.method)));
        rows
    }
}

/// The nearest-rank percentile of sorted values.
pub fn percentile(sorted: &[u32], p: u32) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (u64::from(p) * sorted.len() as u64).div_ceil(100).max(1) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

fn ms(micros: u32) -> f64 {
    (f64::from(micros) / 1000.0 * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The limiter's schedule, given the instants requests ask at: nothing sleeps, no clock
    /// is read.
    #[test]
    fn the_rate_limiter_spaces_requests_evenly() {
        let l = RateLimiter::new(10.0);
        let t0 = Instant::now();
        let ms = |n: u64| Duration::from_millis(n);
        // Eight callers at once (concurrency 8): one slot every 100 ms, in turn.
        let at: Vec<Duration> = (0..8).map(|_| l.slot_at(t0) - t0).collect();
        assert_eq!(at, (0..8).map(|i| ms(100 * i)).collect::<Vec<_>>());
        // A caller that comes later than its slot goes at once; no burst is saved up.
        let late = t0 + ms(5000);
        assert_eq!(l.slot_at(late), late);
        assert_eq!(l.slot_at(late), late + ms(100));
        // 1,000 requests at a cap of 10 per second take 99.9 s of schedule.
        let l = RateLimiter::new(10.0);
        let last = (0..1000).map(|_| l.slot_at(t0)).last().unwrap();
        assert_eq!(last - t0, ms(99_900));
    }

    #[test]
    fn retry_waits_follow_retry_after_and_are_bounded() {
        assert_eq!(retry_wait(Some("2"), 0), Duration::from_secs(2));
        assert_eq!(retry_wait(Some(" 7 "), 2), Duration::from_secs(7));
        assert_eq!(retry_wait(Some("86400"), 0), MAX_RETRY_WAIT);
        assert_eq!(retry_wait(None, 0), Duration::from_secs(1));
        assert_eq!(retry_wait(None, 2), Duration::from_secs(4));
        assert_eq!(
            retry_wait(Some("Wed, 21 Oct 2015 07:28:00 GMT"), 1),
            Duration::from_secs(2)
        );
        assert_eq!(retry_wait(None, 30), MAX_RETRY_WAIT);
    }

    #[test]
    fn latency_by_catalog_path_with_percentiles() {
        let l = Latencies::new(["/api/a".to_string(), "/api/a/{uuid}".to_string()]);
        assert_eq!(l.endpoint_of("/api/a?fields=**"), "/api/a");
        assert_eq!(l.endpoint_of("/api/a/123?fields=x"), "/api/a/{uuid}");
        assert_eq!(l.endpoint_of("/api/cluster"), "/api/cluster");
        assert_eq!(l.endpoint_of("/api/a/1/2"), "/api/a/1/2");
        // The first catalog path that matches, in the catalog's order.
        let two = |a: &str, b: &str| Latencies::new([a.to_string(), b.to_string()]);
        let l2 = two("/api/b/{uuid}", "/api/b/x");
        assert_eq!(l2.endpoint_of("/api/b/x"), "/api/b/{uuid}");
        let l2 = two("/api/b/x", "/api/b/{uuid}");
        assert_eq!(l2.endpoint_of("/api/b/x#f"), "/api/b/x");
        assert_eq!(l2.endpoint_of("/api/b/y"), "/api/b/{uuid}");
        for ms in 1..=100u64 {
            l.add("GET", &format!("/api/a/{ms}"), Duration::from_millis(ms));
        }
        l.add("PATCH", "/api/a/1", Duration::from_micros(1500));
        let rows = l.rows();
        assert_eq!(rows.len(), 2);
        assert_eq!(
            rows[0],
            LatencyRow {
                endpoint: "/api/a/{uuid}".into(),
                method: "GET".into(),
                requests: 100,
                p50_ms: 50.0,
                p95_ms: 95.0,
                max_ms: 100.0
            }
        );
        assert_eq!(rows[1].method, "PATCH");
        assert_eq!(rows[1].p95_ms, 1.5);
    }

    /// Paths deeper than the split kept on the stack are matched too, and paths of no catalog
    /// path are kept by themselves (without their query), each method apart, sorted with the
    /// rest.
    #[test]
    fn latency_of_deep_paths_and_paths_outside_the_catalog() {
        let deep = |n: usize, last: &str| {
            let mut p: String = (0..n).map(|i| format!("/s{i}")).collect();
            p.push('/');
            p.push_str(last);
            p
        };
        let l = Latencies::new([deep(20, "{k}"), deep(20, "x"), "/api/a".to_string()]);
        assert_eq!(l.endpoint_of(&deep(20, "7")), deep(20, "{k}"));
        assert_eq!(l.endpoint_of(&deep(19, "7")), deep(19, "7"));
        assert_eq!(
            l.endpoint_of(&format!("{}?q=1", deep(21, "7"))),
            deep(21, "7")
        );
        l.add("GET", &deep(20, "x"), Duration::from_millis(1));
        l.add("GET", "/api/zz/1?fields=*", Duration::from_millis(2));
        l.add("GET", "/api/zz/1", Duration::from_millis(4));
        l.add("DELETE", "/api/zz/1#f", Duration::from_millis(3));
        l.add("GET", "/api/a", Duration::from_millis(5));
        let rows: Vec<(String, String, u64, f64)> = l
            .rows()
            .into_iter()
            .map(|r| (r.endpoint, r.method, r.requests, r.max_ms))
            .collect();
        let row = |e: &str, m: &str, n: u64, max: f64| (e.to_string(), m.to_string(), n, max);
        assert_eq!(
            rows,
            [
                row("/api/a", "GET", 1, 5.0),
                row("/api/zz/1", "DELETE", 1, 3.0),
                row("/api/zz/1", "GET", 2, 4.0),
                row(&deep(20, "{k}"), "GET", 1, 1.0),
            ]
        );
    }

    #[test]
    fn peak_rate_is_the_busiest_second() {
        let m = RateMeter::default();
        for _ in 0..7 {
            m.tick();
        }
        assert_eq!(m.peak(), 7);
    }
}
