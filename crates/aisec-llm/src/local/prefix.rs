//! Reuse of the attention cache across requests that share the start of their prompt.
//!
//! A red-team campaign or a chatbot sends the same system prompt (and the same tool
//! declarations) in front of every message, often hundreds of tokens; on a CPU, reading them is
//! most of the time an answer takes. Prompts are therefore read in fixed blocks of
//! [`BLOCK`] tokens, and the model's state after each whole block is kept, keyed by the tokens
//! read so far. A later prompt that starts with the same blocks resumes from the longest kept
//! state. Because every prompt is read in the same blocks whether or not a state is reused, an
//! answer is bit-for-bit the same with the cache as without it: greedy decoding stays
//! reproducible.
//!
//! The kept states are bounded in bytes ([`PrefixCache::new`]); the least recently used go
//! first, and among those the longest, since a short prefix (the system prompt) is the one most
//! requests share.

use std::collections::HashMap;

use candle_transformers::models::quantized_llama::ModelWeights;

/// Tokens per block: a prompt's state is kept at each multiple of this.
pub const BLOCK: usize = 64;

/// Bytes of kept states when the caller names no budget.
pub const DEFAULT_BUDGET_BYTES: usize = 256 << 20;

/// How much the cache has helped, for logs and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PrefixStats {
    /// Prompts looked up.
    pub lookups: u64,
    /// Lookups that resumed from a kept state.
    pub hits: u64,
    /// Prompt tokens not read again thanks to those states.
    pub tokens_reused: u64,
    /// States kept now.
    pub entries: usize,
}

struct Entry {
    state: ModelWeights,
    last_use: u64,
}

/// The kept states of one model (see the module documentation).
pub struct PrefixCache {
    bytes_per_token: usize,
    budget_bytes: usize,
    entries: HashMap<Vec<u32>, Entry>,
    kept_tokens: usize,
    clock: u64,
    stats: PrefixStats,
}

impl std::fmt::Debug for PrefixCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrefixCache")
            .field("budget_bytes", &self.budget_bytes)
            .field("kept_tokens", &self.kept_tokens)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl PrefixCache {
    /// A cache for a model whose state costs `bytes_per_token` per prompt token (keys and
    /// values of every layer), holding at most `budget_bytes` of states.
    #[must_use]
    pub fn new(bytes_per_token: usize, budget_bytes: usize) -> Self {
        Self {
            bytes_per_token: bytes_per_token.max(1),
            budget_bytes,
            entries: HashMap::new(),
            kept_tokens: 0,
            clock: 0,
            stats: PrefixStats::default(),
        }
    }

    /// The longest kept state for a proper prefix of `prompt` that ends on a block boundary:
    /// a copy of the state and how many tokens it has read. At least one token of the prompt
    /// is always left to read, since the answer starts from its output.
    pub fn lookup(&mut self, prompt: &[u32]) -> Option<(ModelWeights, usize)> {
        self.clock += 1;
        self.stats.lookups += 1;
        let longest = prompt.len().saturating_sub(1) / BLOCK * BLOCK;
        let found = (1..=longest / BLOCK)
            .rev()
            .map(|k| k * BLOCK)
            .find(|&b| self.entries.contains_key(&prompt[..b]))?;
        // The shorter prefixes on the way are in use too.
        for b in (BLOCK..=found).step_by(BLOCK) {
            if let Some(e) = self.entries.get_mut(&prompt[..b]) {
                e.last_use = self.clock;
            }
        }
        self.stats.hits += 1;
        self.stats.tokens_reused += found as u64;
        let state = self.entries.get(&prompt[..found])?.state.clone();
        Some((state, found))
    }

    /// Keeps `state`, the model after reading `tokens` (a whole number of blocks), evicting
    /// what the budget requires. A state larger than the budget itself is not kept.
    pub fn insert(&mut self, tokens: &[u32], state: &ModelWeights) {
        let size = tokens.len();
        if size == 0
            || !size.is_multiple_of(BLOCK)
            || size * self.bytes_per_token > self.budget_bytes
        {
            return;
        }
        if let Some(e) = self.entries.get_mut(tokens) {
            e.last_use = self.clock;
            return;
        }
        while (self.kept_tokens + size) * self.bytes_per_token > self.budget_bytes {
            let victim = self
                .entries
                .iter()
                .min_by_key(|(k, e)| (e.last_use, std::cmp::Reverse(k.len())))
                .map(|(k, _)| k.clone());
            let Some(victim) = victim else { break };
            self.entries.remove(&victim);
            self.kept_tokens -= victim.len();
        }
        self.entries.insert(
            tokens.to_vec(),
            Entry {
                state: state.clone(),
                last_use: self.clock,
            },
        );
        self.kept_tokens += size;
    }

    /// Bytes of state per prompt token.
    #[must_use]
    pub fn bytes_per_token(&self) -> usize {
        self.bytes_per_token
    }

    /// What the cache has done so far.
    #[must_use]
    pub fn stats(&self) -> PrefixStats {
        PrefixStats {
            entries: self.entries.len(),
            ..self.stats
        }
    }
}
