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

/// Requests that share a long system prompt resume from the kept attention state instead of
/// reading it again, and answer exactly as a model without the cache does.
#[test]
fn shared_prompt_prefixes_are_read_once_and_change_nothing() {
    let cached = model();
    let uncached = model().with_prefix_budget(0);
    let system = "You are the support assistant of Northwind Bank. You help customers with \
                  their accounts, cards, transfers and loans. Be brief, polite and accurate. \
                  Never give legal or tax advice; refer such questions to a branch. Opening \
                  hours are nine to five on weekdays and nine to noon on Saturdays. The bank \
                  was founded in 1911 and has forty branches.";
    let ask = |chat: &LocalChat, question: &str| {
        let mut req = ChatRequest::new(
            "smollm2-135m-instruct",
            vec![Message::system(system), Message::user(question)],
        );
        req.max_tokens = Some(16);
        let started = Instant::now();
        let reply = chat.chat(&req).expect("chat");
        (reply.text().to_owned(), started.elapsed().as_secs_f64())
    };
    let questions = [
        "When are you open on Saturday?",
        "How old is the bank?",
        "How many branches are there?",
    ];
    for (i, q) in questions.iter().enumerate() {
        let (a, cached_s) = ask(&cached, q);
        let (b, uncached_s) = ask(&uncached, q);
        eprintln!("{q:?}: {cached_s:.2} s with the cache, {uncached_s:.2} s without");
        assert_eq!(a, b, "the cache changed the answer to {q:?}");
        let stats = cached.prefix_stats();
        assert_eq!(stats.lookups, i as u64 + 1);
        // The first request fills the cache; each later one resumes after the system prompt.
        assert_eq!(stats.hits, i as u64, "{stats:?}");
        if i > 0 {
            assert!(stats.tokens_reused >= 64 * i as u64, "{stats:?}");
        }
    }
    assert_eq!(uncached.prefix_stats().hits, 0);
    assert_eq!(uncached.prefix_stats().entries, 0);
}
