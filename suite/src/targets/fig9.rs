//! Figure 9: normalized mutual information per AE — intra (original vs reconstruction, over
//! every test image) and inter (reconstructions of consecutive pairs (0,1), (2,3), …) — with
//! how much each AE's reconstructions vary, which tells a constant AE.

use super::{Context, Outcome};
use dnlts::metrics::bootstrap::Interval;
use dnlts::metrics::degenerate::{PixelSpread, FLAT_LEVELS};

fn levels(spread: &PixelSpread) -> String {
    format!("{:.1} | {:.1}", spread.across_images, spread.within_image)
}

fn interval(interval: Option<Interval>) -> String {
    interval.map_or("–".into(), |i| format!("[{:.4}, {:.4}]", i.low, i.high))
}

pub fn run(context: &Context) -> anyhow::Result<Outcome> {
    let rows = context.pipeline.nmi()?;
    let spreads = context.pipeline.spreads()?;
    let intervals = context.pipeline.nmi_intervals()?;
    let resamples = context.pipeline.resample_count();
    let mut markdown = format!(
        "## Figure 9 — nMI per AE (mean ± std)\n\n\
         Pixel spread: the standard deviation of the 8-bit values (of 255 levels) of the \
         images, across images (the same sub-pixel, image to image) and within an image; below \
         {FLAT_LEVELS} level the AE counts as constant (†).\n\n\
         | AE | intra | 95 % interval | inter | 95 % interval | spread across images | \
         spread within an image |\n\
         |---|---:|---:|---:|---:|---:|---:|\n| x (the test images) | | | | | {} |\n",
        levels(&spreads.originals)
    );
    let mut constant = Vec::new();
    for (row, bands) in rows.iter().zip(&intervals) {
        let spread = spreads.autoencoders.iter().find(|(ae, _)| *ae == row.ae).map(|(_, s)| s);
        let flat = spread.and_then(PixelSpread::flat);
        if flat.is_some() {
            constant.push(row.ae.clone());
        }
        markdown += &format!(
            "| {}{} | {:.4} ± {:.4} | {} | {:.4} ± {:.4} | {} | {} |\n",
            row.ae,
            if flat.is_some() { " †" } else { "" },
            row.intra.mean,
            row.intra.std,
            interval(bands.intra),
            row.inter.mean,
            row.inter.std,
            interval(bands.inter),
            spread.map_or("– | –".to_string(), levels)
        );
    }
    let images = rows.first().map_or(0, |r| r.intra.count);
    markdown += &format!(
        "\n*Figure 9.* For each AE, the normalized mutual information nMI = I(X; Y) / \
         √(H(X) H(Y)) of the 8-bit sub-pixel values (256 levels) of two images: intra (dark), \
         between each of {images} test images x and its reconstruction A(x), how much of the \
         input the AE keeps; inter (light), between the reconstructions of two different test \
         images (consecutive pairs), how alike it makes different inputs. Bars are means, \
         whiskers ± 1 standard deviation, on a fixed 0–1 axis. The table's intervals are the \
         95 % percentile intervals of the means over {resamples} bootstrap resamples of the \
         test images (of the pairs, for inter), the same draws for every AE.{}\n",
        if constant.is_empty() {
            String::new()
        } else {
            format!(
                " **Constant reconstructions: {}** — a constant image has nMI 0 with any \
                 input and 1 with another constant image, so these bars measure the collapse, \
                 not what the AE keeps.",
                constant.join(", ")
            )
        }
    );
    let chart = context.out_dir.join("figures/fig9_nmi.svg");
    std::fs::create_dir_all(chart.parent().expect("has a parent"))?;
    let bars: Vec<_> = rows.iter().map(|r| (r.ae.clone(), r.intra, r.inter)).collect();
    let chart = dnlts::report::nmi_chart::write_nmi_chart(&bars, &chart)?;
    let files = vec![super::write_markdown(context, "fig9.md", &markdown)?, chart];
    let mut order: Vec<_> = rows.iter().collect();
    order.sort_by(|a, b| b.intra.mean.total_cmp(&a.intra.mean));
    let summary = format!(
        "intra-nMI order: {}",
        order.iter().map(|r| r.ae.as_str()).collect::<Vec<_>>().join(" > ")
    );
    // Each row as before, with its intervals beside (`intra_interval`, `inter_interval`).
    let mut result = serde_json::to_value(&*rows)?;
    for (row, bands) in result.as_array_mut().expect("a list of rows").iter_mut().zip(&intervals) {
        let object = row.as_object_mut().expect("a row is an object");
        object.insert("intra_interval".into(), serde_json::to_value(bands.intra)?);
        object.insert("inter_interval".into(), serde_json::to_value(bands.inter)?);
    }
    Ok(Outcome { result, files, summary })
}
