//! Figure 9: normalized mutual information per AE — intra (original vs reconstruction, over
//! every test image) and inter (reconstructions of consecutive pairs (0,1), (2,3), …).

use super::{Context, Outcome};

pub fn run(context: &Context) -> anyhow::Result<Outcome> {
    let rows = context.pipeline.nmi()?;
    let mut markdown = String::from(
        "## Figure 9 — nMI per AE (mean ± std)\n\n| AE | intra | inter |\n|---|---:|---:|\n",
    );
    for row in rows.iter() {
        markdown += &format!(
            "| {} | {:.4} ± {:.4} | {:.4} ± {:.4} |\n",
            row.ae, row.intra.mean, row.intra.std, row.inter.mean, row.inter.std
        );
    }
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
    Ok(Outcome { result: serde_json::to_value(&*rows)?, files, summary })
}
