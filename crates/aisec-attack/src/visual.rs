//! Pictures for reports: a PNG grid of original and adversarial inputs with the perturbation
//! between them, for image-shaped inputs (`[1, H, W]` grey or `[3, H, W]` colour).

/// One row of the grid.
#[derive(Debug, Clone)]
pub struct GridRow {
    /// The clean input, `C*H*W` values in the model's input range.
    pub original: Vec<f32>,
    /// The adversarial input.
    pub adversarial: Vec<f32>,
}

/// Encodes rows of (original | adversarial | amplified difference) as a PNG. Returns `None` when
/// the input shape is not an image.
#[must_use]
pub fn adversarial_grid(rows: &[GridRow], shape: &[usize], range: [f32; 2]) -> Option<Vec<u8>> {
    let [c, h, w] = *shape else { return None };
    if !(c == 1 || c == 3) || rows.is_empty() || h == 0 || w == 0 || h > 1024 || w > 1024 {
        return None;
    }
    let scale = (96 / h.max(w)).clamp(1, 12);
    let gap = 4;
    let cell_w = w * scale;
    let cell_h = h * scale;
    let width = 3 * cell_w + 4 * gap;
    let height = rows.len() * cell_h + (rows.len() + 1) * gap;
    let mut rgb = vec![255u8; width * height * 3];
    let [lo, hi] = range;
    let span = (hi - lo).max(f32::EPSILON);
    let to_byte = |v: f32| (((v - lo) / span).clamp(0.0, 1.0) * 255.0).round() as u8;
    for (r, row) in rows.iter().enumerate() {
        let diff: Vec<f32> = row
            .original
            .iter()
            .zip(&row.adversarial)
            .map(|(a, b)| b - a)
            .collect();
        let max_diff = diff
            .iter()
            .fold(0f32, |m, d| m.max(d.abs()))
            .max(f32::EPSILON);
        for col in 0..3 {
            let x0 = gap + col * (cell_w + gap);
            let y0 = gap + r * (cell_h + gap);
            for y in 0..cell_h {
                for x in 0..cell_w {
                    let (py, px) = (y / scale, x / scale);
                    let mut pixel = [0u8; 3];
                    for (ch, p) in pixel.iter_mut().enumerate() {
                        let channel = if c == 1 { 0 } else { ch };
                        let i = channel * h * w + py * w + px;
                        *p = match col {
                            0 => to_byte(row.original.get(i).copied().unwrap_or(lo)),
                            1 => to_byte(row.adversarial.get(i).copied().unwrap_or(lo)),
                            // The difference, amplified to the full range, grey at zero.
                            _ => (((diff.get(i).copied().unwrap_or(0.0) / max_diff) * 0.5 + 0.5)
                                * 255.0)
                                .round() as u8,
                        };
                    }
                    let o = ((y0 + y) * width + x0 + x) * 3;
                    rgb[o..o + 3].copy_from_slice(&pixel);
                }
            }
        }
    }
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, width as u32, height as u32);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().ok()?;
        writer.write_image_data(&rgb).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::{GridRow, adversarial_grid};

    #[test]
    fn grid_decodes_to_the_expected_size() {
        let rows = vec![
            GridRow {
                original: vec![0.0; 64],
                adversarial: vec![0.5; 64],
            };
            3
        ];
        let png_bytes = adversarial_grid(&rows, &[1, 8, 8], [0.0, 1.0]).unwrap();
        let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
        let reader = decoder.read_info().unwrap();
        let info = reader.info();
        assert_eq!(info.width as usize, 3 * 96 + 16);
        assert_eq!(info.height as usize, 3 * 96 + 16);
        assert!(adversarial_grid(&rows, &[64], [0.0, 1.0]).is_none());
    }
}
