//! Limits that keep one host or one phone number from hurting the others.
//!
//! - [`PerIpLimiter`] counts open connections per address; a slot is an RAII guard, so every exit path of a
//!   session (error, panic, shutdown) gives it back.
//! - [`AuthThrottle`] counts failed authentications per source address and per phone from an address in
//!   fixed windows; while either is over its budget, attempts are refused without comparing the code, so the
//!   code cannot be guessed online, and a stranger elsewhere cannot lock the real terminal out.
//!
//! Both take "now" as an argument where time matters, so their tests need no clock.

use std::collections::{HashMap, VecDeque};
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

/// What an [`AuthThrottle`] counts failures against: a source address alone, or a phone from one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum ThrottleKey {
    /// Every failure from an address, whatever phone it claimed: one host guessing many phones.
    Address(IpAddr),
    /// The failures of one phone from one address: one host guessing one phone's code. A stranger's failures
    /// from elsewhere never count against the real terminal's address.
    PhoneAt(Phone, IpAddr),
}

/// Why an authentication attempt is refused unchecked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Throttled {
    /// The address is over its budget for every phone.
    Address,
    /// This phone from this address is over its budget.
    PhoneAt,
}

/// The counting windows, oldest first in `order` so that expiring and evicting cost O(1) per failure.
#[derive(Debug, Default)]
struct Windows {
    /// Per key: the start of its current window and the failures in it.
    counts: HashMap<ThrottleKey, (Instant, u32)>,
    /// Every window started, in the order started; an entry whose key has started a newer window since is
    /// stale and is dropped when it reaches the front.
    order: VecDeque<(ThrottleKey, Instant)>,
}

impl Windows {
    /// Drops the windows that ended by `now`, and the oldest ones while more than `capacity` are kept.
    fn expire(&mut self, now: Instant, window: Duration, capacity: usize) {
        while let Some(&(key, start)) = self.order.front() {
            let ended = now.saturating_duration_since(start) >= window;
            if !ended && self.counts.len() <= capacity {
                break;
            }
            self.order.pop_front();
            if self.counts.get(&key).is_some_and(|(s, _)| *s == start) {
                self.counts.remove(&key);
            }
        }
    }

    /// The failures of `key` in its window at `now`.
    fn failures(&self, key: ThrottleKey, now: Instant, window: Duration) -> u32 {
        match self.counts.get(&key) {
            Some((start, n)) if now.saturating_duration_since(*start) < window => *n,
            _ => 0,
        }
    }

    /// Counts one failure of `key` at `now`, starting a window when none is open; returns the count.
    fn add(&mut self, key: ThrottleKey, now: Instant, window: Duration) -> u32 {
        let entry = self.counts.entry(key).or_insert((now, 0));
        if entry.1 == 0 || now.saturating_duration_since(entry.0) >= window {
            *entry = (now, 0);
            self.order.push_back((key, now));
        }
        entry.1 = entry.1.saturating_add(1);
        entry.1
    }
}

/// Failed authentications within a window, counted per source address and per phone from an address (never
/// per phone alone: six wrong codes sent by a stranger must not lock the real terminal out). While a key is
/// over its budget, attempts are refused without comparing the code, so codes cannot be guessed online.
///
/// Memory is bounded: at most `capacity` windows are kept (the oldest go first), and each failure costs O(1)
/// amortised whatever the number of keys.
#[derive(Debug, Clone)]
pub struct AuthThrottle {
    /// The windows.
    windows: Arc<Mutex<Windows>>,
    /// Failures allowed per phone from one address, per window.
    per_phone_at: u32,
    /// Failures allowed per address, per window, whatever the phones.
    per_address: u32,
    /// The window length.
    window: Duration,
    /// Most windows kept.
    capacity: usize,
}

impl AuthThrottle {
    /// The windows kept at most by [`AuthThrottle::new`]: a few MiB at worst.
    pub const CAPACITY: usize = 65_536;

    /// A throttle allowing `per_phone_at` failures per phone from one address and `per_address` failures per
    /// address, per `window`.
    pub fn new(per_phone_at: u32, per_address: u32, window: Duration) -> Self {
        Self::with_capacity(per_phone_at, per_address, window, Self::CAPACITY)
    }

    /// As [`AuthThrottle::new`], keeping at most `capacity` windows.
    pub fn with_capacity(per_phone_at: u32, per_address: u32, window: Duration, capacity: usize) -> Self {
        AuthThrottle {
            windows: Arc::default(),
            per_phone_at,
            per_address,
            window,
            capacity: capacity.max(2),
        }
    }

    /// Whether `phone` may try to authenticate from `ip` at `now`: `Err` names the budget it is over.
    pub fn check(&self, phone: Phone, ip: IpAddr, now: Instant) -> Result<(), Throttled> {
        let windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        if windows.failures(ThrottleKey::Address(ip), now, self.window) >= self.per_address {
            return Err(Throttled::Address);
        }
        if windows.failures(ThrottleKey::PhoneAt(phone, ip), now, self.window) >= self.per_phone_at {
            return Err(Throttled::PhoneAt);
        }
        Ok(())
    }

    /// Records a failed attempt of `phone` from `ip` at `now`. Returns the budget this very failure used up,
    /// so that a flood is logged once per key and window, not once per attempt.
    pub fn record_failure(&self, phone: Phone, ip: IpAddr, now: Instant) -> Option<Throttled> {
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        windows.expire(now, self.window, self.capacity);
        let at_address = windows.add(ThrottleKey::Address(ip), now, self.window);
        let at_phone = windows.add(ThrottleKey::PhoneAt(phone, ip), now, self.window);
        windows.expire(now, self.window, self.capacity);
        if at_address == self.per_address {
            Some(Throttled::Address)
        } else if at_phone == self.per_phone_at {
            Some(Throttled::PhoneAt)
        } else {
            None
        }
    }

    /// Forgets the failures of `phone` from `ip` after it authenticated there (the address's count stays).
    pub fn record_success(&self, phone: Phone, ip: IpAddr) {
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        windows.counts.remove(&ThrottleKey::PhoneAt(phone, ip));
    }

    /// Windows kept now (for tests and metrics).
    pub fn len(&self) -> usize {
        self.windows
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .counts
            .len()
    }

    /// Whether no window is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
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

    const HERE: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
    const THERE: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));

    #[test]
    fn auth_failures_are_throttled_per_phone_from_an_address_and_window() {
        let t = AuthThrottle::new(3, 100, Duration::from_secs(60));
        let start = Instant::now();
        let at = |secs| start + Duration::from_secs(secs);
        let phone = Phone(13800138000);
        for _ in 0..3 {
            assert_eq!(t.check(phone, HERE, at(0)), Ok(()));
            t.record_failure(phone, HERE, at(0));
        }
        assert_eq!(
            t.check(phone, HERE, at(1)),
            Err(Throttled::PhoneAt),
            "over budget"
        );
        assert_eq!(
            t.check(Phone(1), HERE, at(0)),
            Ok(()),
            "other phones are unaffected"
        );
        assert_eq!(t.check(phone, HERE, at(61)), Ok(()), "the window expires");
        t.record_failure(phone, HERE, at(61));
        assert_eq!(
            t.check(phone, HERE, at(62)),
            Ok(()),
            "a new window from one failure"
        );
        t.record_success(phone, HERE);
        assert_eq!(t.check(phone, HERE, at(0)), Ok(()), "success forgets");
    }

    #[test]
    fn a_strangers_failures_do_not_lock_the_terminal_out_of_its_own_address() {
        let t = AuthThrottle::new(5, 100, Duration::from_secs(300));
        let now = Instant::now();
        let phone = Phone(13800138000);
        for _ in 0..6 {
            t.record_failure(phone, THERE, now);
        }
        assert_eq!(t.check(phone, THERE, now), Err(Throttled::PhoneAt));
        assert_eq!(
            t.check(phone, HERE, now),
            Ok(()),
            "the real terminal, elsewhere, may still authenticate"
        );
    }

    #[test]
    fn one_address_guessing_many_phones_runs_out_of_its_own_budget() {
        let t = AuthThrottle::new(5, 10, Duration::from_secs(300));
        let now = Instant::now();
        let mut used_up = None;
        for i in 0..10u128 {
            used_up = used_up.or(t.record_failure(Phone(i), THERE, now));
        }
        assert_eq!(
            used_up,
            Some(Throttled::Address),
            "the tenth failure used the budget up"
        );
        assert_eq!(t.check(Phone(99), THERE, now), Err(Throttled::Address));
        assert_eq!(t.check(Phone(99), HERE, now), Ok(()));
    }

    #[test]
    fn the_windows_kept_are_bounded_and_the_newest_survive() {
        let t = AuthThrottle::with_capacity(2, 1_000_000, Duration::from_secs(300), 4_096);
        let now = Instant::now();
        for i in 0..100_000u32 {
            let ip = IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i % 50_000));
            t.record_failure(Phone(i.into()), ip, now);
            assert!(t.len() <= 4_096, "{} windows kept after {i} failures", t.len());
        }
        // The newest phone's window is still there: two more failures block it.
        let ip = IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + (99_999 % 50_000)));
        t.record_failure(Phone(99_999), ip, now);
        assert_eq!(t.check(Phone(99_999), ip, now), Err(Throttled::PhoneAt));
    }
}
