//! Weight files: safetensors with PyTorch's names, validated in full before anything is read
//! and loaded strictly by default.
//!
//! A safetensors file is an 8-byte little-endian header length, a JSON header naming every
//! tensor's dtype, shape and `data_offsets` (byte range in the data section after the header),
//! then the data section. [`read_layout`] checks all of it: the header parses, every dtype is
//! known, every shape is whole numbers whose element count × dtype size equals its byte range
//! without overflowing, every range lies inside the data section, no two ranges overlap and
//! together they cover the data section exactly (as the safetensors library requires).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use tch::nn::VarStore;
use tch::{Kind, Tensor};

/// The largest header read (the safetensors library's own limit).
const MAX_HEADER_BYTES: u64 = 100_000_000;

/// What to do about a file that is damaged or not safetensors at all.
const REEXPORT: &str = "download it again, or export it with \
     safetensors.torch.save_file(model.state_dict(), PATH)";

#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    #[error(transparent)]
    File(#[from] crate::files::FileError),
    #[error("cannot read or write {}: {}", path.display(), crate::files::describe_io(source))]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{} is not a usable weight file: {reason}", path.display())]
    Format { path: PathBuf, reason: String },
    #[error("{} does not fit the model:{}", path.display(), describe_mismatch(.mismatch))]
    Mismatch { path: PathBuf, mismatch: Mismatch },
    #[error("{} holds values that are not finite numbers:{}\n  weights with NaN or Inf come from a diverged training or a broken export and make every output NaN; \
             use another file (or retrain), or pass --allow-non-finite to `dnlts weights check` to load them anyway", path.display(), describe_non_finite(.tensors))]
    NonFinite { path: PathBuf, tensors: Vec<NonFiniteTensor> },
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
        // The file's own names: escaped, so that one cannot forge or reorder lines.
        let names: Vec<_> = m.unexpected.iter().map(|n| crate::files::printable(n)).collect();
        text += &format!("\n  in the file but not in the model: {}", names.join(", "));
    }
    for (name, expected, found) in &m.wrong_shape {
        text += &format!("\n  {name}: the model has shape {expected:?}, the file {found:?}");
    }
    text + "\n  check that the file was exported for this model and scale \
            (`dnlts weights inspect FILE`), or pass --allow-partial to load what matches"
}

/// A tensor holding NaN or ±Inf, as loaded into the model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NonFiniteTensor {
    pub name: String,
    pub nan: u64,
    pub infinite: u64,
    /// Values in the tensor.
    pub values: u64,
    /// `(from, to)` when the file's values were finite but the conversion to the model's dtype
    /// overflowed (F64 → F32 of values beyond ±3.4e38).
    pub overflow: Option<(String, String)>,
}

impl fmt::Display for NonFiniteTensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} NaN and {} infinite of {} values",
            self.name, self.nan, self.infinite, self.values
        )?;
        if let Some((from, to)) = &self.overflow {
            write!(f, " (finite as {from}, but beyond the range of the model's {to})")?;
        }
        Ok(())
    }
}

fn describe_non_finite(tensors: &[NonFiniteTensor]) -> String {
    tensors.iter().map(|t| format!("\n  {t}")).collect()
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

/// Everything [`load_with`] can be told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadOptions {
    pub policy: LoadPolicy,
    /// Load tensors holding NaN or ±Inf (listed in [`LoadReport::non_finite`]) instead of
    /// refusing the file.
    pub allow_non_finite: bool,
}

impl From<LoadPolicy> for LoadOptions {
    fn from(policy: LoadPolicy) -> Self {
        Self { policy, allow_non_finite: false }
    }
}

/// Tensors a PyTorch export carries that a dnlts model may lack without losing anything:
/// BN's `num_batches_tracked` counters (unused with a fixed momentum) and Inception's
/// auxiliary head, which only feeds a training loss.
pub fn is_ignorable(name: &str) -> bool {
    name.ends_with("num_batches_tracked") || name.starts_with("AuxLogits.")
}

/// A tensor stored with another dtype than the model's, converted on load.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Conversion {
    pub name: String,
    /// The file's dtype, as safetensors names it (`F64`).
    pub from: String,
    /// The model's dtype (`F32`).
    pub to: String,
}

/// What a load did.
#[derive(Debug, Default, Serialize)]
pub struct LoadReport {
    pub loaded: usize,
    pub ignored: Vec<String>,
    pub mismatch: Mismatch,
    /// Loaded tensors whose dtype differed from the model's, sorted by name.
    pub converted: Vec<Conversion>,
    /// Loaded tensors holding NaN or ±Inf (only with `allow_non_finite`).
    pub non_finite: Vec<NonFiniteTensor>,
}

/// Loads `path` into `stores` (one model may span several, e.g. SegNet's encoder and decoder),
/// refusing non-finite values.
pub fn load(
    stores: &mut [&mut VarStore],
    path: &Path,
    policy: LoadPolicy,
) -> Result<LoadReport, WeightsError> {
    load_with(stores, path, policy.into())
}

/// [`load`] with every option. The whole file is validated ([`read_layout`]) and every tensor
/// to be loaded read and checked before any variable changes: a rejected file never half-loads.
pub fn load_with(
    stores: &mut [&mut VarStore],
    path: &Path,
    options: LoadOptions,
) -> Result<LoadReport, WeightsError> {
    let (mut file, layout) = open_layout(path)?;
    let mut in_file: HashMap<&str, &TensorEntry> =
        layout.tensors.iter().map(|t| (t.name.as_str(), t)).collect();
    let mut report = LoadReport::default();
    let mut matched = Vec::new();
    for store in stores.iter() {
        for (name, variable) in store.variables() {
            match in_file.remove(name.as_str()) {
                None => report.mismatch.missing.push(name),
                Some(entry) if entry.shape != variable.size() => {
                    report.mismatch.wrong_shape.push((name, variable.size(), entry.shape.clone()))
                }
                Some(entry) => matched.push((variable, entry)),
            }
        }
    }
    for name in in_file.into_keys() {
        if is_ignorable(name) {
            report.ignored.push(name.to_string());
        } else {
            report.mismatch.unexpected.push(name.to_string());
        }
    }
    report.mismatch.missing.sort();
    report.mismatch.unexpected.sort();
    report.mismatch.wrong_shape.sort();
    report.ignored.sort();
    if options.policy == LoadPolicy::Strict && !report.mismatch.is_empty() {
        return Err(WeightsError::Mismatch { path: path.into(), mismatch: report.mismatch });
    }
    // Read in file order, so a large file is read front to back once.
    matched.sort_by_key(|(_, entry)| entry.offsets);
    let mut ready = Vec::with_capacity(matched.len());
    for (variable, entry) in matched {
        let (tensor, conversion, non_finite) =
            read_for(&mut file, &layout, entry, &variable, path)?;
        report.converted.extend(conversion);
        report.non_finite.extend(non_finite);
        ready.push((variable, tensor));
    }
    report.converted.sort_by(|a, b| a.name.cmp(&b.name));
    report.non_finite.sort_by(|a, b| a.name.cmp(&b.name));
    if !options.allow_non_finite && !report.non_finite.is_empty() {
        return Err(WeightsError::NonFinite { path: path.into(), tensors: report.non_finite });
    }
    tch::no_grad(|| {
        for (mut variable, tensor) in ready {
            variable.copy_(&tensor.to_device(variable.device()));
            report.loaded += 1;
        }
    });
    Ok(report)
}

/// Reads one tensor of the file, converted to `variable`'s kind, with what the conversion and
/// the values were like.
fn read_for(
    file: &mut File,
    layout: &Layout,
    entry: &TensorEntry,
    variable: &Tensor,
    path: &Path,
) -> Result<(Tensor, Option<Conversion>, Option<NonFiniteTensor>), WeightsError> {
    let format_error = |reason: String| WeightsError::Format { path: path.into(), reason };
    let kind = entry.dtype.kind().ok_or_else(|| {
        format_error(format!(
            "tensor `{}` is stored as {}, which libtorch cannot hold; convert it to {} before \
             exporting (tensor.float())",
            entry.name,
            entry.dtype.name(),
            Dtype::of_kind(variable.kind()).map_or("F32", Dtype::name)
        ))
    })?;
    let bytes = read_range(file, layout.data_start + entry.offsets[0], entry.byte_len(), path)?;
    let (nan, infinite) = entry.dtype.count_non_finite(&bytes);
    let stored = Tensor::f_from_data_size(&bytes, &entry.shape, kind).map_err(|error| {
        format_error(format!("tensor `{}` cannot be made into a tensor ({error})", entry.name))
    })?;
    let values = entry.elements();
    let mut non_finite = (nan + infinite > 0).then(|| NonFiniteTensor {
        name: entry.name.clone(),
        nan,
        infinite,
        values,
        overflow: None,
    });
    if kind == variable.kind() {
        return Ok((stored, None, non_finite));
    }
    let to = Dtype::of_kind(variable.kind())
        .map_or_else(|| format!("{:?}", variable.kind()), |dtype| dtype.name().to_string());
    let converted = stored.to_kind(variable.kind());
    if non_finite.is_none() && variable.is_floating_point() {
        let count = |t: Tensor| t.sum(Kind::Int64).int64_value(&[]) as u64;
        let (nan, infinite) = (count(converted.isnan()), count(converted.isinf()));
        if nan + infinite > 0 {
            non_finite = Some(NonFiniteTensor {
                name: entry.name.clone(),
                nan,
                infinite,
                values,
                overflow: Some((entry.dtype.name().to_string(), to.clone())),
            });
        }
    }
    let conversion =
        Conversion { name: entry.name.clone(), from: entry.dtype.name().to_string(), to };
    Ok((converted, Some(conversion), non_finite))
}

fn read_range(
    file: &mut File,
    start: u64,
    length: u64,
    path: &Path,
) -> Result<Vec<u8>, WeightsError> {
    let io_error = |source| WeightsError::Io { path: path.into(), source };
    file.seek(SeekFrom::Start(start)).map_err(io_error)?;
    let mut bytes = vec![0u8; length as usize];
    file.read_exact(&mut bytes).map_err(io_error)?;
    Ok(bytes)
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
            .map_err(|error| library_io_error(&error.to_string()))
    })
}

/// The I/O error inside a safetensors library error, which prints it as Rust debug output
/// (`IoError(Os { code: 28, kind: StorageFull, message: "No space left on device" })`): the
/// operating system's error again where the code is there, so that it is described like any
/// other (a full disk says to free space), else the library's words.
fn library_io_error(library_error: &str) -> std::io::Error {
    let code = library_error
        .split_once("code: ")
        .and_then(|(_, rest)| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|digits| digits.parse::<i32>().ok());
    match code {
        Some(code) => std::io::Error::from_raw_os_error(code),
        None => std::io::Error::other(plain_words(library_error)),
    }
}

/// The library's message without its debug formatting.
fn plain_words(library_error: &str) -> String {
    let quoted = library_error.split_once("message: \"").and_then(|(_, rest)| rest.split_once('"'));
    match quoted {
        Some((message, _)) => format!("writing the tensors failed: {message}"),
        None => format!("writing the tensors failed ({library_error})"),
    }
}

/// Element types of the safetensors format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Dtype {
    Bool,
    U8,
    I8,
    F8E5M2,
    F8E4M3,
    I16,
    U16,
    F16,
    BF16,
    I32,
    U32,
    F32,
    F64,
    I64,
    U64,
}

impl Dtype {
    pub const ALL: [Dtype; 15] = [
        Dtype::Bool,
        Dtype::U8,
        Dtype::I8,
        Dtype::F8E5M2,
        Dtype::F8E4M3,
        Dtype::I16,
        Dtype::U16,
        Dtype::F16,
        Dtype::BF16,
        Dtype::I32,
        Dtype::U32,
        Dtype::F32,
        Dtype::F64,
        Dtype::I64,
        Dtype::U64,
    ];

    /// The name in a safetensors header.
    pub fn name(self) -> &'static str {
        match self {
            Dtype::Bool => "BOOL",
            Dtype::U8 => "U8",
            Dtype::I8 => "I8",
            Dtype::F8E5M2 => "F8_E5M2",
            Dtype::F8E4M3 => "F8_E4M3",
            Dtype::I16 => "I16",
            Dtype::U16 => "U16",
            Dtype::F16 => "F16",
            Dtype::BF16 => "BF16",
            Dtype::I32 => "I32",
            Dtype::U32 => "U32",
            Dtype::F32 => "F32",
            Dtype::F64 => "F64",
            Dtype::I64 => "I64",
            Dtype::U64 => "U64",
        }
    }

    pub fn parse(name: &str) -> Option<Dtype> {
        Dtype::ALL.into_iter().find(|d| d.name() == name)
    }

    /// Bytes per element.
    pub fn size(self) -> u64 {
        match self {
            Dtype::Bool | Dtype::U8 | Dtype::I8 | Dtype::F8E5M2 | Dtype::F8E4M3 => 1,
            Dtype::I16 | Dtype::U16 | Dtype::F16 | Dtype::BF16 => 2,
            Dtype::I32 | Dtype::U32 | Dtype::F32 => 4,
            Dtype::F64 | Dtype::I64 | Dtype::U64 => 8,
        }
    }

    /// The libtorch kind that holds this dtype, if libtorch (through tch) has one.
    pub fn kind(self) -> Option<Kind> {
        Some(match self {
            Dtype::Bool => Kind::Bool,
            Dtype::U8 => Kind::Uint8,
            Dtype::I8 => Kind::Int8,
            Dtype::I16 => Kind::Int16,
            Dtype::I32 => Kind::Int,
            Dtype::I64 => Kind::Int64,
            Dtype::F16 => Kind::Half,
            Dtype::BF16 => Kind::BFloat16,
            Dtype::F32 => Kind::Float,
            Dtype::F64 => Kind::Double,
            Dtype::F8E5M2 | Dtype::F8E4M3 | Dtype::U16 | Dtype::U32 | Dtype::U64 => return None,
        })
    }

    /// Whether some bit patterns are NaN or infinite.
    pub fn is_float(self) -> bool {
        matches!(
            self,
            Dtype::F8E5M2 | Dtype::F8E4M3 | Dtype::F16 | Dtype::BF16 | Dtype::F32 | Dtype::F64
        )
    }

    pub fn of_kind(kind: Kind) -> Option<Dtype> {
        Dtype::ALL.into_iter().find(|d| d.kind() == Some(kind))
    }

    /// (NaN count, ±Inf count) of little-endian values of this dtype; zero for integers.
    pub fn count_non_finite(self, bytes: &[u8]) -> (u64, u64) {
        // (exponent mask, mantissa mask) of the IEEE-like formats.
        let (width, exponent, mantissa): (usize, u64, u64) = match self {
            Dtype::F32 => {
                let (mut nan, mut inf) = (0, 0);
                for chunk in bytes.chunks_exact(4) {
                    let bits = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
                    if bits & 0x7f80_0000 == 0x7f80_0000 {
                        if bits & 0x007f_ffff == 0 {
                            inf += 1;
                        } else {
                            nan += 1;
                        }
                    }
                }
                return (nan, inf);
            }
            Dtype::F64 => (8, 0x7ff0_0000_0000_0000, 0x000f_ffff_ffff_ffff),
            Dtype::F16 => (2, 0x7c00, 0x03ff),
            Dtype::BF16 => (2, 0x7f80, 0x007f),
            Dtype::F8E5M2 => (1, 0x7c, 0x03),
            // E4M3 ("fn"): no infinities; S.1111.111 is NaN.
            Dtype::F8E4M3 => {
                return (bytes.iter().filter(|&&b| b & 0x7f == 0x7f).count() as u64, 0);
            }
            _ => return (0, 0),
        };
        let (mut nan, mut inf) = (0, 0);
        for chunk in bytes.chunks_exact(width) {
            let bits = chunk.iter().rev().fold(0u64, |acc, &b| acc << 8 | u64::from(b));
            if bits & exponent == exponent {
                if bits & mantissa == 0 {
                    inf += 1;
                } else {
                    nan += 1;
                }
            }
        }
        (nan, inf)
    }
}

impl fmt::Display for Dtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One tensor of a validated header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorEntry {
    pub name: String,
    pub dtype: Dtype,
    /// Every dimension fits an `i64` and their product × dtype size is the byte length.
    pub shape: Vec<i64>,
    /// `[begin, end)` in the data section.
    pub offsets: [u64; 2],
}

impl TensorEntry {
    pub fn elements(&self) -> u64 {
        self.byte_len() / self.dtype.size()
    }

    pub fn byte_len(&self) -> u64 {
        self.offsets[1] - self.offsets[0]
    }
}

/// A whole safetensors file's structure, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// Where the data section starts in the file (8 + header length).
    pub data_start: u64,
    pub data_len: u64,
    /// Sorted by name.
    pub tensors: Vec<TensorEntry>,
    /// The optional `__metadata__` strings.
    pub metadata: BTreeMap<String, String>,
}

/// Reads and validates the structure of the safetensors file at `path` (header, dtypes, shapes
/// and byte ranges); reads none of the tensor data.
pub fn read_layout(path: &Path) -> Result<Layout, WeightsError> {
    open_layout(path).map(|(_, layout)| layout)
}

fn open_layout(path: &Path) -> Result<(File, Layout), WeightsError> {
    ensure_file(path)?;
    let io_error = |source| WeightsError::Io { path: path.into(), source };
    let format_error = |reason: String| WeightsError::Format { path: path.into(), reason };
    let mut file = File::open(path).map_err(io_error)?;
    let length = file.metadata().map_err(io_error)?.len();
    if length < 8 {
        return Err(format_error(format!(
            "it has {length} bytes, fewer than the 8-byte header length every safetensors file \
             starts with; it is truncated or empty: {REEXPORT}"
        )));
    }
    let mut prefix = [0u8; 8];
    file.read_exact(&mut prefix).map_err(io_error)?;
    let header_length = u64::from_le_bytes(prefix);
    if header_length > length - 8 {
        return Err(format_error(format!(
            "its first 8 bytes announce a {header_length}-byte header, but only {} bytes follow; \
             it is truncated or not a safetensors file (a PyTorch .pt or .pth checkpoint? \
             convert it with safetensors.torch.save_file(torch.load(OLD), NEW)): {REEXPORT}",
            length - 8
        )));
    }
    if header_length > MAX_HEADER_BYTES {
        return Err(format_error(format!(
            "its header is {header_length} bytes, more than the {MAX_HEADER_BYTES} bytes \
             safetensors allows; it is not a safetensors file: {REEXPORT}"
        )));
    }
    let mut header = vec![0u8; header_length as usize];
    file.read_exact(&mut header).map_err(io_error)?;
    let data_start = 8 + header_length;
    let data_len = length - data_start;
    let (tensors, metadata) = parse_header(&header, data_len).map_err(format_error)?;
    Ok((file, Layout { data_start, data_len, tensors, metadata }))
}

/// The header's entries in file order, duplicates kept (serde_json's maps keep the last).
struct Entries(Vec<(String, serde_json::Value)>);

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntriesVisitor;
        impl<'de> Visitor<'de> for EntriesVisitor {
            type Value = Entries;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object with one entry per tensor")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry::<String, serde_json::Value>()? {
                    entries.push(entry);
                }
                Ok(Entries(entries))
            }
        }
        deserializer.deserialize_map(EntriesVisitor)
    }
}

type Header = (Vec<TensorEntry>, BTreeMap<String, String>);

/// Validates a header against a data section of `data_len` bytes; errors are reasons.
fn parse_header(header: &[u8], data_len: u64) -> Result<Header, String> {
    if header.first() != Some(&b'{') {
        return Err(format!(
            "its header does not start with `{{`, so it is not a safetensors file: {REEXPORT}"
        ));
    }
    let Entries(entries) = serde_json::from_slice(header)
        .map_err(|error| format!("its header is not valid JSON ({error}): {REEXPORT}"))?;
    let mut tensors = Vec::with_capacity(entries.len());
    let mut metadata = BTreeMap::new();
    let mut seen = std::collections::HashSet::new();
    for (name, value) in entries {
        if !seen.insert(name.clone()) {
            return Err(format!(
                "its header names `{name}` twice, so one of the two would be lost silently: \
                 {REEXPORT}"
            ));
        }
        if name == "__metadata__" {
            metadata = parse_metadata(&value)?;
        } else {
            tensors.push(parse_entry(name, &value, data_len)?);
        }
    }
    check_coverage(&tensors, data_len)?;
    tensors.sort_by(|a, b| a.name.cmp(&b.name));
    Ok((tensors, metadata))
}

fn parse_metadata(value: &serde_json::Value) -> Result<BTreeMap<String, String>, String> {
    let invalid = || {
        format!("its `__metadata__` is {value}, but safetensors allows only text values there ({{\"key\": \"value\"}}): {REEXPORT}")
    };
    let map = value.as_object().ok_or_else(invalid)?;
    map.iter()
        .map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())).ok_or_else(invalid))
        .collect()
}

fn parse_entry(
    name: String,
    value: &serde_json::Value,
    data_len: u64,
) -> Result<TensorEntry, String> {
    let fields = value.as_object().ok_or_else(|| {
        format!(
            "tensor `{name}` is described by {value}, not by {{\"dtype\": …, \"shape\": […], \
             \"data_offsets\": [begin, end]}}: {REEXPORT}"
        )
    })?;
    let dtype_text = fields.get("dtype").and_then(|d| d.as_str()).ok_or_else(|| {
        format!("tensor `{name}` has no dtype (a text such as \"F32\"): {REEXPORT}")
    })?;
    let dtype = Dtype::parse(dtype_text).ok_or_else(|| {
        let known: Vec<&str> = Dtype::ALL.iter().map(|d| d.name()).collect();
        format!(
            "tensor `{name}` has dtype `{dtype_text}`, which is not a safetensors dtype \
             (known: {}); re-export it with one of those",
            known.join(", ")
        )
    })?;
    let shape_value = fields.get("shape");
    let dims = shape_value.and_then(|s| s.as_array()).ok_or_else(|| {
        format!("tensor `{name}` has no shape (a list of whole numbers such as [64, 3, 3, 3]): {REEXPORT}")
    })?;
    let shape_text = shape_value.map(|s| s.to_string()).unwrap_or_default();
    let mut shape = Vec::with_capacity(dims.len());
    for dim in dims {
        let dim = dim.as_u64().filter(|&d| d <= i64::MAX as u64).ok_or_else(|| {
            format!(
                "tensor `{name}` has shape {shape_text}: every dimension must be a whole number \
                 from 0 to {}: {REEXPORT}",
                i64::MAX
            )
        })?;
        shape.push(dim as i64);
    }
    let offsets_value = fields.get("data_offsets");
    let offsets = offsets_value.and_then(|o| o.as_array()).and_then(|o| match o.as_slice() {
        [begin, end] => Some([begin.as_u64()?, end.as_u64()?]),
        _ => None,
    });
    let Some([begin, end]) = offsets else {
        return Err(format!(
            "tensor `{name}` has data_offsets {}; expected [begin, end], two whole numbers \
             giving its byte range in the data section: {REEXPORT}",
            offsets_value.map_or_else(|| "missing".to_string(), |v| v.to_string())
        ));
    };
    if begin > end {
        return Err(format!(
            "tensor `{name}` has data_offsets [{begin}, {end}], which end before they begin: \
             {REEXPORT}"
        ));
    }
    if end > data_len {
        return Err(format!(
            "tensor `{name}` has data_offsets [{begin}, {end}], beyond the {data_len} bytes of \
             the data section after the header; the file is truncated or its header is wrong: \
             {REEXPORT}"
        ));
    }
    let elements = shape.iter().try_fold(1u64, |product, &d| product.checked_mul(d as u64));
    let needed = elements.and_then(|e| e.checked_mul(dtype.size()));
    let Some(needed) = needed else {
        return Err(format!(
            "tensor `{name}` has shape {shape_text}, whose size in bytes overflows 64 bits: \
             {REEXPORT}"
        ));
    };
    if needed != end - begin {
        return Err(format!(
            "tensor `{name}` has shape {shape_text} of {dtype} ({} bytes each), which needs \
             {needed} bytes, but its data_offsets [{begin}, {end}] hold {}: {REEXPORT}",
            dtype.size(),
            end - begin
        ));
    }
    Ok(TensorEntry { name, dtype, shape, offsets: [begin, end] })
}

/// Checks that the tensors' byte ranges do not overlap and cover the data section exactly.
fn check_coverage(tensors: &[TensorEntry], data_len: u64) -> Result<(), String> {
    let mut by_offset: Vec<&TensorEntry> = tensors.iter().collect();
    by_offset.sort_by_key(|t| t.offsets);
    let mut covered = 0u64;
    let mut last: Option<&TensorEntry> = None;
    for tensor in by_offset {
        let [begin, end] = tensor.offsets;
        if begin < covered {
            let other = last.expect("covered > 0 only after a tensor");
            return Err(format!(
                "tensors `{}` (bytes {}..{}) and `{}` (bytes {begin}..{end}) overlap, so \
                 writing one would change the other: {REEXPORT}",
                other.name, other.offsets[0], other.offsets[1], tensor.name
            ));
        }
        if begin > covered {
            return Err(format!(
                "bytes {covered}..{begin} of its data section belong to no tensor (before \
                 `{}`); the safetensors library refuses such gaps: {REEXPORT}",
                tensor.name
            ));
        }
        covered = end;
        last = Some(tensor);
    }
    if covered < data_len {
        return Err(format!(
            "the last {} bytes of its data section (bytes {covered}..{data_len}) belong to no \
             tensor: data was appended or a tensor is missing from the header: {REEXPORT}",
            data_len - covered
        ));
    }
    Ok(())
}

/// One tensor of a weight file, as `dnlts weights inspect` lists it.
#[derive(Debug, Serialize)]
pub struct TensorInfo {
    pub name: String,
    pub dtype: String,
    pub shape: Vec<i64>,
    /// NaN or ±Inf values among the tensor's values (0 for integer dtypes).
    pub non_finite: u64,
}

/// The contents of a weight file, with its whole structure validated.
#[derive(Debug, Serialize)]
pub struct FileSummary {
    pub path: PathBuf,
    pub tensors: Vec<TensorInfo>,
    /// Elements in all tensors, `num_batches_tracked` counters excluded.
    pub parameters: i64,
    pub sha256: String,
}

/// Validates the whole file ([`read_layout`]), counts each tensor's non-finite values and
/// hashes it.
pub fn inspect(path: &Path) -> Result<FileSummary, WeightsError> {
    let (mut file, layout) = open_layout(path)?;
    let io_error = |source| WeightsError::Io { path: path.into(), source };
    let mut tensors = Vec::with_capacity(layout.tensors.len());
    for entry in &layout.tensors {
        tensors.push(TensorInfo {
            name: entry.name.clone(),
            dtype: entry.dtype.name().to_string(),
            shape: entry.shape.clone(),
            non_finite: count_non_finite_in_file(&mut file, &layout, entry).map_err(io_error)?,
        });
    }
    // Bounded by the file's length (validated), so the sum cannot overflow.
    let parameters = layout
        .tensors
        .iter()
        .filter(|t| !t.name.ends_with("num_batches_tracked"))
        .map(|t| t.elements())
        .sum::<u64>() as i64;
    file.seek(SeekFrom::Start(0)).map_err(io_error)?;
    Ok(FileSummary {
        path: path.into(),
        tensors,
        parameters,
        sha256: crate::digest::sha256_of(&mut file).map_err(io_error)?,
    })
}

/// NaN and ±Inf values of one tensor, read in blocks of at most 1 MiB.
fn count_non_finite_in_file(
    file: &mut File,
    layout: &Layout,
    entry: &TensorEntry,
) -> std::io::Result<u64> {
    if !entry.dtype.is_float() {
        return Ok(0);
    }
    file.seek(SeekFrom::Start(layout.data_start + entry.offsets[0]))?;
    let mut left = entry.byte_len();
    let mut buffer = vec![0u8; 1 << 20]; // a multiple of every dtype's size
    let mut count = 0;
    while left > 0 {
        let block = left.min(buffer.len() as u64) as usize;
        file.read_exact(&mut buffer[..block])?;
        let (nan, inf) = entry.dtype.count_non_finite(&buffer[..block]);
        count += nan + inf;
        left -= block as u64;
    }
    Ok(count)
}

pub(crate) fn ensure_file(path: &Path) -> Result<(), WeightsError> {
    Ok(crate::files::check_regular(path)?)
}

#[cfg(test)]
mod tests {
    use super::library_io_error;

    #[test]
    fn a_full_disk_inside_a_library_error_is_described_as_a_full_disk() {
        let full =
            r#"IoError(Os { code: 28, kind: StorageFull, message: "No space left on device" })"#;
        let described = crate::files::describe_io(&library_io_error(full));
        assert!(described.contains("free space"), "{described}");
        assert!(!described.contains("check that the path"), "{described}");
        let other = library_io_error(r#"InvalidHeader { message: "x" }"#).to_string();
        assert!(other.contains("writing the tensors failed"), "{other}");
    }
}
