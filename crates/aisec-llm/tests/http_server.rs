//! The HTTP layer alone, on loopback with a handler that echoes: keep-alive connections carry
//! several requests, `Connection: close` and HTTP/1.0 are honoured, and kept connections never
//! hold the last worker.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use aisec_llm::serve::http::{
    self, Handler, ReadError, Request, Responder, Response, ServerConfig,
};
use serde_json::json;

struct Echo;

impl Handler for Echo {
    fn handle(&self, req: Request, out: &mut Responder<'_>) -> std::io::Result<()> {
        out.send(&Response::json(
            200,
            &json!({"path": req.path, "body": String::from_utf8_lossy(&req.body)}),
        ))
    }
    fn unreadable(&self, e: &ReadError) -> Response {
        Response::json(e.status(), &json!({"error": e.to_string()}))
    }
    fn overloaded(&self) -> Response {
        Response::json(429, &json!({"error": "busy"}))
    }
}

fn server(workers: usize, keep_alive: Option<Duration>) -> http::ServerHandle {
    let config = ServerConfig {
        workers,
        keep_alive,
        ..ServerConfig::default()
    };
    http::start(&config, Arc::new(Echo)).unwrap()
}

fn send(s: &mut TcpStream, path: &str, extra: &str, version: &str) {
    let body = format!("hello {path}");
    write!(
        s,
        "POST {path} HTTP/{version}\r\nhost: x\r\n{extra}content-length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
}

/// Reads one reply framed by its content-length: (status, connection header, body).
fn reply(r: &mut BufReader<TcpStream>) -> (u16, String, String) {
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    let status = line.split(' ').nth(1).unwrap().parse().unwrap();
    let (mut length, mut connection) = (0, String::new());
    loop {
        let mut h = String::new();
        r.read_line(&mut h).unwrap();
        if h == "\r\n" {
            break;
        }
        let (k, v) = h.trim_end().split_once(": ").unwrap();
        match k {
            "content-length" => length = v.parse().unwrap(),
            "connection" => v.clone_into(&mut connection),
            _ => {}
        }
    }
    let mut body = vec![0; length];
    r.read_exact(&mut body).unwrap();
    (status, connection, String::from_utf8(body).unwrap())
}

fn closed(r: &mut BufReader<TcpStream>) -> bool {
    let mut rest = Vec::new();
    matches!(r.read_to_end(&mut rest), Ok(0))
}

#[test]
fn one_connection_carries_several_requests() {
    let h = server(2, Some(Duration::from_secs(30)));
    let mut s = TcpStream::connect(h.local_addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    for i in 0..5 {
        let path = format!("/r{i}");
        send(&mut s, &path, "", "1.1");
        let (status, connection, body) = reply(&mut r);
        assert_eq!((status, connection.as_str()), (200, "keep-alive"));
        assert!(body.contains(&format!("hello {path}")), "{body}");
    }
    // The client asks to close: the reply says so and the server closes.
    send(&mut s, "/last", "connection: close\r\n", "1.1");
    let (status, connection, _) = reply(&mut r);
    assert_eq!((status, connection.as_str()), (200, "close"));
    assert!(closed(&mut r));

    // HTTP/1.0 without keep-alive gets one answer per connection.
    let mut s = TcpStream::connect(h.local_addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    send(&mut s, "/old", "", "1.0");
    assert_eq!(reply(&mut r).1, "close");
    assert!(closed(&mut r));
    h.shutdown();
}

#[test]
fn without_keep_alive_every_reply_closes() {
    let h = server(2, None);
    let mut s = TcpStream::connect(h.local_addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    send(&mut s, "/a", "", "1.1");
    assert_eq!(reply(&mut r).1, "close");
    assert!(closed(&mut r));
    h.shutdown();
}

#[test]
fn a_kept_connection_never_takes_the_last_worker() {
    // Two workers and an idle time far beyond the clients' read timeout: the first client's
    // connection is kept (one worker holds it), the second is answered by the other worker and
    // told to close, and the first can still send its next request.
    let h = server(2, Some(Duration::from_secs(600)));
    let mut a = TcpStream::connect(h.local_addr()).unwrap();
    a.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut ra = BufReader::new(a.try_clone().unwrap());
    send(&mut a, "/a", "", "1.1");
    assert_eq!(reply(&mut ra).1, "keep-alive");

    for i in 0..3 {
        let mut b = TcpStream::connect(h.local_addr()).unwrap();
        b.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut rb = BufReader::new(b.try_clone().unwrap());
        let path = format!("/b{i}");
        send(&mut b, &path, "", "1.1");
        let (status, connection, body) = reply(&mut rb);
        assert_eq!((status, connection.as_str()), (200, "close"));
        assert!(body.contains(&format!("hello {path}")), "{body}");
        assert!(closed(&mut rb));
    }
    send(&mut a, "/a2", "", "1.1");
    let (status, connection, body) = reply(&mut ra);
    assert_eq!((status, connection.as_str()), (200, "keep-alive"));
    assert!(body.contains("hello /a2"), "{body}");

    // One worker: nothing is ever kept.
    let one = server(1, Some(Duration::from_secs(600)));
    let mut c = TcpStream::connect(one.local_addr()).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut rc = BufReader::new(c.try_clone().unwrap());
    send(&mut c, "/c", "", "1.1");
    assert_eq!(reply(&mut rc).1, "close");
    drop(a);
    h.shutdown();
    one.shutdown();
}
