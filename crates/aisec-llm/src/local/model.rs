//! A local chat model: a llama-family GGUF (SmolLM2) run on the CPU with candle's quantized
//! llama, the tokenizer rebuilt from the file's metadata and the ChatML format written in Rust.

use std::ops::ControlFlow;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use candle_core::{Device, Tensor};
use candle_transformers::generation::{LogitsProcessor, Sampling};
use candle_transformers::models::quantized_llama::ModelWeights;

use crate::openai::StreamDelta;
use crate::types::{ChatRequest, ChatResponse, Choice, Message, Role, ToolCall, ToolSpec, Usage};

use super::prefix::{self, PrefixCache, PrefixStats};
use super::tools::{self, ToolMode};
use super::{ChatMl, LocalError, Tokenizer, read_gguf_header};

/// Tokens generated when the request names no limit.
pub const DEFAULT_MAX_TOKENS: u32 = 256;
/// The most answers one request may ask for.
pub const MAX_CHOICES: u32 = 8;

/// A chat model loaded from a GGUF file. The loaded weights are never run directly: each
/// answer runs on a cheap copy (the quantized tensors are shared) with its own cache, so one
/// `LocalChat` can serve several threads. Clones share the loaded weights and the
/// [prefix cache](super::prefix).
#[derive(Debug, Clone)]
pub struct LocalChat {
    name: String,
    weights: ModelWeights,
    tokenizer: Tokenizer,
    format: ChatMl,
    stops: Vec<u32>,
    context: usize,
    prefixes: Arc<Mutex<PrefixCache>>,
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
        let prefixes = PrefixCache::new(
            state_bytes_per_token(&content),
            prefix::DEFAULT_BUDGET_BYTES,
        );
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
            prefixes: Arc::new(Mutex::new(prefixes)),
        })
    }

    /// Sets how many bytes of attention state the [prefix cache](super::prefix) may keep (0
    /// turns it off), emptying it.
    #[must_use]
    pub fn with_prefix_budget(mut self, bytes: usize) -> Self {
        let per_token = self.lock_prefixes().bytes_per_token();
        self.prefixes = Arc::new(Mutex::new(PrefixCache::new(per_token, bytes)));
        self
    }

    /// What the [prefix cache](super::prefix) has saved so far.
    #[must_use]
    pub fn prefix_stats(&self) -> PrefixStats {
        self.lock_prefixes().stats()
    }

    fn lock_prefixes(&self) -> std::sync::MutexGuard<'_, PrefixCache> {
        // The cache holds no invariant a panicking holder could break halfway.
        self.prefixes.lock().unwrap_or_else(PoisonError::into_inner)
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
    /// tokens are sampled with `seed` (default 0; answer `i` of `n` uses `seed + i`).
    ///
    /// Tools are offered as [`super::tools`] describes, unless `tool_choice` is `"none"`;
    /// `"required"` or a named function starts the answer as a call. An answer that calls
    /// tools has `finish_reason: "tool_calls"`, the calls (ids `call_{answer}_{k}`), and the
    /// text outside them, trimmed, as content (none when empty); generation stops at the first
    /// `</tool_call>`. With tools offered, a text
    /// answer is trimmed; without, it is the decoded text as it is.
    ///
    /// # Errors
    /// [`LocalError::Request`] when the prompt fills the context, `n` is above [`MAX_CHOICES`]
    /// or `tool_choice` does not fit the tools; [`LocalError::Model`] when candle fails.
    pub fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, LocalError> {
        self.answer(request, &mut |_| ControlFlow::Continue(()))
    }

    /// [`Self::chat`], handing each piece of the answer to `on_delta` as it is decoded: text
    /// (never a part of a UTF-8 character; with tools offered, text that may still turn out to
    /// be a call is held back until it is clear), then each tool call whole, then the finish
    /// reason. The pieces of an answer add up to the returned answer. `on_delta` returning
    /// `Break` stops generation with [`LocalError::Cancelled`].
    ///
    /// # Errors
    /// As [`Self::chat`], and [`LocalError::Cancelled`].
    pub fn chat_stream(
        &self,
        request: &ChatRequest,
        on_delta: &mut dyn FnMut(StreamDelta) -> ControlFlow<()>,
    ) -> Result<ChatResponse, LocalError> {
        self.answer(request, on_delta)
    }

    fn answer(
        &self,
        request: &ChatRequest,
        on_delta: &mut dyn FnMut(StreamDelta) -> ControlFlow<()>,
    ) -> Result<ChatResponse, LocalError> {
        let mode = ToolMode::from_request(&request.tools, request.tool_choice.as_ref())?;
        let offer: &[ToolSpec] = if mode == ToolMode::Off {
            &[]
        } else {
            &request.tools
        };
        let messages = tools::prepare(
            &request.messages,
            offer,
            self.format.default_system.as_deref(),
        );
        let mut prompt = self.format.encode(&self.tokenizer, &messages, true)?;
        let prefill = mode.prefill();
        if let Some(p) = &prefill {
            prompt.extend(self.tokenizer.encode(p, false)?);
        }
        if prompt.len() >= self.context {
            return Err(LocalError::Request(format!(
                "the prompt has {} tokens; the context holds {}",
                prompt.len(),
                self.context
            )));
        }
        let n = request.n.unwrap_or(1).max(1);
        if n > MAX_CHOICES {
            return Err(LocalError::Request(format!(
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
            let mut text = TextStream::new(!offer.is_empty(), prefill.as_deref().unwrap_or(""));
            let mut flow = ControlFlow::Continue(());
            let mut closed = false;
            let (count, stopped) = self.generate(
                &prompt,
                max,
                LogitsProcessor::from_sampling(seed, sampling),
                &mut |id: u32| -> Result<ControlFlow<()>, LocalError> {
                    if !self.tokenizer.is_special(id)
                        && let Some(piece) = text.push(&self.tokenizer.token_bytes(id)?)
                    {
                        flow = on_delta(text_delta(index, piece));
                    }
                    if flow.is_continue() && text.call_closed() {
                        // The calls are complete: what the model adds after them is not used.
                        closed = true;
                        return Ok(ControlFlow::Break(()));
                    }
                    Ok(flow)
                },
            )?;
            if flow.is_break() {
                return Err(LocalError::Cancelled);
            }
            completion += count as u64;
            let (message, tail) = text.finish(offer, index);
            if let Some(piece) = tail {
                cancelled(on_delta(text_delta(index, piece)))?;
            }
            for (k, call) in message.tool_calls.iter().enumerate() {
                cancelled(on_delta(StreamDelta {
                    choice: index,
                    content: None,
                    tool_call: Some((k as u32, call.clone())),
                    finish_reason: None,
                }))?;
            }
            let reason = if !message.tool_calls.is_empty() {
                "tool_calls"
            } else if stopped || closed {
                "stop"
            } else {
                "length"
            };
            cancelled(on_delta(StreamDelta {
                choice: index,
                content: None,
                tool_call: None,
                finish_reason: Some(reason.to_owned()),
            }))?;
            choices.push(Choice {
                index,
                message,
                finish_reason: Some(reason.to_owned()),
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

    /// Generates up to `max` tokens after `prompt`, handing each to `on_token` (which may stop
    /// generation); returns how many were generated and whether a stop token ended it. The
    /// prompt is read in blocks of [`prefix::BLOCK`] tokens, resuming from the prefix cache
    /// where it can and keeping the state after each whole block.
    fn generate(
        &self,
        prompt: &[u32],
        max: usize,
        mut sampler: LogitsProcessor,
        on_token: &mut dyn FnMut(u32) -> Result<ControlFlow<()>, LocalError>,
    ) -> Result<(usize, bool), LocalError> {
        let found = self.lock_prefixes().lookup(prompt);
        let (mut model, mut pos) = found.unwrap_or_else(|| (self.weights.clone(), 0));
        let mut logits = None;
        while pos < prompt.len() {
            let end = ((pos / prefix::BLOCK + 1) * prefix::BLOCK).min(prompt.len());
            logits = Some(forward(&mut model, &prompt[pos..end], pos)?);
            pos = end;
            if end.is_multiple_of(prefix::BLOCK) && end < prompt.len() {
                self.lock_prefixes().insert(&prompt[..end], &model);
            }
        }
        let Some(mut logits) = logits else {
            return Err(LocalError::Request("the prompt is empty".into()));
        };
        let mut count = 0;
        while count < max {
            let next = sampler.sample(&logits).map_err(|e| model_err(&e))?;
            if self.stops.contains(&next) {
                return Ok((count, true));
            }
            count += 1;
            if on_token(next)?.is_break() || count == max {
                break;
            }
            logits = forward(&mut model, &[next], pos)?;
            pos += 1;
        }
        Ok((count, false))
    }
}

/// Runs `tokens` through `model` from position `pos`; the logits after the last one.
fn forward(model: &mut ModelWeights, tokens: &[u32], pos: usize) -> Result<Tensor, LocalError> {
    Tensor::new(tokens, &Device::Cpu)
        .and_then(|t| t.unsqueeze(0))
        .and_then(|x| model.forward(&x, pos))
        .and_then(|l| l.squeeze(0))
        .map_err(|e| model_err(&e))
}

/// Bytes of attention state (keys and values, every layer, f32) one token costs a llama-family
/// model, from the GGUF metadata; SmolLM2-135M's defaults where a key is missing.
fn state_bytes_per_token(content: &candle_core::quantized::gguf_file::Content) -> usize {
    let get = |key: &str, default: usize| {
        content
            .metadata
            .get(key)
            .and_then(|v| v.to_u32().ok())
            .map_or(default, |v| v as usize)
    };
    let layers = get("llama.block_count", 30);
    let heads = get("llama.attention.head_count", 9).max(1);
    let kv_heads = get("llama.attention.head_count_kv", heads);
    let head_dim = get("llama.embedding_length", 576) / heads;
    layers * 2 * kv_heads * head_dim * std::mem::size_of::<f32>()
}

fn text_delta(choice: u32, piece: String) -> StreamDelta {
    StreamDelta {
        choice,
        content: Some(piece),
        tool_call: None,
        finish_reason: None,
    }
}

fn cancelled(flow: ControlFlow<()>) -> Result<(), LocalError> {
    match flow {
        ControlFlow::Continue(()) => Ok(()),
        ControlFlow::Break(()) => Err(LocalError::Cancelled),
    }
}

/// One answer's text as tokens arrive: bytes decoded as UTF-8 exactly as
/// `String::from_utf8_lossy` would decode them all at once (a character split across tokens
/// waits for its last byte; an invalid sequence becomes U+FFFD), and the part that is safe to
/// show so far.
struct TextStream {
    /// With tools offered: hold back what may be a call (see [`tools::safe_prefix`]).
    tools: bool,
    pending: Vec<u8>,
    text: String,
    /// Bytes of the shown text: `text[shown_from..shown_to]` has been handed out.
    shown_from: Option<usize>,
    shown_to: usize,
}

impl TextStream {
    fn new(tools: bool, prefill: &str) -> Self {
        Self {
            tools,
            pending: Vec::new(),
            text: prefill.to_owned(),
            shown_from: None,
            shown_to: 0,
        }
    }

    /// Adds a token's bytes; returns the text that has become safe to show.
    fn push(&mut self, bytes: &[u8]) -> Option<String> {
        self.pending.extend_from_slice(bytes);
        let mut used = 0;
        loop {
            match std::str::from_utf8(&self.pending[used..]) {
                Ok(s) => {
                    self.text.push_str(s);
                    used = self.pending.len();
                    break;
                }
                Err(e) => {
                    let valid = e.valid_up_to();
                    let ok = &self.pending[used..used + valid];
                    // The first `valid_up_to` bytes are UTF-8 by definition.
                    self.text
                        .push_str(std::str::from_utf8(ok).unwrap_or_default());
                    used += valid;
                    match e.error_len() {
                        Some(bad) => {
                            self.text.push(char::REPLACEMENT_CHARACTER);
                            used += bad;
                        }
                        // An incomplete character at the end: wait for the next token.
                        None => break,
                    }
                }
            }
        }
        self.pending.drain(..used);
        self.take_safe()
    }

    /// With tools offered: whether a `</tool_call>` has been written.
    fn call_closed(&self) -> bool {
        self.tools && self.text.contains(tools::CALL_CLOSE)
    }

    fn take_safe(&mut self) -> Option<String> {
        let range = if self.tools {
            tools::safe_prefix(&self.text)
        } else {
            0..self.text.len()
        };
        let from = *self.shown_from.get_or_insert(range.start);
        let start = self.shown_to.max(from);
        if range.end <= start {
            return None;
        }
        self.shown_to = range.end;
        Some(self.text[start..range.end].to_owned())
    }

    /// The whole answer as a message, and the text not yet shown.
    fn finish(mut self, offer: &[ToolSpec], choice: u32) -> (Message, Option<String>) {
        if !self.pending.is_empty() {
            self.text.push(char::REPLACEMENT_CHARACTER);
        }
        let (content, calls) = if self.tools {
            let parsed = tools::parse_calls(&self.text, offer);
            (parsed.content, parsed.calls)
        } else {
            (Some(self.text.clone()), Vec::new())
        };
        let shown = self
            .shown_from
            .map_or("", |from| &self.text[from..self.shown_to.max(from)]);
        let tail = content.as_deref().and_then(|c| {
            c.strip_prefix(shown)
                .filter(|rest| !rest.is_empty())
                .map(str::to_owned)
        });
        let tool_calls: Vec<ToolCall> = calls
            .into_iter()
            .enumerate()
            .map(|(k, c)| ToolCall {
                id: format!("call_{choice}_{k}"),
                ..c
            })
            .collect();
        let message = Message {
            role: Role::Assistant,
            content: if tool_calls.is_empty() {
                Some(content.unwrap_or_default())
            } else {
                content
            },
            tool_calls,
            tool_call_id: None,
        };
        (message, tail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(tools: bool, pieces: &[&[u8]]) -> (Vec<String>, Message, Option<String>) {
        let mut s = TextStream::new(tools, "");
        let shown: Vec<String> = pieces.iter().filter_map(|p| s.push(p)).collect();
        let offer = vec![ToolSpec {
            name: "f".into(),
            description: String::new(),
            parameters: serde_json::json!({}),
        }];
        let (m, tail) = s.finish(&offer, 0);
        (shown, m, tail)
    }

    #[test]
    fn split_characters_wait_for_their_last_byte() {
        let e = "é".as_bytes();
        let (shown, m, tail) = feed(false, &[b"caf", &e[..1], &e[1..], b" \xff!"]);
        assert_eq!(shown, ["caf", "é", " \u{fffd}!"]);
        assert_eq!(m.content_text(), "café \u{fffd}!");
        assert_eq!(tail, None);
        let (shown, m, _) = feed(false, &[b"a", &[0xff], &[0xe2, 0x82]]);
        assert_eq!(shown.concat(), "a\u{fffd}");
        assert_eq!(m.content_text(), "a\u{fffd}\u{fffd}");
        assert_eq!(
            m.content_text(),
            String::from_utf8_lossy(&[b'a', 0xff, 0xe2, 0x82])
        );
    }

    #[test]
    fn with_tools_calls_are_held_back_and_pieces_add_up() {
        let (shown, m, tail) = feed(
            true,
            &[
                b" Sure",
                b" thing. ",
                b"<tool",
                b"_call>[{\"name\": \"f\", \"arguments\": {}}]",
                b"</tool_call>",
            ],
        );
        assert_eq!(shown, ["Sure", " thing."]);
        assert_eq!(tail, None);
        assert_eq!(m.content.as_deref(), Some("Sure thing."));
        assert_eq!(m.tool_calls.len(), 1);
        assert_eq!(m.tool_calls[0].id, "call_0_0");

        let (shown, m, tail) = feed(true, &[b"a <to", b"ad> b  "]);
        assert_eq!(shown, ["a", " <toad> b"]);
        assert_eq!(tail, None);
        assert_eq!(m.content_text(), "a <toad> b");

        let (shown, m, tail) = feed(true, &[b"{\"x\"", b": 1}"]);
        assert!(shown.is_empty());
        assert_eq!(tail.as_deref(), Some("{\"x\": 1}"));
        assert_eq!(m.content_text(), "{\"x\": 1}");
    }
}
