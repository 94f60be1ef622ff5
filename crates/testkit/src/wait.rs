//! Waiting for the system under test to act: poll a condition, a value or a progress watermark until it
//! holds, and fail naming what was awaited (and what was last seen) when a generous limit passes. The
//! limit is a deadline for a stuck system, never a performance assertion; no test waits on a quiet period.

use std::fmt::Debug;
use std::future::Future;
use std::time::{Duration, Instant};

/// How long the tests wait for the system to act unless they say otherwise.
pub const WAIT: Duration = Duration::from_secs(60);

/// How often a condition is polled.
const POLL: Duration = Duration::from_millis(50);

/// Waits until `check` holds, polling; panics naming `what` after `limit`.
pub async fn wait_until<F: Future<Output = bool>>(what: &str, limit: Duration, mut check: impl FnMut() -> F) {
    let deadline = Instant::now() + limit;
    while !check().await {
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(POLL).await;
    }
}

/// Waits until `f` answers `Some`, polling, and returns the value; panics naming `what` after `limit`.
pub async fn wait_for<T, F: Future<Output = Option<T>>>(
    what: &str,
    limit: Duration,
    mut f: impl FnMut() -> F,
) -> T {
    wait_for_state(what, limit, || {
        let seen = f();
        async move { seen.await.ok_or("not yet") }
    })
    .await
}

/// Waits until `f` answers `Ok`, polling, and returns the value; panics after `limit` naming `what` and
/// the last state `f` reported with `Err` (what a condition of several parts still lacked).
pub async fn wait_for_state<T, S: Debug, F: Future<Output = Result<T, S>>>(
    what: &str,
    limit: Duration,
    mut f: impl FnMut() -> F,
) -> T {
    let deadline = Instant::now() + limit;
    loop {
        let seen = match f().await {
            Ok(v) => return v,
            Err(seen) => seen,
        };
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}; last seen: {seen:#?}"
        );
        tokio::time::sleep(POLL).await;
    }
}

/// Waits until the progress watermark `read` (a count of points stored, cases raised, messages handled:
/// anything that only grows) reaches `target`, and returns the value reached; panics after `limit` naming
/// `what` and the last value seen.
pub async fn wait_watermark<W, F>(what: &str, limit: Duration, target: W, mut read: impl FnMut() -> F) -> W
where
    W: PartialOrd + Debug,
    F: Future<Output = W>,
{
    let deadline = Instant::now() + limit;
    loop {
        let seen = read().await;
        if seen >= target {
            return seen;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}: the watermark is at {seen:?}, short of {target:?}"
        );
        tokio::time::sleep(POLL).await;
    }
}

/// Repeats `act` every `every` (a message a broker may drop until a subscription is in place, a request
/// that may race a start) until `check` holds, polling `check` in between; panics naming `what` after
/// `limit`.
pub async fn retry_until<A, C>(
    what: &str,
    limit: Duration,
    every: Duration,
    mut act: impl FnMut() -> A,
    mut check: impl FnMut() -> C,
) where
    A: Future<Output = ()>,
    C: Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    loop {
        act().await;
        let again = Instant::now() + every;
        while Instant::now() < again {
            if check().await {
                return;
            }
            tokio::time::sleep(POLL).await;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
    }
}

/// [`wait_until`] for threads without a runtime (a child process's port to open).
pub fn wait_until_blocking(what: &str, limit: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !check() {
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(POLL);
    }
}

/// Waits until something accepts TCP connections on 127.0.0.1:`port` (a server started as a child).
pub fn wait_port(what: &str, port: u16, limit: Duration) {
    wait_until_blocking(what, limit, || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn wait_for_returns_the_first_value() {
        let n = AtomicU32::new(0);
        let got = wait_for("three polls", WAIT, || {
            let seen = n.fetch_add(1, Ordering::Relaxed);
            std::future::ready((seen >= 2).then_some(seen))
        })
        .await;
        assert_eq!(got, 2);
    }

    #[tokio::test]
    async fn a_watermark_returns_what_it_reached() {
        let n = AtomicU32::new(0);
        let got = wait_watermark("ten", WAIT, 10, || {
            std::future::ready(n.fetch_add(4, Ordering::Relaxed))
        })
        .await;
        assert_eq!(got, 12);
    }

    #[tokio::test]
    #[should_panic(expected = "waiting for the impossible: the watermark is at 1, short of 2")]
    async fn a_stuck_watermark_fails_saying_where_it_stopped() {
        wait_watermark("the impossible", Duration::from_millis(120), 2, || {
            std::future::ready(1)
        })
        .await;
    }

    #[tokio::test]
    #[should_panic(expected = "timed out after 100ms waiting for never")]
    async fn a_condition_that_never_holds_fails_naming_it() {
        wait_until("never", Duration::from_millis(100), || std::future::ready(false)).await;
    }

    #[tokio::test]
    async fn retry_repeats_the_act_until_the_check_holds() {
        let acts = AtomicU32::new(0);
        retry_until(
            "a third act",
            WAIT,
            Duration::from_millis(60),
            || {
                acts.fetch_add(1, Ordering::Relaxed);
                std::future::ready(())
            },
            || std::future::ready(acts.load(Ordering::Relaxed) >= 3),
        )
        .await;
        assert_eq!(acts.load(Ordering::Relaxed), 3);
    }
}
