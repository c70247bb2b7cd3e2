//! The JSON report: the serde form of [`aisec_core::Report`], pretty-printed.

use std::io::Write;

use aisec_core::Report;

use crate::{Emitter, Error};

/// Writes the report as JSON.
#[derive(Debug, Default)]
pub struct Json;

impl Emitter for Json {
    fn emit(&mut self, out: &mut dyn Write, report: &Report) -> Result<(), Error> {
        serde_json::to_writer_pretty(&mut *out, report)?;
        out.write_all(b"\n")?;
        Ok(())
    }
}
