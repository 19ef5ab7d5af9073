//! A polite stop: Ctrl-C or SIGTERM sets a flag that training loops read between steps, so the
//! current step finishes and a checkpoint is written before the process exits.

use std::sync::atomic::{AtomicBool, Ordering};

static STOP: AtomicBool = AtomicBool::new(false);

/// Asks every running loop to stop after its current step.
pub fn request() {
    STOP.store(true, Ordering::SeqCst);
}

pub fn requested() -> bool {
    STOP.load(Ordering::SeqCst)
}

/// Clears a request (tests, or a new run in the same process).
pub fn reset() {
    STOP.store(false, Ordering::SeqCst);
}
