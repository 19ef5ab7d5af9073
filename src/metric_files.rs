//! The files the metrics read, read here: the metrics crate (`dnlts::metrics`, `src/metrics/`)
//! takes bytes and pixels, so a change to a metric never rebuilds this library. Every input is
//! read with the checks of [`crate::files`] (no FIFOs, errors in words) and PNGs with those of
//! [`crate::data`] (whole files, bounded decoding).

use crate::files::FileError;
use crate::metrics::nmi::nmi;
use crate::metrics::rrc::CrossTable;
use crate::metrics::{MetricsError, Result};
use std::path::Path;

impl From<FileError> for MetricsError {
    fn from(error: FileError) -> Self {
        MetricsError::File(Box::new(error))
    }
}

/// `source`, met reading or writing `path`, as a metrics error that says it in words.
pub fn io_error(path: &Path, source: std::io::Error) -> MetricsError {
    MetricsError::Io {
        path: path.to_path_buf(),
        reason: crate::files::describe_io(&source),
        source,
    }
}

/// Loads a cross table, `*.json` or `*.csv`.
pub fn load_cross_table(path: &Path) -> Result<CrossTable> {
    CrossTable::from_file_bytes(crate::files::read_regular(path)?, path)
}

/// Decodes a PNG to interleaved 8-bit RGB (grey and alpha images are converted; 16-bit ones
/// are reduced to 8 bits). Returns the pixels with width and height. Anything but a whole PNG
/// (another format, a file cut short) is refused: the decoder would accept a PNG missing its
/// last chunk, and other formats are lossy or ambiguous about their pixels.
pub fn read_png_rgb8(path: &Path) -> Result<(Vec<u8>, u32, u32)> {
    let refuse = |message: &str| MetricsError::ImageDecode {
        path: path.to_path_buf(),
        message: message.to_string(),
    };
    let bytes = crate::files::read_regular(path)?;
    if !bytes.starts_with(&crate::data::PNG_SIGNATURE) {
        return Err(refuse("it is not a PNG file (no PNG signature)"));
    }
    if !crate::data::png_is_complete(&bytes) {
        return Err(refuse("the file is truncated (it ends before its closing IEND chunk)"));
    }
    let mut reader = image::ImageReader::with_format(
        std::io::Cursor::new(bytes.as_slice()),
        image::ImageFormat::Png,
    );
    reader.limits(crate::data::decode_limits());
    let decoded = reader.decode().map_err(|e| refuse(&e.to_string()))?;
    let rgb = decoded.into_rgb8();
    let (width, height) = rgb.dimensions();
    Ok((rgb.into_raw(), width, height))
}

/// nMI between two PNG files of the same size (pixels as 8-bit RGB, channels pooled).
pub fn nmi_of_png_files(a: &Path, b: &Path, bins: usize) -> Result<f64> {
    let (pixels_a, a_width, a_height) = read_png_rgb8(a)?;
    let (pixels_b, b_width, b_height) = read_png_rgb8(b)?;
    if (a_width, a_height) != (b_width, b_height) {
        return Err(MetricsError::ImageSizeMismatch {
            a: a.to_path_buf(),
            b: b.to_path_buf(),
            a_width,
            a_height,
            b_width,
            b_height,
        });
    }
    nmi(&pixels_a, &pixels_b, bins)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("dnlts-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn tables_are_read_by_extension_and_missing_files_named() {
        let e = load_cross_table(Path::new("table.xlsx")).unwrap_err();
        assert!(e.to_string().starts_with("cannot read table.xlsx: it does not exist"), "{e}");
        let dir = scratch("rrc");
        let file = dir.join("table.txt");
        std::fs::write(&file, "x").unwrap();
        assert_eq!(
            load_cross_table(&file).unwrap_err().to_string(),
            format!(
                "`{}` has an unknown extension; name cross tables `*.json` or `*.csv`",
                file.display()
            )
        );
        let csv = dir.join("table.csv");
        std::fs::write(&csv, ",a\nA_a,0.5\n").unwrap();
        let accuracy = load_cross_table(&csv).map(|t| t.accuracy(0, 0));
        assert_eq!(accuracy.as_ref().ok(), Some(&0.5), "{}: {accuracy:?}", csv.display());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn io_errors_are_said_in_words_and_keep_their_cause() {
        let source = std::io::Error::from(std::io::ErrorKind::NotFound);
        let error = io_error(Path::new("out/fig6.svg"), source);
        assert_eq!(
            error.to_string(),
            "cannot read or write `out/fig6.svg`: it does not exist; check the path (relative \
             paths start from the current folder)"
        );
        let cause = std::error::Error::source(&error).map(|e| e.to_string());
        assert!(cause.is_some(), "{error} keeps no cause");
    }

    fn write_png(path: &Path, width: u32, height: u32) {
        let pixels: Vec<u8> = (0..width * height * 3).map(|v| (v * 7 % 256) as u8).collect();
        image::save_buffer(path, &pixels, width, height, image::ColorType::Rgb8).unwrap();
    }

    #[test]
    fn png_files_of_different_sizes_are_refused_naming_both() {
        let dir = scratch("nmi");
        let (a, b) = (dir.join("a.png"), dir.join("b.png"));
        write_png(&a, 4, 3);
        write_png(&b, 3, 4);
        let err = nmi_of_png_files(&a, &b, 256).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "`{}` is 4x3 but `{}` is 3x4; nMI compares images of the same size, resize one of them first",
                a.display(),
                b.display()
            )
        );
        let itself = nmi_of_png_files(&a, &a, 256).unwrap();
        assert!(
            (itself - 1.0).abs() <= 1e-12,
            "nMI of a PNG with itself: got {itself}, expected 1"
        );
        let not_png = dir.join("text.png");
        std::fs::write(&not_png, "not an image").unwrap();
        let err = nmi_of_png_files(&a, &not_png, 256).unwrap_err().to_string();
        assert!(err.starts_with(&format!("cannot decode image `{}`", not_png.display())), "{err}");
        assert!(err.ends_with("; give an 8-bit PNG"), "{err}");
        let missing = dir.join("missing.png");
        let err = nmi_of_png_files(&missing, &a, 256).unwrap_err().to_string();
        assert!(err.contains("it does not exist; check the path"), "{err}");
        let bytes = std::fs::read(&a).unwrap();
        let cut = dir.join("cut.png");
        std::fs::write(&cut, &bytes[..bytes.len() - 6]).unwrap();
        let err = nmi_of_png_files(&cut, &a, 256).unwrap_err().to_string();
        assert!(err.contains("cut.png`: the file is truncated"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
