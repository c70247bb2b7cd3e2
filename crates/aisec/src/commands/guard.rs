//! `aisec guard`: the LLM firewall proxy. Loads the policy, binds, prints
//! `listening on http://ADDR`, serves until stopped, and reloads the policy on SIGHUP (a bad
//! file is reported and the running policy kept).

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use aisec_guard::policy::GuardFile;
use aisec_guard::proxy::{Proxy, ProxyConfig, StreamMode};
use anyhow::Context;

use crate::ExitStatus;
use crate::cli::{GuardArgs, StreamModeArg};
use crate::settings::GlobalSettings;

/// A fresh random canary: the hash of the time, the process and a stack address.
fn random_canary() -> String {
    let here = 0u8;
    let seed = format!(
        "{:?}{}{:p}",
        std::time::SystemTime::now(),
        std::process::id(),
        &here
    );
    let h = aisec_guard::proxy::audit::sha256_hex(seed.as_bytes());
    format!("AISEC-CANARY-{}", &h[..12].to_ascii_uppercase())
}

fn load(args: &GuardArgs) -> anyhow::Result<GuardFile> {
    match &args.policy {
        Some(p) => GuardFile::from_file(p).map_err(anyhow::Error::from),
        None => {
            let r = aisec_guard::Policy::recommended();
            Ok(GuardFile {
                fail: r.fail,
                input: r.input,
                output: r.output,
                ..GuardFile::default()
            })
        }
    }
}

pub(crate) fn run(args: &GuardArgs, global: &GlobalSettings) -> anyhow::Result<ExitStatus> {
    anyhow::ensure!(args.threads >= 1, "--threads must be at least 1");
    let ip: std::net::IpAddr = args
        .host
        .parse()
        .with_context(|| format!("--host {:?} is not an IP address", args.host))?;
    anyhow::ensure!(
        ip.is_loopback() || args.allow_remote,
        "--host {ip} is not a loopback address: the proxy has no TLS; pass --allow-remote to listen beyond this machine"
    );
    let file = load(args)?;
    let mut config = ProxyConfig::new(&args.upstream);
    config.upstream_key = args
        .upstream_key_env
        .as_deref()
        .map(aisec_llm::ApiKey::from_env)
        .transpose()?;
    config.stream_mode = match args.stream_mode {
        StreamModeArg::Buffer => StreamMode::Buffer,
        StreamModeArg::Incremental => StreamMode::Incremental,
    };
    config.upstream_timeout = Duration::from_secs(args.upstream_timeout.max(1));
    config.log_prompts = args.log_prompts;
    config.canary = args.canary.as_deref().map(|c| {
        if c == "auto" {
            random_canary()
        } else {
            c.to_owned()
        }
    });
    let mut proxy = Proxy::new(config, &file, None)?;
    if let Some(path) = &args.audit {
        let out: Box<dyn Write + Send> = if path.as_os_str() == "-" {
            Box::new(std::io::stdout())
        } else {
            Box::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .with_context(|| format!("cannot open the audit log {}", path.display()))?,
            )
        };
        proxy = proxy.with_audit(out);
    }
    let proxy = Arc::new(proxy);
    let mut http = aisec_llm::serve::http::ServerConfig {
        addr: std::net::SocketAddr::new(ip, args.port),
        allow_non_loopback: args.allow_remote,
        workers: args.threads,
        queue: args.threads.saturating_mul(8),
        ..aisec_llm::serve::http::ServerConfig::default()
    };
    http.limits.max_body_bytes = args.max_body_bytes;
    let server = aisec_guard::proxy::start(Arc::clone(&proxy), &http)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening on http://{}", server.local_addr())?;
    out.flush()?;
    drop(out);
    super::progress::note(
        global,
        &format!(
            "guarding {} at http://{}/v1 (SIGHUP reloads the policy; stop with Ctrl-C)",
            args.upstream,
            server.local_addr()
        ),
    );
    if let Some(path) = args.policy.clone() {
        let proxy = Arc::clone(&proxy);
        let quiet = global.clone();
        let mut signals = signal_hook::iterator::Signals::new([signal_hook::consts::SIGHUP])
            .context("cannot listen for SIGHUP")?;
        std::thread::spawn(move || {
            for _ in signals.forever() {
                match GuardFile::from_file(&path) {
                    Ok(f) => {
                        proxy.reload(&f);
                        super::progress::note(&quiet, &format!("reloaded {}", path.display()));
                    }
                    Err(e) => {
                        super::progress::note(&quiet, &format!("kept the running policy: {e}"));
                    }
                }
            }
        });
    }
    server.wait();
    Ok(ExitStatus::Success)
}
