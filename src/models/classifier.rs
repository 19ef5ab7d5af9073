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
                    "not a loadable TorchScript module ({}); export it with \
                     torch.jit.script(model).save(path) or torch.jit.trace",
                    first_line(&error.to_string())
                ),
            })?;
        module.set_eval();
        for (_, parameter) in module.named_parameters().map_err(|error| WeightsError::Format {
            path: file.to_path_buf(),
            reason: first_line(&error.to_string()).to_string(),
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

    /// [`Classifier::logits`] in eval mode, with a TorchScript model's own failure (an input
    /// size its layers cannot take, a wrong output type) returned instead of a panic: what
    /// checks a user's model before anything trains.
    pub fn try_logits(&self, images: &Tensor) -> Result<Tensor, tch::TchError> {
        let normalized = self.spec.normalization.apply(images);
        match &self.network {
            Network::Builtin { net, .. } => Ok(net.forward_t(&normalized, false)),
            Network::Scripted(module) => module.forward_ts(&[normalized]),
        }
    }
}

/// The message of a libtorch error without the C++ backtrace or the TorchScript traceback
/// around it: the interpreter's `RuntimeError: …` line if there is one, else the first line.
pub fn first_line(text: &str) -> &str {
    let python_error = |line: &&str| {
        line.split_once("Error: ")
            .is_some_and(|(kind, _)| !kind.is_empty() && kind.chars().all(char::is_alphanumeric))
    };
    let mut lines = text.lines().map(str::trim).filter(|line| !line.is_empty());
    text.lines().map(str::trim).find(python_error).or_else(|| lines.next()).unwrap_or(text)
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
        assert_eq!(
            first_line(backtrace),
            "Internal torch error: failed finding central directory."
        );
        let traceback = "The following operation failed in the TorchScript interpreter.\n\
                         Traceback of TorchScript (most recent call last):\n  x = torch.mm(a, b)\n\
                         RuntimeError: mat1 and mat2 shapes cannot be multiplied (2x3072 and 768x10)\n";
        assert_eq!(
            first_line(traceback),
            "RuntimeError: mat1 and mat2 shapes cannot be multiplied (2x3072 and 768x10)"
        );
    }
}
