//! Figures 3 and 5: what the AEs do to images. Figure 3 shows one test image and its
//! reconstruction by A_S and by every fine-tuned AE, with their CIE L*a*b* histograms; Figure 5
//! shows the same image under noise U(-s, s) and its reconstructions by A_S and A_V.

use super::{Context, Outcome};
use dnlts::data::preview::save_png;
use dnlts::data::source::{tensor_to_images, Split};
use dnlts::eval::add_uniform_noise;
use dnlts::metrics::lab::lab_histograms;
use dnlts::models::segnet::{AeMode, AutoEncoder};
use dnlts::models::Family;
use dnlts::report::grid::{labelled_grid, zoom};
use tch::Tensor;

/// The test image both figures show.
const SAMPLE: u64 = 0;
const ENLARGE: u32 = 6;
const LAB_BINS: usize = 64;

fn sample(context: &Context) -> anyhow::Result<Tensor> {
    let source = context.pipeline.source()?;
    Ok(source.labelled(Split::Test, &[SAMPLE]).0.to_device(context.pipeline.device))
}

fn reconstruct(ae: &AutoEncoder, images: &Tensor) -> Tensor {
    tch::no_grad(|| ae.forward(images, AeMode::Eval))
}

pub fn run_fig3(context: &Context) -> anyhow::Result<Outcome> {
    let pipeline = context.pipeline;
    let original = sample(context)?;
    let mut named = vec![
        ("x".to_string(), original.shallow_clone()),
        ("A_S".to_string(), reconstruct(&*pipeline.pretrained()?, &original)),
    ];
    for name in pipeline.classifier_names() {
        named.push((
            format!("A_{name}"),
            reconstruct(&*pipeline.finetuned_named(&name)?, &original),
        ));
    }
    let images: Vec<_> = named.iter().flat_map(|(_, t)| tensor_to_images(t)).collect();
    // The centre quarter of each image, twice as large again: the patterns the paper zooms in on.
    let zoomed: Vec<_> = images
        .iter()
        .map(|image| {
            let (w, h) = image.dimensions();
            zoom(image, w / 4, h / 4, w / 2, h / 2, 2)
        })
        .collect();
    let dir = context.out_dir.join("figures");
    std::fs::create_dir_all(&dir)?;
    let grid_path = dir.join("fig3_reconstructions.png");
    let columns: Vec<&str> = named.iter().map(|(name, _)| name.as_str()).collect();
    let grid = labelled_grid(&[images.clone(), zoomed], &["", "centre x2"], &columns, ENLARGE, 4);
    let (width, _) = images.first().map_or((0, 0), |image| image.dimensions());
    save_png(&grid, &grid_path)?;
    let histograms: Vec<_> = named
        .iter()
        .zip(&images)
        .map(|((name, _), image)| Ok((name.clone(), lab_histograms(image.as_raw(), LAB_BINS)?)))
        .collect::<anyhow::Result<_>>()?;
    let histogram_path = dnlts::report::lab_hist::write_lab_histograms(
        &histograms,
        &dir.join("fig3_lab_histograms.svg"),
    )?;
    let order: Vec<&str> = named.iter().map(|(n, _)| n.as_str()).collect();
    let summary = format!("test image {SAMPLE}: {} (left to right)", order.join(", "));
    let result =
        serde_json::json!({ "sample": SAMPLE, "columns": order, "lab_histograms": histograms });
    let caption = format!(
        "*Figure 3.* Test image {SAMPLE} of profile `{}` (x, {width}×{width} pixels, shown \
         {ENLARGE}× larger) and its reconstructions by A_S and by each AE A_C fine-tuned on \
         classifier C, left to right: {}. Second row (\"centre x2\"): the centre quarter of \
         each picture ({}×{} pixels) enlarged twice more, where the patterns the AEs add (the \
         paper's checkerboards) are easiest to see. Below: the CIE L\\*a\\*b\\* histograms of each \
         picture ({LAB_BINS} bins per channel, as fractions of its pixels), one row per \
         picture, one column per channel; a channel has one y scale for every row, so each \
         reconstruction compares with the original's above it (channels keep their own: a\\* \
         and b\\* peak near 0 far higher than any L\\* bin).\n",
        context.profile.name,
        order.join(", "),
        width / 2,
        width / 2
    );
    let markdown = super::write_markdown(context, "fig3.md", &caption)?;
    Ok(Outcome { result, files: vec![grid_path, histogram_path, markdown], summary })
}

pub fn run_fig5(context: &Context) -> anyhow::Result<Outcome> {
    let pipeline = context.pipeline;
    let original = sample(context)?;
    let strengths = [0.0, 0.1, 0.2, 0.3, 0.5, 0.8];
    let noise_seed = pipeline.noise_seed();
    let noisy: Vec<Tensor> =
        strengths.iter().map(|&s| add_uniform_noise(&original, &[SAMPLE], s, noise_seed)).collect();
    let noisy = Tensor::cat(&noisy, 0);
    let rows = vec![
        tensor_to_images(&noisy),
        tensor_to_images(&reconstruct(&*pipeline.pretrained()?, &noisy)),
        tensor_to_images(&reconstruct(&*pipeline.finetuned(Family::Vgg16Bn)?, &noisy)),
    ];
    let path = context.out_dir.join("figures/fig5_noise.png");
    std::fs::create_dir_all(path.parent().expect("has a parent"))?;
    let columns: Vec<String> = strengths.iter().map(|s| format!("s={s}")).collect();
    let columns: Vec<&str> = columns.iter().map(String::as_str).collect();
    let grid = labelled_grid(&rows, &["x+noise", "A_S", "A_V"], &columns, ENLARGE, 4);
    save_png(&grid, &path)?;
    let summary = format!("rows: input, A_S, A_V; columns: s = {strengths:?}");
    let caption = format!(
        "*Figure 5.* Test image {SAMPLE} of profile `{}` with additive uniform noise U(-s, s) \
         (images in [0, 1], clipped) for s = {} (columns). Rows: the noisy input (x+noise), its \
         reconstruction by A_S and by A_V (the AE fine-tuned on VGG-16), each shown {ENLARGE}× \
         larger.\n",
        context.profile.name,
        strengths.map(|s| s.to_string()).join(", ")
    );
    let markdown = super::write_markdown(context, "fig5.md", &caption)?;
    Ok(Outcome {
        result: serde_json::json!({ "sample": SAMPLE, "strengths": strengths, "rows": ["x", "A_S", "A_V"] }),
        files: vec![path, markdown],
        summary,
    })
}
