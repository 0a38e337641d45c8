//! Supervision of the node's long-running components (controllers, scheduler, kubelet,
//! service proxy, DNS): a component that panics or returns is logged at error level with
//! its name and started again after a back-off, and one that keeps failing is reported by
//! the API server's `/livez` and `/readyz` checks.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Display;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::FutureExt;
use tokio::task::JoinHandle;
// Tokio's clock, so tests can pause it; the same as std's otherwise.
use tokio::time::Instant;

/// First wait before a restart, doubled on each quick failure up to [`MAX_BACKOFF`].
const INITIAL_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A run this long resets the back-off: the component had recovered.
const STABLE_RUN: Duration = Duration::from_secs(60);
/// A component "keeps failing" when it stopped this often within [`FAILURE_WINDOW`].
const FAILURES_TO_REPORT: usize = 3;
const FAILURE_WINDOW: Duration = Duration::from_secs(300);

/// Test-only failpoint: components named here (comma-separated) panic at every start.
pub const FAILPOINT_ENV: &str = "RKUBE_FAILPOINT_PANIC";

/// How a component's run ended, as a reason to log.
pub trait Outcome {
    /// Why the run ended.
    fn reason(self) -> String;
}

impl Outcome for () {
    fn reason(self) -> String {
        "returned".into()
    }
}

impl<E: Display> Outcome for Result<(), E> {
    fn reason(self) -> String {
        match self {
            Ok(()) => "returned".into(),
            Err(e) => format!("failed: {e}"),
        }
    }
}

#[derive(Default)]
struct Record {
    stops: VecDeque<Instant>,
    restarts: u64,
    last_reason: String,
}

/// One component's health as the checks report it.
#[derive(Clone, Debug, PartialEq)]
pub struct Check {
    /// The component's name.
    pub name: String,
    /// Why it keeps failing, or None while it is healthy.
    pub failure: Option<String>,
}

/// The components of one node process and how often each has stopped.
#[derive(Default)]
pub struct Supervisor {
    records: Mutex<BTreeMap<String, Record>>,
    failpoints: Vec<String>,
}

impl Supervisor {
    /// A supervisor with the failpoints of [`FAILPOINT_ENV`].
    pub fn new() -> Arc<Supervisor> {
        let failpoints = std::env::var(FAILPOINT_ENV)
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        Arc::new(Supervisor {
            records: Mutex::default(),
            failpoints,
        })
    }

    fn records(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Record>> {
        self.records.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Run the future `start` makes as component `name`, again after a back-off whenever
    /// it panics or returns, until the returned task is aborted.
    pub fn spawn<F, Fut>(self: &Arc<Self>, name: &str, mut start: F) -> JoinHandle<()>
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: Outcome,
    {
        let name = name.to_string();
        self.records().entry(name.clone()).or_default();
        let supervisor = self.clone();
        let failpoint = self.failpoints.contains(&name);
        tokio::spawn(async move {
            let mut backoff = INITIAL_BACKOFF;
            loop {
                let started = Instant::now();
                let run = start();
                // The run stays in this task, so aborting the task stops the component.
                let ended = AssertUnwindSafe(async move {
                    if failpoint {
                        panic!("failpoint {FAILPOINT_ENV}");
                    }
                    run.await.reason()
                })
                .catch_unwind()
                .await;
                let reason = match ended {
                    Ok(reason) => reason,
                    Err(panic) => format!("panicked: {}", panic_message(&*panic)),
                };
                if started.elapsed() >= STABLE_RUN {
                    backoff = INITIAL_BACKOFF;
                }
                tracing::error!(component = %name, %reason, restart_in = ?backoff, "component stopped");
                supervisor.stopped(&name, reason);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        })
    }

    fn stopped(&self, name: &str, reason: String) {
        let mut records = self.records();
        let r = records.entry(name.to_string()).or_default();
        r.stops.push_back(Instant::now());
        while r.stops.len() > FAILURES_TO_REPORT {
            r.stops.pop_front();
        }
        r.restarts += 1;
        r.last_reason = reason;
    }

    /// Every supervised component, by name, and whether it keeps failing.
    pub fn checks(&self) -> Vec<Check> {
        self.records()
            .iter()
            .map(|(name, r)| {
                let recent = r
                    .stops
                    .iter()
                    .filter(|t| t.elapsed() < FAILURE_WINDOW)
                    .count();
                Check {
                    name: name.clone(),
                    failure: (recent >= FAILURES_TO_REPORT)
                        .then(|| format!("restarted {} times, last {}", r.restarts, r.last_reason)),
                }
            })
            .collect()
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-text panic".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test(start_paused = true)]
    async fn a_panicking_component_restarts_with_backoff_and_is_reported() {
        let supervisor = Arc::new(Supervisor::default());
        let runs = Arc::new(AtomicUsize::new(0));
        let counted = runs.clone();
        let task = supervisor.spawn("flaky", move || {
            let n = counted.fetch_add(1, Ordering::SeqCst);
            async move {
                if n < 3 {
                    panic!("run {n} fails");
                }
                std::future::pending::<()>().await;
            }
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert_eq!(supervisor.checks()[0].failure, None);
        // Back-off 1 s, then 2 s: three runs by 3 s, the fourth after another 4 s.
        tokio::time::sleep(Duration::from_millis(3_100)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 3);
        let check = &supervisor.checks()[0];
        assert_eq!(check.name, "flaky");
        assert_eq!(
            check.failure.as_deref(),
            Some("restarted 3 times, last panicked: run 2 fails")
        );
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 4);
        // Healthy again once the failures leave the window.
        tokio::time::sleep(FAILURE_WINDOW).await;
        assert_eq!(supervisor.checks()[0].failure, None);
        task.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn an_error_return_is_a_stop_too() {
        let supervisor = Arc::new(Supervisor::default());
        let task = supervisor.spawn("dns", || async { Err::<(), _>("port 53 is taken") });
        // Stops at 0, 1 and 3 s.
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert_eq!(
            supervisor.checks()[0].failure.as_deref(),
            Some("restarted 3 times, last failed: port 53 is taken")
        );
        task.abort();
    }
}
