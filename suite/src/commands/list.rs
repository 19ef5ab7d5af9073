//! `dnlts list`: the targets (from the registry, the one list of their names) or the profiles.

use crate::{profile, targets};

pub fn run(profiles: bool) {
    if profiles {
        let presets: Vec<_> = profile::PRESETS
            .iter()
            .map(|name| profile::Profile::preset(name).expect("presets are valid"))
            .collect();
        let width = column_width(presets.iter().map(|preset| preset.name.as_str()));
        for preset in &presets {
            // Indented, so the wrapper continues a long line under the summary, not the name.
            let line = format!(
                "  {:<width$}  {} [target: {}]",
                preset.name, preset.summary, preset.budget
            );
            println!("{}", crate::help::wrap(&line, crate::help::WIDTH));
        }
        return;
    }
    let all = targets::all();
    let name = column_width(all.iter().map(|target| target.name));
    let artefact = column_width(all.iter().map(|target| target.artefact));
    for target in all {
        println!("{:<name$}  {:<artefact$}  {}", target.name, target.artefact, target.summary);
    }
}

/// The widest entry of a column, in characters (what `{:<N}` pads by), so that every column
/// lines up whatever names the registry holds.
fn column_width<'a>(entries: impl Iterator<Item = &'a str>) -> usize {
    entries.map(|entry| entry.chars().count()).max().unwrap_or(0)
}
