//! Measures several targets read, each computed once per run from the stages: Table 2 as a
//! cross table and its analysis (Figures 6 and 7, claims), the noise sweep (Figure 4, claims)
//! and the nMI of every AE (Figure 9, claims).

use std::cell::RefCell;
use std::rc::Rc;

use dnlts::data::source::{range, tensor_to_images, Split};
use dnlts::eval::{AccuracyTable, Seen};
use dnlts::metrics::analysis::{analyze, Analysis, DEFAULT_THRESHOLDS};
use dnlts::metrics::nmi::{inter_nmi, intra_nmi, AeNmi, ImageShape};
use dnlts::metrics::rrc::CrossTable;
use dnlts::models::segnet::{AeMode, AutoEncoder};
use dnlts::models::Family;

use super::Pipeline;

/// 8-bit sub-pixel values, 256 levels: the paper's nMI labels.
const NMI_BINS: usize = 256;

/// Figure 4's noise strengths s = 0, 0.1, …, 1.0.
pub fn noise_strengths() -> Vec<f64> {
    (0..=10).map(|k| k as f64 / 10.0).collect()
}

/// What has been measured so far in this run.
#[derive(Default)]
pub struct Cache {
    cross: RefCell<Option<Rc<CrossTable>>>,
    analysis: RefCell<Option<Rc<Analysis>>>,
    nmi: RefCell<Option<Rc<Vec<AeNmi>>>>,
}

/// `cache`'s value, computed by `make` the first time.
fn once<T>(
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
    /// The classifiers' names (letters), in the order of every table.
    pub fn classifier_names(&self) -> Vec<String> {
        Family::ALL.iter().map(|f| f.letter().to_string()).collect()
    }

    /// Table 2: top-1 of classifier j (columns) on the reconstructions of A_i (rows).
    pub fn cross_table(&self) -> anyhow::Result<Rc<CrossTable>> {
        once(&self.measures.cross, || {
            let table = self.evaluation(0.0, true)?;
            let names = self.classifier_names();
            let accuracy = names
                .iter()
                .map(|i| names.iter().map(|j| table.top1_on(Seen::FinetunedFor(i), j)).collect())
                .collect();
            Ok(CrossTable::new(names, accuracy, std::path::Path::new("table2_cross.json"))?)
        })
    }

    /// RRC, lattices and stable intervals of Table 2 (Figures 6 and 7).
    pub fn analysis(&self) -> anyhow::Result<Rc<Analysis>> {
        once(&self.measures.analysis, || Ok(analyze(&*self.cross_table()?, &DEFAULT_THRESHOLDS)?))
    }

    /// The evaluation at every strength of Figure 4 (C on x, on A_S, on its own A_C).
    pub fn noise_sweep(&self) -> anyhow::Result<Vec<AccuracyTable>> {
        noise_strengths().into_iter().map(|s| self.evaluation(s, false)).collect()
    }

    /// The AEs in Figure 9's order: A_S, then one per classifier.
    pub fn autoencoders(&self) -> anyhow::Result<Vec<(String, Rc<AutoEncoder>)>> {
        let mut aes = vec![(Seen::Pretrained.view_name(), self.pretrained()?)];
        for family in Family::ALL {
            aes.push((Seen::FinetunedFor(family.letter()).view_name(), self.finetuned(family)?));
        }
        Ok(aes)
    }

    /// Figure 9: intra nMI (original vs reconstruction, every test image) and inter nMI
    /// (reconstructions of the consecutive pairs (0,1), (2,3), …) of every AE.
    pub fn nmi(&self) -> anyhow::Result<Rc<Vec<AeNmi>>> {
        once(&self.measures.nmi, || {
            let source = self.source()?;
            let n = self.profile.eval_images.min(source.len(Split::Test)) & !1;
            let (images, _) = source.labelled(Split::Test, &range(0, n));
            let originals = tensor_to_images(&images);
            let originals: Vec<&[u8]> = originals.iter().map(|i| i.as_raw().as_slice()).collect();
            let size = source.image_size() as usize;
            let shape = ImageShape { height: size, width: size, channels: 3 };
            let mut rows = Vec::new();
            for (name, ae) in self.autoencoders()? {
                let reconstructed = self.reconstruct_all(&ae, &images);
                let reconstructions: Vec<&[u8]> = reconstructed.iter().map(Vec::as_slice).collect();
                rows.push(AeNmi {
                    ae: name,
                    intra: intra_nmi(&originals, &reconstructions, shape, NMI_BINS)?,
                    inter: inter_nmi(&reconstructions, shape, NMI_BINS)?,
                });
            }
            Ok(rows)
        })
    }

    /// `ae`'s 8-bit reconstructions of `images` (interleaved RGB), in batches of the
    /// profile's size.
    fn reconstruct_all(&self, ae: &AutoEncoder, images: &tch::Tensor) -> Vec<Vec<u8>> {
        let (n, batch) = (images.size()[0], self.profile.batch_size as i64);
        (0..n)
            .step_by(batch as usize)
            .flat_map(|start| {
                let chunk = images.narrow(0, start, batch.min(n - start)).to_device(self.device);
                let reconstructed = tch::no_grad(|| ae.forward(&chunk, AeMode::Eval));
                tensor_to_images(&reconstructed).into_iter().map(|image| image.into_raw())
            })
            .collect()
    }
}
