//! Finite-difference checks of every layer's and every model kind's gradients, with respect to
//! the input and to the parameters, in f64. candle's own max-pool backward fails this check
//! (it is too small by 1/(k*k)); ours must pass.

use aisec_ml::arch::{Architecture, LayerSpec};
use aisec_ml::network::Mode;
use aisec_ml::{DType, Device, ModelKind, Network, Rng, Tensor};
use candle_core::Var;

const H: f64 = 1e-6;

/// Objective: sum(logits * r) for a fixed random r, so every logit's gradient matters.
fn objective(
    net: &Network,
    x: &Tensor,
    params: &[Tensor],
    r: &Tensor,
    train_seed: Option<u64>,
) -> Tensor {
    let logits = match train_seed {
        None => net.forward_with(x, params, &mut Mode::Eval).unwrap(),
        Some(seed) => {
            let mut rng = Rng::new(seed);
            let mut stats = Vec::new();
            net.forward_with(
                x,
                params,
                &mut Mode::Train {
                    rng: &mut rng,
                    bn_stats: &mut stats,
                },
            )
            .unwrap()
        }
    };
    logits.mul(r).unwrap().sum_all().unwrap()
}

fn scalar(t: &Tensor) -> f64 {
    t.to_scalar::<f64>().unwrap()
}

fn perturbed(t: &Tensor, index: usize, delta: f64) -> Tensor {
    let mut v = t.flatten_all().unwrap().to_vec1::<f64>().unwrap();
    v[index] += delta;
    Tensor::from_vec(v, t.shape(), &Device::Cpu).unwrap()
}

fn assert_close(what: &str, analytic: f64, numeric: f64) {
    let tol = 1e-5 * (1.0 + numeric.abs().max(analytic.abs()));
    assert!(
        (analytic - numeric).abs() <= tol,
        "{what}: analytic {analytic} vs finite difference {numeric}"
    );
}

/// Checks d objective / d input and d objective / d every parameter against central differences.
#[allow(clippy::needless_pass_by_value)]
fn check(arch: Architecture, batch: usize, train_seed: Option<u64>) {
    let net = Network::init(arch.clone(), 3)
        .unwrap()
        .to_dtype(DType::F64)
        .unwrap();
    let mut rng = Rng::new(11);
    let mut shape = vec![batch];
    shape.extend(&arch.input_shape);
    let n: usize = shape.iter().product();
    let data: Vec<f64> = (0..n).map(|_| rng.uniform_in(-1.0, 1.0)).collect();
    let x = Tensor::from_vec(data, shape.as_slice(), &Device::Cpu).unwrap();
    let r_data: Vec<f64> = (0..batch * arch.num_classes)
        .map(|_| rng.normal())
        .collect();
    let r = Tensor::from_vec(r_data, (batch, arch.num_classes), &Device::Cpu).unwrap();

    let x_var = Var::from_tensor(&x).unwrap();
    let p_vars: Vec<Var> = net
        .params()
        .iter()
        .map(|p| Var::from_tensor(p).unwrap())
        .collect();
    let p_tensors: Vec<Tensor> = p_vars.iter().map(|v| v.as_tensor().clone()).collect();
    let grads = objective(&net, x_var.as_tensor(), &p_tensors, &r, train_seed)
        .backward()
        .unwrap();

    let x_grad = grads
        .get(x_var.as_tensor())
        .expect("input gradient")
        .flatten_all()
        .unwrap()
        .to_vec1::<f64>()
        .unwrap();
    let plain: Vec<Tensor> = net.params().to_vec();
    // With weights that are not variables (an attack's case) linear and convolution layers take
    // the frozen path, whose backward pass is our own: the input gradient must be the same.
    let x_only = Var::from_tensor(&x).unwrap();
    let frozen_grad = objective(&net, x_only.as_tensor(), &plain, &r, train_seed)
        .backward()
        .unwrap()
        .get(x_only.as_tensor())
        .expect("input gradient with frozen weights")
        .flatten_all()
        .unwrap()
        .to_vec1::<f64>()
        .unwrap();
    for (i, (a, b)) in x_grad.iter().zip(&frozen_grad).enumerate() {
        assert_close(&format!("frozen input[{i}]"), *b, *a);
    }
    for i in 0..n.min(48) {
        let idx = (i * 7919) % n;
        let up = scalar(&objective(
            &net,
            &perturbed(&x, idx, H),
            &plain,
            &r,
            train_seed,
        ));
        let down = scalar(&objective(
            &net,
            &perturbed(&x, idx, -H),
            &plain,
            &r,
            train_seed,
        ));
        assert_close(
            &format!("input[{idx}]"),
            x_grad[idx],
            (up - down) / (2.0 * H),
        );
    }
    for (pi, spec) in net.param_specs_list().iter().enumerate() {
        if !spec.trainable {
            continue;
        }
        let g = grads
            .get(p_vars[pi].as_tensor())
            .unwrap_or_else(|| panic!("no gradient for {}", spec.name))
            .flatten_all()
            .unwrap()
            .to_vec1::<f64>()
            .unwrap();
        let count = g.len();
        for i in 0..count.min(24) {
            let idx = (i * 104_729) % count;
            let mut up_p = plain.clone();
            up_p[pi] = perturbed(&plain[pi], idx, H);
            let mut down_p = plain.clone();
            down_p[pi] = perturbed(&plain[pi], idx, -H);
            let up = scalar(&objective(&net, &x, &up_p, &r, train_seed));
            let down = scalar(&objective(&net, &x, &down_p, &r, train_seed));
            assert_close(
                &format!("{}[{idx}]", spec.name),
                g[idx],
                (up - down) / (2.0 * H),
            );
        }
    }
}

fn linear(i: usize, o: usize) -> LayerSpec {
    LayerSpec::Linear {
        in_features: i,
        out_features: o,
        bias: true,
    }
}

fn conv(i: usize, o: usize, kernel: usize, stride: usize, padding: usize) -> LayerSpec {
    LayerSpec::Conv2d {
        in_channels: i,
        out_channels: o,
        kernel,
        stride,
        padding,
        bias: true,
    }
}

/// An image network: `body` on a [2, 6, 6] input, then flatten and a linear head to 3 classes.
fn image(body: Vec<LayerSpec>, flat: usize) -> Architecture {
    let mut layers = body;
    layers.push(LayerSpec::Flatten);
    layers.push(linear(flat, 3));
    Architecture::new(vec![2, 6, 6], 3, layers)
}

fn vector(body: Vec<LayerSpec>) -> Architecture {
    let mut layers = vec![linear(5, 6)];
    layers.extend(body);
    layers.push(linear(6, 3));
    Architecture::new(vec![5], 3, layers)
}

#[test]
fn linear_layer() {
    check(Architecture::new(vec![5], 3, vec![linear(5, 3)]), 4, None);
}

#[test]
fn conv2d_layer_stride_one_and_two() {
    check(image(vec![conv(2, 3, 3, 1, 1)], 3 * 36), 2, None);
    check(image(vec![conv(2, 2, 3, 2, 0)], 2 * 4), 2, None);
    check(image(vec![conv(2, 2, 3, 2, 1)], 2 * 9), 2, None);
    check(image(vec![conv(2, 3, 2, 1, 0)], 3 * 25), 2, None);
    check(image(vec![conv(2, 3, 3, 3, 2)], 3 * 9), 2, None);
}

#[test]
fn our_conv2d_computes_what_candles_does() {
    let mut rng = Rng::new(4);
    for (c, o, k, stride, padding) in [
        (2, 3, 3, 1, 1),
        (3, 2, 3, 2, 0),
        (1, 4, 2, 2, 1),
        (2, 2, 5, 1, 2),
        (2, 3, 3, 3, 2),
    ] {
        let x =
            Tensor::from_vec(rng.normal_vec(3 * c * 7 * 7), (3, c, 7, 7), &Device::Cpu).unwrap();
        let w =
            Tensor::from_vec(rng.normal_vec(o * c * k * k), (o, c, k, k), &Device::Cpu).unwrap();
        let theirs = x.conv2d(&w, padding, stride, 1, 1).unwrap();
        for ours in [
            aisec_ml::ops::conv2d(&x, &w, stride, padding).unwrap(),
            aisec_ml::ops::conv2d_frozen(&x, &w, None, false, stride, padding).unwrap(),
        ] {
            assert_eq!(ours.dims(), theirs.dims());
            let diff = (ours - &theirs)
                .unwrap()
                .abs()
                .unwrap()
                .flatten_all()
                .unwrap()
                .max(0)
                .unwrap()
                .to_scalar::<f32>()
                .unwrap();
            assert!(diff < 1e-4, "k{k} s{stride} p{padding}: {diff}");
        }
    }
}

#[test]
fn max_pool_kernel_equal_and_unequal_to_stride() {
    check(
        image(
            vec![LayerSpec::MaxPool2d {
                kernel: 2,
                stride: Some(2),
                padding: 0,
            }],
            2 * 9,
        ),
        2,
        None,
    );
    check(
        image(
            vec![LayerSpec::MaxPool2d {
                kernel: 3,
                stride: Some(1),
                padding: 1,
            }],
            2 * 36,
        ),
        2,
        None,
    );
    check(
        image(
            vec![LayerSpec::MaxPool2d {
                kernel: 3,
                stride: Some(2),
                padding: 0,
            }],
            2 * 4,
        ),
        2,
        None,
    );
}

#[test]
fn avg_pool_kernel_equal_and_unequal_to_stride() {
    check(
        image(
            vec![LayerSpec::AvgPool2d {
                kernel: 2,
                stride: Some(2),
                padding: 0,
            }],
            2 * 9,
        ),
        2,
        None,
    );
    check(
        image(
            vec![LayerSpec::AvgPool2d {
                kernel: 3,
                stride: Some(2),
                padding: 1,
            }],
            2 * 9,
        ),
        2,
        None,
    );
}

#[test]
fn activations() {
    for act in [
        LayerSpec::Relu,
        LayerSpec::Tanh,
        LayerSpec::Sigmoid,
        LayerSpec::Softmax,
        LayerSpec::LogSoftmax,
    ] {
        check(vector(vec![act]), 3, None);
    }
}

#[test]
fn dropout_in_eval_and_training() {
    check(vector(vec![LayerSpec::Dropout { p: 0.3 }]), 3, None);
    check(vector(vec![LayerSpec::Dropout { p: 0.3 }]), 3, Some(5));
}

#[test]
fn batch_norm_eval_and_training_on_features_and_channels() {
    let bn = |f| LayerSpec::BatchNorm {
        num_features: f,
        eps: 1e-5,
    };
    check(vector(vec![bn(6)]), 4, None);
    check(vector(vec![bn(6)]), 4, Some(1));
    check(
        image(vec![conv(2, 3, 3, 1, 1), bn(3), LayerSpec::Relu], 3 * 36),
        3,
        None,
    );
    check(image(vec![conv(2, 3, 3, 1, 1), bn(3)], 3 * 36), 3, Some(1));
}

#[test]
fn flatten_layer() {
    check(image(vec![], 2 * 36), 2, None);
}

#[test]
fn every_model_kind() {
    for kind in [ModelKind::Logistic, ModelKind::Mlp] {
        check(kind.architecture(&[1, 4, 4], 3).unwrap(), 2, None);
        check(kind.architecture(&[7], 3).unwrap(), 2, None);
    }
    check(ModelKind::Cnn.architecture(&[1, 4, 4], 3).unwrap(), 2, None);
}

#[test]
fn candle_builtin_max_pool_backward_is_wrong_which_is_why_ours_exists() {
    // If candle fixes this, the note in docs/ml.md and MODELS.md can go.
    let x = Var::from_tensor(
        &Tensor::from_vec(
            (0..16).map(f64::from).collect::<Vec<_>>(),
            (1, 1, 4, 4),
            &Device::Cpu,
        )
        .unwrap(),
    )
    .unwrap();
    let builtin = x
        .as_tensor()
        .max_pool2d(2)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    let ours = aisec_ml::ops::max_pool2d(
        x.as_tensor(),
        aisec_ml::ops::Pool2d {
            kernel: 2,
            stride: 2,
            padding: 0,
        },
    )
    .unwrap()
    .sum_all()
    .unwrap()
    .backward()
    .unwrap();
    let total = |g: &candle_core::backprop::GradStore| {
        g.get(x.as_tensor())
            .unwrap()
            .sum_all()
            .unwrap()
            .to_scalar::<f64>()
            .unwrap()
    };
    assert!(
        (total(&ours) - 4.0).abs() < 1e-12,
        "each of the 4 windows passes its gradient once"
    );
    assert!(
        (total(&builtin) - 4.0).abs() > 1e-6,
        "candle's builtin max-pool gradient now sums to 4: revisit the note"
    );
}

#[test]
fn frozen_conv_over_several_chunks_matches_candle_value_and_input_gradient() {
    // 16 channels of 8x8 under a 3x3 kernel: 36 KiB of patches per image, so the frozen
    // convolution takes this batch of 5 in several products.
    let mut rng = Rng::new(8);
    let x = Tensor::from_vec(rng.normal_vec(5 * 16 * 64), (5, 16, 8, 8), &Device::Cpu).unwrap();
    let w = Tensor::from_vec(rng.normal_vec(4 * 16 * 9), (4, 16, 3, 3), &Device::Cpu).unwrap();
    let r = Tensor::from_vec(rng.normal_vec(5 * 4 * 64), (5, 4, 8, 8), &Device::Cpu).unwrap();
    let b = Tensor::from_vec(rng.normal_vec(4), 4, &Device::Cpu).unwrap();
    let max_diff = |a: &Tensor, b: &Tensor| {
        (a - b)
            .unwrap()
            .abs()
            .unwrap()
            .flatten_all()
            .unwrap()
            .max(0)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap()
    };
    let ours = Var::from_tensor(&x).unwrap();
    let theirs = Var::from_tensor(&x).unwrap();
    let y_ours = aisec_ml::ops::conv2d_frozen(ours.as_tensor(), &w, Some(&b), true, 1, 1).unwrap();
    let y_theirs = theirs
        .as_tensor()
        .conv2d(&w, 1, 1, 1, 1)
        .unwrap()
        .broadcast_add(&b.reshape((1, 4, 1, 1)).unwrap())
        .unwrap()
        .relu()
        .unwrap();
    assert!(max_diff(&y_ours, &y_theirs) < 1e-4);
    let g_ours = y_ours
        .mul(&r)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    let g_theirs = y_theirs
        .mul(&r)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    let d = max_diff(
        g_ours.get(ours.as_tensor()).unwrap(),
        g_theirs.get(theirs.as_tensor()).unwrap(),
    );
    assert!(d < 1e-4, "input gradients differ by {d}");
}
