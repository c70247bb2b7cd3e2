//! The shared limiter: in-flight bound under eight threads, and the rate on a virtual clock.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aisec_llm::{
    ChatRequest, ChatResponse, ChatTarget, Choice, Clock, Limited, Message, RateLimit, Result,
};

/// A clock that only moves when someone sleeps on it.
#[derive(Default)]
struct VirtualClock {
    now: Mutex<Duration>,
    sleeps: AtomicUsize,
}

impl Clock for VirtualClock {
    fn now(&self) -> Duration {
        *self.now.lock().unwrap()
    }
    fn sleep(&self, d: Duration) {
        self.sleeps.fetch_add(1, Ordering::SeqCst);
        *self.now.lock().unwrap() += d;
    }
}

/// A target that counts how many calls run at once and keeps the highest count.
#[derive(Default)]
struct Counting {
    now: AtomicUsize,
    peak: AtomicUsize,
    calls: AtomicUsize,
}

impl ChatTarget for Counting {
    fn name(&self) -> &'static str {
        "counting"
    }
    fn chat(&self, request: &ChatRequest) -> Result<ChatResponse> {
        let n = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(n, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(3));
        self.now.fetch_sub(1, Ordering::SeqCst);
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(ChatResponse {
            id: String::new(),
            model: request.model.clone(),
            choices: vec![Choice {
                index: 0,
                message: Message::assistant("ok"),
                finish_reason: Some("stop".into()),
            }],
            usage: None,
        })
    }
}

#[test]
fn in_flight_never_exceeds_the_limit_under_eight_threads() {
    let limit = Arc::new(RateLimit::new(3, None).unwrap());
    let target = Arc::new(Limited::new(Counting::default(), Arc::clone(&limit)));
    let request = ChatRequest::new("m", vec![Message::user("hi")]);
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let target = Arc::clone(&target);
            let request = request.clone();
            std::thread::spawn(move || {
                for _ in 0..10 {
                    assert_eq!(target.chat(&request).unwrap().text(), "ok");
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let inner = target.inner();
    assert_eq!(inner.calls.load(Ordering::SeqCst), 80);
    let peak = inner.peak.load(Ordering::SeqCst);
    assert!(peak <= 3, "{peak} calls ran at once with a limit of 3");
    assert!(peak >= 2, "the limit serialised everything (peak {peak})");
    assert_eq!(target.name(), "counting");
}

#[test]
fn the_rate_holds_on_a_virtual_clock() {
    let clock = Arc::new(VirtualClock::default());
    let limit = RateLimit::with_clock(4, Some(10.0), Arc::clone(&clock) as Arc<dyn Clock>).unwrap();
    // The bucket starts full (10 tokens): the first ten pass at once.
    for _ in 0..10 {
        drop(limit.acquire());
    }
    assert_eq!(clock.now(), Duration::ZERO);
    assert_eq!(clock.sleeps.load(Ordering::SeqCst), 0);
    // Fifteen more need 1.5 s of refill at 10 per second.
    for _ in 0..15 {
        drop(limit.acquire());
    }
    let t = clock.now().as_secs_f64();
    assert!((t - 1.5).abs() < 1e-6, "virtual time {t}");
    // After a pause of 0.35 s three tokens are back, a fourth needs 0.05 s more.
    clock.sleep(Duration::from_millis(350));
    for _ in 0..4 {
        drop(limit.acquire());
    }
    let t = clock.now().as_secs_f64();
    assert!((t - 1.9).abs() < 1e-6, "virtual time {t}");
}

#[test]
fn bad_limits_are_refused() {
    assert!(RateLimit::new(0, None).is_err());
    assert!(RateLimit::new(1, Some(0.0)).is_err());
    assert!(RateLimit::new(1, Some(f64::NAN)).is_err());
    assert_eq!(RateLimit::new(2, Some(0.5)).unwrap().max_in_flight(), 2);
}
