//! Writes paper-smoke's generated inputs (`dnlts::smoke`, what `tests/paper_smoke.rs` runs on)
//! with as many validation images as asked: the ImageNet-layout tree in `DIR/imagenet`, the
//! YFCC-layout tree in `DIR/yfcc` and torchvision-named random weights of A, V, I, R in
//! `DIR/weights` (about 0.95 GB). docs/paper-scale.md ("Peak memory of the evaluation") uses
//! such trees to measure the evaluation's peak memory against the number of validation images.
//!
//! ```text
//! scripts/with-libtorch.sh cargo run --release --example smoke_tree -- DIR [--val-images 4] [--no-weights]
//! ```

use std::path::PathBuf;

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut dir, mut val_images, mut weights) = (None, 4u32, true);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--val-images" => {
                let value = args.next().unwrap_or_default();
                val_images = value.parse().unwrap_or_else(|_| {
                    fail(&format!("--val-images takes a count, not '{value}'"))
                });
            }
            "--no-weights" => weights = false,
            other if other.starts_with("--") => fail(&format!("unknown option {other}")),
            other => dir = Some(PathBuf::from(other)),
        }
    }
    let dir = dir.unwrap_or_else(|| fail("name the folder to write into"));
    if let Err(error) = dnlts::smoke::write_tree(&dir, val_images) {
        fail(&format!("cannot write the tree: {error}"));
    }
    if weights {
        if let Err(error) = dnlts::smoke::write_weights(&dir.join("weights")) {
            fail(&format!("cannot write the weights: {error}"));
        }
    }
    println!(
        "{}: imagenet/ ({val_images} validation images), yfcc/{}",
        dir.display(),
        if weights { ", weights/" } else { "" }
    );
}

fn fail(message: &str) -> ! {
    eprintln!(
        "smoke_tree: {message}\nusage: cargo run --release --example smoke_tree -- DIR \
         [--val-images N] [--no-weights]"
    );
    std::process::exit(2)
}
