//! Pictures for reports: a PNG grid of original and adversarial inputs with the perturbation
//! between them, and a grid of reverse-engineered backdoor triggers, for image-shaped inputs
//! (`[1, H, W]` grey or `[3, H, W]` colour).

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
    let [lo, hi] = range;
    let span = (hi - lo).max(f32::EPSILON);
    let to_byte = |v: f32| (((v - lo) / span).clamp(0.0, 1.0) * 255.0).round() as u8;
    // Each row's difference and its largest magnitude, for the amplified third column.
    let diffs: Vec<(Vec<f32>, f32)> = rows
        .iter()
        .map(|row| {
            let diff: Vec<f32> = row
                .original
                .iter()
                .zip(&row.adversarial)
                .map(|(a, b)| b - a)
                .collect();
            let max = diff
                .iter()
                .fold(0f32, |m, d| m.max(d.abs()))
                .max(f32::EPSILON);
            (diff, max)
        })
        .collect();
    render_grid(
        rows.len(),
        shape,
        |_| false,
        |r, col, _, i| {
            let row = &rows[r];
            match col {
                0 => to_byte(row.original.get(i).copied().unwrap_or(lo)),
                1 => to_byte(row.adversarial.get(i).copied().unwrap_or(lo)),
                // The difference, amplified to the full range, grey at zero.
                _ => {
                    let (diff, max) = &diffs[r];
                    (((diff.get(i).copied().unwrap_or(0.0) / max) * 0.5 + 0.5) * 255.0).round()
                        as u8
                }
            }
        },
    )
}

/// One reverse-engineered trigger for [`trigger_grid`].
#[derive(Debug, Clone)]
pub struct TriggerRow {
    /// The mask, `H*W` values in [0, 1] (one per position, shared over channels).
    pub mask: Vec<f32>,
    /// The pattern, `C*H*W` values in the model's input range.
    pub pattern: Vec<f32>,
    /// Drawn with a red frame (a suspected backdoor target).
    pub highlight: bool,
}

/// Encodes rows of (mask | pattern | mask * pattern) as a PNG: the mask in grey (white = 1), the
/// pattern as an input, and what the trigger stamps on an input (the pattern where the mask is
/// set, black elsewhere). Returns `None` when the input shape is not an image.
#[must_use]
pub fn trigger_grid(rows: &[TriggerRow], shape: &[usize], range: [f32; 2]) -> Option<Vec<u8>> {
    let [lo, hi] = range;
    let span = (hi - lo).max(f32::EPSILON);
    let unit = |v: f32| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
    render_grid(
        rows.len(),
        shape,
        |r| rows[r].highlight,
        |r, col, position, i| {
            let row = &rows[r];
            let m = row.mask.get(position).copied().unwrap_or(0.0);
            let v = (row.pattern.get(i).copied().unwrap_or(lo) - lo) / span;
            match col {
                0 => unit(m),
                1 => unit(v),
                _ => unit(m * v),
            }
        },
    )
}

/// The layout both grids share: one row of three cells per example, each cell the `[C, H, W]`
/// image scaled up, `pixel(row, column, position, index)` giving a channel's byte at
/// `position = y * W + x` (`index` is that channel's value in the `C*H*W` row; grey images repeat
/// channel 0). Rows for which `framed` holds get a red band in the gaps around them. `None` when
/// the shape is not a grey or colour image.
pub(crate) fn render_grid(
    rows: usize,
    shape: &[usize],
    framed: impl Fn(usize) -> bool,
    pixel: impl Fn(usize, usize, usize, usize) -> u8,
) -> Option<Vec<u8>> {
    let [c, h, w] = *shape else { return None };
    if !(c == 1 || c == 3) || rows == 0 || h == 0 || w == 0 || h > 1024 || w > 1024 {
        return None;
    }
    let scale = (96 / h.max(w)).clamp(1, 12);
    let gap = 4;
    let cell_w = w * scale;
    let cell_h = h * scale;
    let width = 3 * cell_w + 4 * gap;
    let height = rows * cell_h + (rows + 1) * gap;
    let mut rgb = vec![255u8; width * height * 3];
    for r in 0..rows {
        let y0 = gap + r * (cell_h + gap);
        if framed(r) {
            for y in y0 - gap / 2..(y0 + cell_h + gap / 2).min(height) {
                for x in gap / 2..width - gap / 2 {
                    let o = (y * width + x) * 3;
                    rgb[o..o + 3].copy_from_slice(&[213, 94, 0]);
                }
            }
        }
        for col in 0..3 {
            let x0 = gap + col * (cell_w + gap);
            for y in 0..cell_h {
                for x in 0..cell_w {
                    let position = (y / scale) * w + x / scale;
                    let o = ((y0 + y) * width + x0 + x) * 3;
                    for ch in 0..3 {
                        let channel = if c == 1 { 0 } else { ch };
                        rgb[o + ch] = pixel(r, col, position, channel * h * w + position);
                    }
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
    use super::{GridRow, TriggerRow, adversarial_grid, trigger_grid};

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

    #[test]
    fn trigger_grid_decodes_and_shows_the_stamp() {
        let mut mask = vec![0.0; 64];
        mask[63] = 1.0;
        let rows = vec![
            TriggerRow {
                mask,
                pattern: vec![1.0; 64],
                highlight: true,
            },
            TriggerRow {
                mask: vec![0.0; 64],
                pattern: vec![0.5; 64],
                highlight: false,
            },
        ];
        let png_bytes = trigger_grid(&rows, &[1, 8, 8], [0.0, 1.0]).unwrap();
        let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
        let mut reader = decoder.read_info().unwrap();
        let (width, height) = (reader.info().width as usize, reader.info().height as usize);
        assert_eq!((width, height), (3 * 96 + 16, 2 * 96 + 12));
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        reader.next_frame(&mut buf).unwrap();
        let at = |x: usize, y: usize| buf[(y * width + x) * 3];
        // Third cell of the first row: white only in the bottom-right position.
        let x0 = 4 + 2 * (96 + 4);
        assert_eq!(at(x0 + 95, 4 + 95), 255);
        assert_eq!(at(x0, 4), 0);
        // The highlighted row's frame is red, the other row's gap white.
        assert_eq!(
            buf[(2 * width + 10) * 3..(2 * width + 10) * 3 + 3],
            [213, 94, 0]
        );
        assert_eq!(at(10, 4 + 96 + 4 + 96 + 2), 255);
        assert!(trigger_grid(&rows, &[64], [0.0, 1.0]).is_none());
    }
}
