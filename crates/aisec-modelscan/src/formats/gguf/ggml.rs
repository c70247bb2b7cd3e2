//! The ggml tensor types a GGUF tensor-info entry may name, with the block layout that gives a
//! tensor's byte size. Values are the `ggml_type` enumeration of ggml (`ggml.h`) and the block
//! structs of `ggml-common.h`; they are facts of the format, checked against the `gguf` Python
//! package's table (which still lists a 40-byte `Q8_1` block; ggml's own is 36 bytes).

/// How a ggml type id is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TypeStatus {
    /// A type current ggml loads.
    Current,
    /// A type that existed (and may be found in older files) but that current ggml refuses.
    Removed,
}

/// One ggml type: its name, elements per block and bytes per block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct GgmlType {
    /// The ggml name (`Q4_K`).
    pub name: &'static str,
    /// Elements per block; a row's first dimension must be a multiple of it.
    pub block: u64,
    /// Bytes per block.
    pub bytes: u64,
    /// Whether current ggml still loads it.
    pub status: TypeStatus,
}

const fn cur(name: &'static str, block: u64, bytes: u64) -> GgmlType {
    GgmlType {
        name,
        block,
        bytes,
        status: TypeStatus::Current,
    }
}

const fn old(name: &'static str, block: u64, bytes: u64) -> GgmlType {
    GgmlType {
        name,
        block,
        bytes,
        status: TypeStatus::Removed,
    }
}

/// Indexed by type id; `None` for ids never assigned to a type stored in GGUF files.
/// `Q4_2`/`Q4_3` (4, 5) were removed before GGUF existed, so no GGUF file can hold them.
const TYPES: &[Option<GgmlType>] = &[
    Some(cur("F32", 1, 4)),
    Some(cur("F16", 1, 2)),
    Some(cur("Q4_0", 32, 18)),
    Some(cur("Q4_1", 32, 20)),
    None,
    None,
    Some(cur("Q5_0", 32, 22)),
    Some(cur("Q5_1", 32, 24)),
    Some(cur("Q8_0", 32, 34)),
    Some(cur("Q8_1", 32, 36)),
    Some(cur("Q2_K", 256, 84)),
    Some(cur("Q3_K", 256, 110)),
    Some(cur("Q4_K", 256, 144)),
    Some(cur("Q5_K", 256, 176)),
    Some(cur("Q6_K", 256, 210)),
    Some(cur("Q8_K", 256, 292)),
    Some(cur("IQ2_XXS", 256, 66)),
    Some(cur("IQ2_XS", 256, 74)),
    Some(cur("IQ3_XXS", 256, 98)),
    Some(cur("IQ1_S", 256, 50)),
    Some(cur("IQ4_NL", 32, 18)),
    Some(cur("IQ3_S", 256, 110)),
    Some(cur("IQ2_S", 256, 82)),
    Some(cur("IQ4_XS", 256, 136)),
    Some(cur("I8", 1, 1)),
    Some(cur("I16", 1, 2)),
    Some(cur("I32", 1, 4)),
    Some(cur("I64", 1, 8)),
    Some(cur("F64", 1, 8)),
    Some(cur("IQ1_M", 256, 56)),
    Some(cur("BF16", 1, 2)),
    Some(old("Q4_0_4_4", 32, 18)),
    Some(old("Q4_0_4_8", 32, 18)),
    Some(old("Q4_0_8_8", 32, 18)),
    Some(cur("TQ1_0", 256, 54)),
    Some(cur("TQ2_0", 256, 66)),
    Some(old("IQ4_NL_4_4", 32, 18)),
    Some(old("IQ4_NL_4_8", 32, 18)),
    Some(old("IQ4_NL_8_8", 32, 18)),
    Some(cur("MXFP4", 32, 17)),
    Some(cur("NVFP4", 64, 36)),
    Some(cur("Q1_0", 128, 18)),
];

/// The type with id `id`, if there is one.
pub(crate) fn lookup(id: u32) -> Option<GgmlType> {
    TYPES.get(usize::try_from(id).ok()?).copied().flatten()
}

/// Number of type ids known (one past the highest).
pub(crate) fn known_count() -> usize {
    TYPES.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_matches_known_layouts() {
        assert_eq!(lookup(0).map(|t| (t.block, t.bytes)), Some((1, 4)));
        assert_eq!(lookup(12).map(|t| t.name), Some("Q4_K"));
        assert_eq!(lookup(39).map(|t| (t.block, t.bytes)), Some((32, 17)));
        assert_eq!(lookup(4), None);
        assert_eq!(lookup(31).map(|t| t.status), Some(TypeStatus::Removed));
        assert_eq!(lookup(u32::MAX), None);
        assert_eq!(known_count(), 42);
        for t in TYPES.iter().flatten() {
            assert!(t.block > 0 && t.bytes > 0, "{}", t.name);
        }
    }
}
