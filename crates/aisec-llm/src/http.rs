//! The HTTP core every remote target shares: config checks, a POST with retries and backoff
//! (429, 5xx and transport errors; a server's Retry-After honoured up to the cap), bounded JSON
//! bodies, event-stream readers, and redaction of secrets a server echoes back.

use std::io::BufReader;
use std::time::Duration;

use crate::error::{LlmError, Result};
use crate::key::ApiKey;
use crate::openai::ClientConfig;
use crate::sse::{SseError, SseReader};

/// Characters of an error body kept in [`LlmError::Status`].
const EXCERPT: usize = 200;
/// Longest line (and event) of an event stream.
pub(crate) const MAX_SSE_LINE: usize = 1 << 20;

/// How one attempt went wrong.
pub(crate) enum Attempt {
    Retry(String),
    Fatal(LlmError),
}

/// A checked config, its endpoint, the agent, and the secrets to scrub from error excerpts.
pub(crate) struct Http {
    pub(crate) config: ClientConfig,
    pub(crate) endpoint: String,
    agent: ureq::Agent,
    secrets: Vec<ApiKey>,
}

impl Http {
    /// Checks `config` and builds an agent for `endpoint`; `secrets` (beyond the config's key)
    /// are scrubbed from anything a server sends back.
    pub(crate) fn new(
        config: ClientConfig,
        endpoint: String,
        secrets: Vec<ApiKey>,
    ) -> Result<Self> {
        let lower = endpoint.to_ascii_lowercase();
        if !(lower.starts_with("http://") || lower.starts_with("https://")) {
            return Err(LlmError::Config(format!(
                "URL {endpoint:?} is not http:// or https://"
            )));
        }
        if endpoint.chars().any(char::is_control) {
            return Err(LlmError::Config("the URL holds a control character".into()));
        }
        if config.timeout.is_zero() || config.connect_timeout.is_zero() {
            return Err(LlmError::Config("timeouts must be above zero".into()));
        }
        if config.retries > 20 || config.backoff > config.max_backoff {
            return Err(LlmError::Config(
                "retries must be at most 20 and backoff at most max_backoff".into(),
            ));
        }
        if config.max_response_bytes == 0 || config.max_stream_bytes == 0 {
            return Err(LlmError::Config("size limits must be above zero".into()));
        }
        let mut builder = ureq::Agent::config_builder()
            .timeout_global(Some(config.timeout))
            .timeout_connect(Some(config.connect_timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(concat!("aisec/", env!("CARGO_PKG_VERSION")));
        if is_loopback(&endpoint) {
            // A loopback target is never reached through a proxy.
            builder = builder.proxy(None);
        }
        let mut secrets = secrets;
        secrets.extend(config.api_key.clone());
        Ok(Self {
            agent: builder.build().into(),
            endpoint,
            config,
            secrets,
        })
    }

    /// Removes every secret from text a server sent back (a hostile one may echo headers).
    pub(crate) fn redact(&self, mut text: String) -> String {
        for key in &self.secrets {
            if text.contains(key.expose()) {
                text = text.replace(key.expose(), "[redacted]");
            }
        }
        text
    }

    pub(crate) fn malformed(&self, message: String) -> LlmError {
        LlmError::Malformed {
            url: self.endpoint.clone(),
            message,
        }
    }

    /// POSTs `body` with `headers` and reads the whole reply, at most `max_response_bytes`.
    pub(crate) fn post_json(&self, body: &[u8], headers: &[(&str, &str)]) -> Result<Vec<u8>> {
        let limit = self.config.max_response_bytes;
        self.with_retries(body, headers, |response| {
            response
                .into_body()
                .with_config()
                .limit(limit)
                .read_to_vec()
                .map_err(|e| match e {
                    ureq::Error::BodyExceedsLimit(_) => Attempt::Fatal(LlmError::TooLarge {
                        url: self.endpoint.clone(),
                        limit,
                    }),
                    other => classify(&self.endpoint, other),
                })
        })
    }

    /// POSTs `body` with `headers` and hands the event stream to `read`; retries cover the
    /// request until the stream starts. A JSON answer to a stream request is an error.
    pub(crate) fn post_stream<T>(
        &self,
        body: &[u8],
        headers: &[(&str, &str)],
        mut read: impl FnMut(&mut SseReader<BufReader<ureq::BodyReader<'static>>>) -> Result<T>,
    ) -> Result<T> {
        let max_total = self.config.max_stream_bytes;
        self.with_retries(body, headers, |response| {
            let json = response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| {
                    v.trim_start()
                        .to_ascii_lowercase()
                        .starts_with("application/json")
                });
            if json {
                // Some servers answer a stream request with one JSON document (often an error).
                let text = response
                    .into_body()
                    .with_config()
                    .limit(64 * 1024)
                    .read_to_vec()
                    .map(|b| self.redact(excerpt(&b)))
                    .unwrap_or_default();
                return Err(Attempt::Fatal(
                    self.malformed(format!("asked for an event stream, got JSON: {text}")),
                ));
            }
            let reader = BufReader::new(response.into_body().into_reader());
            let mut sse = SseReader::new(reader, MAX_SSE_LINE, max_total);
            read(&mut sse).map_err(Attempt::Fatal)
        })
    }

    /// The error for a failed read of the event stream.
    pub(crate) fn sse_error(&self, e: SseError) -> LlmError {
        match e {
            SseError::TooLarge => LlmError::TooLarge {
                url: self.endpoint.clone(),
                limit: self.config.max_stream_bytes,
            },
            SseError::Io(e) => LlmError::Transport {
                url: self.endpoint.clone(),
                attempts: 1,
                message: format!("the stream broke: {e}"),
            },
            SseError::Format { line, message } => LlmError::Stream {
                url: self.endpoint.clone(),
                line,
                message,
            },
        }
    }

    /// An error at `line` of the event stream.
    pub(crate) fn stream_error(&self, line: usize, message: String) -> LlmError {
        LlmError::Stream {
            url: self.endpoint.clone(),
            line,
            message,
        }
    }

    /// POSTs `body` until a 2xx reply, which `read` consumes; 429, 5xx and transport errors
    /// are retried with backoff, other statuses fail at once.
    fn with_retries<T>(
        &self,
        body: &[u8],
        headers: &[(&str, &str)],
        mut read: impl FnMut(ureq::http::Response<ureq::Body>) -> std::result::Result<T, Attempt>,
    ) -> Result<T> {
        let attempts = self.config.retries + 1;
        let mut last_error = String::new();
        for attempt in 1..=attempts {
            let mut req = self
                .agent
                .post(&self.endpoint)
                .header("content-type", "application/json");
            for (name, value) in headers {
                req = req.header(*name, *value);
            }
            let response = match req.send(body) {
                Ok(r) => r,
                Err(e) => match classify(&self.endpoint, e) {
                    Attempt::Fatal(e) => return Err(e),
                    Attempt::Retry(message) => {
                        last_error = self.redact(message);
                        if attempt < attempts {
                            std::thread::sleep(self.backoff(attempt, None));
                        }
                        continue;
                    }
                },
            };
            let status = response.status().as_u16();
            if (200..300).contains(&status) {
                return match read(response) {
                    Ok(v) => Ok(v),
                    Err(Attempt::Fatal(e)) => Err(e),
                    Err(Attempt::Retry(message)) => Err(LlmError::Transport {
                        url: self.endpoint.clone(),
                        attempts: attempt,
                        message,
                    }),
                };
            }
            let retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok());
            let excerpt = response
                .into_body()
                .with_config()
                .limit(64 * 1024)
                .read_to_vec()
                .map(|b| self.redact(excerpt(&b)))
                .unwrap_or_default();
            let retryable = status == 429 || (500..600).contains(&status);
            if !retryable || attempt == attempts {
                return Err(LlmError::Status {
                    url: self.endpoint.clone(),
                    status,
                    attempts: attempt,
                    excerpt,
                });
            }
            std::thread::sleep(self.backoff(attempt, retry_after));
        }
        Err(LlmError::Transport {
            url: self.endpoint.clone(),
            attempts,
            message: last_error,
        })
    }

    fn backoff(&self, attempt: u32, retry_after: Option<u64>) -> Duration {
        let cap = self.config.max_backoff;
        match retry_after {
            Some(secs) => Duration::from_secs(secs).min(cap),
            None => self
                .config
                .backoff
                .saturating_mul(1u32 << (attempt - 1).min(20))
                .min(cap),
        }
    }
}

fn classify(url: &str, e: ureq::Error) -> Attempt {
    match e {
        ureq::Error::Io(_)
        | ureq::Error::Timeout(_)
        | ureq::Error::ConnectionFailed
        | ureq::Error::HostNotFound
        | ureq::Error::Protocol(_) => Attempt::Retry(e.to_string()),
        other => Attempt::Fatal(LlmError::Transport {
            url: url.to_owned(),
            attempts: 1,
            message: other.to_string(),
        }),
    }
}

/// The start of a body as text: at most 200 characters, control characters removed.
pub(crate) fn excerpt(body: &[u8]) -> String {
    String::from_utf8_lossy(&body[..body.len().min(EXCERPT * 4)])
        .chars()
        .filter(|c| !c.is_control())
        .take(EXCERPT)
        .collect()
}

fn is_loopback(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = host.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        host.split(':').next().unwrap_or("")
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}
