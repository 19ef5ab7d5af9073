//! `dnlts data`: look at a profile's synthetic images and check dataset folders.

use std::path::Path;

use crate::profile;

/// `dnlts data preview`: a labelled grid of a synthetic profile's images.
pub fn preview(
    profile: &str,
    n: usize,
    seed: u64,
    ablation: &str,
    out: &Path,
) -> anyhow::Result<()> {
    let profile = profile::Profile::preset(profile)?;
    anyhow::ensure!(
        profile.data == profile::DataSource::Synthetic,
        "profile '{}' has no synthetic data to preview; use tiny, ci or small",
        profile.name
    );
    let seed = crate::stages::data_seed(seed);
    let mut config = crate::stages::synthetic_source(&profile, seed).config;
    config.cues = dnlts::data::synthetic::CueSwitches::ablation(ablation)?;
    let grid = dnlts::data::preview::grid(&config, n);
    dnlts::data::preview::save_png(&grid, out)?;
    println!("wrote {} ({n} images of profile {})", out.display(), profile.name);
    Ok(())
}

/// `dnlts data verify`: check a folder against its sha256 manifest, or write one.
pub fn verify(dir: &Path, write: bool) -> anyhow::Result<()> {
    if write {
        let files = dnlts::data::manifest::write(dir)?;
        println!("wrote {}/MANIFEST.sha256 ({files} files)", dir.display());
        return Ok(());
    }
    let report = dnlts::data::manifest::verify(dir)?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    anyhow::ensure!(
        report.missing.is_empty() && report.changed.is_empty() && report.extra.is_empty(),
        "{} does not match its manifest: {} missing, {} changed, {} extra",
        dir.display(),
        report.missing.len(),
        report.changed.len(),
        report.extra.len()
    );
    Ok(())
}
