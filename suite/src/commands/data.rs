//! `dnlts data`: look at a profile's synthetic images, export a profile's images and check
//! dataset folders.

use std::path::Path;

use anyhow::Context as _;

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
    dnlts::files::check_output(out, dnlts::files::Output::File).context("--out")?;
    anyhow::ensure!(
        profile.data == profile::DataSource::Synthetic,
        "profile '{}' has no synthetic data to preview; use tiny, ci or small",
        profile.name
    );
    let seed = crate::stages::data_seed(seed);
    let mut config = crate::stages::synthetic_source(&profile, seed).config;
    config.cues = dnlts::data::synthetic::CueSwitches::ablation(ablation)?;
    // Refused before anything is drawn: no image, more than the validation split holds, or
    // a grid over the memory limit. The count printed below is the count drawn.
    let available = dnlts::data::source::Split::Validation.len();
    dnlts::data::preview::check_grid("--n", n, available, config.size, config.size)?;
    let grid = dnlts::data::preview::grid(&config, n)?;
    dnlts::data::preview::save_png(&grid, out)?;
    println!("wrote {} ({n} images of profile {})", out.display(), profile.name);
    Ok(())
}

/// `dnlts data export`: one split of a profile's images as an ImageFolder tree + manifest.
pub fn export(
    profile: &str,
    split: &str,
    out: &Path,
    seed: u64,
    data: Option<&Path>,
) -> anyhow::Result<()> {
    use dnlts::data::source::Split;
    let profile = profile::Profile::preset(profile)?;
    profile.check_data_option(data)?;
    let (split_name, split) = match split {
        "train" => (split, Split::Train),
        "val" => (split, Split::Validation),
        _ => (split, Split::Test),
    };
    let options =
        crate::stages::RunOptions { data_dir: data.map(Path::to_path_buf), ..Default::default() };
    let source = crate::stages::profile_source(&profile, &options, seed)?;
    let exported =
        dnlts::data::export::export(source.as_ref(), split, out, profile.batch_size as u64)?;
    println!(
        "wrote {} images of {} classes ({} {split_name} split, {}×{} PNG) to {}/<class>/ with \
         MANIFEST.sha256; class folder k holds label k",
        exported.images,
        exported.classes,
        profile.name,
        source.image_size(),
        source.image_size(),
        out.display()
    );
    Ok(())
}

/// `dnlts data verify`: check a folder against its sha256 manifest, or write one.
pub fn verify(dir: &Path, write: bool) -> anyhow::Result<()> {
    // FIFOs, sockets and devices are never opened (reading one can block forever); each one
    // left out is said on stderr.
    let note = |skipped: &[dnlts::data::manifest::SkippedEntry]| {
        for entry in skipped {
            eprintln!("note: skipped {}/{entry}", dir.display());
        }
    };
    if write {
        let written = dnlts::data::manifest::write_report(dir)?;
        note(&written.skipped);
        let skipped = match written.skipped.len() {
            0 => String::new(),
            k => format!(", {k} non-regular entries left out"),
        };
        println!("wrote {}/MANIFEST.sha256 ({} files{skipped})", dir.display(), written.files);
        return Ok(());
    }
    let report = dnlts::data::manifest::verify(dir)?;
    note(&report.skipped);
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
