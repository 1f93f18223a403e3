//! The stop state of a run. Once it is set (a signal, the deadline, too many transport failures in
//! a row, a journal that could not be written) no new change is sent and no record is saved for
//! one; requests already in flight finish, and the run then puts back what it changed. The first
//! reason is kept for the report.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct Stop {
    requested: AtomicBool,
    /// Why the run stopped early, when it did.
    reason: Mutex<Option<String>>,
    /// Consecutive transport failures...
    failures_in_row: AtomicU64,
    /// ...and how many end the run (0: never).
    max_failures: u64,
    /// Wakes whatever waits in [`Stop::stopped`] when the stop is set.
    woken: tokio::sync::Notify,
}

impl Stop {
    /// `max_failures`: transport failures in a row that stop the run (0: never).
    pub fn new(max_failures: u64) -> Stop {
        Stop {
            max_failures,
            ..Stop::default()
        }
    }

    /// Stops sending changes (reads of a restore still go out). The first reason is kept.
    pub fn now(&self, why: impl Into<String>) {
        self.reason
            .lock()
            .unwrap()
            .get_or_insert_with(|| why.into());
        self.requested.store(true, Ordering::SeqCst);
        self.woken.notify_waiters();
    }

    /// Returns once the stop is set. A waiter costs nothing while it waits (thousands of reads
    /// queued for a connection each wait on it; a timer polling the flag for each cost a
    /// whole-API run most of its CPU).
    pub async fn stopped(&self) {
        let woken = self.woken.notified();
        tokio::pin!(woken);
        // Registered before the flag is looked at: a stop set in between still wakes it.
        woken.as_mut().enable();
        if self.requested() {
            return;
        }
        woken.await;
    }

    pub fn requested(&self) -> bool {
        self.requested.load(Ordering::SeqCst)
    }

    /// The flag itself, for [`crate::client::Client::send_unless`].
    pub fn flag(&self) -> &AtomicBool {
        &self.requested
    }

    /// Why the run stopped early, if it did.
    pub fn reason(&self) -> Option<String> {
        self.reason.lock().unwrap().clone()
    }

    /// The target answered: the count of failures in a row starts again.
    pub fn answered(&self) {
        self.failures_in_row.store(0, Ordering::Relaxed);
    }

    /// A request got no answer (`e` says why); enough of them in a row stop the run.
    pub fn failed(&self, e: &str) {
        let n = self.failures_in_row.fetch_add(1, Ordering::Relaxed) + 1;
        if self.max_failures > 0 && n >= self.max_failures {
            self.now(format!(
                "{n} transport failures in a row (--max-failures {}); the last: {e}",
                self.max_failures
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_waiter_wakes_when_the_stop_is_set_and_not_before() {
        let s = std::sync::Arc::new(Stop::new(0));
        let waiter = tokio::spawn({
            let s = s.clone();
            async move { s.stopped().await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(!waiter.is_finished(), "woke before the stop");
        s.now("deadline");
        tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
            .await
            .expect("woken by the stop")
            .unwrap();
        // Already set: returns at once.
        tokio::time::timeout(std::time::Duration::from_secs(5), s.stopped())
            .await
            .expect("returns at once");
    }

    #[test]
    fn the_first_reason_is_kept() {
        let s = Stop::new(0);
        assert!(!s.requested());
        s.now("a");
        s.now("b");
        assert!(s.requested() && s.flag().load(Ordering::SeqCst));
        assert_eq!(s.reason().as_deref(), Some("a"));
    }

    #[test]
    fn failures_in_a_row_stop_the_run_and_an_answer_starts_the_count_again() {
        let s = Stop::new(2);
        s.failed("x");
        s.answered();
        s.failed("y");
        assert!(!s.requested());
        s.failed("z");
        assert_eq!(
            s.reason().as_deref(),
            Some("2 transport failures in a row (--max-failures 2); the last: z")
        );
        let never = Stop::new(0);
        (0..100).for_each(|_| never.failed("x"));
        assert!(!never.requested());
    }
}
