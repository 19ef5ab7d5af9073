//! Figure 2: AE pre-training curves — mean training MSE since the previous check (an unbiased
//! estimate: no image repeats) and the held-out MSE, against images seen; with
//! `--fig2-imagenet-epochs N` also the paper's second regime, an AE trained on ImageNet for N
//! epochs, held out on ImageNet val and on YFCC100m images.

use super::{Context, Outcome};
use crate::stages::ImagenetRegime;
use dnlts::report::curves::{line_chart_svg, Axes, Series};
use dnlts::report::plot::{write_atomically, BLUE, GREEN, ORANGE};
use dnlts::train::pretrain::CheckRecord;

pub fn run(context: &Context) -> anyhow::Result<Outcome> {
    let log = context.pipeline.pretrain_log()?;
    let points = |f: fn(&dnlts::train::pretrain::CheckRecord) -> f64| {
        log.iter().map(|c| (c.images as f64, f(c))).collect()
    };
    let series = [
        Series {
            name: "train (stream)".into(),
            colour: BLUE,
            dashed: false,
            points: points(|c| c.train_loss),
        },
        Series {
            name: "held-out".into(),
            colour: ORANGE,
            dashed: true,
            points: points(|c| c.heldout_loss),
        },
    ];
    let path = context.out_dir.join("figures/fig2_pretraining.svg");
    std::fs::create_dir_all(path.parent().expect("has a parent"))?;
    let axes = Axes { caption: "Figure 2: SegNet pre-training", x: "images seen", y: "MSE" };
    write_atomically(&path, &line_chart_svg(&path, &axes, &series)?)?;
    let (first, last) = (log.first(), log.last());
    let mut summary = match (first, last) {
        (Some(a), Some(b)) => format!(
            "held-out MSE {:.4} → {:.4} over {} images, final lr {:.1e}",
            a.heldout_loss, b.heldout_loss, b.images, b.lr
        ),
        _ => "no checks recorded".into(),
    };
    let mut result = serde_json::json!({ "checks": log });
    let mut files = vec![path];
    if let Some(regime) = context.pipeline.imagenet_pretrain_log()? {
        files.push(imagenet_regime_chart(context, &regime)?);
        if let Some(last) = regime.checks.last() {
            summary.push_str(&format!(
                "; on ImageNet for {} epochs: held-out MSE {:.4} (ImageNet val), {:.4} (YFCC100m)",
                regime.epochs,
                last.heldout_loss,
                last.second_heldout_loss.unwrap_or(f64::NAN)
            ));
        }
        result["imagenet_regime"] = serde_json::to_value(&regime)?;
    }
    Ok(Outcome { result, files, summary })
}

/// The second regime's curves against epochs: training MSE on ImageNet, held-out MSE on
/// ImageNet val and on YFCC100m images.
fn imagenet_regime_chart(
    context: &Context,
    regime: &ImagenetRegime,
) -> anyhow::Result<std::path::PathBuf> {
    let epoch = |c: &CheckRecord| c.images as f64 / regime.train_images.max(1) as f64;
    let points = |f: &dyn Fn(&CheckRecord) -> Option<f64>| {
        regime.checks.iter().filter_map(|c| f(c).map(|y| (epoch(c), y))).collect()
    };
    let series = [
        Series {
            name: "train (ImageNet)".into(),
            colour: BLUE,
            dashed: false,
            points: points(&|c| Some(c.train_loss)),
        },
        Series {
            name: "held-out ImageNet val".into(),
            colour: ORANGE,
            dashed: true,
            points: points(&|c| Some(c.heldout_loss)),
        },
        Series {
            name: "held-out YFCC100m".into(),
            colour: GREEN,
            dashed: true,
            points: points(&|c| c.second_heldout_loss),
        },
    ];
    let path = context.out_dir.join("figures/fig2_imagenet.svg");
    let axes = Axes {
        caption: "Figure 2 (second regime): SegNet pre-trained on ImageNet",
        x: "epochs",
        y: "MSE",
    };
    write_atomically(&path, &line_chart_svg(&path, &axes, &series)?)?;
    Ok(path)
}
