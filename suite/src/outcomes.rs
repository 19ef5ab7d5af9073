//! Per-image outcomes of evaluation passes, on disk: which test images each classifier got
//! right at top-1 and top-5 on each view, so that uncertainty can be computed again without
//! running a network (docs/uncertainty.md has the format).
//!
//! ```json
//! {"format": "dnlts-outcomes/1",
//!  "bits": "image i is bit i % 8 (least significant first) of byte i / 8; bytes as hex",
//!  "passes": [{"noise": 0.0, "images": 400, "cells": [
//!     {"view": "x", "classifier": "L", "top1_right": 41, "top5_right": 190,
//!      "top1": "08a1…", "top5": "ff3b…"}]}]}
//! ```
//!
//! Reading checks everything it can: the format tag, each bitset's length against `images`,
//! its hex digits, the unused bits of its last byte, its count against `*_right`, top-1 ⊆
//! top-5, and no (view, classifier) twice in a pass. A damaged or truncated file is an error
//! naming the file and what is wrong, never a silently different number.

use std::path::Path;

use anyhow::Context as _;
use dnlts::eval::{AccuracyTable, ViewHits};
use dnlts::metrics::bootstrap::Hits;
use serde::{Deserialize, Serialize};

pub const FORMAT: &str = "dnlts-outcomes/1";
const BITS: &str = "image i is bit i % 8 (least significant first) of byte i / 8; bytes as hex";

#[derive(Serialize, Deserialize)]
struct File {
    format: String,
    bits: String,
    passes: Vec<Pass>,
}

#[derive(Serialize, Deserialize)]
struct Pass {
    noise: f64,
    images: u64,
    cells: Vec<Cell>,
}

#[derive(Serialize, Deserialize)]
struct Cell {
    view: String,
    classifier: String,
    top1_right: u64,
    top5_right: u64,
    top1: String,
    top5: String,
}

/// Writes the outcomes of `tables` (evaluation passes, in order) to `path`, atomically.
pub fn write(path: &Path, tables: &[&AccuracyTable]) -> anyhow::Result<()> {
    let passes = tables
        .iter()
        .map(|table| {
            let mut cells = Vec::new();
            for (view, row) in table.views.iter().zip(&table.hits) {
                for (classifier, hits) in table.classifiers.iter().zip(row) {
                    let Some(hits) = hits else { continue };
                    cells.push(Cell {
                        view: view.clone(),
                        classifier: classifier.clone(),
                        top1_right: hits.top1.count(),
                        top5_right: hits.top5.count(),
                        top1: hits.top1.to_hex(),
                        top5: hits.top5.to_hex(),
                    });
                }
            }
            Pass { noise: table.noise, images: table.images, cells }
        })
        .collect();
    let file = File { format: FORMAT.into(), bits: BITS.into(), passes };
    crate::output::write_json(path, &file)?;
    // Read back with every check of `read`, so a file it would refuse is never left behind.
    let back = read(path)?;
    let same =
        back.iter().zip(tables).all(|(b, t)| b.hits.iter().flatten().eq(t.hits.iter().flatten()));
    anyhow::ensure!(
        back.len() == tables.len() && same,
        "`{}` does not read back as written",
        path.display()
    );
    Ok(())
}

/// Reads a file of [`write`] back into tables (accuracies recomputed from the bits), checking
/// it as the module says.
pub fn read(path: &Path) -> anyhow::Result<Vec<AccuracyTable>> {
    let bytes = dnlts::files::read_regular(path)?;
    let file: File = serde_json::from_slice(&bytes).with_context(|| {
        format!("`{}` is not a per-image outcomes file (damaged or truncated JSON)", path.display())
    })?;
    anyhow::ensure!(
        file.format == FORMAT,
        "`{}` has format `{}`; this dnlts reads `{FORMAT}` (written by table1 and fig4)",
        path.display(),
        file.format
    );
    let tables = file.passes.iter().enumerate().map(|(k, pass)| {
        table_of(pass).with_context(|| {
            format!("`{}` pass {k} (noise {}) is damaged", path.display(), pass.noise)
        })
    });
    tables.collect()
}

fn table_of(pass: &Pass) -> anyhow::Result<AccuracyTable> {
    let mut views: Vec<String> = Vec::new();
    let mut classifiers: Vec<String> = Vec::new();
    for cell in &pass.cells {
        if !views.contains(&cell.view) {
            views.push(cell.view.clone());
        }
        if !classifiers.contains(&cell.classifier) {
            classifiers.push(cell.classifier.clone());
        }
    }
    let mut hits = vec![vec![None; classifiers.len()]; views.len()];
    let images = usize::try_from(pass.images)?;
    for cell in &pass.cells {
        let what = format!("{}∘{}", cell.classifier, cell.view);
        let parse = |text: &str, right: u64, top: &str| -> anyhow::Result<Hits> {
            let bits =
                Hits::from_hex(text, images).map_err(|e| anyhow::anyhow!("{what} {top}: {e}"))?;
            anyhow::ensure!(
                bits.count() == right,
                "{what} {top}: {} images set but {top}_right says {right}",
                bits.count()
            );
            Ok(bits)
        };
        let top1 = parse(&cell.top1, cell.top1_right, "top1")?;
        let top5 = parse(&cell.top5, cell.top5_right, "top5")?;
        anyhow::ensure!(
            top1.is_subset_of(&top5),
            "{what}: an image right at top-1 is wrong at top-5"
        );
        let v = views.iter().position(|v| *v == cell.view).expect("collected above");
        let c = classifiers.iter().position(|c| *c == cell.classifier).expect("collected above");
        anyhow::ensure!(hits[v][c].is_none(), "{what} appears twice");
        hits[v][c] = Some(ViewHits { top1, top5 });
    }
    let rate = |top: fn(&ViewHits) -> &Hits| -> Vec<Vec<f64>> {
        (hits.iter())
            .map(|row| {
                row.iter().map(|h| h.as_ref().map_or(f64::NAN, |h| top(h).accuracy())).collect()
            })
            .collect()
    };
    Ok(AccuracyTable {
        views,
        classifiers,
        top1: rate(|h| &h.top1),
        top5: rate(|h| &h.top5),
        images: pass.images,
        noise: pass.noise,
        hits,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> AccuracyTable {
        let hits = |bits: &[bool]| Hits::from_bools(bits);
        let cell =
            |top1: &[bool], top5: &[bool]| Some(ViewHits { top1: hits(top1), top5: hits(top5) });
        let t = [true, false, true, false, false, true, true, false, true];
        let f = [false; 9];
        let all = [true; 9];
        let hits = vec![vec![cell(&t, &all), cell(&f, &t)], vec![None, cell(&f, &f)]];
        let rate = |top: fn(&ViewHits) -> &Hits| -> Vec<Vec<f64>> {
            (hits.iter())
                .map(|row| {
                    row.iter().map(|h| h.as_ref().map_or(f64::NAN, |h| top(h).accuracy())).collect()
                })
                .collect()
        };
        AccuracyTable {
            views: vec!["x".into(), "A_S".into()],
            classifiers: vec!["L".into(), "A".into()],
            top1: rate(|h| &h.top1),
            top5: rate(|h| &h.top5),
            images: 9,
            noise: 0.3,
            hits,
        }
    }

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("dnlts-outcomes-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("outcomes.json")
    }

    fn same(a: &AccuracyTable, b: &AccuracyTable) -> bool {
        let bits = |t: &AccuracyTable| {
            let values = t.top1.concat().into_iter().chain(t.top5.concat());
            values.map(f64::to_bits).collect::<Vec<_>>()
        };
        a.views == b.views
            && a.classifiers == b.classifiers
            && a.hits == b.hits
            && bits(a) == bits(b)
            && a.images == b.images
            && a.noise == b.noise
    }

    #[test]
    fn outcomes_round_trip_byte_for_byte() {
        let path = scratch("round");
        write(&path, &[&table(), &table()]).unwrap();
        let first = std::fs::read(&path).unwrap();
        let back = read(&path).unwrap();
        assert_eq!(back.len(), 2);
        assert!(same(&back[0], &table()));
        write(&path, &back.iter().collect::<Vec<_>>()).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), first, "same tables, same bytes");
    }

    #[test]
    fn damaged_or_truncated_files_are_errors_naming_the_file_and_the_cell() {
        let path = scratch("damaged");
        write(&path, &[&table()]).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let shown = path.display().to_string();
        let error_of = |text: &str| {
            std::fs::write(&path, text).unwrap();
            format!("{:#}", read(&path).unwrap_err())
        };
        let truncated = error_of(&text[..text.len() / 2]);
        assert!(truncated.contains(&shown) && truncated.contains("truncated"), "{truncated}");
        // L∘x top1 is "6501": one bit flipped changes its count.
        let flipped = error_of(&text.replacen("\"6501\"", "\"6401\"", 1));
        assert!(
            flipped.contains(&shown)
                && flipped.contains("L∘x top1")
                && flipped.contains("top1_right"),
            "{flipped}"
        );
        let short = error_of(&text.replacen("\"6501\"", "\"65\"", 1));
        assert!(short.contains("2 hex digits for 9 images"), "{short}");
        let subset =
            error_of(&text.replacen("\"top5\": \"ff01\"", "\"top5\": \"0000\"", 1).replacen(
                "\"top5_right\": 9",
                "\"top5_right\": 0",
                1,
            ));
        assert!(subset.contains("wrong at top-5"), "{subset}");
        let format = error_of(&text.replace(FORMAT, "dnlts-outcomes/0"));
        assert!(format.contains("dnlts-outcomes/0"), "{format}");
    }
}
