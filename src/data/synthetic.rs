//! Embedded synthetic datasets: a labelled classification set whose class is carried by four
//! redundant, individually imperfect cues at different spatial frequencies and channels, and an
//! unlabeled stream (the YFCC100m stand-in) that mixes the same primitives with extra ones.
//!
//! Every image is a pure function of `(config, index)`: arithmetic is f32 `+ - * /` and
//! `floor` only (IEEE-exact, no fused multiply-add, no libm transcendental), so the bytes are the
//! same on every machine. Rotations use the rational parametrisation
//! `cos = (1-t²)/(1+t²)`, `sin = 2t/(1+t²)` instead of `sin`/`cos`.
//!
//! Cues of the labelled set (class `k` of `K`):
//! - **palette** (lowest frequency): background gradient and object base colour use hue `k/K`;
//! - **shape** (mid frequency): the object's silhouette, drawn darker inside its disc, is shape
//!   `k mod 10`;
//! - **texture** (high frequency): a square-wave grating over the object's disc, orientation
//!   `code mod 4` (0°, 45°, 90°, 135°) and period `[2.5, 3.5, 5] px (at 32 px)[code / 4]`,
//!   `code = k mod 12`;
//! - **opponent** (local, colour-only): three small patches at random places anywhere in the
//!   image where a colour-opponent pattern adds to one channel what it removes from another
//!   (luminance unchanged); channel pair `code mod 3` (RG, GB, RB), pattern `code / 3` (1-px
//!   checker, 1-px columns, 1-px rows, 2-px checker), `code = k mod 12`.
//!
//! The object is a disc with its silhouette inside, drawn over four clutter parts of the same
//! size: silhouettes of any shape but the disc, with other classes' hues and textures. Which
//! textures are present says little; the one on the disc says the class. A reader has to find
//! the object and read the cues on it (bind them to it), which a LeNet-5 does much worse than a
//! ResNet (README, "The synthetic world").
//!
//! Each cue shows the true class with probability `reliability`, otherwise a class drawn
//! uniformly (so it may still be right by chance). A cue switched off is still drawn but from a
//! class-independent source (random hue, random shape/code), so image statistics stay the same
//! and only the information is removed. Nuisances: position, scale, rotation, lighting gain and
//! gradient, clutter with other classes' colours and textures, and pixel noise.

use super::source::Split;
use super::{hash_unit, DataError, Result, SampleRng};
use image::RgbImage;
use serde::{Deserialize, Serialize};

/// The project's master seed (design.md, "Determinism").
pub const DEFAULT_SEED: u64 = 2018;
/// Number of class shapes; classes beyond it reuse shapes (`k mod 10`).
pub const CLASS_SHAPES: u32 = 10;
/// Extra primitives only the unlabeled stream uses (ellipse, line, dots, half-plane, superellipse).
pub const EXTRA_SHAPES: u32 = 5;
/// Number of distinct texture and opponent codes; classes beyond it reuse codes.
pub const CODES: u32 = 12;
/// Colour-opponent patches per labelled image (all showing the same code).
pub const OPPONENT_PATCHES: u32 = 3;

/// Radius of the labelled set's object and clutter parts, and how far their centres move
/// (fractions of the half-width, before the scale and position nuisances).
const PART_RADIUS: f32 = 0.35;
const PART_SPREAD: f32 = 0.6;
/// The object is a disc with its silhouette inside, shrunk by this factor and darkened by
/// this gain.
const SILHOUETTE: f32 = 1.25;
const SILHOUETTE_SHADE: f32 = 0.6;

const PURPOSE_LABEL: u64 = 0x1AB1;
const PURPOSE_LABELLED: u64 = 0x1AB2;
const PURPOSE_UNLABELED: u64 = 0x57EA;

/// Which cues carry class information (the ablation switch).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct CueSwitches {
    pub palette: bool,
    pub shape: bool,
    pub texture: bool,
    pub opponent: bool,
}

impl Default for CueSwitches {
    fn default() -> Self {
        Self { palette: true, shape: true, texture: true, opponent: true }
    }
}

impl CueSwitches {
    /// The ablations by name: every cue, or all but one.
    pub const ABLATIONS: [&'static str; 5] =
        ["full", "no-palette", "no-shape", "no-texture", "no-opponent"];

    /// The switches of an ablation named as in [`Self::ABLATIONS`].
    pub fn ablation(name: &str) -> Result<Self> {
        let mut cues = Self::default();
        match name {
            "full" => {}
            "no-palette" => cues.palette = false,
            "no-shape" => cues.shape = false,
            "no-texture" => cues.texture = false,
            "no-opponent" => cues.opponent = false,
            other => {
                return Err(DataError::InvalidValue {
                    name: "ablation",
                    value: other.to_string(),
                    fix: "use full, no-palette, no-shape, no-texture or no-opponent",
                })
            }
        }
        Ok(cues)
    }
}

/// Strength of one cue.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cue {
    /// Probability that the cue shows the true class (else a uniformly drawn class).
    pub reliability: f32,
    /// Visual strength in `[0, 1]`: saturation (palette), object/background contrast (shape),
    /// grating contrast (texture), channel swing (opponent).
    pub amplitude: f32,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct CueStrengths {
    pub palette: Cue,
    pub shape: Cue,
    pub texture: Cue,
    pub opponent: Cue,
}

impl Default for CueStrengths {
    /// Texture is the main cue, palette and shape are weak, the colour-opponent patches in
    /// between. Accuracy ceilings of an ideal reader of a subset of cues (Bayes rule over the
    /// cue classes, 10 classes; `cargo run --release --example generator_study -- --ceilings`):
    ///
    /// | cues read | ceiling |
    /// |---|---|
    /// | palette / shape / texture / opponent alone | 0.41 / 0.50 / 0.91 / 0.55 |
    /// | palette+shape / palette+shape+opponent | 0.50 / 0.63 |
    /// | texture with any other cues | 0.91–0.92 |
    /// | all four | 0.92 |
    ///
    /// So no model reaches 100 %, and ablating texture costs a texture reader over 25 points
    /// while ablating palette or shape costs it about one. These are ceilings of information;
    /// what a network reaches also depends on finding the object among the clutter (the module
    /// documentation). Why not the reverse (strong palette and shape): at the `small` scale a
    /// LeNet-5 reads low- and mid-frequency cues at least as well as the deeper families (see
    /// the study's numbers in the commit history).
    fn default() -> Self {
        Self {
            palette: Cue { reliability: 0.35, amplitude: 0.55 },
            shape: Cue { reliability: 0.45, amplitude: 0.6 },
            texture: Cue { reliability: 0.9, amplitude: 0.35 },
            opponent: Cue { reliability: 0.5, amplitude: 0.35 },
        }
    }
}

/// Class-independent variation, each in `[0, 1]` except `clutter` (a count of parts).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Nuisance {
    /// Object and clutter centres move up to `0.6 * position` of the half-width.
    pub position: f32,
    /// Object and clutter radii vary by up to `±35 % * scale`.
    pub scale: f32,
    /// Object rotation up to `±30° * rotation` (approximately; rational parametrisation).
    pub rotation: f32,
    /// Global gain `±30 % * lighting` and a linear gradient up to `±25 % * lighting`.
    pub lighting: f32,
    /// How many clutter parts from other classes lie behind the object.
    pub clutter: u32,
    /// Per-pixel, per-channel uniform noise amplitude on `[0, 1]` values.
    pub pixel_noise: f32,
}

impl Default for Nuisance {
    fn default() -> Self {
        Self {
            position: 1.0,
            scale: 1.0,
            rotation: 1.0,
            lighting: 1.0,
            clutter: 4,
            pixel_noise: 0.04,
        }
    }
}

/// Configuration of both synthetic sets, saved beside every artefact.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SyntheticConfig {
    pub seed: u64,
    /// Width and height in pixels (square images), 8..=1024.
    pub size: u32,
    /// Number of classes `K` of the labelled set, 2..=1000.
    pub classes: u32,
    pub cues: CueSwitches,
    pub strengths: CueStrengths,
    pub nuisance: Nuisance,
}

impl Default for SyntheticConfig {
    fn default() -> Self {
        Self {
            seed: DEFAULT_SEED,
            size: 32,
            classes: 10,
            cues: CueSwitches::default(),
            strengths: CueStrengths::default(),
            nuisance: Nuisance::default(),
        }
    }
}

impl SyntheticConfig {
    /// Named presets: `ci`/`small` are 32×32 with 10 classes; `large` is 64×64.
    pub fn preset(name: &str) -> Result<Self> {
        match name {
            "ci" | "small" => Ok(Self::default()),
            "large" => Ok(Self { size: 64, ..Self::default() }),
            other => Err(DataError::InvalidValue {
                name: "synthetic preset",
                value: other.to_string(),
                fix: "use one of: ci, small, large",
            }),
        }
    }

    pub fn validate(&self) -> Result<()> {
        if !(8..=1024).contains(&self.size) {
            return Err(DataError::InvalidValue {
                name: "size",
                value: self.size.to_string(),
                fix: "choose an image size between 8 and 1024 pixels",
            });
        }
        if !(2..=1000).contains(&self.classes) {
            return Err(DataError::InvalidValue {
                name: "classes",
                value: self.classes.to_string(),
                fix: "choose between 2 and 1000 classes",
            });
        }
        let s = &self.strengths;
        for cue in [s.palette, s.shape, s.texture, s.opponent] {
            let ok = |v: f32| (0.0..=1.0).contains(&v);
            if !ok(cue.reliability) || !ok(cue.amplitude) {
                return Err(DataError::InvalidValue {
                    name: "cue strength",
                    value: format!("{cue:?}"),
                    fix: "reliability and amplitude must lie in [0, 1]",
                });
            }
        }
        Ok(())
    }
}

/// Class of labelled sample `index` (uniform over classes, independent of the image noise).
pub fn label(config: &SyntheticConfig, index: u64) -> u32 {
    SampleRng::new(config.seed, index, PURPOSE_LABEL).below(config.classes)
}

/// Labelled sample `index`: `(image, class)`. Pure: same bytes on any machine and thread.
pub fn labelled(config: &SyntheticConfig, index: u64) -> (RgbImage, u32) {
    let class = label(config, index);
    let mut rng = SampleRng::new(config.seed, index, PURPOSE_LABELLED);
    let scene = labelled_scene(config, class, &mut rng);
    (render(&scene, config.size, mix_key(config.seed, index)), class)
}

/// Unlabeled sample `index` of the pre-training stream.
pub fn unlabeled(config: &SyntheticConfig, index: u64) -> RgbImage {
    let mut rng = SampleRng::new(config.seed, index, PURPOSE_UNLABELED);
    let scene = unlabeled_scene(config, &mut rng);
    render(&scene, config.size, mix_key(config.seed ^ 0xFEED, index))
}

fn mix_key(seed: u64, index: u64) -> u64 {
    super::mix64(seed.rotate_left(17) ^ super::mix64(index))
}

type Rgb = [f32; 3];

/// One object: silhouette, placement, colour and optional grating.
#[derive(Clone, Debug)]
struct Part {
    shape: u32,
    cx: f32,
    cy: f32,
    radius: f32,
    cos: f32,
    sin: f32,
    colour: Rgb,
    grating: Option<Grating>,
    /// Drawn as a disc of its colour and texture with its silhouette darker inside (the
    /// labelled set's object, some parts of the unlabeled stream).
    on_disc: bool,
}

#[derive(Clone, Copy, Debug)]
struct Grating {
    /// Direction times frequency, in cycles per pixel.
    fx: f32,
    fy: f32,
    phase: f32,
    amplitude: f32,
}

#[derive(Clone, Copy, Debug)]
struct OpponentPatch {
    cx: f32,
    cy: f32,
    radius: f32,
    plus: usize,
    minus: usize,
    pattern: u32,
    amplitude: f32,
}

#[derive(Clone, Debug)]
struct Scene {
    background: (Rgb, Rgb),
    /// Direction of the background gradient.
    gradient: (f32, f32),
    /// Drawn in order: clutter first, the main object last.
    parts: Vec<Part>,
    /// Colour-opponent patches, drawn over everything else.
    patches: Vec<OpponentPatch>,
    gain: f32,
    light: (f32, f32),
    pixel_noise: f32,
}

fn labelled_scene(config: &SyntheticConfig, class: u32, rng: &mut SampleRng) -> Scene {
    let k = config.classes;
    let s = &config.strengths;
    let n = &config.nuisance;
    // Draw every cue's class even when unused, so switching one cue off changes nothing else.
    let palette_class = cue_class(rng, class, k, s.palette.reliability);
    let shape_class = cue_class(rng, class, k, s.shape.reliability);
    let texture_class = cue_class(rng, class, k, s.texture.reliability);
    let opponent_class = cue_class(rng, class, k, s.opponent.reliability);
    let random_hue = rng.unit();
    let random_shape = rng.below(CLASS_SHAPES);
    let random_texture = rng.below(CODES);
    let random_opponent = rng.below(CODES);

    let hue = if config.cues.palette { palette_class as f32 / k as f32 } else { random_hue };
    let shape = if config.cues.shape { shape_class % CLASS_SHAPES } else { random_shape };
    let texture_code = if config.cues.texture { texture_class % CODES } else { random_texture };
    let opponent_code = if config.cues.opponent { opponent_class % CODES } else { random_opponent };

    let sat = s.palette.amplitude;
    let background = (
        hsv(hue + 0.03 * rng.signed(), sat * 0.7, 0.45 + 0.1 * rng.signed()),
        hsv(hue + 0.03 * rng.signed(), sat * 0.5, 0.7 + 0.1 * rng.signed()),
    );
    let gradient = (rng.signed(), rng.signed());

    // Clutter as large as the object, with other classes' hues and textures: the object's
    // cues have to be read on the disc, not counted over the image.
    let mut parts: Vec<Part> = (0..n.clutter).map(|_| clutter_part(config, class, rng)).collect();
    let object_colour = object_colour(background.0, hue, s, rng);
    let grating = class_grating(texture_code, config.size, s.texture.amplitude, rng);
    parts.push(Part {
        shape,
        colour: object_colour,
        grating: Some(grating),
        on_disc: true,
        ..placement(rng, n, PART_RADIUS, PART_SPREAD)
    });
    // Small patches anywhere in the image (not only near the object), all with the same code:
    // fine, local colour evidence that a reader has to find wherever it is.
    let patches = (0..OPPONENT_PATCHES)
        .map(|_| opponent_patch(opponent_code, s.opponent.amplitude, 0.85, (0.15, 0.22), rng))
        .collect();
    let (gain, light) = lighting(rng, n.lighting);
    Scene { background, gradient, parts, patches, gain, light, pixel_noise: n.pixel_noise }
}

/// The cue shows `class` with probability `reliability`, else a uniformly drawn class.
fn cue_class(rng: &mut SampleRng, class: u32, k: u32, reliability: f32) -> u32 {
    let keep = rng.chance(reliability);
    let other = rng.below(k);
    if keep {
        class
    } else {
        other
    }
}

/// Object colour: the palette hue, brighter and more saturated than the background, mixed with
/// the background by `1 - shape amplitude` (how visible the silhouette is).
fn object_colour(bg: Rgb, hue: f32, s: &CueStrengths, rng: &mut SampleRng) -> Rgb {
    let own = hsv(hue + 0.03 * rng.signed(), s.palette.amplitude, 0.75 + 0.15 * rng.signed());
    let a = s.shape.amplitude;
    let inverse = 1.0 - a;
    [own[0] * a + bg[0] * inverse, own[1] * a + bg[1] * inverse, own[2] * a + bg[2] * inverse]
}

/// A part with another class's hue and texture, placed like the object. Attributes whose cue
/// is switched off come from a uniformly drawn class instead, so clutter never leaks an ablated
/// cue (not even as "this class is absent" evidence).
fn clutter_part(config: &SyntheticConfig, class: u32, rng: &mut SampleRng) -> Part {
    let k = config.classes;
    let other = (class + 1 + rng.below(k - 1)) % k;
    let any = rng.below(k);
    let pick = |on: bool| if on { other } else { any };
    let cues = config.cues;
    let s = &config.strengths;
    let hue = pick(cues.palette) as f32 / k as f32;
    let colour = hsv(hue + 0.03 * rng.signed(), s.palette.amplitude, 0.6 + 0.2 * rng.signed());
    let texture_code = pick(cues.texture) % CODES;
    let grating = class_grating(texture_code, config.size, s.texture.amplitude, rng);
    // Any silhouette but the disc, which marks the object.
    let shape = 1 + rng.below(CLASS_SHAPES - 1);
    let part = placement(rng, &config.nuisance, PART_RADIUS, PART_SPREAD);
    Part { shape, colour, grating: Some(grating), ..part }
}

/// Random placement: centre within `spread` of the middle, radius `base ± 35 %`, rotation.
fn placement(rng: &mut SampleRng, n: &Nuisance, base: f32, spread: f32) -> Part {
    let cx = spread * n.position * rng.signed();
    let cy = spread * n.position * rng.signed();
    let radius = base * (1.0 + 0.35 * n.scale * rng.signed());
    // t = tan(θ/2); |t| ≤ tan(15°) gives |θ| ≤ 30°.
    let t = 0.267_949_2 * n.rotation * rng.signed();
    let (cos, sin) = rational_rotation(t);
    Part { shape: 0, cx, cy, radius, cos, sin, colour: [0.0; 3], grating: None, on_disc: false }
}

fn rational_rotation(t: f32) -> (f32, f32) {
    let d = 1.0 + t * t;
    ((1.0 - t * t) / d, 2.0 * t / d)
}

/// Texture code → grating: orientation `code mod 4`, period index `code / 4`.
fn class_grating(code: u32, size: u32, amplitude: f32, rng: &mut SampleRng) -> Grating {
    const DIRS: [(f32, f32); 4] =
        [(1.0, 0.0), (0.707_106_77, 0.707_106_77), (0.0, 1.0), (-0.707_106_77, 0.707_106_77)];
    const PERIODS_AT_32: [f32; 3] = [2.5, 3.5, 5.0];
    let (dx, dy) = DIRS[(code % 4) as usize];
    let period = PERIODS_AT_32[((code / 4) % 3) as usize] * size as f32 / 32.0;
    Grating { fx: dx / period, fy: dy / period, phase: rng.unit(), amplitude }
}

/// A colour-opponent patch of pattern `code`, centred within `spread` of the middle, radius in
/// `radii` (fractions of the half-width).
fn opponent_patch(
    code: u32,
    amplitude: f32,
    spread: f32,
    radii: (f32, f32),
    rng: &mut SampleRng,
) -> OpponentPatch {
    const PAIRS: [(usize, usize); 3] = [(0, 1), (1, 2), (0, 2)];
    let (plus, minus) = PAIRS[(code % 3) as usize];
    OpponentPatch {
        cx: spread * rng.signed(),
        cy: spread * rng.signed(),
        radius: radii.0 + (radii.1 - radii.0) * rng.unit(),
        plus,
        minus,
        pattern: (code / 3) % 4,
        amplitude,
    }
}

fn lighting(rng: &mut SampleRng, strength: f32) -> (f32, (f32, f32)) {
    let gain = 1.0 + 0.3 * strength * rng.signed();
    let light = (0.25 * strength * rng.signed(), 0.25 * strength * rng.signed());
    (gain, light)
}

fn unlabeled_scene(config: &SyntheticConfig, rng: &mut SampleRng) -> Scene {
    let n = &config.nuisance;
    let background = (
        hsv(rng.unit(), rng.unit(), rng.range(0.1, 0.9)),
        hsv(rng.unit(), rng.unit(), rng.range(0.1, 0.9)),
    );
    let gradient = (rng.signed(), rng.signed());
    let count = 1 + rng.below(4);
    let mut parts = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let base = rng.range(0.15, 0.7);
        let mut part = placement(rng, n, base, 0.7);
        part.shape = rng.below(CLASS_SHAPES + EXTRA_SHAPES);
        part.colour = hsv(rng.unit(), rng.unit(), rng.range(0.2, 1.0));
        part.grating = rng.chance(0.6).then(|| random_grating(rng));
        part.on_disc = rng.chance(0.25);
        parts.push(part);
    }
    let patch = rng.chance(0.3).then(|| {
        let (code, amplitude) = (rng.below(CODES), rng.range(0.1, 0.4));
        opponent_patch(code, amplitude, 0.6, (0.25, 0.35), rng)
    });
    let (gain, light) = lighting(rng, n.lighting);
    Scene {
        background,
        gradient,
        parts,
        patches: patch.into_iter().collect(),
        gain,
        light,
        pixel_noise: n.pixel_noise * rng.unit() * 2.0,
    }
}

/// Any orientation (rational rotation of the x axis), period 2–12 px.
fn random_grating(rng: &mut SampleRng) -> Grating {
    let (c, s) = rational_rotation(rng.signed());
    let period = rng.range(2.0, 12.0);
    Grating { fx: c / period, fy: s / period, phase: rng.unit(), amplitude: rng.range(0.05, 0.4) }
}

/// HSV → RGB, hue wraps; piecewise linear, no transcendental functions.
fn hsv(hue: f32, sat: f32, val: f32) -> Rgb {
    let h = (hue - hue.floor()) * 6.0;
    let sector = h.floor();
    let f = h - sector;
    let v = val.clamp(0.0, 1.0);
    let s = sat.clamp(0.0, 1.0);
    let p = v * (1.0 - s);
    let q = v * (1.0 - s * f);
    let t = v * (1.0 - s * (1.0 - f));
    match sector as i32 {
        0 => [v, t, p],
        1 => [q, v, p],
        2 => [p, v, t],
        3 => [p, q, v],
        4 => [t, p, v],
        _ => [v, p, q],
    }
}

/// Inside-test of shape `shape` at object-local coordinates (unit radius).
fn inside(shape: u32, u: f32, v: f32) -> bool {
    let r2 = u * u + v * v;
    let (au, av) = (u.abs(), v.abs());
    match shape {
        0 => r2 < 1.0,
        1 => au.max(av) < 0.8,
        2 => v > -0.6 && v < 0.9 - 1.73 * au,
        3 => r2 < 1.0 && r2 > 0.3,
        4 => (au < 0.3 && av < 0.95) || (av < 0.3 && au < 0.95),
        5 => au + av < 1.0,
        6 => av > 0.25 && av < 0.65 && au < 0.9,
        7 => r2 < 1.0 && (u - 0.45) * (u - 0.45) + v * v > 0.49,
        8 => au.max(av) < 0.9 && au.max(av) > 0.55,
        9 => r2 < 1.0 && v > -0.1,
        // Extra primitives of the unlabeled stream.
        10 => u * u + v * v * 3.3 < 1.0,
        11 => av < 0.08 && au < 1.0,
        12 => {
            let (fu, fv) = (u * 2.0 - (u * 2.0).floor(), v * 2.0 - (v * 2.0).floor());
            r2 < 1.0 && (fu - 0.5) * (fu - 0.5) + (fv - 0.5) * (fv - 0.5) < 0.09
        }
        13 => u > 0.0 && r2 < 4.0,
        _ => u * u * u * u + v * v * v * v < 1.0,
    }
}

fn render(scene: &Scene, size: u32, noise_key: u64) -> RgbImage {
    let mut img = RgbImage::new(size, size);
    let half = size as f32 * 0.5;
    for py in 0..size {
        for px in 0..size {
            let x = (px as f32 + 0.5) / half - 1.0;
            let y = (py as f32 + 0.5) / half - 1.0;
            let mut c = shade(scene, x, y, px as f32, py as f32);
            let element = (py as u64 * size as u64 + px as u64) * 3;
            for (ch, value) in c.iter_mut().enumerate() {
                let n = hash_unit(noise_key, element + ch as u64) * 2.0 - 1.0;
                *value += scene.pixel_noise * n;
            }
            img.put_pixel(px, py, image::Rgb(c.map(quantize)));
        }
    }
    img
}

/// Colour of one pixel before noise, in `[0, 1]` units (may leave the range; clamped later).
fn shade(scene: &Scene, x: f32, y: f32, px: f32, py: f32) -> Rgb {
    let (a, b) = scene.background;
    let t = (0.5 + 0.25 * (x * scene.gradient.0 + y * scene.gradient.1)).clamp(0.0, 1.0);
    let mut c = [0usize, 1, 2].map(|i| a[i] + (b[i] - a[i]) * t);
    for part in &scene.parts {
        let (dx, dy) = (x - part.cx, y - part.cy);
        let u = (part.cos * dx + part.sin * dy) / part.radius;
        let v = (part.cos * dy - part.sin * dx) / part.radius;
        let on_part = if part.on_disc { u * u + v * v < 1.0 } else { inside(part.shape, u, v) };
        if on_part {
            c = part.colour;
            if part.on_disc && inside(part.shape, SILHOUETTE * u, SILHOUETTE * v) {
                c = c.map(|v| v * SILHOUETTE_SHADE);
            }
            if let Some(g) = part.grating {
                let w = px * g.fx + py * g.fy + g.phase;
                let square = if w - w.floor() < 0.5 { 0.5 } else { -0.5 };
                c = c.map(|v| v + g.amplitude * square);
            }
        }
    }
    for p in &scene.patches {
        let (dx, dy) = (x - p.cx, y - p.cy);
        if dx * dx + dy * dy < p.radius * p.radius {
            let sign = opponent_sign(p.pattern, px as u32, py as u32);
            c[p.plus] += 0.5 * p.amplitude * sign;
            c[p.minus] -= 0.5 * p.amplitude * sign;
        }
    }
    let light = scene.gain * (1.0 + x * scene.light.0 + y * scene.light.1);
    c.map(|v| v * light)
}

fn opponent_sign(pattern: u32, px: u32, py: u32) -> f32 {
    let on = match pattern {
        0 => (px + py).is_multiple_of(2),
        1 => px.is_multiple_of(2),
        2 => py.is_multiple_of(2),
        _ => (px / 2 + py / 2).is_multiple_of(2),
    };
    if on {
        1.0
    } else {
        -1.0
    }
}

fn quantize(v: f32) -> u8 {
    (v.clamp(0.0, 1.0) * 255.0 + 0.5).floor() as u8
}

/// The synthetic world's index layout: each split is a fixed, disjoint range of generator
/// indices.
///
/// | split | indices |
/// |---|---|
/// | `Train` | `0 .. 2^40` (never exhausted: the paper's "no epochs" regime) |
/// | `Validation` | `2^40 .. 2^40 + 2^20` |
/// | `Test` | `2^41 .. 2^41 + 2^20` |
/// | `Stream` | `0 .. 2^40` |
///
/// Labelled and unlabeled samples with the same index are unrelated (different purposes in
/// [`SampleRng`]), so the unlabeled stream shares the training range.
impl Split {
    pub fn range(self) -> std::ops::Range<u64> {
        match self {
            Split::Train | Split::Stream => 0..1 << 40,
            Split::Validation => (1 << 40)..(1 << 40) + (1 << 20),
            Split::Test => (1 << 41)..(1 << 41) + (1 << 20),
        }
    }

    pub fn len(self) -> u64 {
        let r = self.range();
        r.end - r.start
    }

    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    /// Global generator index of the `i`-th sample of this split.
    pub fn global_index(self, i: u64) -> Result<u64> {
        if i >= self.len() {
            return Err(DataError::IndexOutOfRange {
                split: format!("{self:?}"),
                index: i,
                len: self.len(),
            });
        }
        Ok(self.range().start + i)
    }
}
