//! The ChatML conversation format SmolLM2 was trained on, written in Rust:
//! `<|im_start|>{role}\n{content}<|im_end|>\n` per message, a default system message when the
//! conversation opens without one, and `<|im_start|>assistant\n` to ask for the reply.
//!
//! The GGUF's Jinja template is read only to find its default system prompt (a literal string),
//! never rendered.

use crate::types::{Message, Role};

use super::{LocalError, Tokenizer};

/// The system prompt SmolLM2's template adds when a conversation has none.
pub const SMOLLM2_DEFAULT_SYSTEM: &str =
    "You are a helpful AI assistant named SmolLM, trained by Hugging Face";

const START: &str = "<|im_start|>";
const END: &str = "<|im_end|>";

/// The ChatML format, with the system prompt used when a conversation opens without one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMl {
    /// Added as the first message when the first message is not a system message.
    pub default_system: Option<String>,
}

impl Default for ChatMl {
    /// SmolLM2's format and default system prompt.
    fn default() -> Self {
        Self {
            default_system: Some(SMOLLM2_DEFAULT_SYSTEM.to_owned()),
        }
    }
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::Tool => "tool",
    }
}

/// A piece of a rendered conversation: the format's own markers, or text someone wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment<'a> {
    /// A special token of the format (`<|im_start|>`, `<|im_end|>`).
    Special(&'static str),
    /// Role names, newlines and message contents: always encoded as plain text.
    Text(&'a str),
}

impl ChatMl {
    /// The format with the default system prompt a ChatML Jinja template writes literally
    /// (`'<|im_start|>system\n...<|im_end|>\n'`), or none when the template has no such string.
    #[must_use]
    pub fn from_template_text(template: &str) -> Self {
        let open = format!("{START}system\n");
        let default_system = template.find(&open).and_then(|at| {
            let rest = &template[at + open.len()..];
            rest.find(END).map(|end| rest[..end].to_owned())
        });
        Self { default_system }
    }

    /// The conversation as segments, in order.
    #[must_use]
    pub fn segments<'a>(
        &'a self,
        messages: &'a [Message],
        add_generation_prompt: bool,
    ) -> Vec<Segment<'a>> {
        let mut out = Vec::new();
        let mut push = |role: &'a str, content: &'a str| {
            out.extend([
                Segment::Special(START),
                Segment::Text(role),
                Segment::Text("\n"),
                Segment::Text(content),
                Segment::Special(END),
                Segment::Text("\n"),
            ]);
        };
        if messages.first().is_none_or(|m| m.role != Role::System)
            && let Some(system) = &self.default_system
        {
            push("system", system);
        }
        for m in messages {
            push(role_name(m.role), m.content_text());
        }
        if add_generation_prompt {
            out.extend([
                Segment::Special(START),
                Segment::Text("assistant"),
                Segment::Text("\n"),
            ]);
        }
        out
    }

    /// The conversation as one string (for display and tests; encode with [`Self::encode`],
    /// which never reads markers out of message text).
    #[must_use]
    pub fn render(&self, messages: &[Message], add_generation_prompt: bool) -> String {
        self.segments(messages, add_generation_prompt)
            .into_iter()
            .map(|s| match s {
                Segment::Special(t) | Segment::Text(t) => t,
            })
            .collect()
    }

    /// The conversation's token ids. Markers become their special ids; message text is encoded
    /// as plain text, so a `<|im_start|>` typed by a user stays text and cannot forge a turn.
    ///
    /// # Errors
    /// [`LocalError::Metadata`] when the vocabulary lacks a ChatML marker or a byte symbol.
    pub fn encode(
        &self,
        tokenizer: &Tokenizer,
        messages: &[Message],
        add_generation_prompt: bool,
    ) -> Result<Vec<u32>, LocalError> {
        let mut ids = Vec::new();
        for s in self.segments(messages, add_generation_prompt) {
            match s {
                Segment::Special(t) => {
                    ids.push(tokenizer.token_id(t).ok_or_else(|| LocalError::Metadata {
                        key: "tokenizer.ggml.tokens".to_owned(),
                        message: format!("no {t} token"),
                    })?);
                }
                Segment::Text(t) => ids.extend(tokenizer.encode(t, false)?),
            }
        }
        Ok(ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_chatml_with_the_default_system_prompt() {
        let chat = ChatMl::default();
        let got = chat.render(&[Message::user("Hi"), Message::assistant("Hello!")], true);
        assert_eq!(
            got,
            "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging \
             Face<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!\
             <|im_end|>\n<|im_start|>assistant\n"
        );
    }

    #[test]
    fn a_given_system_prompt_replaces_the_default() {
        let chat = ChatMl::default();
        let got = chat.render(&[Message::system("Be brief."), Message::user("Hi")], false);
        assert_eq!(
            got,
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
        );
        let none = ChatMl {
            default_system: None,
        };
        assert_eq!(
            none.render(&[Message::user("x")], false),
            "<|im_start|>user\nx<|im_end|>\n"
        );
    }

    #[test]
    fn default_system_is_read_from_template_text() {
        let t = "{{ '<|im_start|>system\\nBe kind.<|im_end|>\\n' }}";
        // The template text holds a backslash-n escape, not a newline: no match.
        assert_eq!(ChatMl::from_template_text(t).default_system, None);
        let t = "{{ '<|im_start|>system\nBe kind.<|im_end|>\n' }}";
        assert_eq!(
            ChatMl::from_template_text(t).default_system.as_deref(),
            Some("Be kind.")
        );
    }
}
