//! A bounded reader of server-sent events: lines of at most `max_line` bytes, at most
//! `max_total` bytes in all, `data:` fields joined per event.

use std::io::{self, BufRead};

/// Why the event stream could not be read.
#[derive(Debug)]
pub(crate) enum SseError {
    /// Reading failed.
    Io(io::Error),
    /// More than the stream's byte limit.
    TooLarge,
    /// A line broke the format (too long, not UTF-8).
    Format { line: usize, message: String },
}

/// Reads events (their joined `data` payloads) from a byte stream.
pub(crate) struct SseReader<R> {
    inner: R,
    max_line: usize,
    max_total: u64,
    total: u64,
    line: usize,
    data_line: usize,
    buf: Vec<u8>,
}

impl<R: BufRead> SseReader<R> {
    pub(crate) fn new(inner: R, max_line: usize, max_total: u64) -> Self {
        Self {
            inner,
            max_line,
            max_total,
            total: 0,
            line: 0,
            data_line: 0,
            buf: Vec::new(),
        }
    }

    /// The 1-based number of the last line read.
    pub(crate) fn line(&self) -> usize {
        self.line
    }

    /// The 1-based number of the last `data` line of the last event.
    pub(crate) fn event_line(&self) -> usize {
        self.data_line
    }

    /// Reads one line without its terminator; `None` at the end of the stream.
    fn read_line(&mut self) -> Result<Option<String>, SseError> {
        self.buf.clear();
        let mut saw_any = false;
        loop {
            let chunk = match self.inner.fill_buf() {
                Ok(c) => c,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(SseError::Io(e)),
            };
            if chunk.is_empty() {
                if !saw_any {
                    return Ok(None);
                }
                break;
            }
            saw_any = true;
            let (take, done) = match chunk.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (chunk.len(), false),
            };
            self.total += take as u64;
            if self.total > self.max_total {
                return Err(SseError::TooLarge);
            }
            if self.buf.len() + take > self.max_line + 2 {
                return Err(SseError::Format {
                    line: self.line + 1,
                    message: format!("a line is longer than {} bytes", self.max_line),
                });
            }
            self.buf.extend_from_slice(&chunk[..take]);
            self.inner.consume(take);
            if done {
                break;
            }
        }
        self.line += 1;
        if self.buf.last() == Some(&b'\n') {
            self.buf.pop();
        }
        if self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        match std::str::from_utf8(&self.buf) {
            Ok(s) => Ok(Some(s.to_owned())),
            Err(_) => Err(SseError::Format {
                line: self.line,
                message: "the line is not UTF-8".into(),
            }),
        }
    }

    /// The next event's data (its `data:` lines joined with `\n`); `None` at the end. Comments
    /// and the `event`, `id` and `retry` fields are skipped, as are events without data.
    pub(crate) fn next_event(&mut self) -> Result<Option<String>, SseError> {
        let mut data: Option<String> = None;
        loop {
            let Some(line) = self.read_line()? else {
                return Ok(data);
            };
            if line.is_empty() {
                if data.is_some() {
                    return Ok(data);
                }
                continue;
            }
            if line.starts_with(':') {
                continue;
            }
            let (field, value) = match line.split_once(':') {
                Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
                None => (line.as_str(), ""),
            };
            match field {
                "data" => {
                    let d = data.get_or_insert_with(String::new);
                    if !d.is_empty() {
                        d.push('\n');
                    }
                    if d.len() + value.len() > self.max_line {
                        return Err(SseError::Format {
                            line: self.line,
                            message: format!("an event is longer than {} bytes", self.max_line),
                        });
                    }
                    d.push_str(value);
                    self.data_line = self.line;
                }
                "event" | "id" | "retry" => {}
                other => {
                    // The format says to ignore unknown fields; a chat stream never sends
                    // them, so one is a sign of a broken or hostile server.
                    return Err(SseError::Format {
                        line: self.line,
                        message: format!(
                            "unknown field {:?}",
                            other.chars().take(40).collect::<String>()
                        ),
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(text: &[u8], max_line: usize, max_total: u64) -> Result<Vec<String>, SseError> {
        let mut r = SseReader::new(text, max_line, max_total);
        let mut out = Vec::new();
        while let Some(e) = r.next_event()? {
            out.push(e);
        }
        Ok(out)
    }

    #[test]
    fn joins_data_and_skips_comments() {
        let got = events(
            b": keep-alive\r\nevent: x\ndata: a\ndata:b\n\n\ndata: c\n\ndata: tail",
            100,
            1000,
        )
        .unwrap();
        assert_eq!(got, ["a\nb", "c", "tail"]);
    }

    #[test]
    fn bounds_lines_and_totals() {
        assert!(matches!(
            events(&[b'x'; 300], 100, 1000),
            Err(SseError::Format { line: 1, .. })
        ));
        assert!(matches!(
            events(b"data: aaaaaaaaaaaaaaaaaaaaaaaaa\n\n", 100, 10),
            Err(SseError::TooLarge)
        ));
        assert!(matches!(
            events(b"data: ok\n\nbogus line\n", 100, 1000),
            Err(SseError::Format { line: 3, .. })
        ));
        assert!(matches!(
            events(b"data: \xff\xfe\n\n", 100, 1000),
            Err(SseError::Format { line: 1, .. })
        ));
    }
}
