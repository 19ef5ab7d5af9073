//! Figure 9: normalized mutual information per AE — intra (original vs reconstruction, over
//! every test image) and inter (reconstructions of consecutive pairs (0,1), (2,3), …).

use serde::Serialize;

use super::{Context, Outcome};
use dnlts::data::source::{range, tensor_to_images, Split};
use dnlts::metrics::nmi::{inter_nmi, intra_nmi, ImageShape, NmiSummary};
use dnlts::models::segnet::AeMode;
use dnlts::models::Family;

/// 8-bit sub-pixel values, 256 levels: the paper's nMI labels.
const BINS: usize = 256;

#[derive(Serialize)]
pub struct AeNmi {
    pub ae: String,
    pub intra: NmiSummary,
    pub inter: NmiSummary,
}

pub fn measure(context: &Context) -> anyhow::Result<Vec<AeNmi>> {
    let pipeline = context.pipeline;
    let source = pipeline.source()?;
    let n = context.profile.eval_images.min(source.len(Split::Test)) & !1;
    let (images, _) = source.labelled(Split::Test, &range(0, n));
    let originals = tensor_to_images(&images);
    let size = source.image_size() as usize;
    let shape = ImageShape { height: size, width: size, channels: 3 };
    let mut aes = vec![("A_S".to_string(), pipeline.pretrained()?)];
    for family in Family::ALL {
        aes.push((format!("A_{}", family.letter()), pipeline.finetuned(family)?));
    }
    let mut rows = Vec::new();
    for (name, ae) in aes {
        let batch = context.profile.batch_size as i64;
        let reconstructed: Vec<_> = (0..n as i64)
            .step_by(batch as usize)
            .flat_map(|start| {
                let chunk =
                    images.narrow(0, start, batch.min(n as i64 - start)).to_device(pipeline.device);
                tensor_to_images(&tch::no_grad(|| ae.forward(&chunk, AeMode::Eval)))
            })
            .collect();
        let originals: Vec<&[u8]> = originals.iter().map(|i| i.as_raw().as_slice()).collect();
        let reconstructions: Vec<&[u8]> =
            reconstructed.iter().map(|i| i.as_raw().as_slice()).collect();
        rows.push(AeNmi {
            ae: name,
            intra: intra_nmi(&originals, &reconstructions, shape, BINS)?,
            inter: inter_nmi(&reconstructions, shape, BINS)?,
        });
    }
    Ok(rows)
}

pub fn run(context: &Context) -> anyhow::Result<Outcome> {
    let rows = measure(context)?;
    let mut markdown = String::from(
        "## Figure 9 — nMI per AE (mean ± std)\n\n| AE | intra | inter |\n|---|---:|---:|\n",
    );
    for row in &rows {
        markdown += &format!(
            "| {} | {:.4} ± {:.4} | {:.4} ± {:.4} |\n",
            row.ae, row.intra.mean, row.intra.std, row.inter.mean, row.inter.std
        );
    }
    let files = vec![super::write_markdown(context, "fig9.md", &markdown)?];
    let mut order: Vec<&AeNmi> = rows.iter().collect();
    order.sort_by(|a, b| b.intra.mean.total_cmp(&a.intra.mean));
    let summary = format!(
        "intra-nMI order: {}",
        order.iter().map(|r| r.ae.as_str()).collect::<Vec<_>>().join(" > ")
    );
    Ok(Outcome { result: serde_json::to_value(&rows)?, files, summary })
}
