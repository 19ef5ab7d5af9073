//! Cross-accuracy tables (the paper's Table 2) and the relative rate of change of Figure 6:
//! RRC(j∘A_i) = acc(j∘A_i) / min(acc(i∘A_i), acc(j∘A_j)).

use super::{MetricsError, Result};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::path::Path;

/// The smallest diagonal accuracy acc(i∘A_i) a table may have. RRC divides by the diagonal: a
/// classifier right on fewer than 1 in 100,000 of its own AE's images gives RRC values up to
/// 100,000 times any accuracy (1e298 for a diagonal of 1e-298), which measure nothing. Measured
/// accuracies are k/n for n test images, so only n > 100,000 could ever fall below it.
pub const MIN_DIAGONAL: f64 = 1e-5;

/// Square table of accuracies: `accuracy[i][j]` = acc(j∘A_i), the accuracy of classifier `j`
/// on reconstructions of the AE fine-tuned on classifier `i` (rows = AEs, columns =
/// classifiers, as in Table 2). Construct it only through the validating constructors.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CrossTable {
    names: Vec<String>,
    accuracy: Vec<Vec<f64>>,
}

/// On-disk JSON form. `autoencoders` may be omitted; when given, row i must be labelled
/// `names[i]` or `A_<names[i]>`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CrossTableFile {
    #[serde(default)]
    #[allow(dead_code)] // provenance for readers of the file, not used in computation
    source: Option<String>,
    classifiers: Vec<String>,
    #[serde(default)]
    autoencoders: Option<Vec<String>>,
    accuracy: Vec<Vec<f64>>,
}

impl CrossTable {
    /// Validates names and accuracies; `origin` names the file in error messages.
    pub fn new(names: Vec<String>, accuracy: Vec<Vec<f64>>, origin: &Path) -> Result<Self> {
        check_shape(&names, &accuracy, origin)?;
        check_names(&names, origin)?;
        check_values(&names, &accuracy, origin)?;
        Ok(Self { names, accuracy })
    }

    /// Parses the JSON form (see `fixtures/paper/table2.json`).
    pub fn from_json_str(text: &str, origin: &Path) -> Result<Self> {
        let file: CrossTableFile = serde_json::from_str(text)
            .map_err(|source| MetricsError::Json { path: origin.to_path_buf(), source })?;
        if let Some(rows) = &file.autoencoders {
            check_row_labels(rows, &file.classifiers, file.accuracy.len(), origin)?;
        }
        Self::new(file.classifiers, file.accuracy, origin)
    }

    /// Parses CSV: a header `,<classifier>,…` and one row per AE `<label>,<acc>,…`.
    pub fn from_csv_str(text: &str, origin: &Path) -> Result<Self> {
        let mut lines = text.lines().enumerate().filter(|(_, line)| !line.trim().is_empty());
        let Some((_, header)) = lines.next() else {
            return Err(MetricsError::EmptyTable { path: origin.to_path_buf() });
        };
        let names: Vec<String> = split_csv(header).skip(1).collect();
        let mut row_labels = Vec::new();
        let mut accuracy = Vec::new();
        for (index, line) in lines {
            let mut cells = split_csv(line);
            row_labels.push(cells.next().unwrap_or_default());
            let row = cells
                .map(|cell| parse_cell(&cell, origin, index + 1))
                .collect::<Result<Vec<f64>>>()?;
            accuracy.push(row);
        }
        check_row_labels(&row_labels, &names, accuracy.len(), origin)?;
        Self::new(names, accuracy, origin)
    }

    /// Parses the bytes of `path`, a `*.json` or `*.csv` table (`dnlts::metric_files` reads
    /// the file).
    pub fn from_file_bytes(bytes: Vec<u8>, path: &Path) -> Result<Self> {
        let text = String::from_utf8(bytes).map_err(|_| MetricsError::Csv {
            path: path.to_path_buf(),
            line: 1,
            message: "is not UTF-8 text; save the table as UTF-8 JSON or CSV".into(),
        })?;
        match path.extension().and_then(|e| e.to_str()) {
            Some(ext) if ext.eq_ignore_ascii_case("json") => Self::from_json_str(&text, path),
            Some(ext) if ext.eq_ignore_ascii_case("csv") => Self::from_csv_str(&text, path),
            _ => Err(MetricsError::UnknownTableFormat { path: path.to_path_buf() }),
        }
    }

    /// Classifier names; row i is the AE fine-tuned on `names()[i]`.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// acc(classifier∘A_autoencoder).
    pub fn accuracy(&self, autoencoder: usize, classifier: usize) -> f64 {
        self.accuracy[autoencoder][classifier]
    }

    pub fn rows(&self) -> &[Vec<f64>] {
        &self.accuracy
    }

    /// RRC(classifier∘A_autoencoder).
    pub fn rrc(&self, autoencoder: usize, classifier: usize) -> f64 {
        let own =
            self.accuracy[autoencoder][autoencoder].min(self.accuracy[classifier][classifier]);
        self.accuracy[autoencoder][classifier] / own
    }

    /// `rrc_matrix()[i][j]` = RRC(j∘A_i).
    pub fn rrc_matrix(&self) -> Vec<Vec<f64>> {
        (0..self.len()).map(|i| (0..self.len()).map(|j| self.rrc(i, j)).collect()).collect()
    }
}

/// The cells of a CSV line (RFC 4180's quoting): a cell in double quotes may hold commas, and
/// `""` inside it is one quote; cells are trimmed of the spaces around them.
fn split_csv(line: &str) -> impl Iterator<Item = String> + '_ {
    let mut cells = Vec::new();
    let mut cell = String::new();
    let (mut quoted, mut chars) = (false, line.chars().peekable());
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            '"' if quoted => quoted = false,
            '"' if cell.trim().is_empty() => {
                cell.clear();
                quoted = true;
            }
            ',' if !quoted => cells.push(std::mem::take(&mut cell)),
            c => cell.push(c),
        }
    }
    cells.push(cell);
    cells.into_iter().map(|cell| cell.trim().to_string())
}

fn parse_cell(cell: &str, origin: &Path, line: usize) -> Result<f64> {
    // Rust parses "NaN"; keep it so the NaN check can name the cell.
    cell.parse::<f64>().map_err(|_| MetricsError::Csv {
        path: origin.to_path_buf(),
        line,
        message: format!("`{cell}` is not a number; write accuracies such as 0.7163"),
    })
}

fn check_row_labels(
    rows: &[String],
    names: &[String],
    row_count: usize,
    origin: &Path,
) -> Result<()> {
    let path = origin.to_path_buf();
    for index in 0..row_count.max(rows.len()) {
        let label = rows.get(index).map(|s| s.trim()).unwrap_or("");
        if label.is_empty() {
            return Err(MetricsError::MissingLabel { path, what: "row", index });
        }
        let Some(classifier) = names.get(index) else {
            continue; // the square check reports the extra row
        };
        let stripped = label.strip_prefix("A_").unwrap_or(label);
        if stripped != classifier {
            return Err(MetricsError::RowLabelMismatch {
                path,
                row: index,
                row_label: label.to_string(),
                classifier: classifier.clone(),
            });
        }
    }
    Ok(())
}

fn check_shape(names: &[String], accuracy: &[Vec<f64>], path: &Path) -> Result<()> {
    if names.is_empty() && accuracy.is_empty() {
        return Err(MetricsError::EmptyTable { path: path.to_path_buf() });
    }
    if accuracy.len() != names.len() {
        return Err(MetricsError::NotSquare {
            path: path.to_path_buf(),
            rows: accuracy.len(),
            columns: names.len(),
        });
    }
    for (row, values) in accuracy.iter().enumerate() {
        if values.len() != names.len() {
            return Err(MetricsError::RaggedRow {
                path: path.to_path_buf(),
                row,
                expected: names.len(),
                found: values.len(),
            });
        }
    }
    Ok(())
}

fn check_names(names: &[String], path: &Path) -> Result<()> {
    let mut seen = HashSet::new();
    for (index, name) in names.iter().enumerate() {
        if name.trim().is_empty() {
            return Err(MetricsError::MissingLabel {
                path: path.to_path_buf(),
                what: "column",
                index,
            });
        }
        if !seen.insert(name.as_str()) {
            return Err(MetricsError::DuplicateName {
                path: path.to_path_buf(),
                name: name.clone(),
            });
        }
    }
    Ok(())
}

fn check_values(names: &[String], accuracy: &[Vec<f64>], path: &Path) -> Result<()> {
    for (i, row) in accuracy.iter().enumerate() {
        for (j, &value) in row.iter().enumerate() {
            let (autoencoder, classifier) = (names[i].clone(), names[j].clone());
            if value.is_nan() {
                return Err(MetricsError::NotANumber {
                    path: path.to_path_buf(),
                    autoencoder,
                    classifier,
                });
            }
            if !(0.0..=1.0).contains(&value) {
                return Err(MetricsError::AccuracyOutOfRange {
                    path: path.to_path_buf(),
                    autoencoder,
                    classifier,
                    value,
                });
            }
        }
        if row[i] == 0.0 {
            return Err(MetricsError::ZeroDiagonal {
                path: path.to_path_buf(),
                name: names[i].clone(),
            });
        }
        if row[i] < MIN_DIAGONAL {
            return Err(MetricsError::DiagonalTooSmall {
                path: path.to_path_buf(),
                name: names[i].clone(),
                value: row[i],
                min: MIN_DIAGONAL,
                inflation: 1.0 / row[i],
            });
        }
    }
    Ok(())
}

/// One bar of Figure 6.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RrcEntry {
    /// Classifier the AE was fine-tuned on (`i` in j∘A_i).
    pub autoencoder: String,
    /// Classifier evaluated on its reconstructions (`j`).
    pub classifier: String,
    pub accuracy: f64,
    pub rrc: f64,
}

/// Every j∘A_i in ascending RRC order; ties broken by (classifier, autoencoder) table
/// position so the order is deterministic.
pub fn sorted_rrc(table: &CrossTable) -> Vec<RrcEntry> {
    let mut keyed: Vec<(f64, usize, usize)> = (0..table.len())
        .flat_map(|i| (0..table.len()).map(move |j| (i, j)))
        .map(|(i, j)| (table.rrc(i, j), j, i))
        .collect();
    keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    keyed
        .into_iter()
        .map(|(rrc, j, i)| RrcEntry {
            autoencoder: table.names()[i].clone(),
            classifier: table.names()[j].clone(),
            accuracy: table.accuracy(i, j),
            rrc,
        })
        .collect()
}

/// Figure 6 grouped by the evaluated classifier (table order), each group ascending by RRC.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassifierGroup {
    pub classifier: String,
    pub entries: Vec<RrcEntry>,
}

pub fn grouped_by_classifier(table: &CrossTable) -> Vec<ClassifierGroup> {
    let sorted = sorted_rrc(table);
    table
        .names()
        .iter()
        .map(|name| ClassifierGroup {
            classifier: name.clone(),
            entries: sorted.iter().filter(|e| &e.classifier == name).cloned().collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assert_close;

    fn origin() -> &'static Path {
        Path::new("t.json")
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn err(names_list: &[&str], rows: Vec<Vec<f64>>) -> String {
        CrossTable::new(names(names_list), rows, origin()).unwrap_err().to_string()
    }

    #[test]
    fn rrc_divides_by_the_weaker_diagonal() {
        let t = CrossTable::new(names(&["a", "b"]), vec![vec![0.5, 0.2], vec![0.1, 0.8]], origin())
            .unwrap();
        assert_close(t.rrc(0, 1), 0.2 / 0.5, 1e-15, "RRC(b∘A_a) = 0.2 / min(0.5, 0.8)");
        assert_close(t.rrc(1, 0), 0.1 / 0.5, 1e-15, "RRC(a∘A_b) = 0.1 / min(0.8, 0.5)");
        assert_eq!(t.rrc(1, 1), 1.0, "RRC(b∘A_b)");
        let sorted = sorted_rrc(&t);
        assert_eq!(sorted[0].classifier, "a");
        assert_eq!(sorted[0].autoencoder, "b");
    }

    #[test]
    fn non_square_names_the_file_and_sizes() {
        assert_eq!(
            err(&["a", "b"], vec![vec![0.5, 0.5]]),
            "cross table `t.json` has 1 rows (autoencoders) but 2 columns (classifiers); it must be square, one AE per classifier in the same order"
        );
        assert_eq!(
            err(&["a", "b"], vec![vec![0.5, 0.5], vec![0.5]]),
            "cross table `t.json` row 1 has 1 values but the table has 2 classifiers; give one accuracy per classifier"
        );
    }

    #[test]
    fn out_of_range_names_the_pair_and_value() {
        assert_eq!(
            err(&["a", "b"], vec![vec![0.5, 71.63], vec![0.5, 0.5]]),
            "cross table `t.json` accuracy of b∘A_a is 71.63, outside [0, 1]; give accuracies as fractions (0.7163, not 71.63)"
        );
        let negative = err(&["a"], vec![vec![-0.1]]);
        assert!(negative.contains("is -0.1, outside [0, 1]"), "{negative}");
    }

    #[test]
    fn nan_names_the_pair() {
        assert_eq!(
            err(&["a", "b"], vec![vec![0.5, 0.5], vec![f64::NAN, 0.5]]),
            "cross table `t.json` accuracy of a∘A_b is NaN; give a number in [0, 1]"
        );
    }

    #[test]
    fn duplicate_and_missing_names() {
        assert_eq!(
            err(&["a", "a"], vec![vec![0.5, 0.5], vec![0.5, 0.5]]),
            "cross table `t.json` names `a` twice; classifier names must be unique"
        );
        assert_eq!(
            err(&["a", " "], vec![vec![0.5, 0.5], vec![0.5, 0.5]]),
            "cross table `t.json` has no label for column 1; name every row and column"
        );
    }

    #[test]
    fn zero_diagonal_and_empty_tables() {
        assert_eq!(
            err(&["a", "b"], vec![vec![0.5, 0.5], vec![0.5, 0.0]]),
            "cross table `t.json` accuracy of b∘A_b is 0, so every RRC involving `b` divides by zero; check that row"
        );
        assert_eq!(err(&[], vec![]), "cross table `t.json` is empty; give at least one classifier");
    }

    #[test]
    fn tiny_diagonals_are_refused_with_the_cell() {
        assert_eq!(
            err(&["a", "b"], vec![vec![0.5, 0.5], vec![0.5, 1e-298]]),
            "cross table `t.json` accuracy of b∘A_b is 1e-298, below 0.00001 (1/100000): RRC \
             divides by it, so every RRC involving `b` is inflated up to 1e298× and means \
             nothing; check that cell (diagonal accuracies must be at least 0.00001, every \
             accuracy a fraction in [0, 1])"
        );
        // The smallest allowed diagonal is accepted; RRC then stays below 1 / MIN_DIAGONAL.
        let t =
            CrossTable::new(names(&["a", "b"]), vec![vec![1e-5, 0.9], vec![0.9, 0.9]], origin())
                .unwrap();
        let largest = t.rrc_matrix().into_iter().flatten().fold(0.0, f64::max);
        assert!(largest <= 1.0 / MIN_DIAGONAL, "largest RRC {largest}");
    }

    #[test]
    fn csv_round_trip_and_errors() {
        let csv = ",a,b\nA_a,0.5,0.25\nA_b,0.125,1\n";
        let t = CrossTable::from_csv_str(csv, Path::new("t.csv")).unwrap();
        assert_eq!(t.names(), &names(&["a", "b"])[..]);
        assert_eq!(t.accuracy(1, 0), 0.125);
        // A quoted name keeps its comma and its doubled quotes (it was split at the comma).
        let quoted = ",\"x,y\", \"say \"\"hi\"\"\"\n\"A_x,y\",0.5,0.25\nA_say \"hi\",0.125,1\n";
        let t = CrossTable::from_csv_str(quoted, Path::new("t.csv")).unwrap();
        assert_eq!(t.names(), &names(&["x,y", "say \"hi\""])[..]);
        assert_eq!(t.accuracy(0, 1), 0.25);
        let bad = CrossTable::from_csv_str(",a,b\nA_a,0.5,x\nA_b,0.1,1\n", Path::new("t.csv"));
        assert_eq!(
            bad.unwrap_err().to_string(),
            "`t.csv` line 2: `x` is not a number; write accuracies such as 0.7163"
        );
        let nan = CrossTable::from_csv_str(",a,b\nA_a,0.5,NaN\nA_b,0.1,1\n", Path::new("t.csv"));
        assert_eq!(
            nan.unwrap_err().to_string(),
            "cross table `t.csv` accuracy of b∘A_a is NaN; give a number in [0, 1]"
        );
        let unlabeled = CrossTable::from_csv_str(",a,b\n,0.5,0.1\nA_b,0.1,1\n", Path::new("t.csv"));
        assert_eq!(
            unlabeled.unwrap_err().to_string(),
            "cross table `t.csv` has no label for row 0; name every row and column"
        );
        let swapped =
            CrossTable::from_csv_str(",a,b\nA_b,0.5,0.1\nA_a,0.1,1\n", Path::new("t.csv"));
        assert_eq!(
            swapped.unwrap_err().to_string(),
            "cross table `t.csv` row 0 is labelled `A_b` but column 0 is classifier `a`; row i must be the AE fine-tuned on classifier i (label it `a` or `A_a`)"
        );
    }

    #[test]
    fn json_errors_name_the_file() {
        let e = CrossTable::from_json_str("{\"classifiers\": [\"a\"]}", origin()).unwrap_err();
        let e = e.to_string();
        assert!(
            e.starts_with("`t.json` is not a valid cross table JSON: missing field `accuracy`"),
            "{e}"
        );
        let ok = CrossTable::from_json_str(
            r#"{"classifiers": ["a"], "autoencoders": ["A_a"], "accuracy": [[0.5]]}"#,
            origin(),
        );
        assert_eq!(ok.unwrap().accuracy(0, 0), 0.5);
    }

    #[test]
    fn file_bytes_are_read_by_extension_and_must_be_utf8() {
        let file = Path::new("dir/table.txt");
        assert_eq!(
            CrossTable::from_file_bytes(b"x".to_vec(), file).unwrap_err().to_string(),
            "`dir/table.txt` has an unknown extension; name cross tables `*.json` or `*.csv`"
        );
        let csv = b",a\nA_a,0.5\n".to_vec();
        for name in ["t.csv", "t.CSV"] {
            let table = CrossTable::from_file_bytes(csv.clone(), Path::new(name));
            assert_eq!(table.map(|t| t.accuracy(0, 0)).ok(), Some(0.5), "{name} as CSV");
        }
        let json = br#"{"classifiers": ["a"], "autoencoders": ["A_a"], "accuracy": [[0.5]]}"#;
        for name in ["t.json", "t.Json"] {
            let table = CrossTable::from_file_bytes(json.to_vec(), Path::new(name));
            assert_eq!(table.map(|t| t.accuracy(0, 0)).ok(), Some(0.5), "{name} as JSON");
        }
        let latin1 = CrossTable::from_file_bytes(b",caf\xe9\n".to_vec(), Path::new("t.csv"));
        assert_eq!(
            latin1.unwrap_err().to_string(),
            "`t.csv` line 1: is not UTF-8 text; save the table as UTF-8 JSON or CSV"
        );
    }
}
