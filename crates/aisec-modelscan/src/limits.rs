//! Budgets that bound every parser: lengths, counts, depths and total work.
//!
//! Every reader in this crate takes a [`Limits`] and turns a budget overrun into a typed error or a
//! finding, never into a panic, a hang or an allocation beyond the budget.

/// Bounds applied while scanning one top-level file.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Most opcodes executed per pickle stream.
    pub max_opcodes: u64,
    /// Deepest symbolic stack (values on the stack plus nested marks).
    pub max_stack: usize,
    /// Most memo entries per pickle.
    pub max_memo: usize,
    /// Longest decoded string kept whole; longer ones keep a prefix plus their length.
    pub max_kept_bytes: usize,
    /// Most elements kept per container value; later elements are counted, not kept.
    pub max_container_items: usize,
    /// Deepest nesting of values (tuples in tuples …) kept.
    pub max_value_depth: usize,
    /// Deepest nesting of containers (archive in archive, pickle in pickle argument).
    pub max_nesting: usize,
    /// Most members read from one archive.
    pub max_members: usize,
    /// Most bytes produced by decompressing one member or stream.
    pub max_decompressed: u64,
    /// Most bytes produced by decompression across one top-level file.
    pub max_total_decompressed: u64,
    /// Highest compression ratio accepted for a member larger than [`Limits::ratio_floor`].
    pub max_ratio: u64,
    /// Members smaller than this decompressed size are not checked for ratio.
    pub ratio_floor: u64,
    /// Most pickles read back to back from one stream.
    pub max_pickles_per_stream: usize,
    /// Most symbolic values per pickle.
    pub max_nodes: usize,
    /// Most bytes of decoded or computed strings kept per pickle (spans of the input cost nothing).
    pub max_owned_bytes: usize,
    /// Most distinct nested payloads (`pickle.loads(b"…")` arguments) scanned per top-level file.
    pub max_nested_payloads: usize,
    /// Most bytes of nested payloads scanned per top-level file.
    pub max_nested_bytes: u64,
    /// Most blobs (archive members at any depth, nested payloads) examined per top-level file.
    pub max_blobs: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_opcodes: 50_000_000,
            max_stack: 100_000,
            max_memo: 1_000_000,
            max_kept_bytes: 64 * 1024 * 1024,
            max_container_items: 100_000,
            max_value_depth: 64,
            max_nesting: 32,
            max_members: 100_000,
            max_decompressed: 1024 * 1024 * 1024,
            max_total_decompressed: 4 * 1024 * 1024 * 1024,
            max_ratio: 2_000,
            ratio_floor: 16 * 1024 * 1024,
            max_pickles_per_stream: 100_000,
            max_nodes: 4_000_000,
            max_owned_bytes: 256 * 1024 * 1024,
            max_nested_payloads: 1_000,
            max_nested_bytes: 1024 * 1024 * 1024,
            max_blobs: 200_000,
        }
    }
}
