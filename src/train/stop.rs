//! A polite stop: Ctrl-C or SIGTERM sets a flag that training loops read between steps, so the
//! current step finishes and a checkpoint is written before the process exits. Outside a
//! training loop there is nothing to save, so a stop there ends the process at once.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

static STOP: AtomicBool = AtomicBool::new(false);
static LOOPS: AtomicUsize = AtomicUsize::new(0);

/// Marks a training loop as running while it lives: a stop then waits for its step.
pub struct LoopRunning(());

impl LoopRunning {
    pub fn start() -> Self {
        LOOPS.fetch_add(1, Ordering::SeqCst);
        LoopRunning(())
    }
}

impl Drop for LoopRunning {
    fn drop(&mut self) {
        LOOPS.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Whether a training loop would save a checkpoint on a stop (else stopping is immediate).
pub fn loop_running() -> bool {
    LOOPS.load(Ordering::SeqCst) > 0
}

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

/// What a stop outside a training loop says after "stopped": how to continue the run (set by
/// the commands that write stages, which know their folder).
static ADVICE: Mutex<Option<String>> = Mutex::new(None);

/// Sets the advice printed when a stop ends the process outside a training loop.
pub fn set_advice(advice: String) {
    *ADVICE.lock().unwrap_or_else(|e| e.into_inner()) = Some(advice);
}

/// The advice of [`set_advice`], if any.
pub fn advice() -> Option<String> {
    ADVICE.lock().unwrap_or_else(|e| e.into_inner()).clone()
}
