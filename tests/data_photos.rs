//! Real photos (fixtures/photos, CC BY 2.0, see fixtures/README.md): JPEG decode and the eval
//! pipeline against Pillow, and the YFCC filter on real content.

use dnlts::data::resize::EvalTransform;
use dnlts::data::{decode_rgb, yfcc};
use std::path::PathBuf;

fn photos() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/photos")
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(photos().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn decode_matches_pillow_mean_colour() {
    let reference: serde_json::Value = serde_json::from_slice(&read("reference.json")).unwrap();
    for name in ["china", "flower"] {
        let img = decode_rgb(&read(&format!("{name}.jpg"))).unwrap();
        assert_eq!(img.dimensions(), (400, 267));
        let n = (400 * 267) as f64;
        for c in 0..3 {
            let mean = img.pixels().map(|p| p.0[c] as f64).sum::<f64>() / n;
            let want = reference[name][c].as_f64().unwrap();
            // Decoders differ by IDCT/upsampling rounding, not by bias: means agree closely.
            assert!((mean - want).abs() < 0.5, "{name} channel {c}: {mean} vs {want}");
        }
    }
}

#[test]
fn eval_pipeline_matches_pillow_on_real_jpegs() {
    for name in ["china", "flower"] {
        let img = decode_rgb(&read(&format!("{name}.jpg"))).unwrap();
        let ours = EvalTransform { resize: 32, crop: 32 }.apply(&img, name).unwrap();
        let reference =
            image::load_from_memory(&read(&format!("{name}_eval32.png"))).unwrap().into_rgb8();
        let max = ours
            .as_raw()
            .iter()
            .zip(reference.as_raw())
            .map(|(a, b)| a.abs_diff(*b))
            .max()
            .unwrap();
        // The resize is bit-exact (tests/data_resize.rs); what remains is JPEG decoder
        // rounding averaged over ~8×8 source pixels per output pixel.
        assert!(max <= 2, "{name}: max difference {max} levels");
    }
}

#[test]
fn real_photos_pass_the_yfcc_filter() {
    for name in ["china.jpg", "flower.jpg"] {
        let img = yfcc::filter(&read(name)).unwrap();
        assert!(yfcc::max_channel_std(&img) > 20.0, "{name}");
    }
}

/// Largest and mean absolute difference, in levels, between two images of one size.
fn difference(a: &image::RgbImage, b: &image::RgbImage) -> (u8, f64) {
    let diffs: Vec<u8> = a.as_raw().iter().zip(b.as_raw()).map(|(x, y)| x.abs_diff(*y)).collect();
    let mean = diffs.iter().map(|&d| d as f64).sum::<f64>() / diffs.len() as f64;
    (diffs.into_iter().max().unwrap_or(0), mean)
}

#[test]
fn the_paper_crops_match_torchvisions_eval_transforms() {
    // fixtures/photos/make_eval_crops.py: torchvision's Resize + CenterCrop on Pillow's decode.
    for (transform, crop) in [(EvalTransform::STANDARD, 224), (EvalTransform::INCEPTION, 299)] {
        for name in ["china", "flower"] {
            let img = decode_rgb(&read(&format!("{name}.jpg"))).unwrap();
            let ours = transform.apply(&img, name).unwrap();
            let reference = image::load_from_memory(&read(&format!("{name}_eval{crop}.png")))
                .unwrap()
                .into_rgb8();
            assert_eq!(ours.dimensions(), reference.dimensions(), "{name} at {crop}");
            let (max, mean) = difference(&ours, &reference);
            // The resize is bit-exact (tests/data_resize.rs); what remains is the two JPEG
            // decoders' IDCT and chroma upsampling rounding, barely averaged at this scale.
            assert!(mean < 1.0 && max <= 24, "{name} at {crop}: max {max}, mean {mean:.3}");
            // A crop one pixel off is far worse: the check sees the crop's placement.
            let (w, h) = reference.dimensions();
            let shifted = image::imageops::crop_imm(&ours, 1, 0, w - 1, h).to_image();
            let cut = image::imageops::crop_imm(&reference, 0, 0, w - 1, h).to_image();
            let (_, shifted_mean) = difference(&shifted, &cut);
            assert!(shifted_mean > 2.0 * mean, "{name} at {crop}: {shifted_mean:.3} vs {mean:.3}");
        }
    }
}
