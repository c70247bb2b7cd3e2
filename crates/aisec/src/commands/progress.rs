//! A hashing progress line on stderr (only when stderr is a terminal and `--quiet` is off).

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use aisec_provenance::signing::Progress;

/// Runs `work` with a progress counter when `show` is set, drawing it every 200 ms.
pub(crate) fn with_progress<T: Send>(
    show: bool,
    label: &str,
    work: impl FnOnce(Option<Arc<Progress>>) -> T + Send,
) -> T {
    if !show {
        return work(None);
    }
    let progress = Arc::new(Progress::default());
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let p = Arc::clone(&progress);
        let stop = &stop;
        scope.spawn(move || {
            let mut drawn = false;
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(200));
                let total = p.bytes_total.load(Ordering::Relaxed);
                if total == 0 {
                    continue;
                }
                let done = p.bytes_done.load(Ordering::Relaxed);
                let gb = |b: u64| b as f64 / 1e9;
                let mut err = std::io::stderr().lock();
                let _ = write!(
                    err,
                    "\r\x1b[2K{label}: {:.2} / {:.2} GB ({:.0}%)",
                    gb(done),
                    gb(total),
                    100.0 * done as f64 / total as f64
                );
                drawn = true;
            }
            if drawn {
                let _ = write!(std::io::stderr().lock(), "\r\x1b[2K");
            }
        });
        let out = work(Some(progress));
        stop.store(true, Ordering::Relaxed);
        out
    })
}

/// A one-line note of what long work is doing, on stderr when progress is shown.
pub(crate) fn note(global: &crate::settings::GlobalSettings, message: &str) {
    if global.progress {
        let _ = writeln!(std::io::stderr().lock(), "{message}");
    }
}
