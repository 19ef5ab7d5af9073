//! A classifier as the method uses it: an input spec, a normalisation inside the graph, and a
//! network that is either one of the five built-ins or a user's TorchScript model.

use std::path::Path;

use tch::nn::{self, ModuleT};
use tch::{Device, Tensor};

use super::weights::WeightsError;
use super::{Family, InputSpec, Scale};

enum Network {
    /// A built-in family with its own store, so that freezing it touches nothing else.
    Builtin { net: Box<dyn ModuleT>, store: nn::VarStore },
    /// A user's `torch.jit.script`/`trace` export.
    Scripted(tch::CModule),
}

pub struct Classifier {
    /// The paper's letter for a built-in (L, A, V, I, R) or the user's name.
    pub name: String,
    pub spec: InputSpec,
    network: Network,
}

impl Classifier {
    /// A freshly initialised built-in classifier (to train, or to load weights into).
    pub fn builtin(family: Family, scale: Scale, classes: i64, device: Device) -> Self {
        let store = nn::VarStore::new(device);
        let net = family.build(&store.root(), scale, classes);
        Classifier {
            name: family.letter().to_string(),
            spec: family.input_spec(scale),
            network: Network::Builtin { net, store },
        }
    }

    /// A user's TorchScript classifier, frozen, with the input spec the user gives for it.
    pub fn scripted(
        name: &str,
        file: &Path,
        spec: InputSpec,
        device: Device,
    ) -> Result<Self, WeightsError> {
        let mut module =
            tch::CModule::load_on_device(file, device).map_err(|error| WeightsError::Format {
                path: file.to_path_buf(),
                reason: format!(
                    "not a TorchScript file or damaged: {}; export the model with \
                     torch.jit.script(model).save(path) or torch.jit.trace, and copy the whole \
                     file",
                    first_line(&error.to_string())
                ),
            })?;
        module.set_eval();
        for (_, parameter) in module.named_parameters().map_err(|error| WeightsError::Format {
            path: file.to_path_buf(),
            reason: first_line(&error.to_string()),
        })? {
            // Gradients must reach the input, never the classifier's own weights.
            let _ = parameter.set_requires_grad(false);
        }
        Ok(Classifier { name: name.to_string(), spec, network: Network::Scripted(module) })
    }

    /// The store of a built-in classifier (None for TorchScript models).
    pub fn store(&self) -> Option<&nn::VarStore> {
        match &self.network {
            Network::Builtin { store, .. } => Some(store),
            Network::Scripted(_) => None,
        }
    }

    pub fn store_mut(&mut self) -> Option<&mut nn::VarStore> {
        match &mut self.network {
            Network::Builtin { store, .. } => Some(store),
            Network::Scripted(_) => None,
        }
    }

    /// Stops every parameter from training; the classifier then only passes gradients through.
    pub fn freeze(&mut self) {
        if let Some(store) = self.store_mut() {
            store.freeze();
        }
    }

    /// Logits for a batch of [0, 1] RGB images of the spec's size. `train` selects dropout and
    /// batch statistics; a frozen classifier is always called with `train = false`.
    pub fn logits(&self, images: &Tensor, train: bool) -> Tensor {
        let normalized = self.spec.normalization.apply(images);
        match &self.network {
            Network::Builtin { net, .. } => net.forward_t(&normalized, train),
            Network::Scripted(module) => module.forward_t(&normalized, false),
        }
    }

    /// Checks that the classifier can stand where training puts it: `images` (a probe batch,
    /// N×3×H×W) go forward in eval mode and a gradient comes back to them, as fine-tuning an
    /// AE through the frozen classifier needs. Returns the logits, or what is wrong: a forward
    /// pass that fails, an output that is not one tensor (a tuple, a list), not floating point,
    /// not one row per image, not finite, or not differentiable in the input (an argmax, a
    /// `.detach()`), or a backward pass that fails. Nothing panics: the libtorch calls that a
    /// user's model can make fail are the fallible ones.
    pub fn probe(&self, images: &Tensor) -> Result<Tensor, ProbeError> {
        let input = images.detach().set_requires_grad(true);
        let normalized = self.spec.normalization.apply(&input);
        let output = match &self.network {
            Network::Builtin { net, .. } => net.forward_t(&normalized, false),
            Network::Scripted(module) => {
                match module.forward_is(&[tch::IValue::Tensor(normalized)]) {
                    Ok(tch::IValue::Tensor(tensor)) => tensor,
                    Ok(other) => return Err(ProbeError::NotATensor(ivalue_kind(&other))),
                    Err(error) => return Err(ProbeError::Forward(first_line(&error.to_string()))),
                }
            }
        };
        let batch = images.size().first().copied().unwrap_or(0);
        if !output.f_is_floating_point().unwrap_or(false) {
            return Err(ProbeError::NotFloating(format!("{:?}", output.kind())));
        }
        if output.dim() != 2 || output.size()[0] != batch {
            return Err(ProbeError::NotOneRowPerImage(output.size()));
        }
        let finite =
            |t: &Tensor| t.f_isfinite().and_then(|f| f.f_all()).map(|a| a.int64_value(&[]) == 1);
        if !finite(&output).map_err(|e| ProbeError::Forward(first_line(&e.to_string())))? {
            return Err(ProbeError::NonFinite);
        }
        if !output.requires_grad() {
            return Err(ProbeError::NoGradient);
        }
        let backward = output
            .f_sum(output.kind())
            .and_then(|total| Tensor::f_run_backward(&[total], &[&input], false, false));
        let gradient = match backward {
            Ok(mut gradients) if !gradients.is_empty() => gradients.swap_remove(0),
            Ok(_) => return Err(ProbeError::NoGradient),
            Err(error) => return Err(ProbeError::Backward(first_line(&error.to_string()))),
        };
        if !gradient.defined() {
            return Err(ProbeError::NoGradient);
        }
        match finite(&gradient) {
            Ok(true) => Ok(output.detach()),
            Ok(false) => Err(ProbeError::NonFiniteGradient),
            Err(error) => Err(ProbeError::Backward(first_line(&error.to_string()))),
        }
    }
}

/// What a classifier's answer to a probe batch shows to be wrong ([`Classifier::probe`]); the
/// messages say what was found, the callers add the fix for their setting.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProbeError {
    /// The forward pass failed: libtorch's message.
    #[error("its forward pass fails ({0})")]
    Forward(String),
    /// Its forward returned something else than one tensor ("a tuple of 2 values").
    #[error(
        "its forward returns {0}, not one tensor of logits; return only the logits \
         (e.g. `return out[0]` in forward) and export it again"
    )]
    NotATensor(String),
    /// The output's element type is not floating point (argmax gives integers).
    #[error(
        "its output holds {0} values, not floating-point logits (an argmax or a rounding \
         gives class indices, not scores); return the logits before any argmax"
    )]
    NotFloating(String),
    /// The output's shape is not [batch, classes].
    #[error("its output has shape {0:?}, not [images, classes]")]
    NotOneRowPerImage(Vec<i64>),
    #[error("it gives NaN or Inf logits on a batch of plain images")]
    NonFinite,
    /// No gradient reaches the input: the AE behind it could not learn from it.
    #[error(
        "its output carries no gradient back to the input image (a `.detach()`, \
         `torch.no_grad()`, an argmax or a one-hot inside forward), so an AE cannot be \
         fine-tuned through it; export the model whose forward computes the logits \
         differentiably"
    )]
    NoGradient,
    #[error("the backward pass through it fails ({0})")]
    Backward(String),
    #[error("the gradient it passes back to the input is NaN or Inf")]
    NonFiniteGradient,
}

/// A TorchScript value's kind, for messages ("a tuple of 2 values").
fn ivalue_kind(value: &tch::IValue) -> String {
    use tch::IValue;
    match value {
        IValue::Tuple(values) => format!("a tuple of {} values", values.len()),
        IValue::TensorList(values) => format!("a list of {} tensors", values.len()),
        IValue::GenericList(values) => format!("a list of {} values", values.len()),
        IValue::GenericDict(entries) => format!("a dict of {} entries", entries.len()),
        IValue::None => "None".into(),
        IValue::Double(_) | IValue::Int(_) | IValue::Bool(_) => "a number".into(),
        IValue::String(_) | IValue::StringList(_) => "text".into(),
        _ => "an object".into(),
    }
}

/// The message of a libtorch error without what only its developers can read: the C++
/// backtrace and the TorchScript traceback around it (the interpreter's `RuntimeError: …` line
/// is kept if there is one), the `Internal torch error:` header and the `[enforce fail at
/// FILE:LINE]` location of a failed check. When the header stands alone on its line, the
/// message is on the next.
pub fn first_line(text: &str) -> String {
    let python_error = |line: &&str| {
        line.split_once("Error: ")
            .is_some_and(|(kind, _)| !kind.is_empty() && kind.chars().all(char::is_alphanumeric))
    };
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|line| !line.is_empty()).collect();
    if let Some(line) = lines.iter().copied().find(python_error) {
        return line.to_string();
    }
    let internal =
        |line: &str| line.starts_with("Exception raised from") || line.starts_with("frame #");
    let message = lines
        .iter()
        .map(|line| strip_location(line.trim_start_matches("Internal torch error:")))
        .take_while(|line| !internal(line))
        .find(|line| !line.is_empty());
    // A request to PyTorch's developers, not to the user.
    let message =
        message.map(|m| m.split(" (Could this error message be improved?").next().unwrap_or(m));
    match message {
        Some(message) => message.trim_end().to_string(),
        None => "libtorch gave no reason".into(),
    }
}

/// `line` without a leading `[enforce fail at FILE:LINE]` and the `. ` libtorch puts after it.
fn strip_location(line: &str) -> &str {
    let line = line.trim();
    match line.strip_prefix("[enforce fail at ").and_then(|rest| rest.split_once(']')) {
        Some((_, rest)) => rest.trim_start_matches([' ', '.']).trim(),
        None => line,
    }
}

/// A user's classifier as given on the command line:
/// `NAME=FILE.pt[,size=N][,resize=N][,mean=R:G:B][,std=R:G:B]` (defaults: 224, 256, ImageNet),
/// or `NAME=FILE.safetensors,family=F[,…]`: weights of a built-in family F.
#[derive(Debug, Clone, PartialEq)]
pub struct ScriptedSpec {
    pub name: String,
    pub file: std::path::PathBuf,
    pub input: InputSpec,
    /// The built-in family the safetensors file holds weights of; `None` for TorchScript.
    pub family: Option<Family>,
}

/// The longest name a user classifier may have: it heads table columns and figure legends.
const MAX_NAME: usize = 24;

/// Names end up in file names (`finetune-user-NAME`), tables and figure legends: ASCII
/// letters, digits, `_` and `-` only, and never `S` (A_S is the pre-trained AE).
fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() || Family::parse(name).is_some() {
        return Err(format!(
            "'{name}' cannot name a user classifier: it is empty or a built-in's name"
        ));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    if name.len() > MAX_NAME || !name.chars().all(allowed) || name == "S" {
        return Err(format!(
            "'{name}' cannot name a user classifier: use up to {MAX_NAME} ASCII letters, digits, \
             '_' or '-' (not 'S', the pre-trained AE's letter), e.g. mine or resnet18_ft"
        ));
    }
    Ok(())
}

impl std::str::FromStr for ScriptedSpec {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let usage = "expected NAME=FILE.pt[,size=N][,resize=N][,mean=R:G:B][,std=R:G:B] or \
                     NAME=FILE.safetensors,family=F[,…]";
        let (name, rest) = text.split_once('=').ok_or_else(|| format!("'{text}': {usage}"))?;
        let mut parts = rest.split(',');
        let file =
            parts.next().filter(|f| !f.is_empty()).ok_or_else(|| format!("'{text}': {usage}"))?;
        check_name(name)?;
        let mut input = InputSpec { size: 224, resize: 256, normalization: super::IMAGENET };
        let mut family = None;
        for option in parts {
            let (key, value) =
                option.split_once('=').ok_or_else(|| format!("'{option}': {usage}"))?;
            let bad = |what: &str| format!("'{option}' in '{text}': {what}");
            match key {
                "size" => {
                    input.size = value.parse().map_err(|_| bad("size must be a whole number"))?
                }
                "resize" => {
                    input.resize =
                        value.parse().map_err(|_| bad("resize must be a whole number"))?
                }
                "mean" | "std" => {
                    let values: Vec<f64> = value
                        .split(':')
                        .map(str::parse)
                        .collect::<Result<_, _>>()
                        .map_err(|_| bad("give three numbers as R:G:B"))?;
                    let values: [f64; 3] =
                        values.try_into().map_err(|_| bad("give three numbers as R:G:B"))?;
                    if key == "mean" {
                        input.normalization.mean = values;
                    } else if values.iter().all(|v| *v > 0.0) {
                        input.normalization.std = values;
                    } else {
                        return Err(bad("std values must be positive"));
                    }
                }
                "family" => {
                    family = Some(Family::parse(value).ok_or_else(|| {
                        bad("use lenet5, alexnet, vgg16_bn, inception_v3 or resnet50")
                    })?)
                }
                _ => return Err(bad("unknown option; use size, resize, mean, std or family")),
            }
        }
        if input.size <= 0 || input.resize < input.size {
            return Err(format!("'{text}': size must be positive and resize at least size"));
        }
        Ok(ScriptedSpec { name: name.to_string(), file: file.into(), input, family })
    }
}

impl ScriptedSpec {
    /// Loads a TorchScript classifier. Weights of a family (`family=F`) need the scale and
    /// class count of a run: [`ScriptedSpec::load_at`].
    pub fn load(&self, device: Device) -> Result<Classifier, WeightsError> {
        super::weights::ensure_file(&self.file)?;
        if let Some(family) = self.family {
            return Err(WeightsError::Format {
                path: self.file.clone(),
                reason: format!(
                    "family={} weights load into a model of a run's scale: use them with \
                     `dnlts reproduce --classifier`, or check them with `dnlts weights check \
                     FILE --model {}`",
                    family.name(),
                    family.name()
                ),
            });
        }
        Classifier::scripted(&self.name, &self.file, self.input, device)
    }

    /// Loads the classifier for a run at `scale` with `classes` classes: TorchScript as it is,
    /// family weights strictly into that family's model at `scale`, frozen either way.
    pub fn load_at(
        &self,
        scale: Scale,
        classes: i64,
        device: Device,
    ) -> Result<Classifier, WeightsError> {
        let Some(family) = self.family else { return self.load(device) };
        super::weights::ensure_file(&self.file)?;
        let mut classifier = Classifier::builtin(family, scale, classes, device);
        let store = classifier.store_mut().expect("a built-in family has a store");
        super::weights::load(&mut [store], &self.file, super::weights::LoadPolicy::Strict)?;
        classifier.name = self.name.clone();
        classifier.spec = self.input;
        classifier.freeze();
        Ok(classifier)
    }
}

#[cfg(test)]
mod tests {
    use super::first_line;

    #[test]
    fn first_line_keeps_the_message_and_drops_backtraces_and_tracebacks() {
        let backtrace = "Internal torch error: failed finding central directory.\n\
                         Exception raised from valid at inline_container.cc:242\nframe #0: c10";
        assert_eq!(first_line(backtrace), "failed finding central directory.");
        let enforce = "Internal torch error:\n[enforce fail at inline_container.cc:180] . file \
                       in archive is not in a subdirectory: data.pkl\nException raised from x";
        assert_eq!(first_line(enforce), "file in archive is not in a subdirectory: data.pkl");
        assert_eq!(first_line("Internal torch error: \nframe #0: c10"), "libtorch gave no reason");
        let plea = "Expected hasRecord(\"version\") to be true, but got false.  (Could this error \
                    message be improved?  If so, please report an enhancement request to PyTorch.)";
        assert_eq!(first_line(plea), "Expected hasRecord(\"version\") to be true, but got false.");
        let traceback = "The following operation failed in the TorchScript interpreter.\n\
                         Traceback of TorchScript (most recent call last):\n  x = torch.mm(a, b)\n\
                         RuntimeError: mat1 and mat2 shapes cannot be multiplied (2x3072 and 768x10)\n";
        assert_eq!(
            first_line(traceback),
            "RuntimeError: mat1 and mat2 shapes cannot be multiplied (2x3072 and 768x10)"
        );
    }
}
