//! Limits that keep one host or one phone number from hurting the others.
//!
//! - [`PerIpLimiter`] counts open connections per address; a slot is an RAII guard, so every exit path of a
//!   session (error, panic, shutdown) gives it back.
//! - [`AuthThrottle`] counts failed authentications per phone number in a sliding window; while a phone is
//!   over its budget, attempts are refused without comparing the code, so the code cannot be guessed online.
//!
//! Both take "now" as an argument where time matters, so their tests need no clock.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tianshu_model::Phone;

/// Open connections per IP address, capped.
#[derive(Debug, Clone)]
pub struct PerIpLimiter {
    /// Open connections per address; an address is removed when its count returns to zero, so the map holds
    /// only addresses with open connections.
    counts: Arc<Mutex<HashMap<IpAddr, usize>>>,
    /// The cap per address.
    max_per_ip: usize,
}

/// One connection's slot in a [`PerIpLimiter`]; dropping it frees the slot.
#[derive(Debug)]
pub struct IpSlot {
    /// The limiter's counts, to decrement on drop.
    counts: Arc<Mutex<HashMap<IpAddr, usize>>>,
    /// The address this slot counts against.
    ip: IpAddr,
}

impl PerIpLimiter {
    /// A limiter allowing `max_per_ip` connections per address.
    pub fn new(max_per_ip: usize) -> Self {
        PerIpLimiter {
            counts: Arc::default(),
            max_per_ip,
        }
    }

    /// Takes a slot for `ip`, or `None` when the address is at its cap.
    pub fn try_acquire(&self, ip: IpAddr) -> Option<IpSlot> {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        let n = counts.entry(ip).or_insert(0);
        if *n >= self.max_per_ip {
            return None;
        }
        *n += 1;
        Some(IpSlot {
            counts: self.counts.clone(),
            ip,
        })
    }

    /// Open connections from `ip`.
    pub fn open_from(&self, ip: IpAddr) -> usize {
        let counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        counts.get(&ip).copied().unwrap_or(0)
    }
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = counts.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                counts.remove(&self.ip);
            }
        }
    }
}

/// Failed authentications per phone number within a window.
#[derive(Debug, Clone)]
pub struct AuthThrottle {
    /// Per phone: the start of the current window and the failures in it.
    failures: Arc<Mutex<HashMap<Phone, (Instant, u32)>>>,
    /// Failures allowed per window.
    max_failures: u32,
    /// The window length.
    window: Duration,
}

impl AuthThrottle {
    /// A throttle allowing `max_failures` per `window` per phone.
    pub fn new(max_failures: u32, window: Duration) -> Self {
        AuthThrottle {
            failures: Arc::default(),
            max_failures,
            window,
        }
    }

    /// Whether `phone` may try to authenticate at `now`.
    pub fn allowed(&self, phone: Phone, now: Instant) -> bool {
        let failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        match failures.get(&phone) {
            Some((start, n)) => now.duration_since(*start) >= self.window || *n < self.max_failures,
            None => true,
        }
    }

    /// Records a failed attempt of `phone` at `now`.
    pub fn record_failure(&self, phone: Phone, now: Instant) {
        let mut failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        // Forget expired windows as we go, so the map cannot grow with phones that stopped trying.
        if failures.len() > 4096 {
            let window = self.window;
            failures.retain(|_, (start, _)| now.duration_since(*start) < window);
        }
        let entry = failures.entry(phone).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
    }

    /// Forgets the failures of `phone` after it authenticated.
    pub fn record_success(&self, phone: Phone) {
        let mut failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        failures.remove(&phone);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_ip_slots_are_returned_on_drop() {
        let limiter = PerIpLimiter::new(2);
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let other: IpAddr = "127.0.0.2".parse().unwrap();
        let a = limiter.try_acquire(ip).unwrap();
        let _b = limiter.try_acquire(ip).unwrap();
        assert!(
            limiter.try_acquire(ip).is_none(),
            "third connection from one address is refused"
        );
        assert!(
            limiter.try_acquire(other).is_some(),
            "another address is unaffected"
        );
        drop(a);
        assert_eq!(limiter.open_from(ip), 1);
        assert!(limiter.try_acquire(ip).is_some());
    }

    #[test]
    fn auth_failures_are_throttled_per_phone_and_window() {
        let t = AuthThrottle::new(3, Duration::from_secs(60));
        let now = Instant::now();
        let phone = Phone(13800138000);
        for _ in 0..3 {
            assert!(t.allowed(phone, now));
            t.record_failure(phone, now);
        }
        assert!(!t.allowed(phone, now + Duration::from_secs(1)));
        assert!(t.allowed(Phone(1), now), "other phones are unaffected");
        assert!(
            t.allowed(phone, now + Duration::from_secs(61)),
            "the window expires"
        );
        t.record_failure(phone, now + Duration::from_secs(61));
        assert!(
            t.allowed(phone, now + Duration::from_secs(62)),
            "a new window starts from one failure"
        );
        t.record_success(phone);
        assert!(t.allowed(phone, now));
    }
}
