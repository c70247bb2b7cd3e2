//! FGSM (Goodfellow et al., 2015): one step of size eps along the sign (Linf) or direction (L2) of
//! the loss gradient.

use aisec_ml::candle::Tensor;
use aisec_ml::{Classifier, Rng};

use super::{Access, EvasionAttack, Goal, Norm, clip, goal_loss, unit_step, white_box};
use crate::error::{AttackError, Result};

/// The fast gradient (sign) method.
#[derive(Debug, Clone)]
pub struct Fgsm {
    /// The bound's norm.
    pub norm: Norm,
    /// The step, which is also the bound.
    pub eps: f32,
}

impl Fgsm {
    /// FGSM with a checked eps.
    pub fn new(norm: Norm, eps: f32) -> Result<Self> {
        if !(eps.is_finite() && eps >= 0.0) {
            return Err(AttackError::Parameter(format!(
                "eps {eps} must be a non-negative number"
            )));
        }
        Ok(Self { norm, eps })
    }
}

impl EvasionAttack for Fgsm {
    fn name(&self) -> &'static str {
        "fgsm"
    }

    fn access(&self) -> Access {
        Access::WhiteBox
    }

    fn eps(&self) -> Option<(Norm, f32)> {
        Some((self.norm, self.eps))
    }

    fn norm(&self) -> Norm {
        self.norm
    }

    fn generate(
        &self,
        model: &dyn Classifier,
        x: &Tensor,
        goal: &Goal,
        _rng: &mut Rng,
    ) -> Result<Tensor> {
        let wb = white_box(self, model)?;
        let (_, grad) = goal_loss(wb, x, goal)?;
        let step = (unit_step(&grad, self.norm)? * f64::from(self.eps))?;
        clip(model, &(x + step)?)
    }
}
