//! The GGUF rules (MS600–MS649). Chat-template findings come from the Jinja analyser's rules.

use aisec_core::Severity;

use crate::rules::Rule;

const ATLAS: &[&str] = &["AML.T0011.000", "AML.T0010.003"];
const REFS: &[&str] = &[
    "https://github.com/ggml-org/ggml/blob/master/docs/gguf.md",
    "https://atlas.mitre.org/techniques/AML.T0011.000",
];
const REMEDIATE_STRUCTURE: &str = "Do not load the file. Obtain the model from its publisher again, verify its \
checksum or signature, and keep GGUF loaders (llama.cpp, ggml, llama-cpp-python, Ollama) up to date.";

/// Every GGUF rule, in id order.
pub(crate) const RULES: &[Rule] = &[
    Rule {
        id: "MS600",
        name: "gguf-malformed",
        title: "GGUF file is truncated or malformed",
        severity: Severity::Medium,
        what: "The file ends inside its header, metadata or tensor-info section, or names a GGUF version this scanner \
does not know. What came before the break was analysed; the rest is reported as not analysed.",
        why: "A loader reads the same broken structure; scanners that stop at the first error and say nothing would call \
a file clean whose later metadata (a chat template) they never read.",
        example: "a metadata string whose declared length runs a few bytes past the end of the file",
        remediation: "Re-fetch the file from its source; treat it as tampered if the download was complete.",
        atlas: ATLAS,
        cwe: &["CWE-20"],
        references: REFS,
    },
    Rule {
        id: "MS601",
        name: "gguf-absurd-size",
        title: "GGUF declares a count or length that exhausts a loader's memory",
        severity: Severity::High,
        what: "A metadata or tensor count, a string length, an array length or an element-size product that is far \
larger than the file (or overflows 64 bits). The declared figure is in the evidence.",
        why: "GGUF loaders size their allocations from these fields before reading the data; llama.cpp and ggml had \
several vulnerabilities (integer overflows, heap overflows, allocation of terabytes) from exactly these fields. A writer \
never produces a figure the file cannot hold.",
        example: "`tensor_count = 0xFFFFFFFFFFFFFFFF`, or a string length of 2^63 in a 1 KiB file",
        remediation: REMEDIATE_STRUCTURE,
        atlas: ATLAS,
        cwe: &["CWE-789", "CWE-190"],
        references: REFS,
    },
    Rule {
        id: "MS602",
        name: "gguf-invalid-tensor-shape",
        title: "GGUF tensor has an invalid shape",
        severity: Severity::High,
        what: "A tensor-info entry with zero or more than four dimensions (ggml's `GGML_MAX_DIMS`), a dimension that is \
negative as ggml's signed 64-bit field, an element count or byte size that overflows, or a first dimension that is not a \
multiple of its quantisation type's block size.",
        why: "ggml copies dimensions into a fixed four-slot array and asserts on the dimension count; shapes that \
overflow or do not divide into blocks make loaders compute a wrong size and read or write past their buffers.",
        example: "`n_dims = 5`, or a `Q4_K` tensor whose first dimension is 100",
        remediation: REMEDIATE_STRUCTURE,
        atlas: ATLAS,
        cwe: &["CWE-787", "CWE-190"],
        references: REFS,
    },
    Rule {
        id: "MS603",
        name: "gguf-invalid-tensor-type",
        title: "GGUF tensor has an unknown ggml type",
        severity: Severity::High,
        what: "A tensor-info entry whose ggml type id is not a type ggml has ever stored in GGUF files.",
        why: "Loaders index their per-type tables (block size, byte size, dequantiser) by this id; an id past the table \
reads out of bounds in loaders that do not check it.",
        example: "`type = 4242` on a tensor",
        remediation: REMEDIATE_STRUCTURE,
        atlas: ATLAS,
        cwe: &["CWE-129"],
        references: REFS,
    },
    Rule {
        id: "MS604",
        name: "gguf-tensor-out-of-bounds",
        title: "GGUF tensor data lies outside the file",
        severity: Severity::High,
        what: "A tensor whose offset, or offset plus byte size, lies past the end of the file's data section (or whose \
data section starts past the end of the file).",
        why: "Loaders that map the file and trust the offset read past the mapping: a crash, or memory disclosure into \
the model's weights. Complete files written by GGUF writers never do this; a truncated download does, and is not safe \
to load either.",
        example: "a tensor with offset 2^40 in a 1 MiB file",
        remediation: REMEDIATE_STRUCTURE,
        atlas: ATLAS,
        cwe: &["CWE-125"],
        references: REFS,
    },
    Rule {
        id: "MS605",
        name: "gguf-misaligned-tensor",
        title: "GGUF tensor offset is not aligned",
        severity: Severity::High,
        what: "A tensor offset that is not a multiple of the file's alignment (`general.alignment`, 32 by default).",
        why: "Every GGUF writer pads tensors to the alignment; loaders rely on it for aligned (SIMD, GPU) access. A \
misaligned offset is a hand-edited file.",
        example: "offset 33 with alignment 32",
        remediation: REMEDIATE_STRUCTURE,
        atlas: ATLAS,
        cwe: &["CWE-20"],
        references: REFS,
    },
    Rule {
        id: "MS606",
        name: "gguf-overlapping-tensors",
        title: "GGUF tensors overlap",
        severity: Severity::High,
        what: "Two tensors whose byte ranges in the data section overlap.",
        why: "Writers give every tensor its own range. Overlap means a hand-crafted file: different readers and \
in-place loaders disagree on the weights, and writes through one tensor corrupt another.",
        example: "two tensors at offset 0, each 4 KiB",
        remediation: REMEDIATE_STRUCTURE,
        atlas: ATLAS,
        cwe: &["CWE-119"],
        references: REFS,
    },
    Rule {
        id: "MS607",
        name: "gguf-duplicate-tensor",
        title: "GGUF has two tensors with the same name",
        severity: Severity::High,
        what: "Two tensor-info entries share a name.",
        why: "Readers pick different duplicates (first, last, or refuse), so what is analysed and what is loaded \
can differ.",
        example: "two `token_embd.weight` entries",
        remediation: REMEDIATE_STRUCTURE,
        atlas: ATLAS,
        cwe: &["CWE-694"],
        references: REFS,
    },
    Rule {
        id: "MS608",
        name: "gguf-duplicate-key",
        title: "GGUF has two metadata entries with the same key",
        severity: Severity::High,
        what: "Two metadata key/value pairs share a key. Both values are analysed.",
        why: "Readers keep the first or the last, so a reviewer or scanner and a loader can see different values: a \
harmless `tokenizer.chat_template` shown, a malicious one rendered.",
        example: "two `tokenizer.chat_template` entries",
        remediation: REMEDIATE_STRUCTURE,
        atlas: ATLAS,
        cwe: &["CWE-694"],
        references: REFS,
    },
    Rule {
        id: "MS609",
        name: "gguf-invalid-alignment",
        title: "GGUF alignment is invalid",
        severity: Severity::High,
        what: "`general.alignment` that is zero, not a power of two, or not a 32-bit unsigned integer.",
        why: "Loaders divide and round by the alignment: zero divides by zero, and other values put the data section \
somewhere the writer did not.",
        example: "`general.alignment = 0`",
        remediation: REMEDIATE_STRUCTURE,
        atlas: ATLAS,
        cwe: &["CWE-369", "CWE-20"],
        references: REFS,
    },
    Rule {
        id: "MS610",
        name: "gguf-invalid-value-type",
        title: "GGUF metadata has an invalid value type",
        severity: Severity::High,
        what: "A metadata value or array element whose type id is not one of GGUF's thirteen value types, or arrays \
nested deeper than any writer produces.",
        why: "Loaders index type-size tables by this id and recurse into nested arrays; invalid ids and deep nesting \
are how crafted files reach out-of-bounds reads and stack exhaustion. The rest of the file cannot be read.",
        example: "a value of type 13",
        remediation: REMEDIATE_STRUCTURE,
        atlas: ATLAS,
        cwe: &["CWE-129", "CWE-674"],
        references: REFS,
    },
    Rule {
        id: "MS611",
        name: "gguf-vocabulary-mismatch",
        title: "GGUF tokenizer arrays disagree",
        severity: Severity::High,
        what: "`tokenizer.ggml.scores` or `tokenizer.ggml.token_type` with a different length than \
`tokenizer.ggml.tokens`, or with an element type loaders do not expect (tokens: string; scores: float32; token types: \
int32); a `tokenizer.ggml.precompiled_charsmap` whose leading 32-bit blob size points past its end.",
        why: "llama.cpp reads the score and type arrays as raw memory indexed by token id: a shorter or narrower array \
is an out-of-bounds heap read for every token past its end. The charsmap's blob size was trusted the same way.",
        example: "32000 tokens, 16 scores",
        remediation: REMEDIATE_STRUCTURE,
        atlas: ATLAS,
        cwe: &["CWE-125"],
        references: REFS,
    },
    Rule {
        id: "MS612",
        name: "gguf-oversized-template",
        title: "GGUF template is too large to analyse",
        severity: Severity::High,
        what: "A chat template (or other Jinja template in metadata) longer than the analysis bound (16 MiB). It is \
not analysed.",
        why: "Real chat templates are kilobytes; padding a template is a way to push a payload past what scanners read.",
        example: "a 20 MiB `tokenizer.chat_template`",
        remediation: "Do not render the template; inspect it by hand.",
        atlas: ATLAS,
        cwe: &["CWE-1336"],
        references: REFS,
    },
    Rule {
        id: "MS613",
        name: "gguf-zip-polyglot",
        title: "GGUF file is also a ZIP archive",
        severity: Severity::High,
        what: "A ZIP archive inside the file (appended, or hidden in tensor data) whose end record closes the file. \
The archive is scanned as a nested file, so a pickle inside it is reported too.",
        why: "Zip readers find an archive by its end record, whatever precedes it: `torch.load` on this file loads the \
archive's pickle while GGUF tools and reviewers see a model. No GGUF writer produces it.",
        example: "a PyTorch checkpoint zip appended to a GGUF model",
        remediation: "Do not load the file with anything but a GGUF loader; re-fetch the model from its publisher.",
        atlas: ATLAS,
        cwe: &["CWE-434", "CWE-502"],
        references: REFS,
    },
    Rule {
        id: "MS620",
        name: "gguf-unaccounted-bytes",
        title: "GGUF has bytes that belong to no tensor",
        severity: Severity::Low,
        what: "Gaps between tensors larger than alignment padding, or bytes after the last tensor.",
        why: "Loaders ignore them, so they can carry data past reviewers; writers leave only padding.",
        example: "1 MiB of data after the last tensor",
        remediation: "Check where the extra bytes come from.",
        atlas: ATLAS,
        cwe: &["CWE-20"],
        references: REFS,
    },
    Rule {
        id: "MS621",
        name: "gguf-legacy-construct",
        title: "GGUF uses a construct current loaders refuse",
        severity: Severity::Low,
        what: "GGUF version 1, a ggml type that was removed from ggml (the `Q4_0_4_4`-style repacked types), or a tensor \
name of 64 bytes or more (ggml's `GGML_MAX_NAME`).",
        why: "Older writers produced these; current llama.cpp refuses the file rather than misreading it.",
        example: "a `Q4_0_4_8` tensor",
        remediation: "Re-convert the model with a current converter.",
        atlas: ATLAS,
        cwe: &["CWE-20"],
        references: REFS,
    },
    Rule {
        id: "MS622",
        name: "gguf-token-id-out-of-range",
        title: "GGUF special token id is outside the vocabulary",
        severity: Severity::Low,
        what: "A `tokenizer.ggml.*_token_id` at or past the number of tokens in `tokenizer.ggml.tokens`.",
        why: "Loaders that index the vocabulary by it without a check read out of bounds; llama.cpp checks and ignores \
the id. Some converters write such ids by mistake.",
        example: "`tokenizer.ggml.padding_token_id = 151643` with 151643 tokens",
        remediation: "Fix the id with a GGUF metadata editor.",
        atlas: ATLAS,
        cwe: &["CWE-129"],
        references: REFS,
    },
];
