//! What the engine tells whoever drives it, while it runs: as [`Event`]s handed to an
//! [`Observer`] (nextest's reporter events). The engine prints nothing and never ends the
//! process; the command line renders the events (the progress line, `-v`'s exchanges, the notes
//! on signals) and decides what a third signal does.

use crate::client::Client;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// One thing that happened during a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Event<'a> {
    /// Before the checks: what is being read (the version, then each family's records).
    Reading(&'a str),
    /// The checks begin: this many (check, endpoint) pairs, over this many families.
    Planned {
        checks: u64,
        families: u64,
    },
    /// Every check of this family has ended.
    FamilyDone(&'a str),
    /// A check starts on an endpoint; `id` names it in [`Event::Ended`].
    Started {
        id: u64,
        what: &'a str,
    },
    Ended {
        id: u64,
    },
    /// Four times a second while the run works: the requests sent so far.
    Tick {
        requests: u64,
    },
    /// One exchange, as a line with every secret already scrubbed (only for an observer whose
    /// [`Observer::wants_exchanges`] says so).
    Exchange(&'a str),
    /// SIGINT, SIGTERM or SIGHUP, the `count`-th so far. The first stops new changes and the run
    /// restores; the engine goes on restoring after any number of them, so what a third one
    /// means (the command line: leave now, the journal at `journal` keeps the originals) is the
    /// observer's to decide.
    Signal {
        name: &'a str,
        count: u32,
        journal: Option<&'a Path>,
    },
    /// The run stops early for this reason (deadline, transport failures) and restores.
    Stopping(&'a str),
    /// Something the user should know that changes no verdict.
    Warning(&'a str),
    /// The checks and the restore are over.
    Finished,
}

/// Receives a run's events, from any of its threads; each call should be quick.
pub trait Observer: Send + Sync {
    fn event(&self, event: &Event<'_>);
    /// Whether to send [`Event::Exchange`] for every request (`-v`); building those lines costs.
    fn wants_exchanges(&self) -> bool {
        false
    }
    /// Whether to send [`Event::Tick`]s (a progress line is drawn).
    fn wants_ticks(&self) -> bool {
        false
    }
}

/// Ignores every event: the observer of [`super::run_blocking`].
pub struct Silent;

impl Observer for Silent {
    fn event(&self, _: &Event<'_>) {}
}

/// The engine's side: hands events to the observer and numbers the checks.
#[derive(Clone)]
pub struct Events {
    observer: Arc<dyn Observer>,
    next: Arc<AtomicU64>,
}

impl Events {
    pub fn new(observer: Arc<dyn Observer>) -> Events {
        Events {
            observer,
            next: Arc::new(AtomicU64::new(0)),
        }
    }
    pub fn emit(&self, e: Event<'_>) {
        self.observer.event(&e);
    }
    pub fn reading(&self, what: &str) {
        self.emit(Event::Reading(what));
    }
    /// A check starts; the number it returns ends it.
    pub fn begin(&self, what: &str) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.emit(Event::Started { id, what });
        id
    }
    pub fn end(&self, id: u64) {
        self.emit(Event::Ended { id });
    }
    /// The sink for the client's exchange lines, when the observer wants them.
    pub fn exchange_sink(&self) -> Option<crate::client::LogSink> {
        self.observer.wants_exchanges().then(|| {
            let observer = self.observer.clone();
            Arc::new(move |line: &str| observer.event(&Event::Exchange(line))) as _
        })
    }
    /// Sends [`Event::Tick`] every quarter of a second with the client's count of requests,
    /// until the task is aborted; None when the observer wants no ticks.
    pub fn ticker(&self, client: &Client) -> Option<tokio::task::JoinHandle<()>> {
        if !self.observer.wants_ticks() {
            return None;
        }
        let me = self.clone();
        let client = client.clone();
        Some(tokio::spawn(async move {
            loop {
                me.emit(Event::Tick {
                    requests: client.requests_sent(),
                });
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    struct Keep(Mutex<Vec<String>>);
    impl Observer for Keep {
        fn event(&self, e: &Event<'_>) {
            self.0.lock().unwrap().push(format!("{e:?}"));
        }
    }

    #[test]
    fn checks_are_numbered_and_each_end_names_its_start() {
        let keep = Arc::new(Keep(Mutex::new(Vec::new())));
        let ev = Events::new(keep.clone());
        let a = ev.begin("a");
        let b = ev.begin("b");
        ev.end(a);
        ev.end(b);
        assert_ne!(a, b);
        assert_eq!(
            *keep.0.lock().unwrap(),
            [
                format!("Started {{ id: {a}, what: \"a\" }}"),
                format!("Started {{ id: {b}, what: \"b\" }}"),
                format!("Ended {{ id: {a} }}"),
                format!("Ended {{ id: {b} }}"),
            ]
        );
        assert!(
            ev.exchange_sink().is_none(),
            "the default observer wants no exchanges"
        );
    }
}
