//! ONNX targets. Our trained networks are exported to ONNX and read back: tract's predictions
//! (black box) and candle-onnx's logits and input gradients (white box) must equal the network's
//! own. Hand-written graphs check a finite-difference gradient, the op that stops white-box use,
//! and malformed files.
#![cfg(feature = "onnx")]

use aisec_ml::arch::{Architecture, LayerSpec};
use aisec_ml::onnx::build::{float, int, node, tensor_f32, tensor_i64, value};
use aisec_ml::onnx::{
    OnnxLimits, OnnxModel, OnnxOptions, WhiteBoxStatus, model_proto, proto, write_model,
};
use aisec_ml::train::{TrainConfig, accuracy, train};
use aisec_ml::{Classifier, Device, LocalModel, ModelKind, Network, Rng, Tensor, WhiteBox};

fn max_abs(t: &Tensor) -> f32 {
    t.abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}

fn diff(a: &Tensor, b: &Tensor) -> f32 {
    max_abs(&(a - b).unwrap())
}

/// Three blobs in 4-D.
fn blobs(n: usize, seed: u64) -> (Tensor, Vec<u32>) {
    let mut rng = Rng::new(seed);
    let centres = [
        [1.0, 0.0, 0.0, 1.0],
        [0.0, 1.0, 0.0, 0.0],
        [0.0, 0.0, 1.0, 1.0],
    ];
    let mut x = Vec::new();
    let mut y = Vec::new();
    for i in 0..n {
        for &m in &centres[i % 3] {
            x.push((m + 0.25 * rng.normal()) as f32);
        }
        y.push((i % 3) as u32);
    }
    (Tensor::from_vec(x, (n, 4), &Device::Cpu).unwrap(), y)
}

/// 8x8 images of a bar: horizontal, vertical, diagonal or anti-diagonal, with noise.
fn bars(n: usize, seed: u64) -> (Tensor, Vec<u32>) {
    let mut rng = Rng::new(seed);
    let mut x = Vec::with_capacity(n * 64);
    let mut y = Vec::with_capacity(n);
    for i in 0..n {
        let class = i % 4;
        let at = 1 + rng.below(6);
        let mut img = [0f32; 64];
        for t in 0..8 {
            let (r, c) = match class {
                0 => (at, t),
                1 => (t, at),
                2 => (t, t),
                _ => (t, 7 - t),
            };
            img[r * 8 + c] = 1.0;
        }
        for v in &mut img {
            *v = (*v + 0.15 * rng.normal() as f32).clamp(0.0, 1.0);
        }
        x.extend(img);
        y.push(class as u32);
    }
    (Tensor::from_vec(x, (n, 1, 8, 8), &Device::Cpu).unwrap(), y)
}

fn fit(net: &mut Network, x: &Tensor, y: &[u32], epochs: usize) {
    let config = TrainConfig {
        epochs,
        patience: None,
        ..TrainConfig::default()
    };
    train(net, x, y, &config, None).unwrap();
}

/// Exports `net`, reads it back, and checks both faces against the network.
fn round_trip(net: &Network, x: &Tensor, labels: &[u32], expect_ops: &[&str]) -> OnnxModel {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.onnx");
    net.to_onnx(&path).unwrap();
    let model = OnnxModel::load(&path, &OnnxOptions::default()).unwrap();
    let local = LocalModel::new(net.clone(), "local");
    assert_eq!(model.info().input_shape, net.arch().input_shape);
    assert_eq!(model.info().num_classes, net.arch().num_classes);
    for op in expect_ops {
        assert!(
            model.op_types().contains_key(*op),
            "{op} in {:?}",
            model.op_types()
        );
    }

    // Black box: tract.
    let p_onnx = model.predict(x).unwrap();
    let p_local = local.predict(x).unwrap();
    assert!(
        diff(&p_onnx, &p_local) < 1e-5,
        "tract: {}",
        diff(&p_onnx, &p_local)
    );
    assert_eq!(model.queries().predictions, x.dim(0).unwrap() as u64);

    // White box: candle-onnx plus our pooling and softmax.
    assert_eq!(model.white_box_status(), &WhiteBoxStatus::Available);
    let wb = model.white_box().expect("white box");
    let logits = wb.logits(x).unwrap();
    let want = net.logits(x).unwrap();
    assert!(
        diff(&logits, &want) < 1e-5,
        "logits: {}",
        diff(&logits, &want)
    );
    let (loss_o, grad_o) = wb.loss_and_input_gradient(x, labels).unwrap();
    let (loss_l, grad_l) = local.loss_and_input_gradient(x, labels).unwrap();
    assert!(diff(&loss_o, &loss_l) < 1e-5);
    let scale = max_abs(&grad_l).max(1e-3);
    assert!(scale > 1e-6, "the gradient is not trivially zero");
    assert!(
        diff(&grad_o, &grad_l) <= 1e-5 * scale.max(1.0),
        "gradients differ by {} (scale {scale})",
        diff(&grad_o, &grad_l)
    );
    model
}

#[test]
fn a_trained_mlp_exports_and_reads_back_with_both_faces() {
    let (x, y) = blobs(240, 1);
    let mut net = Network::init(ModelKind::Mlp.architecture(&[4], 3).unwrap(), 2).unwrap();
    fit(&mut net, &x, &y, 20);
    let (xt, yt) = blobs(60, 2);
    assert!(accuracy(&net, &xt, &yt).unwrap() > 0.9);
    round_trip(&net, &xt, &yt, &["Gemm", "Relu"]);
}

#[test]
fn a_trained_cnn_exports_and_reads_back_with_both_faces() {
    let arch = Architecture::new(
        vec![1, 8, 8],
        4,
        vec![
            LayerSpec::Conv2d {
                in_channels: 1,
                out_channels: 4,
                kernel: 3,
                stride: 1,
                padding: 1,
                bias: true,
            },
            LayerSpec::Relu,
            LayerSpec::MaxPool2d {
                kernel: 2,
                stride: Some(2),
                padding: 0,
            },
            LayerSpec::Flatten,
            LayerSpec::Linear {
                in_features: 64,
                out_features: 4,
                bias: true,
            },
        ],
    );
    let (x, y) = bars(200, 3);
    let mut net = Network::init(arch, 4).unwrap();
    fit(&mut net, &x, &y, 15);
    let (xt, yt) = bars(40, 4);
    assert!(accuracy(&net, &xt, &yt).unwrap() > 0.8);
    round_trip(&net, &xt, &yt, &["Conv", "MaxPool", "Flatten", "Gemm"]);
}

#[test]
fn every_layer_kind_exports() {
    // Overlapping pools with padding, batch norm with real statistics, every activation, a
    // bias-free linear layer, dropout, and a final softmax (the ONNX output is probabilities;
    // the white-box face takes the logits before it).
    let arch = Architecture::new(
        vec![2, 6, 6],
        3,
        vec![
            LayerSpec::Conv2d {
                in_channels: 2,
                out_channels: 3,
                kernel: 3,
                stride: 1,
                padding: 1,
                bias: false,
            },
            LayerSpec::BatchNorm {
                num_features: 3,
                eps: 1e-3,
            },
            LayerSpec::Tanh,
            LayerSpec::MaxPool2d {
                kernel: 3,
                stride: Some(1),
                padding: 1,
            },
            LayerSpec::AvgPool2d {
                kernel: 2,
                stride: Some(2),
                padding: 1,
            },
            LayerSpec::Sigmoid,
            LayerSpec::Flatten,
            LayerSpec::Dropout { p: 0.2 },
            LayerSpec::Linear {
                in_features: 48,
                out_features: 5,
                bias: false,
            },
            LayerSpec::Relu,
            LayerSpec::Linear {
                in_features: 5,
                out_features: 3,
                bias: true,
            },
            LayerSpec::Softmax,
        ],
    );
    let mut net = Network::init(arch, 5).unwrap();
    // Batch-norm statistics and affine terms away from their defaults.
    let mut rng = Rng::new(6);
    let params: Vec<Tensor> = net
        .params()
        .iter()
        .zip(net.param_specs_list())
        .map(|(p, s)| {
            if s.name.starts_with("layers.1.") {
                let n = p.elem_count();
                let v: Vec<f32> = rng.uniform_vec(n, 0.5, 1.5);
                Tensor::from_vec(v, p.shape(), &Device::Cpu).unwrap()
            } else {
                p.clone()
            }
        })
        .collect();
    net.set_params(params).unwrap();
    let x = Tensor::from_vec(
        Rng::new(7).uniform_vec(5 * 72, 0.0, 1.0),
        (5, 2, 6, 6),
        &Device::Cpu,
    )
    .unwrap();
    let labels = [0, 1, 2, 0, 1];
    let model = round_trip(
        &net,
        &x,
        &labels,
        &[
            "Conv",
            "BatchNormalization",
            "MaxPool",
            "AveragePool",
            "Sigmoid",
            "Tanh",
            "Identity",
            "MatMul",
            "Softmax",
        ],
    );
    // The output is probabilities: predict does not apply a second softmax.
    let sums = model
        .predict(&x)
        .unwrap()
        .sum(1)
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    assert!(sums.iter().all(|s| (s - 1.0).abs() < 1e-5), "{sums:?}");
}

/// A hand-written graph: MatMul+Add, Tanh, a Sigmoid gate (Mul), Gemm with alpha, LeakyRelu,
/// Reshape through a constant, Softmax over axis 1.
fn gated_mlp(w1: &[f32], b1: &[f32], w2: &[f32], b2: &[f32]) -> proto::ModelProto {
    let graph = proto::GraphProto {
        name: "gated".into(),
        node: vec![
            node("MatMul", "mm", &["x", "w1"], &["a"], vec![]),
            node("Add", "add", &["a", "b1"], &["h"], vec![]),
            node("Tanh", "tanh", &["h"], &["t"], vec![]),
            node("Sigmoid", "gate", &["h"], &["g"], vec![]),
            node("Mul", "mul", &["t", "g"], &["m"], vec![]),
            node(
                "Gemm",
                "gemm",
                &["m", "w2", "b2"],
                &["z"],
                vec![float("alpha", 0.5), int("transB", 0)],
            ),
            node(
                "LeakyRelu",
                "lrelu",
                &["z"],
                &["l"],
                vec![float("alpha", 0.1)],
            ),
            node("Reshape", "reshape", &["l", "shape"], &["logits"], vec![]),
            node(
                "Softmax",
                "softmax",
                &["logits"],
                &["probs"],
                vec![int("axis", 1)],
            ),
        ],
        initializer: vec![
            tensor_f32("w1", &[4, 6], w1),
            tensor_f32("b1", &[6], b1),
            tensor_f32("w2", &[6, 3], w2),
            tensor_f32("b2", &[3], b2),
            tensor_i64("shape", &[2], &[-1, 3]),
        ],
        input: vec![value("x", &[None, Some(4)])],
        output: vec![value("probs", &[None, Some(3)])],
        ..proto::GraphProto::default()
    };
    model_proto(graph)
}

#[test]
fn a_hand_written_graph_has_the_gradient_finite_differences_give() {
    let mut rng = Rng::new(8);
    let g = gated_mlp(
        &rng.uniform_vec(24, -1.0, 1.0),
        &rng.uniform_vec(6, -0.5, 0.5),
        &rng.uniform_vec(18, -2.0, 2.0),
        &rng.uniform_vec(3, -0.5, 0.5),
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gated.onnx");
    write_model(&g, &path).unwrap();
    let model = OnnxModel::load(&path, &OnnxOptions::default()).unwrap();
    assert_eq!(model.info().input_shape, vec![4]);
    let wb = model.white_box().expect("every op is white-box");
    let x = Tensor::from_vec(rng.uniform_vec(4 * 4, -1.0, 1.0), (4, 4), &Device::Cpu).unwrap();
    let labels = [0u32, 1, 2, 1];

    // tract and candle-onnx agree on the probabilities.
    let p = model.predict(&x).unwrap();
    let q = aisec_ml::ops::softmax(&wb.logits(&x).unwrap()).unwrap();
    assert!(diff(&p, &q) < 1e-5, "{}", diff(&p, &q));

    let (_, grad) = wb.loss_and_input_gradient(&x, &labels).unwrap();
    let grad = grad.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let base = x.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let loss = |v: &[f32]| -> f64 {
        let t = Tensor::from_vec(v.to_vec(), (4, 4), &Device::Cpu).unwrap();
        let (l, _) = wb.loss_and_input_gradient(&t, &labels).unwrap();
        f64::from(l.sum_all().unwrap().to_scalar::<f32>().unwrap())
    };
    let h = 1e-2f32;
    let mut worst = 0f64;
    for i in 0..base.len() {
        let (mut up, mut down) = (base.clone(), base.clone());
        up[i] += h;
        down[i] -= h;
        let fd = (loss(&up) - loss(&down)) / (2.0 * f64::from(h));
        let err = (fd - f64::from(grad[i])).abs() / (1e-2 + fd.abs());
        worst = worst.max(err);
    }
    assert!(worst < 2e-2, "relative gradient error {worst}");
    assert!(grad.iter().any(|g| g.abs() > 1e-3));
}

fn one_op_graph(op: &str) -> proto::ModelProto {
    let mut rng = Rng::new(9);
    model_proto(proto::GraphProto {
        node: vec![
            node("MatMul", "mm", &["x", "w"], &["a"], vec![]),
            node(op, "act", &["a"], &["logits"], vec![]),
        ],
        initializer: vec![tensor_f32("w", &[3, 2], &rng.uniform_vec(6, -1.0, 1.0))],
        input: vec![value("x", &[None, Some(3)])],
        output: vec![value("logits", &[None, Some(2)])],
        ..proto::GraphProto::default()
    })
}

#[test]
fn an_op_candle_onnx_lacks_leaves_a_black_box_and_says_which() {
    let bytes = prost_bytes(&one_op_graph("Softplus"));
    let model = OnnxModel::from_bytes(&bytes, "softplus.onnx", &OnnxOptions::default()).unwrap();
    match model.white_box_status() {
        WhiteBoxStatus::Blocked { op, node, reason } => {
            assert_eq!((op.as_str(), node.as_str()), ("Softplus", "act"));
            assert!(reason.contains("does not implement"), "{reason}");
        }
        WhiteBoxStatus::Available => panic!("Softplus is not white-box"),
    }
    assert!(model.white_box().is_none());
    // The black box still runs: softmax(softplus(x W)).
    let x = Tensor::from_vec(
        vec![0.5f32, -1.0, 2.0, 0.0, 0.3, -0.2],
        (2, 3),
        &Device::Cpu,
    )
    .unwrap();
    let g = one_op_graph("Softplus");
    let w = &g.graph.as_ref().unwrap().initializer[0].raw_data;
    let w: Vec<f32> = w
        .chunks(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    let w = Tensor::from_vec(w, (3, 2), &Device::Cpu).unwrap();
    let a = x.matmul(&w).unwrap();
    let softplus = (a.exp().unwrap() + 1.0).unwrap().log().unwrap();
    let want = aisec_ml::ops::softmax(&softplus).unwrap();
    assert!(diff(&model.predict(&x).unwrap(), &want) < 1e-5);

    let bytes = prost_bytes(&one_op_graph("Selu"));
    let model = OnnxModel::from_bytes(&bytes, "selu.onnx", &OnnxOptions::default()).unwrap();
    assert!(
        matches!(model.white_box_status(), WhiteBoxStatus::Blocked { op, reason, .. }
            if op == "Selu" && reason.contains("not checked its gradient")),
        "{:?}",
        model.white_box_status()
    );
}

fn prost_bytes(m: &proto::ModelProto) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.onnx");
    write_model(m, &path).unwrap();
    std::fs::read(path).unwrap()
}

#[test]
fn malformed_and_oversized_files_are_refused() {
    let good = prost_bytes(&one_op_graph("Relu"));
    let opts = OnnxOptions::default();
    assert!(OnnxModel::from_bytes(&good, "ok", &opts).is_ok());

    let err = OnnxModel::from_bytes(b"\xff\xff\xff\xff not protobuf", "junk", &opts).unwrap_err();
    assert!(err.to_string().contains("not an ONNX model"), "{err}");
    for cut in [good.len() / 2, good.len() - 3] {
        assert!(OnnxModel::from_bytes(&good[..cut], "cut", &opts).is_err());
    }
    let small = OnnxOptions {
        limits: OnnxLimits {
            max_file: 64,
            ..OnnxLimits::default()
        },
        ..OnnxOptions::default()
    };
    let err = OnnxModel::from_bytes(&good, "big", &small).unwrap_err();
    assert!(
        err.to_string()
            .contains("the limit for an ONNX model is 64"),
        "{err}"
    );

    // External data, a tensor whose bytes do not match its shape, two inputs.
    let mut m = one_op_graph("Relu");
    m.graph.as_mut().unwrap().initializer[0].data_location =
        proto::tensor_proto::DataLocation::External as i32;
    let err = OnnxModel::from_bytes(&prost_bytes(&m), "ext", &opts).unwrap_err();
    assert!(err.to_string().contains("external"), "{err}");
    let mut m = one_op_graph("Relu");
    m.graph.as_mut().unwrap().initializer[0]
        .raw_data
        .truncate(8);
    assert!(OnnxModel::from_bytes(&prost_bytes(&m), "short", &opts).is_err());
    let mut m = one_op_graph("Relu");
    m.graph
        .as_mut()
        .unwrap()
        .input
        .push(value("y", &[None, Some(3)]));
    let err = OnnxModel::from_bytes(&prost_bytes(&m), "two", &opts).unwrap_err();
    assert!(err.to_string().contains("one input"), "{err}");

    // A constant shape that would allocate 10^12 elements is refused before tract folds it.
    let mut m = one_op_graph("Relu");
    let g = m.graph.as_mut().unwrap();
    g.initializer
        .push(tensor_i64("huge", &[3], &[10_000, 10_000, 10_000]));
    g.node
        .push(node("ConstantOfShape", "fill", &["huge"], &["big"], vec![]));
    g.output.push(value("big", &[None, None, None]));
    let err = OnnxModel::from_bytes(&prost_bytes(&m), "fill", &opts).unwrap_err();
    assert!(err.to_string().contains("asks for shape"), "{err}");
}
