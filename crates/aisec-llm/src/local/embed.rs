//! Sentence embeddings on the CPU: all-MiniLM-L6-v2 (a 6-layer BERT) run with candle's
//! `BertModel`, its WordPiece tokenizer written here, mean pooling over the real tokens and an
//! L2 norm: the same vectors sentence-transformers gives for the model.
//!
//! The tokenizer is BERT's "uncased" pipeline: special tokens written literally in the text
//! (`[CLS]`, `[SEP]`, ...) are kept as such; the rest is cleaned (NUL, U+FFFD and control or
//! format characters dropped, every kind of white space made a space), CJK ideographs are set
//! apart, accents are stripped (canonical decomposition, non-spacing marks dropped), the text is
//! lower-cased, split at white space and around each punctuation character, and each word is cut
//! greedily into the longest vocabulary pieces from the left (`##` marks a piece that continues a
//! word). A word longer than 100 characters, or one that cannot be cut, is `[UNK]`.
//!
//! Everything read is bounded: the file sizes, the vocabulary (entries and entry length), the
//! configuration's dimensions, the text looked at per input (the first [`MAX_TEXT_BYTES`]) and
//! the tokens kept (the model's window).

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use unicode_categories::UnicodeCategories;
use unicode_normalization_alignments::UnicodeNormalization;

use super::LocalError;
use crate::Embedder;

/// The largest weights file we read (all-MiniLM-L6-v2's is 91 MB).
pub const MAX_WEIGHTS_BYTES: u64 = 1 << 30;
/// The largest `config.json`, `sentence_bert_config.json` or `vocab.txt` we read.
pub const MAX_SMALL_FILE_BYTES: u64 = 1 << 20;
/// The largest `tokenizer.json` we read (only when there is no `vocab.txt`).
pub const MAX_TOKENIZER_JSON_BYTES: u64 = 16 << 20;
/// The most vocabulary entries.
pub const MAX_VOCAB: usize = 250_000;
/// The longest vocabulary entry, in bytes.
pub const MAX_VOCAB_ENTRY_BYTES: usize = 256;
/// How much of each text the tokenizer looks at. The model's window (256 tokens) is reached
/// long before on any real text; the cap keeps a pathological input (megabytes of spaces or
/// combining marks) from costing time.
pub const MAX_TEXT_BYTES: usize = 256 << 10;
/// Texts run through the model together.
pub const BATCH: usize = 16;
/// A word longer than this many characters is `[UNK]` (BERT's rule).
pub const MAX_WORD_CHARS: usize = 100;

const SPECIALS: [&str; 5] = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];

fn bad(path: &Path, message: impl std::fmt::Display) -> LocalError {
    LocalError::Model(format!("{}: {message}", path.display()))
}

/// Reads a whole file of at most `limit` bytes.
fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, LocalError> {
    let io = |source| LocalError::Io {
        path: path.display().to_string(),
        source,
    };
    let file = File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    if len > limit {
        return Err(bad(
            path,
            format!("{len} bytes, more than the {limit}-byte limit"),
        ));
    }
    let mut data = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.take(limit + 1).read_to_end(&mut data).map_err(io)?;
    if data.len() as u64 > limit {
        return Err(bad(path, format!("more than the {limit}-byte limit")));
    }
    Ok(data)
}

/// BERT's uncased WordPiece tokenizer.
#[derive(Debug, Clone)]
pub struct WordPiece {
    vocab: HashMap<String, u32>,
    unk: u32,
    cls: u32,
    sep: u32,
    /// Special tokens recognised verbatim in the text, with their ids.
    specials: Vec<(&'static str, u32)>,
}

impl WordPiece {
    /// Builds the tokenizer from a vocabulary: the entries in id order.
    ///
    /// # Errors
    /// [`LocalError::Model`] when the vocabulary is too large, has an empty, over-long or
    /// repeated entry, or lacks `[UNK]`, `[CLS]` or `[SEP]`.
    pub fn from_tokens<S: AsRef<str>>(tokens: &[S]) -> Result<Self, LocalError> {
        if tokens.len() > MAX_VOCAB {
            return Err(LocalError::Model(format!(
                "{} vocabulary entries, more than {MAX_VOCAB}",
                tokens.len()
            )));
        }
        let mut vocab = HashMap::with_capacity(tokens.len());
        for (id, t) in tokens.iter().enumerate() {
            let t = t.as_ref();
            if t.is_empty() || t.len() > MAX_VOCAB_ENTRY_BYTES {
                return Err(LocalError::Model(format!(
                    "vocabulary entry {id} is empty or longer than {MAX_VOCAB_ENTRY_BYTES} bytes"
                )));
            }
            // Fits: the count is bounded by MAX_VOCAB.
            let id = u32::try_from(id).unwrap_or(u32::MAX);
            if vocab.insert(t.to_owned(), id).is_some() {
                return Err(LocalError::Model(format!(
                    "vocabulary entry {t:?} appears twice"
                )));
            }
        }
        let need = |t: &str| {
            vocab
                .get(t)
                .copied()
                .ok_or_else(|| LocalError::Model(format!("the vocabulary lacks {t}")))
        };
        let (unk, cls, sep) = (need("[UNK]")?, need("[CLS]")?, need("[SEP]")?);
        let specials = SPECIALS
            .iter()
            .filter_map(|s| vocab.get(*s).map(|id| (*s, *id)))
            .collect();
        Ok(Self {
            vocab,
            unk,
            cls,
            sep,
            specials,
        })
    }

    /// Reads `vocab.txt` (one entry per line, the line number is the id).
    ///
    /// # Errors
    /// [`LocalError::Io`] when it cannot be read, [`LocalError::Model`] when it is not UTF-8,
    /// larger than [`MAX_SMALL_FILE_BYTES`] or breaks [`WordPiece::from_tokens`]'s bounds.
    pub fn from_vocab_txt(path: &Path) -> Result<Self, LocalError> {
        let data = read_bounded(path, MAX_SMALL_FILE_BYTES)?;
        let text = std::str::from_utf8(&data).map_err(|e| bad(path, e))?;
        let lines: Vec<&str> = text
            .strip_suffix('\n')
            .unwrap_or(text)
            .split('\n')
            .map(|l| l.strip_suffix('\r').unwrap_or(l))
            .take(MAX_VOCAB + 1)
            .collect();
        Self::from_tokens(&lines).map_err(|e| bad(path, e))
    }

    /// Reads the WordPiece vocabulary of a `tokenizer.json` (`model.vocab`, token to id).
    ///
    /// # Errors
    /// As [`WordPiece::from_vocab_txt`]; also when the file is not JSON of that shape or its ids
    /// are not exactly 0..n.
    pub fn from_tokenizer_json(path: &Path) -> Result<Self, LocalError> {
        #[derive(serde::Deserialize)]
        struct File {
            model: Model,
        }
        #[derive(serde::Deserialize)]
        struct Model {
            vocab: HashMap<String, u32>,
        }
        let data = read_bounded(path, MAX_TOKENIZER_JSON_BYTES)?;
        let file: File = serde_json::from_slice(&data).map_err(|e| bad(path, e))?;
        let n = file.model.vocab.len();
        if n > MAX_VOCAB {
            return Err(bad(path, format!("{n} entries, more than {MAX_VOCAB}")));
        }
        let mut tokens = vec![String::new(); n];
        for (t, id) in file.model.vocab {
            match tokens.get_mut(id as usize) {
                Some(slot) if slot.is_empty() => *slot = t,
                _ => return Err(bad(path, format!("id {id} is repeated or out of range"))),
            }
        }
        Self::from_tokens(&tokens).map_err(|e| bad(path, e))
    }

    /// The vocabulary size.
    #[must_use]
    pub fn len(&self) -> usize {
        self.vocab.len()
    }

    /// Whether the vocabulary is empty (never, once built).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.vocab.is_empty()
    }

    /// The id of `token`, if it is in the vocabulary.
    #[must_use]
    pub fn token_id(&self, token: &str) -> Option<u32> {
        self.vocab.get(token).copied()
    }

    /// The ids of `text`: `[CLS]`, at most `max_len - 2` pieces, `[SEP]`. Only the first
    /// [`MAX_TEXT_BYTES`] of the text are looked at.
    #[must_use]
    pub fn encode(&self, text: &str, max_len: usize) -> Vec<u32> {
        let budget = max_len.saturating_sub(2);
        let mut end = text.len().min(MAX_TEXT_BYTES);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let mut out = Vec::with_capacity(budget.min(512) + 2);
        out.push(self.cls);
        let mut rest = &text[..end];
        while out.len() <= budget && !rest.is_empty() {
            // The next special token written verbatim, if any.
            let next = self
                .specials
                .iter()
                .filter_map(|(s, id)| rest.find(s).map(|at| (at, s.len(), *id)))
                .min_by_key(|(at, _, _)| *at);
            let (plain, special) = match next {
                Some((at, len, id)) => (&rest[..at], Some((at + len, id))),
                None => (rest, None),
            };
            self.encode_plain(plain, budget + 1, &mut out);
            match special {
                Some((after, id)) if out.len() <= budget => {
                    out.push(id);
                    rest = &rest[after..];
                }
                _ => break,
            }
        }
        out.truncate(budget + 1);
        out.push(self.sep);
        out
    }

    /// Normalises, splits and cuts `text`, pushing ids while `out` is shorter than `limit`.
    fn encode_plain(&self, text: &str, limit: usize, out: &mut Vec<u32>) {
        let cleaned = text
            .chars()
            .filter(|&c| !(c == '\0' || c == '\u{fffd}' || is_control(c)))
            .map(|c| if is_whitespace(c) { ' ' } else { c });
        let mut word = String::new();
        let mut word_chars = 0usize;
        let flush = |word: &mut String, word_chars: &mut usize, out: &mut Vec<u32>| {
            if !word.is_empty() {
                if *word_chars > MAX_WORD_CHARS {
                    out.push(self.unk);
                } else {
                    self.cut(word, limit, out);
                }
            }
            word.clear();
            *word_chars = 0;
        };
        // CJK ideographs are words of their own: spaces around each before decomposition.
        let spaced = cleaned.flat_map(|c| {
            let padded = if is_chinese_char(c) {
                [Some(' '), Some(c), Some(' ')]
            } else {
                [Some(c), None, None]
            };
            padded.into_iter().flatten()
        });
        // The decomposition yields each character with its alignment change, unused here.
        for c in spaced
            .nfd()
            .map(|(c, _)| c)
            .filter(|c| !c.is_mark_nonspacing())
            .flat_map(char::to_lowercase)
        {
            if out.len() >= limit {
                return;
            }
            if c.is_whitespace() {
                flush(&mut word, &mut word_chars, out);
            } else if is_punctuation(c) {
                flush(&mut word, &mut word_chars, out);
                word.push(c);
                word_chars = 1;
                flush(&mut word, &mut word_chars, out);
            } else {
                // Past the limit the word is [UNK] whatever follows: count, do not keep.
                if word_chars <= MAX_WORD_CHARS {
                    word.push(c);
                }
                word_chars += 1;
            }
        }
        if out.len() < limit {
            flush(&mut word, &mut word_chars, out);
        }
    }

    /// Cuts one word into the longest vocabulary pieces from the left.
    fn cut(&self, word: &str, limit: usize, out: &mut Vec<u32>) {
        let mut pieces = Vec::new();
        let mut start = 0;
        let mut candidate = String::with_capacity(word.len() + 2);
        while start < word.len() {
            let mut end = word.len();
            let mut found = None;
            while start < end {
                candidate.clear();
                if start > 0 {
                    candidate.push_str("##");
                }
                candidate.push_str(&word[start..end]);
                if let Some(id) = self.vocab.get(&candidate) {
                    found = Some(*id);
                    break;
                }
                end -= word[start..end]
                    .chars()
                    .next_back()
                    .map_or(1, char::len_utf8);
            }
            match found {
                Some(id) => pieces.push(id),
                None => {
                    pieces.clear();
                    pieces.push(self.unk);
                    break;
                }
            }
            start = end;
        }
        let room = limit.saturating_sub(out.len());
        out.extend(pieces.into_iter().take(room));
    }
}

/// Tab, line feed and carriage return count as white space, not control characters.
fn is_whitespace(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || c.is_whitespace()
}

/// Control, format and private-use characters (general categories Cc, Cf, Co), which the
/// cleaning step drops; tab, line feed and carriage return are white space instead.
fn is_control(c: char) -> bool {
    !matches!(c, '\t' | '\n' | '\r') && c.is_other()
}

/// ASCII punctuation and symbols, and every Unicode punctuation category.
fn is_punctuation(c: char) -> bool {
    c.is_ascii_punctuation() || c.is_punctuation()
}

/// The CJK ideograph blocks that BERT splits into one word per character.
fn is_chinese_char(c: char) -> bool {
    matches!(
        u32::from(c),
        0x4E00..=0x9FFF
            | 0x3400..=0x4DBF
            | 0x2_0000..=0x2_A6DF
            | 0x2_A700..=0x2_B73F
            | 0x2_B740..=0x2_B81F
            | 0x2_B920..=0x2_CEAF
            | 0xF900..=0xFAFF
            | 0x2_F800..=0x2_FA1F
    )
}

/// The weights of `bytes` (safetensors) as F32 tensors, each encoder layer's projection stored
/// transposed in memory (the same `(out, in)` shape, as a transposed view). candle's `Linear`
/// multiplies by the weight's transpose; stored this way that transpose is contiguous and the
/// matrix product reads the weights as they lie instead of through a strided view (measured on
/// a 2-core machine: a third less time for a 128-token text, a seventh less for a few tokens).
fn pretransposed(bytes: &[u8], device: &Device) -> candle_core::Result<HashMap<String, Tensor>> {
    let mut tensors = candle_core::safetensors::load_buffer(bytes, device)?;
    for (name, t) in &mut tensors {
        if t.dtype() != DType::F32 {
            *t = t.to_dtype(DType::F32)?;
        }
        let projection = name.contains("encoder.layer.")
            && t.rank() == 2
            && [
                ".query.weight",
                ".key.weight",
                ".value.weight",
                ".dense.weight",
            ]
            .iter()
            .any(|suffix| name.ends_with(suffix));
        if projection {
            *t = t.t()?.contiguous()?.t()?;
        }
    }
    Ok(tensors)
}

/// The model dimensions we accept (all-MiniLM-L6-v2 is 384 wide, 6 layers, 512 positions).
const MAX_HIDDEN: usize = 4096;
const MAX_LAYERS: usize = 64;
const MAX_POSITIONS: usize = 8192;

/// Sentence embeddings from a sentence-transformers BERT folder (all-MiniLM-L6-v2): mean of
/// the last layer over the real tokens, L2-normalised. Runs on the CPU; one value serves every
/// thread.
pub struct MiniLm {
    name: String,
    model: BertModel,
    tokenizer: WordPiece,
    window: usize,
    dimension: usize,
    device: Device,
}

impl std::fmt::Debug for MiniLm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MiniLm")
            .field("name", &self.name)
            .field("window", &self.window)
            .field("dimension", &self.dimension)
            .field("vocabulary", &self.tokenizer.len())
            .finish_non_exhaustive()
    }
}

impl MiniLm {
    /// Opens the model folder `dir` (as the resolver gives `all-minilm-l6-v2`): `config.json`,
    /// `model.safetensors`, `vocab.txt` (or, without it, `tokenizer.json`) and, when present,
    /// `sentence_bert_config.json` for the window (`max_seq_length`, else the model's position
    /// count). Named after the folder's last component.
    ///
    /// # Errors
    /// [`LocalError::Io`] when a file cannot be read, [`LocalError::Model`] when one is larger
    /// than its bound, malformed, or the weights do not fit the configuration.
    pub fn open(dir: &Path) -> Result<Self, LocalError> {
        let name = dir
            .file_name()
            .map_or_else(|| "minilm".to_owned(), |n| n.to_string_lossy().into_owned());
        Self::open_named(dir, name)
    }

    /// [`MiniLm::open`], naming the model `name`.
    ///
    /// # Errors
    /// As [`MiniLm::open`].
    pub fn open_named(dir: &Path, name: impl Into<String>) -> Result<Self, LocalError> {
        let config_path = dir.join("config.json");
        let config: Config =
            serde_json::from_slice(&read_bounded(&config_path, MAX_SMALL_FILE_BYTES)?)
                .map_err(|e| bad(&config_path, e))?;
        if config.hidden_size == 0
            || config.hidden_size > MAX_HIDDEN
            || config.num_hidden_layers > MAX_LAYERS
            || config.max_position_embeddings < 3
            || config.max_position_embeddings > MAX_POSITIONS
            || config.num_attention_heads == 0
            || !config
                .hidden_size
                .is_multiple_of(config.num_attention_heads)
            || config.vocab_size > MAX_VOCAB
            || config.intermediate_size > 4 * MAX_HIDDEN
        {
            return Err(bad(&config_path, "dimensions out of bounds"));
        }
        let vocab_txt = dir.join("vocab.txt");
        let tokenizer = if vocab_txt.exists() {
            WordPiece::from_vocab_txt(&vocab_txt)?
        } else {
            WordPiece::from_tokenizer_json(&dir.join("tokenizer.json"))?
        };
        if tokenizer.len() > config.vocab_size {
            return Err(bad(
                dir,
                format!(
                    "{} vocabulary entries for a model of {}",
                    tokenizer.len(),
                    config.vocab_size
                ),
            ));
        }
        let mut window = config.max_position_embeddings;
        let st_path = dir.join("sentence_bert_config.json");
        if st_path.exists() {
            #[derive(serde::Deserialize)]
            struct St {
                max_seq_length: Option<usize>,
            }
            let st: St = serde_json::from_slice(&read_bounded(&st_path, MAX_SMALL_FILE_BYTES)?)
                .map_err(|e| bad(&st_path, e))?;
            if let Some(m) = st.max_seq_length {
                if m < 3 {
                    return Err(bad(&st_path, "max_seq_length under 3"));
                }
                window = window.min(m);
            }
        }
        let weights_path = dir.join("model.safetensors");
        let weights = read_bounded(&weights_path, MAX_WEIGHTS_BYTES)?;
        let device = Device::Cpu;
        let vb = VarBuilder::from_tensors(
            pretransposed(&weights, &device).map_err(|e| bad(&weights_path, e))?,
            DType::F32,
            &device,
        );
        let model = BertModel::load(vb, &config).map_err(|e| bad(&weights_path, e))?;
        Ok(Self {
            name: name.into(),
            model,
            tokenizer,
            window,
            dimension: config.hidden_size,
            device,
        })
    }

    /// The same model seeing at most `tokens` tokens of each text (`[CLS]` and `[SEP]`
    /// included; at least 3, at most the model's own window). A short window is much cheaper
    /// when the start of a text is what matters, as for judging refusals.
    #[must_use]
    pub fn with_window(mut self, tokens: usize) -> Self {
        self.window = tokens.clamp(3, self.window);
        self
    }

    /// The tokenizer.
    #[must_use]
    pub fn tokenizer(&self) -> &WordPiece {
        &self.tokenizer
    }

    /// The most tokens (with `[CLS]` and `[SEP]`) the model sees of one text.
    #[must_use]
    pub fn window(&self) -> usize {
        self.window
    }

    /// Runs one batch of token id lists (each within the window) through the model.
    fn run_batch(&self, batch: &[&Vec<u32>]) -> candle_core::Result<Vec<Vec<f32>>> {
        let longest = batch.iter().map(|ids| ids.len()).max().unwrap_or(0);
        let mut ids = Vec::with_capacity(batch.len() * longest);
        let mut mask = Vec::with_capacity(batch.len() * longest);
        for row in batch {
            ids.extend(row.iter().copied());
            ids.extend(std::iter::repeat_n(0u32, longest - row.len()));
            mask.extend(std::iter::repeat_n(1u32, row.len()));
            mask.extend(std::iter::repeat_n(0u32, longest - row.len()));
        }
        let shape = (batch.len(), longest);
        let ids = Tensor::from_vec(ids, shape, &self.device)?;
        let mask = Tensor::from_vec(mask, shape, &self.device)?;
        let types = ids.zeros_like()?;
        let hidden = self.model.forward(&ids, &types, Some(&mask))?;
        // Mean over the real tokens, then unit length.
        let m = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
        let summed = hidden.broadcast_mul(&m)?.sum(1)?;
        let counts = m.sum(1)?.clamp(1e-9f32, f32::MAX)?;
        let mean = summed.broadcast_div(&counts)?;
        let norm = mean
            .sqr()?
            .sum_keepdim(1)?
            .sqrt()?
            .clamp(1e-12f32, f32::MAX)?;
        mean.broadcast_div(&norm)?.to_vec2::<f32>()
    }
}

impl Embedder for MiniLm {
    fn name(&self) -> &str {
        &self.name
    }

    fn dimension(&self) -> usize {
        self.dimension
    }

    fn embed(&self, texts: &[&str]) -> crate::Result<Vec<Vec<f32>>> {
        let encoded: Vec<Vec<u32>> = texts
            .iter()
            .map(|t| self.tokenizer.encode(t, self.window))
            .collect();
        // Similar lengths together: less padding.
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| encoded[i].len());
        let mut out = vec![Vec::new(); texts.len()];
        for chunk in order.chunks(BATCH) {
            let batch: Vec<&Vec<u32>> = chunk.iter().map(|&i| &encoded[i]).collect();
            let vectors = self
                .run_batch(&batch)
                .map_err(|e| LocalError::Model(e.to_string()))?;
            for (&i, v) in chunk.iter().zip(vectors) {
                out[i] = v;
            }
        }
        Ok(out)
    }
}

/// The magic of a saved [`StaticEmbedder`] table.
const STATIC_MAGIC: &[u8; 8] = b"AISECSE1";
/// Token sequences distilled per batch.
const DISTILL_BATCH: usize = 256;

/// Sentence vectors from static token vectors distilled out of a [`MiniLm`]: each vocabulary
/// entry's vector is the encoder's output for that token alone (`[CLS] token [SEP]`, mean
/// pooled), centred on the vocabulary's mean; a text's vector is the mean of its tokens',
/// unit length. No attention at run time: a text of 1,000 characters costs microseconds
/// instead of the encoder's ~5 GFLOP, at the price of word order and context.
pub struct StaticEmbedder {
    name: String,
    tokenizer: WordPiece,
    table: Vec<f32>,
    dimension: usize,
    window: usize,
}

impl std::fmt::Debug for StaticEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaticEmbedder")
            .field("name", &self.name)
            .field("dimension", &self.dimension)
            .field("vocabulary", &self.tokenizer.len())
            .finish_non_exhaustive()
    }
}

impl MiniLm {
    /// Distils the static token table (one encoder run per vocabulary entry, in batches).
    ///
    /// # Errors
    /// [`LocalError::Model`] when the encoder fails.
    pub fn distill(&self, name: impl Into<String>) -> Result<StaticEmbedder, LocalError> {
        let (cls, sep) = (self.tokenizer.cls, self.tokenizer.sep);
        let n = self.tokenizer.len();
        let dim = self.dimension;
        let mut table = vec![0f32; n * dim];
        let ids: Vec<Vec<u32>> = (0..n as u32).map(|id| vec![cls, id, sep]).collect();
        for (b, chunk) in ids.chunks(DISTILL_BATCH).enumerate() {
            let batch: Vec<&Vec<u32>> = chunk.iter().collect();
            let vectors = self
                .run_batch(&batch)
                .map_err(|e| LocalError::Model(e.to_string()))?;
            for (i, v) in vectors.into_iter().enumerate() {
                let row = b * DISTILL_BATCH + i;
                table[row * dim..(row + 1) * dim].copy_from_slice(&v);
            }
        }
        // Every entry shares the [CLS]/[SEP] part of its vector: centring removes it.
        let mut mean = vec![0f64; dim];
        for row in table.chunks(dim) {
            for (m, x) in mean.iter_mut().zip(row) {
                *m += f64::from(*x);
            }
        }
        for m in &mut mean {
            *m /= n.max(1) as f64;
        }
        for row in table.chunks_mut(dim) {
            for (x, m) in row.iter_mut().zip(&mean) {
                *x -= *m as f32;
            }
        }
        Ok(StaticEmbedder {
            name: name.into(),
            tokenizer: self.tokenizer.clone(),
            table,
            dimension: dim,
            window: self.window,
        })
    }
}

fn unit(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 1e-12 {
        for x in v {
            *x /= norm;
        }
    }
}

impl StaticEmbedder {
    /// The table as bytes: magic, vocabulary size and dimension (u32 LE), then the f32 LE rows.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + self.table.len() * 4);
        out.extend_from_slice(STATIC_MAGIC);
        out.extend_from_slice(&(self.tokenizer.len() as u32).to_le_bytes());
        out.extend_from_slice(&(self.dimension as u32).to_le_bytes());
        for x in &self.table {
            out.extend_from_slice(&x.to_le_bytes());
        }
        out
    }

    /// Reads a table saved by [`StaticEmbedder::to_bytes`] for `model`'s tokenizer.
    ///
    /// # Errors
    /// [`LocalError::Model`] when the bytes are not such a table, or do not fit the tokenizer.
    pub fn from_bytes(
        bytes: &[u8],
        model: &MiniLm,
        name: impl Into<String>,
    ) -> Result<Self, LocalError> {
        let bad = |m: &str| LocalError::Model(format!("static embedding table: {m}"));
        if bytes.len() < 16 || &bytes[..8] != STATIC_MAGIC {
            return Err(bad("not an aisec static table"));
        }
        let word = |at: usize| {
            u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]) as usize
        };
        let (n, dim) = (word(8), word(12));
        if n != model.tokenizer.len() || dim != model.dimension {
            return Err(bad("made for another model"));
        }
        if bytes.len() != 16 + n * dim * 4 {
            return Err(bad("wrong length"));
        }
        let table = bytes[16..]
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect::<Vec<_>>();
        if table.iter().any(|x| !x.is_finite()) {
            return Err(bad("a value is not finite"));
        }
        Ok(Self {
            name: name.into(),
            tokenizer: model.tokenizer.clone(),
            table,
            dimension: dim,
            window: model.window,
        })
    }

    /// The table of `model` kept at `path`: read when a table for this model's tokenizer and
    /// dimension is there; otherwise distilled ([`MiniLm::distill`], about a minute on a small
    /// CPU) and written there whole, then renamed into place, so a concurrent reader never sees
    /// half a table. Returns the table and whether it was distilled now.
    ///
    /// # Errors
    /// [`LocalError::Model`] when distilling fails; [`LocalError::Io`] when the table cannot be
    /// written.
    pub fn cached(
        model: &MiniLm,
        path: &std::path::Path,
        name: impl Into<String>,
    ) -> Result<(Self, bool), LocalError> {
        use std::io::Read;
        let name = name.into();
        let expected = 16 + model.tokenizer.len() * model.dimension * 4;
        let mut bytes = Vec::new();
        let read = std::fs::File::open(path)
            .and_then(|f| f.take(expected as u64 + 1).read_to_end(&mut bytes));
        if read.is_ok()
            && let Ok(table) = Self::from_bytes(&bytes, model, name.clone())
        {
            return Ok((table, false));
        }
        let table = model.distill(name)?;
        let io = |source| LocalError::Io {
            path: path.display().to_string(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&tmp, table.to_bytes()).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)?;
        Ok((table, true))
    }
}

impl Embedder for StaticEmbedder {
    fn name(&self) -> &str {
        &self.name
    }

    fn dimension(&self) -> usize {
        self.dimension
    }

    fn embed(&self, texts: &[&str]) -> crate::Result<Vec<Vec<f32>>> {
        let dim = self.dimension;
        Ok(texts
            .iter()
            .map(|t| {
                let ids = self.tokenizer.encode(t, self.window);
                let mut v = vec![0f32; dim];
                // [CLS] and [SEP] left out: the table is centred on what they share.
                let inner = &ids[1..ids.len().saturating_sub(1).max(1)];
                for &id in inner {
                    let Some(row) = self.table.get(id as usize * dim..(id as usize + 1) * dim)
                    else {
                        continue;
                    };
                    for (a, b) in v.iter_mut().zip(row) {
                        *a += b;
                    }
                }
                unit(&mut v);
                v
            })
            .collect())
    }
}
