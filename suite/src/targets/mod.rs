//! The registry of targets: one per artefact of the paper, registered here and nowhere else.
//!
//! Names are unique and sorted (a test checks it). A target whose computation changes gets a
//! new name rather than silently new numbers, so stored results stay comparable.

use std::path::{Path, PathBuf};

use crate::profile::Profile;
use crate::stages::Pipeline;

mod claims;
mod fig2;
mod fig35;
mod fig4;
mod fig67;
mod fig9;
mod published;
mod table1;
mod table2;

/// What a target needs to run.
pub struct Context<'a> {
    pub profile: &'a Profile,
    /// Folder for the target's files (figures, tables); its JSON is written by the runner.
    pub out_dir: &'a Path,
    /// The stages (trained models, evaluation passes), made on first use and shared.
    pub pipeline: &'a Pipeline,
}

/// Writes a markdown fragment of a target (collected into report.md) and returns its path.
pub fn write_markdown(context: &Context, name: &str, text: &str) -> anyhow::Result<PathBuf> {
    crate::output::write_text(&context.out_dir.join(name), text)
}

/// Marks accuracies at chance (`dnlts::metrics::degenerate::at_chance`) in a table with †,
/// and says what † means below it if it marked any.
pub struct ChanceMark {
    images: u64,
    classes: u64,
    used: std::cell::Cell<bool>,
}

pub fn chance_mark(images: u64, classes: u64) -> ChanceMark {
    ChanceMark { images, classes, used: std::cell::Cell::new(false) }
}

impl ChanceMark {
    /// "†" after an accuracy (a fraction) at or below chance, else nothing.
    pub fn mark(&self, accuracy: f64) -> &'static str {
        if dnlts::metrics::degenerate::at_chance(accuracy, self.images, self.classes) {
            self.used.set(true);
            "†"
        } else {
            ""
        }
    }

    /// The footnote, when a mark was given.
    pub fn note(&self) -> String {
        if !self.used.get() {
            return String::new();
        }
        let (_, high) = dnlts::metrics::degenerate::chance_interval(self.images, self.classes);
        format!(
            "† at or below chance: no better than guessing among {} classes (at most {:.2} %, \
             the top of the central 95 % interval of Bin({}, 1/{})).",
            self.classes,
            100.0 * high,
            self.images,
            self.classes
        )
    }
}

/// What a target produced.
pub struct Outcome {
    /// The numbers, as they go into `<target>.json`.
    pub result: serde_json::Value,
    /// Figures and tables written beside it.
    pub files: Vec<PathBuf>,
    /// One line for the terminal.
    pub summary: String,
}

pub type RunFn = fn(&Context) -> anyhow::Result<Outcome>;

pub struct Target {
    pub name: &'static str,
    /// The artefact of the paper it reproduces.
    pub artefact: &'static str,
    pub summary: &'static str,
    /// Its place in report.md: the paper's order, then the analysis of published numbers and
    /// the claims check.
    pub report_position: u8,
    /// Part of `dnlts evaluate` (the targets the evaluation pass feeds).
    pub evaluation: bool,
    /// Needs the profile's images (every target but the analysis of published numbers).
    pub reads_data: bool,
    pub run: RunFn,
}

/// Every target, sorted by name.
pub fn all() -> &'static [Target] {
    const TARGETS: &[Target] = &[
        Target {
            name: "claims",
            artefact: "Sections 3.3–3.5",
            summary: "which of the paper's statements hold on our numbers",
            report_position: 10,
            evaluation: false,
            reads_data: true,
            run: claims::run,
        },
        Target {
            name: "fig2",
            artefact: "Figure 2",
            summary: "AE pre-training: train and held-out reconstruction error",
            report_position: 2,
            evaluation: false,
            reads_data: true,
            run: fig2::run,
        },
        Target {
            name: "fig3",
            artefact: "Figure 3",
            summary: "reconstructions of each fine-tuned AE with L*a*b* histograms",
            report_position: 3,
            evaluation: false,
            reads_data: true,
            run: fig35::run_fig3,
        },
        Target {
            name: "fig4",
            artefact: "Figure 4",
            summary: "top-1 under uniform noise U(-s, s), with and without AEs",
            report_position: 4,
            evaluation: true,
            reads_data: true,
            run: fig4::run,
        },
        Target {
            name: "fig5",
            artefact: "Figure 5",
            summary: "noisy inputs and their reconstructions by A_S and A_V",
            report_position: 5,
            evaluation: false,
            reads_data: true,
            run: fig35::run_fig5,
        },
        Target {
            name: "fig6",
            artefact: "Figure 6",
            summary: "relative rate of change of every j∘A_i, sorted",
            report_position: 6,
            evaluation: false,
            reads_data: true,
            run: fig67::run_fig6,
        },
        Target {
            name: "fig7",
            artefact: "Figure 7",
            summary: "formal-concept lattices of the thresholded RRC context",
            report_position: 7,
            evaluation: false,
            reads_data: true,
            run: fig67::run_fig7,
        },
        Target {
            name: "fig9",
            artefact: "Figure 9",
            summary: "intra- and inter-sample normalized mutual information per AE",
            report_position: 8,
            evaluation: true,
            reads_data: true,
            run: fig9::run,
        },
        Target {
            name: "published",
            artefact: "Figures 6–7 (paper's data)",
            summary: "RRC, lattices and stable thresholds of the paper's Table 2",
            report_position: 9,
            evaluation: false,
            reads_data: false,
            run: published::run,
        },
        Target {
            name: "table1",
            artefact: "Table 1",
            summary: "top-1/top-5 of C, C∘A_S and C∘A_C",
            report_position: 0,
            evaluation: true,
            reads_data: true,
            run: table1::run,
        },
        Target {
            name: "table2",
            artefact: "Table 2",
            summary: "cross accuracy j∘A_i of each classifier on each fine-tuned AE",
            report_position: 1,
            evaluation: true,
            reads_data: true,
            run: table2::run,
        },
    ];
    TARGETS
}

/// The targets of `dnlts evaluate`.
pub fn evaluation() -> Vec<&'static Target> {
    all().iter().filter(|target| target.evaluation).collect()
}

/// The targets picked by `--include` and `--exclude` (comma-separated names; a trailing `*`
/// matches a prefix). An empty include list means all. A pattern that matches nothing is an
/// error, so a typo never silently runs less than asked.
pub fn select(include: &[String], exclude: &[String]) -> anyhow::Result<Vec<&'static Target>> {
    let names = || all().iter().map(|target| target.name).collect::<Vec<_>>().join(", ");
    let patterns =
        include.iter().map(|p| ("--include", p)).chain(exclude.iter().map(|p| ("--exclude", p)));
    for (option, pattern) in patterns {
        if !all().iter().any(|target| matches(pattern, target.name)) {
            anyhow::bail!(
                "{option} '{pattern}' matches no target; targets are: {} (see `dnlts list`; \
                 lists are comma-separated, `fig*` matches a prefix)",
                names()
            );
        }
    }
    let selected: Vec<&'static Target> = all()
        .iter()
        .filter(|target| include.is_empty() || include.iter().any(|p| matches(p, target.name)))
        .filter(|target| !exclude.iter().any(|p| matches(p, target.name)))
        .collect();
    anyhow::ensure!(
        !selected.is_empty(),
        "--include {:?} and --exclude {:?} leave no target to run; targets are: {}",
        include.join(","),
        exclude.join(","),
        names()
    );
    Ok(selected)
}

fn matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => pattern == name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_sorted() {
        let names: Vec<_> = all().iter().map(|target| target.name).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(names, sorted);
    }

    #[test]
    fn include_and_exclude_filter_by_name_and_prefix() {
        let strings = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let picked = select(&strings(&["fig*", "table1"]), &strings(&["fig5"])).unwrap();
        let names: Vec<_> = picked.iter().map(|target| target.name).collect();
        assert_eq!(names, ["fig2", "fig3", "fig4", "fig6", "fig7", "fig9", "table1"]);
        assert_eq!(select(&[], &[]).unwrap().len(), all().len());
    }

    #[test]
    fn a_pattern_matching_nothing_is_an_error_naming_it() {
        let error = select(&["tabel1".to_string()], &[]).err().unwrap().to_string();
        assert!(error.contains("'tabel1'") && error.contains("table1"));
    }
}
