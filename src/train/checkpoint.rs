//! Checkpoints: tensors (model, optimizer) in a safetensors file and everything else (step,
//! data position, scheduler, log) in a JSON file that also records the tensors' sha256.
//!
//! Both are written atomically (temporary file, fsync, rename), tensors first: a checkpoint
//! exists once its JSON does, and a tensor file that does not match its recorded sha256 is
//! reported, never half-loaded. The last `keep` checkpoints and the best one are kept.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tch::Tensor;

use crate::atomic::write_atomic;
use crate::digest::sha256_of;
use crate::models::weights::write_tensors;

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("cannot write checkpoint {}: {}", path.display(), crate::files::describe_io(source))]
    Write { path: PathBuf, source: std::io::Error },
    #[error("checkpoint {} is corrupt ({reason}); delete it to resume from the one before, or start afresh without --resume", path.display())]
    Corrupt { path: PathBuf, reason: String },
}

/// What the JSON half of a checkpoint holds besides the caller's state.
#[derive(Serialize, Deserialize)]
struct Envelope<S> {
    step: u64,
    tensors_sha256: String,
    /// Lower is better; the checkpoint with the lowest score survives pruning.
    score: Option<f64>,
    state: S,
}

pub struct Checkpoints {
    dir: PathBuf,
    keep: usize,
}

/// A loaded checkpoint.
pub struct Loaded<S> {
    pub step: u64,
    pub tensors: HashMap<String, Tensor>,
    pub state: S,
}

impl Checkpoints {
    pub fn new(dir: &Path, keep: usize) -> Self {
        Checkpoints { dir: dir.to_path_buf(), keep: keep.max(1) }
    }

    fn paths(&self, step: u64) -> (PathBuf, PathBuf) {
        let stem = self.dir.join(format!("step-{step:010}"));
        (stem.with_extension("safetensors"), stem.with_extension("json"))
    }

    /// Steps with a complete (JSON present) checkpoint, oldest first.
    pub fn steps(&self) -> Vec<u64> {
        let mut steps: Vec<u64> = fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .filter_map(|entry| {
                let name = entry.ok()?.file_name().into_string().ok()?;
                name.strip_prefix("step-")?.strip_suffix(".json")?.parse().ok()
            })
            .collect();
        steps.sort_unstable();
        steps
    }

    pub fn save<S: Serialize>(
        &self,
        step: u64,
        tensors: &[(String, Tensor)],
        state: &S,
        score: Option<f64>,
    ) -> Result<(), CheckpointError> {
        let (tensor_path, json_path) = self.paths(step);
        let write_error = |path: &Path| {
            let path = path.to_path_buf();
            move |source| CheckpointError::Write { path, source }
        };
        let pairs: Vec<(&str, Tensor)> = tensors
            .iter()
            .map(|(name, t)| (name.as_str(), t.to_device(tch::Device::Cpu).contiguous()))
            .collect();
        write_tensors(&pairs, &tensor_path).map_err(write_error(&tensor_path))?;
        let mut file = fs::File::open(&tensor_path).map_err(write_error(&tensor_path))?;
        let tensors_sha256 = sha256_of(&mut file).map_err(write_error(&tensor_path))?;
        crate::failpoint::hit("checkpoint-tensors", || tensor_path.display().to_string());
        let envelope = Envelope { step, tensors_sha256, score, state };
        let json = serde_json::to_vec_pretty(&envelope).expect("checkpoint state serialises");
        write_atomic(&json_path, &json).map_err(write_error(&json_path))?;
        self.prune();
        Ok(())
    }

    /// Removes all but the newest `keep` checkpoints and the best-scored one.
    fn prune(&self) {
        let steps = self.steps();
        let best = steps
            .iter()
            .filter_map(|&step| {
                Some((step, self.read_envelope::<serde_json::Value>(step).ok()?.score?))
            })
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(step, _)| step);
        let old = steps.len().saturating_sub(self.keep);
        for &step in &steps[..old] {
            if Some(step) != best {
                let (tensors, json) = self.paths(step);
                // JSON first: a checkpoint without JSON no longer counts, whatever remains.
                let _ = fs::remove_file(json);
                let _ = fs::remove_file(tensors);
            }
        }
    }

    fn read_envelope<S: DeserializeOwned>(
        &self,
        step: u64,
    ) -> Result<Envelope<S>, CheckpointError> {
        let (_, json_path) = self.paths(step);
        let corrupt = |reason: String| CheckpointError::Corrupt { path: json_path.clone(), reason };
        let bytes = fs::read(&json_path).map_err(|e| corrupt(e.to_string()))?;
        serde_json::from_slice(&bytes).map_err(|e| corrupt(format!("unreadable JSON: {e}")))
    }

    /// The newest checkpoint, verified; None when there is none.
    pub fn latest<S: DeserializeOwned>(&self) -> Result<Option<Loaded<S>>, CheckpointError> {
        match self.steps().last() {
            Some(&step) => self.load(step).map(Some),
            None => Ok(None),
        }
    }

    pub fn load<S: DeserializeOwned>(&self, step: u64) -> Result<Loaded<S>, CheckpointError> {
        let envelope: Envelope<S> = self.read_envelope(step)?;
        let (tensor_path, _) = self.paths(step);
        let corrupt =
            |reason: String| CheckpointError::Corrupt { path: tensor_path.clone(), reason };
        let mut file = fs::File::open(&tensor_path).map_err(|e| corrupt(e.to_string()))?;
        let found = sha256_of(&mut file).map_err(|e| corrupt(e.to_string()))?;
        if found != envelope.tensors_sha256 {
            return Err(corrupt(format!(
                "sha256 {found} differs from the recorded {}",
                envelope.tensors_sha256
            )));
        }
        let tensors = Tensor::read_safetensors(&tensor_path)
            .map_err(|e| corrupt(e.to_string()))?
            .into_iter()
            .collect();
        Ok(Loaded { step: envelope.step, tensors, state: envelope.state })
    }
}
