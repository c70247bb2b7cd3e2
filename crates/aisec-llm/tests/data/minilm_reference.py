# Reference token ids and embeddings for aisec's MiniLM tests (minilm_reference.json).
# Run with tokenizers and sentence-transformers installed (CPU torch is enough):
#   python minilm_reference.py <resolved all-minilm-l6-v2 folder> minilm_reference.json
import json, sys
from tokenizers import Tokenizer
M = sys.argv[1]
tok = Tokenizer.from_file(M + "/tokenizer.json")
tok.no_padding(); tok.enable_truncation(256)
tricky = [
    "Hello, world!",
    "I'm sorry, but I can't help with that.",
    "Héllo Wörld — naïve café, Ångström façade",
    "東京は日本の首都です。中文测试",
    "한국어 텍스트",
    "tab\there\nnewline\r\nzero\u200bwidth\u00adsoft\ufeffbom\x00nul",
    "emoji 😀 and symbols € £ ™ ∑ → ✓",
    "https://example.com/path?q=1&x=2 user@example.org $100.50 #tag @name",
    "unaffable supercalifragilisticexpialidocious antidisestablishmentarianism",
    "a" * 101 + " " + "b" * 100,
    "[CLS] literal [SEP] tokens [MASK] and [unk] [UNK]",
    "ΑΒΓ Ελληνικά Русский текст İstanbul ǅ ﬁ",
    "private\ue000use and control\x07bell",
    "",
    "   ",
]
out = {"tokens": [[t, tok.encode(t).ids] for t in tricky]}
long = " ".join(["word%d" % i for i in range(400)])
out["long_len"] = len(tok.encode(long).ids)
from sentence_transformers import SentenceTransformer
model = SentenceTransformer(M, device="cpu")
sents = [
    "I'm sorry, but I can't help with that request.",
    "Sure! Here is a recipe for chocolate chip cookies.",
    "The capital of France is Paris.",
    "Héllo Wörld — naïve café",
    "東京は日本の首都です。",
    long,
]
emb = model.encode(sents, normalize_embeddings=True)
out["embeddings"] = [
    [s if s != long else "LONG:word0..word399", [round(float(x), 6) for x in e]]
    for s, e in zip(sents, emb)
]
out["max_seq_length"] = model.max_seq_length
with open(sys.argv[2], "w", encoding="utf-8") as f:
    f.write(json.dumps(out, ensure_ascii=False) + "\n")
