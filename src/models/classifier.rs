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
}

/// A user's classifier as given on the command line:
/// `NAME=FILE.pt[,size=N][,resize=N][,mean=R:G:B][,std=R:G:B]` (defaults: 224, 256, ImageNet).
#[derive(Debug, Clone, PartialEq)]
pub struct ScriptedSpec {
    pub name: String,
    pub file: std::path::PathBuf,
    pub input: InputSpec,
}

impl std::str::FromStr for ScriptedSpec {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let usage = "expected NAME=FILE.pt[,size=N][,resize=N][,mean=R:G:B][,std=R:G:B]";
        let (name, rest) = text.split_once('=').ok_or_else(|| format!("'{text}': {usage}"))?;
        let mut parts = rest.split(',');
        let file =
            parts.next().filter(|f| !f.is_empty()).ok_or_else(|| format!("'{text}': {usage}"))?;
        if name.is_empty() || Family::parse(name).is_some() {
            return Err(format!(
                "'{name}' cannot name a user classifier: it is empty or a built-in's name"
            ));
        }
        let mut input = InputSpec { size: 224, resize: 256, normalization: super::IMAGENET };
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
                _ => return Err(bad("unknown option; use size, resize, mean or std")),
            }
        }
        if input.size <= 0 || input.resize < input.size {
            return Err(format!("'{text}': size must be positive and resize at least size"));
        }
        Ok(ScriptedSpec { name: name.to_string(), file: file.into(), input })
    }
}

impl ScriptedSpec {
    pub fn load(&self, device: Device) -> Result<Classifier, WeightsError> {
        super::weights::ensure_file(&self.file)?;
        Classifier::scripted(&self.name, &self.file, self.input, device)
    }
}

/// libtorch's messages continue with a C++ backtrace after their first line.
pub(crate) fn first_line(message: &str) -> &str {
    message.lines().next().unwrap_or(message).trim()
}
