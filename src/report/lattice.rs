//! Figure 7: a concept lattice as a layered Hasse diagram (SVG) and as Graphviz DOT, with
//! reduced labelling: classifiers (objects) above their object concept, AEs (attributes)
//! below their attribute concept, as in the paper.

use super::plot::{self, plot_err, text_style};
use crate::metrics::analysis::Lattice;
use crate::metrics::Result;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::fmt::Write as _;
use std::path::Path;

/// Node positions in pixels. Layer = longest chain from the top; the top concept is first
/// (concepts are sorted by descending extent, so every upper cover precedes its lower).
/// Within a layer nodes are ordered by the mean x of their upper covers, ties by index.
pub fn layout(lattice: &Lattice, size: (u32, u32)) -> Vec<(i32, i32)> {
    let n = lattice.concepts.len();
    let mut uppers = vec![Vec::new(); n];
    lattice.edges.iter().for_each(|&[lower, upper]| uppers[lower].push(upper));
    let mut layer = vec![0usize; n];
    for lower in 0..n {
        layer[lower] = uppers[lower].iter().map(|&u| layer[u] + 1).max().unwrap_or(0);
    }
    let layers = layer.iter().max().map_or(1, |m| m + 1);
    let (width, height) = (f64::from(size.0), f64::from(size.1));
    let margin_y = 70.0;
    let step_y = if layers > 1 { (height - 2.0 * margin_y) / (layers - 1) as f64 } else { 0.0 };
    let mut members_of = vec![Vec::new(); layers];
    (0..n).for_each(|c| members_of[layer[c]].push(c));
    let mut x = vec![width / 2.0; n];
    for members in &members_of {
        let mut keyed: Vec<(f64, usize)> = members
            .iter()
            .map(|&c| {
                let xs: Vec<f64> = uppers[c].iter().map(|&u| x[u]).collect();
                let barycentre = if xs.is_empty() {
                    width / 2.0
                } else {
                    xs.iter().sum::<f64>() / xs.len() as f64
                };
                (barycentre, c)
            })
            .collect();
        keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        for (slot, &(_, c)) in keyed.iter().enumerate() {
            x[c] = width * (slot as f64 + 1.0) / (keyed.len() as f64 + 1.0);
        }
    }
    (0..n)
        .map(|c| (x[c].round() as i32, (margin_y + layer[c] as f64 * step_y).round() as i32))
        .collect()
}

/// How to read a diagram, printed under it (the paper's caption says only "attributes below,
/// objects on top"); no apostrophes, which SVG text escapes.
pub const KEY: [&str; 3] = [
    "above a node, coloured: classifiers j; below, black: AEs A_i",
    "j reads A_i at RRC(j∘A_i) ≥ t when A_i is named at",
    "the node of j or at a node reached from it going up",
];

/// Height of the key under the diagram.
const KEY_HEIGHT: u32 = 70;

/// The SVG document of one lattice; `classifiers` fixes the label colours, `source` (whose
/// Table 2: "profile ci", "the paper's Table 2") goes into the title.
pub fn lattice_svg(
    lattice: &Lattice,
    classifiers: &[String],
    path: &Path,
    source: &str,
) -> Result<String> {
    let (width, height) = plot::LATTICE_SIZE;
    plot::render_svg(path, (width, height + KEY_HEIGHT), |root| {
        let (diagram, key) = root.split_vertically(height);
        draw(&diagram, lattice, classifiers, source)?;
        draw_key(&key)
    })
}

fn draw_key(
    area: &DrawingArea<SVGBackend, plotters::coord::Shift>,
) -> std::result::Result<(), String> {
    area.draw(&PathElement::new(
        [(10, 2), (plot::LATTICE_SIZE.0 as i32 - 10, 2)],
        plot::GUIDE_COLOUR.stroke_width(1),
    ))
    .map_err(plot_err)?;
    let style = text_style(plot::TICK_FONT_SIZE).pos(Pos::new(HPos::Left, VPos::Top));
    for (k, line) in KEY.iter().enumerate() {
        area.draw(&Text::new(*line, (10, 10 + 18 * k as i32), style.clone())).map_err(plot_err)?;
    }
    Ok(())
}

fn draw(
    root: &DrawingArea<SVGBackend, plotters::coord::Shift>,
    lattice: &Lattice,
    classifiers: &[String],
    source: &str,
) -> std::result::Result<(), String> {
    let positions = layout(lattice, plot::LATTICE_SIZE);
    let chain = if lattice.is_chain { " (a chain)" } else { "" };
    let title = format!("Figure 7 ({source}): t = {}{chain}", lattice.threshold);
    let title_style = text_style(plot::LABEL_FONT_SIZE).pos(Pos::new(HPos::Left, VPos::Top));
    root.draw(&Text::new(title, (10, 10), title_style)).map_err(plot_err)?;
    for [lower, upper] in &lattice.edges {
        let line = PathElement::new(
            vec![positions[*lower], positions[*upper]],
            plot::AXIS_COLOUR.stroke_width(2),
        );
        root.draw(&line).map_err(plot_err)?;
    }
    for (concept, &(x, y)) in lattice.concepts.iter().zip(&positions) {
        root.draw(&Circle::new((x, y), 7, WHITE.filled())).map_err(plot_err)?;
        root.draw(&Circle::new((x, y), 7, BLACK.stroke_width(2))).map_err(plot_err)?;
        draw_object_labels(root, &concept.object_labels, classifiers, (x, y - 11))?;
        if !concept.attribute_labels.is_empty() {
            let text = concept.attribute_labels.join(", ");
            backdrop(root, &text, plot::TICK_FONT_SIZE, (x, y + 11), false)?;
            let style = text_style(plot::TICK_FONT_SIZE).pos(Pos::new(HPos::Center, VPos::Top));
            root.draw(&Text::new(text, (x, y + 11), style)).map_err(plot_err)?;
        }
    }
    Ok(())
}

/// White box behind a centred label so edges do not run through the text. The width is a
/// fixed per-character estimate, not font metrics, so the output never depends on fonts.
fn backdrop(
    root: &DrawingArea<SVGBackend, plotters::coord::Shift>,
    text: &str,
    font_size: u32,
    (x, y): (i32, i32),
    above: bool,
) -> std::result::Result<(), String> {
    // plotters writes font sizes divided by 1.24.
    let height = (f64::from(font_size) / 1.24).ceil() as i32 + 2;
    let half_width = (text.chars().count() as f64 * f64::from(font_size) * 0.3).ceil() as i32 + 2;
    let (top, bottom) = if above { (y - height, y) } else { (y, y + height) };
    let rect = Rectangle::new([(x - half_width, top), (x + half_width, bottom)], WHITE.filled());
    root.draw(&rect).map_err(plot_err)
}

/// Object labels in their classifier colours, centred as one line above the node.
fn draw_object_labels(
    root: &DrawingArea<SVGBackend, plotters::coord::Shift>,
    labels: &[String],
    classifiers: &[String],
    (x, y): (i32, i32),
) -> std::result::Result<(), String> {
    // Fixed-pitch placement keeps the output independent of font metrics.
    let pitch = 22;
    let start = x - pitch * (labels.len() as i32 - 1) / 2;
    for (k, label) in labels.iter().enumerate() {
        let position = classifiers.iter().position(|c| c == label).unwrap_or(0);
        let colour = plot::classifier_colour(label, position);
        backdrop(root, label, plot::LABEL_FONT_SIZE, (start + pitch * k as i32, y), true)?;
        let style = text_style(plot::LABEL_FONT_SIZE)
            .color(&colour)
            .pos(Pos::new(HPos::Center, VPos::Bottom));
        root.draw(&Text::new(label.clone(), (start + pitch * k as i32, y), style))
            .map_err(plot_err)?;
    }
    Ok(())
}

fn dot_escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Graphviz DOT of one lattice: edges point from a concept to its upper cover, drawn
/// bottom-to-top; each node shows its object labels above a dot and attribute labels below.
pub fn lattice_dot(lattice: &Lattice, name: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "digraph \"{}\" {{", dot_escape(name));
    let _ = writeln!(
        out,
        "  rankdir=BT;\n  node [shape=plaintext, fontname=\"{}\"];\n  edge [arrowhead=none];",
        plot::FONT_FAMILY
    );
    for (k, c) in lattice.concepts.iter().enumerate() {
        let label = format!(
            "{}\\n●\\n{}",
            dot_escape(&c.object_labels.join(", ")),
            dot_escape(&c.attribute_labels.join(", "))
        );
        let tooltip = format!("{{{}}} × {{{}}}", c.extent.join(", "), c.intent.join(", "));
        let _ = writeln!(out, "  c{k} [label=\"{label}\", tooltip=\"{}\"];", dot_escape(&tooltip));
    }
    for [lower, upper] in &lattice.edges {
        let _ = writeln!(out, "  c{lower} -> c{upper};");
    }
    out.push_str("}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::analysis::{ConceptNames, Interval};

    fn concept(extent: &[&str], objects: &[&str], attributes: &[&str]) -> ConceptNames {
        let owned = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
        ConceptNames {
            extent: owned(extent),
            intent: Vec::new(),
            object_labels: owned(objects),
            attribute_labels: owned(attributes),
        }
    }

    fn diamond() -> Lattice {
        Lattice {
            threshold: 0.5,
            interval: Interval { above: None, up_to: None },
            relation: Vec::new(),
            concepts: vec![
                concept(&["a", "b"], &[], &[]),
                concept(&["a"], &["a"], &["A_x"]),
                concept(&["b"], &["b"], &["A_y"]),
                concept(&[], &[], &[]),
            ],
            edges: vec![[1, 0], [2, 0], [3, 1], [3, 2]],
            is_chain: false,
        }
    }

    #[test]
    fn layers_go_down_from_the_top_and_spread_siblings() {
        let p = layout(&diamond(), (400, 400));
        assert!(p[0].1 < p[1].1 && p[1].1 == p[2].1 && p[2].1 < p[3].1);
        assert!(p[1].0 < p[2].0);
        assert_eq!(p[0].0, 200);
    }

    #[test]
    fn the_svg_names_its_source_and_has_a_key() {
        let classifiers = ["a".to_string(), "b".to_string()];
        let svg = lattice_svg(&diamond(), &classifiers, Path::new("l.svg"), "profile ci").unwrap();
        assert!(svg.contains("Figure 7 (profile ci): t = 0.5"), "title");
        assert!(KEY.iter().all(|line| svg.contains(line)), "key");
        let paper =
            lattice_svg(&diamond(), &classifiers, Path::new("l.svg"), "the paper's Table 2");
        assert_ne!(svg, paper.unwrap(), "ours and the paper's differ in the title");
    }

    #[test]
    fn dot_has_every_node_and_cover() {
        let dot = lattice_dot(&diamond(), "d");
        assert!(dot.starts_with("digraph \"d\" {"));
        assert_eq!(dot.matches(" -> ").count(), 4);
        assert!(dot.contains("c1 [label=\"a\\n●\\nA_x\""));
        assert!(dot.contains("c3 -> c1;"));
    }
}
