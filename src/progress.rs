//! Progress of a long loop (training, evaluation): a bar with images/s, ETA and the loop's
//! loss and learning rate on a terminal, a log line every 10% otherwise (CI logs, pipes).

use std::io::IsTerminal;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

pub struct Progress {
    label: String,
    total: u64,
    bar: Option<ProgressBar>,
    started: Instant,
    next_log: u64,
}

impl Progress {
    pub fn new(label: &str, total_images: u64) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(total_images);
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix:>14} [{bar:30}] {pos}/{len} img  {per_sec}  ETA {eta}  {msg}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            bar.set_prefix(label.to_string());
            bar
        });
        Progress {
            label: label.to_string(),
            total: total_images,
            bar,
            started: Instant::now(),
            next_log: 0,
        }
    }

    pub fn set_position(&mut self, images: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(images);
        }
        self.next_log = images;
    }

    /// Where a training loop stands: images done, with its loss and learning rate.
    pub fn update(&mut self, images: u64, loss: f64, lr: f64) {
        self.report(images, &format!("loss {loss:.4}, lr {lr:.2e}"));
    }

    /// Where a loop without a loss stands (an evaluation pass).
    pub fn advance(&mut self, images: u64) {
        self.report(images, "");
    }

    fn report(&mut self, images: u64, detail: &str) {
        match &self.bar {
            Some(bar) => {
                bar.set_position(images);
                bar.set_message(detail.to_string());
            }
            None if images >= self.next_log => {
                let seconds = self.started.elapsed().as_secs_f64().max(1e-9);
                let detail = if detail.is_empty() { String::new() } else { format!(", {detail}") };
                eprintln!(
                    "{}: {images}/{} images{detail}, {:.0} img/s",
                    self.label,
                    self.total,
                    images as f64 / seconds
                );
                self.next_log = images + (self.total / 10).max(1);
            }
            None => {}
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
