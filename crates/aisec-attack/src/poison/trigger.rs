//! Backdoor triggers: a patch stamped at a fixed place (BadNets) or a pattern mixed into the
//! whole input (Blended). A trigger works on one row of `C*H*W` values (or `H*W`, or a flat
//! feature vector) in the model's input range.

use aisec_ml::Rng;
use aisec_ml::candle::{Device, Tensor};
use serde::Serialize;

use crate::error::{AttackError, Result};

/// Where a patch goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PatchPosition {
    /// Against the bottom and right edges (BadNets' usual place).
    BottomRight,
    /// Against the bottom and left edges.
    BottomLeft,
    /// Against the top and right edges.
    TopRight,
    /// Against the top and left edges.
    TopLeft,
    /// In the middle.
    Center,
    /// Its top-left pixel at `(row, col)`.
    At {
        /// Row of the patch's top-left pixel.
        row: usize,
        /// Column of the patch's top-left pixel.
        col: usize,
    },
}

/// What the patch's pixels are.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PatchPattern {
    /// Alternating high and low pixels, high in the top-left corner.
    Checkerboard,
    /// Every pixel at the top of the input range.
    Solid,
    /// Seeded uniform noise over the input range (the same for every row).
    Random {
        /// The noise's seed.
        seed: u64,
    },
}

/// A backdoor trigger.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Trigger {
    /// A `size`x`size` patch that replaces the pixels under it, in every channel (BadNets, Gu et
    /// al. 2017). On a flat feature vector, `size` consecutive features starting at the
    /// position's offset (`bottom-right`: the last ones).
    Patch {
        /// Side of the patch, in pixels.
        size: usize,
        /// Where it goes.
        position: PatchPosition,
        /// Its pixels.
        pattern: PatchPattern,
    },
    /// A whole-input pattern mixed in: `(1 - alpha) * x + alpha * pattern` (Blended, Chen et al.
    /// 2017), the pattern seeded uniform noise over the input range.
    Blend {
        /// Weight of the pattern, in (0, 1].
        alpha: f32,
        /// The pattern's seed.
        seed: u64,
    },
}

/// The geometry of a row: channels, height and width (a flat vector is `1 x 1 x D`).
fn geometry(shape: &[usize]) -> Result<(usize, usize, usize)> {
    match *shape {
        [c, h, w] => Ok((c, h, w)),
        [h, w] => Ok((1, h, w)),
        [d] => Ok((1, 1, d)),
        _ => Err(AttackError::Parameter(format!(
            "a trigger needs [C, H, W], [H, W] or [D] rows, not {shape:?}"
        ))),
    }
}

impl Trigger {
    /// BadNets' default: a 3x3 checkerboard in the bottom-right corner.
    #[must_use]
    pub fn badnets() -> Self {
        Self::Patch {
            size: 3,
            position: PatchPosition::BottomRight,
            pattern: PatchPattern::Checkerboard,
        }
    }

    /// Checks the trigger against a row shape.
    pub fn validate(&self, shape: &[usize]) -> Result<()> {
        let (_, h, w) = geometry(shape)?;
        match self {
            Self::Patch { size, position, .. } => {
                let rows = if h == 1 { 1 } else { *size };
                if *size == 0 || rows > h || *size > w {
                    return Err(AttackError::Parameter(format!(
                        "a {size}-pixel patch does not fit a {h}x{w} input"
                    )));
                }
                if let PatchPosition::At { row, col } = position
                    && (row + rows > h || col + size > w)
                {
                    return Err(AttackError::Parameter(format!(
                        "a {size}-pixel patch at ({row}, {col}) leaves the {h}x{w} input"
                    )));
                }
                Ok(())
            }
            Self::Blend { alpha, .. } => {
                if *alpha > 0.0 && *alpha <= 1.0 {
                    Ok(())
                } else {
                    Err(AttackError::Parameter(format!(
                        "the blend weight {alpha} must be in (0, 1]"
                    )))
                }
            }
        }
    }

    /// The top-left pixel of a patch of `rows` x `size` in an `h` x `w` input.
    fn origin(
        position: PatchPosition,
        rows: usize,
        size: usize,
        h: usize,
        w: usize,
    ) -> (usize, usize) {
        match position {
            PatchPosition::BottomRight => (h - rows, w - size),
            PatchPosition::BottomLeft => (h - rows, 0),
            PatchPosition::TopRight => (0, w - size),
            PatchPosition::TopLeft => (0, 0),
            PatchPosition::Center => ((h - rows) / 2, (w - size) / 2),
            PatchPosition::At { row, col } => (row, col),
        }
    }

    /// Applies the trigger to every row of `x` `[N, ...shape]`, values in `range`.
    pub fn apply(&self, x: &Tensor, range: [f32; 2]) -> Result<Tensor> {
        let shape = &x.dims()[1..];
        let n = x.dim(0)?;
        let len: usize = shape.iter().product();
        let mut data = x
            .flatten_all()?
            .to_dtype(aisec_ml::DType::F32)?
            .to_vec1::<f32>()?;
        let mask_and_pattern = self.mask_and_pattern(shape, range)?;
        for row in data.chunks_mut(len.max(1)).take(n) {
            Self::stamp(row, &mask_and_pattern);
        }
        Ok(Tensor::from_vec(data, x.dims(), &Device::Cpu)?.to_dtype(x.dtype())?)
    }

    /// Applies the trigger to one row of `shape`.
    pub fn apply_row(&self, row: &mut [f32], shape: &[usize], range: [f32; 2]) -> Result<()> {
        Self::stamp(row, &self.mask_and_pattern(shape, range)?);
        Ok(())
    }

    fn stamp(row: &mut [f32], (mask, pattern): &(Vec<f32>, Vec<f32>)) {
        for ((v, m), p) in row.iter_mut().zip(mask).zip(pattern) {
            *v = (1.0 - m) * *v + m * p;
        }
    }

    /// The trigger as a mask (how much of the pattern replaces each value, 0 to 1) and a pattern,
    /// both with one value per input value: `triggered = (1 - mask) * x + mask * pattern`.
    pub fn mask_and_pattern(
        &self,
        shape: &[usize],
        range: [f32; 2],
    ) -> Result<(Vec<f32>, Vec<f32>)> {
        self.validate(shape)?;
        let (c, h, w) = geometry(shape)?;
        let [lo, hi] = range;
        let len = c * h * w;
        match self {
            Self::Patch {
                size,
                position,
                pattern,
            } => {
                let rows = if h == 1 { 1 } else { *size };
                let (r0, c0) = Self::origin(*position, rows, *size, h, w);
                let mut mask = vec![0.0; len];
                let mut values = vec![lo; len];
                let mut noise = match pattern {
                    PatchPattern::Random { seed } => Some(Rng::new(*seed)),
                    _ => None,
                };
                let patch: Vec<f32> = (0..rows * size)
                    .map(|i| match pattern {
                        PatchPattern::Checkerboard => {
                            if (i / size + i % size) % 2 == 0 {
                                hi
                            } else {
                                lo
                            }
                        }
                        PatchPattern::Solid => hi,
                        PatchPattern::Random { .. } => noise
                            .as_mut()
                            .map_or(hi, |r| r.uniform_in(f64::from(lo), f64::from(hi)) as f32),
                    })
                    .collect();
                for ch in 0..c {
                    for dy in 0..rows {
                        for dx in 0..*size {
                            let i = ch * h * w + (r0 + dy) * w + c0 + dx;
                            mask[i] = 1.0;
                            values[i] = patch[dy * size + dx];
                        }
                    }
                }
                Ok((mask, values))
            }
            Self::Blend { alpha, seed } => {
                let mut rng = Rng::new(*seed);
                Ok((vec![*alpha; len], rng.uniform_vec(len, lo, hi)))
            }
        }
    }

    /// A short description for reports (`3x3 checkerboard patch, bottom-right`).
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            Self::Patch {
                size,
                position,
                pattern,
            } => {
                let pattern = match pattern {
                    PatchPattern::Checkerboard => "checkerboard",
                    PatchPattern::Solid => "solid",
                    PatchPattern::Random { .. } => "random",
                };
                let place = match position {
                    PatchPosition::BottomRight => "bottom-right".to_owned(),
                    PatchPosition::BottomLeft => "bottom-left".to_owned(),
                    PatchPosition::TopRight => "top-right".to_owned(),
                    PatchPosition::TopLeft => "top-left".to_owned(),
                    PatchPosition::Center => "center".to_owned(),
                    PatchPosition::At { row, col } => format!("at ({row}, {col})"),
                };
                format!("{size}x{size} {pattern} patch, {place}")
            }
            Self::Blend { alpha, .. } => format!("random pattern blended at alpha {alpha}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{PatchPattern, PatchPosition, Trigger};
    use aisec_ml::candle::{Device, Tensor};

    #[test]
    fn a_patch_replaces_exactly_its_pixels_in_every_channel() {
        let x = Tensor::full(0.5f32, (2, 3, 8, 8), &Device::Cpu).unwrap();
        let t = Trigger::badnets();
        let y = t.apply(&x, [0.0, 1.0]).unwrap();
        let v = y.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let mut changed = 0;
        for (i, value) in v.iter().enumerate() {
            let (row, col) = ((i % 64) / 8, i % 8);
            if row >= 5 && col >= 5 {
                let expected = if (row - 5 + col - 5) % 2 == 0 {
                    1.0
                } else {
                    0.0
                };
                assert!((value - expected).abs() < 1e-6, "{i}");
                changed += 1;
            } else {
                assert!((value - 0.5).abs() < 1e-6, "{i}");
            }
        }
        assert_eq!(changed, 2 * 3 * 9);
    }

    #[test]
    fn positions_and_bounds() {
        let shape = [1, 8, 8];
        let at = |position| {
            let t = Trigger::Patch {
                size: 2,
                position,
                pattern: PatchPattern::Solid,
            };
            let (mask, _) = t.mask_and_pattern(&shape, [0.0, 1.0]).unwrap();
            mask.iter().position(|&m| m > 0.0).unwrap()
        };
        assert_eq!(at(PatchPosition::TopLeft), 0);
        assert_eq!(at(PatchPosition::TopRight), 6);
        assert_eq!(at(PatchPosition::BottomLeft), 48);
        assert_eq!(at(PatchPosition::Center), 27);
        assert_eq!(at(PatchPosition::At { row: 1, col: 4 }), 12);
        let too_big = Trigger::Patch {
            size: 9,
            position: PatchPosition::TopLeft,
            pattern: PatchPattern::Solid,
        };
        assert!(too_big.validate(&shape).is_err());
        let outside = Trigger::Patch {
            size: 3,
            position: PatchPosition::At { row: 6, col: 0 },
            pattern: PatchPattern::Solid,
        };
        assert!(outside.validate(&shape).is_err());
        assert!(Trigger::badnets().validate(&[1, 2, 3, 4]).is_err());
        // A flat vector takes `size` features at the end.
        let (mask, _) = Trigger::badnets()
            .mask_and_pattern(&[30], [0.0, 1.0])
            .unwrap();
        assert_eq!(mask.iter().filter(|&&m| m > 0.0).count(), 3);
        assert!(mask[27..].iter().all(|&m| m > 0.0));
    }

    #[test]
    fn blend_mixes_and_is_seeded() {
        let t = Trigger::Blend {
            alpha: 0.2,
            seed: 7,
        };
        let x = Tensor::zeros((1, 1, 4, 4), aisec_ml::DType::F32, &Device::Cpu).unwrap();
        let a = t
            .apply(&x, [0.0, 1.0])
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let b = t
            .apply(&x, [0.0, 1.0])
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        assert_eq!(a, b);
        assert!(a.iter().all(|&v| (0.0..=0.2).contains(&v)));
        assert!(a.iter().any(|&v| v > 0.05));
        assert!(
            Trigger::Blend {
                alpha: 0.0,
                seed: 1
            }
            .validate(&[1, 4, 4])
            .is_err()
        );
    }
}
