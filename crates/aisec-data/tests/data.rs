//! The loaders on real data (the built-in sets and sample images, fetched through aisec-resolve
//! into the cache the test runs share), file round trips, and damaged inputs.

#![allow(clippy::float_cmp)] // exact stored values are what is checked

use std::io::{Cursor, Write};
use std::path::PathBuf;

use aisec_data::{
    BuiltIn, CsvOptions, Data, Dataset, ErrorKind, Limits, NpzOptions, Standardizer, load_csv,
    load_idx, load_npz, load_png_files, parse_csv, parse_idx, parse_npy, parse_npz, read_npy,
    write_npy_f32, write_npy_i64,
};
use aisec_resolve::Resolver;

/// A loader under test: whether the bytes loaded.
type Loader = fn(&[u8], &Limits) -> bool;

fn resolver() -> Resolver {
    Resolver::new(PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("aisec-cache"))
}

fn in_unit_range(d: &Dataset) -> bool {
    d.x().iter().all(|v| (0.0..=1.0).contains(v))
}

#[test]
fn digits_loads_from_the_pinned_file() {
    let path = resolver().fetch("digits").unwrap();
    let d = BuiltIn::Digits.load(&path, &Limits::default()).unwrap();
    assert_eq!(d.len(), 1797);
    assert_eq!(d.sample_shape(), &[1, 8, 8]);
    assert_eq!(d.num_classes(), 10);
    assert!(in_unit_range(&d));
    assert!(d.x().contains(&1.0), "16/16 occurs");
    // Every digit occurs (the optdigits test set has 174..183 of each).
    let counts = d.class_counts();
    assert!(
        counts.iter().all(|&c| (170..190).contains(&c)),
        "{counts:?}"
    );
    // The first row of the file is a 0.
    assert_eq!(d.label(0), Some(0));
    assert_eq!(
        &d.sample(0).unwrap()[..4],
        &[0.0, 0.0, 5.0 / 16.0, 13.0 / 16.0]
    );
    // The default split of the project: seed 0, last 20% test.
    let s = d.split(0.2, 0).unwrap();
    assert_eq!((s.train.len(), s.test.len()), (1438, 359));
    assert_eq!(s, d.split(0.2, 0).unwrap());
}

#[test]
fn tabular_sets_load_raw_and_standardize_on_the_train_split() {
    let r = resolver();
    let bc = BuiltIn::BreastCancer
        .load(&r.fetch("breast-cancer").unwrap(), &Limits::default())
        .unwrap();
    assert_eq!(
        (bc.len(), bc.sample_shape(), bc.num_classes()),
        (569, &[30][..], 2)
    );
    assert_eq!(bc.class_names().unwrap(), &["malignant", "benign"]);
    assert_eq!(bc.class_counts(), vec![212, 357]);
    assert_eq!(bc.sample(0).unwrap()[0], 17.99, "raw values");

    let wine = BuiltIn::Wine
        .load(&r.fetch("wine").unwrap(), &Limits::default())
        .unwrap();
    assert_eq!(
        (wine.len(), wine.sample_shape(), wine.num_classes()),
        (178, &[13][..], 3)
    );
    assert_eq!(wine.class_counts(), vec![59, 71, 48]);

    let split = bc.split(0.2, 0).unwrap();
    let st = Standardizer::fit(&split.train).unwrap();
    let mut train = split.train.clone();
    let mut test = split.test.clone();
    st.apply(&mut train).unwrap();
    st.apply(&mut test).unwrap();
    for j in 0..30 {
        let col: Vec<f32> = (0..train.len())
            .map(|i| train.sample(i).unwrap()[j])
            .collect();
        let mean = col.iter().sum::<f32>() / col.len() as f32;
        assert!(mean.abs() < 1e-3, "feature {j}: {mean}");
    }
    // The test split is standardized with the train statistics, so its mean is not exactly 0.
    let test_mean = (0..test.len())
        .map(|i| test.sample(i).unwrap()[0])
        .sum::<f32>()
        / test.len() as f32;
    assert!(test_mean != 0.0 && test_mean.abs() < 0.5, "{test_mean}");
}

#[test]
fn sample_images_load_with_their_file_name_labels() {
    let r = resolver();
    for (name, prefix, shape) in [
        ("mnist-samples", "mnist_", [1, 28, 28]),
        ("cifar10-samples", "cifar10_", [3, 32, 32]),
    ] {
        let dir = r.fetch(name).unwrap();
        let mut files: Vec<(PathBuf, u32)> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .map(|p| {
                // `<prefix><index>_<label>.png`
                let stem = p.file_stem().unwrap().to_str().unwrap().to_owned();
                assert!(stem.starts_with(prefix), "{stem}");
                let label = stem.rsplit('_').next().unwrap().parse().unwrap();
                (p, label)
            })
            .collect();
        files.sort();
        assert_eq!(files.len(), 20);
        let d = load_png_files(&files, 10, None, &Limits::default()).unwrap();
        assert_eq!(d.len(), 20);
        assert_eq!(d.sample_shape(), &shape);
        assert!(in_unit_range(&d));
        let (lo, hi) = d
            .x()
            .iter()
            .fold((1f32, 0f32), |(a, b), &v| (a.min(v), b.max(v)));
        assert!(lo < 0.05 && hi > 0.95, "{name}: {lo}..{hi}");
    }
}

#[test]
fn npy_and_npz_files_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let xs: Vec<f32> = (0..24).map(|i| i as f32 / 8.0 - 1.0).collect();
    write_npy_f32(&dir.path().join("x.npy"), &[4, 2, 3], &xs).unwrap();
    write_npy_i64(&dir.path().join("y.npy"), &[4], &[3, 0, 1, 3]).unwrap();
    let x = read_npy(&dir.path().join("x.npy"), &Limits::default()).unwrap();
    assert_eq!(x.shape, vec![4, 2, 3]);
    assert_eq!(x.data, Data::F32(xs.clone()));
    let y = read_npy(&dir.path().join("y.npy"), &Limits::default()).unwrap();
    assert_eq!(y.data, Data::I64(vec![3, 0, 1, 3]));
    assert!(write_npy_f32(&dir.path().join("bad.npy"), &[5], &xs).is_err());

    // The same two files in an .npz, as np.savez_compressed writes it.
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for name in ["x.npy", "y.npy"] {
        w.start_file(name, opts).unwrap();
        w.write_all(&std::fs::read(dir.path().join(name)).unwrap())
            .unwrap();
    }
    let npz = dir.path().join("set.npz");
    std::fs::write(&npz, w.finish().unwrap().into_inner()).unwrap();
    let d = load_npz(&npz, &NpzOptions::default(), &Limits::default()).unwrap();
    assert_eq!(d.sample_shape(), &[2, 3]);
    assert_eq!(d.y(), &[3, 0, 1, 3]);
    assert_eq!(d.num_classes(), 4);
    assert_eq!(d.x(), &xs[..]);
}

#[test]
fn csv_and_idx_files_load_with_paths_in_errors() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("t.csv");
    std::fs::write(&csv, "a,b,label\n1,2,yes\n3,4,no\n").unwrap();
    let opts = CsvOptions {
        header: true,
        ..CsvOptions::default()
    };
    let d = load_csv(&csv, &opts, &Limits::default()).unwrap();
    assert_eq!(d.class_names().unwrap(), &["no", "yes"]);
    std::fs::write(&csv, "1,2,0\n3,x,1\n").unwrap();
    let e = load_csv(&csv, &CsvOptions::default(), &Limits::default()).unwrap_err();
    let chain = format!("{e}: {}", e.root());
    assert!(
        chain.contains("t.csv") && chain.contains("line 2"),
        "{chain}"
    );

    // MNIST-style IDX pair.
    let images = dir.path().join("img-idx3-ubyte");
    let labels = dir.path().join("lbl-idx1-ubyte");
    let mut img = vec![0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 2];
    img.extend((0..12).map(|i| (i * 20) as u8));
    std::fs::write(&images, &img).unwrap();
    std::fs::write(&labels, [0, 0, 8, 1, 0, 0, 0, 3, 5, 0, 9]).unwrap();
    let mut d = load_idx(&images, &labels, &Limits::default()).unwrap();
    assert_eq!(d.sample_shape(), &[1, 2, 2]);
    assert_eq!(d.y(), &[5, 0, 9]);
    d.scale(1.0 / 255.0).unwrap();
    assert!(in_unit_range(&d));
    std::fs::write(&labels, [0, 0, 8, 1, 0, 0, 0, 3, 5, 0]).unwrap();
    let e = load_idx(&images, &labels, &Limits::default()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Malformed, "{e}");
}

/// Every prefix and many single-byte changes of valid files: each load returns, none panics, and
/// with small limits none allocates past them (the test process would abort otherwise).
#[test]
fn damaged_inputs_are_errors_not_panics() {
    let l = Limits::small();
    let npy = aisec_data::encode_npy_f32(&[3, 2], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, data) in [
        ("x.npy", npy.clone()),
        (
            "y.npy",
            aisec_data::encode_npy_i64(&[3], &[0, 1, 2]).unwrap(),
        ),
    ] {
        w.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(&data).unwrap();
    }
    let npz = w.finish().unwrap().into_inner();
    let idx = vec![0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 2, 1, 2, 3, 4];
    let csv = b"a,b,c\n1,2,x\n3,4,y\n".to_vec();
    let loaders: [(&str, Vec<u8>, Loader); 4] = [
        ("npy", npy, |b, l| parse_npy(b, l).is_ok()),
        ("npz", npz, |b, l| {
            parse_npz(b, &NpzOptions::default(), l).is_ok()
        }),
        ("idx", idx, |b, l| parse_idx(b, l).is_ok()),
        ("csv", csv, |b, l| {
            let o = CsvOptions {
                header: true,
                ..CsvOptions::default()
            };
            parse_csv(b, &o, l).is_ok()
        }),
    ];
    for (name, good, load) in loaders {
        assert!(load(&good, &l), "{name}: the valid input loads");
        for n in 0..good.len() {
            let _ = load(&good[..n], &l);
        }
        for i in 0..good.len() {
            for v in [0x00, 0xff, 0x7f, b'9', b'(', b'"'] {
                let mut m = good.clone();
                m[i] = v;
                let _ = load(&m, &l);
            }
        }
    }
}
