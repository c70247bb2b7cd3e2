//! Concurrency and rate limits shared by every thread of a run: at most N requests in flight
//! and at most M started per second (a token bucket). The clock is injectable, so tests of the
//! rate run on virtual time and never sleep.

use std::fmt;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::error::{LlmError, Result};

/// Time as the limiter sees it.
pub trait Clock: Send + Sync {
    /// Time elapsed since some fixed start.
    fn now(&self) -> Duration;
    /// Waits `d` (a virtual clock just advances).
    fn sleep(&self, d: Duration);
}

/// The real clock: a monotonic [`Instant`] and [`std::thread::sleep`].
#[derive(Debug, Clone, Copy)]
pub struct SystemClock {
    start: Instant,
}

impl Default for SystemClock {
    fn default() -> Self {
        Self {
            start: Instant::now(),
        }
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Duration {
        self.start.elapsed()
    }
    fn sleep(&self, d: Duration) {
        std::thread::sleep(d);
    }
}

struct State {
    in_flight: usize,
    tokens: f64,
    last: Duration,
}

/// At most `max_in_flight` requests at once and, when set, at most `per_second` started per
/// second (bursts up to `per_second`, at least one). Share it with [`Arc`]; [`RateLimit::acquire`]
/// blocks until both limits allow one more request and returns a permit that frees its slot
/// when dropped.
pub struct RateLimit {
    max_in_flight: usize,
    per_second: Option<f64>,
    burst: f64,
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
    freed: Condvar,
}

impl fmt::Debug for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimit")
            .field("max_in_flight", &self.max_in_flight)
            .field("per_second", &self.per_second)
            .finish_non_exhaustive()
    }
}

/// One request's slot; dropping it lets the next request in.
#[derive(Debug)]
pub struct Permit<'a> {
    limit: &'a RateLimit,
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        let mut state = self.limit.lock();
        state.in_flight -= 1;
        drop(state);
        self.limit.freed.notify_one();
    }
}

impl RateLimit {
    /// A limit on the real clock.
    pub fn new(max_in_flight: usize, per_second: Option<f64>) -> Result<Self> {
        Self::with_clock(max_in_flight, per_second, Arc::new(SystemClock::default()))
    }

    /// A limit on `clock` (a virtual one in tests).
    pub fn with_clock(
        max_in_flight: usize,
        per_second: Option<f64>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self> {
        if max_in_flight == 0 {
            return Err(LlmError::Config(
                "at least one request must be allowed in flight".into(),
            ));
        }
        if let Some(r) = per_second
            && !(r.is_finite() && r > 0.0 && r <= 1e6)
        {
            return Err(LlmError::Config(format!(
                "requests per second must be above 0 and at most 1e6, not {r}"
            )));
        }
        let burst = per_second.map_or(1.0, |r| r.ceil().max(1.0));
        let now = clock.now();
        Ok(Self {
            max_in_flight,
            per_second,
            burst,
            clock,
            state: Mutex::new(State {
                in_flight: 0,
                tokens: burst,
                last: now,
            }),
            freed: Condvar::new(),
        })
    }

    /// Most requests in flight.
    #[must_use]
    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state stays consistent even if a holder panicked: every update is one step.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits for a free slot, then for a token of the rate; the slot is held while waiting for
    /// the token, so at most `max_in_flight` threads ever pass.
    pub fn acquire(&self) -> Permit<'_> {
        let mut state = self.lock();
        while state.in_flight >= self.max_in_flight {
            state = self
                .freed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        state.in_flight += 1;
        let Some(rate) = self.per_second else {
            return Permit { limit: self };
        };
        loop {
            let now = self.clock.now();
            let elapsed = now.saturating_sub(state.last).as_secs_f64();
            state.tokens = (state.tokens + elapsed * rate).min(self.burst);
            state.last = now;
            if state.tokens >= 1.0 {
                state.tokens -= 1.0;
                return Permit { limit: self };
            }
            let wait = Duration::from_secs_f64((1.0 - state.tokens) / rate);
            drop(state);
            self.clock.sleep(wait);
            state = self.lock();
        }
    }
}
