//! Remote targets against a real HTTP server on 127.0.0.1 that serves one of our trained models
//! through both protocols: predictions match the local model, the budget and the rate limit hold,
//! retries recover from 503/429, and bad responses give typed errors.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aisec_ml::remote::{HeaderSpec, Layout, OutputKind, Protocol, RemoteConfig, RemoteModel};
use aisec_ml::train::{TrainConfig, train};
use aisec_ml::{Classifier, Device, LocalModel, MlError, ModelKind, Network, Rng, Tensor};
use serde_json::{Value, json};

/// Three noisy blobs laid out as 1x2x2 "images", so requests carry nested arrays.
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
        let c = i % 3;
        for &m in &centres[c] {
            x.push((m + 0.3 * rng.normal()) as f32);
        }
        y.push(c as u32);
    }
    (Tensor::from_vec(x, (n, 1, 2, 2), &Device::Cpu).unwrap(), y)
}

fn trained() -> Arc<LocalModel> {
    let (x, y) = blobs(150, 1);
    let arch = ModelKind::Mlp.architecture(&[1, 2, 2], 3).unwrap();
    let mut net = Network::init(arch, 3).unwrap();
    let config = TrainConfig {
        epochs: 15,
        patience: None,
        ..TrainConfig::default()
    };
    train(&mut net, &x, &y, &config, None).unwrap();
    Arc::new(LocalModel::new(net, "local"))
}

/// A request as the server saw it.
#[derive(Debug, Clone)]
struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A canned reply: status, extra headers, body.
type Reply = (u16, Vec<(String, String)>, Vec<u8>);
type Handler = dyn Fn(&Request) -> Reply + Send + Sync;

/// A small HTTP/1.1 server on an ephemeral loopback port. Each connection carries one request;
/// replies queued in `script` are served first, then `handler`'s.
struct Server {
    url: String,
    seen: Arc<Mutex<Vec<Request>>>,
    script: Arc<Mutex<VecDeque<Reply>>>,
    stop: Arc<AtomicBool>,
    rows: Arc<AtomicUsize>,
}

impl Server {
    fn start(handler: Box<Handler>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let script: Arc<Mutex<VecDeque<Reply>>> = Arc::new(Mutex::new(VecDeque::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen2, script2, stop2) = (seen.clone(), script.clone(), stop.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let Some(req) = read_request(&stream) else {
                    continue;
                };
                seen2.lock().unwrap().push(req.clone());
                let reply = script2
                    .lock()
                    .unwrap()
                    .pop_front()
                    .unwrap_or_else(|| handler(&req));
                write_reply(stream, &reply);
            }
        });
        Self {
            url,
            seen,
            script,
            stop,
            rows: Arc::new(AtomicUsize::new(0)),
        }
    }

    fn requests(&self) -> Vec<Request> {
        self.seen.lock().unwrap().clone()
    }

    fn posts(&self) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.method == "POST")
            .count()
    }

    fn queue(&self, reply: Reply) {
        self.script.lock().unwrap().push_back(reply);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so the thread ends.
        let _ = TcpStream::connect(self.url.trim_start_matches("http://"));
    }
}

fn read_request(stream: &TcpStream) -> Option<Request> {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let path = parts.next()?.to_owned();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (n, v) = h.split_once(':')?;
        headers.push((n.trim().to_owned(), v.trim().to_owned()));
    }
    let len = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .map_or(0, |(_, v)| v.parse::<usize>().unwrap());
    assert!(len < 1 << 24);
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    Some(Request {
        method,
        path,
        headers,
        body,
    })
}

fn write_reply(mut stream: TcpStream, (status, headers, body): &Reply) {
    let mut head = format!(
        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nContent-Type: application/json\r\nConnection: close\r\n",
        body.len()
    );
    for (n, v) in headers {
        head.push_str(n);
        head.push_str(": ");
        head.push_str(v);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body);
    let _ = stream.flush();
}

fn ok(v: &Value) -> Reply {
    (200, Vec::new(), serde_json::to_vec(v).unwrap())
}

fn floats(v: &Value) -> Vec<f32> {
    fn walk(v: &Value, out: &mut Vec<f32>) {
        match v {
            Value::Array(a) => a.iter().for_each(|i| walk(i, out)),
            Value::Number(n) => out.push(n.as_f64().unwrap() as f32),
            other => panic!("not a number: {other}"),
        }
    }
    let mut out = Vec::new();
    walk(v, &mut out);
    out
}

fn rows(t: &Tensor) -> Vec<Vec<f32>> {
    t.to_vec2::<f32>().unwrap()
}

/// The JSON-template server: `{"instances": [...], "options": {...}}` in, probabilities (or
/// logits, or labels) out under `/result/scores`.
fn json_server(model: Arc<LocalModel>, kind: OutputKind, per_row: bool) -> Server {
    let rows_seen = Arc::new(AtomicUsize::new(0));
    let counter = rows_seen.clone();
    let mut server = Server::start(Box::new(move |req: &Request| {
        let body: Value = serde_json::from_slice(&req.body).unwrap();
        assert_eq!(
            body["options"],
            json!({"top_k": 3, "tags": ["{{not-this}}"]})
        );
        let data = floats(&body["instances"]);
        let n = data.len() / 4;
        assert_eq!(n * 4, data.len());
        if per_row {
            assert_eq!(n, 1);
        }
        counter.fetch_add(n, Ordering::SeqCst);
        let x = Tensor::from_vec(data, (n, 1, 2, 2), &Device::Cpu).unwrap();
        let out = match kind {
            OutputKind::Probabilities => json!(rows(&model.predict(&x).unwrap())),
            OutputKind::Logits => json!(rows(&model.network().logits(&x).unwrap())),
            OutputKind::Labels => {
                let names = ["setosa", "versicolor", "virginica"];
                let labels = model.predict_labels(&x).unwrap();
                json!(
                    labels
                        .iter()
                        .map(|&l| names[l as usize])
                        .collect::<Vec<_>>()
                )
            }
        };
        let out = if per_row { out[0].clone() } else { out };
        ok(&json!({"result": {"scores": out}, "model": "m1"}))
    }));
    server.rows = rows_seen;
    server
}

fn json_config(url: &str, kind: OutputKind, layout: Layout) -> RemoteConfig {
    let mut c = RemoteConfig::new(
        url,
        Protocol::Json {
            request: json!({"instances": "{{inputs}}", "options": {"top_k": 3, "tags": ["{{not-this}}"]}}),
            layout,
            outputs: "/result/scores".into(),
            output_kind: kind,
        },
        3,
    );
    c.input_shape = Some(vec![1, 2, 2]);
    c.backoff_ms = 5;
    c.max_backoff_ms = 50;
    c
}

/// The local model's probabilities computed in the same chunks the server sees (a matrix
/// product's rounding can depend on the batch size).
fn chunked(model: &LocalModel, x: &Tensor, chunk: usize) -> Tensor {
    let n = x.dim(0).unwrap();
    let parts: Vec<Tensor> = (0..n)
        .step_by(chunk)
        .map(|i| {
            model
                .predict(&x.narrow(0, i, chunk.min(n - i)).unwrap())
                .unwrap()
        })
        .collect();
    Tensor::cat(&parts, 0).unwrap()
}

fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
    (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}

#[test]
fn json_template_batches_match_the_local_model() {
    let model = trained();
    let server = json_server(model.clone(), OutputKind::Probabilities, false);
    let mut config = json_config(&server.url, OutputKind::Probabilities, Layout::Batch);
    config.max_batch = 16;
    let remote = RemoteModel::connect(config).unwrap();
    let (x, y) = blobs(50, 7);
    let got = remote.predict(&x).unwrap();
    let want = chunked(&model, &x, 16);
    assert_eq!(got.dims(), &[50, 3]);
    assert_eq!(rows(&got), rows(&want), "probabilities travel exactly");
    assert_eq!(server.posts(), 4, "50 rows in batches of at most 16");
    assert_eq!(server.rows.load(Ordering::SeqCst), 50);
    assert_eq!(remote.queries().predictions, 50);
    assert!(!remote.labels_only());
    // The model is a real classifier, not a constant.
    let labels = remote.predict_labels(&x).unwrap();
    let correct = labels.iter().zip(&y).filter(|(a, b)| a == b).count();
    assert!(correct > 40, "{correct}/50");
}

#[test]
fn json_template_per_row_logits_get_a_softmax() {
    let model = trained();
    let server = json_server(model.clone(), OutputKind::Logits, true);
    let remote =
        RemoteModel::connect(json_config(&server.url, OutputKind::Logits, Layout::PerRow)).unwrap();
    let (x, _) = blobs(5, 8);
    let got = remote.predict(&x).unwrap();
    assert!(max_diff(&got, &model.predict(&x).unwrap()) < 1e-6);
    assert_eq!(server.posts(), 5, "one request per row");
}

#[test]
fn labels_only_targets_give_one_hot_rows() {
    let model = trained();
    let server = json_server(model.clone(), OutputKind::Labels, false);
    let mut config = json_config(&server.url, OutputKind::Labels, Layout::Batch);
    config.class_names = Some(vec![
        "setosa".into(),
        "versicolor".into(),
        "virginica".into(),
    ]);
    let remote = RemoteModel::connect(config).unwrap();
    assert!(remote.labels_only());
    let (x, _) = blobs(12, 9);
    let got = remote.predict(&x).unwrap();
    let want = model.predict_labels(&x).unwrap();
    for (row, label) in rows(&got).iter().zip(&want) {
        let mut one_hot = vec![0.0; 3];
        one_hot[*label as usize] = 1.0;
        assert_eq!(row, &one_hot);
    }
}

fn kserve_server(model: Arc<LocalModel>, meta_shape: Value) -> Server {
    Server::start(Box::new(move |req: &Request| {
        match (req.method.as_str(), req.path.as_str()) {
            ("GET", "/v2/models/digits") => ok(&json!({
                "name": "digits", "platform": "aisec-test",
                "inputs": [{"name": "pixels", "datatype": "FP32", "shape": meta_shape}],
                "outputs": [{"name": "probs", "datatype": "FP32", "shape": [-1, 3]}]
            })),
            ("POST", "/v2/models/digits/infer") => {
                let body: Value = serde_json::from_slice(&req.body).unwrap();
                let input = &body["inputs"][0];
                assert_eq!(input["name"], "pixels");
                assert_eq!(input["datatype"], "FP32");
                let shape: Vec<usize> = serde_json::from_value(input["shape"].clone()).unwrap();
                let data = floats(&input["data"]);
                let x = Tensor::from_vec(data, shape.as_slice(), &Device::Cpu).unwrap();
                let p = model.predict(&x).unwrap();
                let flat = p.flatten_all().unwrap().to_vec1::<f32>().unwrap();
                ok(&json!({
                    "model_name": "digits",
                    "outputs": [
                        {"name": "labels", "datatype": "INT64", "shape": [shape[0]], "data": vec![0; shape[0]]},
                        {"name": "probs", "datatype": "FP32", "shape": [shape[0], 3], "data": flat}
                    ]
                }))
            }
            _ => (404, Vec::new(), b"{\"error\":\"no such model\"}".to_vec()),
        }
    }))
}

fn kserve_config(url: &str) -> RemoteConfig {
    let mut c = RemoteConfig::new(
        url,
        Protocol::Kserve {
            model: "digits".into(),
            version: None,
            input_name: None,
            output_name: Some("probs".into()),
            output_kind: OutputKind::Probabilities,
        },
        3,
    );
    c.backoff_ms = 5;
    c.max_backoff_ms = 50;
    c
}

#[test]
fn kserve_v2_matches_the_local_model_and_learns_the_input_shape() {
    let model = trained();
    let server = kserve_server(model.clone(), json!([-1, 1, 2, 2]));
    let mut config = kserve_config(&format!("{}/", server.url));
    config.max_batch = 8;
    let remote = RemoteModel::connect(config).unwrap();
    assert_eq!(remote.info().input_shape, vec![1, 2, 2]);
    let (x, _) = blobs(20, 10);
    let got = remote.predict(&x).unwrap();
    assert_eq!(rows(&got), rows(&chunked(&model, &x, 8)));
    let reqs = server.requests();
    assert_eq!(reqs[0].method, "GET");
    assert_eq!(server.posts(), 3, "20 rows in batches of at most 8");
    assert_eq!(
        reqs[1].header("content-type"),
        Some("application/json"),
        "{reqs:?}"
    );
}

#[test]
fn kserve_metadata_that_contradicts_the_config_is_refused() {
    let model = trained();
    let server = kserve_server(model, json!([-1, 4]));
    let mut config = kserve_config(&server.url);
    config.input_shape = Some(vec![1, 2, 2]);
    let err = RemoteModel::connect(config).unwrap_err();
    assert!(err.to_string().contains("model metadata"), "{err}");
}

#[test]
fn kserve_without_metadata_uses_the_configured_shape() {
    let model = trained();
    let server = kserve_server(model.clone(), json!([-1, 1, 2, 2]));
    // A model name the server does not know: metadata 404, and inference 404 too.
    let mut config = kserve_config(&server.url);
    config.protocol = Protocol::Kserve {
        model: "other".into(),
        version: Some("2".into()),
        input_name: None,
        output_name: None,
        output_kind: OutputKind::Probabilities,
    };
    assert!(
        RemoteModel::connect(config.clone()).is_err(),
        "no shape anywhere"
    );
    config.input_shape = Some(vec![1, 2, 2]);
    let remote = RemoteModel::connect(config).unwrap();
    let (x, _) = blobs(2, 1);
    let err = remote.predict(&x).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("HTTP 404") && text.contains("/v2/models/other/versions/2/infer"),
        "{text}"
    );
    assert!(
        text.contains("no such model"),
        "the server's words are quoted: {text}"
    );
}

#[test]
fn the_budget_stops_queries_exactly() {
    let model = trained();
    let server = json_server(model, OutputKind::Probabilities, false);
    let mut config = json_config(&server.url, OutputKind::Probabilities, Layout::Batch);
    config.budget = Some(10);
    let remote = RemoteModel::connect(config).unwrap();
    let (x, _) = blobs(4, 11);
    remote.predict(&x).unwrap();
    remote.predict(&x).unwrap();
    let err = remote.predict(&x).unwrap_err();
    assert!(
        matches!(err, MlError::BudgetExhausted { budget: 10 }),
        "{err}"
    );
    assert_eq!(
        server.rows.load(Ordering::SeqCst),
        8,
        "nothing sent past the budget"
    );
    remote.predict(&x.narrow(0, 0, 2).unwrap()).unwrap();
    assert_eq!(server.rows.load(Ordering::SeqCst), 10);
    assert!(remote.predict(&x.narrow(0, 0, 1).unwrap()).is_err());
    assert_eq!(server.posts(), 3);
    assert_eq!(remote.queries().predictions, 10);
}

#[test]
fn the_rate_limit_spaces_requests() {
    let model = trained();
    let server = json_server(model, OutputKind::Probabilities, true);
    let mut config = json_config(&server.url, OutputKind::Probabilities, Layout::PerRow);
    config.rate_limit = Some(20.0); // one request per 50 ms
    let remote = RemoteModel::connect(config).unwrap();
    let (x, _) = blobs(6, 12);
    let start = Instant::now();
    remote.predict(&x).unwrap();
    let elapsed = start.elapsed();
    assert_eq!(server.posts(), 6);
    assert!(
        elapsed >= Duration::from_millis(5 * 50),
        "6 requests at 20/s took {elapsed:?}"
    );
}

#[test]
fn retries_recover_from_503_and_429() {
    let model = trained();
    let server = json_server(model.clone(), OutputKind::Probabilities, false);
    server.queue((503, Vec::new(), b"busy".to_vec()));
    server.queue((429, vec![("Retry-After".into(), "0".into())], Vec::new()));
    let remote = RemoteModel::connect(json_config(
        &server.url,
        OutputKind::Probabilities,
        Layout::Batch,
    ))
    .unwrap();
    let (x, _) = blobs(3, 13);
    let got = remote.predict(&x).unwrap();
    assert_eq!(rows(&got), rows(&model.predict(&x).unwrap()));
    assert_eq!(server.posts(), 3, "two refusals, then the answer");
}

#[test]
fn retries_are_bounded_and_client_errors_are_not_retried() {
    let model = trained();
    let server = json_server(model, OutputKind::Probabilities, false);
    let mut config = json_config(&server.url, OutputKind::Probabilities, Layout::Batch);
    config.retries = 2;
    let remote = RemoteModel::connect(config).unwrap();
    for _ in 0..3 {
        server.queue((500, Vec::new(), b"{\"detail\":\"boom\"}".to_vec()));
    }
    let (x, _) = blobs(2, 14);
    let err = remote.predict(&x).unwrap_err().to_string();
    assert!(
        err.contains("HTTP 500") && err.contains("after 3 attempt") && err.contains("boom"),
        "{err}"
    );
    assert_eq!(server.posts(), 3);
    server.queue((400, Vec::new(), b"bad input".to_vec()));
    let err = remote.predict(&x).unwrap_err().to_string();
    assert!(
        err.contains("HTTP 400") && err.contains("after 1 attempt"),
        "{err}"
    );
    assert_eq!(server.posts(), 4);
}

#[test]
fn connection_errors_are_retried_then_reported() {
    // A port that was just free: connections are refused.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut config = json_config(
        &format!("http://127.0.0.1:{port}/predict"),
        OutputKind::Probabilities,
        Layout::Batch,
    );
    config.retries = 2;
    let remote = RemoteModel::connect(config).unwrap();
    let (x, _) = blobs(1, 15);
    let err = remote.predict(&x).unwrap_err().to_string();
    assert!(err.contains("after 3 attempt"), "{err}");
}

#[test]
fn bad_responses_give_typed_errors() {
    let model = trained();
    let server = json_server(model, OutputKind::Probabilities, false);
    let mut config = json_config(&server.url, OutputKind::Probabilities, Layout::Batch);
    config.max_response_bytes = 1 << 16;
    let remote = RemoteModel::connect(config).unwrap();
    let (x, _) = blobs(2, 16);
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (vec![b' '; 1 << 17], "larger than 65536 bytes"),
        (
            b"{\"result\": {\"scores\": [[0.5, 0.5".to_vec(),
            "not valid JSON",
        ),
        (
            b"{\"result\": {\"scores\": [NaN, 1]}}".to_vec(),
            "not valid JSON",
        ),
        (
            format!("{}1{}", "[".repeat(200), "]".repeat(200)).into_bytes(),
            "not valid JSON",
        ),
        (
            b"{\"result\": {}}".to_vec(),
            "no outputs at \"/result/scores\"",
        ),
        (
            b"{\"result\": {\"scores\": [[0.2, 0.8, 0.0]]}}".to_vec(),
            "holds 3 output values; 2 rows x 3",
        ),
        (
            b"{\"result\": {\"scores\": [[0.2, 0.8, 0.0], [0.1, 0.1, 0.1], [1, 0, 0]]}}".to_vec(),
            "more than 6 values",
        ),
        (
            b"{\"result\": {\"scores\": [[0.2, 0.8, 0.0], [0.1, 3.0, 0.1]]}}".to_vec(),
            "not a probability",
        ),
        (
            b"{\"result\": {\"scores\": [[0.2, 0.8, 0.0], [0.1, \"x\", 0.1]]}}".to_vec(),
            "expected numbers, found a string",
        ),
        (
            b"{\"result\": {\"scores\": [[0.2, 0.8, 0.0], [0.1, 1e999, 0.1]]}}".to_vec(),
            "",
        ),
    ];
    for (body, want) in cases {
        server.queue((200, Vec::new(), body));
        let err = remote.predict(&x).unwrap_err().to_string();
        assert!(err.contains(want), "{want:?} not in {err:?}");
    }
}

#[test]
fn api_keys_come_from_the_environment_and_never_print() {
    let model = trained();
    let inner = json_server(model, OutputKind::Probabilities, false);
    // A front that demands the key; cargo sets CARGO_PKG_NAME for every test process.
    let inner_url = inner.url.clone();
    let front = Server::start(Box::new(move |req: &Request| {
        if req.header("authorization") != Some("Bearer aisec-ml") {
            return (401, Vec::new(), b"no key".to_vec());
        }
        let mut stream = TcpStream::connect(inner_url.trim_start_matches("http://")).unwrap();
        let head = format!(
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            req.body.len()
        );
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(&req.body).unwrap();
        let mut all = Vec::new();
        stream.read_to_end(&mut all).unwrap();
        let at = all.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        (200, Vec::new(), all[at..].to_vec())
    }));
    let mut config = json_config(&front.url, OutputKind::Probabilities, Layout::Batch);
    config.headers = vec![HeaderSpec {
        name: "Authorization".into(),
        value: None,
        env: Some("CARGO_PKG_NAME".into()),
        prefix: Some("Bearer ".into()),
    }];
    let remote = RemoteModel::connect(config.clone()).unwrap();
    let (x, _) = blobs(2, 17);
    remote.predict(&x).unwrap();
    assert!(!format!("{remote:?}").contains("aisec-ml"), "{remote:?}");

    config.headers[0].env = Some("AISEC_TEST_SURELY_UNSET_VARIABLE".into());
    let err = RemoteModel::connect(config.clone())
        .unwrap_err()
        .to_string();
    assert!(err.contains("AISEC_TEST_SURELY_UNSET_VARIABLE"), "{err}");
    config.headers.clear();
    let err = RemoteModel::connect(config)
        .unwrap()
        .predict(&x)
        .unwrap_err();
    assert!(err.to_string().contains("HTTP 401"), "{err}");
}

#[test]
fn configs_load_from_toml_and_json_and_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let toml_path = dir.path().join("remote.toml");
    std::fs::write(
        &toml_path,
        r#"
url = "http://127.0.0.1:9/predict"
num_classes = 3
input_shape = [1, 2, 2]
rate_limit = 5.0
budget = 1000
max_batch = 32

[protocol]
kind = "json"
request = { instances = "{{inputs}}", options = { top_k = 3 } }
outputs = "/result/scores"
output_kind = "logits"

[[headers]]
name = "x-api-key"
env = "MY_KEY"
"#,
    )
    .unwrap();
    let c = RemoteConfig::load(&toml_path).unwrap();
    assert_eq!(c.budget, Some(1000));
    assert!(matches!(
        &c.protocol,
        Protocol::Json { request, output_kind: OutputKind::Logits, layout: Layout::Batch, .. }
            if request["instances"] == "{{inputs}}"
    ));
    let json_path = dir.path().join("remote.json");
    std::fs::write(&json_path, serde_json::to_vec(&c).unwrap()).unwrap();
    assert_eq!(RemoteConfig::load(&json_path).unwrap(), c);

    // Two placeholders, none, a bad pointer, an unknown field.
    for (request, outputs) in [
        (json!({"a": "{{inputs}}", "b": ["{{inputs}}"]}), "/x"),
        (json!({"a": "inputs"}), "/x"),
        (json!({"a": "{{inputs}}"}), "x"),
    ] {
        let mut bad = c.clone();
        bad.headers.clear();
        bad.protocol = Protocol::Json {
            request,
            layout: Layout::Batch,
            outputs: outputs.into(),
            output_kind: OutputKind::Probabilities,
        };
        let err = RemoteModel::connect(bad).unwrap_err().to_string();
        assert!(err.contains("remote config"), "{err}");
    }
    std::fs::write(
        &json_path,
        br#"{"protocol": {"kind": "json"}, "num_classes": 3, "surprise": 1}"#,
    )
    .unwrap();
    assert!(RemoteConfig::load(&json_path).is_err());
    let mut file = c.clone();
    file.url = Some("ftp://127.0.0.1/".into());
    file.headers.clear();
    assert!(RemoteModel::connect(file).is_err());
}
