//! What each TensorFlow op can do outside the tensor world: run Python, read or write files,
//! talk to the network. Op names come from TensorFlow's op registry (`tf.raw_ops`); the full
//! registry of the TensorFlow build named in `tf_ops.txt`'s generator tells standard ops from
//! custom ones.

use std::collections::HashSet;
use std::sync::LazyLock;

/// What an op does that matters to a loader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Effect {
    /// Calls a Python function registered in the loading process.
    Python,
    /// Reads files named by the inputs at these positions (empty: the names come from a queue).
    Read(&'static [usize]),
    /// Writes files named by the inputs at these positions.
    Write(&'static [usize]),
    /// Checkpoint reads and writes (the saver's own ops) at these input positions.
    Checkpoint(&'static [usize]),
    /// Opens network connections (addresses at these inputs, when known).
    Network(&'static [usize]),
    /// The file or URL is in an attribute: `(attribute, what the op does with it)`.
    AttrPath(&'static str, AttrUse),
    /// Runs a serialized graph held in a tensor.
    Graph,
}

/// How an op uses the file or URL in its attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AttrUse {
    /// `PrintV2.output_stream`: `file://` targets are written, the standard streams are not files.
    PrintStream,
    /// `debug_urls`: `file://` dumps, `grpc://` streams.
    DebugUrls,
    /// `descriptor_source`: `local://` and `bytes://` are not files.
    Descriptor,
    /// Always a file read.
    Read,
    /// Always a file write.
    Write,
}

const I0: &[usize] = &[0];
const I1: &[usize] = &[1];
const I01: &[usize] = &[0, 1];
const NONE: &[usize] = &[];

/// The ops with effects, sorted by name for binary search.
const EFFECTS: &[(&str, Effect)] = &[
    ("CSVDataset", Effect::Read(I0)),
    ("CSVDatasetV2", Effect::Read(I0)),
    ("CacheDataset", Effect::Write(I1)),
    ("CacheDatasetV2", Effect::Write(I1)),
    (
        "CalibrationStatisticsSaver",
        Effect::AttrPath("output_file_path", AttrUse::Write),
    ),
    ("CreateSummaryDbWriter", Effect::Write(I1)),
    ("CreateSummaryFileWriter", Effect::Write(I1)),
    ("DTensorRestoreV2", Effect::Checkpoint(I0)),
    ("DataServiceDataset", Effect::Network(&[2, 3])),
    ("DataServiceDatasetV2", Effect::Network(&[2, 3])),
    ("DataServiceDatasetV3", Effect::Network(&[2, 3])),
    ("DataServiceDatasetV4", Effect::Network(&[2, 3])),
    ("DatasetFromGraph", Effect::Graph),
    ("DatasetToTFRecord", Effect::Write(I1)),
    (
        "DebugIdentity",
        Effect::AttrPath("debug_urls", AttrUse::DebugUrls),
    ),
    (
        "DebugIdentityV2",
        Effect::AttrPath("debug_urls", AttrUse::DebugUrls),
    ),
    (
        "DebugIdentityV3",
        Effect::AttrPath("debug_urls", AttrUse::DebugUrls),
    ),
    (
        "DebugNanCount",
        Effect::AttrPath("debug_urls", AttrUse::DebugUrls),
    ),
    (
        "DebugNumericSummary",
        Effect::AttrPath("debug_urls", AttrUse::DebugUrls),
    ),
    (
        "DebugNumericSummaryV2",
        Effect::AttrPath("debug_urls", AttrUse::DebugUrls),
    ),
    (
        "DecodeProtoV2",
        Effect::AttrPath("descriptor_source", AttrUse::Descriptor),
    ),
    ("DistributedSave", Effect::Write(&[1, 2])),
    ("EagerPyFunc", Effect::Python),
    (
        "EncodeProto",
        Effect::AttrPath("descriptor_source", AttrUse::Descriptor),
    ),
    ("ExperimentalCSVDataset", Effect::Read(I0)),
    ("ExperimentalDatasetToTFRecord", Effect::Write(I1)),
    ("ExperimentalLMDBDataset", Effect::Read(I0)),
    ("ExperimentalMatchingFilesDataset", Effect::Read(I0)),
    ("ExperimentalSqlDataset", Effect::Read(I1)),
    ("FileSystemSetConfiguration", Effect::Write(I01)),
    ("FixedLengthRecordDataset", Effect::Read(I0)),
    ("FixedLengthRecordDatasetV2", Effect::Read(I0)),
    ("FixedLengthRecordReader", Effect::Read(NONE)),
    ("FixedLengthRecordReaderV2", Effect::Read(NONE)),
    ("GenerateVocabRemapping", Effect::Read(I01)),
    (
        "ImmutableConst",
        Effect::AttrPath("memory_region_name", AttrUse::Read),
    ),
    ("InitializeTableFromTextFile", Effect::Read(I1)),
    ("InitializeTableFromTextFileV2", Effect::Read(I1)),
    ("LMDBDataset", Effect::Read(I0)),
    ("LMDBReader", Effect::Read(NONE)),
    ("ListSnapshotChunksDataset", Effect::Read(I0)),
    ("LoadAndRemapMatrix", Effect::Read(I0)),
    ("LoadDataset", Effect::Read(I0)),
    ("MatchingFiles", Effect::Read(I0)),
    ("MatchingFilesDataset", Effect::Read(I0)),
    ("MergeV2Checkpoints", Effect::Checkpoint(I01)),
    (
        "PrintV2",
        Effect::AttrPath("output_stream", AttrUse::PrintStream),
    ),
    ("PyFunc", Effect::Python),
    ("PyFuncStateless", Effect::Python),
    ("ReadFile", Effect::Read(I0)),
    (
        "RecordInput",
        Effect::AttrPath("file_pattern", AttrUse::Read),
    ),
    ("RegisterDataset", Effect::Network(&[1, 2])),
    ("RegisterDatasetV2", Effect::Network(&[1, 2])),
    ("Restore", Effect::Checkpoint(I0)),
    ("RestoreSlice", Effect::Checkpoint(I0)),
    ("RestoreV2", Effect::Checkpoint(I0)),
    ("RpcCall", Effect::Network(NONE)),
    ("RpcClient", Effect::Network(I0)),
    ("RpcServer", Effect::Network(I0)),
    ("RpcServerRegister", Effect::Network(NONE)),
    ("RpcServerStart", Effect::Network(NONE)),
    ("Save", Effect::Checkpoint(I0)),
    ("SaveDataset", Effect::Write(I1)),
    ("SaveDatasetV2", Effect::Write(I1)),
    ("SaveSlices", Effect::Checkpoint(I0)),
    ("SaveV2", Effect::Checkpoint(I0)),
    ("SnapshotChunkDataset", Effect::Read(I0)),
    ("SnapshotDataset", Effect::Write(I1)),
    ("SnapshotDatasetReader", Effect::Read(I0)),
    ("SnapshotDatasetV2", Effect::Write(I1)),
    ("SqlDataset", Effect::Read(I1)),
    ("TFRecordDataset", Effect::Read(I0)),
    ("TFRecordDatasetV2", Effect::Read(I0)),
    ("TFRecordReader", Effect::Read(NONE)),
    ("TFRecordReaderV2", Effect::Read(NONE)),
    ("TextLineDataset", Effect::Read(I0)),
    ("TextLineReader", Effect::Read(NONE)),
    ("TextLineReaderV2", Effect::Read(NONE)),
    ("WholeFileReader", Effect::Read(NONE)),
    ("WholeFileReaderV2", Effect::Read(NONE)),
    ("WriteFile", Effect::Write(I0)),
];

/// The effect of `op`, if it has one.
pub(super) fn effect(op: &str) -> Option<Effect> {
    EFFECTS
        .binary_search_by(|(name, _)| (*name).cmp(op))
        .ok()
        .map(|i| EFFECTS[i].1)
}

/// Which inputs an op passes a string (a path) through from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Through {
    /// The data inputs at these positions.
    Inputs(&'static [usize]),
    /// Every data input.
    All,
}

/// Ops followed when tracing where a file op's path comes from.
pub(super) fn passes_through(op: &str) -> Option<Through> {
    Some(match op {
        "Identity" | "Snapshot" | "StopGradient" | "ShardedFilename" | "ShardedFilespec"
        | "StaticRegexReplace" | "RegexReplace" | "Reshape" | "ExpandDims" | "Squeeze"
        | "StridedSlice" | "GatherV2" | "Gather" | "Enter" | "Exit" | "Switch"
        | "NextIteration" | "RefIdentity" | "StringStrip" | "StringLower" | "StringUpper" => {
            Through::Inputs(I0)
        }
        "Select" | "SelectV2" => Through::Inputs(&[1, 2]),
        "TensorSliceDataset" | "TensorDataset" => Through::All,
        "ShuffleDataset" | "ShuffleDatasetV2" | "ShuffleDatasetV3" | "RepeatDataset"
        | "PrefetchDataset" | "TakeDataset" | "SkipDataset" | "CacheDataset" | "CacheDatasetV2"
        | "OptionsDataset" => Through::Inputs(I0),
        "StringJoin" | "Pack" | "ConcatV2" | "Concat" | "Add" | "AddV2" | "AddN" | "IdentityN"
        | "Merge" | "StringFormat" | "ReduceJoin" | "Tile" => Through::All,
        _ => return None,
    })
}

/// The op registry of the TensorFlow build that generated `tf_ops.txt`.
static REGISTRY: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| include_str!("tf_ops.txt").lines().collect());

/// True when `op` is registered by TensorFlow itself.
pub(super) fn is_standard(op: &str) -> bool {
    REGISTRY.contains(op)
}

/// Op libraries that real models depend on, by op-name namespace (`Addons>GELU`) or by name,
/// and the package that registers them.
pub(super) fn known_library(op: &str) -> Option<&'static str> {
    const NAMESPACES: &[(&str, &str)] = &[
        ("Addons>", "tensorflow-addons"),
        ("TFText>", "tensorflow-text"),
        ("TFRA>", "tensorflow-recommenders-addons"),
        ("Scann>", "scann"),
        ("SimpleML", "tensorflow-decision-forests"),
        ("YggdrasilDecisionForests", "tensorflow-decision-forests"),
    ];
    const TEXT_OPS: &[&str] = &[
        "CaseFoldUTF8",
        "ConstrainedSequence",
        "FastBertNormalize",
        "FastWordpieceTokenizeWithOffsets",
        "FindSourceOffsets",
        "MaxSpanningTree",
        "NgramsStringJoin",
        "NormalizeUTF8",
        "NormalizeUTF8WithOffsetsMap",
        "RegexSplitWithOffsets",
        "RougeL",
        "SentenceFragments",
        "SentencepieceDetokenizeOp",
        "SentencepieceIdToStringOp",
        "SentencepieceOp",
        "SentencepieceStringToIdOp",
        "SentencepieceTokenizeOp",
        "SentencepieceTokenizeWithOffsetsOp",
        "SentencepieceVocabSizeOp",
        "SplitMergeFromLogitsTokenizeWithOffsets",
        "SplitMergeTokenizeWithOffsets",
        "TokenizerFromLogits",
        "UnicodeScriptTokenizeWithOffsets",
        "WhitespaceTokenizeWithOffsets",
        "WhitespaceTokenizeWithOffsetsV2",
        "WordpieceTokenizeWithOffsets",
    ];
    if let Some((_, lib)) = NAMESPACES.iter().find(|(p, _)| op.starts_with(p)) {
        return Some(lib);
    }
    TEXT_OPS.contains(&op).then_some("tensorflow-text")
}

/// URL schemes TensorFlow's file system layer (or a plug-in) resolves over the network.
pub(super) fn remote_scheme(path: &str) -> Option<&str> {
    let (scheme, _) = path.split_once("://")?;
    let s = scheme.to_ascii_lowercase();
    (!matches!(s.as_str(), "file" | "ram" | "local" | "bytes")).then_some(scheme)
}

/// True when a constant path leaves the model's directory: absolute, `~`, a drive letter, a
/// `..` component, or any URL.
pub(super) fn path_escapes(path: &str) -> bool {
    let p = path.trim();
    p.starts_with('/')
        || p.starts_with('\\')
        || p.starts_with('~')
        || p.contains("://")
        || p.as_bytes().get(1) == Some(&b':')
        || p.split(['/', '\\']).any(|c| c == "..")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_registered() {
        assert!(EFFECTS.windows(2).all(|w| w[0].0 < w[1].0));
        let registry = include_str!("tf_ops.txt");
        assert!(
            registry
                .lines()
                .collect::<Vec<_>>()
                .windows(2)
                .all(|w| w[0] < w[1])
        );
        for (op, _) in EFFECTS {
            assert!(is_standard(op), "{op}");
        }
        assert_eq!(effect("ReadFile"), Some(Effect::Read(I0)));
        assert_eq!(effect("MatMul"), None);
        assert!(is_standard("_Arg") && !is_standard("EvilOp"));
    }

    #[test]
    fn paths() {
        assert!(path_escapes("/etc/hostname"));
        assert!(path_escapes("a/../../b"));
        assert!(path_escapes("C:\\x"));
        assert!(path_escapes("file:///tmp/x"));
        assert!(!path_escapes("model"));
        assert!(!path_escapes("_temp/part"));
        assert_eq!(remote_scheme("gs://bucket/x"), Some("gs"));
        assert_eq!(remote_scheme("file:///x"), None);
    }
}
