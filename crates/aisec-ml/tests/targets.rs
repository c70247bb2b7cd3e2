//! The model spec decides the target: a model directory, safetensors with an architecture file,
//! an ONNX file, or a URL with a remote config.

use aisec_ml::remote::{Layout, OutputKind, Protocol, RemoteConfig};
use aisec_ml::target::{TargetOptions, TargetSpec, load_target};
use aisec_ml::{Device, ModelKind, Network, Tensor};
use serde_json::json;

fn saved_network(dir: &std::path::Path) -> Network {
    let net = Network::init(ModelKind::Mlp.architecture(&[5], 3).unwrap(), 1).unwrap();
    net.save_dir(dir).unwrap();
    net
}

fn x() -> Tensor {
    Tensor::from_vec(
        (0..10).map(|i| i as f32 / 10.0).collect::<Vec<_>>(),
        (2, 5),
        &Device::Cpu,
    )
    .unwrap()
}

#[test]
fn directories_and_safetensors_files_load_our_networks() {
    let dir = tempfile::tempdir().unwrap();
    let net = saved_network(dir.path());
    let want = net.probabilities(&x()).unwrap();
    let opts = TargetOptions::default();
    let spec = dir.path().to_str().unwrap();
    assert_eq!(
        TargetSpec::parse(spec, &opts).unwrap(),
        TargetSpec::Dir(dir.path().to_path_buf())
    );
    let t = load_target(spec, &opts).unwrap();
    assert!(t.white_box().is_some());
    let got = t.predict(&x()).unwrap();
    assert_eq!(
        got.to_vec2::<f32>().unwrap(),
        want.to_vec2::<f32>().unwrap()
    );

    // A bare safetensors file: the architecture beside it, or the one given.
    let weights = dir.path().join("model.safetensors");
    let t = load_target(weights.to_str().unwrap(), &opts).unwrap();
    assert_eq!(t.info().num_classes, 3);
    let other = tempfile::tempdir().unwrap();
    let moved = other.path().join("weights.SAFETENSORS");
    std::fs::copy(&weights, &moved).unwrap();
    let err = load_target(moved.to_str().unwrap(), &opts)
        .err()
        .expect("an error");
    assert!(err.to_string().contains("--arch"), "{err}");
    let with_arch = TargetOptions {
        arch: Some(dir.path().join("architecture.json")),
        ..TargetOptions::default()
    };
    let t = load_target(moved.to_str().unwrap(), &with_arch).unwrap();
    assert_eq!(
        t.predict(&x()).unwrap().to_vec2::<f32>().unwrap(),
        want.to_vec2::<f32>().unwrap()
    );
}

#[test]
fn unknown_specs_say_what_is_expected() {
    let dir = tempfile::tempdir().unwrap();
    let opts = TargetOptions::default();
    let err = load_target(dir.path().to_str().unwrap(), &opts)
        .err()
        .expect("an error");
    assert!(err.to_string().contains("neither"), "{err}");
    let file = dir.path().join("model.pkl");
    std::fs::write(&file, b"x").unwrap();
    let err = load_target(file.to_str().unwrap(), &opts)
        .err()
        .expect("an error");
    assert!(err.to_string().contains("cannot tell"), "{err}");
    assert!(load_target(dir.path().join("missing").to_str().unwrap(), &opts).is_err());
}

#[test]
fn urls_need_a_remote_config_whose_url_they_replace() {
    let opts = TargetOptions::default();
    let url = "HTTP://127.0.0.1:9/predict";
    assert_eq!(
        TargetSpec::parse(url, &opts).unwrap(),
        TargetSpec::Remote(url.into())
    );
    let err = load_target(url, &opts).err().expect("an error");
    assert!(err.to_string().contains("config"), "{err}");
    let mut config = RemoteConfig::new(
        "http://unused.invalid/",
        Protocol::Json {
            request: json!({"x": "{{inputs}}"}),
            layout: Layout::Batch,
            outputs: "/y".into(),
            output_kind: OutputKind::Probabilities,
        },
        3,
    );
    config.input_shape = Some(vec![5]);
    let opts = TargetOptions {
        remote: Some(config),
        ..TargetOptions::default()
    };
    let t = load_target(url, &opts).unwrap();
    assert_eq!(t.info().name, url);
    assert!(t.white_box().is_none());
}

#[test]
fn onnx_files_load_when_the_feature_is_on() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.onnx");
    let opts = TargetOptions::default();
    #[cfg(feature = "onnx")]
    {
        let net = Network::init(ModelKind::Mlp.architecture(&[5], 3).unwrap(), 1).unwrap();
        net.to_onnx(&path).unwrap();
        for spec in [&path, &dir.path().to_path_buf()] {
            let t = load_target(spec.to_str().unwrap(), &opts).unwrap();
            let got = t.predict(&x()).unwrap();
            let want = net.probabilities(&x()).unwrap();
            let d = (got - want)
                .unwrap()
                .abs()
                .unwrap()
                .max_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap();
            assert!(d < 1e-5);
            assert!(t.white_box().is_some());
        }
    }
    #[cfg(not(feature = "onnx"))]
    {
        std::fs::write(&path, b"not read").unwrap();
        let err = load_target(path.to_str().unwrap(), &opts)
            .err()
            .expect("an error");
        assert!(err.to_string().contains("feature `onnx`"), "{err}");
    }
}
