//! A local chat model: a llama-family GGUF (SmolLM2) run on the CPU with candle's quantized
//! llama, the tokenizer rebuilt from the file's metadata and the ChatML format written in Rust.

use std::path::Path;

use candle_core::{Device, Tensor};
use candle_transformers::generation::{LogitsProcessor, Sampling};
use candle_transformers::models::quantized_llama::ModelWeights;

use crate::types::{ChatRequest, ChatResponse, Choice, Message, Usage};

use super::{ChatMl, LocalError, Tokenizer, read_gguf_header};

/// Tokens generated when the request names no limit.
pub const DEFAULT_MAX_TOKENS: u32 = 256;
/// The most answers one request may ask for.
pub const MAX_CHOICES: u32 = 8;

/// A chat model loaded from a GGUF file. The loaded weights are never run directly: each
/// answer runs on a cheap copy (the quantized tensors are shared) with its own cache, so one
/// `LocalChat` can serve several threads.
#[derive(Debug, Clone)]
pub struct LocalChat {
    name: String,
    weights: ModelWeights,
    tokenizer: Tokenizer,
    format: ChatMl,
    stops: Vec<u32>,
    context: usize,
}

fn model_err(e: &candle_core::Error) -> LocalError {
    LocalError::Model(e.to_string())
}

impl LocalChat {
    /// Loads the model at `path` (a llama-family GGUF with a byte-level BPE tokenizer) and
    /// names it `name` in responses.
    ///
    /// # Errors
    /// What [`read_gguf_header`] and [`Tokenizer::from_gguf`] report, [`LocalError::Io`] when
    /// the file cannot be reopened, [`LocalError::Model`] when candle cannot load the weights.
    pub fn open(path: &Path, name: impl Into<String>) -> Result<Self, LocalError> {
        let content = read_gguf_header(path)?;
        let tokenizer = Tokenizer::from_gguf(&content)?;
        let format = content
            .metadata
            .get("tokenizer.chat_template")
            .and_then(|v| v.to_string().ok())
            .map_or_else(ChatMl::default, |t| ChatMl::from_template_text(t));
        let mut stops: Vec<u32> = tokenizer.eos_id().into_iter().collect();
        stops.extend(tokenizer.token_id("<|im_end|>"));
        let context = content
            .metadata
            .get("llama.context_length")
            .and_then(|v| v.to_u32().ok())
            .map_or(2048, |c| c as usize);
        let mut file = std::fs::File::open(path).map_err(|source| LocalError::Io {
            path: path.display().to_string(),
            source,
        })?;
        let weights =
            ModelWeights::from_gguf(content, &mut file, &Device::Cpu).map_err(|e| model_err(&e))?;
        Ok(Self {
            name: name.into(),
            weights,
            tokenizer,
            format,
            stops,
            context,
        })
    }

    /// The name the model answers under.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The tokenizer read from the file.
    #[must_use]
    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// The conversation format.
    #[must_use]
    pub fn format(&self) -> &ChatMl {
        &self.format
    }

    /// Answers a chat request: the conversation in ChatML, then up to `max_tokens` (default
    /// [`DEFAULT_MAX_TOKENS`], and never past the model's context) tokens, stopping at
    /// `<|im_end|>` or end of text. Temperature absent or 0 means greedy decoding; otherwise
    /// tokens are sampled with `seed` (default 0; answer `i` of `n` uses `seed + i`). Tools are
    /// not offered to the model: the reply is text.
    ///
    /// # Errors
    /// [`LocalError::Model`] when the prompt fills the context, `n` is above [`MAX_CHOICES`],
    /// or candle fails.
    pub fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, LocalError> {
        let prompt = self
            .format
            .encode(&self.tokenizer, &request.messages, true)?;
        if prompt.len() >= self.context {
            return Err(LocalError::Model(format!(
                "the prompt has {} tokens; the context holds {}",
                prompt.len(),
                self.context
            )));
        }
        let n = request.n.unwrap_or(1).max(1);
        if n > MAX_CHOICES {
            return Err(LocalError::Model(format!(
                "{n} answers asked, at most {MAX_CHOICES}"
            )));
        }
        let room = self.context - prompt.len();
        let max = (request.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS) as usize).min(room);
        let mut choices = Vec::new();
        let mut completion = 0u64;
        for index in 0..n {
            let seed = request.seed.unwrap_or(0).wrapping_add(u64::from(index));
            let sampling = match request.temperature {
                Some(t) if t > 0.0 => Sampling::All { temperature: t },
                _ => Sampling::ArgMax,
            };
            let (ids, stopped) =
                self.generate(&prompt, max, LogitsProcessor::from_sampling(seed, sampling))?;
            completion += ids.len() as u64;
            choices.push(Choice {
                index,
                message: Message::assistant(self.tokenizer.decode(&ids, true)?),
                finish_reason: Some(if stopped { "stop" } else { "length" }.to_owned()),
            });
        }
        let prompt_tokens = prompt.len() as u64;
        Ok(ChatResponse {
            id: format!("local-{}", request.seed.unwrap_or(0)),
            model: self.name.clone(),
            choices,
            usage: Some(Usage {
                prompt_tokens,
                completion_tokens: completion,
                total_tokens: prompt_tokens + completion,
            }),
        })
    }

    /// Generates up to `max` tokens after `prompt`; true when a stop token ended it.
    fn generate(
        &self,
        prompt: &[u32],
        max: usize,
        mut sampler: LogitsProcessor,
    ) -> Result<(Vec<u32>, bool), LocalError> {
        let mut model = self.weights.clone();
        let mut out = Vec::new();
        let mut input = prompt.to_vec();
        let mut pos = 0;
        while out.len() < max {
            let x = Tensor::new(input.as_slice(), &Device::Cpu)
                .and_then(|t| t.unsqueeze(0))
                .map_err(|e| model_err(&e))?;
            let logits = model
                .forward(&x, pos)
                .and_then(|l| l.squeeze(0))
                .map_err(|e| model_err(&e))?;
            pos += input.len();
            let next = sampler.sample(&logits).map_err(|e| model_err(&e))?;
            if self.stops.contains(&next) {
                return Ok((out, true));
            }
            out.push(next);
            input = vec![next];
        }
        Ok((out, false))
    }
}
