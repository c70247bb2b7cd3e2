//! Sentence embeddings: what the refusal detector, semantic matching and `/v1/embeddings` use.

use crate::error::Result;

/// Turns texts into fixed-size vectors, L2-normalised, so a dot product is the cosine
/// similarity. Shared by the threads of a run.
pub trait Embedder: Send + Sync {
    /// A short name for reports and the `/v1/embeddings` `model` field.
    fn name(&self) -> &str;
    /// The length of every vector.
    fn dimension(&self) -> usize;
    /// One unit-length vector per text, in order.
    ///
    /// # Errors
    /// When the model cannot run (the texts are truncated to the model's window, never refused
    /// for length).
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>>;
}
