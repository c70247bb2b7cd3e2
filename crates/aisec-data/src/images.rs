//! PNG images: one folder per class (`root/<class>/*.png`), or a list of files with labels.
//!
//! Every image must be 8-bit grey or RGB (palette and low-bit-depth grey are expanded to 8 bits;
//! an alpha channel or 16-bit samples are refused) and all must share one size and channel count.
//! Pixels are scaled to `[0, 1]` and stored channel-first: sample shape `[C, H, W]`.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use crate::dataset::Dataset;
use crate::error::{Error, Result};
use crate::limits::Limits;
use crate::read::read_file;

const FORMAT: &str = "PNG";

/// One decoded image, channel-first, values in `[0, 1]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    /// 1 (grey) or 3 (RGB).
    pub channels: usize,
    /// Rows.
    pub height: usize,
    /// Columns.
    pub width: usize,
    /// `channels * height * width` values, channel-major.
    pub pixels: Vec<f32>,
}

/// Decodes one PNG.
pub fn decode_png(bytes: &[u8], limits: &Limits) -> Result<Image> {
    let png_err = |source| Error::Png { source };
    // The decoder's own allocations (rows, chunks) are capped as well.
    let budget = usize::try_from(limits.max_image_pixels.saturating_mul(8)).unwrap_or(usize::MAX);
    let mut dec = png::Decoder::new_with_limits(Cursor::new(bytes), png::Limits { bytes: budget });
    let (w, h) = {
        let info = dec.read_header_info().map_err(png_err)?;
        (info.width, info.height)
    };
    Limits::check(
        "image pixels",
        u64::from(w) * u64::from(h),
        limits.max_image_pixels,
    )?;
    dec.set_transformations(png::Transformations::EXPAND);
    let mut reader = dec.read_info().map_err(png_err)?;
    let (color, depth) = reader.output_color_type();
    if depth != png::BitDepth::Eight {
        return Err(Error::unsupported(
            FORMAT,
            format!("{depth:?}-bit samples (8-bit only)"),
        ));
    }
    let channels = match color {
        png::ColorType::Grayscale => 1,
        png::ColorType::Rgb => 3,
        other => {
            return Err(Error::unsupported(
                FORMAT,
                format!("colour type {other:?} (grey or RGB without alpha only)"),
            ));
        }
    };
    let (w, h) = (w as usize, h as usize);
    let size = reader
        .output_buffer_size()
        .ok_or_else(|| Error::malformed(FORMAT, "image size overflows"))?;
    if size != w * h * channels {
        return Err(Error::malformed(FORMAT, "unexpected output buffer size"));
    }
    let mut buf = vec![0u8; size];
    let frame = reader.next_frame(&mut buf).map_err(png_err)?;
    let line = frame.line_size;
    if line != w * channels {
        return Err(Error::malformed(FORMAT, "unexpected row size"));
    }
    let mut pixels = vec![0f32; size];
    for y in 0..h {
        for x in 0..w {
            for c in 0..channels {
                pixels[(c * h + y) * w + x] = f32::from(buf[y * line + x * channels + c]) / 255.0;
            }
        }
    }
    Ok(Image {
        channels,
        height: h,
        width: w,
        pixels,
    })
}

/// A [`Dataset`] from PNG files with their labels (`< num_classes`).
pub fn load_png_files(
    files: &[(PathBuf, u32)],
    num_classes: usize,
    class_names: Option<Vec<String>>,
    limits: &Limits,
) -> Result<Dataset> {
    Limits::check("number of images", files.len() as u64, limits.max_rows)?;
    Limits::check("number of classes", num_classes as u64, limits.max_classes)?;
    let mut x = Vec::new();
    let mut y = Vec::with_capacity(files.len());
    let mut shape: Option<[usize; 3]> = None;
    for (path, label) in files {
        let bytes = read_file(path, limits)?;
        let img = decode_png(&bytes, limits).map_err(|e| e.in_file(path))?;
        let s = [img.channels, img.height, img.width];
        match shape {
            None => shape = Some(s),
            Some(first) if first != s => {
                return Err(Error::inconsistent(format!(
                    "{} is {}x{} with {} channel(s); the first image is {}x{} with {}",
                    path.display(),
                    s[2],
                    s[1],
                    s[0],
                    first[2],
                    first[1],
                    first[0]
                )));
            }
            Some(_) => {}
        }
        Limits::check(
            "number of elements",
            (x.len() + img.pixels.len()) as u64,
            limits.max_elements,
        )?;
        x.extend_from_slice(&img.pixels);
        y.push(*label);
    }
    let shape = shape.ok_or_else(|| Error::inconsistent("no PNG images"))?;
    Dataset::new(x, shape.to_vec(), y, num_classes, class_names)
}

/// A [`Dataset`] from `root/<class>/*.png`: classes are the sub-folders in name order (hidden ones
/// skipped), images are taken in name order. Files with other image extensions (`.jpg`, ...) are
/// an error, other files are ignored.
pub fn load_image_folder(root: &Path, limits: &Limits) -> Result<Dataset> {
    let mut classes: Vec<(String, PathBuf)> = Vec::new();
    for entry in std::fs::read_dir(root).map_err(|e| Error::io("listing", root, e))? {
        let entry = entry.map_err(|e| Error::io("listing", root, e))?;
        let path = entry.path();
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        if name.starts_with('.') || !path.is_dir() {
            continue;
        }
        Limits::check(
            "number of classes",
            classes.len() as u64 + 1,
            limits.max_classes,
        )?;
        classes.push((name, path));
    }
    if classes.is_empty() {
        return Err(Error::inconsistent(format!(
            "{} has no class sub-folders",
            root.display()
        )));
    }
    classes.sort();
    let mut files = Vec::new();
    for (label, (_, dir)) in classes.iter().enumerate() {
        let mut these = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(|e| Error::io("listing", dir, e))? {
            let entry = entry.map_err(|e| Error::io("listing", dir, e))?;
            let path = entry.path();
            let ext = path
                .extension()
                .and_then(|e| e.to_str())
                .map(str::to_ascii_lowercase)
                .unwrap_or_default();
            match ext.as_str() {
                "png" if path.is_file() => {}
                "jpg" | "jpeg" | "gif" | "bmp" | "webp" | "tif" | "tiff" => {
                    return Err(Error::unsupported(
                        "image folder",
                        format!("{} (only PNG images are read)", path.display()),
                    ));
                }
                _ => continue,
            }
            Limits::check(
                "number of images",
                (files.len() + these.len()) as u64 + 1,
                limits.max_rows,
            )?;
            these.push(path);
        }
        these.sort();
        files.extend(these.into_iter().map(|p| (p, label as u32)));
    }
    let names = classes.into_iter().map(|(n, _)| n).collect::<Vec<_>>();
    load_png_files(&files, names.len(), Some(names), limits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn png_bytes(
        w: u32,
        h: u32,
        color: png::ColorType,
        depth: png::BitDepth,
        data: &[u8],
    ) -> Vec<u8> {
        let mut out = Vec::new();
        let mut e = png::Encoder::new(&mut out, w, h);
        e.set_color(color);
        e.set_depth(depth);
        let mut wr = e.write_header().unwrap();
        wr.write_image_data(data).unwrap();
        wr.finish().unwrap();
        out
    }

    #[test]
    fn grey_and_rgb_decode_channel_first() {
        let g = decode_png(
            &png_bytes(
                2,
                1,
                png::ColorType::Grayscale,
                png::BitDepth::Eight,
                &[0, 255],
            ),
            &Limits::default(),
        )
        .unwrap();
        assert_eq!((g.channels, g.height, g.width), (1, 1, 2));
        assert_eq!(g.pixels, vec![0.0, 1.0]);
        let rgb = decode_png(
            &png_bytes(
                2,
                1,
                png::ColorType::Rgb,
                png::BitDepth::Eight,
                &[255, 0, 0, 0, 0, 255],
            ),
            &Limits::default(),
        )
        .unwrap();
        // R plane, G plane, B plane.
        assert_eq!(rgb.pixels, vec![1.0, 0.0, 0.0, 0.0, 0.0, 1.0]);
        // 1-bit grey is expanded to 8 bits.
        let b = decode_png(
            &png_bytes(
                8,
                1,
                png::ColorType::Grayscale,
                png::BitDepth::One,
                &[0b1000_0001],
            ),
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(b.pixels[0], 1.0);
        assert_eq!(b.pixels[1], 0.0);
    }

    #[test]
    fn unsupported_and_hostile_pngs_are_errors() {
        let l = Limits::default();
        let rgba = png_bytes(
            1,
            1,
            png::ColorType::Rgba,
            png::BitDepth::Eight,
            &[1, 2, 3, 4],
        );
        assert_eq!(
            decode_png(&rgba, &l).unwrap_err().kind(),
            ErrorKind::Unsupported
        );
        let deep = png_bytes(
            1,
            1,
            png::ColorType::Grayscale,
            png::BitDepth::Sixteen,
            &[1, 2],
        );
        assert_eq!(
            decode_png(&deep, &l).unwrap_err().kind(),
            ErrorKind::Unsupported
        );
        let ok = png_bytes(
            4,
            4,
            png::ColorType::Grayscale,
            png::BitDepth::Eight,
            &[7; 16],
        );
        assert!(decode_png(&ok[..ok.len() - 20], &l).is_err());
        assert!(decode_png(b"not a png", &l).is_err());
        // A header declaring 100000 x 100000 pixels: refused before any pixel buffer exists.
        let mut huge = ok.clone();
        huge[16..20].copy_from_slice(&100_000u32.to_be_bytes());
        huge[20..24].copy_from_slice(&100_000u32.to_be_bytes());
        let crc = crc(&huge[12..29]);
        huge[29..33].copy_from_slice(&crc.to_be_bytes());
        assert_eq!(decode_png(&huge, &l).unwrap_err().kind(), ErrorKind::Limit);
    }

    /// CRC-32 (PNG chunk checksum), bitwise.
    fn crc(data: &[u8]) -> u32 {
        let mut c = 0xffff_ffffu32;
        for &b in data {
            c ^= u32::from(b);
            for _ in 0..8 {
                c = if c & 1 == 1 {
                    0xedb8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
        }
        !c
    }

    #[test]
    fn folders_are_classes() {
        let dir = tempfile::tempdir().unwrap();
        for (class, imgs) in [("cat", 2u8), ("dog", 1), (".hidden", 1)] {
            std::fs::create_dir(dir.path().join(class)).unwrap();
            for i in 0..imgs {
                std::fs::write(
                    dir.path().join(class).join(format!("{i}.PNG")),
                    png_bytes(
                        2,
                        2,
                        png::ColorType::Rgb,
                        png::BitDepth::Eight,
                        &[i * 10; 12],
                    ),
                )
                .unwrap();
            }
        }
        std::fs::write(dir.path().join("cat/notes.txt"), "ignored").unwrap();
        std::fs::write(dir.path().join("README"), "ignored").unwrap();
        let d = load_image_folder(dir.path(), &Limits::default()).unwrap();
        assert_eq!(d.class_names().unwrap(), &["cat", "dog"]);
        assert_eq!(d.y(), &[0, 0, 1]);
        assert_eq!(d.sample_shape(), &[3, 2, 2]);
        assert!((d.sample(1).unwrap()[0] - 10.0 / 255.0).abs() < 1e-7);

        // A different size is an error naming the file; so is a JPEG.
        std::fs::write(
            dir.path().join("dog/9.png"),
            png_bytes(3, 2, png::ColorType::Rgb, png::BitDepth::Eight, &[0; 18]),
        )
        .unwrap();
        let e = load_image_folder(dir.path(), &Limits::default()).unwrap_err();
        assert!(e.to_string().contains("9.png"), "{e}");
        std::fs::remove_file(dir.path().join("dog/9.png")).unwrap();
        std::fs::write(dir.path().join("dog/x.jpg"), b"\xff\xd8").unwrap();
        let e = load_image_folder(dir.path(), &Limits::default()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
        let empty = tempfile::tempdir().unwrap();
        assert!(load_image_folder(empty.path(), &Limits::default()).is_err());
    }
}
