//! One process-wide budget for full-size bitmaps. Photos of up to 100 megapixels are
//! accepted (400 MB as 8-bit RGBA, twice that at 16 bits); the creation check decodes
//! every photo of a request at once and each render decodes its set, so without a bound
//! a few large requests together would exhaust memory. A decode waits until its bytes
//! fit; one larger than the whole budget runs alone.

use std::sync::{Condvar, Mutex};

/// Bytes of full-size bitmaps that may exist at once.
pub const BUDGET_BYTES: u64 = 1 << 30;

static IN_USE: Mutex<u64> = Mutex::new(0);
static FREED: Condvar = Condvar::new();

/// Held while a full-size bitmap exists; gives its bytes back when dropped.
#[derive(Debug)]
pub struct Permit(u64);

/// Blocks until `bytes` fit in the budget (or nothing else holds any).
pub fn acquire(bytes: u64) -> Permit {
    let mut used = IN_USE.lock().unwrap_or_else(|e| e.into_inner());
    while *used > 0 && used.saturating_add(bytes) > BUDGET_BYTES {
        used = FREED.wait(used).unwrap_or_else(|e| e.into_inner());
    }
    *used = used.saturating_add(bytes);
    Permit(bytes)
}

/// Bytes currently held.
pub fn in_use() -> u64 {
    *IN_USE.lock().unwrap_or_else(|e| e.into_inner())
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut used = IN_USE.lock().unwrap_or_else(|e| e.into_inner());
        *used = used.saturating_sub(self.0);
        FREED.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    #[test]
    fn a_decode_waits_until_the_budget_has_room() {
        let big = acquire(BUDGET_BYTES - 10);
        let done = Arc::new(AtomicBool::new(false));
        let flag = done.clone();
        let waiter = std::thread::spawn(move || {
            let _p = acquire(100);
            flag.store(true, Ordering::SeqCst);
        });
        std::thread::sleep(std::time::Duration::from_millis(200));
        assert!(!done.load(Ordering::SeqCst), "ran over the budget");
        drop(big);
        waiter.join().unwrap();
        assert!(done.load(Ordering::SeqCst));
        assert_eq!(in_use(), 0);
    }
}
