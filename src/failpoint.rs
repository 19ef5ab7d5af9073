//! Fault injection for the crash tests: the process kills itself (SIGKILL, exactly what
//! `kill -9` does: no handler, no destructor, no flush) when it reaches a named point.
//!
//! `DNLTS_FAILPOINT=POINT` or `POINT:CONTEXT` arms one point; `CONTEXT` must occur in the
//! point's context (a task and step such as `pretrain@3`, or a file path). Unset, a point costs
//! one atomic load. The points, in the order a stage reaches them:
//! - `step` (`TASK@STEP`): after the update of a training step, before any checkpoint of it;
//! - `checkpoint-tensors` (the tensor file's path): a checkpoint's tensors are written, its
//!   JSON is not;
//! - `before-rename` (the file's path): an atomic write has filled and synced its temporary
//!   file but not renamed it;
//! - `stage-weights` (stage name): a finished stage's weights are written, its record is not;
//! - `stage-record` (stage name): the record is written, the checkpoints are not removed yet;
//! - `evaluate` (`LABEL@FIRST-IMAGE`): an evaluation batch is about to be read.
//!
//! With `DNLTS_FAILPOINT_SIGNAL=TERM` the point sends SIGTERM to the process instead (once)
//! and goes on: what `kill` or a batch system's time limit does, for the stop handler.

use std::sync::OnceLock;

/// The environment variable that arms a fail point.
pub const VARIABLE: &str = "DNLTS_FAILPOINT";

fn armed() -> Option<&'static (String, String)> {
    static ARMED: OnceLock<Option<(String, String)>> = OnceLock::new();
    ARMED
        .get_or_init(|| {
            let spec = std::env::var(VARIABLE).ok()?;
            let (point, context) = spec.split_once(':').unwrap_or((&spec, ""));
            Some((point.to_string(), context.to_string()))
        })
        .as_ref()
}

/// The environment variable that makes an armed point send SIGTERM (`TERM`), not SIGKILL.
pub const SIGNAL_VARIABLE: &str = "DNLTS_FAILPOINT_SIGNAL";

/// Kills the process if `point` is armed and its context contains the armed one (or sends it
/// SIGTERM once, see the module's documentation); `context` is only computed when `point` is
/// armed.
pub fn hit(point: &str, context: impl FnOnce() -> String) {
    if let Some((armed_point, armed_context)) = armed() {
        if armed_point == point && context().contains(armed_context.as_str()) {
            if std::env::var(SIGNAL_VARIABLE).as_deref() == Ok("TERM") {
                static SENT: std::sync::Once = std::sync::Once::new();
                #[cfg(unix)]
                SENT.call_once(|| unsafe {
                    libc::raise(libc::SIGTERM);
                });
                return;
            }
            kill_self();
        }
    }
}

fn kill_self() -> ! {
    #[cfg(unix)]
    unsafe {
        libc::raise(libc::SIGKILL);
    }
    std::process::abort()
}
