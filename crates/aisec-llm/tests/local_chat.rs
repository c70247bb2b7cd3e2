//! The SmolLM2-135M-Instruct GGUF as a local chat model, fetched once through the pinned
//! resolver into this target directory's cache.
#![allow(clippy::disallowed_macros, clippy::print_stderr)]

use std::path::Path;
use std::time::Instant;

use aisec_llm::local::LocalChat;
use aisec_llm::{ChatRequest, Message};

fn model() -> LocalChat {
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("aisec-cache");
    let path = aisec_resolve::Resolver::new(cache)
        .fetch("smollm2-135m-instruct")
        .expect("fetch the SmolLM2 GGUF");
    LocalChat::open(&path, "smollm2-135m-instruct").expect("load the model")
}

#[test]
fn answers_a_simple_question_greedily_and_reproducibly() {
    let chat = model();
    let mut req = ChatRequest::new(
        "smollm2-135m-instruct",
        vec![Message::user(
            "What is the capital of France? Answer in one sentence.",
        )],
    );
    req.max_tokens = Some(40);
    let started = Instant::now();
    let a = chat.chat(&req).expect("chat");
    let secs = started.elapsed().as_secs_f64();
    let usage = a.usage.expect("usage");
    eprintln!(
        "reply {:?}: {} prompt + {} completion tokens in {secs:.2} s ({:.1} tokens/s overall)",
        a.text(),
        usage.prompt_tokens,
        usage.completion_tokens,
        usage.completion_tokens as f64 / secs
    );
    assert!(usage.completion_tokens > 0 && usage.completion_tokens <= 40);
    assert!(a.text().contains("Paris"), "{:?}", a.text());
    assert_eq!(a.model, "smollm2-135m-instruct");
    let b = chat.chat(&req).expect("chat again");
    assert_eq!(a.text(), b.text(), "greedy decoding is deterministic");
}

#[test]
fn sampling_is_seeded_and_bounded() {
    let chat = model();
    let mut req = ChatRequest::new(
        "smollm2-135m-instruct",
        vec![Message::user("Write a short poem about the sea.")],
    );
    req.max_tokens = Some(12);
    req.temperature = Some(0.9);
    req.seed = Some(7);
    req.n = Some(2);
    let a = chat.chat(&req).expect("chat");
    assert_eq!(a.choices.len(), 2);
    for c in &a.choices {
        assert!(!c.message.content_text().is_empty());
        assert_eq!(c.finish_reason.as_deref(), Some("length"));
    }
    assert_eq!(a.usage.expect("usage").completion_tokens, 24);
    let again = chat.chat(&req).expect("chat");
    assert_eq!(a.choices, again.choices, "same seed, same answers");
    req.n = Some(9);
    assert!(chat.chat(&req).is_err());
}
