//! Per-client extraction monitoring through the proxy, on loopback: a real classifier (nearest
//! class mean over the optdigits images, fetched through the pinned resolver) served under the
//! Open Inference Protocol by a real HTTP server, the guard in front of it, and two clients:
//! one sending natural images, one sending the synthetic queries extraction attacks make.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aisec_data::{BuiltIn, Limits};
use aisec_guard::policy::GuardFile;
use aisec_guard::proxy::audit::sha256_hex;
use aisec_guard::proxy::{Proxy, ProxyConfig, start};
use aisec_llm::serve::http::{
    self, Handler, ReadError, Request, Responder, Response, ServerConfig,
};
use serde_json::{Value, json};

const DIM: usize = 64;

/// The optdigits test set: rows of 64 pixels in [0, 1] and their labels.
fn digits() -> (Vec<Vec<f32>>, Vec<u32>) {
    let cache = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("aisec-cache");
    let path = aisec_resolve::Resolver::new(cache)
        .fetch("digits")
        .expect("fetch digits");
    let d = BuiltIn::Digits
        .load(&path, &Limits::default())
        .unwrap()
        .shuffled(7);
    let rows = d.x().chunks_exact(DIM).map(<[f32]>::to_vec).collect();
    (rows, d.y().to_vec())
}

/// The served model: class means, probabilities by a softmax over negative squared distances.
struct Digits {
    means: Vec<Vec<f32>>,
    posts: AtomicUsize,
}

impl Digits {
    fn fit(rows: &[Vec<f32>], labels: &[u32]) -> Self {
        let mut means = vec![vec![0.0f32; DIM]; 10];
        let mut counts = [0f32; 10];
        for (r, &y) in rows.iter().zip(labels) {
            counts[y as usize] += 1.0;
            for (m, v) in means[y as usize].iter_mut().zip(r) {
                *m += v;
            }
        }
        for (m, c) in means.iter_mut().zip(counts) {
            for v in m.iter_mut() {
                *v /= c.max(1.0);
            }
        }
        Self {
            means,
            posts: AtomicUsize::new(0),
        }
    }

    fn probabilities(&self, x: &[f32]) -> Vec<f32> {
        let scores: Vec<f32> = self
            .means
            .iter()
            .map(|m| -m.iter().zip(x).map(|(a, b)| (a - b).powi(2)).sum::<f32>())
            .collect();
        let top = scores.iter().copied().fold(f32::MIN, f32::max);
        let e: Vec<f32> = scores.iter().map(|s| (s - top).exp()).collect();
        let z: f32 = e.iter().sum();
        e.iter().map(|v| v / z).collect()
    }
}

impl Handler for Digits {
    fn handle(&self, req: Request, out: &mut Responder<'_>) -> std::io::Result<()> {
        match (req.method.as_str(), req.path.as_str()) {
            ("GET", "/v2/models/digits") => out.send(&Response::json(
                200,
                &json!({"name": "digits", "platform": "aisec-test",
                    "inputs": [{"name": "pixels", "datatype": "FP32", "shape": [-1, 64]}],
                    "outputs": [{"name": "probabilities", "datatype": "FP32", "shape": [-1, 10]}]}),
            )),
            ("POST", "/v2/models/digits/infer") => {
                self.posts.fetch_add(1, Ordering::SeqCst);
                let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
                let data: Vec<f32> = body["inputs"][0]["data"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_f64)
                            .map(|v| v as f32)
                            .collect()
                    })
                    .unwrap_or_default();
                let n = data.len() / DIM;
                let probs: Vec<f32> = data
                    .chunks_exact(DIM)
                    .flat_map(|r| self.probabilities(r))
                    .collect();
                out.send(&Response::json(
                    200,
                    &json!({"model_name": "digits", "outputs": [
                        {"name": "probabilities", "shape": [n, 10], "datatype": "FP32", "data": probs}]}),
                ))
            }
            _ => out.send(&Response::json(404, &json!({"error": "no such route"}))),
        }
    }

    fn unreadable(&self, e: &ReadError) -> Response {
        Response::json(e.status(), &json!({"error": e.to_string()}))
    }

    fn overloaded(&self) -> Response {
        Response::json(429, &json!({"error": "busy"}))
    }
}

fn json_of(b: &mut ureq::Body) -> Value {
    serde_json::from_str(&b.read_to_string().unwrap_or_default()).unwrap_or(Value::Null)
}

fn body(rows: &[Vec<f32>]) -> String {
    let flat: Vec<f32> = rows.iter().flatten().copied().collect();
    json!({"inputs": [{"name": "pixels", "shape": [rows.len(), DIM], "datatype": "FP32", "data": flat}]})
        .to_string()
}

struct Setup {
    addr: String,
    model: Arc<Digits>,
    proxy: Arc<Proxy>,
    audit: Arc<std::sync::Mutex<Vec<u8>>>,
    agent: ureq::Agent,
    natural: Vec<Vec<f32>>,
    _servers: (http::ServerHandle, http::ServerHandle),
}

#[derive(Clone)]
struct Sink(Arc<std::sync::Mutex<Vec<u8>>>);
impl std::io::Write for Sink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn setup(action: &str) -> Setup {
    let (rows, labels) = digits();
    let (train, natural) = rows.split_at(1000);
    let model = Arc::new(Digits::fit(train, &labels[..1000]));
    let upstream = http::start(
        &ServerConfig::default(),
        Arc::clone(&model) as Arc<dyn Handler>,
    )
    .unwrap();
    let file = GuardFile::from_toml(&format!(
        r#"
[extraction]
action = "{action}"
delta = 0.95
min_queries = 100

[[clients]]
name = "alice"
key_sha256 = "{}"

[[clients]]
name = "mallory"
key_sha256 = "{}"
"#,
        sha256_hex(b"alice-key"),
        sha256_hex(b"mallory-key")
    ))
    .unwrap();
    let mut config = ProxyConfig::new(format!("http://{}/v1", upstream.local_addr()));
    config.upstream_timeout = Duration::from_secs(30);
    let audit = Arc::new(std::sync::Mutex::new(Vec::new()));
    let proxy = Arc::new(
        Proxy::new(config, &file, None)
            .unwrap()
            .with_audit(Box::new(Sink(Arc::clone(&audit)))),
    );
    let guard = start(Arc::clone(&proxy), &ServerConfig::default()).unwrap();
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .build()
        .into();
    Setup {
        addr: guard.local_addr().to_string(),
        model,
        proxy,
        audit,
        agent,
        natural: natural.to_vec(),
        _servers: (upstream, guard),
    }
}

impl Setup {
    fn infer(&self, key: &str, rows: &[Vec<f32>]) -> (u16, Value) {
        let mut resp = self
            .agent
            .post(&format!("http://{}/v2/models/digits/infer", self.addr))
            .header("authorization", &format!("Bearer {key}"))
            .header("content-type", "application/json")
            .send(body(rows).as_bytes())
            .unwrap();
        let status = resp.status().as_u16();
        let v = json_of(resp.body_mut());
        (status, v)
    }

    fn audit_lines(&self) -> Vec<Value> {
        String::from_utf8_lossy(&self.audit.lock().unwrap())
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

/// Jacobian-style augmentation as Papernot et al. and PRADA's evaluation make it: a few seed
/// images, each round adding a signed step to every image so far.
fn augmented(seeds: &[Vec<f32>], n: usize) -> Vec<Vec<f32>> {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut sign = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        if state & 1 == 0 { 0.1f32 } else { -0.1 }
    };
    let mut all: Vec<Vec<f32>> = seeds.to_vec();
    let mut out = Vec::new();
    while out.len() < n {
        let next: Vec<Vec<f32>> = all
            .iter()
            .map(|s| s.iter().map(|v| (v + sign()).clamp(0.0, 1.0)).collect())
            .collect();
        out.extend(next.iter().cloned());
        all.extend(next);
    }
    out.truncate(n);
    out
}

#[test]
fn natural_queries_pass_and_an_extraction_stream_is_cut_off() {
    let s = setup("block");

    // Metadata goes through as it is.
    let mut meta = s
        .agent
        .get(&format!("http://{}/v2/models/digits", s.addr))
        .header("authorization", "Bearer alice-key")
        .call()
        .unwrap();
    assert_eq!(meta.status().as_u16(), 200);
    assert_eq!(json_of(meta.body_mut())["name"], "digits");

    // Alice: 500 natural images in batches of 10, every answer given.
    for batch in s.natural[..500].chunks(10) {
        let (status, v) = s.infer("alice-key", batch);
        assert_eq!(status, 200, "{v}");
        assert_eq!(v["outputs"][0]["shape"], json!([batch.len(), 10]));
    }
    assert!(
        s.audit_lines()
            .iter()
            .all(|l| !l.to_string().contains("GD160")),
        "no alarm on natural images"
    );

    // Mallory: augmented queries from ten seeds, until refused.
    let probes = augmented(&s.natural[500..510], 1000);
    let mut answered = 0;
    let mut refusal = None;
    for batch in probes.chunks(10) {
        let (status, v) = s.infer("mallory-key", batch);
        if status == 200 {
            answered += batch.len();
        } else {
            refusal = Some((status, v));
            break;
        }
    }
    let (status, v) = refusal.expect("the extraction stream is refused");
    assert_eq!(status, 403, "{v}");
    assert_eq!(v["error"]["code"], "GD160", "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("model extraction"),
        "{v}"
    );
    assert!(
        (100..1000).contains(&answered),
        "tests start after 100 distances; answered {answered}"
    );

    // From then on the stream is refused without reaching the model; Alice is unaffected.
    let posts = s.model.posts.load(Ordering::SeqCst);
    let (status, _) = s.infer("mallory-key", &s.natural[600..601]);
    assert_eq!(status, 403);
    assert_eq!(s.model.posts.load(Ordering::SeqCst), posts);
    let (status, _) = s.infer("alice-key", &s.natural[601..602]);
    assert_eq!(status, 200);

    // The audit log names the rule, the stage and the client; the metrics count it.
    let flagged: Vec<Value> = s
        .audit_lines()
        .into_iter()
        .filter(|l| l.to_string().contains("GD160"))
        .collect();
    assert!(flagged.len() >= 2, "{flagged:?}");
    assert!(flagged[0].to_string().contains("mallory"), "{}", flagged[0]);
    assert!(
        flagged[0].to_string().contains("\"stream\""),
        "{}",
        flagged[0]
    );
    assert!(s.proxy.metrics().render().contains("GD160"));
}

#[test]
fn single_feature_sweeps_are_flagged_and_alert_mode_answers() {
    let s = setup("alert");
    // Equation-solving and boundary-finding attacks step one feature at a time.
    let mut sweep = Vec::new();
    for seed in &s.natural[..6] {
        for j in 0..DIM {
            let mut r = seed.clone();
            r[j] = (r[j] + 0.05).min(1.0);
            sweep.push(r);
        }
    }
    for batch in sweep.chunks(16) {
        let (status, v) = s.infer("mallory-key", batch);
        assert_eq!(status, 200, "alert mode answers: {v}");
    }
    let lines = s.audit_lines();
    let flagged: Vec<&Value> = lines
        .iter()
        .filter(|l| l.to_string().contains("GD160"))
        .collect();
    assert_eq!(flagged.len(), 1, "the alarm is recorded once per stream");

    // A request the monitor cannot read: the policy fails closed by default.
    let mut resp = s
        .agent
        .post(&format!("http://{}/v2/models/digits/infer", s.addr))
        .header("authorization", "Bearer alice-key")
        .send(r#"{"inputs": [{"name": "pixels", "shape": [2, 64], "datatype": "FP32", "data": [1, 2]}]}"#.as_bytes())
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let v = json_of(resp.body_mut());
    assert_eq!(v["error"]["code"], "unmonitorable_request", "{v}");
}
