//! `dnlts list`: the targets (from the registry, the one list of their names) or the profiles.

use crate::{profile, targets};

pub fn run(profiles: bool) {
    if profiles {
        for name in profile::PRESETS {
            let preset = profile::Profile::preset(name).expect("presets are valid");
            println!("{:<8} {} [target: {}]", preset.name, preset.summary, preset.budget);
        }
        return;
    }
    for target in targets::all() {
        println!("{:<9} {:<26} {}", target.name, target.artefact, target.summary);
    }
}
