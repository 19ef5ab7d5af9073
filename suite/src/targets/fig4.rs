//! Figure 4: top-1 under additive uniform noise U(-s, s), s = 0, 0.1, …, 1.0. Left: each
//! classifier on the noisy input (dashed) and on A_S's reconstruction of it (solid). Right:
//! on the input (dashed) and on its own fine-tuned AE's reconstruction (solid).

use super::{Context, Outcome};
use dnlts::models::Family;
use dnlts::report::curves::{line_chart_svg, Axes, Series};
use dnlts::report::plot::{classifier_colour, write_atomically};

/// Which evaluation row classifier `c` reads.
type ViewOf = fn(usize) -> usize;

pub fn strengths() -> Vec<f64> {
    (0..=10).map(|k| k as f64 / 10.0).collect()
}

pub fn run(context: &Context) -> anyhow::Result<Outcome> {
    let tables: Vec<_> = strengths()
        .into_iter()
        .map(|s| context.pipeline.evaluation(s, false))
        .collect::<Result<_, _>>()?;
    let curve = |view: ViewOf, c: usize| -> Vec<(f64, f64)> {
        tables.iter().map(|t| (t.noise, t.top1[view(c)][c])).collect()
    };
    // Rows of the evaluation: 0 the input, 1 A_S, 2 + c classifier c's own AE.
    let input: ViewOf = |_| 0;
    let pretrained: ViewOf = |_| 1;
    let own: ViewOf = |c| c + 2;
    let mut files = Vec::new();
    let mut result = serde_json::Map::new();
    for (panel, title, view) in [
        ("left", "Figure 4 (left): C (dashed) and C∘A_S (solid)", pretrained),
        ("right", "Figure 4 (right): C (dashed) and C∘A_C (solid)", own),
    ] {
        let mut series = Vec::new();
        for (c, family) in Family::ALL.iter().enumerate() {
            let colour = classifier_colour(family.letter(), c);
            let letter = family.letter();
            let with_ae = if panel == "left" {
                format!("{letter}∘A_S")
            } else {
                format!("{letter}∘A_{letter}")
            };
            series.push(Series {
                name: letter.into(),
                colour,
                dashed: true,
                points: curve(input, c),
            });
            series.push(Series { name: with_ae, colour, dashed: false, points: curve(view, c) });
        }
        let path = context.out_dir.join(format!("figures/fig4_{panel}.svg"));
        std::fs::create_dir_all(path.parent().expect("has a parent"))?;
        let axes = Axes { caption: title, x: "noise strength s", y: "top-1" };
        files.push(write_atomically(&path, &line_chart_svg(&path, &axes, &series)?)?);
        result.insert(
            panel.into(),
            serde_json::to_value(series.iter().map(|s| (&s.name, &s.points)).collect::<Vec<_>>())?,
        );
    }
    let noisy = tables.iter().find(|t| (t.noise - 0.3).abs() < 1e-9).expect("s = 0.3 is swept");
    let resilient =
        (0..Family::ALL.len()).filter(|&c| noisy.top1[c + 2][c] > noisy.top1[0][c]).count();
    let summary = format!("at s = 0.3, C∘A_C beats C for {resilient}/5 classifiers");
    Ok(Outcome { result: serde_json::Value::Object(result), files, summary })
}
