//! Figure 4: top-1 under additive uniform noise U(-s, s), s = 0, 0.1, …, 1.0. Left: each
//! classifier on the noisy input (dashed) and on A_S's reconstruction of it (solid). Right:
//! on the input (dashed) and on its own fine-tuned AE's reconstruction (solid).

use super::{Context, Outcome};
use dnlts::eval::Seen;
use dnlts::metrics::bootstrap::Interval;
use dnlts::report::curves::{line_chart_svg_with_range, Axes, Series};
use dnlts::report::plot::{classifier_colour, write_atomically, CHANCE_COLOUR};

pub fn run(context: &Context) -> anyhow::Result<Outcome> {
    let tables = context.pipeline.noise_sweep()?;
    let resamples = context.pipeline.resamples()?;
    let band = |seen: Seen, c: &str| -> Vec<(f64, Option<Interval>)> {
        (tables.iter().enumerate())
            .map(|(k, t)| (t.noise, resamples.interval(|r| r.noise[k].top1_on(seen, c))))
            .collect()
    };
    let mut bands = serde_json::Map::new();
    let bars = |seen: Seen, c: &str| -> Vec<(f64, f64, f64)> {
        band(seen, c).into_iter().filter_map(|(s, i)| i.map(|i| (s, i.low, i.high))).collect()
    };
    let curve = |seen: Seen, c: &str| -> Vec<(f64, f64)> {
        tables.iter().map(|t| (t.noise, t.top1_on(seen, c))).collect()
    };
    let mut files = Vec::new();
    let mut result = serde_json::Map::new();
    let classes = context.pipeline.classes()?;
    for (panel, title) in [
        ("left", "Figure 4 (left): C (dashed) and C∘A_S (solid)"),
        ("right", "Figure 4 (right): C (dashed) and C∘A_C (solid)"),
    ] {
        let mut series = Vec::new();
        for (position, c) in context.pipeline.classifier_names().iter().enumerate() {
            let colour = classifier_colour(c, position);
            let seen = if panel == "left" { Seen::Pretrained } else { Seen::FinetunedFor(c) };
            let with_ae = format!("{c}∘{}", seen.view_name());
            series.push(Series {
                name: c.clone(),
                colour,
                dashed: true,
                points: curve(Seen::Original, c),
                band: bars(Seen::Original, c),
            });
            bands.insert(c.clone(), serde_json::to_value(band(Seen::Original, c))?);
            bands.insert(with_ae.clone(), serde_json::to_value(band(seen, c))?);
            series.push(Series {
                name: with_ae,
                colour,
                dashed: false,
                points: curve(seen, c),
                band: bars(seen, c),
            });
        }
        let path = context.out_dir.join(format!("figures/fig4_{panel}.svg"));
        std::fs::create_dir_all(path.parent().expect("has a parent"))?;
        result.insert(
            panel.into(),
            serde_json::to_value(series.iter().map(|s| (&s.name, &s.points)).collect::<Vec<_>>())?,
        );
        // Drawn, not published: the level of a classifier that guesses.
        let chance = 1.0 / classes as f64;
        series.push(Series {
            name: format!("chance 1/{classes}"),
            colour: CHANCE_COLOUR,
            dashed: true,
            points: vec![(0.0, chance), (1.0, chance)],
            band: Vec::new(),
        });
        let axes =
            Axes { caption: title, x: "noise strength s of U(-s, s)", y: "top-1 (fraction)" };
        files.push(write_atomically(
            &path,
            &line_chart_svg_with_range(&path, &axes, &series, Some((0.0, 1.0)))?,
        )?);
    }
    let caption = format!(
        "*Figure 4.* Top-1 of each classifier C on {} test images with additive uniform noise \
         U(-s, s) (images in [0, 1], clipped), against s. Dashed, in C's colour: C on the noisy \
         images; solid: C on their reconstructions, by A_S (left) and by C's own fine-tuned AE \
         A_C (right). Grey dashed: chance, 1/{classes}. Bars: the 95 % percentile interval of each \
         point over {} bootstrap resamples of the test images (paired across strengths and \
         views: the same images are drawn for all).\n",
        tables.first().map_or(0, |t| t.images),
        resamples.len()
    );
    files.push(super::write_markdown(context, "fig4.md", &caption)?);
    let outcomes = context.out_dir.join("fig4_outcomes.json");
    crate::outcomes::write(&outcomes, &tables.iter().collect::<Vec<_>>())?;
    files.push(outcomes);
    result.insert("intervals".into(), serde_json::Value::Object(bands));
    result.insert("resamples".into(), resamples.len().into());
    let noisy = tables.iter().find(|t| (t.noise - 0.3).abs() < 1e-9).expect("s = 0.3 is swept");
    let resilient = (noisy.classifiers.iter())
        .filter(|c| noisy.top1_on(Seen::FinetunedFor(c), c) > noisy.top1_on(Seen::Original, c))
        .count();
    let summary = format!(
        "at s = 0.3, C∘A_C beats C for {resilient}/{} classifiers",
        noisy.classifiers.len()
    );
    Ok(Outcome { result: serde_json::Value::Object(result), files, summary })
}
