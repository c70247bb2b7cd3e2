//! A byte-level BPE tokenizer (the GPT-2 family that `tokenizer.ggml.model = "gpt2"` names),
//! rebuilt from a GGUF file's metadata: the vocabulary, the merge list, the token types and the
//! special ids.
//!
//! Encoding: special tokens (control and user-defined types) are matched whole first, when the
//! caller allows it; the rest is split into words (each digit alone, then GPT-2's word rules:
//! contractions, letter runs, number runs, punctuation runs and whitespace), every word's bytes
//! are mapped to printable characters, and merges are applied lowest rank first. Decoding maps
//! the characters back to bytes, so any UTF-8 text survives the round trip.

use std::collections::HashMap;

use candle_core::quantized::gguf_file::{Content, Value};

use super::LocalError;

/// At most this many vocabulary entries.
pub const MAX_VOCAB: usize = 1 << 20;
/// At most this many merges.
pub const MAX_MERGES: usize = 1 << 21;
/// At most this many bytes in one token or merge entry.
pub const MAX_TOKEN_BYTES: usize = 4096;
/// Words longer than this many bytes are cut into pieces of this size before merging, so one
/// huge word cannot make encoding quadratic in the input's length.
pub const MAX_WORD_BYTES: usize = 1024;

/// GGUF token type of a control token (`<|im_start|>`, end of text).
const TYPE_CONTROL: i64 = 3;
/// GGUF token type of a user-defined token, also matched whole.
const TYPE_USER_DEFINED: i64 = 4;

/// A byte-level BPE tokenizer read from GGUF metadata.
#[derive(Debug, Clone)]
pub struct Tokenizer {
    tokens: Vec<String>,
    ids: HashMap<String, u32>,
    ranks: HashMap<(String, String), u32>,
    /// Ids of tokens matched whole, longest text first.
    specials: Vec<u32>,
    is_special: Vec<bool>,
    bos: Option<u32>,
    eos: Option<u32>,
    byte_char: [char; 256],
    char_byte: HashMap<char, u8>,
}

fn meta<'a>(content: &'a Content, key: &str) -> Result<&'a Value, LocalError> {
    content
        .metadata
        .get(key)
        .ok_or_else(|| LocalError::Metadata {
            key: key.to_owned(),
            message: "missing".to_owned(),
        })
}

fn bad(key: &str, message: impl Into<String>) -> LocalError {
    LocalError::Metadata {
        key: key.to_owned(),
        message: message.into(),
    }
}

fn string_array(content: &Content, key: &str, max: usize) -> Result<Vec<String>, LocalError> {
    let values = meta(content, key)?
        .to_vec()
        .map_err(|e| bad(key, e.to_string()))?;
    if values.len() > max {
        return Err(bad(
            key,
            format!("{} entries, more than {max}", values.len()),
        ));
    }
    values
        .iter()
        .map(|v| {
            let s = v.to_string().map_err(|e| bad(key, e.to_string()))?;
            if s.len() > MAX_TOKEN_BYTES {
                return Err(bad(key, format!("an entry of {} bytes", s.len())));
            }
            Ok(s.clone())
        })
        .collect()
}

fn integer(v: &Value) -> Option<i64> {
    match v {
        Value::U8(x) => Some(i64::from(*x)),
        Value::I8(x) => Some(i64::from(*x)),
        Value::U16(x) => Some(i64::from(*x)),
        Value::I16(x) => Some(i64::from(*x)),
        Value::U32(x) => Some(i64::from(*x)),
        Value::I32(x) => Some(i64::from(*x)),
        Value::U64(x) => i64::try_from(*x).ok(),
        Value::I64(x) => Some(*x),
        _ => None,
    }
}

fn optional_id(content: &Content, key: &str, vocab: usize) -> Result<Option<u32>, LocalError> {
    let Some(v) = content.metadata.get(key) else {
        return Ok(None);
    };
    let id = integer(v)
        .and_then(|i| u32::try_from(i).ok())
        .ok_or_else(|| bad(key, "not a token id"))?;
    if id as usize >= vocab {
        return Err(bad(key, format!("id {id} outside a vocabulary of {vocab}")));
    }
    Ok(Some(id))
}

/// GPT-2's reversible map from bytes to printable characters: printable Latin-1 bytes stand for
/// themselves, the others are moved to 256 and up, in byte order.
fn byte_chars() -> [char; 256] {
    let mut table = ['\0'; 256];
    let mut next = 256u32;
    for (b, slot) in table.iter_mut().enumerate() {
        let byte = u32::try_from(b).unwrap_or(0);
        let printable = (33..=126).contains(&byte)
            || (161..=172).contains(&byte)
            || (174..=255).contains(&byte);
        let code = if printable {
            byte
        } else {
            next += 1;
            next - 1
        };
        *slot = char::from_u32(code).unwrap_or('\u{fffd}');
    }
    table
}

impl Tokenizer {
    /// Rebuilds the tokenizer from a GGUF file's metadata.
    ///
    /// # Errors
    /// [`LocalError::Metadata`] when the model is not `gpt2`-style BPE, a key is missing, an
    /// array breaks a bound, or an id points outside the vocabulary.
    pub fn from_gguf(content: &Content) -> Result<Self, LocalError> {
        let model_key = "tokenizer.ggml.model";
        let model = meta(content, model_key)?
            .to_string()
            .map_err(|e| bad(model_key, e.to_string()))?;
        if model != "gpt2" {
            return Err(bad(
                model_key,
                format!("{model:?}: only byte-level BPE (\"gpt2\") is supported"),
            ));
        }
        let tokens = string_array(content, "tokenizer.ggml.tokens", MAX_VOCAB)?;
        let merges = string_array(content, "tokenizer.ggml.merges", MAX_MERGES)?;
        let types_key = "tokenizer.ggml.token_type";
        let types: Vec<i64> = match content.metadata.get(types_key) {
            None => vec![1; tokens.len()],
            Some(v) => v
                .to_vec()
                .map_err(|e| bad(types_key, e.to_string()))?
                .iter()
                .map(|t| integer(t).ok_or_else(|| bad(types_key, "not an integer")))
                .collect::<Result<_, _>>()?,
        };
        if types.len() != tokens.len() {
            return Err(bad(
                types_key,
                format!("{} types for {} tokens", types.len(), tokens.len()),
            ));
        }
        let vocab = tokens.len();
        let mut ids = HashMap::with_capacity(vocab);
        for (i, t) in tokens.iter().enumerate() {
            // The length is bounded by MAX_VOCAB, so the index fits.
            ids.entry(t.clone())
                .or_insert(u32::try_from(i).unwrap_or(u32::MAX));
        }
        let mut ranks = HashMap::with_capacity(merges.len());
        for (rank, m) in merges.iter().enumerate() {
            let (a, b) = m
                .split_once(' ')
                .ok_or_else(|| bad("tokenizer.ggml.merges", format!("{m:?} is not a pair")))?;
            ranks
                .entry((a.to_owned(), b.to_owned()))
                .or_insert(u32::try_from(rank).unwrap_or(u32::MAX));
        }
        let is_special: Vec<bool> = types
            .iter()
            .zip(&tokens)
            .map(|(t, s)| (*t == TYPE_CONTROL || *t == TYPE_USER_DEFINED) && !s.is_empty())
            .collect();
        let mut specials: Vec<u32> = (0..vocab)
            .filter(|&i| is_special[i])
            .map(|i| u32::try_from(i).unwrap_or(u32::MAX))
            .collect();
        specials.sort_by_key(|&i| std::cmp::Reverse(tokens[i as usize].len()));
        let bos = optional_id(content, "tokenizer.ggml.bos_token_id", vocab)?;
        let eos = optional_id(content, "tokenizer.ggml.eos_token_id", vocab)?;
        let byte_char = byte_chars();
        let char_byte = byte_char
            .iter()
            .enumerate()
            .map(|(b, &c)| (c, u8::try_from(b).unwrap_or(0)))
            .collect();
        Ok(Self {
            tokens,
            ids,
            ranks,
            specials,
            is_special,
            bos,
            eos,
            byte_char,
            char_byte,
        })
    }

    /// The number of tokens in the vocabulary.
    #[must_use]
    pub fn vocab_size(&self) -> usize {
        self.tokens.len()
    }

    /// The beginning-of-sequence id, when the file names one.
    #[must_use]
    pub fn bos_id(&self) -> Option<u32> {
        self.bos
    }

    /// The end-of-sequence id, when the file names one.
    #[must_use]
    pub fn eos_id(&self) -> Option<u32> {
        self.eos
    }

    /// The id of a token given by its exact text (`"<|im_end|>"`), if it is in the vocabulary.
    #[must_use]
    pub fn token_id(&self, token: &str) -> Option<u32> {
        self.ids.get(token).copied()
    }

    /// Whether `id` is a special token (control or user-defined).
    #[must_use]
    pub fn is_special(&self, id: u32) -> bool {
        self.is_special.get(id as usize).copied().unwrap_or(false)
    }

    /// Encodes `text`. With `allow_special`, special tokens written in the text become their
    /// single ids; without it they are ordinary text. Use `false` for anything a user wrote.
    ///
    /// # Errors
    /// [`LocalError::Metadata`] when a byte has no token (the vocabulary lacks a byte symbol).
    pub fn encode(&self, text: &str, allow_special: bool) -> Result<Vec<u32>, LocalError> {
        let mut out = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            let next = if allow_special {
                self.find_special(rest)
            } else {
                None
            };
            match next {
                Some((at, id)) => {
                    self.encode_plain(&rest[..at], &mut out)?;
                    out.push(id);
                    rest = &rest[at + self.tokens[id as usize].len()..];
                }
                None => {
                    self.encode_plain(rest, &mut out)?;
                    rest = "";
                }
            }
        }
        Ok(out)
    }

    /// The first special token in `text`: its byte offset and id (longest token at a tie).
    fn find_special(&self, text: &str) -> Option<(usize, u32)> {
        text.char_indices().find_map(|(at, _)| {
            let tail = &text[at..];
            self.specials
                .iter()
                .find(|&&id| tail.starts_with(self.tokens[id as usize].as_str()))
                .map(|&id| (at, id))
        })
    }

    fn encode_plain(&self, text: &str, out: &mut Vec<u32>) -> Result<(), LocalError> {
        for word in split_words(text) {
            for piece in word.as_bytes().chunks(MAX_WORD_BYTES) {
                self.encode_word(piece, out)?;
            }
        }
        Ok(())
    }

    fn encode_word(&self, bytes: &[u8], out: &mut Vec<u32>) -> Result<(), LocalError> {
        let mut symbols: Vec<String> = bytes
            .iter()
            .map(|&b| self.byte_char[b as usize].to_string())
            .collect();
        while symbols.len() > 1 {
            let best = symbols
                .windows(2)
                .enumerate()
                .filter_map(|(i, w)| {
                    self.ranks
                        .get(&(w[0].clone(), w[1].clone()))
                        .map(|&r| (r, i))
                })
                .min();
            let Some((_, i)) = best else { break };
            let right = symbols.remove(i + 1);
            symbols[i].push_str(&right);
        }
        for s in symbols {
            let id = self
                .ids
                .get(&s)
                .copied()
                .ok_or_else(|| LocalError::Metadata {
                    key: "tokenizer.ggml.tokens".to_owned(),
                    message: format!("no token for the symbol {s:?}"),
                })?;
            out.push(id);
        }
        Ok(())
    }

    /// The raw bytes a token stands for (a piece of UTF-8, possibly not a whole character).
    /// Special tokens give their text.
    ///
    /// # Errors
    /// [`LocalError::UnknownId`] for an id outside the vocabulary.
    pub fn token_bytes(&self, id: u32) -> Result<Vec<u8>, LocalError> {
        let token = self
            .tokens
            .get(id as usize)
            .ok_or(LocalError::UnknownId(id))?;
        if self.is_special(id) {
            return Ok(token.as_bytes().to_vec());
        }
        Ok(token
            .chars()
            .flat_map(|c| {
                self.char_byte
                    .get(&c)
                    .map_or_else(|| c.to_string().into_bytes(), |&b| vec![b])
            })
            .collect())
    }

    /// Decodes ids to text; with `skip_special`, special tokens are left out. Byte sequences
    /// that are not UTF-8 (a reply cut in the middle of a character) become U+FFFD.
    ///
    /// # Errors
    /// [`LocalError::UnknownId`] for an id outside the vocabulary.
    pub fn decode(&self, ids: &[u32], skip_special: bool) -> Result<String, LocalError> {
        let mut bytes = Vec::new();
        for &id in ids {
            if skip_special && self.is_special(id) {
                continue;
            }
            bytes.extend(self.token_bytes(id)?);
        }
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
}

/// Splits text into the words BPE works on: every numeric character alone, then GPT-2's rules
/// (`'s 't 're 've 'm 'll 'd`, an optional space with a run of letters, of numbers, or of other
/// non-space characters, and whitespace runs that leave their last space to the next word).
/// Letters are `char::is_alphabetic`, numbers `char::is_numeric`.
fn split_words(text: &str) -> Vec<&str> {
    let mut words = Vec::new();
    let mut start = 0;
    for (at, c) in text.char_indices() {
        if c.is_numeric() {
            if start < at {
                split_gpt2(&text[start..at], &mut words);
            }
            words.push(&text[at..at + c.len_utf8()]);
            start = at + c.len_utf8();
        }
    }
    if start < text.len() {
        split_gpt2(&text[start..], &mut words);
    }
    words
}

fn is_other(c: char) -> bool {
    !c.is_whitespace() && !c.is_alphabetic() && !c.is_numeric()
}

fn split_gpt2<'a>(text: &'a str, words: &mut Vec<&'a str>) {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let end_of = |i: usize| chars.get(i).map_or(text.len(), |&(at, _)| at);
    let run = |mut i: usize, f: &dyn Fn(char) -> bool| {
        while i < chars.len() && f(chars[i].1) {
            i += 1;
        }
        i
    };
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i].1;
        let tail = &text[chars[i].0..];
        let mut j = i;
        if c == '\'' {
            for suffix in ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d"] {
                if tail.starts_with(suffix) {
                    j = i + suffix.len();
                    break;
                }
            }
        }
        if j == i {
            let body = usize::from(c == ' ' && i + 1 < chars.len());
            let first = chars.get(i + body).map(|&(_, c)| c);
            j = match first {
                Some(f) if f.is_alphabetic() => run(i + body, &char::is_alphabetic),
                Some(f) if f.is_numeric() => run(i + body, &char::is_numeric),
                Some(f) if is_other(f) => run(i + body, &is_other),
                _ => i,
            };
        }
        if j == i {
            // Whitespace: the whole run at the end, else all but its last character (which
            // then starts the next word), else the single character.
            let k = run(i, &char::is_whitespace);
            j = if k == chars.len() || k - i == 1 {
                k
            } else {
                k - 1
            };
        }
        words.push(&text[chars[i].0..end_of(j)]);
        i = j;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_follow_gpt2_rules() {
        assert_eq!(
            split_words("Hello world, it's 42!  ok\n"),
            vec![
                "Hello", " world", ",", " it", "'s", " ", "4", "2", "!", " ", " ok", "\n"
            ]
        );
        assert_eq!(split_words("a\n\nb"), vec!["a", "\n", "\n", "b"]);
        assert_eq!(split_words("   x"), vec!["  ", " x"]);
        assert_eq!(split_words("é ü"), vec!["é", " ü"]);
        assert_eq!(split_words(""), Vec::<&str>::new());
    }

    #[test]
    fn byte_map_is_a_bijection_over_printable_chars() {
        let t = byte_chars();
        let distinct: std::collections::HashSet<char> = t.iter().copied().collect();
        assert_eq!(distinct.len(), 256);
        assert_eq!(t[b'a' as usize], 'a');
        assert_eq!(t[b' ' as usize], '\u{120}');
        assert_eq!(t[b'\n' as usize], '\u{10a}');
        assert!(t.iter().all(|c| !c.is_whitespace() && !c.is_control()));
    }
}
