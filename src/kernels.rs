//! Which CPU kernels libtorch runs, so that the same seed gives the same bytes on every x86-64
//! machine.
//!
//! ATen, oneDNN and MKL each pick their vector kernels from the CPU they find: on a CPU with
//! AVX-512 they sum in another order than on one with AVX2 alone, and a trained network comes
//! out different (measured: Table 1 of the `ci` profile 23 points apart, docs/determinism.md).
//! Each of them reads an environment variable that caps its instruction set; dnlts sets all
//! three to AVX2 on every x86-64 CPU that has AVX2 and FMA, so an AVX-512 machine computes what
//! an AVX2 machine computes. The variables are read when libtorch loads, so the binary sets
//! them and runs itself again (`suite/src/main.rs`); this module only decides and reports.

use serde::{Deserialize, Serialize};

/// The variables of the pin and their values: ATen's dispatch, oneDNN's JIT and MKL's BLAS.
pub const PIN: [(&str, &str); 3] = [
    ("ATEN_CPU_CAPABILITY", "avx2"),
    ("ONEDNN_MAX_CPU_ISA", "AVX2"),
    ("MKL_ENABLE_INSTRUCTIONS", "AVX2"),
];

/// The kernels a process computes with, as recorded in provenance and stage keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kernels {
    /// Capped at AVX2: the same numbers on every x86-64 CPU with AVX2 and FMA.
    #[default]
    Avx2,
    /// This CPU's own kernels (`--native-kernels`, or the pin could not be applied): the
    /// numbers are this kind of CPU's.
    Native,
    /// No AVX2 and FMA, or not x86-64: nothing to pin to; the numbers are this machine's.
    Unpinnable,
}

impl Kernels {
    pub fn name(self) -> &'static str {
        match self {
            Kernels::Avx2 => "avx2 (pinned)",
            Kernels::Native => "native",
            Kernels::Unpinnable => "native (cannot be pinned on this CPU)",
        }
    }

    /// Whether another machine with AVX2 gets this run's numbers bit for bit.
    pub fn portable(self) -> bool {
        self == Kernels::Avx2
    }
}

/// Whether this CPU can run the pinned kernels: x86-64 with AVX2 and FMA (ATen's avx2
/// kernels need both).
pub fn cpu_can_pin() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// What a process must change before libtorch loads, and what to tell the user about it.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Setup {
    /// Variables to set (a restart is needed when any is listed).
    pub set: Vec<(&'static str, &'static str)>,
    /// One line each, for stderr.
    pub notes: Vec<String>,
}

/// The pin for a process whose environment is `current`: with `native` (`--native-kernels`)
/// nothing changes; on a CPU that `can_pin`, every variable of [`PIN`] takes its value, and a
/// different value the user set is named in a note (it is overridden, since it would change
/// the numbers); on one that cannot, a note says the numbers are this machine's.
pub fn setup(native: bool, can_pin: bool, current: impl Fn(&str) -> Option<String>) -> Setup {
    let mut setup = Setup::default();
    if native {
        return setup;
    }
    if !can_pin {
        setup.notes.push(
            "note: this CPU has no AVX2 and FMA (or is not x86-64), so libtorch's kernels \
             cannot be pinned: this run's numbers are specific to this kind of CPU"
                .into(),
        );
        return setup;
    }
    for (variable, value) in PIN {
        match current(variable) {
            Some(now) if now == value => {}
            Some(now) => {
                setup.notes.push(format!(
                    "note: {variable}={now} is overridden with {value}: dnlts pins the CPU \
                     kernels so that its numbers are every x86-64 machine's; pass \
                     --native-kernels to run with your setting"
                ));
                setup.set.push((variable, value));
            }
            None => setup.set.push((variable, value)),
        }
    }
    setup
}

/// The kernels this process computes with, from its environment (libtorch read the same
/// variables when it loaded): pinned only when every variable of [`PIN`] has its value.
pub fn in_force() -> Kernels {
    judge(cpu_can_pin(), |variable| std::env::var(variable).ok())
}

fn judge(can_pin: bool, current: impl Fn(&str) -> Option<String>) -> Kernels {
    if !can_pin {
        Kernels::Unpinnable
    } else if PIN.iter().all(|(variable, value)| current(variable).as_deref() == Some(*value)) {
        Kernels::Avx2
    } else {
        Kernels::Native
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> =
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    #[test]
    fn pins_every_variable_on_a_cpu_with_avx2() {
        let setup = setup(false, true, env(&[]));
        assert_eq!(setup.set, PIN.to_vec());
        assert!(setup.notes.is_empty(), "{:?}", setup.notes);
    }

    #[test]
    fn a_pinned_process_needs_no_restart() {
        assert_eq!(setup(false, true, env(&PIN)), Setup::default());
        assert_eq!(judge(true, env(&PIN)), Kernels::Avx2);
    }

    #[test]
    fn the_pin_wins_over_the_users_setting_and_says_so() {
        let setup = setup(false, true, env(&[("ATEN_CPU_CAPABILITY", "default")]));
        assert!(setup.set.contains(&("ATEN_CPU_CAPABILITY", "avx2")), "{:?}", setup.set);
        assert_eq!(setup.notes.len(), 1, "{:?}", setup.notes);
        assert!(setup.notes[0].contains("ATEN_CPU_CAPABILITY=default"), "{}", setup.notes[0]);
        assert!(setup.notes[0].contains("--native-kernels"), "{}", setup.notes[0]);
    }

    #[test]
    fn native_kernels_keep_the_users_environment() {
        assert_eq!(setup(true, true, env(&[("ATEN_CPU_CAPABILITY", "default")])), Setup::default());
        assert_eq!(judge(true, env(&[("ATEN_CPU_CAPABILITY", "default")])), Kernels::Native);
        assert_eq!(judge(true, env(&[])), Kernels::Native);
    }

    #[test]
    fn a_cpu_without_avx2_is_told_its_numbers_are_its_own() {
        let setup = setup(false, false, env(&[]));
        assert!(setup.set.is_empty());
        assert!(setup.notes[0].contains("specific to this kind of CPU"), "{:?}", setup.notes);
        assert_eq!(judge(false, env(&PIN)), Kernels::Unpinnable);
    }

    #[test]
    fn one_variable_short_of_the_pin_is_native() {
        assert_eq!(judge(true, env(&PIN[..2])), Kernels::Native);
    }
}
