//! Weight files: safetensors with PyTorch's names, loaded strictly by default.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};
use tch::nn::VarStore;
use tch::Tensor;

#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    #[error("{} does not exist: check the path", path.display())]
    NotFound { path: PathBuf },
    #[error("cannot read or write {}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{} is not a usable weight file: {reason}", path.display())]
    Format { path: PathBuf, reason: String },
    #[error("{} does not fit the model:{}", path.display(), describe_mismatch(.mismatch))]
    Mismatch { path: PathBuf, mismatch: Mismatch },
}

/// How a file's tensors differ from a model's.
#[derive(Debug, Default, Clone, PartialEq, Serialize)]
pub struct Mismatch {
    /// In the model, not in the file.
    pub missing: Vec<String>,
    /// In the file, not in the model.
    pub unexpected: Vec<String>,
    /// (name, model's shape, file's shape).
    pub wrong_shape: Vec<(String, Vec<i64>, Vec<i64>)>,
}

impl Mismatch {
    fn is_empty(&self) -> bool {
        self.missing.is_empty() && self.unexpected.is_empty() && self.wrong_shape.is_empty()
    }
}

fn describe_mismatch(m: &Mismatch) -> String {
    let mut text = String::new();
    if !m.missing.is_empty() {
        text += &format!("\n  missing from the file: {}", m.missing.join(", "));
    }
    if !m.unexpected.is_empty() {
        text += &format!("\n  in the file but not in the model: {}", m.unexpected.join(", "));
    }
    for (name, expected, found) in &m.wrong_shape {
        text += &format!("\n  {name}: the model has shape {expected:?}, the file {found:?}");
    }
    text + "\n  check that the file was exported for this model and scale \
            (`dnlts weights inspect FILE`), or pass --allow-partial to load what matches"
}

/// How strictly a file must match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadPolicy {
    /// Every model tensor present with its shape, nothing else in the file, except tensors
    /// that carry no state dnlts uses (see [`is_ignorable`]).
    Strict,
    /// Load what matches by name and shape; report the rest.
    AllowPartial,
}

/// Tensors a PyTorch export carries that a dnlts model may lack without losing anything:
/// BN's `num_batches_tracked` counters (unused with a fixed momentum) and Inception's
/// auxiliary head, which only feeds a training loss.
pub fn is_ignorable(name: &str) -> bool {
    name.ends_with("num_batches_tracked") || name.starts_with("AuxLogits.")
}

/// What a load did.
#[derive(Debug, Default, Serialize)]
pub struct LoadReport {
    pub loaded: usize,
    pub ignored: Vec<String>,
    pub mismatch: Mismatch,
}

/// Loads `path` into `stores` (one model may span several, e.g. SegNet's encoder and decoder).
pub fn load(
    stores: &mut [&mut VarStore],
    path: &Path,
    policy: LoadPolicy,
) -> Result<LoadReport, WeightsError> {
    let mut file_tensors: HashMap<String, Tensor> = Tensor::read_safetensors(path)
        .map_err(|error| WeightsError::Format { path: path.into(), reason: error.to_string() })?
        .into_iter()
        .collect();
    let mut report = LoadReport::default();
    let mut matched = Vec::new();
    for store in stores.iter() {
        for (name, variable) in store.variables() {
            match file_tensors.remove(&name) {
                None => report.mismatch.missing.push(name),
                Some(found) if found.size() != variable.size() => {
                    report.mismatch.wrong_shape.push((name, variable.size(), found.size()))
                }
                Some(found) => matched.push((variable, found)),
            }
        }
    }
    for name in file_tensors.into_keys() {
        if is_ignorable(&name) {
            report.ignored.push(name);
        } else {
            report.mismatch.unexpected.push(name);
        }
    }
    report.mismatch.missing.sort();
    report.mismatch.unexpected.sort();
    report.mismatch.wrong_shape.sort();
    report.ignored.sort();
    if policy == LoadPolicy::Strict && !report.mismatch.is_empty() {
        return Err(WeightsError::Mismatch { path: path.into(), mismatch: report.mismatch });
    }
    // Nothing is copied before every check passed: a rejected file never half-loads.
    tch::no_grad(|| {
        for (mut variable, found) in matched {
            variable.copy_(&found.to_kind(variable.kind()).to_device(variable.device()));
            report.loaded += 1;
        }
    });
    Ok(report)
}

/// Saves the variables of `stores` into one safetensors file, atomically.
pub fn save(stores: &[&VarStore], path: &Path) -> Result<(), WeightsError> {
    let mut named: BTreeMap<String, Tensor> = BTreeMap::new();
    for store in stores {
        for (name, tensor) in store.variables() {
            named.insert(name, tensor.to_device(tch::Device::Cpu).contiguous());
        }
    }
    let pairs: Vec<(&str, &Tensor)> = named.iter().map(|(n, t)| (n.as_str(), t)).collect();
    write_tensors(&pairs, path).map_err(|source| WeightsError::Io { path: path.into(), source })
}

/// Writes named tensors as one safetensors file, atomically (see [`crate::atomic`]).
pub fn write_tensors<T: AsRef<Tensor>>(pairs: &[(&str, T)], path: &Path) -> std::io::Result<()> {
    // safetensors stores dense row-major data: channels-last or sliced tensors are copied.
    let dense: Vec<(&str, Tensor)> =
        pairs.iter().map(|(name, tensor)| (*name, tensor.as_ref().contiguous())).collect();
    crate::atomic::write_atomic_with(path, |temp| {
        Tensor::write_safetensors(&dense, temp)
            .map_err(|error| std::io::Error::other(error.to_string()))
    })
}

/// One tensor of a weight file, as `dnlts weights inspect` lists it.
#[derive(Debug, Serialize)]
pub struct TensorInfo {
    pub name: String,
    pub dtype: String,
    pub shape: Vec<i64>,
}

/// The contents of a weight file, read from its header without loading the data.
#[derive(Debug, Serialize)]
pub struct FileSummary {
    pub path: PathBuf,
    pub tensors: Vec<TensorInfo>,
    /// Elements in all tensors, `num_batches_tracked` counters excluded.
    pub parameters: i64,
    pub sha256: String,
}

pub fn inspect(path: &Path) -> Result<FileSummary, WeightsError> {
    ensure_file(path)?;
    let io_error = |source| WeightsError::Io { path: path.into(), source };
    let format_error = |reason: String| WeightsError::Format { path: path.into(), reason };
    let mut file = File::open(path).map_err(io_error)?;
    let length = file.metadata().map_err(io_error)?.len();
    let mut prefix = [0u8; 8];
    file.read_exact(&mut prefix)
        .map_err(|_| format_error("shorter than a safetensors header".into()))?;
    let header_length = u64::from_le_bytes(prefix);
    if header_length > length.saturating_sub(8) || header_length > 100 << 20 {
        return Err(format_error(format!(
            "header length {header_length} does not fit a {length}-byte file"
        )));
    }
    let mut header = vec![0u8; header_length as usize];
    file.read_exact(&mut header).map_err(io_error)?;
    let header: BTreeMap<String, serde_json::Value> = serde_json::from_slice(&header)
        .map_err(|error| format_error(format!("header is not JSON: {error}")))?;
    let tensors: Vec<TensorInfo> = header
        .into_iter()
        .filter(|(name, _)| name != "__metadata__")
        .map(|(name, entry)| {
            let shape = entry["shape"]
                .as_array()
                .map(|dims| dims.iter().filter_map(|d| d.as_i64()).collect());
            let dtype = entry["dtype"].as_str().map(str::to_string);
            match (shape, dtype) {
                (Some(shape), Some(dtype)) => Ok(TensorInfo { name, dtype, shape }),
                _ => Err(format_error(format!("tensor {name} has no dtype or shape"))),
            }
        })
        .collect::<Result<_, _>>()?;
    let parameters = tensors
        .iter()
        .filter(|t| !t.name.ends_with("num_batches_tracked"))
        .map(|t| t.shape.iter().product::<i64>())
        .sum();
    file.seek(SeekFrom::Start(0)).map_err(io_error)?;
    Ok(FileSummary {
        path: path.into(),
        tensors,
        parameters,
        sha256: sha256_of(&mut file).map_err(io_error)?,
    })
}

/// sha256 of everything `reader` yields, as lowercase hex.
pub fn sha256_of(reader: &mut impl Read) -> std::io::Result<String> {
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let read = reader.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(hasher.finalize().iter().map(|byte| format!("{byte:02x}")).collect())
}

fn ensure_file(path: &Path) -> Result<(), WeightsError> {
    if path.is_file() {
        Ok(())
    } else {
        Err(WeightsError::NotFound { path: path.into() })
    }
}
