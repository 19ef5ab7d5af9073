//! How sure is each number of the run: the paired bootstrap over the test images
//! (`dnlts::metrics::bootstrap`), computed once per run from the evaluation passes' per-image
//! outcomes, without running a network again.
//!
//! Every pass over the same number of images is resampled with the same draws (the seed is
//! derived from the master seed and the image count), so accuracies of different views,
//! classifiers and noise strengths on the same images move together: their differences and
//! ratios (RRC) are paired. Table 2 and its analysis (lattices, stable intervals) are
//! recomputed on each resample.

use std::rc::Rc;

use dnlts::eval::{AccuracyTable, Seen};
use dnlts::metrics::analysis::{analyze, Analysis, DEFAULT_THRESHOLDS};
use dnlts::metrics::bootstrap::{self, Interval, DEFAULT_RESAMPLES};
use dnlts::metrics::rrc::CrossTable;

use super::Pipeline;

/// The run's numbers on one resample of its test images.
#[derive(Debug, Clone)]
pub struct Resample {
    /// The Tables' pass (Tables 1 and 2).
    pub clean: AccuracyTable,
    /// Figure 4's passes, in the order of [`Pipeline::noise_sweep`].
    pub noise: Vec<AccuracyTable>,
    /// Table 2 of the resample; None where it is no valid cross table (a diagonal at 0, so
    /// RRC is undefined): such resamples are left out of what reads Table 2, and counted.
    pub cross: Option<CrossTable>,
    pub analysis: Option<Analysis>,
}

/// The resamples of a run, with the point estimates they are resamples of.
pub struct Resamples {
    pub all: Vec<Resample>,
}

impl Resamples {
    /// The central 95 % percentile interval of `value` over the resamples (NaN values, where
    /// it is undefined, left out); None where it is undefined in all.
    pub fn interval(&self, value: impl Fn(&Resample) -> f64) -> Option<Interval> {
        bootstrap::percentile_interval(&self.all.iter().map(value).collect::<Vec<_>>())
    }

    /// The share of resamples where `test` is true, among those where it is decided (Some).
    pub fn share(&self, test: impl Fn(&Resample) -> Option<bool>) -> Option<f64> {
        bootstrap::share_true(&self.all.iter().map(test).collect::<Vec<_>>())
    }

    /// Resamples whose Table 2 is no valid cross table.
    pub fn without_cross_table(&self) -> usize {
        self.all.iter().filter(|r| r.cross.is_none()).count()
    }

    pub fn len(&self) -> usize {
        self.all.len()
    }
}

/// Table 2 of an evaluation pass: top-1 of classifier j (columns) on A_i's reconstructions.
pub fn cross_of(table: &AccuracyTable, names: &[String]) -> dnlts::metrics::Result<CrossTable> {
    let accuracy = names
        .iter()
        .map(|i| names.iter().map(|j| table.top1_on(Seen::FinetunedFor(i), j)).collect())
        .collect();
    CrossTable::new(names.to_vec(), accuracy, std::path::Path::new("table2_cross.json"))
}

impl Pipeline {
    /// The number of bootstrap resamples (`--resamples`; default 1,000).
    pub fn resample_count(&self) -> usize {
        self.options.resamples.unwrap_or(DEFAULT_RESAMPLES)
    }

    /// The bootstrap's seed for passes over `images` test images.
    pub(super) fn bootstrap_seed(&self, images: u64) -> u64 {
        self.bootstrap_seed_of("images", images)
    }

    /// The bootstrap's seed for `count` resampled units (`what`: images, pairs).
    pub(super) fn bootstrap_seed_of(&self, what: &str, count: u64) -> u64 {
        dnlts::seed::derive(self.master_seed, "bootstrap", &format!("{count} {what}"))
    }

    /// The run's numbers on [`Pipeline::resample_count`] resamples of its test images.
    pub fn resamples(&self) -> anyhow::Result<Rc<Resamples>> {
        super::measures::once(&self.measures.resamples, || {
            let (clean, noise) = (self.evaluation()?, self.noise_sweep()?);
            let started = std::time::Instant::now();
            let count = self.resample_count();
            let names = self.classifier_names();
            let images = |t: &AccuracyTable| t.images as usize;
            let cleans = bootstrap::bootstrap(
                images(&clean),
                count,
                self.bootstrap_seed(clean.images),
                |w| {
                    let clean = clean.resampled(w);
                    let cross = cross_of(&clean, &names).ok();
                    let analysis =
                        cross.as_ref().and_then(|c| analyze(c, &DEFAULT_THRESHOLDS).ok());
                    (clean, cross, analysis)
                },
            );
            let noise_images = noise.first().map_or(0, |t| t.images);
            let noises = bootstrap::bootstrap(
                noise_images as usize,
                count,
                self.bootstrap_seed(noise_images),
                |w| noise.iter().map(|t| t.resampled(w)).collect::<Vec<_>>(),
            );
            let all = (cleans.into_iter().zip(noises))
                .map(|((clean, cross, analysis), noise)| Resample { clean, noise, cross, analysis })
                .collect();
            // Its cost, said once per run (docs/uncertainty.md has measured ones).
            eprintln!(
                "bootstrap: {count} resamples of {} and {noise_images} test images (Table 2 \
                 and its analysis on each) in {:.2} s",
                clean.images,
                started.elapsed().as_secs_f64()
            );
            Ok(Resamples { all })
        })
    }
}
