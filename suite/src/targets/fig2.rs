//! Figure 2: AE pre-training curves — mean training MSE since the previous check (an unbiased
//! estimate: no image repeats) and the held-out MSE, against images seen.

use super::{Context, Outcome};
use dnlts::report::curves::{line_chart_svg, Axes, Series};
use dnlts::report::plot::{write_atomically, BLUE, ORANGE};

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
    let summary = match (first, last) {
        (Some(a), Some(b)) => format!(
            "held-out MSE {:.4} → {:.4} over {} images, final lr {:.1e}",
            a.heldout_loss, b.heldout_loss, b.images, b.lr
        ),
        _ => "no checks recorded".into(),
    };
    Ok(Outcome { result: serde_json::json!({ "checks": log }), files: vec![path], summary })
}
