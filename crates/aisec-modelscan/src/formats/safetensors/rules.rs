//! The safetensors rules (MS700–MS719).

use aisec_core::Severity;

use crate::rules::Rule;

const ATLAS_CORRUPT: &[&str] = &["AML.T0010.003", "AML.T0076"];
const ATLAS_DOS: &[&str] = &["AML.T0010.003", "AML.T0029"];
const ATLAS_PAYLOAD: &[&str] = &["AML.T0011.000", "AML.T0010.003"];
const REFS: &[&str] = &[
    "https://github.com/huggingface/safetensors#format",
    "https://atlas.mitre.org/techniques/AML.T0076",
];
const DOS_REFS: &[&str] = &[
    "https://github.com/huggingface/safetensors#format",
    "https://cwe.mitre.org/data/definitions/400.html",
];
const REMEDIATE_REJECTED: &str = "Do not load the file: the reference loader refuses it, and loaders that are more \
lenient read something its producer did not write. Re-download the model from its publisher and verify its hash.";
const REMEDIATE_CRAFTED: &str = "Treat the file as crafted: no safetensors writer produces this. Re-download the model \
from its publisher, verify its hash, and re-save it with the safetensors library if you must keep it.";

/// The rules this analyser reports under.
pub(crate) const RULES: &[Rule] = &[
    Rule {
        id: "MS700",
        name: "safetensors-header-too-large",
        title: "safetensors header is larger than loaders accept",
        severity: Severity::High,
        what: "The 8-byte header length is above 100,000,000 bytes, the reference loader's limit. The header is not \
parsed and the file is reported as not analysed. Headers between 32 MB and the limit are reported at `low` under \
MS719.",
        why: "Loaders without the limit read and parse whatever length the file claims: a few bytes on disk can ask \
for gigabytes of memory, and the header region can hide anything from a scanner that stops at the limit.",
        example: "length prefix 0xffffffffffffffff followed by `{\"a\":…}`",
        remediation: REMEDIATE_REJECTED,
        atlas: ATLAS_DOS,
        cwe: &["CWE-400", "CWE-789"],
        references: DOS_REFS,
    },
    Rule {
        id: "MS701",
        name: "safetensors-header-out-of-bounds",
        title: "safetensors header runs past the end of the file",
        severity: Severity::High,
        what: "The header length prefix points past the end of the file.",
        why: "The reference loader refuses the file; a loader that trusts the prefix reads out of bounds or waits for \
bytes that never come. A truncated or crafted file either way.",
        example: "length prefix 4096 in a 300-byte file",
        remediation: REMEDIATE_REJECTED,
        atlas: ATLAS_CORRUPT,
        cwe: &["CWE-125", "CWE-20"],
        references: REFS,
    },
    Rule {
        id: "MS702",
        name: "safetensors-header-not-json",
        title: "safetensors header is not a JSON object",
        severity: Severity::High,
        what: "The header is not valid UTF-8, not valid JSON, nests deeper than the 127 levels `serde_json` allows, has \
characters other than whitespace after the object, or is not an object.",
        why: "The reference loader refuses the file. A header that parses differently in different JSON readers is a \
way to show a scanner one layout and a loader another.",
        example: "a header padded with NUL bytes instead of spaces",
        remediation: REMEDIATE_REJECTED,
        atlas: ATLAS_CORRUPT,
        cwe: &["CWE-20", "CWE-436"],
        references: REFS,
    },
    Rule {
        id: "MS703",
        name: "safetensors-metadata-not-strings",
        title: "safetensors `__metadata__` is not a map of strings",
        severity: Severity::High,
        what: "`__metadata__` is an array, a scalar, or a map with a value that is not a string (a number, an object, \
null).",
        why: "The format allows only string values, and the reference loader refuses anything else. Structured values \
are where a crafted file carries data meant for a second-stage reader.",
        example: "{\"__metadata__\": {\"format\": \"pt\", \"config\": {\"cmd\": \"…\"}}, …}",
        remediation: REMEDIATE_REJECTED,
        atlas: ATLAS_CORRUPT,
        cwe: &["CWE-20"],
        references: REFS,
    },
    Rule {
        id: "MS704",
        name: "safetensors-tensor-entry-invalid",
        title: "safetensors tensor entry does not match the format",
        severity: Severity::High,
        what: "A tensor entry is not an object (or the loader's array form of three), lacks `dtype`, `shape` or \
`data_offsets`, repeats one of them, or has a shape or offsets that are not non-negative integers (negative, \
fractional, above 2^64, strings).",
        why: "The reference loader refuses the file; lenient readers coerce the values in ways that differ from one \
another, so a scanner and a loader can see different tensors.",
        example: "\"w\": {\"dtype\": \"F32\", \"shape\": [-1, 4], \"data_offsets\": [0, 16]}",
        remediation: REMEDIATE_REJECTED,
        atlas: ATLAS_CORRUPT,
        cwe: &["CWE-20"],
        references: REFS,
    },
    Rule {
        id: "MS705",
        name: "safetensors-unknown-dtype",
        title: "safetensors tensor has an unknown dtype",
        severity: Severity::High,
        what: "A `dtype` that is not one of the reference loader's: BOOL, F4, F6_E2M3, F6_E3M2, U8, I8, F8_E5M2, \
F8_E4M3, F8_E8M0, F8_E4M3FNUZ, F8_E5M2FNUZ, I16, U16, F16, BF16, I32, U32, F32, C64, F64, I64, U64 (case matters).",
        why: "The reference loader refuses the file; readers that map unknown names to a default element size \
compute different tensor sizes than the file's layout, and read out of bounds.",
        example: "\"dtype\": \"f32\"",
        remediation: REMEDIATE_REJECTED,
        atlas: ATLAS_CORRUPT,
        cwe: &["CWE-20"],
        references: REFS,
    },
    Rule {
        id: "MS706",
        name: "safetensors-size-overflow",
        title: "safetensors tensor size overflows",
        severity: Severity::High,
        what: "The product of a tensor's dimensions, times its element size in bits, does not fit in 64 bits \
(computed left to right with overflow checks, as the reference loader does).",
        why: "The reference loader refuses the file. Readers that multiply without checks wrap around to a small size \
that passes their bounds checks and then index far outside the buffer, or allocate an absurd amount of memory.",
        example: "\"shape\": [4294967296, 4294967296, 16]",
        remediation: REMEDIATE_REJECTED,
        atlas: ATLAS_DOS,
        cwe: &["CWE-190", "CWE-789"],
        references: DOS_REFS,
    },
    Rule {
        id: "MS707",
        name: "safetensors-size-mismatch",
        title: "safetensors tensor size does not match its offsets",
        severity: Severity::High,
        what: "`data_offsets` span a different number of bytes than shape times dtype size, or a sub-byte tensor \
(F4, F6) does not end on a byte boundary.",
        why: "The reference loader refuses the file; readers that trust the shape read past the tensor's bytes into \
its neighbours or past the end of the file.",
        example: "\"dtype\": \"F32\", \"shape\": [1024], \"data_offsets\": [0, 16]",
        remediation: REMEDIATE_REJECTED,
        atlas: ATLAS_CORRUPT,
        cwe: &["CWE-20", "CWE-125"],
        references: REFS,
    },
    Rule {
        id: "MS708",
        name: "safetensors-offsets-overlap",
        title: "safetensors tensors overlap",
        severity: Severity::High,
        what: "Two tensors' byte ranges overlap or coincide, or a tensor's range ends before it begins.",
        why: "The reference loader refuses the file. Overlapping tensors make one weight's bytes another's (a change \
to one silently changes the other), and reversed ranges wrap around in readers that subtract without checks.",
        example: "a: [0, 16], b: [8, 24]",
        remediation: REMEDIATE_REJECTED,
        atlas: ATLAS_CORRUPT,
        cwe: &["CWE-20", "CWE-119"],
        references: REFS,
    },
    Rule {
        id: "MS709",
        name: "safetensors-offsets-gap",
        title: "safetensors tensors leave a gap",
        severity: Severity::High,
        what: "Bytes of the body that no tensor covers: before the first tensor or between two. The gap bytes are \
scanned as a file of their own.",
        why: "The reference loader refuses the file. A gap is unreferenced space inside a file that looks like plain \
weights: the place to hide a payload for a second-stage loader.",
        example: "a: [0, 16], b: [4096, 4112]",
        remediation: REMEDIATE_REJECTED,
        atlas: ATLAS_CORRUPT,
        cwe: &["CWE-20"],
        references: REFS,
    },
    Rule {
        id: "MS710",
        name: "safetensors-data-past-eof",
        title: "safetensors tensors run past the end of the file",
        severity: Severity::High,
        what: "The tensors' offsets reach beyond the end of the file: the file is shorter than its header claims.",
        why: "The reference loader refuses the file; a loader that maps the file and trusts the offsets reads out of \
bounds. Either a truncated download or a crafted file.",
        example: "\"data_offsets\": [0, 1073741824] in a 2 KB file",
        remediation: REMEDIATE_REJECTED,
        atlas: ATLAS_CORRUPT,
        cwe: &["CWE-125"],
        references: REFS,
    },
    Rule {
        id: "MS711",
        name: "safetensors-trailing-data",
        title: "Data follows the last safetensors tensor",
        severity: Severity::High,
        what: "Bytes after the end of the last tensor. The reference loader requires the tensors to cover the body \
exactly; the trailing bytes are scanned as a file of their own.",
        why: "The loader refuses the file, and appended bytes are the classic way to ship a pickle or archive inside \
a file that looks like safe weights.",
        example: "a valid safetensors file followed by a pickle that calls `os.system`",
        remediation: REMEDIATE_REJECTED,
        atlas: ATLAS_PAYLOAD,
        cwe: &["CWE-434"],
        references: REFS,
    },
    Rule {
        id: "MS712",
        name: "safetensors-duplicate-key",
        title: "safetensors header repeats a key",
        severity: Severity::High,
        what: "A tensor name, a metadata key or `__metadata__` appears more than once in the header (compared after \
JSON escapes are decoded).",
        why: "No writer produces this. JSON readers disagree on which copy wins (the reference loader keeps the last \
tensor and refuses a repeated `__metadata__`; others keep the first), so a reviewer's tool and the loader can see \
different weights: a way to slip a poisoned tensor past inspection.",
        example: "{\"w\": {…benign…}, \"w\": {…poisoned…}}",
        remediation: REMEDIATE_CRAFTED,
        atlas: ATLAS_CORRUPT,
        cwe: &["CWE-436"],
        references: REFS,
    },
    Rule {
        id: "MS713",
        name: "safetensors-polyglot",
        title: "safetensors file is also another format",
        severity: Severity::High,
        what: "The tensor body is readable as another format: a zip archive that zip readers find from the end of the \
file, or a body that starts with a zip, pickle or compressed stream. The body is scanned as that format.",
        why: "A polyglot passes as safe weights by name and header, while a loader of the other format (Keras and \
other zip-based loaders accept data before the archive) runs what it contains.",
        example: "a safetensors header whose single U8 tensor is a `.keras` zip",
        remediation: REMEDIATE_CRAFTED,
        atlas: ATLAS_PAYLOAD,
        cwe: &["CWE-434", "CWE-436"],
        references: REFS,
    },
    Rule {
        id: "MS714",
        name: "safetensors-embedded-payload",
        title: "safetensors file carries a serialized payload",
        severity: Severity::Medium,
        what: "A header string (metadata value, unknown field) holds a pickle or zip archive, as text, latin-1 text or \
base64, or a tensor's bytes start as a pickle or zip. The payload is scanned; what it does is reported on its own.",
        why: "No loader deserializes these, but a second-stage reader that does (`pickle.loads(base64.b64decode(\
metadata[…]))`) turns safe weights into a code carrier.",
        example: "\"__metadata__\": {\"config\": \"gASV…\"} where the base64 decodes to a pickle",
        remediation: "Find out which code reads the payload; do not run it. Re-save the weights without it.",
        atlas: ATLAS_PAYLOAD,
        cwe: &["CWE-502"],
        references: REFS,
    },
    Rule {
        id: "MS715",
        name: "safetensors-unknown-field",
        title: "safetensors tensor entry has unknown fields",
        severity: Severity::Medium,
        what: "A tensor entry has fields besides `dtype`, `shape` and `data_offsets`. The reference loader ignores them.",
        why: "No writer produces them; they carry data past every tool that only reads the known fields.",
        example: "\"w\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [0, 16], \"x\": \"…\"}",
        remediation: REMEDIATE_CRAFTED,
        atlas: ATLAS_CORRUPT,
        cwe: &["CWE-20"],
        references: REFS,
    },
    Rule {
        id: "MS716",
        name: "safetensors-noncanonical-header",
        title: "safetensors header uses a spelling no writer produces",
        severity: Severity::Medium,
        what: "Forms the reference loader accepts but writers never emit: a tensor entry as an array \
`[dtype, shape, offsets]`, a dtype as a one-key map `{\"F32\": null}`, `__metadata__` or field names spelled with \
JSON escapes (medium); whitespace before the opening brace or padding other than spaces, `\"__metadata__\": null` \
(low).",
        why: "Each is a parser differential: tools that parse the header their own way (scanners, converters, viewers) \
skip or misread such entries, so a crafted layout can pass them and still load.",
        example: "{\"w\": [\"F32\", [4], [0, 16]]}",
        remediation: REMEDIATE_CRAFTED,
        atlas: ATLAS_CORRUPT,
        cwe: &["CWE-436"],
        references: REFS,
    },
    Rule {
        id: "MS717",
        name: "safetensors-implausible-shape",
        title: "safetensors tensor has an implausible shape",
        severity: Severity::Medium,
        what: "A tensor with more than 64 dimensions (NumPy's limit), or an empty tensor whose non-zero dimensions \
multiply past 64 bits.",
        why: "The reference loader accepts these, but frameworks fail or overflow their stride computations when \
they materialise the tensor.",
        example: "\"shape\": [0, 18446744073709551615, 18446744073709551615]",
        remediation: "Re-save the weights with plausible shapes; treat the file as crafted.",
        atlas: ATLAS_DOS,
        cwe: &["CWE-190"],
        references: DOS_REFS,
    },
    Rule {
        id: "MS718",
        name: "safetensors-too-many-tensors",
        title: "safetensors header declares an absurd number of tensors",
        severity: Severity::High,
        what: "More than 1,000,000 tensor entries. The first million are checked; the rest are counted and the file \
is reported as not analysed.",
        why: "Real checkpoint shards hold thousands of tensors. Millions of tiny entries make every loader build \
millions of objects: memory exhaustion from a file that passes a header-size check.",
        example: "a 90 MB header of `\"t123\":[\"U8\",[0],[0,0]]` entries",
        remediation: REMEDIATE_CRAFTED,
        atlas: ATLAS_DOS,
        cwe: &["CWE-400", "CWE-770"],
        references: DOS_REFS,
    },
    Rule {
        id: "MS719",
        name: "safetensors-notable-metadata",
        title: "safetensors metadata is notable",
        severity: Severity::Low,
        what: "Metadata values that mention code execution or downloads (`__import__`, `os.system`, `subprocess`, \
`eval(`, `exec(`, `curl `, `wget `, `| sh`), or a header above 32 MB.",
        why: "Metadata is free text and usually harmless; these deserve a look when reviewing where a model came from.",
        example: "\"__metadata__\": {\"post_load\": \"__import__('os').system('…')\"}",
        remediation: "Read the metadata and confirm what consumes it.",
        atlas: &["AML.T0010.003"],
        cwe: &["CWE-20"],
        references: REFS,
    },
];
