//! How libtorch's OpenMP threads wait at a barrier: spin for a while (libgomp's default) or
//! sleep at once (`OMP_WAIT_POLICY=PASSIVE`).
//!
//! Neither is right everywhere (docs/performance.md, "Wait policy"). On idle cores spinning
//! is what makes small steps fast: passive waiting cost 1.14–2.02× per step on a quiet 2-core
//! machine. On cores another process is using, spinning threads steal the time the thread
//! they wait for needs: beside one busy process the default policy was 1.5× slower than
//! passive over the whole `small` profile, up to 2.5× on a step. So dnlts looks, once at
//! start-up, whether the threads it will run fit on cores nobody else is using, and spins only
//! then. A policy the user set wins. The policy changes speed, never numbers: the kernels and
//! their summation order are the same either way.
//!
//! The variables are read when libtorch loads, so the binary decides and runs itself again
//! (`suite/src/main.rs`, with the kernel pin); the decision travels in [`MARK`], which child
//! processes inherit, so every process of one run waits the same way.

/// Set by dnlts to the policy it chose and why; read by provenance and `dnlts env`.
pub const MARK: &str = "DNLTS_WAIT_POLICY";
/// OpenMP's own variable.
pub const VARIABLE: &str = "OMP_WAIT_POLICY";

/// How many other processes may be runnable, on average, beyond what leaves every thread a
/// free core: sampling sees short-lived processes (a shell, a `ps`) now and then, which should
/// not switch a quiet machine to passive waiting; one busy process (1.0) does.
const SLACK: f64 = 0.5;

/// What the process must set before libtorch loads (empty: nothing; it was decided already).
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub set: Vec<(&'static str, String)>,
}

/// The policy for a process that will run `threads` OpenMP threads at once on `cores` logical
/// cores while `others` other processes are runnable on average (None: the load could not be
/// read). `user` is the user's `OMP_WAIT_POLICY`, `mark` an inherited [`MARK`].
pub fn decide(
    user: Option<&str>,
    mark: Option<&str>,
    others: Option<f64>,
    cores: usize,
    threads: usize,
) -> Decision {
    if mark.is_some() {
        return Decision { set: Vec::new() };
    }
    if let Some(policy) = user {
        let text = if policy.is_empty() { "(empty: libgomp's default)" } else { policy };
        return Decision { set: vec![(MARK, format!("{VARIABLE}={text}, set by you"))] };
    }
    let passive = |why: String| Decision {
        set: vec![(VARIABLE, "PASSIVE".into()), (MARK, format!("passive: {why}"))],
    };
    match others {
        None => passive("the machine's load could not be read (/proc/stat)".into()),
        Some(others) if others + threads as f64 > cores as f64 + SLACK => passive(format!(
            "{others:.1} other runnable process(es) on {cores} cores leave too few idle cores \
             for {threads} thread(s)"
        )),
        Some(others) => Decision {
            set: vec![(
                MARK,
                format!(
                    "spin (libgomp's default): {others:.1} other runnable process(es) on {cores} \
                     cores leave an idle core to each of {threads} thread(s)"
                ),
            )],
        },
    }
}

/// Other runnable processes on this machine right now: the mean of a few samples of
/// `/proc/stat`'s `procs_running` over about 50 ms, less this process.
pub fn others_runnable() -> Option<f64> {
    const SAMPLES: u32 = 10;
    let mut total = 0.0;
    for sample in 0..SAMPLES {
        if sample > 0 {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        total += procs_running(&stat)?;
    }
    Some((total / f64::from(SAMPLES) - 1.0).max(0.0))
}

fn procs_running(stat: &str) -> Option<f64> {
    stat.lines().find_map(|line| line.strip_prefix("procs_running ")?.trim().parse().ok())
}

/// The policy this process waits with, in words, for provenance and `dnlts env`.
pub fn in_force() -> String {
    match (std::env::var(MARK), std::env::var(VARIABLE)) {
        (Ok(mark), _) => mark,
        (Err(_), Ok(policy)) => format!("{VARIABLE}={policy}"),
        (Err(_), Err(_)) => "libgomp's default (spin)".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(decision: &Decision) -> Option<&str> {
        decision.set.iter().find(|(name, _)| *name == VARIABLE).map(|(_, value)| value.as_str())
    }

    fn mark(decision: &Decision) -> &str {
        let found = decision.set.iter().find(|(name, _)| *name == MARK);
        found.map(|(_, value)| value.as_str()).unwrap_or_else(|| panic!("no mark: {decision:?}"))
    }

    #[test]
    fn a_quiet_machine_spins() {
        let decision = decide(None, None, Some(0.1), 2, 2);
        assert_eq!(policy(&decision), None, "{decision:?}");
        assert!(mark(&decision).starts_with("spin"), "{decision:?}");
    }

    #[test]
    fn one_busy_process_on_two_cores_makes_it_passive() {
        let decision = decide(None, None, Some(1.0), 2, 2);
        assert_eq!(policy(&decision), Some("PASSIVE"), "{decision:?}");
        assert!(mark(&decision).starts_with("passive"), "{decision:?}");
    }

    #[test]
    fn a_busy_process_beside_spare_cores_still_spins() {
        let decision = decide(None, None, Some(1.0), 16, 2);
        assert_eq!(policy(&decision), None, "{decision:?}");
    }

    #[test]
    fn the_threshold_is_the_slack_beyond_free_cores() {
        assert_eq!(policy(&decide(None, None, Some(0.5), 2, 2)), None);
        assert_eq!(policy(&decide(None, None, Some(0.51), 2, 2)), Some("PASSIVE"));
        assert_eq!(policy(&decide(None, None, Some(0.0), 2, 3)), Some("PASSIVE"), "oversubscribed");
    }

    #[test]
    fn an_unreadable_load_is_passive() {
        assert_eq!(policy(&decide(None, None, None, 2, 2)), Some("PASSIVE"));
    }

    #[test]
    fn the_users_policy_wins_and_is_named() {
        let decision = decide(Some("ACTIVE"), None, Some(1.0), 2, 2);
        assert_eq!(policy(&decision), None, "{decision:?}");
        assert_eq!(mark(&decision), "OMP_WAIT_POLICY=ACTIVE, set by you");
        let empty = decide(Some(""), None, Some(1.0), 2, 2);
        assert!(mark(&empty).contains("libgomp's default"), "{empty:?}");
    }

    #[test]
    fn a_decided_process_decides_nothing_again() {
        let decision = decide(None, Some("passive: …"), Some(0.0), 2, 2);
        assert!(decision.set.is_empty(), "{decision:?}");
    }

    #[test]
    fn reads_procs_running() {
        let stat = "cpu  1 2 3\nctxt 99\nprocs_running 3\nprocs_blocked 0\n";
        assert_eq!(procs_running(stat), Some(3.0));
        assert_eq!(procs_running("cpu 1 2\n"), None);
    }
}
