//! Evaluation: top-1/top-5 of classifiers on original images and on reconstructions of any
//! number of AEs, optionally under additive uniform noise — Table 1, Table 2 and Figure 4 come
//! out of one pass, in which each AE reconstructs each batch once and every classifier reads
//! that reconstruction.

use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use crate::data::source::{ImageSource, Split};
use crate::metrics::bootstrap::Hits;
use crate::models::classifier::Classifier;
use crate::models::segnet::{AeMode, AutoEncoder};
use crate::progress::Progress;

/// How many rows of `logits` have their label among the top `k` scores.
pub fn top_k_correct(logits: &Tensor, labels: &Tensor, k: i64) -> i64 {
    top_k_hit_mask(logits, labels, k).sum(Kind::Int64).int64_value(&[])
}

/// Per row of `logits`: is its label among the top `k` scores (a bool tensor).
fn top_k_hit_mask(logits: &Tensor, labels: &Tensor, k: i64) -> Tensor {
    let k = k.min(logits.size()[1]);
    let (_, top) = logits.topk(k, 1, true, true);
    top.eq_tensor(&labels.unsqueeze(1)).any_dim(1, false)
}

/// Marks in `hits` the images `first..` (one per row of `logits`) whose label is among the
/// top `k` scores.
fn record_hits(hits: &mut Hits, first: u64, logits: &Tensor, labels: &Tensor, k: i64) {
    let mask = top_k_hit_mask(logits, labels, k).to_kind(Kind::Uint8).to_device(tch::Device::Cpu);
    let mask = Vec::<u8>::try_from(&mask).expect("a CPU u8 tensor converts to a Vec");
    for (row, &hit) in mask.iter().enumerate() {
        if hit != 0 {
            hits.set(first as usize + row);
        }
    }
}

/// Top-1 over the first `images` validation images of `logits_of(images)`, in batches, with
/// the images laid out and the network run as `compute` says (channels-last, bf16).
pub fn validation_accuracy(
    source: &dyn ImageSource,
    images: u64,
    batch_size: u64,
    device: tch::Device,
    compute: &crate::compute::Compute,
    logits_of: &dyn Fn(&Tensor) -> Tensor,
) -> f64 {
    let read = Reading { source, split: Split::Validation, images, batch_size, device, compute };
    let (correct, n) = read.top1_correct(logits_of);
    correct as f64 / n.max(1) as f64
}

/// The first `images` of one split, read in batches as `compute` says.
pub struct Reading<'a> {
    pub source: &'a dyn ImageSource,
    pub split: Split,
    pub images: u64,
    pub batch_size: u64,
    pub device: tch::Device,
    pub compute: &'a crate::compute::Compute,
}

impl Reading<'_> {
    /// How many of the images `logits_of` puts their label first for, out of how many (the
    /// split may hold fewer than asked).
    pub fn top1_correct(&self, logits_of: &dyn Fn(&Tensor) -> Tensor) -> (u64, u64) {
        let n = self.images.min(self.source.len(self.split));
        let mut correct = 0;
        for start in (0..n).step_by(self.batch_size.max(1) as usize) {
            let indices: Vec<u64> = (start..(start + self.batch_size).min(n)).collect();
            let (batch, labels) = self.source.labelled(self.split, &indices);
            let batch = self.compute.prepare(&batch.to_device(self.device));
            let logits = tch::no_grad(|| self.compute.autocast(self.device, || logits_of(&batch)));
            correct += top_k_correct(&logits, &labels.to_device(self.device), 1);
        }
        (correct as u64, n)
    }
}

/// What the classifiers read: the original images (`ae` None) or an AE's reconstructions.
pub struct View<'a> {
    pub name: String,
    pub ae: Option<&'a AutoEncoder>,
}

/// What a classifier reads, by meaning rather than by row of an [`AccuracyTable`]: views are
/// named `x`, `A_S` and `A_<classifier name>`, and looked up by that name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen<'a> {
    /// The original images x.
    Original,
    /// Reconstructions of the pre-trained AE A_S.
    Pretrained,
    /// Reconstructions of the AE fine-tuned through the classifier of this name.
    FinetunedFor(&'a str),
}

impl Seen<'_> {
    /// The view's name, as [`evaluate`] records it.
    pub fn view_name(&self) -> String {
        match self {
            Seen::Original => "x".into(),
            Seen::Pretrained => "A_S".into(),
            Seen::FinetunedFor(classifier) => format!("A_{classifier}"),
        }
    }
}

/// Which images one classifier got right on one view, at top-1 and at top-5.
#[derive(Debug, Clone, PartialEq)]
pub struct ViewHits {
    pub top1: Hits,
    pub top5: Hits,
}

/// Accuracies of every classifier on every view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccuracyTable {
    pub views: Vec<String>,
    pub classifiers: Vec<String>,
    /// top1[view][classifier]; NaN where the pair was not asked for.
    pub top1: Vec<Vec<f64>>,
    pub top5: Vec<Vec<f64>>,
    pub images: u64,
    /// Strength s of the additive noise U(-s, s) applied before everything else.
    pub noise: f64,
    /// hits[view][classifier]: the images behind each accuracy (None where the pair was not
    /// asked for); empty in a resampled table (`AccuracyTable::resampled`).
    #[serde(skip)]
    pub hits: Vec<Vec<Option<ViewHits>>>,
}

impl AccuracyTable {
    fn cell(&self, matrix: &[Vec<f64>], seen: Seen, classifier: &str) -> f64 {
        let view = self.views.iter().position(|v| *v == seen.view_name());
        let column = self.classifiers.iter().position(|c| c == classifier);
        match (view, column) {
            (Some(v), Some(c)) => matrix[v][c],
            _ => f64::NAN,
        }
    }

    /// Top-1 of `classifier` on `seen`; NaN when the pair was not evaluated.
    pub fn top1_on(&self, seen: Seen, classifier: &str) -> f64 {
        self.cell(&self.top1, seen, classifier)
    }

    /// Top-5 of `classifier` on `seen`; NaN when the pair was not evaluated.
    pub fn top5_on(&self, seen: Seen, classifier: &str) -> f64 {
        self.cell(&self.top5, seen, classifier)
    }

    /// The hits of `classifier` on `seen`, if that pair was evaluated.
    pub fn hits_on(&self, seen: Seen, classifier: &str) -> Option<&ViewHits> {
        let view = self.views.iter().position(|v| *v == seen.view_name())?;
        let column = self.classifiers.iter().position(|c| c == classifier)?;
        self.hits.get(view)?.get(column)?.as_ref()
    }

    /// The table as measured on a resample of its images that drew image i `weights[i]`
    /// times (`crate::metrics::bootstrap`): every accuracy from the same draw, so differences
    /// and ratios of them are paired. Its `hits` are empty.
    pub fn resampled(&self, weights: &[u32]) -> AccuracyTable {
        let total = weights.iter().map(|&w| u64::from(w)).sum::<u64>().max(1) as f64;
        let matrix = |top: fn(&ViewHits) -> &Hits| -> Vec<Vec<f64>> {
            (self.hits.iter())
                .map(|row| {
                    (row.iter())
                        .map(|h| {
                            h.as_ref()
                                .map_or(f64::NAN, |h| top(h).weighted_count(weights) as f64 / total)
                        })
                        .collect()
                })
                .collect()
        };
        AccuracyTable {
            views: self.views.clone(),
            classifiers: self.classifiers.clone(),
            top1: matrix(|h| &h.top1),
            top5: matrix(|h| &h.top5),
            images: self.images,
            noise: self.noise,
            hits: Vec::new(),
        }
    }

    /// One table of the columns `names` taken from `parts` (evaluations of the same views and
    /// images, each for some of the classifiers); a name no part has gets NaN.
    pub fn columns_of(parts: &[AccuracyTable], names: &[String]) -> AccuracyTable {
        let first = &parts[0];
        let column = |matrix: fn(&AccuracyTable) -> &Vec<Vec<f64>>, v: usize, name: &String| {
            parts
                .iter()
                .find_map(|p| p.classifiers.iter().position(|c| c == name).map(|c| matrix(p)[v][c]))
                .unwrap_or(f64::NAN)
        };
        let matrix = |which: fn(&AccuracyTable) -> &Vec<Vec<f64>>| {
            (0..first.views.len())
                .map(|v| names.iter().map(|name| column(which, v, name)).collect())
                .collect()
        };
        let hits_of = |v: usize, name: &String| {
            parts.iter().find_map(|p| {
                let c = p.classifiers.iter().position(|c| c == name)?;
                p.hits.get(v)?.get(c).cloned()
            })
        };
        let hits = (0..first.views.len())
            .map(|v| names.iter().map(|name| hits_of(v, name).flatten()).collect())
            .collect();
        AccuracyTable {
            views: first.views.clone(),
            classifiers: names.to_vec(),
            top1: matrix(|t| &t.top1),
            top5: matrix(|t| &t.top5),
            images: first.images,
            noise: first.noise,
            hits,
        }
    }
}

/// Adds U(-s, s) noise to [0, 1] images and clamps, seeded per (seed, sample index, s) so each
/// sample's noise is the same whatever batch it falls in.
pub fn add_uniform_noise(images: &Tensor, indices: &[u64], strength: f64, seed: u64) -> Tensor {
    if strength == 0.0 {
        return images.shallow_clone();
    }
    let size = images.size();
    let noise: Vec<Tensor> = indices
        .iter()
        .map(|&index| {
            let stage = format!("noise/{index}/{}", strength.to_bits());
            tch::manual_seed(crate::seed::derive(seed, "uniform-noise", &stage) as i64);
            Tensor::rand([1, size[1], size[2], size[3]], (Kind::Float, tch::Device::Cpu))
        })
        .collect();
    let noise = (Tensor::cat(&noise, 0).to_device(images.device()) * 2.0 - 1.0) * strength;
    (images + noise).clamp(0.0, 1.0)
}

/// Which images an evaluation reads, and the noise put on them.
#[derive(Debug, Clone)]
pub struct EvalPlan {
    pub split: Split,
    /// The first `images` images of the split.
    pub images: u64,
    pub batch_size: u64,
    /// Strength s of U(-s, s).
    pub noise: f64,
    pub noise_seed: u64,
    pub compute: crate::compute::Compute,
    /// The label of its progress reports (images done, images/s); None: silent.
    pub progress: Option<String>,
}

/// Evaluates `classifiers` on `views` of the images of `plan`. `wanted(v, c)` picks the pairs
/// to compute (an AE reconstructs a batch only if some classifier reads it).
pub fn evaluate(
    source: &dyn ImageSource,
    plan: &EvalPlan,
    views: &[View],
    classifiers: &[&Classifier],
    wanted: &dyn Fn(usize, usize) -> bool,
) -> AccuracyTable {
    let (split, batch_size, strength, seed) =
        (plan.split, plan.batch_size, plan.noise, plan.noise_seed);
    let images = plan.images.min(source.len(split));
    let mut hits =
        vec![
            vec![[Hits::new(images as usize), Hits::new(images as usize)]; classifiers.len()];
            views.len()
        ];
    let device =
        classifiers.first().and_then(|c| c.store()).map_or(tch::Device::Cpu, |s| s.device());
    let mut progress = plan.progress.as_ref().map(|label| Progress::new(label, images));
    for start in (0..images).step_by(batch_size as usize) {
        let indices: Vec<u64> = (start..(start + batch_size).min(images)).collect();
        crate::failpoint::hit("evaluate", || {
            format!("{}@{start}", plan.progress.as_deref().unwrap_or("evaluation"))
        });
        let (clean, labels) = source.labelled(split, &indices);
        let input = add_uniform_noise(&clean, &indices, strength, seed).to_device(device);
        let input = plan.compute.prepare(&input);
        let labels = labels.to_device(device);
        // Under --amp the AE and the classifiers run in bf16, as in training.
        let run = |f: &dyn Fn() -> Tensor| tch::no_grad(|| plan.compute.autocast(device, f));
        for (v, view) in views.iter().enumerate() {
            if !(0..classifiers.len()).any(|c| wanted(v, c)) {
                continue;
            }
            let seen = match view.ae {
                Some(ae) => run(&|| ae.forward(&input, AeMode::Eval)),
                None => input.shallow_clone(),
            };
            for (c, classifier) in classifiers.iter().enumerate().filter(|(c, _)| wanted(v, *c)) {
                let logits = run(&|| classifier.logits(&seen, false));
                let [top1, top5] = &mut hits[v][c];
                record_hits(top1, start, &logits, &labels, 1);
                record_hits(top5, start, &logits, &labels, 5);
            }
        }
        if let Some(progress) = progress.as_mut() {
            progress.advance(start + indices.len() as u64);
        }
    }
    if let Some(progress) = progress {
        progress.finish();
    }
    let rate = |v: usize, c: usize, k: usize| {
        if wanted(v, c) {
            hits[v][c][k].count() as f64 / images.max(1) as f64
        } else {
            f64::NAN
        }
    };
    let matrix = |k| {
        (0..views.len()).map(|v| (0..classifiers.len()).map(|c| rate(v, c, k)).collect()).collect()
    };
    AccuracyTable {
        views: views.iter().map(|v| v.name.clone()).collect(),
        classifiers: classifiers.iter().map(|c| c.name.clone()).collect(),
        top1: matrix(0),
        top5: matrix(1),
        images,
        noise: strength,
        hits: (hits.into_iter().enumerate())
            .map(|(v, row)| {
                (row.into_iter().enumerate())
                    .map(|(c, [top1, top5])| wanted(v, c).then_some(ViewHits { top1, top5 }))
                    .collect()
            })
            .collect(),
    }
}
