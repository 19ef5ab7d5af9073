//! Measures several targets read, each computed once per run from the stages: Table 2 as a
//! cross table and its analysis (Figures 6 and 7, claims), the noise sweep (Figure 4, claims)
//! and the nMI of every AE (Figure 9, claims), and where each user's classifier sits.

use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;

use anyhow::Context as _;
use dnlts::data::source::{range, tensor_to_images, Split};
use dnlts::eval::Seen;
use serde::Serialize;

use dnlts::metrics::analysis::{analyze, Analysis, Lattice, DEFAULT_THRESHOLDS};
use dnlts::metrics::bootstrap::{self, percentile_interval, weighted_mean, Interval};
use dnlts::metrics::degenerate::{self, Finding, Observed, PixelSpread, SpreadAccumulator};
use dnlts::metrics::nmi::{inter_values, intra_values, AeNmi, ImageShape, NmiSummary};
use dnlts::metrics::rrc::CrossTable;
use dnlts::models::segnet::{AeMode, AutoEncoder};
use dnlts::models::Family;
use dnlts::progress::Progress;

use super::Pipeline;

/// 8-bit sub-pixel values, 256 levels: the paper's nMI labels.
const NMI_BINS: usize = 256;

/// Figure 4's noise strengths s = 0, 0.1, …, 1.0.
pub fn noise_strengths() -> Vec<f64> {
    (0..=10).map(|k| k as f64 / 10.0).collect()
}

/// The RRC at and above which two classifiers share their input signal (both ways), and the
/// threshold of the lattice a user's classifier is placed in.
pub const SHARED_SIGNAL_RRC: f64 = 0.8;

/// RRC of a pair of classifiers, each on the other's fine-tuned AE.
#[derive(Debug, Clone, Serialize)]
pub struct RrcBothWays {
    pub other: String,
    /// RRC(other∘A_yours).
    pub other_on_yours: f64,
    /// RRC(yours∘A_other).
    pub yours_on_other: f64,
}

impl RrcBothWays {
    pub fn shares_signal(&self) -> bool {
        self.other_on_yours >= SHARED_SIGNAL_RRC && self.yours_on_other >= SHARED_SIGNAL_RRC
    }
}

/// A user's classifier among the others.
#[derive(Debug, Clone, Serialize)]
pub struct Placement {
    pub name: String,
    pub file: String,
    pub sha256: String,
    /// Top-1 on the original test images.
    pub alone: f64,
    /// Top-1 on its own AE's reconstructions: Table 2's diagonal.
    pub diagonal: f64,
    /// The paper's classifiers with RRC ≥ 0.8 both ways.
    pub shares_signal_with: Vec<String>,
    pub rrc: Vec<RrcBothWays>,
    /// Its concepts in the t = 0.8 lattice (None if that lattice was not computed).
    pub lattice: Option<LatticePlace>,
}

/// A classifier's place in one lattice: its object concept (the classifiers reading at least
/// the AEs it reads) and its AE's attribute concept (the classifiers its AE serves).
#[derive(Debug, Clone, Serialize)]
pub struct LatticePlace {
    pub threshold: f64,
    pub concepts: usize,
    pub object_concept: Option<usize>,
    /// The AEs it reads at RRC ≥ t.
    pub reads: Vec<String>,
    /// Classifiers labelling the same object concept (the same AEs read).
    pub same_concept_as: Vec<String>,
    pub attribute_concept: Option<usize>,
    /// Classifiers that read its AE at RRC ≥ t.
    pub served_by_its_ae: Vec<String>,
}

impl LatticePlace {
    fn of(lattice: &Lattice, name: &str) -> Self {
        let ae = Seen::FinetunedFor(name).view_name();
        let object =
            lattice.concepts.iter().position(|c| c.object_labels.iter().any(|o| o == name));
        let attribute = lattice.concepts.iter().position(|c| c.attribute_labels.contains(&ae));
        let concept = |k: Option<usize>| k.map(|k| &lattice.concepts[k]);
        LatticePlace {
            threshold: lattice.threshold,
            concepts: lattice.concepts.len(),
            object_concept: object,
            reads: concept(object).map_or(Vec::new(), |c| c.intent.clone()),
            same_concept_as: concept(object).map_or(Vec::new(), |c| {
                c.object_labels.iter().filter(|o| *o != name).cloned().collect()
            }),
            attribute_concept: attribute,
            served_by_its_ae: concept(attribute).map_or(Vec::new(), |c| c.extent.clone()),
        }
    }
}

/// What has been measured so far in this run.
#[derive(Default)]
pub struct Cache {
    cross: RefCell<Option<Rc<CrossTable>>>,
    analysis: RefCell<Option<Rc<Analysis>>>,
    nmi: RefCell<Option<Rc<Vec<AeNmi>>>>,
    spreads: RefCell<Option<Rc<Spreads>>>,
    nmi_values: RefCell<Option<Rc<Vec<AeNmiValues>>>>,
    nmi_resampled: RefCell<Option<Rc<Vec<Vec<AeNmi>>>>>,
    pub(super) resamples: RefCell<Option<Rc<super::uncertainty::Resamples>>>,
}

/// How much the images of the nMI pass vary (`degenerate::PixelSpread`): the test images and
/// each AE's reconstructions of them, in Figure 9's order.
#[derive(Debug, Clone)]
pub struct Spreads {
    pub originals: PixelSpread,
    pub autoencoders: Vec<(String, PixelSpread)>,
}

/// Figure 9's uncertainty: the 95 % bootstrap intervals of one AE's nMI means, intra over the
/// test images (resampled with the same draws as the Tables' pass when it has as many images)
/// and inter over the pairs of reconstructions; the same draws for every AE, so they are
/// paired. None where there is nothing to resample.
#[derive(Debug, Clone)]
pub struct NmiIntervals {
    pub intra: Option<Interval>,
    pub inter: Option<Interval>,
}

/// One AE's nMI values, kept for the bootstrap: intra per test image, inter per pair of
/// reconstructions, in the order of [`Pipeline::nmi`]'s rows.
pub struct AeNmiValues {
    pub intra: Vec<f64>,
    pub inter: Vec<f64>,
}

/// `cache`'s value, computed by `make` the first time.
pub(super) fn once<T>(
    cache: &RefCell<Option<Rc<T>>>,
    make: impl FnOnce() -> anyhow::Result<T>,
) -> anyhow::Result<Rc<T>> {
    if let Some(value) = cache.borrow().as_ref() {
        return Ok(value.clone());
    }
    let value = Rc::new(make()?);
    *cache.borrow_mut() = Some(value.clone());
    Ok(value)
}

impl Pipeline {
    /// The classifiers' names in the order of every table: the paper's letters, then users'
    /// classifiers in the order given.
    pub fn classifier_names(&self) -> Vec<String> {
        let builtin = Family::ALL.iter().map(|f| f.letter().to_string());
        builtin.chain(self.users().iter().map(|u| u.spec.name.clone())).collect()
    }

    /// Table 2: top-1 of classifier j (columns) on the reconstructions of A_i (rows).
    pub fn cross_table(&self) -> anyhow::Result<Rc<CrossTable>> {
        once(&self.measures.cross, || {
            Ok(super::uncertainty::cross_of(&self.evaluation()?, &self.classifier_names())?)
        })
    }

    /// RRC, lattices and stable intervals of Table 2 (Figures 6 and 7). With users'
    /// classifiers the notes on the paper's text (§3.4, about L, A, V, I, R) are those of the
    /// paper's five alone: the text says nothing of a sixth.
    pub fn analysis(&self) -> anyhow::Result<Rc<Analysis>> {
        once(&self.measures.analysis, || {
            let cross = self.cross_table()?;
            let mut analysis = analyze(&cross, &DEFAULT_THRESHOLDS)?;
            if !self.users().is_empty() {
                let five = Family::ALL.len();
                let rows = cross.rows()[..five].iter().map(|row| row[..five].to_vec()).collect();
                let names = cross.names()[..five].to_vec();
                let paper_five = CrossTable::new(names, rows, Path::new("table2_cross.json"))?;
                analysis.notes = analyze(&paper_five, &DEFAULT_THRESHOLDS)?.notes;
            }
            Ok(analysis)
        })
    }

    /// Where each user's classifier sits among the others ("where NAME sits" in the report).
    pub fn placements(&self) -> anyhow::Result<Vec<Placement>> {
        let (cross, analysis) = (self.cross_table()?, self.analysis()?);
        let clean = self.evaluation()?;
        let lattice = analysis.lattices.iter().find(|l| l.threshold == SHARED_SIGNAL_RRC);
        let names = cross.names();
        let mut placements = Vec::new();
        for user in self.users() {
            let name = &user.spec.name;
            let k = names.iter().position(|n| n == name).context("a user's column in Table 2")?;
            let rrc: Vec<RrcBothWays> = (0..names.len())
                .filter(|&j| j != k)
                .map(|j| RrcBothWays {
                    other: names[j].clone(),
                    other_on_yours: cross.rrc(k, j),
                    yours_on_other: cross.rrc(j, k),
                })
                .collect();
            let shares_signal_with = rrc
                .iter()
                .filter(|r| Family::parse(&r.other).is_some() && r.shares_signal())
                .map(|r| r.other.clone())
                .collect();
            placements.push(Placement {
                name: name.clone(),
                file: user.spec.file.display().to_string(),
                sha256: user.sha256.clone(),
                alone: clean.top1_on(Seen::Original, name),
                diagonal: cross.accuracy(k, k),
                shares_signal_with,
                rrc,
                lattice: lattice.map(|l| LatticePlace::of(l, name)),
            });
        }
        Ok(placements)
    }

    /// The AEs in Figure 9's order: A_S, then one per classifier.
    pub fn autoencoders(&self) -> anyhow::Result<Vec<(String, Rc<AutoEncoder>)>> {
        let mut aes = vec![(Seen::Pretrained.view_name(), self.pretrained()?)];
        for name in self.classifier_names() {
            aes.push((Seen::FinetunedFor(&name).view_name(), self.finetuned_named(&name)?));
        }
        Ok(aes)
    }

    /// The pixel spreads of the nMI pass's images (made with Figure 9's numbers).
    pub fn spreads(&self) -> anyhow::Result<Rc<Spreads>> {
        self.nmi()?;
        let spreads = self.measures.spreads.borrow();
        Ok(spreads.as_ref().expect("the nMI pass measures the spreads").clone())
    }

    /// Figure 9's rows on each bootstrap resample, in resample order: the means recomputed on
    /// the resampled images (intra: the draws of the Tables' pass when it reads as many
    /// images, so nMI and accuracies move together) and pairs (inter); the standard
    /// deviations as measured.
    pub fn nmi_resampled(&self) -> anyhow::Result<Rc<Vec<Vec<AeNmi>>>> {
        let rows = self.nmi()?;
        once(&self.measures.nmi_resampled, || {
            let kept = self.measures.nmi_values.borrow().clone();
            let kept = kept.expect("the nMI pass keeps its values");
            // The resamples run on rayon's threads: plain borrows, not the Rc.
            let values: &[AeNmiValues] = &kept;
            let count = self.resample_count();
            let means = |unit: &str, pick: fn(&AeNmiValues) -> &[f64]| {
                let len = values.first().map_or(0, |ae| pick(ae).len());
                let seed = self.bootstrap_seed_of(unit, len as u64);
                bootstrap::bootstrap(len, count, seed, |weights| {
                    values.iter().map(|ae| weighted_mean(pick(ae), weights)).collect::<Vec<_>>()
                })
            };
            let (intra, inter) = (means("images", |ae| &ae.intra), means("pairs", |ae| &ae.inter));
            Ok((intra.into_iter().zip(inter))
                .map(|(intra, inter)| {
                    (rows.iter().zip(intra).zip(inter))
                        .map(|((row, intra), inter)| AeNmi {
                            ae: row.ae.clone(),
                            intra: NmiSummary { mean: intra, ..row.intra },
                            inter: NmiSummary { mean: inter, ..row.inter },
                        })
                        .collect()
                })
                .collect())
        })
    }

    /// The 95 % bootstrap intervals of Figure 9's nMI means, from [`Pipeline::nmi_resampled`],
    /// in the order of [`Pipeline::nmi`]'s rows.
    pub fn nmi_intervals(&self) -> anyhow::Result<Vec<NmiIntervals>> {
        let (rows, resampled) = (self.nmi()?, self.nmi_resampled()?);
        let interval = |k: usize, mean: fn(&AeNmi) -> f64| {
            percentile_interval(&resampled.iter().map(|r| mean(&r[k])).collect::<Vec<_>>())
        };
        Ok((0..rows.len())
            .map(|k| NmiIntervals {
                intra: interval(k, |r| r.intra.mean),
                inter: interval(k, |r| r.inter.mean),
            })
            .collect())
    }

    /// Degenerate inputs of the claims (`dnlts::metrics::degenerate`): classifiers at chance
    /// on the clean test images, AEs whose reconstructions are constant or read at chance by
    /// their own classifier.
    pub fn degenerate(&self) -> anyhow::Result<Vec<Finding>> {
        let clean = self.evaluation()?;
        let accuracies = (self.classifier_names().into_iter())
            .map(|c| {
                let own = clean.top1_on(Seen::FinetunedFor(&c), &c);
                (c.clone(), clean.top1_on(Seen::Original, &c), own)
            })
            .collect();
        let observed = Observed {
            images: clean.images,
            classes: self.classes()?,
            accuracies,
            spreads: self.spreads()?.autoencoders.clone(),
        };
        Ok(degenerate::find(&observed))
    }

    /// The number of classes of the profile's images (chance is 1 in it).
    pub fn classes(&self) -> anyhow::Result<u64> {
        Ok(self.source()?.classes().max(1) as u64)
    }

    /// Figure 9: intra nMI (original vs reconstruction, every test image) and inter nMI
    /// (reconstructions of the consecutive pairs (0,1), (2,3), …) of every AE. The images
    /// stream a batch at a time, so memory does not grow with their number; the sources put
    /// their test images in an order that mixes the classes (ImageNet's is drawn from the
    /// seed), so consecutive pairs are pairs across classes. The same pass measures how much
    /// the images vary ([`Pipeline::spreads`]), which tells a constant AE.
    pub fn nmi(&self) -> anyhow::Result<Rc<Vec<AeNmi>>> {
        once(&self.measures.nmi, || {
            let source = self.source()?;
            let n = self.profile.eval_images.min(source.len(Split::Test)) & !1;
            let size = source.image_size() as usize;
            let shape = ImageShape { height: size, width: size, channels: 3 };
            let aes = self.autoencoders()?;
            let mut values = vec![(Vec::new(), Vec::new()); aes.len()];
            let mut spreads = vec![SpreadAccumulator::default(); aes.len()];
            let mut original_spread = SpreadAccumulator::default();
            // An even batch keeps every pair inside one batch.
            let batch = (self.profile.eval_batch_size as u64 & !1).max(2);
            let mut progress = Progress::new("nMI", n);
            for start in (0..n).step_by(batch as usize) {
                let (images, _) =
                    source.labelled(Split::Test, &range(start, (start + batch).min(n)));
                let originals = tensor_to_images(&images);
                let originals: Vec<&[u8]> =
                    originals.iter().map(|i| i.as_raw().as_slice()).collect();
                for image in &originals {
                    original_spread.add(image)?;
                }
                let images = images.to_device(self.device);
                for (((_, ae), (intra, inter)), spread) in
                    aes.iter().zip(values.iter_mut()).zip(spreads.iter_mut())
                {
                    let reconstructed = tch::no_grad(|| ae.forward(&images, AeMode::Eval));
                    let reconstructed: Vec<Vec<u8>> = tensor_to_images(&reconstructed)
                        .into_iter()
                        .map(|i| i.into_raw())
                        .collect();
                    let reconstructions: Vec<&[u8]> =
                        reconstructed.iter().map(Vec::as_slice).collect();
                    for image in &reconstructions {
                        spread.add(image)?;
                    }
                    intra.extend(intra_values(&originals, &reconstructions, shape, NMI_BINS)?);
                    inter.extend(inter_values(&reconstructions, shape, NMI_BINS)?);
                }
                progress.advance((start + batch).min(n));
            }
            progress.finish();
            let autoencoders =
                aes.iter().zip(&spreads).map(|((name, _), s)| (name.clone(), s.spread())).collect();
            let spreads = Spreads { originals: original_spread.spread(), autoencoders };
            *self.measures.spreads.borrow_mut() = Some(Rc::new(spreads));
            let rows = aes.into_iter().zip(&values).map(|((name, _), (intra, inter))| {
                Ok(AeNmi {
                    ae: name,
                    intra: NmiSummary::of(intra, "original/reconstruction pairs", "at least 1")?,
                    inter: NmiSummary::of(inter, "reconstructions", "at least 2")?,
                })
            });
            let rows = rows.collect::<anyhow::Result<Vec<_>>>()?;
            // Kept, not copied, for the bootstrap of the means.
            let kept = values.into_iter().map(|(intra, inter)| AeNmiValues { intra, inter });
            *self.measures.nmi_values.borrow_mut() = Some(Rc::new(kept.collect()));
            Ok(rows)
        })
    }
}
