//! `POST /v2/models/NAME/infer`: a classifier's inference, forwarded as it is, with the client's
//! query stream to that model fed to the extraction [monitor](crate::monitor) (GD160).

use std::io;
use std::time::Instant;

use aisec_llm::serve::http::{Request, Responder, Response};
use serde_json::Value;

use super::audit::Entry;
use super::{Proxy, error, micros, send};
use crate::engine::{Fired, Stage, failure};
use crate::monitor::{reply_classes, request_rows};
use crate::policy::{Action, Policy};
use crate::scan::Hit;

/// The model an Open Inference Protocol path names: `/v2/models/NAME/infer` or
/// `/v2/models/NAME/versions/V/infer`.
pub(super) fn model_of(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/v2/models/")?.strip_suffix("/infer")?;
    let name = match rest.split_once("/versions/") {
        Some((name, version)) if !version.is_empty() && !version.contains('/') => name,
        Some(_) => return None,
        None => rest,
    };
    (!name.is_empty() && !name.contains('/')).then_some(name)
}

fn stream_hit(detail: String, w: Option<f64>) -> Hit {
    Hit {
        kind: "prada".into(),
        score: w.map_or(1.0, |w| (1.0 - w).clamp(0.0, 1.0)),
        detail,
        span: None,
    }
}

fn fired(action: Action, hit: Hit) -> Fired {
    Fired {
        rule: "GD160",
        scanner: "extraction",
        stage: Stage::Stream,
        action,
        message: None,
        hit,
    }
}

impl Proxy {
    pub(super) fn infer(
        &self,
        req: &Request,
        out: &mut Responder<'_>,
        entry: &mut Entry,
        policy: &Policy,
    ) -> io::Result<()> {
        let model = model_of(&req.path).unwrap_or_default().to_owned();
        entry.model = Some(model.clone());
        let body: Value = match serde_json::from_slice(&req.body) {
            Ok(v @ Value::Object(_)) => v,
            _ => {
                let r = error(
                    400,
                    "invalid_request_error",
                    "invalid_json",
                    "the body is not a JSON object",
                );
                return send(out, entry, &r);
            }
        };
        let rule = policy.extraction;
        let t = Instant::now();
        // A stream that raised the alarm is refused before anything goes upstream.
        if let Some(rule) = rule.filter(|r| r.action == Action::Block) {
            let refused = self
                .monitor
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .refused(&rule, &entry.client, &model, Instant::now());
            if let Some(at) = refused {
                let detail = format!(
                    "the query stream of {} to {model} was flagged as model extraction at query {}",
                    entry.client,
                    at + 1
                );
                let reply = refusal(&detail);
                entry
                    .fired
                    .push(fired(Action::Block, stream_hit(detail, None)));
                entry.action = Some(Action::Block);
                return send(out, entry, &reply);
            }
        }
        let rows = match rule.map(|_| request_rows(&body)) {
            Some(Err(e)) => {
                if let Some(r) = monitor_failed(policy, entry, &format!("the request: {e}")) {
                    return send(out, entry, &r);
                }
                None
            }
            Some(Ok(rows)) => rows,
            None => None,
        };
        entry.input_us = micros(t.elapsed());
        let url = format!("{}{}", self.config.infer_root(), req.path);
        let t_up = Instant::now();
        let (status, bytes) = match self.call_upstream(&url, &req.body) {
            Ok(x) => x,
            Err(e) => return send(out, entry, &e),
        };
        entry.upstream_us = micros(t_up.elapsed());
        let reply = Response {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: bytes,
        };
        let (Some(rule), Some(rows), 200) = (rule, rows, status) else {
            entry.action.get_or_insert(Action::Allow);
            return send(out, entry, &reply);
        };
        let t_out = Instant::now();
        let verdict = serde_json::from_slice::<Value>(&reply.body)
            .map_err(|e| format!("the reply is not JSON: {e}"))
            .and_then(|v| reply_classes(&v, rows.n))
            .and_then(|classes| {
                self.monitor
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .observe(
                        &rule,
                        &entry.client,
                        &model,
                        &rows,
                        &classes,
                        Instant::now(),
                    )
            });
        entry.output_us = micros(t_out.elapsed());
        self.metrics
            .scan_time("stream", t_out.elapsed().as_secs_f64());
        match verdict {
            Err(e) => {
                if let Some(r) = monitor_failed(policy, entry, &e) {
                    return send(out, entry, &r);
                }
            }
            Ok(v) if v.alarm => {
                let detail = format!(
                    "the query stream of {} to {model} looks like model extraction: Shapiro-Wilk W {:.3} below {} after {} queries",
                    entry.client,
                    v.w.unwrap_or(0.0),
                    rule.delta,
                    v.queries
                );
                let reply = (rule.action == Action::Block).then(|| refusal(&detail));
                entry
                    .fired
                    .push(fired(rule.action, stream_hit(detail, v.w)));
                entry.action = Some(rule.action);
                if let Some(reply) = reply {
                    return send(out, entry, &reply);
                }
            }
            Ok(_) => {}
        }
        entry.action.get_or_insert(Action::Allow);
        send(out, entry, &reply)
    }
}

/// Notes a monitor failure; the reply that stops the exchange when the policy fails closed.
fn monitor_failed(policy: &Policy, entry: &mut Entry, why: &str) -> Option<Response> {
    entry.errors.push(format!("extraction: {why}"));
    let fired = failure(policy.fail, "extraction", Stage::Stream, why, None);
    let action = fired.action;
    entry.fired.push(fired);
    entry.action = Some(entry.action.map_or(action, |a| a.max(action)));
    (action == Action::Block).then(|| {
        error(
            400,
            "invalid_request_error",
            "unmonitorable_request",
            &format!("the guard cannot read this inference request: {why}"),
        )
    })
}

/// The 403 a stream flagged as extraction gets.
fn refusal(detail: &str) -> Response {
    error(
        403,
        "guard_blocked",
        "GD160",
        &format!("blocked by the aisec guard policy: GD160 extraction (prada): {detail}"),
    )
}

#[cfg(test)]
mod tests {
    use super::model_of;

    #[test]
    fn infer_paths_name_their_model() {
        assert_eq!(model_of("/v2/models/digits/infer"), Some("digits"));
        assert_eq!(
            model_of("/v2/models/digits/versions/3/infer"),
            Some("digits")
        );
        for bad in [
            "/v2/models//infer",
            "/v2/models/a/b/infer",
            "/v2/models/digits",
            "/v2/models/digits/versions//infer",
            "/v1/models/digits/infer",
        ] {
            assert_eq!(model_of(bad), None, "{bad}");
        }
    }
}
